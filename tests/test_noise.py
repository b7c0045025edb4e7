"""Noise injectors: exact counts, ground truth, allowed flip targets, image noise really changes images."""

import cv2
import numpy as np
import pytest

from fer_select_env.data.noise import (
    FER_CONFUSION_MATRIX,
    HALF_FACE_MODES,
    HALF_FACE_SIDES,
    flip_labels_confusion,
    flip_labels_symmetric,
    make_half_faces,
    make_no_face_images,
)
from fer_select_env.faces import render_faces, sample_action_units


def _rng(seed: int = 0) -> np.random.Generator:
    return np.random.default_rng(seed)


@pytest.fixture(scope="module")
def faces() -> np.ndarray:
    rng = _rng(3)
    au = sample_action_units(np.arange(84) % 7, rng)
    return render_faces(au, rng, image_size=48)


# ------------------------------------------------------------------------------------------------ flips
@pytest.mark.parametrize("n, rate", [(100, 0.3), (7, 0.5), (1000, 0.0), (50, 1.0), (333, 0.123)])
def test_symmetric_flip_exact_count_and_all_differ(n, rate):
    y = np.arange(n) % 7
    new, flipped = flip_labels_symmetric(y, rate, 7, _rng())
    assert flipped.dtype == bool and flipped.sum() == round(rate * n)
    assert np.all(new[flipped] != y[flipped])
    assert np.array_equal(new[~flipped], y[~flipped])
    assert new.min() >= 0 and new.max() < 7


def test_symmetric_flip_is_pure_and_seeded():
    y = np.arange(200) % 7
    before = y.copy()
    a = flip_labels_symmetric(y, 0.3, 7, _rng(1))
    b = flip_labels_symmetric(y, 0.3, 7, _rng(1))
    c = flip_labels_symmetric(y, 0.3, 7, _rng(2))
    assert np.array_equal(y, before)
    assert np.array_equal(a[0], b[0]) and np.array_equal(a[1], b[1])
    assert not np.array_equal(a[1], c[1])


def test_symmetric_flip_targets_are_uniform_over_other_classes():
    y = np.zeros(14000, np.int64)
    new, _ = flip_labels_symmetric(y, 1.0, 7, _rng())
    counts = np.bincount(new, minlength=7)
    assert counts[0] == 0
    # 14000 draws over 6 classes: each ~2333 ± 44 (sd); 10% slack is > 5 sd.
    assert np.all(np.abs(counts[1:] - 14000 / 6) < 0.1 * 14000 / 6)


def test_confusion_matrix_is_row_stochastic_with_zero_diagonal():
    m = FER_CONFUSION_MATRIX
    assert m.shape == (7, 7)
    assert np.allclose(m.sum(1), 1.0) and np.all(np.diag(m) == 0) and np.all(m >= 0)
    # The headline FER confusions are the most likely targets.
    assert m[2].argmax() == 5 and m[5].argmax() == 2  # fear <-> surprise
    assert m[1].argmax() == 0  # disgust -> angry
    assert m[4].argmax() == 6 and m[6].argmax() == 4  # sad <-> neutral


def test_confusion_flips_only_reach_allowed_partners():
    y = np.arange(7000) % 7
    new, flipped = flip_labels_confusion(y, 0.3, _rng())
    assert flipped.sum() == 2100
    assert np.all(new[flipped] != y[flipped]) and np.array_equal(new[~flipped], y[~flipped])
    assert np.all(FER_CONFUSION_MATRIX[y[flipped], new[flipped]] > 0)
    # Frequencies follow the matrix: fear (2) goes to surprise (5) about half of the time.
    fear = flipped & (y == 2)
    assert 0.35 < np.mean(new[fear] == 5) < 0.65


def test_confusion_flip_with_custom_matrix():
    m = np.array([[0.0, 1.0, 0.0], [0.0, 0.0, 1.0], [1.0, 0.0, 0.0]])
    new, flipped = flip_labels_confusion(np.array([0, 1, 2, 0, 1, 2]), 1.0, _rng(), confusion=m)
    assert flipped.all() and new.tolist() == [1, 2, 0, 1, 2, 0]


@pytest.mark.parametrize(
    "kwargs, name",
    [
        ({"rate": 1.5}, "rate"),
        ({"rate": -0.1}, "rate"),
        ({"num_classes": 1}, "num_classes"),
        ({"y": np.array([0, 9])}, "y"),
        ({"y": np.array([0.5, 1.0])}, "y"),
        ({"rng": 0}, "rng"),
    ],
)
def test_symmetric_flip_rejects_bad_arguments(kwargs, name):
    args = {"y": np.array([0, 1, 2]), "rate": 0.5, "num_classes": 7, "rng": _rng(), **kwargs}
    with pytest.raises(ValueError, match=name):
        flip_labels_symmetric(**args)


@pytest.mark.parametrize(
    "confusion",
    [
        np.eye(3),  # non-zero diagonal
        np.array([[0.0, 0.5], [0.5, 0.0]]),  # rows sum to 0.5
        np.array([[0.0, 1.0, 0.0]]),  # not square
        np.array([[0.0, 2.0], [-1.0, 0.0]]),  # negative entry
        np.array([[0.0, np.nan], [1.0, 0.0]]),  # not finite
    ],
)
def test_confusion_flip_rejects_bad_matrices(confusion):
    with pytest.raises(ValueError, match="confusion"):
        flip_labels_confusion(np.array([0, 1]), 0.5, _rng(), confusion=confusion)


