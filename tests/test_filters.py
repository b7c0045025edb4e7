"""Non-RL baselines: the registry, the filters on hand-made probabilities and on learnable blobs, and the
out-of-fold probabilities they rank by."""

from __future__ import annotations

import numpy as np
import pytest

from agents import BASELINES
from agents.baselines.filters import (
    cleanlab,
    keep_all,
    oracle,
    out_of_fold_probabilities,
    predicted_neq_given,
    small_loss,
)
from agents.common.selection import Selection
from fer_select_env import FERDataset
from fer_select_env.envs.select.metrics import removal_scores
from fer_select_env.envs.select.rewards import fold_assignment
from fer_select_env.models import pretrain_classifier
from fer_select_env.testing import SELECTOR_TEST_CONFIG, make_blob_dataset

CFG = SELECTOR_TEST_CONFIG
NOISE_RATE = 0.3


@pytest.fixture(scope="module")
def noisy_blobs() -> FERDataset:
    return make_blob_dataset(n_train=150, n_val=60, noise_rate=NOISE_RATE, seed=0)


@pytest.fixture(scope="module")
def cache(tmp_path_factory) -> str:
    # Module-scoped so the blob classifier is pre-trained once; never the user's cache.
    return str(tmp_path_factory.mktemp("filters_cache"))


@pytest.fixture(scope="module")
def oof(noisy_blobs, cache) -> np.ndarray:
    return out_of_fold_probabilities(noisy_blobs, config=CFG, cache_dir=cache)


def with_labels(ds: FERDataset, y_train: np.ndarray) -> FERDataset:
    return FERDataset.from_arrays(
        ds.x_train, y_train, ds.x_val, ds.y_val, ds.x_test, ds.y_test, noise_train=ds.noise_train
    )


# ------------------------------------------------------------------------------------------ registry
def test_registry_names():
    assert set(BASELINES) == {
        "keep_all", "feng", "predicted_neq_given", "small_loss", "cleanlab", "oracle", "ferplus_relabel"
    }  # fmt: skip


# ferplus_relabel needs FER+ votes, which the blobs lack: tests/test_benchmark_protocol.py checks it.
@pytest.mark.parametrize("name", sorted(set(BASELINES) - {"ferplus_relabel"}))
def test_every_baseline_returns_a_valid_selection(name, noisy_blobs, cache):
    options = {"epochs": 3} if name == "feng" else {}
    sel = BASELINES[name](noisy_blobs, seed=0, config=CFG, cache_dir=cache, **options)
    n = len(noisy_blobs.y_train)
    assert isinstance(sel, Selection)
    assert sel.keep_probability.shape == (n,) and sel.kept.shape == (n,)
    assert sel.kept.dtype == bool
    assert np.all((sel.keep_probability >= 0) & (sel.keep_probability <= 1))
    if name != "feng":  # filters report the mask itself as the keep probability
        np.testing.assert_array_equal(sel.keep_probability, sel.kept.astype(float))
        assert sel.history == []
    assert isinstance(sel.info, dict)


def test_keep_all_keeps_everything(noisy_blobs):
    sel = keep_all(noisy_blobs)
    assert sel.kept.all() and sel.kept_fraction == 1.0


# ------------------------------------------------------------------------------------------ oracle
def test_oracle_removes_exactly_the_noisy_images(noisy_blobs):
    sel = oracle(noisy_blobs)
    np.testing.assert_array_equal(sel.kept, noisy_blobs.noise_train == 0)
    scores = removal_scores(sel.kept, noisy_blobs.noise_train != 0)
    assert scores == {"removal_precision": 1.0, "removal_recall": 1.0, "removal_f1": 1.0}


def test_oracle_counts_every_nonzero_noise_kind_as_noisy():
    ds = make_blob_dataset(n_train=12)
    noise = np.array([0, 1, 2, 3, 0, 0, 5, 0, 0, 0, 0, 0])
    ds = FERDataset.from_arrays(ds.x_train, ds.y_train, ds.x_val, ds.y_val, ds.x_test, ds.y_test, noise_train=noise)
    np.testing.assert_array_equal(oracle(ds).kept, noise == 0)


