"""The benchmark engine and examples/benchmark.py end to end on a tiny npz, including its error paths."""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from agents.experiment.benchmark import BenchmarkSettings, final_training, format_table
from agents.experiment.registry import agent_names, check_agent_names, get_agent
from agents.experiment.settings import RLSettings
from fer_select_env.models import ClassifierConfig
from fer_select_env.testing import make_blob_dataset

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "examples"))
import benchmark as benchmark_cli  # noqa: E402

TINY = {"width": 4, "feature_dim": 16, "max_epochs": 3, "min_epochs": 1, "head_batch_size": 32, "head_max_epochs": 4}
RUN_KEYS = {
    "seed",
    "test_accuracy",
    "test_average_accuracy",
    "test_macro_f1",
    "test_per_class_accuracy",
    "kept_fraction",
    "kept_fraction_by_class",
    "removal_precision",
    "removal_recall",
    "removal_f1",
    "keep_probability_by_noise_kind",
    "wall_seconds",
}


@pytest.fixture(scope="module")
def tiny_npz(tmp_path_factory):
    path = tmp_path_factory.mktemp("bench") / "tiny.npz"
    make_blob_dataset(n_train=40, n_val=21, n_test=21, noise_rate=0.25).to_npz(path)
    return str(path)


def _cli(tiny_npz, out, agents, *extra):
    return benchmark_cli.main(
        [
            "--data", tiny_npz, "--agents", agents, "--seeds", "0", "--out", str(out),
            "--episodes", "1", "--pretrain-episodes", "1", "--classifier", json.dumps(TINY),
            "--final-epochs", "3", "--final-min-steps", "0", *extra,
        ]
    )  # fmt: skip


def test_agent_names_are_checked():
    assert check_agent_names(["keep_all", " oracle "]) == ["keep_all", "oracle"]
    with pytest.raises(ValueError, match="unknown agent\\(s\\) dqn; choose from keep_all"):
        check_agent_names(["keep_all", "dqn"])
    with pytest.raises(ValueError, match="no agent given"):
        check_agent_names([""])


def test_final_training_uses_only_the_kept_images():
    ds = make_blob_dataset(n_train=40, n_val=21, n_test=21)
    settings = BenchmarkSettings(classifier_config=ClassifierConfig.from_dict(TINY), final_min_steps=None)
    kept = np.zeros(40, bool)
    kept[:25] = True
    _, summary = final_training(ds, kept, 0, settings)
    assert summary["final_training"]["n_train"] == 25
    assert 0.0 <= summary["macro_f1"] <= 1.0 and len(summary["per_class_accuracy"]) == ds.num_classes


def test_cli_every_agent_end_to_end_and_resume(tiny_npz, tmp_path, capsys):
    out = tmp_path / "results.json"
    plots = tmp_path / "plots"
    # Every agent that runs on data without FER+ votes (ferplus_relabel needs them: tests/test_benchmark_protocol.py).
    names = [n for n in agent_names() if not get_agent(n).needs_ferplus]
    assert _cli(tiny_npz, out, ",".join(names), "--plots", str(plots)) == 0
    pngs = {p.name for p in plots.glob("*.png")}
    for expected in (
        "reinforce_seed0_episode_rewards.png",
        "reinforce_seed0_selection_progress.png",
        "reinforce_seed0_sample_rewards.png",
        "cleanlab_seed0_gallery.png",
        "keep_probability_by_noise_kind.png",
        "confusion_keep_all_vs_reinforce.png",
    ):
        assert expected in pngs, expected
        assert (plots / expected).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    results = json.loads(out.read_text())
    assert set(results["agents"]) == set(names)
    meta = results["meta"]
    assert {"command", "dataset_fingerprint", "settings", "versions"} <= set(meta)
    assert meta["settings"]["classifier_config"]["width"] == 4
    for name, block in results["agents"].items():
        (run,) = block["runs"]
        assert RUN_KEYS <= set(run), name
        assert 0.0 <= run["test_macro_f1"] <= 1.0 and 0.0 <= run["kept_fraction"] <= 1.0
        assert set(run["keep_probability_by_noise_kind"]) == {"clean", "label_flipped"}
    oracle = results["agents"]["oracle"]["runs"][0]
    assert oracle["removal_f1"] == 1.0 and oracle["kept_fraction"] == 0.75
    assert results["agents"]["keep_all"]["runs"][0]["kept_fraction"] == 1.0
    assert set(results["agents"]["keep_all"]["runs"][0]["kept_fraction_by_class"].values()) == {1.0}
    table = capsys.readouterr().out
    assert "macro-F1" in table and "P(keep|label_flipped)" in table

    # A rerun with the same --out keeps the finished runs instead of repeating them, and keeps the other
    # agents' results in the file.
    before = {n: b["runs"][0]["wall_seconds"] for n, b in results["agents"].items()}
    assert _cli(tiny_npz, out, "keep_all,oracle") == 0
    again = json.loads(out.read_text())
    assert {n: b["runs"][0]["wall_seconds"] for n, b in again["agents"].items()} == before


