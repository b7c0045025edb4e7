"""Evaluate a FERSmile-v0 agent (an SB3 model or a search of :mod:`.search`) on held-out viewers.

Every agent spends the same camera frames: reset's measurement plus ``n_frames`` per step, ``max_steps``
steps. An episode's *answer* is the emoticon the agent ends with: the incumbent for a search, and for a policy
the base env's ``answer`` (the last emoticon shown, or in ``action="incumbent"`` mode the incumbent the env
keeps). It is scored by the viewer's **final true smile**: the true smile u of the answer
seen fresh (without habituation, which depends on what was shown before). The **regret** is the oracle's
final true smile (the viewer's ideal emoticon) minus the agent's. The **referee's P(happy)** and the reward
classifier's expected P(happy) of the answer are measured on 100 fresh frames outside the budget
(:meth:`FERSmileEnv.probe`); the **winner's-curse gap** of a search is its best measured happiness minus
that expected P(happy) of the emoticon it kept. The **referee gap** is the answer's expected P(happy) minus the
referee's: a policy that games the reward classifier (``viewer="mirror"`` makes that easy) drives it up.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

import gymnasium as gym
import numpy as np

PROBE_FRAMES = 100


def play(env: gym.Env, agent: Any, viewer: int, seed: int, deterministic: bool = True) -> Iterator[dict[str, Any]]:
    """Drive one episode on held-out viewer ``viewer``, yielding reset's ``info`` and then every step's.

    ``agent`` is a search (it has ``start``/``act``/``observe``) or anything with SB3's ``predict``
    (``deterministic`` actions, or sampled from the policy: an explicit setting of each bundled algorithm,
    ``agents.smile.settings.DETERMINISTIC``; sampled actions draw from torch's generator, which
    :func:`evaluate` seeds); ``env`` may be wrapped (a policy's observation history), its base env is a
    FERSmileEnv, which holds the emoticon shown at each yield.
    """
    base = env.unwrapped
    obs, info = env.reset(seed=seed, options={"viewer": int(viewer)})
    is_search = hasattr(agent, "act")
    if is_search:
        agent.start(env, obs, info)
    yield info
    done = False
    while not done:
        action = agent.act() if is_search else agent.predict(obs, deterministic=deterministic)[0]
        obs, _, terminated, truncated, info = env.step(action)
        if is_search:
            agent.observe(base.parameters, float(info["happiness"]))
        done = terminated or truncated
        yield info


def current_answer(env: gym.Env, agent: Any) -> np.ndarray:
    """The agent's answer now: a search's incumbent, or for a policy the base env's ``answer`` (the emoticon it
    shows; in ``action="incumbent"`` mode the incumbent the env keeps)."""
    return agent.answer if hasattr(agent, "act") else env.unwrapped.answer


def run_episode(env: gym.Env, agent: Any, viewer: int, seed: int, deterministic: bool = True) -> dict[str, Any]:
    """One episode of :func:`play`: the answer's scores and the learning curve (frames used → the fresh true
    smile of the answer at that point)."""
    base = env.unwrapped
    measured, curve = [], []
    for info in play(env, agent, viewer, seed, deterministic):
        measured.append(float(info["happiness"]))
        curve.append((int(info["frames_used"]), base.viewer.smile(current_answer(env, agent))))
    answer = current_answer(env, agent)
    probe = base.probe(answer, PROBE_FRAMES, seed=seed)
    best_measured = float(agent.best) if hasattr(agent, "act") else max(measured)
    watched = base.viewer_model != "mirror"  # in the mirror diagnostic nobody watches: no smile to score
    final = base.viewer.smile(answer) if watched else float("nan")
    best = base.viewer.best_smile if watched else float("nan")
    return {
        "viewer": int(viewer),
        "final_smile": final,
        "best_smile": best,
        "regret": best - final,
        "referee_gap": probe["happiness"] - probe["referee_happy"],
        "referee_happy": probe["referee_happy"],
        "expected_happiness": probe["happiness"],
        "best_measured": best_measured,
        "winners_curse": best_measured - probe["happiness"],
        "mean_measured": float(np.mean(measured)),
        "non_emoter": bool(info["non_emoter"]),
        "curve": curve,
    }


def evaluate(
    env: gym.Env, agent: Any, viewers: Iterable[int], seed: int = 0, deterministic: bool = True
) -> list[dict[str, Any]]:
    """:func:`run_episode` on every viewer id of ``viewers`` (episode ``j`` seeded ``seed·10⁴ + j``). With
    ``deterministic=False`` a policy samples its actions, and torch's generator is seeded ``seed`` first, so
    that the evaluation replays."""
    if not deterministic and not hasattr(agent, "act"):
        import torch

        torch.manual_seed(seed)
    return [run_episode(env, agent, v, seed * 10_000 + j, deterministic) for j, v in enumerate(viewers)]


SUMMARY_KEYS: tuple[str, ...] = (
    "final_smile",
    "regret",
    "referee_happy",
    "referee_gap",
    "expected_happiness",
    "best_measured",
    "winners_curse",
    "mean_measured",
)


def summarise(records: list[dict[str, Any]]) -> dict[str, float]:
    """The mean of every :data:`SUMMARY_KEYS` entry over episodes, and the mean curve (frames → final smile)."""
    out: dict[str, Any] = {key: float(np.mean([r[key] for r in records])) for key in SUMMARY_KEYS}
    curves = np.array([[smile for _, smile in r["curve"]] for r in records])
    out["curve_frames"] = [frames for frames, _ in records[0]["curve"]]
    out["curve_smile"] = curves.mean(axis=0).tolist()
    out["episodes"] = len(records)
    return out


__all__ = ["PROBE_FRAMES", "SUMMARY_KEYS", "current_answer", "evaluate", "play", "run_episode", "summarise"]
