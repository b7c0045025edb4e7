"""The documentation site builds offline with no broken link or anchor, and its Python examples run.

The examples are written for the default benchmark (5,000 images, a minute of pre-training). Here they run
unchanged on a tiny dataset: every dataset the env resolves becomes a tiny one, the registered ids get a tiny
``classifier_config`` as a default keyword argument, and ``total_timesteps`` is capped. Examples that start
worker processes run only with ``-m slow``.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import gymnasium as gym
import pytest

import fer_select_env
from fer_select_env.envs.select import env as fer_env
from fer_select_env.testing import make_blob_dataset

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
TINY = {"width": 4, "feature_dim": 16, "max_epochs": 2, "head_batch_size": 32, "head_max_epochs": 4}
MAX_TIMESTEPS = 300  # "a few hundred steps" of each SB3 example
# Pages whose code blocks this file runs; other pages belong to other authors and are only built.
EXECUTED_PAGES = ("index.md", "custom_agent.md", "benchmarking_rl.md", "pictures.md")

_BLOCK = re.compile(r"^```python\n(.*?)^```", re.S | re.M)
_TIMESTEPS = re.compile(r"(total_timesteps=|\.learn\((?!\w+=))([^,)]+)")


def python_blocks(page: str) -> list[str]:
    return _BLOCK.findall((DOCS / page).read_text(encoding="utf-8"))


def test_site_builds_strict_offline(tmp_path):
    pytest.importorskip("mkdocs")
    pytest.importorskip("material")
    site = tmp_path / "site"
    # No proxy and no network needed: theme.font is false and only the built-in search plugin is used.
    result = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "-f", str(ROOT / "mkdocs.yml"), "-d", str(site)],
        cwd=ROOT,
        env={**os.environ, "NO_MKDOCS_2_WARNING": "1"},  # silence Material's end-of-life banner
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "WARNING" not in result.stderr, result.stderr
    for page in ("index.html", "custom_agent/index.html", "benchmarking_rl/index.html", "pictures/index.html"):
        assert (site / page).is_file(), page
    # Offline: the theme must not point at Google Fonts.
    assert "fonts.googleapis.com" not in (site / "index.html").read_text(encoding="utf-8")


def test_nav_lists_only_existing_pages():
    yaml = pytest.importorskip("yaml")

    config = yaml.load((ROOT / "mkdocs.yml").read_text(encoding="utf-8"), Loader=yaml.BaseLoader)

    def pages(nav):
        for item in nav:
            for value in item.values():
                yield from pages(value) if isinstance(value, list) else [value]

    listed = list(pages(config["nav"]))
    assert [p for p in listed if not (DOCS / p).is_file()] == []
    for page in EXECUTED_PAGES:
        assert page in listed


@pytest.fixture
def tiny_data(tmp_path, monkeypatch):
    """Run the doc examples in a scratch directory, where every dataset the env resolves is one tiny set."""
    data = make_blob_dataset(n_train=300, n_val=30, n_test=30, noise_rate=0.2)
    data.to_npz(tmp_path / "my_faces.npz")  # the file benchmarking_rl.md's worker example names
    # Scenario names ("mixed") and the default benchmark would render 5,000 faces: resolve them to the tiny set.
    monkeypatch.setattr(fer_env, "resolve_dataset", lambda dataset, synthetic_kwargs, cache_dir: data)
    for row in fer_select_env.ENV_SPECS:
        if row.family == "select":  # the other families take other classifier arguments
            monkeypatch.setitem(gym.registry[row.id].kwargs, "classifier_config", TINY)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def _cap_timesteps(code: str) -> str:
    return _TIMESTEPS.sub(lambda m: f"{m.group(1)}min({m.group(2)}, {MAX_TIMESTEPS})", code)


def _run_blocks(page: str, blocks: list[str]) -> None:
    namespace = {"__name__": "__main__"}  # scripts guarded by `if __name__ == "__main__":` run their main()
    for i, block in enumerate(blocks):
        try:
            exec(compile(_cap_timesteps(block), f"{page}[{i}]", "exec"), namespace)
        except Exception as exc:
            raise AssertionError(f"{page}, python block {i} failed:\n{block}") from exc


def _in_process(block: str) -> bool:
    # Worker-process examples re-import everything in fresh interpreters (seconds each): run by the slow test.
    return "SubprocVecEnv" not in block


@pytest.mark.parametrize("page", EXECUTED_PAGES)
def test_python_examples_run(page, tiny_data):
    blocks = [b for b in python_blocks(page) if _in_process(b)]
    assert blocks, f"{page} has no python example"
    _run_blocks(page, blocks)
    if page == "pictures.md":
        names = {p.name for p in (tiny_data / "pictures").iterdir()}
        expected = ("rewards", "progress", "sample_rewards", "confusion", "gallery", "table5")
        assert names == {f"{n}.png" for n in expected}


@pytest.mark.slow
def test_worker_process_examples_run(tiny_data, monkeypatch):
    # Spawned workers see no monkeypatch: they load my_faces.npz with the default classifier, so the main
    # process must use the default classifier too for its pre-training to fill the workers' cache.
    for row in fer_select_env.ENV_SPECS:
        if row.family == "select":  # only those got the tiny classifier
            monkeypatch.delitem(gym.registry[row.id].kwargs, "classifier_config")
    blocks = [b for page in EXECUTED_PAGES for b in python_blocks(page) if not _in_process(b)]
    assert blocks
    _run_blocks("worker examples", blocks)
    cached = list((Path(os.environ["FER_SELECT_CACHE_DIR"]) / "classifiers").glob("*.pt"))
    assert len(cached) == 1, cached  # the workers loaded the main process's pre-training


def test_quickstart_matches_readme():
    # The home page repeats the README's snippet and install command; they must not drift apart.
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    index = (DOCS / "index.md").read_text(encoding="utf-8")
    assert _BLOCK.findall(readme)[0] == python_blocks("index.md")[0]
    for command in re.findall(r"^pip install .*$", readme, re.M):
        assert command in index
    assert os.path.isfile(ROOT / "examples" / "train_reinforce.py")


def test_generated_pages_are_up_to_date():
    """docs/envs/ and docs/agent_registry.md are what docs/_scripts/gen_docs.py writes from the two registries
    and the env docstrings."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("gen_docs", DOCS / "_scripts" / "gen_docs.py")
    gen = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(gen)
    pages = gen.pages()
    env_pages = {"index.md", *(f"{family}.md" for family in fer_select_env.envs.ENV_FAMILIES)}
    assert {p.name for p in pages} == {*env_pages, "agent_registry.md"}
    stale = [p.name for p, text in pages.items() if not p.is_file() or p.read_text(encoding="utf-8") != text]
    assert not stale, f"stale generated pages {stale}: run python docs/_scripts/gen_docs.py"
    for row in fer_select_env.envs.ENV_SPECS:
        assert f"`{row.id}`" in pages[DOCS / "envs" / f"{row.family}.md"]
    from agents.experiment.registry import agent_names

    assert all(f"| `{name}` |" in pages[DOCS / "agent_registry.md"] for name in agent_names())
