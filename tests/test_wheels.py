"""The emotion-wheel metric (MERTools' EW procedure) on hand-worked cases, and the word-sheet loader."""

from __future__ import annotations

import math

import pytest

from fer_select_env.data.ferplus import FERPLUS_COLUMNS
from fer_select_env.envs.text.wheels import (
    BASES,
    FORMS,
    LEXICON,
    METRIC_VERSION,
    WHEELS,
    Lexicon,
    Wheel,
    ew_f,
    load_wheels_from_folder,
    map_words,
    out_of_lexicon,
    sample_reward,
)

# ------------------------------------------------------------------------------------------------ our data


def test_version_string_is_in_every_report():
    assert METRIC_VERSION == "ew_f-1"
    assert ew_f([["happy"]], [["happy"]])["version"] == METRIC_VERSION


def test_bases_are_ferplus_vote_order():
    assert BASES == tuple(FERPLUS_COLUMNS[:8])
    assert BASES == ("neutral", "happiness", "surprise", "sadness", "anger", "disgust", "fear", "contempt")


def test_lexicon_words_each_map_to_one_base():
    words = dict(LEXICON)  # what the env takes as its vocabulary: word → base
    assert 45 <= len(words) <= 60
    assert all(w == w.strip().lower() and isinstance(b, str) and b in BASES for w, b in words.items())
    assert set(words.values()) == set(BASES)
    first = {}
    for w, b in words.items():
        first.setdefault(b, w)
    assert first == {
        "neutral": "neutral",
        "happiness": "happy",
        "surprise": "surprised",
        "sadness": "sad",
        "anger": "angry",
        "disgust": "disgusted",
        "fear": "fearful",
        "contempt": "contemptuous",
    }


def test_forms_point_at_lexicon_words_and_do_not_shadow_them():
    assert not set(FORMS) & set(LEXICON)
    assert all(len(targets) == 1 and targets[0] in LEXICON for targets in FORMS.values())
    assert FORMS["happier"] == ("happy",) and FORMS["angrier"] == ("angry",) and FORMS["sadness"] == ("sad",)


def test_every_wheel_places_every_base_on_both_rings():
    assert list(WHEELS) == ["ekman", "valence", "plutchik"]
    for wheel in WHEELS.values():
        assert wheel.source
        for level in (1, 2):
            assert set(BASES) <= set(wheel.mapping(level))


def _partition(wheel: Wheel, level: int) -> set[frozenset[str]]:
    ring = wheel.mapping(level)
    return {frozenset(b for b in BASES if ring[b] == c) for c in {ring[b] for b in BASES}}


def test_wheel_groupings_are_the_documented_ones():
    singles = {frozenset([b]) for b in BASES}
    ekman, valence, plutchik = WHEELS["ekman"], WHEELS["valence"], WHEELS["plutchik"]
    assert _partition(ekman, 2) == singles
    assert _partition(ekman, 1) == singles - {frozenset(["disgust"]), frozenset(["contempt"])} | {
        frozenset(["disgust", "contempt"])
    }
    assert _partition(valence, 2) == singles
    assert _partition(valence, 1) == {
        frozenset(["happiness"]),
        frozenset(["sadness", "anger", "disgust", "fear", "contempt"]),
        frozenset(["surprise"]),
        frozenset(["neutral"]),
    }
    # the wheel whose middle ring is not the bases: contempt sits on the anger petal
    assert _partition(plutchik, 2) == singles - {frozenset(["anger"]), frozenset(["contempt"])} | {
        frozenset(["anger", "contempt"])
    }
    assert _partition(plutchik, 1) == {
        frozenset(["happiness"]),
        frozenset(["surprise", "fear"]),
        frozenset(["sadness"]),
        frozenset(["anger", "disgust", "contempt"]),
        frozenset(["neutral"]),
    }


def test_inner_name_on_the_middle_ring_is_its_first_middle_category():
    wheel = Wheel("w", (("Bad", "Sad", "glum"), ("Bad", "Mad", "cross")))
    assert wheel.level2["bad"] == "mad"  # sorted(["sad", "mad"])[0], as upstream
    assert wheel.level1["glum"] == "bad" and wheel.level2["glum"] == "sad"
    assert wheel.categories(1) == {"bad"}


