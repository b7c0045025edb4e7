"""Synthetic renderer and scenarios: shapes, determinism, AU ground truth, exact noise bookkeeping."""

import numpy as np
import pytest

from fer_select_env.core.emotions import FER2013_TRAIN_CLASS_COUNTS
from fer_select_env.data import FER2013_CLASS_NAMES, FERDataset
from fer_select_env.data.dataset import NOISE_CLEAN, NOISE_HALF_FACE, NOISE_LABEL_FLIPPED, NOISE_NO_FACE
from fer_select_env.data.noise import FER_CONFUSION_MATRIX
from fer_select_env.data.scenarios import (
    SCENARIO_MIX,
    SCENARIOS,
    class_counts,
    make_synthetic_dataset,
    scenario_counts,
)
from fer_select_env.faces.action_units import ACTION_UNITS, EMOTION_AU_PROTOTYPES, sample_action_units
from fer_select_env.faces.renderer import render_faces

C = {name: i for i, name in enumerate(FER2013_CLASS_NAMES)}
A = {name: i for i, name in enumerate(ACTION_UNITS)}
SMALL = {"n_train": 140, "n_val": 35, "n_test": 42}


def _rng(seed: int = 0) -> np.random.Generator:
    return np.random.default_rng(seed)


@pytest.fixture(scope="module")
def au_by_class() -> np.ndarray:
    """Mean AU intensities per class (7 × n_AU) from 700 draws per class."""
    y = np.arange(4900) % 7
    au = sample_action_units(y, _rng())
    return np.stack([au[y == k].mean(0) for k in range(7)])


@pytest.fixture(scope="module", params=sorted(SCENARIOS))
def scenario_ds(request) -> tuple[str, FERDataset]:
    return request.param, make_synthetic_dataset(request.param, **SMALL, seed=1)


@pytest.fixture(scope="module")
def clean_ds() -> FERDataset:
    return make_synthetic_dataset("label_symmetric", **SMALL, noise_rate=0.0, seed=1)


# ------------------------------------------------------------------------------------------ AU tables
def test_action_units_and_prototypes_table():
    required = {"AU1", "AU2", "AU4", "AU5", "AU6", "AU7", "AU9", "AU12", "AU15", "AU20", "AU23", "AU25", "AU26"}
    assert required <= set(ACTION_UNITS)
    assert tuple(EMOTION_AU_PROTOTYPES) == FER2013_CLASS_NAMES
    for units in EMOTION_AU_PROTOTYPES.values():
        for au, (p, mean) in units.items():
            assert au in ACTION_UNITS and 0 < p <= 1 and 0 < mean <= 1
    assert set(EMOTION_AU_PROTOTYPES["happy"]) >= {"AU6", "AU12"}
    assert set(EMOTION_AU_PROTOTYPES["sad"]) >= {"AU1", "AU4", "AU15"}
    assert set(EMOTION_AU_PROTOTYPES["surprise"]) >= {"AU1", "AU2", "AU5", "AU26"}
    assert set(EMOTION_AU_PROTOTYPES["fear"]) >= {"AU1", "AU2", "AU4", "AU5", "AU20", "AU26"}
    assert set(EMOTION_AU_PROTOTYPES["angry"]) >= {"AU4", "AU5", "AU7", "AU23"}
    assert set(EMOTION_AU_PROTOTYPES["disgust"]) >= {"AU9", "AU15"}
    assert EMOTION_AU_PROTOTYPES["neutral"] == {}


def test_sample_action_units_shape_range_and_spread():
    au = sample_action_units(np.arange(70) % 7, _rng())
    assert au.shape == (70, len(ACTION_UNITS)) and au.dtype == np.float32
    assert au.min() >= 0 and au.max() <= 1
    happy = au[np.arange(70) % 7 == C["happy"], A["AU12"]]
    assert happy.std() > 0.05  # intensity varies within a class


@pytest.mark.parametrize(
    "au, top",
    [
        ("AU12", ["happy"]),
        ("AU6", ["happy"]),
        ("AU9", ["disgust"]),
        ("AU20", ["fear"]),
        ("AU23", ["angry"]),
        ("AU7", ["angry"]),
        ("AU2", ["surprise", "fear"]),
        ("AU26", ["surprise", "fear"]),
        ("AU1", ["surprise", "fear", "sad"]),
        ("AU15", ["sad", "disgust"]),
        ("AU4", ["angry", "sad", "fear", "disgust"]),
    ],
)
def test_class_means_follow_prototypes(au_by_class, au, top):
    col = au_by_class[:, A[au]]
    ranked = [FER2013_CLASS_NAMES[k] for k in np.argsort(-col)]
    assert set(ranked[: len(top)]) == set(top), (au, ranked)
    # the prototype classes stand clearly above the rest
    assert col[[C[t] for t in top]].min() > col[[C[r] for r in ranked[len(top) :]]].max() + 0.15


