"""Figure helpers every env family's pictures share.

Figures are built on ``matplotlib.figure.Figure`` with the Agg canvas instead of ``pyplot``: no global figure
state, no GUI backend is ever selected (so it works headless and does not change the backend of a notebook
that imports it), and nothing leaks if a call raises. Sizes are fixed in inches at :data:`DPI`, so a
picture's pixel size depends only on its inputs' shape.
"""

from __future__ import annotations

import os
from pathlib import Path

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

DPI = 100
"""Dots per inch of every picture: a W×H-inch figure is a (100·W)×(100·H)-pixel PNG."""


def new_figure(size: tuple[float, float]) -> Figure:
    """A constrained-layout figure of ``size`` inches on its own Agg canvas."""
    fig = Figure(figsize=size, dpi=DPI, layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def save_figure(fig: Figure, path: str | os.PathLike) -> Path:
    """Write ``fig`` as a PNG at :data:`DPI` (parent folders created) and return the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    # No bbox_inches="tight": it would crop to content and make the pixel size depend on the text drawn.
    fig.savefig(path, format="png", dpi=DPI)
    return path


__all__ = ["DPI", "new_figure", "save_figure"]
