"""Reward options of FERSelect-v0 (paper §3.1.4, Eq. 2-3; Table 4's RLPS+F1; DVRL) and the scoring they share.

A reward option is a small function of probabilities, labels and the keep mask, so every formula can be
checked by hand on a handful of samples (see ``tests/test_rewards.py``).

Eq. 2 reads ``R_i = P(e_true | x_i) - (1/n) Σ_j p(e | x_j)``. The baseline term is ambiguous:

* ``"class_prior"`` (the env's default): ``b_i = (1/n) Σ_j P(y_i | x_j)``, the classifier's mean predicted
  probability of image i's label class over the n images of the episode, i.e. Eq. 2 read literally with
  ``e = e_true``. It is the class prior the classifier has learned, so keeping image i raises Eq. 3 when the
  classifier gives its label more than that class's prior probability. On balanced data it is close to 1/K;
  on imbalanced real data (FER2013's disgust is 1.5 % of the images) it stops the reward from removing
  minority classes wholesale, which the fixed 1/K threshold does.
* ``"uniform"``: ``b = 1/K``. The released code computed the mean over the K classes of the same image's
  softmax, which always equals 1/K. Keeping image i raises Eq. 3 exactly when the classifier gives its label
  more than chance probability.
* ``"mean"``: ``b = (1/n) Σ_j P(y_j | x_j)`` over the n images of the episode, the reading with j running over
  samples and e over their labels. It centres the rewards (a REINFORCE baseline); Eq. 3 then favours keeping
  above-average images.
* ``"none"``: ``b = 0``; every kept image adds a positive reward, so Eq. 3 favours keeping everything.

How ``P(y_i | x_i)`` is scored matters more than the baseline: a classifier retrained on the kept images and
scored on those same images has fitted them, including their wrong labels (``scoring="in_sample"``, the
paper's procedure). :func:`cross_fitted_probabilities` scores every kept image with a classifier trained on
the other folds of the kept set, and every removed image with the classifier trained on all kept images;
no image is scored by a model that saw it.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

EQ2_BASELINES: tuple[str, ...] = ("class_prior", "uniform", "mean", "none")
REWARDS: tuple[str, ...] = ("eq3", "f1", "dvrl", "eq3_dvrl", "per_step")
SCORINGS: tuple[str, ...] = ("cross_fit", "in_sample")


def label_probabilities(probs: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """``P(y_i | x_i)``: each row's probability of its given label."""
    probs = np.asarray(probs)
    labels = np.asarray(labels, dtype=np.int64)
    return probs[np.arange(len(labels)), labels]


def eq2_baseline(probs: np.ndarray, labels: np.ndarray, baseline: str) -> np.ndarray:
    """The subtracted term of Eq. 2 for every image, under the named reading (see the module docstring).

    :param probs: the classifier's class probabilities for the episode's n images (n×K)
    :param labels: the given label of every image
    """
    probs = np.asarray(probs, dtype=np.float64)
    labels = np.asarray(labels, dtype=np.int64)
    n, num_classes = probs.shape
    if baseline == "class_prior":
        prior = probs.mean(axis=0) if n else np.zeros(num_classes)
        return prior[labels]
    if baseline == "uniform":
        return np.full(n, 1.0 / num_classes)
    if baseline == "mean":
        return np.full(n, float(np.mean(label_probabilities(probs, labels))) if n else 0.0)
    if baseline == "none":
        return np.zeros(n)
    raise ValueError(f"baseline must be one of {EQ2_BASELINES}, got {baseline!r}")


def eq2_sample_rewards(probs: np.ndarray, labels: np.ndarray, baseline: str) -> np.ndarray:
    """Eq. 2: ``R_i = P(y_i | x_i) - b_i`` for every image of the episode, kept or removed."""
    label_probs = label_probabilities(np.asarray(probs, dtype=np.float64), labels)
    return (label_probs - eq2_baseline(probs, labels, baseline)).astype(np.float32)


def eq2_candidate_rewards(probs: np.ndarray, labels: np.ndarray, candidates: np.ndarray, baseline: str) -> np.ndarray:
    """Eq. 2's ``R_i`` had image i carried ``candidates[i]`` instead of ``labels[i]``: ``P(c_i|x_i) − b(c_i)``.

    The baseline is that of the episode as it is (its images with ``labels``): ``class_prior``, ``uniform``
    and ``none`` depend only on the candidate's class, while ``mean`` is the episode's mean over ``labels``.
    So ``eq2_candidate_rewards(p, y, y, b) == eq2_sample_rewards(p, y, b)``, and a counterfactual reward
    never moves the baseline of the other images (what FERSelectRelabel-v0's per-action rewards need).
    """
    probs = np.asarray(probs, dtype=np.float64)
    candidates = np.asarray(candidates, dtype=np.int64)
    if baseline == "mean":
        b = eq2_baseline(probs, labels, baseline)
    else:
        b = eq2_baseline(probs, candidates, baseline)
    return (label_probabilities(probs, candidates) - b).astype(np.float32)