def test_without_ground_truth_removal_fields_are_null(tmp_path):
    ds = make_blob_dataset(n_train=40, n_val=21, n_test=21)
    ds.noise_train = None
    path = tmp_path / "plain.npz"
    ds.to_npz(path)
    out = tmp_path / "r.json"
    assert _cli(str(path), out, "keep_all") == 0
    run = json.loads(out.read_text())["agents"]["keep_all"]["runs"][0]
    assert run["removal_f1"] is None and run["keep_probability_by_noise_kind"] is None
    assert _cli(str(path), out, "oracle") == 2  # the ceiling needs ground truth


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--agents", "keep_all,dqn"], "unknown agent(s) dqn"),
        (["--data", "does_not_exist.npz"], "no such file: does_not_exist.npz"),
        (["--classifier", '{"widht": 3}'], "unknown ClassifierConfig field"),
    ],
)
def test_cli_errors_are_one_line_and_nonzero(args, message, tmp_path):
    proc = subprocess.run(
        [sys.executable, str(ROOT / "examples" / "benchmark.py"), *args, "--out", str(tmp_path / "r.json")],
        capture_output=True,
        text=True,
        cwd=tmp_path,
    )
    assert proc.returncode == 2
    assert message in proc.stderr and "Traceback" not in proc.stderr


def test_malformed_npz_is_a_clear_error(tmp_path, capsys):
    bad = tmp_path / "bad.npz"
    np.savez(bad, x_train=np.zeros((3, 8, 8), np.uint8))
    assert benchmark_cli.main(["--data", str(bad), "--agents", "keep_all", "--out", str(tmp_path / "r.json")]) == 2
    assert "y_train" in capsys.readouterr().err


def test_format_table_mean_and_std():
    results = {
        "meta": {"class_names": ["a", "b"]},
        "agents": {
            "x": {
                "runs": [
                    {
                        "test_per_class_accuracy": {"a": 0.5, "b": 1.0},
                        "test_average_accuracy": 0.75,
                        "test_accuracy": 0.8,
                        "test_macro_f1": 0.7,
                        "kept_fraction": 1.0,
                        "removal_precision": None,
                        "removal_recall": None,
                        "removal_f1": None,
                        "keep_probability_by_noise_kind": None,
                        "wall_seconds": 3.0,
                    },
                    {
                        "test_per_class_accuracy": {"a": 0.7, "b": 1.0},
                        "test_average_accuracy": 0.85,
                        "test_accuracy": 0.8,
                        "test_macro_f1": 0.9,
                        "kept_fraction": 1.0,
                        "removal_precision": None,
                        "removal_recall": None,
                        "removal_f1": None,
                        "keep_probability_by_noise_kind": None,
                        "wall_seconds": 5.0,
                    },
                ]
            }
        },
    }
    table = format_table(results)
    assert "60.0 ± 10.0" in table and "80.0 ± 10.0" in table and "n/a" in table


def test_rl_settings_defaults_are_the_documented_ones():
    s = RLSettings()
    assert (s.episodes, s.pretrain_episodes, s.learning_rate, s.persistent_classifier) == (15, 5, 3e-4, False)


def test_ferplus_votes_feed_a_reference_report(tmp_path):
    from fer_select_env import FERDataset
    from fer_select_env.data.ferplus import FERPLUS_COLUMNS, FERPLUS_TO_FER2013

    ds = make_blob_dataset(n_train=40, n_val=21, n_test=21, num_classes=7)
    votes = np.zeros((40, len(FERPLUS_COLUMNS)), np.int64)
    fer_to_col = {fer: col for col, fer in enumerate(FERPLUS_TO_FER2013) if fer >= 0}
    for i, y in enumerate(ds.y_train):
        # The crowd agrees with the first 30 labels and votes for another emotion on the last 10.
        target = int(y) if i < 30 else (int(y) + 1) % 7
        votes[i, fer_to_col[target]] = 10
    ds = FERDataset.from_arrays(
        ds.x_train, ds.y_train, ds.x_val, ds.y_val, ds.x_test, ds.y_test, extras={"ferplus_votes": votes}
    )
    path = tmp_path / "fp.npz"
    ds.to_npz(path)
    out = tmp_path / "r.json"
    assert _cli(str(path), out, "keep_all") == 0
    report = json.loads(out.read_text())["agents"]["keep_all"]["runs"][0]["ferplus_reference"]
    assert report["base_disagree_rate"] == pytest.approx(0.25)
    assert report["kept_disagree_rate"] == pytest.approx(0.25)


def test_kept_fraction_by_class_counts_given_labels():
    from agents.experiment.benchmark import kept_fraction_by_class

    ds = make_blob_dataset(n_train=12, n_val=6, n_test=6, num_classes=3)
    kept = ds.y_train != 1  # drop the whole of class 1 and nothing else
    by_class = kept_fraction_by_class(kept, ds)
    assert list(by_class) == list(ds.class_labels)
    assert by_class == {ds.class_labels[0]: 1.0, ds.class_labels[1]: 0.0, ds.class_labels[2]: 1.0}


def test_the_table_warns_when_the_pretrained_classifier_is_near_chance(tmp_path):
    """A 3-epoch classifier on 40 blobs stays near chance: the run records it and the table says so."""
    from agents.experiment.benchmark import run_benchmark

    ds = make_blob_dataset(n_train=40, n_val=21, n_test=21, noise_rate=0.25)
    settings = BenchmarkSettings(
        rl=RLSettings(episodes=1, pretrain_episodes=0),
        classifier_config=ClassifierConfig.from_dict({**TINY, "max_epochs": 1}),
        final_max_epochs=1,
        final_min_steps=None,
        cache_dir=tmp_path / "cache",
    )
    results = run_benchmark(ds, ["predicted_neq_given"], [0], settings)
    (check,) = results["meta"]["classifier_check"]
    assert check["seed"] == 0 and check["near_chance"], check
    assert "**Warning**" in format_table(results) and "near chance" in format_table(results)
    # keep_all trains no classifier of its own, so nothing is checked (and nothing is pre-trained for it)
    alone = run_benchmark(ds, ["keep_all"], [0], dataclasses.replace(settings, cache_dir=tmp_path / "other"))
    assert alone["meta"]["classifier_check"] == [] and "**Warning**" not in format_table(alone)
