"""FERReason's verifiable rewards (Facial-R1's format / accuracy / AU rules), checked on hand-worked strings."""

from __future__ import annotations

import pytest

from fer_select_env.envs.text.rewards import (
    REWARD_FUNCTIONS,
    TRL_REWARD_FUNCTIONS,
    accuracy_reward,
    au_f1,
    au_reward,
    combine_rewards,
    format_reward,
    parse_answer,
    parse_think_aus,
    parse_true_aus,
    trl_accuracy_reward,
    trl_au_reward,
    trl_format_reward,
)

GOOD = "<think>AU6 and AU12 are active.</think>\n<answer>happiness</answer>"


# ------------------------------------------------------------------------------------------------ format


@pytest.mark.parametrize(
    "text",
    [
        "<think>x</think><answer>y</answer>",
        "<think>x</think> \n\t <answer>y</answer>",  # whitespace between the blocks is allowed
        "<think>\nline 1\nline 2\n</think>\n<answer>\nhappiness\n</answer>",  # DOTALL
        "<think></think><answer></answer>",  # empty blocks still have the format
        "<think>a</think><answer>b</answer><answer>c</answer>",  # the lazy .*? stretches to the last </answer>
    ],
)
def test_format_accepts(text):
    assert format_reward(text) == 1.0


@pytest.mark.parametrize(
    "text",
    [
        "Sure. <think>x</think><answer>y</answer>",  # text before <think>
        "\n<think>x</think><answer>y</answer>",  # even a newline
        "<think>x</think><answer>y</answer> done",  # text after </answer>
        "<think>x</think><answer>y</answer>\n",
        "<think>x</think> so <answer>y</answer>",  # words between the blocks
        "<answer>y</answer><think>x</think>",  # wrong order
        "<think>x</think>",
        "<answer>y</answer>",
        "<THINK>x</THINK><ANSWER>y</ANSWER>",  # tags are case-sensitive here
        "",
    ],
)
def test_format_rejects(text):
    assert format_reward(text) == 0.0


# ------------------------------------------------------------------------------------------------ accuracy


def test_parse_answer_takes_the_last_block_stripped():
    assert parse_answer("<answer> sadness </answer> then <answer>\nfear\n</answer>") == "fear"
    assert parse_answer("<answer>happiness</answer><answer>sad") == "happiness"  # an unclosed block is no block
    assert parse_answer("no tags") is None
    assert parse_answer("<answer></answer>") == ""


def test_accuracy_exact_match():
    assert accuracy_reward(GOOD, "<answer>happiness</answer>") == 1.0
    assert accuracy_reward(GOOD, "happiness") == 1.0  # a solution without tags is the truth itself
    assert accuracy_reward(GOOD, "  happiness \n") == 1.0  # ... stripped
    assert accuracy_reward("<think>x</think><answer>  happiness\n</answer>", "<answer> happiness </answer>") == 1.0
    assert accuracy_reward(GOOD, "<answer>sadness</answer>") == 0.0


def test_accuracy_is_case_sensitive_and_exact():
    assert accuracy_reward("<answer>Happy</answer>", "happy") == 0.0
    assert accuracy_reward("<answer>happy</answer>", "happy") == 1.0
    assert accuracy_reward("<answer>happy.</answer>", "happy") == 0.0  # no cleaning of punctuation
    assert accuracy_reward("<answer>happiness or sadness</answer>", "happiness") == 0.0  # no substring credit


def test_accuracy_last_answer_wins():
    text = "<think>maybe <answer>sadness</answer></think><answer>fear</answer> <answer>happiness</answer>"
    assert accuracy_reward(text, "happiness") == 1.0
    assert accuracy_reward(text, "sadness") == 0.0
    assert accuracy_reward(text, "fear") == 0.0


def test_accuracy_without_answer_block_falls_back_to_the_whole_text():
    # upstream behaviour: a bare label scores on accuracy (and 0 on format)
    assert accuracy_reward("  happiness\n", "happiness") == 1.0
    assert accuracy_reward("<think>happiness</think>", "happiness") == 0.0  # the whole text, tags included
    assert format_reward("happiness") == 0.0


def test_accuracy_empty_truth_pays_one_half():
    assert accuracy_reward(GOOD, "") == 0.5
    assert accuracy_reward(GOOD, "   ") == 0.5
    assert accuracy_reward(GOOD, "<answer></answer>") == 0.5
    assert accuracy_reward(GOOD, "<answer>  </answer>") == 0.5
    assert accuracy_reward("anything", "<answer></answer>", empty_truth_reward=0.0) == 0.0
    # a non-empty label made only of '<>/answer' letters is not empty (upstream's lstrip/rstrip would say it is)
    assert accuracy_reward("<answer>sane</answer>", "<answer>serene</answer>") == 0.0


