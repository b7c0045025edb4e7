"""The per-pass history every RL selector records: one row of scalars per finished pass over the data."""

from __future__ import annotations

from stable_baselines3.common.callbacks import BaseCallback

HISTORY_KEYS: tuple[str, ...] = (
    "episode_reward",
    "kept_fraction",
    "val_accuracy",
    "val_macro_f1",
    "removal_precision",
    "removal_recall",
    "removal_f1",
    "relabelled_fraction",
)
"""The keys of a history row; every one but ``episode_reward`` is read from the pass's terminal ``info`` (where
it has them: ``removal_*`` need noise ground truth, ``relabelled_fraction`` is FERSelectRelabel-v0's)."""


class EpisodeHistory(BaseCallback):
    """Collects the scalar summary of every finished pass from the terminal ``info`` and records it under
    ``env/`` in SB3's logger (TensorBoard), for any algorithm (PPO, A2C, ...)."""

    def __init__(self) -> None:
        super().__init__()
        self.history: list[dict[str, float]] = []

    def _on_step(self) -> bool:
        for done, info in zip(self.locals["dones"], self.locals["infos"], strict=True):
            if done:
                row = {k: float(info[k]) for k in HISTORY_KEYS[1:] if k in info}
                if "episode" in info:
                    row["episode_reward"] = float(info["episode"]["r"])
                self.history.append(row)
                for key, value in row.items():
                    self.logger.record(f"env/{key}", value)
        return True


def pretrain_row(stats: dict[str, float]) -> dict[str, float]:
    """A history row from one pre-training pass's logger stats (REINFORCE's ``pretrain_history``): the
    ``env/`` keys without their prefix, flagged ``pretrain: 1`` so that readers can tell the phases apart."""
    row = {k.removeprefix("env/"): float(v) for k, v in stats.items() if k.startswith("env/")}
    row["pretrain"] = 1.0
    return row
