"""Kept alias of :mod:`agents.common.selection`, where ``agents.selection`` moved; old imports work.

The name is bound to the new module object, so monkeypatching either name patches both.
"""

import importlib
import sys

_target = importlib.import_module("agents.common.selection")
__alias_of__ = "agents.common.selection"

sys.modules[__name__] = _target
