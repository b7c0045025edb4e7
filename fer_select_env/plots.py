"""Kept alias: ``fer_select_env.plots`` moved to :mod:`fer_select_env.envs.select.plots`.

Importing this module gives the new module itself, so existing imports and monkeypatches keep working.
"""

import sys

from fer_select_env.envs.select import plots as _target

__alias_of__ = "fer_select_env.envs.select.plots"
sys.modules[__name__] = _target
