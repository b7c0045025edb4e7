"""FERSmile-v0: tune an emoticon until a simulated viewer smiles, scored by an emotion classifier on camera frames."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any, ClassVar

import cv2
import gymnasium as gym
import numpy as np
from gymnasium import spaces
from gymnasium.error import ResetNeeded

from fer_select_env.core.checks import (
    check_bool,
    check_choice,
    check_int_at_least,
    check_positive_int,
    check_reset_options,
)
from fer_select_env.envs.smile.camera import camera_classifiers
from fer_select_env.envs.smile.emoticon import (
    PARAMETER_NAMES,
    START,
    draw_emoticon,
    emoticon_camera_frames,
    from_unit,
    to_unit,
)
from fer_select_env.envs.smile.viewer import Viewer, ViewerPopulation, sample_viewer
from fer_select_env.models.camera import CameraClassifierConfig

ACTIONS: tuple[str, ...] = ("delta", "coordinate", "absolute", "incumbent")
REWARDS: tuple[str, ...] = ("happiness", "improvement", "incumbent_rise")
OBSERVATIONS: tuple[str, ...] = ("vector", "dict")
VIEWER_MODELS: tuple[str, ...] = ("simulated", "mirror")
VIEWER_SPLITS: tuple[str, ...] = ("train", "test", "val")  # appended only: a split's index seeds its stream
NORMALISATIONS: tuple[str, ...] = ("none", "baseline")
RESET_OPTIONS: tuple[str, ...] = ("viewer",)
IMAGE_SIZE = 48
NUM_TEST_VIEWERS = 1000
"""Held-out viewers ``0 … 999`` of ``viewers="test"``; the benchmark uses the first 100."""
NUM_VAL_VIEWERS = 1000
"""Validation viewers ``0 … 999`` of ``viewers="val"``: tune on these, never on the test viewers."""
_VIEWER_SALT = 0x5E11E
_TRAIN_VIEWER_IDS = 2**31


def viewer_of(split: str, index: int, population: ViewerPopulation) -> Viewer:
    """Viewer ``index`` of the ``"train"``, ``"test"`` or ``"val"`` stream: the streams never share a viewer.

    Each stream is seeded by the split's position in :data:`VIEWER_SPLITS`, so a split added at its end leaves
    the older streams' viewers unchanged."""
    rng = np.random.default_rng([_VIEWER_SALT, VIEWER_SPLITS.index(split), int(index)])
    return sample_viewer(population, rng, IMAGE_SIZE)


def _num_viewers(split: str) -> int:
    """How many viewer ids ``split`` serves (``"train"``: a practically endless stream)."""
    return {"test": NUM_TEST_VIEWERS, "val": NUM_VAL_VIEWERS}.get(split, _TRAIN_VIEWER_IDS)


def _population(value: object) -> ViewerPopulation:
    if value is None:
        return ViewerPopulation()
    if isinstance(value, ViewerPopulation):
        return value
    if isinstance(value, Mapping):
        return ViewerPopulation.from_dict(dict(value))
    raise ValueError(f"population: must be None, a dict of ViewerPopulation fields or one, got {value!r}")


def _step_size(value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.floating)):
        raise ValueError(f"step_size: must be a number in (0, 1], got {value!r}")
    if not 0.0 < float(value) <= 1.0:
        raise ValueError(f"step_size: must be in (0, 1] (a fraction of each parameter's range), got {value}")
    return float(value)


