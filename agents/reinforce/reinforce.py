"""REINFORCE for image selection (Li & Xu 2020, Eq. 4-6 and Algorithm 1), on Stable-Baselines3's API."""

from __future__ import annotations

import io
import pathlib
from typing import Any, ClassVar, TypeVar

import numpy as np
import torch as th
from gymnasium import spaces
from stable_baselines3.common.base_class import BaseAlgorithm
from stable_baselines3.common.policies import BasePolicy
from stable_baselines3.common.type_aliases import GymEnv, MaybeCallback, Schedule
from stable_baselines3.common.utils import obs_as_tensor, update_learning_rate

from agents.common.callbacks import HISTORY_KEYS
from agents.reinforce.policies import CategoricalSelectorPolicy, MultiBinarySelectorPolicy, SelectorPolicy
from fer_select_env.core.checks import check_positive_int

SelfREINFORCE = TypeVar("SelfREINFORCE", bound="REINFORCE")


def selection_advantages(sample_rewards: np.ndarray, actions: np.ndarray, keep_probs: np.ndarray) -> np.ndarray:
    """Per-decision advantages for a Bernoulli selector from per-image rewards ``R_i`` (Eq. 2).

    Eq. 3 decomposes over images: decision i contributes ``a_i · R_i``. With the action-independent baseline
    ``p_i · R_i`` (its expectation under the policy) the advantage is ``(a_i − p_i) · R_i``: keeping an
    image with ``R_i > 0`` and removing one with ``R_i < 0`` are reinforced, and in expectation the update
    is ``Σ_i R_i ∇p_i``, the exact gradient of the expected Eq. 3.
    """
    return (np.asarray(actions, np.float64) - np.asarray(keep_probs, np.float64)) * np.asarray(sample_rewards)


def expected_action_advantages(
    rewards_by_action: np.ndarray, actions: np.ndarray, action_probs: np.ndarray
) -> np.ndarray:
    """Per-decision advantages for a categorical selector from per-image rewards of every action.

    With ``R_i(a)`` the reward decision i would earn with action a (FERSelectRelabel-v0's
    ``info["sample_rewards_by_action"]``: 0 for remove, Eq. 2 under the given or the predicted label), the
    advantage of the action taken is ``R_i(a_i) − Σ_a π(a|s_i) R_i(a)``: its reward minus its expected reward
    under the policy, an action-independent baseline. The expected update is ``Σ_i Σ_a R_i(a) ∇π(a|s_i)``, the
    exact gradient of the expected Eq. 3. With two actions and ``R_i = [0, R_i]`` it is
    :func:`selection_advantages`' ``(a_i − p_i)·R_i``.

    :param rewards_by_action: n×A
    :param actions: n action indices
    :param action_probs: n×A, ``π(a|s_i)``
    """
    r = np.asarray(rewards_by_action, np.float64)
    probs = np.asarray(action_probs, np.float64)
    actions = np.asarray(actions, np.int64)
    if r.ndim != 2 or r.shape != probs.shape or actions.shape != (len(r),):
        raise ValueError(
            f"rewards_by_action {r.shape}, action_probs {probs.shape} and actions {actions.shape} must be n×A, "
            "n×A and n"
        )
    return r[np.arange(len(r)), actions] - (probs * r).sum(axis=1)


REWARD_SCALINGS: tuple[str, ...] = ("balanced", "sign", "std", "none")