def test_neutral_has_only_background_activation(au_by_class):
    assert au_by_class[C["neutral"]].max() < 0.05
    assert au_by_class[C["neutral"]].sum() < au_by_class[np.arange(7) != C["neutral"]].sum(1).min()


def test_sample_action_units_rejects_bad_labels():
    with pytest.raises(ValueError, match="labels"):
        sample_action_units(np.array([0, 7]), _rng())
    with pytest.raises(ValueError, match="labels"):
        sample_action_units(np.array([0.0, 1.0]), _rng())
    with pytest.raises(ValueError, match="rng"):
        sample_action_units(np.array([0, 1]), 0)


# ---------------------------------------------------------------------------------------------- render
@pytest.mark.parametrize("size", [16, 32, 48, 64, 96])
def test_render_faces_sizes(size):
    au = sample_action_units(np.arange(14) % 7, _rng())
    x = render_faces(au, _rng(), image_size=size)
    assert x.shape == (14, size, size) and x.dtype == np.uint8
    assert x.std(axis=(1, 2)).min() > 5  # something is drawn


def test_render_faces_deterministic_given_rng_state():
    au = sample_action_units(np.arange(21) % 7, _rng())
    a, b, c = render_faces(au, _rng(1)), render_faces(au, _rng(1)), render_faces(au, _rng(2))
    assert np.array_equal(a, b)
    assert not np.array_equal(a, c)
    assert len({img.tobytes() for img in a}) == len(a)  # identities/nuisances differ between faces


def _mean_abs_diff_by_half(au_a: np.ndarray, au_b: np.ndarray) -> tuple[float, float]:
    """Same identities and nuisances (same rng seed), different AUs: how much changes above/below mid-face."""
    xa = render_faces(au_a, _rng(7), image_size=64).astype(float)
    xb = render_faces(au_b, _rng(7), image_size=64).astype(float)
    d = np.abs(xa - xb).mean(0)
    return float(d[:30].mean()), float(d[34:].mean())


def test_mouth_units_change_the_lower_face_and_brow_units_the_upper():
    base = np.zeros((40, len(ACTION_UNITS)), np.float32)
    smile = base.copy()
    smile[:, [A["AU12"], A["AU25"]]] = 1.0
    brows = base.copy()
    brows[:, [A["AU1"], A["AU2"], A["AU5"]]] = 1.0
    up, low = _mean_abs_diff_by_half(base, smile)
    assert low > 2 * up and low > 1.0
    up, low = _mean_abs_diff_by_half(base, brows)
    assert up > 2 * low and up > 1.0


def test_render_faces_rejects_bad_arguments():
    au = np.zeros((2, len(ACTION_UNITS)), np.float32)
    with pytest.raises(ValueError, match="action_units"):
        render_faces(au[:, :5], _rng())
    with pytest.raises(ValueError, match="action_units"):
        render_faces(au + 1.5, _rng())
    with pytest.raises(ValueError, match="image_size"):
        render_faces(au, _rng(), image_size=8)
    with pytest.raises(ValueError, match="image_size"):
        render_faces(au, _rng(), image_size=48.0)


# --------------------------------------------------------------------------------------------- dataset
def test_dataset_shapes_dtypes_and_extras(clean_ds):
    ds = clean_ds
    assert isinstance(ds, FERDataset) and ds.class_names == FER2013_CLASS_NAMES
    assert ds.x_train.shape == (140, 48, 48) and ds.x_train.dtype == np.uint8
    assert ds.x_val.shape == (35, 48, 48) and ds.x_test.shape == (42, 48, 48)
    for extras, n in ((ds.extras, 140), (ds.extras_val, 35), (ds.extras_test, 42)):
        assert extras["action_units"].shape == (n, len(ACTION_UNITS))
        assert extras["action_units"].dtype == np.float32
    assert np.array_equal(ds.extras["true_label"], ds.y_train)
    assert np.array_equal(ds.noise_train, np.zeros(140))
    assert np.all(ds.extras["half_face_side"] == -1)
    assert np.all(np.bincount(ds.y_train, minlength=7) == 20)  # balanced
    assert np.bincount(ds.y_test, minlength=7).min() == 6


