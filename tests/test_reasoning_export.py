"""``export_reasoning`` and ``fer-select export-reasoning``: every JSONL line has Facial-R1's fields and the
dataset's truth, its image decodes to the dataset's pixels, our rewards score its solution 1/1/1, and a non-empty
directory is refused."""

from __future__ import annotations

import json
import re
from pathlib import Path

import cv2
import numpy as np
import pytest

from agents.experiment.cli import main
from agents.experiment.reasoning_export import CONFIG_FILE, DATASET_NAME, export_reasoning
from fer_select_env.data.reasoning import SPLITS, au_names, make_reasoning_dataset
from fer_select_env.envs.text.rewards import (
    accuracy_reward,
    au_reward,
    format_reward,
    trl_accuracy_reward,
    trl_au_reward,
    trl_format_reward,
)
from fer_select_env.envs.text.vocabulary import ANSWER, END_ANSWER, END_THINK, THINK, Vocabulary

TINY = {"n_subjects": 3, "faces_per_subject": 7, "image_size": 24, "seed": 0}
CLI_TINY = ["--n-subjects", "3", "--faces-per-subject", "7", "--image-size", "24", "--seed", "0"]
FIELDS = {
    "id": str,
    "dataset": str,
    "image": str,
    "question": str,
    "AUs": list,
    "labels": list,
    "description": str,
    "solution": str,
    "conversations": list,
    "meta_info": dict,
}


@pytest.fixture(scope="module")
def tiny():
    return make_reasoning_dataset(**TINY)


def _read_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def _check_export(out: Path, dataset, splits=SPLITS) -> list[dict]:
    """Every line of every split against the format and the dataset; returns all rows."""
    vocab = Vocabulary(units=dataset.action_units, words=dataset.class_names)
    config = json.loads((out / CONFIG_FILE).read_text())
    everything = []
    for split in splits:
        x, y, au, known = dataset.split(split)
        rows = _read_jsonl(out / f"{split}.jsonl")
        assert len(rows) == len(y)
        entry = config[f"{split}.jsonl"]
        assert list(entry["emotions"]) == list(dataset.class_names)
        for i, row in enumerate(rows):
            assert set(row) == set(FIELDS)
            for key, kind in FIELDS.items():
                assert isinstance(row[key], kind), key
            assert row["dataset"] == DATASET_NAME
            assert row["image"] == f"images/{split}/{row['id']}.png"  # relative to --image_folders = out
            image = cv2.imread(str(out / row["image"]), cv2.IMREAD_UNCHANGED)
            assert image is not None and image.shape == (24, 24) and image.dtype == np.uint8
            np.testing.assert_array_equal(image, x[i])  # PNG is lossless: the dataset's own pixels
            label = dataset.class_names[int(y[i])]
            assert row["labels"] == [label] and label in dataset.class_names
            assert row["AUs"] == list(au_names(au[i]))
            assert all(unit in entry["AUs"] for unit in row["AUs"])  # else Facial-R1's loader raises KeyError
            assert row["meta_info"] == {
                "split": split,
                "index": i,
                "subject": int(getattr(dataset, f"s_{split}")[i]),
                "au_known": bool(known[i]),
            }
            human, gpt = row["conversations"]
            assert human == {"from": "human", "value": "<image>" + row["question"]}
            # VLM-R1 strips the answer tags from the gpt turn and uses the rest as the ground truth
            assert gpt == {"from": "gpt", "value": label}
            for word in (*dataset.class_names, *dataset.action_units, THINK, ANSWER):
                assert word in row["question"]

            solution = row["solution"]
            tokens = [THINK, *row["AUs"], END_THINK, ANSWER, label, END_ANSWER]
            assert solution == vocab.decode(vocab.encode(tokens))  # the token envs' text form
            upstream_truth = f"<answer>{row['labels'][0]}</answer>"  # what Facial-R1 builds from labels[0]
            assert format_reward(solution) == 1.0
            assert accuracy_reward(solution, upstream_truth) == 1.0
            assert accuracy_reward(solution, solution) == 1.0
            assert au_reward(solution, row["AUs"]) == (1.0 if row["AUs"] else 0.0)
        texts = [r["solution"] for r in rows]
        assert trl_format_reward(texts) == [1.0] * len(rows)
        assert trl_accuracy_reward(texts, solution=texts) == [1.0] * len(rows)
        assert trl_au_reward(texts, aus=[r["AUs"] for r in rows]) == [1.0 if r["AUs"] else 0.0 for r in rows]
        assert sorted(p.name for p in (out / "images" / split).iterdir()) == sorted(f"{r['id']}.png" for r in rows)
        everything += rows
    ids = [r["id"] for r in everything]
    assert len(set(ids)) == len(ids)
    assert all(re.fullmatch(r"[A-Za-z0-9_.-]+", i) for i in ids)  # safe as file names
    return everything


