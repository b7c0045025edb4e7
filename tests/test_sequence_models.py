"""Tests of the causal sequence classifiers of FERSequence (:mod:`fer_select_env.models.sequence`): shapes,
causality, learning, determinism, the cache and input checks."""

from __future__ import annotations

import pickle
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from fer_select_env.core.cache import CacheWarning
from fer_select_env.core.seeding import thread_limit
from fer_select_env.core.serialization import load_tensor_file, tensor_file_bytes
from fer_select_env.models import sequence
from fer_select_env.models.sequence import (
    SEQUENCE_KINDS,
    ConvLSTMCell,
    SequenceClassifier,
    SequenceClassifierConfig,
    sequence_cache_inputs,
    sequence_cache_path,
    sequence_data_fingerprint,
    sequence_posteriors,
    train_sequence_classifier,
)

K = 3
T = 5
HW = 16


def toy(n: int, seed: int, t: int = T, hw: int = HW, k: int = K) -> tuple[np.ndarray, np.ndarray]:
    """Learnable sequences: dark noise, with a square in quadrant ``label`` that brightens from nothing at
    frame 0 (no information there) to its apex at the last frame."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, k, size=n).astype(np.int64)
    x = rng.integers(0, 60, size=(n, t, hw, hw)).astype(np.uint8)
    half = hw // 2
    for i, label in enumerate(y):
        r, c = divmod(int(label), 2)
        for s in range(1, t):  # frame 0 is left as noise
            x[i, s, r * half + 1 : (r + 1) * half - 1, c * half + 1 : (c + 1) * half - 1] = 60 + 190 * s // (t - 1)
    return x, y


def tiny(kind: str, **overrides) -> SequenceClassifierConfig:
    base = SequenceClassifierConfig(
        kind=kind, width=4, hidden=8, feature_dim=16, dropout=0.1, epochs=12, min_epochs=4, patience=3, batch_size=16
    )
    return replace(base, lr=1e-2, **overrides)


def weights(clf: SequenceClassifier) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in clf.model.state_dict().items()}


@pytest.fixture(scope="module", autouse=True)
def _one_thread():
    """One intra-op thread: the tensors are tiny and the machine's cores are shared (restored afterwards)."""
    with thread_limit(1):
        yield


@pytest.fixture(scope="module")
def data() -> dict[str, np.ndarray]:
    x, y = toy(60, seed=0)
    xv, yv = toy(30, seed=1)
    xt, yt = toy(60, seed=2)
    return {"x": x, "y": y, "xv": xv, "yv": yv, "xt": xt, "yt": yt}


@pytest.fixture(scope="module")
def trained(data, tmp_path_factory) -> dict[str, tuple[SequenceClassifier, sequence.SequenceFitReport]]:
    cache = tmp_path_factory.mktemp("seq_cache")
    return {
        kind: train_sequence_classifier(data["x"], data["y"], data["xv"], data["yv"], K, tiny(kind), cache_dir=cache)
        for kind in SEQUENCE_KINDS
    }


# ---------------------------------------------------------------------------------------------- shapes, causality
@pytest.mark.parametrize("kind", SEQUENCE_KINDS)
@pytest.mark.parametrize("t", [2, 7])
def test_output_shapes_and_posteriors_sum_to_one(kind, t):
    clf = SequenceClassifier(K, (HW, HW), tiny(kind))
    x, _ = toy(5, seed=3, t=t)
    assert clf.model(clf.to_input(torch.from_numpy(x))).shape == (5, t, K)
    p = sequence_posteriors(clf, x, batch_size=2)
    assert p.shape == (5, t, K) and p.dtype == np.float32
    assert (p >= 0).all() and np.allclose(p.sum(-1), 1.0, atol=1e-5)
    assert sequence_posteriors(clf, x[:0]).shape == (0, t, K)


@pytest.mark.parametrize("kind", SEQUENCE_KINDS)
def test_outputs_are_causal(kind):
    """Changing frames after t leaves the posteriors up to t unchanged, and does change the later ones."""
    clf = SequenceClassifier(K, (HW, HW), tiny(kind, seed=4))
    x, _ = toy(6, seed=5, t=6)
    before = sequence_posteriors(clf, x)
    rng = np.random.default_rng(6)
    for t in (0, 2, 4):
        changed = x.copy()
        changed[:, t + 1 :] = rng.integers(0, 256, size=changed[:, t + 1 :].shape, dtype=np.uint8)
        after = sequence_posteriors(clf, changed)
        np.testing.assert_allclose(after[:, : t + 1], before[:, : t + 1], rtol=0, atol=1e-6)
        assert np.abs(after[:, t + 1 :] - before[:, t + 1 :]).max() > 1e-4  # the check can see a change
    # A prefix alone gives the same posteriors as the full sequence up to its end.
    np.testing.assert_allclose(sequence_posteriors(clf, x[:, :3]), before[:, :3], rtol=0, atol=1e-6)


