"""Kept alias of :mod:`agents.experiment.checkpoint`, where ``agents.checkpoint`` moved; old imports work.

The name is bound to the new module object, so monkeypatching either name patches both.
"""

import importlib
import sys

_target = importlib.import_module("agents.experiment.checkpoint")
__alias_of__ = "agents.experiment.checkpoint"

sys.modules[__name__] = _target
