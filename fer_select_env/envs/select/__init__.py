"""FERSelect: RLPS image selection (Li & Xu 2020) as a Gymnasium env family.

:mod:`.env` holds the env, :mod:`.relabel_env` its variant that may also relabel an image (FERSelectRelabel-v0),
:mod:`.rewards` one function per reward equation (Eq. 2-3, F1, DVRL, per step), :mod:`.metrics` the selection
metrics and :mod:`.plots` the pictures of a selection run.
"""

from fer_select_env.envs.select.env import FERSelectEnv
from fer_select_env.envs.select.relabel_env import FERSelectRelabelEnv

__all__ = ["FERSelectEnv", "FERSelectRelabelEnv"]