# ------------------------------------------------------------------------------------------------ mapping


def test_map_words_normalises_case_forms_and_drops_unknown_words():
    ekman = WHEELS["ekman"]
    assert map_words([" Happy ", "HAPPIER", "joy", "banana"], ekman, 2) == {"happiness"}
    assert map_words(["Sadness", "angrier"], ekman, "level2") == {"sadness", "anger"}
    assert map_words(["contemptuous"], ekman, 1) == {"disgust"}
    assert map_words([], ekman, 1) == frozenset()


def test_out_of_lexicon_keeps_words_as_given_in_order():
    assert out_of_lexicon(["happy", "AU12", "Sadder", "|", "AU12"]) == ["AU12", "|", "AU12"]


# -------------------------------------------------------------------------------------------------- ew_f


def test_synonyms_of_one_base_count_once():
    r = ew_f([["happy", "joyful", "cheerful", "happier"]], [["delighted"]])
    assert r["level2"] == {"precision": 1.0, "recall": 1.0, "f": 1.0}


def test_unmapped_words_are_free_in_precision():
    r = ew_f([["happy", "banana", "AU6", "<sep>"]], [["happy"]])
    assert r["level1"]["precision"] == 1.0 and r["level2"]["precision"] == 1.0


def test_empty_prediction_scores_zero_but_counts_in_the_means():
    # sample 1: P = R = 1; sample 2: empty (and an all-unknown one) -> P = R = 0; means 1/3, F = 1/3
    r = ew_f([["happy"], [], ["banana"]], [["happy"], ["sad"], ["angry"]])
    assert r["samples_scored"] == 3
    for level in ("level1", "level2"):
        assert r[level]["precision"] == pytest.approx(1 / 3)
        assert r[level]["recall"] == pytest.approx(1 / 3)
        assert r[level]["f"] == pytest.approx(1 / 3)


def test_sample_with_empty_mapped_truth_is_skipped():
    r = ew_f([["happy"], ["sad"], ["angry"]], [["happy"], ["banana"], []])
    assert r["samples_scored"] == 1
    assert r["level2"] == {"precision": 1.0, "recall": 1.0, "f": 1.0}
    assert all(r["per_wheel"][w]["level1"]["samples_scored"] == 1 for w in WHEELS)


def test_f_is_taken_from_the_mean_precision_and_recall():
    # Level 2, all three wheels agree (no anger/contempt): happy, sad, surprised, afraid are 4 distinct labels.
    # sample 1: pred {hap}, truth {hap, sad, sur, fea}: P = 1,   R = 1/4, F = 2*(1/4)/(5/4) = 0.4
    # sample 2: pred {hap, sad, sur, fea}, truth {hap}: P = 1/4, R = 1,   F = 0.4
    # mean P = mean R = 5/8, so F(mean P, mean R) = 5/8 = 0.625, while the mean per-sample F is 0.4.
    four = ["happy", "sad", "surprised", "afraid"]
    r = ew_f([["happy"], four], [four, ["happy"]])
    assert r["level2"]["precision"] == pytest.approx(0.625)
    assert r["level2"]["recall"] == pytest.approx(0.625)
    assert r["level2"]["f"] == pytest.approx(0.625)
    per_sample_f = [sample_reward(p, t, level=2) for p, t in [(["happy"], four), (four, ["happy"])]]
    assert per_sample_f == pytest.approx([0.4, 0.4])
    # Level 1: ekman as level 2 (0.625); valence maps the truth to {pos, neg, sur} and plutchik to
    # {joy, sadness, awe}, 3 categories: P and R are 1 and 1/3 swapped, mean 2/3, F = 2/3 on both.
    assert r["per_wheel"]["ekman"]["level1"]["f"] == pytest.approx(0.625)
    assert r["per_wheel"]["valence"]["level1"]["f"] == pytest.approx(2 / 3)
    assert r["per_wheel"]["plutchik"]["level1"]["f"] == pytest.approx(2 / 3)
    assert r["level1"]["f"] == pytest.approx((0.625 + 2 / 3 + 2 / 3) / 3)


