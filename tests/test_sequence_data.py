"""Face sequences: onset→apex trajectories, rendering with fixed identities, FERSequenceDataset and its npz."""

from __future__ import annotations

import numpy as np
import pytest

from fer_select_env.data.sequences import FERSequenceDataset, make_sequence_dataset
from fer_select_env.faces.action_units import AU_INDEX, sample_action_units
from fer_select_env.faces.renderer import render_faces
from fer_select_env.faces.sequences import (
    LATE_UNITS,
    onset_apex_trajectories,
    render_face_sequences,
    sample_sequence_action_units,
)

FEAR, SURPRISE = 2, 5  # FER2013 order


def test_trajectories_start_neutral_rise_monotonically_and_end_at_the_apex():
    rng = np.random.default_rng(0)
    labels = np.array([0, 1, 2, 3, 4, 5] * 5)
    apex = sample_action_units(labels, rng)
    au = onset_apex_trajectories(apex, labels, 12, rng)
    assert au.shape == (30, 12, apex.shape[1]) and au.dtype == np.float32
    assert np.allclose(au[:, 0], 0.0)  # frame 0 is at the hold (or its very start): neutral
    assert np.all(np.diff(au, axis=1) >= -1e-7)
    assert np.allclose(au[:, -1], apex, atol=1e-6)


def test_late_units_rise_after_the_shared_ones():
    rng = np.random.default_rng(1)
    labels = np.full(200, FEAR)
    apex = np.zeros((200, len(AU_INDEX)))
    apex[:, AU_INDEX["AU1"]] = apex[:, AU_INDEX["AU20"]] = 1.0
    au = onset_apex_trajectories(apex, labels, 12, rng)
    shared, late = au[:, :, AU_INDEX["AU1"]], au[:, :, AU_INDEX["AU20"]]
    assert "AU20" in LATE_UNITS["fear"] and "AU1" not in LATE_UNITS["fear"]
    assert np.all(late <= shared + 1e-6)
    assert (late < shared - 0.05).any(axis=1).all()  # every sequence shows AU1 before AU20 for a while


def test_early_frames_of_fear_and_surprise_are_closer_than_their_apexes():
    rng = np.random.default_rng(2)
    au_fear = sample_sequence_action_units(np.full(300, FEAR), 12, rng)
    au_surprise = sample_sequence_action_units(np.full(300, SURPRISE), 12, rng)

    def gap(t: int) -> float:
        a, b = au_fear[:, t].mean(0), au_surprise[:, t].mean(0)
        return float(np.abs(a - b).sum() / max(np.abs(a).sum() + np.abs(b).sum(), 1e-9))

    assert gap(4) < gap(11)


def test_one_identity_per_subject_across_its_sequences():
    rng = np.random.default_rng(3)
    au = np.zeros((4, 3, len(AU_INDEX)))
    frames = render_face_sequences(au, np.array([7, 7, 9, 9]), rng, image_size=32)
    assert frames.shape == (4, 3, 32, 32) and frames.dtype == np.uint8
    within = np.abs(frames[0, 0].astype(int) - frames[0, 1].astype(int)).mean()  # sensor noise only
    across = np.abs(frames[0, 0].astype(int) - frames[2, 0].astype(int)).mean()  # another subject
    assert within < 5 < across


def test_rendering_is_deterministic_and_render_faces_is_unchanged():
    au = sample_sequence_action_units(np.array([0, 3]), 4, np.random.default_rng(4))
    a = render_face_sequences(au, np.array([0, 1]), np.random.default_rng(5))
    b = render_face_sequences(au, np.array([0, 1]), np.random.default_rng(5))
    assert np.array_equal(a, b)
    single = sample_action_units(np.arange(7), np.random.default_rng(6))
    assert np.array_equal(
        render_faces(single, np.random.default_rng(7)), render_faces(single, np.random.default_rng(7))
    )


@pytest.mark.parametrize(
    ("au", "subjects", "match"),
    [
        (np.zeros((2, 3)), np.array([0, 1]), "action_units"),
        (np.zeros((2, 3, len(AU_INDEX))), np.array([0]), "subjects"),
        (np.full((1, 2, len(AU_INDEX)), 2.0), np.array([0]), "action_units"),
    ],
)
def test_render_face_sequences_rejects_bad_input(au, subjects, match):
    with pytest.raises(ValueError, match=match):
        render_face_sequences(au, subjects, np.random.default_rng(0), image_size=16)


@pytest.fixture(scope="module")
def tiny():
    return make_sequence_dataset(n_subjects=6, repeats=1, num_frames=4, image_size=16, seed=0)


