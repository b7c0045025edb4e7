"""fer-select: RLPS data selection for facial expression recognition as a Gymnasium environment.

Importing the package registers ``FERSelect-v0`` and ``FERSelectLabelAware-v0``. In a process that has not
imported it (e.g. a SubprocVecEnv worker started with ``spawn``), use ``gym.make("fer_select_env:FERSelect-v0")``.
"""

__version__ = "0.1.0"

from gymnasium.envs.registration import register, registry

from fer_select_env.data.dataset import FERDataset

ENV_IDS: tuple[str, ...] = ("FERSelect-v0", "FERSelectLabelAware-v0")


def _register_envs() -> None:
    """Register the env ids once; importing the package again (or in a worker) must not warn."""
    if "FERSelect-v0" not in registry:
        register(id="FERSelect-v0", entry_point="fer_select_env.env:FERSelectEnv")
    if "FERSelectLabelAware-v0" not in registry:
        register(
            id="FERSelectLabelAware-v0",
            entry_point="fer_select_env.env:FERSelectEnv",
            kwargs={"observation": "label_aware"},
        )


_register_envs()

__all__ = ["ENV_IDS", "FERDataset", "__version__"]
