"""GRPO: the group advantage against a hand computation, learning on a tiny FERReason task (the reward rises;
GRPO's loss is about 0 by construction and proves nothing), the env-stepping and batched rollouts, the
TRL-named metrics, the zero-spread warning, save/load; and the SFT teacher, the quality check of synthesis
and the evaluation metrics."""

from __future__ import annotations

import warnings

import gymnasium as gym
import numpy as np
import pytest

import fer_select_env  # noqa: F401  (registers the ids)
from agents.baselines.sft import teacher_dataset, teacher_tokens, token_steps, train_sft
from agents.grpo import GRPO, group_advantages
from agents.reasoning.evaluation import decode, fitting_emotions, reasoning_metrics
from agents.reasoning.synthesis import passes_quality_check
from fer_select_env.data.reasoning import au_names, make_reasoning_dataset
from fer_select_env.envs.text.vocabulary import Vocabulary
from fer_select_env.testing import TINY_CLASSIFIER

TRL_KEYS = (
    "reward",
    "reward_std",
    "frac_reward_zero_std",
    "entropy",
    "clip_ratio/low_mean",
    "clip_ratio/high_mean",
    "clip_ratio/region_mean",
    "completions/mean_length",
    "completions/clipped_ratio",
    "rewards/au/mean",
    "rewards/acc/mean",
    "rewards/format/mean",
    "step_time",
)


@pytest.fixture(scope="module")
def tiny_reason(tmp_path_factory):
    cache = str(tmp_path_factory.mktemp("grpo_cache"))
    ds = make_reasoning_dataset(n_subjects=10, faces_per_subject=7, image_size=24, seed=0)

    def make(**kwargs):
        return gym.make("FERReason-v0", dataset=ds, encoder=dict(TINY_CLASSIFIER), cache_dir=cache, **kwargs)

    return make


def test_group_advantage_by_hand():
    r = np.array([[1.0, 0.0, 0.0, 1.0], [2.0, 2.0, 2.0, 2.0]])
    # group 0: mean 0.5, unbiased std sqrt(1/3) = 0.57735
    expected0 = np.array([0.5, -0.5, -0.5, 0.5]) / (np.sqrt(1 / 3) + 1e-4)
    adv = group_advantages(r)
    np.testing.assert_allclose(adv[0], expected0)
    np.testing.assert_allclose(adv[1], 0.0)  # a flat group gives no signal
    np.testing.assert_allclose(group_advantages(r, "none")[0], [0.5, -0.5, -0.5, 0.5])
    batch_std = np.std(r, ddof=1)
    np.testing.assert_allclose(group_advantages(r, "batch")[0], [0.5, -0.5, -0.5, 0.5] / (batch_std + 1e-4))
    np.testing.assert_allclose(group_advantages(np.array([[3.0], [1.0]])), [[3.0], [1.0]])  # verl's G = 1 rule
    with pytest.raises(ValueError, match="scale_rewards"):
        group_advantages(r, "sequence")


@pytest.mark.filterwarnings("ignore:GRPO.*zero reward spread:RuntimeWarning")  # a cold start is flat at first
def test_grpo_raises_the_reward_on_a_tiny_task(tiny_reason):
    """Cold, with every reward and no mask: 80 updates of 8 prompts × 8 rollouts must raise the mean reward
    of the last ten updates over the first ten by a clear margin (seeded)."""
    env = tiny_reason()
    model = GRPO("MultiInputPolicy", env, learning_rate=3e-3, prompts_per_update=8, seed=0)
    model.learn(80 * 8 * 8 * env.unwrapped.max_length)
    rewards = [h["reward"] for h in model.history]
    assert len(rewards) >= 80
    assert np.mean(rewards[-10:]) > np.mean(rewards[:10]) + 0.2, rewards
    assert all(key in model.history[-1] for key in TRL_KEYS)
    assert "kl" not in model.history[-1]  # beta = 0: no reference, no kl (TRL #4040)


def test_masking_keeps_every_completion_well_formed(tiny_reason):
    env = tiny_reason(action_masking=True)
    model = GRPO("MultiInputPolicy", env, prompts_per_update=4, use_masking=True, seed=0)
    model.learn(3 * 4 * 8 * env.unwrapped.max_length)
    assert all(h["rewards/format/mean"] == 1.0 for h in model.history)


