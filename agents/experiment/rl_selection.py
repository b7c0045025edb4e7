"""RL selectors for the benchmark: train an agent on FERSelect-v0, then read its keep probability per image.

The settings here are the ones that learn on the synthetic default (measured in ``docs/results.md``);
``examples/train_reinforce.py`` and ``examples/train_ppo.py`` use the same ones. The agent registry
(:mod:`agents.experiment.registry`) names the selectors and builders defined here.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np
from stable_baselines3 import PPO
from stable_baselines3.common.base_class import BaseAlgorithm
from stable_baselines3.common.callbacks import CallbackList
from stable_baselines3.common.monitor import Monitor
from stable_baselines3.common.vec_env import DummyVecEnv, VecNormalize

from agents.baselines.filters import out_of_fold_probabilities
from agents.common.budget import capped_policy_mask, choose_budget, estimate_class_noise, noise_record
from agents.common.callbacks import HISTORY_KEYS, BestPassPolicy, EpisodeHistory, pretrain_row
from agents.common.inference import keep_probability_function
from agents.common.selection import Selection
from agents.experiment.settings import RLSettings
from agents.grpo import GRPO
from agents.reinforce import REINFORCE
from fer_select_env.data.dataset import FERDataset
from fer_select_env.envs.select.env import FERSelectEnv

__all__ = [
    "GRPO_SELECTION_KWARGS",
    "HISTORY_KEYS",
    "PPO_ENV_KWARGS",
    "PPO_KWARGS",
    "EpisodeHistory",
    "RLSettings",
    "build_ppo",
    "build_reinforce",
    "grpo_selector",
    "make_selection_env",
    "ppo_rollout_steps",
    "ppo_selector",
    "ppo_steps_per_pass",
    "reinforce_selector",
    "reinforce_steps_per_pass",
    "selection_pass",
    "train_reinforce",
]

REINFORCE_BATCH_SIZE = 256
"""The benchmark's REINFORCE minibatch (REINFORCE's default): one pass over n images is ceil(n/256) steps."""


def make_selection_env(
    dataset: FERDataset,
    observation: str,
    seed: int,
    settings: RLSettings,
    env_class: type[FERSelectEnv] = FERSelectEnv,
    **kwargs: Any,
) -> FERSelectEnv:
    """The env every RL selector of the benchmark trains on (classifier pre-training seeded by ``seed``);
    ``env_class`` is FERSelect-v0's class or a variant of it (FERSelectRelabel-v0's). ``kwargs`` are the
    agent's own env arguments; the user's ``settings.extra_env_kwargs`` override them (``--eq2-baseline
    class_prior`` must reach PPO, whose bundled per-step reward uses the ``mean`` baseline)."""
    env_kwargs: dict[str, Any] = {
        "observation": observation,
        "persistent_classifier": settings.persistent_classifier,
        "classifier_config": settings.classifier_config,
        "classifier_seed": seed,
        "device": settings.device,
        "cache_dir": settings.cache_dir,
        **kwargs,
        **settings.extra_env_kwargs,
    }
    return env_class(dataset, **env_kwargs)


def selection_pass(env: FERSelectEnv, keep_probability: Callable[[np.ndarray], float], seed: int) -> Selection:
    """One deterministic pass: keep an image iff its keep probability is above 1/2; record every probability.

    The keep probabilities are indexed by training image (``info["sample_index"]``), so the result is in
    dataset order whatever the pass's shuffled order.
    """
    n = len(env.dataset.y_train)
    probs = np.full(n, np.nan)
    obs, info = env.reset(seed=seed)
    done = False
    while not done:
        index = info["sample_index"]
        p = float(keep_probability(obs))
        probs[index] = p
        obs, _reward, done, _truncated, info = env.step(int(p > 0.5))
    if np.isnan(probs).any():
        raise RuntimeError("the selection pass did not visit every training image (episode_size < train size?)")
    rewards = np.zeros(n)
    rewards[info["sample_indices"]] = info["sample_rewards"]
    return Selection(keep_probability=probs, kept=probs > 0.5, sample_rewards=rewards)


COLLAPSE_KEPT_FRACTIONS: tuple[float, float] = (0.05, 0.995)
"""A policy that keeps less than the first or more than the second share of the images has collapsed."""


def collapsed(kept_fraction: float) -> bool:
    """Whether a selection keeping this share of the images has collapsed (:data:`COLLAPSE_KEPT_FRACTIONS`)."""
    low, high = COLLAPSE_KEPT_FRACTIONS
    return not low <= kept_fraction <= high


def apply_selection_rule(
    env: FERSelectEnv, selection: Selection, seed: int, settings: RLSettings, agent: str
) -> Selection:
    """Turn the trained policy's keep probabilities into the selection, by ``settings.selection_rule``.

    ``"class_budget"``: the probabilities rank each class and :func:`~agents.common.budget.choose_budget`
    picks on validation how much of each class's estimated noise goes (out-of-fold head probabilities of the
    env's pre-trained classifier estimate it). ``"policy_capped"``: the policy's own decision, with no class
    losing more than that estimated noise (:func:`~agents.common.budget.capped_policy_mask`). ``"policy"``:
    the policy's decision as it is. A collapsed policy (:data:`COLLAPSE_KEPT_FRACTIONS`) is warned about
    under every rule; under the two capped ones its selection cannot collapse towards removing everything,
    since no class loses more than its estimated noise.
    """
    if selection.train_labels is not None:
        return selection  # a relabelling selection: its actions are the selection
    policy_kept = float(selection.kept.mean())
    selection.info["policy_kept_fraction"] = policy_kept
    if collapsed(policy_kept):
        rescue = {
            "class_budget": "the class budget chosen on validation decides the selection instead",
            "policy_capped": "no class loses more than its estimated noise (selection_rule='policy_capped')",
            "policy": "its selection is used as it is (selection_rule='policy')",
        }[settings.selection_rule]
        warnings.warn(
            f"{agent}: the trained policy keeps {100 * policy_kept:.1f} % of the images (it collapsed); {rescue}",
            RuntimeWarning,
            stacklevel=3,
        )
    if settings.selection_rule == "policy":
        return selection
    assert env.classifier is not None
    dataset = env.dataset
    oof = out_of_fold_probabilities(dataset, seed=seed, classifier=env.classifier)
    if settings.selection_rule == "policy_capped":
        noise = estimate_class_noise(dataset.y_train, oof, dataset.num_classes)
        kept = capped_policy_mask(selection.keep_probability, dataset.y_train, noise)
        selection.info.update(
            selection_rule="policy_capped",
            estimated_noise_by_class=noise_record(noise),
            cap_restored=int((kept & ~selection.kept).sum()),
        )
        selection.kept = kept
        return selection
    choice = choose_budget(dataset, env.classifier, selection.keep_probability, oof, seed=seed)
    selection.kept = choice.kept
    selection.info.update(selection_rule="class_budget", **choice.to_info())
    return selection


def build_reinforce(env: Any, seed: int, settings: RLSettings, policy: str = "MlpPolicy") -> REINFORCE:
    """The benchmark's REINFORCE (also what ``fer-select train`` builds); ``policy`` names its policy."""
    return REINFORCE(
        policy,
        env,
        batch_size=REINFORCE_BATCH_SIZE,
        learning_rate=settings.learning_rate,
        reward_scaling=settings.reward_scaling,
        seed=seed,
        device=settings.device,
        tensorboard_log=settings.tensorboard_log,
        verbose=settings.verbose,
    )


