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


class BestPassPolicy(BaseCallback):
    """Keeps a copy of the policy's weights as they were during the pass with the best validation score.

    A pass's score is its terminal ``info[monitor]``: the env's classifier retrained on that pass's kept
    images, scored on the validation split (never test). The copy is taken when the pass ends, before the
    update it feeds, so it is the policy that drew that pass. The benchmark's REINFORCE falls back to it when
    its final policy collapsed (:func:`agents.experiment.rl_selection.fall_back_to_best_pass`).
    """

    def __init__(self, monitor: str = "val_macro_f1") -> None:
        super().__init__()
        self.monitor = monitor
        self.best_score = float("-inf")
        self.best_pass: int | None = None
        self.best_state: dict | None = None
        self.passes = 0

    def _on_step(self) -> bool:
        for done, info in zip(self.locals["dones"], self.locals["infos"], strict=True):
            if not done:
                continue
            self.passes += 1
            score = info.get(self.monitor)
            if score is not None and float(score) > self.best_score:
                self.best_score, self.best_pass = float(score), self.passes - 1
                self.best_state = {k: v.detach().clone() for k, v in self.model.policy.state_dict().items()}
        return True
