"""The embedded emotion classifier (the paper's Fig. 3 CNN, or its Fig. 4 VGG-style network) and its trainer."""

from fer_select_env.classifier.model import (
    ARCHITECTURES,
    CHANNEL_MULTIPLIERS,
    VGG_PLAN,
    ClassifierConfig,
    EmotionCNN,
    conv_channels,
    vgg_channels,
)
from fer_select_env.classifier.trainer import (
    EmotionClassifier,
    FitReport,
    pretrain_cache_path,
    pretrain_classifier,
    resolve_device,
    rng_scope,
    thread_limit,
)

__all__ = [
    "ARCHITECTURES",
    "CHANNEL_MULTIPLIERS",
    "VGG_PLAN",
    "ClassifierConfig",
    "EmotionCNN",
    "EmotionClassifier",
    "FitReport",
    "conv_channels",
    "pretrain_cache_path",
    "pretrain_classifier",
    "resolve_device",
    "rng_scope",
    "thread_limit",
    "vgg_channels",
]
