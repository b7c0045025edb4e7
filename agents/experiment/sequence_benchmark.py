"""The FERSequence-v0 benchmark: RL agents against the confidence-threshold front on held-out identities.

Per seed, one synthetic sequence dataset (its subjects split into train, val and test) and one frozen
classifier (trained on train, stopped early on val, cached). Then:

* **baselines**, on the test identities: ``last_frame``, ``threshold(τ)`` over ml_edm's grid (the front),
  ``threshold_val`` (the τ whose mean return on the *val* identities is best at each λ: the deployable
  member of the family) and the label-using ``oracle`` (an upper reference);
* **RL agents**, trained at each λ on the val identities' episodes with their bundled settings
  (:mod:`agents.sequence.settings`) and scored on every test sequence with a deterministic policy.

The test identities are touched only by the final scoring. The bar of the issue is judged on the mean over
seeds (:func:`summarise`): the threshold family's curve is averaged per τ across seeds before its front is
taken, so that the front is not the envelope of per-seed noise.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from stable_baselines3.common.vec_env import DummyVecEnv

from agents.baselines.early import last_frame, oracle, threshold, threshold_sweep
from agents.sequence.evaluation import commit_times
from agents.sequence.settings import (
    DEFAULT_TIMESTEPS,
    INITIAL_WAIT_PROBABILITY,
    N_ENVS,
    OBSERVATION,
    POSTERIOR_JITTER,
    SEQUENCE_ALGORITHMS,
    train_sequence_agent,
    training_env,
)
from fer_select_env.core.cache import atomic_write_bytes
from fer_select_env.core.checks import check_positive_number
from fer_select_env.data.sequences import SEQUENCE_CLASSES, make_sequence_dataset
from fer_select_env.envs.sequence.env import FERSequenceEnv
from fer_select_env.envs.sequence.metrics import (
    early_metrics,
    front_accuracy_at,
    front_auc,
    on_or_above_front,
    pareto_front,
)

DEFAULT_WAIT_PENALTIES: tuple[float, ...] = (0.0, 0.01, 0.03, 0.1)
"""λ values: 0 (the λ → 0 check against ``last_frame``) and three for the front."""

RESULTS_FORMAT = "fer-select/sequence-benchmark/1"


@dataclass(frozen=True)
class SequenceBenchmarkSettings:
    """What one sequence benchmark runs (recorded in ``results.json``)."""

    agents: tuple[str, ...] = ("ppo",)
    seeds: tuple[int, ...] = (0, 1, 2, 3, 4)
    wait_penalties: tuple[float, ...] = DEFAULT_WAIT_PENALTIES
    timesteps: Mapping[str, int] = field(default_factory=dict)
    """Per-agent training budget in env steps; missing agents get :data:`DEFAULT_TIMESTEPS`."""
    dataset_kwargs: Mapping[str, Any] = field(default_factory=dict)
    """``make_sequence_dataset`` arguments (its ``seed`` is the run seed)."""
    classifier: Mapping[str, Any] = field(default_factory=dict)
    """``SequenceClassifierConfig`` fields (its ``seed`` is the run seed)."""
    threads: int = 1
    curriculum: bool = True
    """PPO and RecurrentPPO learn under the λ curriculum (:mod:`agents.sequence.curriculum`); False: at λ."""
    initial_wait_probability: float | None = INITIAL_WAIT_PROBABILITY
    """P(wait) of the initial PPO / RecurrentPPO policy; ``None``: SB3's initialisation."""
    posterior_jitter: float | None = POSTERIOR_JITTER
    """σ of the noise on log p_t in PPO's training envs (:func:`~agents.sequence.settings.training_env`);
    ``None``: no noise. Always recorded: results from before it existed are not reused for it."""

    def __post_init__(self) -> None:
        unknown = [a for a in self.agents if a not in SEQUENCE_ALGORITHMS]
        if unknown:
            raise ValueError(f"agents: unknown {unknown}; choices are {sorted(SEQUENCE_ALGORITHMS)}")
        if not self.seeds:
            raise ValueError("seeds: need at least one seed")
        if not self.wait_penalties or any(not np.isfinite(w) or w < 0 for w in self.wait_penalties):
            raise ValueError(f"wait_penalties: need one or more finite values >= 0, got {self.wait_penalties}")
        if self.posterior_jitter is not None:
            check_positive_number("posterior_jitter", self.posterior_jitter)

    def budget(self, agent: str) -> int:
        return int(self.timesteps.get(agent, DEFAULT_TIMESTEPS[agent]))


