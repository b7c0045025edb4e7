"""FERReason-v0: look at a face, reason over its action units, then answer, scored by Facial-R1's verifiable
rewards (a token MDP in miniature)."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

import numpy as np

from fer_select_env.core.checks import check_choice, check_int_at_least
from fer_select_env.core.emotions import FER2013_CLASS_NAMES
from fer_select_env.data.dataset import FERDataset
from fer_select_env.data.reasoning import FERReasonDataset, au_names, make_reasoning_dataset
from fer_select_env.envs.text.rewards import (
    REWARD_FUNCTIONS,
    accuracy_reward,
    alignment_reward,
    au_reward,
    combine_rewards,
    format_reward,
    parse_answer,
    parse_think_aus,
)
from fer_select_env.envs.text.token_env import OBSERVATIONS, SPLITS, TokenEnv
from fer_select_env.envs.text.vocabulary import ANSWER, END_ANSWER, Vocabulary
from fer_select_env.models.cnn import ClassifierConfig

DEFAULT_REWARDS: tuple[str, ...] = ("au", "acc", "format")
DEFAULT_MAX_LENGTH = 12
REWARD_CLIP = 10.0
"""Facial-R1 clamps the summed reward to [−10, 10] before the group advantage."""


def _load_dataset(dataset: object, dataset_kwargs: object) -> FERReasonDataset:
    if dataset_kwargs is not None and not isinstance(dataset_kwargs, Mapping):
        raise ValueError(f"dataset_kwargs: must be a dict or None, got {type(dataset_kwargs).__name__}")
    kwargs = dict(dataset_kwargs or {})
    if isinstance(dataset, FERReasonDataset):
        return dataset
    if isinstance(dataset, FERDataset):
        return FERReasonDataset.from_fer_dataset(dataset)
    if dataset is None:
        return make_reasoning_dataset(**kwargs)
    if isinstance(dataset, (str, os.PathLike)):
        return FERReasonDataset.from_fer_dataset(FERDataset.from_npz(dataset, **kwargs))
    raise ValueError(
        "dataset: must be a FERReasonDataset, a FERDataset (emotion-only), the path of a FERDataset .npz "
        f"or None, got {type(dataset).__name__}"
    )


def _check_rewards(value: object) -> tuple[str, ...]:
    if isinstance(value, str) or not isinstance(value, Sequence):
        raise ValueError(f"rewards: must be a tuple of names from {tuple(REWARD_FUNCTIONS)}, got {value!r}")
    names = tuple(value)
    unknown = [n for n in names if n not in REWARD_FUNCTIONS]
    if unknown or len(set(names)) != len(names):
        raise ValueError(f"rewards: must be distinct names from {tuple(REWARD_FUNCTIONS)}, got {names}")
    return names


def reason_rewards(
    text: str,
    label: str,
    true_aus: Sequence[str],
    names: Sequence[str],
    au_known: bool = True,
    emotions: Sequence[str] = FER2013_CLASS_NAMES,
) -> dict[str, float]:
    """The selected reward components of one completion (``info["rewards"]``): Facial-R1's three and our
    alignment reward (against the label set ``emotions``).

    R_AU is scored only where the face's AUs are known; elsewhere (emotion-only data) it is 0, as upstream
    scores data without AU annotations."""
    out: dict[str, float] = {}
    for name in names:
        if name == "format":
            out[name] = format_reward(text)
        elif name == "acc":
            out[name] = accuracy_reward(text, f"{ANSWER}{label}{END_ANSWER}")
        elif name == "align":
            out[name] = alignment_reward(text, emotions)
        else:
            out[name] = au_reward(text, true_aus) if au_known else 0.0
    return out


class FERReasonEnv(TokenEnv):
    """Reason over action units, then answer: a token MDP in miniature with Facial-R1's verifiable rewards.

    This docstring is the environment's documentation: `docs/envs/reason.md` is generated from it
    (`python docs/_scripts/gen_docs.py`).

    ```python
    import gymnasium as gym
    import fer_select_env  # registers FERReason-v0

    env = gym.make("FERReason-v0")  # synthetic AU faces, rewards ("au", "acc", "format")
    obs, info = env.reset(seed=0, options={"index": 7})  # a group of G rollouts shares face 7
    ```

    ## Description

    Facial-R1 (AAAI 2026) fine-tunes a vision-language model to write its reasoning over facial action units
    in `<think>…</think>` and an emotion in `<answer>…</answer>`, trained with GRPO on verifiable rewards
    R = R_AU + R_acc + R_format. A 7B model does not fit a CPU; this env is the same MDP in miniature. The
    renderer's faces come with their **true AUs**, which no real FER dataset has at this scale, a small policy
    emits tokens, and the rewards are checked against the truth with the upstream functions
    (`fer_select_env.envs.text.rewards`).

    An episode is one completion for one face. A frozen encoder (the suite's Fig. 3 classifier, trained once
    on the training identities' emotion labels with early stopping on val, and cached) gives the face's
    feature: its first dense layer. AU knowledge is not in the encoder's training; it comes from the
    supervised teacher sequences and from R_AU.

    **Data.** By default synthetic faces (`make_reasoning_dataset`): every identity shows the seven
    emotions, and half of the faces carry one *distractor* AU outside their emotion's prototype, so the AU set
    is not a function of the label. An AU is in the truth when its rendered intensity is at least 0.35.
    Identities are split between train, val and test. A `FERDataset` (FER2013) serves as emotion-only data:
    R_AU is 0 there, as upstream.

    ## Action Space

    `Discrete(V)`, V = 4 tags + one token per AU (13) + one per emotion (7) + EOS = 25 by default:

    | ids | tokens |
    |---|---|
    | 0-3 | `<think>`, `</think>`, `<answer>`, `</answer>` |
    | 4 … 4+A-1 | `AU1`, `AU2`, … (`fer_select_env.faces.action_units.ACTION_UNITS`) |
    | 4+A … V-2 | the emotions, in the dataset's class order |
    | V-1 | EOS |

    ## Observation Space

    `Dict`:

    | key | space | meaning |
    |---|---|---|
    | `feature` | `Box(0, float32 max, (128,), float32)` | the frozen encoder's feature (`observation="feature"`) |
    | `image` | `Box(0, 255, (1, H, W), uint8)` | the face itself (`observation="pixels"`, in place of `feature`) |
    | `tokens` | `MultiDiscrete([V+1] * L)` | the tokens so far, padded with V |
    | `length` | `Discrete(L+1)` | how many tokens were emitted |

    ## Rewards

    Zero until the episode ends; then the sum of the selected components, clipped to [−10, 10]
    (`rewards=("au", "acc", "format")` by default; each is in `info["rewards"]`):

    | name | value (Facial-R1's code) |
    |---|---|
    | `format` | 1 if the whole text is `<think>…</think>\\s*<answer>…</answer>`, else 0 |
    | `acc` | 1 if the last `<answer>` content equals the label exactly (case-sensitive), else 0 |
    | `au` | 2·F1 − 1 of the AUs in `<think>` against the truth; −1 when none is named; 0 when the AUs are unknown |
    | `align` | ours, opt-in: 1 if the answer best fits the AUs named in `<think>` (the alignment metric), else 0 |

    ## Starting State

    A face drawn uniformly from the split with the env's generator, no token emitted;
    `reset(options={"index": i})` starts from face i, so that the G rollouts of a GRPO group share it.

    ## Episode End

    The episode terminates at EOS or when L tokens (`max_length`, default 12) have been emitted. Reaching L is
    a termination, not a truncation: the length is in the observation, and the cut completion is scored as it
    stands (as TRL does by default), so nothing is left to bootstrap.

    ## Action masking

    `action_masks()` follows sb3-contrib's MaskablePPO convention. With `action_masking=True` it allows only the
    tokens that keep the completion well formed and within L (`<think>`, then AUs or `</think>`, `<answer>`,
    one emotion, `</answer>`, EOS); with the default `False` every token is allowed, so that R_format means
    something. The env never refuses a token.

    ## Information

    Every step: `index` (the face), `label`. At the end also `text` (the completion), `rewards` (each
    component), `true_aus`, `au_known`, `predicted_aus` and `answer`.

    ## Arguments

    | argument | default | meaning |
    |---|---|---|
    | `dataset` | `None` | `None` (synthetic), a `FERReasonDataset`, or a `FERDataset` or its npz path (emotion-only) |
    | `dataset_kwargs` | `None` | `make_reasoning_dataset`'s arguments, or `FERDataset.from_npz`'s for a path |
    | `split` | `"train"` | the faces the episodes start from |
    | `rewards` | `("au", "acc", "format")` | the reward components summed at the end |
    | `max_length` | `12` | L, the most tokens of a completion |
    | `observation` | `"feature"` | `"feature"` (the frozen encoder's) or `"pixels"` |
    | `action_masking` | `False` | whether `action_masks()` enforces the grammar |
    | `encoder` | `None` | the encoder's `ClassifierConfig` fields (default: the suite's classifier) |
    | `encoder_seed` | `0` | seed of the encoder's one training |
    | `cache_dir` | `None` | where the encoder is cached |
    | `render_mode` | `None` | `"ansi"` (the text so far) or `"rgb_array"` (the face) |

    ## Version History

    * v0: first version.
    """

    env_name: ClassVar[str] = "FERReason-v0"

    def __init__(
        self,
        dataset: FERReasonDataset | FERDataset | str | os.PathLike | None = None,
        dataset_kwargs: Mapping[str, Any] | None = None,
        split: str = "train",
        rewards: Sequence[str] = DEFAULT_REWARDS,
        max_length: int = DEFAULT_MAX_LENGTH,
        observation: str = "feature",
        action_masking: bool = False,
        encoder: Mapping[str, Any] | ClassifierConfig | None = None,
        encoder_seed: int = 0,
        cache_dir: str | os.PathLike | None = None,
        render_mode: str | None = None,
    ) -> None:
        self.split = check_choice("split", split, SPLITS)
        self.observation = check_choice("observation", observation, OBSERVATIONS)
        self.reward_names = _check_rewards(rewards)
        self.max_length = check_int_at_least("max_length", max_length, 6)  # the shortest well-formed completion
        if not isinstance(action_masking, bool):
            raise ValueError(f"action_masking: must be True or False, got {action_masking!r}")
        self.action_masking = action_masking
        self._check_render_mode(render_mode)
        self.dataset = _load_dataset(dataset, dataset_kwargs)
        ds = self.dataset
        self.vocabulary = Vocabulary(ds.action_units, ds.class_names)
        self.images, self.labels, self.au_truth, self.au_known = ds.split(self.split)
        self._setup_observation(self.observation, ds.to_fer_dataset(), encoder, encoder_seed, cache_dir)

    # ------------------------------------------------------------------------------------------- API
    def action_masks(self) -> np.ndarray:
        """The allowed tokens (MaskablePPO's convention): the grammar with ``action_masking=True``, else all."""
        if not self.action_masking:
            return np.ones(len(self.vocabulary), bool)
        return self.vocabulary.grammar_mask(self._tokens, self.max_length)

    # ---------------------------------------------------------------------------------- batched helpers
    def score(self, index: int, token_ids: Sequence[int]) -> dict[str, Any]:
        """The end-of-episode information of a completion for face ``index``: its text, reward components,
        the parsed answer and AUs, and the truth (what ``step`` adds to the last ``info``)."""
        text = self.vocabulary.decode(token_ids)
        truth = au_names(self.au_truth[index])
        known = bool(self.au_known[index])
        label = self.dataset.class_names[int(self.labels[index])]
        return {
            "text": text,
            "rewards": reason_rewards(text, label, truth, self.reward_names, known, self.dataset.class_names),
            "answer": parse_answer(text),
            "predicted_aus": tuple(sorted(parse_think_aus(text))),
            "true_aus": truth,
            "au_known": known,
        }

    def _render_text(self) -> str:
        label = self.dataset.class_names[int(self.labels[self._index])]
        return f"face {self._index} ({label}): {self.vocabulary.decode(self._tokens)}"

    def _reward(self, info: dict[str, Any]) -> float:
        return combine_rewards(info["rewards"], clip=REWARD_CLIP)

    def _info(self) -> dict[str, Any]:
        return {"index": int(self._index), "label": int(self.labels[self._index])}


__all__ = ["DEFAULT_MAX_LENGTH", "DEFAULT_REWARDS", "OBSERVATIONS", "REWARD_CLIP", "FERReasonEnv", "reason_rewards"]
