"""fer_select_env.plots: every picture is a PNG of the documented size, and bad input is refused clearly."""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np
import pytest

from fer_select_env.core.metrics import confusion_matrix
from fer_select_env.data import FER2013_CLASS_NAMES, make_synthetic_dataset
from fer_select_env.envs.select import plots
from fer_select_env.envs.select.metrics import keep_probability_by_noise_kind

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def png_size(path: Path) -> tuple[int, int]:
    """(width, height) from the IHDR chunk, after checking the signature."""
    data = Path(path).read_bytes()
    assert len(data) > 1000, "PNG suspiciously small"
    assert data[:8] == PNG_SIGNATURE
    assert data[12:16] == b"IHDR"
    return struct.unpack(">II", data[16:24])


def px(size: tuple[float, float]) -> tuple[int, int]:
    return round(size[0] * plots.DPI), round(size[1] * plots.DPI)


@pytest.fixture(scope="module")
def history() -> list[dict]:
    rng = np.random.default_rng(0)
    return [
        {
            "episode_reward": float(100 + 5 * i + rng.normal(0, 10)),
            "kept_fraction": float(0.9 - 0.01 * i),
            "val_accuracy": float(0.6 + 0.005 * i),
            "val_macro_f1": float(0.55 + 0.005 * i),
        }
        for i in range(15)
    ]


@pytest.fixture(scope="module")
def faces():
    ds = make_synthetic_dataset("mixed", n_train=40, n_val=7, n_test=7)
    rng = np.random.default_rng(1)
    p_keep = np.clip(0.9 - 0.6 * (ds.noise_train != 0) + rng.normal(0, 0.05, 40), 0, 1)
    return ds, p_keep


def test_episode_rewards(tmp_path, history):
    out = plots.plot_episode_rewards(history, tmp_path / "sub" / "rewards.png")
    assert out == tmp_path / "sub" / "rewards.png"  # parents are created, the path is returned
    assert png_size(out) == px(plots.EPISODE_REWARDS_SIZE)


@pytest.mark.parametrize(
    "keys", [("episode_reward",), ("val_accuracy", "val_macro_f1"), ("episode_reward", "val_macro_f1")]
)
def test_episode_rewards_skips_missing_keys(tmp_path, history, keys):
    partial = [{k: h[k] for k in keys} for h in history]
    partial[3] = {}  # an episode with nothing recorded is skipped, not an error
    assert png_size(plots.plot_episode_rewards(partial, tmp_path / "r.png")) == px(plots.EPISODE_REWARDS_SIZE)


def test_selection_progress(tmp_path, history):
    out = plots.plot_selection_progress(history, str(tmp_path / "progress.png"))
    assert png_size(out) == px(plots.SELECTION_PROGRESS_SIZE)
    only_kept = [{"kept_fraction": h["kept_fraction"]} for h in history[:2]]
    assert png_size(plots.plot_selection_progress(only_kept, tmp_path / "p2.png")) == px(plots.SELECTION_PROGRESS_SIZE)


@pytest.mark.parametrize(
    ("bad", "match"),
    [
        ([], "empty"),
        ([{"foo": 1.0}], "no history entry has any of the keys"),
        ([1.0, 2.0], r"history\[0\] must be a dict"),
        ({"episode_reward": 1.0}, "list of dicts"),
        ([{"kept_fraction": 0.5, "val_macro_f1": "high"}], r"history\[0\]\['val_macro_f1'\] must be a number"),
    ],
)
def test_history_plots_refuse_bad_history(tmp_path, bad, match):
    with pytest.raises(ValueError, match=match):
        plots.plot_episode_rewards(bad, tmp_path / "x.png")
    with pytest.raises(ValueError, match=match):
        plots.plot_selection_progress(bad, tmp_path / "x.png")
    assert not (tmp_path / "x.png").exists()


def test_sample_reward_distribution(tmp_path):
    rng = np.random.default_rng(0)
    kinds = np.repeat([0, 1, 2, 3], [70, 15, 10, 5])
    rewards = np.where(kinds == 0, rng.normal(0.5, 0.2, 100), rng.normal(-0.05, 0.1, 100)).astype(np.float32)
    size = px(plots.SAMPLE_REWARDS_SIZE)
    assert png_size(plots.plot_sample_reward_distribution(rewards, tmp_path / "a.png")) == size
    assert png_size(plots.plot_sample_reward_distribution(rewards, tmp_path / "b.png", noise_kind=kinds)) == size
    # A constant reward (e.g. reward="f1" repeats the episode reward for every image) still plots.
    assert png_size(plots.plot_sample_reward_distribution(np.full(5, 0.02), tmp_path / "c.png")) == size


@pytest.mark.parametrize(
    ("rewards", "kinds", "match"),
    [
        ([], None, "empty"),
        ([0.1, 0.2, 0.3], [0, 1], "noise_kind has 2 entries but sample_rewards has 3"),
        ([0.1, np.nan], None, "NaN"),
        (np.zeros((2, 2)), None, "1-D"),
    ],
)
def test_sample_reward_distribution_refuses_bad_input(tmp_path, rewards, kinds, match):
    with pytest.raises(ValueError, match=match):
        plots.plot_sample_reward_distribution(rewards, tmp_path / "x.png", noise_kind=kinds)


