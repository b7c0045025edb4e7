"""Kept alias of :mod:`agents.baselines.feng`, where ``agents.feng`` moved; old imports work.

The name is bound to the new module object, so monkeypatching either name patches both.
"""

import importlib
import sys

_target = importlib.import_module("agents.baselines.feng")
__alias_of__ = "agents.baselines.feng"

sys.modules[__name__] = _target
