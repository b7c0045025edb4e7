"""Verifiable rewards of FERReason-v0: answer format, emotion accuracy and AU F1, scored as Facial-R1 scores them.

The rules replicate Facial-R1's reward functions (RobitsG/Facial-R1 @ ``0b1be9bd6207``, file
``src/open-r1-multimodal/src/open_r1/grpo_jsonl.py``: ``format_reward``, ``default_accuracy_reward``,
``extract_aus_from_text`` + ``au_reward``; the clamp of the summed reward is in ``trainer/grpo_trainer.py``), as
pure functions of strings. :func:`trl_format_reward`, :func:`trl_accuracy_reward` and :func:`trl_au_reward` wrap
them in TRL's ``GRPOTrainer`` convention ``f(completions, **columns) -> list[float]``.

Upstream corner cases, kept on purpose:

* **format** is a ``re.fullmatch`` of ``<think>.*?</think>\\s*<answer>.*?</answer>`` (DOTALL): nothing, not even a
  newline, may stand before ``<think>`` or after the last ``</answer>``; whitespace between ``</think>`` and
  ``<answer>`` is fine. The lazy ``.*?`` may still stretch over inner tags, so ``…</answer><answer>…</answer>``
  passes. Tags are case-sensitive here.
* **accuracy**: the truth is the *first* ``<answer>…</answer>`` of the solution, searched *without* DOTALL (a truth
  spread over lines is not extracted, so the whole stripped solution is the truth), or the stripped solution when
  it has none. An empty truth pays 0.5 whatever the text says. The prediction is the *last* ``<answer>…</answer>``
  of the text (DOTALL), stripped, and **the whole stripped text when there is none**: a bare ``happiness`` scores
  1 on accuracy (and 0 on format).
* **AUs**: only the first ``<think>…</think>`` counts, its tags matched case-insensitively; the think text is
  upper-cased before ``AU\\d+`` is searched, so ``au12`` counts, and so does a negation (``no AU12`` is AU12; the
  prompt forbids negations instead). AUs are compared as strings (``AU012`` is not ``AU12``). Empty truth pays 0,
  no predicted AU pays -1, else ``2 F1 - 1``, so a non-empty all-wrong set also pays -1.

Where we differ from upstream, or could not check it:

* Upstream first asks math-verify (``parse``/``verify``) and only then compares strings; this package does not
  depend on math_verify. For single-word emotion labels the exact, case-sensitive comparison is what decides.
* The stored versions of ``grpo_jsonl.py`` at commits ``0c3fc1c6`` and ``260eb7ab`` (the only ones readable
  here; ``0b1be9bd`` itself was not) score a text answer by Levenshtein ``ratio`` of lower-cased, cleaned strings
  and multiply every reward by a per-sample weight. The reading of ``0b1be9bd`` in
  ``shared/reference/neighbour-envs-anchors.md`` §5 is exact match, with the weights applied to the loss; we
  follow it, and these functions take no weights.
* ``0c3fc1c6`` also treats a truth as empty when ``lstrip("<answer>").rstrip("</answer>")`` leaves nothing.
  Those strip *character sets*, so a label spelt only with ``<>/answer`` letters (``serene``) would pay 0.5
  whatever the answer; we test plain emptiness only.
"""

from __future__ import annotations

import math
import numbers
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from types import MappingProxyType
from typing import Any

import numpy as np

from fer_select_env.core.emotions import FER2013_CLASS_NAMES
from fer_select_env.faces.action_units import EMOTION_AU_PROTOTYPES

DEFAULT_EMPTY_TRUTH_REWARD = 0.5
"""Accuracy reward when the ground-truth answer is empty (upstream's constant)."""

DEFAULT_CLIP = 10.0
"""Upstream clamps the summed reward to ``[-10, 10]`` before the group advantage."""

_FORMAT_RE = re.compile(r"<think>.*?</think>\s*<answer>.*?</answer>", re.DOTALL)
_ANSWER_RE = re.compile(r"<answer>(.*?)</answer>", re.DOTALL)
_SOLUTION_RE = re.compile(r"<answer>(.*?)</answer>")  # no DOTALL: upstream searches the solution line by line
_THINK_RE = re.compile(r"<think>(.*?)</think>", re.DOTALL | re.IGNORECASE)
_AU_RE = re.compile(r"AU\d+")
_AU_SEPARATORS = re.compile(r"[,\s]+")


