"""Training and inference for the emotion classifier (§3.2).

Two ways to train:

* ``fit``: the whole network, either from scratch or fine-tuning the current weights (the released code
  fine-tunes the pre-trained CNN on the selected images each outer epoch).
* ``fit_head``: only the two dense layers, on conv features computed once by ``conv_features``. This is the
  fast default on CPUs: the environment retrains a head per selection instead of the whole CNN.

Both minimise the cross-entropy of Eq. 5 with Adam and stop early on the *validation* split they are given,
restoring the best-validation weights. The released code stops early on the test set; we never do. Both take
an optional ``sample_weight`` per training image (a selector's keep probability, as DVRL trains its final
model): the loss of a minibatch is then :func:`weighted_cross_entropy`.

RNG discipline: the classifier lives in the same process as the RL agent, so every random operation of a
call (weight init, shuffling, dropout) is derived from the call's ``seed`` and the global torch RNG is
left exactly as it was (:func:`~fer_select_env.core.seeding.rng_scope`). The cached pre-training of
Algorithm 1 line 2 is in :mod:`fer_select_env.models.pretrain`.
"""

from __future__ import annotations

import contextlib
import copy
import math
import time
import warnings
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from typing import Any, Literal

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from fer_select_env.core.seeding import resolve_device, rng_scope, thread_limit
from fer_select_env.data.dataset import FERDataset
from fer_select_env.models.cnn import ClassifierConfig, EmotionCNN

LR_SCHEDULES: tuple[str, ...] = ("constant", "cosine")
"""Learning-rate schedules of :meth:`EmotionClassifier.fit`."""

MONITORS: tuple[str, ...] = ("val_loss", "val_accuracy")
"""What :meth:`EmotionClassifier.fit` early-stops on and keeps the best epoch by."""

STATE_FORMAT_VERSION = 1


@dataclass
class FitReport:
    """Summary of one ``fit`` / ``fit_head`` call.

    ``epochs_run == 0`` means nothing was trained (empty training set); the weights are unchanged.
    ``best_val_loss`` / ``best_val_accuracy`` are NaN when there was nothing to validate on.
    """

    epochs_run: int
    best_epoch: int
    best_val_loss: float
    best_val_accuracy: float
    n_train: int
    seconds: float
    stopped_early: bool = False

    def to_dict(self) -> dict[str, Any]:
        """The report as a plain dict."""
        return asdict(self)


def _batches(n: int, batch_size: int, perm: torch.Tensor) -> list[torch.Tensor]:
    """Minibatch index tensors; a trailing batch of 1 is merged into the previous one (BatchNorm needs 2)."""
    chunks = list(torch.split(perm, batch_size))
    if len(chunks) > 1 and len(chunks[-1]) == 1:
        chunks[-2] = torch.cat([chunks[-2], chunks[-1]])
        chunks.pop()
    return chunks


def weighted_cross_entropy(
    logits: torch.Tensor, target: torch.Tensor, weight: torch.Tensor | None = None
) -> torch.Tensor:
    """The minibatch loss: the mean cross-entropy, or with ``weight`` the weighted mean
    ``sum_i w_i * CE_i / sum_i w_i``.

    Why divide by the total weight of the batch rather than by its size (Keras's ``sample_weight``): the
    gradient then keeps the scale of an unweighted step, so the learning rate means the same with weights as
    without, and scaling every weight by a constant changes nothing. Weights only say which images of a batch
    count more. The batch's weights must sum to more than zero (``fit`` drops zero-weight images first).
    """
    if weight is None:
        return F.cross_entropy(logits, target)
    losses = F.cross_entropy(logits, target, reduction="none")
    return (weight * losses).sum() / weight.sum()


