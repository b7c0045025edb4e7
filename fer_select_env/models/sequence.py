"""Causal sequence classifiers for early expression recognition: per-frame class posteriors of a face that goes
from neutral to its apex, where the output at frame ``t`` depends only on frames ``0..t``.

Three networks, all returning per-frame logits ``N×T×K``:

* ``"convlstm"``: the seed's network (``../shared/seeds/002_45808c28924ed442.txt``: ConvLSTM2D, Batch
  Normalization, MaxPooling3D, Dropout), narrowed for a CPU: a per-frame conv stem (48 → 12), a ConvLSTM
  cell (:class:`ConvLSTMCell`; torch has none), BatchNorm, a max-pool over space only (kernel ``(1, 2, 2)``,
  so no frame sees a later one), dropout and a per-frame linear head.
* ``"cnn_avg"``: a per-frame CNN whose class probabilities are averaged over the frames seen so far.
* ``"cnn_lstm"``: a per-frame CNN feature, a unidirectional LSTM and a linear head.

Training supervises every frame with the sequence's label (the cross-entropy over all ``N×T`` outputs, the
per-frame supervision of the seed's notebook), with Adam and early stopping on the validation split.
:func:`train_sequence_classifier` caches the result like the FERSelect pre-training
(:mod:`fer_select_env.models.pretrain`); :func:`sequence_posteriors` gives the softmax probabilities.

Frames are uint8 arrays ``N×T×H×W`` (grayscale), labels integers ``N`` in ``[0, K)``.
"""

from __future__ import annotations

import hashlib
import math
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from fer_select_env.core.cache import cache_key, cache_subdir, read_cache_entry, write_cache_entry
from fer_select_env.core.checks import check_device, check_known_fields
from fer_select_env.core.seeding import derive_seed, resolve_device, rng_scope, thread_limit
from fer_select_env.core.version import __version__
from fer_select_env.models.classifier import _as_tensor, _batches, _better, _snapshot, training_grad_mode
from fer_select_env.models.cnn import FastDropout

SEQUENCE_KINDS: tuple[str, ...] = ("convlstm", "cnn_avg", "cnn_lstm")
"""The networks of :class:`SequenceClassifierConfig` ``kind``."""

SEQUENCE_MONITORS: tuple[str, ...] = ("val_loss", "val_accuracy")
"""What early stopping goes by: the per-frame validation loss, or the last-frame validation accuracy."""

STATE_FORMAT_VERSION = 1
CACHE_FORMAT = 1
"""1: ``{"cache_format", "inputs", "classifier", "report"}``, the inputs checked on every read."""

_RUNTIME_FIELDS = ("device", "num_threads")
"""Config fields that change where and how fast a model trains, not what it learns: kept out of cache keys."""

_EVAL_BATCH = 64  # sequences per validation pass
_TRAIN_STREAM = 7  # the seed's stream for training draws (dropout, shuffling), apart from the init draws


