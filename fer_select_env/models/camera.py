"""FERSmile-v0's camera classifier: the seed's small CNN with two convolutional layers (DeepLaetitia found two
the best), trained once with early stopping on validation and cached like the other embedded models.

``Conv(width, 5×5) → ReLU → MaxPool 2 → Conv(2·width, 5×5) → ReLU → MaxPool 2 → Dense(hidden) → ReLU →
Dropout → Dense(K)``, the LeNet shape, on 48×48 grayscale faces. The referee of FERSmile-v0 is a second one,
trained on other faces with another seed and twice the width.
"""

from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from fer_select_env.core.cache import cache_key, cache_subdir, read_cache_entry, write_cache_entry
from fer_select_env.core.checks import check_known_fields
from fer_select_env.core.seeding import derive_seed, rng_scope, thread_limit
from fer_select_env.core.version import __version__
from fer_select_env.data.dataset import FERDataset
from fer_select_env.models.classifier import training_grad_mode

CACHE_FORMAT = 1
"""1: ``{"cache_format", "inputs", "classifier", "report"}``, the inputs checked on every read."""

_TRAIN_STREAM = 31


@dataclass(frozen=True)
class CameraClassifierConfig:
    """Architecture and training settings of the camera classifier.

    :param width: channels of the first convolution (the second has twice as many)
    :param hidden: units of the dense layer
    :param dropout: dropout before the output layer
    :param epochs: the most epochs to train
    :param patience: stop after this many epochs without a lower validation loss
    :param batch_size: images per minibatch
    :param lr: Adam learning rate
    :param seed: seeds the initial weights, shuffling and dropout (the global torch RNG is left as it was)
    """

    width: int = 8
    hidden: int = 64
    dropout: float = 0.3
    epochs: int = 30
    patience: int = 4
    batch_size: int = 128
    lr: float = 2e-3
    seed: int = 0

    def __post_init__(self) -> None:
        for key in ("width", "hidden", "epochs", "batch_size"):
            value = getattr(self, key)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"CameraClassifierConfig.{key} must be an integer >= 1, got {value!r}")
        for key in ("patience", "seed"):
            value = getattr(self, key)
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise ValueError(f"CameraClassifierConfig.{key} must be an integer >= 0, got {value!r}")
        if not 0.0 <= float(self.dropout) < 1.0:
            raise ValueError(f"CameraClassifierConfig.dropout must be in [0, 1), got {self.dropout!r}")
        if not (math.isfinite(float(self.lr)) and self.lr > 0):
            raise ValueError(f"CameraClassifierConfig.lr must be a finite number > 0, got {self.lr!r}")

    def to_dict(self) -> dict[str, Any]:
        """A JSON-serialisable dict of every field."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> CameraClassifierConfig:
        """Inverse of :meth:`to_dict`; unknown keys raise ``ValueError``."""
        check_known_fields(cls, data)
        return cls(**data)


class LeNet(nn.Module):
    """The two-convolution network of the module docstring."""

    def __init__(self, num_classes: int, image_size: int, config: CameraClassifierConfig) -> None:
        super().__init__()
        w = config.width
        side = ((image_size - 4) // 2 - 4) // 2
        if side < 1:
            raise ValueError(f"image_size: {image_size} is too small for two 5×5 convolutions and pools")
        self.features = nn.Sequential(
            nn.Conv2d(1, w, 5), nn.ReLU(), nn.MaxPool2d(2), nn.Conv2d(w, 2 * w, 5), nn.ReLU(), nn.MaxPool2d(2)
        )
        self.head = nn.Sequential(
            nn.Flatten(),
            nn.Linear(2 * w * side * side, config.hidden),
            nn.ReLU(),
            nn.Dropout(config.dropout),
            nn.Linear(config.hidden, num_classes),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x))


@dataclass
class CameraFitReport:
    """Summary of one training run (``from_cache=True`` when a load returned the stored one)."""

    epochs_run: int
    best_epoch: int
    val_loss: float
    val_accuracy: float
    n_train: int
    seconds: float
    from_cache: bool = False

    def to_dict(self) -> dict[str, Any]:
        """The report as a plain dict."""
        return asdict(self)


class CameraClassifier:
    """A trained :class:`LeNet` with NumPy in and out, one CPU thread (a step classifies 10 frames)."""

    def __init__(self, class_names: tuple[str, ...], image_size: int, config: CameraClassifierConfig) -> None:
        self.class_names = tuple(class_names)
        self.image_size = int(image_size)
        self.config = config
        with rng_scope(derive_seed(config.seed, _TRAIN_STREAM, 0), torch.device("cpu")):
            self.model = LeNet(len(self.class_names), self.image_size, config).eval()

    def _input(self, x: np.ndarray) -> torch.Tensor:
        arr = np.asarray(x)
        if arr.dtype != np.uint8 or arr.ndim != 3 or arr.shape[1:] != (self.image_size, self.image_size):
            raise ValueError(
                f"x: must be uint8 N×{self.image_size}×{self.image_size} grayscale frames, got {arr.dtype} {arr.shape}"
            )
        return torch.from_numpy(np.ascontiguousarray(arr)).float().div_(255.0).unsqueeze(1)

    def predict_proba(self, x: np.ndarray) -> np.ndarray:
        """Class probabilities (float64, N×K) of uint8 N×S×S frames."""
        with thread_limit(1), torch.inference_mode():
            return torch.softmax(self.model(self._input(x)), dim=1).double().numpy()

    def state_dict(self) -> dict[str, torch.Tensor]:
        """The network's weights."""
        return self.model.state_dict()


