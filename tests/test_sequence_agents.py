"""The FERSequence-v0 agents: the wait bias, the λ curriculum, batched evaluation, the benchmark and its CLI."""

from __future__ import annotations

import itertools
import json
import sys
from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest
import torch
from stable_baselines3.common.vec_env import DummyVecEnv

from agents.experiment.cli import main
from agents.experiment.sequence_benchmark import SequenceBenchmarkSettings, run_sequence_benchmark, summarise
from agents.sequence import build_sequence_agent, commit_times, train_sequence_agent
from agents.sequence.curriculum import curriculum_penalty
from agents.sequence.settings import wait_bias
from fer_select_env.data.sequences import make_sequence_dataset
from fer_select_env.envs.sequence.env import FERSequenceEnv
from fer_select_env.testing import TINY_SEQUENCE_CLASSIFIER

ROOT = Path(__file__).resolve().parents[1]
T = 4  # the frames of conftest's sequence_dataset


@pytest.fixture
def make_env(make_sequence_env):
    return make_sequence_env


def test_wait_bias_gives_the_asked_probability():
    b = wait_bias(7, 0.9)
    logits = torch.tensor([b] + [0.0] * 6)
    assert torch.softmax(logits, 0)[0].item() == pytest.approx(0.9)
    with pytest.raises(ValueError, match="probability"):
        wait_bias(7, 1.0)


def test_ppo_starts_waiting_with_probability_0_9(make_env):
    vec = DummyVecEnv([make_env])
    model = build_sequence_agent("ppo", vec, seed=0)
    obs = torch.as_tensor(np.stack([make_env().observations_at(t)[0] for t in range(T)]))
    probs = model.policy.get_distribution(obs).distribution.probs[:, 0]
    # on every frame, whatever it shows (the commit logits start near 0: SB3 scales the head by 0.01)
    assert torch.allclose(probs, torch.full_like(probs, 0.9), atol=1e-3)
    sb3 = build_sequence_agent("ppo", vec, seed=0, initial_wait_probability=None)
    assert sb3.policy.get_distribution(obs).distribution.probs[:, 0].max() < 0.5


def test_curriculum_by_hand():
    assert curriculum_penalty(0.1, 0.05) == 0.0
    assert curriculum_penalty(0.4, 0.05) == pytest.approx(0.025)
    assert curriculum_penalty(0.9, 0.05) == 0.05
    with pytest.raises(ValueError, match="ramp"):
        curriculum_penalty(0.5, 0.05, ramp=(0.6, 0.2))


@pytest.mark.parametrize("wrapped", [False, True])
def test_training_ends_with_the_target_penalty_and_logs_the_ramp(make_env, wrapped):
    # wrapped: the curriculum must reach the env under a wrapper (Gymnasium 1.x wrappers do not forward
    # attribute writes, so a plain set_attr would change the wrapper only)
    def make():
        env = make_env(wait_penalty=0.5)  # the curriculum, not the constructor, must set the 0.07 seen last
        return gym.wrappers.RecordEpisodeStatistics(env) if wrapped else env

    vec = DummyVecEnv([make] * 2)
    seen = []
    original = vec.env_method

    def spy(name, *args, indices=None, **kwargs):
        result = original(name, *args, indices=indices, **kwargs)
        if name == "set_wrapper_attr" and args[0] == "wait_penalty":
            seen.append(args[1])
            assert [env.unwrapped.wait_penalty for env in vec.envs] == [args[1]] * 2  # it reached the env
        return result

    vec.env_method = spy
    train_sequence_agent("ppo", vec, wait_penalty=0.07, total_timesteps=2048, seed=0, n_steps=128, batch_size=64)
    assert seen[0] == 0.0 and seen[-1] == 0.07 and all(a <= b for a, b in itertools.pairwise(seen))
    assert [env.unwrapped.wait_penalty for env in vec.envs] == [0.07, 0.07]


