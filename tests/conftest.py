"""Shared fixtures: every test gets its own cache directory. The tiny datasets live in the package
(:mod:`fer_select_env.testing`), so tests import them like any other module."""

from __future__ import annotations

import pytest

from fer_select_env import FERDataset
from fer_select_env.testing import make_blob_dataset


@pytest.fixture(autouse=True)
def _isolated_cache(tmp_path_factory, monkeypatch):
    """Never read or write the user's real cache from a test, nor leave SB3 log folders in the system tmp.

    SB3's ``configure_logger`` makes a ``$TMPDIR/SB3-<timestamp>`` folder for every model built without a
    log folder unless ``SB3_LOGDIR`` points elsewhere.
    """
    monkeypatch.setenv("FER_SELECT_CACHE_DIR", str(tmp_path_factory.mktemp("fer_select_cache")))
    monkeypatch.setenv("SB3_LOGDIR", str(tmp_path_factory.mktemp("sb3_logs")))


@pytest.fixture
def blob_dataset() -> FERDataset:
    return make_blob_dataset()


@pytest.fixture(scope="session")
def sequence_dataset():
    from fer_select_env.data.sequences import make_sequence_dataset

    # 4 frames: the sequence tests' T
    return make_sequence_dataset(n_subjects=4, repeats=1, num_frames=4, image_size=16, seed=0)


@pytest.fixture
def make_sequence_env(sequence_dataset, tmp_path):
    """``make(**kwargs)``: a FERSequence-v0 env on :func:`sequence_dataset` with the tiny classifier, cached in
    the test's ``tmp_path`` (trained once per test, then loaded)."""
    from fer_select_env.envs.sequence.env import FERSequenceEnv
    from fer_select_env.testing import TINY_SEQUENCE_CLASSIFIER

    def make(**kwargs):
        return FERSequenceEnv(
            dataset=sequence_dataset, classifier=dict(TINY_SEQUENCE_CLASSIFIER), cache_dir=tmp_path, **kwargs
        )

    return make
