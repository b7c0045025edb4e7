"""Resumable training of the RL selectors: checkpoints after every pass, exact resume (issue 5 §4).

``fer-select train`` drives an RL agent of the registry (its :class:`~agents.experiment.registry.RLTraining`)
one checkpointable unit at a time and writes a checkpoint after each:

* REINFORCE (``reinforce``, ``reinforce_paper``, ``reinforce_relabel``): a unit is one pass over the training set,
  pre-training passes (``model.pretrain(1)``) first, then ``model.learn(n_images, reset_num_timesteps=False)``
  passes.
  Calling these one pass at a time gives the same updates as ``pretrain(P)`` followed by one
  ``learn(E * n_images)`` with a constant learning rate, as the benchmark does.
* PPO: a unit is one rollout of ``n_steps = min(2048, n_images)`` steps plus its update (one
  ``learn(n_steps, reset_num_timesteps=False)``); with at most 2048 training images that is one pass.

Layout of ``OUT/checkpoint/`` (format 2)::

    checkpoint.json     the manifest, written last: which unit directory is complete, its files' sha256
    unit-00003/         the state after the 3rd unit
        policy.pt       the selector's ``policy.state_dict()`` (its observation normaliser included)
        optimizer.pt    the selector's optimizer state
        env_state.pt    ``FERSelectEnv.save_state``: classifier, scores, env RNG, episode counter, current pass
        trainer.pt      the unit count, global RNG states (torch, numpy, python), the model's counters and
                        last observation, Monitor buffers, PPO's VecNormalize statistics, the history
        history.json    the per-pass history so far (a readable copy of what trainer.pt holds)

Nothing in a checkpoint is a pickle of a Python object: the ``.pt`` files hold tensors and plain data (numpy
arrays stored as tensors) and are read with ``torch.load(weights_only=True)``, which refuses anything else
before it runs. Resuming rebuilds the selector the way a fresh run does (the registry's builder, with the
same settings) and loads its weights, optimizer state and counters into it; SB3's ``load`` (which unpickles)
is never called. The manifest's sha256 only detects accidental damage (anyone who can plant a file can
rewrite the manifest too); what is loaded is checked against itself instead: the unit count in the
manifest, in the directory name and inside ``trainer.pt``, the timesteps, the history length and the env's
episode counter must agree, and every problem is a :class:`CheckpointError` (a ValueError) naming the file.

A new checkpoint goes into a new directory; the manifest is replaced (atomically) to point at it only once
every file is complete, and the older directory is removed after that. An interruption at any moment leaves
either the previous or the new checkpoint valid, never a mix. A directory without a manifest is ignored.
"""

from __future__ import annotations

import hashlib
import json
import random
import re
import shutil
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch as th
from stable_baselines3.common.base_class import BaseAlgorithm
from stable_baselines3.common.callbacks import BaseCallback, CallbackList
from stable_baselines3.common.monitor import Monitor
from stable_baselines3.common.running_mean_std import RunningMeanStd
from stable_baselines3.common.vec_env import DummyVecEnv, VecEnv, VecNormalize

from agents.common.callbacks import EpisodeHistory, pretrain_row
from agents.experiment.registry import RLTraining, get_training
from agents.experiment.settings import RLSettings
from fer_select_env.core.cache import atomic_write_bytes
from fer_select_env.core.serialization import load_tensor_file, tensor_file_bytes
from fer_select_env.data.dataset import FERDataset
from fer_select_env.envs.select.env import FERSelectEnv

CHECKPOINT_FORMAT = 2
"""2: tensors and plain data only, read with ``weights_only=True``; 1 (before) held pickles (SB3 zip,
``VecNormalize`` pickle, numpy RNG states) and is refused."""
MANIFEST = "checkpoint.json"
_FILES = ("policy.pt", "optimizer.pt", "env_state.pt", "trainer.pt", "history.json")
_UNIT_DIR = re.compile(r"unit-[0-9]{5}")
_COUNTERS = (
    "num_timesteps",
    "_total_timesteps",
    "_num_timesteps_at_start",
    "_episode_num",
    "_n_updates",
    "_current_progress_remaining",
)
"""The SB3 counters a resumed model needs (what ``BaseAlgorithm.save`` keeps besides spaces and settings)."""