def _env(dataset: Any, split: str, settings: SequenceBenchmarkSettings, seed: int, **kwargs: Any) -> FERSequenceEnv:
    return FERSequenceEnv(dataset=dataset, split=split, classifier={**settings.classifier, "seed": seed}, **kwargs)


def _scored(t_commit: np.ndarray, predictions: np.ndarray, env: FERSequenceEnv, wait_penalty: float) -> dict:
    return early_metrics(t_commit, predictions, env.labels, env.num_frames, env.num_classes, wait_penalty=wait_penalty)


def _train_agent(agent: str, dataset: Any, settings: SequenceBenchmarkSettings, seed: int, wait_penalty: float) -> Any:
    def make() -> Any:
        env = _env(dataset, "val", settings, seed, observation=OBSERVATION[agent], wait_penalty=wait_penalty)
        return training_env(agent, env, settings.posterior_jitter)

    vec = DummyVecEnv([make] * N_ENVS[agent])
    return train_sequence_agent(
        agent,
        vec,
        wait_penalty,
        settings.budget(agent),
        seed=seed,
        curriculum=settings.curriculum,
        initial_wait_probability=settings.initial_wait_probability,
    )


def run_seed(settings: SequenceBenchmarkSettings, seed: int, log: Callable[[str], None] = print) -> dict:
    """Every baseline and agent of one seed (see the module docstring)."""
    start = time.perf_counter()
    dataset = make_sequence_dataset(**{**settings.dataset_kwargs, "seed": seed})
    val, test = _env(dataset, "val", settings, seed), _env(dataset, "test", settings, seed)
    report = test.classifier_report
    out: dict[str, Any] = {
        "seed": seed,
        "class_names": list(dataset.class_names),
        "classifier": report.to_dict() if hasattr(report, "to_dict") else asdict(report),
        "test_accuracy_per_frame": [
            float((test.posteriors[:, t].argmax(1) == test.labels).mean()) for t in range(test.num_frames)
        ],
        "sweep": threshold_sweep(test.posteriors, test.labels).rows,
        "baselines": {},
        "agents": {},
    }
    val_sweep = {
        lam: threshold_sweep(val.posteriors, val.labels, wait_penalty=lam).rows for lam in settings.wait_penalties
    }
    for lam in settings.wait_penalties:
        key = f"{lam:g}"
        best_tau = max(val_sweep[lam], key=lambda r: r["mean_return"])["tau"]
        out["baselines"][key] = {
            "last_frame": _scored(*last_frame(test.posteriors), test, lam),
            "oracle": _scored(*oracle(test.posteriors, test.labels), test, lam),
            "threshold_val": {"tau": best_tau, **_scored(*threshold(test.posteriors, best_tau), test, lam)},
        }
        for agent in settings.agents:
            t0 = time.perf_counter()
            model = _train_agent(agent, dataset, settings, seed, lam)
            # commit_times reads only the observations, so the posterior test env serves every λ; a pixel
            # agent needs its own (the classifier then loads from the cache)
            observation = OBSERVATION[agent]
            test_env = (
                test if observation == "posterior" else _env(dataset, "test", settings, seed, observation=observation)
            )
            scores = _scored(*commit_times(model, test_env), test, lam)
            scores["train_seconds"] = time.perf_counter() - t0
            out["agents"].setdefault(agent, {})[key] = scores
            reference = out["baselines"][key]["threshold_val"]["mean_return"]
            log(
                f"seed {seed} λ={key} {agent}: accuracy {scores['accuracy']:.3f}, "
                f"earliness {scores['earliness']:.3f}, return {scores['mean_return']:.3f} "
                f"(threshold_val {reference:.3f}) in {scores['train_seconds']:.0f} s"
            )
    out["seconds"] = time.perf_counter() - start
    return json.loads(json.dumps(out))  # as the results file holds it (dict keys become strings)