def reinforce_steps_per_pass(n_images: int) -> int:
    """Gradient steps of the benchmark's REINFORCE per pass of ``n_images`` (one epoch of minibatches)."""
    return math.ceil(n_images / REINFORCE_BATCH_SIZE)


def ppo_batch_size(n_images: int) -> int:
    """PPO's minibatch on passes of ``n_images``: :data:`PPO_KWARGS`' batch, at most one pass."""
    return min(PPO_KWARGS["batch_size"], n_images)


def ppo_steps_per_pass(n_images: int) -> int:
    """Gradient steps of the benchmark's PPO per pass of ``n_images``: ``n_epochs`` epochs of minibatches."""
    return PPO_KWARGS["n_epochs"] * math.ceil(n_images / ppo_batch_size(n_images))


def ppo_rollout_steps(n_images: int) -> int:
    """PPO's ``n_steps`` on passes of ``n_images``: one pass, at most SB3's default of 2048."""
    return min(2048, n_images)


def build_ppo(vec_env: Any, seed: int, settings: RLSettings, n_images: int) -> PPO:
    """The benchmark's PPO on a ``VecNormalize``-wrapped env of ``n_images`` images per pass."""
    return PPO(
        "MlpPolicy",
        vec_env,
        learning_rate=settings.ppo_learning_rate,
        n_steps=ppo_rollout_steps(n_images),
        batch_size=ppo_batch_size(n_images),
        seed=seed,
        device=settings.device,
        tensorboard_log=settings.tensorboard_log,
        verbose=settings.verbose,
        **{k: v for k, v in PPO_KWARGS.items() if k != "batch_size"},
    )


