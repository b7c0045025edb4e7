"""``python -m agents.zoo.train``: ``python -m rl_zoo3.train`` for FERSelect, with two changes.

It takes the zoo's own arguments and:

1. registers the package's envs (no ``--gym-packages`` needed) and, for ``-optimize`` with ``--algo ppo`` or
   ``a2c``, the search spaces of :mod:`agents.zoo.samplers` (gamma 0, rollouts measured in passes), each trial
   told the pass length from the env's ``episode_size``;
2. builds the evaluation env with the training env's kwargs when they come from the hyperparameter file.
   rl-zoo3 2.9.2 copies the ``--env-kwargs`` of the command line to the evaluation env but not the file's
   ``env_kwargs``, so the shipped files' ``reward="per_step"`` and ``baseline="mean"`` would be missing from
   the env that ``EvalCallback`` and every ``-optimize`` trial are scored on (``--eval-env-kwargs`` still
   takes precedence).

rl-zoo3 has no hook for either: :func:`install` swaps the entries of its sampler tables and the
``ExperimentManager`` that ``rl_zoo3.train`` builds, in this process only.
"""

from __future__ import annotations

import sys
from typing import Any

import optuna
from rl_zoo3 import hyperparams_opt
from rl_zoo3 import train as zoo_train
from rl_zoo3.exp_manager import ExperimentManager

from agents.zoo.samplers import CONVERTERS, SAMPLERS


class FERSelectExperimentManager(ExperimentManager):
    """rl-zoo3's ``ExperimentManager`` with the evaluation env's kwargs and the trials' pass length set."""

    pass_length: int | None = None
    """Images a pass of the training env, read once before a hyperparameter search."""

    def _preprocess_hyperparams(self, hyperparams: dict[str, Any]) -> Any:
        result = super()._preprocess_hyperparams(hyperparams)
        if self._eval_env_kwargs_args is None:  # no --eval-env-kwargs: evaluate on the env that is trained
            self.eval_env_kwargs = self.env_kwargs
        return result

    def read_pass_length(self) -> int:
        """The training env's ``episode_size`` (one env is built; its classifier is pre-trained lazily, so
        this reads the dataset only)."""
        env = self.create_envs(1, no_log=True)
        try:
            sizes = env.get_attr("episode_size")
        except AttributeError as e:
            raise ValueError(
                f"--env {self.env_name.gym_id}: the env has no episode_size; agents.zoo.train is for "
                "fer-select's envs (FERSelect-v0, FERSelectLabelAware-v0)"
            ) from e
        finally:
            env.close()
        return int(sizes[0])

    def hyperparameters_optimization(self) -> None:
        self.pass_length = self.read_pass_length()
        super().hyperparameters_optimization()

    def objective(self, trial: optuna.Trial) -> float:
        trial.set_user_attr("pass_length", self.pass_length)
        return super().objective(trial)


def install() -> None:
    """Put :data:`~agents.zoo.samplers.SAMPLERS`, :data:`~agents.zoo.samplers.CONVERTERS` and
    :class:`FERSelectExperimentManager` into rl-zoo3 (this process only)."""
    import fer_select_env  # noqa: F401  (registers the env ids)

    hyperparams_opt.HYPERPARAMS_SAMPLER.update(SAMPLERS)  # the dict exp_manager imported, updated in place
    hyperparams_opt.HYPERPARAMS_CONVERTER.update(CONVERTERS)
    zoo_train.ExperimentManager = FERSelectExperimentManager


def main(argv: list[str] | None = None) -> None:
    """Run ``rl_zoo3.train`` on ``argv`` (default: the command line) after :func:`install`."""
    install()
    if argv is not None:
        sys.argv = [sys.argv[0], *argv]
    zoo_train.train()


if __name__ == "__main__":
    main()