def test_convlstm_pools_space_only():
    clf = SequenceClassifier(K, (HW, HW), tiny("convlstm"))
    assert tuple(clf.model.pool.kernel_size) == (1, 2, 2)


def test_convlstm_cell_matches_the_textbook_recurrence():
    """The cell's split input/hidden convolutions equal one convolution of [x, h] (Shi et al. 2015)."""
    torch.manual_seed(0)
    cell = ConvLSTMCell(3, 4)
    x = torch.randn(2, 4, 3, 6, 6)
    w = torch.cat([cell.input_conv.weight, cell.hidden_conv.weight], dim=1)
    h = c = torch.zeros(2, 4, 6, 6)
    expected = []
    for t in range(x.shape[1]):
        i, f, g, o = F.conv2d(torch.cat([x[:, t], h], 1), w, cell.input_conv.bias, padding=1).chunk(4, 1)
        c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
        h = torch.sigmoid(o) * torch.tanh(c)
        expected.append(h)
    with torch.no_grad():
        torch.testing.assert_close(cell(x), torch.stack(expected, 1), rtol=1e-5, atol=1e-6)


# ---------------------------------------------------------------------------------------------- learning
@pytest.mark.parametrize("kind", SEQUENCE_KINDS)
def test_learns_a_separable_toy_set(kind, trained, data):
    clf, report = trained[kind]
    p = sequence_posteriors(clf, data["xt"])
    per_frame = (p.argmax(-1) == data["yt"][:, None]).mean(0)
    assert per_frame[-1] >= 0.8, per_frame  # chance is 1/3
    # Frame 0 holds no information: a model that peeked at later frames would get it right.
    assert per_frame[0] <= 0.6, per_frame
    assert 1 <= report.best_epoch <= report.epochs_run <= 12 and report.n_train == 60
    assert len(report.val_accuracy_per_frame) == T and report.val_accuracy_last == report.val_accuracy_per_frame[-1]
    assert report.val_accuracy_last >= 0.8 and report.seconds > 0 and not report.from_cache


def test_training_is_deterministic_for_a_seed_and_leaves_the_global_rng(data, tmp_path):
    args = (data["x"][:30], data["y"][:30], data["xv"], data["yv"], K)
    rng_state = torch.get_rng_state()
    runs = [train_sequence_classifier(*args, tiny("cnn_lstm", epochs=3), cache_dir=tmp_path / d) for d in "ab"]
    assert torch.equal(torch.get_rng_state(), rng_state)
    (a, ra), (b, rb) = runs
    assert not ra.from_cache and not rb.from_cache
    wa, wb = weights(a), weights(b)
    assert wa.keys() == wb.keys() and all(torch.equal(wa[k], wb[k]) for k in wa)
    assert ra.val_accuracy_per_frame == rb.val_accuracy_per_frame and ra.best_val_loss == rb.best_val_loss
    other, _ = train_sequence_classifier(*args, tiny("cnn_lstm", epochs=3, seed=1), cache_dir=tmp_path)
    assert any(not torch.equal(wa[k], v) for k, v in weights(other).items())


# ---------------------------------------------------------------------------------------------- cache
def _small(data) -> tuple[np.ndarray, ...]:
    return data["x"][:20], data["y"][:20], data["xv"][:10], data["yv"][:10]


def test_second_call_loads_the_cache_without_training(data, tmp_path, monkeypatch):
    args = (*_small(data), K, tiny("cnn_avg", epochs=2))
    first, report = train_sequence_classifier(*args, cache_dir=tmp_path)
    assert not report.from_cache

    def no_training(*_args, **_kwargs):
        raise AssertionError("trained again instead of loading the cache")

    monkeypatch.setattr(sequence, "_fit", no_training)
    second, cached = train_sequence_classifier(*args, cache_dir=tmp_path)
    assert cached.from_cache and cached.val_accuracy_per_frame == report.val_accuracy_per_frame
    np.testing.assert_array_equal(sequence_posteriors(second, data["xt"]), sequence_posteriors(first, data["xt"]))
    # Device and threads are not part of the key; the data fingerprint, K and the learned config are.
    _, again = train_sequence_classifier(*args[:-1], replace(args[-1], num_threads=None), cache_dir=tmp_path)
    assert again.from_cache
    with pytest.raises(AssertionError, match="trained again"):
        train_sequence_classifier(*args[:-1], replace(args[-1], lr=5e-3), cache_dir=tmp_path)
    with pytest.raises(AssertionError, match="trained again"):
        train_sequence_classifier(*args, cache_dir=tmp_path, data_fingerprint="another data set")


