"""REINFORCE's reward scaling, ablated: the benchmark's reinforce selection and final training with another
``reward_scaling`` (see agents.reinforce.reinforce.scale_sample_rewards).

    python benchmarks/bench_reward_scaling.py sign 0,1,2

Prints, per seed, the final classifier's test macro-F1, the kept fraction and removal precision/recall/F1
on the synthetic default (the protocol of examples/benchmark.py, whose `reinforce` uses "balanced").
"""

import sys
import time

from agents.experiment.benchmark import BenchmarkSettings, final_training
from agents.experiment.rl_selection import reinforce_selector
from agents.experiment.settings import RLSettings
from fer_select_env.data.resolve import load_or_make_synthetic
from fer_select_env.envs.select.metrics import removal_scores

ds = load_or_make_synthetic("label_symmetric", n_train=5000)
scaling = sys.argv[1]
seeds = [int(s) for s in sys.argv[2].split(",")]
for seed in seeds:
    t = time.time()
    sel = reinforce_selector("label_aware")(ds, seed=seed, settings=RLSettings(reward_scaling=scaling))
    _, test = final_training(ds, sel.kept, seed, BenchmarkSettings())
    rem = removal_scores(sel.kept, ds.noise_train != 0)
    print(
        scaling,
        seed,
        "macroF1",
        round(test["macro_f1"], 4),
        "kept",
        round(sel.kept_fraction, 3),
        "remF1",
        round(rem["removal_f1"], 3),
        "P",
        round(rem["removal_precision"], 3),
        "R",
        round(rem["removal_recall"], 3),
        f"{time.time() - t:.0f}s",
        flush=True,
    )
