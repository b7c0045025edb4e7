"""The FERReason-v0 experiment: SFT → GRPO → synthesis on one seed's data, with the reward ablations and
SB3's PPO / MaskablePPO beside them, every row scored on the test identities (`docs/grpo.md`)."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import gymnasium as gym
import numpy as np
import torch as th

from agents.baselines.sft import teacher_dataset, train_sft
from agents.grpo import GRPO
from agents.reasoning.evaluation import decode, reasoning_metrics
from agents.reasoning.synthesis import synthesize
from fer_select_env.data.reasoning import FERReasonDataset, make_reasoning_dataset

STAGES: tuple[str, ...] = (
    "sft",
    "sft+grpo",
    "grpo_cold",
    "sft+grpo_no_au",
    "sft+grpo_no_format",
    "ppo",
    "maskable_ppo",
    "synthesis",
    "sft+grpo_align",
    "weak_start",
)


@dataclass
class ReasonSettings:
    """Every setting of :func:`run_reasoning`; the defaults are the documented run's.

    :param n_subjects: identities of the synthetic data (``make_reasoning_dataset``)
    :param hallucination: the teacher's h
    :param sft_epochs: SFT epoch cap (early stopping on the validation identities' teacher sequences)
    :param grpo_updates: GRPO updates, each of ``prompts`` × ``group_size`` rollouts
    :param grpo_lr: GRPO's Adam learning rate
    :param ppo_timesteps: SB3 PPO / MaskablePPO budget in tokens
    :param au_budget: AU-labelled training faces of the synthesis experiment
    :param synthesis_rounds: k
    :param synthesis_consensus: keep the AUs most passing samples of a face agree on (else the first passing
        sample; :func:`~agents.reasoning.synthesis.synthesize`)
    :param weak_sft_epochs: the SFT epochs of the ``weak_start`` stage: an SFT start whose format is not yet
        settled (``weak_sft``), then GRPO from it with and without R_format (``weak_sft+grpo``,
        ``weak_sft+grpo_no_format``): the format ablation from a start where the format can still move
    """

    n_subjects: int = 200
    hallucination: float = 0.2
    sft_epochs: int = 40
    grpo_updates: int = 150
    grpo_lr: float = 3e-4
    prompts: int = 32
    group_size: int = 8
    ppo_timesteps: int = 60_000
    au_budget: int = 300
    synthesis_rounds: int = 3
    synthesis_consensus: bool = True
    weak_sft_epochs: int = 2
    net_arch: list[int] = field(default_factory=lambda: [128, 128])
    stages: tuple[str, ...] = STAGES

    def __post_init__(self) -> None:
        unknown = [stage for stage in self.stages if stage not in STAGES]
        if unknown:
            raise ValueError(f"stages: unknown {unknown}; choices are {list(STAGES)} (sft always runs)")
        self.stages = tuple(self.stages)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def metrics_line(m: dict[str, Any]) -> str:
    """One log line of :func:`~agents.reasoning.evaluation.reasoning_metrics`' main figures."""
    nan = float("nan")
    return (
        f"AU-F1 {m.get('au_f1_macro', nan):5.1f} acc {m['accuracy']:5.1f} format {m['format_rate']:5.1f} "
        f"align {m['alignment']:5.1f} halluc {m.get('hallucinated_au_rate', nan):5.1f}"
    )


def _envs(dataset: FERReasonDataset, cache_dir: str | None, **kwargs: Any) -> dict[str, Any]:
    return {
        split: gym.make("FERReason-v0", dataset=dataset, split=split, cache_dir=cache_dir, **kwargs)
        for split in ("train", "val", "test")
    }


def grpo_model(env: gym.Env, settings: Any, seed: int, start: GRPO | None = None) -> GRPO:
    """The bundled GRPO of the reasoning-family experiments on ``env``, from ``settings``' ``grpo_lr``,
    ``group_size``, ``prompts`` and ``net_arch`` (:class:`ReasonSettings`, or FEROpenVocab's settings), with
    ``start``'s weights when given."""
    model = GRPO(
        "MultiInputPolicy",
        env,
        learning_rate=settings.grpo_lr,
        group_size=settings.group_size,
        prompts_per_update=settings.prompts,
        seed=seed,
        policy_kwargs={"net_arch": list(settings.net_arch)},
        device="cpu",
    )
    if start is not None:
        model.policy.load_state_dict(start.policy.state_dict())
    return model


def tokens_per_update(settings: Any, max_length: int) -> int:
    """The tokens of one full-length GRPO update: ``prompts`` × ``group_size`` rollouts of ``max_length``."""
    return settings.prompts * settings.group_size * max_length


def run_reasoning(
    seed: int,
    settings: ReasonSettings | None = None,
    cache_dir: str | None = None,
    log: Callable[[str], None] = print,
) -> dict[str, Any]:
    """Every stage of :data:`STAGES` on seed ``seed``'s data; returns ``{"rows": {stage: test metrics},
    "synthesis": [per-round metrics], "wall_seconds": ...}``. Validation identities stop SFT early;
    the test identities are scored once per row."""
    s = settings or ReasonSettings()
    th.manual_seed(seed)
    start = time.perf_counter()
    dataset = make_reasoning_dataset(n_subjects=s.n_subjects, seed=seed)
    envs = _envs(dataset, cache_dir)
    train, val, test = (envs[k].unwrapped for k in ("train", "val", "test"))
    rng = np.random.default_rng(seed)
    idx, tok = teacher_dataset(train, np.arange(train.num_prompts), rng, s.hallucination)
    v_idx, v_tok = teacher_dataset(val, np.arange(val.num_prompts), rng, 0.0)
    rows: dict[str, dict[str, Any]] = {}
    val_rows: dict[str, dict[str, Any]] = {}

    def score(name: str, policy: Any) -> None:
        rows[name] = reasoning_metrics(test, decode(policy, test))
        val_rows[name] = reasoning_metrics(val, decode(policy, val))
        log(f"seed {seed} {name:>20} (val): {metrics_line(val_rows[name])} [{time.perf_counter() - start:.0f}s]")

    def sft_start(epochs: int) -> GRPO:
        model = grpo_model(envs["train"], s, seed)
        train_sft(model.policy, train, idx, tok, val=(val, v_idx, v_tok), epochs=epochs, seed=seed)
        return model

    budget = s.grpo_updates * tokens_per_update(s, train.max_length)
    histories: dict[str, list[dict[str, float]]] = {}

    def grpo_row(name: str, rewards: tuple[str, ...], start: GRPO | None) -> None:
        env = gym.make("FERReason-v0", dataset=dataset, split="train", rewards=rewards, cache_dir=cache_dir)
        model = grpo_model(env, s, seed, start=start)
        model.learn(budget)
        histories[name] = model.history
        score(name, model.policy)

    sft = sft_start(s.sft_epochs)
    score("sft", sft.policy)
    variants = {
        "sft+grpo": (("au", "acc", "format"), True),
        "grpo_cold": (("au", "acc", "format"), False),
        "sft+grpo_no_au": (("acc", "format"), True),
        "sft+grpo_no_format": (("au", "acc"), True),
        "sft+grpo_align": (("au", "acc", "format", "align"), True),  # ours: the alignment metric as a reward
    }
    for name, (rewards, from_sft) in variants.items():
        if name in s.stages:
            grpo_row(name, rewards, sft if from_sft else None)
    for name, masking in (("ppo", False), ("maskable_ppo", True)):
        if name in s.stages:
            rows[name], val_rows[name] = _ppo_rows(dataset, s, seed, masking, cache_dir)
            log(f"seed {seed} {name:>20} (val): {metrics_line(val_rows[name])}")
    synthesis = []
    if "synthesis" in s.stages:
        synthesis = _synthesis_rounds(dataset, s, seed, cache_dir, log)
    if "weak_start" in s.stages:
        weak = sft_start(s.weak_sft_epochs)
        score("weak_sft", weak.policy)
        grpo_row("weak_sft+grpo", ("au", "acc", "format"), weak)
        grpo_row("weak_sft+grpo_no_format", ("au", "acc"), weak)
    return {
        "seed": seed,
        "settings": s.to_dict(),
        "rows": rows,
        "val_rows": val_rows,
        "synthesis": synthesis,
        "histories": histories,
        "wall_seconds": time.perf_counter() - start,
    }


def _ppo_rows(
    dataset: FERReasonDataset, s: ReasonSettings, seed: int, masking: bool, cache_dir: str | None
) -> tuple[dict[str, Any], dict[str, Any]]:
    """SB3's PPO (a learned critic in place of the group baseline), cold, on the same env; with masking,
    sb3-contrib's MaskablePPO on the grammar mask."""
    from sb3_contrib import MaskablePPO
    from stable_baselines3 import PPO

    env = gym.make("FERReason-v0", dataset=dataset, split="train", action_masking=masking, cache_dir=cache_dir)
    cls = MaskablePPO if masking else PPO
    model = cls(
        "MultiInputPolicy",
        env,
        n_steps=1536,
        batch_size=256,
        gamma=1.0,
        seed=seed,
        policy_kwargs={"net_arch": list(s.net_arch)},
        device="cpu",
    )
    model.learn(s.ppo_timesteps)
    out = []
    for split in ("test", "val"):
        env = gym.make("FERReason-v0", dataset=dataset, split=split, action_masking=masking, cache_dir=cache_dir)
        out.append(reasoning_metrics(env.unwrapped, decode(model.policy, env.unwrapped)))
    return out[0], out[1]


def _synthesis_rounds(
    dataset: FERReasonDataset, s: ReasonSettings, seed: int, cache_dir: str | None, log: Callable[[str], None]
) -> list[dict[str, Any]]:
    """SFT on ``au_budget`` AU-labelled faces, then ``synthesis_rounds`` rounds of label → check → retrain."""
    budgeted = dataset.with_au_budget(s.au_budget, seed=seed)
    envs = _envs(budgeted, cache_dir)
    train, val, test = (envs[k].unwrapped for k in ("train", "val", "test"))
    rng = np.random.default_rng(seed + 1)
    idx, tok = teacher_dataset(train, np.arange(train.num_prompts), rng, s.hallucination)
    v_idx, v_tok = teacher_dataset(val, np.arange(val.num_prompts), rng, 0.0)
    pool = np.flatnonzero(~np.asarray(train.au_known))
    out = []
    data_idx, data_tok = idx, tok
    for r in range(s.synthesis_rounds + 1):
        model = grpo_model(envs["train"], s, seed)
        train_sft(model.policy, train, data_idx, data_tok, val=(val, v_idx, v_tok), epochs=s.sft_epochs, seed=seed)
        m = reasoning_metrics(test, decode(model.policy, test))
        m["val"] = reasoning_metrics(val, decode(model.policy, val))
        m.update({"round": r, "sft_sequences": len(data_idx)})
        if r < s.synthesis_rounds:
            new_idx, new_tok, stats = synthesize(
                model.policy, train, pool, s.group_size, rng, consensus=s.synthesis_consensus
            )
            m.update(stats)
            data_idx = np.concatenate([idx, new_idx])
            data_tok = np.concatenate([tok, new_tok]) if len(new_tok) else tok
        out.append(m)
        log(f"seed {seed} synthesis round {r} ({m['sft_sequences']} SFT sequences, val): {metrics_line(m['val'])}")
    return out


def summarise(results: Sequence[dict[str, Any]]) -> dict[str, dict[str, float]]:
    """Mean and std over seeds of every metric of every row."""
    out: dict[str, dict[str, float]] = {}
    for name in results[0]["rows"]:
        for key in results[0]["rows"][name]:
            values = [r["rows"][name][key] for r in results if key in r["rows"].get(name, {})]
            if values and isinstance(values[0], (int, float)):
                out.setdefault(name, {})[key] = float(np.mean(values))
                out[name][f"{key}_std"] = float(np.std(values, ddof=1)) if len(values) > 1 else 0.0
    return out


__all__ = ["STAGES", "ReasonSettings", "grpo_model", "run_reasoning", "summarise", "tokens_per_update"]
