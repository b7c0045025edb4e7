"""Kept alias of :mod:`agents.experiment.benchmark`, where ``agents.benchmark`` moved; old imports work.

The name is bound to the new module object, so monkeypatching either name patches both.
"""

import importlib
import sys

_target = importlib.import_module("agents.experiment.benchmark")
__alias_of__ = "agents.experiment.benchmark"

sys.modules[__name__] = _target
