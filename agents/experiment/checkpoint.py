"""Resumable training of the RL selectors: checkpoints after every pass, exact resume (issue 5 §4).

``fer-select train`` drives an RL agent of the registry (its :class:`~agents.experiment.registry.RLTraining`)
one checkpointable unit at a time and writes a checkpoint after each:

* REINFORCE (``reinforce``, ``reinforce_paper``): a unit is one pass over the training set, pre-training
  passes (``model.pretrain(1)``) first, then ``model.learn(n_images, reset_num_timesteps=False)`` passes.
  Calling these one pass at a time gives the same updates as ``pretrain(P)`` followed by one
  ``learn(E * n_images)`` with a constant learning rate, as the benchmark does.
* PPO: a unit is one rollout of ``n_steps = min(2048, n_images)`` steps plus its update (one
  ``learn(n_steps, reset_num_timesteps=False)``); with at most 2048 training images that is one pass.

Layout of ``OUT/checkpoint/``::

    checkpoint.json     the manifest, written last: which unit directory is complete, its files' sha256
    unit-00003/         the state after the 3rd unit
        selector.zip    SB3 ``model.save``: policy (with the observation normaliser), counters, last observation
        optimizer.pt    the selector's optimizer state (REINFORCE's SB3 save does not include it)
        vecnormalize.pkl  PPO only: SB3's ``VecNormalize`` (observation statistics), as ``VecNormalize.save``
        env_state.pt    ``FERSelectEnv.save_state``: classifier, scores, env RNG, episode counter, current pass
        trainer.pt      global RNG states (torch, numpy, python), Monitor buffers, last observation, history
        history.json    the per-pass history so far (a readable copy of what trainer.pt holds)

A new checkpoint goes into a new directory; the manifest is replaced (atomically) to point at it only once
every file is complete, and the older directory is removed after that. An interruption at any moment leaves
either the previous or the new checkpoint valid, never a mix. A directory without a manifest is ignored.
"""

from __future__ import annotations

import hashlib
import io
import json
import pickle
import random
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch as th
from stable_baselines3.common.base_class import BaseAlgorithm
from stable_baselines3.common.callbacks import BaseCallback, CallbackList
from stable_baselines3.common.monitor import Monitor
from stable_baselines3.common.vec_env import DummyVecEnv, VecEnv, VecNormalize

from agents.common.callbacks import EpisodeHistory, pretrain_row
from agents.experiment.registry import RLTraining, get_training
from agents.experiment.rl_selection import make_selection_env
from agents.experiment.settings import RLSettings
from fer_select_env.core.cache import atomic_write_bytes
from fer_select_env.data.dataset import FERDataset
from fer_select_env.envs.select.env import FERSelectEnv

CHECKPOINT_FORMAT = 1
MANIFEST = "checkpoint.json"
_FILES = ("selector.zip", "optimizer.pt", "env_state.pt", "trainer.pt", "history.json")


class CheckpointError(Exception):
    """A checkpoint that exists but cannot be used (damaged, or made with other settings)."""


# ---------------------------------------------------------------------------------------------- RNG
def capture_rng() -> dict[str, Any]:
    """The global generators the agents draw from: torch (SB3 seeds it; sampling and minibatch order),
    numpy and python ``random`` (seeded by SB3 too, kept for completeness)."""
    return {"torch": th.get_rng_state(), "numpy": np.random.get_state(), "python": random.getstate()}


def restore_rng(state: dict[str, Any]) -> None:
    """Put back what :func:`capture_rng` returned."""
    th.set_rng_state(state["torch"])
    np.random.set_state(state["numpy"])
    random.setstate(state["python"])


# ---------------------------------------------------------------------------------------------- I/O
def _torch_bytes(obj: Any) -> bytes:
    buffer = io.BytesIO()
    th.save(obj, buffer)
    return buffer.getvalue()


def model_bytes(model: BaseAlgorithm) -> bytes:
    """``model.save`` into memory, so that the caller can write it atomically."""
    buffer = io.BytesIO()
    model.save(buffer)
    return buffer.getvalue()


@dataclass
class Checkpoint:
    """A complete checkpoint found on disk."""

    directory: Path
    manifest: dict[str, Any]

    @property
    def units_done(self) -> int:
        return int(self.manifest["units_done"])

    def path(self, name: str) -> Path:
        return self.directory / name

    def trainer_state(self) -> dict[str, Any]:
        return th.load(self.path("trainer.pt"), map_location="cpu", weights_only=False)


def vec_normalize_of(vec: VecEnv) -> VecNormalize | None:
    """The ``VecNormalize`` layer of a vector env, if it has one."""
    return vec if isinstance(vec, VecNormalize) else None


def vec_normalize_bytes(vec_normalize: VecNormalize) -> bytes:
    """What ``VecNormalize.save`` writes (a pickle without the wrapped envs), in memory."""
    return pickle.dumps(vec_normalize)


