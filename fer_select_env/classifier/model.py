"""Kept alias: ``fer_select_env.classifier.model`` moved to :mod:`fer_select_env.models.cnn`.

Importing this module gives the new module itself, so existing imports and monkeypatches keep working.
"""

import sys

from fer_select_env.models import cnn as _target

__alias_of__ = "fer_select_env.models.cnn"
sys.modules[__name__] = _target
