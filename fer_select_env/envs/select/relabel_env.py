"""FERSelectRelabel-v0: FERSelect-v0 whose agent may also correct a label to the classifier's prediction."""

from __future__ import annotations

import os
from typing import Any

import numpy as np
from gymnasium import spaces

from fer_select_env.data.dataset import FERDataset
from fer_select_env.envs.select.env import FERSelectEnv
from fer_select_env.envs.select.rewards import eq2_candidate_rewards

REMOVE, KEEP, RELABEL = 0, 1, 2
"""The actions of FERSelectRelabel-v0."""
RELABEL_REWARDS: tuple[str, ...] = ("eq3", "per_step")
"""The ``reward=`` options of the relabel variant: those built on Eq. 2's per-image reward."""


class FERSelectRelabelEnv(FERSelectEnv):
    """FERSelect-v0 with a third action: keep the image, but train on the classifier's prediction as its label.

    ```python
    import gymnasium as gym
    import fer_select_env  # registers FERSelectRelabel-v0

    env = gym.make("FERSelectRelabel-v0", dataset="label_symmetric", persistent_classifier=False)
    obs, info = env.reset(seed=0)
    obs, reward, terminated, truncated, info = env.step(2)  # keep the first image, relabelled
    ```

    **Correction, not only removal.** Everything not said here is as in FERSelect-v0 (`FERSelectEnv`): the
    classifier, its retraining and scoring, the starting state, seeding, save and resume, vector environments.

    ### Description

    RLPS can only remove an image whose label it disbelieves, and so loses the image. Here the selector may
    also keep it under the label the embedded classifier predicts. When the pass ends the classifier is
    retrained on the kept images with their labels as the pass left them, and Eq. 2 scores each kept image
    under that label. The dataset's labels are never modified: the new labels live in the episode. The
    benchmark agent `reinforce_relabel` learns on it ([Agents](agents.md#relabelling)).

    ### Action Space

    `Discrete(3)`: `0` removes the image, `1` keeps it with its given label, `2` keeps it relabelled to the
    classifier's prediction: the argmax of the class distribution the label-aware observation shows for the
    image, i.e. of the scores as they stand when the episode begins (ties go to the lower class index). When
    the prediction is the given label, `2` keeps the label as it is. `step` takes exactly what
    `Discrete(3).contains` accepts; `3`, `1.0`, `"2"` or an array with a shape raise `ValueError`.

    ### Observation Space

    That of FERSelect-v0. The default is `observation="label_aware"`, because the agent must see the prediction
    it may adopt; with `"paper"` it decides blind to both labels. The label block shows the given label and its
    probability, whatever the agent did to earlier images.

    ### Rewards

    `reward="eq3"` (default) or `"per_step"`; FERSelect-v0's `"f1"`, `"dvrl"` and `"eq3_dvrl"` are refused. Write `ŷ_i` for
    the label image i was kept with (its prediction after action `2`, its given label after `1`). Eq. 2 is
    `R_i = P(ŷ_i | x_i) − b(ŷ_i)` under the env's `baseline`, scored after the retraining on the kept images
    with their new labels; Eq. 3 sums it over the images kept with either action. For `"class_prior"`,
    `b(c)` is the mean predicted probability of class c over the episode; for `"mean"`, the episode's mean
    `P(ŷ_j | x_j)` over its new labels (`fer_select_env.envs.select.rewards.eq2_candidate_rewards`).
    `"per_step"` pays the reward of the chosen action from the scores as they stood when the pass began.

    ### Episode End

    As in FERSelect-v0. The terminal `info` has FERSelect-v0's keys, with `sample_rewards` and
    `sample_label_probs` under the new labels (the given label for removed images), and also:

    | key | type | meaning |
    |---|---|---|
    | `relabelled` | bool array, step order | the agent chose `2` |
    | `new_labels` | int64 array, step order | the label each image was kept with: its given label unless relabelled |
    | `sample_rewards_by_action` | float32 array n×3, step order | column 0 is 0, column 1 `R_i` with the given label, column 2 `R_i` with the predicted label, all under the same post-retraining scores and baseline: a kept image's `sample_rewards` is the column of its action, a removed one's is column 1 |
    | `relabelled_fraction` | float | fraction of the episode relabelled |

    `kept` and `kept_fraction` count the relabelled images as kept; `removal_*` judge removal alone.

    ### Arguments

    Those of FERSelect-v0, with `observation="label_aware"` as the default and `reward` limited to `"eq3"` and
    `"per_step"`.

    ### Version History

    * v0: initial release.
    """  # noqa: E501  (Markdown table rows)

    _ACTIONS_TEXT = "0 (remove), 1 (keep) or 2 (keep relabelled to the classifier's prediction)"
    render_name = "FERSelectRelabel-v0"

    def __init__(
        self,
        dataset: FERDataset | str | os.PathLike | None = None,
        observation: str = "label_aware",
        reward: str = "eq3",
        **kwargs: Any,
    ) -> None:
        if not isinstance(reward, str) or reward not in RELABEL_REWARDS:
            raise ValueError(
                f"reward must be one of {RELABEL_REWARDS} for FERSelectRelabel-v0 (a relabelling changes Eq. 2's "
                f"per-image reward; 'f1', 'dvrl' and 'eq3_dvrl' are FERSelect-v0's), got {reward!r}"
            )
        super().__init__(dataset, observation=observation, reward=reward, **kwargs)
        self.action_space = spaces.Discrete(3)
        self._label_override: np.ndarray | None = None

    # ------------------------------------------------------------------ episode
    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[np.ndarray, dict[str, Any]]:
        # Pre-trained here, not in the base reset, so that its near-chance warning names the caller's line.
        self._ensure_classifier()
        obs, info = super().reset(seed=seed, options=options)
        assert self._order is not None
        # The scores the observation shows for this pass: the prediction action 2 adopts.
        probs = self._probs_train[self._order]
        given = self.dataset.y_train[self._order].astype(np.int64)
        self._predicted_labels = probs.argmax(axis=1).astype(np.int64)
        self._new_labels = given.copy()
        self._relabelled = np.zeros(len(self._order), dtype=bool)
        self._step_rewards_by_action = self._rewards_by_action(probs, given, given)
        return obs, info

    def _rewards_by_action(self, probs: np.ndarray, labels: np.ndarray, given: np.ndarray) -> np.ndarray:
        """``R_i`` of each action (n×3) under ``probs``, the baseline taken with the episode's ``labels``."""
        out = np.zeros((len(given), 3), dtype=np.float32)
        out[:, KEEP] = eq2_candidate_rewards(probs, labels, given, self.baseline)
        out[:, RELABEL] = eq2_candidate_rewards(probs, labels, self._predicted_labels, self.baseline)
        return out

    def _apply_action(self, t: int, a: int) -> None:
        if a != REMOVE:
            self._keep(t)
        if a == RELABEL:
            self._relabelled[t] = True
            self._new_labels[t] = self._predicted_labels[t]

    def _per_step_reward(self, t: int, a: int) -> float:
        return float(self._step_rewards_by_action[t, a])

    def _training_labels(self) -> np.ndarray:
        return self.dataset.y_train if self._label_override is None else self._label_override

    def _finish_episode(self) -> dict[str, Any]:
        assert self._order is not None
        labels = self.dataset.y_train.copy()  # a copy: the dataset's labels are never changed
        labels[self._order] = self._new_labels
        self._label_override = labels
        try:
            info = super()._finish_episode()
        finally:
            self._label_override = None
        given = self.dataset.y_train[self._order].astype(np.int64)
        info["relabelled"] = self._relabelled.copy()
        info["new_labels"] = self._new_labels.copy()
        info["sample_rewards_by_action"] = self._rewards_by_action(info["sample_probs"], self._new_labels, given)
        info["relabelled_fraction"] = float(self._relabelled.mean())
        if self._last_summary is not None:
            self._last_summary["relabelled_fraction"] = info["relabelled_fraction"]
        return info

    # ------------------------------------------------------------------ save / restore
    _EPISODE_ARRAYS: tuple[str, ...] = ("relabelled", "new_labels", "predicted_labels", "step_rewards_by_action")

    def get_state(self) -> dict[str, Any]:
        state = super().get_state()
        if state["episode"] is not None:
            for key in self._EPISODE_ARRAYS:
                state["episode"][key] = getattr(self, f"_{key}").copy()
        return state

    def _check_state_matches(self, state: dict[str, Any]) -> None:
        super()._check_state_matches(state)
        episode = state.get("episode")
        if not isinstance(episode, dict):
            return
        n = len(episode.get("order", ()))
        for key in self._EPISODE_ARRAYS:
            shape = (n, 3) if key == "step_rewards_by_action" else (n,)
            value = episode.get(key)
            if value is None or tuple(np.shape(value)) != shape:
                found = "missing" if value is None else f"of shape {tuple(np.shape(value))}"
                raise ValueError(f"env state does not fit FERSelectRelabel-v0: its episode's {key} is {found}")

    def set_state(self, state: dict[str, Any]) -> None:
        super().set_state(state)
        episode = state["episode"]
        if episode is None:
            return
        self._relabelled = np.array(episode["relabelled"], dtype=bool)
        self._new_labels = np.array(episode["new_labels"], dtype=np.int64)
        self._predicted_labels = np.array(episode["predicted_labels"], dtype=np.int64)
        self._step_rewards_by_action = np.array(episode["step_rewards_by_action"], dtype=np.float32)


__all__ = ["KEEP", "RELABEL", "RELABEL_REWARDS", "REMOVE", "FERSelectRelabelEnv"]