def test_confusion_flip_rejects_labels_outside_matrix():
    with pytest.raises(ValueError, match="y"):
        flip_labels_confusion(np.array([0, 7]), 0.5, _rng())


# ------------------------------------------------------------------------------------------- half faces
@pytest.mark.parametrize("mode", ["crop", "fill", "mixed"])
def test_half_faces_change_the_images_and_record_the_side(faces, mode):
    before = faces.copy()
    out, side, how = make_half_faces(faces, _rng(), mode=mode)
    assert np.array_equal(faces, before)  # pure
    assert out.shape == faces.shape and out.dtype == np.uint8
    assert side.shape == (len(faces),) and set(side.tolist()) <= set(range(len(HALF_FACE_SIDES)))
    if mode != "mixed":
        assert np.all(how == HALF_FACE_MODES.index(mode))
    else:
        assert set(how.tolist()) == {0, 1}
    diff = np.abs(out.astype(int) - faces.astype(int)).mean(axis=(1, 2))
    assert np.all(diff > 3.0)


def test_fill_mode_keeps_the_kept_half_pixel_exact(faces):
    out, side, _ = make_half_faces(faces, _rng(5), mode="fill")
    h, w = faces.shape[1:]
    for i in range(len(faces)):
        # The kept half covers at least 45% of the side, so the first/last 40% are always kept.
        keep = [
            (slice(None), slice(0, int(0.4 * w))),
            (slice(None), slice(w - int(0.4 * w), w)),
            (slice(0, int(0.4 * h)), slice(None)),
            (slice(h - int(0.4 * h), h), slice(None)),
        ][side[i]]
        gone = [
            (slice(None), slice(int(0.6 * w), w)),
            (slice(None), slice(0, w - int(0.6 * w))),
            (slice(int(0.6 * h), h), slice(None)),
            (slice(0, h - int(0.6 * h)), slice(None)),
        ][side[i]]
        assert np.array_equal(out[i][keep], faces[i][keep])
        assert not np.array_equal(out[i][gone], faces[i][gone])


def test_crop_mode_stretches_the_half(faces):
    out, side, _ = make_half_faces(faces, _rng(6), mode="crop")
    h, w = faces.shape[1:3]
    # A left-half crop stretched to full width, squeezed back to half width, matches the original left half
    # (the kept fraction is 45-55%, so the match is close but not exact) far better than the right half.
    left = np.flatnonzero(side == 0)[:5]
    assert len(left) > 0
    for i in left:
        squeezed = cv2.resize(out[i], (w // 2, h), interpolation=cv2.INTER_AREA).astype(float).ravel()
        corr_left = np.corrcoef(squeezed, faces[i][:, : w // 2].astype(float).ravel())[0, 1]
        corr_right = np.corrcoef(squeezed, faces[i][:, w - w // 2 :].astype(float).ravel())[0, 1]
        assert corr_left > 0.8 and corr_left > corr_right


def test_half_faces_rejects_bad_arguments(faces):
    with pytest.raises(ValueError, match="mode"):
        make_half_faces(faces, _rng(), mode="quarter")
    with pytest.raises(ValueError, match="images"):
        make_half_faces(faces.astype(np.float32), _rng())
    with pytest.raises(ValueError, match="rng"):
        make_half_faces(faces, 42)


# ---------------------------------------------------------------------------------------------- no face
def test_no_face_images_shape_stats_and_no_correlation_with_faces(faces):
    out = make_no_face_images(len(faces), faces.shape[1:], _rng(), reference=faces)
    assert out.shape == faces.shape and out.dtype == np.uint8
    # Not blank: contrast comparable to faces.
    assert out.std(axis=(1, 2)).min() > 8
    assert abs(out.mean() - faces.mean()) < 25
    # Uncorrelated with the faces they replace, while faces correlate with their mean face.
    corr = [np.corrcoef(a.ravel(), b.ravel())[0, 1] for a, b in zip(out, faces, strict=True)]
    assert abs(np.mean(corr)) < 0.1
    # Different images from each other.
    assert len({o.tobytes() for o in out}) == len(out)


def test_no_face_images_seeded_and_channels():
    a = make_no_face_images(5, (32, 32), _rng(1))
    b = make_no_face_images(5, (32, 32), _rng(1))
    c = make_no_face_images(5, (32, 32), _rng(2))
    assert np.array_equal(a, b) and not np.array_equal(a, c)
    rgb = make_no_face_images(2, (16, 20, 3), _rng())
    assert rgb.shape == (2, 16, 20, 3)
    assert make_no_face_images(0, (16, 16), _rng()).shape == (0, 16, 16)


@pytest.mark.parametrize(
    "args, name",
    [
        ((-1, (48, 48)), "n"),
        ((2.5, (48, 48)), "n"),
        ((3, (48,)), "image_shape"),
        ((3, (2, 2)), "image_shape"),
        ((3, 48), "image_shape"),
    ],
)
def test_no_face_images_rejects_bad_arguments(args, name):
    with pytest.raises(ValueError, match=name):
        make_no_face_images(*args, _rng())
