"""The benchmark's final-training protocol: identical results for the same command, final-training repeats
with common random numbers, the noise floor, and FER+ as the second referee of the final classifier."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest

from agents.experiment.benchmark import final_seed, noise_floor, run_benchmark
from agents.experiment.settings import BenchmarkSettings, RLSettings
from fer_select_env.data import ferplus_split_labels, load_fer2013
from fer_select_env.models import ClassifierConfig
from fer_select_env.testing import make_blob_dataset, write_fer2013_copy

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "examples"))
import benchmark as benchmark_cli  # noqa: E402

TINY = {"width": 4, "feature_dim": 16, "max_epochs": 3, "min_epochs": 1, "head_batch_size": 32, "head_max_epochs": 4}
TIME_KEYS = ("seconds", "wall", "command")


def _without_times(value):
    if isinstance(value, dict):
        return {k: _without_times(v) for k, v in value.items() if not any(t in k for t in TIME_KEYS)}
    if isinstance(value, list):
        return [_without_times(v) for v in value]
    return value


def _settings(**kwargs) -> BenchmarkSettings:
    # final_min_steps=None: the step-sized minimum (640 steps) would train these 40 images for 640 epochs.
    kwargs.setdefault("final_min_steps", None)
    return BenchmarkSettings(
        rl=RLSettings(episodes=1, pretrain_episodes=1),
        classifier_config=ClassifierConfig.from_dict(TINY),
        final_max_epochs=3,
        **kwargs,
    )


def test_the_same_command_twice_gives_identical_results(tmp_path):
    path = tmp_path / "tiny.npz"
    make_blob_dataset(n_train=40, n_val=21, n_test=21, noise_rate=0.25).to_npz(path)
    outs = []
    for name in ("a.json", "b.json"):
        argv = ["--data", str(path), "--agents", "keep_all,reinforce,cleanlab", "--seeds", "0,1",
                "--episodes", "1", "--pretrain-episodes", "1", "--classifier", json.dumps(TINY),
                "--final-epochs", "3", "--final-min-steps", "0", "--final-repeats", "2",
                "--out", str(tmp_path / name)]  # fmt: skip
        assert benchmark_cli.main(argv) == 0
        outs.append(json.loads((tmp_path / name).read_text()))
    assert outs[0]["meta"]["threads"] == 1 and outs[0]["meta"]["settings"]["final_repeats"] == 2
    # The second run read the pre-trained classifiers from the cache the first one wrote: same numbers.
    assert _without_times(outs[0]) == _without_times(outs[1])


def test_final_repeats_share_their_seeds_across_agents_and_are_averaged():
    ds = make_blob_dataset(n_train=40, n_val=21, n_test=21, noise_rate=0.25)
    results = run_benchmark(ds, ["keep_all", "oracle"], [3], _settings(final_repeats=3))
    seeds = {}
    for name, block in results["agents"].items():
        (run,) = block["runs"]
        repeats = run["final_repeats"]
        seeds[name] = [r["seed"] for r in repeats]
        assert [r["repeat"] for r in repeats] == [0, 1, 2]
        assert run["test_macro_f1"] == pytest.approx(np.mean([r["macro_f1"] for r in repeats]))
        assert run["test_accuracy"] == pytest.approx(np.mean([r["accuracy"] for r in repeats]))
        assert np.sum(run["test_confusion_matrix"]) == 3 * len(ds.y_test)  # summed over the repeats
    assert seeds["keep_all"] == seeds["oracle"] == [final_seed(3, r) for r in range(3)]
    assert seeds["keep_all"][0] == 3 and len(set(seeds["keep_all"])) == 3
    floor = noise_floor(results)
    values = [r["macro_f1"] for r in results["agents"]["keep_all"]["runs"][0]["final_repeats"]]
    assert floor["repeat_std"] == pytest.approx(np.std(values, ddof=1))
    assert floor["mean_std"] == pytest.approx(floor["repeat_std"] / np.sqrt(3))


def test_noise_floor_needs_two_repeats():
    ds = make_blob_dataset(n_train=30, n_val=15, n_test=15)
    assert noise_floor(run_benchmark(ds, ["keep_all"], [0], _settings())) is None


def test_settings_are_checked():
    with pytest.raises(ValueError, match="final_repeats must be a positive integer"):
        BenchmarkSettings(final_repeats=0)
    with pytest.raises(ValueError, match="threads must be a positive integer"):
        BenchmarkSettings(threads=0)
    with pytest.raises(ValueError, match="final_val_labels must be one of"):
        BenchmarkSettings(final_val_labels="crowd")


def test_a_changed_protocol_does_not_reuse_earlier_runs(tmp_path):
    ds = make_blob_dataset(n_train=30, n_val=15, n_test=15)
    out = tmp_path / "r.json"
    first = run_benchmark(ds, ["keep_all"], [0], _settings(), out=out)
    again = run_benchmark(ds, ["keep_all"], [0], _settings(), out=out)
    assert again["agents"]["keep_all"]["runs"][0] == first["agents"]["keep_all"]["runs"][0]  # reused
    repeated = run_benchmark(ds, ["keep_all"], [0], _settings(final_repeats=2), out=out)
    assert len(repeated["agents"]["keep_all"]["runs"][0]["final_repeats"]) == 2  # retrained, not reused


@pytest.fixture
def fer2013_copy(tmp_path):
    path = tmp_path / "fer2013.npz"
    write_fer2013_copy(path, n=63, seed=1)
    return load_fer2013(path)


def test_every_test_metric_is_reported_against_ferplus_too(fer2013_copy):
    ds = fer2013_copy
    majority = ferplus_split_labels(ds, "test")
    results = run_benchmark(ds, ["keep_all", "ferplus_relabel"], [0], _settings(final_repeats=2))
    for name in ("keep_all", "ferplus_relabel"):
        (run,) = results["agents"][name]["runs"]
        ferplus = run["test_ferplus"]
        assert {"accuracy", "average_accuracy", "macro_f1", "per_class_accuracy", "n_rows"} <= set(ferplus)
        assert ferplus["n_rows"] == int((majority >= 0).sum()) > 0
        # Against the crowd's labels, from the same predictions: the repeat means agree with their parts.
        assert ferplus["macro_f1"] == pytest.approx(
            np.mean([r["test_ferplus"]["macro_f1"] for r in run["final_repeats"]])
        )
    relabel = results["agents"]["ferplus_relabel"]["runs"][0]
    train_majority = ferplus_split_labels(ds, "train")
    expected = float(np.mean(np.where(train_majority >= 0, train_majority, ds.y_train) != ds.y_train))
    assert relabel["info"]["relabelled_fraction"] == pytest.approx(expected) and expected > 0
    assert relabel["kept_fraction"] == 1.0


def test_ferplus_relabel_and_ferplus_early_stopping_need_votes():
    ds = make_blob_dataset(n_train=30, n_val=15, n_test=15)
    with pytest.raises(ValueError, match="needs FER\\+ votes"):
        run_benchmark(ds, ["ferplus_relabel"], [0], _settings())
    with pytest.raises(ValueError, match="needs FER\\+ votes on the validation rows"):
        run_benchmark(ds, ["keep_all"], [0], _settings(final_val_labels="ferplus"))


def test_early_stopping_on_ferplus_validation_labels(fer2013_copy):
    results = run_benchmark(fer2013_copy, ["keep_all"], [0], _settings(final_val_labels="ferplus"))
    run = results["agents"]["keep_all"]["runs"][0]
    assert results["meta"]["settings"]["final_val_labels"] == "ferplus"
    assert run["final_training"]["epochs_run"] >= 1 and "test_ferplus" in run


def test_final_min_steps_sizes_the_final_training_in_gradient_steps():
    ds = make_blob_dataset(n_train=40, n_val=21, n_test=21)
    settings = _settings(final_min_steps=30)  # batch 64: one step per epoch on 40 images, so 30 epochs at least
    results = run_benchmark(ds, ["keep_all"], [0], settings)
    report = results["agents"]["keep_all"]["runs"][0]["final_training"]
    assert report["epochs_run"] == 30 and not report["stopped_early"]
    assert results["meta"]["settings"]["final_min_steps"] == 30
    with pytest.raises(ValueError, match="final_min_steps must be a positive integer or None"):
        BenchmarkSettings(final_min_steps=0)
