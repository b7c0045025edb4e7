"""The token-MDP frame FERReason-v0 and FEROpenVocab-v0 share: one face per episode (``reset(options=
{"index": i})`` replays face i, so that a GRPO group shares its prompt), the frozen encoder's feature of it
or its pixels, and the tokens emitted so far; the episode ends at EOS or after L tokens.

A subclass sets its vocabulary and faces, calls :meth:`TokenEnv._setup_observation`, and implements
``score(index, tokens)`` (the end-of-episode ``info``: the reward components under ``"rewards"``); it may
override ``_reward(info)`` (default: the components' sum), ``_info()`` and ``_render_text()``.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any, ClassVar

import cv2
import gymnasium as gym
import numpy as np
from gymnasium import spaces
from gymnasium.error import ResetNeeded

from fer_select_env.core.checks import check_int_at_least, check_reset_options
from fer_select_env.data.dataset import FERDataset
from fer_select_env.models.cnn import ClassifierConfig
from fer_select_env.models.pretrain import pretrain_classifier

OBSERVATIONS: tuple[str, ...] = ("feature", "pixels")
SPLITS: tuple[str, ...] = ("train", "val", "test")


def encoder_config(value: object) -> ClassifierConfig:
    """``None`` (the suite's classifier), a dict of :class:`ClassifierConfig` fields, or a config."""
    if value is None:
        return ClassifierConfig()
    if isinstance(value, ClassifierConfig):
        return value
    if isinstance(value, Mapping):
        return ClassifierConfig.from_dict(dict(value))
    raise ValueError(
        f"encoder: must be None, a dict of ClassifierConfig fields or a config, got {type(value).__name__}"
    )


class TokenEnv(gym.Env[dict, np.int64]):
    """The shared frame of the token envs (see the module docstring); not registered itself."""

    metadata: ClassVar[dict[str, Any]] = {"render_modes": ["ansi", "rgb_array"], "render_fps": 4}
    env_name: ClassVar[str] = "token env"

    vocabulary: Any
    images: np.ndarray
    max_length: int

    def _check_render_mode(self, render_mode: str | None) -> None:
        if render_mode is not None and render_mode not in self.metadata["render_modes"]:
            raise ValueError(
                f"render_mode: must be None or one of {self.metadata['render_modes']}, got {render_mode!r}"
            )
        self.render_mode = render_mode

    def _setup_observation(
        self,
        observation: str,
        encoder_data: FERDataset,
        encoder: object,
        encoder_seed: int,
        cache_dir: str | os.PathLike | None,
    ) -> None:
        """The faces' first observation (the frozen encoder's feature table, or the pixels), the spaces and
        the episode state. ``self.vocabulary``, ``self.images`` and ``self.max_length`` must be set."""
        self.num_prompts = len(self.images)
        """Faces of the split: ``reset(options={"index": i})`` takes ``0 <= i < num_prompts``."""
        self.features: np.ndarray | None = None
        if observation == "feature":
            self.encoder, self.encoder_report = pretrain_classifier(
                encoder_data, encoder_config(encoder), seed=encoder_seed, cache_dir=cache_dir, num_threads=1
            )
            self.features = self.encoder.features(self.images).astype(np.float32)
            """N×F: the frozen encoder's feature of every face of the split (a look-up table)."""
            # Post-ReLU features have no upper bound; the largest float32 says so without an infinite Box.
            top = float(np.finfo(np.float32).max)
            first: spaces.Space = spaces.Box(0.0, top, (self.features.shape[1],), np.float32)
            self._first_key = "feature"
        else:
            h, w = self.images.shape[1:3]
            first = spaces.Box(0, 255, (1, h, w), np.uint8)
            self._first_key = "image"
        v = len(self.vocabulary)
        self.action_space = spaces.Discrete(v)
        self.observation_space = spaces.Dict(
            {
                self._first_key: first,
                "tokens": spaces.MultiDiscrete(np.full(self.max_length, v + 1)),
                "length": spaces.Discrete(self.max_length + 1),
            }
        )
        self._index: int | None = None
        self._tokens: list[int] = []
        self._done = True

    # ------------------------------------------------------------------------------------------- API
    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[Any, dict]:
        super().reset(seed=seed)
        index = self._reset_index(options)
        self._index = int(self.np_random.integers(self.num_prompts)) if index is None else index
        self._tokens, self._done = [], False
        return self._obs(), self._info()

    def step(self, action: Any) -> tuple[Any, float, bool, bool, dict]:
        if self._done or self._index is None:
            raise ResetNeeded(f"{self.env_name}: call reset() before step() (the episode has ended)")
        if not self.action_space.contains(action):
            raise ValueError(f"action: must be a token id in [0, {len(self.vocabulary) - 1}], got {action!r}")
        self._tokens.append(int(action))
        if int(action) != self.vocabulary.eos and len(self._tokens) < self.max_length:
            return self._obs(), 0.0, False, False, self._info()
        self._done = True
        info = {**self._info(), **self.score(self._index, self._tokens)}
        return self._obs(), self._reward(info), True, False, info

    def render(self) -> np.ndarray | str | None:
        if self.render_mode is None or self._index is None:
            return None
        if self.render_mode == "ansi":
            return self._render_text()
        return cv2.cvtColor(self.images[self._index], cv2.COLOR_GRAY2RGB)

    def observation_batch(
        self, indices: np.ndarray, prefixes: np.ndarray, lengths: np.ndarray
    ) -> dict[str, np.ndarray]:
        """Observations of many (face, prefix) pairs at once, as ``step`` would give them (for supervised
        training on reference sequences, batched rollouts and evaluation).

        :param indices: n faces of the split
        :param prefixes: n×L token ids; entries at or past ``lengths`` are ignored (padded here)
        :param lengths: n prefix lengths in ``[0, L]``
        """
        indices = np.asarray(indices, np.int64)
        lengths = np.asarray(lengths, np.int64)
        tokens = np.array(prefixes, np.int64).reshape(len(indices), self.max_length)
        tokens[np.arange(self.max_length)[None, :] >= lengths[:, None]] = self.vocabulary.pad
        first = self.features[indices] if self.features is not None else self.images[indices][:, None]
        return {self._first_key: first, "tokens": tokens, "length": lengths}

    # ---------------------------------------------------------------------------- for the subclasses
    def score(self, index: int, token_ids: Any) -> dict[str, Any]:  # pragma: no cover - abstract
        raise NotImplementedError

    def _reward(self, info: dict[str, Any]) -> float:
        return float(sum(info["rewards"].values()))

    def _render_text(self) -> str:
        return f"face {self._index}: {self.vocabulary.decode(self._tokens)}"

    def _info(self) -> dict[str, Any]:
        return {"index": int(self._index)}  # type: ignore[arg-type]

    # ------------------------------------------------------------------------------------- internals
    def _reset_index(self, options: object) -> int | None:
        options = check_reset_options(options, ("index",))
        if options.get("index") is None:
            return None
        index = check_int_at_least("reset option 'index'", options["index"], 0)
        if index >= self.num_prompts:
            raise ValueError(
                f"reset option 'index': {index} is out of range; the {self.split} split has {self.num_prompts} faces"
            )
        return index

    def _obs(self) -> dict[str, np.ndarray]:
        assert self._index is not None
        tokens = np.full(self.max_length, self.vocabulary.pad, np.int64)
        tokens[: len(self._tokens)] = self._tokens
        first = (
            self.features[self._index].copy() if self.features is not None else self.images[self._index][None].copy()
        )
        return {self._first_key: first, "tokens": tokens, "length": np.int64(len(self._tokens))}


__all__ = ["OBSERVATIONS", "SPLITS", "TokenEnv", "encoder_config"]