def test_accuracy_truth_is_the_first_block_and_not_across_lines():
    assert accuracy_reward("<answer>fear</answer>", "<answer>fear</answer><answer>anger</answer>") == 1.0
    # upstream searches the solution without DOTALL: a two-line truth is not extracted, the whole solution is
    # and it can never equal an answer parsed from a text, not even the same string
    solution = "<answer>hap\npy</answer>"
    assert accuracy_reward(solution, solution) == 0.0
    assert accuracy_reward("<answer>happy</answer>", "<answer>happy</answer>\n") == 1.0  # one line is enough


# ------------------------------------------------------------------------------------------------ AUs


def test_parse_think_aus():
    assert parse_think_aus(GOOD) == {"AU6", "AU12"}
    assert parse_think_aus("<think>au1, Au2 and aU4</think>") == {"AU1", "AU2", "AU4"}  # upper-cased first
    assert parse_think_aus("<think>no AU12, not AU4</think>") == {"AU12", "AU4"}  # negations count (upstream)
    assert parse_think_aus("<THINK>AU5</Think>") == {"AU5"}  # think tags in any case
    assert parse_think_aus("<think>AU1</think><think>AU2</think>") == {"AU1"}  # first block only
    assert parse_think_aus("<think>AU012 AU12</think>") == {"AU012", "AU12"}  # compared as strings
    assert parse_think_aus("AU1 <answer>AU2</answer>") == frozenset()  # no think block -> none
    assert parse_think_aus("<think>AU1") == frozenset()  # unclosed


def test_parse_true_aus():
    assert parse_true_aus(["AU1", "au12"]) == {"AU1", "AU12"}
    assert parse_true_aus(("AU1", "AU1")) == {"AU1"}
    assert parse_true_aus("AU1, au12  AU25,AU26") == {"AU1", "AU12", "AU25", "AU26"}
    assert parse_true_aus("") == frozenset()
    assert parse_true_aus([]) == frozenset()


def test_au_f1_by_hand():
    # P = 2/3, R = 2/4 -> F1 = 2 * (1/3) / (7/6) = 4/7
    assert au_f1({"AU1", "AU2", "AU5"}, {"AU1", "AU2", "AU4", "AU26"}) == pytest.approx(4 / 7)
    assert au_f1({"AU1"}, {"AU1"}) == 1.0
    assert au_f1({"AU1"}, {"AU2"}) == 0.0
    assert au_f1(set(), {"AU2"}) == 0.0
    assert au_f1(set(), set()) == 0.0


def test_au_reward_partial_overlap_by_hand():
    text = "<think>I see AU1, AU2 and AU5.</think><answer>surprise</answer>"
    # F1 = 4/7 -> 2 * 4/7 - 1 = 1/7
    assert au_reward(text, ["AU1", "AU2", "AU4", "AU26"]) == pytest.approx(1 / 7)


def test_au_reward_extremes():
    assert au_reward("<think>AU6 AU12</think>", ["AU12", "AU6"]) == 1.0
    assert au_reward("<think>AU6 and au12</think>", ["AU6", "AU12"]) == 1.0  # lower-case au12 counts
    assert au_reward("<think>no AU12</think>", ["AU12"]) == 1.0  # 'no AU12' still names AU12
    assert au_reward("<think>AU1 AU2</think>", ["AU12"]) == -1.0  # all wrong
    assert au_reward("<think>a smile</think>", ["AU12"]) == -1.0  # none predicted
    assert au_reward("AU12 <answer>happiness</answer>", ["AU12"]) == -1.0  # AUs outside <think> do not count
    assert au_reward("<think>x</think><answer>AU12</answer>", ["AU12"]) == -1.0
    assert au_reward("<think>AU12</think>", []) == 0.0  # empty truth
    assert au_reward("<think>a smile</think>", "") == 0.0
    assert au_reward("<think>AU12</think>", ["au12"]) == 1.0  # truth upper-cased too


# ------------------------------------------------------------------------------------------------ combining


def test_combine_rewards_sums_and_clips():
    assert combine_rewards({"au": 1 / 7, "acc": 1.0, "format": 1.0}) == pytest.approx(2 + 1 / 7)
    assert combine_rewards({}) == 0.0
    assert combine_rewards({"a": 8.0, "b": 5.0}) == 10.0
    assert combine_rewards({"a": -8.0, "b": -5.0}) == -10.0
    assert combine_rewards({"a": 1.0, "b": 1.5}, clip=2.0) == 2.0
    assert combine_rewards({"a": 10.0}) == 10.0


def test_reward_function_tables():
    assert set(REWARD_FUNCTIONS) == set(TRL_REWARD_FUNCTIONS) == {"format", "acc", "au", "align"}
    selected = {name: REWARD_FUNCTIONS[name] for name in ("au", "acc", "format")}
    parts = {
        "au": selected["au"](GOOD, ["AU6", "AU12"]),
        "acc": selected["acc"](GOOD, "happiness"),
        "format": selected["format"](GOOD),
    }
    assert parts == {"au": 1.0, "acc": 1.0, "format": 1.0}
    assert combine_rewards(parts) == 3.0