class _Scripted:
    """Commits to class 1 on frame 1 for even sequences; waits out odd ones."""

    def predict(self, observation, state=None, episode_start=None, deterministic=True):
        n = len(observation)
        t = int(np.rint(observation[0, -1] * T)) - 1
        actions = np.where((np.arange(n) % 2 == 0) & (t == 1), 2, 0)
        return actions, state


def test_commit_times_plays_every_sequence_as_the_env_would(make_env):
    env = make_env()
    t_commit, predictions = commit_times(_Scripted(), env)
    even = np.arange(env.num_sequences) % 2 == 0
    assert (t_commit[even] == 1).all() and (predictions[even] == 1).all()
    assert (t_commit[~even] == T - 1).all() and (predictions[~even] == -1).all()
    # the same outcome, episode by episode, through step()
    for i in range(env.num_sequences):
        env.reset(options={"index": i})
        done, t = False, 0
        while not done:
            action = 2 if (i % 2 == 0 and t == 1) else 0
            *_, done, _, info = env.step(action)
            t += 1
        assert (info["t_commit"], info["prediction"]) == (t_commit[i], predictions[i])


def test_benchmark_end_to_end_resumes_and_reuses(tmp_path, monkeypatch):
    monkeypatch.setenv("FER_SELECT_CACHE_DIR", str(tmp_path / "cache"))
    base = {
        "agents": ("ppo",),
        "wait_penalties": (0.0, 0.1),
        "timesteps": {"ppo": 256},
        "dataset_kwargs": {"n_subjects": 3, "repeats": 1, "num_frames": T, "image_size": 16},
        "classifier": dict(TINY_SEQUENCE_CLASSIFIER),
    }
    a = run_sequence_benchmark(SequenceBenchmarkSettings(seeds=(0,), **base), tmp_path / "a.json", log=lambda _: None)
    run0 = a["runs"]["0"]
    assert set(run0["baselines"]) == {"0", "0.1"} and set(run0["agents"]["ppo"]) == {"0", "0.1"}
    assert len(run0["sweep"]) == 41 and len(run0["test_accuracy_per_frame"]) == T
    row = a["summary"]["per_lambda"]["0.1"]
    assert {"last_frame", "threshold_val", "oracle", "ppo"} <= set(row) and "on_or_above_front" in row["ppo"]

    calls = []
    monkeypatch.setattr("agents.experiment.sequence_benchmark.run_seed", lambda s, seed, log: calls.append(seed))
    both = run_sequence_benchmark(
        SequenceBenchmarkSettings(seeds=(0,), **base),
        tmp_path / "b.json",
        log=lambda _: None,
        reuse=[tmp_path / "a.json"],
    )
    assert calls == [] and both["runs"]["0"] == run0  # seed 0 came from a.json
    other = SequenceBenchmarkSettings(seeds=(0,), **{**base, "wait_penalties": (0.0,)})
    with pytest.raises(ValueError, match=r"settings differ from this run's in \['wait_penalties'\]"):
        run_sequence_benchmark(other, None, reuse=[tmp_path / "a.json"])
    assert summarise(a) == a["summary"]


def test_settings_reject_bad_values():
    with pytest.raises(ValueError, match="agents"):
        SequenceBenchmarkSettings(agents=("a2c",))
    with pytest.raises(ValueError, match="wait_penalties"):
        SequenceBenchmarkSettings(wait_penalties=(-0.1,))


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--agents", "a2c"], "--agents: unknown"),
        (["--timesteps", "ppo=ten"], "AGENT=STEPS"),
        (["--reuse", "missing.json"], "no such file"),
        (["--threads", "0"], "--threads"),
        (["--posterior-jitter", "-1"], "--posterior-jitter"),
    ],
)
def test_cli_errors_are_one_line(tmp_path, capsys, argv, message):
    assert main(["sequence-benchmark", "--out", str(tmp_path / "r.json"), *argv]) == 2
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1


