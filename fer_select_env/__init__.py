"""fer-select: reinforcement learning for facial expression recognition as Gymnasium environments.

Importing the package registers every id of :data:`fer_select_env.envs.ENV_SPECS` (today ``FERSelect-v0``,
``FERSelectLabelAware-v0`` and ``FERSelectRelabel-v0``). In a process that has not imported it (e.g. a
SubprocVecEnv worker started with ``spawn``), use ``gym.make("fer_select_env:FERSelect-v0")``.

Layers, each importing only the ones before it: :mod:`.core` ← :mod:`.faces` ← :mod:`.data` ←
:mod:`.models` ← :mod:`.envs` (one folder per env family). See ``docs/contributing.md``.
"""

from fer_select_env.core.version import __version__
from fer_select_env.data.dataset import FERDataset
from fer_select_env.envs import ENV_IDS, ENV_SPECS, register_envs

register_envs()


def __getattr__(name: str):
    # FERSelectEnv is re-exported lazily: importing the package only registers ids, and the env module
    # (torch, the classifier) loads when first used.
    if name == "FERSelectEnv":
        from fer_select_env.envs.select.env import FERSelectEnv

        return FERSelectEnv
    raise AttributeError(f"module 'fer_select_env' has no attribute {name!r}")


__all__ = ["ENV_IDS", "ENV_SPECS", "FERDataset", "FERSelectEnv", "__version__", "register_envs"]
