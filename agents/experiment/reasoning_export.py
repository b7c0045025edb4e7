"""Export a :class:`~fer_select_env.data.reasoning.FERReasonDataset` as PNG faces plus JSONL files in
Facial-R1's data format, so that Facial-R1 (``RobitsG/Facial-R1``) or VLM-R1 (``om-ai-lab/VLM-R1``) trains on it
as it stands (``fer-select export-reasoning``).

Layout of ``out_dir``::

    images/<split>/<id>.png     the grayscale face, written with OpenCV
    <split>.jsonl               one JSON object per face (below); pass it to --data_file_paths and
                                out_dir to --image_folders
    facial_r1_config.json       the per-file entry Facial-R1's loader looks up (merge it into its config)

One line of ``<split>.jsonl``::

    {"id": "ferreason-train-000000", "dataset": "FERReason-v0",
     "image": "images/train/ferreason-train-000000.png", "question": "...",
     "AUs": ["AU1", "AU2", "AU5"], "labels": ["fear"], "description": "...",
     "solution": "<think>AU1 AU2 AU5</think><answer>fear</answer>",
     "conversations": [{"from": "human", "value": "<image>..."}, {"from": "gpt", "value": "fear"}],
     "meta_info": {"split": "train", "index": 0, "subject": 2, "au_known": true}}

**Confirmed from upstream** (read at ``RobitsG/Facial-R1`` @ ``0c3fc1c6`` and ``260eb7ab``, and
``om-ai-lab/VLM-R1`` @ ``e0e622f0``; nothing copied):

* Facial-R1's README lists the fields ``id``, ``dataset``, ``image``, ``question``, ``AUs``, ``labels``,
  ``description`` and ``meta_info``, with ``image`` relative to the folder given to ``--image_folders``.
* Facial-R1's ``grpo_jsonl.py`` reads ``AUs`` (a list; every unit in it must be a key of the file's ``AUs`` entry
  in ``open_r1/configs/config.json``, which is looked up by the JSONL's *basename*), ``image`` (a str or a list),
  ``question`` (``<image>`` removed; a default question when empty) and ``labels[0]`` as the ground truth, which
  it wraps as ``<answer>label</answer>``. It drops ``description`` and ``meta_info`` and skips rows with
  ``is_valid`` false. The prompt lists the keys of the config's ``emotions`` entry as the answer words.
* Its emotion-only data (FER2013, AffectNet, RAF-DB, ...) has an empty ``AUs`` entry in that config, so its rows
  carry ``"AUs": []``; the AU reward is 0 on an empty truth (``rewards.au_reward``).
* VLM-R1's ``grpo_jsonl.py`` reads ``conversations[0]["value"]`` (``<image>`` removed) as the question and
  ``conversations[1]["value"]`` as the solution, with ``<answer>`` tags stripped; so the gpt turn holds the bare
  label (a ``<think>`` block there would become part of VLM-R1's ground truth and fail every accuracy check).

**Our reading** (not confirmed upstream):

* ``solution`` is our column, the reference completion in :class:`~fer_select_env.envs.text.vocabulary.Vocabulary`
  text form, ``<think>AU1 AU2</think><answer>label</answer>``, which our rewards score format 1, accuracy 1 and
  AU 1 (``2F - 1``, F = 1). Both upstream loaders overwrite ``solution`` from ``labels`` or ``conversations``, so
  it does no harm there. A face without a known or visible AU gets ``<think></think><answer>label</answer>``
  (format 1, accuracy 1, AU 0 as upstream scores an empty truth).
* The ``question`` is our own wording in the spirit of upstream's prompt: name the visible AUs in ``<think>``, give
  one emotion word from the list in ``<answer>``. Facial-R1 wraps it in its own prompt; VLM-R1 in its template.
* The labels are our class names (FER2013 order: ``angry``, ``happy``, ``sad``, ...), not upstream's
  ``anger``/``happiness``/``sadness``; ``facial_r1_config.json`` lists them as the file's ``emotions``, so
  Facial-R1's prompt offers these words. The AU and emotion values there are the row shares of each unit and
  class, as upstream's entries appear to be (they only set inverse-frequency weights and the word list).
* ``description`` is a one-sentence statement of the truth (units with their FACS names, then the emotion);
  upstream's are model-written reasoning texts. ``meta_info`` holds the split, the row index, the identity and
  whether the row's AUs are known (a known but empty AU set and an unknown one both give ``"AUs": []``).
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from fer_select_env.core.cache import atomic_write_bytes
from fer_select_env.data.reasoning import SPLITS, FERReasonDataset, make_reasoning_dataset
from fer_select_env.envs.text.vocabulary import ANSWER, END_ANSWER, END_THINK, THINK
from fer_select_env.faces.action_units import AU_DESCRIPTIONS

DATASET_NAME = "FERReason-v0"
"""The ``dataset`` field of every row."""

ID_PREFIX = "ferreason"
"""Row ids are ``<prefix>-<split>-<index>``: unique across the splits, and safe as file names."""

CONFIG_FILE = "facial_r1_config.json"
"""The fragment of Facial-R1's ``open_r1/configs/config.json`` for the exported files."""


