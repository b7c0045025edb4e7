"""A seeded, parametric face renderer driven by FACS action units (:mod:`.action_units`).

An AU vector moves the facial geometry (brows, lids, mouth corners, jaw, nose wrinkles, cheek folds) of a
face whose identity (face shape, eye spacing, brow thickness, skin tone, hair, ...) and nuisances (pose,
scale, shift, illumination, blur, sensor noise, occlusion) are drawn from the caller's generator.
Faces are drawn with OpenCV polygons on a 2× supersampled canvas and reduced with ``INTER_AREA``; the
geometry is computed for a whole batch at once, illumination and sensor noise are vectorised per batch,
and blur is one OpenCV call per image. The noise scenarios built on it are in
:mod:`fer_select_env.data.scenarios`; see ``docs/synthetic.md`` for the measured speed.
"""

from __future__ import annotations

import numbers

import cv2
import numpy as np

from fer_select_env.core.checks import check_rng
from fer_select_env.faces.action_units import ACTION_UNITS, AU_INDEX


# --------------------------------------------------------------------------------------- random draws
def _draw_identity(n: int, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Per-face identity: shape and feature placement (canonical units, image half-size = 1) and tones."""
    u = rng.uniform
    skin = u(80, 210, n)
    # Keep the background off the skin tone so the face outline exists, but not always by much.
    bg = np.clip(skin + rng.choice([-1.0, 1.0], n) * u(20, 110, n), 5, 250)
    return {
        "face_w": u(0.60, 0.74, n),
        "face_h": u(0.82, 0.96, n),
        "face_cy": u(0.0, 0.06, n),
        "eye_sep": u(0.20, 0.27, n),
        "eye_y": u(-0.22, -0.14, n),
        "eye_w": u(0.085, 0.115, n),
        "eye_open": u(0.034, 0.050, n),
        "iris_r": u(0.030, 0.042, n),
        "brow_gap": u(0.10, 0.15, n),
        "brow_th": u(0.030, 0.060, n),
        "brow_len": u(0.15, 0.21, n),
        "brow_arch": u(0.0, 0.03, n),
        "nose_y": u(0.12, 0.20, n),
        "nose_w": u(0.045, 0.075, n),
        "mouth_y": u(0.38, 0.46, n),
        "mouth_w": u(0.16, 0.22, n),
        "lip_th": u(0.022, 0.040, n),
        "rest_curve": rng.normal(0.0, 0.010, n),  # some faces rest slightly sad or slightly smiling
        "hairline": u(-0.75, -0.50, n),
        "has_hair": (rng.random(n) < 0.85).astype(np.float64),
        "skin": skin,
        "bg": bg,
        "hair": np.where(rng.random(n) < 0.8, u(5, 80, n), u(150, 230, n)),
        "brow_tone": u(0.20, 0.50, n),
        "lip_tone": u(0.50, 0.75, n),
        "iris": u(15, 80, n),
    }


def _draw_pose(n: int, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Geometric nuisances: in-plane rotation, yaw-like feature shift, scale, shift, gaze, occlusion."""
    u = rng.uniform
    return {
        "angle": np.clip(rng.normal(0.0, np.deg2rad(4.0), n), -0.2, 0.2),
        "yaw": u(-1.0, 1.0, n),
        "scale": u(0.92, 1.08, n),
        "dx": u(-0.05, 0.05, n),
        "dy": u(-0.05, 0.05, n),
        "gaze": u(-0.02, 0.02, n),
        # occlusion kind: 0 none, 1 glasses/sunglasses bar, 2 hand-like blob, 3 random patch
        "occ_kind": rng.choice(4, size=n, p=[0.85, 0.05, 0.05, 0.05]),
        "occ_x": u(-0.45, 0.45, n),
        "occ_y": u(-0.30, 0.75, n),
        "occ_w": u(0.16, 0.32, n),
        "occ_h": u(0.12, 0.26, n),
        "occ_tone": u(10, 240, n),
    }


def _draw_photometric(n: int, rng: np.random.Generator, image_size: int) -> dict[str, np.ndarray]:
    """Photometric nuisances: gain, offset, linear illumination gradient, blur and sensor-noise levels."""
    u = rng.uniform
    return {
        "gain": u(0.80, 1.20, n),
        "offset": u(-20, 20, n),
        "grad": u(0, 35, n),
        "grad_dir": u(0, 2 * np.pi, n),
        "blur": u(0.0, 0.6, n) * image_size / 48.0,  # sigma in output pixels, ~constant relative to face
        "noise": u(0.0, 4.0, n),
    }


# -------------------------------------------------------------------------------------------- geometry
_T_EYE = np.linspace(-1.0, 1.0, 9)
_T_BROW = np.linspace(0.0, 1.0, 5)
_T_MOUTH = np.linspace(-1.0, 1.0, 11)
_U_IRIS = np.linspace(-1.0, 1.0, 7)
_PHI = np.linspace(0.0, 2 * np.pi, 28, endpoint=False)


def _xy(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Stack broadcastable x, y into (N, P, 2)."""
    x, y = np.broadcast_arrays(x, y)
    return np.stack([x, y], axis=-1)


def _polygon(top: np.ndarray, bottom: np.ndarray) -> np.ndarray:
    """Closed outline from two (N, P, 2) edges sharing their x samples: top left→right, bottom back."""
    return np.concatenate([top, bottom[:, ::-1]], axis=1)


def _ellipse(cx, cy, rx, ry) -> np.ndarray:
    return _xy(cx[:, None] + rx[:, None] * np.cos(_PHI), cy[:, None] + ry[:, None] * np.sin(_PHI))


def _au(au: np.ndarray, name: str) -> np.ndarray:
    return au[:, AU_INDEX[name]].astype(np.float64)


def _face_outline(ident: dict, au: np.ndarray) -> dict[str, np.ndarray]:
    """Head, ears, neck and hair, all in canonical coordinates; the jaw drop (AU26) lengthens the chin."""
    w, h, cy = ident["face_w"], ident["face_h"], ident["face_cy"]
    sin, cos = np.sin(_PHI), np.cos(_PHI)
    chin = h[:, None] * (1.0 + 0.07 * _au(au, "AU26")[:, None] * (sin > 0))
    ry = np.where(sin > 0, chin, h[:, None])
    jaw_taper = 1.0 - 0.18 * np.clip(sin, 0, None) ** 2  # narrower jaw than temples
    face = _xy(w[:, None] * cos * jaw_taper, cy[:, None] + ry * sin)
    ear_y = cy + ident["eye_y"] + 0.08
    ear_r = 0.07 * np.ones_like(w)
    ears = np.stack([_ellipse(s * w * 0.97, ear_y, ear_r, 0.14 * np.ones_like(w)) for s in (-1, 1)], 1)
    neck = _xy(
        np.array([-1, 1, 1.3, -1.3])[None] * (0.42 * w)[:, None],
        np.array([0, 0, 1.4, 1.4])[None] + (cy + 0.5 * h)[:, None],
    )
    hair = _ellipse(np.zeros_like(w), cy - 0.25 * h, 1.06 * w, 0.85 * h)
    # The fringe: the cap of the face ellipse above the hairline (sin φ <= hairline), in hair colour.
    half = np.arcsin(-ident["hairline"])[:, None]
    phi = np.pi + half + (np.pi - 2 * half) * np.linspace(0, 1, 12)[None]
    fringe = _xy(w[:, None] * np.cos(phi), cy[:, None] + h[:, None] * np.sin(phi))
    return {"face": face, "ears": ears, "neck": neck, "hair": hair, "fringe": fringe}


def _brows(ident: dict, au: np.ndarray, yaw: np.ndarray) -> np.ndarray:
    """Both brows as thick polygons (N, 2, P, 2): AU1 lifts the inner ends, AU2 the outer, AU4 lowers and knits."""
    a1, a2, a4, a9 = (_au(au, k) for k in ("AU1", "AU2", "AU4", "AU9"))
    inner_dy = -0.16 * a1 - 0.03 * a2 + 0.11 * a4 + 0.04 * a9
    outer_dy = -0.04 * a1 - 0.14 * a2 + 0.05 * a4
    knit = 0.07 * a4 + 0.02 * a9
    arch = ident["brow_arch"] + 0.035 * a2
    t = _T_BROW[None]
    base_y = ident["face_cy"] + ident["eye_y"] - ident["brow_gap"]
    y = base_y[:, None] + inner_dy[:, None] * (1 - t) + outer_dy[:, None] * t - arch[:, None] * np.sin(np.pi * t)
    half_th = (ident["brow_th"][:, None] * (1.0 - 0.4 * t)) / 2
    inner_x = ident["eye_sep"] - 0.9 * ident["eye_w"] - knit
    out = []
    for side in (-1.0, 1.0):
        x = side * (inner_x[:, None] + ident["brow_len"][:, None] * t) + yaw[:, None]
        out.append(_polygon(_xy(x, y - half_th), _xy(x, y + half_th)))
    return np.stack(out, axis=1)


def _lid_heights(ident: dict, au: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Upper/lower lid opening: AU5 widens, AU7 squints both lids, AU6 pushes the lower lid up."""
    a4, a5, a6, a7 = (_au(au, k) for k in ("AU4", "AU5", "AU6", "AU7"))
    up = ident["eye_open"] * np.clip(1.0 + 1.3 * a5 - 0.75 * a7 - 0.3 * a6 - 0.15 * a4, 0.15, None)
    low = ident["eye_open"] * 0.75 * np.clip(1.0 - 0.55 * a6 - 0.8 * a7 + 0.3 * a5, 0.1, None)
    return up, low


def _eyes(ident: dict, au: np.ndarray, yaw: np.ndarray, gaze: np.ndarray) -> dict[str, np.ndarray]:
    """Eye whites, irises (clipped to the lids) and upper-lid lines for both eyes, each (N, 2, P, 2)."""
    up, low = _lid_heights(ident, au)
    ey = (ident["face_cy"] + ident["eye_y"])[:, None]
    ew, r = ident["eye_w"][:, None], ident["iris_r"][:, None]
    lid = 1.0 - _T_EYE[None] ** 2
    whites, irises, lids = [], [], []
    for side in (-1.0, 1.0):
        ex = side * ident["eye_sep"][:, None] + yaw[:, None]
        x = ex + _T_EYE[None] * ew
        upper = _xy(x, ey - up[:, None] * lid)
        whites.append(_polygon(upper, _xy(x, ey + low[:, None] * lid)))
        lids.append(upper)
        xi = ex + gaze[:, None] + r * _U_IRIS[None]
        tt = np.clip((xi - ex) / ew, -1, 1)
        circle = r * np.sqrt(1.0 - _U_IRIS[None] ** 2)
        top = np.maximum(ey - circle, ey - up[:, None] * (1 - tt**2))
        bot = np.maximum(np.minimum(ey + circle, ey + low[:, None] * (1 - tt**2)), top)
        irises.append(_polygon(_xy(xi, top), _xy(xi, bot)))
    return {"whites": np.stack(whites, 1), "irises": np.stack(irises, 1), "lids": np.stack(lids, 1)}


def _mouth(ident: dict, au: np.ndarray, yaw: np.ndarray) -> dict[str, np.ndarray]:
    """Lips, opening and teeth. AU12 pulls the corners up/out, AU15 down, AU20 stretches, AU23 thins
    and narrows, AU25 parts the lips, AU26 drops the jaw, AU9 lifts the upper lip."""
    a9, a12, a15, a20, a23, a25, a26 = (_au(au, k) for k in ("AU9", "AU12", "AU15", "AU20", "AU23", "AU25", "AU26"))
    half_w = ident["mouth_w"] * (1.0 + 0.30 * a12 + 0.60 * a20 - 0.40 * a23 - 0.25 * a26)
    corner_dy = -0.12 * a12 + 0.13 * a15 + 0.03 * a20 + ident["rest_curve"]
    opening = 0.04 * a25 + 0.16 * a26
    lip = ident["lip_th"] * np.clip(1.0 - 0.7 * a23 - 0.2 * a20, 0.2, None)
    cy = ident["face_cy"] + ident["mouth_y"] + 0.05 * a26  # the jaw carries the mouth down a little
    t = _T_MOUTH[None]
    bulge = 1.0 - t**2
    x = half_w[:, None] * t + yaw[:, None]
    base = cy[:, None] + corner_dy[:, None] * t**2
    up_in = base - (0.35 * opening + 0.03 * a9)[:, None] * bulge
    low_in = base + (0.65 * opening)[:, None] * bulge
    up_out = up_in - lip[:, None] * (1 - 0.6 * t**2)
    low_out = low_in + 1.3 * lip[:, None] * (1 - 0.6 * t**2)
    teeth = np.minimum(up_in + 0.03 * bulge, low_in)
    return {
        "lips": _polygon(_xy(x, up_out), _xy(x, low_out)),
        "opening": _polygon(_xy(x, up_in), _xy(x, low_in)),
        "teeth": _polygon(_xy(x, up_in), _xy(x, teeth)),
        "line": _xy(x, base),
        "open": opening + 0.03 * a9,
        "corners": np.stack([x[:, 0], base[:, 0], x[:, -1], base[:, -1]], 1),
    }


def _segments(x0, y0, x1, y1, bend=0.0, bend_x=0.0) -> np.ndarray:
    """A 3-point curve per face (N, 3, 2) from (x0, y0) to (x1, y1), midpoint pushed by (bend_x, bend)."""
    return _xy(
        np.stack(np.broadcast_arrays(x0, (x0 + x1) / 2 + bend_x, x1), 1),
        np.stack(np.broadcast_arrays(y0, (y0 + y1) / 2 + bend, y1), 1),
    )


def _wrinkles(ident: dict, au: np.ndarray, yaw: np.ndarray, mouth: dict) -> dict[str, tuple]:
    """Skin folds, each ``(curves (N, k, P, 2), strength (N,))``; strength 0 means not drawn.

    Forehead lines (AU1/AU2), glabella lines (AU4), nose-bridge wrinkles (AU9), crow's feet and
    lower-lid bulges (AU6) and nasolabial folds (deepened by AU12, AU9, AU6).
    """
    a1, a2, a4, a6, a9, a12 = (_au(au, k) for k in ("AU1", "AU2", "AU4", "AU6", "AU9", "AU12"))
    n = len(au)
    ones = np.ones(n)
    cy = ident["face_cy"]
    ey = cy + ident["eye_y"]
    brow_y = ey - ident["brow_gap"]
    es, ew = ident["eye_sep"], ident["eye_w"]
    fw = 0.55 * ident["face_w"]
    forehead = [_segments(-fw + yaw, brow_y - d, fw + yaw, brow_y - d, -0.025) for d in (0.09, 0.15)]
    glabella = [_segments(s * 0.03 + yaw, brow_y - 0.02, s * 0.035 + yaw, brow_y + 0.07) for s in (-1, 1)]
    nose = [_segments(-0.05 + yaw, ey + d, 0.05 + yaw, ey + d, -0.01) for d in (-0.01, 0.04, 0.09)]
    feet, bulge = [], []
    for s in (-1, 1):
        ox = s * (es + ew * 1.1) + yaw
        feet += [_segments(ox, ey + d, ox + s * 0.06 * ones, ey + 2 * d, 0.0) for d in (-0.025, 0.02)]
        bulge.append(_segments(s * es - 0.7 * ew + yaw, ey + 0.07, s * es + 0.7 * ew + yaw, ey + 0.07, 0.02))
    corners = mouth["corners"]
    nw = ident["nose_w"] * 1.5
    ny = cy + ident["nose_y"]
    folds = [
        _segments(s * nw + yaw, ny - 0.01, corners[:, c] + s * 0.035, corners[:, c + 1] + 0.03, 0.0, s * 0.03)
        for s, c in ((-1, 0), (1, 2))
    ]
    return {
        "forehead": (np.stack(forehead, 1), np.maximum(a1, a2)),
        "glabella": (np.stack(glabella, 1), a4),
        "nose": (np.stack(nose, 1), a9),
        "feet": (np.stack(feet, 1), a6),
        "bulge": (np.stack(bulge, 1), a6),
        "folds": (np.stack(folds, 1), np.maximum.reduce([a12, a9, 0.6 * a6])),
    }


def _nose(ident: dict, au: np.ndarray, yaw: np.ndarray) -> dict[str, np.ndarray]:
    """Nostrils and the nose base; AU9 lifts and flares them."""
    a9 = _au(au, "AU9")
    ny = ident["face_cy"] + ident["nose_y"] - 0.03 * a9
    nw = ident["nose_w"] * (1.0 + 0.2 * a9)
    r = 0.022 * np.ones_like(nw)
    nostrils = np.stack([_ellipse(s * nw * 0.6 + yaw, ny, r, 0.6 * r) for s in (-1, 1)], 1)
    base = _xy(
        np.array([-1.3, -0.6, 0.0, 0.6, 1.3])[None] * nw[:, None] + yaw[:, None],
        ny[:, None] + np.array([-0.03, 0.005, 0.02, 0.005, -0.03])[None],
    )
    bridge = _segments(-0.035 + yaw, ny - 0.16, -0.045 + yaw, ny - 0.02, 0.0)
    return {"nostrils": nostrils, "base": base, "bridge": bridge}


def _occluder(pose: dict, ident: dict) -> np.ndarray:
    """Occluder outline (N, P, 2): a glasses bar across the eyes, a hand-like blob, or a random patch."""
    kind = pose["occ_kind"]
    w, h = pose["occ_w"], pose["occ_h"]
    ey = ident["face_cy"] + ident["eye_y"]
    cx = np.where(kind == 1, 0.0, pose["occ_x"])
    cy = np.where(kind == 1, ey, pose["occ_y"])
    rx = np.where(kind == 1, ident["face_w"] * 1.05, w)
    ry = np.where(kind == 1, 0.35 * h, h)
    blob = _ellipse(cx, cy, rx, ry)
    # A patch is a rectangle: push the ellipse points onto its bounding box.
    box = _xy(
        cx[:, None] + rx[:, None] * np.sign(np.cos(_PHI)) * np.minimum(1, 1.5 * np.abs(np.cos(_PHI))),
        cy[:, None] + ry[:, None] * np.sign(np.sin(_PHI)) * np.minimum(1, 1.5 * np.abs(np.sin(_PHI))),
    )
    return np.where((kind == 2)[:, None, None], blob, box)


def _yaw_shift(pose: dict) -> np.ndarray:
    """A turned head moves the inner features sideways relative to the outline."""
    return 0.04 * pose["yaw"]


# --------------------------------------------------------------------------------------- rasterisation
_SHIFT = 4  # fractional bits of the polygon coordinates handed to OpenCV (sub-pixel placement)
_ZOOM = 1.15  # canonical units → image: FER2013 crops are tight, the face nearly fills the frame


def _to_pixels(points: np.ndarray, pose: dict, canvas: int) -> np.ndarray:
    """Canonical (N, ..., 2) points → int32 canvas coordinates with ``_SHIFT`` fractional bits."""
    n = len(points)
    flat = points.reshape(n, -1, 2)
    c, s = np.cos(pose["angle"])[:, None], np.sin(pose["angle"])[:, None]
    k = _ZOOM * pose["scale"][:, None]
    x = k * (c * flat[..., 0] - s * flat[..., 1]) + pose["dx"][:, None]
    y = k * (s * flat[..., 0] + c * flat[..., 1]) + pose["dy"][:, None]
    px = np.stack([x, y], -1) * (canvas / 2.0) + (canvas / 2.0 - 0.5)
    return np.round(px * (1 << _SHIFT)).astype(np.int32).reshape(points.shape)


def _tones(ident: dict) -> dict[str, list[int]]:
    """Per-face grey levels (lists of Python ints, fast to hand to OpenCV)."""
    skin = ident["skin"]
    tones = {
        "bg": ident["bg"],
        "skin": skin,
        "shade": skin * 0.85,
        "hair": ident["hair"],
        "brow": np.minimum(skin * ident["brow_tone"], ident["hair"] + 40),
        "lips": skin * ident["lip_tone"],
        "white": np.minimum(skin * 1.2 + 45, 250),
        "iris": ident["iris"],
        "cavity": 0.22 * skin,
        "teeth": np.minimum(skin * 1.1 + 40, 240),
        "line": skin * 0.4,
    }
    return {k: np.round(v).astype(int).tolist() for k, v in tones.items()}


def _fold_tone(skin: np.ndarray, strength: np.ndarray) -> list[int]:
    return np.round(skin * (1.0 - 0.55 * strength)).astype(int).tolist()


class _Face:
    """All pixel-space primitives of a batch, built vectorised; :meth:`draw` rasterises face ``i``."""

    def __init__(self, au: np.ndarray, ident: dict, pose: dict, canvas: int):
        yaw = _yaw_shift(pose)
        outline = _face_outline(ident, au)
        eyes = _eyes(ident, au, yaw, pose["gaze"])
        mouth = _mouth(ident, au, yaw)
        nose = _nose(ident, au, yaw)
        shapes = {
            **outline,
            **eyes,
            **nose,
            "brows": _brows(ident, au, yaw),
            **{f"mouth_{k}": v for k, v in mouth.items() if k in ("lips", "opening", "teeth", "line")},
            "occluder": _occluder(pose, ident),
        }
        self.px = {k: _to_pixels(v, pose, canvas) for k, v in shapes.items()}
        self.folds = {}
        for name, (curves, strength) in _wrinkles(ident, au, yaw, mouth).items():
            self.folds[name] = (_to_pixels(curves, pose, canvas), (strength > 0.08).tolist())
            self.folds[name + "_tone"] = _fold_tone(ident["skin"], strength)
        self.tones = _tones(ident)
        self.is_open = (mouth["open"] > 0.006).tolist()
        self.has_hair = (ident["has_hair"] > 0).tolist()
        self.occ_kind = pose["occ_kind"].tolist()
        occ_tone = np.where(pose["occ_kind"] == 1, 0.25 * pose["occ_tone"], pose["occ_tone"])
        occ_tone = np.where(pose["occ_kind"] == 2, ident["skin"] * 0.95 + 10, occ_tone)
        self.occ_tone = np.round(occ_tone).astype(int).tolist()
        self.canvas = canvas
        self.thick = max(1, round(canvas / 96))

    def _fill(self, img, i, key, tone, aa=cv2.LINE_AA):
        pts = self.px[key][i]
        cv2.fillPoly(img, list(pts) if pts.ndim == 3 else [pts], tone, aa, _SHIFT)

    def _lines(self, img, pts, tone, thickness):
        cv2.polylines(img, list(pts), False, tone, thickness, cv2.LINE_AA, _SHIFT)

    def draw(self, i: int) -> np.ndarray:
        t = {k: v[i] for k, v in self.tones.items()}
        img = np.full((self.canvas, self.canvas), t["bg"], np.uint8)
        if self.has_hair[i]:
            self._fill(img, i, "hair", t["hair"])
        self._fill(img, i, "neck", t["shade"])
        self._fill(img, i, "ears", t["shade"])
        self._fill(img, i, "face", t["skin"])
        self._draw_folds(img, i)
        if self.has_hair[i]:  # after the folds: forehead lines disappear under a fringe
            self._fill(img, i, "fringe", t["hair"])
        self._fill(img, i, "whites", t["white"])
        self._fill(img, i, "irises", t["iris"])
        self._lines(img, self.px["lids"][i], t["line"], self.thick + 1)
        self._fill(img, i, "brows", t["brow"])
        self._fill(img, i, "nostrils", t["line"])
        self._lines(img, [self.px["base"][i], self.px["bridge"][i]], t["shade"], self.thick)
        self._draw_mouth(img, i, t)
        if self.occ_kind[i]:
            self._fill(img, i, "occluder", self.occ_tone[i])
        return img

    def _draw_folds(self, img, i):
        for name in ("forehead", "glabella", "nose", "feet", "bulge", "folds"):
            curves, visible = self.folds[name]
            if visible[i]:
                self._lines(img, curves[i], self.folds[name + "_tone"][i], self.thick)

    def _draw_mouth(self, img, i, t):
        self._fill(img, i, "mouth_lips", t["lips"])
        if self.is_open[i]:
            self._fill(img, i, "mouth_opening", t["cavity"])
            self._fill(img, i, "mouth_teeth", t["teeth"])
        else:
            self._lines(img, [self.px["mouth_line"][i]], t["line"], self.thick)


def _photometric(images: np.ndarray, params: dict, rng: np.random.Generator) -> np.ndarray:
    """Blur (per image), then gain, offset, an illumination gradient and sensor noise (per batch)."""
    out = images.astype(np.float32)
    for i, sigma in enumerate(params["blur"].tolist()):
        if sigma > 0.3:  # below ~0.3 px a Gaussian barely changes the image; skip the call
            out[i] = cv2.GaussianBlur(out[i], (0, 0), sigma)
    h, w = out.shape[1:]
    ys, xs = np.linspace(-1, 1, h, dtype=np.float32), np.linspace(-1, 1, w, dtype=np.float32)
    gx = (params["grad"] * np.cos(params["grad_dir"])).astype(np.float32)[:, None, None]
    gy = (params["grad"] * np.sin(params["grad_dir"])).astype(np.float32)[:, None, None]
    out *= params["gain"].astype(np.float32)[:, None, None]
    out += params["offset"].astype(np.float32)[:, None, None] + gx * xs[None, None] + gy * ys[None, :, None]
    out += rng.standard_normal(out.shape, dtype=np.float32) * params["noise"].astype(np.float32)[:, None, None]
    return np.clip(np.rint(out), 0, 255).astype(np.uint8)


def check_image_size(image_size: object) -> int:
    """``image_size`` as an int when it is an integer side length in [16, 512]."""
    if isinstance(image_size, bool) or not isinstance(image_size, numbers.Integral):
        raise ValueError(f"image_size: must be an integer, got {image_size!r}")
    if not 16 <= int(image_size) <= 512:
        raise ValueError(f"image_size: must be in [16, 512], got {image_size}")
    return int(image_size)


_CHUNK = 1024  # faces per vectorised block; bounds the float32 photometric buffer


def render_faces(action_units: np.ndarray, rng: np.random.Generator, image_size: int = 48) -> np.ndarray:
    """Render one grayscale face per AU vector (uint8, N×image_size×image_size).

    Identity and nuisances (pose, scale, shift, illumination, blur, noise, occlusion) are drawn from
    ``rng``; the same generator state and AUs give byte-identical images.

    :param action_units: N×len(ACTION_UNITS) intensities in [0, 1] (columns as :data:`ACTION_UNITS`)
    :param rng: the generator every random draw comes from
    :param image_size: output side length in pixels (16 to 512)
    """
    rng = check_rng(rng)
    size = check_image_size(image_size)
    au = check_action_units(action_units)
    ident, pose, photo = draw_face_parameters(len(au), rng, size)
    return _render(au, ident, pose, photo, rng, size)


def check_action_units(action_units: object, name: str = "action_units") -> np.ndarray:
    """``action_units`` as float64 ``N×len(ACTION_UNITS)`` when its intensities are finite and in [0, 1]."""
    au = np.asarray(action_units, dtype=np.float64)
    if au.ndim != 2 or au.shape[1] != len(ACTION_UNITS):
        raise ValueError(f"{name}: must be N×{len(ACTION_UNITS)}, got shape {au.shape}")
    if not np.all(np.isfinite(au)) or au.min(initial=0) < 0 or au.max(initial=0) > 1:
        raise ValueError(f"{name}: intensities must be finite and within [0, 1]")
    return au


def draw_face_parameters(n: int, rng: np.random.Generator, image_size: int) -> tuple[dict, dict, dict]:
    """``(identity, pose, photometric)`` parameters of ``n`` faces, drawn in :func:`render_faces`' order."""
    return _draw_identity(n, rng), _draw_pose(n, rng), _draw_photometric(n, rng, image_size)


def take_face_parameters(params: dict[str, np.ndarray], rows: np.ndarray | slice) -> dict[str, np.ndarray]:
    """The parameters of faces ``rows`` (a slice or an index array; repeats allowed: one identity on many
    frames)."""
    return {k: v[rows] for k, v in params.items()}


def render_with_parameters(
    action_units: np.ndarray, params: tuple[dict, dict, dict], rng: np.random.Generator, image_size: int = 48
) -> np.ndarray:
    """Render one face per AU vector with given ``(identity, pose, photometric)`` parameters, one row each.

    Sensor noise is still drawn from ``rng``, so two frames of one face differ as two camera frames do.
    """
    rng = check_rng(rng)
    size = check_image_size(image_size)
    au = check_action_units(action_units)
    ident, pose, photo = params
    for group in params:
        bad = [k for k, v in group.items() if len(v) != len(au)]
        if bad:
            raise ValueError(f"params: {bad[0]!r} has {len(group[bad[0]])} rows, action_units {len(au)}")
    return _render(au, ident, pose, photo, rng, size)


def _render(au: np.ndarray, ident: dict, pose: dict, photo: dict, rng: np.random.Generator, size: int) -> np.ndarray:
    n = len(au)
    out = np.empty((n, size, size), np.uint8)
    canvas = 2 * size  # 2× supersampling + INTER_AREA gives clean anti-aliased edges cheaply
    for start in range(0, n, _CHUNK):
        sl = slice(start, min(start + _CHUNK, n))
        face = _Face(au[sl], take_face_parameters(ident, sl), take_face_parameters(pose, sl), canvas)
        raw = np.empty((sl.stop - sl.start, size, size), np.uint8)
        for j in range(len(raw)):
            raw[j] = cv2.resize(face.draw(j), (size, size), interpolation=cv2.INTER_AREA)
        out[sl] = _photometric(raw, take_face_parameters(photo, sl), rng)
    return out
