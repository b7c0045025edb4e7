"""Non-RL selection baselines: one function per filter, each returning a :class:`~agents.common.Selection`.

Every filter has the signature ``(dataset, *, seed=0, ...) -> Selection``. The label-noise filters
(``predicted_neq_given``, ``small_loss``, ``cleanlab``) rank images by *out-of-fold* predicted
probabilities (:func:`out_of_fold_probabilities`): an image scored by a model that was trained on its own
(possibly wrong) label tends to agree with that label, which hides exactly the errors the filter looks for.
Pass ``probs=`` to reuse one set of out-of-fold probabilities across filters.

Only :func:`oracle` reads the noise ground truth (``dataset.noise_train``); it is the ceiling, not a method.
"""

from __future__ import annotations

import os
from typing import Any, Literal

import numpy as np

from agents.common.selection import Selection
from fer_select_env.data.dataset import FERDataset
from fer_select_env.data.ferplus import ferplus_split_labels
from fer_select_env.envs.select.rewards import fold_assignment
from fer_select_env.models import ClassifierConfig, EmotionClassifier, pretrain_classifier

OOF_METHODS: tuple[str, ...] = ("head", "network")

# Independent seed streams derived from the user's seed (fold split vs per-fold training).
_STREAM_FOLDS = 11
_STREAM_FOLD_FIT = 12


def _derive_seed(seed: int, *stream: int) -> int:
    return int(np.random.SeedSequence([int(seed), *stream]).generate_state(1)[0] >> 1)


def out_of_fold_probabilities(
    dataset: FERDataset,
    *,
    n_folds: int = 4,
    seed: int = 0,
    config: ClassifierConfig | None = None,
    device: str = "cpu",
    cache_dir: str | os.PathLike | None = None,
    method: Literal["head", "network"] = "head",
    classifier_seed: int | None = None,
    classifier: EmotionClassifier | None = None,
    folds: np.ndarray | None = None,
) -> np.ndarray:
    """Class probabilities for every training image from a model that did not train on that image's fold.

    The training set is split into ``n_folds`` label-stratified folds
    (:func:`fer_select_env.rewards.fold_assignment`); each fold is predicted by a model trained on the other
    folds, with early stopping on the dataset's *val* split (never test). This is the k-fold recipe of
    Confident Learning (Northcutt et al. 2021, JAIR 70).

    * ``method="head"`` (default, fast): take the pre-trained classifier (Algorithm 1 line 2, the same
      disk-cached one the environment uses), cache its conv features once, and train one fresh dense head
      per fold (``fit_head``). **Caveat:** the frozen conv trunk was pre-trained on *every* training label,
      the held-out fold's included, so these probabilities are out-of-fold for the head only. With early
      stopping the trunk fits wrong labels little, but the scores are somewhat optimistic for noisy images.
    * ``method="network"`` (slow, exact): train a whole CNN from scratch per fold; no model ever saw a
      held-out label. Costs ``n_folds`` full trainings.

    :param seed: seeds the fold split and the per-fold training (and pre-training, see ``classifier_seed``)
    :param config: classifier architecture/budget (default ``ClassifierConfig()``, or ``classifier.config``)
    :param classifier_seed: seed of the pre-trained classifier for ``method="head"``; ``None`` = ``seed``.
        Pass the env's ``classifier_seed`` to score with the very classifier FERSelect-v0 starts from.
    :param classifier: use this pre-trained classifier instead of loading/pre-training one (its trunk for
        ``"head"``, its config for ``"network"``); its head weights are restored afterwards
    :param folds: a fold id in ``[0, n_folds)`` per training image, replacing the seeded split
    :returns: float64 ``(N, K)``, rows summing to 1, in dataset order
    """
    if method not in OOF_METHODS:
        raise ValueError(f"method must be one of {OOF_METHODS}, got {method!r}")
    y = dataset.y_train
    n = len(y)
    if folds is None:
        if int(n_folds) < 2:
            raise ValueError(f"n_folds must be >= 2, got {n_folds}")
        folds = fold_assignment(y, int(n_folds), np.random.default_rng(_derive_seed(seed, _STREAM_FOLDS)))
    else:
        folds = np.asarray(folds, dtype=np.int64)
        if folds.shape != (n,) or folds.min() < 0:
            raise ValueError(f"folds must hold a non-negative fold id per training image ({n}), got {folds.shape}")
        n_folds = int(folds.max()) + 1
    if config is None:
        config = classifier.config if classifier is not None else ClassifierConfig()
    probs = np.zeros((n, dataset.num_classes), dtype=np.float64)

    if method == "head":
        if classifier is None:
            classifier, _ = pretrain_classifier(
                dataset,
                config,
                device=device,
                seed=seed if classifier_seed is None else classifier_seed,
                cache_dir=cache_dir,
            )
        z_train = classifier.conv_features(dataset.x_train)
        z_val = classifier.conv_features(dataset.x_val)
        saved = classifier.get_head_state()
        try:
            for f in range(int(n_folds)):
                held_out, train = folds == f, folds != f
                if not held_out.any():
                    continue
                if not train.any():
                    raise ValueError(f"fold {f} holds every training image; nothing to train on")
                classifier.fit_head(
                    z_train[train], y[train], z_val, dataset.y_val, seed=_derive_seed(seed, _STREAM_FOLD_FIT, f)
                )
                probs[held_out] = classifier.head_proba(z_train[held_out])
        finally:
            classifier.set_head_state(saved)
    else:
        for f in range(int(n_folds)):
            held_out, train = folds == f, folds != f
            if not held_out.any():
                continue
            if not train.any():
                raise ValueError(f"fold {f} holds every training image; nothing to train on")
            fold_seed = _derive_seed(seed, _STREAM_FOLD_FIT, f)
            model = EmotionClassifier.for_dataset(dataset, config, device=device, seed=fold_seed)
            model.fit(
                dataset.x_train[train],
                y[train],
                dataset.x_val,
                dataset.y_val,
                seed=fold_seed,
                strategy="scratch",
            )
            probs[held_out] = model.predict_proba(dataset.x_train[held_out])
    # float32 softmax rows sum to 1 only to ~1e-7; cleanlab and log-losses want them exact.
    probs = np.clip(probs, 0.0, None)
    return probs / probs.sum(axis=1, keepdims=True)


