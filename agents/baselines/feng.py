"""Feng et al. 2018 instance selector, the paper's "DCNN+Sigmoid" baseline (Li & Xu 2020, Table 1).

Feng, Huang, Zhao, Yang & Zhu, "Reinforcement Learning for Relation Classification from Noisy Data",
AAAI 2018. RLPS compares against a port of its selector *pre-training* stage (``main_baseline.py`` in
lhd777/RLPS, itself a port of ``RLPre.cpp``): a logistic policy ``p = σ(w·s + b)`` on the state
``s = [feature of the current image, mean feature of the images kept so far]``, trained with REINFORCE
against a *frozen* classifier. One episode is a pass over one bag; its reward is the mean
``log P(y|x)`` over the images kept in it, and the baseline is the mean reward of ``n_samples`` (3)
sampled episodes of the same bag.

What this implementation does, and why:

* **Features are computed here, not by stepping FERSelect-v0.** The state feature is the pre-trained
  classifier's post-ReLU first dense layer, exactly the env's ``observation="paper"`` (same cached
  classifier, same ``head_features``; ``tests/test_feng.py`` checks equality). Even with the env's
  ``freeze_classifier`` reset option, stepping it would not give Feng's setting: it has no per-class bags,
  plays one episode per reset where Feng plays 3 of the same bag in the same order, does not offer the
  mean-log-probability reward, and costs a Python ``step`` per image per sample. With the classifier
  frozen, features and ``log P(y|x)`` are fixed and a pass is a scalar loop (100 epochs on 4,000
  images took 7.8-8.9 s on one CPU thread, ``docs/baselines.md``).
* **The policy is the logistic on standardised features**, ``σ(w·(s − μ)/σ + b)`` with per-dimension
  training-set mean/std: the same model class as ``σ(w'·s + b')`` on the raw env observation (an affine
  reparametrisation, :meth:`FengSelector.raw_weights`) that lets one learning rate fit any feature scale.
  Updates are Adam steps on the REINFORCE gradient ``(R_j − R̄)(a − p)s``, one per bag (Feng's C++ sampled
  from a copy refreshed once per pass; the port updated in place, mid-episode).
* **Bags**: ``"class"`` (default) groups images by their given label, as the released port does;
  ``"none"`` makes the whole training set one bag (the paper's text says bags were dropped). With
  ``"none"`` there is one update per epoch, so it needs more epochs.
* **The degenerate reward.** The mean log-probability of the kept set is maximised by keeping only the
  single most confident image (JuneFeng/RelationClassification-RL issue #11). We enforce a keep ratio
  ``keep_ratio`` (default 0.8, from the port's ``ratio > 0.8`` rule) through the bias alone: after every
  epoch ``b`` is recalibrated so that the mean keep probability over the states the epoch's sampled
  episodes visited equals ``keep_ratio``, and before the final selection so that the greedy pass keeps
  that fraction. Shifting ``b`` changes how
  many images are kept, not which, so the ranking remains what REINFORCE learned.

  Why this and not the alternatives: the port's checkpoint rule does not stop the collapse, it only
  returns an earlier policy (we return the final one). A DVRL-style penalty ``λ·max(ρ − mean p, 0)``
  needs λ tuned against the reward's scale; the policy gradient here is tiny (mean-of-kept rewards differ
  little between 3 samples), so any λ that holds the floor dominates Adam's normalised steps. A one-sided
  floor (raise ``b`` only when below) was tried first: the policy-gradient noise pushes ``b`` down at
  random, the floor pushes it back up, and the ratchet drifted to keeping every image (observed during
  development on the 4,000-image ``face`` scenario). Since the reward always improves by dropping one
  more image, a floor binds at the optimum anyway, so we enforce it as an equality. ``keep_ratio=None``
  trains without a guard (to show the collapse) and thresholds the raw policy.
* **Final selection**: one greedy pass per bag in a seeded order (Feng and the port decide greedily,
  ``p >= 0.5``); ``keep_probability`` is ``p`` along that pass and ``kept = p >= 0.5``.

With the paper's observation the policy sees no label, and a linear function of ``[f, mean f]`` cannot
compare an image with its bag's prototype, so this baseline can learn image-quality noise (no face,
half face) but has little handle on label flips.
"""

