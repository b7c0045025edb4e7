"""FEROpenVocab-v0's experiment: SFT on reference word sets, then GRPO on the wheel reward, against the
top-1 word and one-word-per-category baselines, scored with the official aggregate EW-F on the test faces."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import gymnasium as gym
import numpy as np
import torch as th
from stable_baselines3.common.policies import ActorCriticPolicy

from agents.baselines.sft import token_loss, token_steps, train_sft
from agents.grpo import GRPO
from agents.reasoning.evaluation import decode
from agents.reasoning.pipeline import grpo_model, tokens_per_update
from agents.reinforce import REINFORCE
from fer_select_env.data.openvocab import BASES, FER2013_TO_BASE, FEROpenVocabDataset, make_openvocab_dataset
from fer_select_env.data.reasoning import AU_PRESENCE_THRESHOLD
from fer_select_env.envs.text import wheels
from fer_select_env.envs.text.openvocab_env import SEPARATOR
from fer_select_env.faces.action_units import ACTION_UNITS

BASELINES: tuple[str, ...] = ("top1_word", "one_per_category")


def reference_tokens(env: Any, rows: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Reference completions for faces ``rows``: one lexicon word drawn per truth emotion, in a random order,
    then EOS (n×L token ids, padded). The words vary as human references do. With ``reasoning=True`` each
    starts with the face's reasoning: its present action units (intensity ≥ ``AU_PRESENCE_THRESHOLD``, in
    the renderer's order) and ``<sep>``; that needs a dataset with action units (the synthetic blends)."""
    by_base: dict[str, list[str]] = {}
    for word, base in env.lexicon.items():
        by_base.setdefault(base, []).append(word)
    vocab = env.vocabulary
    units = None
    if env.reasoning:
        if env.dataset.action_units is None:
            raise ValueError("reasoning references need a dataset with action_units (FER2013 has none)")
        units = env.dataset.action_units[env.split]
    out = np.full((len(rows), env.max_length), vocab.pad, np.int64)
    for i, face in enumerate(np.asarray(rows, np.int64)):
        bases = [BASES[j] for j in np.flatnonzero(env.truth[face])]
        words = [str(rng.choice(by_base[b])) for b in rng.permutation(bases)]
        if units is not None:
            present = [ACTION_UNITS[j] for j in np.flatnonzero(units[face] >= AU_PRESENCE_THRESHOLD)]
            words = [*present, SEPARATOR, *words]
        ids = vocab.encode(words)[: env.max_length]
        out[i, : len(ids)] = ids
    return out


def cross_entropy(policy: ActorCriticPolicy, env: Any, rows: np.ndarray, tokens: np.ndarray) -> float:
    """The token cross-entropy of ``policy`` on reference completions (the loss SFT minimises)."""
    idx, prefixes, lengths, targets = token_steps(rows, tokens, env.vocabulary.pad)
    with th.no_grad():
        return float(token_loss(policy, env.observation_batch(idx, prefixes, lengths), targets).item())


def answer_words(env: Any, tokens: np.ndarray) -> list[list[str]]:
    return [env.vocabulary.words_of(row) for row in tokens]


def baseline_answers(name: str, env: Any) -> list[list[str]]:
    """``top1_word``: the encoder's most probable emotion, as its first lexicon word; ``one_per_category``:
    one word per inner-ring category of the first wheel, for every face (the degenerate answer a weak metric
    rewards: full recall; 7 words, one more than a policy's L = 6)."""
    if name == "top1_word":
        predicted = env.encoder.predict(env.images)
        return [[env.truth_words[BASES[FER2013_TO_BASE[int(k)]]]] for k in predicted]
    if name == "one_per_category":
        wheel = next(iter(wheels.WHEELS.values()))
        words, seen = [], set()
        for base in BASES:
            category = wheel.level1[base]
            if category not in seen:
                seen.add(category)
                words.append(env.truth_words[base])
        return [words] * env.num_prompts  # not held to L: the answer a weak metric would reward, whole
    raise ValueError(f"baseline: must be one of {BASELINES}, got {name!r}")


