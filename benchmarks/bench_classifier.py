"""Timings of the emotion classifier on this machine, used to choose the ``ClassifierConfig`` defaults.

Measures, on 48×48 grayscale 7-class images:

* seconds per training epoch of ``fit`` on ``--n-train`` images for several widths (16, 32 and the paper's 64)
  and architectures (``--architectures fig3 vgg``: the Fig. 3 CNN, the Fig. 4 VGG19);
* ``pretrain_classifier`` with the default config (Algorithm 1 line 2: early stopping on ``--n-val`` images);
* ``conv_features`` throughput (images/s);
* ``fit_head`` seconds on ``--n-head`` cached conv features with ``--n-val`` validation features.

Data, in order of preference: ``--fer2013 PATH`` (real FER2013 from the shared evaluation copy; never
commit it), ``fer_select_env.data.scenarios.make_synthetic_dataset`` when it exists (``--scenario``), else
(or with ``--toy``) a built-in learnable toy set (class = position of a bright blob, on noise).

Every line ends with the 1-minute load average: with more busy threads than cores, PyTorch's OpenMP threads
spin and timings inflate 10-50×, so compare ``--threads 1`` runs when the machine is shared.

Usage::

    python benchmarks/bench_classifier.py                       # everything
    python benchmarks/bench_classifier.py --skip-widths         # only default-config timings
    python benchmarks/bench_classifier.py --threads 1 --fer2013 ../shared/data/fer2013/fer2013.npz
    python benchmarks/bench_classifier.py --architectures fig3 vgg --widths 16 64 --batch-sizes 64 \
        --skip-pretrain --head-repeats 1 --n-train 2000      # Fig. 3 vs Fig. 4: epoch cost, parameters
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch

from fer_select_env.data.dataset import FERDataset
from fer_select_env.models import ARCHITECTURES, ClassifierConfig, EmotionClassifier, EmotionCNN, pretrain_classifier

K = 7
HW = 48


def toy_blobs(n: int, rng: np.random.Generator, hw: int = HW, k: int = K) -> tuple[np.ndarray, np.ndarray]:
    """Noise images with a bright blob whose position (one of ``k`` places on a circle) is the label."""
    y = rng.integers(0, k, size=n)
    x = rng.normal(96, 40, size=(n, hw, hw))
    yy, xx = np.mgrid[:hw, :hw]
    angles = 2 * np.pi * np.arange(k) / k
    cy = hw / 2 + hw * 0.3 * np.sin(angles)
    cx = hw / 2 + hw * 0.3 * np.cos(angles)
    sigma = hw / 10
    for c in range(k):
        blob = 120 * np.exp(-((yy - cy[c]) ** 2 + (xx - cx[c]) ** 2) / (2 * sigma**2))
        x[y == c] += blob
    return np.clip(x, 0, 255).astype(np.uint8), y.astype(np.int64)


def load_data(args: argparse.Namespace) -> tuple[str, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    n_train, n_val = args.n_train, args.n_val
    rng = np.random.default_rng(0)
    if args.fer2013:
        z = np.load(args.fer2013)
        train = np.flatnonzero(z["usage"] == 0)
        idx = rng.permutation(train)[: n_train + n_val]
        x, y = z["images"][idx], z["labels"][idx].astype(np.int64)
        return "fer2013", x[:n_train], y[:n_train], x[n_train:], y[n_train:]
    make_synthetic_dataset = None
    if not args.toy:
        try:
            from fer_select_env.data.scenarios import make_synthetic_dataset
        except ImportError:
            pass
    if make_synthetic_dataset is not None:
        try:
            ds = make_synthetic_dataset(args.scenario, n_train=n_train, n_val=n_val, n_test=100, seed=0)
            return "synthetic", ds.x_train, ds.y_train, ds.x_val, ds.y_val
        except TypeError as exc:  # signature still in flux: fall back rather than fail the benchmark
            print(f"make_synthetic_dataset(...) failed ({exc}); using the toy blob set", file=sys.stderr)
    x, y = toy_blobs(n_train + n_val, rng)
    return "toy_blobs", x[:n_train], y[:n_train], x[n_train:], y[n_train:]


def load() -> str:
    """The 1-minute load average: timings taken while other processes compete for the cores are inflated."""
    return f"load {os.getloadavg()[0]:.2f}"


def epoch_seconds(cfg: ClassifierConfig, x: np.ndarray, y: np.ndarray, epochs: int = 1) -> tuple[float, float]:
    """(wall, process CPU) seconds per training epoch."""
    clf = EmotionClassifier(K, x.shape[1:], cfg, seed=0)
    # An empty validation split disables early stopping, so exactly `epochs` epochs run.
    empty_x, empty_y = x[:0], y[:0]
    clf.fit(x[:256], y[:256], empty_x, empty_y, seed=0, max_epochs=1)  # warm-up (oneDNN kernels)
    t0, c0 = time.perf_counter(), time.process_time()
    clf.fit(x, y, empty_x, empty_y, seed=0, max_epochs=epochs)
    return (time.perf_counter() - t0) / epochs, (time.process_time() - c0) / epochs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n-train", type=int, default=5000)
    parser.add_argument("--n-val", type=int, default=1000)
    parser.add_argument("--n-head", type=int, default=3500)
    parser.add_argument("--fer2013", type=Path, default=None, help="real FER2013 npz (shared evaluation copy)")
    parser.add_argument("--toy", action="store_true", help="use the built-in blob set, not the synthetic faces")
    parser.add_argument("--scenario", default="label_symmetric", help="synthetic scenario")
    parser.add_argument("--widths", type=int, nargs="+", default=[16, 32, 64])
    parser.add_argument("--architectures", nargs="+", default=["fig3"], choices=ARCHITECTURES)
    parser.add_argument("--batch-sizes", type=int, nargs="+", default=[64, 128])
    parser.add_argument("--skip-widths", action="store_true")
    parser.add_argument("--skip-pretrain", action="store_true")
    parser.add_argument("--batch-norm", action="store_true", help="benchmark with BatchNorm")
    parser.add_argument("--threads", type=int, default=None, help="torch.set_num_threads (default: as is)")
    parser.add_argument("--head-repeats", type=int, default=5)
    parser.add_argument("--cache-dir", type=Path, default=None, help="keep the pre-trained classifier here")
    args = parser.parse_args()

    if args.threads is not None:
        torch.set_num_threads(args.threads)
    name, x, y, xv, yv = load_data(args)
    base = ClassifierConfig(batch_norm=args.batch_norm or ClassifierConfig().batch_norm)
    print(
        f"data={name} train={len(x)} val={len(xv)} image={x.shape[1:]} torch={torch.__version__} "
        f"threads={torch.get_num_threads()}"
    )
    print(f"config={base.to_dict()}")

    if not args.skip_widths:
        for arch in args.architectures:
            for width in args.widths:
                for bs in args.batch_sizes:
                    cfg = replace(base, architecture=arch, width=width, batch_size=bs)
                    wall, cpu = epoch_seconds(cfg, x, y)
                    n_params = sum(p.numel() for p in EmotionCNN(1, K, x.shape[1:], cfg).parameters())
                    print(
                        f"epoch  {arch:4s} width={width:3d} batch={bs:4d} params={n_params / 1e6:.2f}M: "
                        f"{wall:7.2f} s/epoch wall, {cpu:7.2f} s CPU on {len(x)} images ({load()})"
                    )

    clf = EmotionClassifier(K, x.shape[1:], base, seed=0)
    if not args.skip_pretrain:
        # The real entry point (Algorithm 1 line 2), so --cache-dir makes reruns skip the training.
        ds = FERDataset.from_arrays(x, y, xv, yv, xv[:10], yv[:10], class_names=[f"c{k}" for k in range(K)])
        with tempfile.TemporaryDirectory() as tmp:
            t0 = time.perf_counter()
            clf, rep = pretrain_classifier(ds, base, seed=0, cache_dir=args.cache_dir or tmp)
            total = time.perf_counter() - t0
        acc = float((clf.predict(xv) == yv).mean())
        how = "loaded from cache" if rep is None else f"{rep.epochs_run} epochs (best {rep.best_epoch})"
        print(
            f"pretrain width={base.width} batch={base.batch_size}: {total:.1f} s, {how}, val acc {acc:.3f} ({load()})"
        )

    t0 = time.perf_counter()
    z = clf.conv_features(x)
    sec = time.perf_counter() - t0
    print(
        f"conv_features: {len(x) / sec:,.0f} images/s ({len(x)} images in {sec:.2f} s, "
        f"trunk_dim={z.shape[1]}, {load()})"
    )
    zv = clf.conv_features(xv)

    n_head = min(args.n_head, len(z))
    times, accs, epochs = [], [], []
    for seed in range(args.head_repeats):
        head = clf.clone()
        rep = head.fit_head(z[:n_head], y[:n_head], zv, yv, seed=seed, init="random")
        times.append(rep.seconds)
        epochs.append(rep.epochs_run)
        accs.append(float((head.head_proba(zv).argmax(1) == yv).mean()))
    print(
        f"fit_head on {n_head} features (+{len(zv)} val): median {statistics.median(times):.3f} s, "
        f"max {max(times):.3f} s, epochs {epochs}, val acc {statistics.mean(accs):.3f} ({load()})"
    )


if __name__ == "__main__":
    main()