class CheckpointError(ValueError):
    """A checkpoint that exists but cannot be used (damaged, inconsistent, old, or made with other settings)."""


# ---------------------------------------------------------------------------------------------- RNG
def capture_rng() -> dict[str, Any]:
    """The global generators the agents draw from: torch (SB3 seeds it; sampling and minibatch order),
    numpy and python ``random`` (seeded by SB3 too, kept for completeness)."""
    return {"torch": th.get_rng_state(), "numpy": np.random.get_state(), "python": random.getstate()}


def restore_rng(state: dict[str, Any]) -> None:
    """Put back what :func:`capture_rng` returned (after a round trip through a tensor file)."""
    th.set_rng_state(state["torch"])
    np.random.set_state(tuple(state["numpy"]))
    python = state["python"]
    random.setstate((python[0], tuple(python[1]), python[2]))


# ---------------------------------------------------------------------------------------------- VecNormalize
def _rms_stats(rms: RunningMeanStd) -> dict[str, Any]:
    # tolist() keeps every float64 exactly (JSON writes floats by repr, which round-trips).
    return {
        "mean": np.asarray(rms.mean, np.float64).tolist(),
        "var": np.asarray(rms.var, np.float64).tolist(),
        "count": float(rms.count),
    }


def vec_normalize_stats(vec_normalize: VecNormalize) -> dict[str, Any]:
    """What ``VecNormalize.save`` keeps that matters, as JSON-able numbers: the settings and the running
    observation and return statistics (rebuilt by :func:`vec_normalize_from_stats`, no pickle)."""
    if not isinstance(vec_normalize.obs_rms, RunningMeanStd):
        raise ValueError("only VecNormalize over Box observations is supported (not dict observations)")
    return {
        "norm_obs": bool(vec_normalize.norm_obs),
        "norm_reward": bool(vec_normalize.norm_reward),
        "training": bool(vec_normalize.training),
        "clip_obs": float(vec_normalize.clip_obs),
        "clip_reward": float(vec_normalize.clip_reward),
        "gamma": float(vec_normalize.gamma),
        "epsilon": float(vec_normalize.epsilon),
        "obs_rms": _rms_stats(vec_normalize.obs_rms),
        "ret_rms": _rms_stats(vec_normalize.ret_rms),
    }


def _field(stats: dict[str, Any], key: str, kind: type | tuple[type, ...], where: str) -> Any:
    value = stats.get(key)
    if not isinstance(value, kind) or (kind is not bool and isinstance(value, bool)):
        raise ValueError(f"{where}: {key!r} must be a {getattr(kind, '__name__', kind)}, got {value!r}")
    return value


def _set_rms(rms: RunningMeanStd, stats: Any, where: str) -> None:
    if not isinstance(stats, dict):
        raise ValueError(f"{where}: must be an object with mean, var and count")
    shape = np.shape(rms.mean)
    for key in ("mean", "var"):
        try:
            value = np.asarray(stats.get(key), dtype=np.float64)
        except (TypeError, ValueError):
            raise ValueError(f"{where}: {key!r} must be numbers") from None
        if value.shape != shape:
            raise ValueError(f"{where}: {key!r} has shape {value.shape}, the observations need {shape}")
        setattr(rms, key, value.copy())
    rms.count = float(_field(stats, "count", (int, float), where))


def vec_normalize_from_stats(stats: Any, venv: VecEnv, where: str = "vec_normalize") -> VecNormalize:
    """A ``VecNormalize`` around ``venv`` with the settings and statistics of :func:`vec_normalize_stats`;
    a ValueError naming ``where`` if they are malformed or do not fit ``venv``'s observations."""
    if not isinstance(stats, dict):
        raise ValueError(f"{where}: VecNormalize statistics must be an object, got {type(stats).__name__}")
    normalizer = VecNormalize(
        venv,
        training=_field(stats, "training", bool, where),
        norm_obs=_field(stats, "norm_obs", bool, where),
        norm_reward=_field(stats, "norm_reward", bool, where),
        clip_obs=float(_field(stats, "clip_obs", (int, float), where)),
        clip_reward=float(_field(stats, "clip_reward", (int, float), where)),
        gamma=float(_field(stats, "gamma", (int, float), where)),
        epsilon=float(_field(stats, "epsilon", (int, float), where)),
    )
    _set_rms(normalizer.obs_rms, stats.get("obs_rms"), f"{where}.obs_rms")
    _set_rms(normalizer.ret_rms, stats.get("ret_rms"), f"{where}.ret_rms")
    return normalizer