def train_reinforce(
    env: FERSelectEnv, seed: int, settings: RLSettings, tb_log_name: str, policy: str = "MlpPolicy"
) -> tuple[REINFORCE, list, BestPassPolicy]:
    """The benchmark's REINFORCE on ``env``: §3.3 pre-training, then Algorithm 1, for the passes of
    ``settings`` (already scaled); returns the model, the learning passes' history and the policy of the
    learning pass with the best validation macro-F1."""
    model = build_reinforce(Monitor(env), seed, settings, policy=policy)
    model.pretrain(settings.pretrain_episodes, progress_bar=settings.progress_bar)
    history, best = EpisodeHistory(), BestPassPolicy()
    n = env.episode_size
    model.learn(
        settings.episodes * n,
        callback=CallbackList([history, best]),
        tb_log_name=tb_log_name,
        progress_bar=settings.progress_bar,
    )
    return model, history.history, best


def fall_back_to_best_pass(
    env: FERSelectEnv, model: REINFORCE, best: BestPassPolicy, selection: Selection, seed: int, agent: str
) -> Selection:
    """Issue 13's divergence guard: when the final policy's own selection collapsed, take the policy of the
    learning pass with the best validation macro-F1 (:class:`~agents.common.callbacks.BestPassPolicy`)
    instead, if its selection does not collapse, and warn either way. ``selection.info`` records
    ``fallback_pass`` (``None``: no fallback) and the final policy's kept share."""
    final_kept = float(selection.kept.mean())
    selection.info["fallback_pass"] = None
    if not collapsed(final_kept) or best.best_state is None:
        return selection
    final_state = {k: v.detach().clone() for k, v in model.policy.state_dict().items()}
    model.policy.load_state_dict(best.best_state)
    fallback = selection_pass(env, keep_probability_function(model), seed)
    fallback_kept = float(fallback.kept.mean())
    if collapsed(fallback_kept):
        model.policy.load_state_dict(final_state)
        warnings.warn(
            f"{agent}: the final policy keeps {100 * final_kept:.1f} % of the images and the best pass by "
            f"validation ({best.best_pass}) {100 * fallback_kept:.1f} %: both collapsed, the final one is kept",
            RuntimeWarning,
            stacklevel=3,
        )
        return selection
    warnings.warn(
        f"{agent}: the final policy keeps {100 * final_kept:.1f} % of the images (it collapsed); falling back to "
        f"learning pass {best.best_pass}, the best by validation macro-F1 ({best.best_score:.3f}), which keeps "
        f"{100 * fallback_kept:.1f} %",
        RuntimeWarning,
        stacklevel=3,
    )
    fallback.info.update(selection.info)
    fallback.info.update(
        fallback_pass=best.best_pass, fallback_val_macro_f1=best.best_score, final_policy_kept_fraction=final_kept
    )
    return fallback


def reinforce_selector(observation: str) -> Callable[..., Selection]:
    """The benchmark's ``reinforce`` (``observation="label_aware"``) or ``reinforce_paper`` (``"paper"``)."""

    def select(dataset: FERDataset, *, seed: int = 0, settings: RLSettings | None = None) -> Selection:
        settings = settings or RLSettings()
        env = make_selection_env(dataset, observation, seed, settings)
        settings = settings.scaled(reinforce_steps_per_pass(env.episode_size))
        model, history, best = train_reinforce(env, seed, settings, f"reinforce_{observation}")
        selection = selection_pass(env, keep_probability_function(model), seed)
        selection = fall_back_to_best_pass(env, model, best, selection, seed, f"reinforce ({observation})")
        selection.history = [*[pretrain_row(s) for s in model.pretrain_history], *history]
        selection.info.update(
            pretrain_episodes=settings.pretrain_episodes, episodes=settings.episodes, observation=observation
        )
        return apply_selection_rule(env, selection, seed, settings, f"reinforce ({observation})")

    return select


