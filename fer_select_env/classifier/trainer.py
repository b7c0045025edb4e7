"""Kept alias: ``fer_select_env.classifier.trainer`` moved to :mod:`fer_select_env.models.classifier`,
:mod:`fer_select_env.models.pretrain`, :mod:`fer_select_env.core.seeding`.

Its public names stay importable here, so existing imports keep working.
"""

from fer_select_env.core.seeding import (
    check_seed,
    derive_seed,
    resolve_device,
    rng_scope,
    thread_limit,
)
from fer_select_env.models.classifier import (
    STATE_FORMAT_VERSION,
    EmotionClassifier,
    FitReport,
)
from fer_select_env.models.pretrain import (
    pretrain_cache_path,
    pretrain_classifier,
)

# Read by the import-layer test, which exempts kept aliases from the one-way rule.
__alias_of__ = ("fer_select_env.models.classifier", "fer_select_env.models.pretrain", "fer_select_env.core.seeding")
__all__ = [
    "STATE_FORMAT_VERSION",
    "EmotionClassifier",
    "FitReport",
    "check_seed",
    "derive_seed",
    "pretrain_cache_path",
    "pretrain_classifier",
    "resolve_device",
    "rng_scope",
    "thread_limit",
]
