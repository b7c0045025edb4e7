"""Tests of the emotion classifier (§3.2, Fig. 3), its trainer and the cached pre-training (Algorithm 1 line 2)."""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
import pytest
import torch
from torch import nn

from fer_select_env.core.cache import CACHE_ENV_VAR
from fer_select_env.core.seeding import thread_limit
from fer_select_env.data.dataset import FERDataset
from fer_select_env.models import (
    ClassifierConfig,
    EmotionClassifier,
    EmotionCNN,
    FitReport,
    conv_channels,
    pretrain_cache_path,
    pretrain_classifier,
    resolve_device,
    vgg_channels,
)

K = 4
HW = 16
TINY = ClassifierConfig(
    width=4,
    feature_dim=32,
    batch_size=32,
    max_epochs=15,
    patience=3,
    lr=3e-3,
    head_batch_size=32,
    head_max_epochs=30,
    head_patience=4,
)


def blobs(n: int, seed: int, hw: int = HW, k: int = K, channels: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Trivially learnable images: dark noise with a bright square in quadrant ``label``."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, k, size=n)
    x = rng.integers(0, 60, size=(n, hw, hw)).astype(np.uint8)
    half = hw // 2
    for i, label in enumerate(y):
        r, c = divmod(int(label) % 4, 2)
        x[i, r * half + 1 : (r + 1) * half - 1, c * half + 1 : (c + 1) * half - 1] = 230
    if channels:
        x = np.repeat(x[..., None], channels, axis=3)
    return x, y.astype(np.int64)


def weights(clf: EmotionClassifier) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in clf.model.state_dict().items()}


