"""Kept alias: ``fer_select_env.env`` moved to :mod:`fer_select_env.envs.select.env`.

Importing this module gives the new module itself, so existing imports and monkeypatches keep working.
"""

import sys

from fer_select_env.envs.select import env as _target

__alias_of__ = "fer_select_env.envs.select.env"
sys.modules[__name__] = _target
