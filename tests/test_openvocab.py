"""FEROpenVocab-v0: the emotion-set truths (FER+ votes on a tiny copy, synthetic blends), the env's reward
(wheel F1 minus a length penalty that counts every token), determinism of the reference words, and the
experiment's baselines and metrics (the registry tests run both env checkers on the env)."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest

import fer_select_env  # noqa: F401  (registers the ids)
from fer_select_env.data.openvocab import (
    BASES,
    BLEND_THRESHOLD,
    FEROpenVocabDataset,
    make_openvocab_dataset,
)
from fer_select_env.envs.text import wheels
from fer_select_env.testing import TINY_CLASSIFIER, write_fer2013_copy


@pytest.fixture(scope="module")
def ov_dataset() -> FEROpenVocabDataset:
    return make_openvocab_dataset(n_subjects=6, faces_per_subject=7, image_size=24, seed=0)


@pytest.fixture(scope="module")
def make_env(ov_dataset, tmp_path_factory):
    cache = str(tmp_path_factory.mktemp("ov_cache"))

    def make(**kwargs):
        return gym.make("FEROpenVocab-v0", dataset=ov_dataset, encoder=dict(TINY_CLASSIFIER), cache_dir=cache, **kwargs)

    return make


def test_fer_plus_truth_is_the_emotions_with_two_votes(tmp_path):
    from fer_select_env.data.loaders import load_fer2013

    path = tmp_path / "fer2013.npz"
    write_fer2013_copy(path, n=42)
    raw = np.load(path)["ferplus_votes"]
    ds = FEROpenVocabDataset.from_fer_dataset(load_fer2013(path))
    fer = load_fer2013(path)
    votes = fer.extras["ferplus_votes"][:, :8]
    expected = votes >= 2
    keep = expected.any(axis=1)
    np.testing.assert_array_equal(ds.t_train, expected[keep])
    assert ds.dropped["train"] == int((~keep).sum())
    np.testing.assert_array_equal(ds.majority["train"], votes[keep].argmax(axis=1))
    assert raw.shape[1] == 10  # unknown and NF are columns 8 and 9, never in a truth


def test_synthetic_truth_holds_the_first_emotion_and_a_strong_second(ov_dataset):
    t = ov_dataset.t_train
    assert t.any(axis=1).all() and t.sum(axis=1).max() <= 2
    assert not t[:, BASES.index("contempt")].any()  # the renderer has no contempt prototype
    assert 0.0 < BLEND_THRESHOLD < 0.5


def test_reward_is_the_wheel_f1_minus_a_penalty_on_every_token(make_env):
    env = make_env(reasoning=True, length_penalty=0.1).unwrapped
    env.reset(seed=0, options={"index": 0})
    truth_words = env.truth_of(0)
    for word in ["AU12", "<sep>", *truth_words]:
        env.step(env.vocabulary.id(word))
    _, reward, terminated, _, info = env.step(env.vocabulary.eos)
    n = 2 + len(truth_words)
    assert terminated and info["rewards"]["length"] == pytest.approx(-0.1 * n)
    assert info["rewards"]["wheel"] == pytest.approx(1.0)  # the truth's own words
    assert reward == pytest.approx(1.0 - 0.1 * n) and info["out_of_lexicon"] == ["AU12", "<sep>"]


def test_an_empty_answer_scores_zero_and_the_cap_ends_the_episode(make_env):
    env = make_env().unwrapped
    env.reset(seed=0, options={"index": 1})
    _, reward, terminated, _, info = env.step(env.vocabulary.eos)
    assert terminated and reward == 0.0 and info["words"] == []
    env.reset(seed=0, options={"index": 1})
    word = next(iter(env.lexicon))
    for _ in range(env.max_length):
        _, reward, terminated, _, info = env.step(env.vocabulary.id(word))
    assert terminated and len(info["words"]) == env.max_length


def test_synonyms_of_the_truth_score_like_the_truth(make_env):
    env = make_env(length_penalty=0.0).unwrapped
    face = 0
    truth = env.truth_of(face)
    synonyms = [w for w, b in env.lexicon.items() if b == env.lexicon[truth[0]] and w != truth[0]]
    tokens = env.vocabulary.encode([synonyms[0], *truth[1:]])
    assert env.score(face, tokens)["rewards"]["wheel"] == pytest.approx(1.0)


def test_baselines_and_metrics(make_env):
    from agents.reasoning.openvocab import baseline_answers, openvocab_metrics, reference_tokens

    env = make_env(split="val").unwrapped
    every = baseline_answers("one_per_category", env)
    m = openvocab_metrics(env, every)
    assert m["ew_r_level1"] == pytest.approx(100.0)  # one word per inner category recalls everything
    assert m["metric_version"] == wheels.METRIC_VERSION
    truths = [env.truth_of(i) for i in range(env.num_prompts)]
    perfect = openvocab_metrics(env, truths)
    assert perfect["ew_f_level1"] == pytest.approx(100.0) and perfect["ew_f_level2"] == pytest.approx(100.0)
    assert perfect["empty"] == 0.0 and perfect["out_of_lexicon"] == 0.0
    a = reference_tokens(env, np.arange(env.num_prompts), np.random.default_rng(3))
    b = reference_tokens(env, np.arange(env.num_prompts), np.random.default_rng(3))
    np.testing.assert_array_equal(a, b)
    for i, row in enumerate(a):
        mapped = {env.lexicon[w] for w in env.vocabulary.words_of(row)}
        assert mapped == {BASES[j] for j in np.flatnonzero(env.truth[i])}


def test_the_set_variant_scores_the_same_words_in_one_step(ov_dataset, tmp_path):
    kwargs = {"dataset": ov_dataset, "encoder": dict(TINY_CLASSIFIER), "cache_dir": str(tmp_path)}
    one = gym.make("FEROpenVocabSet-v0", **kwargs).unwrapped
    tokens = gym.make("FEROpenVocab-v0", **kwargs).unwrapped
    obs, _ = one.reset(seed=0, options={"index": 2})
    assert one.observation_space.contains(obs)
    truth = one.truth_of(2)
    bits = np.zeros(one.action_space.n, np.int8)
    bits[[one.vocabulary.id(w) for w in truth]] = 1
    _, _reward, terminated, _, info = one.step(bits)
    ids = sorted(tokens.vocabulary.id(w) for w in truth)
    assert terminated and info["rewards"] == tokens.score(2, [*ids, tokens.vocabulary.eos])["rewards"]
    with pytest.raises(ValueError, match="bits"):
        one.reset(seed=0)
        one.step(np.full(one.action_space.n, 2))


def test_synthetic_blends_keep_their_action_units_and_bad_ones_are_refused(ov_dataset):
    from dataclasses import replace

    from fer_select_env.faces.action_units import ACTION_UNITS

    units = ov_dataset.action_units
    assert set(units) == {"train", "val", "test"}
    assert units["train"].shape == (len(ov_dataset.y_train), len(ACTION_UNITS))
    assert 0.0 <= units["train"].min() and units["train"].max() <= 1.0
    with pytest.raises(ValueError, match="action_units\\['val'\\]"):
        replace(ov_dataset, action_units={**units, "val": units["val"][:, :3]})
    with pytest.raises(ValueError, match="has no 'test' split"):
        replace(ov_dataset, action_units={"train": units["train"], "val": units["val"]})


def test_reasoning_references_start_with_the_present_action_units(make_env, ov_dataset):
    from dataclasses import replace

    from agents.reasoning.openvocab import reference_tokens
    from fer_select_env.data.reasoning import AU_PRESENCE_THRESHOLD
    from fer_select_env.envs.text.openvocab_env import SEPARATOR
    from fer_select_env.faces.action_units import ACTION_UNITS

    env = make_env(split="train", reasoning=True, max_words=14).unwrapped
    refs = reference_tokens(env, np.arange(env.num_prompts), np.random.default_rng(0))
    for i, row in enumerate(refs):
        words = env.vocabulary.words_of(row)
        cut = words.index(SEPARATOR)
        present = [
            ACTION_UNITS[j] for j in np.flatnonzero(ov_dataset.action_units["train"][i] >= AU_PRESENCE_THRESHOLD)
        ]
        assert words[:cut] == present
        assert {env.lexicon[w] for w in words[cut + 1 :]} == {BASES[j] for j in np.flatnonzero(env.truth[i])}
    no_units = make_env(split="train", reasoning=True, max_words=14).unwrapped
    no_units.dataset = replace(ov_dataset, action_units=None)
    with pytest.raises(ValueError, match="action_units"):
        reference_tokens(no_units, np.arange(3), np.random.default_rng(0))


def test_openvocab_settings_refuse_unknown_stages():
    from agents.reasoning.openvocab import OpenVocabSettings

    with pytest.raises(ValueError, match="unknown \\['nope'\\]"):
        OpenVocabSettings(stages=("nope",))
    with pytest.raises(ValueError, match="needs 'sft'"):
        OpenVocabSettings(stages=("sft+grpo",))
