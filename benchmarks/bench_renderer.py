"""Renderer speed: images per second of `render_faces` at a given size (run pinned to one core).

taskset -c 0 python benchmarks/bench_renderer.py --n 8000 --size 48
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from fer_select_env.data.scenarios import render_faces, sample_action_units


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=8000, help="images to render (default 8000)")
    parser.add_argument("--size", type=int, default=48, help="image side in pixels (default 48)")
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    au = sample_action_units(rng.integers(0, 7, args.n), rng)
    render_faces(au[:100], rng, args.size)  # warm-up (OpenCV and NumPy first-call costs)
    t0 = time.perf_counter()
    render_faces(au, rng, args.size)
    seconds = time.perf_counter() - t0
    rate = args.n / seconds
    print(f"{args.n} faces at {args.size}x{args.size}: {seconds:.2f} s, {rate:,.0f} images/s (budget 2,000)")


if __name__ == "__main__":
    main()