def test_synthetic_dataset_splits_subjects(tiny):
    assert tiny.num_classes == 6 and tiny.num_frames == 4 and tiny.frame_shape == (16, 16)
    subjects = [set(tiny.split(s)[2].tolist()) for s in ("train", "val", "test")]
    assert all(subjects) and not (subjects[0] & subjects[1] or subjects[0] & subjects[2] or subjects[1] & subjects[2])
    for s in ("train", "val", "test"):  # every subject shows every class
        _, y, subj = tiny.split(s)
        for sid in set(subj.tolist()):
            assert sorted(y[subj == sid].tolist()) == list(range(6))


def test_npz_round_trip_keeps_everything(tiny, tmp_path):
    path = tmp_path / "seq.npz"
    tiny.to_npz(path)
    back = FERSequenceDataset.from_npz(path)
    assert back.fingerprint() == tiny.fingerprint() and back.class_names == tiny.class_names


def test_npz_without_split_is_split_by_subject(tmp_path):
    frames = np.zeros((10, 3, 8, 8), np.uint8)
    subjects = np.repeat(np.arange(5), 2)
    np.savez(tmp_path / "s.npz", frames=frames, labels=np.arange(10) % 2, subjects=subjects)
    ds = FERSequenceDataset.from_npz(tmp_path / "s.npz", fractions=(0.6, 0.2, 0.2), seed=1)
    assert (len(ds.y_train), len(ds.y_val), len(ds.y_test)) == (6, 2, 2)
    assert ds.class_names == ("class_0", "class_1")


def _write(path, **arrays):
    base = {
        "frames": np.zeros((6, 3, 8, 8), np.uint8),
        "labels": np.array([0, 1, 0, 1, 0, 1]),
        "subjects": np.array([0, 0, 1, 1, 2, 2]),
        "split": np.array([0, 0, 1, 1, 2, 2]),
    }
    base.update(arrays)
    np.savez(path, **{k: v for k, v in base.items() if v is not None})
    return path


@pytest.mark.parametrize(
    ("arrays", "match"),
    [
        ({"frames": None}, r"missing required key\(s\) \['frames'\]"),
        ({"frames": np.zeros((6, 3, 8, 8), np.float32)}, "frames: frames must have dtype uint8"),
        ({"frames": np.zeros((6, 8, 8), np.uint8)}, "frames: frames must be N×T×H×W"),
        ({"frames": np.zeros((6, 1, 8, 8), np.uint8)}, "at least 2 frames"),
        ({"labels": np.array([0, 1, 0, 1, 0])}, "labels: has 5 labels"),
        ({"labels": np.array([0, 1, 0, 1, 0, 1.5])}, "labels"),
        ({"subjects": np.array([0, 0, 1, 1, 2, 2.5])}, "subjects"),
        ({"split": np.array([0, 0, 1, 1, 2, 3])}, "split: codes must be 0"),
        ({"split": np.array([0, 1, 1, 1, 2, 2])}, "subject 0 appears in both splits"),
        ({"class_names": np.array([1, 2])}, "class_names"),
    ],
)
def test_bad_npz_names_the_key(tmp_path, arrays, match):
    path = _write(tmp_path / "bad.npz", **arrays)
    with pytest.raises(ValueError, match=match):
        FERSequenceDataset.from_npz(path)


def test_pickled_npz_is_refused(tmp_path):
    path = tmp_path / "p.npz"
    np.savez(path, frames=np.zeros((3, 2, 4, 4), np.uint8), labels=np.array([0, 1, 0]), subjects=np.array([{}, {}, {}]))
    with pytest.raises(ValueError, match="subjects"):
        FERSequenceDataset.from_npz(path)


def test_labels_beyond_class_names_are_refused(tmp_path):
    path = _write(tmp_path / "k.npz", class_names=np.array(["a"]), labels=np.array([0, 0, 0, 0, 0, 0]))
    with pytest.raises(ValueError, match="class_names: need at least 2"):
        FERSequenceDataset.from_npz(path)
    path = _write(tmp_path / "k2.npz", class_names=np.array(["a", "b"]), labels=np.array([0, 1, 2, 0, 1, 0]))
    with pytest.raises(ValueError, match=r"y_val: labels must lie in \[0, 2\)"):
        FERSequenceDataset.from_npz(path)


def test_make_sequence_dataset_rejects_unknown_classes():
    with pytest.raises(ValueError, match="classes"):
        make_sequence_dataset(n_subjects=3, classes=("happy", "bored"))


def test_byte_string_class_names_are_decoded(tmp_path):
    path = _write(tmp_path / "b.npz", class_names=np.array([b"calm", b"glad"]))
    assert FERSequenceDataset.from_npz(path).class_names == ("calm", "glad")