def test_the_default_cache_dir_is_the_package_cache(data, monkeypatch, tmp_path):
    monkeypatch.setenv("FER_SELECT_CACHE_DIR", str(tmp_path))
    train_sequence_classifier(*_small(data), K, tiny("cnn_avg", epochs=1))
    assert len(list((tmp_path / "sequence_classifiers").glob("*.pt"))) == 1


def test_fingerprint_follows_the_data(data):
    x, y, xv, yv = _small(data)
    fp = sequence_data_fingerprint(x, y, xv, yv)
    assert fp == sequence_data_fingerprint(x.copy(), y.copy(), xv, yv) and len(fp) == 64
    changed = x.copy()
    changed[0, 0, 0, 0] ^= 1
    assert sequence_data_fingerprint(changed, y, xv, yv) != fp
    assert sequence_data_fingerprint(xv, yv, x, y) != fp  # train and val swapped


def test_a_stale_or_damaged_entry_is_rebuilt_with_a_warning(data, tmp_path):
    args = (*_small(data), K, tiny("convlstm", epochs=1))
    train_sequence_classifier(*args, cache_dir=tmp_path)
    inputs = sequence_cache_inputs(sequence_data_fingerprint(*_small(data)), K, args[-1])
    path = sequence_cache_path(inputs, tmp_path)
    entry = load_tensor_file(path)
    entry["inputs"]["version"] = "0.0.0-old"
    path.write_bytes(tensor_file_bytes(entry))
    with pytest.warns(CacheWarning, match="version"):
        _, report = train_sequence_classifier(*args, cache_dir=tmp_path)
    assert not report.from_cache
    _, report = train_sequence_classifier(*args, cache_dir=tmp_path)  # rewritten: loads without a warning
    assert report.from_cache

    path.write_bytes(b"not a torch file")
    with pytest.warns(CacheWarning, match="unreadable"):
        _, report = train_sequence_classifier(*args, cache_dir=tmp_path)
    assert not report.from_cache


class _Planted:
    marker: Path

    def __reduce__(self):
        return (Path.touch, (self.marker,))


def test_a_planted_pickle_is_refused_unrun(data, tmp_path):
    args = (*_small(data), K, tiny("cnn_avg", epochs=1))
    path = sequence_cache_path(sequence_cache_inputs(sequence_data_fingerprint(*_small(data)), K, args[-1]), tmp_path)
    planted = _Planted()
    planted.marker = tmp_path / "ran"
    path.write_bytes(pickle.dumps({"cache_format": 1, "payload": planted}, protocol=2))
    with pytest.warns(CacheWarning, match="unreadable"):
        _, report = train_sequence_classifier(*args, cache_dir=tmp_path)
    assert not report.from_cache and not planted.marker.exists()


def test_state_dict_round_trip(trained, data):
    clf, _ = trained["cnn_lstm"]
    copy = SequenceClassifier(K, (HW, HW), replace(clf.config, num_threads=None))
    copy.load_state_dict(clf.state_dict())
    np.testing.assert_array_equal(sequence_posteriors(copy, data["xt"]), sequence_posteriors(clf, data["xt"]))
    with pytest.raises(ValueError, match="different SequenceClassifierConfig"):
        SequenceClassifier(K, (HW, HW), replace(clf.config, hidden=4)).load_state_dict(clf.state_dict())
    with pytest.raises(ValueError, match="classes"):
        SequenceClassifier(K + 1, (HW, HW), clf.config).load_state_dict(clf.state_dict())


# ---------------------------------------------------------------------------------------------- grad modes
def test_posteriors_under_no_grad_and_inference_mode(trained, data):
    clf, _ = trained["convlstm"]
    clf.model.train()  # posteriors switch to eval mode themselves
    reference = sequence_posteriors(clf, data["xt"][:8])
    assert not clf.model.training
    with torch.no_grad():
        np.testing.assert_array_equal(sequence_posteriors(clf, data["xt"][:8]), reference)
    with torch.inference_mode():
        np.testing.assert_array_equal(sequence_posteriors(clf, data["xt"][:8]), reference)


def test_training_works_under_inference_mode(data, tmp_path):
    with torch.inference_mode():
        clf, report = train_sequence_classifier(*_small(data), K, tiny("cnn_lstm", epochs=1), cache_dir=tmp_path)
    assert report.epochs_run == 1 and all(p.requires_grad and not p.is_inference() for p in clf.model.parameters())


