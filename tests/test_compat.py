"""Moved modules keep their old import paths: what users, the docs and older scripts import still works and
gives the same objects as the new paths."""

from __future__ import annotations

import importlib

import pytest

SAME_MODULE = [
    ("fer_select_env.env", "fer_select_env.envs.select.env"),
    ("fer_select_env.plots", "fer_select_env.envs.select.plots"),
    ("fer_select_env.cache", "fer_select_env.core.cache"),
    ("fer_select_env.classifier.model", "fer_select_env.models.cnn"),
]

SAME_OBJECT = [
    ("fer_select_env", "FERSelectEnv", "fer_select_env.envs.select.env"),
    ("fer_select_env", "FERDataset", "fer_select_env.data.dataset"),
    ("fer_select_env.rewards", "eq2_sample_rewards", "fer_select_env.envs.select.rewards"),
    ("fer_select_env.rewards", "fold_assignment", "fer_select_env.envs.select.rewards"),
    ("fer_select_env.metrics", "macro_f1", "fer_select_env.core.metrics"),
    ("fer_select_env.metrics", "removal_scores", "fer_select_env.envs.select.metrics"),
    ("fer_select_env.classifier", "ClassifierConfig", "fer_select_env.models.cnn"),
    ("fer_select_env.classifier", "EmotionClassifier", "fer_select_env.models.classifier"),
    ("fer_select_env.classifier", "pretrain_classifier", "fer_select_env.models.pretrain"),
    ("fer_select_env.classifier", "thread_limit", "fer_select_env.core.seeding"),
    ("fer_select_env.classifier.trainer", "rng_scope", "fer_select_env.core.seeding"),
    ("fer_select_env.classifier.trainer", "EmotionClassifier", "fer_select_env.models.classifier"),
    ("fer_select_env.data.synthetic", "make_synthetic_dataset", "fer_select_env.data.scenarios"),
    ("fer_select_env.data.synthetic", "SCENARIOS", "fer_select_env.data.scenarios"),
    ("fer_select_env.data.synthetic", "render_faces", "fer_select_env.faces.renderer"),
    ("fer_select_env.data.synthetic", "sample_action_units", "fer_select_env.faces.action_units"),
    ("fer_select_env.data.faces", "crop_face", "fer_select_env.faces.detect"),
    ("fer_select_env.data.faces", "make_face_noise_dataset", "fer_select_env.data.face_noise"),
    ("fer_select_env.data", "load_fer2013", "fer_select_env.data.loaders.fer2013"),
    ("fer_select_env.data.loaders", "load_rafdb", "fer_select_env.data.loaders.rafdb"),
    ("fer_select_env.data.loaders", "load_expw", "fer_select_env.data.loaders.expw"),
    ("fer_select_env.data.loaders", "load_image_folder", "fer_select_env.data.loaders.folder"),
]


@pytest.mark.parametrize(("old", "new"), SAME_MODULE)
def test_old_module_path_is_the_new_module(old, new):
    assert importlib.import_module(old) is importlib.import_module(new)


@pytest.mark.parametrize(("old", "name", "new"), SAME_OBJECT)
def test_old_import_gives_the_new_object(old, name, new):
    assert getattr(importlib.import_module(old), name) is getattr(importlib.import_module(new), name)


def test_the_eq2_readings_keep_their_old_name_only_at_the_old_path():
    from fer_select_env.envs.select import rewards
    from fer_select_env.rewards import BASELINES, EQ2_BASELINES

    assert BASELINES is EQ2_BASELINES == ("class_prior", "uniform", "mean", "none")
    assert not hasattr(rewards, "BASELINES")


def test_an_unknown_package_attribute_is_an_attribute_error():
    import fer_select_env

    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        fer_select_env.nope  # noqa: B018


def test_both_packages_ship_their_type_hints():
    """PEP 561: a ``py.typed`` marker in each package, declared as package data so that wheels carry it."""
    from pathlib import Path

    import agents
    import fer_select_env

    tomllib = pytest.importorskip("tomllib")  # the standard library's from Python 3.11

    root = Path(__file__).resolve().parents[1]
    package_data = tomllib.loads((root / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"]
    for package in (fer_select_env, agents):
        assert (Path(package.__file__).parent / "py.typed").is_file()
        assert "py.typed" in package_data[package.__name__]