def load_vec_normalize(path: Path, venv: VecEnv) -> VecNormalize:
    """``VecNormalize.load``: the saved statistics around ``venv``."""
    return VecNormalize.load(str(path), venv)


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
        "rng": capture_rng(),
        "last_obs": None if model._last_obs is None else np.array(model._last_obs),
        "last_episode_starts": None
        if getattr(model, "_last_episode_starts", None) is None
        else np.array(model._last_episode_starts),
        "monitor": {
            "rewards": list(monitor.rewards),
            "needs_reset": bool(monitor.needs_reset),
            "episode_returns": list(monitor.episode_returns),
            "episode_lengths": list(monitor.episode_lengths),
            "total_steps": int(monitor.total_steps),
        },
        # VecNormalize's pickle leaves out the running returns (they feed reward normalisation only).
        "vec_normalize_returns": None if normalizer is None else np.array(normalizer.returns),
        "history": [dict(row) for row in history],
        "num_timesteps": int(model.num_timesteps),
    }
    contents = {
        "selector.zip": model_bytes(model),
        "optimizer.pt": _torch_bytes(model.policy.optimizer.state_dict()),
        "env_state.pt": _torch_bytes(env.get_state()),
        "trainer.pt": _torch_bytes(trainer),
        "history.json": json.dumps(history, indent=1).encode(),
    }
    if normalizer is not None:
        contents["vecnormalize.pkl"] = vec_normalize_bytes(normalizer)
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


def read_checkpoint(root: Path) -> Checkpoint | None:
    """The valid checkpoint under ``root``; ``None`` if there is none (no manifest), :class:`CheckpointError`
    if the manifest is unreadable or names files that are missing or differ from what was written."""
    manifest_path = Path(root) / MANIFEST
    if not manifest_path.is_file():
        return None
    try:
        manifest = json.loads(manifest_path.read_text())
    except (OSError, ValueError) as exc:
        raise CheckpointError(f"{manifest_path} is unreadable ({exc})") from exc
    if not isinstance(manifest, dict) or manifest.get("format") != CHECKPOINT_FORMAT:
        raise CheckpointError(f"{manifest_path}: unsupported checkpoint format")
    directory = Path(root) / str(manifest.get("directory", ""))
    files = manifest.get("files", {})
    for file_name in sorted(set(_FILES) | set(files)):
        path = directory / file_name
        expected = files.get(file_name, {}).get("sha256")
        if not path.is_file() or expected != hashlib.sha256(path.read_bytes()).hexdigest():
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


def _resume_model(
    spec: RLTraining,
    checkpoint: Checkpoint,
    venv: DummyVecEnv,
    env: FERSelectEnv,
    monitor: Monitor,
    settings: RLSettings,
) -> tuple[BaseAlgorithm, dict[str, Any]]:
    trainer = checkpoint.trainer_state()
    vec: VecEnv = venv
    if spec.vec_normalize:
        normalizer = load_vec_normalize(checkpoint.path("vecnormalize.pkl"), venv)
        normalizer.returns = np.array(trainer["vec_normalize_returns"])
        vec = normalizer
    model = spec.algorithm.load(
        checkpoint.path("selector.zip"), env=vec, device=settings.device, tensorboard_log=settings.tensorboard_log
    )
    # load() re-seeds from the saved seed: that queued a seed for the env's next reset, which the
    # uninterrupted run consumed long ago, and re-seeded the global generators (restored below).
    venv._reset_seeds()
    model.policy.optimizer.load_state_dict(
        th.load(checkpoint.path("optimizer.pt"), map_location=model.device, weights_only=False)
    )
    env.load_state(checkpoint.path("env_state.pt"))
    mon = trainer["monitor"]
    monitor.rewards = list(mon["rewards"])
    monitor.needs_reset = bool(mon["needs_reset"])
    monitor.episode_returns = list(mon["episode_returns"])
    monitor.episode_lengths = list(mon["episode_lengths"])
    monitor.total_steps = int(mon["total_steps"])
    # load() drops the last observation to force a reset; the uninterrupted run would not reset here.
    model._last_obs = trainer["last_obs"]
    if trainer["last_episode_starts"] is not None:
        model._last_episode_starts = trainer["last_episode_starts"]
    model.num_timesteps = int(trainer["num_timesteps"])
    # Last, so that nothing above (model construction, env restore) draws from them afterwards.
    restore_rng(trainer["rng"])
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
    if not run or Path(run).parent != Path(tensorboard_log):
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
    env = make_selection_env(dataset, spec.observation, seed, settings, progress=progress, **spec.env_kwargs)
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
        model, trainer = _resume_model(spec, resume, venv, env, monitor, settings)
        history.history = [dict(r) for r in trainer["history"] if not r.get("pretrain")]
        done = resume.units_done
    tb_name = spec.tb_name
    tb_run = _tensorboard_run(model, settings.tensorboard_log, tb_name, resume)
    pretrain_units = settings.pretrain_episodes if spec.pretrains else 0

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