def openvocab_metrics(env: Any, answers: Sequence[Sequence[str]]) -> dict[str, Any]:
    """The official aggregate EW-F (levels 1 and 2, mean over the wheels), the basic-emotion accuracy of the
    first mapped word against the majority emotion (FER+'s most voted; a synthetic face's first emotion), and
    the reward-hacking monitors: mean length, share at the length cap, share empty, share of out-of-lexicon
    words."""
    truths = [env.truth_of(i) for i in range(env.num_prompts)]
    in_lex = [[w for w in a if w in env.lexicon] for a in answers]
    ew = wheels.ew_f(in_lex, truths)
    first = [env.lexicon[a[0]] if a else None for a in in_lex]
    majority = [BASES[int(k)] for k in _majority(env)]
    n_words = sum(len(a) for a in answers)
    return {
        "ew_f_level1": 100 * ew["level1"]["f"],
        "ew_f_level2": 100 * ew["level2"]["f"],
        "ew_p_level1": 100 * ew["level1"]["precision"],
        "ew_r_level1": 100 * ew["level1"]["recall"],
        "top_word_accuracy": 100 * float(np.mean([f == m for f, m in zip(first, majority, strict=True)])),
        "mean_length": float(np.mean([len(a) for a in answers])),
        "at_cap": 100 * float(np.mean([len(a) >= env.max_length for a in answers])),
        "empty": 100 * float(np.mean([len(a) == 0 for a in answers])),
        "out_of_lexicon": 100 * (sum(len(a) - len(b) for a, b in zip(answers, in_lex, strict=True)) / max(n_words, 1)),
        "metric_version": wheels.METRIC_VERSION,
    }


def _majority(env: Any) -> np.ndarray:
    """The majority base of every face of the env's split (FER+: the most voted emotion)."""
    return env.dataset.majority[env.split]


STAGE_ROWS: dict[str, tuple[str, ...]] = {
    "baselines": BASELINES,
    "sft": ("sft",),
    "sft+grpo": ("sft+grpo",),
    "ppo": ("ppo",),
    "ppo_set": ("ppo_set",),
    "reinforce_set": ("reinforce_set",),
    "sft+grpo_valence": ("sft+grpo_valence",),
    "reasoning": ("sft_reasoning", "sft+grpo_reasoning"),
}
"""Each stage of :func:`run_openvocab` and the rows it makes, in the order it makes them (see
:class:`OpenVocabSettings`)."""
STAGES: tuple[str, ...] = tuple(STAGE_ROWS)


@dataclass
class OpenVocabSettings:
    """The settings of :func:`run_openvocab`; defaults are the documented run's. ``stages`` picks the rows:

    * ``baselines``: ``top1_word`` and ``one_per_category``;
    * ``sft``; ``sft+grpo`` (needs ``sft``);
    * ``ppo`` (SB3's PPO, cold, on the token env: a learned critic instead of the group baseline);
    * ``ppo_set`` (SB3's PPO on the one-step MultiBinary variant) and ``reinforce_set`` (the bundled REINFORCE on
      it: one Bernoulli per word, a running baseline, ``reinforce_episodes_per_update`` answers per update);
    * ``sft+grpo_valence`` (needs ``sft``): GRPO from the same SFT weights with the valence-agreement term
      ``valence_bonus`` in its training reward (the seed's reward-design question; scored by EW-F as the rest);
    * ``reasoning``: ``sft_reasoning`` and ``sft+grpo_reasoning``, the same pipeline with ``reasoning=True``: the
      references start with the face's present action units and ``<sep>`` (so it needs a dataset with action
      units: the synthetic blends), and the token budget is ``reasoning_max_tokens`` (room for up to 7 AUs, the
      separator and the words). The seed's "is reasoning necessary" question; every token still pays the
      length penalty.

    Stages run in :data:`STAGES`' order; the later ones came later, so the first five rows of an earlier results
    file are reproduced whatever else runs (each model is built with ``seed``, which seeds torch)."""

    n_subjects: int = 200
    sft_epochs: int = 40
    grpo_updates: int = 150
    grpo_lr: float = 3e-4
    prompts: int = 32
    group_size: int = 8
    ppo_timesteps: int = 60_000
    net_arch: list[int] = field(default_factory=lambda: [128, 128])
    reinforce_lr: float = 1e-3
    reinforce_episodes_per_update: int = 64
    valence_bonus: float = 0.1
    reasoning_max_tokens: int = 14
    stages: tuple[str, ...] = STAGES

    def __post_init__(self) -> None:
        unknown = [stage for stage in self.stages if stage not in STAGES]
        if unknown:
            raise ValueError(f"stages: unknown {unknown}; choices are {list(STAGES)}")
        for needs_sft in ("sft+grpo", "sft+grpo_valence"):
            if needs_sft in self.stages and "sft" not in self.stages:
                raise ValueError(f"stages: {needs_sft!r} starts from the SFT weights, so it needs 'sft' too")
        self.stages = tuple(self.stages)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def run_openvocab(
    seed: int,
    settings: OpenVocabSettings | None = None,
    dataset: FEROpenVocabDataset | None = None,
    cache_dir: str | None = None,
    log: Callable[[str], None] = print,
) -> dict[str, Any]:
    """The rows of ``settings.stages`` on one seed; every row scored on the test faces (and val)."""
    return _OpenVocabRun(seed, settings or OpenVocabSettings(), dataset, cache_dir, log).run()