def _check_str(name: str, value: object) -> str:
    if not isinstance(value, str):
        raise ValueError(f"{name}: must be a str, got {type(value).__name__}")
    return value


def _check_real(name: str, value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(float(value)):
        raise ValueError(f"{name}: must be a finite number, got {value!r}")
    return float(value)


# ---------------------------------------------------------------------------------------------------- parsing


def parse_answer(text: str) -> str | None:
    """The stripped content of the last ``<answer>…</answer>`` of ``text`` (may span lines), or None if it has none."""
    matches = _ANSWER_RE.findall(_check_str("text", text))
    return matches[-1].strip() if matches else None


def _ground_truth(solution: str) -> str:
    # upstream: first <answer> block without DOTALL, else the whole solution; stripped either way
    match = _SOLUTION_RE.search(solution)
    return match.group(1).strip() if match else solution.strip()


def parse_think_aus(text: str) -> frozenset[str]:
    """The AUs named in the first ``<think>…</think>`` of ``text``, upper-cased; empty without a think block.

    The tags match in any case; the think text is upper-cased before ``AU\\d+`` is searched (so ``au12`` and
    ``no AU12`` both give ``AU12``), as Facial-R1's ``extract_aus_from_text`` does.
    """
    match = _THINK_RE.search(_check_str("text", text))
    if match is None:
        return frozenset()
    return frozenset(_AU_RE.findall(match.group(1).upper()))


def parse_true_aus(true_aus: Iterable[str] | str, name: str = "true_aus") -> frozenset[str]:
    """The ground-truth AUs as an upper-cased set.

    :param true_aus: an iterable of AU strings (``["AU1", "au12"]``), each upper-cased as upstream does and
        otherwise kept as is; or one string of AUs separated by commas and/or whitespace (``"AU1, AU12"``). An
        empty list or an empty string means no AUs.
    :param name: what to call the argument in errors
    """
    if isinstance(true_aus, str):
        return frozenset(s.upper() for s in _AU_SEPARATORS.split(true_aus) if s)
    if isinstance(true_aus, (bytes, Mapping)) or not isinstance(true_aus, Iterable):
        raise ValueError(f"{name}: must be a list of AU strings or one comma/space-separated str, got {true_aus!r}")
    items = list(true_aus)
    for item in items:
        if not isinstance(item, str):
            raise ValueError(f"{name}: every AU must be a str, got {item!r}")
    return frozenset(item.upper() for item in items)


def _as_set(name: str, value: object) -> frozenset[str]:
    if isinstance(value, (str, bytes)) or not isinstance(value, Iterable):
        raise ValueError(f"{name}: must be a set of AU strings, got {value!r}")
    items = list(value)
    for item in items:
        if not isinstance(item, str):
            raise ValueError(f"{name}: every AU must be a str, got {item!r}")
    return frozenset(items)


def au_f1(pred: Iterable[str], truth: Iterable[str]) -> float:
    """F1 (F_beta with beta = 1) of two AU sets, from precision and recall as upstream computes it.

    Precision is 0 for an empty ``pred``, recall 0 for an empty ``truth``, and F1 is 0 when both are 0.
    """
    pred_set, truth_set = _as_set("pred", pred), _as_set("truth", truth)
    hits = len(pred_set & truth_set)
    precision = hits / len(pred_set) if pred_set else 0.0
    recall = hits / len(truth_set) if truth_set else 0.0
    if precision + recall == 0.0:
        return 0.0
    return 2.0 * precision * recall / (precision + recall)


# ---------------------------------------------------------------------------------------------------- rewards


def format_reward(text: str) -> float:
    """1.0 when the whole ``text`` is ``<think>…</think>``, optional whitespace, ``<answer>…</answer>``; else 0.0."""
    return 1.0 if _FORMAT_RE.fullmatch(_check_str("text", text)) else 0.0


def accuracy_reward(text: str, solution: str, empty_truth_reward: float = DEFAULT_EMPTY_TRUTH_REWARD) -> float:
    """1.0 when the predicted answer equals the ground truth exactly (case-sensitive), else 0.0.

    Facial-R1's ``default_accuracy_reward``. The truth is the stripped first ``<answer>`` of ``solution`` (not
    across lines), or the stripped ``solution``; if it is empty the reward is ``empty_truth_reward``. The
    prediction is :func:`parse_answer` of ``text``, or the whole stripped ``text`` when it has no answer block.
    Upstream asks math-verify first; for single-word emotion labels the exact comparison is what decides, and
    this package does not depend on math_verify.

    :param empty_truth_reward: reward for an empty truth; upstream pays 0.5
    """
    text = _check_str("text", text)
    truth = _ground_truth(_check_str("solution", solution))
    empty_truth_reward = _check_real("empty_truth_reward", empty_truth_reward)
    if not truth:
        return empty_truth_reward
    answer = parse_answer(text)
    prediction = answer if answer is not None else text.strip()
    return 1.0 if prediction == truth else 0.0


def au_reward(text: str, true_aus: Iterable[str] | str) -> float:
    """``2 F1 - 1`` of the AUs in the first ``<think>`` block against ``true_aus``, in ``[-1, 1]``.

    Facial-R1's ``au_reward`` with beta = 1: 0.0 when ``true_aus`` is empty; -1.0 when no AU is predicted (so is a
    non-empty all-wrong prediction, F1 = 0). See :func:`parse_think_aus` and :func:`parse_true_aus`.
    """
    truth = parse_true_aus(true_aus)
    pred = parse_think_aus(text)
    if not truth:
        return 0.0
    if not pred:
        return -1.0
    return 2.0 * au_f1(pred, truth) - 1.0


def combine_rewards(components: Mapping[str, float], clip: float = DEFAULT_CLIP) -> float:
    """The sum of the reward components, clipped to ``[-clip, clip]`` (upstream clamps to ``[-10, 10]``).

    :param components: reward name -> value, e.g. ``{"au": 0.2, "acc": 1.0, "format": 1.0}``; empty sums to 0
    :param clip: a positive bound
    """
    if not isinstance(components, Mapping):
        raise ValueError(f"components: must be a mapping of reward name to value, got {type(components).__name__}")
    clip = _check_real("clip", clip)
    if clip <= 0.0:
        raise ValueError(f"clip: must be positive, got {clip!r}")
    values = []
    for key, value in components.items():
        if not isinstance(key, str):
            raise ValueError(f"components: keys must be reward names (str), got {key!r}")
        values.append(_check_real(f"components[{key!r}]", value))
    return min(clip, max(-clip, math.fsum(values)))


# --------------------------------------------------------------------------- reasoning-answer alignment (ours)
CORE_PROBABILITY = 0.5
"""A prototype unit is *core* when an emotion shows it with at least this probability."""


def core_units(emotion: str) -> frozenset[str]:
    """The units an emotion's EMFACS prototype shows with probability >= :data:`CORE_PROBABILITY`."""
    return frozenset(au for au, (p, _) in EMOTION_AU_PROTOTYPES[emotion].items() if p >= CORE_PROBABILITY)


def fitting_emotions(aus: Iterable[str], emotions: Sequence[str]) -> set[str]:
    """The emotions whose core units best match an AU set (highest Jaccard similarity; ∅ matches neutral's
    empty prototype exactly). The alignment metric, the synthesis quality check and :func:`alignment_reward`
    use it."""
    aus = frozenset(aus)
    scores = {}
    for e in emotions:
        core = core_units(e) if e in EMOTION_AU_PROTOTYPES else frozenset()
        union = aus | core
        scores[e] = 1.0 if not union else len(aus & core) / len(union)
    best = max(scores.values())
    return {e for e, s in scores.items() if s == best}


def alignment_reward(text: str, emotions: Sequence[str] = FER2013_CLASS_NAMES) -> float:
    """1 when the answered emotion is among :func:`fitting_emotions` of the AUs named in ``<think>``, else 0 (no
    answer is not aligned): the reasoning-answer alignment metric as a verifiable reward. **Not in Facial-R1**,
    whose rewards score the AUs and the answer each against the truth, never against each other."""
    answer = parse_answer(text)
    return float(answer is not None and answer in fitting_emotions(parse_think_aus(text), emotions))


REWARD_FUNCTIONS: Mapping[str, Callable[..., float]] = MappingProxyType(
    {"format": format_reward, "acc": accuracy_reward, "au": au_reward, "align": alignment_reward}
)
"""Reward name -> pure function: ``format(text)``, ``acc(text, solution)``, ``au(text, true_aus)`` (Facial-R1's
three), and ``align(text, emotions)`` (ours: :func:`alignment_reward`)."""


# ---------------------------------------------------------------------------------------------------- TRL wrappers


def _completion_texts(completions: object) -> list[str]:
    """Texts of TRL completions: ``list[str]`` (standard) or ``list[list[message]]`` (conversational).

    A conversational completion's text is its first message's ``content``, as TRL's own rewards and Facial-R1 read it.
    """
    if isinstance(completions, (str, bytes)) or not isinstance(completions, (Sequence, np.ndarray)):
        raise ValueError(f"completions: must be a list, got {type(completions).__name__}")
    texts = []
    for i, completion in enumerate(completions):
        if isinstance(completion, str):
            texts.append(completion)
            continue
        message = completion[0] if isinstance(completion, (list, tuple)) and completion else None
        content = message.get("content") if isinstance(message, Mapping) else None
        if not isinstance(content, str):
            raise ValueError(
                f"completions[{i}]: must be a str or a list of message dicts whose first has a str 'content', "
                f"got {completion!r}"
            )
        texts.append(content)
    return texts


def _column(name: str, value: object, length: int) -> list[Any]:
    if isinstance(value, (str, bytes)) or not isinstance(value, (Sequence, np.ndarray)):
        raise ValueError(f"{name}: must be a list with one entry per completion, got {type(value).__name__}")
    if len(value) != length:
        raise ValueError(f"{name}: has {len(value)} entries for {length} completions")
    return list(value)


def trl_format_reward(completions: Sequence[Any], **kwargs: Any) -> list[float]:
    """:func:`format_reward` per completion, in TRL's ``GRPOTrainer`` convention; other kwargs are ignored."""
    return [format_reward(text) for text in _completion_texts(completions)]


def trl_accuracy_reward(
    completions: Sequence[Any],
    solution: Sequence[str],
    *,
    empty_truth_reward: float = DEFAULT_EMPTY_TRUTH_REWARD,
    **kwargs: Any,
) -> list[float]:
    """:func:`accuracy_reward` per completion against the dataset column ``solution`` (one str per completion).

    Other kwargs (``prompts``, ``completion_ids``, ``trainer_state``, other columns, ...) are ignored.
    """
    texts = _completion_texts(completions)
    solutions = _column("solution", solution, len(texts))
    return [
        accuracy_reward(text, _check_str(f"solution[{i}]", sol), empty_truth_reward)
        for i, (text, sol) in enumerate(zip(texts, solutions, strict=True))
    ]


def trl_au_reward(completions: Sequence[Any], aus: Sequence[Iterable[str] | str], **kwargs: Any) -> list[float]:
    """:func:`au_reward` per completion against the dataset column ``aus``; other kwargs are ignored.

    Each row of ``aus`` is a list of AU strings or one comma/space-separated str (see :func:`parse_true_aus`).
    Upstream names the column ``AUs``; rename it to ``aus`` in the dataset.
    """
    texts = _completion_texts(completions)
    rows = _column("aus", aus, len(texts))
    return [
        au_reward(text, parse_true_aus(row, name=f"aus[{i}]"))
        for i, (text, row) in enumerate(zip(texts, rows, strict=True))
    ]


def trl_alignment_reward(
    completions: Sequence[Any], *, emotions: Sequence[str] = FER2013_CLASS_NAMES, **kwargs: Any
) -> list[float]:
    """:func:`alignment_reward` per completion (``emotions``: the label set; FER2013's by default); other kwargs
    are ignored."""
    return [alignment_reward(text, emotions) for text in _completion_texts(completions)]


TRL_REWARD_FUNCTIONS: Mapping[str, Callable[..., list[float]]] = MappingProxyType(
    {"format": trl_format_reward, "acc": trl_accuracy_reward, "au": trl_au_reward, "align": trl_alignment_reward}
)
"""The same names as :data:`REWARD_FUNCTIONS`, mapped to the TRL-signature wrappers."""


__all__ = [
    "CORE_PROBABILITY",
    "DEFAULT_CLIP",
    "DEFAULT_EMPTY_TRUTH_REWARD",
    "REWARD_FUNCTIONS",
    "TRL_REWARD_FUNCTIONS",
    "accuracy_reward",
    "alignment_reward",
    "au_f1",
    "au_reward",
    "combine_rewards",
    "core_units",
    "fitting_emotions",
    "format_reward",
    "parse_answer",
    "parse_think_aus",
    "parse_true_aus",
    "trl_accuracy_reward",
    "trl_alignment_reward",
    "trl_au_reward",
    "trl_format_reward",
]
