"""FERReason-v0's three stages, after Facial-R1: SFT on teacher reasoning, GRPO with verifiable rewards, and
iterative data synthesis, with the reward ablations and SB3's PPO / MaskablePPO beside them.

    python examples/train_grpo_reason.py                      # 5 seeds, the table of docs/grpo.md
    python examples/train_grpo_reason.py --seeds 0 --quick    # a one-minute smoke run
    python examples/train_grpo_reason.py --from-results reasoning.json   # the tables again, nothing run

Every row is scored once on the test identities; SFT stops early on the validation identities.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import torch

from agents.reasoning.pipeline import STAGES, ReasonSettings, run_reasoning, summarise
from agents.reasoning.results import merge_seed_rows

METRICS = (
    ("au_f1_macro", "AU-F1 macro"),
    ("au_f1_micro", "AU-F1 micro"),
    ("accuracy", "accuracy"),
    ("format_rate", "format"),
    ("alignment", "alignment"),
    ("hallucinated_au_rate", "hallucinated AUs"),
)


def mean_std(rows: list[dict], key: str) -> str:
    values = [row[key] for row in rows]
    return f"{np.mean(values):.1f} ± {np.std(values, ddof=1) if len(values) > 1 else 0.0:.1f}"


COMPARISONS = (
    ("sft+grpo", "sft", "SFT+GRPO minus SFT"),
    ("sft+grpo_align", "sft", "SFT+GRPO with R_align minus SFT"),
    ("weak_sft+grpo_no_format", "weak_sft+grpo", "From the weak SFT start: GRPO without R_format minus GRPO with it"),
)
"""(row, reference, title) of the per-seed difference tables, printed when both rows are there."""


def print_tables(results: list[dict], au_budget: int) -> None:
    """The tables of docs/grpo.md: every stage (mean ± std over seeds, test identities), the per-seed
    differences GRPO makes after SFT, and the synthesis rounds."""
    seeds = [r["seed"] for r in results]
    # --- the table: mean ± std over seeds, test identities
    summary = summarise(results)
    print(f"\nFERReason-v0, test identities, mean ± std over {len(seeds)} seed(s), percent\n")
    print("| stage | " + " | ".join(label for _, label in METRICS) + " |")
    print("|---" * (len(METRICS) + 1) + "|")
    for name, row in summary.items():
        cells = [f"{row[k]:.1f} ± {row[k + '_std']:.1f}" if k in row else "–" for k, _ in METRICS]
        print(f"| {name} | " + " | ".join(cells) + " |")
    for row, reference, title in COMPARISONS:
        if not all(reference in r["rows"] and row in r["rows"] for r in results):
            continue
        print(f"\n{title} per seed ({', '.join(map(str, seeds))}), test identities\n")
        print("| metric | differences | mean |")
        print("|---|---|---|")
        for key, label in METRICS:
            if key not in results[0]["rows"][reference]:
                continue
            diffs = [r["rows"][row][key] - r["rows"][reference][key] for r in results]
            print(f"| {label} | {', '.join(f'{d:+.1f}' for d in diffs)} | {np.mean(diffs):+.1f} |")
    rounds = len(results[0]["synthesis"])
    if rounds:
        print(f"\nSynthesis with {au_budget} AU-labelled faces (round 0 = SFT on them alone)\n")
        print("| round | SFT sequences | AU-F1 macro | accuracy | alignment | samples passing the check |")
        print("|---|---|---|---|---|---|")
        for r in range(rounds):
            got = [res["synthesis"][r] for res in results]
            passing = mean_std(got, "samples_passed") if "samples_passed" in got[0] else "–"
            cells = " | ".join(mean_std(got, k) for k in ("au_f1_macro", "accuracy", "alignment"))
            print(f"| {r} | {np.mean([g['sft_sequences'] for g in got]):.0f} | {cells} | {passing} |")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", default="0,1,2,3,4", help="comma-separated seeds (default 0-4)")
    parser.add_argument("--out", default="reasoning.json", help="results file (default reasoning.json)")
    parser.add_argument("--quick", action="store_true", help="tiny data and budgets: checks the pipeline runs")
    parser.add_argument("--cache-dir", default=None, help="where the frozen encoders are cached")
    parser.add_argument(
        "--from-results", metavar="FILE", help="print the tables of an earlier results file; run nothing"
    )
    parser.add_argument(
        "--stages", default=",".join(STAGES), help=f"comma-separated stages to run (default all: {','.join(STAGES)})"
    )
    parser.add_argument(
        "--merge", metavar="FILE", help="add this run's rows to an earlier results file's seeds (and write it to --out)"
    )
    args = parser.parse_args(argv)
    if args.from_results:
        saved = json.loads(Path(args.from_results).read_text())
        print_tables(saved["seeds"], saved["settings"]["au_budget"])
        return 0
    torch.set_num_threads(1)  # results reproduce for a thread count; one keeps two runs side by side fair

    stages = tuple(part for part in args.stages.split(",") if part)
    try:
        settings = ReasonSettings(stages=stages)
        if args.quick:
            settings = ReasonSettings(
                n_subjects=12, sft_epochs=3, grpo_updates=2, prompts=4, ppo_timesteps=512, au_budget=20,
                synthesis_rounds=1, stages=stages,
            )  # fmt: skip
    except ValueError as error:
        parser.error(str(error))
    seeds = [int(s) for s in args.seeds.split(",")]
    results = [run_reasoning(seed, settings, cache_dir=args.cache_dir) for seed in seeds]
    if args.merge:
        earlier = json.loads(Path(args.merge).read_text())["seeds"]
        try:
            results = merge_seed_rows(earlier, results)
        except ValueError as error:
            parser.error(f"--merge: {error}")
    Path(args.out).write_text(json.dumps({"settings": settings.to_dict(), "seeds": results}, indent=1))

    print_tables(results, settings.au_budget)
    print(f"\nwrote {args.out}; {sum(r['wall_seconds'] for r in results):.0f} s of runs")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
