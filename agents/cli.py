"""Kept alias of :mod:`agents.experiment.cli`, where ``agents.cli`` moved; existing imports keep working, and
``python -m agents.cli`` still runs the ``fer-select`` command.

The name is bound to the new module object, so monkeypatching either name patches both.
"""

import importlib
import sys

_target = importlib.import_module("agents.experiment.cli")
__alias_of__ = "agents.experiment.cli"

if __name__ == "__main__":
    sys.exit(_target.main())
sys.modules[__name__] = _target