def test_alignment_reward_by_hand():
    from fer_select_env.envs.text.rewards import alignment_reward, trl_alignment_reward

    emotions = ("angry", "happy", "sad", "neutral")
    assert alignment_reward("<think>AU6 AU12</think><answer>happy</answer>", emotions) == 1.0
    assert alignment_reward("<think>AU6 AU12</think><answer>sad</answer>", emotions) == 0.0
    assert alignment_reward("<think>AU6 AU12</think>", emotions) == 0.0  # no answer is not aligned
    assert alignment_reward("<think></think><answer>neutral</answer>", emotions) == 1.0  # ∅ fits neutral
    assert alignment_reward("<answer>happy</answer>", emotions) == 0.0  # no think: ∅, which fits neutral only
    # it scores the AUs against the answer, never against the truth: a wrong pair that agrees still pays
    assert trl_alignment_reward(["<think>AU6 AU12</think><answer>happy</answer>", "x"], emotions=emotions) == [1.0, 0.0]


# ------------------------------------------------------------------------------------------------ TRL wrappers

TEXTS = [
    GOOD,
    "<think>AU1 AU2</think><answer>Happiness</answer>",
    "happiness",
]


def _conversational(texts):
    return [[{"role": "assistant", "content": t}] for t in texts]


@pytest.mark.parametrize("as_messages", [False, True], ids=["standard", "conversational"])
def test_trl_wrappers_both_formats(as_messages):
    completions = _conversational(TEXTS) if as_messages else list(TEXTS)
    extra = {"prompts": ["p"] * 3, "completion_ids": [[1], [2], [3]], "trainer_state": object(), "other": [0] * 3}
    assert trl_format_reward(completions, **extra) == [1.0, 1.0, 0.0]
    solution = ["<answer>happiness</answer>", "happiness", ""]
    assert trl_accuracy_reward(completions, solution=solution, **extra) == [1.0, 0.0, 0.5]
    aus = [["AU6", "AU12"], "AU1, AU4", []]
    # row 2: P = 1/2, R = 1/2 -> F1 = 1/2 -> 0
    assert trl_au_reward(completions, aus=aus, **extra) == pytest.approx([1.0, 0.0, 0.0])
    assert trl_accuracy_reward(completions, solution=solution, empty_truth_reward=0.0)[2] == 0.0


def test_trl_wrappers_reject_length_mismatch():
    with pytest.raises(ValueError, match="solution"):
        trl_accuracy_reward(TEXTS, solution=["happiness"])
    with pytest.raises(ValueError, match="aus"):
        trl_au_reward(TEXTS, aus=[["AU1"]] * 4)


def test_trl_wrappers_reject_bad_completions():
    with pytest.raises(ValueError, match="completions"):
        trl_format_reward("one string")
    with pytest.raises(ValueError, match=r"completions\[1\]"):
        trl_format_reward([GOOD, [{"role": "assistant"}]])
    with pytest.raises(ValueError, match=r"completions\[0\]"):
        trl_format_reward([[]])
    with pytest.raises(ValueError, match="solution"):
        trl_accuracy_reward(TEXTS, solution="happiness")
    with pytest.raises(ValueError, match=r"aus\[0\]"):
        trl_au_reward([GOOD], aus=[[12]])


# ------------------------------------------------------------------------------------------------ bad input


@pytest.mark.parametrize(
    ("call", "name"),
    [
        (lambda: format_reward(None), "text"),
        (lambda: parse_answer(b"<answer>x</answer>"), "text"),
        (lambda: accuracy_reward(GOOD, None), "solution"),
        (lambda: accuracy_reward(3, "happiness"), "text"),
        (lambda: accuracy_reward(GOOD, "x", empty_truth_reward="0.5"), "empty_truth_reward"),
        (lambda: accuracy_reward(GOOD, "x", empty_truth_reward=float("nan")), "empty_truth_reward"),
        (lambda: au_reward(GOOD, None), "true_aus"),
        (lambda: au_reward(GOOD, [12]), "true_aus"),
        (lambda: au_reward(None, ["AU1"]), "text"),
        (lambda: au_f1("AU1", {"AU1"}), "pred"),
        (lambda: au_f1({"AU1"}, [1]), "truth"),
        (lambda: combine_rewards([1.0]), "components"),
        (lambda: combine_rewards({"a": "1"}), "components"),
        (lambda: combine_rewards({"a": float("inf")}), "components"),
        (lambda: combine_rewards({1: 1.0}), "components"),
        (lambda: combine_rewards({"a": 1.0}, clip=0.0), "clip"),
        (lambda: combine_rewards({"a": 1.0}, clip=True), "clip"),
    ],
)
def test_bad_arguments_name_the_argument(call, name):
    with pytest.raises(ValueError, match=name):
        call()