def test_env_stepping_and_batched_rollouts_score_alike(tiny_reason):
    env = tiny_reason()
    model = GRPO("MultiInputPolicy", env, prompts_per_update=2, group_size=4, seed=1, rollout="env")
    batch = model._rollouts_env(np.array([0, 3]))
    assert len(batch["rewards"]) == 8 and batch["rollout"].max() == 7
    base = env.unwrapped
    for info, reward in zip(batch["infos"], batch["rewards"], strict=True):
        assert reward == pytest.approx(sum(info["rewards"].values()))
    stats = model.train_on_batch(batch)
    assert np.isfinite(stats["loss"]) and stats["completions/max_length"] <= base.max_length
    # the batched path gives the env's own score for the tokens it sampled
    fast = GRPO("MultiInputPolicy", env, prompts_per_update=2, group_size=4, seed=1, rollout="batched")
    b2 = fast._rollouts_batched(np.array([0, 3]))
    assert list(b2["faces"]) == [0] * 4 + [3] * 4
    for face, tokens, info in zip(b2["faces"], b2["completions"], b2["infos"], strict=True):
        assert info == base.score(int(face), tokens)
    fast.train_on_batch(b2)


def test_flat_groups_warn(tiny_reason):
    env = tiny_reason(rewards=("format",))
    model = GRPO("MultiInputPolicy", env, prompts_per_update=4, seed=0)  # cold: format is nearly always 0
    with pytest.warns(RuntimeWarning, match="zero reward spread"):
        model.learn(4 * 8 * env.unwrapped.max_length)
    assert model.history[0]["frac_reward_zero_std"] > 0.5