from __future__ import annotations

import math
import os
from typing import Literal

import numpy as np

from agents.baselines.filters import out_of_fold_probabilities
from agents.common.selection import Selection
from fer_select_env.data.dataset import FERDataset
from fer_select_env.models import ClassifierConfig, pretrain_classifier

BAG_MODES: tuple[str, ...] = ("class", "none")
FENG_SCORINGS: tuple[str, ...] = ("in_sample", "out_of_fold")


def _sigmoid(x: float) -> float:
    if x >= 0:
        return 1.0 / (1.0 + math.exp(-x))
    e = math.exp(x)
    return e / (1.0 + e)


def _sigmoid_array(x: np.ndarray) -> np.ndarray:
    return 0.5 * (1.0 + np.tanh(0.5 * np.asarray(x, dtype=np.float64)))


def policy_gradient(
    features: np.ndarray,
    mean_states: np.ndarray,
    actions: np.ndarray,
    keep_probs: np.ndarray,
    rewards: np.ndarray,
) -> np.ndarray:
    """REINFORCE gradient of the expected episode reward for a Bernoulli-logistic policy (Feng et al. 2018).

    For ``p_t = σ(w_f·f_t + w_m·m_t + b)``, ``∇ log π(a_t | s_t) = (a_t − p_t)·[f_t, m_t, 1]``; the running
    mean ``m_t`` depends on earlier actions but not on ``w``, so this is exact. The baseline is the mean
    reward of the ``E`` episodes (Feng's ``sampleTimes``). Averaged over episodes and steps so that one
    learning rate suits bags of any size.

    :param features: ``(n, F)`` the (standardised) features of the bag, in episode order
    :param mean_states: ``(E, n, F)`` the mean-of-kept part of the state at each step of each episode
    :param actions: ``(E, n)`` 1 kept / 0 removed
    :param keep_probs: ``(E, n)`` the keep probability each action was sampled from
    :param rewards: ``(E,)`` episode rewards
    :returns: ``(2F + 1,)``, the ascent direction for ``[w_f, w_m, b]``
    """
    actions = np.asarray(actions, dtype=np.float64)
    n_episodes, n = actions.shape
    rewards = np.asarray(rewards, dtype=np.float64)
    c = (actions - np.asarray(keep_probs, dtype=np.float64)) * (rewards - rewards.mean())[:, None]
    g_f = np.asarray(features, dtype=np.float64).T @ c.sum(axis=0)
    g_m = np.einsum("en,enf->f", c, np.asarray(mean_states, dtype=np.float64))
    return np.concatenate([g_f, g_m, [c.sum()]]) / (n_episodes * n)