PPO_ENV_KWARGS: dict[str, Any] = {"reward": "per_step", "baseline": "mean"}
"""The env PPO learns on: dense per-step rewards ``a_i·R_i`` with the ``mean`` baseline of Eq. 2. With the
``uniform`` baseline (and the default ``class_prior``, ≈ 1/K on balanced data) a mislabelled image's reward is
close to 0 (≈ -0.02 on the synthetic default), and PPO's value-baseline advantage then has nothing to
separate; centring on the mean makes it ≈ -0.5."""

PPO_KWARGS: dict[str, Any] = {
    "gamma": 0.0,
    "n_epochs": 4,
    "batch_size": 256,
    "ent_coef": 0.0,
    "gae_lambda": 1.0,
}
"""PPO settings that learn on FERSelect-v0 with ``reward="per_step"``. Each decision's per-step reward
``a_i·R_i`` depends only on that decision, so the honest discount is 0 (with the terminal Eq. 3 reward and
SB3's default ``gamma=0.99`` the reward would be invisible to all but the last few hundred decisions)."""


def ppo_selector(dataset: FERDataset, *, seed: int = 0, settings: RLSettings | None = None) -> Selection:
    """SB3's PPO, unmodified, on the label-aware env with the dense per-step reward (:data:`PPO_ENV_KWARGS`)
    and SB3's ``VecNormalize`` for the observations."""
    settings = settings or RLSettings()
    env = make_selection_env(dataset, "label_aware", seed, settings, **PPO_ENV_KWARGS)
    n = env.episode_size
    settings = settings.scaled(ppo_steps_per_pass(n))
    vec = VecNormalize(DummyVecEnv([lambda: Monitor(env)]), norm_obs=True, norm_reward=False)
    model: BaseAlgorithm = build_ppo(vec, seed, settings, n)
    history = EpisodeHistory()
    total = (settings.episodes + settings.pretrain_episodes) * n
    model.learn(total, callback=CallbackList([history]), tb_log_name="ppo", progress_bar=settings.progress_bar)

    vec.training = False
    selection = selection_pass(env, keep_probability_function(model, vec), seed)
    selection.history = history.history
    selection.info.update(episodes=settings.episodes + settings.pretrain_episodes, **PPO_KWARGS)
    return apply_selection_rule(env, selection, seed, settings, "ppo")


GRPO_SELECTION_KWARGS: dict[str, Any] = {
    "group_size": 4,
    "prompts_per_update": 1,
    "learning_rate": 1e-3,
    "reward_clip": None,
}
"""GRPO on FERSelect-v0: a group is G = 4 passes over the same image order (one reset seed), whose Eq. 3
returns give the group baseline; every decision of a pass shares its pass's advantage. The returns are sums
over thousands of images, so Facial-R1's clip to [−10, 10] is off."""


def grpo_selector(dataset: FERDataset, *, seed: int = 0, settings: RLSettings | None = None) -> Selection:
    """The bundled GRPO (:class:`agents.grpo.GRPO`) on the label-aware env with Eq. 3's terminal reward, behind
    SB3's ``VecNormalize`` for the observations; as many passes as the other RL agents get. One advantage
    per pass for thousands of decisions is a weak signal: it is benchmarked as the group-baseline
    counterpart of REINFORCE's per-image one."""
    settings = settings or RLSettings()
    env = make_selection_env(dataset, "label_aware", seed, settings)
    n = env.episode_size
    vec = VecNormalize(DummyVecEnv([lambda: Monitor(env)]), norm_obs=True, norm_reward=False)
    model = GRPO("MlpPolicy", vec, rollout="env", seed=seed, device=settings.device, **GRPO_SELECTION_KWARGS)
    passes = settings.episodes + settings.pretrain_episodes
    model.learn(passes * n, progress_bar=settings.progress_bar)
    vec.training = False
    selection = selection_pass(env, keep_probability_function(model, vec), seed)
    selection.history = [dict(h) for h in model.history]
    selection.info.update(episodes=passes, **GRPO_SELECTION_KWARGS)
    return apply_selection_rule(env, selection, seed, settings, "grpo")