def test_stored_action_units_match_the_labels(clean_ds):
    au, y = clean_ds.extras["action_units"], clean_ds.y_train
    happy = au[y == C["happy"], A["AU12"]].mean()
    assert happy > au[y != C["happy"], A["AU12"]].max() * 0.5
    assert au[y == C["surprise"], A["AU26"]].mean() > au[y == C["neutral"], A["AU26"]].mean() + 0.3


def test_dataset_deterministic_given_seed():
    a = make_synthetic_dataset("mixed", **SMALL, seed=3)
    b = make_synthetic_dataset("mixed", **SMALL, seed=3)
    c = make_synthetic_dataset("mixed", **SMALL, seed=4)
    assert a.fingerprint() == b.fingerprint()
    assert np.array_equal(a.extras["action_units"], b.extras["action_units"])
    assert a.fingerprint() != c.fingerprint()
    assert not np.array_equal(a.x_test, c.x_test)


def test_splits_are_rendered_independently():
    # Equal sizes: splits drawn from one shared stream would come out identical.
    ds = make_synthetic_dataset("label_symmetric", n_train=35, n_val=35, n_test=35, noise_rate=0.0, seed=1)
    for a, b in (("train", "val"), ("train", "test"), ("val", "test")):
        xa, xb = ds.split(a)[0], ds.split(b)[0]
        assert not any(np.array_equal(u, v) for u in xa for v in xb), (a, b)
    assert not np.array_equal(ds.extras_val["action_units"], ds.extras_test["action_units"])


@pytest.mark.parametrize("size", [16, 32, 64, 96])
def test_dataset_image_size(size):
    ds = make_synthetic_dataset("face", n_train=28, n_val=7, n_test=7, image_size=size)
    assert ds.image_shape == (size, size)


def test_val_and_test_stay_clean(scenario_ds):
    _, ds = scenario_ds
    assert np.array_equal(ds.y_val, ds.extras_val["true_label"])
    assert np.array_equal(ds.y_test, ds.extras_test["true_label"])


def test_exact_noise_counts_per_scenario(scenario_ds):
    name, ds = scenario_ds
    kinds = np.bincount(ds.noise_train, minlength=4)
    n = len(ds.y_train)
    mix = SCENARIO_MIX[name]
    flips = round(mix.get("symmetric", mix.get("confusion", 0.0)) * n)
    assert kinds[NOISE_LABEL_FLIPPED] == flips
    assert kinds[NOISE_HALF_FACE] == round(mix.get("half_face", 0.0) * n)
    assert kinds[NOISE_NO_FACE] == round(mix.get("no_face", 0.0) * n)
    assert kinds.sum() == n


def test_noise_kinds_match_what_happened(scenario_ds, clean_ds):
    _, ds = scenario_ds
    kind, y, true = ds.noise_train, ds.y_train, ds.extras["true_label"]
    # Same seed: the clean rendering of the train split is shared; noise comes from its own stream.
    assert np.array_equal(true, clean_ds.y_train)
    flipped = kind == NOISE_LABEL_FLIPPED
    assert np.all(y[flipped] != true[flipped]) and np.array_equal(y[~flipped], true[~flipped])
    image_noise = (kind == NOISE_HALF_FACE) | (kind == NOISE_NO_FACE)
    assert np.array_equal(ds.x_train[~image_noise], clean_ds.x_train[~image_noise])
    for i in np.flatnonzero(image_noise):
        assert np.abs(ds.x_train[i].astype(int) - clean_ds.x_train[i].astype(int)).mean() > 3
    sides = ds.extras["half_face_side"]
    assert np.all((sides >= 0) == (kind == NOISE_HALF_FACE))
    assert set(np.unique(kind)) <= {NOISE_CLEAN, NOISE_LABEL_FLIPPED, NOISE_HALF_FACE, NOISE_NO_FACE}


def test_confusion_scenario_flips_to_partner_classes():
    ds = make_synthetic_dataset("label_confusion", n_train=700, n_val=7, n_test=7, image_size=16, seed=2)
    flipped = ds.noise_train == NOISE_LABEL_FLIPPED
    assert flipped.sum() == 210
    assert np.all(FER_CONFUSION_MATRIX[ds.extras["true_label"][flipped], ds.y_train[flipped]] > 0)