def test_example_script_runs_on_tiny_data(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("FER_SELECT_CACHE_DIR", str(tmp_path / "cache"))
    sys.path.insert(0, str(ROOT / "examples"))
    try:
        import train_ppo_sequence
    finally:
        sys.path.pop(0)
    tiny = {"n_subjects": 3, "repeats": 1, "num_frames": T, "image_size": 16}
    out = train_ppo_sequence.main(
        [
            "--timesteps",
            "256",
            "--dataset-kwargs",
            json.dumps(tiny),
            "--classifier-kwargs",
            json.dumps({"width": 2, "epochs": 1}),
        ]
    )
    assert set(out) == {"ppo", "last_frame", "best_threshold", "on_or_above_front"}
    assert "threshold front at PPO's earliness" in capsys.readouterr().out


def test_ablation_switches_are_recorded_only_when_not_the_default(make_env):
    from agents.experiment.sequence_benchmark import _settings_dict

    assert "curriculum" not in _settings_dict(SequenceBenchmarkSettings())
    ablated = _settings_dict(SequenceBenchmarkSettings(curriculum=False, initial_wait_probability=None))
    assert ablated["curriculum"] is False and ablated["initial_wait_probability"] is None
    vec = DummyVecEnv([lambda: make_env(wait_penalty=0.07)])
    vec.set_attr = lambda *a, **k: pytest.fail("no curriculum: the penalty must never be changed")
    train_sequence_agent("ppo", vec, 0.07, total_timesteps=128, curriculum=False, n_steps=64, batch_size=64)


@pytest.mark.parametrize("algo", ["dqn", "recurrent_ppo", "reinforce", "earliest"])
def test_the_other_bundled_agents_train_and_play_a_split(tmp_path, algo):
    from agents.sequence.settings import OBSERVATION

    # 48×48 frames: SB3's NatureCNN, behind the pixel policies, needs at least 36 pixels a side
    data = make_sequence_dataset(n_subjects=3, repeats=1, num_frames=T, image_size=48, seed=0)

    def make_env(**kwargs):
        return FERSequenceEnv(dataset=data, classifier=dict(TINY_SEQUENCE_CLASSIFIER), cache_dir=tmp_path, **kwargs)

    vec = DummyVecEnv([lambda: make_env(observation=OBSERVATION[algo], wait_penalty=0.01)] * 2)
    small = {"recurrent_ppo": {"n_steps": 16, "batch_size": 32}, "dqn": {"learning_starts": 10}}.get(algo, {})
    model = train_sequence_agent(algo, vec, 0.01, total_timesteps=64, seed=0, **small)
    env = make_env(observation=OBSERVATION[algo])
    t_commit, predictions = commit_times(model, env)
    assert t_commit.shape == predictions.shape == (env.num_sequences,)
    assert ((predictions >= -1) & (predictions < env.num_classes)).all()


def test_earliest_penalty_by_hand_and_its_env_pays_nothing_for_a_wait(make_env):
    from agents.sequence.earliest import EarliestREINFORCE

    vec = DummyVecEnv([lambda: make_env(wait_penalty=0.05)])
    model = train_sequence_agent("earliest", vec, 0.2, total_timesteps=64, seed=0)
    assert isinstance(model, EarliestREINFORCE) and model.halt_penalty == 0.2
    assert vec.get_attr("wait_penalty") == [0.0]  # EARLIEST's form: λ is on the policy, not in the reward
    obs = torch.as_tensor(np.stack([make_env().observations_at(t)[0] for t in range(T)]))
    with torch.no_grad():
        p_wait = model.policy.action_probabilities(obs)[:, 0]
        expected = 0.2 * (-torch.log(1 - p_wait)).mean()
        assert model.auxiliary_loss(obs).item() == pytest.approx(expected.item(), rel=1e-5)
    with pytest.raises(ValueError, match="halt_penalty"):
        EarliestREINFORCE("CategoricalMlpPolicy", vec, halt_penalty=-1.0)