def scale_sample_rewards(sample_rewards: np.ndarray, scaling: str) -> np.ndarray:
    """Rescale per-image rewards ``R_i`` before they weight the log-probabilities (Eq. 6).

    Every option multiplies each ``R_i`` by a positive factor, so the sign of every image's reward, and
    with it the optimum of Eq. 3 (keep exactly the images with ``R_i > 0``), is unchanged. They differ in
    how the images share the network's capacity:

    * ``"std"``: divide by the episode's standard deviation of ``R`` (plain REINFORCE with a normalised
      advantage). Under 30 % label noise a clean image carries ``R ≈ +0.6`` and a mislabelled one
      ``R ≈ -0.05``, so the "keep" direction outweighs the "remove" one by two orders of magnitude and the
      selector drifts to keeping everything.
    * ``"balanced"``: divide positive rewards by their mean and negative rewards by the mean of their
      magnitude. Each image then pulls with a weight of order one in its own direction, as in a weighted
      classification of "keep" against "remove".
    * ``"none"``: use ``R_i`` as it is.
    """
    r = np.asarray(sample_rewards, dtype=np.float64)
    if scaling == "none" or r.size == 0:
        return r.copy()
    if scaling == "std":
        return r / (r.std() + 1e-8)
    if scaling in ("balanced", "sign"):
        out = np.zeros_like(r)
        for mask in (r > 0, r < 0):
            if mask.any():
                group_weight = r.size / (2.0 * mask.sum()) if scaling == "balanced" else 1.0
                out[mask] = group_weight * r[mask] / (np.abs(r[mask]).mean() + 1e-8)
        return out
    raise ValueError(f"reward_scaling must be one of {REWARD_SCALINGS}, got {scaling!r}")


def scale_rewards_by_action(rewards_by_action: np.ndarray, scaling: str) -> np.ndarray:
    """:func:`scale_sample_rewards` for per-action rewards ``R_i(a)`` (n×A), action 0 the reference (remove).

    Each image's row is measured from its action-0 reward and multiplied by one positive factor: the one
    :func:`scale_sample_rewards` gives the image's best keeping reward ``max_{a>0} R_i(a) − R_i(0)`` among the
    episode's. The sign of that best reward says whether the image should be kept at all (in whichever form), so
    ``"balanced"`` balances the images worth keeping against those worth removing as with two actions, and
    the margin between keeping and relabelling an image is scaled with it. A positive factor per row, and a
    shift of the row (to which the advantage is blind), keep every image's best action unchanged. With two
    actions and ``R_i(0) = 0`` the result is exactly :func:`scale_sample_rewards` of ``R_i(1)``. A row whose
    best keeping reward is exactly 0 gets factor 0 (with two actions such an image carries no gradient
    either), except under ``"none"``, which returns the rows as they are.
    """
    r = np.asarray(rewards_by_action, dtype=np.float64)
    if r.ndim != 2 or r.shape[1] < 2:
        raise ValueError(f"rewards_by_action must be n×A with A >= 2 actions, got shape {r.shape}")
    if scaling not in REWARD_SCALINGS:
        raise ValueError(f"reward_scaling must be one of {REWARD_SCALINGS}, got {scaling!r}")
    if scaling == "none" or r.size == 0:
        return r.copy()
    relative = r - r[:, :1]
    best = relative[:, 1:].max(axis=1)
    if scaling == "std":
        return relative / (best.std() + 1e-8)
    scaled = scale_sample_rewards(best, scaling)
    factor = np.divide(scaled, best, out=np.zeros_like(best), where=best != 0)
    return relative * factor[:, None]


RETURN_BASELINES: tuple[str, ...] = ("episode_mean", "running")
"""The baseline of the reward-to-go on envs without per-image rewards (:class:`REINFORCE`'s
``return_baseline``)."""

RUNNING_BASELINE_RATE = 0.02
"""The step size of the running baseline and of its running variance (about the last 50 episodes)."""


def reward_to_go(rewards: np.ndarray, gamma: float) -> np.ndarray:
    """``G_t = Σ_{k>=t} γ^{k-t} r_k`` for an env without per-image rewards."""
    out = np.zeros(len(rewards), dtype=np.float64)
    running = 0.0
    for t in range(len(rewards) - 1, -1, -1):
        running = rewards[t] + gamma * running
        out[t] = running
    return out


