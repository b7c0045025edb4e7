"""Where the README's main job (``examples/train_reinforce.py``) spends its time, phase by phase.

    FER_SELECT_CACHE_DIR=$(mktemp -d) OMP_NUM_THREADS=1 python benchmarks/profile_main_job.py [MAIN JOB ARGS]

Runs the main job unchanged, its phases wrapped in timers (a few calls each, so the timers cost nothing
measurable): the dataset (rendered on an empty cache), the classifier's pre-training (or cache read) and
its cached features, the selector's §3.3 pre-training and REINFORCE's passes (with, inside them, the
end-of-pass retrainings and the policy updates), the selection pass, the selection rule, the three final
trainings and the pictures. An empty ``FER_SELECT_CACHE_DIR`` gives a fresh machine's first run. Outputs go
to a temporary folder unless the arguments name others. Prints the job's own output, then the phases.
"""

from __future__ import annotations

import collections
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "examples"))

import train_reinforce

import fer_select_env.envs.select.env as select_env
from agents.reinforce import REINFORCE

SECONDS: dict[str, float] = collections.defaultdict(float)
CALLS: collections.Counter[str] = collections.Counter()


def timed(owner: Any, name: str, label: str) -> None:
    """Replace ``owner.name`` by a wrapper that adds its wall time to ``SECONDS[label]``."""
    function: Callable[..., Any] = getattr(owner, name)

    def wrapper(*args: Any, **kwargs: Any) -> Any:
        started = time.perf_counter()
        try:
            return function(*args, **kwargs)
        finally:
            SECONDS[label] += time.perf_counter() - started
            CALLS[label] += 1

    setattr(owner, name, wrapper)


def main() -> None:
    out = Path(tempfile.mkdtemp(prefix="main_job_"))
    defaults = ["--save", str(out / "selector.zip"), "--plots", str(out / "plots")]
    defaults += ["--tensorboard-log", str(out / "tb")]
    timed(train_reinforce, "resolve_dataset", "dataset (render, or read the cache)")
    timed(select_env, "pretrain_classifier", "classifier pre-training (or cache read)")
    timed(select_env.FERSelectEnv, "_init_representations", "conv features and first scores")
    timed(REINFORCE, "pretrain", "selector pre-training (§3.3), incl. the first reset")
    timed(REINFORCE, "learn", "REINFORCE passes (Algorithm 1)")
    timed(select_env.FERSelectEnv, "_finish_episode", "  of which: end-of-pass retrainings (all passes)")
    timed(REINFORCE, "train_on_episodes", "  of which: policy updates")
    timed(train_reinforce, "selection_pass", "selection pass")
    timed(train_reinforce, "apply_selection_rule", "selection rule (out-of-fold heads; class_budget: choice on val)")
    timed(train_reinforce, "final_training", "final trainings (keep_all, policy, reinforce)")
    timed(train_reinforce, "write_run_plots", "pictures")
    timed(train_reinforce, "plot_confusion_matrices", "pictures")
    started = time.perf_counter()
    train_reinforce.main([*defaults, *sys.argv[1:]])
    total = time.perf_counter() - started
    print("\nphase                                                      seconds  calls")
    for label, seconds in SECONDS.items():
        print(f"{label:<58} {seconds:7.1f}  {CALLS[label]:>5}")
    print(f"{'total':<58} {total:7.1f}")


if __name__ == "__main__":
    main()