def vec_normalize_of(vec: VecEnv) -> VecNormalize | None:
    """The ``VecNormalize`` layer of a vector env, if it has one."""
    return vec if isinstance(vec, VecNormalize) else None


# ---------------------------------------------------------------------------------------------- model state
def _array_or_none(value: Any) -> np.ndarray | None:
    return None if value is None else np.array(value)


def model_counters(model: BaseAlgorithm) -> dict[str, Any]:
    """The counters, last observation and episode buffers of ``model`` that a resumed run continues from."""
    return {
        **{name: getattr(model, name) for name in _COUNTERS},
        "last_obs": _array_or_none(model._last_obs),
        "last_episode_starts": _array_or_none(getattr(model, "_last_episode_starts", None)),
        "last_original_obs": _array_or_none(getattr(model, "_last_original_obs", None)),
        "ep_info_buffer": None if model.ep_info_buffer is None else [dict(e) for e in model.ep_info_buffer],
        "ep_success_buffer": None if model.ep_success_buffer is None else list(model.ep_success_buffer),
        "pretrain_history": None
        if getattr(model, "pretrain_history", None) is None
        else [dict(r) for r in model.pretrain_history],  # type: ignore[attr-defined]
    }


def restore_model_counters(model: BaseAlgorithm, counters: dict[str, Any]) -> None:
    """Put :func:`model_counters` back into a freshly built ``model``."""
    for name in _COUNTERS:
        setattr(model, name, counters[name])
    model._last_obs = counters["last_obs"]  # type: ignore[assignment]
    model._last_episode_starts = counters["last_episode_starts"]  # type: ignore[assignment]
    model._last_original_obs = counters["last_original_obs"]  # type: ignore[assignment]
    window = model._stats_window_size
    for name in ("ep_info_buffer", "ep_success_buffer"):
        items = counters[name]
        setattr(model, name, None if items is None else deque(items, maxlen=window))
    if counters["pretrain_history"] is not None:
        model.pretrain_history = [dict(r) for r in counters["pretrain_history"]]  # type: ignore[attr-defined]


# ---------------------------------------------------------------------------------------------- I/O
@dataclass
class Checkpoint:
    """A complete checkpoint found on disk (its manifest checked by :func:`read_checkpoint`)."""

    directory: Path
    manifest: dict[str, Any]

    @property
    def units_done(self) -> int:
        return int(self.manifest["units_done"])

    def path(self, name: str) -> Path:
        return self.directory / name

    def load(self, name: str, map_location: str | th.device = "cpu") -> Any:
        """One ``.pt`` file of the unit, read with ``weights_only=True``; a CheckpointError naming it."""
        try:
            return load_tensor_file(self.path(name), map_location=map_location)
        except ValueError as exc:
            raise CheckpointError(f"checkpoint file {exc}") from None

    def trainer_state(self) -> dict[str, Any]:
        """``trainer.pt``, checked: its keys, and the unit count it was written after."""
        path = self.path("trainer.pt")
        trainer = self.load("trainer.pt")
        keys = {"units_done", "rng", "model", "monitor", "vec_normalize", "history"}
        if not isinstance(trainer, dict) or not keys <= set(trainer) or not isinstance(trainer["model"], dict):
            raise CheckpointError(f"checkpoint file {path}: not the trainer state of a format-2 checkpoint")
        counters, history = trainer["model"], trainer["history"]
        numbers = all(
            isinstance(counters.get(k), (int, float)) and not isinstance(counters.get(k), bool) for k in _COUNTERS
        )
        if not numbers or not isinstance(history, list) or not all(isinstance(r, dict) for r in history):
            raise CheckpointError(f"checkpoint file {path}: its model counters or history are missing or malformed")
        if trainer["units_done"] != self.units_done:
            raise CheckpointError(
                f"checkpoint file {path} holds the state after {trainer['units_done']!r} units, but "
                f"{MANIFEST} says {self.units_done}: refusing an inconsistent checkpoint"
            )
        return trainer