def _short_description(unit: str) -> str:
    # "brow lowerer (knit)" -> "brow lowerer": the parenthetical hints are for people, the prompt lists names
    return AU_DESCRIPTIONS.get(unit, "").split(" (")[0]


def reasoning_question(action_units: Sequence[str], class_names: Sequence[str]) -> str:
    """The question asked of every face: which of ``action_units`` it shows, inside ``<think>``, then one of
    ``class_names`` inside ``<answer>`` (our wording; Facial-R1's prompt asks the same two things)."""
    units = "; ".join(f"{u} {_short_description(u)}".strip() for u in action_units)
    return (
        "Which facial action units does this face show, and what emotion do they express? "
        f"Inside {THINK}{END_THINK}, write the FACS codes of the units you can see, separated by spaces, "
        f"chosen from: {units}. Name only units that are visible; do not write negations or guesses. "
        f"Then, inside {ANSWER}{END_ANSWER}, write the emotion as one word from: {', '.join(class_names)}."
    )


def reasoning_solution(units: Sequence[str], label: str) -> str:
    """The reference completion ``<think>AU1 AU2</think><answer>label</answer>``: the text
    :meth:`Vocabulary.decode <fer_select_env.envs.text.vocabulary.Vocabulary.decode>` writes for it."""
    return f"{THINK}{' '.join(units)}{END_THINK}{ANSWER}{label}{END_ANSWER}"


def reasoning_description(units: Sequence[str], label: str, known: bool) -> str:
    """One sentence stating a face's truth: its units with their FACS names, then its emotion."""
    if not known:
        return f"Action units not annotated. Emotion: {label}."
    if not units:
        return f"No action unit is visible. Emotion: {label}."
    named = "; ".join(f"{u} ({_short_description(u)})" if _short_description(u) else u for u in units)
    return f"Visible action units: {named}. Emotion: {label}."


def _check_splits(splits: Sequence[str]) -> tuple[str, ...]:
    if isinstance(splits, str):
        splits = (splits,)
    out = tuple(splits)
    bad = [s for s in out if s not in SPLITS]
    if not out or bad or len(set(out)) != len(out):
        raise ValueError(f"splits: must be distinct names from {SPLITS}, got {list(out)}")
    return out


def _check_out_dir(out_dir: str | os.PathLike, overwrite: bool) -> Path:
    path = Path(out_dir)
    if path.exists() and not path.is_dir():
        raise ValueError(f"out_dir: {path} exists and is not a directory")
    if path.is_dir() and any(path.iterdir()) and not overwrite:
        raise ValueError(f"out_dir: {path} is not empty; pass overwrite=True (--overwrite) to replace its export")
    return path


def _shares(counts: np.ndarray, n: int, names: Sequence[str], keep_zero: bool) -> dict[str, float]:
    return {name: round(float(c) / n, 6) for name, c in zip(names, counts, strict=True) if keep_zero or c > 0}


def _earlier_config(path: Path) -> dict[str, Any]:
    # an overwrite of some splits keeps the entries of the others, whose JSONL files stay
    try:
        config = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return config if isinstance(config, dict) else {}