def check_sample_weight(sample_weight: Any, n: int, name: str = "sample_weight") -> np.ndarray | None:
    """Validate one non-negative finite weight per training image; float64 ``(n,)``, or ``None`` when
    ``sample_weight`` is ``None`` or all its weights are equal (the weighted loss is then the unweighted one,
    so training takes the unweighted path and is identical to it). Bad weights raise ``ValueError``."""
    if sample_weight is None:
        return None
    w = np.asarray(sample_weight)
    if w.dtype.kind not in "biuf":
        raise ValueError(f"{name}: weights must be numbers, got dtype {w.dtype}")
    w = w.astype(np.float64)
    if w.ndim != 1 or len(w) != n:
        raise ValueError(f"{name}: expected {n} weights (one per training image) in a 1-D array, got shape {w.shape}")
    if not np.isfinite(w).all():
        raise ValueError(f"{name}: weights must be finite, got {int((~np.isfinite(w)).sum())} NaN or inf")
    if n and w.min() < 0:
        raise ValueError(f"{name}: weights must be >= 0, got minimum {w.min()!r}")
    if n and not w.max() > 0:
        raise ValueError(f"{name}: every weight is 0, there is nothing to train on")
    if n == 0 or (w == w[0]).all():
        return None
    return w


def _drop_zero_weights(
    xt: torch.Tensor, yt: torch.Tensor, w: np.ndarray | None
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
    """The training tensors without the images of weight 0 (they contribute nothing to any loss), and the
    remaining weights as float32; ``None`` when those are all equal (the unweighted path, see
    :func:`check_sample_weight`)."""
    if w is None:
        return xt, yt, None
    keep = w > 0
    if not keep.all():
        mask = torch.from_numpy(keep)
        xt, yt, w = xt[mask], yt[mask], w[keep]
    if (w == w[0]).all():
        return xt, yt, None
    return xt, yt, torch.from_numpy(w.astype(np.float32))


def _as_tensor(arr: np.ndarray) -> torch.Tensor:
    """``torch.from_numpy`` without the read-only warning: the returned tensor is never written to."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="The given NumPy array is not writable")
        return torch.from_numpy(arr)


def _snapshot(module_state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in module_state.items()}


@contextlib.contextmanager
def training_grad_mode() -> Iterator[None]:
    """Gradients on and inference mode off for the block, whatever the caller's mode.

    Why: the env retrains its classifier inside ``step``, and callers step under ``torch.no_grad()`` (sb3-contrib's
    ARS, evaluation loops) or ``torch.inference_mode()``; the classifier's training must not inherit that.
    """
    with torch.inference_mode(False), torch.enable_grad():
        yield


def _better(loss: float, acc: float, best_loss: float, best_acc: float, monitor: str) -> bool:
    """Whether an epoch's validation (loss, accuracy) beats the best so far under ``monitor``."""
    if monitor == "val_accuracy":
        return math.isnan(best_acc) or acc > best_acc or (acc == best_acc and loss < best_loss)
    return loss < best_loss


@contextlib.contextmanager
def _swapped_in(state: Any, get_state: Callable[[], Any], set_state: Callable[[Any], Any]) -> Iterator[None]:
    """Load ``state`` for the duration of the block, then put the weights that were there back."""
    live = get_state()
    set_state(state)
    try:
        yield
    finally:
        set_state(live)


class EmotionClassifier:
    """The RLPS emotion classifier (§3.2): an :class:`EmotionCNN` with its training and inference.

    Images go in as uint8 numpy arrays, ``N×H×W`` or ``N×H×W×C`` (the :class:`FERDataset` layout); they
    are scaled to [0, 1] and made channel-first here, batch by batch.

    :param num_classes: K
    :param image_shape: ``(H, W)`` or ``(H, W, C)``, as ``FERDataset.image_shape``
    :param config: architecture and training settings
    :param device: ``"cpu"``, ``"cuda"``, ``"cuda:N"`` or ``"auto"``
    :param seed: seeds the initial weights; the global torch RNG is left untouched
    :param num_threads: CPU threads for convolutional work (``fit``, ``conv_features``, ...); ``None``
        keeps PyTorch's setting. Set 1 when several classifiers share the cores (e.g. vectorised envs).
    :param head_threads: CPU threads for the dense-head calls (``fit_head``, ``head_proba``, ...). Their
        matrices are small: on 2 cores one thread was 1.3× slower than two when idle (36 vs 27 ms per
        epoch on 3,500 features) but ~50× faster when another process kept a core busy (measured), and
        a 10-epoch head stays under 0.4 s either way. ``None`` falls back to ``num_threads``.
    """

    def __init__(
        self,
        num_classes: int,
        image_shape: tuple[int, ...],
        config: ClassifierConfig | None = None,
        *,
        device: str | torch.device = "cpu",
        seed: int = 0,
        num_threads: int | None = None,
        head_threads: int | None = 1,
    ) -> None:
        image_shape = tuple(int(s) for s in image_shape)
        if len(image_shape) not in (2, 3):
            raise ValueError(f"image_shape must be (H, W) or (H, W, C), got {image_shape}")
        self.config = config or ClassifierConfig()
        self.num_classes = int(num_classes)
        self.image_shape = image_shape
        self.in_channels = 1 if len(image_shape) == 2 else image_shape[2]
        self.device = resolve_device(device)
        self.num_threads = num_threads
        self.head_threads = head_threads
        # Outside inference mode: parameters made inside it would be inference tensors, untrainable later.
        with rng_scope(seed, self.device), training_grad_mode():
            model = EmotionCNN(self.in_channels, self.num_classes, image_shape[:2], self.config)
            # channels_last: oneDNN convolutions and max-pooling are ~1.5× faster on CPU in NHWC (measured).
            self.model = model.to(self.device, memory_format=torch.channels_last).eval()

    @classmethod
    def for_dataset(
        cls,
        dataset: FERDataset,
        config: ClassifierConfig | None = None,
        *,
        device: str | torch.device = "cpu",
        seed: int = 0,
        **kwargs: Any,
    ) -> EmotionClassifier:
        """A fresh classifier shaped for ``dataset`` (its K, image shape and channels); ``kwargs`` as the
        constructor's (``num_threads``, ``head_threads``)."""
        return cls(dataset.num_classes, dataset.image_shape, config, device=device, seed=seed, **kwargs)

    def _threads(self, head: bool = False) -> contextlib.AbstractContextManager[None]:
        if self.device.type != "cpu":
            return contextlib.nullcontext()
        n = self.head_threads if head and self.head_threads is not None else self.num_threads
        return thread_limit(n)

    # ------------------------------------------------------------------ properties
    @property
    def trunk_dim(self) -> int:
        """Length of :meth:`conv_features` rows."""
        return self.model.trunk_dim

    @property
    def feature_dim(self) -> int:
        """Length of :meth:`features` rows (the RL state feature)."""
        return self.model.feature_dim

    # ------------------------------------------------------------------ input handling
    def _check_images(self, x: np.ndarray, name: str = "x") -> torch.Tensor:
        """Validate uint8 images and return them as a channel-first uint8 tensor (CPU, no scaling yet)."""
        x = np.asarray(x)
        if x.dtype != np.uint8:
            raise ValueError(f"{name}: images must be uint8, got dtype {x.dtype}")
        if x.shape[1:] != self.image_shape:
            if not (x.ndim == 4 and x.shape[3] == 1 and x.shape[1:3] == self.image_shape):
                raise ValueError(f"{name}: expected images of shape (N, *{self.image_shape}), got {x.shape}")
        t = _as_tensor(np.ascontiguousarray(x))
        if t.ndim == 3:
            return t.unsqueeze(1)
        return t.permute(0, 3, 1, 2)

    def _to_float(self, xb: torch.Tensor) -> torch.Tensor:
        xb = xb.to(self.device, non_blocking=True).float().div_(255.0)
        return xb.contiguous(memory_format=torch.channels_last)

    def _check_labels(self, y: np.ndarray, n: int, name: str = "y") -> torch.Tensor:
        y = np.asarray(y)
        if y.ndim != 1 or len(y) != n:
            raise ValueError(f"{name}: expected {n} labels in a 1-D array, got shape {y.shape}")
        if n and not np.issubdtype(y.dtype, np.integer):
            raise ValueError(f"{name}: labels must be integers, got dtype {y.dtype}")
        y = y.astype(np.int64)
        if n and (y.min() < 0 or y.max() >= self.num_classes):
            raise ValueError(f"{name}: labels must be in [0, {self.num_classes}), got [{y.min()}, {y.max()}]")
        return torch.from_numpy(y)

    def _check_features(self, z: np.ndarray, name: str = "z") -> torch.Tensor:
        z = np.asarray(z)
        if z.ndim != 2 or z.shape[1] != self.trunk_dim:
            raise ValueError(f"{name}: expected conv features of shape (N, {self.trunk_dim}), got {z.shape}")
        return _as_tensor(np.ascontiguousarray(z, dtype=np.float32))

    # ------------------------------------------------------------------ inference (eval mode, no_grad)
    def _map_batches(self, data: torch.Tensor, fn: Callable[[torch.Tensor], torch.Tensor]) -> torch.Tensor:
        """Apply ``fn`` batch by batch in eval mode without gradients; concatenated on the CPU."""
        self.model.eval()
        outs = []
        with torch.no_grad():
            for start in range(0, len(data), self.config.eval_batch_size):
                outs.append(fn(data[start : start + self.config.eval_batch_size]).float().cpu())
        return torch.cat(outs) if outs else torch.empty(0)

    def conv_features(self, x: np.ndarray) -> np.ndarray:
        """Flattened conv-trunk features, float32 ``(N, trunk_dim)`` (input of :meth:`fit_head`)."""
        t = self._check_images(x)
        with self._threads():
            out = self._map_batches(t, lambda xb: self.model.trunk(self._to_float(xb)))
        return out.reshape(len(t), self.trunk_dim).numpy()

    def features(self, x: np.ndarray) -> np.ndarray:
        """The RL state feature (§4): post-ReLU first dense layer, float32 ``(N, feature_dim)``."""
        t = self._check_images(x)
        with self._threads():
            out = self._map_batches(t, lambda xb: self.model.head_features(self.model.trunk(self._to_float(xb))))
        return out.reshape(len(t), self.feature_dim).numpy()

    def predict_proba(self, x: np.ndarray) -> np.ndarray:
        """Softmax class probabilities ``P(e | x)``, float32 ``(N, K)``; rows sum to 1."""
        t = self._check_images(x)
        with self._threads():
            out = self._map_batches(t, lambda xb: torch.softmax(self.model(self._to_float(xb)), dim=1))
        return out.reshape(len(t), self.num_classes).numpy()

    def predict(self, x: np.ndarray) -> np.ndarray:
        """Most probable class per image, int64 ``(N,)``."""
        return self.predict_proba(x).argmax(axis=1).astype(np.int64)

    def head_features(self, z: np.ndarray) -> np.ndarray:
        """State features ``(N, feature_dim)`` from cached conv features ``z``."""
        t = self._check_features(z)
        with self._threads(head=True):
            out = self._map_batches(t, lambda zb: self.model.head_features(zb.to(self.device)))
        return out.reshape(len(t), self.feature_dim).numpy()

    def head_proba(self, z: np.ndarray) -> np.ndarray:
        """Class probabilities ``(N, K)`` from cached conv features ``z``."""
        t = self._check_features(z)
        with self._threads(head=True):
            out = self._map_batches(t, lambda zb: torch.softmax(self.model.head_logits(zb.to(self.device)), 1))
        return out.reshape(len(t), self.num_classes).numpy()

    # ------------------------------------------------------------------ training
    def fit(
        self,
        x: np.ndarray,
        y: np.ndarray,
        x_val: np.ndarray,
        y_val: np.ndarray,
        *,
        seed: int,
        strategy: Literal["scratch", "finetune"] = "scratch",
        max_epochs: int | None = None,
        progress: bool = False,
        lr_schedule: Literal["constant", "cosine"] = "constant",
        ema_epochs: float | None = None,
        monitor: Literal["val_loss", "val_accuracy"] = "val_loss",
        sample_weight: np.ndarray | None = None,
    ) -> FitReport:
        """Train the whole network with Adam on the cross-entropy of Eq. 5, early-stopping on ``(x_val, y_val)``.

        ``strategy="scratch"`` re-initialises every weight first (Algorithm 1 line 2 pre-training);
        ``"finetune"`` continues from the current weights (Algorithm 1 line 13 as released). The weights
        of the epoch with the lowest validation loss are restored at the end. With no training samples
        nothing changes and ``epochs_run == 0``. ``lr_schedule="cosine"`` decays the learning rate from
        ``config.lr`` to zero over ``max_epochs`` (half a cosine, stepped per epoch): the last epochs then
        average out the minibatch noise, so two seeds end closer together (the benchmark's final training).
        ``ema_epochs`` validates, keeps and returns an exponential moving average of the weights (and the
        BatchNorm statistics) instead of the last ones, its horizon that many epochs of steps: an average over
        the minibatch noise, so two seeds end closer together (Polyak averaging; the benchmark's option).
        ``monitor`` is what early stopping and the kept epoch go by: the validation loss (Keras's default, the
        released code's), or the validation accuracy with the loss breaking ties. On a few hundred noisy labels
        the loss of a network that learned something can stay above that of the near-uniform first epoch
        (ln K) because it is over-confident, and the loss would keep a chance-level classifier.
        ``sample_weight`` (one non-negative finite number per training image, not all 0) weights each image's
        cross-entropy in its minibatch (:func:`weighted_cross_entropy`); images of weight 0 are dropped before
        training (``n_train`` counts the others), and ``None`` or equal weights train exactly as unweighted.
        Validation stays unweighted.
        """
        if monitor not in MONITORS:
            raise ValueError(f"monitor must be one of {MONITORS}, got {monitor!r}")
        if ema_epochs is not None and not ema_epochs > 0:
            raise ValueError(f"ema_epochs must be a positive number or None, got {ema_epochs!r}")
        if lr_schedule not in LR_SCHEDULES:
            raise ValueError(f"lr_schedule must be one of {LR_SCHEDULES}, got {lr_schedule!r}")
        if strategy not in ("scratch", "finetune"):
            raise ValueError(f"strategy must be 'scratch' or 'finetune', got {strategy!r}")
        xt = self._check_images(x, "x")
        yt = self._check_labels(y, len(xt), "y")
        xt, yt, wt = _drop_zero_weights(xt, yt, check_sample_weight(sample_weight, len(xt)))
        xv = self._check_images(x_val, "x_val")
        yv = self._check_labels(y_val, len(xv), "y_val")
        cfg = self.config
        with rng_scope(seed, self.device) as gen, self._threads(), training_grad_mode():
            if len(xt) > 0 and strategy == "scratch":
                self.model.reset_parameters()
            return self._train(
                params=list(self.model.parameters()),
                forward=lambda xb: self.model(self._to_float(xb)),
                xt=xt,
                yt=yt,
                xv=xv,
                yv=yv,
                gen=gen,
                wt=wt,
                lr=cfg.lr,
                batch_size=cfg.batch_size,
                max_epochs=cfg.max_epochs if max_epochs is None else max_epochs,
                patience=cfg.patience,
                # Training from scratch starts on a plateau (val loss ~ln K for a few epochs on the synthetic
                # benchmark); early stopping must not end the run there.
                min_epochs=cfg.min_epochs if strategy == "scratch" else 0,
                get_state=lambda: _snapshot(self.model.state_dict()),
                set_state=self.model.load_state_dict,
                progress=progress,
                desc="fit",
                lr_schedule=lr_schedule,
                ema_epochs=ema_epochs,
                monitor=monitor,
            )

    def fit_head(
        self,
        z: np.ndarray,
        y: np.ndarray,
        z_val: np.ndarray,
        y_val: np.ndarray,
        *,
        seed: int,
        init: Literal["random", "current"] = "random",
        max_epochs: int | None = None,
        progress: bool = False,
        sample_weight: np.ndarray | None = None,
    ) -> FitReport:
        """Train only the dense head (dense1 + dense2) on cached conv features, early-stopping on ``z_val``.

        The conv trunk is frozen, so this is the CPU-friendly stand-in for Algorithm 1 line 13. ``init``
        chooses a fresh head (``"random"``, seeded) or continuing from the current one (``"current"``).
        Dropout is applied as configured. With no training samples nothing changes. ``sample_weight`` as in
        :meth:`fit`.
        """
        if init not in ("random", "current"):
            raise ValueError(f"init must be 'random' or 'current', got {init!r}")
        zt = self._check_features(z, "z")
        yt = self._check_labels(y, len(zt), "y")
        zt, yt, wt = _drop_zero_weights(zt, yt, check_sample_weight(sample_weight, len(zt)))
        zv = self._check_features(z_val, "z_val")
        yv = self._check_labels(y_val, len(zv), "y_val")
        cfg = self.config
        head = [self.model.dense1, self.model.dense2]
        with rng_scope(seed, self.device) as gen, self._threads(head=True), training_grad_mode():
            if len(zt) > 0 and init == "random":
                self.model.reset_head()
            return self._train(
                params=[p for m in head for p in m.parameters()],
                forward=lambda zb: self.model.head_logits(zb.to(self.device, non_blocking=True)),
                xt=zt,
                yt=yt,
                xv=zv,
                yv=yv,
                gen=gen,
                wt=wt,
                lr=cfg.head_lr,
                batch_size=cfg.head_batch_size,
                max_epochs=cfg.head_max_epochs if max_epochs is None else max_epochs,
                patience=cfg.head_patience,
                get_state=self.get_head_state,
                set_state=self.set_head_state,
                progress=progress,
                desc="fit_head",
            )

    def _evaluate(
        self, forward: Callable[[torch.Tensor], torch.Tensor], xv: torch.Tensor, yv: torch.Tensor
    ) -> tuple[float, float]:
        """Mean cross-entropy and accuracy on a validation split (eval mode, no_grad)."""
        logits = self._map_batches(xv, forward)
        loss = F.cross_entropy(logits, yv, reduction="mean").item()
        acc = (logits.argmax(1) == yv).float().mean().item()
        return loss, acc

    def _train_epoch(
        self,
        forward: Callable[[torch.Tensor], torch.Tensor],
        opt: torch.optim.Optimizer,
        xt: torch.Tensor,
        yt: torch.Tensor,
        gen: torch.Generator,
        batch_size: int,
        after_step: Callable[[], None] | None = None,
        wt: torch.Tensor | None = None,
    ) -> None:
        """One pass over shuffled minibatches minimising the cross-entropy of Eq. 5, weighted by ``wt`` (one
        positive weight per training sample, on the device) when given (:func:`weighted_cross_entropy`)."""
        n = len(xt)
        self.model.train()
        if n == 1:
            # A lone sample cannot be batch-normalised (1 value per channel on tiny inputs): use the
            # running statistics for it instead.
            for m in self.model.modules():
                if isinstance(m, nn.modules.batchnorm._BatchNorm):
                    m.eval()
        perm = torch.randperm(n, generator=gen).to(self.device)
        for idx in _batches(n, batch_size, perm):
            loss = weighted_cross_entropy(forward(xt[idx]), yt[idx], None if wt is None else wt[idx])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            if after_step is not None:
                after_step()

    def _weight_average(
        self, ema_epochs: float, steps_per_epoch: int
    ) -> tuple[torch.optim.swa_utils.AveragedModel, Callable[[], None]]:
        """An exponential moving average of the whole network (weights and BatchNorm statistics) with a horizon
        of ``ema_epochs`` epochs, and the per-step update that feeds it."""
        from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn

        decay = math.exp(-1.0 / (ema_epochs * steps_per_epoch))
        averaged = AveragedModel(self.model, multi_avg_fn=get_ema_multi_avg_fn(decay), use_buffers=True)
        return averaged, lambda: averaged.update_parameters(self.model)

    def _train(
        self,
        *,
        params: list[nn.Parameter],
        forward: Callable[[torch.Tensor], torch.Tensor],
        xt: torch.Tensor,
        yt: torch.Tensor,
        xv: torch.Tensor,
        yv: torch.Tensor,
        gen: torch.Generator,
        lr: float,
        batch_size: int,
        max_epochs: int,
        patience: int,
        get_state: Callable[[], Any],
        set_state: Callable[[Any], Any],
        progress: bool,
        desc: str,
        min_epochs: int = 0,
        lr_schedule: str = "constant",
        ema_epochs: float | None = None,
        monitor: str = "val_loss",
        wt: torch.Tensor | None = None,
    ) -> FitReport:
        """Shared loop: shuffled minibatches, Adam, early stopping on validation loss, best weights restored.
        ``wt``: positive per-sample loss weights (``None``: unweighted), see :func:`weighted_cross_entropy`."""
        t0 = time.perf_counter()
        n = len(xt)
        nan = float("nan")
        if n == 0:
            return FitReport(0, 0, nan, nan, 0, time.perf_counter() - t0)
        if max_epochs < 1:
            raise ValueError(f"max_epochs must be >= 1, got {max_epochs}")
        has_val = len(xv) > 0
        # fused: one kernel for all parameters; ~3× cheaper per step than the default on CPU (measured),
        # which matters for the many small steps of fit_head.
        opt = torch.optim.Adam(params, lr=lr, weight_decay=self.config.weight_decay, fused=True)
        # The training data stays uint8 (images) on its device and is scaled per batch, so large sets fit.
        xt_dev = xt.to(self.device)
        yt_dev = yt.to(self.device)
        wt_dev = None if wt is None else wt.to(self.device)
        xv_dev = xv.to(self.device)
        best_loss, best_acc, best_epoch, best_state = math.inf, nan, 0, None
        epochs_run, stale, stopped_early = 0, 0, False
        averaged, after_step = None, None
        if ema_epochs is not None:
            averaged, after_step = self._weight_average(ema_epochs, math.ceil(n / batch_size))
        bar = None
        if progress:
            from tqdm.auto import tqdm

            bar = tqdm(total=max_epochs, desc=desc, leave=False, unit="epoch")
        try:
            for epoch in range(1, max_epochs + 1):
                if lr_schedule == "cosine":
                    for group in opt.param_groups:
                        group["lr"] = lr * 0.5 * (1.0 + math.cos(math.pi * (epoch - 1) / max_epochs))
                self._train_epoch(forward, opt, xt_dev, yt_dev, gen, batch_size, after_step, wt_dev)
                epochs_run = epoch
                # With weight averaging the average is validated and kept; training goes on from the live weights.
                candidate = (
                    contextlib.nullcontext()
                    if averaged is None
                    else _swapped_in(averaged.module.state_dict(), get_state, set_state)
                )
                with candidate:
                    val_loss, val_acc = self._evaluate(forward, xv_dev, yv) if has_val else (nan, nan)
                    # Without validation there is nothing to select by: the average (if any) of the last epoch.
                    improved = (
                        _better(val_loss, val_acc, best_loss, best_acc, monitor) if has_val else averaged is not None
                    )
                    if improved:
                        best_loss, best_acc, best_epoch, stale = val_loss, val_acc, epoch, 0
                        best_state = get_state()
                if bar is not None:
                    bar.set_postfix(val_loss=f"{val_loss:.4f}", val_acc=f"{val_acc:.3f}")
                    bar.update(1)
                if has_val and not improved:
                    # Keras semantics (the released code): stop after `patience` epochs without improvement.
                    stale += 1
                    if stale >= patience and epoch >= min_epochs:
                        stopped_early = True
                        break
        finally:
            if bar is not None:
                bar.close()
            self.model.eval()
        if best_state is not None:
            set_state(best_state)
        if not has_val:
            best_epoch, best_loss = epochs_run, nan
        return FitReport(
            epochs_run=epochs_run,
            best_epoch=best_epoch,
            best_val_loss=float(best_loss),
            best_val_accuracy=float(best_acc),
            n_train=n,
            seconds=time.perf_counter() - t0,
            stopped_early=stopped_early,
        )

    # ------------------------------------------------------------------ state
    def get_head_state(self) -> dict[str, torch.Tensor]:
        """A deep copy of the dense head's weights (cheap: two matrices and two vectors)."""
        return {
            f"{name}.{k}": v.detach().clone()
            for name in ("dense1", "dense2")
            for k, v in getattr(self.model, name).state_dict().items()
        }

    def set_head_state(self, state: dict[str, torch.Tensor]) -> None:
        """Restore head weights saved by :meth:`get_head_state` (copied in; ``state`` stays usable)."""
        for name in ("dense1", "dense2"):
            prefix = f"{name}."
            sub = {k[len(prefix) :]: v for k, v in state.items() if k.startswith(prefix)}
            getattr(self.model, name).load_state_dict(sub)

    def state_dict(self) -> dict[str, Any]:
        """Everything needed to rebuild this classifier exactly: weights (incl. BatchNorm stats) and shape.

        Optimiser state is not kept: every ``fit`` starts a fresh Adam.
        """
        return {
            "format_version": STATE_FORMAT_VERSION,
            "config": self.config.to_dict(),
            "num_classes": self.num_classes,
            "image_shape": list(self.image_shape),
            "model": _snapshot(self.model.state_dict()),
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Load a :meth:`state_dict`; raises ``ValueError`` if it belongs to a differently shaped classifier."""
        if state.get("format_version") != STATE_FORMAT_VERSION:
            raise ValueError(f"unsupported classifier state format {state.get('format_version')!r}")
        if ClassifierConfig.from_dict(dict(state["config"])) != self.config:
            raise ValueError("classifier state was saved with a different ClassifierConfig")
        if int(state["num_classes"]) != self.num_classes or tuple(state["image_shape"]) != self.image_shape:
            raise ValueError(
                f"classifier state is for {state['num_classes']} classes and images {state['image_shape']}, "
                f"not {self.num_classes} and {self.image_shape}"
            )
        self.model.load_state_dict(state["model"])
        self.model.eval()

    @classmethod
    def from_state_dict(
        cls, state: dict[str, Any], *, device: str | torch.device = "cpu", **kwargs: Any
    ) -> EmotionClassifier:
        """Rebuild a classifier saved with :meth:`state_dict` (its config and shapes are in the state).

        ``kwargs`` (``num_threads``, ``head_threads``) go to the constructor.
        """
        config = ClassifierConfig.from_dict(dict(state["config"]))
        clf = cls(int(state["num_classes"]), tuple(state["image_shape"]), config, device=device, **kwargs)
        clf.load_state_dict(state)
        return clf

    def clone(self) -> EmotionClassifier:
        """An independent deep copy (same weights, config and device), trainable whatever the caller's mode."""
        with training_grad_mode():
            return copy.deepcopy(self)

    def __repr__(self) -> str:
        return (
            f"EmotionClassifier(num_classes={self.num_classes}, image_shape={self.image_shape}, "
            f"width={self.config.width}, device={self.device})"
        )
