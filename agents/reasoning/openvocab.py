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
from fer_select_env.data.openvocab import BASES, FER2013_TO_BASE, FEROpenVocabDataset, make_openvocab_dataset
from fer_select_env.envs.text import wheels

BASELINES: tuple[str, ...] = ("top1_word", "one_per_category")


def reference_tokens(env: Any, rows: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Reference completions for faces ``rows``: one lexicon word drawn per truth emotion, in a random order,
    then EOS (n×L token ids, padded). The words vary as human references do."""
    by_base: dict[str, list[str]] = {}
    for word, base in env.lexicon.items():
        by_base.setdefault(base, []).append(word)
    vocab = env.vocabulary
    out = np.full((len(rows), env.max_length), vocab.pad, np.int64)
    for i, face in enumerate(np.asarray(rows, np.int64)):
        bases = [BASES[j] for j in np.flatnonzero(env.truth[face])]
        words = [str(rng.choice(by_base[b])) for b in rng.permutation(bases)]
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


@dataclass
class OpenVocabSettings:
    """The settings of :func:`run_openvocab`; defaults are the documented run's. ``stages`` picks the rows:
    ``baselines``, ``sft``, ``sft+grpo`` (needs ``sft``), ``ppo`` (SB3's PPO, cold, on the token env: a learned
    critic instead of the group baseline) and ``ppo_set`` (SB3's PPO on the one-step MultiBinary variant)."""

    n_subjects: int = 200
    sft_epochs: int = 40
    grpo_updates: int = 150
    grpo_lr: float = 3e-4
    prompts: int = 32
    group_size: int = 8
    ppo_timesteps: int = 60_000
    net_arch: list[int] = field(default_factory=lambda: [128, 128])
    stages: tuple[str, ...] = ("baselines", "sft", "sft+grpo", "ppo", "ppo_set")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def run_openvocab(
    seed: int,
    settings: OpenVocabSettings | None = None,
    dataset: FEROpenVocabDataset | None = None,
    cache_dir: str | None = None,
    log: Callable[[str], None] = print,
) -> dict[str, Any]:
    """SFT, SFT+GRPO and the two baselines on one seed; every row scored on the test faces (and val)."""
    s = settings or OpenVocabSettings()
    th.manual_seed(seed)
    start = time.perf_counter()
    data = dataset if dataset is not None else make_openvocab_dataset(n_subjects=s.n_subjects, seed=seed)
    envs = {
        split: gym.make("FEROpenVocab-v0", dataset=data, split=split, cache_dir=cache_dir)
        for split in ("train", "val", "test")
    }
    train, val, test = (envs[k].unwrapped for k in ("train", "val", "test"))
    rng = np.random.default_rng(seed)
    rows = np.arange(train.num_prompts)
    tok = reference_tokens(train, rows, rng)
    v_rows = np.arange(val.num_prompts)
    v_tok = reference_tokens(val, v_rows, rng)
    t_rows = np.arange(test.num_prompts)
    t_tok = reference_tokens(test, t_rows, np.random.default_rng(10_000 + seed))

    def model() -> GRPO:
        return GRPO(
            "MultiInputPolicy",
            envs["train"],
            learning_rate=s.grpo_lr,
            group_size=s.group_size,
            prompts_per_update=s.prompts,
            seed=seed,
            policy_kwargs={"net_arch": list(s.net_arch)},
            device="cpu",
        )

    out: dict[str, Any] = {"seed": seed, "settings": s.to_dict(), "rows": {}, "val_rows": {}}

    def score(name: str, policy: ActorCriticPolicy | None) -> None:
        for key, env, ref in (("rows", test, t_tok), ("val_rows", val, v_tok)):
            answers = baseline_answers(name, env) if policy is None else answer_words(env, decode(policy, env))
            m = openvocab_metrics(env, answers)
            if policy is not None:
                m["reference_cross_entropy"] = cross_entropy(policy, env, np.arange(env.num_prompts), ref)
            out[key][name] = m
        m = out["val_rows"][name]
        log(
            f"seed {seed} {name:>16} (val): EW-F1 {m['ew_f_level1']:5.1f} EW-F2 {m['ew_f_level2']:5.1f} "
            f"top-word acc {m['top_word_accuracy']:5.1f} length {m['mean_length']:.2f} "
            f"[{time.perf_counter() - start:.0f}s]"
        )

    if "baselines" in s.stages:
        for name in BASELINES:
            score(name, None)
    if "sft" in s.stages:
        sft = model()
        train_sft(sft.policy, train, rows, tok, val=(val, v_rows, v_tok), epochs=s.sft_epochs, seed=seed)
        score("sft", sft.policy)
        if "sft+grpo" in s.stages:
            grpo = model()
            grpo.policy.load_state_dict(sft.policy.state_dict())
            grpo.learn(s.grpo_updates * s.prompts * s.group_size * train.max_length)
            score("sft+grpo", grpo.policy)
            out["history"] = grpo.history
    if "ppo" in s.stages:
        from stable_baselines3 import PPO

        ppo = PPO("MultiInputPolicy", envs["train"], n_steps=1536, batch_size=256, gamma=1.0, seed=seed,
                  policy_kwargs={"net_arch": list(s.net_arch)}, device="cpu")  # fmt: skip
        ppo.learn(s.ppo_timesteps)
        score("ppo", ppo.policy)
    if "ppo_set" in s.stages:
        out["rows"]["ppo_set"], out["val_rows"]["ppo_set"] = _set_rows(data, s, seed, cache_dir)
        m = out["val_rows"]["ppo_set"]
        log(f"seed {seed} {'ppo_set':>16} (val): EW-F1 {m['ew_f_level1']:5.1f} EW-F2 {m['ew_f_level2']:5.1f}")
    out["wall_seconds"] = time.perf_counter() - start
    return out


def _set_rows(data: FEROpenVocabDataset, s: OpenVocabSettings, seed: int, cache_dir: str | None) -> tuple[dict, dict]:
    """SB3's PPO on FEROpenVocabSet-v0 (one step, a MultiBinary word set), scored deterministically."""
    from stable_baselines3 import PPO

    env = gym.make("FEROpenVocabSet-v0", dataset=data, split="train", cache_dir=cache_dir)
    model = PPO("MlpPolicy", env, n_steps=512, batch_size=128, gamma=1.0, seed=seed,
                policy_kwargs={"net_arch": list(s.net_arch)}, device="cpu")  # fmt: skip
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
    "OpenVocabSettings",
    "baseline_answers",
    "openvocab_metrics",
    "reference_tokens",
    "run_openvocab",
]
