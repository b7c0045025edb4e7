"""FERSelect-v0: RLPS image selection (Li & Xu 2020, §3 and Algorithm 1) as a Gymnasium environment."""

from __future__ import annotations

import multiprocessing
import os
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any, ClassVar

import gymnasium as gym
import numpy as np
import torch
from gymnasium import logger, spaces
from gymnasium.error import ResetNeeded

from fer_select_env.core.cache import atomic_write_bytes
from fer_select_env.core.checks import (
    check_bool,
    check_choice,
    check_device,
    check_int_at_least,
    check_positive_int,
    check_reset_options,
)
from fer_select_env.core.metrics import confusion_matrix, macro_f1, total_accuracy
from fer_select_env.core.serialization import load_tensor_file, tensor_file_bytes
from fer_select_env.data.dataset import FERDataset
from fer_select_env.data.resolve import resolve_dataset
from fer_select_env.envs.select.metrics import removal_scores
from fer_select_env.envs.select.rewards import (
    EQ2_BASELINES,
    REWARDS,
    SCORINGS,
    cross_fitted_probabilities,
    dvrl_reward,
    eq2_dvrl_sample_rewards,
    eq2_sample_rewards,
    eq3_episode_reward,
    f1_reward,
    label_probabilities,
    per_step_reward,
)
from fer_select_env.models import ClassifierConfig, EmotionClassifier, pretrain_classifier
from fer_select_env.models.chance import ChanceCheck, check_near_chance, warn_if_near_chance
from fer_select_env.models.cnn import as_classifier_config

OBSERVATIONS: tuple[str, ...] = ("paper", "label_aware")
RETRAINS: tuple[str, ...] = ("head", "finetune", "scratch")
RESET_OPTIONS: tuple[str, ...] = ("reset_classifier", "freeze_classifier")
_STATE_FORMAT = 2  # 2: arrays stored as tensors, read with weights_only=True (1 pickled numpy)

_forked_child = False
"""Set in a child made by ``fork`` from a process that had imported this module (and so torch)."""


def _mark_forked_child() -> None:
    global _forked_child
    _forked_child = True


if hasattr(os, "register_at_fork"):  # POSIX
    os.register_at_fork(after_in_child=_mark_forked_child)


def in_worker_process() -> bool:
    """Whether this process is a worker: started by ``multiprocessing`` (``SubprocVecEnv``, Gymnasium's
    ``AsyncVectorEnv``, a ``Pool``; any start method) or forked from a process that had imported the env."""
    return _forked_child or multiprocessing.parent_process() is not None


def _worker_threads(num_threads: int | None) -> None:
    """The env's thread rule in a worker process (see the Vector environments section of the docstring).

    Why: a child forked after the parent ran torch's OpenMP thread pool hangs at its first parallel op unless
    it drops to one thread before any torch op (measured: Gymnasium's AsyncVectorEnv on Linux's default
    ``fork`` hung on its first reset; with ``torch.set_num_threads(1)`` first it ran). And n workers of
    PyTorch's default thread count oversubscribe the cores (figures in the docstring's Vector environments
    section, from ``benchmarks/bench_vec_envs.py``), which PyTorch's own DataLoader workers avoid by the same
    ``torch.set_num_threads(1)``.
    """
    if _forked_child:
        if num_threads is not None and num_threads > 1:
            raise RuntimeError(
                f"num_threads={num_threads}: this FERSelect env runs in a process made by fork, where torch's "
                "thread pool inherited from the parent hangs with more than one thread. Start the workers with "
                "spawn or forkserver instead (SubprocVecEnv(..., start_method='spawn'), "
                "gymnasium.vector.AsyncVectorEnv(..., context='spawn')), or leave num_threads=None (one thread)"
            )
        torch.set_num_threads(1)  # before any torch op of this process; never restored
    elif num_threads is None and in_worker_process():
        torch.set_num_threads(1)


def _optional_path(name: str, value: object) -> str | os.PathLike | None:
    if value is not None and not isinstance(value, (str, os.PathLike)):
        raise ValueError(f"{name}: must be a path or None, got {type(value).__name__}")
    return value


def _check_dataset_argument(dataset: object, synthetic_kwargs: object) -> None:
    if dataset is not None and not isinstance(dataset, (FERDataset, str, os.PathLike)):
        raise ValueError(
            "dataset: must be a FERDataset, a path to an .npz file, a scenario name or None, got "
            f"{type(dataset).__name__}"
        )
    if synthetic_kwargs is not None and not isinstance(synthetic_kwargs, Mapping):
        raise ValueError(f"synthetic_kwargs: must be a dict or None, got {type(synthetic_kwargs).__name__}")


def _reset_options(options: object) -> dict[str, bool]:
    """``reset``'s ``options``: ``None`` or a dict of the :data:`RESET_OPTIONS` with True/False values."""
    options = check_reset_options(options, RESET_OPTIONS)
    return {name: check_bool(f"reset option {name!r}", value) for name, value in options.items()}


