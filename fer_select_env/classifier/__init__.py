"""Kept alias: ``fer_select_env.classifier`` moved to :mod:`fer_select_env.models`.

Its public names stay importable here, so existing imports keep working.
"""

from fer_select_env.models import (
    ARCHITECTURES,
    CHANNEL_MULTIPLIERS,
    VGG_PLAN,
    ClassifierConfig,
    EmotionClassifier,
    EmotionCNN,
    FitReport,
    conv_channels,
    pretrain_cache_path,
    pretrain_classifier,
    resolve_device,
    rng_scope,
    thread_limit,
    vgg_channels,
)

# Read by the import-layer test, which exempts kept aliases from the one-way rule.
__alias_of__ = ("fer_select_env.models",)
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
