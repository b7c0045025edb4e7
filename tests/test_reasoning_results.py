"""Merging an earlier results file of a reasoning-family example with a run of more rows."""

from __future__ import annotations

import pytest

from agents.reasoning.pipeline import ReasonSettings
from agents.reasoning.results import merge_seed_rows


def _seed(seed, rows, **extra):
    return {"seed": seed, "rows": rows, "val_rows": rows, "wall_seconds": 10.0, **extra}


def test_merge_adds_rows_keeps_old_ones_and_adds_up_the_time():
    earlier = [_seed(0, {"a": 1, "b": 2}, histories={"a": [1]}, synthesis=[{"round": 0}])]
    new = [_seed(0, {"b": 3, "c": 4}, histories={"c": [2]}, synthesis=[])]
    (merged,) = merge_seed_rows(earlier, new)
    assert merged["rows"] == {"a": 1, "b": 3, "c": 4}
    assert merged["histories"] == {"a": [1], "c": [2]}
    assert merged["synthesis"] == [{"round": 0}]  # an empty new synthesis does not erase the old one
    assert merged["wall_seconds"] == 20.0


def test_merge_refuses_other_seeds():
    with pytest.raises(ValueError, match="seeds"):
        merge_seed_rows([_seed(0, {})], [_seed(1, {})])


def test_reason_settings_refuse_unknown_stages():
    with pytest.raises(ValueError, match="unknown \\['nope'\\]"):
        ReasonSettings(stages=("nope",))
