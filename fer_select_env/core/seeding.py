"""Seeding, device and thread helpers shared by every model the package trains.

RNG discipline: the models live in the same process as the RL agent, so every random operation of a call
is derived from the call's seed and the global torch RNG is left exactly as it was (``torch.random.fork_rng``).
"""

from __future__ import annotations

import contextlib
import operator
from collections.abc import Iterator

import numpy as np
import torch

# Independent streams derived from one user seed, so that e.g. the shuffling order does not coincide with
# the weight-init draws.
_STREAM_TORCH = 0
_STREAM_SHUFFLE = 1


def resolve_device(device: str | torch.device = "cpu") -> torch.device:
    """``"auto"`` → CUDA when available else CPU; anything else is passed to ``torch.device``."""
    if isinstance(device, str) and device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    dev = torch.device(device)
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device {device!r} requested but CUDA is not available")
    return dev


def check_seed(seed: int) -> int:
    seed = operator.index(seed)  # accepts numpy ints, rejects floats
    if seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed}")
    return seed


def derive_seed(seed: int, *streams: int) -> int:
    """A 63-bit seed for the independent stream ``streams`` of the user seed ``seed``."""
    return int(np.random.SeedSequence([seed, *streams]).generate_state(1, dtype=np.uint64)[0] >> 1)


@contextlib.contextmanager
def rng_scope(seed: int, device: torch.device) -> Iterator[torch.Generator]:
    """Fork the global torch RNG, seed it from ``seed``, restore it on exit; yield a shuffling generator.

    Only the generators actually used are seeded (CPU, and the CUDA device in use): ``torch.manual_seed``
    would also queue a seed for every CUDA device, which ``fork_rng`` would then not restore.
    """
    seed = check_seed(seed)
    cuda_devices: list[int] = []
    if device.type == "cuda":
        cuda_devices = [device.index if device.index is not None else torch.cuda.current_device()]
    with torch.random.fork_rng(devices=cuda_devices):
        torch_seed = derive_seed(seed, _STREAM_TORCH)
        torch.default_generator.manual_seed(torch_seed)
        for idx in cuda_devices:
            with torch.cuda.device(idx):
                torch.cuda.manual_seed(torch_seed)
        yield torch.Generator().manual_seed(derive_seed(seed, _STREAM_SHUFFLE))


@contextlib.contextmanager
def thread_limit(num_threads: int | None) -> Iterator[None]:
    """Run the block with ``torch.set_num_threads(num_threads)`` (restored on exit); ``None`` changes nothing.

    Why: with more OpenMP threads than free cores (a busy machine, or several envs in subprocesses),
    PyTorch's spinning threads slowed small ops 10-50× in our measurements (``benchmarks/``).
    """
    if num_threads is None:
        yield
        return
    if num_threads < 1:
        raise ValueError(f"num_threads must be >= 1 or None, got {num_threads}")
    previous = torch.get_num_threads()
    if previous == num_threads:
        yield
        return
    torch.set_num_threads(num_threads)
    try:
        yield
    finally:
        torch.set_num_threads(previous)


__all__ = ["check_seed", "derive_seed", "resolve_device", "rng_scope", "thread_limit"]
