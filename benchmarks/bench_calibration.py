"""How hard is the synthetic benchmark? Test accuracy of the package's default classifier trained four ways.

* ``clean``: the labels before noise (``extras["true_label"]``), early stopping on val;
* ``noisy_early_stop``: the noisy labels (what ``keep_all`` sees), early stopping on the clean val split;
* ``noisy_no_early_stop``: the noisy labels for a fixed number of epochs, last epoch kept;
* ``oracle``: the noisy set minus every sample marked noisy (the selection ceiling), early stopping on val.

The test split is read only to print these final figures.

    python benchmarks/bench_calibration.py --scenario label_symmetric --epochs 20
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from fer_select_env.core.metrics import confusion_matrix, macro_f1
from fer_select_env.data.resolve import load_or_make_synthetic
from fer_select_env.models import ClassifierConfig, EmotionClassifier


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scenario", default="label_symmetric")
    parser.add_argument("--epochs", type=int, default=20, help="epoch cap (and the fixed count without early stop)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    ds = load_or_make_synthetic(args.scenario)
    base = ClassifierConfig(max_epochs=args.epochs)
    keep = ds.noise_train == 0
    runs = {
        "clean": (ds.x_train, ds.extras["true_label"], base),
        "noisy_early_stop": (ds.x_train, ds.y_train, base),
        "noisy_no_early_stop": (ds.x_train, ds.y_train, base),
        "oracle": (ds.x_train[keep], ds.y_train[keep], base),
    }
    for name, (x, y, cfg) in runs.items():
        t0 = time.perf_counter()
        clf = EmotionClassifier.for_dataset(ds, cfg, seed=args.seed)
        # "Last epoch kept" = no validation split at all (fit restores the best-val weights when it has one).
        val_x, val_y = (ds.x_val[:0], ds.y_val[:0]) if name == "noisy_no_early_stop" else (ds.x_val, ds.y_val)
        report = clf.fit(x, y, val_x, val_y, seed=args.seed)
        pred = clf.predict(ds.x_test)
        acc = float(np.mean(pred == ds.y_test))
        f1 = macro_f1(confusion_matrix(ds.y_test, pred, ds.num_classes))
        print(
            f"{args.scenario:>15} {name:>20}: test accuracy {acc:.3f}, macro-F1 {f1:.3f} "
            f"(epochs {report.epochs_run}, best {report.best_epoch}, {time.perf_counter() - t0:.0f} s)",
            flush=True,
        )


if __name__ == "__main__":
    main()