def test_level1_merges_what_the_wheel_groups():
    # disgust for contempt: right on every inner ring (ekman disgust, valence negative, plutchik contempt),
    # wrong on every middle ring (plutchik puts contempt with anger, not disgust)
    r = ew_f([["disgusted"]], [["contemptuous"]])
    assert r["level1"]["f"] == pytest.approx(1.0)
    assert r["level2"]["f"] == pytest.approx(0.0)
    # anger for contempt: inner ring right on valence and plutchik only; middle ring right on plutchik only
    r = ew_f([["angry"]], [["scornful"]])
    assert [r["per_wheel"][w]["level1"]["f"] for w in WHEELS] == [0.0, 1.0, 1.0]
    assert [r["per_wheel"][w]["level2"]["f"] for w in WHEELS] == [0.0, 0.0, 1.0]
    assert r["level1"]["f"] == pytest.approx(2 / 3) and r["level2"]["f"] == pytest.approx(1 / 3)


def test_each_number_is_averaged_over_the_wheels_on_its_own():
    # truth {angry}, pred {angry, contemptuous}, level 2:
    #   ekman, valence: pred {anger, contempt} -> P = 1/2, R = 1, F = 2/3; plutchik: pred {anger} -> 1, 1, 1
    #   reported: P = 2/3, R = 1, F = mean(2/3, 2/3, 1) = 7/9, not 2PR/(P+R) = 0.8
    r = ew_f([["angry", "contemptuous"]], [["angry"]])
    assert r["level2"]["precision"] == pytest.approx(2 / 3)
    assert r["level2"]["recall"] == pytest.approx(1.0)
    assert r["level2"]["f"] == pytest.approx(7 / 9)
    p, rec = r["level2"]["precision"], r["level2"]["recall"]
    assert 2 * p * rec / (p + rec) == pytest.approx(0.8)


def test_one_wheel_alone():
    r = ew_f([["angry", "contemptuous"]], [["angry"]], wheels={"plutchik": WHEELS["plutchik"]})
    assert list(r["per_wheel"]) == ["plutchik"]
    assert r["level2"] == {"precision": 1.0, "recall": 1.0, "f": 1.0}


# ------------------------------------------------------------------------------------------------ reward


@pytest.mark.parametrize(
    ("prediction", "truth", "level", "expected"),
    [
        (["happy"], ["joyful"], 1, 1.0),
        (["happy", "sad"], ["happy"], 2, 2 / 3),  # 2*1/(1+2) on every wheel
        ([], ["happy"], 1, 0.0),
        (["banana", "AU12"], ["happy"], 1, 0.0),  # fully out of lexicon = empty
        (["happy"], [], 1, 0.0),  # empty truth: no signal
        (["happy"], ["banana"], 2, 0.0),
        (["angry"], ["contemptuous"], 1, 2 / 3),
        (["angry"], ["contemptuous"], "level2", 1 / 3),
    ],
)
def test_sample_reward(prediction, truth, level, expected):
    assert sample_reward(prediction, truth, level=level) == pytest.approx(expected)


@pytest.mark.parametrize(
    ("prediction", "truth"),
    [(["happy", "sad"], ["sad", "fearful"]), (["angry", "scornful", "calm"], ["contemptuous"]), ([], ["sad"])],
)
def test_sample_reward_is_the_metric_on_one_sample(prediction, truth):
    r = ew_f([prediction], [truth])
    for level in (1, 2):
        assert sample_reward(prediction, truth, level=level) == pytest.approx(r[f"level{level}"]["f"])