def eq3_episode_reward(sample_rewards: np.ndarray, kept: np.ndarray) -> float:
    """Eq. 3: ``Reward = Σ_{i in B} R_i`` over the retained set B."""
    return float(np.sum(np.asarray(sample_rewards, dtype=np.float64)[np.asarray(kept, dtype=bool)]))


def f1_reward(val_macro_f1: float, previous_val_macro_f1: float) -> float:
    """Table 4's RLPS+F1: the change of validation macro-F1 caused by this episode's retraining."""
    return float(val_macro_f1 - previous_val_macro_f1)


def dvrl_reward(val_accuracy: float, reference_val_accuracy: float) -> float:
    """DVRL's reward: validation accuracy after retraining on the kept images minus that after training on all."""
    return float(val_accuracy - reference_val_accuracy)


def eq2_dvrl_sample_rewards(sample_rewards: np.ndarray, dvrl: float) -> np.ndarray:
    """Eq. 2's per-image rewards with DVRL's episode reward added to each (issue 13, item 6).

    Under REINFORCE's ``(a_i − p_i)·R_i`` the shared term adds ``(a_i − p_i)·D`` to every image: an episode
    whose selection raised validation accuracy over training on everything (``D > 0``) reinforces all of its
    decisions, while each image keeps its own Eq. 2 signal. Both terms are differences of probabilities or
    accuracies, so they are added unweighted.
    """
    return (np.asarray(sample_rewards, dtype=np.float64) + float(dvrl)).astype(np.float32)


def per_step_reward(action: int, sample_reward: float) -> float:
    """Dense reward of one step: ``a_i · R_i``, so an episode's rewards sum to Eq. 3 (under lagged scores)."""
    return float(sample_reward) if action == 1 else 0.0


def fold_assignment(labels: np.ndarray, n_folds: int, rng: np.random.Generator) -> np.ndarray:
    """A fold id in ``[0, n_folds)`` per sample, stratified by label so each fold sees every class."""
    if n_folds < 2:
        raise ValueError(f"n_folds must be >= 2, got {n_folds}")
    labels = np.asarray(labels)
    folds = np.empty(len(labels), dtype=np.int64)
    offset = 0
    for k in np.unique(labels):
        members = np.flatnonzero(labels == k)
        members = members[rng.permutation(len(members))]
        # Continue the round-robin across classes so small classes don't all land in fold 0.
        folds[members] = (np.arange(len(members)) + offset) % n_folds
        offset += len(members)
    return folds


def cross_fitted_probabilities(
    kept: np.ndarray,
    labels: np.ndarray,
    n_folds: int,
    rng: np.random.Generator,
    fit_predict: Callable[[np.ndarray, np.ndarray], np.ndarray],
    full_probs: np.ndarray,
    fallback_probs: np.ndarray,
) -> np.ndarray:
    """Out-of-sample class probabilities for every image of an episode (k-fold over the kept set).

    :param kept: bool per image
    :param labels: given label per image (used to stratify the folds)
    :param fit_predict: ``fit_predict(train_idx, predict_idx)`` trains a fresh model on ``train_idx`` and
        returns its probabilities for ``predict_idx`` (N_predict×K). Indices are positions in this episode.
    :param full_probs: probabilities from the model trained on all kept images; used for removed images
    :param fallback_probs: probabilities of the model before retraining; used for a fold whose training
        part would be empty (fewer kept images than folds)
    """
    kept = np.asarray(kept, dtype=bool)
    probs = np.array(full_probs, dtype=np.float32, copy=True)
    kept_idx = np.flatnonzero(kept)
    if len(kept_idx) == 0:
        return probs
    folds = fold_assignment(np.asarray(labels)[kept_idx], n_folds, rng)
    for f in range(n_folds):
        held_out = kept_idx[folds == f]
        train = kept_idx[folds != f]
        if len(held_out) == 0:
            continue
        if len(train) == 0:
            probs[held_out] = fallback_probs[held_out]
        else:
            probs[held_out] = fit_predict(train, held_out)
    return probs