def run_sequence_benchmark(
    settings: SequenceBenchmarkSettings,
    out: str | Path | None = None,
    log: Callable[[str], None] = print,
    reuse: Sequence[str | Path] = (),
) -> dict:
    """Every seed of ``settings``; written to ``out`` (JSON) after each seed, so an interrupted run keeps
    its finished seeds and a rerun with the same file skips them. ``reuse``: results files of the same
    settings (seeds aside) whose seeds are taken instead of rerun, so seeds can run in parallel processes."""
    results: dict[str, Any] = {"format": RESULTS_FORMAT, "settings": _settings_dict(settings), "runs": {}}
    sources = [Path(p) for p in reuse] + ([Path(out)] if out is not None and Path(out).is_file() else [])
    for source in sources:
        for seed, run in _reusable_runs(source, results["settings"]).items():
            if int(seed) in settings.seeds:
                results["runs"][seed] = run
    if results["runs"]:
        log(f"reusing seeds {sorted(results['runs'], key=int)} from {', '.join(map(str, sources))}")
    torch.set_num_threads(settings.threads)
    for seed in settings.seeds:
        if str(seed) in results["runs"]:
            continue
        results["runs"][str(seed)] = run_seed(settings, seed, log)
        if out is not None:
            atomic_write_bytes(Path(out), json.dumps(results, indent=1).encode())
    results["summary"] = summarise(results)
    if out is not None:
        atomic_write_bytes(Path(out), json.dumps(results, indent=1).encode())
    return results


def _reusable_runs(path: Path, settings: Mapping[str, Any]) -> dict[str, Any]:
    """The runs of ``path`` when its settings equal ``settings`` except for the seeds; else a ValueError."""
    try:
        previous = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise ValueError(f"{path}: not a readable results file ({exc})") from None
    if not isinstance(previous, dict) or previous.get("format") != RESULTS_FORMAT:
        raise ValueError(f"{path}: not a {RESULTS_FORMAT} results file")
    theirs = {k: v for k, v in previous.get("settings", {}).items() if k != "seeds"}
    ours = {k: v for k, v in settings.items() if k != "seeds"}
    if theirs != ours:
        differ = sorted(k for k in set(theirs) | set(ours) if theirs.get(k) != ours.get(k))
        raise ValueError(f"{path}: its settings differ from this run's in {differ}; its seeds cannot be reused")
    return dict(previous.get("runs", {}))


def _settings_dict(settings: SequenceBenchmarkSettings) -> dict:
    d = asdict(settings)
    d["timesteps"] = {a: settings.budget(a) for a in settings.agents}
    # The ablation switches are recorded only when they are not the default, so that results files written
    # before they existed are still reused.
    for name, default in (("curriculum", True), ("initial_wait_probability", INITIAL_WAIT_PROBABILITY)):
        if d[name] == default:
            del d[name]
    return json.loads(json.dumps(d))


def _mean(values: Sequence[float]) -> float:
    return float(np.mean(values))


def summarise(results: Mapping[str, Any]) -> dict:
    """Means over seeds and the issue's bar: each agent against the mean threshold front at each λ > 0,
    its return against ``last_frame``'s, and at λ = 0 its accuracy against ``last_frame``'s."""
    runs = list(results["runs"].values())
    curve = [
        (_mean([r["sweep"][i]["earliness"] for r in runs]), _mean([r["sweep"][i]["accuracy"] for r in runs]))
        for i in range(len(runs[0]["sweep"]))
    ]
    front = pareto_front(curve)
    summary: dict[str, Any] = {
        "seeds": len(runs),
        "threshold_curve": curve,
        "front": front.tolist(),
        "front_auc": front_auc(front),
        "test_accuracy_per_frame": np.mean([r["test_accuracy_per_frame"] for r in runs], axis=0).tolist(),
        "per_lambda": {},
    }
    for key in runs[0]["baselines"]:
        row: dict[str, Any] = {}
        for name in ("last_frame", "threshold_val", "oracle"):
            row[name] = _means([r["baselines"][key][name] for r in runs])
        for agent in runs[0]["agents"]:
            m = _means([r["agents"][agent][key] for r in runs])
            m["front_accuracy_at_earliness"] = front_accuracy_at(front, m["earliness"])
            m["on_or_above_front"] = bool(on_or_above_front((m["earliness"], m["accuracy"]), front, tolerance=0.01))
            m["beats_last_frame_return"] = m["mean_return"] > row["last_frame"]["mean_return"]
            m["accuracy_minus_last_frame"] = m["accuracy"] - row["last_frame"]["accuracy"]
            row[agent] = m
        summary["per_lambda"][key] = row
    return summary