def _resolve_probs(
    dataset: FERDataset,
    probs: np.ndarray | None,
    *,
    seed: int,
    n_folds: int,
    method: Literal["head", "network"],
    config: ClassifierConfig | None,
    device: str,
    cache_dir: str | os.PathLike | None,
    classifier_seed: int | None,
) -> np.ndarray:
    if probs is None:
        return out_of_fold_probabilities(
            dataset,
            n_folds=n_folds,
            seed=seed,
            config=config,
            device=device,
            cache_dir=cache_dir,
            method=method,
            classifier_seed=classifier_seed,
        )
    probs = np.asarray(probs, dtype=np.float64)
    expected = (len(dataset.y_train), dataset.num_classes)
    if probs.shape != expected:
        raise ValueError(f"probs must have shape {expected} (train images × classes), got {probs.shape}")
    return probs


def _oof_info(probs_given: bool, method: str, n_folds: int) -> dict[str, object]:
    return {"probs": "given" if probs_given else f"out_of_fold/{method}", "n_folds": None if probs_given else n_folds}


# ---------------------------------------------------------------------------------------------- filters
def keep_all(dataset: FERDataset, *, seed: int = 0, **unused: Any) -> Selection:
    """Keep every training image: the paper's "DCNN" row (the classifier trained on the noisy set as is).

    Other keywords (the classifier options the other baselines take) are accepted and ignored, so that
    every entry of :data:`agents.baselines.BASELINES` can be called with the same arguments.
    """
    return Selection.from_mask(np.ones(len(dataset.y_train), dtype=bool), info={"filter": "keep_all"})


