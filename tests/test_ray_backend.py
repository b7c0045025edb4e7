"""The Ray backend (``--backend ray``): a benchmark and a tiny suite run as Ray tasks on a local Ray of 2 CPUs
write the results.json of the serial run (wall times aside), after every finished run, and resume like it.
The tests that need Ray skip without it (``pip install 'fer-select[ray]'``); the flag checks run anyway."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
from test_benchmark_protocol import TINY, _without_times

from agents.experiment.benchmark import run_benchmark
from agents.experiment.report import CLASSIFIER_CHECK_KEY
from agents.experiment.settings import BenchmarkSettings, RLSettings
from agents.experiment.suite_runner import run_suite
from agents.experiment.suites import get_suite
from fer_select_env.data.dataset import FERDataset
from fer_select_env.models import ClassifierConfig
from fer_select_env.testing import make_blob_dataset

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "examples"))
import benchmark as benchmark_cli  # noqa: E402

AGENTS = "keep_all,cleanlab"


@pytest.fixture(scope="module")
def tiny_npz(tmp_path_factory) -> str:
    path = tmp_path_factory.mktemp("ray") / "tiny.npz"
    make_blob_dataset(n_train=40, n_val=21, n_test=21, noise_rate=0.25).to_npz(path)
    return str(path)


def _argv(tiny_npz: str, out: Path, *extra: str) -> list[str]:
    return ["--data", tiny_npz, "--agents", AGENTS, "--seeds", "0,1", "--episodes", "1",
            "--pretrain-episodes", "1", "--classifier", json.dumps(TINY), "--final-epochs", "3",
            "--final-min-steps", "0", "--final-repeats", "2", "--out", str(out), *extra]  # fmt: skip


def _settings() -> BenchmarkSettings:
    # final_min_steps=None: the step-sized default would train these tiny sets for hundreds of epochs.
    return BenchmarkSettings(
        rl=RLSettings(episodes=1, pretrain_episodes=1),
        classifier_config=ClassifierConfig.from_dict(TINY),
        final_max_epochs=3,
        final_min_steps=None,
        final_repeats=2,
    )


# ---------------------------------------------------------------------------------------------- without Ray
@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--ray-num-cpus", "2"], "--ray-address and --ray-num-cpus need --backend ray"),
        (["--backend", "ray", "--ray-address", "auto", "--ray-num-cpus", "2"], "drop it with --ray-address"),
        (["--backend", "ray", "--ray-num-cpus", "1", "--threads", "2"], "is below --threads 2"),
        (["--backend", "dask"], "invalid choice: 'dask'"),
    ],
)
def test_ray_flags_are_checked_before_any_work(tiny_npz, tmp_path, capsys, extra, message):
    assert benchmark_cli.main(_argv(tiny_npz, tmp_path / "r.json", *extra)) == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "r.json").exists()


def test_backend_ray_without_ray_is_one_line(tiny_npz, tmp_path, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "ray", None)  # `import ray` raises ImportError
    assert benchmark_cli.main(_argv(tiny_npz, tmp_path / "r.json", "--backend", "ray")) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "pip install 'fer-select[ray]'" in err


# ---------------------------------------------------------------------------------------------- with Ray
@pytest.fixture(scope="module")
def serial_outputs(tiny_npz, tmp_path_factory) -> Path:
    """The serial CLI run: the reference every Ray run must equal."""
    out = tmp_path_factory.mktemp("serial") / "serial.json"
    assert benchmark_cli.main(_argv(tiny_npz, out)) == 0
    return out


def test_the_ray_cli_run_equals_the_serial_run(tiny_npz, serial_outputs, tmp_path):
    pytest.importorskip("ray")
    out = tmp_path / "ray.json"
    # The command starts (and stops) its own local Ray of 2 CPUs: 2 cells at once.
    assert benchmark_cli.main(_argv(tiny_npz, out, "--backend", "ray", "--ray-num-cpus", "2")) == 0
    serial = json.loads(serial_outputs.read_text())
    assert _without_times(json.loads(out.read_text())) == _without_times(serial)


@pytest.fixture(scope="module")
def local_ray():
    """One local Ray for the tests below (a Ray already initialised is used as it is by the backend)."""
    ray = pytest.importorskip("ray")
    ray.init(num_cpus=2, include_dashboard=False)
    yield ray
    ray.shutdown()


def test_ray_writes_after_every_run_and_resumes(local_ray, tiny_npz, serial_outputs, tmp_path):
    from agents.experiment.ray_backend import RayBackend

    serial = json.loads(serial_outputs.read_text())
    dataset = FERDataset.from_npz(tiny_npz)
    out = tmp_path / "ray.json"
    # A results file that holds every run but cleanlab's seed 1: only that cell runs again.
    partial = json.loads(serial_outputs.read_text())
    partial["agents"]["cleanlab"]["runs"] = partial["agents"]["cleanlab"]["runs"][:1]
    out.write_text(json.dumps(partial))
    seen = []

    def on_run(name: str, run: dict) -> None:
        on_disk = json.loads(out.read_text())
        assert run["seed"] in [r["seed"] for r in on_disk["agents"][name]["runs"]]  # written before reported
        seen.append((name, run["seed"]))

    with RayBackend() as backend:
        results = run_benchmark(
            dataset,
            AGENTS.split(","),
            [0, 1],
            _settings(),
            dataset_name=tiny_npz,
            out=out,
            on_run=on_run,
            backend=backend,
        )
    assert local_ray.is_initialized()  # the backend left the Ray it found running
    assert seen == [("keep_all", 0), ("keep_all", 1), ("cleanlab", 0), ("cleanlab", 1)]  # 3 reused, 1 run
    for name in ("keep_all", "cleanlab"):  # the reused runs are the serial run's own, wall times included
        assert results["agents"][name]["runs"][0] == serial["agents"][name]["runs"][0]
    # The serial run's cache held both seeds' pre-trained classifiers; this test's cache only seed 1's (the one
    # cell run), so the classifier check, which reads only what is cached, lists seed 1 alone.
    again = _without_times(json.loads(out.read_text()))
    checks = again["meta"].pop(CLASSIFIER_CHECK_KEY)
    assert checks == [c for c in _without_times(serial)["meta"].pop(CLASSIFIER_CHECK_KEY) if c["seed"] == 1]
    expected = _without_times(serial)
    del expected["meta"][CLASSIFIER_CHECK_KEY]
    assert again == expected


def _task(name: str, scenario: str, n_train: int) -> dict:
    params = {"scenario": scenario, "n_train": n_train, "n_val": 21, "n_test": 28, "noise_rate": 0.3, "seed": 0}
    params["class_distribution"] = "balanced"
    return {"name": name, "description": "", "kind": "synthetic", "params": params, "seeds": [0, 1]}


def test_a_tiny_suite_through_ray_equals_the_serial_suite(local_ray, tmp_path):
    from agents.experiment.ray_backend import RayBackend

    folder = tmp_path / "suites"
    folder.mkdir()
    tasks = [_task("sym-n56", "label_symmetric", 56), _task("conf-n63", "label_confusion", 63)]
    (folder / "tiny-v1.json").write_text(json.dumps({"name": "tiny", "version": 1, "description": "", "tasks": tasks}))
    suite = get_suite("tiny", directory=folder)
    agents = AGENTS.split(",")
    serial = run_suite(suite, agents, _settings(), out=tmp_path / "serial.json")
    seen = []
    with RayBackend() as backend:
        run_suite(
            suite, agents, _settings(), out=tmp_path / "ray.json", backend=backend, on_run=lambda *a: seen.append(a)
        )
    assert len(seen) == 2 * 2 * 2  # tasks x agents x seeds, each reported once
    on_disk = json.loads((tmp_path / "ray.json").read_text())
    assert _without_times(on_disk) == _without_times(json.loads((tmp_path / "serial.json").read_text()))
    assert on_disk["aggregate"] == json.loads(json.dumps(serial["aggregate"]))
