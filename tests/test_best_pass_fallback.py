"""Issue 13's divergence guard: the best learning pass by validation, and the fallback to it on a collapse."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch

from agents.experiment.rl_selection import (
    fall_back_to_best_pass,
    make_selection_env,
    reinforce_selector,
    train_reinforce,
)
from agents.experiment.settings import RLSettings
from fer_select_env.models import ClassifierConfig
from fer_select_env.testing import TINY_CLASSIFIER, make_blob_dataset


def tiny_settings(cache_dir, episodes: int) -> RLSettings:
    """A one-pass pre-training and ``episodes`` learning passes on the tiny classifier, no step budget."""
    return RLSettings(
        episodes=episodes,
        pretrain_episodes=1,
        min_gradient_steps=None,
        classifier_config=ClassifierConfig(**TINY_CLASSIFIER),
        cache_dir=cache_dir,
    )


@pytest.fixture
def trained(tmp_path):
    data = make_blob_dataset(n_train=60, n_val=21, n_test=21, noise_rate=0.3)
    settings = tiny_settings(tmp_path, 4)
    env = make_selection_env(data, "label_aware", 0, settings)
    model, history, best = train_reinforce(env, 0, settings, "t")
    return env, model, history, best, settings, data


def last_bias_key(model) -> str:
    return [k for k in model.policy.state_dict() if k.endswith("bias")][-1]


def with_last_bias(model, value: float) -> dict:
    """A copy of the model's policy state whose output bias is ``value`` (a marker the fake pass reads)."""
    state = {k: v.clone() for k, v in model.policy.state_dict().items()}
    state[last_bias_key(model)].fill_(value)
    return state


@pytest.fixture
def marked_passes(trained, monkeypatch):
    """Selection passes that keep the share of the images the loaded policy's output bias names (bias 0.5:
    half), so that which policy made a selection can be read off it."""
    import agents.experiment.rl_selection as rl_selection
    from agents.common.selection import Selection

    env, model = trained[0], trained[1]
    n = len(env.dataset.y_train)

    def marked_pass(_env, _keep_probability, _seed):
        share = float(model.policy.state_dict()[last_bias_key(model)][0])
        keep_p = np.where(np.arange(n) < round(share * n), 0.9, 0.1)
        return Selection(keep_probability=keep_p, kept=keep_p > 0.5)

    monkeypatch.setattr(rl_selection, "selection_pass", marked_pass)
    return marked_pass


def test_best_pass_is_the_learning_pass_with_the_best_validation_macro_f1(trained):
    _, model, history, best, _, _ = trained
    scores = [row["val_macro_f1"] for row in history]
    assert best.passes == len(history) == 4
    assert best.best_pass == int(np.argmax(scores)) and best.best_score == pytest.approx(max(scores))
    assert set(best.best_state) == set(model.policy.state_dict())
    assert all(isinstance(v, torch.Tensor) for v in best.best_state.values())


def test_a_collapsed_final_policy_falls_back_to_the_best_pass(trained, marked_passes):
    env, model, _, best, _, _ = trained
    best.best_state, best.best_pass, best.best_score = with_last_bias(model, 0.5), 2, 0.4
    model.policy.load_state_dict(with_last_bias(model, 0.0))  # the final policy removes everything
    final = marked_passes(env, None, 0)
    final.info["policy"] = "final"
    with pytest.warns(RuntimeWarning, match="falling back to learning pass 2"):
        out = fall_back_to_best_pass(env, model, best, final, 0, "reinforce")
    assert out.kept.mean() == pytest.approx(0.5)  # the best pass's selection
    assert out.info["fallback_pass"] == 2 and out.info["final_policy_kept_fraction"] == 0.0
    assert out.info["fallback_val_macro_f1"] == 0.4 and out.info["policy"] == "final"  # nothing recorded is lost


def test_no_fallback_without_a_collapse_and_none_when_both_collapsed(trained, marked_passes):
    env, model, _, best, _, _ = trained
    model.policy.load_state_dict(with_last_bias(model, 0.5))
    selection = marked_passes(env, None, 0)
    best.best_state = with_last_bias(model, 0.0)
    assert fall_back_to_best_pass(env, model, best, selection, 0, "reinforce") is selection
    assert selection.info["fallback_pass"] is None
    final_state = with_last_bias(model, 1.0)  # keeps everything: collapsed too
    model.policy.load_state_dict(final_state)
    final = marked_passes(env, None, 0)
    with pytest.warns(RuntimeWarning, match="both collapsed, the final one is kept"):
        out = fall_back_to_best_pass(env, model, best, final, 0, "reinforce")
    assert out is final and out.info["fallback_pass"] is None
    assert float(model.policy.state_dict()[last_bias_key(model)][0]) == 1.0  # the final policy is back


def test_the_benchmark_reinforce_records_whether_it_fell_back(tmp_path):
    data = make_blob_dataset(n_train=40, n_val=21, n_test=21, noise_rate=0.25)
    settings = tiny_settings(tmp_path, 2)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        selection = reinforce_selector("label_aware")(data, seed=0, settings=settings)
    messages = " ".join(str(w.message) for w in caught)
    kept = selection.info["policy_kept_fraction"]  # what the selection rule received
    if selection.info["fallback_pass"] is None:  # no collapse, or the best pass collapsed as well
        assert 0.05 <= kept <= 0.995 or "both collapsed" in messages
    else:
        assert "falling back to learning pass" in messages and 0.05 <= kept <= 0.995