def oracle(dataset: FERDataset, *, seed: int = 0, **unused: Any) -> Selection:
    """Remove exactly the images whose ground-truth noise kind is not clean (``noise_train != 0``).

    The ceiling of every selector, not a method: it is the only place in the package where noise ground
    truth is used to *select*. Raises ``ValueError`` for a dataset without ``noise_train``. Other keywords
    are accepted and ignored, as in :func:`keep_all`.
    """
    if dataset.noise_train is None:
        raise ValueError(
            "oracle needs the dataset's noise ground truth (noise_train), but this dataset has none; "
            "it is only available for synthetic or annotated data"
        )
    kept = dataset.noise_train == 0
    return Selection.from_mask(kept, info={"filter": "oracle", "removed_fraction": float(1.0 - kept.mean())})


def ferplus_relabel(dataset: FERDataset, *, seed: int = 0, **unused: Any) -> Selection:
    """Keep every training image but train on its FER+ majority label (the given label where FER+ has no
    majority): a reference that uses the crowd's ten votes per image, marked like :func:`oracle`, not a method.

    Raises ``ValueError`` for a dataset without FER+ votes on its training rows (``extras["ferplus_votes"]``,
    which the FER2013 evaluation copy carries). Other keywords are accepted and ignored, as in :func:`keep_all`.
    """
    majority = ferplus_split_labels(dataset, "train")
    if majority is None:
        raise ValueError(
            "ferplus_relabel needs FER+ votes on the training rows (extras['ferplus_votes']), but this dataset "
            "has none; the FER2013 evaluation copy carries them"
        )
    labels = np.where(majority >= 0, majority, dataset.y_train)
    info = {
        "filter": "ferplus_relabel",
        "relabelled_fraction": float(np.mean(labels != dataset.y_train)),
        "no_majority_fraction": float(np.mean(majority < 0)),
    }
    return Selection.from_mask(np.ones(len(labels), dtype=bool), train_labels=labels, info=info)


def predicted_neq_given(
    dataset: FERDataset,
    *,
    seed: int = 0,
    probs: np.ndarray | None = None,
    n_folds: int = 4,
    method: Literal["head", "network"] = "head",
    config: ClassifierConfig | None = None,
    device: str = "cpu",
    cache_dir: str | os.PathLike | None = None,
    classifier_seed: int | None = None,
) -> Selection:
    """Remove an image when its out-of-fold predicted class differs from its given label.

    The simplest confident-learning baseline (``find_predicted_neq_given``, Northcutt et al. 2021), and
    what the released RLPS selector effectively learns (its training target is ``argmax == label``).
    ``probs`` (``N×K``) skips the out-of-fold computation; the other keywords go to
    :func:`out_of_fold_probabilities`.
    """
    p = _resolve_probs(
        dataset,
        probs,
        seed=seed,
        n_folds=n_folds,
        method=method,
        config=config,
        device=device,
        cache_dir=cache_dir,
        classifier_seed=classifier_seed,
    )
    kept = p.argmax(axis=1) == dataset.y_train
    info = {"filter": "predicted_neq_given", "removed_fraction": float(1.0 - kept.mean())}
    info.update(_oof_info(probs is not None, method, n_folds))
    return Selection.from_mask(kept, info=info)


