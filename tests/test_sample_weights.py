"""Soft sample weights: the weighted cross-entropy of ``EmotionClassifier.fit`` / ``fit_head``, the benchmark's
``final_sample_weights="keep_probability"`` final training, its CLI flag, and the weights ``clean`` exports."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch

import fer_select_env.models.classifier as classifier_module
from agents.common.selection import Selection
from agents.experiment.benchmark import final_training, repeated_final_training, reusable_agents, run_benchmark
from agents.experiment.cli import benchmark_main, main
from agents.experiment.settings import BenchmarkSettings, RLSettings
from fer_select_env.core.seeding import thread_limit
from fer_select_env.data.dataset import FERDataset
from fer_select_env.models import ClassifierConfig, EmotionClassifier
from fer_select_env.models.classifier import weighted_cross_entropy
from fer_select_env.testing import make_blob_dataset

TINY = ClassifierConfig(width=4, feature_dim=16, batch_size=16, max_epochs=3, min_epochs=1, patience=2, lr=3e-3)
TINY_FIELDS = {"width": 4, "feature_dim": 16, "max_epochs": 3, "min_epochs": 1, "head_batch_size": 32}


@pytest.fixture(autouse=True)
def _one_thread():
    """One PyTorch thread, as the benchmark runs: on shared cores more threads slow these tiny fits tenfold."""
    with thread_limit(1):
        yield


@pytest.fixture(scope="module")
def data() -> FERDataset:
    return make_blob_dataset(n_train=40, n_val=21, n_test=21, noise_rate=0.25)


def _fit(data: FERDataset, weight=None, rows=None, seed: int = 3) -> dict[str, torch.Tensor]:
    """The weights of a fresh tiny classifier after a 3-epoch ``fit`` on ``rows`` of the train split."""
    rows = np.ones(len(data.y_train), bool) if rows is None else rows
    clf = EmotionClassifier.for_dataset(data, TINY, seed=0)
    clf.fit(data.x_train[rows], data.y_train[rows], data.x_val, data.y_val, seed=seed, sample_weight=weight)
    return {k: v.detach().clone() for k, v in clf.model.state_dict().items()}


def _identical(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> bool:
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def _soft_weights(n: int) -> np.ndarray:
    return np.random.default_rng(1).uniform(0.05, 1.0, n)


# ------------------------------------------------------------------------------------------- the loss
def test_weighted_cross_entropy_is_the_hand_computed_weighted_mean():
    logits = torch.tensor([[2.0, 0.0, -1.0], [0.5, 0.5, 0.0], [-1.0, 3.0, 1.0]])
    target = torch.tensor([0, 2, 1])
    weight = torch.tensor([1.0, 2.0, 0.5])
    ce = [
        math.log(math.exp(2) + 1 + math.exp(-1)) - 2.0,
        math.log(2 * math.exp(0.5) + 1) - 0.0,
        math.log(math.exp(-1) + math.exp(3) + math.e) - 3.0,
    ]
    expected = (1.0 * ce[0] + 2.0 * ce[1] + 0.5 * ce[2]) / 3.5
    assert weighted_cross_entropy(logits, target, weight).item() == pytest.approx(expected, rel=1e-6)
    assert weighted_cross_entropy(logits, target).item() == pytest.approx(np.mean(ce), rel=1e-6)
    # Normalised by the total weight: scaling every weight changes nothing.
    assert weighted_cross_entropy(logits, target, 7 * weight).item() == pytest.approx(expected, rel=1e-6)


# ------------------------------------------------------------------------------------------- fit
def test_no_weights_and_equal_weights_train_exactly_as_unweighted(data):
    plain = _fit(data)
    assert _identical(plain, _fit(data, weight=None))
    assert _identical(plain, _fit(data, weight=np.ones(40)))
    assert _identical(plain, _fit(data, weight=np.full(40, 0.25)))
    assert not _identical(plain, _fit(data, weight=_soft_weights(40)))  # the weights do reach the loss


def test_weight_zero_is_the_same_as_dropping_the_image(data):
    w = _soft_weights(40)
    w[[0, 5, 17, 39]] = 0.0
    rows = w > 0
    assert _identical(_fit(data, weight=w), _fit(data, weight=w[rows], rows=rows))
    hard = rows.astype(float)
    assert _identical(_fit(data, weight=hard), _fit(data, rows=rows))


def test_scaling_every_weight_by_a_power_of_two_changes_nothing(data):
    w = _soft_weights(40)
    assert _identical(_fit(data, weight=w), _fit(data, weight=4 * w))


def test_every_minibatch_loss_gets_the_weights_of_its_images(data, monkeypatch):
    seen: list[torch.Tensor] = []

    def spy(logits, target, weight=None):
        seen.append(weight.clone())
        return weighted_cross_entropy(logits, target, weight)

    monkeypatch.setattr(classifier_module, "weighted_cross_entropy", spy)
    w = _soft_weights(40)
    w[:4] = 0.0
    clf = EmotionClassifier.for_dataset(data, TINY, seed=0)
    report = clf.fit(data.x_train, data.y_train, data.x_val, data.y_val, seed=0, max_epochs=1, sample_weight=w)
    assert report.n_train == 36  # the zero-weight images were dropped
    assert len(seen) == math.ceil(36 / TINY.batch_size)
    np.testing.assert_allclose(np.sort(torch.cat(seen).numpy()), np.sort(w[4:]).astype(np.float32))


@pytest.mark.parametrize(
    ("weight", "message"),
    [
        (np.ones(39), "expected 40 weights"),
        (np.ones((40, 1)), "expected 40 weights"),
        (np.r_[-0.1, np.ones(39)], "must be >= 0"),
        (np.r_[np.nan, np.ones(39)], "must be finite"),
        (np.r_[np.inf, np.ones(39)], "must be finite"),
        (np.zeros(40), "every weight is 0"),
        (np.array(["1"] * 40), "must be numbers"),
    ],
)
def test_bad_weights_are_a_value_error_naming_sample_weight(data, weight, message):
    clf = EmotionClassifier.for_dataset(data, TINY, seed=0)
    with pytest.raises(ValueError, match=f"sample_weight: .*{message}"):
        clf.fit(data.x_train, data.y_train, data.x_val, data.y_val, seed=0, sample_weight=weight)
    z, zv = clf.conv_features(data.x_train), clf.conv_features(data.x_val)
    with pytest.raises(ValueError, match=f"sample_weight: .*{message}"):
        clf.fit_head(z, data.y_train, zv, data.y_val, seed=0, sample_weight=weight)


def test_fit_head_takes_weights_too(data):
    clf = EmotionClassifier.for_dataset(data, TINY, seed=0)
    z, zv = clf.conv_features(data.x_train), clf.conv_features(data.x_val)
    w = _soft_weights(40)
    w[:6] = 0.0

    def head(weight=None, rows=slice(None)):
        clf.fit_head(z[rows], data.y_train[rows], zv, data.y_val, seed=1, max_epochs=3, sample_weight=weight)
        return clf.get_head_state()

    plain = head()
    assert _identical(plain, head(np.ones(40)))
    assert _identical(head(w), head(w[6:], slice(6, None)))
    assert not _identical(plain, head(w))


# ------------------------------------------------------------------------------------------- benchmark
def _settings(**kwargs) -> BenchmarkSettings:
    kwargs.setdefault("final_min_steps", None)  # the 640-step default would train 40 images for hundreds of epochs
    return BenchmarkSettings(
        rl=RLSettings(episodes=1, pretrain_episodes=1),
        classifier_config=ClassifierConfig.from_dict(TINY_FIELDS),
        final_max_epochs=3,
        **kwargs,
    )


def test_settings_record_the_option_only_when_it_is_not_the_default():
    default = BenchmarkSettings()
    assert default.final_sample_weights == "none" and "final_sample_weights" not in default.to_dict()
    soft = BenchmarkSettings(final_sample_weights="keep_probability")
    assert soft.to_dict() == {**default.to_dict(), "final_sample_weights": "keep_probability"}
    with pytest.raises(ValueError, match="final_sample_weights must be one of"):
        BenchmarkSettings(final_sample_weights="uniform")
    # A results file written before the option existed is reused by default settings, not by weighted ones.
    previous = {"meta": {"format": 2, "dataset_fingerprint": "fp", "settings": default.to_dict()}, "agents": {"a": 1}}
    assert reusable_agents(previous, "fp", default.to_dict()) == {"a": 1}
    assert reusable_agents(previous, "fp", soft.to_dict()) == {}


def test_final_training_trains_every_image_of_positive_keep_probability_weighted_by_it(data):
    p = np.linspace(0.0, 1.0, 40)
    p[:5] = 0.0
    selection = Selection(keep_probability=p, kept=p > 0.5)
    soft = repeated_final_training(data, selection, 0, _settings(final_sample_weights="keep_probability"))
    hard = repeated_final_training(data, selection, 0, _settings())
    assert hard["final_training"]["n_train"] == 20 and "total_weight" not in hard["final_training"]
    record = soft["final_training"]
    assert record["n_train"] == 35 and record["sample_weights"] == "keep_probability"
    assert record["total_weight"] == pytest.approx(p.sum())
    # The same as training the classifier directly on those images with those weights.
    clf = EmotionClassifier.for_dataset(data, ClassifierConfig.from_dict({**TINY_FIELDS, "patience": 8}), seed=0)
    clf.fit(data.x_train[5:], data.y_train[5:], data.x_val, data.y_val, seed=0, max_epochs=3,
            ema_epochs=1.0, monitor="val_accuracy", sample_weight=p[5:])  # fmt: skip
    assert np.array_equal(clf.predict(data.x_test), _predictions(data, selection, "keep_probability"))


def _predictions(data: FERDataset, selection: Selection, weights: str) -> np.ndarray:
    clf, _ = final_training(
        data, selection.kept, 0, _settings(final_sample_weights=weights), keep_probability=selection.keep_probability
    )
    return clf.predict(data.x_test)


def test_final_min_steps_counts_the_images_trained_on(data):
    kept = np.zeros(40, bool)
    kept[:10] = True
    p = np.where(kept, 0.9, 0.2)
    config = ClassifierConfig.from_dict({**TINY_FIELDS, "batch_size": 16})
    for weights, epochs in (("none", 6), ("keep_probability", 2)):  # 6 steps: 1 per epoch on 10, 3 on 40
        # An epoch cap of 1 rises to the minimum, and nothing stops before it: exactly that many epochs run.
        settings = BenchmarkSettings(
            classifier_config=config, final_max_epochs=1, final_min_steps=6, final_sample_weights=weights
        )
        _, summary = final_training(data, kept, 0, settings, keep_probability=p)
        assert summary["final_training"]["epochs_run"] == epochs


def test_filters_train_as_unweighted_and_a_soft_selector_runs_end_to_end(data):
    agents = ["keep_all", "oracle", "reinforce"]
    soft = run_benchmark(data, agents, [0], _settings(final_sample_weights="keep_probability"))
    hard = run_benchmark(data, agents, [0], _settings())
    assert soft["meta"]["settings"]["final_sample_weights"] == "keep_probability"
    assert "final_sample_weights" not in hard["meta"]["settings"]
    for name in ("keep_all", "oracle"):  # keep probability = the 0/1 mask: the very same final classifier
        (a,), (b,) = soft["agents"][name]["runs"], hard["agents"][name]["runs"]
        assert a["test_confusion_matrix"] == b["test_confusion_matrix"]
        assert a["final_training"]["n_train"] == b["final_training"]["n_train"] == round(40 * a["kept_fraction"])
    (run,) = soft["agents"]["reinforce"]["runs"]
    # A sigmoid policy gives every image a probability above 0: all 40 are trained on, kept or not.
    assert run["final_training"]["n_train"] == 40 and 0 < run["final_training"]["total_weight"] < 40
    assert run["kept_fraction"] == hard["agents"]["reinforce"]["runs"][0]["kept_fraction"]


def test_the_benchmark_flag_is_recorded_in_the_results(data, tmp_path):
    path = tmp_path / "tiny.npz"
    data.to_npz(path)
    argv = ["--data", str(path), "--agents", "keep_all", "--classifier", json.dumps(TINY_FIELDS),
            "--final-epochs", "2", "--final-min-steps", "0"]  # fmt: skip
    assert benchmark_main([*argv, "--final-sample-weights", "keep_probability", "--out", str(tmp_path / "a.json")]) == 0
    assert benchmark_main([*argv, "--out", str(tmp_path / "b.json")]) == 0
    soft, hard = (json.loads((tmp_path / f).read_text())["meta"]["settings"] for f in ("a.json", "b.json"))
    assert soft == {**hard, "final_sample_weights": "keep_probability"}
    assert benchmark_main([*argv, "--final-sample-weights", "uniform", "--out", str(tmp_path / "c.json")]) == 2


# ------------------------------------------------------------------------------------------- clean
def test_clean_writes_each_kept_images_keep_probability_into_kept_npz(data, tmp_path, monkeypatch):
    import agents.experiment.cli.clean as clean_cli

    p = np.random.default_rng(2).uniform(0.0, 1.0, 40)
    monkeypatch.setattr(clean_cli, "select", lambda *a, **k: Selection(keep_probability=p, kept=p > 0.5))
    data.to_npz(tmp_path / "tiny.npz")
    assert main(["clean", "--data", str(tmp_path / "tiny.npz"), "--agent", "keep_all", "--out", str(tmp_path)]) == 0
    kept = FERDataset.from_npz(tmp_path / "kept.npz")
    np.testing.assert_array_equal(kept.extras["sample_weight"], p[p > 0.5])
    np.testing.assert_array_equal(kept.y_train, data.y_train[p > 0.5])


def test_class_normalised_weights_by_hand():
    from agents.experiment.benchmark import class_normalised_weight, final_sample_weight

    kept = np.array([True, True, False, True, True, True])
    p = np.array([0.2, 0.6, 0.9, 0.01, 0.03, 0.0])
    labels = np.array([0, 0, 0, 1, 1, 2])
    # class 0: kept p 0.2, 0.6 (mean 0.4); class 1: 0.01, 0.03 (mean 0.02); class 2: all 0 -> weight 1
    expected = [0.5, 1.5, 0.0, 0.5, 1.5, 1.0]
    assert np.allclose(class_normalised_weight(kept, p, labels), expected)
    settings = BenchmarkSettings(final_sample_weights="class_normalised")
    assert np.allclose(final_sample_weight(kept, p, settings, labels=labels), expected)
    # each class weighs as many images as were kept of it, whatever the policy's class preferences
    w = final_sample_weight(kept, p, settings, labels=labels)
    assert [w[labels == c].sum() for c in range(3)] == pytest.approx([2.0, 2.0, 1.0])
    assert np.array_equal(final_sample_weight(kept, None, settings, labels=labels), kept.astype(float))
    with pytest.raises(ValueError, match="one label per training image"):
        final_sample_weight(kept, p, settings)