def write_checkpoint(
    root: Path,
    *,
    units_done: int,
    model: BaseAlgorithm,
    env: FERSelectEnv,
    monitor: Monitor,
    history: list[dict[str, float]],
    identity: dict[str, Any],
    extra: dict[str, Any] | None = None,
) -> Path:
    """Write the checkpoint after ``units_done`` units under ``root`` and make it the valid one."""
    root.mkdir(parents=True, exist_ok=True)
    name = f"unit-{units_done:05d}"
    directory = root / name
    if directory.exists():  # left half-written by an interrupted run: never the one the manifest names
        shutil.rmtree(directory)
    assert model.env is not None
    normalizer = vec_normalize_of(model.env)
    trainer = {
        "units_done": int(units_done),
        "rng": capture_rng(),
        "model": model_counters(model),
        "monitor": {
            "rewards": list(monitor.rewards),
            "needs_reset": bool(monitor.needs_reset),
            "episode_returns": list(monitor.episode_returns),
            "episode_lengths": list(monitor.episode_lengths),
            "total_steps": int(monitor.total_steps),
        },
        # The running returns feed reward normalisation only; VecNormalize.save left them out too.
        "vec_normalize": None
        if normalizer is None
        else {"stats": vec_normalize_stats(normalizer), "returns": np.array(normalizer.returns)},
        "history": [dict(row) for row in history],
    }
    contents = {
        "policy.pt": tensor_file_bytes(model.policy.state_dict()),
        "optimizer.pt": tensor_file_bytes(model.policy.optimizer.state_dict()),
        "env_state.pt": tensor_file_bytes(env.get_state()),
        "trainer.pt": tensor_file_bytes(trainer),
        "history.json": json.dumps(history, indent=1).encode(),
    }
    for file_name, data in contents.items():
        atomic_write_bytes(directory / file_name, data)
    manifest = {
        "format": CHECKPOINT_FORMAT,
        "directory": name,
        "units_done": int(units_done),
        "num_timesteps": int(model.num_timesteps),
        "written": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "identity": identity,
        **(extra or {}),
        "files": {k: {"bytes": len(v), "sha256": hashlib.sha256(v).hexdigest()} for k, v in contents.items()},
    }
    atomic_write_bytes(root / MANIFEST, json.dumps(manifest, indent=1).encode())
    for old in root.glob("unit-*"):
        if old.is_dir() and old.name != name:
            shutil.rmtree(old, ignore_errors=True)
    return directory


def _check_manifest(manifest: Any, manifest_path: Path) -> None:
    """The manifest's format, unit count, directory name and file list, or a CheckpointError saying which."""
    if not isinstance(manifest, dict):
        raise CheckpointError(f"{manifest_path}: not a checkpoint manifest (a JSON object)")
    fmt = manifest.get("format")
    if isinstance(fmt, int) and not isinstance(fmt, bool) and fmt < CHECKPOINT_FORMAT:
        raise CheckpointError(
            f"{manifest_path}: written by an older version of fer-select (checkpoint format {fmt}, which stored "
            f"pickles); this version reads format {CHECKPOINT_FORMAT} only: delete {manifest_path.parent} to "
            "start over, or choose another --out"
        )
    if fmt != CHECKPOINT_FORMAT:
        raise CheckpointError(f"{manifest_path}: unsupported checkpoint format {fmt!r}")
    units = manifest.get("units_done")
    if not isinstance(units, int) or isinstance(units, bool) or units < 1:
        raise CheckpointError(f"{manifest_path}: 'units_done' must be a positive integer, got {units!r}")
    name = manifest.get("directory")
    if not isinstance(name, str) or not _UNIT_DIR.fullmatch(name):
        raise CheckpointError(
            f"{manifest_path}: 'directory' must name a unit directory (unit-NNNNN) of {manifest_path.parent}, "
            f"got {name!r}"
        )
    if name != f"unit-{units:05d}":
        raise CheckpointError(f"{manifest_path}: 'units_done' is {units} but 'directory' is {name}: inconsistent")
    files = manifest.get("files")
    if not isinstance(files, dict) or set(files) != set(_FILES):
        listed = sorted(files) if isinstance(files, dict) else files
        raise CheckpointError(f"{manifest_path}: 'files' must list exactly {list(_FILES)}, got {listed!r}")


