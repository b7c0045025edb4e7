"""Load time of the full FER2013 evaluation copy into a `FERDataset` (median of 3; budget 10 s on 2 cores).

OMP_NUM_THREADS=1 python benchmarks/bench_loaders.py [--path ../shared/data/fer2013/fer2013.npz] [--csv]

``--csv`` also writes the same rows as a Kaggle-format ``fer2013.csv`` in a temporary folder and times
loading that (the csv is ~300 MB and is deleted afterwards).
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np

from fer_select_env.data import load_fer2013

DEFAULT = Path(__file__).resolve().parents[2] / "shared" / "data" / "fer2013" / "fer2013.npz"
BUDGET_S = 10.0


def _time(path: Path, repeats: int) -> tuple[float, str]:
    times, ds = [], None
    for _ in range(repeats):
        t0 = time.perf_counter()
        ds = load_fer2013(path)
        times.append(time.perf_counter() - t0)
    return statistics.median(times), repr(ds)


def _write_csv(npz: Path, out: Path) -> None:
    usage_names = ("Training", "PublicTest", "PrivateTest")
    with np.load(npz) as z:
        images, labels, usage = z["images"], z["labels"], z["usage"]
    with open(out, "w") as fh:
        fh.write("emotion,pixels,Usage\n")
        for img, y, u in zip(images, labels, usage, strict=True):
            fh.write(f"{y},{' '.join(map(str, img.ravel().tolist()))},{usage_names[u]}\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--path", type=Path, default=DEFAULT, help=f"the evaluation copy (default {DEFAULT})")
    parser.add_argument("--repeats", type=int, default=3, help="timed loads; the median is reported (default 3)")
    parser.add_argument("--csv", action="store_true", help="also time the same data as fer2013.csv")
    args = parser.parse_args()
    if not args.path.is_file():
        raise SystemExit(f"FER2013 evaluation copy not found: {args.path} (pass --path)")
    median, ds = _time(args.path, args.repeats)
    print(f"fer2013.npz -> {ds}")
    print(f"load_fer2013(npz): median of {args.repeats} = {median:.2f} s (budget {BUDGET_S:.0f} s)")
    if args.csv:
        with tempfile.TemporaryDirectory() as tmp:
            csv_path = Path(tmp) / "fer2013.csv"
            _write_csv(args.path, csv_path)
            median, _ = _time(csv_path, args.repeats)
            size_mb = csv_path.stat().st_size / 1e6
            print(f"load_fer2013(csv, {size_mb:.0f} MB): median of {args.repeats} = {median:.2f} s")


if __name__ == "__main__":
    main()