def _means(scores: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """Means over seeds of the figures the summary reports, per-class accuracy and AvgCost included."""
    out: dict[str, Any] = {k: _mean([s[k] for s in scores]) for k in ("accuracy", "earliness", "mean_return", "hm")}
    for group in ("avg_cost", "per_class_accuracy"):
        keys = sorted(set().union(*(s[group] for s in scores)), key=float)
        out[group] = {k: _mean([s[group][k] for s in scores if k in s[group]]) for k in keys}
    return out


def _pct(x: float) -> str:
    return f"{100 * x:.1f}"


def sequence_markdown(results: Mapping[str, Any]) -> str:
    """The summary as Markdown: one table per λ (means over seeds, percent), then the accuracy per frame."""
    s = results["summary"] if "summary" in results else summarise(results)
    lines = [f"Means over {s['seeds']} seed(s), test identities. Percent, except return.", ""]
    for key, row in s["per_lambda"].items():
        lines += [
            f"#### λ = {key}",
            "",
            "| policy | accuracy | earliness | HM | AvgCost(0.1) | mean return | front at its earliness "
            "| on/above the front | return > last_frame |",
            "| --- | --- | --- | --- | --- | --- | --- | --- | --- |",
        ]
        for name, m in row.items():
            flags = ["", "", ""]
            if "on_or_above_front" in m:
                flags = [_pct(m["front_accuracy_at_earliness"])]
                flags += ["yes" if m[k] else "no" for k in ("on_or_above_front", "beats_last_frame_return")]
            cost = m["avg_cost"].get("0.1", m["avg_cost"].get(0.1))
            cells = [f"`{name}`", *(_pct(m[k]) for k in ("accuracy", "earliness", "hm")), f"{cost:.3f}"]
            lines.append("| " + " | ".join([*cells, f"{m['mean_return']:.3f}", *flags]) + " |")
        lines.append("")
    lines += _per_class_lines(results, s)
    per_frame = " · ".join(_pct(a) for a in s["test_accuracy_per_frame"])
    lines += [
        f"Classifier accuracy on the test identities after frame t = 1..T: {per_frame}",
        "",
        f"Area under the mean threshold front (earliness 0 to 1): {s['front_auc']:.3f}",
        "",
    ]
    return "\n".join(lines)


def _per_class_lines(results: Mapping[str, Any], s: Mapping[str, Any]) -> list[str]:
    """One table of per-class test accuracy: every policy at every λ."""
    first = next(iter(results["runs"].values()))
    names = first.get("class_names") or list(SEQUENCE_CLASSES)
    lines = ["Per-class test accuracy (percent):", "", "| λ | policy | " + " | ".join(names) + " |"]
    lines.append("| --- | --- | " + " | ".join("---" for _ in names) + " |")
    for key, row in s["per_lambda"].items():
        for name, m in row.items():
            per_class = m["per_class_accuracy"]
            cells = [_pct(per_class[str(k)]) if str(k) in per_class else "–" for k in range(len(names))]
            lines.append(f"| {key} | `{name}` | " + " | ".join(cells) + " |")
    return [*lines, ""]


def sequence_plot(results: Mapping[str, Any], path: str | Path) -> Path:
    """Accuracy against earliness: the mean threshold curve and front, each agent at each λ, last_frame."""
    from fer_select_env.envs.sequence.plots import plot_accuracy_earliness

    s = results["summary"] if "summary" in results else summarise(results)
    agents = {
        agent: {key: (row[agent]["earliness"], row[agent]["accuracy"]) for key, row in s["per_lambda"].items()}
        for agent in next(iter(s["per_lambda"].values()))
        if agent not in ("last_frame", "threshold_val", "oracle")
    }
    first = next(iter(s["per_lambda"].values()))
    references = {name: (first[name]["earliness"], first[name]["accuracy"]) for name in ("last_frame", "oracle")}
    return plot_accuracy_earliness(s["threshold_curve"], s["front"], agents, references, path)


__all__ = [
    "DEFAULT_WAIT_PENALTIES",
    "RESULTS_FORMAT",
    "SequenceBenchmarkSettings",
    "run_seed",
    "run_sequence_benchmark",
    "sequence_markdown",
    "sequence_plot",
    "summarise",
]
