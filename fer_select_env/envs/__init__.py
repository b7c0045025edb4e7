"""The env families of the suite, one folder each, and the one table of env ids.

:data:`ENV_SPECS` drives Gymnasium registration (:func:`register_envs`, called when ``fer_select_env`` is
imported), the registry-wide tests (``fer_select_env.testing``) and the generated env pages in ``docs/envs/``.
Entry points are strings, so importing this module loads no env family.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from gymnasium.envs.registration import register, registry


@dataclass(frozen=True)
class EnvSpecRow:
    """One registered env id.

    :param id: the Gymnasium id, ``Name-vN``
    :param family: the folder under ``fer_select_env/envs/`` that holds its code
    :param entry_point: ``module:Class``
    :param kwargs: constructor arguments this id fixes
    :param summary: one line for the docs' table of envs
    :param vector_entry_point: ``module:Class`` of a native ``gymnasium.vector.VectorEnv`` that
        ``gym.make_vec(id, num_envs=N)`` builds (Gymnasium's ``vector_entry_point``, as CartPole-v1 has one);
        ``None``: ``make_vec`` falls back to ``SyncVectorEnv``
    """

    id: str
    family: str
    entry_point: str
    summary: str
    kwargs: Mapping[str, Any] = field(default_factory=dict)
    vector_entry_point: str | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "kwargs", MappingProxyType(dict(self.kwargs)))


_SELECT_VECTOR_ENV = "fer_select_env.envs.select.vector_env:FERSelectVectorEnv"

ENV_SPECS: tuple[EnvSpecRow, ...] = (
    # ------------------------------------------------------------------ select: RLPS data selection
    EnvSpecRow(
        id="FERSelect-v0",
        family="select",
        entry_point="fer_select_env.envs.select.env:FERSelectEnv",
        summary="keep or remove each training image; the paper's 256-d state (image feature + kept mean)",
        vector_entry_point=_SELECT_VECTOR_ENV,
    ),
    EnvSpecRow(
        id="FERSelectLabelAware-v0",
        family="select",
        entry_point="fer_select_env.envs.select.env:FERSelectEnv",
        summary="FERSelect-v0 whose state also carries the given label and the classifier's prediction",
        kwargs={"observation": "label_aware"},
        vector_entry_point=_SELECT_VECTOR_ENV,
    ),
    EnvSpecRow(
        id="FERSelectRelabel-v0",
        family="select",
        entry_point="fer_select_env.envs.select.relabel_env:FERSelectRelabelEnv",
        summary="FERSelectLabelAware-v0 with a third action: keep the image relabelled to the classifier's prediction",
    ),
    # ------------------------------------------------------------------ sequence: early recognition
    EnvSpecRow(
        id="FERSequence-v0",
        family="sequence",
        entry_point="fer_select_env.envs.sequence.env:FERSequenceEnv",
        summary="watch a face sequence frame by frame; wait, or commit to an emotion (early classification)",
    ),
    # ------------------------------------------------------------------ smile: affective feedback
    EnvSpecRow(
        id="FERSmile-v0",
        family="smile",
        entry_point="fer_select_env.envs.smile.env:FERSmileEnv",
        summary="tune an 8-parameter emoticon until a simulated viewer smiles, scored by a classifier on camera frames",
    ),
    # ------------------------------------------------------------------ text: token MDPs with verifiable rewards
    EnvSpecRow(
        id="FERReason-v0",
        family="text",
        entry_point="fer_select_env.envs.text.reason_env:FERReasonEnv",
        summary="name a face's action units in <think>, then its emotion in <answer>; Facial-R1's verifiable rewards",
    ),
    EnvSpecRow(
        id="FEROpenVocab-v0",
        family="text",
        entry_point="fer_select_env.envs.text.openvocab_env:FEROpenVocabEnv",
        summary="answer a face with a free set of emotion words, scored by emotion wheels (after AffectGPT-RL)",
    ),
    EnvSpecRow(
        id="FEROpenVocabSet-v0",
        family="text",
        entry_point="fer_select_env.envs.text.openvocab_env:FEROpenVocabSetEnv",
        summary="FEROpenVocab-v0 in one step: the whole word set as a MultiBinary action",
    ),
)
"""Every env id of the package, grouped by family."""

ENV_IDS: tuple[str, ...] = tuple(row.id for row in ENV_SPECS)
"""The registered ids, in :data:`ENV_SPECS` order."""

ENV_FAMILIES: tuple[str, ...] = tuple(dict.fromkeys(row.family for row in ENV_SPECS))
"""The env families, in :data:`ENV_SPECS` order."""


def register_envs() -> None:
    """Register every id of :data:`ENV_SPECS` once; importing the package again (or in a worker) must not warn."""
    for row in ENV_SPECS:
        if row.id not in registry:
            register(
                id=row.id,
                entry_point=row.entry_point,
                vector_entry_point=row.vector_entry_point,
                kwargs=dict(row.kwargs),
            )


__all__ = ["ENV_FAMILIES", "ENV_IDS", "ENV_SPECS", "EnvSpecRow", "register_envs"]
