"""Classification metrics (paper §4.2, Eq. 7-10).

Two definitions in the paper need care:

* Eq. 8 defines "average accuracy" as the mean of TP/(TP+FP), which is mean *precision*. Tables 2-4
  report "the mean diagonal value of the confusion matrix", i.e. the mean per-class *recall*. We follow the
  tables: :func:`average_accuracy` is mean per-class recall; Eq. 8 as printed is :func:`mean_precision`.
* Eq. 7 defines macro-F1 as the harmonic mean of macro precision and macro recall. The usual definition
  (scikit-learn's ``average="macro"``) is the mean of the per-class F1 scores. :func:`macro_f1` is the usual
  one; :func:`macro_f1_eq7` is the paper's.

Classes that never occur in ``y_true`` have no recall; they are left out of the recall means (NaN in the
per-class arrays). Precision of a class that is never predicted is 0, as with scikit-learn's
``zero_division=0``.
"""

from __future__ import annotations

import numpy as np


def _as_labels(y: np.ndarray, name: str) -> np.ndarray:
    y = np.asarray(y)
    if y.ndim != 1:
        raise ValueError(f"{name} must be 1-D, got shape {y.shape}")
    return y.astype(np.int64, copy=False)


def confusion_matrix(y_true: np.ndarray, y_pred: np.ndarray, num_classes: int) -> np.ndarray:
    """K×K counts; rows are true classes, columns are predicted classes."""
    y_true, y_pred = _as_labels(y_true, "y_true"), _as_labels(y_pred, "y_pred")
    if len(y_true) != len(y_pred):
        raise ValueError(f"y_true and y_pred differ in length ({len(y_true)} vs {len(y_pred)})")
    for name, y in (("y_true", y_true), ("y_pred", y_pred)):
        if len(y) and (y.min() < 0 or y.max() >= num_classes):
            raise ValueError(f"{name} has labels outside [0, {num_classes})")
    flat = y_true * num_classes + y_pred
    return np.bincount(flat, minlength=num_classes * num_classes).reshape(num_classes, num_classes)


def total_accuracy(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    """Fraction of correct predictions ("Total Acc" of Table 1)."""
    y_true, y_pred = _as_labels(y_true, "y_true"), _as_labels(y_pred, "y_pred")
    if len(y_true) == 0:
        return float("nan")
    return float(np.mean(y_true == y_pred))


def per_class_recall(cm: np.ndarray) -> np.ndarray:
    """Per-class accuracy as in Tables 2-4: the diagonal of the row-normalised confusion matrix (Eq. 10 terms)."""
    support = cm.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(support > 0, np.diag(cm) / np.maximum(support, 1), np.nan)


def per_class_precision(cm: np.ndarray) -> np.ndarray:
    """TP/(TP+FP) per class (Eq. 9 terms); 0 for a class that is never predicted."""
    predicted = cm.sum(axis=0)
    return np.where(predicted > 0, np.diag(cm) / np.maximum(predicted, 1), 0.0)


def per_class_f1(cm: np.ndarray) -> np.ndarray:
    """Per-class F1; NaN for classes absent from both the truth and the predictions."""
    recall = np.nan_to_num(per_class_recall(cm))
    precision = per_class_precision(cm)
    denom = precision + recall
    f1 = np.where(denom > 0, 2 * precision * recall / np.where(denom > 0, denom, 1), 0.0)
    present = (cm.sum(axis=1) + cm.sum(axis=0)) > 0
    return np.where(present, f1, np.nan)


def average_accuracy(cm: np.ndarray) -> float:
    """Mean per-class recall over the classes present in the truth (what Tables 2-4 report)."""
    return float(np.nanmean(per_class_recall(cm))) if cm.sum() else float("nan")


def mean_precision(cm: np.ndarray) -> float:
    """Eq. 8 (and Eq. 9) as printed: the mean of TP/(TP+FP) over the K classes."""
    return float(np.mean(per_class_precision(cm)))


def macro_recall(cm: np.ndarray) -> float:
    """Eq. 10: mean per-class recall (equal to :func:`average_accuracy`)."""
    return average_accuracy(cm)


def macro_f1(cm: np.ndarray) -> float:
    """Macro-F1, the usual definition: mean of per-class F1 over classes in the truth or the predictions."""
    f1 = per_class_f1(cm)
    return float(np.nanmean(f1)) if np.isfinite(f1).any() else float("nan")


def macro_f1_eq7(cm: np.ndarray) -> float:
    """Eq. 7: harmonic mean of macro precision (Eq. 9) and macro recall (Eq. 10)."""
    p, r = mean_precision(cm), macro_recall(cm)
    return float(2 * p * r / (p + r)) if p + r > 0 else 0.0


def classification_summary(
    y_true: np.ndarray, y_pred: np.ndarray, num_classes: int, class_names: tuple[str, ...] | None = None
) -> dict:
    """Every classification figure the benchmark reports, as plain Python types."""
    cm = confusion_matrix(y_true, y_pred, num_classes)
    names = class_names or tuple(f"class_{k}" for k in range(num_classes))
    recall = per_class_recall(cm)
    return {
        "accuracy": total_accuracy(y_true, y_pred),
        "average_accuracy": average_accuracy(cm),
        "macro_f1": macro_f1(cm),
        "macro_f1_eq7": macro_f1_eq7(cm),
        "mean_precision_eq8": mean_precision(cm),
        "per_class_accuracy": {n: (None if np.isnan(v) else float(v)) for n, v in zip(names, recall, strict=True)},
        "confusion_matrix": cm.tolist(),
    }