def read_checkpoint(root: Path) -> Checkpoint | None:
    """The valid checkpoint under ``root``; ``None`` if there is none (no manifest), :class:`CheckpointError`
    if the manifest is unreadable, malformed, of an older format, or names files that are missing or differ
    from what was written."""
    manifest_path = Path(root) / MANIFEST
    if not manifest_path.is_file():
        return None
    try:
        manifest = json.loads(manifest_path.read_text())
    except (OSError, ValueError) as exc:
        raise CheckpointError(f"{manifest_path} is unreadable ({exc})") from exc
    _check_manifest(manifest, manifest_path)
    directory = Path(root) / manifest["directory"]
    if directory.is_symlink() or not directory.is_dir():
        raise CheckpointError(f"checkpoint directory {directory} is missing (or a link)")
    for file_name in _FILES:
        path = directory / file_name
        entry = manifest["files"][file_name]
        expected = entry.get("sha256") if isinstance(entry, dict) else None
        if path.is_symlink() or not path.is_file() or expected != hashlib.sha256(path.read_bytes()).hexdigest():
            raise CheckpointError(f"checkpoint file {path} is missing or damaged")
    return Checkpoint(directory, manifest)


# ---------------------------------------------------------------------------------------------- training
class _StepCallback(BaseCallback):
    """Calls ``on_step(n_envs)`` after every env step (progress bar, simulated interruption)."""

    def __init__(self, on_step: Callable[[int], None]) -> None:
        super().__init__()
        self._fn = on_step

    def _on_step(self) -> bool:
        self._fn(self.model.n_envs)
        return True


@dataclass
class TrainRun:
    """The outcome of :func:`train_resumable`."""

    model: BaseAlgorithm
    env: FERSelectEnv
    vec_normalize: VecNormalize | None
    history: list[dict[str, float]]
    units_done: int
    total_units: int
    unit: str
    resumed_from: int | None


def units_for(agent: str, settings: RLSettings, n: int) -> tuple[int, int, str]:
    """``(total units, steps per unit, unit name)`` of training the registry's RL agent ``agent`` on ``n`` images."""
    return get_training(agent).units(settings, n)


def expected_progress(spec: RLTraining, settings: RLSettings, n: int, units_done: int) -> tuple[int, int]:
    """``(num_timesteps, finished passes)`` after ``units_done`` units of ``spec`` on passes of ``n`` images:
    what a checkpoint's own files must show (pre-training passes count no timesteps)."""
    _, steps_per_unit, _ = spec.units(settings, n)
    pretrain_units = spec.effective_settings(settings, n).pretrain_episodes if spec.pretrains else 0
    timesteps = max(0, units_done - pretrain_units) * steps_per_unit
    return timesteps, min(units_done, pretrain_units) + timesteps // n


def check_progress(
    checkpoint: Checkpoint, trainer: dict[str, Any], spec: RLTraining, settings: RLSettings, n: int
) -> int:
    """A CheckpointError unless the manifest's unit count agrees with the timesteps and the history length
    stored inside the unit; returns the number of finished passes (the env's episode counter must match)."""
    units = checkpoint.units_done
    timesteps, passes = expected_progress(spec, settings, n, units)
    path = checkpoint.path("trainer.pt")
    found = (trainer["model"]["num_timesteps"], checkpoint.manifest.get("num_timesteps"), len(trainer["history"]))
    if found != (timesteps, timesteps, passes):
        raise CheckpointError(
            f"checkpoint file {path} does not hold the state after {units} units: {found[0]!r} timesteps "
            f"(manifest: {found[1]!r}) and {found[2]} passes in its history, where {units} units give "
            f"{timesteps} timesteps and {passes} passes; refusing an inconsistent checkpoint"
        )
    return passes


