"""The token vocabulary of the token envs: the four Facial-R1 tags, one token per AU, one per answer word,
and EOS; how token ids become the text the rewards score; and the grammar an action mask may enforce.

Text is what Facial-R1's reward functions read (``fer_select_env.envs.text.rewards``): tags are written
without spaces and words are separated by one space, so ``<think>`` AU1 AU2 ``</think>`` ``<answer>`` fear
``</answer>`` becomes ``"<think>AU1 AU2</think><answer>fear</answer>"``. EOS ends the completion and is
not written.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np

THINK, END_THINK, ANSWER, END_ANSWER = "<think>", "</think>", "<answer>", "</answer>"
TAGS: tuple[str, ...] = (THINK, END_THINK, ANSWER, END_ANSWER)
EOS = "<eos>"

# Grammar states of a well-formed completion: <think> unit* </think> <answer> word </answer> <eos>.
_START, _IN_THINK, _AFTER_THINK, _IN_ANSWER, _AFTER_WORD, _DONE = range(6)


class TokenIds:
    """What both vocabularies share: ``tokens`` (EOS last), their ids, EOS and the padding id."""

    tokens: tuple[str, ...]

    def __len__(self) -> int:
        return len(self.tokens)

    @property
    def eos(self) -> int:
        return len(self.tokens) - 1

    @property
    def pad(self) -> int:
        """The padding value of the observation's token slots: one past the last token id."""
        return len(self.tokens)

    def id(self, token: str) -> int:
        """The id of one token string."""
        try:
            return self.tokens.index(token)
        except ValueError:
            raise ValueError(f"token: {token!r} is not in the vocabulary") from None


