"""The emotion classifier of RLPS (§3.2, Fig. 3): six 3×3 convolutions, four 2×2 max-pools, two dense layers.

The released Keras model (``lhd777/RLPS``, ``model.py``) is
``Conv64 → Pool → Conv96 → Pool → Conv128 → Conv128 → Pool → Conv256 → Conv256 → Flatten → Dropout(0.6)
→ Dense128 ReLU → Dropout(0.6) → Dense7``. It has only three pools, while the paper's text and Fig. 3 say
four; we follow the paper and add the fourth pool after the last convolution (it also shrinks the first
dense layer, which holds most of the parameters). The post-ReLU output of the first dense layer is the
128-d state feature of the RL selector (§4, "Image Selector").

The network is split into a convolutional *trunk* (``trunk``) and a dense *head* (``head_features`` /
``head_logits``) so that the environment can cache trunk features once and retrain only the head, which is
what keeps a CPU episode within budget.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass, replace
from typing import Any

import torch
from torch import nn

from fer_select_env.core.checks import check_known_fields

CHANNEL_MULTIPLIERS: tuple[float, ...] = (1.0, 1.5, 2.0, 2.0, 4.0, 4.0)
"""Channels of the six conv layers relative to ``width``: 64 gives the paper's 64/96/128/128/256/256."""

VGG_PLAN: tuple[tuple[int, float], ...] = ((2, 1.0), (2, 2.0), (4, 4.0), (4, 8.0), (4, 8.0))
"""The Fig. 4 network's conv stages as ``(convolutions, channels relative to width)``, each stage closed by a
2×2 max-pool: VGG19 with BatchNorm, as in the FER2013 code the paper cites (width 64 gives
64-64 / 128-128 / 256×4 / 512×4 / 512×4)."""

ARCHITECTURES: tuple[str, ...] = ("fig3", "vgg")

PAPER_WIDTH = 64


