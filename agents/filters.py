"""Kept alias of :mod:`agents.baselines.filters`, where ``agents.filters`` moved; old imports work.

The name is bound to the new module object, so monkeypatching either name patches both.
"""

import importlib
import sys

_target = importlib.import_module("agents.baselines.filters")
__alias_of__ = "agents.baselines.filters"

sys.modules[__name__] = _target