@dataclass(frozen=True)
class Vocabulary(TokenIds):
    """Token ids: the tags first, then the units, then the answer words, then EOS.

    :param units: the reasoning tokens (AU names), written inside ``<think>``
    :param words: the answer tokens (emotion names)
    """

    units: tuple[str, ...]
    words: tuple[str, ...]
    tokens: tuple[str, ...] = field(init=False)

    def __post_init__(self) -> None:
        units, words = tuple(map(str, self.units)), tuple(map(str, self.words))
        tokens = (*TAGS, *units, *words, EOS)
        if len(set(tokens)) != len(tokens) or not units or not words:
            raise ValueError(f"vocabulary: units and words must be non-empty and distinct from the tags, got {tokens}")
        if any(not t or " " in t for t in units + words):
            raise ValueError("vocabulary: a unit or word token must be one non-empty word without spaces")
        object.__setattr__(self, "units", units)
        object.__setattr__(self, "words", words)
        object.__setattr__(self, "tokens", tokens)

    # ------------------------------------------------------------------------------------------- ids
    def unit_id(self, k: int) -> int:
        return len(TAGS) + int(k)

    def word_id(self, k: int) -> int:
        return len(TAGS) + len(self.units) + int(k)

    def is_unit(self, token_id: int) -> bool:
        return len(TAGS) <= token_id < len(TAGS) + len(self.units)

    def is_word(self, token_id: int) -> bool:
        return len(TAGS) + len(self.units) <= token_id < self.eos

    # ------------------------------------------------------------------------------------------ text
    def decode(self, token_ids: Iterable[int]) -> str:
        """The text of a completion: up to (not including) its first EOS, tags unspaced, words spaced."""
        out: list[str] = []
        previous_word = False
        for t in token_ids:
            t = int(t)
            if t < 0 or t >= len(self.tokens):
                if t == self.pad:
                    break
                raise ValueError(f"token_ids: {t} is not a token id (0..{len(self.tokens) - 1})")
            if t == self.eos:
                break
            token = self.tokens[t]
            word = token not in TAGS
            if word and previous_word:
                out.append(" ")
            out.append(token)
            previous_word = word
        return "".join(out)

    def encode(self, parts: Sequence[str]) -> list[int]:
        """Token ids of a sequence of token strings (the teacher's output), EOS appended."""
        return [self.id(p) for p in parts] + [self.eos]

    # --------------------------------------------------------------------------------------- grammar
    def grammar_mask(self, token_ids: Sequence[int], max_length: int) -> np.ndarray:
        """The tokens that keep ``token_ids`` a prefix of a well-formed completion that fits in
        ``max_length`` tokens (bool, one per token id): ``<think> unit* </think> <answer> word </answer>``,
        then EOS. A unit is allowed only while ``</think> <answer> word </answer>`` still fits after it;
        EOS may be cut off by the length limit. After a malformed prefix every token is allowed (the
        format reward is already lost)."""
        mask = np.zeros(len(self.tokens), bool)
        state = self._state(token_ids)
        n = len(token_ids)
        if state is None or n >= max_length:
            mask[:] = True
            return mask
        if state == _START:
            mask[self.id(THINK)] = True
        elif state == _IN_THINK:
            mask[self.id(END_THINK)] = True
            if n + 1 + 3 < max_length:  # after this unit: </think> <answer> word, and </answer> must fit
                mask[len(TAGS) : len(TAGS) + len(self.units)] = True
        elif state == _AFTER_THINK:
            mask[self.id(ANSWER)] = True
        elif state == _IN_ANSWER:
            mask[len(TAGS) + len(self.units) : self.eos] = True
        elif state == _AFTER_WORD:
            mask[self.id(END_ANSWER)] = True
        else:
            mask[self.eos] = True
        return mask

    def _state(self, token_ids: Sequence[int]) -> int | None:
        state = _START
        think, end_think, answer, end_answer = (self.id(t) for t in TAGS)
        for t in token_ids:
            t = int(t)
            if state == _START and t == think:
                state = _IN_THINK
            elif state == _IN_THINK and self.is_unit(t):
                pass
            elif state == _IN_THINK and t == end_think:
                state = _AFTER_THINK
            elif state == _AFTER_THINK and t == answer:
                state = _IN_ANSWER
            elif state == _IN_ANSWER and self.is_word(t):
                state = _AFTER_WORD
            elif state == _AFTER_WORD and t == end_answer:
                state = _DONE
            else:
                return None
        return state


@dataclass(frozen=True)
class WordVocabulary(TokenIds):
    """Token ids of a word-set answer (FEROpenVocab-v0): one id per word, then EOS; the text of a completion
    is its words up to EOS, space-separated.

    :param words: the answer words (and any reasoning tokens), distinct, one word each
    """

    words: tuple[str, ...]
    tokens: tuple[str, ...] = field(init=False)

    def __post_init__(self) -> None:
        words = tuple(map(str, self.words))
        if not words or len(set(words)) != len(words) or EOS in words or any(not w or " " in w for w in words):
            raise ValueError("vocabulary: words must be distinct, non-empty, without spaces, and not EOS")
        object.__setattr__(self, "words", words)
        object.__setattr__(self, "tokens", (*words, EOS))

    def words_of(self, token_ids: Iterable[int]) -> list[str]:
        """The words of a completion, up to (not including) its first EOS or padding."""
        out = []
        for t in token_ids:
            t = int(t)
            if t in (self.eos, self.pad):
                break
            if t < 0 or t > self.eos:
                raise ValueError(f"token_ids: {t} is not a token id (0..{self.eos})")
            out.append(self.tokens[t])
        return out

    def decode(self, token_ids: Iterable[int]) -> str:
        return " ".join(self.words_of(token_ids))

    def encode(self, words: Sequence[str]) -> list[int]:
        """Token ids of a word list, EOS appended."""
        return [self.id(w) for w in words] + [self.eos]


__all__ = ["ANSWER", "END_ANSWER", "END_THINK", "EOS", "TAGS", "THINK", "TokenIds", "Vocabulary", "WordVocabulary"]
