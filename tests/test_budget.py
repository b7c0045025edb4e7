"""Issue 13's budgets: passes scaled to a number of gradient steps, and class budgets for a learned ranking."""

from __future__ import annotations

import numpy as np
import pytest

from agents.common.budget import capped_policy_mask, class_budget_mask, estimate_class_noise
from agents.experiment.registry import get_training
from agents.experiment.rl_selection import ppo_steps_per_pass, reinforce_steps_per_pass
from agents.experiment.settings import MAX_PASS_FACTOR, RLSettings
from fer_select_env.models import ClassifierConfig, pretrain_classifier
from fer_select_env.testing import make_blob_dataset

TINY = ClassifierConfig(width=4, feature_dim=16, max_epochs=3, head_max_epochs=3)


@pytest.fixture
def tiny_classifier_and_data(tmp_path):
    ds = make_blob_dataset(n_train=48, n_val=24, n_test=12, noise_rate=0.25, seed=3)
    clf, _ = pretrain_classifier(ds, TINY, seed=0, cache_dir=tmp_path)
    return clf, ds


def test_the_default_data_keeps_its_passes():
    # 5,000 images: 20 REINFORCE steps a pass, 20 passes = 400 steps, the budget itself.
    assert reinforce_steps_per_pass(5000) == 20
    assert RLSettings().scaled_passes(reinforce_steps_per_pass(5000)) == (5, 15)


