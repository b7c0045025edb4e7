"""Kept alias: ``fer_select_env.metrics`` moved to :mod:`fer_select_env.core.metrics`,
:mod:`fer_select_env.envs.select.metrics`.

Its public names stay importable here, so existing imports keep working.
"""

from fer_select_env.core.metrics import (
    average_accuracy,
    classification_summary,
    confusion_matrix,
    macro_f1,
    macro_f1_eq7,
    macro_recall,
    mean_precision,
    per_class_f1,
    per_class_precision,
    per_class_recall,
    total_accuracy,
)
from fer_select_env.envs.select.metrics import (
    detection_auc,
    keep_probability_by_noise_kind,
    removal_scores,
)

# Read by the import-layer test, which exempts kept aliases from the one-way rule.
__alias_of__ = ("fer_select_env.core.metrics", "fer_select_env.envs.select.metrics")
__all__ = [
    "average_accuracy",
    "classification_summary",
    "confusion_matrix",
    "detection_auc",
    "keep_probability_by_noise_kind",
    "macro_f1",
    "macro_f1_eq7",
    "macro_recall",
    "mean_precision",
    "per_class_f1",
    "per_class_precision",
    "per_class_recall",
    "removal_scores",
    "total_accuracy",
]