def test_beta_builds_a_reference_and_logs_kl(tiny_reason):
    env = tiny_reason()
    model = GRPO("MultiInputPolicy", env, prompts_per_update=2, beta=0.04, num_iterations=2, seed=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        model.learn(2 * 8 * env.unwrapped.max_length)
    assert model.reference is not None and model.history[-1]["kl"] >= 0.0


def test_save_and_load_keep_the_policy(tiny_reason, tmp_path):
    env = tiny_reason()
    model = GRPO("MultiInputPolicy", env, prompts_per_update=2, seed=0)
    obs, _ = env.reset(seed=0)
    before, _ = model.predict(obs, deterministic=True)
    model.save(tmp_path / "grpo")
    loaded = GRPO.load(tmp_path / "grpo", env=env)
    after, _ = loaded.predict(obs, deterministic=True)
    assert before == after and loaded.group_size == 8


def test_bad_options_are_refused(tiny_reason):
    env = tiny_reason()
    for kwargs, match in (
        ({"group_size": 1}, "group_size"),
        ({"loss_type": "ppo"}, "loss_type"),
        ({"rollout": "fast"}, "rollout"),
    ):
        with pytest.raises(ValueError, match=match):
            GRPO("MultiInputPolicy", env, **kwargs)


# ------------------------------------------------------------------------------------- SFT and stages
def test_teacher_writes_the_truth_and_hallucinates_at_its_rate():
    v = Vocabulary(("AU1", "AU2", "AU4", "AU5"), ("happy", "sad"))
    rows = np.array([[True, False, True, False]])
    exact = teacher_tokens(v, rows, np.array([1]), 12, np.random.default_rng(0), 0.0)
    assert v.decode(exact[0]) == "<think>AU1 AU4</think><answer>sad</answer>"
    many = teacher_tokens(v, np.repeat(rows, 4000, axis=0), np.ones(4000, int), 12, np.random.default_rng(0), 0.25)
    named = np.isin(many, [v.unit_id(j) for j in range(4)])
    dropped = 2 - (np.isin(many, [v.unit_id(0), v.unit_id(2)])).sum(axis=1)
    added = named.sum(axis=1) - (2 - dropped)
    assert dropped.mean() == pytest.approx(0.5, abs=0.05) and added.mean() == pytest.approx(0.5, abs=0.05)


def test_token_steps_are_every_prefix_and_next_token():
    tokens = np.array([[0, 4, 1, 9], [0, 1, 9, 9]])
    idx, _prefixes, lengths, targets = token_steps(np.array([5, 6]), tokens, pad=9)
    assert list(idx) == [5, 5, 5, 6, 6] and list(lengths) == [0, 1, 2, 0, 1] and list(targets) == [0, 4, 1, 0, 1]


def test_sft_learns_the_teacher_and_greedy_decoding_repeats_it(tiny_reason):
    env = tiny_reason()
    base = env.unwrapped
    model = GRPO("MultiInputPolicy", env, seed=0)
    idx, tok = teacher_dataset(base, np.arange(base.num_prompts), np.random.default_rng(0), 0.0)
    before = reasoning_metrics(base, decode(model.policy, base))
    report = train_sft(model.policy, base, idx, tok, epochs=60, learning_rate=3e-3)
    assert report.train_loss[-1] < 0.5 * report.train_loss[0]
    after = reasoning_metrics(base, decode(model.policy, base))
    assert before["format_rate"] < 5.0 and after["format_rate"] >= 95.0
    assert after["au_f1_micro"] > before["au_f1_micro"] + 20.0


def test_fitting_emotions_and_the_quality_check():
    emotions = ("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral")
    assert fitting_emotions({"AU6", "AU12"}, emotions) == {"happy"}
    assert fitting_emotions(set(), emotions) == {"neutral"}
    good = {
        "text": "<think>AU6 AU12</think><answer>happy</answer>",
        "predicted_aus": ("AU12", "AU6"),
        "answer": "happy",
    }
    assert passes_quality_check(good, "happy", emotions)
    assert not passes_quality_check(good, "sad", emotions)  # wrong
    wrong_aus = {
        **good,
        "text": "<think>AU1 AU4 AU15</think><answer>happy</answer>",
        "predicted_aus": ("AU1", "AU15", "AU4"),
    }
    assert not passes_quality_check(wrong_aus, "happy", emotions)  # the AUs say sad
    assert not passes_quality_check({**good, "text": "happy"}, "happy", emotions)  # malformed


def test_metrics_by_hand(tiny_reason):
    env = tiny_reason().unwrapped
    v = env.vocabulary
    faces = np.array([0, 1])
    completions = []
    for i in faces:
        truth = au_names(env.au_truth[i])
        label = env.dataset.class_names[env.labels[i]]
        completions.append(v.encode(["<think>", *truth, "</think>", "<answer>", label, "</answer>"]))
    completions[1] = v.encode([env.dataset.class_names[(env.labels[1] + 1) % 7]])  # bare wrong answer
    tokens = np.full((2, env.max_length), v.pad)
    for j, c in enumerate(completions):
        tokens[j, : len(c)] = c[: env.max_length]
    m = reasoning_metrics(env, tokens, faces)
    assert m["accuracy"] == 50.0 and m["format_rate"] == 50.0
    assert m["hallucinated_au_rate"] == 0.0  # every named AU is true


def test_consensus_keeps_the_aus_most_passing_samples_name(tiny_reason):
    from agents.reasoning.evaluation import core_units
    from agents.reasoning.synthesis import consensus_completion

    env = tiny_reason().unwrapped
    face = int(np.flatnonzero(env.labels == env.dataset.class_names.index("happy"))[0])
    core = sorted(core_units("happy"), key=env.vocabulary.units.index)  # AU6, AU12
    samples = [
        {"predicted_aus": (*core, "AU26")},
        {"predicted_aus": tuple(core)},
        {"predicted_aus": (core[1], "AU4")},
    ]
    tokens = consensus_completion(env, face, samples)
    assert env.vocabulary.decode(tokens) == f"<think>{' '.join(core)}</think><answer>happy</answer>"
    # a consensus whose AUs do not fit the label is refused
    assert consensus_completion(env, face, [{"predicted_aus": ("AU1", "AU4", "AU15")}]) is None


def test_grpo_is_a_fer_select_agent_whose_groups_share_an_image_order(tmp_path):
    """On FERSelect-v0 a group is G passes over one image order (one reset seed); the selector runs through
    the registry like the other RL agents and is never counted as a non-RL baseline."""
    from agents.experiment.registry import get_agent
    from agents.experiment.settings import RLSettings
    from fer_select_env.testing import SELECTOR_TEST_CONFIG, make_blob_dataset

    ds = make_blob_dataset(n_train=40, n_val=21, n_test=21, noise_rate=0.25)
    settings = RLSettings(
        episodes=8, pretrain_episodes=0, min_gradient_steps=None, classifier_config=SELECTOR_TEST_CONFIG,
        cache_dir=str(tmp_path),
    )  # fmt: skip
    selection = get_agent("grpo").selector(ds, seed=0, settings=settings)
    assert len(selection.history) == 2 and selection.info["group_size"] == 4  # 8 passes = 2 groups of 4
    assert 0.0 < np.mean(selection.keep_probability) < 1.0


def test_groups_without_a_prompt_index_need_one_env(tiny_reason):
    from stable_baselines3.common.vec_env import DummyVecEnv

    from fer_select_env.testing import make_blob_dataset
    from fer_select_env.testing.toy import TINY_CLASSIFIER as tiny

    ds = make_blob_dataset(n_train=12, n_val=9, n_test=9, noise_rate=0.25)
    vec = DummyVecEnv([lambda: gym.make("FERSelect-v0", dataset=ds, classifier_config=dict(tiny))] * 2)
    model = GRPO("MlpPolicy", vec, prompts_per_update=1, group_size=2, rollout="env", reward_clip=None)
    with pytest.raises(ValueError, match="single env"):
        model._rollouts_env(np.array([0]))
