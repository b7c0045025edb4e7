"""FERReason-v0: its data (AU truth, distractors, identity splits, AU budget), vocabulary and grammar, and the
env's rewards and episode rules (the registry tests run both env checkers on it)."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest

import fer_select_env  # noqa: F401  (registers the ids)
from fer_select_env.data.reasoning import (
    AU_PRESENCE_THRESHOLD,
    FERReasonDataset,
    add_distractor_units,
    au_names,
    au_truth,
    make_reasoning_dataset,
)
from fer_select_env.envs.text.vocabulary import Vocabulary
from fer_select_env.faces.action_units import ACTION_UNITS, EMOTION_AU_PROTOTYPES
from fer_select_env.testing import TINY_CLASSIFIER


@pytest.fixture(scope="module")
def reason_dataset() -> FERReasonDataset:
    return make_reasoning_dataset(n_subjects=6, faces_per_subject=7, image_size=24, seed=0)


@pytest.fixture(scope="module")
def reason_env(reason_dataset, tmp_path_factory):
    cache = tmp_path_factory.mktemp("reason_cache")
    env = gym.make("FERReason-v0", dataset=reason_dataset, encoder=dict(TINY_CLASSIFIER), cache_dir=str(cache))
    yield env
    env.close()


# ------------------------------------------------------------------------------------------------- data
def test_identities_never_cross_splits_and_every_face_has_a_truth_row(reason_dataset):
    ds = reason_dataset
    assert not set(ds.s_train) & set(ds.s_val) and not set(ds.s_train) & set(ds.s_test)
    assert ds.au_train.shape == (len(ds.y_train), len(ACTION_UNITS))
    assert ds.known_train.all()


def test_truth_is_the_units_at_or_above_the_threshold():
    au = np.zeros((2, len(ACTION_UNITS)), np.float32)
    au[0, 0], au[0, 1], au[1, 2] = AU_PRESENCE_THRESHOLD, AU_PRESENCE_THRESHOLD - 0.01, 0.9
    assert au_names(au_truth(au)[0]) == ("AU1",)
    assert au_names(au_truth(au)[1]) == ("AU4",)


def test_distractors_lie_outside_the_prototype_and_make_the_au_set_not_a_function_of_the_label():
    rng = np.random.default_rng(0)
    labels = np.full(200, 3)  # happy
    au = np.zeros((200, len(ACTION_UNITS)), np.float32)
    out = add_distractor_units(au, labels, rng, rate=1.0)
    assert (au_truth(out).sum(axis=1) == 1).all()  # exactly one unit switched on
    happy = set(EMOTION_AU_PROTOTYPES["happy"])
    on = {ACTION_UNITS[j] for j in np.flatnonzero(au_truth(out).any(axis=0))}
    assert on.isdisjoint(happy) and len(on) > 3  # several different sets for one label
    with pytest.raises(ValueError, match="distractor_rate"):
        add_distractor_units(au, labels, rng, rate=1.5)


def test_au_budget_hides_the_other_training_faces_aus(reason_dataset):
    b = reason_dataset.with_au_budget(5, seed=1)
    assert b.known_train.sum() == 5 and not b.au_train[~b.known_train].any()
    assert b.known_val.all() and (b.au_val == reason_dataset.au_val).all()
    with pytest.raises(ValueError, match="au_budget"):
        reason_dataset.with_au_budget(10_000)


def test_bad_arrays_are_refused_by_name(reason_dataset):
    from dataclasses import replace

    with pytest.raises(ValueError, match="s_train, s_val"):
        replace(reason_dataset, s_val=reason_dataset.s_train[: len(reason_dataset.y_val)])
    with pytest.raises(ValueError, match="au_val"):
        replace(reason_dataset, au_val=reason_dataset.au_val.astype(np.int64))
    with pytest.raises(ValueError, match="y_test"):
        replace(reason_dataset, y_test=reason_dataset.y_test + 7)


def test_an_emotion_only_dataset_knows_no_au():
    from fer_select_env.testing import make_blob_dataset

    ds = FERReasonDataset.from_fer_dataset(make_blob_dataset(n_train=12, n_val=9, n_test=9))
    assert not ds.known_train.any() and not ds.au_test.any()


# ------------------------------------------------------------------------------------------ vocabulary
def test_decode_writes_tags_unspaced_and_words_spaced_and_stops_at_eos():
    v = Vocabulary(("AU1", "AU2"), ("happy", "sad"))
    ids = v.encode(["<think>", "AU1", "AU2", "</think>", "<answer>", "sad", "</answer>"])
    assert v.decode([*ids, v.id("happy")]) == "<think>AU1 AU2</think><answer>sad</answer>"
    assert len(v) == 4 + 2 + 2 + 1 and ids[-1] == v.eos


def test_grammar_mask_leads_to_a_well_formed_completion_within_the_limit():
    v = Vocabulary(tuple(ACTION_UNITS), ("happy", "sad"))
    rng = np.random.default_rng(0)
    for _ in range(50):
        tokens: list[int] = []
        while len(tokens) < 8 and (not tokens or tokens[-1] != v.eos):
            tokens.append(int(rng.choice(np.flatnonzero(v.grammar_mask(tokens, 8)))))
        from fer_select_env.envs.text.rewards import format_reward

        assert format_reward(v.decode(tokens)) == 1.0


# ----------------------------------------------------------------------------------------------- env
def test_episode_ends_at_eos_with_the_upstream_reward_components(reason_env):
    env = reason_env.unwrapped
    env.reset(seed=0, options={"index": 2})
    v = env.vocabulary
    truth = au_names(env.au_truth[2])
    label = env.dataset.class_names[env.labels[2]]
    parts = ["<think>", *truth, "</think>", "<answer>", label, "</answer>"]
    for token in v.encode(parts)[:-1]:
        _obs, reward, terminated, _truncated, info = env.step(token)
        assert reward == 0.0 and not terminated
    _obs, reward, terminated, truncated, info = env.step(v.eos)
    assert terminated and not truncated
    assert info["rewards"] == {"au": 1.0, "acc": 1.0, "format": 1.0} and reward == 3.0
    assert info["text"] == v.decode(v.encode(parts))


def test_the_length_limit_ends_and_scores_a_cut_completion(reason_env):
    env = reason_env.unwrapped
    env.reset(seed=0, options={"index": 0})
    happy = env.vocabulary.id("happy")
    for _t in range(env.max_length):
        obs, _reward, terminated, _truncated, info = env.step(happy)
    assert terminated and int(obs["length"]) == env.max_length
    # no <think>: no AU named against a non-empty truth is -1 (if the face has AUs); no format
    assert info["rewards"]["format"] == 0.0 and info["rewards"]["acc"] == 0.0
    with pytest.raises(gym.error.ResetNeeded):
        env.step(happy)


def test_reset_index_replays_a_face_and_is_checked(reason_env):
    a, _ = reason_env.reset(seed=1, options={"index": 3})
    b, _ = reason_env.reset(seed=2, options={"index": 3})
    np.testing.assert_array_equal(a["feature"], b["feature"])
    with pytest.raises(ValueError, match="out of range"):
        reason_env.reset(options={"index": 10_000})
    with pytest.raises(ValueError, match="unknown reset option"):
        reason_env.reset(options={"prompt": 1})


def test_rewards_select_components_and_masking_is_off_by_default(reason_dataset, reason_env, tmp_path):
    assert reason_env.unwrapped.action_masks().all()
    env = gym.make(
        "FERReason-v0",
        dataset=reason_dataset,
        rewards=("acc",),
        action_masking=True,
        encoder=dict(TINY_CLASSIFIER),
        cache_dir=str(tmp_path),
    ).unwrapped
    env.reset(seed=0)
    mask = env.action_masks()
    assert mask.sum() == 1 and mask[env.vocabulary.id("<think>")]
    with pytest.raises(ValueError, match="rewards"):
        gym.make("FERReason-v0", dataset=reason_dataset, rewards=("au", "fluency"))


def test_observation_batch_matches_step_observations(reason_env):
    env = reason_env.unwrapped
    obs, _ = env.reset(options={"index": 4})
    obs, *_ = env.step(0)
    obs, *_ = env.step(5)
    batch = env.observation_batch(np.array([4]), np.array([[0, 5] + [9] * (env.max_length - 2)]), np.array([2]))
    for key in obs:
        np.testing.assert_array_equal(batch[key][0], obs[key])


def test_the_alignment_reward_scores_the_answer_against_the_named_units(reason_dataset, tmp_path):
    from fer_select_env.envs.text.rewards import alignment_reward

    env = gym.make(
        "FERReason-v0",
        dataset=reason_dataset,
        rewards=("acc", "align"),
        encoder=dict(TINY_CLASSIFIER),
        cache_dir=str(tmp_path),
    ).unwrapped
    vocab = env.vocabulary
    for answer in ("happy", "sad"):
        tokens = vocab.encode(["<think>", "AU6", "AU12", "</think>", "<answer>", answer, "</answer>"])
        info = env.score(0, tokens)
        assert set(info["rewards"]) == {"acc", "align"}
        assert info["rewards"]["align"] == alignment_reward(info["text"], reason_dataset.class_names)
        assert info["rewards"]["align"] == float(answer == "happy")
