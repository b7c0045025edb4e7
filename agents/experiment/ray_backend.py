"""Run a benchmark's cells as Ray tasks: every (task, agent, seed) of a benchmark or a suite on a local Ray or
on a running Ray cluster, with the ``results.json`` of the serial run (``docs/ray.md``).

Ray is optional (``pip install 'fer-select[ray]'``) and imported only here, when a backend is entered. Only
Ray core is used: ``ray.init``, ``ray.put``, remote functions and ``ray.wait`` (Ray's "Tasks" and "Objects"
guides). The engine places each finished run where the serial run appends it
(:class:`~agents.experiment.benchmark.BenchmarkPlan`), so the order the cells finish in changes nothing.
"""

from __future__ import annotations

import copy
import dataclasses
from collections.abc import Iterator, Sequence
from types import ModuleType, TracebackType
from typing import Any

from agents.experiment.benchmark import Cell
from agents.experiment.settings import BenchmarkSettings
from fer_select_env.core.cache import resolve_cache_dir
from fer_select_env.core.seeding import thread_limit
from fer_select_env.data.dataset import FERDataset

INSTALL_HINT = "pip install 'fer-select[ray]'"

__all__ = ["INSTALL_HINT", "RayBackend", "require_ray"]


def require_ray() -> ModuleType:
    """The ``ray`` module, or an ``ImportError`` whose one-line message says how to install it."""
    try:
        import ray
    except ImportError:
        raise ImportError(f"the Ray backend needs Ray, which is not installed: {INSTALL_HINT}") from None
    return ray


def run_cell(dataset: FERDataset, agent: str, seed: int, settings: BenchmarkSettings, plots_dir: Any) -> dict[str, Any]:
    """One cell on a Ray worker, under the benchmark's thread count as :func:`~agents.experiment.benchmark.
    run_benchmark` runs the serial ones (the count is part of the protocol: the same count, the same numbers).

    The dataset is copied first: Ray hands out the object store's arrays read-only, and the serial run's
    arrays are writable, so an agent must see the same kind of arrays here."""
    with thread_limit(settings.threads):
        return Cell(agent, int(seed), copy.deepcopy(dataset), settings, plots_dir).run()


class RayBackend:
    """A :data:`~agents.experiment.benchmark.CellBackend` on Ray, used as a context manager.

    On entering, it connects to the cluster at ``address`` (``"auto"``, ``"HOST:PORT"``, ...) or, without
    one, starts a local Ray of ``num_cpus`` CPUs (default: the machine's) that it shuts down on leaving. A Ray
    already initialised in this process (a Tune trial, a notebook) is used as it is and left running. Each
    cell is a Ray task that reserves ``settings.threads`` CPUs (and one GPU for a ``cuda`` device), so Ray
    runs as many cells at once as the CPUs hold; each dataset goes into the object store once.

    On a Ray of this machine alone the cells use this process's cache directory (workers keep the
    environment Ray started with, which may name another); on a cluster each node uses its own
    (``FER_SELECT_CACHE_DIR`` there), and the results' classifier check holds the seeds this machine's cache has.

    :param address: a running cluster's address; ``None`` starts a local Ray
    :param num_cpus: the local Ray's CPU count (only without ``address``)
    """

    def __init__(self, address: str | None = None, num_cpus: int | None = None) -> None:
        if address is not None and num_cpus is not None:
            raise ValueError("num_cpus sizes a local Ray: a cluster given by address has its own CPUs")
        if num_cpus is not None and (isinstance(num_cpus, bool) or not isinstance(num_cpus, int) or num_cpus < 1):
            raise ValueError(f"num_cpus must be a positive integer or None, got {num_cpus!r}")
        self.address = address
        self.num_cpus = num_cpus
        self._started = False

    def __enter__(self) -> RayBackend:
        ray = require_ray()
        if not ray.is_initialized():
            if self.address is None:
                # "local": a new Ray for this command, even where RAY_ADDRESS names a cluster.
                ray.init(address="local", num_cpus=self.num_cpus, include_dashboard=False)
            else:
                ray.init(address=self.address)
            self._started = True
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._started:
            require_ray().shutdown()
            self._started = False

    def __call__(self, cells: Sequence[Cell]) -> Iterator[tuple[int, dict[str, Any]]]:
        """Submit every cell at once, then yield ``(index, run)`` as each finishes; the cells still running
        are cancelled when the caller stops early (an error in one cell, a Ctrl-C)."""
        if not cells:
            return
        ray = require_ray()
        self._check_fits(ray, cells)
        cache_dir = str(resolve_cache_dir()) if _this_machine_only(ray) else None
        remote = ray.remote(run_cell)
        stored: dict[int, Any] = {}  # id(dataset) -> its object ref: a suite's task shares one copy
        pending: dict[Any, int] = {}
        for k, cell in enumerate(cells):
            if id(cell.dataset) not in stored:
                stored[id(cell.dataset)] = ray.put(cell.dataset)
            settings = cell.settings
            if settings.cache_dir is None and cache_dir is not None:
                settings = dataclasses.replace(settings, cache_dir=cache_dir)  # not in results.json's settings
            options: dict[str, Any] = {"num_cpus": settings.threads}
            if str(settings.device).startswith("cuda"):
                options["num_gpus"] = 1
            ref = remote.options(**options).remote(
                stored[id(cell.dataset)], cell.agent, cell.seed, settings, cell.plots_dir
            )
            pending[ref] = k
        try:
            while pending:
                (ref,), _ = ray.wait(list(pending), num_returns=1)
                k = pending.pop(ref)
                yield k, ray.get(ref)
        finally:
            for ref in pending:
                ray.cancel(ref)

    def _check_fits(self, ray: ModuleType, cells: Sequence[Cell]) -> None:
        """A ValueError where a cell can never be scheduled on the local Ray (more threads than its CPUs);
        a cluster's size is left to Ray, whose autoscaler may yet add nodes."""
        if not self._started or self.address is not None:
            return
        cpus = ray.cluster_resources().get("CPU", 0)
        threads = max(cell.settings.threads for cell in cells)
        if threads > cpus:
            raise ValueError(f"threads={threads} is more than the local Ray's {cpus:g} CPUs: no cell would ever run")


def _this_machine_only(ray: ModuleType) -> bool:
    """Whether the connected Ray runs on this machine alone (one live node, at this machine's address)."""
    nodes = [node for node in ray.nodes() if node.get("Alive")]
    return len(nodes) == 1 and nodes[0].get("NodeManagerAddress") == ray.util.get_node_ip_address()