def test_confusion_matrices(tmp_path):
    rng = np.random.default_rng(0)
    y = rng.integers(0, 7, 200)
    before = confusion_matrix(y, np.where(rng.random(200) < 0.5, y, rng.integers(0, 7, 200)), 7)
    after = confusion_matrix(y, np.where(rng.random(200) < 0.8, y, rng.integers(0, 7, 200)), 7)
    out = plots.plot_confusion_matrices(before, after, FER2013_CLASS_NAMES, tmp_path / "cm.png")
    assert png_size(out) == px(plots.confusion_size(7))
    # A class absent from the truth (an all-zero row) is drawn blank rather than failing.
    before[2] = 0
    assert png_size(plots.plot_confusion_matrices(before, after, FER2013_CLASS_NAMES, tmp_path / "cm2.png"))


@pytest.mark.parametrize(
    ("before", "after", "names", "match"),
    [
        (np.ones((3, 3)), np.ones((2, 2)), ["a", "b", "c"], "after must be a 3×3 matrix"),
        (np.ones((3, 3)), np.ones((3, 3)), ["a", "b"], "before must be a 2×2 matrix"),
        (-np.ones((2, 2)), np.ones((2, 2)), ["a", "b"], "non-negative"),
        (np.ones((2, 2)), np.ones((2, 2)), [], "class_names is empty"),
    ],
)
def test_confusion_matrices_refuse_bad_input(tmp_path, before, after, names, match):
    with pytest.raises(ValueError, match=match):
        plots.plot_confusion_matrices(before, after, names, tmp_path / "x.png")


def test_image_gallery_gray_and_rgb(tmp_path, faces):
    ds, p_keep = faces
    out = plots.plot_image_gallery(
        ds.x_train, p_keep, ds.y_train, ds.class_labels, tmp_path / "g.png", noise_kind=ds.noise_train
    )
    assert png_size(out) == plots.gallery_size(40, 8)
    rgb = np.repeat(ds.x_train[:5, :, :, None], 3, axis=3)
    out = plots.plot_image_gallery(rgb, p_keep[:5], ds.y_train[:5], ds.class_labels, tmp_path / "rgb.png", n=3)
    assert png_size(out) == plots.gallery_size(5, 3)


def test_gallery_indices_pick_extremes_without_repeats():
    p = np.array([0.5, 0.1, 0.9, 0.1, 0.7, 0.3])
    removed, kept = plots.gallery_indices(p, n=2)
    assert removed.tolist() == [1, 3] and kept.tolist() == [2, 4]
    removed, kept = plots.gallery_indices(np.full(5, 0.5), n=8)  # all tied: 2 each, disjoint
    assert len(removed) == len(kept) == 2 and not set(removed) & set(kept)


@pytest.mark.parametrize(
    ("change", "match"),
    [
        ({"keep_probability": np.ones(39)}, "keep_probability has 39 entries but there are 40 images"),
        ({"labels": np.zeros(41, int)}, "labels has 41 entries"),
        ({"labels": np.full(40, 7)}, "labels must lie in"),
        ({"images": np.zeros((40, 8, 8), np.float32)}, "uint8"),
        ({"images": np.zeros((40, 8, 8, 2), np.uint8)}, "N×H×W"),
        ({"n": 0}, "n must be a positive integer"),
    ],
)
def test_image_gallery_refuses_bad_input(tmp_path, faces, change, match):
    ds, p_keep = faces
    kwargs = {"images": ds.x_train, "keep_probability": p_keep, "labels": ds.y_train, "n": 4}
    kwargs.update(change)
    with pytest.raises(ValueError, match=match):
        plots.plot_image_gallery(class_names=ds.class_labels, path=tmp_path / "x.png", **kwargs)


def test_keep_probability_by_noise_kind(tmp_path, faces):
    ds, p_keep = faces
    table = keep_probability_by_noise_kind(p_keep, ds.noise_train)
    size = px(plots.KEEP_PROBABILITY_SIZE)
    assert png_size(plots.plot_keep_probability_by_noise_kind(table, tmp_path / "one.png")) == size
    paper = {"clean": 0.9618, "half_face": 0.8909, "no_face": 0.3218}  # Table 5, RAF-DB
    agents = {"RLPS (paper)": paper, "ours": table}
    assert png_size(plots.plot_keep_probability_by_noise_kind(agents, tmp_path / "many.png")) == size


@pytest.mark.parametrize(
    ("mapping", "match"),
    [
        ({}, "non-empty"),
        ({"a": {"clean": 0.5}, "clean": 0.5}, "mixes"),
        ({"clean": 1.5}, r"in \[0, 1\]"),
        ({"agent": {}}, "has no noise kinds"),
    ],
)
def test_keep_probability_refuses_bad_input(tmp_path, mapping, match):
    with pytest.raises(ValueError, match=match):
        plots.plot_keep_probability_by_noise_kind(mapping, tmp_path / "x.png")


def test_plots_do_not_touch_pyplot_state(tmp_path, history):
    # Figures are built without pyplot, so nothing accumulates in its figure manager across calls.
    import matplotlib.pyplot as plt

    before = plt.get_fignums()
    plots.plot_episode_rewards(history, tmp_path / "r.png")
    assert plt.get_fignums() == before
