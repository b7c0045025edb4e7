"""FEROpenVocab-v0: answer a face with a free set of emotion words, scored by emotion wheels (after
AffectGPT-RL), as a token MDP."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

import numpy as np
from gymnasium import spaces
from gymnasium.error import ResetNeeded

from fer_select_env.core.checks import check_choice, check_int_at_least
from fer_select_env.data.dataset import FERDataset
from fer_select_env.data.openvocab import BASES, FEROpenVocabDataset, make_openvocab_dataset
from fer_select_env.envs.text import wheels
from fer_select_env.envs.text.token_env import OBSERVATIONS, SPLITS, TokenEnv
from fer_select_env.envs.text.vocabulary import WordVocabulary
from fer_select_env.faces.action_units import ACTION_UNITS
from fer_select_env.models.cnn import ClassifierConfig

SEPARATOR = "<sep>"
DEFAULT_MAX_WORDS = 6
DEFAULT_LENGTH_PENALTY = 0.02
"""λ per emitted token: a sixth word must raise the wheel F1 by 0.02 to pay for itself."""


def base_words(lexicon: Mapping[str, str]) -> dict[str, str]:
    """One lexicon word per base emotion (the first listed): how a truth set is written for the metric."""
    out: dict[str, str] = {}
    for word, base in lexicon.items():
        out.setdefault(base, word)
    missing = [b for b in BASES if b not in out]
    if missing:
        raise ValueError(f"lexicon: no word for the base emotion(s) {missing}")
    return out


def _load_dataset(dataset: object, dataset_kwargs: object) -> FEROpenVocabDataset:
    if dataset_kwargs is not None and not isinstance(dataset_kwargs, Mapping):
        raise ValueError(f"dataset_kwargs: must be a dict or None, got {type(dataset_kwargs).__name__}")
    kwargs = dict(dataset_kwargs or {})
    if isinstance(dataset, FEROpenVocabDataset):
        return dataset
    if isinstance(dataset, FERDataset):
        return FEROpenVocabDataset.from_fer_dataset(dataset, **kwargs)
    if dataset is None:
        return make_openvocab_dataset(**kwargs)
    if isinstance(dataset, (str, os.PathLike)):
        from fer_select_env.data.loaders import load_fer2013

        return FEROpenVocabDataset.from_fer_dataset(load_fer2013(dataset), **kwargs)
    raise ValueError(
        "dataset: must be a FEROpenVocabDataset, a FERDataset with FER+ votes, the path of the FER2013 "
        f"evaluation copy, or None, got {type(dataset).__name__}"
    )


class FEROpenVocabEnv(TokenEnv):
    """Answer a face with a free set of emotion words; the reward is the emotion-wheel F1 of the set.

    This docstring is the environment's documentation: `docs/envs/text.md` is generated from it.

    ```python
    import gymnasium as gym
    import fer_select_env  # registers FEROpenVocab-v0

    env = gym.make("FEROpenVocab-v0")  # synthetic blended faces with known emotion sets
    env = gym.make("FEROpenVocab-v0", dataset="fer2013.npz")  # FER2013, truth from the FER+ votes
    obs, info = env.reset(seed=0, options={"index": 3})
    ```

    ## Description

    AffectGPT-RL predicts emotions as free word sets and scores them with emotion-wheel metrics, which no
    gradient reaches; RL optimises them directly. Here a policy writes up to L words (default 6) for a face,
    then EOS. The words are mapped through the package's lexicon (about 50 words over the eight FER+ emotions)
    and each wheel's rings (`fer_select_env.envs.text.wheels`, metric version `wheels.METRIC_VERSION`); the
    reward is the per-sample wheel F1 averaged over the wheels and the two ring levels, minus λ per emitted
    token. Words outside the lexicon cost nothing in precision, so the length penalty counts every token.

    **Data.** By default synthetic faces that blend two EMFACS prototypes with known weights (the truth: the
    emotions whose weight reaches 0.3; half the faces blend). FER2013's evaluation copy is one argument away:
    the truth of an image is then the FER+ emotions with at least 2 of its 10 votes (PublicTest validates,
    PrivateTest tests). A frozen encoder (the suite's classifier, trained once on the dominant labels of the
    training faces with early stopping on val, and cached) gives the face's feature.

    ## Action Space

    `Discrete(V)`: one token per lexicon word (plus, with `reasoning=True`, one per action unit and the
    separator `<sep>`), and EOS last.

    ## Observation Space

    `Dict`: `feature` (`Box`, the encoder's first dense layer; `image`, `Box(0, 255, (1, H, W), uint8)`, with
    `observation="pixels"`), `tokens` (`MultiDiscrete([V+1] * L)`, padded with V) and `length` (`Discrete(L+1)`).

    ## Rewards

    Zero until the end; then `wheel − λ·n` (`info["rewards"]` holds both parts, and `valence` when
    `valence_bonus > 0`): `wheel` is the mean over the wheels and levels of the sample's wheel F1 (0 for an
    empty answer), n the tokens emitted before EOS. With `valence_bonus = β`, β is added when the answer's
    mapped words agree in valence with the truth (the seed's valence-agreement term).

    ## Starting State

    A face drawn uniformly from the split; `reset(options={"index": i})` starts from face i (a GRPO group).

    ## Episode End

    Terminates at EOS or after L tokens (scored as it stands, as in FERReason-v0).

    ## Information

    At the end: `words` (the answer), `truth` (the truth's base emotions), `rewards`, `out_of_lexicon`
    (answer words the lexicon does not know: AU tokens, the separator).

    ## Arguments

    | argument | default | meaning |
    |---|---|---|
    | `dataset` | `None` | `None` (synthetic), a `FEROpenVocabDataset`, a `FERDataset` with FER+ votes, or its path |
    | `dataset_kwargs` | `None` | `make_openvocab_dataset`'s arguments, or `from_fer_dataset`'s (`min_votes`) |
    | `split` | `"train"` | the faces the episodes start from |
    | `max_words` | `6` | L |
    | `length_penalty` | `0.02` | λ per emitted token |
    | `reasoning` | `False` | add AU tokens and `<sep>` to the vocabulary (the seed's "is reasoning necessary") |
    | `valence_bonus` | `0.0` | β of the valence-agreement term |
    | `observation` | `"feature"` | `"feature"` or `"pixels"` |
    | `encoder`, `encoder_seed`, `cache_dir` | `None`, `0`, `None` | the frozen encoder, as FERReason-v0's |
    | `render_mode` | `None` | `"ansi"` or `"rgb_array"` |

    ## Version History

    * v0: first version.
    """

    env_name: ClassVar[str] = "FEROpenVocab-v0"

    def __init__(
        self,
        dataset: FEROpenVocabDataset | FERDataset | str | os.PathLike | None = None,
        dataset_kwargs: Mapping[str, Any] | None = None,
        split: str = "train",
        max_words: int = DEFAULT_MAX_WORDS,
        length_penalty: float = DEFAULT_LENGTH_PENALTY,
        reasoning: bool = False,
        valence_bonus: float = 0.0,
        observation: str = "feature",
        encoder: Mapping[str, Any] | ClassifierConfig | None = None,
        encoder_seed: int = 0,
        cache_dir: str | os.PathLike | None = None,
        render_mode: str | None = None,
    ) -> None:
        self.split = check_choice("split", split, SPLITS)
        self.observation = check_choice("observation", observation, OBSERVATIONS)
        self.max_length = check_int_at_least("max_words", max_words, 1)
        for name, value in (("length_penalty", length_penalty), ("valence_bonus", valence_bonus)):
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value < np.inf:
                raise ValueError(f"{name}: must be a finite number >= 0, got {value!r}")
        self.length_penalty, self.valence_bonus = float(length_penalty), float(valence_bonus)
        if not isinstance(reasoning, bool):
            raise ValueError(f"reasoning: must be True or False, got {reasoning!r}")
        self.reasoning = reasoning
        self._check_render_mode(render_mode)
        self.dataset = _load_dataset(dataset, dataset_kwargs)
        self.lexicon = dict(wheels.LEXICON)
        self.truth_words = base_words(self.lexicon)
        words = tuple(self.lexicon)
        if reasoning:
            words = (*ACTION_UNITS, SEPARATOR, *words)
        self.vocabulary = WordVocabulary(words)
        self.images, self.labels, self.truth = self.dataset.split(self.split)
        self._setup_observation(self.observation, self.dataset.to_fer_dataset(), encoder, encoder_seed, cache_dir)

    # ------------------------------------------------------------------------------------------- API
    def action_masks(self) -> np.ndarray:
        """Every token is allowed (MaskablePPO's convention; the answer has no grammar)."""
        return np.ones(len(self.vocabulary), bool)

    def _render_text(self) -> str:
        truth = [BASES[j] for j in np.flatnonzero(self.truth[self._index])]
        return f"face {self._index} (truth {truth}): {self.vocabulary.decode(self._tokens)}"

    # ---------------------------------------------------------------------------------- batched helpers
    def truth_of(self, index: int) -> list[str]:
        """The truth of face ``index`` written as one lexicon word per base emotion."""
        return [self.truth_words[BASES[j]] for j in np.flatnonzero(self.truth[index])]

    def score(self, index: int, token_ids: Sequence[int]) -> dict[str, Any]:
        """The end-of-episode information of a completion for face ``index`` (what ``step`` adds to ``info``)."""
        words = self.vocabulary.words_of(token_ids)
        n = len(words)  # every token before EOS, words outside the lexicon included
        truth = self.truth_of(index)
        answer = [w for w in words if w in self.lexicon]
        fit = float(np.mean([wheels.sample_reward(answer, truth, level=lvl) for lvl in (1, 2)]))
        rewards = {"wheel": fit, "length": -self.length_penalty * n}
        if self.valence_bonus > 0:
            rewards["valence"] = self.valence_bonus * float(_same_valence(answer, truth, self.lexicon))
        return {
            "words": words,
            "truth": [BASES[j] for j in np.flatnonzero(self.truth[index])],
            "rewards": rewards,
            "out_of_lexicon": [w for w in words if w not in self.lexicon],
        }


VALENCE: dict[str, int] = {
    "happiness": 1,
    "surprise": 0,
    "neutral": 0,
    "sadness": -1,
    "anger": -1,
    "disgust": -1,
    "fear": -1,
    "contempt": -1,
}
"""The valence of each base (surprise and neutral count as neither), for the valence-agreement term."""


def _same_valence(answer: Sequence[str], truth: Sequence[str], lexicon: Mapping[str, str]) -> bool:
    def sign(words: Sequence[str]) -> int:
        total = sum(VALENCE[lexicon[w]] for w in words if w in lexicon)
        return int(np.sign(total))

    return bool(answer) and sign(answer) == sign(truth)


class FEROpenVocabSetEnv(FEROpenVocabEnv):
    """FEROpenVocab-v0's one-step variant for non-sequence agents: the whole word set at once.

    This docstring is the variant's documentation; everything not said here is as in FEROpenVocab-v0.

    ## Action Space

    `MultiBinary(W)`, one bit per word of the vocabulary (EOS excluded): the answer is the set of words whose
    bit is 1, in vocabulary order. More than L set bits are cut to the first L (the penalty counts the kept
    ones), so the answer space is the token env's.

    ## Observation Space

    The face alone: `Box` (the encoder's feature) or, with `observation="pixels"`, `Box(0, 255, (1, H, W),
    uint8)`.

    ## Episode End

    Every episode is one step: it terminates after the first action, with the token env's reward.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.action_space = spaces.MultiBinary(len(self.vocabulary) - 1)
        self.observation_space = self.observation_space.spaces[self._first_key]

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[Any, dict]:
        obs, info = super().reset(seed=seed, options=options)
        return obs[self._first_key], info

    def step(self, action: Any) -> tuple[Any, float, bool, bool, dict]:
        if self._done or self._index is None:
            raise ResetNeeded("FEROpenVocabSet-v0: call reset() before step() (the episode has ended)")
        bits = np.asarray(action)
        if bits.shape != self.action_space.shape or not np.isin(bits, (0, 1)).all():
            raise ValueError(f"action: must be {self.action_space.shape[0]} bits (0 or 1), got {action!r}")
        tokens = [int(t) for t in np.flatnonzero(bits)][: self.max_length]
        self._tokens = tokens
        self._done = True
        info = {"index": self._index, **self.score(self._index, tokens)}
        return self._obs()[self._first_key], float(sum(info["rewards"].values())), True, False, info


__all__ = [
    "DEFAULT_LENGTH_PENALTY",
    "DEFAULT_MAX_WORDS",
    "SEPARATOR",
    "VALENCE",
    "FEROpenVocabEnv",
    "FEROpenVocabSetEnv",
    "base_words",
]
