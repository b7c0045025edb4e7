"""Results files of the reasoning-family examples (``{"settings": ..., "seeds": [per-seed results]}``)."""

from __future__ import annotations

from typing import Any


def merge_seed_rows(earlier: list[dict[str, Any]], new: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """``earlier``'s per-seed results with ``new``'s rows added (a row in both is taken from ``new``), its
    training histories (``history*`` entries; a ``histories`` dict merged per stage) and a non-empty
    ``synthesis``; both must hold the same seeds. ``wall_seconds`` adds up."""
    by_seed = {r["seed"]: r for r in new}
    if sorted(by_seed) != sorted(r["seed"] for r in earlier):
        raise ValueError(f"the earlier file's seeds {[r['seed'] for r in earlier]} differ from {sorted(by_seed)}")
    merged = []
    for old in earlier:
        extra = by_seed[old["seed"]]
        row = {**old, "rows": {**old["rows"], **extra["rows"]}, "val_rows": {**old["val_rows"], **extra["val_rows"]}}
        for key, value in extra.items():
            if key == "histories" and isinstance(old.get(key), dict):
                row[key] = {**old[key], **value}
            elif key.startswith("history") or (key == "synthesis" and value):
                row[key] = value
        row["wall_seconds"] = old.get("wall_seconds", 0.0) + extra["wall_seconds"]
        merged.append(row)
    return merged


__all__ = ["merge_seed_rows"]