def test_no_face_images_uncorrelated_with_the_faces_they_replace(clean_ds):
    ds = make_synthetic_dataset("face", **SMALL, seed=1)
    idx = np.flatnonzero(ds.noise_train == NOISE_NO_FACE)
    corr = [np.corrcoef(ds.x_train[i].ravel(), clean_ds.x_train[i].ravel())[0, 1] for i in idx]
    assert abs(np.mean(corr)) < 0.15
    # while half faces keep part of the face
    half = np.flatnonzero(ds.noise_train == NOISE_HALF_FACE)
    corr_half = [np.corrcoef(ds.x_train[i].ravel(), clean_ds.x_train[i].ravel())[0, 1] for i in half]
    assert np.mean(corr_half) > np.mean(corr) + 0.2


@pytest.mark.parametrize("rate", [0.0, 0.1, 0.45, 1.0])
@pytest.mark.parametrize("scenario", ["label_symmetric", "face", "mixed"])
def test_noise_rate_override_gives_exact_counts(scenario, rate):
    counts = scenario_counts(scenario, 1000, rate)
    assert sum(counts.values()) == round(rate * 1000)
    mix = SCENARIO_MIX[scenario]
    for kind, frac in mix.items():
        assert abs(counts[kind] - rate * frac / sum(mix.values()) * 1000) < 1


def test_noise_rate_override_in_dataset():
    ds = make_synthetic_dataset("label_symmetric", n_train=200, n_val=7, n_test=7, image_size=16, noise_rate=0.45)
    assert (ds.noise_train == NOISE_LABEL_FLIPPED).sum() == 90
    ds = make_synthetic_dataset("face", n_train=200, n_val=7, n_test=7, image_size=16, noise_rate=0.2)
    assert (ds.noise_train == NOISE_HALF_FACE).sum() == 20 and (ds.noise_train == NOISE_NO_FACE).sum() == 20
    assert np.array_equal(ds.y_train, ds.extras["true_label"])  # §4.5 keeps the labels


@pytest.mark.parametrize(
    "kwargs, name",
    [
        ({"scenario": "gaussian"}, "scenario"),
        ({"n_train": 0}, "n_train"),
        ({"n_val": -3}, "n_val"),
        ({"n_test": 2.5}, "n_test"),
        ({"image_size": 8}, "image_size"),
        ({"noise_rate": 1.5}, "noise_rate"),
        ({"noise_rate": -0.1}, "noise_rate"),
        ({"seed": -1}, "seed"),
    ],
)
def test_make_synthetic_dataset_rejects_bad_arguments(kwargs, name):
    with pytest.raises(ValueError, match=name):
        make_synthetic_dataset(**{**SMALL, **kwargs})


def test_unknown_scenario_lists_the_valid_choices():
    with pytest.raises(ValueError) as err:
        make_synthetic_dataset("nope", **SMALL)
    for name in SCENARIOS:
        assert name in str(err.value)


# ------------------------------------------------------------------------------------ class distributions
# Recorded from the renderer before class_distribution existed (balanced labels only): the default must keep
# drawing the same images, or every cached dataset and measured result would silently change.
PINNED_BALANCED = [
    (("label_symmetric", SMALL, 1, 48), "14b909289c61d0918bc144d46dadcb6af9419fca8ce9cb342555198655acc1a0"),
    (("mixed", SMALL, 1, 32), "fdfed312b4934d076d6164620d70040fe7bd8fdc11e2b97bfcbde89fdee38603"),
    (
        ("label_confusion", {"n_train": 97, "n_val": 13, "n_test": 50}, 7, 32),
        "8d0ce6064bce95f862f6b5be758ca494004aa5a230085f5c3313b90dd06d6ce5",
    ),
    (
        ("face", {"n_train": 97, "n_val": 13, "n_test": 50}, 0, 32),
        "fafce7bc01e51cde2f1a9705f2fbbc24cc71f30ac659c796f5634b172ff54a66",
    ),
]


@pytest.mark.parametrize("args, fingerprint", PINNED_BALANCED)
def test_default_class_distribution_renders_what_it_rendered_before(args, fingerprint):
    scenario, sizes, seed, size = args
    for spelling in ({}, {"class_distribution": None}, {"class_distribution": "balanced"}):
        ds = make_synthetic_dataset(scenario, **sizes, image_size=size, seed=seed, **spelling)
        assert ds.fingerprint() == fingerprint, spelling
    # equal weights are the balanced distribution, image for image
    ds = make_synthetic_dataset(scenario, **sizes, image_size=size, seed=seed, class_distribution=[2.0] * 7)
    assert ds.fingerprint() == fingerprint