def small_loss(
    dataset: FERDataset,
    *,
    seed: int = 0,
    rate: float | None = None,
    per_class: bool = True,
    probs: np.ndarray | None = None,
    n_folds: int = 4,
    method: Literal["head", "network"] = "head",
    config: ClassifierConfig | None = None,
    device: str = "cpu",
    cache_dir: str | os.PathLike | None = None,
    classifier_seed: int | None = None,
) -> Selection:
    """Keep the ``1 − rate`` fraction of images with the smallest out-of-fold cross-entropy ``−log P(y|x)``.

    The selection rule of Co-teaching (Han et al. 2018, NeurIPS), applied once to out-of-fold losses instead
    of per mini-batch during training.

    * ``per_class=True`` (default): rank and cut within each given class, so every class keeps a
      ``1 − rate`` share. A global cut removes whole hard classes first (on FER, disgust and fear have high
      loss even when clean), which costs macro-F1, the paper's headline metric. ``per_class=False`` ranks
      globally, as Co-teaching does within a batch.
    * ``rate=None`` (default) estimates the removal rate from the out-of-fold predictions: the fraction of
      images whose predicted class differs from the given one (per class with ``per_class=True``). Never
      from ground truth. It over-estimates the noise rate by the classifier's error on clean images.

    ``probs`` and the remaining keywords are as in :func:`predicted_neq_given`. ``Selection.info`` records
    the rate(s) used and the loss threshold(s).
    """
    if rate is not None and not 0.0 <= float(rate) <= 1.0:
        raise ValueError(f"rate must be in [0, 1] or None, got {rate!r}")
    p = _resolve_probs(
        dataset,
        probs,
        seed=seed,
        n_folds=n_folds,
        method=method,
        config=config,
        device=device,
        cache_dir=cache_dir,
        classifier_seed=classifier_seed,
    )
    y = dataset.y_train
    loss = -np.log(np.clip(p[np.arange(len(y)), y], 1e-12, None))
    disagrees = p.argmax(axis=1) != y
    groups = [np.flatnonzero(y == k) for k in range(dataset.num_classes)] if per_class else [np.arange(len(y))]
    kept = np.ones(len(y), dtype=bool)
    rates: list[float | None] = []
    thresholds: list[float | None] = []
    for members in groups:
        if len(members) == 0:
            rates.append(None)
            thresholds.append(None)
            continue
        r = float(disagrees[members].mean()) if rate is None else float(rate)
        n_remove = round(r * len(members))
        # Stable sort on (loss, index): ties are broken the same way on every platform.
        order = members[np.argsort(loss[members], kind="stable")]
        if n_remove:
            kept[order[len(order) - n_remove :]] = False
        rates.append(r)
        thresholds.append(float(loss[order[len(order) - n_remove]]) if n_remove else None)
    info: dict[str, object] = {
        "filter": "small_loss",
        "per_class": bool(per_class),
        "rate_source": "estimated_predicted_neq_given" if rate is None else "given",
        "rate": rates if per_class else rates[0],
        "loss_threshold": thresholds if per_class else thresholds[0],
        "removed_fraction": float(1.0 - kept.mean()),
    }
    info.update(_oof_info(probs is not None, method, n_folds))
    return Selection.from_mask(kept, info=info)


def cleanlab(
    dataset: FERDataset,
    *,
    seed: int = 0,
    filter_by: str = "prune_by_noise_rate",
    probs: np.ndarray | None = None,
    n_folds: int = 4,
    method: Literal["head", "network"] = "head",
    config: ClassifierConfig | None = None,
    device: str = "cpu",
    cache_dir: str | os.PathLike | None = None,
    classifier_seed: int | None = None,
) -> Selection:
    """Confident Learning (Northcutt et al. 2021, JAIR 70): ``cleanlab.filter.find_label_issues``.

    Runs on out-of-fold probabilities as cleanlab requires. ``filter_by`` is cleanlab's (default
    ``"prune_by_noise_rate"``, cleanlab's own default); the number removed per class comes from cleanlab's
    calibrated confident joint, not from a user rate. ``probs`` and the other keywords are as in
    :func:`predicted_neq_given`.
    """
    from cleanlab.filter import find_label_issues

    p = _resolve_probs(
        dataset,
        probs,
        seed=seed,
        n_folds=n_folds,
        method=method,
        config=config,
        device=device,
        cache_dir=cache_dir,
        classifier_seed=classifier_seed,
    )
    # n_jobs=1: cleanlab otherwise starts a process per core, and this package shares small machines.
    issues = find_label_issues(dataset.y_train, p, filter_by=filter_by, n_jobs=1)
    kept = ~np.asarray(issues, dtype=bool)
    info = {"filter": "cleanlab", "filter_by": filter_by, "removed_fraction": float(1.0 - kept.mean())}
    info.update(_oof_info(probs is not None, method, n_folds))
    return Selection.from_mask(kept, info=info)