class _OpenVocabRun:
    """One seed of :func:`run_openvocab`: its data, envs, references and results (``out``)."""

    def __init__(
        self,
        seed: int,
        s: OpenVocabSettings,
        dataset: FEROpenVocabDataset | None,
        cache_dir: str | None,
        log: Callable[[str], None],
    ) -> None:
        self.seed, self.s, self.cache_dir, self.log = seed, s, cache_dir, log
        th.manual_seed(seed)
        self.start = time.perf_counter()
        self.data = dataset if dataset is not None else make_openvocab_dataset(n_subjects=s.n_subjects, seed=seed)
        self.envs = self.make_envs()
        self.out: dict[str, Any] = {"seed": seed, "settings": s.to_dict(), "rows": {}, "val_rows": {}}

    def make_envs(self, **kwargs: Any) -> dict[str, gym.Env]:
        """FEROpenVocab-v0 on the train, val and test faces with ``kwargs``."""
        return {
            split: gym.make("FEROpenVocab-v0", dataset=self.data, split=split, cache_dir=self.cache_dir, **kwargs)
            for split in ("train", "val", "test")
        }

    def references(self, envs: dict[str, gym.Env], salt: tuple[int, ...] = ()) -> dict[str, np.ndarray]:
        """Reference completions of every face of each split (train and val from one generator, test from its
        own)."""
        rng = np.random.default_rng([self.seed, *salt] if salt else self.seed)
        test_rng = np.random.default_rng([10_000 + self.seed, *salt] if salt else 10_000 + self.seed)
        out = {}
        for split, r in (("train", rng), ("val", rng), ("test", test_rng)):
            env = envs[split].unwrapped
            out[split] = reference_tokens(env, np.arange(env.num_prompts), r)
        return out

    def model(self, env: gym.Env) -> GRPO:
        return grpo_model(env, self.s, self.seed)

    def sft(self, envs: dict[str, gym.Env], refs: dict[str, np.ndarray]) -> GRPO:
        """SFT on the training references, early stopping on the validation ones."""
        model = self.model(envs["train"])
        train, val = envs["train"].unwrapped, envs["val"].unwrapped
        val_set = (val, np.arange(val.num_prompts), refs["val"])
        train_sft(model.policy, train, np.arange(train.num_prompts), refs["train"], val=val_set,
                  epochs=self.s.sft_epochs, seed=self.seed)  # fmt: skip
        return model

    def grpo_from(self, sft: GRPO, env: gym.Env) -> GRPO:
        grpo = grpo_model(env, self.s, self.seed, start=sft)
        return grpo.learn(self.s.grpo_updates * tokens_per_update(self.s, env.unwrapped.max_length))

    def score(
        self, name: str, policy: ActorCriticPolicy | None, envs: dict[str, gym.Env], refs: dict[str, np.ndarray]
    ) -> None:
        for key, split in (("rows", "test"), ("val_rows", "val")):
            env = envs[split].unwrapped
            answers = baseline_answers(name, env) if policy is None else answer_words(env, decode(policy, env))
            m = openvocab_metrics(env, answers)
            if policy is not None:
                m["reference_cross_entropy"] = cross_entropy(policy, env, np.arange(env.num_prompts), refs[split])
            self.out[key][name] = m
        self.log_row(name)

    def log_row(self, name: str) -> None:
        m = self.out["val_rows"][name]
        self.log(
            f"seed {self.seed} {name:>18} (val): EW-F1 {m['ew_f_level1']:5.1f} EW-F2 {m['ew_f_level2']:5.1f} "
            f"top-word acc {m['top_word_accuracy']:5.1f} length {m['mean_length']:.2f} "
            f"[{time.perf_counter() - self.start:.0f}s]"
        )

    def run(self) -> dict[str, Any]:
        s, envs, out = self.s, self.envs, self.out
        refs = self.references(envs)
        if "baselines" in s.stages:
            for name in BASELINES:
                self.score(name, None, envs, refs)
        sft = None
        if "sft" in s.stages:
            sft = self.sft(envs, refs)
            self.score("sft", sft.policy, envs, refs)
            if "sft+grpo" in s.stages:
                grpo = self.grpo_from(sft, envs["train"])
                self.score("sft+grpo", grpo.policy, envs, refs)
                out["history"] = grpo.history
        if "ppo" in s.stages:
            from stable_baselines3 import PPO

            ppo = PPO("MultiInputPolicy", envs["train"], n_steps=1536, batch_size=256, gamma=1.0, seed=self.seed,
                      policy_kwargs={"net_arch": list(s.net_arch)}, device="cpu")  # fmt: skip
            ppo.learn(s.ppo_timesteps)
            self.score("ppo", ppo.policy, envs, refs)
        for name in ("ppo_set", "reinforce_set"):
            if name in s.stages:
                out["rows"][name], out["val_rows"][name] = _set_rows(name, self.data, s, self.seed, self.cache_dir)
                self.log_row(name)
        if "sft+grpo_valence" in s.stages:
            assert sft is not None
            grpo = self.grpo_from(sft, self.make_envs(valence_bonus=s.valence_bonus)["train"])
            self.score("sft+grpo_valence", grpo.policy, envs, refs)
            out["history_valence"] = grpo.history
        if "reasoning" in s.stages:
            r_envs = self.make_envs(reasoning=True, max_words=s.reasoning_max_tokens)
            r_refs = self.references(r_envs, salt=(1,))
            r_sft = self.sft(r_envs, r_refs)
            self.score("sft_reasoning", r_sft.policy, r_envs, r_refs)
            grpo = self.grpo_from(r_sft, r_envs["train"])
            self.score("sft+grpo_reasoning", grpo.policy, r_envs, r_refs)
            out["history_reasoning"] = grpo.history
        out["wall_seconds"] = time.perf_counter() - self.start
        return out