def _rebuild_model(
    spec: RLTraining, checkpoint: Checkpoint, vec: VecEnv, seed: int, settings: RLSettings, n: int
) -> BaseAlgorithm:
    """The registry's model, built as a fresh run builds it, with the checkpoint's weights and optimizer."""
    model = spec.build(vec, seed, settings, n)
    for name, module in (("policy.pt", model.policy), ("optimizer.pt", model.policy.optimizer)):
        state = checkpoint.load(name, map_location=model.device)
        try:
            module.load_state_dict(state)
        except (RuntimeError, ValueError, KeyError, TypeError) as exc:
            raise CheckpointError(
                f"checkpoint file {checkpoint.path(name)} does not fit the {spec.algorithm.__name__} selector "
                f"({type(exc).__name__}: {str(exc).splitlines()[0]})"
            ) from None
    return model


def _restore_monitor(monitor: Monitor, saved: dict[str, Any]) -> None:
    monitor.rewards = list(saved["rewards"])
    monitor.needs_reset = bool(saved["needs_reset"])
    monitor.episode_returns = list(saved["episode_returns"])
    monitor.episode_lengths = list(saved["episode_lengths"])
    monitor.total_steps = int(saved["total_steps"])


def _resume_model(
    spec: RLTraining,
    checkpoint: Checkpoint,
    venv: DummyVecEnv,
    env: FERSelectEnv,
    monitor: Monitor,
    seed: int,
    settings: RLSettings,
) -> tuple[BaseAlgorithm, dict[str, Any]]:
    trainer = checkpoint.trainer_state()
    n = env.episode_size
    passes = check_progress(checkpoint, trainer, spec, settings, n)
    vec: VecEnv = venv
    if spec.vec_normalize:
        saved = trainer["vec_normalize"]
        where = f"checkpoint file {checkpoint.path('trainer.pt')}: vec_normalize"
        if not isinstance(saved, dict) or not isinstance(saved.get("returns"), np.ndarray):
            raise CheckpointError(f"{where}: missing")
        try:
            normalizer = vec_normalize_from_stats(saved.get("stats"), venv, where)
        except ValueError as exc:
            raise CheckpointError(str(exc)) from None
        normalizer.returns = saved["returns"].astype(np.float64)
        vec = normalizer
    model = _rebuild_model(spec, checkpoint, vec, seed, settings, n)
    # Building seeded the model as a fresh run does: that queued a seed for the env's next reset, which the
    # uninterrupted run consumed long ago, and re-seeded the global generators (restored below).
    venv._reset_seeds()
    try:
        env.load_state(checkpoint.path("env_state.pt"))
    except ValueError as exc:
        raise CheckpointError(f"checkpoint file {exc}") from None
    if env.episode_count != passes:
        raise CheckpointError(
            f"checkpoint file {checkpoint.path('env_state.pt')} has {env.episode_count} finished passes, but "
            f"{checkpoint.units_done} units give {passes}; refusing an inconsistent checkpoint"
        )
    try:
        _restore_monitor(monitor, trainer["monitor"])
        # The uninterrupted run would not reset here: its last observation and counters carry on.
        restore_model_counters(model, trainer["model"])
        # Last, so that nothing above (model construction, env restore) draws from them afterwards.
        restore_rng(trainer["rng"])
    except (KeyError, TypeError, ValueError, IndexError, RuntimeError) as exc:
        raise CheckpointError(
            f"checkpoint file {checkpoint.path('trainer.pt')} is malformed ({type(exc).__name__}: {exc})"
        ) from None
    return model, trainer


def _tensorboard_run(
    model: BaseAlgorithm, tensorboard_log: str | None, tb_name: str, resume: Checkpoint | None
) -> str | None:
    """Log the whole run, resumed parts included, into one TensorBoard directory (SB3 would pick a new
    one per ``learn`` call, or the latest one on disk, which may belong to another run)."""
    if not tensorboard_log:
        return None
    from stable_baselines3.common.logger import configure
    from stable_baselines3.common.utils import get_latest_run_id

    run = resume.manifest.get("tensorboard_run") if resume is not None else None
    # The manifest is not trusted with a path: only a run directory of this name inside tensorboard_log.
    if (
        not isinstance(run, str)
        or Path(run).parent != Path(tensorboard_log)
        or not re.fullmatch(rf"{re.escape(tb_name)}_[0-9]+", Path(run).name)
    ):
        run = str(Path(tensorboard_log) / f"{tb_name}_{get_latest_run_id(tensorboard_log, tb_name) + 1}")
    model.set_logger(configure(run, ["stdout", "tensorboard"] if model.verbose >= 1 else ["tensorboard"]))
    return run


