"""Kept alias: ``fer_select_env.cache`` moved to :mod:`fer_select_env.core.cache`.

Importing this module gives the new module itself, so existing imports and monkeypatches keep working.
"""

import sys

from fer_select_env.core import cache as _target

__alias_of__ = "fer_select_env.core.cache"
sys.modules[__name__] = _target