class FERSelectEnv(gym.Env[np.ndarray, np.int64]):
    """The RLPS image-selection problem (Li & Xu 2020, "Deep reinforcement learning for robust emotional
    classification in facial expression recognition", §3 and Algorithm 1) as a Gymnasium environment.

    This docstring is the environment's documentation: `docs/envs/select.md` is generated from it
    (`python docs/_scripts/gen_docs.py`). It is written in Markdown, as Gymnasium's are.

    ```python
    import gymnasium as gym
    import fer_select_env  # registers FERSelect-v0 and FERSelectLabelAware-v0

    env = gym.make("FERSelect-v0")  # synthetic default, paper state
    env = gym.make("FERSelectLabelAware-v0", dataset="face")  # label-aware state, face-noise scenario
    env = gym.make("fer_select_env:FERSelect-v0", dataset="my_data.npz")  # works in a fresh (spawned) process
    ```

    Importing `fer_select_env` registers the ids (idempotently). In a process that has not imported it — a
    `SubprocVecEnv` worker started with `spawn`/`forkserver`, rl-zoo3 with `--env-kwargs` — use the
    `"fer_select_env:FERSelect-v0"` form, which imports the package first.

    ## Description

    The image-selection problem of RLPS (Li & Xu 2020, §3, Algorithm 1). An embedded CNN emotion classifier is
    pre-trained on the whole noisy training set (Algorithm 1, line 2). An episode is one pass over the training
    images in a shuffled order (or a random subset of `episode_size` images). At each step the agent sees one
    image through the classifier's first dense layer and keeps or removes it. When the pass ends, the classifier
    is retrained on the kept images, every image of the episode is scored, and the reward arrives.

    The classifier **persists across episodes** by default: the state features follow the classifier as it
    retrains, as in the paper. Three ways to change that:

    * `env.reset(options={"reset_classifier": True})` restores the pre-trained classifier once;
    * `persistent_classifier=False` restores it at every reset, so each pass is scored by one retraining from
      the same start and the state distribution stays fixed (the bundled agents learn in this setting; see
      [Agents](agents.md));
    * `env.reset(options={"freeze_classifier": True})` runs one pass without any retraining, its rewards
      scored by the classifier as it stands: the paper's §3.3 pre-training of the selector with the fixed CNN
      (`REINFORCE.pretrain` uses it).

    ## Action Space

    `Discrete(2)`: `1` keeps the current image, `0` removes it (§3.1.2). `step` takes exactly what
    `Discrete(2).contains` accepts: a Python int (or bool), or a numpy integer scalar or 0-d integer array (what
    SB3's vector envs hand in). Anything else — `2`, a float such as `0.9` or `1.0`, the string `"1"`, an
    array of shape `(1,)` — raises `ValueError`; an action is never rounded or truncated.

    ## Observation Space

    `Box(float32)`. With `observation="paper"` (the default; §3.1.1 and §4.4.1) it has `2·F` values, F = 128 by
    default (so 256):

    | index | observation | min | max |
    |---|---|---|---|
    | 0 … F-1 | post-ReLU output of the classifier's first dense layer for the current image | 0 | float32 max |
    | F … 2F-1 | mean of that feature over the images kept so far in this episode (zeros before the first keep) | 0 | float32 max |

    With `observation="label_aware"` (registered as `FERSelectLabelAware-v0`) it has `2F + 2K + 1` values; after
    the above come, in this order:

    | index | observation | min | max |
    |---|---|---|---|
    | 2F … 2F+K-1 | the given label, one-hot | 0 | 1 |
    | 2F+K … 2F+2K-1 | the classifier's predicted class distribution for the image | 0 | 1 |
    | 2F+2K | its probability of the given label | 0 | 1 |

    **Why a label-aware state.** The paper's state carries no label, so a selector reading it can see
    image-quality noise (an image with no face looks different) but cannot tell a wrongly labelled image from a
    correctly labelled one: both look the same. The extra block is a version of DVRL's "marginal information".
    The predicted distribution is the same probability that defined the image's last reward; with
    `scoring="cross_fit"` it comes from a classifier that did not train on the image.

    ## Rewards

    Write `P(y_i | x_i)` for the classifier's probability of image i's given label, K for the number of classes,
    and B for the set of kept images.

    | `reward=` | per step | terminal step | `info["sample_rewards"]` |
    |---|---|---|---|
    | `"eq3"` (default) | 0 | `Σ_{i∈B} R_i` (Eq. 3) with `R_i = P(y_i|x_i) − b` (Eq. 2), scored after retraining on B | `R_i` for every image of the episode |
    | `"f1"` | 0 | `F1_val(after) − F1_val(before)`, the change of validation macro-F1 (Table 4's RLPS+F1) | the episode reward, for every image |
    | `"dvrl"` | 0 | `acc_val(retrained on B) − acc_val(retrained on every image of the episode)` (DVRL) | the episode reward, for every image |
    | `"eq3_dvrl"` | 0 | `Σ_{i∈B} (R_i + D)`, `D` the `"dvrl"` reward (issue 13, item 6) | `R_i + D` for every image |
    | `"per_step"` | `a_i · R_i` with `R_i` from the classifier as it stood when the episode began | its own `a_i · R_i` | `R_i` after this episode's retraining |

    **The baseline b of Eq. 2** (`baseline=`). The paper's `(1/n) Σ_j p(e|x_j)` is ambiguous:

    * `"class_prior"` (default): `b_i = (1/n) Σ_j P(y_i|x_j)`, the classifier's mean predicted probability of
      image i's label class over the episode's n images. This is Eq. 2 read literally with `e = e_true`: the
      class prior the classifier has learned. Keeping an image raises Eq. 3 when the classifier gives its label
      more than that class's prior. On balanced data it is about 1/K and behaves like `"uniform"` (removal F1 of
      the one-step rule 0.808 against 0.809 on the synthetic default, [Performance](performance.md#reward-signal));
      on imbalanced real data the fixed 1/K threshold marks most images of a rare class as noise, because the
      classifier rarely gives a rare class more than chance, and a selector trained on it removes whole classes
      (measured on FER2013 in [Results](results_history.md#real-data-fer2013-with-fer-as-a-noise-reference)).
    * `"uniform"`: `b = 1/K`. This is the value the released code computed (the mean over the K classes
      of one image's softmax is always 1/K). Keeping an image raises Eq. 3 exactly when the classifier gives its
      label more than chance probability — a fixed, interpretable threshold that does not depend on how much of
      the dataset is noisy.
    * `"mean"`: `b = mean_j P(y_j|x_j)` over the episode's images (j runs over samples): a centred reward, i.e. a
      REINFORCE baseline. Eq. 3 then favours keeping the above-average half, which removes hard clean images.
    * `"none"`: `b = 0`; every kept image adds reward, so Eq. 3 favours keeping everything.

    **Scoring** (`scoring=`). A classifier retrained on B and scored on B may have fitted B, wrong labels
    included, in which case in-sample scores reward keeping whatever was kept.

    * `"in_sample"` (default): every image is scored by the classifier retrained on B, as the paper does.
    * `"cross_fit"`: the kept set is split into `n_folds` (default 2) label-stratified folds; each kept image is
      scored by a classifier trained on the other folds, and each removed image by the classifier trained on all
      of B. No image is scored by a model that trained on it. It costs `n_folds` extra trainings per episode.

    Why `in_sample` is the default: we measured the score inflation directly (a random 70% keep mask makes kept
    and removed images exchangeable, so any gap in their mean `P(y|x)` comes from having trained on them). With
    the early-stopped retraining of this package the gap is +0.007 in-sample against +0.001 cross-fitted, and
    `-R_i` separates noisy from clean images equally well either way (ROC-AUC 0.954 vs 0.953; in `finetune` mode
    0.940 vs 0.937). Cross-fitting is the safe choice when the classifier can memorise its training set (long
    training without early stopping, a large network on a small dataset). Figures and commands:
    [performance.md](performance.md#reward-signal).

    **Per-step mode, honestly.** Retraining happens once per episode, so a per-step reward cannot come from the
    retraining that the step's own decision feeds. `"per_step"` pays `a_i · R_i` immediately with `R_i` scored by
    the classifier from the end of the previous episode (cross-fitted where `scoring="cross_fit"`, where the
    first episode uses fold heads over the pre-trained network). An episode's rewards therefore sum to Eq. 3 with one
    episode of lag. Agents that need dense rewards (SB3's PPO with ordinary settings) can learn from it; the
    classifier still retrains at the end of every episode, so the next episode's rewards follow what was kept.

    ## Starting State

    The first `reset()` pre-trains the classifier on all training images with early stopping on the validation
    split, or loads it from the disk cache. It then judges the classifier against chance
    (`env.unwrapped.classifier_check`) and issues a `ClassifierNearChanceWarning` (a `UserWarning`, in
    `fer_select_env.models.chance`) when its validation accuracy is below `max(1/K, majority-class share)` plus
    two binomial standard errors: every reward and feature would then be noise. The warning says what to do:
    more data, a smaller classifier, more epochs. Each `reset()` draws a new order (and subset) from the env's seed and
    sets the kept mean to zero. The first step's `info` and every non-terminal step's `info` hold only
    `sample_index`, the dataset index of the image now shown.

    ## Episode End

    The episode ends with `terminated=True` after the last image of the pass. The env never truncates. Do not
    wrap it in a `TimeLimit` shorter than the pass: SB3 treats truncation as a timeout and bootstraps from the
    value of the final observation, which is wrong for a finished pass.

    The terminal step's `info`:

    | key | type | meaning |
    |---|---|---|
    | `sample_rewards` | float32 array, step order | per-image rewards (see the table above); REINFORCE needs them for Eq. 4 |
    | `kept` | bool array, step order | the agent's decisions |
    | `sample_indices` | int64 array, step order | dataset index of each step |
    | `sample_label_probs` | float32 array, step order | `P(y_i|x_i)` under the chosen scoring |
    | `sample_probs` | float32 array n×K, step order | every class probability under the chosen scoring (Eq. 2's `p(e|x_j)`; recompute `R_i` under any baseline with `fer_select_env.envs.select.rewards.eq2_sample_rewards`) |
    | `val_accuracy`, `val_macro_f1` | float | the retrained classifier on the validation split |
    | `kept_fraction` | float | fraction of the episode kept |
    | `retrained` | bool | `False` when nothing was kept |
    | `removal_precision`, `removal_recall`, `removal_f1` | float | removal as a noise detector; only when the dataset has `noise_train` |

    The wall time of the last retraining is `env.unwrapped.retrain_seconds`; it is not in `info` because it is not
    deterministic.

    ## Arguments

    | argument | default | meaning |
    |---|---|---|
    | `dataset` | `None` | a `FERDataset`, a path to an `.npz` file ([format](data.md)), a synthetic scenario name (`label_symmetric`, `label_confusion`, `face`, `mixed`) or `None` (the default synthetic benchmark) |
    | `observation` | `"paper"` | `"paper"` or `"label_aware"` |
    | `reward` | `"eq3"` | `"eq3"`, `"f1"`, `"dvrl"`, `"eq3_dvrl"` or `"per_step"` |
    | `baseline` | `"class_prior"` | Eq. 2's b: `"class_prior"`, `"uniform"`, `"mean"` or `"none"` |
    | `scoring` | `"in_sample"` | `"in_sample"` or `"cross_fit"` |
    | `n_folds` | 2 | folds of cross-fitted scoring |
    | `retrain` | `"head"` | `"head"`: train the two dense layers on cached convolutional features, starting every time from the pre-trained head so that the state feature (the first dense layer) keeps its coordinates from pass to pass (fast on CPU); `"finetune"`: continue training all layers from the current weights (the released code); `"scratch"`: re-initialise and train the whole network (the paper's text) |
    | `episode_size` | `None` | images per episode (a random subset); `None` is the whole training set; a larger number means the whole set, with a warning |
    | `classifier_config` | `ClassifierConfig()` | a `ClassifierConfig` or a dict of its fields (width, feature size, training budget); see [classifier.md](classifier.md) |
    | `classifier_seed` | 0 | seed of pre-training (part of the cache key) |
    | `synthetic_kwargs` | `None` | sizes and seed for the synthetic renderer (`n_train`, `n_val`, `n_test`, `image_size`, `noise_rate`, `seed`) |
    | `device` | `"cpu"` | `"cpu"`, `"cuda"` or `"auto"` |
    | `cache_dir` | `None` | cache directory; default `$FER_SELECT_CACHE_DIR`, else `$XDG_CACHE_HOME/fer-select`, else `~/.cache/fer-select` |
    | `render_mode` | `None` | `None` or `"ansi"` (a text summary of the pass); `"rgb_array"`, which SB3's `make_vec_env` asks for by default, is accepted and means `None` |
    | `progress` | `False` | tqdm progress bars during pre-training |
    | `persistent_classifier` | `True` | `False` restores the pre-trained classifier at every reset (see Description) |
    | `num_threads` | `None` | CPU threads of the classifier's work; `None`: PyTorch's setting in the main process, one thread in a worker process (see Vector environments) |

    Every argument is checked by the constructor, before the dataset is read: a wrong value or type
    (`episode_size=2.5` or `"10"`, `n_folds=2.9`, `device="tpu"`, `classifier_config=[...]`) raises `ValueError`
    naming the argument (and the valid choices); nothing is coerced. `reset(options=...)` takes `None` or a dict
    of `reset_classifier` / `freeze_classifier` with `True`/`False` values.

    ## Edge cases

    | situation | behaviour |
    |---|---|
    | every image removed | no retraining; the scores stay as they were after the previous retraining; Eq. 3 is 0; `info["retrained"]` is `False` |
    | only one class kept | the classifier is retrained on it like on any set (it will predict that class) |
    | fewer kept images than folds | a fold with nothing to train on is scored by the classifier as it was before the retraining |
    | `episode_size` larger than the dataset | the whole training set, with a warning at construction |
    | `step()` before `reset()` | raises `gymnasium.error.ResetNeeded` (what `gym.make`'s order-enforcing wrapper raises too) |
    | `step()` after the pass ended | warns and returns the last observation, reward 0, `terminated=True`, empty info |
    | an action `Discrete(2).contains` refuses (`2`, `0.9`, `1.0`, `"1"`, `np.array([1])`) | `ValueError` |

    ## Seeding and determinism

    All randomness comes from the env's seed: the order and subsets from `np_random`, and each retraining from
    an integer drawn from `np_random` that seeds a scoped torch RNG (`torch.random.fork_rng`), so the env never
    moves the global torch RNG that an agent in the same process uses. On CPU, two envs built the same way,
    reset with the same seed and stepped with the same actions produce identical observations, rewards and
    infos (tested with `gymnasium.utils.env_checker.data_equivalence`). GPU retraining may not be bit-exact.

    ## Save and resume

    ```python
    env.unwrapped.save_state("env_state.pt")  # atomic: never a half-written file
    env2 = gym.make("FERSelect-v0", **same_kwargs)
    env2.unwrapped.load_state("env_state.pt")  # continues exactly, mid-episode included
    ```

    The state holds the classifier's weights (current and pre-trained), the current scores, the episode's order,
    decisions and kept mean, the `np_random` state and the episode counter. Loading onto a different dataset
    raises `ValueError`.

    ## Vector environments

    `DummyVecEnv` and `SubprocVecEnv` both work and deliver the terminal info (with `terminal_observation`) on
    the step where the pass ends. Each `SubprocVecEnv` worker holds its own dataset and classifier; pass the
    dataset as an npz path so that workers load it instead of receiving it by pickle.

    **Threads in worker processes.** In a process started by `multiprocessing` (`SubprocVecEnv`, Gymnasium's
    `AsyncVectorEnv`, a `Pool`; any start method) or forked from one that had imported the env, the env sets
    `torch.set_num_threads(1)` when it is built, before any torch op of that process, as PyTorch's own
    DataLoader workers do. Two reasons, both measured: a child forked after the parent ran torch's OpenMP thread
    pool hangs at its first parallel op unless it drops to one thread first (Gymnasium's `AsyncVectorEnv` on
    Linux's default `fork` hung at its first reset), and `n` workers of PyTorch's default thread count
    oversubscribe the cores (`benchmarks/bench_vec_envs.py`, two workers on an idle 2-core machine: a spawned
    worker's first reset took 0.9 s with PyTorch's default two threads and 0.2 s with one, and with
    `retrain="finetune"` they stepped 224 steps/s against 487; with two other busy processes on the cores, 20
    against 443). `num_threads=N` gives the classifier N threads instead; in a forked worker N > 1 raises
    `RuntimeError` at once rather than hang. Start workers with `spawn` or `forkserver` all the same: they
    inherit no thread pool, no CUDA context and no lock held by another thread of the parent.

    **The native vector env.** Both ids register a `vector_entry_point`, as CartPole-v1 does:

    ```python
    import numpy as np

    venv = gym.make_vec("FERSelect-v0", num_envs=8, vectorization_mode="vector_entry_point")
    obs, info = venv.reset(seed=0)  # obs: (8, 256); sub-env i is seeded with 0 + i
    obs, rewards, terminated, truncated, info = venv.step(np.ones(8, dtype=np.int64))
    ```

    `FERSelectVectorEnv` (`fer_select_env.envs.select.vector_env`) is a `gymnasium.vector.VectorEnv` that
    steps N independent passes in one process. Each pass is a `FERSelectEnv` of its own (`venv.envs`: its own
    classifier, `np_random`, order and kept set); they share one dataset, one pre-training (or cache read) and
    one set of cached conv features. Per step it does one gather of the N current features, one update of
    the N kept means and the N per-step rewards as arrays. The passes have the same length and end on the same
    step, where each sub-env retrains and scores as a single env does (this work is not shared: each pass
    trains on its own kept set). Infos follow Gymnasium's vector convention (a dict of arrays, each key `k`
    with its mask `_k`; the terminal info's arrays become N×n). `autoreset_mode` is `"NextStep"` (Gymnasium's
    default: the step after the terminal one resets and ignores its actions) or `"SameStep"` (the terminal
    step returns the next pass's first observation, with `info["final_obs"]` and `info["final_info"]`). With
    the same seeds and actions it returns exactly what Gymnasium's `SyncVectorEnv` over N `FERSelectEnv`s
    returns, so with `num_envs=1` it is the single env's trajectory (both tested). `reset(options=...)` passes
    the options to every pass; a wrong `num_envs`, `autoreset_mode`, `seed` list or batch of `actions` raises
    `ValueError` naming it. Save and resume (`get_state`) is per sub-env only.

    SB3 takes only its own vector envs: `agents.common.vec_env.make_native_vec_env("FERSelect-v0", N, **kwargs)`
    wraps it (in `"SameStep"` mode) as an SB3 `VecEnv` with `DummyVecEnv`'s semantics
    (`terminal_observation`, `TimeLimit.truncated`, `reset_infos`, seeds and options used once), behind a
    `VecMonitor`, for `REINFORCE` and PPO alike. Speed: [Performance](performance.md#the-native-vector-env).

    ## Version History

    * v0: initial release.
    """  # noqa: E501  (Markdown table rows)

    metadata: ClassVar[dict[str, Any]] = {"render_modes": ["ansi"], "render_fps": 4}
    render_name: ClassVar[str] = "FERSelect-v0"
    """What the ansi rendering calls an env built without ``gym.make`` (no ``spec``)."""

    def __init__(
        self,
        dataset: FERDataset | str | os.PathLike | None = None,
        observation: str = "paper",
        reward: str = "eq3",
        baseline: str = "class_prior",
        scoring: str = "in_sample",
        n_folds: int = 2,
        retrain: str = "head",
        episode_size: int | None = None,
        classifier_config: ClassifierConfig | dict | None = None,
        classifier_seed: int = 0,
        synthetic_kwargs: dict[str, Any] | None = None,
        device: str = "cpu",
        cache_dir: str | os.PathLike | None = None,
        render_mode: str | None = None,
        progress: bool = False,
        persistent_classifier: bool = True,
        num_threads: int | None = None,
    ) -> None:
        self.observation_mode = check_choice("observation", observation, OBSERVATIONS)
        self.reward_mode = check_choice("reward", reward, REWARDS)
        self.baseline = check_choice("baseline", baseline, EQ2_BASELINES)
        self.scoring = check_choice("scoring", scoring, SCORINGS)
        self.retrain = check_choice("retrain", retrain, RETRAINS)
        if render_mode == "rgb_array":
            # SB3's make_vec_env asks every env for rgb_array frames by default; refusing would break it.
            # gym.make has already warned that the mode is unsupported.
            render_mode = None
        if render_mode is not None and render_mode not in self.metadata["render_modes"]:
            raise ValueError(f"render_mode must be None or one of {self.metadata['render_modes']}, got {render_mode!r}")
        self.render_mode = render_mode
        # Every argument is checked here, before the dataset is read: never coerced (2.5 is not 2), never
        # left to fail at the first reset.
        self.n_folds = check_int_at_least("n_folds", n_folds, 2)
        self.classifier_config = as_classifier_config(classifier_config)
        self.classifier_seed = check_int_at_least("classifier_seed", classifier_seed, 0)
        self.device = check_device("device", device)
        self.cache_dir = _optional_path("cache_dir", cache_dir)
        self.progress = check_bool("progress", progress)
        self.persistent_classifier = check_bool("persistent_classifier", persistent_classifier)
        if episode_size is not None:
            episode_size = check_positive_int("episode_size", episode_size)
        self.num_threads = None if num_threads is None else check_positive_int("num_threads", num_threads)
        _check_dataset_argument(dataset, synthetic_kwargs)
        _worker_threads(self.num_threads)  # before the first torch op of a worker process

        self.dataset = resolve_dataset(dataset, synthetic_kwargs, cache_dir)
        n_train = len(self.dataset.y_train)
        if episode_size is not None and episode_size > n_train:
            logger.warn(
                f"episode_size={episode_size} exceeds the {n_train} training images; each episode is the whole "
                "training set"
            )
        self.episode_size = n_train if episode_size is None else min(episode_size, n_train)

        self.num_classes = self.dataset.num_classes
        self.feature_dim = int(self.classifier_config.feature_dim)
        self.action_space = spaces.Discrete(2)
        self.observation_space = self._make_observation_space()

        # Built lazily by the first reset so that construction (done repeatedly by env checkers and
        # vector-env workers) stays cheap.
        self.classifier: EmotionClassifier | None = None
        self.classifier_check: ChanceCheck | None = None
        """The pre-trained classifier's validation accuracy against chance (set by the first reset; see
        :mod:`fer_select_env.models.chance`)."""
        self._pretrained_head_state: dict[str, torch.Tensor] | None = None
        self._initial_scores: tuple[np.ndarray, dict[str, float]] | None = None
        self.retrain_seconds: float | None = None
        """Wall time of the last end-of-episode retraining and scoring (kept out of ``info`` because
        it is not deterministic)."""
        self.episode_count = 0
        self._order: np.ndarray | None = None
        self._last_summary: dict[str, Any] | None = None

    # ------------------------------------------------------------------ spaces
    def _make_observation_space(self) -> spaces.Box:
        f, k = self.feature_dim, self.num_classes
        big = np.finfo(np.float32).max
        low = [np.zeros(2 * f, np.float32)]
        high = [np.full(2 * f, big, np.float32)]
        if self.observation_mode == "label_aware":
            low.append(np.zeros(2 * k + 1, np.float32))
            high.append(np.ones(2 * k + 1, np.float32))
        return spaces.Box(np.concatenate(low), np.concatenate(high), dtype=np.float32)

    def _check_state_matches(self, state: dict[str, Any]) -> None:
        """``ValueError`` unless ``state`` (a :meth:`get_state` dict) fits this env's observation mode, feature
        size and number of classes; :meth:`set_state` calls it before restoring anything. A state that holds
        no ``"observation"`` entry is judged by its episode's label block."""
        episode = state.get("episode")
        mode = state.get("observation")
        if mode is None and isinstance(episode, dict):
            mode = "paper" if episode.get("episode_label_block") is None else "label_aware"
        if mode is not None and mode != self.observation_mode:
            raise ValueError(
                f"env state was saved under observation={mode!r}, but this env has observation="
                f"{self.observation_mode!r}; build the env with the same arguments as the one that saved it"
            )
        n_actions = state.get("n_actions", 2)  # states written before the relabel variant: keep/remove
        if n_actions != self.action_space.n:
            raise ValueError(
                f"env state was saved by an env with {n_actions!r} actions, but this env has "
                f"{self.action_space}: a FERSelect-v0 state does not load into FERSelectRelabel-v0 nor back"
            )
        k, n_train = self.num_classes, len(self.dataset.y_train)
        expected = [(state, "probs_train", (n_train, k))]
        if isinstance(episode, dict):
            n = len(episode.get("order", ()))
            expected.append((episode, "episode_features", (n, self.feature_dim)))
            if self.observation_mode == "label_aware":
                expected.append((episode, "episode_label_block", (n, 2 * k + 1)))
        for holder, key, shape in expected:
            value = holder.get(key)
            if value is not None and tuple(np.shape(value)) != shape:
                raise ValueError(
                    f"env state does not fit this env: its {key} has shape {tuple(np.shape(value))}, this env "
                    f"expects {shape} (feature_dim {self.feature_dim}, {self.num_classes} classes)"
                )

    # ------------------------------------------------------------------ classifier plumbing
    def _ensure_classifier(self) -> None:
        if self.classifier is not None:
            return
        self.classifier, _ = pretrain_classifier(
            self.dataset,
            self.classifier_config,
            device=self.device,
            seed=self.classifier_seed,
            cache_dir=self.cache_dir,
            progress=self.progress,
            num_threads=self.num_threads,
        )
        self._pretrained_state = self.classifier.state_dict()
        self._init_representations()
        self.classifier_check = check_near_chance(
            self._val_metrics["val_accuracy"], self.dataset.y_val, self.num_classes
        )
        # stacklevel 3: the warning names the line that called reset
        warn_if_near_chance(self.classifier_check, "FERSelect's pre-trained classifier", stacklevel=3)

    def _adopt_pretrained(self, source: FERSelectEnv) -> None:
        """Start from ``source``'s freshly pre-trained classifier instead of pre-training (or loading) one and
        recomputing every cached representation: what :meth:`_ensure_classifier` would have built, since
        both envs were built with the same dataset and arguments. The native vector env's sub-envs share one
        pre-training and one set of conv features this way (read-only arrays are shared; the scores, which
        an episode's end overwrites in place, are copied)."""
        assert source.classifier is not None and source.episode_count == 0
        self.classifier = source.classifier.clone()
        self.classifier_check = source.classifier_check
        self._pretrained_state = source._pretrained_state
        self._conv_train, self._conv_val = source._conv_train, source._conv_val
        self._features = source._features
        self._probs_train = source._probs_train.copy()
        self._val_metrics = dict(source._val_metrics)
        self._initial_scores = source._initial_scores
        self._initial_features = source._initial_features

    def _init_representations(self) -> None:
        """Cache conv features, compute state features and the first out-of-sample label probabilities."""
        self._refresh_conv_features()
        self._refresh_head_outputs()
        y = self.dataset.y_train
        if self.scoring == "cross_fit":
            # Same k-fold scoring as after an episode, with every image kept, so that the first episode's
            # label-aware observations and per-step rewards are out-of-sample too. Seeded by the
            # classifier seed: it is part of the starting classifier, not of an episode.
            rng = np.random.default_rng(self.classifier_seed)
            self._probs_train = cross_fitted_probabilities(
                np.ones(len(y), bool),
                y,
                self.n_folds,
                rng,
                lambda tr, pr: self._head_proba(tr, self._conv_train[pr], int(rng.integers(2**31)), False),
                self._probs_train,
                self._probs_train,
            )
        self._val_metrics = self._validation_metrics()
        self._initial_scores = (self._probs_train.copy(), dict(self._val_metrics))
        self._initial_features = self._features  # never written in place: a retraining assigns a new array

    def _restore_pretrained(self) -> None:
        """Back to the state right after pre-training (Algorithm 1, line 2)."""
        assert self.classifier is not None
        if self.retrain == "head" and self._initial_scores is not None:
            # Head retraining never touches the conv trunk: restoring the head, its state features and the
            # first scores is enough, and skips recomputing every conv feature and head output.
            self.classifier.set_head_state(self._pretrained_head())
            self._features = self._initial_features
            probs, val_metrics = self._initial_scores
            self._probs_train = probs.copy()
            self._val_metrics = dict(val_metrics)
            return
        self.classifier.load_state_dict(self._pretrained_state)
        self._init_representations()

    def _refresh_conv_features(self) -> None:
        assert self.classifier is not None
        self._conv_train = self.classifier.conv_features(self.dataset.x_train)
        self._conv_val = self.classifier.conv_features(self.dataset.x_val)

    def _refresh_head_outputs(self) -> None:
        """State features and class probabilities of every train image under the current classifier."""
        assert self.classifier is not None
        self._features = self.classifier.head_features(self._conv_train).astype(np.float32)
        self._probs_train = self.classifier.head_proba(self._conv_train).astype(np.float32)

    def _validation_metrics(self) -> dict[str, float]:
        assert self.classifier is not None
        pred = self.classifier.head_proba(self._conv_val).argmax(axis=1)
        cm = confusion_matrix(self.dataset.y_val, pred, self.num_classes)
        return {"val_accuracy": total_accuracy(self.dataset.y_val, pred), "val_macro_f1": macro_f1(cm)}

    def _pretrained_head(self) -> dict[str, torch.Tensor]:
        """The pre-trained classifier's dense head: where every ``head`` retraining starts."""
        assert self.classifier is not None
        if self._pretrained_head_state is None:
            model = self.classifier.clone()
            model.load_state_dict(self._pretrained_state)
            self._pretrained_head_state = model.get_head_state()
        return self._pretrained_head_state

    def _fit_head(self, train_idx: np.ndarray, seed: int, from_pretrained: bool = True) -> None:
        # Starting from the pre-trained head, not a random one, keeps the first dense layer (the state's
        # feature) in the same coordinates from one episode to the next; a fresh head would hand the
        # selector a new random basis after every retraining.
        assert self.classifier is not None
        if from_pretrained:
            self.classifier.set_head_state(self._pretrained_head())
        self.classifier.fit_head(
            self._conv_train[train_idx],
            self._training_labels()[train_idx],
            self._conv_val,
            self.dataset.y_val,
            seed=seed,
            init="current" if from_pretrained else "random",
        )

    def _head_proba(self, train_idx: np.ndarray, z_predict: np.ndarray, seed: int, from_pretrained: bool) -> np.ndarray:
        """Fit a throwaway head on the train images ``train_idx`` and return its probabilities for the
        conv features ``z_predict``; the main head is restored afterwards. Cross-fitting folds start from a
        random head (the pre-trained one has seen every label); the DVRL reference starts where the main
        retraining does."""
        assert self.classifier is not None
        saved = self.classifier.get_head_state()
        try:
            self._fit_head(train_idx, seed, from_pretrained)
            return self.classifier.head_proba(z_predict)
        finally:
            self.classifier.set_head_state(saved)

    def _network_proba(self, start_state: dict, train_idx: np.ndarray, x_predict: np.ndarray, seed: int) -> np.ndarray:
        """As `_head_proba` for the finetune/scratch strategies: a whole throwaway network from ``start_state``."""
        assert self.classifier is not None
        model = self.classifier.clone()
        model.load_state_dict(start_state)
        ds = self.dataset
        y = self._training_labels()
        model.fit(ds.x_train[train_idx], y[train_idx], ds.x_val, ds.y_val, seed=seed, strategy=self.retrain)
        return model.predict_proba(x_predict)

    def _train_main(self, kept_idx: np.ndarray, seed: int) -> None:
        assert self.classifier is not None
        ds = self.dataset
        if self.retrain == "head":
            self._fit_head(kept_idx, seed)
        else:
            self.classifier.fit(
                ds.x_train[kept_idx],
                self._training_labels()[kept_idx],
                ds.x_val,
                ds.y_val,
                seed=seed,
                strategy=self.retrain,
            )
            self._refresh_conv_features()
        self._refresh_head_outputs()

    def _reference_val_accuracy(self, episode_idx: np.ndarray, seed: int, start_state: dict | None) -> float:
        """DVRL's reference: the same retraining on every image of the episode, evaluated on val."""
        if self.retrain == "head":
            probs = self._head_proba(episode_idx, self._conv_val, seed, True)
        else:
            probs = self._network_proba(start_state, episode_idx, self.dataset.x_val, seed)
        return total_accuracy(self.dataset.y_val, probs.argmax(axis=1))

    # ------------------------------------------------------------------ gym API
    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[np.ndarray, dict[str, Any]]:
        super().reset(seed=seed)
        options = _reset_options(options)
        self._ensure_classifier()
        assert self.classifier is not None
        if options.get("reset_classifier") or (not self.persistent_classifier and self.episode_count > 0):
            self._restore_pretrained()

        n_train = len(self.dataset.y_train)
        self._order = self.np_random.permutation(n_train)[: self.episode_size].astype(np.int64)
        y = self.dataset.y_train[self._order]
        self._episode_features = self._features[self._order]
        # Per-step rewards are paid from the scores as they stand now (one episode of lag, documented).
        probs = self._probs_train[self._order]
        self._episode_label_probs = label_probabilities(probs, y)
        self._step_rewards = eq2_sample_rewards(probs, y, self.baseline)
        if self.observation_mode == "label_aware":
            onehot = np.eye(self.num_classes, dtype=np.float32)[y]
            self._episode_label_block = np.concatenate(
                [onehot, probs, self._episode_label_probs[:, None]], axis=1
            ).astype(np.float32)
        self._kept = np.zeros(len(self._order), dtype=bool)
        self._kept_sum = np.zeros(self.feature_dim, dtype=np.float64)
        self._n_kept = 0
        self._t = 0
        self._done = False
        self._frozen = bool(options.get("freeze_classifier", False))
        return self._observe(0), {"sample_index": int(self._order[0])}

    def _observe(self, t: int) -> np.ndarray:
        mean = self._kept_sum / self._n_kept if self._n_kept else self._kept_sum
        parts = [self._episode_features[t], mean.astype(np.float32)]
        if self.observation_mode == "label_aware":
            parts.append(self._episode_label_block[t])
        return np.concatenate(parts)

    def step(self, action: int | np.integer) -> tuple[np.ndarray, float, bool, bool, dict[str, Any]]:
        if self._order is None:
            raise ResetNeeded("Cannot call FERSelectEnv.step before reset: call env.reset() first.")
        if self._done:
            logger.warn("step() called after the pass ended (terminated=True); call reset() to start a new episode.")
            return self._observe(len(self._order) - 1), 0.0, True, False, {}
        # Exactly what the action space's contains accepts: never int(action), which would read 0.9 as 0 and
        # "1" as 1.
        if not self.action_space.contains(action):
            raise ValueError(
                f"action must be {self._ACTIONS_TEXT}, got {action!r} ({type(action).__name__}); accepted are "
                f"what {self.action_space}.contains accepts: a Python int or bool, or a numpy integer scalar or 0-d "
                "integer array that casts safely to int64 (floats, strings and arrays with a shape are refused)"
            )
        a = int(action)

        t = self._t
        self._apply_action(t, a)
        reward = self._per_step_reward(t, a) if self.reward_mode == "per_step" else 0.0
        self._t = t + 1
        if self._t < len(self._order):
            return self._observe(self._t), reward, False, False, {"sample_index": int(self._order[self._t])}

        self._done = True
        reward, info = self._end_pass(reward)
        return self._observe(t), reward, True, False, info

    def _end_pass(self, step_reward: float) -> tuple[float, dict[str, Any]]:
        """The terminal step's reward and info: :meth:`_finish_episode`'s retraining and scoring, and the
        episode reward in place of the step's own one except under ``reward="per_step"``. The native vector
        env (:mod:`.vector_env`) ends each of its passes through it too, so both return the same."""
        info = self._finish_episode()
        episode_reward = info.pop("_episode_reward")
        return float(step_reward if self.reward_mode == "per_step" else episode_reward), info

    # Hooks of the step and of the retraining, overridden by variants with more actions (relabel_env.py).
    _ACTIONS_TEXT = "0 (remove) or 1 (keep)"
    """The actions, as the error for an invalid one names them."""

    def _apply_action(self, t: int, a: int) -> None:
        """Record decision ``a`` on step ``t`` of the pass."""
        if a == 1:
            self._keep(t)

    def _keep(self, t: int) -> None:
        self._kept[t] = True
        self._kept_sum += self._episode_features[t]
        self._n_kept += 1

    def _per_step_reward(self, t: int, a: int) -> float:
        """The ``per_step`` reward of decision ``a`` on step ``t``."""
        return per_step_reward(a, self._step_rewards[t])

    def _training_labels(self) -> np.ndarray:
        """The label of every training image that retraining fits and Eq. 2 scores: the given ones here."""
        return self.dataset.y_train

    def _finish_episode(self) -> dict[str, Any]:
        """Algorithm 1, lines 13-14: retrain on the kept images, then score every image of the episode."""
        assert self.classifier is not None and self._order is not None
        started = time.perf_counter()
        ds, order, kept = self.dataset, self._order, self._kept
        kept_idx = order[kept]
        y = self._training_labels()[order]
        seeds = self.np_random.integers(0, 2**31 - 1, size=3)
        fold_rng = np.random.default_rng(int(seeds[0]))
        previous_f1 = self._val_metrics["val_macro_f1"]
        probs_before = self._probs_train[order].copy()
        start_state = self.classifier.state_dict() if self.retrain != "head" else None

        retrained = len(kept_idx) > 0 and not self._frozen
        if retrained:
            self._train_main(kept_idx, int(seeds[1]))  # also rescores every train image
            probs_full = self._probs_train[order]
        if not retrained:
            # Nothing to retrain on, or a frozen episode: the classifier is unchanged and so are its scores.
            probs = probs_before
        elif self.scoring == "cross_fit":

            def fit_predict(tr: np.ndarray, pr: np.ndarray) -> np.ndarray:
                fold_seed = int(fold_rng.integers(2**31))
                if self.retrain == "head":
                    return self._head_proba(order[tr], self._conv_train[order[pr]], fold_seed, False)
                return self._network_proba(start_state, order[tr], ds.x_train[order[pr]], fold_seed)

            probs = cross_fitted_probabilities(kept, y, self.n_folds, fold_rng, fit_predict, probs_full, probs_before)
        else:
            probs = probs_full
        label_probs = label_probabilities(probs, y)
        sample_rewards = eq2_sample_rewards(probs, y, self.baseline)

        # Images outside this episode were not trained on, so the retrained model's scores for them (set by
        # `_train_main`) are out-of-sample already; the episode's images take the scores that defined rewards.
        self._probs_train[order] = probs
        self._val_metrics = self._validation_metrics()

        dvrl_term: float | None = None  # eq3_dvrl's shared term, recorded in the info
        if self.reward_mode == "f1":
            episode_reward = f1_reward(self._val_metrics["val_macro_f1"], previous_f1)
        elif self.reward_mode in ("dvrl", "eq3_dvrl"):
            ref = self._reference_val_accuracy(order, int(seeds[2]), start_state)
            episode_reward = dvrl_reward(self._val_metrics["val_accuracy"], ref)
            if self.reward_mode == "eq3_dvrl":
                dvrl_term = episode_reward
                sample_rewards = eq2_dvrl_sample_rewards(sample_rewards, dvrl_term)
                episode_reward = eq3_episode_reward(sample_rewards, kept)
        else:
            episode_reward = eq3_episode_reward(sample_rewards, kept)
        if self.reward_mode in ("f1", "dvrl"):
            sample_rewards = np.full(len(order), episode_reward, dtype=np.float32)

        info: dict[str, Any] = {
            "sample_rewards": sample_rewards,
            "kept": kept.copy(),
            "sample_indices": order.copy(),
            "sample_label_probs": label_probs.astype(np.float32),
            "sample_probs": np.asarray(probs, dtype=np.float32).copy(),
            "val_accuracy": float(self._val_metrics["val_accuracy"]),
            "val_macro_f1": float(self._val_metrics["val_macro_f1"]),
            "kept_fraction": float(kept.mean()),
            "retrained": bool(retrained),
            "_episode_reward": float(episode_reward),
        }
        if dvrl_term is not None:
            info["dvrl_reward"] = float(dvrl_term)
        if ds.noise_train is not None:
            info.update(removal_scores(kept, ds.noise_train[order] != 0))
        self.episode_count += 1
        self.retrain_seconds = time.perf_counter() - started
        # What render("ansi") prints: the public scalars of the terminal info, not the internal reward hand-off.
        self._last_summary = {k: v for k, v in info.items() if np.isscalar(v) and not k.startswith("_")}
        self._last_summary["episode_reward"] = float(episode_reward)
        return info

    def render(self) -> str | None:
        if self.render_mode != "ansi":
            return None
        # The id the env was made under (gym.make sets spec); built directly, the class names its family.
        name = self.spec.id if self.spec is not None else self.render_name
        lines = [f"{name} | episode {self.episode_count} | {len(self.dataset.y_train)} train images"]
        if self._order is not None:
            lines.append(
                f"step {self._t}/{len(self._order)} | kept so far {self._n_kept}"
                + (" | pass finished" if self._done else "")
            )
        if self._last_summary:
            # "_" keys: a state saved before they were filtered out of the summary
            shown = {k: v for k, v in self._last_summary.items() if k != "retrained" and not k.startswith("_")}
            lines.append("last pass: " + ", ".join(f"{k}={v:.4g}" for k, v in shown.items()))
        return "\n".join(lines)

    def close(self) -> None:
        pass

    # ------------------------------------------------------------------ save / restore
    def get_state(self) -> dict[str, Any]:
        """Everything needed to continue exactly where the env is: classifier, selection state, RNG state."""
        self._ensure_classifier()
        assert self.classifier is not None
        episode = None
        if self._order is not None:
            episode = {
                "order": self._order.copy(),
                "kept": self._kept.copy(),
                "kept_sum": self._kept_sum.copy(),
                "n_kept": self._n_kept,
                "t": self._t,
                "done": self._done,
                "frozen": self._frozen,
                "step_rewards": self._step_rewards.copy(),
                "episode_label_probs": self._episode_label_probs.copy(),
                "episode_features": self._episode_features.copy(),
                "episode_label_block": getattr(self, "_episode_label_block", None),
            }
        return {
            "format": _STATE_FORMAT,
            "dataset_fingerprint": self.dataset.fingerprint(),
            "observation": self.observation_mode,
            "n_actions": int(self.action_space.n),
            "classifier": self.classifier.state_dict(),
            "pretrained_classifier": self._pretrained_state,
            "probs_train": self._probs_train.copy(),
            "val_metrics": dict(self._val_metrics),
            "np_random": self.np_random.bit_generator.state,
            "episode_count": self.episode_count,
            "episode": episode,
            "last_summary": self._last_summary,
        }

    def set_state(self, state: dict[str, Any]) -> None:
        """Restore what :meth:`get_state` returned (on an env built with the same arguments)."""
        if not isinstance(state, dict):
            raise ValueError(f"an env state is a dict, got {type(state).__name__}")
        fmt = state.get("format")
        if fmt != _STATE_FORMAT:
            older = isinstance(fmt, int) and not isinstance(fmt, bool) and fmt < _STATE_FORMAT
            raise ValueError(
                f"unsupported env state format {fmt!r}"
                + (" (written by an older version of fer-select)" if older else "")
                + f"; this version reads format {_STATE_FORMAT}"
            )
        if state.get("dataset_fingerprint") != self.dataset.fingerprint():
            raise ValueError("env state was saved on a different dataset (fingerprints differ)")
        self._check_state_matches(state)
        self._ensure_classifier()
        assert self.classifier is not None
        self.classifier.load_state_dict(state["classifier"])
        self._pretrained_state = state["pretrained_classifier"]
        self._pretrained_head_state = None
        self._initial_scores = None
        if self.retrain != "head":
            self._refresh_conv_features()
        self._refresh_head_outputs()
        self._probs_train = np.array(state["probs_train"], dtype=np.float32)
        self._val_metrics = dict(state["val_metrics"])
        self.np_random.bit_generator.state = state["np_random"]
        self.episode_count = int(state["episode_count"])
        self._last_summary = state["last_summary"]
        ep = state["episode"]
        if ep is None:
            self._order = None
            return
        self._order = ep["order"].copy()
        self._kept = ep["kept"].copy()
        self._kept_sum = ep["kept_sum"].copy()
        self._n_kept = int(ep["n_kept"])
        self._t = int(ep["t"])
        self._done = bool(ep["done"])
        self._frozen = bool(ep.get("frozen", False))
        self._step_rewards = ep["step_rewards"].copy()
        self._episode_label_probs = ep["episode_label_probs"].copy()
        self._episode_features = ep["episode_features"].copy()
        if ep["episode_label_block"] is not None:
            self._episode_label_block = ep["episode_label_block"].copy()

    def save_state(self, path: str | os.PathLike) -> None:
        """Write :meth:`get_state` to ``path`` atomically (an interrupted save never leaves a broken file).

        The file holds tensors and plain data only (arrays are stored as tensors), so that
        :meth:`load_state` can read it with ``torch.load(weights_only=True)``.
        """
        atomic_write_bytes(Path(path), tensor_file_bytes(self.get_state()))

    def load_state(self, path: str | os.PathLike) -> None:
        """Restore a state written by :meth:`save_state`.

        The file is read with ``torch.load(weights_only=True)``: a file naming other Python objects is refused
        and nothing of it runs. Every problem (unreadable, damaged, refused, another env's or an older
        version's state) is a ValueError naming the file.
        """
        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"env state file not found: {path}")
        state = load_tensor_file(path)
        try:
            self.set_state(state)
        except ValueError as exc:
            raise ValueError(f"{path}: {exc}") from None
        except (KeyError, TypeError, AttributeError, IndexError, RuntimeError) as exc:
            raise ValueError(f"{path}: not a state of this env ({type(exc).__name__}: {exc})") from None
