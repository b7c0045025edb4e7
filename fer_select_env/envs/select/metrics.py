"""Selection metrics of FERSelect: removal as a noise detector (precision, recall, F1, ROC-AUC) and the
keep probability per noise kind (paper Table 5). Ground truth feeds only these metrics, never a selection."""

from __future__ import annotations

import numpy as np

from fer_select_env.data.dataset import noise_kind_name


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