def _split_rows(dataset: FERReasonDataset, split: str, dataset_name: str) -> list[dict[str, Any]]:
    _, y, au, known = dataset.split(split)
    subjects = getattr(dataset, f"s_{split}")
    width = max(6, len(str(len(y) - 1)))
    question = reasoning_question(dataset.action_units, dataset.class_names)
    rows = []
    for i in range(len(y)):
        row_id = f"{ID_PREFIX}-{split}-{i:0{width}d}"
        label = dataset.class_names[int(y[i])]
        units = [name for name, on in zip(dataset.action_units, au[i], strict=True) if on]
        rows.append(
            {
                "id": row_id,
                "dataset": dataset_name,
                "image": f"images/{split}/{row_id}.png",
                "question": question,
                "AUs": units,
                "labels": [label],
                "description": reasoning_description(units, label, bool(known[i])),
                "solution": reasoning_solution(units, label),
                "conversations": [
                    {"from": "human", "value": f"<image>{question}"},
                    {"from": "gpt", "value": label},
                ],
                "meta_info": {"split": split, "index": i, "subject": int(subjects[i]), "au_known": bool(known[i])},
            }
        )
    return rows


def _write_images(out: Path, split: str, images: np.ndarray, rows: list[dict[str, Any]]) -> None:
    folder = out / "images" / split
    folder.mkdir(parents=True, exist_ok=True)
    wanted = {Path(r["image"]).name for r in rows}
    ours = re.compile(rf"{ID_PREFIX}-{split}-\d+\.png")
    for stale in folder.iterdir():  # an earlier, larger export of this split: only files named as ours go
        if stale.is_file() and ours.fullmatch(stale.name) and stale.name not in wanted:
            stale.unlink()
    for image, row in zip(images, rows, strict=True):
        target = out / row["image"]
        if not cv2.imwrite(str(target), np.ascontiguousarray(image)):
            raise OSError(f"{target}: OpenCV could not write the image")


def export_reasoning(
    out_dir: str | os.PathLike,
    dataset: FERReasonDataset | None = None,
    splits: Sequence[str] = SPLITS,
    dataset_kwargs: Mapping[str, Any] | None = None,
    *,
    overwrite: bool = False,
    dataset_name: str = DATASET_NAME,
) -> dict[str, int]:
    """Write ``splits`` of ``dataset`` (default: :func:`make_reasoning_dataset` of ``dataset_kwargs``) into
    ``out_dir`` in Facial-R1's JSONL format (module docstring); returns the number of rows per split.

    Per split the images come first and its JSONL last, atomically, so a JSONL that exists names only images that
    exist; ``facial_r1_config.json`` is written after every split.

    :param out_dir: an empty or missing directory; a non-empty one only with ``overwrite``
    :param overwrite: replace the files of an earlier export (PNG files named like ours that the new export does
        not write are removed from ``images/<split>/``; other files are left alone)
    :param dataset_name: the ``dataset`` field of every row
    """
    out = _check_out_dir(out_dir, overwrite)
    split_names = _check_splits(splits)
    if not isinstance(dataset_name, str) or not dataset_name:
        raise ValueError(f"dataset_name: must be a non-empty str, got {dataset_name!r}")
    if dataset is None:
        dataset = make_reasoning_dataset(**dict(dataset_kwargs or {}))
    elif dataset_kwargs:
        raise ValueError("dataset_kwargs: give either a dataset or the arguments to make one, not both")
    if not isinstance(dataset, FERReasonDataset):
        raise ValueError(f"dataset: must be a FERReasonDataset, got {type(dataset).__name__}")

    out.mkdir(parents=True, exist_ok=True)
    counts: dict[str, int] = {}
    config = _earlier_config(out / CONFIG_FILE)
    for split in split_names:
        x, y, au, known = dataset.split(split)
        rows = _split_rows(dataset, split, dataset_name)
        _write_images(out, split, x, rows)
        text = "".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows)
        atomic_write_bytes(out / f"{split}.jsonl", text.encode("utf-8"))
        n_known = int(known.sum())
        config[f"{split}.jsonl"] = {
            # shares over the rows whose AUs are known; empty for emotion-only data, as upstream's entries are
            "AUs": _shares(au[known].sum(0), n_known, dataset.action_units, keep_zero=False) if n_known else {},
            "emotions": _shares(np.bincount(y, minlength=dataset.num_classes), len(y), dataset.class_names, True),
        }
        counts[split] = len(rows)
    atomic_write_bytes(out / CONFIG_FILE, (json.dumps(config, indent=2) + "\n").encode("utf-8"))
    return counts


__all__ = [
    "CONFIG_FILE",
    "DATASET_NAME",
    "ID_PREFIX",
    "export_reasoning",
    "reasoning_description",
    "reasoning_question",
    "reasoning_solution",
]