def test_oracle_without_ground_truth_raises():
    ds = make_blob_dataset(n_train=12)
    ds = FERDataset.from_arrays(ds.x_train, ds.y_train, ds.x_val, ds.y_val, ds.x_test, ds.y_test)
    with pytest.raises(ValueError, match="noise_train"):
        oracle(ds)


# ------------------------------------------------------------------------------------------ filters on given probs
def hand_probs() -> tuple[FERDataset, np.ndarray]:
    """6 images, 2 classes; image 1 and 4 disagree with their label, image 2 barely agrees."""
    ds = make_blob_dataset(n_train=6, num_classes=2)
    y = np.array([0, 0, 0, 1, 1, 1])
    ds = with_labels(ds, y)
    p0 = np.array([0.9, 0.2, 0.55, 0.1, 0.7, 0.3])
    return ds, np.stack([p0, 1 - p0], axis=1)


def test_predicted_neq_given_on_hand_made_probabilities():
    ds, probs = hand_probs()
    sel = predicted_neq_given(ds, probs=probs)
    np.testing.assert_array_equal(sel.kept, [True, False, True, True, False, True])
    assert sel.info["removed_fraction"] == pytest.approx(2 / 6)
    assert sel.info["probs"] == "given"


def test_small_loss_estimated_rate_per_class():
    ds, probs = hand_probs()
    sel = small_loss(ds, probs=probs)
    # One disagreement in each class of 3: rate 1/3 per class, the largest loss of each class goes.
    assert sel.info["rate"] == pytest.approx([1 / 3, 1 / 3])
    assert sel.info["rate_source"] == "estimated_predicted_neq_given"
    np.testing.assert_array_equal(sel.kept, [True, False, True, True, False, True])
    assert sel.info["loss_threshold"] == pytest.approx([-np.log(0.2), -np.log(0.3)])


def test_small_loss_given_rate_per_class_and_global():
    ds, probs = hand_probs()
    per_class = small_loss(ds, probs=probs, rate=2 / 3)
    # Class 0 losses rank 0 < 2 < 1, class 1 losses rank 3 < 5 < 4: keep the smallest of each.
    np.testing.assert_array_equal(per_class.kept, [True, False, False, True, False, False])
    glob = small_loss(ds, probs=probs, rate=0.5, per_class=False)
    # P(y|x) = .9 .2 .55 .9 .3 .7: the three smallest losses are images 0, 3 and 5.
    np.testing.assert_array_equal(glob.kept, [True, False, False, True, False, True])
    assert glob.info["rate"] == 0.5 and glob.info["per_class"] is False
    with pytest.raises(ValueError, match="rate"):
        small_loss(ds, probs=probs, rate=1.5)


def test_cleanlab_flags_the_confident_disagreements():
    rng = np.random.default_rng(0)
    n, k = 300, 3
    ds = make_blob_dataset(n_train=n, num_classes=k)
    y = np.arange(n) % k
    probs = np.full((n, k), 0.05)
    probs[np.arange(n), y] = 0.9
    wrong = rng.choice(n, 30, replace=False)
    probs[wrong] = 0.05
    probs[wrong, (y[wrong] + 1) % k] = 0.9
    probs /= probs.sum(axis=1, keepdims=True)
    sel = cleanlab(with_labels(ds, y), probs=probs)
    expected = np.ones(n, bool)
    expected[wrong] = False
    np.testing.assert_array_equal(sel.kept, expected)
    assert sel.info["filter_by"] == "prune_by_noise_rate"


def test_given_probs_of_the_wrong_shape_raise(noisy_blobs):
    with pytest.raises(ValueError, match="shape"):
        predicted_neq_given(noisy_blobs, probs=np.full((3, 3), 1 / 3))


