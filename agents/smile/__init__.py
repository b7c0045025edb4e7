"""Agents for FERSmile-v0: the seed's Monte Carlo search and the other search baselines, the bundled SB3
settings, and evaluation on held-out viewers at an equal camera-frame budget."""

from agents.smile.evaluation import evaluate, run_episode, summarise
from agents.smile.search import SEARCHES, MonteCarloSearch, OracleSearch, RandomSearch, make_search
from agents.smile.settings import SMILE_ALGORITHMS, make_smile_env, smile_agent_kwargs, train_smile_agent

__all__ = [
    "SEARCHES",
    "SMILE_ALGORITHMS",
    "MonteCarloSearch",
    "OracleSearch",
    "RandomSearch",
    "evaluate",
    "make_search",
    "make_smile_env",
    "run_episode",
    "smile_agent_kwargs",
    "summarise",
    "train_smile_agent",
]
