"""Property-based fuzzing (hypothesis) of the three input surfaces of issue 14: the npz reader, the FER2013 csv
reader and ``env.step``'s action check. Whatever a reader accepts satisfies ``FERDataset``'s invariants; whatever
it refuses is a ``ValueError``. Examples are few and small (``max_examples``), so each test takes seconds."""

from __future__ import annotations

import io
import re
import warnings
import zipfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from fer_select_env import FERDataset
from fer_select_env.data import LoaderWarning, load_fer2013
from fer_select_env.data.dataset import SPLITS, max_inferred_classes
from fer_select_env.envs.select.env import FERSelectEnv
from fer_select_env.testing import TINY_CLASSIFIER, make_blob_dataset

# database=None: no .hypothesis folder in the working tree; derandomize: the same examples on every run (CI)
FUZZ = settings(
    max_examples=60,
    deadline=None,
    database=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


def assert_valid(ds: FERDataset) -> None:
    """``FERDataset``'s invariants, checked from the outside."""
    shape = ds.x_train.shape[1:]
    for split in SPLITS:
        x, y = ds.split(split)
        assert x.dtype == np.uint8 and x.ndim in (3, 4) and len(x) > 0 and x.shape[1:] == shape
        assert all(d > 0 for d in x.shape)
        assert y.dtype == np.int64 and y.shape == (len(x),)
        assert 0 <= y.min() and y.max() < ds.num_classes
        for arr in getattr(ds, {"train": "extras", "val": "extras_val", "test": "extras_test"}[split]).values():
            assert len(arr) == len(y) and not arr.dtype.hasobject
    if ds.class_names is None:
        labels = np.concatenate([ds.y_train, ds.y_val, ds.y_test])
        assert ds.num_classes <= max_inferred_classes(len(np.unique(labels)))
    else:
        assert len(set(ds.class_names)) == len(ds.class_names) == ds.num_classes
        assert all(isinstance(name, str) and name.strip() for name in ds.class_names)
    if ds.noise_train is not None:
        assert ds.noise_train.dtype == np.int64 and ds.noise_train.shape == ds.y_train.shape
        assert (ds.noise_train >= 0).all()


# ---------------------------------------------------------------------------------------------- npz reader
@pytest.fixture(scope="module")
def npz_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("fuzz_npz")


def _valid_npz(compressed: bool) -> bytes:
    ds = make_blob_dataset(n_train=6, n_val=3, n_test=3, size=4, noise_rate=0.3)
    ds = FERDataset.from_arrays(
        ds.x_train, ds.y_train, ds.x_val, ds.y_val, ds.x_test, ds.y_test, ds.noise_train, class_names=["a", "b", "c"]
    )
    buf = io.BytesIO()
    (np.savez_compressed if compressed else np.savez)(
        buf,
        **{f"{kind}_{s}": getattr(ds, f"{kind}_{s}") for s in SPLITS for kind in ("x", "y")},
        noise_train=ds.noise_train,
        class_names=np.asarray(ds.class_names),
    )
    return buf.getvalue()


VALID = {False: _valid_npz(False), True: _valid_npz(True)}


def _read_or_refuse(path: Path) -> None:
    try:
        ds = FERDataset.from_npz(path, max_bytes=2**20)
    except ValueError:
        return
    assert_valid(ds)


@FUZZ
@given(
    compressed=st.booleans(),
    flips=st.lists(st.tuples(st.floats(0, 1, exclude_max=True), st.integers(1, 255)), max_size=4),
    cut=st.one_of(st.none(), st.floats(0, 1)),
)
def test_damaged_npz_bytes_are_read_or_refused_with_a_value_error(npz_dir, compressed, flips, cut):
    data = bytearray(VALID[compressed])
    for where, xor in flips:
        data[int(where * len(data))] ^= xor
    if cut is not None:
        data = data[: int(cut * len(data))]
    path = npz_dir / "bytes.npz"
    path.write_bytes(bytes(data))
    _read_or_refuse(path)


_DTYPES = st.sampled_from(["u1", "i1", "<i4", ">i8", "<u8", "<f2", "<f8", "?", "<c8", "<U2", "S2", "<M8[s]"])
_LABEL_VALUES = st.one_of(
    st.integers(-3, 12), st.just(999999), st.just(2**64 - 1), st.just(np.nan), st.just(3.5), st.just(1e30)
)


@st.composite
def _member(draw, key: str, base: np.ndarray) -> np.ndarray:
    """A member that is often what ``key`` should hold (``base``: the valid labels of its split), and often not
    (dtype, shape, values)."""
    n = draw(st.one_of(st.just(len(base)), st.integers(0, 4)))
    if key.startswith("x_"):
        shape = draw(st.sampled_from([(n, 4, 4), (n, 4, 4, 3), (n, 4), (n, 0, 4), (n, 5, 4)]))
        dtype = draw(st.one_of(st.just("u1"), _DTYPES))
        return draw(hnp.arrays(np.dtype(dtype), shape))
    if key == "class_names":
        names = st.one_of(st.lists(st.text(max_size=2), max_size=4), st.lists(st.binary(max_size=2), max_size=4))
        return np.array(draw(names))
    values = draw(st.lists(_LABEL_VALUES, min_size=n, max_size=n))
    if n == len(base) and draw(st.booleans()):  # the valid labels with one value changed: a stray label
        values = [*base[:-1].tolist(), values[-1]]
    dtype = draw(st.sampled_from(["<i8", "<u8", "<f8", "<f4", "?", "<i2", "<U3"]))
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # nan or 2**64 - 1 cast to an integer dtype: any value will do
        return np.array(values, dtype=np.float64).astype(dtype)


_KEYS = [f"{kind}_{s}" for s in SPLITS for kind in ("x", "y")]
_BASE = np.load(io.BytesIO(VALID[False]))
BASE = {key: _BASE[key] for key in _BASE.files}


@settings(FUZZ, max_examples=150)
@given(st.data())
def test_arbitrary_npz_members_are_read_or_refused_with_a_value_error(npz_dir, data):
    """A valid file with one to three members replaced by fuzzed ones, or dropped."""
    arrays = dict(BASE)
    if data.draw(st.booleans()):
        del arrays["class_names"]  # K is then inferred from the labels
    for _ in range(data.draw(st.integers(1, 3))):
        key = data.draw(st.sampled_from([*_KEYS, "noise_train", "class_names", "extra__v", "extra_val__w"]))
        if data.draw(st.integers(0, 5)) == 0:
            arrays.pop(key, None)
            continue
        split = "val" if key.startswith("extra_val") else key.rsplit("_", 1)[-1]
        labels = BASE[f"y_{split}"] if split in SPLITS else BASE["y_train"]
        arrays[key] = data.draw(_member("y_" if key.startswith("extra") else key, labels))
    path = npz_dir / "members.npz"
    with zipfile.ZipFile(path, "w") as zf:
        for key, arr in arrays.items():
            buf = io.BytesIO()
            np.save(buf, arr, allow_pickle=False)
            zf.writestr(f"{key}.npy", buf.getvalue())
    _read_or_refuse(path)


_LABEL_DTYPES = st.sampled_from(["<i1", "<i8", "<u1", "<u8", "<f2", "<f8", "?"])


@settings(FUZZ, max_examples=200)
@given(
    labels=st.lists(hnp.arrays(_LABEL_DTYPES, 4), min_size=3, max_size=3),  # floats include nan and inf
    n_names=st.one_of(st.none(), st.integers(1, 12)),
)
def test_labels_of_any_dtype_and_value_are_accepted_only_when_valid(labels, n_names):
    x = np.zeros((4, 4, 4), np.uint8)
    names = None if n_names is None else [f"c{k}" for k in range(n_names)]
    try:
        ds = FERDataset.from_arrays(x, labels[0], x, labels[1], x, labels[2], class_names=names)
    except ValueError:
        return
    assert_valid(ds)
    for y, given_labels in zip((ds.y_train, ds.y_val, ds.y_test), labels, strict=True):
        assert np.array_equal(y, given_labels)  # never wrapped, truncated or rounded


# ---------------------------------------------------------------------------------------------- csv reader
_GOOD = [
    f"{k % 7},{' '.join(str((k * 37 + i) % 256) for i in range(2304))},{usage}".encode()
    for k, usage in enumerate(["Training", "PublicTest", "PrivateTest", "Training", "PublicTest", "Training"])
]
_BAD_LINE = st.one_of(
    st.binary(max_size=30).filter(lambda b: b"\n" not in b),
    st.sampled_from(
        [
            b'3,"' + _GOOD[0][2:],  # an unterminated quote
            _GOOD[0].replace(b",", b";"),  # the wrong separator
            _GOOD[1][:-12],  # no Usage
            _GOOD[2].replace(b" 1", b" 300", 1),  # a pixel over 255
            _GOOD[3] + b" 4",  # 2305 values
            _GOOD[4].replace(b" 2", b" \xff", 1),  # not UTF-8
            b"9" + _GOOD[5][1:],  # an unknown label
            b"3.7" + _GOOD[5][1:],  # a float label
            b"3," + b"1 " * 70000 + b",Training",  # a field over the csv module's limit
        ]
    ),
)


@FUZZ
@given(
    lines=st.lists(st.one_of(st.integers(0, len(_GOOD) - 1), _BAD_LINE), max_size=10),
    crlf=st.booleans(),
    strict=st.booleans(),
)
def test_csv_keeps_every_good_line_and_counts_every_bad_one(npz_dir, lines, crlf, strict):
    body = [_GOOD[0], _GOOD[1], _GOOD[2]]  # every split has a row
    body += [_GOOD[x] if isinstance(x, int) else x for x in lines]
    path = npz_dir / "fer2013.csv"
    path.write_bytes(b"emotion,pixels,Usage\n" + (b"\r\n" if crlf else b"\n").join(body) + b"\n")
    good_lines = [no for no, line in enumerate(body, start=2) if line in _GOOD]
    bad_lines = [no for no, line in enumerate(body, start=2) if line not in _GOOD and line.strip()]
    if strict and bad_lines:
        with pytest.raises(ValueError, match=rf"fer2013.csv line {bad_lines[0]}: "):
            load_fer2013(path, strict=True)
        return
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        ds = load_fer2013(path, strict=strict)
    assert_valid(ds)
    rows = np.concatenate([ds.extras["fer2013_row"], ds.extras_val["fer2013_row"], ds.extras_test["fer2013_row"]])
    assert sorted(rows.tolist()) == [no - 2 for no in good_lines]  # no good line lost, none invented
    skipped = [w for w in caught if issubclass(w.category, LoaderWarning)]
    if bad_lines:
        (warning,) = skipped
        n_entries = len(good_lines) + len(bad_lines)
        assert re.search(rf"skipped {len(bad_lines)} of {n_entries} entries", str(warning.message))
        assert f"line {bad_lines[0]}: " in str(warning.message)
    else:
        assert not skipped


# ---------------------------------------------------------------------------------------------- env.step
@pytest.fixture(scope="module")
def env() -> FERSelectEnv:
    """One tiny env for the whole module: only the actions are fuzzed."""
    env = FERSelectEnv(
        make_blob_dataset(n_train=6, n_val=6, n_test=6, size=8, noise_rate=0.3),
        classifier_config=dict(TINY_CLASSIFIER),
    )
    env.reset(seed=0)
    return env


_NUMPY_SCALARS = st.tuples(
    st.sampled_from([np.int8, np.int64, np.uint8, np.uint64, np.float32, np.float64, np.bool_]), st.integers(-2, 3)
).map(lambda t: t[0](t[1]) if t[1] >= 0 or not np.issubdtype(t[0], np.unsignedinteger) else t[0](0))
_ACTIONS = st.one_of(
    st.integers(-3, 4),
    st.booleans(),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([0.0, 1.0, 0.9, 1.7, -0.0]),
    st.text(max_size=2),
    st.none(),
    _NUMPY_SCALARS,
    _NUMPY_SCALARS.map(np.array),  # 0-d arrays
    _NUMPY_SCALARS.map(lambda v: np.array([v])),  # shape (1,)
    st.lists(st.integers(0, 1), max_size=2),
)


@settings(FUZZ, max_examples=120)
@given(action=_ACTIONS)
def test_step_takes_exactly_what_discrete_2_contains(env, action):
    if env._done:
        env.reset()
    t, kept = env._t, env._n_kept
    if not env.action_space.contains(action):
        with pytest.raises(ValueError, match=r"action must be 0 \(remove\) or 1 \(keep\)"):
            env.step(action)
        assert (env._t, env._n_kept) == (t, kept)  # a refused action changes nothing
        return
    obs, reward, _, truncated, _ = env.step(action)
    assert env.observation_space.contains(obs) and np.isfinite(reward) and truncated is False
    assert env._n_kept == kept + int(action) and env._t == t + 1
