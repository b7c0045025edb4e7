"""The one table of agents: every name the benchmark, ``fer-select train``, ``fer-select clean`` and the CLI
help accept, with what each of them needs to run the agent.

Adding an agent is one module (its selector, and for an RL agent its model builder) plus one
:func:`register_agent` call::

    from agents.experiment.registry import AgentSpec, register_agent

    register_agent(AgentSpec("my_filter", "keeps what my filter keeps", my_filter))

A selector is called as ``selector(dataset, *, seed, settings=RLSettings)`` when the entry has ``training``
(an RL agent), and as ``selector(dataset, *, seed, config, device, cache_dir, classifier_seed)`` otherwise
(the baselines' keywords); either way it returns a :class:`~agents.common.Selection`.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from stable_baselines3 import PPO
from stable_baselines3.common.base_class import BaseAlgorithm
from stable_baselines3.common.vec_env import VecEnv, VecNormalize

from agents.baselines import (
    BASELINES,
    cleanlab,
    feng,
    ferplus_relabel,
    keep_all,
    oracle,
    predicted_neq_given,
    small_loss,
)
from agents.common.inference import keep_probability_function
from agents.common.selection import Selection
from agents.experiment.relabel_selection import (
    build_relabel_reinforce,
    make_relabel_env,
    reinforce_relabel_selector,
    relabel_pass_of_model,
)
from agents.experiment.rl_selection import (
    PPO_ENV_KWARGS,
    apply_selection_rule,
    build_ppo,
    build_reinforce,
    grpo_selector,
    make_selection_env,
    ppo_rollout_steps,
    ppo_selector,
    ppo_steps_per_pass,
    reinforce_selector,
    reinforce_steps_per_pass,
    selection_pass,
)
from agents.experiment.settings import BenchmarkSettings, RLSettings
from agents.reinforce import REINFORCE
from fer_select_env.data.dataset import FERDataset
from fer_select_env.envs.select.env import FERSelectEnv


@dataclass(frozen=True)
class RLTraining:
    """What ``fer-select train``, its checkpoints and ``clean --selector`` need to know of an RL agent.

    :param algorithm: the SB3 class; ``algorithm.load`` reads a saved selector, and its name goes into
        ``selector.json``
    :param observation: the env's ``observation`` mode
    :param build: ``(vec_env, seed, settings, n_images) -> model``, the same model the benchmark's selector
        trains (``fer-select train`` must end with the benchmark's selection)
    :param env_kwargs: more env arguments (``make_selection_env``'s ``kwargs``)
    :param vec_normalize: the model trains behind SB3's ``VecNormalize`` (saved next to the selector)
    :param pretrains: ``pretrain_episodes`` are §3.3 pre-training passes, one ``model.pretrain(1)`` per
        checkpoint; otherwise they are extra learning passes
    :param rollout_steps: ``n_images -> steps`` between two checkpoints (``None``: one pass)
    :param unit: what one checkpointed unit is called in messages (``pass``, ``rollout``)
    :param tb_name: the TensorBoard run name
    :param steps_per_pass: ``n_images -> gradient steps`` the algorithm takes per pass, which the budget rule
        of :meth:`RLSettings.scaled_passes` sizes the passes by (``None``: passes as given)
    :param env_factory: ``(dataset, observation, seed, settings, **kwargs) -> env``, the env it trains and
        selects on (``None``: ``make_selection_env``, FERSelect-v0)
    :param selection: ``(env, model, vec_normalize, seed) -> Selection``, the final pass of a trained model
        (``None``: ``selection_pass`` over the keep probability)
    """

    algorithm: type[BaseAlgorithm]
    observation: str
    build: Callable[[VecEnv, int, RLSettings, int], BaseAlgorithm]
    env_kwargs: Mapping[str, Any] = field(default_factory=dict)
    vec_normalize: bool = False
    pretrains: bool = False
    rollout_steps: Callable[[int], int] | None = None
    unit: str = "pass"
    tb_name: str = ""
    steps_per_pass: Callable[[int], int] | None = None
    env_factory: Callable[..., FERSelectEnv] | None = None
    selection: Callable[[FERSelectEnv, BaseAlgorithm, VecNormalize | None, int], Selection] | None = None

    def make_env(self, dataset: FERDataset, seed: int, settings: RLSettings, **kwargs: Any) -> FERSelectEnv:
        """The env this agent trains and selects on, with its :attr:`env_kwargs` and ``kwargs`` (the user's
        ``settings.extra_env_kwargs`` override both: see :func:`~agents.experiment.rl_selection.make_selection_env`)."""
        factory = make_selection_env if self.env_factory is None else self.env_factory
        return factory(dataset, self.observation, seed, settings, **{**self.env_kwargs, **kwargs})

    def select_pass(
        self,
        env: FERSelectEnv,
        model: BaseAlgorithm,
        vec_normalize: VecNormalize | None,
        seed: int,
        settings: RLSettings | None = None,
    ) -> Selection:
        """The deterministic selection pass of the trained ``model`` on ``env``, turned into the selection by
        ``settings.selection_rule`` (:func:`~agents.experiment.rl_selection.apply_selection_rule`), as the
        benchmark's selector does."""
        if self.selection is not None:
            selection = self.selection(env, model, vec_normalize, seed)
        else:
            selection = selection_pass(env, keep_probability_function(model, vec_normalize), seed)
        return apply_selection_rule(env, selection, seed, settings or RLSettings(), self.tb_name or "the selector")

    def effective_settings(self, settings: RLSettings, n_images: int) -> RLSettings:
        """``settings`` with the passes the budget rule gives on ``n_images`` images per pass."""
        return settings if self.steps_per_pass is None else settings.scaled(self.steps_per_pass(n_images))

    def units(self, settings: RLSettings, n_images: int) -> tuple[int, int, str]:
        """``(total units, steps per unit, unit name)`` of training on ``n_images`` images per pass."""
        settings = self.effective_settings(settings, n_images)
        steps = n_images if self.rollout_steps is None else self.rollout_steps(n_images)
        pretrain_units = settings.pretrain_episodes if self.pretrains else 0
        passes = settings.episodes + settings.pretrain_episodes - pretrain_units
        return pretrain_units + math.ceil(passes * n_images / steps), steps, self.unit


@dataclass(frozen=True)
class AgentSpec:
    """One agent of the registry.

    :param name: the name on the command line and in ``results.json``
    :param summary: one line for the help and the docs
    :param selector: the selection function (calling conventions in the module docstring)
    :param training: how to train and reload it, for an RL agent (``fer-select train`` accepts only these)
    :param needs_ground_truth: it reads ``noise_train`` (``oracle``); refused on data without it
    :param needs_ferplus: it reads the FER+ votes of the training rows (``ferplus_relabel``); refused on data
        without them
    :param reference: a ceiling that uses information no selector has (ground truth, the crowd), not a
        method: the benchmark's scores never pick it as the best baseline
    :param learns: an RL agent without ``training`` (not checkpointed by ``fer-select train``): called with
        the RL settings like one, and never counted as a non-RL baseline
    """

    name: str
    summary: str
    selector: Callable[..., Selection]
    training: RLTraining | None = None
    needs_ground_truth: bool = False
    needs_ferplus: bool = False
    reference: bool = False
    learns: bool = False

    def missing_requirement(self, dataset: FERDataset) -> str | None:
        """What this agent needs and ``dataset`` lacks (noise ground truth, FER+ votes), or ``None``."""
        if self.needs_ground_truth and dataset.noise_train is None:
            return "needs noise ground truth (noise_train)"
        if self.needs_ferplus and "ferplus_votes" not in dataset.extras:
            return "needs FER+ votes"
        return None

    @property
    def trainable(self) -> bool:
        """An RL agent, trainable (and checkpointed) by ``fer-select train``."""
        return self.training is not None

    @property
    def is_rl(self) -> bool:
        """An RL agent (trainable by ``fer-select train`` or not)."""
        return self.trainable or self.learns

    def select(self, dataset: FERDataset, seed: int, settings: BenchmarkSettings) -> Selection:
        """Run the selector with the benchmark's settings."""
        if self.is_rl:
            return self.selector(dataset, seed=seed, settings=settings.rl)
        return self.selector(
            dataset,
            seed=seed,
            config=settings.classifier_config,
            device=settings.device,
            cache_dir=settings.cache_dir,
            classifier_seed=seed,
        )


_AGENTS: dict[str, AgentSpec] = {}


def register_agent(spec: AgentSpec) -> AgentSpec:
    """Add ``spec`` to the registry (after the agents already there), and a non-RL agent to
    :data:`agents.baselines.BASELINES`; a ValueError if the name is taken."""
    if spec.name in _AGENTS:
        raise ValueError(f"agent {spec.name!r} is already registered")
    _AGENTS[spec.name] = spec
    if not spec.is_rl:
        BASELINES[spec.name] = spec.selector
    return spec


def unregister_agent(name: str) -> AgentSpec:
    """Remove an agent (tests register toy agents and remove them again); returns its spec."""
    BASELINES.pop(name, None)
    return _AGENTS.pop(name)


def agent_specs(*, trainable: bool | None = None, rl: bool | None = None) -> tuple[AgentSpec, ...]:
    """Every registered agent in registration order, or only those ``fer-select train`` trains
    (``trainable=True``) or not, or only the RL agents (``rl=True``, :attr:`AgentSpec.is_rl`) or not."""
    return tuple(
        s for s in _AGENTS.values() if (trainable is None or s.trainable == trainable) and (rl is None or s.is_rl == rl)
    )


def agent_names(*, trainable: bool | None = None, rl: bool | None = None) -> tuple[str, ...]:
    """The names of :func:`agent_specs`."""
    return tuple(s.name for s in agent_specs(trainable=trainable, rl=rl))


def check_agent_names(names: Sequence[str]) -> list[str]:
    """The names as a list, or a ValueError naming the unknown ones and listing the valid ones."""
    names = [n.strip() for n in names if n.strip()]
    valid = ", ".join(_AGENTS)
    if not names:
        raise ValueError(f"no agent given; choose from {valid}")
    unknown = [n for n in names if n not in _AGENTS]
    if unknown:
        raise ValueError(f"unknown agent(s) {', '.join(unknown)}; choose from {valid}")
    return names


def get_agent(name: str) -> AgentSpec:
    """The spec of ``name``; the ValueError of :func:`check_agent_names` for an unknown one."""
    check_agent_names([name])
    return _AGENTS[name.strip()]


def get_training(name: str) -> RLTraining:
    """The :class:`RLTraining` of the RL agent ``name``; a ValueError for an unknown or non-RL agent."""
    training = get_agent(name).training
    if training is None:
        raise ValueError(f"agent {name!r} has nothing to train")
    return training


def baseline_selectors() -> dict[str, Callable[..., Selection]]:
    """Name → selector function of every non-RL agent (``agents.BASELINES``)."""
    return {s.name: s.selector for s in agent_specs(trainable=False)}


def agent_table() -> str:
    """The registry as a Markdown table (name, trainable by ``fer-select train``, summary), for the docs."""
    rows = ["| agent | `train` | what it does |", "|---|---|---|"]
    rows += [f"| `{s.name}` | {'yes' if s.trainable else '–'} | {s.summary} |" for s in agent_specs()]
    return "\n".join(rows)


def _build_reinforce(vec_env: VecEnv, seed: int, settings: RLSettings, n_images: int) -> BaseAlgorithm:
    return build_reinforce(vec_env, seed, settings)


def _build_relabel_reinforce(vec_env: VecEnv, seed: int, settings: RLSettings, n_images: int) -> BaseAlgorithm:
    return build_relabel_reinforce(vec_env, seed, settings)


def _reinforce_training(observation: str) -> RLTraining:
    return RLTraining(
        REINFORCE,
        observation,
        _build_reinforce,
        pretrains=True,
        tb_name=f"reinforce_{observation}",
        steps_per_pass=reinforce_steps_per_pass,
    )


# The built-in agents, in the order the help and the error messages list them.
for _spec in (
    AgentSpec("keep_all", "no selection: the classifier trains on every image (the paper's DCNN)", keep_all),
    AgentSpec(
        "reinforce",
        "REINFORCE with the paper's 5-layer selector on the label-aware state, §3.3 pre-training first",
        reinforce_selector("label_aware"),
        _reinforce_training("label_aware"),
    ),
    AgentSpec(
        "reinforce_paper",
        "REINFORCE on the paper's 256-d state (image feature, mean feature of the kept images)",
        reinforce_selector("paper"),
        _reinforce_training("paper"),
    ),
    AgentSpec(
        "reinforce_relabel",
        "REINFORCE with a categorical selector on FERSelectRelabel-v0: removes, keeps, or keeps an image "
        "relabelled to the classifier's prediction",
        reinforce_relabel_selector,
        RLTraining(
            REINFORCE,
            "label_aware",
            _build_relabel_reinforce,
            pretrains=True,
            tb_name="reinforce_relabel",
            steps_per_pass=reinforce_steps_per_pass,
            env_factory=make_relabel_env,
            selection=relabel_pass_of_model,
        ),
    ),
    AgentSpec(
        "ppo",
        "SB3's PPO, unmodified, on the label-aware state with the dense per-step reward and VecNormalize",
        ppo_selector,
        RLTraining(
            PPO,
            "label_aware",
            build_ppo,
            env_kwargs=dict(PPO_ENV_KWARGS),
            vec_normalize=True,
            rollout_steps=ppo_rollout_steps,
            unit="rollout",
            tb_name="ppo",
            steps_per_pass=ppo_steps_per_pass,
        ),
    ),
    AgentSpec(
        "grpo",
        "the bundled GRPO: groups of 4 passes over one image order, each pass's Eq. 3 return against its group's",
        grpo_selector,
        learns=True,
    ),
    AgentSpec("feng", "Feng et al. 2018's REINFORCE-trained logistic selector (the paper's DCNN+Sigmoid)", feng),
    AgentSpec(
        "predicted_neq_given",
        "removes the images whose out-of-fold predicted class differs from the given label",
        predicted_neq_given,
    ),
    AgentSpec(
        "small_loss",
        "removes the largest out-of-fold losses per class (Han et al. 2018's small-loss rule)",
        small_loss,
    ),
    AgentSpec("cleanlab", "Confident Learning on out-of-fold probabilities (Northcutt et al. 2021)", cleanlab),
    AgentSpec(
        "oracle",
        "removes exactly the ground-truth noisy images: the ceiling (needs noise_train)",
        oracle,
        needs_ground_truth=True,
        reference=True,
    ),
    AgentSpec(
        "ferplus_relabel",
        "keeps every image but trains on the FER+ majority labels: a ceiling from the crowd (needs FER+ votes)",
        ferplus_relabel,
        needs_ferplus=True,
        reference=True,
    ),
):
    register_agent(_spec)
del _spec