# ------------------------------------------------------------------------------------------------ bad input


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda: ew_f([["happy"]], [["happy"], ["sad"]]), "truths"),
        (lambda: ew_f([["happy", 3]], [["happy"]]), r"predictions\[0\]\[1\]"),
        (lambda: ew_f(["happy"], [["happy"]]), r"predictions\[0\]"),
        (lambda: ew_f([["happy"]], "happy"), "truths"),
        (lambda: ew_f([], []), "predictions"),
        (lambda: ew_f([["happy"]], [["happy"]], wheels={}), "wheels"),
        (lambda: ew_f([["happy"]], [["happy"]], wheels={"x": "ekman"}), "wheels"),
        (lambda: ew_f([["happy"]], [["happy"]], lexicon=["happy"]), "lexicon"),
        (lambda: sample_reward(["happy"], ["happy"], level=3), "level"),
        (lambda: sample_reward(["happy"], ["happy"], level=True), "level"),
        (lambda: sample_reward(["happy"], ["happy"], level=1.0), "level"),
        (lambda: sample_reward("happy", ["happy"]), "prediction"),
        (lambda: sample_reward(["happy"], [None]), "truth"),
        (lambda: map_words(["happy"], "ekman", 1), "wheel"),
        (lambda: map_words(["happy"], WHEELS["ekman"], 0), "level"),
        (lambda: out_of_lexicon([b"happy"]), "words"),
        (lambda: Wheel("w", ()), "rows"),
        (lambda: Wheel("w", (("a", "b"),)), r"rows\[0\]"),
        (lambda: Lexicon({"Happy": "a", "happy": "b"}), "words"),
        (lambda: Lexicon({"happy": 1}), "words"),
    ],
)
def test_bad_input_names_the_argument(call, match):
    with pytest.raises(ValueError, match=match):
        call()


def test_plain_mapping_works_as_a_lexicon():
    lexicon = {"glee": "happiness", "woe": ("sadness",)}
    r = ew_f([["Glee", "happy"]], [["glee", "woe"]], lexicon=lexicon)
    assert r["level2"]["precision"] == 1.0 and r["level2"]["recall"] == 0.5


# ------------------------------------------------------------------------------------------------ loader

_FORMAT = """name,format
joyful,"joyful,joy,joyfully"
happy,"['happy', 'happier', 'joy']"
cross,"cross,crossly"
glum,glum
cheery,"cheery,cheerier"
glad,glad
"""
_SYNONYM = """word_run1,synonym_run1,word_run2,synonym_run2
happy,"['joyful', 'glad']",happy,"['joyful']"
mad,['cross'],sad,"['glum']"
cheerful,"['cheery']",cheerful,"['glad']"
"""
_WHEEL1 = """level1,level2,level3
Happy,Joyful,Happy
,,Cheerful
Mad,Angry,Mad
Sad,Lonely,Sad
"""
_WHEEL2 = """level1,level2,level3
Good,Happy,Joyful
Bad,Mad,Cross
,Sad,Glum
"""


def _sheets(folder, **files):
    texts = {"format.csv": _FORMAT, "synonym.csv": _SYNONYM, "wheel1.csv": _WHEEL1, "wheel2.csv": _WHEEL2}
    texts.update({k.replace("_", "."): v for k, v in files.items()})
    for name, text in texts.items():
        if text is not None:
            (folder / name).write_text(text, encoding="utf-8")
    return folder


def test_loader_reads_the_sheets(tmp_path):
    lexicon, wheels = load_wheels_from_folder(_sheets(tmp_path))
    assert list(wheels) == ["wheel1", "wheel2"]
    w1, w2 = wheels["wheel1"], wheels["wheel2"]
    assert w1.level1["cheerful"] == "happy" and w1.level2["cheerful"] == "joyful"  # blank cells repeat above
    assert w2.level1["glum"] == "bad" and w2.level2["bad"] == "mad"
    assert lexicon["glad"] == ("cheerful", "happy")  # runs merged
    # "joy" is a form of both joyful and happy; both reach the label happy
    assert map_words(["Joy"], w1, 1, lexicon) == {"happy"} and map_words(["joy"], w2, 2, lexicon) == {"happy"}
    # glad reaches [cheerful, happy]: the first sorted label the wheel knows decides
    assert map_words(["glad"], w1, 2, lexicon) == {"joyful"}  # cheerful, in wheel1
    assert map_words(["glad"], w2, 1, lexicon) == {"good"}  # cheerful is not in wheel2 -> happy
    # words missing from format.csv are dropped, as upstream (sad and mad are only in synonym.csv)
    assert out_of_lexicon(["sad", "mad", "crossly", "happier"], lexicon) == ["sad", "mad"]


