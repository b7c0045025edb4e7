"""What several selector algorithms share: the :class:`Selection` hand-off type, the per-pass history
callback, and reading a trained selector's keep probability.

Nothing here knows about agent names or the experiment layer (``agents.experiment``).
"""

from agents.common.callbacks import HISTORY_KEYS, EpisodeHistory, pretrain_row
from agents.common.inference import keep_probability_function
from agents.common.selection import Selection

__all__ = ["HISTORY_KEYS", "EpisodeHistory", "Selection", "keep_probability_function", "pretrain_row"]
