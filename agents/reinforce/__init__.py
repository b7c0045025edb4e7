from agents.reinforce.policies import MlpPolicy, SelectorPolicy
from agents.reinforce.reinforce import REINFORCE

__all__ = ["REINFORCE", "MlpPolicy", "SelectorPolicy"]