# ---------------------------------------------------------------------------------------------- input checks
def test_config_round_trip_and_defaults():
    cfg = SequenceClassifierConfig()
    assert cfg.kind == "cnn_lstm" and cfg.device == "cpu" and cfg.num_threads == 1
    assert SequenceClassifierConfig.from_dict(cfg.to_dict()) == cfg
    assert "device" not in cfg.learned_dict() and "kind" in cfg.learned_dict()
    with pytest.raises(ValueError, match="unknown SequenceClassifierConfig field"):
        SequenceClassifierConfig.from_dict({**cfg.to_dict(), "widht": 3})


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"kind": "gru"}, "kind"),
        ({"width": 0}, "width"),
        ({"hidden": 2.0}, "hidden"),
        ({"epochs": True}, "epochs"),
        ({"patience": -1}, "patience"),
        ({"dropout": 1.0}, "dropout"),
        ({"lr": 0.0}, "lr"),
        ({"lr": float("nan")}, "lr"),
        ({"monitor": "loss"}, "monitor"),
        ({"seed": -1}, "seed"),
        ({"num_threads": 0}, "num_threads"),
        ({"device": "warp-drive"}, "device"),
    ],
)
def test_bad_config_fields(overrides, field):
    with pytest.raises(ValueError, match=rf"SequenceClassifierConfig\.{field}"):
        SequenceClassifierConfig(**overrides)


@pytest.mark.parametrize(
    ("change", "argument"),
    [
        (lambda a: a.update(x_train=a["x_train"][:, 0]), "x_train"),  # 3-D
        (lambda a: a.update(x_train=a["x_train"].astype(np.float32)), "x_train"),
        (lambda a: a.update(x_train=a["x_train"][:, :1], x_val=a["x_val"][:, :1]), "x_train"),  # T = 1
        (lambda a: a.update(x_train=a["x_train"][:0], y_train=a["y_train"][:0]), "x_train"),
        (lambda a: a.update(y_train=a["y_train"][:-1]), "y_train"),  # length mismatch
        (lambda a: a.update(y_train=a["y_train"] + K), "y_train"),  # out of range
        (lambda a: a.update(y_train=a["y_train"].astype(np.float64)), "y_train"),
        (lambda a: a.update(y_val=-a["y_val"] - 1), "y_val"),
        (lambda a: a.update(x_val=a["x_val"][:, :3]), "x_val"),  # other T than x_train
        (lambda a: a.update(x_val=a["x_val"][:0], y_val=a["y_val"][:0]), "x_val"),
        (lambda a: a.update(num_classes=1), "num_classes"),
        (lambda a: a.update(config={"kind": "cnn_avg"}), "config"),
        (lambda a: a.update(data_fingerprint=""), "data_fingerprint"),
    ],
)
def test_bad_training_inputs(change, argument, data, tmp_path):
    x, y, xv, yv = _small(data)
    args = {"x_train": x, "y_train": y, "x_val": xv, "y_val": yv, "num_classes": K, "config": tiny("cnn_avg")}
    change(args)
    with pytest.raises(ValueError, match=argument):
        train_sequence_classifier(**args, cache_dir=tmp_path)


def test_bad_posterior_inputs(data):
    clf = SequenceClassifier(K, (HW, HW), tiny("cnn_avg"))
    with pytest.raises(ValueError, match="frames: expected frames of"):
        sequence_posteriors(clf, np.zeros((2, T, HW + 1, HW), np.uint8))
    with pytest.raises(ValueError, match="frames: frames must be uint8"):
        sequence_posteriors(clf, data["xt"].astype(np.int16))
    with pytest.raises(ValueError, match="frames: expected uint8 frames of shape"):
        sequence_posteriors(clf, data["xt"][0])
    with pytest.raises(ValueError, match="batch_size"):
        sequence_posteriors(clf, data["xt"], batch_size=0)
    with pytest.raises(ValueError, match="model: must be a SequenceClassifier"):
        sequence_posteriors(clf.model, data["xt"])
    with pytest.raises(ValueError, match="frame_shape"):
        SequenceClassifier(K, (HW,), tiny("cnn_avg"))


def test_num_threads_applies_to_the_calls_and_is_restored(data):
    clf = SequenceClassifier(K, (HW, HW), tiny("cnn_avg", num_threads=1))
    seen = []
    clf.model.register_forward_hook(lambda *_: seen.append(torch.get_num_threads()))
    torch.set_num_threads(2)
    try:
        sequence_posteriors(clf, data["xt"][:2])
        assert seen == [1] and torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(1)


def test_monitoring_the_last_frame_accuracy(data, tmp_path):
    cfg = tiny("cnn_avg", epochs=3, monitor="val_accuracy")
    _, report = train_sequence_classifier(*_small(data), K, cfg, cache_dir=tmp_path)
    assert 1 <= report.best_epoch <= report.epochs_run == 3 and not report.stopped_early
    assert 0.0 <= report.val_accuracy_last <= 1.0 and np.isfinite(report.best_val_loss)