class REINFORCE(BaseAlgorithm):
    """
    REINFORCE (Williams 1992) as used by RLPS to train the image selector (Eq. 4-6, Algorithm 1).

    Paper: Li & Xu 2020, "Deep reinforcement learning for robust emotional classification in facial
    expression recognition", Knowledge-Based Systems 204.

    Each finished episode gives one update. On FERSelect-v0 the terminal ``info["sample_rewards"]`` holds
    ``R_i`` for every decision; the advantage of decision i is ``(a_i − p_i) · R_i`` (see
    :func:`selection_advantages`), with ``R_i`` rescaled by ``reward_scaling``. With
    ``policy="CategoricalMlpPolicy"`` it acts on ``Discrete(n)``; where the terminal info has
    ``sample_rewards_by_action`` (FERSelectRelabel-v0) the advantage is ``R_i(a_i) − Σ_a π(a|s_i) R_i(a)``
    (:func:`expected_action_advantages`, rows rescaled by :func:`scale_rewards_by_action`). On other envs
    (no per-image rewards) the advantage is the reward-to-go minus its episode mean. The update is
    ``n_epochs`` passes over the episode in gradient-clipped minibatches. :meth:`pretrain` runs the
    paper's selector pre-training against the fixed classifier (§3.3).

    :param policy: ``"MlpPolicy"`` (the paper's 5-layer selector, Discrete(2)), ``"CategoricalMlpPolicy"``
        (its softmax twin for Discrete(n)), ``"MultiBinaryMlpPolicy"`` (one Bernoulli per bit of
        MultiBinary(n), a set at once) or a policy class
    :param env: the environment (a Gymnasium env, a VecEnv, or an id string)
    :param learning_rate: Adam learning rate (constant or schedule)
    :param batch_size: minibatch size of the single pass over each finished episode
    :param gamma: discount for the reward-to-go fallback
    :param reward_scaling: how ``R_i`` is rescaled before weighting the log-probabilities:
        ``"balanced"`` (default), ``"std"`` or ``"none"``; see :func:`scale_sample_rewards`, and for per-action
        rewards :func:`scale_rewards_by_action` (one factor per image, from its best keeping reward). On envs
        without per-image rewards, anything but ``"none"`` divides the centred reward-to-go by its std.
    :param return_baseline: on envs without per-image rewards, what the reward-to-go ``G_t`` is compared
        with: ``"episode_mean"`` (default; the mean of ``G`` over the episode, right for FERSelect's long
        passes) or ``"running"``: ``b_t``, a running mean of ``G_t`` per step index over past episodes, and
        the advantage is divided by a running standard deviation (with ``reward_scaling`` other than
        ``"none"``). Short episodes need the running one: on FERSequence-v0 an episode that commits at its
        first frame has one step, whose centred return is 0 under ``"episode_mean"``.
    :param episodes_per_update: finished episodes per update (1: the paper's one update per pass). Short
        episodes need more: FEROpenVocabSet-v0's are one step long. ``learn`` ends with an update on any
        episodes still waiting, so none is lost at its return (or at a checkpoint between calls).
    :param n_epochs: passes over each finished episode
    :param max_grad_norm: gradient clipping
    :param ent_coef: entropy bonus coefficient
    :param policy_kwargs: extra policy arguments (e.g. ``net_arch``)
    :param stats_window_size: window for ``rollout/`` statistics
    :param tensorboard_log: TensorBoard log directory
    :param verbose: 0 silent, 1 info
    :param seed: random seed
    :param device: ``"cpu"``, ``"cuda"`` or ``"auto"``
    :param _init_setup_model: build the network at construction
    """

    policy_aliases: ClassVar[dict[str, type[BasePolicy]]] = {
        "MlpPolicy": SelectorPolicy,
        "CategoricalMlpPolicy": CategoricalSelectorPolicy,
        "MultiBinaryMlpPolicy": MultiBinarySelectorPolicy,
    }
    policy: SelectorPolicy

    def __init__(
        self,
        policy: str | type[SelectorPolicy],
        env: GymEnv | str,
        learning_rate: float | Schedule = 1e-3,
        batch_size: int = 256,
        gamma: float = 1.0,
        reward_scaling: str = "balanced",
        n_epochs: int = 1,
        return_baseline: str = "episode_mean",
        episodes_per_update: int = 1,
        max_grad_norm: float = 0.5,
        ent_coef: float = 0.0,
        policy_kwargs: dict[str, Any] | None = None,
        stats_window_size: int = 100,
        tensorboard_log: str | None = None,
        verbose: int = 0,
        seed: int | None = None,
        device: th.device | str = "auto",
        _init_setup_model: bool = True,
    ) -> None:
        super().__init__(
            policy,
            env,
            learning_rate,
            policy_kwargs=policy_kwargs,
            stats_window_size=stats_window_size,
            tensorboard_log=tensorboard_log,
            verbose=verbose,
            device=device,
            support_multi_env=True,
            seed=seed,
            supported_action_spaces=(spaces.Discrete, spaces.MultiBinary),
        )
        self.batch_size = batch_size
        self.gamma = gamma
        if reward_scaling not in REWARD_SCALINGS:
            raise ValueError(f"reward_scaling must be one of {REWARD_SCALINGS}, got {reward_scaling!r}")
        if int(n_epochs) < 1:
            raise ValueError(f"n_epochs must be >= 1, got {n_epochs}")
        self.reward_scaling = reward_scaling
        if return_baseline not in RETURN_BASELINES:
            raise ValueError(f"return_baseline must be one of {RETURN_BASELINES}, got {return_baseline!r}")
        self.return_baseline = return_baseline
        self._baseline: list[float] = []  # the running b_t, one per step index seen
        self._baseline_var = 1.0
        self.n_epochs = int(n_epochs)
        self.episodes_per_update = check_positive_int("episodes_per_update", episodes_per_update)
        self.max_grad_norm = max_grad_norm
        self.ent_coef = ent_coef
        self._n_updates = 0
        self.pretrain_history: list[dict[str, float]] = []
        if _init_setup_model:
            self._setup_model()

    def _setup_model(self) -> None:
        self._setup_lr_schedule()
        self.set_random_seed(self.seed)
        kwargs = dict(self.policy_kwargs)
        if issubclass(self.policy_class, SelectorPolicy) and "feature_dim" not in kwargs:
            kwargs["feature_dim"] = self._env_feature_dim()
            # Saved with the model, so that a loaded model keeps the same normalisation without an env.
            self.policy_kwargs["feature_dim"] = kwargs["feature_dim"]
        self.policy = self.policy_class(  # type: ignore[assignment]
            self.observation_space, self.action_space, self.lr_schedule, **kwargs
        ).to(self.device)

    def _env_feature_dim(self) -> int | None:
        """FERSelect-v0's feature size F when the env is one (its observation starts with two F-blocks)."""
        if self.env is None:
            return None
        try:
            value = self.env.get_attr("feature_dim")[0]
        except AttributeError:
            return None
        shape = self.observation_space.shape
        if isinstance(value, int) and shape is not None and len(shape) == 1 and 0 < 2 * value <= shape[0]:
            return value
        return None

    def train_on_episode(self, obs: np.ndarray, actions: np.ndarray, rewards: np.ndarray, info: dict) -> dict:
        """One policy-gradient step on a finished episode (Algorithm 1, line 15); returns its statistics."""
        return self.train_on_episodes([(obs, actions, rewards, info)])

    def train_on_episodes(self, episodes: list[tuple[np.ndarray, np.ndarray, np.ndarray, dict]]) -> dict:
        """One policy-gradient step on finished episodes ``(obs, actions, rewards, terminal info)``: each
        episode's advantages are computed on their own (:meth:`episode_advantages`), then the update runs
        ``n_epochs`` passes over all their decisions together. Returns the update's statistics, the env
        keys of the last episode's info."""
        self.policy.set_training_mode(True)
        learning_rate = self.lr_schedule(self._current_progress_remaining)
        update_learning_rate(self.policy.optimizer, learning_rate)
        obs_t = th.as_tensor(np.concatenate([np.asarray(e[0]) for e in episodes]), device=self.device).float()
        act_t = th.as_tensor(np.concatenate([np.asarray(e[1]) for e in episodes]), device=self.device)
        self.policy.update_normalizer(obs_t)
        parts, start = [], 0
        for _, actions, rewards, info in episodes:
            stop = start + len(actions)
            parts.append(self.episode_advantages(obs_t[start:stop], np.asarray(actions), rewards, info))
            start = stop
        adv_t = th.as_tensor(np.concatenate([adv for adv, _, _ in parts]), device=self.device).float()
        keep_probs = np.concatenate([keep for _, keep, _ in parts])
        losses, entropies = [], []
        order = th.cat([th.randperm(len(act_t), device=self.device) for _ in range(self.n_epochs)])
        for first in range(0, len(order), self.batch_size):
            idx = order[first : first + self.batch_size]
            log_prob = self.policy.log_prob(obs_t[idx], act_t[idx])
            entropy = self.policy.entropy(obs_t[idx]).mean()
            policy_loss = -(adv_t[idx] * log_prob).mean()
            loss = policy_loss - self.ent_coef * entropy + self.auxiliary_loss(obs_t[idx])
            self.policy.optimizer.zero_grad()
            loss.backward()
            th.nn.utils.clip_grad_norm_(self.policy.parameters(), self.max_grad_norm)
            self.policy.optimizer.step()
            losses.append(policy_loss.item())
            entropies.append(entropy.item())
        self._n_updates += 1
        stats = {
            "train/policy_loss": float(np.mean(losses)),
            "train/entropy": float(np.mean(entropies)),
            "train/keep_probability": float(keep_probs.mean()),
            "train/learning_rate": float(learning_rate),
            "train/n_updates": self._n_updates,
        }
        action_probs = [probs for _, _, probs in parts if probs is not None]
        if action_probs and isinstance(self.action_space, spaces.Discrete) and self.action_space.n > 2:
            for a, p in enumerate(np.concatenate(action_probs).mean(axis=0)):
                stats[f"train/action_{a}_probability"] = float(p)
        # The same terminal-info keys as EpisodeHistory records for any SB3 algorithm (the removal scores only
        # where the dataset has noise ground truth); the episode reward is added by the caller.
        info = episodes[-1][3]
        for key in HISTORY_KEYS[1:]:
            if key in info:
                stats[f"env/{key}"] = float(info[key])
        return stats

    def episode_advantages(
        self, obs_t: th.Tensor, actions: np.ndarray, rewards: np.ndarray, info: dict
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
        """One finished episode's advantages, its keep probabilities and (per-action rewards only) its action
        probabilities. Per-image rewards (FERSelect-v0) give Eq. 2's :func:`selection_advantages`; per-action
        ones (FERSelectRelabel-v0) :func:`expected_action_advantages`; other envs the centred reward-to-go."""
        with th.no_grad():
            keep_probs = self.policy.keep_probability(obs_t).cpu().numpy()
        sample_rewards = info.get("sample_rewards")
        by_action = info.get("sample_rewards_by_action")
        discrete = isinstance(self.action_space, spaces.Discrete)
        n_actions = int(self.action_space.n) if discrete else 0  # type: ignore[attr-defined]
        if discrete and by_action is not None and np.shape(by_action) == (len(actions), n_actions):
            with th.no_grad():
                action_probs = self.policy.action_probabilities(obs_t).cpu().numpy()
            r = scale_rewards_by_action(by_action, self.reward_scaling)
            return expected_action_advantages(r, actions, action_probs), keep_probs, action_probs
        if sample_rewards is not None and len(sample_rewards) == len(actions) and n_actions == 2:
            r = scale_sample_rewards(sample_rewards, self.reward_scaling)
            return selection_advantages(r, actions, keep_probs), keep_probs, None
        if self.return_baseline == "running":
            return self._running_advantages(reward_to_go(np.asarray(rewards, np.float64), self.gamma)), keep_probs, None
        g = reward_to_go(np.asarray(rewards, np.float64), self.gamma)
        adv = g - g.mean() if len(g) > 1 else g
        if self.reward_scaling != "none" and len(adv) > 1:
            adv = adv / (adv.std() + 1e-8)
        return adv, keep_probs, None

    def auxiliary_loss(self, obs: th.Tensor) -> th.Tensor | float:
        """A term added to each minibatch's loss; 0 here. Subclasses put a policy-side penalty here (e.g.
        EARLIEST's earliness pressure, :class:`agents.sequence.earliest.EarliestREINFORCE`)."""
        return 0.0

    def _running_advantages(self, g: np.ndarray) -> np.ndarray:
        """``G_t − b_t`` with the running baseline of ``return_baseline="running"``, which is then updated
        (after use: an episode's own return never lowers its own advantage)."""
        while len(self._baseline) < len(g):
            self._baseline.append(float(g[len(self._baseline)]) if not self._baseline else self._baseline[-1])
        b = np.asarray(self._baseline[: len(g)])
        adv = g - b
        rate = RUNNING_BASELINE_RATE
        for t, value in enumerate(g):
            self._baseline[t] += rate * (float(value) - self._baseline[t])
        self._baseline_var += rate * (float(np.mean(adv**2)) - self._baseline_var)
        if self.reward_scaling != "none":
            adv = adv / (np.sqrt(self._baseline_var) + 1e-8)
        return adv

    def pretrain(self: SelfREINFORCE, episodes: int, progress_bar: bool = False) -> SelfREINFORCE:
        """Pre-train the selector against the fixed pre-trained classifier (§3.3), before :meth:`learn`.

        Each round resets every env with ``options={"freeze_classifier": True}`` (FERSelect-v0 then skips
        the retraining and scores the pass with the classifier as it stands), runs one pass per env with the
        current policy, and makes one update per finished pass, exactly as in :meth:`learn`. The rewards
        of these episodes are stationary, so the selector can learn which images the fixed classifier
        disbelieves before its own choices start to move the classifier. ``self.pretrain_history`` gets
        one dict of scalars per pass. Timesteps spent here do not count towards ``learn``'s total.
        """
        if int(episodes) < 0:
            raise ValueError(f"episodes must be >= 0, got {episodes}")
        if self.env is None:
            raise ValueError("pretrain needs an environment: pass env= to the constructor or call set_env()")
        env = self.env
        n_envs = env.num_envs
        rounds = -(-int(episodes) // n_envs)
        bar = None
        if progress_bar:
            from tqdm.auto import tqdm

            bar = tqdm(total=rounds * n_envs, desc="pretrain selector", unit="episode")
        try:
            for _ in range(rounds):
                env.set_options({"freeze_classifier": True})
                obs = env.reset()
                buffers: list[dict[str, list]] = [{"obs": [], "actions": [], "rewards": []} for _ in range(n_envs)]
                finished = np.zeros(n_envs, dtype=bool)
                # Envs whose pass ends early keep stepping (auto-reset, unfrozen) until every env is done;
                # those extra steps are discarded.
                while not finished.all():
                    self.policy.set_training_mode(False)
                    with th.no_grad():
                        actions = self.policy(obs_as_tensor(obs, self.device)).cpu().numpy()
                    new_obs, rewards, dones, infos = env.step(actions)
                    for i in np.flatnonzero(~finished):
                        buffers[i]["obs"].append(np.array(obs[i]))
                        buffers[i]["actions"].append(np.array(actions[i]))
                        buffers[i]["rewards"].append(float(rewards[i]))
                        if dones[i]:
                            finished[i] = True
                            stats = self.train_on_episode(
                                np.stack(buffers[i]["obs"]),
                                np.array(buffers[i]["actions"]),
                                np.array(buffers[i]["rewards"]),
                                infos[i],
                            )
                            self.pretrain_history.append(stats)
                            if bar is not None:
                                bar.update(1)
                    obs = new_obs
        finally:
            if bar is not None:
                bar.close()
            env.set_options({})
        # The next learn() must start from a fresh, unfrozen reset.
        self._last_obs = None  # type: ignore[assignment]
        return self

    def learn(
        self: SelfREINFORCE,
        total_timesteps: int,
        callback: MaybeCallback = None,
        log_interval: int = 1,
        tb_log_name: str = "REINFORCE",
        reset_num_timesteps: bool = True,
        progress_bar: bool = False,
    ) -> SelfREINFORCE:
        """Collect whole episodes and update after each; ``log_interval`` counts episodes."""
        total_timesteps, callback = self._setup_learn(
            total_timesteps, callback, reset_num_timesteps, tb_log_name, progress_bar
        )
        callback.on_training_start(locals(), globals())
        assert self.env is not None
        n_envs = self.env.num_envs
        buffers: list[dict[str, list]] = [{"obs": [], "actions": [], "rewards": []} for _ in range(n_envs)]
        pending: list[tuple[int, dict[str, list], dict]] = []  # finished episodes awaiting the next update
        callback.on_rollout_start()
        # Train mode is switched only around updates: toggling it on every step walks every module.
        self.policy.set_training_mode(False)
        while self.num_timesteps < total_timesteps:
            self._update_current_progress_remaining(self.num_timesteps, total_timesteps)
            with th.no_grad():
                actions = self.policy(obs_as_tensor(self._last_obs, self.device)).cpu().numpy()
            new_obs, rewards, dones, infos = self.env.step(actions)
            self.num_timesteps += n_envs
            callback.update_locals(locals())
            if not callback.on_step():
                break
            self._update_info_buffer(infos, dones)
            for i in range(n_envs):
                buf = buffers[i]
                buf["obs"].append(self._last_obs[i])  # VecEnvs hand out a fresh array every step
                buf["actions"].append(np.array(actions[i]))
                buf["rewards"].append(float(rewards[i]))
                if dones[i]:
                    pending.append((i, buf, infos[i]))
                    buffers[i] = {"obs": [], "actions": [], "rewards": []}
                    if len(pending) >= self.episodes_per_update:
                        self._update_on(pending, callback)
                        pending = []
                    self._episode_num += 1
                    if log_interval is not None and self._episode_num % log_interval == 0:
                        self._dump_logs()
            self._last_obs = new_obs  # type: ignore[assignment]
            self._last_episode_starts = dones
        if pending:  # a last, smaller update: no finished episode is left unused when learn() returns
            self._update_on(pending, callback)
        callback.on_training_end()
        return self

    @classmethod
    def load(  # type: ignore[override]
        cls: type[SelfREINFORCE],
        path: str | pathlib.Path | io.BufferedIOBase,
        env: GymEnv | None = None,
        device: th.device | str = "auto",
        custom_objects: dict[str, Any] | None = None,
        print_system_info: bool = False,
        force_reset: bool = True,
        **kwargs: Any,
    ) -> SelfREINFORCE:
        """SB3's ``BaseAlgorithm.load``: rebuild a model saved by :meth:`save`.

        .. warning::
            Like every SB3 ``load``, this unpickles the ``data`` entries of the zip (spaces, schedules, the
            policy class): a crafted file runs code. Load only files you made or trust. fer-select's own
            load paths never call it: ``fer-select clean --selector`` reads only the zip's ``policy.pth``
            with ``torch.load(weights_only=True)``, and ``fer-select train --resume`` rebuilds the model
            from its settings (see docs/trust.md).
        """
        return super().load(
            path,
            env=env,
            device=device,
            custom_objects=custom_objects,
            print_system_info=print_system_info,
            force_reset=force_reset,
            **kwargs,
        )

    def _get_torch_save_params(self) -> tuple[list[str], list[str]]:
        # The optimiser's state goes into the zip too, so that a loaded model continues training exactly.
        return ["policy", "policy.optimizer"], []

    def _update_on(self, finished: list[tuple[int, dict[str, list], dict]], callback: Any) -> None:
        """One update on finished episodes ``(env index, buffer, terminal info)``, its statistics logged."""
        callback.on_rollout_end()
        stats = self.train_on_episodes(
            [(np.stack(b["obs"]), np.array(b["actions"]), np.array(b["rewards"]), info) for _, b, info in finished]
        )
        self.policy.set_training_mode(False)
        stats["env/episode_reward"] = float(np.mean([np.sum(b["rewards"]) for _, b, _ in finished]))
        retrain_seconds = self._env_attr("retrain_seconds", finished[-1][0])
        if retrain_seconds is not None:
            stats["env/retrain_seconds"] = float(retrain_seconds)
        for key, value in stats.items():
            self.logger.record(key, value, exclude="tensorboard" if key == "train/n_updates" else None)
        callback.on_rollout_start()

    def _env_attr(self, name: str, index: int) -> Any:
        """An attribute of one sub-env (through its wrappers), or None when it has none."""
        assert self.env is not None
        try:
            return self.env.get_attr(name, indices=[index])[0]
        except AttributeError:
            return None

    def _dump_logs(self) -> None:
        if len(self.ep_info_buffer) > 0:
            self.logger.record("rollout/ep_rew_mean", float(np.mean([ep["r"] for ep in self.ep_info_buffer])))
            self.logger.record("rollout/ep_len_mean", float(np.mean([ep["l"] for ep in self.ep_info_buffer])))
        self.logger.record("time/episodes", self._episode_num, exclude="tensorboard")
        self.logger.record("time/total_timesteps", self.num_timesteps, exclude="tensorboard")
        self.logger.dump(step=self.num_timesteps)