def same_weights(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> bool:
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def accuracy(proba: np.ndarray, y: np.ndarray) -> float:
    return float((proba.argmax(1) == y).mean())


@pytest.fixture(scope="module", autouse=True)
def _one_thread():
    """One intra-op thread: these tensors are tiny, and on a busy 2-core machine OpenMP's spinning threads
    made this file >10× slower. Restored afterwards so other test modules are unaffected."""
    with thread_limit(1):
        yield


@pytest.fixture(scope="module")
def data() -> dict[str, np.ndarray]:
    x, y = blobs(240, seed=0)
    xv, yv = blobs(80, seed=1)
    xt, yt = blobs(120, seed=2)
    return {"x": x, "y": y, "xv": xv, "yv": yv, "xt": xt, "yt": yt}


@pytest.fixture(scope="module")
def trained(data: dict[str, np.ndarray]) -> tuple[EmotionClassifier, FitReport]:
    clf = EmotionClassifier(K, (HW, HW), TINY, seed=0)
    report = clf.fit(data["x"], data["y"], data["xv"], data["yv"], seed=0)
    return clf, report


# ---------------------------------------------------------------------- config and model
def test_paper_config_channel_plan() -> None:
    paper = ClassifierConfig.paper()
    assert paper.width == 64
    assert paper.channels == (64, 96, 128, 128, 256, 256)
    assert conv_channels(16) == (16, 24, 32, 32, 64, 64)
    assert ClassifierConfig().feature_dim == 128
    assert ClassifierConfig.paper(width=8).width == 8

    model = EmotionCNN(1, 7, (48, 48), paper)
    convs = [m for m in model.convs if isinstance(m, nn.Conv2d)]
    pools = [m for m in model.convs if isinstance(m, nn.MaxPool2d)]
    linears = [m for m in model.modules() if isinstance(m, nn.Linear)]
    assert [c.out_channels for c in convs] == [64, 96, 128, 128, 256, 256]
    assert all(c.kernel_size == (3, 3) and c.padding == (1, 1) for c in convs)
    assert len(pools) == 4 and all(p.ceil_mode for p in pools)
    assert len(linears) == 2
    assert model.dense1.in_features == 256 * 3 * 3 == model.trunk_dim
    assert model.dense1.out_features == 128 and model.dense2.out_features == 7


def test_vgg_config_is_the_fig4_vgg19_plan() -> None:
    vgg = ClassifierConfig.vgg()
    assert vgg.architecture == "vgg" and vgg.width == 64 and vgg.batch_norm
    assert vgg.channels == (64, 64, 128, 128, 256, 256, 256, 256, 512, 512, 512, 512, 512, 512, 512, 512)
    assert vgg_channels(8) == (8, 8, 16, 16, 32, 32, 32, 32, 64, 64, 64, 64, 64, 64, 64, 64)
    assert ClassifierConfig.vgg(width=16).width == 16

    model = EmotionCNN(1, 7, (48, 48), vgg)
    convs = [m for m in model.convs if isinstance(m, nn.Conv2d)]
    pools = [m for m in model.convs if isinstance(m, nn.MaxPool2d)]
    assert [c.out_channels for c in convs] == list(vgg.channels)
    assert sum(isinstance(m, nn.BatchNorm2d) for m in model.convs) == 16
    assert all(c.kernel_size == (3, 3) and c.padding == (1, 1) for c in convs)
    # Five stages, each closed by a pool: 48 → 24 → 12 → 6 → 3 → 2 (ceil mode).
    assert len(pools) == 5 and all(p.ceil_mode for p in pools)
    assert model.trunk_dim == 512 * 2 * 2
    assert model.dense1.out_features == 128 and model.dense2.out_features == 7
    # The conv stages come in VGG19's 2-2-4-4-4 blocks: a pool follows conv 2, 4, 8, 12 and 16.
    kinds = ["c" if isinstance(m, nn.Conv2d) else "p" for m in model.convs if isinstance(m, (nn.Conv2d, nn.MaxPool2d))]
    assert "".join(kinds) == "ccpccpccccpccccpccccp"


@pytest.mark.parametrize(("hw", "channels"), [((48, 48), 1), ((44, 44), 3), ((5, 7), 1)])
def test_vgg_shapes(hw: tuple[int, int], channels: int) -> None:
    cfg = ClassifierConfig.vgg(width=2, feature_dim=16, max_epochs=2)
    model = EmotionCNN(channels, 7, hw, cfg).eval()
    expected = cfg.channels[-1] * math.ceil(hw[0] / 32) * math.ceil(hw[1] / 32)
    assert model.trunk_dim == expected
    z = model.trunk(torch.rand(2, channels, *hw))
    assert z.shape == (2, expected) and model.head_features(z).shape == (2, 16)


def test_vgg_classifier_learns_and_round_trips(data: dict) -> None:
    cfg = ClassifierConfig.vgg(width=4, feature_dim=32, lr=3e-3, batch_size=32, max_epochs=15, patience=3)
    clf = EmotionClassifier(K, (HW, HW), cfg, seed=0)
    report = clf.fit(data["x"], data["y"], data["xv"], data["yv"], seed=0)
    assert report.epochs_run >= 1
    assert accuracy(clf.predict_proba(data["xt"]), data["yt"]) > 0.6  # chance is 0.25
    twin = EmotionClassifier(K, (HW, HW), ClassifierConfig.from_dict(cfg.to_dict()), seed=1)
    twin.load_state_dict(clf.state_dict())
    np.testing.assert_array_equal(twin.predict_proba(data["xt"]), clf.predict_proba(data["xt"]))
    fig3 = EmotionClassifier(K, (HW, HW), TINY, seed=0)
    with pytest.raises(ValueError):
        fig3.load_state_dict(clf.state_dict())


def test_config_validation_and_round_trip() -> None:
    cfg = ClassifierConfig(width=8, dropout=0.3)
    assert ClassifierConfig.from_dict(cfg.to_dict()) == cfg
    bad_fields = ({"width": 0}, {"dropout": 1.0}, {"lr": 0.0}, {"batch_size": 2.5}, {"patience": -1})
    for bad in (*bad_fields, {"architecture": "vgg19"}):
        with pytest.raises(ValueError):
            ClassifierConfig(**bad)
    with pytest.raises(ValueError):
        ClassifierConfig.from_dict({"width": 8, "nope": 1})


@pytest.mark.parametrize(
    ("hw", "channels"), [((48, 48), 1), ((16, 16), 1), ((16, 16), 3), ((100, 100), 3), ((5, 7), 1), ((1, 1), 1)]
)
def test_model_shapes(hw: tuple[int, int], channels: int) -> None:
    cfg = ClassifierConfig(width=4, feature_dim=24)
    model = EmotionCNN(channels, 7, hw, cfg).eval()
    x = torch.rand(3, channels, *hw)
    expected_trunk = cfg.channels[5] * math.ceil(hw[0] / 16) * math.ceil(hw[1] / 16)
    assert model.trunk_dim == expected_trunk
    z = model.trunk(x)
    assert z.shape == (3, expected_trunk)
    feats = model.head_features(z)
    assert feats.shape == (3, 24) and bool((feats >= 0).all())  # post-ReLU state feature
    assert model(x).shape == (3, 7)
    assert torch.allclose(model.head_logits(z), model(x))


def test_reset_head_changes_only_the_head() -> None:
    model = EmotionCNN(1, 7, (16, 16), ClassifierConfig(width=4))
    before = {k: v.clone() for k, v in model.state_dict().items()}
    model.reset_head()
    after = model.state_dict()
    for name, value in before.items():
        changed = not torch.equal(value, after[name])
        if name.startswith("dense") and name.endswith("weight"):
            assert changed, name
        elif not name.startswith("dense"):
            assert not changed, name


# ---------------------------------------------------------------------- classifier inference
@pytest.mark.parametrize("shape", [(48, 48), (16, 16), (16, 16, 3)])
def test_classifier_output_shapes(shape: tuple[int, ...]) -> None:
    cfg = ClassifierConfig(width=4, feature_dim=20)
    clf = EmotionClassifier(7, shape, cfg, seed=0)
    x = np.random.default_rng(0).integers(0, 256, size=(5, *shape), dtype=np.uint8)
    z = clf.conv_features(x)
    assert z.dtype == np.float32 and z.shape == (5, clf.trunk_dim)
    f = clf.features(x)
    assert f.dtype == np.float32 and f.shape == (5, 20) and (f >= 0).all()
    p = clf.predict_proba(x)
    assert p.shape == (5, 7) and np.allclose(p.sum(1), 1.0, atol=1e-5) and (p >= 0).all()
    np.testing.assert_allclose(clf.head_features(z), f, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(clf.head_proba(z), p, rtol=1e-5, atol=1e-6)
    assert clf.predict(x).shape == (5,)
    # Inference is deterministic (eval mode: no dropout) and batch-size independent.
    small = EmotionClassifier(7, shape, replace(cfg, eval_batch_size=2), seed=0)
    np.testing.assert_allclose(small.predict_proba(x), p, rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(clf.predict_proba(x), p)


def test_input_validation() -> None:
    clf = EmotionClassifier(K, (HW, HW), TINY, seed=0)
    x, y = blobs(4, seed=0)
    with pytest.raises(ValueError, match="uint8"):
        clf.predict_proba(x.astype(np.float32))
    with pytest.raises(ValueError, match="shape"):
        clf.predict_proba(np.zeros((4, 8, 8), np.uint8))
    with pytest.raises(ValueError, match="labels"):
        clf.fit(x, y + K, x, y, seed=0)
    with pytest.raises(ValueError, match="strategy"):
        clf.fit(x, y, x, y, seed=0, strategy="bogus")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="conv features"):
        clf.fit_head(np.zeros((4, 3), np.float32), y, np.zeros((4, 3), np.float32), y, seed=0)
    assert resolve_device("auto").type == ("cuda" if torch.cuda.is_available() else "cpu")


# ---------------------------------------------------------------------- training
def test_learns_a_trivial_task(trained: tuple[EmotionClassifier, FitReport], data: dict) -> None:
    clf, report = trained
    assert report.n_train == len(data["y"]) and report.epochs_run >= 1
    assert 1 <= report.best_epoch <= report.epochs_run
    acc = accuracy(clf.predict_proba(data["xt"]), data["yt"])
    assert acc >= 0.9, acc  # chance is 0.25
    # The restored weights are the best-validation ones: the reported loss is reproducible.
    proba = clf.predict_proba(data["xv"])
    val_loss = float(-np.log(proba[np.arange(len(data["yv"])), data["yv"]]).mean())
    assert val_loss == pytest.approx(report.best_val_loss, rel=1e-4, abs=1e-5)


def test_early_stopping_uses_the_validation_split(data: dict) -> None:
    clf = EmotionClassifier(K, (HW, HW), TINY, seed=0)
    wrong_val = (data["yv"] + 1) % K  # the better the fit to train, the worse on this val split
    report = clf.fit(data["x"], data["y"], data["xv"], wrong_val, seed=0, max_epochs=30)
    assert report.stopped_early
    assert report.epochs_run < 30
    assert report.epochs_run == max(report.best_epoch + TINY.patience, TINY.min_epochs)
    proba = clf.predict_proba(data["xv"])
    restored_loss = float(-np.log(proba[np.arange(len(wrong_val)), wrong_val]).mean())
    assert restored_loss == pytest.approx(report.best_val_loss, rel=1e-4, abs=1e-5)


def test_min_epochs_delays_early_stopping_from_scratch_only(data: dict) -> None:
    wrong_val = (data["yv"] + 1) % K
    no_floor = replace(TINY, min_epochs=0)
    report = EmotionClassifier(K, (HW, HW), no_floor, seed=0).fit(
        data["x"], data["y"], data["xv"], wrong_val, seed=0, max_epochs=30
    )
    assert report.epochs_run == report.best_epoch + TINY.patience < 12
    floor = replace(TINY, min_epochs=12)
    clf = EmotionClassifier(K, (HW, HW), floor, seed=0)
    assert clf.fit(data["x"], data["y"], data["xv"], wrong_val, seed=0, max_epochs=30).epochs_run == 12
    # Fine-tuning does not start on the initial plateau, so the floor does not apply to it.
    tuned = clf.fit(data["x"], data["y"], data["xv"], wrong_val, seed=1, strategy="finetune", max_epochs=30)
    assert tuned.epochs_run < 12


def test_finetune_continues_from_current_weights(trained: tuple, data: dict) -> None:
    clf = trained[0].clone()
    before = accuracy(clf.predict_proba(data["xt"]), data["yt"])
    report = clf.fit(data["x"], data["y"], data["xv"], data["yv"], seed=5, strategy="finetune", max_epochs=1)
    assert report.epochs_run == 1
    # One fine-tuning epoch keeps the accuracy; one epoch from scratch would not reach it.
    assert accuracy(clf.predict_proba(data["xt"]), data["yt"]) >= before - 0.05
    scratch = trained[0].clone()
    scratch.fit(data["x"], data["y"], data["xv"], data["yv"], seed=5, strategy="scratch", max_epochs=1)
    assert accuracy(scratch.predict_proba(data["xt"]), data["yt"]) < before


def test_head_on_conv_features_matches_full_model(trained: tuple, data: dict) -> None:
    clf = trained[0].clone()
    full_acc = accuracy(clf.predict_proba(data["xt"]), data["yt"])
    z, zv, zt = (clf.conv_features(data[k]) for k in ("x", "xv", "xt"))
    report = clf.fit_head(z, data["y"], zv, data["yv"], seed=0, init="random")
    assert report.epochs_run >= 1 and report.n_train == len(z)
    head_acc = accuracy(clf.head_proba(zt), data["yt"])
    assert head_acc >= full_acc - 0.05, (head_acc, full_acc)
    # The trunk is untouched by head training.
    trunk_before = {k: v for k, v in trained[0].model.state_dict().items() if not k.startswith("dense")}
    trunk_after = {k: v for k, v in clf.model.state_dict().items() if not k.startswith("dense")}
    assert same_weights(trunk_before, trunk_after)


def test_fit_head_random_vs_current_init(trained: tuple, data: dict) -> None:
    base = trained[0]
    z, zv = base.conv_features(data["x"]), base.conv_features(data["xv"])
    other = base.clone()
    other.fit_head(z, data["y"], zv, data["yv"], seed=99, init="random", max_epochs=2)
    assert not same_weights(weights(base), weights(other))

    # init="random" ignores the starting head: two different starts, same seed → same result.
    a, b = base.clone(), other.clone()
    a.fit_head(z, data["y"], zv, data["yv"], seed=3, init="random", max_epochs=2)
    b.fit_head(z, data["y"], zv, data["yv"], seed=3, init="random", max_epochs=2)
    assert same_weights(weights(a), weights(b))
    # init="current" continues from the starting head: different starts → different results.
    a, b = base.clone(), other.clone()
    a.fit_head(z, data["y"], zv, data["yv"], seed=3, init="current", max_epochs=2)
    b.fit_head(z, data["y"], zv, data["yv"], seed=3, init="current", max_epochs=2)
    assert not same_weights(weights(a), weights(b))
    # ...and a well-trained head stays good after one more epoch from "current".
    assert accuracy(a.head_proba(zv), data["yv"]) >= 0.9


def test_head_state_round_trip(trained: tuple, data: dict) -> None:
    clf = trained[0].clone()
    z, zv = clf.conv_features(data["x"]), clf.conv_features(data["xv"])
    state = clf.get_head_state()
    proba = clf.head_proba(zv)
    clf.fit_head(z, data["y"], zv, (data["yv"] + 1) % K, seed=0, max_epochs=3)
    assert not np.array_equal(clf.head_proba(zv), proba)
    clf.set_head_state(state)
    np.testing.assert_array_equal(clf.head_proba(zv), proba)
    # The saved state is a copy: training again does not alter it, and it can be restored twice.
    clf.fit_head(z, data["y"], zv, data["yv"], seed=1, max_epochs=2)
    clf.set_head_state(state)
    np.testing.assert_array_equal(clf.head_proba(zv), proba)


def test_state_dict_and_clone(trained: tuple, data: dict) -> None:
    clf = trained[0]
    state = clf.state_dict()
    rebuilt = EmotionClassifier.from_state_dict(state)
    np.testing.assert_array_equal(rebuilt.predict_proba(data["xv"]), clf.predict_proba(data["xv"]))
    fresh = EmotionClassifier(K, (HW, HW), TINY, seed=123)
    fresh.load_state_dict(state)
    assert same_weights(weights(fresh), weights(clf))
    with pytest.raises(ValueError):
        EmotionClassifier(K + 1, (HW, HW), TINY).load_state_dict(state)
    with pytest.raises(ValueError):
        EmotionClassifier(K, (HW, HW), replace(TINY, width=8)).load_state_dict(state)
    twin = clf.clone()
    assert same_weights(weights(twin), weights(clf))
    with torch.no_grad():
        next(twin.model.parameters()).add_(1.0)
    assert not same_weights(weights(twin), weights(clf))


# ---------------------------------------------------------------------- RNG discipline
def test_same_seed_same_weights_and_global_rng_untouched(data: dict) -> None:
    x, y, xv, yv = data["x"][:96], data["y"][:96], data["xv"], data["yv"]
    cfg = replace(TINY, max_epochs=2)

    torch.manual_seed(1234)
    rng_before = torch.get_rng_state()
    a = EmotionClassifier(K, (HW, HW), cfg, seed=7)
    assert torch.equal(torch.get_rng_state(), rng_before)
    b = EmotionClassifier(K, (HW, HW), cfg, seed=7)
    assert same_weights(weights(a), weights(b))
    assert not same_weights(weights(a), weights(EmotionClassifier(K, (HW, HW), cfg, seed=8)))

    rng_before = torch.get_rng_state()
    a.fit(x, y, xv, yv, seed=11)
    z, zv = a.conv_features(x), a.conv_features(xv)
    a.features(x)
    a.predict_proba(x)
    a.fit_head(z, y, zv, yv, seed=12)
    assert torch.equal(torch.get_rng_state(), rng_before)

    torch.manual_seed(999)  # a different global state must not change the outcome
    b.fit(x, y, xv, yv, seed=11)
    b.fit_head(b.conv_features(x), y, b.conv_features(xv), yv, seed=12)
    assert same_weights(weights(a), weights(b))

    c = EmotionClassifier(K, (HW, HW), cfg, seed=7)
    c.fit(x, y, xv, yv, seed=13)
    assert not same_weights(weights(a), weights(c))


def test_scratch_reinitialises_from_seed(data: dict) -> None:
    x, y, xv, yv = data["x"][:64], data["y"][:64], data["xv"][:32], data["yv"][:32]
    a = EmotionClassifier(K, (HW, HW), TINY, seed=1)
    b = EmotionClassifier(K, (HW, HW), TINY, seed=2)  # different starting weights
    a.fit(x, y, xv, yv, seed=4, strategy="scratch", max_epochs=1)
    b.fit(x, y, xv, yv, seed=4, strategy="scratch", max_epochs=1)
    assert same_weights(weights(a), weights(b))


# ---------------------------------------------------------------------- degenerate inputs
def test_zero_samples_leave_weights_unchanged(trained: tuple, data: dict) -> None:
    clf = trained[0].clone()
    before = weights(clf)
    for strategy in ("scratch", "finetune"):
        report = clf.fit(data["x"][:0], data["y"][:0], data["xv"], data["yv"], seed=0, strategy=strategy)
        assert report.epochs_run == 0 and report.n_train == 0 and math.isnan(report.best_val_loss)
        assert same_weights(before, weights(clf))
    z_empty = np.zeros((0, clf.trunk_dim), np.float32)
    zv = clf.conv_features(data["xv"])
    report = clf.fit_head(z_empty, np.zeros(0, np.int64), zv, data["yv"], seed=0, init="random")
    assert report.epochs_run == 0 and report.n_train == 0
    assert same_weights(before, weights(clf))


@pytest.mark.parametrize("hw", [(HW, HW), (1, 1)])
def test_single_sample_and_single_class_train(hw: tuple[int, int], data: dict) -> None:
    clf = EmotionClassifier(K, hw, TINY, seed=0)
    x = np.full((1, *hw), 200, np.uint8)
    before = weights(clf)
    report = clf.fit(x, np.array([2]), x, np.array([2]), seed=0, max_epochs=2)
    assert report.epochs_run >= 1 and report.n_train == 1
    assert not same_weights(before, weights(clf))
    z = clf.conv_features(x)
    assert clf.fit_head(z, np.array([2]), z, np.array([2]), seed=0, max_epochs=2).epochs_run >= 1

    one_class = np.zeros(33, np.int64)  # 33 = one batch of 32 + a lone sample (merged into the batch)
    xs = np.random.default_rng(0).integers(0, 256, size=(33, *hw), dtype=np.uint8)
    report = clf.fit(xs, one_class, xs[:5], one_class[:5], seed=0, max_epochs=10)
    assert report.epochs_run >= 1 and report.best_val_loss < math.log(K)
    assert clf.predict_proba(xs)[:, 0].mean() > 1.0 / K  # moving towards the only class


def test_no_validation_samples_trains_all_epochs(data: dict) -> None:
    clf = EmotionClassifier(K, (HW, HW), TINY, seed=0)
    report = clf.fit(data["x"][:64], data["y"][:64], data["xv"][:0], data["yv"][:0], seed=0, max_epochs=2)
    assert report.epochs_run == 2 and report.best_epoch == 2 and math.isnan(report.best_val_loss)


def test_progress_bar(data: dict, capsys: pytest.CaptureFixture[str]) -> None:
    clf = EmotionClassifier(K, (HW, HW), TINY, seed=0)
    clf.fit(data["x"][:32], data["y"][:32], data["xv"][:16], data["yv"][:16], seed=0, max_epochs=1, progress=True)
    assert "fit" in capsys.readouterr().err


# ---------------------------------------------------------------------- pre-training cache
def small_dataset(seed: int = 0) -> FERDataset:
    x, y = blobs(64, seed=seed)
    xv, yv = blobs(32, seed=seed + 1)
    # The test split is pure noise with labels that do not match; pre-training must never see it.
    xt = np.random.default_rng(seed).integers(0, 256, size=(16, HW, HW), dtype=np.uint8)
    return FERDataset.from_arrays(x, y, xv, yv, xt, np.zeros(16, np.int64))


PRE = replace(TINY, max_epochs=2)


def test_pretrain_cache_hit_and_invalidation(tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:
    ds = small_dataset()
    seen: list[tuple[np.ndarray, ...]] = []
    real_fit = EmotionClassifier.fit

    def spy_fit(self, x, y, x_val, y_val, **kwargs):
        seen.append((x, y, x_val, y_val))
        return real_fit(self, x, y, x_val, y_val, **kwargs)

    monkeypatch.setattr(EmotionClassifier, "fit", spy_fit)
    clf, report = pretrain_classifier(ds, PRE, seed=0, cache_dir=tmp_path)
    assert isinstance(report, FitReport) and report.epochs_run >= 1
    assert len(seen) == 1
    x, y, xv, yv = seen[0]
    assert x is ds.x_train and y is ds.y_train and xv is ds.x_val and yv is ds.y_val  # never the test split
    path = pretrain_cache_path(ds, PRE, 0, tmp_path)
    assert path.is_file() and path.parent == tmp_path / "classifiers" and path.suffix == ".pt"

    again, report2 = pretrain_classifier(ds, PRE, seed=0, cache_dir=tmp_path)
    assert report2 is None and len(seen) == 1  # loaded, not trained
    assert same_weights(weights(clf), weights(again))

    other, report3 = pretrain_classifier(ds, PRE, seed=1, cache_dir=tmp_path)
    assert report3 is not None and len(seen) == 2
    assert pretrain_cache_path(ds, PRE, 1, tmp_path) != path
    assert not same_weights(weights(clf), weights(other))
    # Different data or config → different cache key.
    assert pretrain_cache_path(small_dataset(seed=5), PRE, 0, tmp_path) != path
    assert pretrain_cache_path(ds, replace(PRE, lr=1e-3), 0, tmp_path) != path
    assert len(list((tmp_path / "classifiers").glob("*.pt"))) == 2


def test_pretrain_recovers_from_a_corrupt_cache(tmp_path) -> None:
    ds = small_dataset()
    clf, _ = pretrain_classifier(ds, PRE, seed=0, cache_dir=tmp_path)
    path = pretrain_cache_path(ds, PRE, 0, tmp_path)
    path.write_bytes(b"definitely not a torch file")
    with pytest.warns(RuntimeWarning, match="unreadable classifier cache"):
        again, report = pretrain_classifier(ds, PRE, seed=0, cache_dir=tmp_path)
    assert report is not None  # retrained
    assert same_weights(weights(clf), weights(again))  # same seed → same weights
    third, report3 = pretrain_classifier(ds, PRE, seed=0, cache_dir=tmp_path)  # rewritten and readable
    assert report3 is None and same_weights(weights(clf), weights(third))


def test_pretrain_cache_dir_from_env_var(tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:
    env_dir = tmp_path / "from_env"
    monkeypatch.setenv(CACHE_ENV_VAR, str(env_dir))
    ds = small_dataset()
    _, report = pretrain_classifier(ds, PRE, seed=0)
    assert report is not None
    assert len(list((env_dir / "classifiers").glob("*.pt"))) == 1
    _, report = pretrain_classifier(ds, PRE, seed=0)
    assert report is None
    # An explicit cache_dir wins over the environment variable.
    arg_dir = tmp_path / "from_arg"
    _, report = pretrain_classifier(ds, PRE, seed=0, cache_dir=arg_dir)
    assert report is not None and len(list((arg_dir / "classifiers").glob("*.pt"))) == 1


# ---------------------------------------------------------------------- weight averaging
def float_weights(clf: EmotionClassifier) -> dict[str, torch.Tensor]:
    return {k: v for k, v in weights(clf).items() if v.is_floating_point()}


def test_weight_average_with_a_vanishing_horizon_is_the_plain_fit(data: dict) -> None:
    """An average over ~0 steps is the live weights, so validation picks the same epoch and weights."""
    x, y, xv, yv = data["x"][:96], data["y"][:96], data["xv"], data["yv"]
    plain = EmotionClassifier(K, (HW, HW), TINY, seed=0)
    averaged = EmotionClassifier(K, (HW, HW), TINY, seed=0)
    a = plain.fit(x, y, xv, yv, seed=3, max_epochs=4)
    b = averaged.fit(x, y, xv, yv, seed=3, max_epochs=4, ema_epochs=1e-9)
    assert (a.epochs_run, a.best_epoch) == (b.epochs_run, b.best_epoch)
    assert float_weights(plain).keys() == float_weights(averaged).keys()
    for key, value in float_weights(plain).items():
        torch.testing.assert_close(float_weights(averaged)[key], value)


def test_weight_average_keeps_the_average_and_is_seeded(data: dict) -> None:
    x, y = data["x"][:96], data["y"][:96]
    empty_x, empty_y = data["xv"][:0], data["yv"][:0]
    runs = []
    for ema in (None, 2.0, 2.0):
        clf = EmotionClassifier(K, (HW, HW), TINY, seed=0)
        # No validation rows: the plain fit keeps its last weights, the averaged one the last average.
        report = clf.fit(x, y, empty_x, empty_y, seed=5, max_epochs=3, ema_epochs=ema)
        assert report.epochs_run == 3
        runs.append(float_weights(clf))
    assert not same_weights(runs[0], runs[1])
    assert same_weights(runs[1], runs[2])


@pytest.mark.parametrize("bad", [0, -1.0, float("nan")])
def test_weight_average_horizon_is_checked(bad: float, data: dict) -> None:
    clf = EmotionClassifier(K, (HW, HW), TINY, seed=0)
    with pytest.raises(ValueError, match="ema_epochs"):
        clf.fit(data["x"][:8], data["y"][:8], data["xv"][:4], data["yv"][:4], seed=0, ema_epochs=bad)


# ---------------------------------------------------------------------- what the kept epoch goes by
def test_monitor_picks_the_epoch_by_validation_accuracy_or_loss_on_one_trajectory(data: dict) -> None:
    """The same seed trains the same trajectory; only the kept epoch differs between the two monitors."""
    x, y, xv, yv = data["x"][:96], data["y"][:96], data["xv"], data["yv"]
    cfg = replace(TINY, patience=50)  # no early stopping: both runs see every epoch
    reports = {}
    for monitor in ("val_loss", "val_accuracy"):
        clf = EmotionClassifier(K, (HW, HW), cfg, seed=0)
        reports[monitor] = clf.fit(x, y, xv, yv, seed=3, max_epochs=8, monitor=monitor)
        kept_loss = float(
            torch.nn.functional.cross_entropy(torch.log(torch.tensor(clf.predict_proba(xv))), torch.tensor(yv))
        )
        assert math.isclose(kept_loss, reports[monitor].best_val_loss, rel_tol=1e-3)
    by_loss, by_acc = reports["val_loss"], reports["val_accuracy"]
    assert by_acc.best_val_accuracy >= by_loss.best_val_accuracy
    assert by_loss.best_val_loss <= by_acc.best_val_loss
    with pytest.raises(ValueError, match="monitor must be one of"):
        EmotionClassifier(K, (HW, HW), cfg, seed=0).fit(x, y, xv, yv, seed=3, monitor="val_f1")


def test_accuracy_monitor_breaks_ties_by_the_loss() -> None:
    from fer_select_env.models.classifier import _better

    nan = float("nan")
    assert _better(2.0, 0.1, math.inf, nan, "val_accuracy")  # the first epoch always counts
    assert _better(1.9, 0.5, 1.0, 0.4, "val_accuracy") and not _better(0.5, 0.3, 1.0, 0.4, "val_accuracy")
    assert _better(0.9, 0.4, 1.0, 0.4, "val_accuracy") and not _better(1.1, 0.4, 1.0, 0.4, "val_accuracy")
    assert _better(0.5, 0.3, 1.0, 0.4, "val_loss") and not _better(1.9, 0.5, 1.0, 0.4, "val_loss")