def test_fer2013_counts_constant_has_its_provenance_totals():
    assert len(FER2013_TRAIN_CLASS_COUNTS) == len(FER2013_CLASS_NAMES)
    assert sum(FER2013_TRAIN_CLASS_COUNTS) == 28709
    assert dict(zip(FER2013_CLASS_NAMES, FER2013_TRAIN_CLASS_COUNTS, strict=True))["disgust"] == 436
    # at FER2013's own size the shares give back its counts exactly
    assert class_counts(28709, "fer2013").tolist() == list(FER2013_TRAIN_CLASS_COUNTS)


@pytest.mark.parametrize("n", [7, 10, 50, 141, 600, 1001, 9999])
@pytest.mark.parametrize("dist", ["balanced", "fer2013", [0, 1, 0, 3, 0.5, 0, 2]])
def test_class_counts_are_exact_largest_remainder_shares(n, dist):
    counts = class_counts(n, dist)
    weights = np.array(FER2013_TRAIN_CLASS_COUNTS if dist == "fer2013" else [1] * 7 if dist == "balanced" else dist)
    exact = n * weights / weights.sum()
    assert counts.sum() == n and counts.dtype == np.int64
    assert np.all(counts[weights == 0] == 0)
    assert np.all(counts[weights > 0] >= 1)  # n covers every class with a positive weight
    # within one image of the exact share, except where a class was lifted from zero to one
    assert np.all(np.abs(counts - exact) < 1 + (n < 3 * (weights > 0).sum()))


def test_class_counts_hand_worked():
    assert class_counts(10).tolist() == [2, 2, 2, 1, 1, 1, 1]  # ties go to the lower class, like arange(10) % 7
    assert class_counts(50, "fer2013").tolist() == [7, 1, 7, 13, 8, 5, 9]  # disgust 0.76 rounds up
    assert class_counts(10, [1e-9, 1, 1, 1, 1, 1, 1]).tolist() == [1, 1, 2, 2, 2, 1, 1]  # lifted to one image
    assert class_counts(2, [0, 1, 0, 1, 0, 0, 1]).tolist() == [0, 1, 0, 1, 0, 0, 0]  # too few images for all


def test_every_split_follows_the_class_distribution():
    sizes = {"n_train": 300, "n_val": 60, "n_test": 140}
    ds = make_synthetic_dataset("label_symmetric", **sizes, image_size=16, seed=2, class_distribution="fer2013")
    for split, labels in (
        ("train", ds.extras["true_label"]),
        ("val", ds.y_val),
        ("test", ds.y_test),
    ):
        assert np.bincount(labels, minlength=7).tolist() == class_counts(sizes[f"n_{split}"], "fer2013").tolist()
    # the noise stays as it was: exact count, flips always to another class
    flipped = ds.noise_train == NOISE_LABEL_FLIPPED
    assert flipped.sum() == 90 and np.all(ds.y_train[flipped] != ds.extras["true_label"][flipped])
    # labels are shuffled, not rendered class by class
    assert not np.array_equal(ds.y_test, np.sort(ds.y_test))


def test_class_distribution_with_absent_classes_and_confusion_noise():
    weights = [1, 0, 1, 1, 1, 1, 1]  # no disgust at all
    ds = make_synthetic_dataset(
        "label_confusion", n_train=140, n_val=14, n_test=14, image_size=16, class_distribution=weights
    )
    assert not np.any(ds.extras["true_label"] == C["disgust"]) and not np.any(ds.y_test == C["disgust"])
    flipped = ds.noise_train == NOISE_LABEL_FLIPPED
    assert np.all(FER_CONFUSION_MATRIX[ds.extras["true_label"][flipped], ds.y_train[flipped]] > 0)
    assert ds.num_classes == 7  # the label space stays FER2013's


@pytest.mark.parametrize(
    "dist",
    [
        "zipf",
        [1] * 6,
        [1] * 8,
        [-1, 1, 1, 1, 1, 1, 1],
        [0] * 7,
        [float("nan")] + [1] * 6,
        [np.inf] + [1] * 6,
        3,
        ["a"] * 7,
    ],
)
def test_bad_class_distribution_is_refused(dist):
    with pytest.raises(ValueError, match="class_distribution"):
        make_synthetic_dataset(**SMALL, class_distribution=dist)