def test_export_matches_the_dataset(tiny, tmp_path):
    out = tmp_path / "export"
    counts = export_reasoning(out, dataset=tiny)
    assert counts == {s: len(getattr(tiny, f"y_{s}")) for s in SPLITS}
    rows = _check_export(out, tiny)
    assert any(r["AUs"] for r in rows)  # the AU reward is exercised at 1, not only at 0
    assert sorted(json.loads((out / CONFIG_FILE).read_text())) == [f"{s}.jsonl" for s in sorted(SPLITS)]


def test_emotion_only_rows_have_no_aus(tiny, tmp_path):
    ds = tiny.with_au_budget(2, seed=0)
    export_reasoning(tmp_path, dataset=ds, splits=("train",))
    rows = _check_export(tmp_path, ds, splits=("train",))
    hidden = [r for r in rows if not r["meta_info"]["au_known"]]
    assert len(hidden) == len(rows) - 2
    for row in hidden:
        assert row["AUs"] == []
        assert row["solution"] == f"<think></think><answer>{row['labels'][0]}</answer>"
        assert au_reward(row["solution"], row["AUs"]) == 0.0  # upstream pays 0 on an empty truth
        assert "not annotated" in row["description"]
    # the config's AU shares count only the rows whose AUs are known
    shares = json.loads((tmp_path / CONFIG_FILE).read_text())["train.jsonl"]["AUs"]
    known = ds.au_train[ds.known_train]
    assert shares == {
        a: round(float(known[:, k].mean()), 6) for k, a in enumerate(ds.action_units) if known[:, k].any()
    }


def test_refuses_a_non_empty_directory(tiny, tmp_path):
    (tmp_path / "notes.txt").write_text("mine")
    with pytest.raises(ValueError, match="not empty"):
        export_reasoning(tmp_path, dataset=tiny)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notes.txt"]  # refused before writing anything
    bigger = make_reasoning_dataset(**{**TINY, "faces_per_subject": 14})
    export_reasoning(tmp_path, dataset=bigger, overwrite=True)
    export_reasoning(tmp_path, dataset=tiny, splits=("train",), overwrite=True)
    assert (tmp_path / "notes.txt").read_text() == "mine"  # not ours: kept
    _check_export(tmp_path, tiny, splits=("train",))  # the bigger export's extra train images are gone
    config = json.loads((tmp_path / CONFIG_FILE).read_text())
    assert sorted(config) == ["test.jsonl", "train.jsonl", "val.jsonl"]  # the untouched splits keep their entry


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"splits": ("train", "dev")}, "splits"),
        ({"splits": ("train", "train")}, "splits"),
        ({"splits": ()}, "splits"),
        ({"dataset_kwargs": {"n_subjects": 3}}, "dataset_kwargs"),
        ({"dataset_name": ""}, "dataset_name"),
    ],
)
def test_bad_arguments(tiny, tmp_path, kwargs, match):
    with pytest.raises(ValueError, match=match):
        export_reasoning(tmp_path / "o", dataset=tiny, **kwargs)
    file = tmp_path / "file"
    file.write_text("x")
    with pytest.raises(ValueError, match="not a directory"):
        export_reasoning(file, dataset=tiny)


def test_cli_writes_the_same_export(tiny, tmp_path, capsys):
    out = tmp_path / "cli"
    assert main(["export-reasoning", "--out", str(out), *CLI_TINY]) == 0
    assert "wrote 21 faces" in capsys.readouterr().out
    _check_export(out, tiny)
    reference = tmp_path / "function"
    export_reasoning(reference, dataset_kwargs=TINY)
    for name in (*(f"{s}.jsonl" for s in SPLITS), CONFIG_FILE):
        assert (out / name).read_bytes() == (reference / name).read_bytes()

    assert main(["export-reasoning", "--out", str(out), *CLI_TINY]) == 2  # not empty
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--overwrite" in err
    assert main(["export-reasoning", "--out", str(out), *CLI_TINY, "--splits", "val", "--overwrite"]) == 0
    assert "val 7" in capsys.readouterr().out


@pytest.mark.parametrize(
    "flags",
    [
        ["--splits", "train,dev"],
        ["--n-subjects", "2"],
        ["--faces-per-subject", "0"],
        ["--image-size", "8"],
        ["--seed", "x"],
    ],
)
def test_cli_bad_flags_are_one_line(tmp_path, capsys, flags):
    out = tmp_path / "o"
    assert main(["export-reasoning", "--out", str(out), *flags]) == 2
    err = capsys.readouterr().err
    assert err.startswith("fer-select export-reasoning: error:") and err.count("\n") == 1
    assert not out.exists()


def test_cli_requires_out(capsys):
    assert main(["export-reasoning"]) == 2
    assert "--out" in capsys.readouterr().err