class FERSmileEnv(gym.Env[Any, Any]):
    """Tune an 8-parameter emoticon until the viewer smiles: continuous control scored by an emotion classifier
    on the viewer's camera frames (after DeepLaetitia).

    This docstring is the environment's documentation: `docs/envs/smile.md` is generated from it
    (`python docs/_scripts/gen_docs.py`).

    ```python
    import gymnasium as gym
    import fer_select_env  # registers FERSmile-v0

    env = gym.make("FERSmile-v0")  # delta actions for SAC/TD3/PPO, reward = mean P(happy) of 10 frames
    env = gym.make("FERSmile-v0", action="coordinate")  # Discrete(17) for DQN
    obs, info = env.reset(seed=0)
    test = gym.make("FERSmile-v0", viewers="test")
    obs, info = test.reset(seed=0, options={"viewer": 7})  # held-out viewer 7
    val = gym.make("FERSmile-v0", viewers="val")  # validation viewers: tune here, not on the test viewers
    env = gym.make("FERSmile-v0", action="incumbent")  # moves from the best-measured emoticon, which it keeps
    ```

    ## Description

    The seed (DeepLaetitia) reads a person's expression from a webcam with a small CNN and tunes an emoticon
    with Monte Carlo search until the CNN says the person is happy. Nobody sits in front of a camera here:
    each episode samples a hidden viewer from a documented population (`fer_select_env.envs.smile.viewer`):
    a taste (an ideal emoticon, with a liking that falls off around it), an expressiveness (a fifth of the
    viewers barely emote), a resting face and a resting smile, and habituation (the response fades while the
    emoticon barely changes). The viewer's true smile u ∈ [0, 1] drives AU6 + AU12 of the renderer's face of
    that viewer; head pose, lighting and sensor noise change every frame, and the smile fluctuates from frame
    to frame. A step shows the new emoticon for `n_frames` camera frames (10), which the embedded five-class
    classifier {happy, neutral, sad, angry, surprise} (the seed's two-convolution CNN, trained once on
    rendered faces and cached) scores. A referee classifier, trained on other faces with another seed, scores
    the same frames; it is reported, never rewarded.

    `viewers="train"` (default) draws a fresh viewer every episode; `viewers="test"` serves the held-out
    viewers 0 … 999, a stream no training episode draws from; `viewers="val"` serves validation viewers
    0 … 999, a third stream disjoint from both: choose settings on it, and score only frozen settings on
    `"test"`. (Each stream is seeded by its split's position in `VIEWER_SPLITS`; `"val"` was appended, so
    the train and test viewers are those of before.) `viewer="mirror"` is a diagnostic: the
    classifier reads the emoticon itself, which shows how easily a policy finds adversarial smileys.

    ## Action Space

    | `action` | space | meaning |
    |---|---|---|
    | `"delta"` (default) | `Box(-1, 1, (8,))` | add action × `step_size` × each range (SAC, TD3, PPO) |
    | `"coordinate"` | `Discrete(17)` | 0 no-op; 2i+1 raises parameter i, 2i+2 lowers it, by `step_size` × range (DQN) |
    | `"absolute"` | `Box(-1, 1, (8,))` | show the emoticon at these normalised parameters (black-box search) |
    | `"incumbent"` | `Box(-1, 1, (8,))` | add action × `step_size` × range to the **incumbent** (a learned search) |

    The incumbent is the emoticon with the best measurement so far, reset's included; a showing replaces it
    only if its measurement is strictly higher (the seed's greedy acceptance test). The env keeps it in every
    mode (`incumbent`, `best_happiness`); in `"incumbent"` mode it is also the episode's **answer** (`answer`,
    what the evaluation scores), and every try starts from it, so a rejected try costs one measurement and
    nothing else. This gives a policy the structure that makes the Monte Carlo search win (keep the best,
    perturb it) while leaving it to learn where and how far to try for the viewer in front of it. In the
    other modes `answer` is the shown emoticon. As everywhere, a showing that moves no coordinate by the
    population's `novelty_threshold` (0.05) habituates the viewer, so re-showing the incumbent to harvest
    measurement noise does not pay.

    Parameters are clipped to their ranges. In order: r (eye distance from the centre, [0, 1.1]), t (eye
    angle, [0, π]), s (eye radius, [0, 0.5]), a, b, c (the mouth cubic y = −0.35 + a·x + b·x² + c·x³;
    [−1, 1], [−1.2, 1.2], [−2, 2]), ey (eyebrow height, [0.05, 0.3]) and er (eyebrow tilt, [−1, 1]).

    ## Observation Space

    `observation="vector"` (default): `Box(low, high, (10,), float32)`:

    | index | observation | range |
    |---|---|---|
    | 0 … 7 | the shown emoticon's parameters, normalised to [−1, 1] | [−1, 1] |
    | 8 | the last measured happiness: mean P(happy) over the step's frames | [0, 1] |
    | 9 | the fraction of the step budget used | [0, 1] |

    With `action="incumbent"` the vector is `Box(low, high, (19,), float32)`, everything a search keeps:

    | index | observation | range |
    |---|---|---|
    | 0 … 7 | the incumbent's parameters, normalised to [−1, 1] | [−1, 1] |
    | 8 | the incumbent's measured happiness (the best so far) | [0, 1] |
    | 9 … 16 | the last shown emoticon minus the incumbent, over 2 × `step_size`: the last try as applied | [−1, 1] |
    | 17 | the last measured happiness | [0, 1] |
    | 18 | the fraction of the step budget used | [0, 1] |

    Indices 9 … 16 are all 0 after reset and after an accepted try (the shown emoticon is the incumbent).

    `observation="dict"`: `Dict({"state": the vector above, "frame": Box(0, 255, (1, 48, 48), uint8)})`, the
    last camera frame added.

    ## Rewards

    | `reward` | reward of a step |
    |---|---|
    | `"happiness"` (default) | the mean P(happy) over the step's `n_frames` frames |
    | `"improvement"` | that mean minus the best mean so far (the seed's acceptance test), reset's included |
    | `"incumbent_rise"` | the rise of the incumbent's measurement: max(0, that mean − the best so far) |

    An episode's `"incumbent_rise"` rewards sum to its final best measurement minus reset's.

    `normalise="baseline"` subtracts the viewer's happiness at reset (the starting emoticon's measurement)
    from `"happiness"`: per-viewer normalisation, which Jaques et al. found facial feedback needs. It cancels
    in `"improvement"` and `"incumbent_rise"`.

    ## Starting State

    The seed's starting emoticon (`random_start=True`: uniform parameters), shown to the viewer for one
    measurement at reset; that measurement's frames count towards the budget.

    ## Episode End

    Never terminated; truncated after `max_steps` steps (50 steps of 10 frames, plus reset's 10: 510 camera
    frames in all).

    ## Information

    `viewer` (its id in the stream), `parameters` (the shown emoticon), `happiness` (the measurement),
    `referee_happy` (the referee's mean P(happy) on the same frames), `smile` (the viewer's true smile u
    for this showing), `fresh_smile` (u without habituation), `best_smile` (the smile of the viewer's ideal
    emoticon: what an oracle reaches), `habituation`, `non_emoter` and `frames_used`. With `viewer="mirror"`
    the smiles are NaN (nobody watches).

    ## Arguments

    | argument | default | meaning |
    |---|---|---|
    | `action` | `"delta"` | `"delta"`, `"coordinate"`, `"absolute"` or `"incumbent"` |
    | `reward` | `"happiness"` | `"happiness"`, `"improvement"` or `"incumbent_rise"` |
    | `observation` | `"vector"` | `"vector"` or `"dict"` |
    | `viewer` | `"simulated"` | `"simulated"` or `"mirror"` (the classifier reads the emoticon) |
    | `viewers` | `"train"` | `"train"` (fresh viewers), `"test"` (held-out viewers by id) or `"val"` (validation) |
    | `population` | `None` | a `ViewerPopulation` or a dict of its fields; `None`: the documented defaults |
    | `n_frames` | `10` | camera frames per measurement |
    | `max_steps` | `50` | steps per episode |
    | `step_size` | `0.1` | the largest change of one step, as a fraction of each parameter's range |
    | `random_start` | `False` | start from uniform parameters instead of the seed's |
    | `normalise` | `"none"` | `"none"` or `"baseline"` |
    | `referee` | `True` | score every step's frames with the referee too (`False` saves a fifth of a step: training) |
    | `classifier_data` | `"synthetic"` | `"synthetic"` or the path of a FER2013 file (its five classes) |
    | `classifier_seed` | `0` | seeds the classifier's faces and weights (the referee's come from it too) |
    | `classifier` | `None` | a `CameraClassifierConfig` or a dict of its fields |
    | `faces` | `None` | sizes of the rendered training faces (`n_train`, `n_val`, `n_test`), small for tests |
    | `cache_dir` | `None` | where the classifiers are cached (see `fer_select_env.core.cache`) |
    | `render_mode` | `None` | `"rgb_array"` (the emoticon beside the viewer's last frame) or `"ansi"` |

    ## Version History

    * v0: first version; later, within v0 (nothing that existed changed): `action="incumbent"`,
      `reward="incumbent_rise"` and the `viewers="val"` stream.
    """

    metadata: ClassVar[dict[str, Any]] = {"render_modes": ["rgb_array", "ansi"], "render_fps": 4}

    def __init__(
        self,
        action: str = "delta",
        reward: str = "happiness",
        observation: str = "vector",
        viewer: str = "simulated",
        viewers: str = "train",
        population: ViewerPopulation | Mapping[str, Any] | None = None,
        n_frames: int = 10,
        max_steps: int = 50,
        step_size: float = 0.1,
        random_start: bool = False,
        normalise: str = "none",
        referee: bool = True,
        classifier_data: str | os.PathLike = "synthetic",
        classifier_seed: int = 0,
        classifier: CameraClassifierConfig | Mapping[str, Any] | None = None,
        faces: Mapping[str, Any] | None = None,
        cache_dir: str | os.PathLike | None = None,
        render_mode: str | None = None,
    ) -> None:
        self.action_mode = check_choice("action", action, ACTIONS)
        self.reward_mode = check_choice("reward", reward, REWARDS)
        self.observation_mode = check_choice("observation", observation, OBSERVATIONS)
        self.viewer_model = check_choice("viewer", viewer, VIEWER_MODELS)
        self.viewer_split = check_choice("viewers", viewers, VIEWER_SPLITS)
        self.normalise = check_choice("normalise", normalise, NORMALISATIONS)
        self.population = _population(population)
        self.n_frames = check_positive_int("n_frames", n_frames)
        self.max_steps = check_positive_int("max_steps", max_steps)
        self.step_size = _step_size(step_size)
        self.random_start = check_bool("random_start", random_start)
        self.use_referee = check_bool("referee", referee)
        if render_mode is not None and render_mode not in self.metadata["render_modes"]:
            raise ValueError(
                f"render_mode: must be None or one of {self.metadata['render_modes']}, got {render_mode!r}"
            )
        self.render_mode = render_mode
        self.classifier, self.referee, self.classifier_reports = camera_classifiers(
            classifier_data, classifier_seed, faces, classifier, cache_dir
        )
        self.happy_column = self.classifier.class_names.index("happy")
        n = len(PARAMETER_NAMES)
        if self.action_mode == "coordinate":
            self.action_space: spaces.Space = spaces.Discrete(2 * n + 1)
        else:
            self.action_space = spaces.Box(-1.0, 1.0, (n,), np.float32)
        if self.action_mode == "incumbent":  # the incumbent, its measurement, the last try from it, its measurement
            low = np.array([-1.0] * n + [0.0] + [-1.0] * n + [0.0, 0.0], np.float32)
        else:
            low = np.array([-1.0] * n + [0.0, 0.0], np.float32)
        state = spaces.Box(low, np.ones(len(low), np.float32), dtype=np.float32)
        if self.observation_mode == "vector":
            self.observation_space: spaces.Space = state
        else:
            frame = spaces.Box(0, 255, (1, IMAGE_SIZE, IMAGE_SIZE), np.uint8)
            self.observation_space = spaces.Dict({"state": state, "frame": frame})
        self.viewer: Viewer | None = None
        """The episode's hidden viewer (the oracle and the metrics read it; a policy must not)."""
        self.viewer_id = -1
        self._z = to_unit(START)
        self._incumbent = self._z.copy()
        self._steps, self._frames_used, self._habituation = 0, 0, 0.0
        self._happiness = self._baseline = self._best = 0.0
        self._last: dict[str, Any] = {}
        self._done = True

    # ------------------------------------------------------------------------------------------- API
    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[Any, dict]:
        super().reset(seed=seed)
        index = self._reset_viewer(options)
        if index is None:
            index = int(self.np_random.integers(_num_viewers(self.viewer_split)))
        self.viewer_id = index
        self.viewer = viewer_of(self.viewer_split, index, self.population)
        start = self.np_random.uniform(-1.0, 1.0, len(START)) if self.random_start else to_unit(START)
        self._steps, self._frames_used, self._habituation = 0, 0, 0.0
        self._z = np.clip(start, -1.0, 1.0)
        self._show(self._z, change=np.inf)
        self._baseline = self._best = self._happiness
        self._incumbent = self._z.copy()
        self._done = False
        return self._obs(), self._info()

    def step(self, action: Any) -> tuple[Any, float, bool, bool, dict]:
        if self._done or self.viewer is None:
            raise ResetNeeded("FERSmile-v0: call reset() before step() (the episode has ended)")
        z = self._apply(action)
        change = float(np.max(np.abs(z - self._z)))
        self._z = z
        self._steps += 1
        self._show(z, change)
        if self.reward_mode == "improvement":
            reward = self._happiness - self._best
        elif self.reward_mode == "incumbent_rise":
            reward = max(0.0, self._happiness - self._best)
        else:
            reward = self._happiness - (self._baseline if self.normalise == "baseline" else 0.0)
        if self._happiness > self._best:  # the seed's acceptance test: strictly better than the best so far
            self._best, self._incumbent = self._happiness, z.copy()
        truncated = self._steps >= self.max_steps
        self._done = truncated
        return self._obs(), float(reward), False, truncated, self._info()

    def render(self) -> np.ndarray | str | None:
        if self.render_mode is None or self.viewer is None:
            return None
        if self.render_mode == "ansi":
            return (
                f"FERSmile-v0 viewer {self.viewer_id} step {self._steps}/{self.max_steps}: "
                f"P(happy) {self._happiness:.2f}, true smile {self._last.get('smile', float('nan')):.2f}"
            )
        emoticon = draw_emoticon(from_unit(self._z), 128)
        face = cv2.resize(self._last["frame"], (128, 128), interpolation=cv2.INTER_NEAREST)
        return np.concatenate([emoticon, cv2.cvtColor(face, cv2.COLOR_GRAY2RGB)], axis=1)

    def probe(self, z: np.ndarray, n_frames: int = 100, seed: int = 0) -> dict[str, float]:
        """A diagnostic, not part of the MDP: the viewer's mean P(happy) (classifier and referee) on ``n_frames``
        fresh frames of the emoticon at normalised parameters ``z``, unhabituated, from a generator of its own.
        The episode (budget, habituation, the env's generator) is left as it was."""
        if self.viewer is None:
            raise ResetNeeded("FERSmile-v0: call reset() before probe()")
        z = np.clip(np.asarray(z, dtype=np.float64), -1.0, 1.0)
        rng = np.random.default_rng([_VIEWER_SALT, 7, self.viewer_id, check_int_at_least("seed", seed, 0)])
        frames, smile = self._frames(z, 0.0, check_positive_int("n_frames", n_frames), rng)
        return {
            "happiness": float(self.classifier.predict_proba(frames)[:, self.happy_column].mean()),
            "referee_happy": float(self.referee.predict_proba(frames)[:, self.happy_column].mean()),
            "smile": smile,
        }

    @property
    def last_frame(self) -> np.ndarray:
        """The last camera frame (uint8 48×48; a copy)."""
        return self._last["frame"].copy()

    @property
    def parameters(self) -> np.ndarray:
        """The shown emoticon's normalised parameters (a copy)."""
        return self._z.copy()

    @property
    def incumbent(self) -> np.ndarray:
        """The normalised parameters of the emoticon with the best measurement so far, reset's included (a copy;
        kept in every action mode, the first of equal measurements wins)."""
        return self._incumbent.copy()

    @property
    def best_happiness(self) -> float:
        """The incumbent's measurement: the best mean P(happy) of the episode so far."""
        return self._best

    @property
    def answer(self) -> np.ndarray:
        """The emoticon the episode answers with (what the evaluation scores): the incumbent in
        ``action="incumbent"`` mode, the shown emoticon in every other mode (a copy)."""
        return self.incumbent if self.action_mode == "incumbent" else self.parameters

    # ------------------------------------------------------------------------------------- internals
    def _reset_viewer(self, options: object) -> int | None:
        options = check_reset_options(options, RESET_OPTIONS)
        if options.get("viewer") is None:
            return None
        index = check_int_at_least("reset option 'viewer'", options["viewer"], 0)
        high = _num_viewers(self.viewer_split)
        if index >= high:
            raise ValueError(
                f"reset option 'viewer': {index} is out of range; viewers={self.viewer_split!r} has {high}"
            )
        return index

    def _apply(self, action: Any) -> np.ndarray:
        """The normalised parameters an action leads to (clipped to [−1, 1])."""
        if self.action_mode == "coordinate":
            if not self.action_space.contains(action):
                raise ValueError(f"action: must be an int in [0, {self.action_space.n - 1}], got {action!r}")
            a, z = int(action), self._z.copy()
            if a > 0:
                z[(a - 1) // 2] += (1.0 if a % 2 == 1 else -1.0) * 2.0 * self.step_size
            return np.clip(z, -1.0, 1.0)
        arr = np.asarray(action, dtype=np.float64)
        if arr.shape != self.action_space.shape or not np.all(np.isfinite(arr)):
            raise ValueError(f"action: must be {self.action_space.shape[0]} finite numbers, got {action!r}")
        arr = np.clip(arr, -1.0, 1.0)
        if self.action_mode == "absolute":
            return arr
        origin = self._incumbent if self.action_mode == "incumbent" else self._z
        return np.clip(origin + arr * 2.0 * self.step_size, -1.0, 1.0)  # the normalised range is 2 wide

    def _frames(self, z: np.ndarray, habituation: float, n: int, rng: np.random.Generator) -> tuple[np.ndarray, float]:
        if self.viewer_model == "mirror":
            return emoticon_camera_frames(from_unit(z), n, rng, IMAGE_SIZE), float("nan")
        assert self.viewer is not None
        smile = self.viewer.smile(z, habituation)
        return self.viewer.frames(smile, n, rng, IMAGE_SIZE), smile

    def _show(self, z: np.ndarray, change: float) -> None:
        """Show the emoticon ``z`` for one measurement: habituation, camera frames, both classifiers."""
        assert self.viewer is not None
        self._habituation = self.viewer.next_habituation(self._habituation, change)
        frames, smile = self._frames(z, self._habituation, self.n_frames, self.np_random)
        self._frames_used += self.n_frames
        self._happiness = float(self.classifier.predict_proba(frames)[:, self.happy_column].mean())
        mirror = self.viewer_model == "mirror"
        self._last = {
            "frame": frames[-1],
            "referee_happy": (
                float(self.referee.predict_proba(frames)[:, self.happy_column].mean())
                if self.use_referee
                else float("nan")
            ),
            "smile": smile,
            "fresh_smile": float("nan") if mirror else self.viewer.smile(z),
        }

    def _obs(self) -> Any:
        budget = self._steps / self.max_steps
        if self.action_mode == "incumbent":
            tried = (self._z - self._incumbent) / (2.0 * self.step_size)  # the last action as applied; 0 if accepted
            parts = [self._incumbent, [self._best], tried, [self._happiness, budget]]
            state = np.concatenate(parts).astype(np.float32)
        else:
            state = np.concatenate([self._z, [self._happiness, budget]]).astype(np.float32)
        state = np.clip(state, -1.0, 1.0)  # float rounding must not leave the Box
        if self.observation_mode == "vector":
            return state
        return {"state": state, "frame": self._last["frame"][None].copy()}

    def _info(self) -> dict[str, Any]:
        assert self.viewer is not None
        mirror = self.viewer_model == "mirror"
        return {
            "viewer": self.viewer_id,
            "parameters": from_unit(self._z),
            "happiness": self._happiness,
            "referee_happy": self._last["referee_happy"],
            "smile": self._last["smile"],
            "fresh_smile": self._last["fresh_smile"],
            "best_smile": float("nan") if mirror else self.viewer.best_smile,
            "habituation": float("nan") if mirror else self._habituation,
            "non_emoter": bool(self.viewer.non_emoter),
            "frames_used": self._frames_used,
        }


__all__ = [
    "ACTIONS",
    "NUM_TEST_VIEWERS",
    "NUM_VAL_VIEWERS",
    "OBSERVATIONS",
    "REWARDS",
    "VIEWER_SPLITS",
    "FERSmileEnv",
    "viewer_of",
]
