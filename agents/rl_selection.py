"""Kept alias of :mod:`agents.experiment.rl_selection`, where ``agents.rl_selection`` moved; old imports work.

The name is bound to the new module object, so monkeypatching either name patches both.
"""

import importlib
import sys

_target = importlib.import_module("agents.experiment.rl_selection")
__alias_of__ = "agents.experiment.rl_selection"

sys.modules[__name__] = _target
