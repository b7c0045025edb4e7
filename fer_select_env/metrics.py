"""Classification and selection metrics (paper §4.2, Eq. 7-10, and Table 5).

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

from fer_select_env.data.dataset import noise_kind_name


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


def removal_scores(kept: np.ndarray, is_noisy: np.ndarray) -> dict[str, float]:
    """Precision, recall and F1 of *removal* as a noise detector (positives = removed samples).

    ``kept`` and ``is_noisy`` are boolean per sample. With nothing removed, precision is 0; with no
    noisy sample, recall is 0 (scikit-learn's ``zero_division=0``).
    """
    kept = np.asarray(kept, dtype=bool)
    is_noisy = np.asarray(is_noisy, dtype=bool)
    if kept.shape != is_noisy.shape:
        raise ValueError(f"kept and is_noisy differ in shape ({kept.shape} vs {is_noisy.shape})")
    removed = ~kept
    tp = int(np.sum(removed & is_noisy))
    precision = tp / int(removed.sum()) if removed.any() else 0.0
    recall = tp / int(is_noisy.sum()) if is_noisy.any() else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall > 0 else 0.0
    return {"removal_precision": float(precision), "removal_recall": float(recall), "removal_f1": float(f1)}


def keep_probability_by_noise_kind(keep_probability: np.ndarray, noise_kind: np.ndarray) -> dict[str, float]:
    """Mean keep probability per noise kind present (Table 5); a 0/1 mask gives the kept fraction."""
    keep_probability = np.asarray(keep_probability, dtype=np.float64)
    noise_kind = np.asarray(noise_kind)
    if keep_probability.shape != noise_kind.shape:
        raise ValueError(
            f"keep_probability and noise_kind differ in shape ({keep_probability.shape} vs {noise_kind.shape})"
        )
    return {noise_kind_name(int(k)): float(keep_probability[noise_kind == k].mean()) for k in np.unique(noise_kind)}


def detection_auc(noise_score: np.ndarray, is_noisy: np.ndarray) -> float:
    """ROC-AUC of ``noise_score`` (higher = more likely noisy) against the truth (Mann-Whitney U, ties = 1/2).

    NaN when only one class is present.
    """
    score = np.asarray(noise_score, dtype=np.float64)
    is_noisy = np.asarray(is_noisy, dtype=bool)
    n_pos, n_neg = int(is_noisy.sum()), int((~is_noisy).sum())
    if n_pos == 0 or n_neg == 0:
        return float("nan")
    order = np.argsort(score, kind="mergesort")
    ranks = np.empty(len(score), dtype=np.float64)
    sorted_scores = score[order]
    # average ranks over ties
    _, first, counts = np.unique(sorted_scores, return_index=True, return_counts=True)
    avg = first + (counts + 1) / 2.0
    ranks[order] = np.repeat(avg, counts)
    u = ranks[is_noisy].sum() - n_pos * (n_pos + 1) / 2.0
    return float(u / (n_pos * n_neg))