# ------------------------------------------------------------------------------------------ filters on blobs
@pytest.mark.parametrize("fn", [predicted_neq_given, small_loss, cleanlab])
def test_label_filters_remove_mostly_noisy_images(fn, noisy_blobs, oof):
    sel = fn(noisy_blobs, probs=oof)
    scores = removal_scores(sel.kept, noisy_blobs.noise_train != 0)
    # Removing at random has precision ~ the noise rate (0.3); these filters must do far better.
    assert scores["removal_precision"] >= 0.8, scores
    assert scores["removal_recall"] >= 0.5, scores


def test_filters_compute_their_own_oof_probabilities(noisy_blobs, cache, oof):
    own = predicted_neq_given(noisy_blobs, config=CFG, cache_dir=cache)
    np.testing.assert_array_equal(own.kept, predicted_neq_given(noisy_blobs, probs=oof).kept)
    assert own.info["probs"] == "out_of_fold/head" and own.info["n_folds"] == 4


# ------------------------------------------------------------------------------------------ out-of-fold probabilities
def test_oof_rows_are_distributions(noisy_blobs, oof):
    assert oof.shape == (len(noisy_blobs.y_train), noisy_blobs.num_classes)
    assert oof.dtype == np.float64
    assert np.all(oof >= 0)
    np.testing.assert_allclose(oof.sum(axis=1), 1.0, atol=1e-12)


def test_oof_is_deterministic_for_a_seed_and_varies_with_it(noisy_blobs, cache, oof):
    again = out_of_fold_probabilities(noisy_blobs, config=CFG, cache_dir=cache)
    np.testing.assert_array_equal(oof, again)
    # Another seed: other folds and heads, same pre-trained classifier.
    other = out_of_fold_probabilities(noisy_blobs, config=CFG, cache_dir=cache, seed=1, classifier_seed=0)
    assert not np.array_equal(oof, other)


def test_oof_head_never_sees_the_held_out_label(noisy_blobs, cache):
    """Flip one training label: that image's own row must not move, while rows of other folds do.

    A leaky implementation (a head trained on all images, or folds that include the image) changes the
    image's own row; and if the flip changed nothing anywhere, the test would prove nothing, hence the
    second assertion.
    """
    clf, _ = pretrain_classifier(noisy_blobs, CFG, cache_dir=cache)
    y = noisy_blobs.y_train
    folds = fold_assignment(y, 4, np.random.default_rng(0))
    i = int(np.flatnonzero(folds == 0)[0])
    flipped = y.copy()
    flipped[i] = (y[i] + 1) % noisy_blobs.num_classes

    before = out_of_fold_probabilities(noisy_blobs, classifier=clf, folds=folds)
    after = out_of_fold_probabilities(with_labels(noisy_blobs, flipped), classifier=clf, folds=folds)
    np.testing.assert_array_equal(after[i], before[i])
    np.testing.assert_array_equal(after[folds == 0], before[folds == 0])
    assert not np.array_equal(after[folds != 0], before[folds != 0])


def test_oof_restores_the_classifier_head(noisy_blobs, cache):
    clf, _ = pretrain_classifier(noisy_blobs, CFG, cache_dir=cache)
    head = clf.get_head_state()
    out_of_fold_probabilities(noisy_blobs, classifier=clf)
    after = clf.get_head_state()
    assert all(np.array_equal(head[k].numpy(), after[k].numpy()) for k in head)


def test_oof_network_method(noisy_blobs):
    probs = out_of_fold_probabilities(noisy_blobs, n_folds=2, config=CFG, method="network")
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, atol=1e-12)
    again = out_of_fold_probabilities(noisy_blobs, n_folds=2, config=CFG, method="network")
    np.testing.assert_array_equal(probs, again)


def test_oof_rejects_bad_arguments(noisy_blobs):
    with pytest.raises(ValueError, match="method"):
        out_of_fold_probabilities(noisy_blobs, method="magic")
    with pytest.raises(ValueError, match="n_folds"):
        out_of_fold_probabilities(noisy_blobs, n_folds=1)
    with pytest.raises(ValueError, match="folds"):
        out_of_fold_probabilities(noisy_blobs, folds=np.zeros(3, dtype=int))
