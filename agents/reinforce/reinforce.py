"""REINFORCE for image selection (Li & Xu 2020, Eq. 4-6 and Algorithm 1), on Stable-Baselines3's API."""

from __future__ import annotations

from typing import Any, ClassVar, TypeVar

import numpy as np
import torch as th
from gymnasium import spaces
from stable_baselines3.common.base_class import BaseAlgorithm
from stable_baselines3.common.policies import BasePolicy
from stable_baselines3.common.type_aliases import GymEnv, MaybeCallback, Schedule
from stable_baselines3.common.utils import obs_as_tensor, update_learning_rate

from agents.reinforce.policies import SelectorPolicy

SelfREINFORCE = TypeVar("SelfREINFORCE", bound="REINFORCE")


def selection_advantages(sample_rewards: np.ndarray, actions: np.ndarray, keep_probs: np.ndarray) -> np.ndarray:
    """Per-decision advantages for a Bernoulli selector from per-image rewards ``R_i`` (Eq. 2).

    Eq. 3 decomposes over images: decision i contributes ``a_i · R_i``. With the action-independent baseline
    ``p_i · R_i`` (its expectation under the policy) the advantage is ``(a_i − p_i) · R_i``: keeping an
    image with ``R_i > 0`` and removing one with ``R_i < 0`` are reinforced, and in expectation the update
    is ``Σ_i R_i ∇p_i``, the exact gradient of the expected Eq. 3.
    """
    return (np.asarray(actions, np.float64) - np.asarray(keep_probs, np.float64)) * np.asarray(sample_rewards)


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
    :func:`selection_advantages`), scaled by the standard deviation of ``R`` over the episode when
    ``normalize_advantage``. On other Discrete(2) envs (no ``sample_rewards``) the advantage is the
    reward-to-go minus its episode mean. The update is one pass over the episode in gradient-clipped
    minibatches: the calibration prototype saw several passes over one episode swing the keep fraction
    between all and none.

    :param policy: ``"MlpPolicy"`` (the paper's 5-layer selector) or a policy class
    :param env: the environment (a Gymnasium env, a VecEnv, or an id string)
    :param learning_rate: Adam learning rate (constant or schedule)
    :param batch_size: minibatch size of the single pass over each finished episode
    :param gamma: discount for the reward-to-go fallback
    :param normalize_advantage: scale advantages by the std of the episode's rewards
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

    policy_aliases: ClassVar[dict[str, type[BasePolicy]]] = {"MlpPolicy": SelectorPolicy}
    policy: SelectorPolicy

    def __init__(
        self,
        policy: str | type[SelectorPolicy],
        env: GymEnv | str,
        learning_rate: float | Schedule = 1e-3,
        batch_size: int = 256,
        gamma: float = 1.0,
        normalize_advantage: bool = True,
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
            supported_action_spaces=(spaces.Discrete,),
        )
        self.batch_size = batch_size
        self.gamma = gamma
        self.normalize_advantage = normalize_advantage
        self.max_grad_norm = max_grad_norm
        self.ent_coef = ent_coef
        self._n_updates = 0
        if _init_setup_model:
            self._setup_model()

    def _setup_model(self) -> None:
        self._setup_lr_schedule()
        self.set_random_seed(self.seed)
        self.policy = self.policy_class(  # type: ignore[assignment]
            self.observation_space, self.action_space, self.lr_schedule, **self.policy_kwargs
        ).to(self.device)

    def train_on_episode(self, obs: np.ndarray, actions: np.ndarray, rewards: np.ndarray, info: dict) -> dict:
        """One policy-gradient step on a finished episode (Algorithm 1, line 15); returns its statistics."""
        self.policy.set_training_mode(True)
        learning_rate = self.lr_schedule(self._current_progress_remaining)
        update_learning_rate(self.policy.optimizer, learning_rate)
        obs_t = th.as_tensor(obs, device=self.device).float()
        act_t = th.as_tensor(actions, device=self.device)
        with th.no_grad():
            keep_probs = self.policy.keep_probability(obs_t).cpu().numpy()
        sample_rewards = info.get("sample_rewards")
        if sample_rewards is not None and len(sample_rewards) == len(actions):
            r = np.asarray(sample_rewards, dtype=np.float64)
            adv = selection_advantages(r, actions, keep_probs)
            scale = r.std() if self.normalize_advantage and len(r) > 1 else 1.0
        else:
            g = reward_to_go(np.asarray(rewards, np.float64), self.gamma)
            adv = g - g.mean() if len(g) > 1 else g
            scale = adv.std() if self.normalize_advantage and len(adv) > 1 else 1.0
        adv = adv / (scale + 1e-8)
        adv_t = th.as_tensor(adv, device=self.device).float()
        # One pass over the episode in shuffled minibatches: enough steps to learn from a 5,000-image pass,
        # never several passes over the same rewards (those made the keep fraction swing, see the docstring).
        order = th.randperm(len(actions), device=self.device)
        losses, entropies = [], []
        for start in range(0, len(actions), self.batch_size):
            idx = order[start : start + self.batch_size]
            log_prob = self.policy.log_prob(obs_t[idx], act_t[idx])
            entropy = self.policy.entropy(obs_t[idx]).mean()
            policy_loss = -(adv_t[idx] * log_prob).mean()
            loss = policy_loss - self.ent_coef * entropy
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
        for key in ("kept_fraction", "val_accuracy", "val_macro_f1", "removal_f1"):
            if key in info:
                stats[f"env/{key}"] = float(info[key])
        return stats

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
        callback.on_rollout_start()
        while self.num_timesteps < total_timesteps:
            self._update_current_progress_remaining(self.num_timesteps, total_timesteps)
            self.policy.set_training_mode(False)
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
                buf["obs"].append(np.array(self._last_obs[i]))
                buf["actions"].append(int(actions[i]))
                buf["rewards"].append(float(rewards[i]))
                if dones[i]:
                    callback.on_rollout_end()
                    stats = self.train_on_episode(
                        np.stack(buf["obs"]), np.array(buf["actions"]), np.array(buf["rewards"]), infos[i]
                    )
                    for key, value in stats.items():
                        self.logger.record(key, value, exclude="tensorboard" if key == "train/n_updates" else None)
                    self._episode_num += 1
                    buffers[i] = {"obs": [], "actions": [], "rewards": []}
                    if log_interval is not None and self._episode_num % log_interval == 0:
                        self._dump_logs()
                    callback.on_rollout_start()
            self._last_obs = new_obs  # type: ignore[assignment]
            self._last_episode_starts = dones
        callback.on_training_end()
        return self

    def _dump_logs(self) -> None:
        if len(self.ep_info_buffer) > 0:
            self.logger.record("rollout/ep_rew_mean", float(np.mean([ep["r"] for ep in self.ep_info_buffer])))
            self.logger.record("rollout/ep_len_mean", float(np.mean([ep["l"] for ep in self.ep_info_buffer])))
        self.logger.record("time/episodes", self._episode_num, exclude="tensorboard")
        self.logger.record("time/total_timesteps", self.num_timesteps, exclude="tensorboard")
        self.logger.dump(step=self.num_timesteps)