class FengSelector:
    """The logistic instance selector of Feng et al. 2018, trained on fixed features and label log-probs.

    Array-level; :func:`feng` builds the inputs from the pre-trained classifier and wraps the result in a
    :class:`Selection`. See the module docstring for the design.

    :param lr: Adam learning rate
    :param n_samples: sampled episodes per bag per update (Feng's ``sampleTimes = 3``)
    :param keep_ratio: fraction of images to keep, enforced through the bias; ``None`` for no guard
    :param bags: ``"class"`` (one bag per given label) or ``"none"`` (one bag)
    :param seed: seeds bag orders and action sampling
    """

    def __init__(
        self,
        *,
        lr: float = 0.003,
        n_samples: int = 3,
        keep_ratio: float | None = 0.8,
        bags: Literal["class", "none"] = "class",
        seed: int = 0,
    ) -> None:
        if bags not in BAG_MODES:
            raise ValueError(f"bags must be one of {BAG_MODES}, got {bags!r}")
        if int(n_samples) < 2:
            raise ValueError(f"n_samples must be >= 2 (the baseline is their mean reward), got {n_samples}")
        if keep_ratio is not None and not 0.0 < float(keep_ratio) < 1.0:
            raise ValueError(f"keep_ratio must be in (0, 1) or None, got {keep_ratio!r}")
        if not float(lr) > 0:
            raise ValueError(f"lr must be > 0, got {lr!r}")
        self.lr = float(lr)
        self.n_samples = int(n_samples)
        self.keep_ratio = None if keep_ratio is None else float(keep_ratio)
        self.bags = bags
        self.rng = np.random.default_rng(seed)
        self.w: np.ndarray | None = None
        self.b = 0.0
        self.mu: np.ndarray | None = None
        self.sigma: np.ndarray | None = None

    # ------------------------------------------------------------------ helpers
    def _standardise(self, features: np.ndarray) -> np.ndarray:
        assert self.mu is not None and self.sigma is not None
        return (np.asarray(features, dtype=np.float64) - self.mu) / self.sigma

    @property
    def _empty_mean(self) -> np.ndarray:
        # The env's mean-of-kept is 0 before anything is kept; this is that 0 after standardisation.
        assert self.mu is not None and self.sigma is not None
        return -self.mu / self.sigma

    def make_bags(self, labels: np.ndarray) -> list[np.ndarray]:
        """Index arrays of one epoch's bags, each in a fresh random order, the bags in random order."""
        labels = np.asarray(labels)
        if self.bags == "none":
            return [self.rng.permutation(len(labels))]
        groups = [np.flatnonzero(labels == k) for k in np.unique(labels)]
        return [groups[i][self.rng.permutation(len(groups[i]))] for i in self.rng.permutation(len(groups))]

    def _run(self, fs: np.ndarray, n_episodes: int, greedy: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Play ``n_episodes`` passes over the standardised features ``fs`` (in order).

        Returns actions ``(E, n)``, logits ``(E, n)`` (keep probability ``σ(logit)``) and the mean-of-kept
        states ``(E, n, F)``.
        """
        assert self.w is not None
        n, f_dim = fs.shape
        w_f, w_m = self.w[:f_dim], self.w[f_dim:]
        base = (fs @ w_f + self.b).tolist()
        # w_m · mean(kept) = mean(w_m · kept): the sequential loop only needs scalars.
        u = (fs @ w_m).tolist()
        empty = float(self._empty_mean @ w_m)
        draws = None if greedy else self.rng.random((n_episodes, n))
        actions = np.zeros((n_episodes, n), dtype=bool)
        logits = np.empty((n_episodes, n), dtype=np.float64)
        for e in range(n_episodes):
            s, k = 0.0, 0
            row_x, row_a = logits[e], actions[e]
            row_d = None if draws is None else draws[e].tolist()
            for t in range(n):
                x = base[t] + (s / k if k else empty)
                row_x[t] = x
                keep = x >= 0.0 if row_d is None else row_d[t] < _sigmoid(x)
                if keep:
                    row_a[t] = True
                    s += u[t]
                    k += 1
        # The mean of the kept features *before* each step: the state each action was taken in.
        kept_f = actions[:, :, None] * fs[None]
        csum = np.cumsum(kept_f, axis=1) - kept_f
        count = (np.cumsum(actions, axis=1) - actions)[:, :, None]
        means = np.where(count > 0, csum / np.maximum(count, 1), self._empty_mean)
        return actions, logits, means

    def _adam_step(self, grad: np.ndarray) -> None:
        assert self.w is not None
        self._t += 1
        self._m = 0.9 * self._m + 0.1 * grad
        self._v = 0.999 * self._v + 0.001 * grad**2
        m_hat = self._m / (1 - 0.9**self._t)
        v_hat = self._v / (1 - 0.999**self._t)
        step = self.lr * m_hat / (np.sqrt(v_hat) + 1e-8)  # ascent: it is the gradient of the expected reward
        self.w += step[:-1]
        self.b += float(step[-1])

    def _greedy_pass(self, fs_all: np.ndarray, bags: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
        """Greedy decisions (``p >= 0.5``) over ``bags``: logits and kept mask, in dataset order."""
        logits = np.empty(len(fs_all), dtype=np.float64)
        kept = np.zeros(len(fs_all), dtype=bool)
        for idx in bags:
            actions, x, _ = self._run(fs_all[idx], 1, greedy=True)
            logits[idx] = x[0]
            kept[idx] = actions[0]
        return logits, kept

    def _calibrate_mean(self, logits: np.ndarray) -> float:
        """Shift ``b`` so that the mean of ``σ(logits)`` equals ``keep_ratio``; returns the shift.

        Bisection with the states held fixed (keeping more images also moves the mean-of-kept part a little).
        """
        assert self.keep_ratio is not None
        lo, hi = -1.0, 1.0
        while _sigmoid_array(logits + lo).mean() > self.keep_ratio:
            lo *= 2.0
        while _sigmoid_array(logits + hi).mean() < self.keep_ratio:
            hi *= 2.0
        for _ in range(60):
            mid = 0.5 * (lo + hi)
            if _sigmoid_array(logits + mid).mean() < self.keep_ratio:
                lo = mid
            else:
                hi = mid
        shift = 0.5 * (lo + hi)
        self.b += shift
        return shift

    # ------------------------------------------------------------------ API
    def fit(self, features: np.ndarray, log_probs: np.ndarray, labels: np.ndarray, *, epochs: int) -> list[dict]:
        """Train with REINFORCE from ``w = 0``; returns one dict per epoch.

        Each epoch: for every bag, ``n_samples`` sampled episodes and one Adam step; then ``b`` is
        recalibrated so that the mean keep probability over the epoch's sampled states, under the updated
        weights, equals the keep ratio; then one greedy pass over all bags for the record. History keys:
        ``mean_reward`` (the sampled episodes), ``kept_fraction`` (sampled actions),
        ``mean_keep_probability`` (sampled steps), ``greedy_kept_fraction`` (the greedy pass) and
        ``bias_shift`` (the recalibration).

        :param features: ``(N, F)`` state features (the env's paper observation's first half)
        :param log_probs: ``(N,)`` ``log P(y_i | x_i)`` under the frozen classifier
        :param labels: ``(N,)`` given labels (they define the bags)
        """
        features = np.asarray(features, dtype=np.float64)
        log_probs = np.asarray(log_probs, dtype=np.float64)
        if features.ndim != 2 or log_probs.shape != (len(features),) or len(labels) != len(features):
            raise ValueError("features (N, F), log_probs (N,) and labels (N,) must describe the same N images")
        if int(epochs) < 0:
            raise ValueError(f"epochs must be >= 0, got {epochs}")
        self.mu = features.mean(axis=0)
        std = features.std(axis=0)
        # Dead ReLU units have zero spread; leave them unscaled rather than divide by 0.
        self.sigma = np.where(std > 1e-8, std, 1.0)
        f_dim = features.shape[1]
        self.w = np.zeros(2 * f_dim)  # Feng and the port start from W = 0
        self.b = 0.0
        self._m = np.zeros(2 * f_dim + 1)
        self._v = np.zeros(2 * f_dim + 1)
        self._t = 0
        fs_all = self._standardise(features)
        if self.keep_ratio is not None:
            self._calibrate_mean(np.zeros(1))  # start at p = keep_ratio rather than 0.5
        # Feng's reward when an episode keeps nothing: the mean log-prob over every image.
        empty_reward = float(log_probs.mean())
        history: list[dict] = []
        for epoch in range(int(epochs)):
            rewards_sum = kept_sum = p_sum = 0.0
            steps = episodes = 0
            visited: list[tuple[np.ndarray, np.ndarray]] = []
            for idx in self.make_bags(labels):
                fs, lp = fs_all[idx], log_probs[idx]
                actions, logits, means = self._run(fs, self.n_samples, greedy=False)
                probs = _sigmoid_array(logits)
                rewards = np.array([lp[a].mean() if a.any() else empty_reward for a in actions])
                self._adam_step(policy_gradient(fs, means, actions, probs, rewards))
                if self.keep_ratio is not None:
                    visited.append((fs, means.astype(np.float32)))
                rewards_sum += float(rewards.sum())
                episodes += len(rewards)
                kept_sum += float(actions.sum())
                p_sum += float(probs.sum())
                steps += actions.size
            shift = 0.0
            if self.keep_ratio is not None:
                # Recalibrate on the states the epoch actually visited, scored with the updated weights.
                w_f, w_m = self.w[:f_dim], self.w[f_dim:]
                end_logits = np.concatenate(
                    [((fs @ w_f)[None] + means @ w_m + self.b).ravel() for fs, means in visited]
                )
                shift = self._calibrate_mean(end_logits)
            _, greedy_kept = self._greedy_pass(fs_all, self.make_bags(labels))
            history.append(
                {
                    "epoch": float(epoch),
                    "mean_reward": rewards_sum / episodes,
                    "kept_fraction": kept_sum / steps,
                    "mean_keep_probability": p_sum / steps,
                    "greedy_kept_fraction": float(greedy_kept.mean()),
                    "bias_shift": shift,
                }
            )
        return history

    def select(self, features: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The final greedy selection: keep probability per image (dataset order) and ``kept = p >= 0.5``.

        One greedy pass per bag in a seeded order. With a keep ratio, ``b`` is first shifted so that this
        pass keeps ``keep_ratio`` of the images, then the pass is replayed in the same order with the
        shifted policy; its kept fraction can differ from ``keep_ratio`` by the few decisions whose
        mean-of-kept state moved.
        """
        if self.w is None:
            raise RuntimeError("FengSelector.select called before fit")
        fs_all = self._standardise(features)
        bags = self.make_bags(labels)
        logits, kept = self._greedy_pass(fs_all, bags)
        if self.keep_ratio is not None:
            need = max(1, math.ceil(self.keep_ratio * len(logits)))
            base_b = self.b

            def replay(shift: float) -> tuple[np.ndarray, np.ndarray]:
                self.b = base_b + shift
                return self._greedy_pass(fs_all, bags)

            # Each decision moves the mean-of-kept state of the later ones, so the kept count is found by
            # replaying the pass: bracket, then bisect on the bias shift for the smallest one keeping `need`.
            start = float(-np.sort(logits)[len(logits) - need]) + 1e-9
            lo, hi, step = start, start, 1e-3
            while replay(hi)[1].sum() < need:
                lo, hi, step = hi, hi + step, step * 2
            while replay(lo)[1].sum() >= need:
                lo, hi, step = lo - step, lo, step * 2
            for _ in range(40):
                mid = 0.5 * (lo + hi)
                lo, hi = (lo, mid) if replay(mid)[1].sum() >= need else (mid, hi)
            logits, kept = replay(hi)
        return _sigmoid_array(logits), kept

    def raw_weights(self) -> tuple[np.ndarray, float]:
        """``(w', b')`` such that ``σ(w'·obs + b')`` is this policy on the env's raw paper observation."""
        if self.w is None or self.mu is None or self.sigma is None:
            raise RuntimeError("FengSelector.raw_weights called before fit")
        w_raw = self.w / np.concatenate([self.sigma, self.sigma])
        return w_raw, float(self.b - w_raw @ np.concatenate([self.mu, self.mu]))

    def keep_probability(self, observations: np.ndarray) -> np.ndarray:
        """Keep probability for FERSelect-v0 paper observations, ``(N, 2F)`` or one ``(2F,)``."""
        w_raw, b_raw = self.raw_weights()
        return _sigmoid_array(np.asarray(observations, dtype=np.float64) @ w_raw + b_raw)


def frozen_classifier_inputs(
    dataset: FERDataset,
    *,
    seed: int = 0,
    scoring: Literal["in_sample", "out_of_fold"] = "in_sample",
    config: ClassifierConfig | None = None,
    device: str = "cpu",
    cache_dir: str | os.PathLike | None = None,
    classifier_seed: int | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """What Feng's selector sees and is rewarded by: state features ``(N, F)`` and ``log P(y_i | x_i)`` ``(N,)``.

    The features are the pre-trained classifier's ``head_features`` of its ``conv_features``, which is what
    FERSelect-v0 puts in the first half of its paper observation when it starts from the same classifier
    (``config``, ``classifier_seed`` (default ``seed``), ``cache_dir``). ``scoring`` as in :func:`feng`.
    """
    if scoring not in FENG_SCORINGS:
        raise ValueError(f"scoring must be one of {FENG_SCORINGS}, got {scoring!r}")
    clf, _ = pretrain_classifier(
        dataset,
        config or ClassifierConfig(),
        device=device,
        seed=seed if classifier_seed is None else classifier_seed,
        cache_dir=cache_dir,
    )
    z = clf.conv_features(dataset.x_train)
    features = clf.head_features(z)
    if scoring == "in_sample":
        probs = clf.head_proba(z).astype(np.float64)
    else:
        probs = out_of_fold_probabilities(dataset, seed=seed, classifier=clf, device=device)
    y = dataset.y_train
    return features, np.log(np.clip(probs[np.arange(len(y)), y], 1e-12, None))


def feng(
    dataset: FERDataset,
    *,
    seed: int = 0,
    epochs: int = 100,
    lr: float = 0.003,
    bags: Literal["class", "none"] = "class",
    n_samples: int = 3,
    keep_ratio: float | None = 0.8,
    scoring: Literal["in_sample", "out_of_fold"] = "in_sample",
    config: ClassifierConfig | None = None,
    device: str = "cpu",
    cache_dir: str | os.PathLike | None = None,
    classifier_seed: int | None = None,
) -> Selection:
    """Feng et al. 2018's selector against the frozen pre-trained classifier (the paper's "DCNN+Sigmoid").

    Loads (or pre-trains) the classifier FERSelect-v0 starts from (``config``, ``classifier_seed``, default
    ``seed``, ``cache_dir``), computes its state features and ``log P(y|x)``, trains a
    :class:`FengSelector` for ``epochs`` passes and returns its greedy selection. ``scoring="in_sample"``
    (default) scores with the frozen classifier itself, as the port does (it has seen every label);
    ``"out_of_fold"`` uses :func:`agents.baselines.filters.out_of_fold_probabilities` (head method, same trunk).
    ``history`` has one dict per epoch (see :meth:`FengSelector.fit`); ``info`` the settings.
    """
    # Built first so that bad arguments fail before a possibly minute-long pre-training.
    selector = FengSelector(lr=lr, n_samples=n_samples, keep_ratio=keep_ratio, bags=bags, seed=seed)
    features, log_probs = frozen_classifier_inputs(
        dataset,
        seed=seed,
        scoring=scoring,
        config=config,
        device=device,
        cache_dir=cache_dir,
        classifier_seed=classifier_seed,
    )
    y = dataset.y_train
    history = selector.fit(features, log_probs, y, epochs=epochs)
    keep_p, kept = selector.select(features, y)
    info = {
        "selector": "feng",
        "bags": bags,
        "epochs": int(epochs),
        "lr": float(lr),
        "n_samples": int(n_samples),
        "keep_ratio": keep_ratio,
        "scoring": scoring,
        "threshold": 0.5,
        "kept_fraction": float(kept.mean()),
        "mean_keep_probability": float(keep_p.mean()),
    }
    return Selection(keep_probability=keep_p, kept=kept, history=history, info=info)
