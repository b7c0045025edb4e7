"""REINFORCE on MultiBinary sets (``"MultiBinaryMlpPolicy"``) and with several episodes per update."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest
import torch as th
from gymnasium import spaces

from agents import REINFORCE
from agents.reinforce import MultiBinarySelectorPolicy


class TargetSetEnv(gym.Env):
    """One step: the observation says which of two target sets pays; the reward is the share of bits that
    match it (0.5 in expectation for a uniform random set)."""

    TARGETS = np.array([[1, 0, 1, 0, 1, 0], [0, 1, 1, 0, 0, 1]])

    def __init__(self) -> None:
        self.observation_space = spaces.Box(-1.0, 1.0, (2,), np.float32)
        self.action_space = spaces.MultiBinary(6)
        self._k = 0

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self._k = int(self.np_random.integers(2))
        return np.eye(2, dtype=np.float32)[self._k], {}

    def step(self, action):
        reward = float(np.mean(np.asarray(action) == self.TARGETS[self._k]))
        return np.eye(2, dtype=np.float32)[self._k], reward, True, False, {}


def _mean_reward(model: REINFORCE, env: gym.Env, episodes: int = 40) -> float:
    total = 0.0
    for i in range(episodes):
        obs, _ = env.reset(seed=10_000 + i)
        action, _ = model.predict(obs, deterministic=True)
        total += env.step(action)[1]
    return total / episodes


def test_multibinary_log_prob_and_entropy_are_sums_over_the_bits():
    model = REINFORCE("MultiBinaryMlpPolicy", TargetSetEnv(), seed=0, device="cpu")
    assert isinstance(model.policy, MultiBinarySelectorPolicy)
    obs = th.as_tensor(np.eye(2, dtype=np.float32))
    bits = th.as_tensor([[1, 0, 1, 1, 0, 0], [0, 0, 0, 1, 1, 1]])
    p = model.policy.keep_probability(obs).detach()
    assert p.shape == (2, 6)
    by_hand = (bits * th.log(p) + (1 - bits) * th.log(1 - p)).sum(-1)
    th.testing.assert_close(model.policy.log_prob(obs, bits).detach(), by_hand, rtol=1e-5, atol=1e-6)
    entropy = -(p * th.log(p) + (1 - p) * th.log(1 - p)).sum(-1)
    th.testing.assert_close(model.policy.entropy(obs).detach(), entropy, rtol=1e-5, atol=1e-6)
    action, _ = model.predict(np.eye(2, dtype=np.float32)[0])
    assert action.shape == (6,) and set(np.unique(action)) <= {0, 1}


def test_reinforce_learns_a_set_from_one_step_episodes():
    env = TargetSetEnv()
    model = REINFORCE(
        "MultiBinaryMlpPolicy",
        env,
        learning_rate=1e-2,
        return_baseline="running",
        episodes_per_update=16,
        policy_kwargs={"net_arch": [16]},
        seed=0,
        device="cpu",
    )
    before = _mean_reward(model, TargetSetEnv())
    model.learn(3_000)
    assert model._n_updates == -(-3_000 // 16)  # one per 16 episodes, and a last one on the 8 left over
    after = _mean_reward(model, TargetSetEnv())
    assert after > 0.95 > before + 0.2


def test_episodes_per_update_counts_updates_and_leaves_no_finished_episode_unused():
    model = REINFORCE("MlpPolicy", "CartPole-v1", episodes_per_update=3, seed=0, device="cpu")
    model.learn(500)
    finished = model._episode_num
    assert finished >= 4
    assert model._n_updates == -(-finished // 3)  # the last, smaller update takes the episodes left over


def test_one_update_on_several_episodes_sees_all_their_decisions():
    model = REINFORCE("MultiBinaryMlpPolicy", TargetSetEnv(), batch_size=1_000, seed=0, device="cpu")
    obs = np.eye(2, dtype=np.float32)
    episodes = [(obs[[k]], TargetSetEnv.TARGETS[[k]], np.array([r]), {}) for k, r in ((0, 1.0), (1, 0.0))]
    stats = model.train_on_episodes(episodes)
    assert model._n_updates == 1 and np.isfinite(stats["train/policy_loss"])
    assert model.policy.obs_count.item() == 2  # the normaliser saw both episodes' observations


@pytest.mark.parametrize("bad", [0, -1, 1.5, True, "2"])
def test_bad_episodes_per_update_is_a_value_error(bad):
    with pytest.raises(ValueError, match="episodes_per_update"):
        REINFORCE("MultiBinaryMlpPolicy", TargetSetEnv(), episodes_per_update=bad, device="cpu")


def test_multibinary_policy_refuses_other_action_spaces():
    with pytest.raises(ValueError, match="MultiBinary"):
        REINFORCE("MultiBinaryMlpPolicy", "CartPole-v1", device="cpu")
