"""Kept alias: ``fer_select_env.rewards`` moved to :mod:`fer_select_env.envs.select.rewards`.

Its public names stay importable here, so existing imports keep working.
"""

from fer_select_env.envs.select.rewards import (
    EQ2_BASELINES,
    REWARDS,
    SCORINGS,
    cross_fitted_probabilities,
    dvrl_reward,
    eq2_baseline,
    eq2_sample_rewards,
    eq3_episode_reward,
    f1_reward,
    fold_assignment,
    label_probabilities,
    per_step_reward,
)

# Read by the import-layer test, which exempts kept aliases from the one-way rule.
__alias_of__ = ("fer_select_env.envs.select.rewards",)
BASELINES = EQ2_BASELINES  # the old name of the Eq. 2 readings
__all__ = [
    "BASELINES",
    "EQ2_BASELINES",
    "REWARDS",
    "SCORINGS",
    "cross_fitted_probabilities",
    "dvrl_reward",
    "eq2_baseline",
    "eq2_sample_rewards",
    "eq3_episode_reward",
    "f1_reward",
    "fold_assignment",
    "label_probabilities",
    "per_step_reward",
]
