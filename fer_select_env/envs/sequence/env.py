"""FERSequence-v0: early expression recognition on face sequences (when to stop watching and commit)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any, ClassVar

import cv2
import gymnasium as gym
import numpy as np
from gymnasium import spaces
from gymnasium.error import ResetNeeded

from fer_select_env.core.checks import check_choice, check_int_at_least, check_reset_options
from fer_select_env.data.sequences import FERSequenceDataset, make_sequence_dataset
from fer_select_env.models.sequence import (
    SequenceClassifierConfig,
    sequence_posteriors,
    train_sequence_classifier,
)

OBSERVATIONS: tuple[str, ...] = ("posterior", "pixels")
SPLITS: tuple[str, ...] = ("train", "val", "test")
RESET_OPTIONS: tuple[str, ...] = ("index",)
DEFAULT_WAIT_PENALTY = 0.01
"""λ: the reward of one wait is −λ. At 0.01 a wait pays when it raises the chance of a right commit by more
than half a point (a right commit is worth 2 more than a wrong one)."""


def _load_dataset(dataset: object, dataset_kwargs: object) -> FERSequenceDataset:
    if dataset_kwargs is not None and not isinstance(dataset_kwargs, Mapping):
        raise ValueError(f"dataset_kwargs: must be a dict or None, got {type(dataset_kwargs).__name__}")
    if isinstance(dataset, FERSequenceDataset):
        return dataset
    if dataset is None:
        return make_sequence_dataset(**dict(dataset_kwargs or {}))
    if isinstance(dataset, (str, os.PathLike)):
        return FERSequenceDataset.from_npz(dataset, **dict(dataset_kwargs or {}))
    raise ValueError(
        f"dataset: must be a FERSequenceDataset, a path to an .npz file or None, got {type(dataset).__name__}"
    )


def _classifier_config(value: object) -> SequenceClassifierConfig:
    if isinstance(value, SequenceClassifierConfig):
        return value
    if isinstance(value, str):
        return SequenceClassifierConfig(kind=value)
    if isinstance(value, Mapping):
        return SequenceClassifierConfig.from_dict(dict(value))
    raise ValueError(
        "classifier: must be a kind name, a dict of SequenceClassifierConfig fields or a config, "
        f"got {type(value).__name__}"
    )


def _check_penalty(value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.floating, np.integer)):
        raise ValueError(f"wait_penalty: must be a number, got {value!r}")
    if not np.isfinite(value) or value < 0:
        raise ValueError(f"wait_penalty: must be finite and >= 0, got {value}")
    return float(value)


def posterior_features(p: np.ndarray, t: int, num_frames: int) -> np.ndarray:
    """The ``"posterior"`` observation: ``[p_t (K), max p_t, H(p_t)/log K, (t+1)/T]`` as float32.

    The entropy is divided by log K so that every entry lies in [0, 1] whatever K is.
    """
    obs = posterior_table(np.asarray(p)[None, None])[0, 0]
    obs[-1] = (t + 1) / num_frames
    return obs


def posterior_table(posteriors: np.ndarray) -> np.ndarray:
    """:func:`posterior_features` of every (sequence, frame) of an N×T×K posterior array: N×T×(K+3) float32.

    Built once per env, so that ``step()`` is a look-up (a FERSequence-v0 step then costs about what a
    CartPole-v1 step does; ``benchmarks/bench_sequence_step.py``)."""
    p = np.asarray(posteriors, dtype=np.float64)
    n, t_len, k = p.shape
    entropy = -(p * np.log(np.clip(p, 1e-12, 1.0))).sum(axis=2) / np.log(k)
    time = np.broadcast_to((np.arange(t_len) + 1.0) / t_len, (n, t_len))
    table = np.concatenate([p, p.max(axis=2, keepdims=True), entropy[..., None], time[..., None]], axis=2)
    return np.clip(table, 0.0, 1.0).astype(np.float32)  # float rounding must not leave the Box


class FERSequenceEnv(gym.Env[Any, np.int64]):
    """Early expression recognition: watch a face move from neutral to its apex, one frame per step, and decide
    when to commit to an emotion. Waiting buys accuracy; committing early saves time.

    This docstring is the environment's documentation: `docs/envs/sequence.md` is generated from it
    (`python docs/_scripts/gen_docs.py`).

    ```python
    import gymnasium as gym
    import fer_select_env  # registers FERSequence-v0

    env = gym.make("FERSequence-v0")  # synthetic sequences, cnn_lstm classifier, posterior observation
    env = gym.make("FERSequence-v0", observation="pixels", wait_penalty=0.0)
    obs, info = env.reset(seed=0, options={"index": 3})  # replay sequence 3 of the split
    ```

    ## Description

    The seed paper (ConvLSTM models on CK+ with "reward and penalty per episode") defines no RL problem; the
    sequential decision that makes RL meaningful on sequences is **early classification** (EARLIEST,
    Hartvigsen et al., KDD 2019; Martinez et al., EUSIPCO 2018). An episode is one face sequence of T frames
    (12 by default). A frozen sequence classifier, trained once with early stopping on the validation
    identities and cached, gives a posterior over the K emotions at every frame from the frames seen so far;
    `step()` is a table look-up. The agent waits or commits.

    The synthetic sequences hold a neutral face for a random time and then ramp to an apex drawn from the
    class's EMFACS prototype, with the units two emotions share rising first (fear and surprise both open with
    AU1+2+5+26; anger and disgust with AU4), so early frames are ambiguous and waiting pays.

    **Splits.** Identities are split between train, val and test; no subject is in two. The classifier fits
    the train identities and stops early on val. The env serves `split="val"` by default: a policy learns
    from posteriors of faces the classifier did not fit (on its own training faces the classifier is sure too
    early), and is reported on `split="test"`.

    ## Action Space

    `Discrete(K+1)`: `0` waits for the next frame; `k ≥ 1` commits to class `k−1`.

    ## Observation Space

    `observation="posterior"` (default): `Box(0, 1, (K+3,), float32)`:

    | index | observation |
    |---|---|
    | 0 … K-1 | the classifier's posterior p_t after frames 0..t |
    | K | max p_t |
    | K+1 | the entropy of p_t divided by log K |
    | K+2 | (t+1)/T, the fraction of frames seen |

    `observation="pixels"`: `Dict({"frame": Box(0, 255, (1, H, W), uint8), "time": Box(0, 1, (1,), float32)})`,
    the current frame and (t+1)/T, for recurrent or CNN policies (SB3's `MultiInputPolicy`,
    sb3-contrib's `MultiInputLstmPolicy`).

    ## Rewards

    | event | reward |
    |---|---|
    | commit to the right class | +1 |
    | commit to a wrong class | −1 |
    | wait on frames 0..T-2 | −λ (`wait_penalty`, default 0.01) |
    | wait on the last frame | −1: it counts as a wrong commit |

    This is the Martinez et al. form: the earliness pressure is in the env's reward. EARLIEST puts it on the
    policy instead (a penalty λ·Σ −log π(halt) in the agent's loss and a ±1 reward for every step before the
    halt); for that form make the env with `wait_penalty=0` and carry λ in the agent (see
    [the sequence agents](../sequence.md)).

    ## Starting State

    A sequence drawn uniformly from the split with the env's generator, its first frame observed;
    `reset(options={"index": i})` replays sequence i.

    ## Episode End

    The episode terminates on a commit, or on a wait at the last frame. It is never truncated (a sequence
    has T frames).

    ## Information

    Every step: `index` (the sequence), `t` (the frame just observed), `label`. At the end also `correct`,
    `prediction` (−1 when the agent waited out the sequence), `t_commit` (the frame committed on) and
    `earliness` = (t_commit + 1)/T, the fraction of frames seen (see `fer_select_env.envs.sequence.metrics`
    for how EARLIEST's and ELECTS' conventions differ).

    ## Arguments

    | argument | default | meaning |
    |---|---|---|
    | `dataset` | `None` | `None` (synthetic), a `FERSequenceDataset`, or the path of an npz (format below) |
    | `dataset_kwargs` | `None` | `make_sequence_dataset`'s arguments, or for a path the split's `fractions`, `seed` |
    | `classifier` | `"cnn_lstm"` | a kind (`convlstm`, `cnn_avg`, `cnn_lstm`), a dict of config fields, or a config |
    | `split` | `"val"` | the identities whose sequences the episodes replay |
    | `observation` | `"posterior"` | `"posterior"` or `"pixels"` |
    | `wait_penalty` | `0.01` | λ, the cost of one wait |
    | `cache_dir` | `None` | where the trained classifier is cached (see `fer_select_env.core.cache`) |
    | `render_mode` | `None` | `"rgb_array"` (the current frame) or `"ansi"` (a line of text) |

    ## Version History

    * v0: first version.
    """

    metadata: ClassVar[dict[str, Any]] = {"render_modes": ["rgb_array", "ansi"], "render_fps": 4}
    render_name: ClassVar[str] = "FERSequence-v0"

    def __init__(
        self,
        dataset: FERSequenceDataset | str | os.PathLike | None = None,
        dataset_kwargs: Mapping[str, Any] | None = None,
        classifier: str | Mapping[str, Any] | SequenceClassifierConfig = "cnn_lstm",
        split: str = "val",
        observation: str = "posterior",
        wait_penalty: float = DEFAULT_WAIT_PENALTY,
        cache_dir: str | os.PathLike | None = None,
        render_mode: str | None = None,
    ) -> None:
        self.split = check_choice("split", split, SPLITS)
        self.observation = check_choice("observation", observation, OBSERVATIONS)
        self.wait_penalty = _check_penalty(wait_penalty)
        if render_mode is not None and render_mode not in self.metadata["render_modes"]:
            raise ValueError(
                f"render_mode: must be None or one of {self.metadata['render_modes']}, got {render_mode!r}"
            )
        self.render_mode = render_mode
        self.dataset = _load_dataset(dataset, dataset_kwargs)
        self.classifier_config = _classifier_config(classifier)
        ds = self.dataset
        self.classifier, self.classifier_report = train_sequence_classifier(
            ds.x_train,
            ds.y_train,
            ds.x_val,
            ds.y_val,
            ds.num_classes,
            self.classifier_config,
            cache_dir=cache_dir,
            data_fingerprint=ds.fingerprint(),
        )
        self.frames, self.labels, self.subjects = ds.split(self.split)
        self.posteriors = sequence_posteriors(self.classifier, self.frames)
        """N×T×K: the classifier's posterior for every (sequence, frame) of the split (a look-up table)."""
        self._table = posterior_table(self.posteriors)
        self.num_classes, self.num_frames = ds.num_classes, ds.num_frames
        self.num_sequences = len(self.labels)
        self.action_space = spaces.Discrete(self.num_classes + 1)
        if self.observation == "posterior":
            self.observation_space = spaces.Box(0.0, 1.0, (self.num_classes + 3,), np.float32)
        else:
            h, w = ds.frame_shape
            self.observation_space = spaces.Dict(
                {
                    "frame": spaces.Box(0, 255, (1, h, w), np.uint8),
                    "time": spaces.Box(0.0, 1.0, (1,), np.float32),
                }
            )
        self._index: int | None = None
        self._t = 0
        self._done = True

    # ------------------------------------------------------------------------------------------- API
    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[Any, dict]:
        super().reset(seed=seed)
        index = self._reset_index(options)
        self._index = int(self.np_random.integers(self.num_sequences)) if index is None else index
        self._t, self._done = 0, False
        return self._obs(), self._info()

    def step(self, action: Any) -> tuple[Any, float, bool, bool, dict]:
        if self._done or self._index is None:
            raise ResetNeeded("FERSequence-v0: call reset() before step() (the episode has ended)")
        if not self.action_space.contains(action):
            raise ValueError(
                f"action: must be an int in [0, {self.num_classes}] (0 waits, k commits to class k-1), got {action!r}"
            )
        a = int(action)
        last = self._t == self.num_frames - 1
        if a == 0 and not last:
            self._t += 1
            return self._obs(), -self.wait_penalty, False, False, self._info()
        prediction = a - 1  # a wait on the last frame gives -1: no class, a wrong commit
        correct = prediction == int(self.labels[self._index])
        self._done = True
        info = {
            **self._info(),
            "correct": bool(correct),
            "prediction": int(prediction),
            "t_commit": int(self._t),
            "earliness": (self._t + 1) / self.num_frames,  # the fraction of frames seen
        }
        return self._obs(), 1.0 if correct else -1.0, True, False, info

    def render(self) -> np.ndarray | str | None:
        if self.render_mode is None or self._index is None:
            return None
        if self.render_mode == "ansi":
            p = self.posteriors[self._index, self._t]
            return (
                f"{self.render_name} sequence {self._index} frame {self._t + 1}/{self.num_frames}: "
                f"classifier says {self.dataset.class_names[int(p.argmax())]} ({p.max():.2f}), "
                f"label {self.dataset.class_names[int(self.labels[self._index])]}"
            )
        return cv2.cvtColor(self.frames[self._index, self._t], cv2.COLOR_GRAY2RGB)

    def observations_at(self, t: int) -> Any:
        """The observation of every sequence of the split at frame ``t``, batched (N×(K+3), or a dict of
        N×1×H×W frames and N×1 times): evaluating a policy over a whole split takes T batched calls."""
        t = check_int_at_least("t", t, 0)
        if t >= self.num_frames:
            raise ValueError(f"t: must be below T={self.num_frames}, got {t}")
        if self.observation == "posterior":
            return self._table[:, t].copy()
        time = np.full((self.num_sequences, 1), (t + 1) / self.num_frames, np.float32)
        return {"frame": self.frames[:, t, None].copy(), "time": time}

    # ------------------------------------------------------------------------------------- internals
    def _reset_index(self, options: object) -> int | None:
        options = check_reset_options(options, RESET_OPTIONS)
        if "index" not in options or options["index"] is None:
            return None
        index = check_int_at_least("reset option 'index'", options["index"], 0)
        if index >= self.num_sequences:
            raise ValueError(
                f"reset option 'index': {index} is out of range; "
                f"the {self.split} split has {self.num_sequences} sequences"
            )
        return index

    def _obs(self) -> Any:
        assert self._index is not None
        if self.observation == "posterior":
            return self._table[self._index, self._t].copy()
        return {
            "frame": self.frames[self._index, self._t][None].copy(),
            "time": np.array([(self._t + 1) / self.num_frames], np.float32),
        }

    def _info(self) -> dict[str, Any]:
        return {"index": int(self._index), "t": int(self._t), "label": int(self.labels[self._index])}


__all__ = ["DEFAULT_WAIT_PENALTY", "OBSERVATIONS", "FERSequenceEnv", "posterior_features", "posterior_table"]
