"""The embedded emotion classifier (the paper's Fig. 3 CNN) and its trainer."""

from fer_select_env.classifier.model import CHANNEL_MULTIPLIERS, ClassifierConfig, EmotionCNN, conv_channels
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
    "CHANNEL_MULTIPLIERS",
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
]
