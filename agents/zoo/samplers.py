"""rl-zoo3 ``-optimize`` search spaces for FERSelect: gamma fixed at 0, rollouts measured in passes.

rl-zoo3's own samplers (``rl_zoo3.hyperparams_opt``) draw ``gamma`` in [0.97, 0.9999] and ``n_steps`` as a
power of two. On FERSelect with ``reward="per_step"`` each reward belongs to one decision, so the discount is
0 (and with it ``gae_lambda`` has no effect: the advantage is ``r - V(s)``), and a rollout is best a whole
number of passes (PPO) or a divisor of a pass (A2C, which takes one gradient step a rollout). rl-zoo3 2.9.2
has no option for a custom sampler; :mod:`agents.zoo.train` puts these in its ``HYPERPARAMS_SAMPLER`` and
``HYPERPARAMS_CONVERTER`` tables and sets the pass length of each trial (``trial.user_attrs["pass_length"]``).

A sampler draws Optuna parameters and returns SB3 keyword arguments; its converter turns a finished trial's
``params`` into the same keyword arguments (what the zoo's ``--trial-id`` reloads), without the pass length.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from torch import nn

if TYPE_CHECKING:
    import optuna

PPO_PASSES: tuple[int, ...] = (1, 2, 4)
"""PPO's ``n_steps`` choices, in passes."""

PPO_MINIBATCHES: tuple[int, ...] = (1, 2, 4, 8, 16)
"""PPO's minibatches per rollout: ``batch_size = n_steps // n_minibatches`` (the package's PPO: 8 of 256)."""

A2C_PASS_FRACTIONS: tuple[int, ...] = (16, 8, 4, 2, 1)
"""A2C's ``n_steps`` choices, as ``pass_length // k``."""

NET_ARCHS: dict[str, dict[str, list[int]]] = {
    "tiny": {"pi": [64], "vf": [64]},
    "small": {"pi": [64, 64], "vf": [64, 64]},  # SB3's MlpPolicy default, the package's PPO
    "medium": {"pi": [256, 256], "vf": [256, 256]},
}
ACTIVATIONS: dict[str, type[nn.Module]] = {"tanh": nn.Tanh, "relu": nn.ReLU}

FIXED: dict[str, float] = {"gamma": 0.0, "gae_lambda": 1.0}
"""What no trial changes: each per-step reward is its decision's own return."""


def trial_pass_length(trial: optuna.Trial) -> int:
    """The pass length (``env.episode_size``) that :mod:`agents.zoo.train` set on ``trial``."""
    value = trial.user_attrs.get("pass_length")
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(
            f"trial.user_attrs['pass_length']: expected a positive int, got {value!r}; run the search through "
            "`python -m agents.zoo.train ... -optimize`, which sets it from the env's episode_size"
        )
    return value


def _suggest_shared(trial: optuna.Trial, net_archs: list[str]) -> dict[str, Any]:
    """The parameters PPO's and A2C's searches draw alike (the zoo's ranges)."""
    return {
        "learning_rate": trial.suggest_float("learning_rate", 1e-5, 2e-3, log=True),
        "ent_coef": trial.suggest_float("ent_coef", 1e-8, 0.1, log=True),
        "max_grad_norm": trial.suggest_float("max_grad_norm", 0.3, 2.0),
        "net_arch": trial.suggest_categorical("net_arch", net_archs),
        "activation_fn": trial.suggest_categorical("activation_fn", list(ACTIVATIONS)),
    }


def _shared_kwargs(params: dict[str, Any]) -> dict[str, Any]:
    """The SB3 keyword arguments of :func:`_suggest_shared`'s parameters, plus :data:`FIXED`."""
    return {
        **FIXED,
        "learning_rate": params["learning_rate"],
        "ent_coef": params["ent_coef"],
        "max_grad_norm": params["max_grad_norm"],
        "policy_kwargs": {
            "net_arch": NET_ARCHS[params["net_arch"]],
            "activation_fn": ACTIVATIONS[params["activation_fn"]],
        },
    }


def convert_ppo_params(params: dict[str, Any]) -> dict[str, Any]:
    """A PPO trial's ``params`` → SB3 ``PPO`` keyword arguments."""
    n_steps = int(params["n_steps"])
    return {
        **_shared_kwargs(params),
        "n_steps": n_steps,
        "batch_size": max(1, n_steps // int(params["n_minibatches"])),
        "n_epochs": params["n_epochs"],
        "clip_range": params["clip_range"],
    }


def sample_ppo_params(
    trial: optuna.Trial, n_actions: int, n_envs: int, additional_args: dict[str, Any]
) -> dict[str, Any]:
    """rl-zoo3 sampler signature; ``n_steps`` is 1, 2 or 4 passes, the rest as the zoo's PPO search."""
    pass_length = trial_pass_length(trial)
    params = {
        "n_steps": trial.suggest_categorical("n_steps", [k * pass_length for k in PPO_PASSES]),
        "n_minibatches": trial.suggest_categorical("n_minibatches", list(PPO_MINIBATCHES)),
        "n_epochs": trial.suggest_categorical("n_epochs", [1, 4, 10, 20]),
        "clip_range": trial.suggest_categorical("clip_range", [0.1, 0.2, 0.3, 0.4]),
        **_suggest_shared(trial, list(NET_ARCHS)),
    }
    hyperparams = convert_ppo_params(params)
    # shown in the zoo's report next to the params, as its own samplers do
    trial.set_user_attr("gamma", FIXED["gamma"])
    trial.set_user_attr("batch_size", hyperparams["batch_size"])
    return hyperparams


def convert_a2c_params(params: dict[str, Any]) -> dict[str, Any]:
    """An A2C trial's ``params`` → SB3 ``A2C`` keyword arguments."""
    return {**_shared_kwargs(params), "n_steps": int(params["n_steps"])}


def sample_a2c_params(
    trial: optuna.Trial, n_actions: int, n_envs: int, additional_args: dict[str, Any]
) -> dict[str, Any]:
    """rl-zoo3 sampler signature; ``n_steps`` divides the pass (1/16 to 1 pass), the rest as the zoo's A2C."""
    pass_length = trial_pass_length(trial)
    choices = sorted({max(1, pass_length // k) for k in A2C_PASS_FRACTIONS})
    params = {
        "n_steps": trial.suggest_categorical("n_steps", choices),
        **_suggest_shared(trial, ["small", "medium"]),
    }
    trial.set_user_attr("gamma", FIXED["gamma"])
    return convert_a2c_params(params)


Sampler = Callable[..., dict[str, Any]]
SAMPLERS: dict[str, Sampler] = {"ppo": sample_ppo_params, "a2c": sample_a2c_params}
"""Algorithm → sampler, the shape of ``rl_zoo3.hyperparams_opt.HYPERPARAMS_SAMPLER``."""

CONVERTERS: dict[str, Callable[[dict[str, Any]], dict[str, Any]]] = {
    "ppo": convert_ppo_params,
    "a2c": convert_a2c_params,
}
"""Algorithm → converter, the shape of ``rl_zoo3.hyperparams_opt.HYPERPARAMS_CONVERTER``."""

__all__ = [
    "CONVERTERS",
    "FIXED",
    "SAMPLERS",
    "convert_a2c_params",
    "convert_ppo_params",
    "sample_a2c_params",
    "sample_ppo_params",
    "trial_pass_length",
]
