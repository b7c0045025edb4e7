"""``agents.clean``: arrays in, keep mask out, the same selection as ``fer-select clean`` (issue 15, item 5)."""

from __future__ import annotations

import csv
import json
import re
import warnings
from pathlib import Path

import numpy as np
import pytest

import agents
from agents.baselines import ferplus_relabel
from agents.experiment.benchmark import BenchmarkSettings, select
from agents.experiment.clean_arrays import arrays_dataset
from agents.experiment.cli import main
from agents.experiment.settings import RLSettings
from fer_select_env.core.seeding import thread_limit
from fer_select_env.data import load_fer2013
from fer_select_env.models import ClassifierConfig
from fer_select_env.models.chance import ClassifierNearChanceWarning
from fer_select_env.testing import TINY_CLASSIFIER, make_blob_dataset, write_fer2013_copy

TINY = {**TINY_CLASSIFIER, "max_epochs": 3, "min_epochs": 1}
BUDGET = {"episodes": 1, "pretrain_episodes": 1}


@pytest.fixture(scope="module")
def blobs():
    return make_blob_dataset(n_train=30, n_val=15, n_test=15, noise_rate=0.2)


def _cli_mask(tmp_path, data, agent: str, seed: int) -> np.ndarray:
    """``fer-select clean``'s kept column, run on ``data`` (test split included) written as an npz."""
    data.to_npz(tmp_path / "data.npz")
    argv = ["clean", "--data", str(tmp_path / "data.npz"), "--agent", agent, "--seed", str(seed)]
    argv += ["--classifier", json.dumps(TINY), "--episodes", "1", "--pretrain-episodes", "1"]
    assert main([*argv, "--out", str(tmp_path / "out")]) in (0, 1)  # 1: nothing kept, still a mask
    with open(tmp_path / "out" / "all.csv", newline="") as fh:
        return np.array([r["kept"] == "1" for r in csv.DictReader(fh)])


@pytest.mark.parametrize("agent", ["cleanlab", "reinforce"])
def test_clean_gives_the_mask_of_fer_select_clean_and_of_the_engine(agent, blobs, tmp_path, monkeypatch):
    monkeypatch.setenv("FER_SELECT_CACHE_DIR", str(tmp_path / "cache"))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ClassifierNearChanceWarning)  # a 3-epoch classifier: judged elsewhere
        result = agents.clean(
            blobs.x_train,
            blobs.y_train,
            blobs.x_val,
            blobs.y_val,
            agent=agent,
            seed=1,
            classifier_config=TINY,
            **BUDGET,
        )
        settings = BenchmarkSettings(rl=RLSettings(**BUDGET), classifier_config=ClassifierConfig(**TINY))
        engine = select(agent, arrays_dataset(blobs.x_train, blobs.y_train, blobs.x_val, blobs.y_val), 1, settings)
        cli = _cli_mask(tmp_path, blobs, agent, seed=1)
    assert result.keep.dtype == bool and result.keep.shape == blobs.y_train.shape
    np.testing.assert_array_equal(result.keep, engine.kept)
    np.testing.assert_array_equal(result.keep, cli)  # the CLI's npz has a real test split: nothing reads it
    np.testing.assert_array_equal(result.issues, np.flatnonzero(~result.keep))
    assert result.relabel is None
    assert result.classifier_check is not None and result.classifier_check.n_val == len(blobs.y_val)
    assert result.report == {}  # no noise_train given: nothing to score against
    if agent == "cleanlab":
        assert result.keep_probability is None  # a filter: the mask is all it has
        assert result.sample_rewards is None
    else:
        np.testing.assert_array_equal(result.keep_probability, engine.keep_probability)
        # the default rule (policy_capped) removes, within each class, only images of lowest keep probability:
        # those the policy removes (p <= 1/2) among the class's lowest-ranked estimated-noise share
        for k in np.unique(blobs.y_train):
            p, keep = result.keep_probability[blobs.y_train == k], result.keep[blobs.y_train == k]
            if (~keep).any():
                assert p[~keep].max() <= p[keep].min()
        assert engine.info["selection_rule"] == "policy_capped"
        assert not (result.keep_probability[~result.keep] > 0.5).any()  # never removes what the policy keeps
        assert result.sample_rewards is not None


def test_clean_scores_against_given_ground_truth_and_runs_the_oracle(blobs, tmp_path):
    result = agents.clean(
        blobs.x_train, blobs.y_train, blobs.x_val, blobs.y_val, agent="oracle", noise_train=blobs.noise_train
    )
    np.testing.assert_array_equal(result.keep, blobs.noise_train == 0)
    assert result.report["removal_f1"] == 1.0
    assert result.classifier_check is None  # the oracle uses no classifier, and none was trained to judge it


def test_clean_relabels_where_the_selector_does(tmp_path):
    write_fer2013_copy(tmp_path / "fer.npz", n=42)
    ds = load_fer2013(tmp_path / "fer.npz")
    result = agents.clean(
        ds.x_train,
        ds.y_train,
        ds.x_val,
        ds.y_val,
        agent="ferplus_relabel",
        extras={"ferplus_votes": ds.extras["ferplus_votes"]},
    )
    np.testing.assert_array_equal(result.relabel, ferplus_relabel(ds).train_labels)
    assert result.keep.all() and result.keep_probability is None


def test_clean_refuses_bad_input_before_any_work(blobs):
    args = (blobs.x_train, blobs.y_train, blobs.x_val, blobs.y_val)
    with pytest.raises(ValueError, match="unknown agent"):
        agents.clean(*args, agent="dqn")
    with pytest.raises(ValueError, match="needs noise ground truth"):
        agents.clean(*args, agent="oracle")
    with pytest.raises(ValueError, match="y_train: has 29 labels"):
        agents.clean(blobs.x_train, blobs.y_train[:-1], blobs.x_val, blobs.y_val, agent="keep_all")
    with pytest.raises(ValueError, match="episodes"):
        agents.clean(*args, agent="reinforce", episodes=-1)
    with pytest.raises(ValueError, match="classifier_config"):
        agents.clean(*args, agent="cleanlab", classifier_config={"widht": 4})


def test_the_docs_page_runs_as_written(tmp_path, monkeypatch):
    page = Path(__file__).resolve().parents[1] / "docs" / "clean_arrays.md"
    blocks = re.findall(r"^```python\n(.*?)^```", page.read_text(encoding="utf-8"), re.S | re.M)
    assert len(blocks) == 2
    monkeypatch.chdir(tmp_path)
    namespace: dict = {}
    with thread_limit(1), warnings.catch_warnings():
        warnings.simplefilter("error", ClassifierNearChanceWarning)  # the page's classifier learns
        exec(compile(blocks[0], f"{page}[0]", "exec"), namespace)
        # cleanlab's own call on the package's out-of-fold probabilities flags what agents.clean removes
        np.testing.assert_array_equal(namespace["issues"], ~namespace["result"].keep)
        exec(compile(blocks[1], f"{page}[1]", "exec"), namespace)
    assert namespace["weights"].shape == namespace["y_train"].shape