@pytest.mark.parametrize("n_images", [800, 1000, 2000, 3000])
def test_a_small_dataset_gets_the_documented_gradient_steps(n_images):
    settings = RLSettings()
    steps = reinforce_steps_per_pass(n_images)
    pretrain, episodes = settings.scaled_passes(steps)
    passes = settings.pretrain_episodes + settings.episodes
    # the rule: T = max(P, ceil(m / s)) passes, capped at MAX_PASS_FACTOR · P
    expected = max(passes, min(MAX_PASS_FACTOR * passes, -(-settings.min_gradient_steps // steps)))
    assert pretrain + episodes == expected
    assert (pretrain + episodes) * steps >= settings.min_gradient_steps
    # the paper's share of pre-training (5 of 20) stays
    assert pretrain == round(expected / 4)


def test_800_images_get_the_steps_of_the_default_data():
    # 4 steps a pass: 100 passes give the 400 steps the 5,000-image default gets from 20.
    assert RLSettings().scaled_passes(reinforce_steps_per_pass(800)) == (25, 75)


def test_the_scaling_is_capped_and_can_be_switched_off():
    assert RLSettings().scaled_passes(1) == (25, 75)  # 5 x 20 passes, not 400
    assert RLSettings(min_gradient_steps=None).scaled_passes(1) == (5, 15)
    scaled = RLSettings().scaled(4)
    assert (scaled.pretrain_episodes, scaled.episodes, scaled.min_gradient_steps) == (25, 75, None)


def test_ppo_counts_its_epochs_of_minibatches():
    assert ppo_steps_per_pass(800) == 4 * 4  # 4 epochs of 4 minibatches of 256
    assert ppo_steps_per_pass(100) == 4  # one minibatch of the whole pass


def test_checkpoint_units_follow_the_scaled_passes():
    total, steps, unit = get_training("reinforce").units(RLSettings(), 800)
    assert (total, steps, unit) == (100, 800, "pass")
    assert get_training("reinforce").units(RLSettings(min_gradient_steps=None), 800)[0] == 20


@pytest.mark.parametrize(
    "field, value", [("min_gradient_steps", 0), ("min_gradient_steps", 2.5), ("episodes", -1), ("selection_rule", "x")]
)
def test_bad_settings_are_refused(field, value):
    with pytest.raises(ValueError, match=field):
        RLSettings(**{field: value})


def test_class_budget_mask_matches_a_hand_worked_case():
    # class 0: five images, estimated noise 0.4 -> with fraction 1 it loses round(0.4 * 5) = 2 images, the
    # two of lowest keep probability (indices 3 and 0); with fraction 0.5, round(1.0) = 1 (index 3).
    # class 1: two images, noise 1.0 -> it would lose both, but the last image of a class always stays.
    # class 2: three images, noise 0 -> untouched.
    labels = np.array([0, 0, 0, 0, 0, 1, 1, 2, 2, 2])
    keep_p = np.array([0.2, 0.9, 0.5, 0.1, 0.7, 0.3, 0.4, 0.0, 0.1, 0.2])
    noise = np.array([0.4, 1.0, 0.0])
    full = class_budget_mask(keep_p, labels, noise, 1.0)
    assert np.flatnonzero(~full).tolist() == [0, 3, 5]
    half = class_budget_mask(keep_p, labels, noise, 0.5)
    assert np.flatnonzero(~half).tolist() == [3, 5]  # class 1: round(0.5 * 2) = 1 image
    assert class_budget_mask(keep_p, labels, noise, 0.0).all()


def test_capped_policy_mask_matches_a_hand_worked_case():
    # The policy (keep iff p > 1/2) would remove indices 0, 2, 3 of class 0, 5, 6 of class 1 and all of
    # class 2. The caps, round(noise_k * n_k): class 0 may lose 2 (the lowest two, 3 and 0: index 2 at
    # p = 0.5 comes back); class 1 may lose round(1.0 * 2) = 2, but never its last image (6, the higher p,
    # comes back); class 2 may lose nothing (everything comes back). Removals under the cap stay as the
    # policy made them: class 3 loses 1 of its allowed 2.
    labels = np.array([0, 0, 0, 0, 0, 1, 1, 2, 2, 2, 3, 3, 3, 3])
    keep_p = np.array([0.2, 0.9, 0.5, 0.1, 0.7, 0.3, 0.4, 0.0, 0.1, 0.2, 0.3, 0.8, 0.9, 0.6])
    noise = np.array([0.4, 1.0, 0.0, 0.5])
    kept = capped_policy_mask(keep_p, labels, noise)
    assert np.flatnonzero(~kept).tolist() == [0, 3, 5, 10]
    # a policy that removes nothing is left alone
    assert capped_policy_mask(np.ones(14), labels, noise).all()


def test_class_budget_never_empties_a_class():
    labels = np.repeat([0, 1], 4)
    kept = class_budget_mask(np.zeros(8), labels, np.array([1.0, 1.0]), 1.0)
    assert kept[labels == 0].sum() == 1 and kept[labels == 1].sum() == 1


def test_class_budget_refuses_a_fraction_outside_0_1():
    with pytest.raises(ValueError, match="fraction"):
        class_budget_mask(np.zeros(3), np.zeros(3, int), np.zeros(1), 1.5)


def test_estimated_noise_reads_the_confident_joint():
    # Class 0's images: 8 confidently class 0, 2 confidently class 1 -> noise 0.2; class 1's all agree -> 0.
    labels = np.array([0] * 10 + [1] * 10)
    probs = np.zeros((20, 2))
    probs[:8] = [0.9, 0.1]
    probs[8:10] = [0.1, 0.9]
    probs[10:] = [0.1, 0.9]
    rates = estimate_class_noise(labels, probs, 2)
    assert rates == pytest.approx([0.2, 0.0])


def test_estimated_noise_checks_its_shapes():
    with pytest.raises(ValueError, match="probs"):
        estimate_class_noise(np.zeros(3, int), np.zeros((3, 2)), 3)


def test_choose_budget_tries_every_fraction_and_keeps_the_best_on_validation(tiny_classifier_and_data):
    from agents.common.budget import BUDGET_FRACTIONS, choose_budget

    clf, ds = tiny_classifier_and_data
    head_before = {k: v.clone() for k, v in clf.get_head_state().items()}
    rng = np.random.default_rng(0)
    keep_p = rng.random(len(ds.y_train))
    oof = np.full((len(ds.y_train), ds.num_classes), 1.0 / ds.num_classes)
    oof[np.arange(len(ds.y_train)), ds.y_train] += 0.3
    oof /= oof.sum(axis=1, keepdims=True)
    choice = choose_budget(ds, clf, keep_p, oof, seed=0)
    assert sorted(choice.scores) == sorted(BUDGET_FRACTIONS)
    assert choice.scores[choice.fraction] == max(choice.scores.values())
    expected = class_budget_mask(keep_p, ds.y_train, choice.noise_rates, choice.fraction)
    np.testing.assert_array_equal(choice.kept, expected)
    info = choice.to_info()
    assert info["budget_fraction"] == choice.fraction and len(info["estimated_noise_by_class"]) == ds.num_classes
    # the classifier it was handed is not changed (it works on a clone)
    for k, v in clf.get_head_state().items():
        assert np.array_equal(v.numpy(), head_before[k].numpy())


def collapsed_policy_under(rule, clf, ds, match):
    """A policy that removes every image (keep probability about 0.1, ranked by noise), through ``rule``:
    the collapse warning must fire. Returns the keep probabilities and the rule's selection."""
    from types import SimpleNamespace

    from agents.common.selection import Selection
    from agents.experiment.rl_selection import apply_selection_rule

    env = SimpleNamespace(classifier=clf, dataset=ds)
    keep_p = 0.1 + 0.01 * np.random.default_rng(0).random(len(ds.y_train))
    selection = Selection(keep_probability=keep_p, kept=keep_p > 0.5)
    with pytest.warns(RuntimeWarning, match=match):
        out = apply_selection_rule(env, selection, 0, RLSettings(selection_rule=rule), "reinforce")
    assert out.info["selection_rule"] == rule and out.info["policy_kept_fraction"] == 0.0
    return keep_p, out


def test_policy_capped_rule_rescues_a_collapsed_policy(tiny_classifier_and_data):
    clf, ds = tiny_classifier_and_data
    keep_p, out = collapsed_policy_under("policy_capped", clf, ds, "collapsed.*estimated noise")
    noise = np.array(out.info["estimated_noise_by_class"])
    np.testing.assert_array_equal(out.kept, class_budget_mask(keep_p, ds.y_train, noise, 1.0))
    assert out.info["cap_restored"] == int(out.kept.sum()) > 0
    for k in np.unique(ds.y_train):  # no class emptied, none thinned beyond its estimated noise (rounded)
        members = ds.y_train == k
        assert out.kept[members].sum() >= max(1, members.sum() - round(noise[k] * members.sum()))


def test_class_budget_rule_still_rescues_a_collapsed_policy(tiny_classifier_and_data):
    """``class_budget`` (the earlier default) stays selectable: its validated mask replaces the policy's."""
    clf, ds = tiny_classifier_and_data
    keep_p, out = collapsed_policy_under("class_budget", clf, ds, "class budget chosen on validation decides")
    noise = np.array(out.info["estimated_noise_by_class"])
    np.testing.assert_array_equal(out.kept, class_budget_mask(keep_p, ds.y_train, noise, out.info["budget_fraction"]))
    assert out.kept.sum() > 0  # never the policy's empty selection


def test_the_default_rule_is_policy_capped():
    assert RLSettings().selection_rule == "policy_capped"