@dataclass(frozen=True)
class SequenceClassifierConfig:
    """Architecture and training settings of a sequence classifier.

    The defaults were measured on a shared 2-core CPU, one thread, 700 train + 140 val sequences of 12 frames
    of 48×48 (toy moving-blob data): ``"convlstm"`` trains an epoch in ~4.5 s (20 epochs, the cap, ~90 s),
    ``"cnn_avg"`` in ~2.7 s and ``"cnn_lstm"`` in ~3.0 s. Two threads while another process kept one core busy
    made a step ~20× slower for ``"convlstm"`` (~9× for ``"cnn_avg"``): hence ``num_threads=1``.
    ``"cnn_lstm"`` is the default: nearly the speed of ``"cnn_avg"`` (~1.5× faster than the ConvLSTM), with a
    learned recurrence that can commit once the expression shows instead of averaging in the neutral frames.

    :param kind: one of :data:`SEQUENCE_KINDS`
    :param width: channels of the first stem convolution (the second has ``2 × width``)
    :param hidden: ConvLSTM filters (``"convlstm"``) or LSTM units (``"cnn_lstm"``)
    :param feature_dim: length of the per-frame CNN feature (``"cnn_avg"``, ``"cnn_lstm"``)
    :param dropout: dropout before each head
    :param epochs: the most epochs to train
    :param min_epochs: early stopping never ends the run before this epoch (from a fresh initialisation the
        loss can sit near ln K for the first epochs)
    :param patience: stop after this many epochs without a better validation score (Keras semantics)
    :param monitor: ``"val_loss"`` (default): the mean cross-entropy over every validation frame, because the
        env reads the posterior at every frame, not only the last, and the loss moves smoothly where the
        last-frame accuracy of a few hundred sequences moves in steps and ties; ``"val_accuracy"``: the
        last-frame accuracy, the loss breaking ties (for noisy labels, where an over-confident network's
        loss can stay above the near-uniform first epoch's)
    :param batch_size: sequences per minibatch
    :param lr: Adam learning rate
    :param seed: seeds the initial weights, the shuffling and dropout; the global torch RNG is left as it was
    :param device: ``"cpu"`` (default), ``"cuda"``, ``"cuda:N"`` or ``"auto"``; not part of the cache key
    :param num_threads: CPU threads for training and inference (default 1, see above); ``None`` keeps
        PyTorch's setting; not part of the cache key
    """

    kind: str = "cnn_lstm"
    width: int = 8
    hidden: int = 16
    feature_dim: int = 64
    dropout: float = 0.25
    epochs: int = 60
    min_epochs: int = 3
    patience: int = 8
    monitor: str = "val_loss"
    batch_size: int = 32
    lr: float = 2e-3
    seed: int = 0
    device: str = "cpu"
    num_threads: int | None = 1

    def __post_init__(self) -> None:
        name = type(self).__name__
        if self.kind not in SEQUENCE_KINDS:
            raise ValueError(f"{name}.kind must be one of {SEQUENCE_KINDS}, got {self.kind!r}")
        if self.monitor not in SEQUENCE_MONITORS:
            raise ValueError(f"{name}.monitor must be one of {SEQUENCE_MONITORS}, got {self.monitor!r}")
        for key in ("width", "hidden", "feature_dim", "epochs", "batch_size"):
            _check_int(f"{name}.{key}", getattr(self, key), 1)
        for key in ("min_epochs", "patience", "seed"):
            _check_int(f"{name}.{key}", getattr(self, key), 0)
        if self.num_threads is not None:
            _check_int(f"{name}.num_threads", self.num_threads, 1)
        if not _is_real(self.dropout) or not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"{name}.dropout must be a number in [0, 1), got {self.dropout!r}")
        if not _is_real(self.lr) or not (math.isfinite(self.lr) and self.lr > 0.0):
            raise ValueError(f"{name}.lr must be a finite number > 0, got {self.lr!r}")
        if not isinstance(self.device, str):
            raise ValueError(f"{name}.device must be a device name such as 'cpu', got {self.device!r}")
        if self.device != "auto":
            try:
                torch.device(self.device)
            except RuntimeError:
                raise ValueError(f"{name}.device: {self.device!r} is not a torch device name") from None

    def to_dict(self) -> dict[str, Any]:
        """A JSON-serialisable dict of every field."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SequenceClassifierConfig:
        """Inverse of :meth:`to_dict`; unknown keys raise ``ValueError``."""
        check_known_fields(cls, data)
        return cls(**data)

    def learned_dict(self) -> dict[str, Any]:
        """:meth:`to_dict` without the fields that do not change what is learned (device, threads)."""
        return {k: v for k, v in self.to_dict().items() if k not in _RUNTIME_FIELDS}


def _is_real(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _check_int(name: str, value: object, minimum: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")


@dataclass
class SequenceFitReport:
    """Summary of one training run (or of the cached run a load returned, ``from_cache=True``).

    ``val_accuracy_per_frame[t]`` is the validation accuracy of the posterior at frame ``t`` for the kept
    (best) epoch; ``val_accuracy_last`` is its last entry.
    """

    epochs_run: int
    best_epoch: int
    best_val_loss: float
    val_accuracy_last: float
    val_accuracy_per_frame: list[float]
    n_train: int
    seconds: float
    stopped_early: bool = False
    from_cache: bool = False

    def to_dict(self) -> dict[str, Any]:
        """The report as a plain dict."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SequenceFitReport:
        """Inverse of :meth:`to_dict`."""
        return cls(**data)


