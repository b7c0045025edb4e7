from agents.reinforce.policies import (
    CategoricalMlpPolicy,
    CategoricalSelectorPolicy,
    MlpPolicy,
    MultiBinaryMlpPolicy,
    MultiBinarySelectorPolicy,
    SelectorPolicy,
)
from agents.reinforce.reinforce import REINFORCE

__all__ = [
    "REINFORCE",
    "CategoricalMlpPolicy",
    "CategoricalSelectorPolicy",
    "MlpPolicy",
    "MultiBinaryMlpPolicy",
    "MultiBinarySelectorPolicy",
    "SelectorPolicy",
]
