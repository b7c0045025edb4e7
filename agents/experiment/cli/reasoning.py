"""``fer-select export-reasoning``: the synthetic AU faces as PNG images plus JSONL files in Facial-R1's data
format (``agents.experiment.reasoning_export``)."""

from __future__ import annotations

import argparse

from agents.experiment.cli.args import Formatter, UsageError, check_output_dir
from fer_select_env.data.reasoning import SPLITS


def _splits(text: str) -> tuple[str, ...]:
    names = tuple(s.strip() for s in text.split(",") if s.strip())
    bad = [s for s in names if s not in SPLITS]
    if not names or bad or len(set(names)) != len(names):
        raise argparse.ArgumentTypeError(
            f"expected distinct comma-separated names from {','.join(SPLITS)}, got {text!r}"
        )
    return names


def add_reasoning_command(sub: argparse._SubParsersAction) -> None:
    """``PROG export-reasoning`` as a subcommand of the ``fer-select`` parser."""
    p = sub.add_parser(
        "export-reasoning",
        help="write the synthetic AU faces as PNG images plus Facial-R1 JSONL files",
        description="Render the synthetic AU faces of FERReason-v0 (split by identity) and write them for\n"
        "Facial-R1 / VLM-R1: DIR/images/<split>/<id>.png, one DIR/<split>.jsonl per split (id, dataset, image,\n"
        "question, AUs, labels, description, solution, conversations, meta_info) and DIR/facial_r1_config.json,\n"
        "the entry Facial-R1's loader looks up per JSONL file. docs/cli.md shows a line.",
        formatter_class=Formatter,
    )
    p.add_argument("--out", required=True, metavar="DIR", help="the export directory: empty or new (see --overwrite)")
    p.add_argument("--n-subjects", type=int, default=200, metavar="N", help="synthetic identities (>= 3; default 200)")
    p.add_argument("--faces-per-subject", type=int, default=14, metavar="N", help="faces per identity (default 14)")
    p.add_argument("--image-size", type=int, default=48, metavar="PX", help="image side, 16..512 pixels (default 48)")
    p.add_argument("--seed", type=int, default=0, help="seeds the faces and the identity split (default 0)")
    p.add_argument(
        "--splits", type=_splits, default=SPLITS, metavar="LIST", help="splits to write (default train,val,test)"
    )
    p.add_argument("--overwrite", action="store_true", help="replace an earlier export in a non-empty DIR")
    p.set_defaults(handler=cmd_export_reasoning, parser=p)


def cmd_export_reasoning(args: argparse.Namespace) -> int:
    """Check the flags, render the dataset, export it and print the rows per split."""
    out = check_output_dir("--out", args.out)
    if out.is_dir() and any(out.iterdir()) and not args.overwrite:
        raise UsageError(f"--out: {out} is not empty; pass --overwrite to replace its export")
    if args.n_subjects < 3:
        raise UsageError(f"--n-subjects: must be >= 3, got {args.n_subjects}")
    if args.faces_per_subject < 1:
        raise UsageError(f"--faces-per-subject: must be >= 1, got {args.faces_per_subject}")
    if not 16 <= args.image_size <= 512:
        raise UsageError(f"--image-size: must be in [16, 512], got {args.image_size}")

    from agents.experiment.reasoning_export import CONFIG_FILE, export_reasoning

    dataset_kwargs = {
        "n_subjects": args.n_subjects,
        "faces_per_subject": args.faces_per_subject,
        "image_size": args.image_size,
        "seed": args.seed,
    }
    counts = export_reasoning(out, splits=args.splits, dataset_kwargs=dataset_kwargs, overwrite=args.overwrite)
    rows = ", ".join(f"{split} {n}" for split, n in counts.items())
    print(f"wrote {sum(counts.values())} faces ({rows}) to {out}: <split>.jsonl, images/, {CONFIG_FILE}")
    return 0


__all__ = ["add_reasoning_command", "cmd_export_reasoning"]