# ---------------------------------------------------------------------------------------------- networks
def _conv_block(cin: int, cout: int) -> list[nn.Module]:
    """3×3 conv, BatchNorm, ReLU, 2×2 max-pool (ceil mode, so any frame size survives)."""
    return [
        nn.Conv2d(cin, cout, 3, padding=1, bias=False),
        nn.BatchNorm2d(cout),
        nn.ReLU(inplace=True),
        nn.MaxPool2d(2, ceil_mode=True),
    ]


def _halved(size: int, times: int) -> int:
    for _ in range(times):
        size = (size + 1) // 2
    return size


def _per_frame(module: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """``module`` applied to every frame of ``x`` ``(N, T, ...)`` at once (frames are independent)."""
    n, t = x.shape[:2]
    # channels_last: oneDNN's convolutions and pools are ~1.8× faster on CPU in NHWC (measured on the stem).
    frames = x.flatten(0, 1).contiguous(memory_format=torch.channels_last)
    return module(frames).unflatten(0, (n, t))


class ConvLSTMCell(nn.Module):
    """A ConvLSTM layer (Shi et al. 2015; Keras's ``ConvLSTM2D`` with ``return_sequences=True``).

    Gates ``i, f, g, o`` come from a convolution of the input plus one of the hidden state; the input part
    has no recurrence, so it is computed for every frame in one batched call and only the hidden-state
    convolution runs frame by frame. The forget-gate bias starts at 1 (Keras's ``unit_forget_bias``).
    """

    def __init__(self, in_channels: int, hidden_channels: int, kernel_size: int = 3) -> None:
        super().__init__()
        self.hidden_channels = int(hidden_channels)
        pad = kernel_size // 2
        self.input_conv = nn.Conv2d(in_channels, 4 * hidden_channels, kernel_size, padding=pad)
        self.hidden_conv = nn.Conv2d(hidden_channels, 4 * hidden_channels, kernel_size, padding=pad, bias=False)
        with torch.no_grad():
            self.input_conv.bias[hidden_channels : 2 * hidden_channels].fill_(1.0)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Hidden states ``(N, T, hidden, H, W)`` of inputs ``(N, T, C, H, W)``; state ``t`` sees frames ``0..t``."""
        gx = _per_frame(self.input_conv, x)
        h = c = None
        outs = []
        for t in range(x.shape[1]):
            gates = gx[:, t] if h is None else gx[:, t] + self.hidden_conv(h)
            i, f, g, o = gates.chunk(4, dim=1)
            c_new = torch.sigmoid(i) * torch.tanh(g)
            c = c_new if c is None else torch.sigmoid(f) * c + c_new
            h = torch.sigmoid(o) * torch.tanh(c)
            outs.append(h)
        return torch.stack(outs, dim=1)


class ConvLSTMNet(nn.Module):
    """The seed's ConvLSTM2D → BatchNorm → MaxPooling3D(1, 2, 2) → Dropout, behind a per-frame stem, with a
    per-frame linear head: logits ``(N, T, K)`` of frames ``(N, T, 1, H, W)``."""

    def __init__(self, num_classes: int, frame_hw: tuple[int, int], config: SequenceClassifierConfig) -> None:
        super().__init__()
        w = config.width
        self.stem = nn.Sequential(*_conv_block(1, w), *_conv_block(w, 2 * w))
        self.convlstm = ConvLSTMCell(2 * w, config.hidden)
        self.norm = nn.BatchNorm3d(config.hidden)
        # Pools space only: a (2, 2, 2) kernel would mix frame t with frame t + 1.
        self.pool = nn.MaxPool3d((1, 2, 2), ceil_mode=True)
        self.dropout = FastDropout(config.dropout)
        h, ww = (_halved(s, 3) for s in frame_hw)
        self.head = nn.Linear(config.hidden * h * ww, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        z = self.convlstm(_per_frame(self.stem, x))  # (N, T, C, H, W)
        z = self.pool(self.norm(z.transpose(1, 2))).transpose(1, 2)  # the 3-D layers want (N, C, T, H, W)
        return self.head(self.dropout(z.flatten(2)))


class FrameCNN(nn.Module):
    """Per-frame features ``(N, T, feature_dim)``: three conv blocks (48 → 6), flatten, dropout, dense, ReLU."""

    def __init__(self, frame_hw: tuple[int, int], config: SequenceClassifierConfig) -> None:
        super().__init__()
        w = config.width
        h, ww = (_halved(s, 3) for s in frame_hw)
        self.net = nn.Sequential(
            *_conv_block(1, w),
            *_conv_block(w, 2 * w),
            *_conv_block(2 * w, 2 * w),
            nn.Flatten(),
            FastDropout(config.dropout),
            nn.Linear(2 * w * h * ww, config.feature_dim),
            nn.ReLU(inplace=True),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return _per_frame(self.net, x)


class CNNAverageNet(nn.Module):
    """A per-frame CNN classifier whose probabilities are averaged over frames ``0..t``.

    Returns ``log(mean_{s<=t} softmax(z_s))``: log-probabilities, so their softmax is that running mean
    exactly, and the training loss is the cross-entropy of the averaged posterior the env reads.
    """

    def __init__(self, num_classes: int, frame_hw: tuple[int, int], config: SequenceClassifierConfig) -> None:
        super().__init__()
        self.features = FrameCNN(frame_hw, config)
        self.dropout = FastDropout(config.dropout)
        self.head = nn.Linear(config.feature_dim, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        log_p = F.log_softmax(self.head(self.dropout(self.features(x))), dim=-1)
        seen = torch.arange(1, x.shape[1] + 1, device=x.device, dtype=log_p.dtype).view(1, -1, 1)
        return torch.logcumsumexp(log_p, dim=1) - seen.log()


class CNNLSTMNet(nn.Module):
    """A per-frame CNN feature, a unidirectional LSTM over frames and a per-frame linear head."""

    def __init__(self, num_classes: int, frame_hw: tuple[int, int], config: SequenceClassifierConfig) -> None:
        super().__init__()
        self.features = FrameCNN(frame_hw, config)
        self.lstm = nn.LSTM(config.feature_dim, config.hidden, batch_first=True)
        with torch.no_grad():  # forget-gate bias 1, as Keras's unit_forget_bias (gate order i, f, g, o)
            self.lstm.bias_ih_l0[config.hidden : 2 * config.hidden].fill_(1.0)
        self.dropout = FastDropout(config.dropout)
        self.head = nn.Linear(config.hidden, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out, _ = self.lstm(self.features(x))
        return self.head(self.dropout(out))


_NETWORKS: dict[str, type[nn.Module]] = {"convlstm": ConvLSTMNet, "cnn_avg": CNNAverageNet, "cnn_lstm": CNNLSTMNet}


def build_sequence_network(num_classes: int, frame_hw: tuple[int, int], config: SequenceClassifierConfig) -> nn.Module:
    """The network of ``config.kind`` (initialised from the global torch RNG; callers fork and seed it)."""
    return _NETWORKS[config.kind](int(num_classes), (int(frame_hw[0]), int(frame_hw[1])), config)


# ---------------------------------------------------------------------------------------------- input checks
def check_frames(frames: Any, name: str = "frames", min_frames: int = 1) -> np.ndarray:
    """``frames`` as a uint8 ``N×T×H×W`` array with at least ``min_frames`` frames, else a ValueError naming it."""
    x = np.asarray(frames)
    if x.ndim != 4:
        raise ValueError(f"{name}: expected uint8 frames of shape (N, T, H, W), got {x.ndim}-D shape {x.shape}")
    if x.dtype != np.uint8:
        raise ValueError(f"{name}: frames must be uint8, got dtype {x.dtype}")
    if x.shape[1] < min_frames:
        raise ValueError(f"{name}: sequences need at least {min_frames} frame(s), got T={x.shape[1]}")
    if min(x.shape[2:]) < 1:
        raise ValueError(f"{name}: frames must be at least 1×1 pixels, got {x.shape[2:]}")
    return x


def check_sequence_labels(labels: Any, n: int, num_classes: int, name: str = "y") -> np.ndarray:
    """``labels`` as int64 ``(n,)`` in ``[0, num_classes)``, else a ValueError naming it."""
    y = np.asarray(labels)
    if y.ndim != 1 or len(y) != n:
        raise ValueError(f"{name}: expected {n} labels (one per sequence) in a 1-D array, got shape {y.shape}")
    if not np.issubdtype(y.dtype, np.integer):
        raise ValueError(f"{name}: labels must be integers, got dtype {y.dtype}")
    if n and (y.min() < 0 or y.max() >= num_classes):
        raise ValueError(f"{name}: labels must be in [0, {num_classes}), got [{y.min()}, {y.max()}]")
    return y.astype(np.int64)


def _check_num_classes(num_classes: Any) -> int:
    if isinstance(num_classes, bool) or not isinstance(num_classes, (int, np.integer)) or num_classes < 2:
        raise ValueError(f"num_classes: must be an integer >= 2, got {num_classes!r}")
    return int(num_classes)


def _check_batch_size(batch_size: Any) -> int:
    if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) or batch_size < 1:
        raise ValueError(f"batch_size: must be an integer >= 1, got {batch_size!r}")
    return int(batch_size)


# ---------------------------------------------------------------------------------------------- the wrapper
class SequenceClassifier:
    """A sequence network with its input handling: uint8 ``N×T×H×W`` frames in, per-frame logits out.

    :param num_classes: K
    :param frame_shape: ``(H, W)`` of the frames
    :param config: architecture and training settings; ``config.seed`` seeds the initial weights
    """

    def __init__(
        self, num_classes: int, frame_shape: tuple[int, int], config: SequenceClassifierConfig | None = None
    ) -> None:
        config = SequenceClassifierConfig() if config is None else config
        if not isinstance(config, SequenceClassifierConfig):
            raise ValueError(f"config: must be a SequenceClassifierConfig or None, got {type(config).__name__}")
        self.config = config
        self.num_classes = _check_num_classes(num_classes)
        frame_shape = tuple(int(s) for s in frame_shape)
        if len(frame_shape) != 2 or min(frame_shape) < 1:
            raise ValueError(f"frame_shape: must be (H, W) with positive sizes, got {frame_shape}")
        self.frame_shape: tuple[int, int] = frame_shape  # type: ignore[assignment]
        self.device = resolve_device(check_device("SequenceClassifierConfig.device", self.config.device))
        # Outside inference mode: parameters made inside it would be inference tensors, untrainable later.
        with rng_scope(self.config.seed, self.device), training_grad_mode():
            model = build_sequence_network(self.num_classes, self.frame_shape, self.config)
            self.model = model.to(self.device, memory_format=torch.channels_last)
        self.model.eval()

    def check_frames(self, frames: Any, name: str = "frames", min_frames: int = 1) -> np.ndarray:
        """:func:`check_frames`, and frames of this classifier's ``frame_shape``."""
        x = check_frames(frames, name, min_frames)
        if x.shape[2:] != self.frame_shape:
            raise ValueError(f"{name}: expected frames of {self.frame_shape} pixels, got {x.shape[2:]}")
        return x

    def to_input(self, xb: torch.Tensor) -> torch.Tensor:
        """uint8 ``(B, T, H, W)`` → float ``(B, T, 1, H, W)`` in [0, 1] on the device."""
        return xb.to(self.device, non_blocking=True).float().div_(255.0).unsqueeze(2)

    def logits(self, frames: Any, batch_size: int = 64) -> torch.Tensor:
        """Per-frame logits float32 ``(N, T, K)`` on the CPU, in eval mode without gradients, batched."""
        batch_size = _check_batch_size(batch_size)
        x = _as_tensor(np.ascontiguousarray(self.check_frames(frames)))
        self.model.eval()
        outs = []
        with torch.inference_mode(), thread_limit(self.config.num_threads if self.device.type == "cpu" else None):
            for start in range(0, len(x), batch_size):
                outs.append(self.model(self.to_input(x[start : start + batch_size])).float().cpu())
        if not outs:
            return torch.empty(0, x.shape[1], self.num_classes)
        return torch.cat(outs)

    def state_dict(self) -> dict[str, Any]:
        """Weights (BatchNorm statistics included), config and shapes: everything to rebuild it."""
        return {
            "format_version": STATE_FORMAT_VERSION,
            "config": self.config.to_dict(),
            "num_classes": self.num_classes,
            "frame_shape": list(self.frame_shape),
            "model": _snapshot(self.model.state_dict()),
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Load a :meth:`state_dict` saved by a classifier of the same learned config and shapes (device and
        threads may differ); otherwise a ValueError."""
        if state.get("format_version") != STATE_FORMAT_VERSION:
            raise ValueError(f"unsupported sequence classifier state format {state.get('format_version')!r}")
        stored = SequenceClassifierConfig.from_dict(dict(state["config"]))
        if stored.learned_dict() != self.config.learned_dict():
            raise ValueError("sequence classifier state was saved with a different SequenceClassifierConfig")
        if int(state["num_classes"]) != self.num_classes or tuple(state["frame_shape"]) != self.frame_shape:
            raise ValueError(
                f"sequence classifier state is for {state['num_classes']} classes and frames "
                f"{tuple(state['frame_shape'])}, not {self.num_classes} and {self.frame_shape}"
            )
        with training_grad_mode():
            self.model.load_state_dict(state["model"])
        self.model.eval()

    def __repr__(self) -> str:
        return (
            f"SequenceClassifier(kind={self.config.kind!r}, num_classes={self.num_classes}, "
            f"frame_shape={self.frame_shape}, device={self.device})"
        )


def sequence_posteriors(model: SequenceClassifier, frames: Any, batch_size: int = 64) -> np.ndarray:
    """Per-frame class probabilities float32 ``(N, T, K)`` (each row sums to 1); row ``t`` depends only on
    frames ``0..t``. Eval mode and no gradients whatever the caller's mode; ``batch_size`` sequences a pass."""
    if not isinstance(model, SequenceClassifier):
        raise ValueError(f"model: must be a SequenceClassifier, got {type(model).__name__}")
    return torch.softmax(model.logits(frames, batch_size), dim=-1).numpy().astype(np.float32, copy=False)


# ---------------------------------------------------------------------------------------------- training
@dataclass
class _Best:
    loss: float = math.inf
    acc: float = math.nan
    epoch: int = 0
    per_frame: list[float] = field(default_factory=list)
    state: dict[str, torch.Tensor] | None = None


def _evaluate(clf: SequenceClassifier, xv: torch.Tensor, yv: torch.Tensor) -> tuple[float, list[float]]:
    """Mean per-frame cross-entropy and the accuracy at each frame on the validation split."""
    step = _EVAL_BATCH
    logits = torch.cat([clf.model(clf.to_input(xv[s : s + step])).float().cpu() for s in range(0, len(xv), step)])
    t = logits.shape[1]
    loss = F.cross_entropy(logits.flatten(0, 1), yv.repeat_interleave(t)).item()
    per_frame = (logits.argmax(-1) == yv[:, None]).float().mean(0).tolist()
    return loss, per_frame


def _train_epoch(
    clf: SequenceClassifier, opt: torch.optim.Optimizer, xt: torch.Tensor, yt: torch.Tensor, gen: torch.Generator
) -> None:
    """One pass over shuffled minibatches; every frame's logits are scored against the sequence's label."""
    clf.model.train()
    perm = torch.randperm(len(xt), generator=gen)
    for idx in _batches(len(xt), clf.config.batch_size, perm):
        logits = clf.model(clf.to_input(xt[idx]))
        target = yt[idx].to(clf.device).repeat_interleave(logits.shape[1])
        loss = F.cross_entropy(logits.flatten(0, 1), target)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()


def _fit(
    clf: SequenceClassifier, x: np.ndarray, y: np.ndarray, x_val: np.ndarray, y_val: np.ndarray
) -> SequenceFitReport:
    """Train ``clf`` from its current (fresh) weights with early stopping on validation; the best epoch's
    weights are kept. Inputs are checked already."""
    t0 = time.perf_counter()
    cfg = clf.config
    xt, yt = _as_tensor(np.ascontiguousarray(x)), torch.from_numpy(y)
    xv, yv = _as_tensor(np.ascontiguousarray(x_val)), torch.from_numpy(y_val)
    best, stale, stopped_early, epochs_run = _Best(), 0, False, 0
    threads = cfg.num_threads if clf.device.type == "cpu" else None
    with rng_scope(derive_seed(cfg.seed, _TRAIN_STREAM), clf.device) as gen, thread_limit(threads):
        with training_grad_mode():
            opt = torch.optim.Adam(clf.model.parameters(), lr=cfg.lr)
            try:
                for epoch in range(1, cfg.epochs + 1):
                    _train_epoch(clf, opt, xt, yt, gen)
                    epochs_run = epoch
                    clf.model.eval()
                    with torch.no_grad():
                        loss, per_frame = _evaluate(clf, xv, yv)
                    if _better(loss, per_frame[-1], best.loss, best.acc, cfg.monitor):
                        best = _Best(loss, per_frame[-1], epoch, per_frame, _snapshot(clf.model.state_dict()))
                        stale = 0
                    else:
                        stale += 1  # Keras semantics: stop after `patience` epochs without improvement
                        if stale >= cfg.patience and cfg.min_epochs <= epoch < cfg.epochs:
                            stopped_early = True
                            break
            finally:
                clf.model.eval()
            if best.state is not None:
                clf.model.load_state_dict(best.state)
    return SequenceFitReport(
        epochs_run=epochs_run,
        best_epoch=best.epoch,
        best_val_loss=float(best.loss),
        val_accuracy_last=float(best.acc),
        val_accuracy_per_frame=[float(a) for a in best.per_frame],
        n_train=len(xt),
        seconds=time.perf_counter() - t0,
        stopped_early=stopped_early,
    )


# ---------------------------------------------------------------------------------------------- caching
def sequence_data_fingerprint(x_train: Any, y_train: Any, x_val: Any, y_val: Any) -> str:
    """A sha256 over the four arrays (dtype, shape and bytes): identical data gives an identical string."""
    h = hashlib.sha256()
    for name, arr in (("x_train", x_train), ("y_train", y_train), ("x_val", x_val), ("y_val", y_val)):
        a = np.ascontiguousarray(arr)
        h.update(f"{name}{a.dtype.str}{a.shape}".encode())
        h.update(a.tobytes())
    return h.hexdigest()


def sequence_cache_inputs(data_fingerprint: str, num_classes: int, config: SequenceClassifierConfig) -> dict[str, Any]:
    """What a cached sequence classifier was made from: stored in the entry, compared on every read, and
    hashed into its file name."""
    inputs: dict[str, Any] = {
        "data_fingerprint": str(data_fingerprint),
        "num_classes": int(num_classes),
        "config": config.learned_dict(),
        "version": __version__,
    }
    inputs["key"] = cache_key(
        inputs["data_fingerprint"], inputs["num_classes"], inputs["config"], __version__, "sequence"
    )
    return inputs


def sequence_cache_path(inputs: dict[str, Any], cache_dir: str | Path | None = None) -> Path:
    """Where the entry of :func:`sequence_cache_inputs` ``inputs`` lives: ``<cache>/sequence_classifiers/<key>.pt``."""
    return cache_subdir(cache_dir, "sequence_classifiers") / f"{inputs['key']}.pt"


def _load_cached(path: Path, inputs: dict[str, Any], clf: SequenceClassifier) -> SequenceFitReport | None:
    """The stored report after loading the entry at ``path`` into ``clf``, if it is readable and was made from
    ``inputs``; otherwise a CacheWarning and None (the caller retrains and overwrites it)."""

    def apply(entry: dict[str, Any]) -> SequenceFitReport:
        clf.load_state_dict(entry["classifier"])
        report = SequenceFitReport.from_dict(dict(entry["report"]))
        report.from_cache = True
        return report

    return read_cache_entry(
        path, inputs, CACHE_FORMAT, apply, what="sequence classifier cache", map_location=clf.device
    )


def train_sequence_classifier(
    x_train: Any,
    y_train: Any,
    x_val: Any,
    y_val: Any,
    num_classes: int,
    config: SequenceClassifierConfig | None = None,
    cache_dir: str | Path | None = None,
    data_fingerprint: str | None = None,
) -> tuple[SequenceClassifier, SequenceFitReport]:
    """Train a causal sequence classifier once, with per-frame supervision and early stopping on
    ``(x_val, y_val)``, and cache it on disk.

    The entry is ``<cache>/sequence_classifiers/<key>.pt``, the key hashing the data fingerprint (a sha256 of
    the four arrays when ``data_fingerprint`` is None), K, the config (less device and threads) and the
    package version; the entry records those inputs too. A later call with the same inputs loads it and
    returns the stored report with ``from_cache=True``. An entry that is unreadable, or that records other
    inputs, is ignored with a :class:`~fer_select_env.core.cache.CacheWarning`, retrained and rewritten; it is
    read with ``torch.load(weights_only=True)``, never unpickled.
    """
    config = SequenceClassifierConfig() if config is None else config
    if not isinstance(config, SequenceClassifierConfig):
        raise ValueError(f"config: must be a SequenceClassifierConfig or None, got {type(config).__name__}")
    k = _check_num_classes(num_classes)
    x = check_frames(x_train, "x_train", min_frames=2)
    if len(x) == 0:
        raise ValueError("x_train: needs at least one sequence")
    y = check_sequence_labels(y_train, len(x), k, "y_train")
    xv = check_frames(x_val, "x_val", min_frames=2)
    if len(xv) == 0:
        raise ValueError("x_val: needs at least one sequence (early stopping validates on it)")
    if xv.shape[1:] != x.shape[1:]:
        raise ValueError(f"x_val: sequences of shape {xv.shape[1:]} do not match x_train's {x.shape[1:]}")
    yv = check_sequence_labels(y_val, len(xv), k, "y_val")
    if data_fingerprint is None:
        data_fingerprint = sequence_data_fingerprint(x, y, xv, yv)
    elif not isinstance(data_fingerprint, str) or not data_fingerprint:
        raise ValueError(f"data_fingerprint: must be a non-empty string or None, got {data_fingerprint!r}")
    inputs = sequence_cache_inputs(data_fingerprint, k, config)
    path = sequence_cache_path(inputs, cache_dir)
    clf = SequenceClassifier(k, x.shape[2:], config)
    if path.is_file():
        report = _load_cached(path, inputs, clf)
        if report is not None:
            return clf, report
    report = _fit(clf, x, y, xv, yv)
    write_cache_entry(path, inputs, CACHE_FORMAT, classifier=clf.state_dict(), report=report.to_dict())
    return clf, report


__all__ = [
    "SEQUENCE_KINDS",
    "SEQUENCE_MONITORS",
    "CNNAverageNet",
    "CNNLSTMNet",
    "ConvLSTMCell",
    "ConvLSTMNet",
    "FrameCNN",
    "SequenceClassifier",
    "SequenceClassifierConfig",
    "SequenceFitReport",
    "build_sequence_network",
    "check_frames",
    "check_sequence_labels",
    "sequence_cache_inputs",
    "sequence_cache_path",
    "sequence_data_fingerprint",
    "sequence_posteriors",
    "train_sequence_classifier",
]
