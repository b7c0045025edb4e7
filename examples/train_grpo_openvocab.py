"""FEROpenVocab-v0 after AffectGPT-RL: SFT on reference word sets (token cross-entropy), then GRPO on the
emotion-wheel reward, against the top-1 word and one-word-per-category baselines.

    python examples/train_grpo_openvocab.py                          # synthetic blends, 5 seeds
    python examples/train_grpo_openvocab.py --fer2013 fer2013.npz    # FER2013 with FER+ truth sets
    python examples/train_grpo_openvocab.py --seeds 0 --quick        # a smoke run
    python examples/train_grpo_openvocab.py --stages sft,sft+grpo_valence --merge synth.json   # add rows

Every row is scored on the test faces (FER2013: PrivateTest) with the official aggregate EW-F (F of the mean
precision and mean recall, averaged over the wheels), whose version is printed.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import torch

from agents.reasoning.openvocab import STAGES, OpenVocabSettings, run_openvocab
from agents.reasoning.results import merge_seed_rows
from fer_select_env.envs.text.wheels import METRIC_VERSION

COLUMNS = (
    ("ew_f_level1", "EW-F level 1"),
    ("ew_f_level2", "EW-F level 2"),
    ("top_word_accuracy", "top-word accuracy"),
    ("reference_cross_entropy", "reference CE"),
    ("mean_length", "mean length"),
    ("at_cap", "at cap %"),
    ("empty", "empty %"),
)

COMPARISONS = (
    ("sft+grpo", "sft"),
    ("sft+grpo_valence", "sft+grpo"),
    ("sft_reasoning", "sft"),
    ("sft+grpo_reasoning", "sft+grpo"),
)
"""(row, reference) pairs whose per-seed differences are printed when both rows are there."""


def print_table(results: list[dict]) -> None:
    """Mean ± std over seeds of every row, test faces; then each of :data:`COMPARISONS` per seed."""
    print(f"\nFEROpenVocab-v0, test faces, {len(results)} seed(s), metric {METRIC_VERSION}\n")
    print("| row | " + " | ".join(label for _, label in COLUMNS) + " |")
    print("|---" * (len(COLUMNS) + 1) + "|")
    for name in results[0]["rows"]:
        cells = []
        for key, _ in COLUMNS:
            values = [r["rows"][name][key] for r in results if key in r["rows"][name]]
            std = np.std(values, ddof=1) if len(values) > 1 else 0.0
            cells.append(f"{np.mean(values):.2f} ± {std:.2f}" if values else "–")
        print(f"| {name} | " + " | ".join(cells) + " |")
    for row, reference in COMPARISONS:
        if not all(row in r["rows"] and reference in r["rows"] for r in results):
            continue
        print(f"\n{row} minus {reference} per seed\n")
        print("| metric | differences | mean |")
        print("|---|---|---|")
        for key, label in COLUMNS[:4]:
            diffs = [r["rows"][row][key] - r["rows"][reference][key] for r in results]
            print(f"| {label} | {', '.join(f'{d:+.2f}' for d in diffs)} | {np.mean(diffs):+.2f} |")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", default="0,1,2,3,4", help="comma-separated seeds (default 0-4)")
    parser.add_argument("--fer2013", default=None, help="the FER2013 evaluation copy (default: synthetic blends)")
    parser.add_argument("--out", default="openvocab.json", help="results file (default openvocab.json)")
    parser.add_argument("--quick", action="store_true", help="tiny data and budgets")
    parser.add_argument("--cache-dir", default=None, help="where the frozen encoders are cached")
    parser.add_argument("--from-results", metavar="FILE", help="print the tables of an earlier results file")
    parser.add_argument(
        "--stages", default=",".join(STAGES), help=f"comma-separated rows to make (default all: {','.join(STAGES)})"
    )
    parser.add_argument(
        "--merge", metavar="FILE", help="add this run's rows to an earlier results file's seeds (and write it to --out)"
    )
    args = parser.parse_args(argv)
    if args.from_results:
        print_table(json.loads(Path(args.from_results).read_text())["seeds"])
        return 0
    torch.set_num_threads(1)
    stages = tuple(part for part in args.stages.split(",") if part)
    try:
        settings = OpenVocabSettings(stages=stages)
        if args.quick:
            settings = OpenVocabSettings(
                n_subjects=12, sft_epochs=3, grpo_updates=2, prompts=4, ppo_timesteps=512, stages=stages
            )
    except ValueError as error:
        parser.error(str(error))
    dataset = None
    if args.fer2013:
        from fer_select_env.data.loaders import load_fer2013
        from fer_select_env.data.openvocab import FEROpenVocabDataset

        dataset = FEROpenVocabDataset.from_fer_dataset(load_fer2013(args.fer2013))
        print(dataset, "dropped (empty truth):", dataset.dropped)
    seeds = [int(s) for s in args.seeds.split(",")]
    results = [run_openvocab(seed, settings, dataset=dataset, cache_dir=args.cache_dir) for seed in seeds]
    if args.merge:
        try:
            results = merge_seed_rows(json.loads(Path(args.merge).read_text())["seeds"], results)
        except ValueError as error:
            parser.error(f"--merge: {error}")
    Path(args.out).write_text(json.dumps({"settings": settings.to_dict(), "seeds": results}, indent=1, default=str))
    print_table(results)
    print(f"\nwrote {args.out}; {sum(r['wall_seconds'] for r in results):.0f} s of runs")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