def _set_rows(
    name: str, data: FEROpenVocabDataset, s: OpenVocabSettings, seed: int, cache_dir: str | None
) -> tuple[dict, dict]:
    """``ppo_set`` (SB3's PPO) or ``reinforce_set`` (the bundled REINFORCE) on FEROpenVocabSet-v0 (one step, a
    MultiBinary word set) for ``ppo_timesteps`` answers, scored deterministically."""
    from stable_baselines3 import PPO

    env = gym.make("FEROpenVocabSet-v0", dataset=data, split="train", cache_dir=cache_dir)
    if name == "ppo_set":
        model = PPO("MlpPolicy", env, n_steps=512, batch_size=128, gamma=1.0, seed=seed,
                    policy_kwargs={"net_arch": list(s.net_arch)}, device="cpu")  # fmt: skip
    else:
        model = REINFORCE(
            "MultiBinaryMlpPolicy",
            env,
            learning_rate=s.reinforce_lr,
            return_baseline="running",
            episodes_per_update=s.reinforce_episodes_per_update,
            batch_size=s.reinforce_episodes_per_update,
            policy_kwargs={"net_arch": list(s.net_arch)},
            seed=seed,
            device="cpu",
        )
    model.learn(s.ppo_timesteps)
    out = []
    for split in ("test", "val"):
        e = gym.make("FEROpenVocabSet-v0", dataset=data, split=split, cache_dir=cache_dir).unwrapped
        bits, _ = model.predict(e.features, deterministic=True)
        answers = [[e.vocabulary.words[j] for j in np.flatnonzero(b)][: e.max_length] for b in bits]
        out.append(openvocab_metrics(e, answers))
    return out[0], out[1]


__all__ = [
    "BASELINES",
    "STAGES",
    "STAGE_ROWS",
    "OpenVocabSettings",
    "baseline_answers",
    "openvocab_metrics",
    "reference_tokens",
    "run_openvocab",
]
