"""Agents for FERSelect-v0 on Stable-Baselines3's API.

The package is importable as ``agents``, a generic top-level name: if another installed distribution also
provides a top-level ``agents`` module, whichever comes first on ``sys.path`` wins. Import from a checkout or
an environment where this package is the only ``agents``.
"""

from agents.reinforce import REINFORCE, SelectorPolicy

__all__ = ["REINFORCE", "SelectorPolicy"]