def _cache_inputs(dataset: FERDataset, config: CameraClassifierConfig) -> dict[str, Any]:
    inputs: dict[str, Any] = {
        "dataset_fingerprint": dataset.fingerprint(),
        "config": config.to_dict(),
        "version": __version__,
    }
    inputs["key"] = cache_key(inputs["dataset_fingerprint"], inputs["config"], __version__, "camera")
    return inputs


def _check_dataset(dataset: object) -> tuple[FERDataset, int]:
    if not isinstance(dataset, FERDataset):
        raise ValueError(f"dataset: must be a FERDataset, got {type(dataset).__name__}")
    shape = dataset.image_shape
    if len(shape) != 2 or shape[0] != shape[1]:
        raise ValueError(f"dataset: the camera classifier needs square grayscale images, got shape {shape}")
    return dataset, int(shape[0])


def _fit(clf: CameraClassifier, dataset: FERDataset) -> CameraFitReport:
    t0, cfg = time.perf_counter(), clf.config
    xt, yt = clf._input(dataset.x_train), torch.from_numpy(dataset.y_train.astype(np.int64))
    xv, yv = clf._input(dataset.x_val), torch.from_numpy(dataset.y_val.astype(np.int64))
    best_loss, best_acc, best_epoch, best_state, stale, epochs_run = math.inf, 0.0, 0, None, 0, 0
    with rng_scope(derive_seed(cfg.seed, _TRAIN_STREAM, 1), torch.device("cpu")) as gen, thread_limit(1):
        with training_grad_mode():
            opt = torch.optim.Adam(clf.model.parameters(), lr=cfg.lr)
            for epoch in range(1, cfg.epochs + 1):
                clf.model.train()
                perm = torch.randperm(len(xt), generator=gen)
                for start in range(0, len(xt), cfg.batch_size):
                    idx = perm[start : start + cfg.batch_size]
                    loss = F.cross_entropy(clf.model(xt[idx]), yt[idx])
                    opt.zero_grad(set_to_none=True)
                    loss.backward()
                    opt.step()
                epochs_run = epoch
                clf.model.eval()
                with torch.no_grad():
                    logits = clf.model(xv)
                    val_loss = F.cross_entropy(logits, yv).item()
                    val_acc = (logits.argmax(1) == yv).float().mean().item()
                if val_loss < best_loss:
                    best_loss, best_acc, best_epoch, stale = val_loss, val_acc, epoch, 0
                    best_state = {k: v.detach().clone() for k, v in clf.model.state_dict().items()}
                else:
                    stale += 1
                    if stale >= cfg.patience:
                        break
            if best_state is not None:
                clf.model.load_state_dict(best_state)
    clf.model.eval()
    return CameraFitReport(epochs_run, best_epoch, best_loss, best_acc, len(xt), time.perf_counter() - t0)


def train_camera_classifier(
    dataset: FERDataset, config: CameraClassifierConfig | None = None, cache_dir: str | Path | None = None
) -> tuple[CameraClassifier, CameraFitReport]:
    """Train the camera classifier on ``dataset``'s train split with early stopping on its val split, once.

    The entry is ``<cache>/camera_classifiers/<key>.pt``, the key hashing the dataset fingerprint, the config
    and the package version; a later call with the same inputs loads it (``from_cache=True``). An unreadable
    entry, or one recording other inputs, is ignored with a warning and rewritten; it is read with
    ``torch.load(weights_only=True)``, never unpickled. The test split is not touched.
    """
    config = CameraClassifierConfig() if config is None else config
    if not isinstance(config, CameraClassifierConfig):
        raise ValueError(f"config: must be a CameraClassifierConfig or None, got {type(config).__name__}")
    dataset, size = _check_dataset(dataset)
    clf = CameraClassifier(dataset.class_labels, size, config)
    inputs = _cache_inputs(dataset, config)
    path = cache_subdir(cache_dir, "camera_classifiers") / f"{inputs['key']}.pt"

    def apply(entry: dict[str, Any]) -> CameraFitReport:
        clf.model.load_state_dict(entry["classifier"])
        return CameraFitReport(**{**dict(entry["report"]), "from_cache": True})

    if path.is_file():
        report = read_cache_entry(path, inputs, CACHE_FORMAT, apply, what="camera classifier cache")
        if report is not None:
            return clf, report
    report = _fit(clf, dataset)
    write_cache_entry(path, inputs, CACHE_FORMAT, classifier=clf.state_dict(), report=report.to_dict())
    return clf, report


__all__ = [
    "CameraClassifier",
    "CameraClassifierConfig",
    "CameraFitReport",
    "LeNet",
    "train_camera_classifier",
]
