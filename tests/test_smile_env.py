"""FERSmile-v0: the emoticon, the simulated viewer, the camera classifiers, the env's spaces, rewards and
determinism, and the search baselines (the registry tests run both env checkers on it)."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest

import fer_select_env  # noqa: F401  (registers the ids)
from agents.smile.evaluation import current_answer, evaluate, run_episode, summarise
from agents.smile.search import MonteCarloSearch, OracleSearch, make_search
from fer_select_env.data.dataset import FERDataset
from fer_select_env.data.five_class import FIVE_CLASS_NAMES, five_class_subset, make_five_class_faces
from fer_select_env.envs.smile.emoticon import (
    HIGH,
    LOW,
    START,
    check_parameters,
    draw_emoticon,
    emoticon_camera_frames,
    from_unit,
    to_unit,
)
from fer_select_env.envs.smile.env import VIEWER_SPLITS, FERSmileEnv, viewer_of
from fer_select_env.envs.smile.viewer import ViewerPopulation, sample_viewer
from fer_select_env.models.camera import CameraClassifierConfig, train_camera_classifier

FACES = {"n_train": 60, "n_val": 20, "n_test": 10}
TINY = {"width": 2, "hidden": 8, "epochs": 1}


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    return str(tmp_path_factory.mktemp("smile_cache"))


def make(cache: str, **kwargs) -> FERSmileEnv:
    base = {"faces": FACES, "classifier": TINY, "cache_dir": cache, "max_steps": 5, "n_frames": 2}
    return FERSmileEnv(**{**base, **kwargs})


# ------------------------------------------------------------------------------------------- emoticon
def test_parameters_round_trip_and_start():
    z = to_unit(START)
    assert np.allclose(from_unit(z), START)
    assert np.allclose(to_unit(LOW), -1) and np.allclose(to_unit(HIGH), 1)
    assert np.allclose(from_unit(np.full(8, 5.0)), HIGH)  # clipped


def test_check_parameters_names_the_bad_one():
    bad = START.copy()
    bad[4] = 3.0
    with pytest.raises(ValueError, match="b=3 is outside"):
        check_parameters(bad)
    with pytest.raises(ValueError, match="8 finite numbers"):
        check_parameters(np.zeros(7))


def test_emoticon_drawing_depends_on_the_mouth():
    smile, frown = START.copy(), START.copy()
    frown[4] = -1.0
    a, b = draw_emoticon(smile, 64), draw_emoticon(frown, 64)
    assert a.shape == (64, 64, 3) and a.dtype == np.uint8
    assert np.array_equal(a, draw_emoticon(smile, 64))
    assert not np.array_equal(a, b)
    shots = emoticon_camera_frames(START, 3, np.random.default_rng(0))
    assert shots.shape == (3, 48, 48) and not np.array_equal(shots[0], shots[1])


# --------------------------------------------------------------------------------------------- viewer
def test_appeal_peaks_at_the_ideal():
    viewer = sample_viewer(ViewerPopulation(), np.random.default_rng(1))
    assert viewer.appeal(viewer.ideal) == pytest.approx(1.0)
    assert viewer.appeal(viewer.ideal + 0.3) < 1.0
    assert viewer.best_smile == pytest.approx(min(1.0, viewer.rest_smile + viewer.expressiveness))


def test_non_emoters_smile_varies_less():
    pop = ViewerPopulation(non_emoter_rate=0.5)
    viewers = [sample_viewer(pop, np.random.default_rng(i)) for i in range(60)]
    zs = np.random.default_rng(0).uniform(-1, 1, (40, 8))
    spread = {True: [], False: []}
    for v in viewers:
        spread[v.non_emoter].append(np.std([v.smile(z) for z in zs]))
    assert spread[True] and spread[False]
    assert max(spread[True]) < np.mean(spread[False])


def test_habituation_grows_while_unchanged_and_recovers():
    viewer = sample_viewer(ViewerPopulation(), np.random.default_rng(2))
    h = 0.0
    for _ in range(5):
        h = viewer.next_habituation(h, change=0.0)
    assert 0.0 < h <= viewer.population.habituation_max
    assert viewer.smile(viewer.ideal, h) < viewer.smile(viewer.ideal)
    assert viewer.next_habituation(h, change=1.0) == pytest.approx(h * (1 - viewer.population.recovery))


def test_viewer_frames_smile_more_when_smiling():
    viewer = sample_viewer(ViewerPopulation(smile_noise=0.0), np.random.default_rng(3))
    sad, happy = viewer.frames(0.0, 2, np.random.default_rng(0)), viewer.frames(1.0, 2, np.random.default_rng(0))
    assert sad.shape == (2, 48, 48) and not np.array_equal(sad, happy)


def test_population_rejects_bad_fields():
    with pytest.raises(ValueError, match="non_emoter_rate"):
        ViewerPopulation(non_emoter_rate=1.5)
    with pytest.raises(ValueError, match="tolerance"):
        ViewerPopulation(tolerance=(0.0,) * 8)
    with pytest.raises(ValueError, match="unknown ViewerPopulation"):
        ViewerPopulation.from_dict({"tastes": 1})


def test_train_and_test_viewers_are_different_streams():
    pop = ViewerPopulation()
    assert np.array_equal(viewer_of("test", 3, pop).ideal, viewer_of("test", 3, pop).ideal)
    assert not np.array_equal(viewer_of("test", 3, pop).ideal, viewer_of("train", 3, pop).ideal)


# ------------------------------------------------------------------------------------- classifiers
def test_five_class_faces_and_subset():
    ds = make_five_class_faces(n_train=10, n_val=5, n_test=5, seed=0, image_size=24)
    assert ds.class_names == FIVE_CLASS_NAMES and ds.x_train.shape == (10, 24, 24)
    assert sorted(np.bincount(ds.y_train)) == [2] * 5
    rng = np.random.default_rng(0)
    x = rng.integers(0, 255, (14, 8, 8), dtype=np.uint8)
    y = np.arange(14) % 7
    seven = FERDataset.from_arrays(x, y, x, y, x, y)
    five = five_class_subset(seven)
    # disgust (1) and fear (2) are dropped; happy (3) becomes 0, angry (0) becomes 3
    assert len(five.y_train) == 10
    assert np.array_equal(five.x_train[five.y_train == 0], x[y == 3])
    assert np.array_equal(five.x_train[five.y_train == 3], x[y == 0])
    with pytest.raises(ValueError, match="7 classes"):
        five_class_subset(make_five_class_faces(n_train=5, n_val=5, n_test=5, image_size=16))


def test_camera_classifier_is_cached(tmp_path):
    ds = make_five_class_faces(n_train=20, n_val=10, n_test=5, seed=0)
    config = CameraClassifierConfig(**TINY)
    clf, report = train_camera_classifier(ds, config, tmp_path)
    assert not report.from_cache
    again, report2 = train_camera_classifier(ds, config, tmp_path)
    assert report2.from_cache
    p = clf.predict_proba(ds.x_test)
    assert p.shape == (5, 5) and np.allclose(p.sum(1), 1)
    assert np.allclose(p, again.predict_proba(ds.x_test))
    with pytest.raises(ValueError, match="uint8"):
        clf.predict_proba(ds.x_test.astype(np.float32))


def test_camera_classifier_trains_under_no_grad(tmp_path):
    import torch

    ds = make_five_class_faces(n_train=20, n_val=10, n_test=5, seed=4)
    with torch.no_grad():
        _, report = train_camera_classifier(ds, CameraClassifierConfig(**TINY), tmp_path)
    assert report.epochs_run == 1


# ------------------------------------------------------------------------------------------------ env
@pytest.mark.parametrize(
    ("action", "space"),
    [
        ("delta", gym.spaces.Box),
        ("coordinate", gym.spaces.Discrete),
        ("absolute", gym.spaces.Box),
        ("incumbent", gym.spaces.Box),
    ],
)
def test_action_spaces(cache, action, space):
    env = make(cache, action=action)
    assert isinstance(env.action_space, space)
    assert env.action_space.shape == (() if action == "coordinate" else (8,))
    if action == "coordinate":
        assert env.action_space.n == 17


def test_observation_modes(cache):
    obs, info = make(cache).reset(seed=0)
    assert obs.shape == (10,) and obs.dtype == np.float32
    assert np.allclose(obs[:8], to_unit(START), atol=1e-6)
    assert obs[8] == pytest.approx(info["happiness"], abs=1e-6) and obs[9] == 0.0
    env = make(cache, observation="dict")
    obs, _ = env.reset(seed=0)
    assert env.observation_space.contains(obs) and obs["frame"].shape == (1, 48, 48)


def test_coordinate_and_delta_actions_move_by_the_step(cache):
    env = make(cache, action="coordinate", step_size=0.1)
    env.reset(seed=0)
    z0 = env.parameters
    env.step(2 * 4 + 1)  # raise b
    assert env.parameters[4] == pytest.approx(z0[4] + 0.2)
    env.step(2 * 4 + 2)  # lower it again
    env.step(0)  # no-op
    assert np.allclose(env.parameters, z0)
    env = make(cache, action="delta", step_size=0.25)
    env.reset(seed=0)
    _, _, _, _, info = env.step(np.array([0, 0, 0, 0, 1, 0, 0, 0], np.float32))
    assert info["parameters"][4] == pytest.approx(START[4] + 0.25 * 2.4)
    env = make(cache, action="absolute")
    env.reset(seed=0)
    env.step(np.full(8, 2.0, np.float32))
    assert np.allclose(env.parameters, 1.0)  # clipped to the ranges


def test_budget_truncation_and_info(cache):
    env = make(cache, max_steps=3, n_frames=2)
    _, info = env.reset(seed=1)
    assert info["frames_used"] == 2
    for step in range(1, 4):
        obs, _, terminated, truncated, info = env.step(env.action_space.sample())
        assert not terminated and truncated == (step == 3)
        assert info["frames_used"] == 2 * (step + 1) and obs[9] == pytest.approx(step / 3)
    for key in ("smile", "fresh_smile", "best_smile", "referee_happy", "happiness", "viewer"):
        assert key in info
    assert 0.0 <= info["smile"] <= info["best_smile"] + 1e-12 or info["habituation"] > 0
    with pytest.raises(gym.error.ResetNeeded):
        env.step(env.action_space.sample())


def test_rewards_match_a_hand_computation(cache):
    cases = [("happiness", "none"), ("happiness", "baseline"), ("improvement", "none"), ("incumbent_rise", "none")]
    for (reward, normalise), action in zip(cases * 2, ["delta"] * 4 + ["incumbent"] * 4, strict=True):
        env = make(cache, reward=reward, normalise=normalise, max_steps=6, action=action)
        _, info = env.reset(seed=3)
        start = best = info["happiness"]
        env.action_space.seed(0)
        for _ in range(6):
            _, r, _, _, info = env.step(env.action_space.sample())
            h = info["happiness"]
            expected = {
                "happiness": {"none": h, "baseline": h - start}[normalise],
                "improvement": h - best,
                "incumbent_rise": max(0.0, h - best),
            }[reward]
            assert r == pytest.approx(expected)
            best = max(best, h)


@pytest.mark.parametrize("action", ["delta", "incumbent"])
def test_deterministic_for_a_seed(cache, action):
    def rollout():
        env = make(cache, action=action)
        env.action_space.seed(5)
        obs, info = env.reset(seed=11)
        out = [obs, info["viewer"]]
        for _ in range(5):
            obs, r, *_ = env.step(env.action_space.sample())
            out += [obs, r]
        return out

    a, b = rollout(), rollout()
    assert all(np.array_equal(x, y) for x, y in zip(a, b, strict=True))


def test_held_out_viewer_replays(cache):
    env = make(cache, viewers="test")
    _, info = env.reset(seed=0, options={"viewer": 7})
    ideal = env.viewer.ideal.copy()
    _, info2 = env.reset(seed=1, options={"viewer": 7})
    assert info["viewer"] == info2["viewer"] == 7 and np.array_equal(env.viewer.ideal, ideal)
    with pytest.raises(ValueError, match="out of range"):
        env.reset(options={"viewer": 1000})
    with pytest.raises(ValueError, match="unknown reset option"):
        env.reset(options={"index": 1})


def test_train_and_test_streams_are_unchanged_by_val():
    pop = ViewerPopulation()
    assert VIEWER_SPLITS[:2] == ("train", "test")  # "val" was appended: the old streams keep their seeds
    for split, position in (("train", 0), ("test", 1)):
        rng = np.random.default_rng([0x5E11E, position, 4])
        assert np.array_equal(viewer_of(split, 4, pop).ideal, sample_viewer(pop, rng, 48).ideal)


def test_val_viewers_are_a_third_deterministic_stream():
    pop = ViewerPopulation()
    val = [viewer_of("val", i, pop).ideal for i in range(30)]
    assert all(np.array_equal(a, viewer_of("val", i, pop).ideal) for i, a in enumerate(val))
    others = [viewer_of(s, i, pop).ideal for s in ("train", "test") for i in range(30)]
    assert not any(np.allclose(a, b) for a in val for b in others)


def test_val_viewer_replays_and_its_range(cache):
    env = make(cache, viewers="val")
    _, info = env.reset(seed=0, options={"viewer": 999})
    assert info["viewer"] == 999
    assert np.array_equal(env.viewer.ideal, viewer_of("val", 999, env.population).ideal)
    env.reset(seed=0)
    assert 0 <= env.viewer_id < 1000 and np.array_equal(
        env.viewer.ideal, viewer_of("val", env.viewer_id, env.population).ideal
    )
    with pytest.raises(ValueError, match="out of range; viewers='val' has 1000"):
        env.reset(options={"viewer": 1000})


# --------------------------------------------------------------------------------------- incumbent mode
def test_incumbent_observation_layout(cache):
    env = make(cache, action="incumbent", step_size=0.1)
    assert env.observation_space.shape == (19,)
    assert np.array_equal(env.observation_space.low[[8, 17, 18]], [0, 0, 0])
    assert np.all(env.observation_space.low[9:17] == -1) and np.all(env.observation_space.high == 1)
    obs, info = env.reset(seed=0)
    assert env.observation_space.contains(obs)
    assert np.allclose(obs[:8], to_unit(START), atol=1e-6) and np.all(obs[9:17] == 0)
    assert obs[8] == obs[17] == pytest.approx(info["happiness"], abs=1e-6) and obs[18] == 0.0
    env.action_space.seed(1)
    for step in range(1, 6):
        action = env.action_space.sample()
        before = env.incumbent
        obs, _, _, _, info = env.step(action)
        assert env.observation_space.contains(obs)
        assert np.allclose(obs[:8], env.incumbent, atol=1e-6) and obs[8] == pytest.approx(env.best_happiness)
        assert obs[17] == pytest.approx(info["happiness"]) and obs[18] == pytest.approx(step / 5)
        if np.array_equal(env.incumbent, before):  # rejected: the try, as applied, relative to the incumbent
            assert np.allclose(obs[9:17], (env.parameters - before) / 0.2, atol=1e-6)
        else:
            assert np.all(obs[9:17] == 0)
    dict_env = make(cache, action="incumbent", observation="dict")
    obs, _ = dict_env.reset(seed=0)
    assert dict_env.observation_space.contains(obs) and obs["state"].shape == (19,)


def test_incumbent_changes_only_to_a_strictly_better_measurement(cache):
    env = make(cache, action="incumbent", max_steps=25)
    _, info = env.reset(seed=2)
    best, incumbent = info["happiness"], env.parameters
    assert env.best_happiness == best and np.array_equal(env.incumbent, incumbent)
    env.action_space.seed(2)
    accepted = rejected = 0
    for _ in range(25):
        _, _, _, _, info = env.step(env.action_space.sample())
        if info["happiness"] > best:
            best, incumbent = info["happiness"], env.parameters
            accepted += 1
        else:
            rejected += 1
        assert env.best_happiness == best and np.array_equal(env.incumbent, incumbent)
        assert np.array_equal(env.answer, incumbent)
    assert accepted and rejected


def test_incumbent_action_moves_from_the_incumbent_not_the_shown(cache):
    env = make(cache, action="incumbent", step_size=0.25, max_steps=30)
    env.reset(seed=0)
    env.action_space.seed(0)
    for _ in range(29):
        incumbent = env.incumbent
        action = env.action_space.sample()
        env.step(action)
        assert np.allclose(env.parameters, np.clip(incumbent + action * 0.5, -1, 1))
        if not np.array_equal(env.incumbent, env.parameters):  # rejected: shown and incumbent differ
            break
    else:
        pytest.fail("no try was rejected")
    shown, incumbent = env.parameters, env.incumbent
    env.step(np.zeros(8, np.float32))
    assert np.array_equal(env.parameters, incumbent) and not np.array_equal(env.parameters, shown)
    delta = make(cache, action="delta")
    delta.reset(seed=0)
    assert np.array_equal(delta.answer, delta.parameters)  # other modes answer with what they show


def test_incumbent_mode_refuses_bad_actions_and_passes_both_checkers(cache):
    import warnings

    from gymnasium.utils.env_checker import check_env
    from stable_baselines3.common.env_checker import check_env as sb3_check_env

    env = make(cache, action="incumbent")
    env.reset(seed=0)
    with pytest.raises(ValueError, match="8 finite numbers"):
        env.step(np.zeros(3, np.float32))
    with pytest.raises(ValueError, match="8 finite numbers"):
        env.step(np.full(8, np.nan, np.float32))
    kwargs = {"faces": FACES, "classifier": TINY, "cache_dir": cache, "max_steps": 4, "n_frames": 2}
    env = gym.make("FERSmile-v0", action="incumbent", render_mode="rgb_array", **kwargs)
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)
        check_env(env.unwrapped)
        sb3_check_env(env.unwrapped, warn=True)


def test_a_policy_in_incumbent_mode_is_scored_by_the_incumbent(cache):
    class Fixed:  # an SB3-like policy: always the same try
        def predict(self, obs, deterministic=True):
            return np.full(8, 0.7 if deterministic else -0.7, np.float32), None

    env = make(cache, action="incumbent", viewers="val", max_steps=4)
    record = run_episode(env, Fixed(), 3, seed=0)
    assert record["final_smile"] == pytest.approx(env.viewer.smile(env.incumbent))
    assert record["best_measured"] == pytest.approx(env.best_happiness)
    assert np.array_equal(current_answer(env, Fixed()), env.incumbent)
    delta = make(cache, action="delta", viewers="val", max_steps=4)
    record = run_episode(delta, Fixed(), 3, seed=0)
    assert record["final_smile"] == pytest.approx(delta.viewer.smile(delta.parameters))


def test_ppo_incumbent_trains_and_samples_its_evaluation(cache):
    from agents.smile.settings import DETERMINISTIC, make_smile_env, train_smile_agent

    kwargs = {"faces": FACES, "classifier": TINY, "cache_dir": cache, "max_steps": 4, "n_frames": 2}
    model = train_smile_agent("ppo_incumbent", 200, seed=0, env_kwargs=kwargs, n_steps=8, batch_size=16, n_epochs=1)
    env = make_smile_env("ppo_incumbent", viewers="val", **kwargs)
    assert env.unwrapped.action_mode == "incumbent" and env.unwrapped.reward_mode == "incumbent_rise"
    assert env.observation_space.shape == (38,) and DETERMINISTIC["ppo_incumbent"] is False
    a = summarise(evaluate(env, model, [0, 1], seed=0, deterministic=False))
    b = summarise(evaluate(env, model, [0, 1], seed=0, deterministic=False))
    assert a["final_smile"] == b["final_smile"] and a["episodes"] == 2  # sampled, but seeded: it replays


def test_unchanged_emoticon_habituates(cache):
    env = make(cache, action="delta", max_steps=6)
    env.reset(seed=0)
    infos = [env.step(np.zeros(8, np.float32))[4] for _ in range(4)]
    assert infos[-1]["habituation"] > infos[0]["habituation"] > 0
    assert infos[-1]["smile"] < infos[-1]["fresh_smile"] or infos[-1]["fresh_smile"] == 0


def test_mirror_reads_the_emoticon(cache):
    env = make(cache, viewer="mirror")
    _, info = env.reset(seed=0)
    assert np.isnan(info["smile"]) and 0.0 <= info["happiness"] <= 1.0


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"action": "joystick"}, "action"),
        ({"reward": "smiles"}, "reward"),
        ({"viewers": "validation"}, "viewers"),
        ({"reward": "rise"}, "reward"),
        ({"step_size": 0.0}, "step_size"),
        ({"n_frames": 0}, "n_frames"),
        ({"random_start": 1}, "random_start"),
        ({"population": {"taste_sd": -1.0}}, "taste_sd"),
        ({"faces": {"n_trains": 3}}, "faces"),
        ({"classifier_seed": -1}, "classifier_seed"),
    ],
)
def test_bad_arguments_name_the_argument(cache, kwargs, match):
    with pytest.raises(ValueError, match=match):
        make(cache, **kwargs)


def test_bad_actions_are_refused(cache):
    env = make(cache)
    env.reset(seed=0)
    with pytest.raises(ValueError, match="8 finite numbers"):
        env.step(np.zeros(3, np.float32))
    env = make(cache, action="coordinate")
    env.reset(seed=0)
    with pytest.raises(ValueError, match="int in"):
        env.step(17)


def test_probe_leaves_the_episode_alone(cache):
    env = make(cache)
    env.reset(seed=0)
    state = env.np_random.bit_generator.state
    probe = env.probe(env.parameters, n_frames=4)
    assert env.np_random.bit_generator.state == state
    assert set(probe) == {"happiness", "referee_happy", "smile"}


# ------------------------------------------------------------------------------------------ baselines
def test_faithful_monte_carlo_accepts_only_improvements():
    search = MonteCarloSearch(seed=0)
    z0 = np.zeros(8)
    search.start(None, np.concatenate([z0, [0.5, 0.0]]), {"happiness": 0.5})
    worse = search.act()
    assert np.sum(worse != z0) == 1  # one coordinate changed
    search.observe(worse, 0.4)
    assert np.array_equal(search.answer, z0) and search.best == 0.5
    better = search.act()
    search.observe(better, 0.6)
    assert np.array_equal(search.answer, better) and search.best == 0.6
    lucky = search.best
    search.observe(search.act(), 0.59)  # never re-measured: the lucky 0.6 stands
    assert search.best == lucky


def test_remeasuring_search_averages_the_incumbent():
    search = MonteCarloSearch(seed=0, remeasure=True)
    search.start(None, np.concatenate([np.zeros(8), [0.5, 0.0]]), {"happiness": 0.5})
    search.observe(search.act(), 0.9)  # a candidate: accepted
    again = search.act()  # the incumbent, shown again
    assert np.array_equal(again, search.answer)
    search.observe(again, 0.5)
    assert search.best == pytest.approx(0.7)


def test_oracle_reaches_the_ideal_and_searches_run(cache):
    env = make(cache, viewers="test", action="delta", max_steps=12, step_size=0.2)
    records = evaluate(env, OracleSearch(), [0, 1], seed=0)
    assert all(0.0 <= r["regret"] < 0.01 for r in records)  # it ends a novelty step beside the ideal
    env = make(cache, viewers="test", action="absolute", max_steps=4)
    summary = summarise(evaluate(env, make_search("monte_carlo", 0), [0, 1], seed=0))
    assert summary["episodes"] == 2 and len(summary["curve_smile"]) == 5
    assert summary["regret"] >= 0


def test_pictures(cache, tmp_path):
    from fer_select_env.envs.smile.plots import episode_strip, plot_smile_curves

    env = make(cache, render_mode="rgb_array")
    env.reset(seed=0)
    frame = env.render()
    assert frame.shape == (128, 256, 3)
    strip = episode_strip([draw_emoticon(START, 64)] * 3, [np.zeros((48, 48), np.uint8)] * 3)
    assert strip.shape == (128, 192, 3)
    with pytest.raises(ValueError, match="as many"):
        episode_strip([draw_emoticon(START, 64)], [])
    path = plot_smile_curves({"a": ([10, 20], [0.2, 0.3]), "oracle": ([10, 20], [0.2, 0.7])}, tmp_path / "c.png")
    assert path.stat().st_size > 0
    with pytest.raises(ValueError, match="equal-length"):
        plot_smile_curves({"a": ([10, 20], [0.2])}, tmp_path / "d.png")
    ansi = make(cache, render_mode="ansi")
    ansi.reset(seed=0)
    assert "viewer" in ansi.render()


def test_mirror_evaluation_scores_no_smile_but_the_referee_gap(cache):
    env = make(cache, viewer="mirror", viewers="test", action="absolute", max_steps=3)
    (record,) = evaluate(env, make_search("monte_carlo", 0), [0], seed=0)
    assert np.isnan(record["final_smile"]) and np.isnan(record["regret"])
    assert record["referee_gap"] == pytest.approx(record["expected_happiness"] - record["referee_happy"])


def test_the_reward_classifier_can_learn_fer2013s_five_classes(tmp_path):
    from fer_select_env.testing import write_fer2013_copy

    path = tmp_path / "fer2013.npz"
    write_fer2013_copy(path, n=42)
    env = FERSmileEnv(
        classifier_data=str(path), faces=FACES, classifier=TINY, cache_dir=str(tmp_path), max_steps=2, n_frames=2
    )
    assert env.classifier.class_names == FIVE_CLASS_NAMES
    # 14 rows per split, two of each FER2013 class: disgust and fear dropped leaves 10
    assert env.classifier_reports["classifier"]["n_train"] == 10
    env.reset(seed=0)
    with pytest.raises(ValueError, match="classifier_data"):
        FERSmileEnv(classifier_data=3, faces=FACES, classifier=TINY, cache_dir=str(tmp_path))