@dataclass(frozen=True)
class ClassifierConfig:
    """Architecture and training hyper-parameters of the emotion classifier.

    The defaults were chosen by measurement on a 2-core CPU (``benchmarks/bench_classifier.py``, 48×48
    grayscale, 5,000 train + 1,000 val images): width 16 trains an epoch in ~4 s on one thread (width 32:
    ~14 s, the paper's 64: ~46 s), so 15 epochs stay near a minute in the worst case (no early stop); a head
    fit on 3,500 cached conv features takes ~0.35 s and matched the full network's validation accuracy on
    real FER2013 (0.44 vs 0.44). The paper's network is ``ClassifierConfig.paper()``.

    :param architecture: ``"fig3"`` (default), the paper's Fig. 3 network for RAF-DB and ExpW; or ``"vgg"``,
        the VGG19-style Fig. 4 network the paper used for FER2013 (:data:`VGG_PLAN`; see
        :meth:`ClassifierConfig.vgg`). Both end in the same two dense layers, so the RL state is the first
        dense layer's output either way
    :param width: channels of the first conv layer; the six Fig. 3 layers use ``width × (1, 1.5, 2, 2, 4, 4)``
    :param feature_dim: units of the first dense layer, whose post-ReLU output is the RL state (128 in §4)
    :param dropout: dropout before each dense layer (0.6 in the released code)
    :param batch_norm: BatchNorm after each convolution. Not in the paper, but on by default: without it the
        narrow default network stayed at chance (loss ln 7) for 15 epochs on the synthetic benchmark, with it
        it reached 70% clean test accuracy (measured); it costs ~25 % more time per epoch
    :param lr: Adam learning rate for full-network training (``fit``)
    :param batch_size: minibatch size for ``fit``
    :param max_epochs: epoch cap for ``fit``
    :param min_epochs: ``fit(strategy="scratch")`` never stops early before this epoch: from a fresh
        initialisation the validation loss sits near ln K for a few epochs before it falls (measured on the
        synthetic benchmark), and early stopping must not end the run on that plateau
    :param patience: ``fit`` stops after this many epochs without a lower validation loss (Keras semantics)
    :param weight_decay: Adam L2 penalty (both ``fit`` and ``fit_head``)
    :param head_lr: Adam learning rate for ``fit_head`` (dense layers only, on cached trunk features)
    :param head_batch_size: minibatch size for ``fit_head``
    :param head_max_epochs: epoch cap for ``fit_head``
    :param head_patience: patience for ``fit_head``
    :param eval_batch_size: batch size for inference (features, probabilities, validation loss)
    """

    width: int = 16
    feature_dim: int = 128
    architecture: str = "fig3"
    dropout: float = 0.5
    batch_norm: bool = True
    lr: float = 1e-3
    batch_size: int = 64
    max_epochs: int = 20
    patience: int = 4
    min_epochs: int = 8
    weight_decay: float = 0.0
    head_lr: float = 3e-3
    head_batch_size: int = 256
    head_max_epochs: int = 10
    head_patience: int = 2
    eval_batch_size: int = 512

    def __post_init__(self) -> None:
        positive = (
            "width",
            "feature_dim",
            "batch_size",
            "max_epochs",
            "head_batch_size",
            "head_max_epochs",
            "eval_batch_size",
        )
        for name in positive:
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"ClassifierConfig.{name} must be an integer >= 1, got {value!r}")
        for name in ("patience", "head_patience", "min_epochs"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise ValueError(f"ClassifierConfig.{name} must be an integer >= 0, got {value!r}")
        if self.architecture not in ARCHITECTURES:
            raise ValueError(f"ClassifierConfig.architecture must be one of {ARCHITECTURES}, got {self.architecture!r}")
        if not 0.0 <= float(self.dropout) < 1.0:
            raise ValueError(f"ClassifierConfig.dropout must be in [0, 1), got {self.dropout!r}")
        for name in ("lr", "head_lr"):
            if not float(getattr(self, name)) > 0.0:
                raise ValueError(f"ClassifierConfig.{name} must be > 0, got {getattr(self, name)!r}")
        if not float(self.weight_decay) >= 0.0:
            raise ValueError(f"ClassifierConfig.weight_decay must be >= 0, got {self.weight_decay!r}")

    @classmethod
    def paper(cls, **overrides: Any) -> ClassifierConfig:
        """The paper's Fig. 3 network (64/96/128/128/256/256 channels, dropout 0.6, no BatchNorm).

        Training settings follow what is published: batch 128 (§4), Adam 1e-4 with at most 100 epochs and
        patience 5 (the released fine-tuning code). This is slow on a CPU; ``overrides`` replace any field.
        """
        base = cls(
            width=PAPER_WIDTH,
            dropout=0.6,
            batch_norm=False,
            lr=1e-4,
            batch_size=128,
            max_epochs=100,
            patience=5,
        )
        return replace(base, **overrides)

    @classmethod
    def vgg(cls, **overrides: Any) -> ClassifierConfig:
        """The paper's Fig. 4 network for FER2013: VGG19 with BatchNorm (16 convolutions in five stages of
        64 → 512 channels at width 64, five max-pools), then the two dense layers of Fig. 3.

        The cited code (``WuJie1010/Facial-Expression-Recognition.Pytorch``) ends in a single 512→7 linear
        layer; the 128-unit first dense layer is kept here because its output is the RL state (§4). Training
        follows that code's scale: dropout 0.5, batch 128, at most 100 epochs. Meant for a GPU (about 20 M
        parameters at width 64); ``overrides`` replace any field (``width=16`` for a CPU-sized run).
        """
        base = cls(
            architecture="vgg",
            width=PAPER_WIDTH,
            dropout=0.5,
            batch_norm=True,
            batch_size=128,
            max_epochs=100,
            patience=8,
        )
        return replace(base, **overrides)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-serialisable dict of every field (used in cache keys)."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ClassifierConfig:
        """Inverse of :meth:`to_dict`; unknown keys raise ``ValueError``."""
        check_known_fields(cls, data)
        return cls(**data)

    @property
    def channels(self) -> tuple[int, ...]:
        """Output channels of every conv layer, in order (six for Fig. 3, sixteen for ``"vgg"``)."""
        if self.architecture == "vgg":
            return vgg_channels(self.width)
        return conv_channels(self.width)


def conv_channels(width: int) -> tuple[int, ...]:
    """Channel plan ``width × (1, 1.5, 2, 2, 4, 4)``, rounded half up (width 64 → 64/96/128/128/256/256)."""
    return tuple(max(1, math.floor(width * m + 0.5)) for m in CHANNEL_MULTIPLIERS)


class FastDropout(nn.Dropout):
    """``nn.Dropout`` with a cheaper mask on the CPU (same expectation, p resolved to 1/65536).

    PyTorch's CPU ``bernoulli_`` costs more than the dense layers it regularises in ``fit_head`` (measured
    ~60 % of a head fit); drawing 16-bit integers from the same (seeded, forked) global generator is ~4×
    cheaper. Other devices use the stock kernel.
    """

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or self.p == 0.0:
            return x
        if x.device.type != "cpu":
            return super().forward(x)
        drop = round(self.p * 65536)
        n = x.numel()
        # Full-range int64 draws have uniform bytes; viewing them as int16 gives 4 draws per word.
        words = torch.randint(-(2**63), 2**63 - 1, ((n + 3) // 4,), dtype=torch.int64)
        # clone(): comparisons on the int16 view of int64 storage hit a slow TensorIterator path.
        r = words.view(torch.int16)[:n].clone().view(x.shape)
        # A float mask multiply back-propagates faster than torch.where (measured).
        mask = (r >= (drop - 32768)).to(x.dtype).mul_(65536.0 / (65536 - drop))
        return x * mask


def vgg_channels(width: int) -> tuple[int, ...]:
    """Channels of the sixteen Fig. 4 convolutions (:data:`VGG_PLAN`; width 64 → VGG19's 64 … 512)."""
    return tuple(max(1, math.floor(width * m + 0.5)) for n, m in VGG_PLAN for _ in range(n))


def _pooled(size: int, times: int = 4) -> int:
    # 2×2 max-pool with ceil_mode=True: ceil(size / 2), so any size >= 1 survives any number of pools.
    for _ in range(times):
        size = (size + 1) // 2
    return size


class EmotionCNN(nn.Module):
    """The paper's Fig. 3 CNN (§3.2.1) as a trunk (six convs, four pools) and a head (two dense layers), or
    with ``config.architecture == "vgg"`` the Fig. 4 VGG19-style trunk (sixteen convs, five pools) under the
    same head.

    :param in_channels: 1 for grayscale, 3 for RGB
    :param num_classes: K, the number of emotions (7 in the paper)
    :param image_hw: ``(H, W)`` of the input images
    :param config: a :class:`ClassifierConfig` (width, feature_dim, dropout, batch_norm are used)
    """

    def __init__(
        self,
        in_channels: int,
        num_classes: int,
        image_hw: tuple[int, int],
        config: ClassifierConfig | None = None,
    ) -> None:
        super().__init__()
        config = config or ClassifierConfig()
        if in_channels < 1 or num_classes < 1:
            raise ValueError(f"in_channels and num_classes must be >= 1, got {in_channels}, {num_classes}")
        h, w = (int(s) for s in image_hw)
        if h < 1 or w < 1:
            raise ValueError(f"image_hw must be positive, got {image_hw}")
        self.in_channels = int(in_channels)
        self.num_classes = int(num_classes)
        self.image_hw = (h, w)
        self.config = config
        c = config.channels

        def conv(cin: int, cout: int) -> list[nn.Module]:
            layers: list[nn.Module] = [nn.Conv2d(cin, cout, 3, padding=1, bias=not config.batch_norm)]
            if config.batch_norm:
                layers.append(nn.BatchNorm2d(cout))
            layers.append(nn.ReLU(inplace=True))
            return layers

        def pool() -> nn.Module:
            return nn.MaxPool2d(2, ceil_mode=True)

        if config.architecture == "vgg":
            layers: list[nn.Module] = []
            cin, i = self.in_channels, 0
            for n_convs, _ in VGG_PLAN:
                for _ in range(n_convs):
                    layers += conv(cin, c[i])
                    cin, i = c[i], i + 1
                layers.append(pool())
            self.convs = nn.Sequential(*layers)
            n_pools = len(VGG_PLAN)
        else:
            self.convs = nn.Sequential(
                *conv(self.in_channels, c[0]),
                pool(),
                *conv(c[0], c[1]),
                pool(),
                *conv(c[1], c[2]),
                *conv(c[2], c[3]),
                pool(),
                *conv(c[3], c[4]),
                *conv(c[4], c[5]),
                pool(),
            )
            n_pools = 4
        self._trunk_dim = c[-1] * _pooled(h, n_pools) * _pooled(w, n_pools)
        self.dropout1 = FastDropout(config.dropout)
        self.dense1 = nn.Linear(self._trunk_dim, config.feature_dim)
        self.dropout2 = FastDropout(config.dropout)
        self.dense2 = nn.Linear(config.feature_dim, self.num_classes)
        self.reset_parameters()

    @property
    def trunk_dim(self) -> int:
        """Length of the flattened conv features (Fig. 3: ``c6 × ⌈H/16⌉ × ⌈W/16⌉``; vgg: ``c16 × ⌈H/32⌉ × ⌈W/32⌉``)."""
        return self._trunk_dim

    @property
    def feature_dim(self) -> int:
        """Length of the state feature (units of the first dense layer)."""
        return self.dense1.out_features

    def reset_parameters(self) -> None:
        """Re-initialise every layer from the global torch RNG (callers fork and seed it).

        PyTorch's default initialisation (uniform, fan-in scaled, close to the Keras default of the released
        code). He initialisation was tried and measured worse: with BatchNorm and 30% label noise the
        default network stayed at chance for 6 epochs, while the default init reached 66% validation
        accuracy in that time (synthetic benchmark).
        """
        for module in self.convs:
            if isinstance(module, (nn.Conv2d, nn.BatchNorm2d)):
                module.reset_parameters()
        self.reset_head()

    def reset_head(self) -> None:
        """Re-initialise the two dense layers (global torch RNG; callers fork and seed it)."""
        self.dense1.reset_parameters()
        self.dense2.reset_parameters()

    def trunk(self, x: torch.Tensor) -> torch.Tensor:
        """Flattened conv features ``(B, trunk_dim)`` of float images ``(B, C, H, W)`` in [0, 1]."""
        return torch.flatten(self.convs(x), 1)

    def head_features(self, z: torch.Tensor) -> torch.Tensor:
        """The state feature: post-ReLU first dense layer ``(B, feature_dim)`` of trunk features ``z``."""
        return torch.relu(self.dense1(self.dropout1(z)))

    def head_logits(self, z: torch.Tensor) -> torch.Tensor:
        """Class logits ``(B, K)`` of trunk features ``z`` (softmax is left to the loss, Eq. 5)."""
        return self.dense2(self.dropout2(self.head_features(z)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Class logits ``(B, K)`` of float images ``(B, C, H, W)``."""
        return self.head_logits(self.trunk(x))


def as_classifier_config(value: object) -> ClassifierConfig:
    """A ``classifier_config`` argument as a :class:`ClassifierConfig`: ``None`` (the default), a config, or a
    dict of its fields; anything else, or a bad field, is a ``ValueError`` naming ``classifier_config``."""
    if value is None:
        return ClassifierConfig()
    if isinstance(value, ClassifierConfig):
        return value
    if isinstance(value, Mapping):
        try:
            return ClassifierConfig.from_dict(dict(value))
        except (TypeError, ValueError) as exc:  # from_dict's own ValueError, or a TypeError of a field's value
            raise ValueError(f"classifier_config: {exc}") from None
    raise ValueError(
        f"classifier_config: must be a ClassifierConfig, a dict of its fields or None, got {type(value).__name__}"
    )