def train_resumable(
    agent: str,
    dataset: FERDataset,
    seed: int,
    settings: RLSettings,
    checkpoint_dir: Path,
    *,
    identity: dict[str, Any],
    resume: Checkpoint | None = None,
    progress: bool = False,
    interrupt_after: int | None = None,
    on_unit: Callable[[int, int], None] | None = None,
) -> TrainRun:
    """Train the benchmark agent ``agent`` with a checkpoint after every unit, or continue ``resume``.

    :param identity: what a checkpoint must match to be resumed (stored in the manifest)
    :param interrupt_after: testing aid: raise ``KeyboardInterrupt`` halfway through the unit that follows
        the checkpoint after this many units (before it, for a pre-training pass), as a Ctrl-C would
    :param on_unit: called with ``(units_done, total_units)`` after each checkpoint
    """
    spec = get_training(agent)
    env = spec.make_env(dataset, seed, settings, progress=progress)
    monitor = Monitor(env)
    venv = DummyVecEnv([lambda: monitor])
    n = env.episode_size
    total, steps_per_unit, unit = spec.units(settings, n)
    history = EpisodeHistory()
    if resume is None:
        vec: VecEnv = VecNormalize(venv, norm_obs=True, norm_reward=False) if spec.vec_normalize else venv
        # The benchmark's own builder: tests/test_cli.py checks that `train` ends with the benchmark's selection.
        model = spec.build(vec, seed, settings, n)
        done = 0
    else:
        model, trainer = _resume_model(spec, resume, venv, env, monitor, seed, settings)
        history.history = [dict(r) for r in trainer["history"] if not r.get("pretrain")]
        done = resume.units_done
    tb_name = spec.tb_name
    tb_run = _tensorboard_run(model, settings.tensorboard_log, tb_name, resume)
    pretrain_units = spec.effective_settings(settings, n).pretrain_episodes if spec.pretrains else 0

    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=total * steps_per_unit, initial=done * steps_per_unit, desc=f"train {agent}", unit="step")
    state = {"steps": 0, "armed": False}

    def on_step(n_envs: int) -> None:
        if bar is not None:
            bar.update(n_envs)
        state["steps"] += n_envs
        if state["armed"] and state["steps"] >= max(1, steps_per_unit // 2):
            raise KeyboardInterrupt("simulated interruption (--stop-after-episodes)")

    callback = CallbackList([history, _StepCallback(on_step)])
    try:
        while done < total:
            state["steps"] = 0
            state["armed"] = interrupt_after is not None and done == interrupt_after
            if done < pretrain_units:
                if state["armed"]:
                    raise KeyboardInterrupt("simulated interruption (--stop-after-episodes)")
                model.pretrain(1)  # type: ignore[attr-defined]
                if bar is not None:
                    bar.update(steps_per_unit)
            else:
                model.learn(steps_per_unit, callback=callback, tb_log_name=tb_name, reset_num_timesteps=False)
            done += 1
            write_checkpoint(
                checkpoint_dir,
                units_done=done,
                model=model,
                env=env,
                monitor=monitor,
                history=full_history(model, history.history),
                identity=identity,
                extra={"total_units": total, "unit": unit, "agent": agent, "tensorboard_run": tb_run},
            )
            if on_unit is not None:
                on_unit(done, total)
    finally:
        if bar is not None:
            bar.close()
    assert model.env is not None
    normalizer = vec_normalize_of(model.env)
    if normalizer is not None:
        normalizer.training = False  # as ppo_selector: the statistics stay as training left them
    return TrainRun(
        model=model,
        env=env,
        vec_normalize=normalizer,
        history=full_history(model, history.history),
        units_done=done,
        total_units=total,
        unit=unit,
        resumed_from=None if resume is None else resume.units_done,
    )


def full_history(model: BaseAlgorithm, learn_history: list[dict[str, float]]) -> list[dict[str, float]]:
    """Pre-training passes (flagged ``pretrain: 1``) then learning passes, as the benchmark records them."""
    pretrain = [pretrain_row(s) for s in getattr(model, "pretrain_history", [])]
    return [*pretrain, *learn_history]