def test_loader_output_feeds_the_metric(tmp_path):
    lexicon, wheels = load_wheels_from_folder(_sheets(tmp_path))
    # wheel1 L1: pred {happy, mad}, truth {sad, happy} -> 1/2; wheel2 L1: {good, bad} both -> 1; mean F = 3/4
    # wheel1 L2: {joyful, angry} vs {lonely, joyful} -> 1/2; wheel2 L2: {happy, mad} vs {sad, happy} -> 1/2
    r = ew_f([["joy", "crossly"]], [["glum", "happier"]], wheels=wheels, lexicon=lexicon)
    assert r["level1"]["f"] == pytest.approx(0.75) and r["level2"]["f"] == pytest.approx(0.5)


def test_wheel_that_scores_no_sample_reports_nan(tmp_path):
    lexicon, wheels = load_wheels_from_folder(_sheets(tmp_path))
    r = ew_f([["cheery"]], [["cheery"]], wheels=wheels, lexicon=lexicon)  # cheerful is only in wheel1
    assert r["per_wheel"]["wheel1"]["level1"] == {"precision": 1.0, "recall": 1.0, "f": 1.0, "samples_scored": 1}
    assert r["per_wheel"]["wheel2"]["level1"]["samples_scored"] == 0
    assert math.isnan(r["per_wheel"]["wheel2"]["level1"]["f"]) and math.isnan(r["level1"]["f"])
    assert r["samples_scored"] == 1
    # the reward leaves that wheel out of its mean
    assert sample_reward(["cheery"], ["cheery"], wheels=wheels, lexicon=lexicon) == 1.0


@pytest.mark.parametrize(
    ("files", "match"),
    [
        ({"wheel1_csv": "level1,level2\nHappy,Joyful\n"}, r"wheel1\.csv: missing column.*level3"),
        ({"wheel1_csv": "level1,level2,level3\n,Joyful,Happy\n"}, r"wheel1\.csv row 2: empty level1"),
        ({"wheel2_csv": "level1,level2,level3\nGood,Happy,Joyful,extra\n"}, r"wheel2\.csv row 2: more cells"),
        ({"synonym_csv": "word_run1,synonym_run1\nhappy,[]\nelated,[]\n"}, r"synonym\.csv row 3: .*'elated'"),
        ({"synonym_csv": "word_run1\nhappy\n"}, r"synonym\.csv: missing column.*synonym_run1"),
        ({"synonym_csv": "word,synonym\nhappy,[]\n"}, r"synonym\.csv: no word_<run>"),
        ({"synonym_csv": "word_run1,synonym_run1\n,[]\n"}, r"synonym\.csv row 2: empty word_run1"),
        ({"format_csv": 'name,format\n,"a,b"\n'}, r"format\.csv row 2: empty name"),
        ({"format_csv": None}, r"no format\.csv"),
    ],
)
def test_loader_rejects_bad_files(tmp_path, files, match):
    _sheets(tmp_path, **files)  # a None file is not written
    with pytest.raises(ValueError, match=match):
        load_wheels_from_folder(tmp_path)


def test_loader_rejects_non_utf8_and_xlsx_only_folders(tmp_path):
    _sheets(tmp_path)
    (tmp_path / "wheel1.csv").write_bytes(b"level1,level2,level3\n\xff\xfe,\x80,x\n")
    with pytest.raises(ValueError, match=r"wheel1\.csv: not a readable UTF-8 CSV"):
        load_wheels_from_folder(tmp_path)
    xlsx = tmp_path / "xlsx"
    xlsx.mkdir()
    (xlsx / "format.csv").write_text(_FORMAT, encoding="utf-8")
    (xlsx / "synonym.xlsx").write_bytes(b"PK")
    with pytest.raises(ValueError, match=r"no synonym\.csv; export each sheet to CSV"):
        load_wheels_from_folder(xlsx)
    with pytest.raises(ValueError, match="path"):
        load_wheels_from_folder(tmp_path / "missing")
