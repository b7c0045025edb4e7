"""GRPO: Group Relative Policy Optimization (Shao et al. 2024, DeepSeekMath), on Stable-Baselines3's API.

G rollouts start from the same state (``reset(options={"index": i})``); each one's advantage is its reward
against its group, ``(r − mean) / (std + 1e-4)`` (the unbiased std, as TRL and Facial-R1 compute it); every
action of a rollout shares that advantage in a PPO-clip loss, with no critic. The logged metrics carry TRL's
``GRPOTrainer`` names (``docs/grpo.md`` explains each).
"""

from __future__ import annotations

import copy
import time
import warnings
from typing import Any, ClassVar, TypeVar

import numpy as np
import torch as th
from gymnasium import spaces
from stable_baselines3.common.base_class import BaseAlgorithm
from stable_baselines3.common.policies import ActorCriticPolicy, BasePolicy, MultiInputActorCriticPolicy
from stable_baselines3.common.type_aliases import GymEnv, MaybeCallback, Schedule
from stable_baselines3.common.utils import update_learning_rate

from agents.common.inference import policy_logits

SelfGRPO = TypeVar("SelfGRPO", bound="GRPO")

LOSS_TYPES: tuple[str, ...] = ("grpo", "bnpo", "dr_grpo")
SCALE_REWARDS: tuple[str, ...] = ("group", "batch", "none")
STD_EPS = 1e-4
"""Added to the std before dividing (TRL's and Facial-R1's value)."""


def group_advantages(rewards: np.ndarray, scale_rewards: str = "group", eps: float = STD_EPS) -> np.ndarray:
    """GRPO's outcome advantages of a B×G array of rewards (one row per group of rollouts of one prompt).

    ``A = r − mean_g(r)``, divided by ``std + eps`` with ``scale_rewards="group"`` (the group's unbiased std),
    ``"batch"`` (the whole batch's) or not at all with ``"none"`` (Dr. GRPO). A group of one gets mean 0
    and std 1, as verl does: its advantage is its raw reward.
    """
    r = np.asarray(rewards, np.float64)
    if r.ndim != 2 or r.size == 0:
        raise ValueError(f"rewards: must be a non-empty B×G array, got shape {r.shape}")
    if scale_rewards not in SCALE_REWARDS:
        raise ValueError(f"scale_rewards: must be one of {SCALE_REWARDS}, got {scale_rewards!r}")
    g = r.shape[1]
    if g == 1:
        return r.copy()
    adv = r - r.mean(axis=1, keepdims=True)
    if scale_rewards == "group":
        adv = adv / (r.std(axis=1, ddof=1, keepdims=True) + eps)
    elif scale_rewards == "batch":
        adv = adv / (r.std(ddof=1) + eps)
    return adv


class GRPO(BaseAlgorithm):
    """
    Group Relative Policy Optimization (Shao et al. 2024), critic-free, with Facial-R1's settings as defaults.

    Each update draws ``prompts_per_update`` prompts (B), runs ``group_size`` rollouts (G) of each from the
    same start (``reset(options={"index": i})``, ``0 <= i < env.num_prompts``; envs without ``num_prompts``
    are reset with one shared seed per group instead), and takes ``num_iterations`` gradient steps of the
    PPO-clip loss over all their actions, each action weighted by its rollout's group advantage
    (:func:`group_advantages`). With ``beta > 0`` a frozen copy of the starting policy is the reference,
    and the k3 estimator of KL(π‖π_ref) is added per token (DeepSeekMath eq. 4).

    Where the env offers ``observation_batch`` and ``score`` (FERReason-v0 does), ``rollout="batched"``
    (the default ``"auto"``) samples all B×G completions in one batch per token position instead of
    stepping the env: the same MDP (termination at EOS or L, the same rewards), a hundred times faster.

    :param policy: ``"MultiInputPolicy"`` or ``"MlpPolicy"`` (SB3's actor-critic policies; the value head
        is unused) or a policy class
    :param env: a Gymnasium env, a VecEnv, or an id
    :param learning_rate: Adam learning rate
    :param group_size: G (Facial-R1 and TRL: 8)
    :param prompts_per_update: B
    :param epsilon: the PPO clip ε (0.2)
    :param epsilon_high: the upper clip bound (DAPO's clip-higher); ``None``: ``epsilon``
    :param beta: the KL coefficient; 0 (TRL's and Facial-R1's default) builds no reference
    :param num_iterations: μ, gradient steps per batch of rollouts (1: on-policy, the ratio is 1)
    :param loss_type: ``"grpo"`` (each rollout's token mean, then the mean over rollouts: Facial-R1's
        seq-mean-token-mean), ``"bnpo"`` (the mean over all tokens; TRL's ``dapo`` on one process) or
        ``"dr_grpo"`` (the token sum over B·G·L)
    :param scale_rewards: ``"group"``, ``"batch"`` or ``"none"`` (see :func:`group_advantages`)
    :param reward_clip: the summed reward is clipped to ``[−reward_clip, reward_clip]`` (Facial-R1: 10;
        ``None``: not clipped, for returns on another scale such as FERSelect-v0's Eq. 3 sums)
    :param mask_zero_std_groups: drop the rollouts of groups whose rewards are all equal from the loss (off
        by default, as in TRL; with β = 0 they carry no gradient anyway)
    :param zero_std_warning: warn when more than this fraction of one update's groups have zero spread
    :param use_masking: apply the env's ``action_masks()`` (sb3-contrib's convention) when sampling and in
        the loss
    :param rollout: ``"auto"``, ``"batched"`` or ``"env"`` (step the env through SB3's VecEnv)
    :param max_grad_norm: gradient clipping
    :param ent_coef: entropy bonus (0 in GRPO)
    """

    policy_aliases: ClassVar[dict[str, type[BasePolicy]]] = {
        "MlpPolicy": ActorCriticPolicy,
        "MultiInputPolicy": MultiInputActorCriticPolicy,
    }
    policy: ActorCriticPolicy

    def __init__(
        self,
        policy: str | type[ActorCriticPolicy],
        env: GymEnv | str,
        learning_rate: float | Schedule = 1e-3,
        group_size: int = 8,
        prompts_per_update: int = 32,
        epsilon: float = 0.2,
        epsilon_high: float | None = None,
        beta: float = 0.0,
        num_iterations: int = 1,
        loss_type: str = "grpo",
        scale_rewards: str = "group",
        reward_clip: float | None = 10.0,
        mask_zero_std_groups: bool = False,
        zero_std_warning: float = 0.5,
        use_masking: bool = False,
        rollout: str = "auto",
        max_grad_norm: float = 1.0,
        ent_coef: float = 0.0,
        policy_kwargs: dict[str, Any] | None = None,
        stats_window_size: int = 100,
        tensorboard_log: str | None = None,
        verbose: int = 0,
        seed: int | None = None,
        device: th.device | str = "auto",
        _init_setup_model: bool = True,
    ) -> None:
        super().__init__(
            policy,
            env,
            learning_rate,
            policy_kwargs=policy_kwargs,
            stats_window_size=stats_window_size,
            tensorboard_log=tensorboard_log,
            verbose=verbose,
            device=device,
            support_multi_env=True,
            seed=seed,
            supported_action_spaces=(spaces.Discrete,),
        )
        if int(group_size) < 2:
            raise ValueError(f"group_size: GRPO needs at least 2 rollouts per group, got {group_size}")
        if int(prompts_per_update) < 1 or int(num_iterations) < 1:
            raise ValueError("prompts_per_update and num_iterations must be >= 1")
        if loss_type not in LOSS_TYPES:
            raise ValueError(f"loss_type: must be one of {LOSS_TYPES}, got {loss_type!r}")
        if scale_rewards not in SCALE_REWARDS:
            raise ValueError(f"scale_rewards: must be one of {SCALE_REWARDS}, got {scale_rewards!r}")
        if rollout not in ("auto", "batched", "env"):
            raise ValueError(f"rollout: must be 'auto', 'batched' or 'env', got {rollout!r}")
        if float(epsilon) <= 0 or float(beta) < 0 or (reward_clip is not None and float(reward_clip) <= 0):
            raise ValueError("epsilon and reward_clip must be > 0 (reward_clip None: no clip) and beta >= 0")
        self.group_size = int(group_size)
        self.prompts_per_update = int(prompts_per_update)
        self.epsilon = float(epsilon)
        self.epsilon_high = float(epsilon if epsilon_high is None else epsilon_high)
        self.beta = float(beta)
        self.num_iterations = int(num_iterations)
        self.loss_type = loss_type
        self.scale_rewards = scale_rewards
        self.reward_clip = None if reward_clip is None else float(reward_clip)
        self.mask_zero_std_groups = bool(mask_zero_std_groups)
        self.zero_std_warning = float(zero_std_warning)
        self.use_masking = bool(use_masking)
        self.rollout = rollout
        self.max_grad_norm = max_grad_norm
        self.ent_coef = ent_coef
        self.reference: ActorCriticPolicy | None = None
        self._n_updates = 0
        self.history: list[dict[str, float]] = []
        """One dict of the logged metrics per update."""
        if _init_setup_model:
            self._setup_model()

    # ----------------------------------------------------------------------------------------- setup
    def _setup_model(self) -> None:
        self._setup_lr_schedule()
        self.set_random_seed(self.seed)
        self.policy = self.policy_class(  # type: ignore[assignment]
            self.observation_space, self.action_space, self.lr_schedule, **self.policy_kwargs
        ).to(self.device)
        self._generator = np.random.default_rng(self.seed)

    def set_reference(self) -> None:
        """Freeze a copy of the current policy as the KL reference (called by :meth:`learn` when β > 0 and
        none is set: the policy GRPO starts from, e.g. the SFT one)."""
        self.reference = copy.deepcopy(self.policy).eval()
        for p in self.reference.parameters():
            p.requires_grad_(False)

    # ---------------------------------------------------------------------------------------- policy
    def _unwrapped_env(self) -> Any:
        assert self.env is not None
        return self.env.envs[0].unwrapped if hasattr(self.env, "envs") else None

    def _batched(self) -> bool:
        base = self._unwrapped_env()
        can = base is not None and hasattr(base, "observation_batch") and hasattr(base, "score")
        if self.rollout == "batched" and not can:
            raise ValueError("rollout='batched' needs an env with observation_batch() and score() (FERReason-v0)")
        return can and self.rollout != "env"

    # -------------------------------------------------------------------------------------- rollouts
    def _prompt_keys(self) -> np.ndarray:
        try:
            n = int(self.env.get_attr("num_prompts")[0])  # type: ignore[union-attr]
        except AttributeError:
            n = 2**31 - 1  # no prompt table: a group shares one reset seed
        return self._generator.integers(n, size=self.prompts_per_update)

    def _rollouts_batched(self, keys: np.ndarray) -> dict[str, Any]:
        """All B×G completions, one batched policy call per token position."""
        env = self._unwrapped_env()
        vocab, length = env.vocabulary, env.max_length
        faces = np.repeat(keys, self.group_size)
        n = len(faces)
        tokens = np.full((n, length), vocab.pad, np.int64)
        alive = np.ones(n, bool)
        steps: dict[str, list] = {"row": [], "t": [], "action": [], "logp": [], "mask": []}
        self.policy.set_training_mode(False)
        for t in range(length):
            rows = np.flatnonzero(alive)
            if rows.size == 0:
                break
            obs = env.observation_batch(faces[rows], tokens[rows], np.full(rows.size, t))
            masks = None
            if self.use_masking and getattr(env, "action_masking", False):
                masks = np.stack([vocab.grammar_mask(tokens[r, :t], length) for r in rows])
            with th.no_grad():
                dist = th.distributions.Categorical(logits=policy_logits(self.policy, obs, masks))
                action = dist.sample()
                logp = dist.log_prob(action)
            a = action.cpu().numpy()
            tokens[rows, t] = a
            alive[rows[a == vocab.eos]] = False
            steps["row"].append(rows)
            steps["t"].append(np.full(rows.size, t))
            steps["action"].append(a)
            steps["logp"].append(logp.cpu().numpy())
            steps["mask"].append(masks if masks is not None else np.ones((rows.size, len(vocab)), bool))
        infos = [env.score(int(faces[i]), tokens[i]) for i in range(n)]
        rewards = np.array([sum(info["rewards"].values()) for info in infos])
        row = np.concatenate(steps["row"])
        t = np.concatenate(steps["t"])
        obs = env.observation_batch(faces[row], tokens[row], t)
        return {
            "obs": obs,
            "actions": np.concatenate(steps["action"]),
            "old_logp": np.concatenate(steps["logp"]),
            "masks": np.concatenate(steps["mask"]),
            "rollout": row,
            "rewards": rewards,
            "infos": infos,
            "lengths": (tokens != vocab.pad).sum(axis=1),
            "max_length": length,
            "faces": faces,
            "completions": tokens,
        }

    def _rollouts_env(self, keys: np.ndarray) -> dict[str, Any]:
        """All B×G rollouts through the VecEnv; G rollouts of a group start from ``options={"index": key}``
        (or the shared seed ``key``), ``num_envs`` at a time."""
        env = self.env
        assert env is not None
        n_envs = env.num_envs
        has_index = True
        try:
            env.get_attr("num_prompts")
        except AttributeError:
            has_index = False
        if not has_index and n_envs > 1:
            # VecEnv.seed(k) gives sub-env j the seed k + j: the members of a group would not share a start.
            raise ValueError(
                "GRPO on an env without reset(options={'index': i}) shares a group's start through one reset "
                f"seed, which needs a single env; got a VecEnv of {n_envs}"
            )
        obs_steps: list[Any] = []
        actions, old_logp, masks_all, owner = [], [], [], []
        rewards, infos, lengths = [], [], []
        self.policy.set_training_mode(False)
        rollout_id = 0
        for key in keys:
            left = self.group_size
            while left > 0:
                m = min(n_envs, left)
                if has_index:
                    env.set_options({"index": int(key)})
                else:
                    env.seed(int(key))
                obs = env.reset()
                finished = np.arange(n_envs) >= m
                total = np.zeros(n_envs)
                count = np.zeros(n_envs, np.int64)
                last_info: list[dict] = [{} for _ in range(n_envs)]
                while not finished.all():
                    mask = None
                    if self.use_masking:
                        mask = np.stack(env.env_method("action_masks"))
                    with th.no_grad():
                        dist = th.distributions.Categorical(logits=policy_logits(self.policy, obs, mask))
                        action = dist.sample()
                        logp = dist.log_prob(action).cpu().numpy()
                    a = action.cpu().numpy()
                    new_obs, r, dones, step_infos = env.step(a)
                    self.num_timesteps += int((~finished).sum())  # the actions of unfinished rollouts
                    for i in np.flatnonzero(~finished):
                        obs_steps.append({k: v[i] for k, v in obs.items()} if isinstance(obs, dict) else obs[i])
                        actions.append(int(a[i]))
                        old_logp.append(float(logp[i]))
                        masks_all.append(mask[i] if mask is not None else np.ones(self.action_space.n, bool))  # type: ignore[attr-defined]
                        owner.append(rollout_id + i)
                        total[i] += float(r[i])
                        count[i] += 1
                        if dones[i]:
                            finished[i] = True
                            last_info[i] = step_infos[i]
                    obs = new_obs
                for i in range(m):
                    rewards.append(total[i])
                    infos.append(last_info[i])
                    lengths.append(count[i])
                rollout_id += m
                left -= m
        env.set_options({})
        if isinstance(obs_steps[0], dict):
            stacked: Any = {k: np.stack([o[k] for o in obs_steps]) for k in obs_steps[0]}
        else:
            stacked = np.stack(obs_steps)
        return {
            "obs": stacked,
            "actions": np.array(actions),
            "old_logp": np.array(old_logp),
            "masks": np.stack(masks_all),
            "rollout": np.array(owner),
            "rewards": np.array(rewards),
            "infos": infos,
            "lengths": np.array(lengths),
            "max_length": int(max(lengths)),
        }

    # ---------------------------------------------------------------------------------------- update
    def train_on_batch(self, batch: dict[str, Any]) -> dict[str, float]:
        """``num_iterations`` gradient steps of the clipped group-relative loss on one batch of rollouts;
        returns TRL-named metrics."""
        b, g = self.prompts_per_update, self.group_size
        rewards = np.asarray(batch["rewards"], np.float64).reshape(b, g)
        if self.reward_clip is not None:
            rewards = np.clip(rewards, -self.reward_clip, self.reward_clip)
        adv = group_advantages(rewards, self.scale_rewards)
        zero_std = rewards.std(axis=1) == 0
        seq_weight = np.ones(b * g)
        if self.mask_zero_std_groups:
            seq_weight = np.repeat(~zero_std, g).astype(np.float64)
        rollout = th.as_tensor(batch["rollout"], device=self.device)
        adv_tok = th.as_tensor(adv.reshape(-1)[batch["rollout"]], device=self.device).float()
        w_tok = th.as_tensor(seq_weight[batch["rollout"]], device=self.device).float()
        actions = th.as_tensor(batch["actions"], device=self.device)
        old_logp = th.as_tensor(batch["old_logp"], device=self.device).float()
        masks = batch["masks"] if self.use_masking else None
        counts = th.bincount(rollout, minlength=b * g).clamp(min=1).float()
        lr = self.lr_schedule(self._current_progress_remaining)
        update_learning_rate(self.policy.optimizer, lr)
        self.policy.set_training_mode(True)
        stats: dict[str, list[float]] = {"loss": [], "entropy": [], "kl": [], "low": [], "high": [], "region": []}
        for _ in range(self.num_iterations):
            logits = policy_logits(self.policy, batch["obs"], masks)
            dist = th.distributions.Categorical(logits=logits)
            logp = dist.log_prob(actions)
            ratio = th.exp(logp - old_logp)
            clipped = th.clamp(ratio, 1 - self.epsilon, 1 + self.epsilon_high)
            per_token = -th.min(ratio * adv_tok, clipped * adv_tok)
            kl = th.zeros_like(per_token)
            if self.beta > 0:
                if self.reference is None:
                    self.set_reference()
                assert self.reference is not None
                with th.no_grad():
                    ref_logp = th.distributions.Categorical(
                        logits=policy_logits(self.reference, batch["obs"], masks)
                    ).log_prob(actions)
                kl = th.exp(ref_logp - logp) - (ref_logp - logp) - 1  # k3, unbiased and >= 0
                per_token = per_token + self.beta * kl
            entropy = dist.entropy()
            per_token = (per_token - self.ent_coef * entropy) * w_tok
            loss = self._aggregate(per_token, rollout, counts, batch["max_length"])
            self.policy.optimizer.zero_grad()
            loss.backward()
            th.nn.utils.clip_grad_norm_(self.policy.parameters(), self.max_grad_norm)
            self.policy.optimizer.step()
            with th.no_grad():
                low = ((ratio < 1 - self.epsilon) & (adv_tok < 0)).float().mean()
                high = ((ratio > 1 + self.epsilon_high) & (adv_tok > 0)).float().mean()
            stats["loss"].append(loss.item())
            stats["entropy"].append(entropy.mean().item())
            stats["kl"].append(kl.mean().item())
            stats["low"].append(low.item())
            stats["high"].append(high.item())
            stats["region"].append(low.item() + high.item())
        self.policy.set_training_mode(False)
        self._n_updates += 1
        lengths = np.asarray(batch["lengths"], np.float64)
        out = {
            "reward": float(rewards.mean()),
            "reward_std": float(rewards.std(ddof=1)) if rewards.size > 1 else 0.0,
            "frac_reward_zero_std": float(zero_std.mean()),
            "entropy": float(np.mean(stats["entropy"])),
            "clip_ratio/low_mean": float(np.mean(stats["low"])),
            "clip_ratio/high_mean": float(np.mean(stats["high"])),
            "clip_ratio/region_mean": float(np.mean(stats["region"])),
            "completions/mean_length": float(lengths.mean()),
            "completions/min_length": float(lengths.min()),
            "completions/max_length": float(lengths.max()),
            "completions/clipped_ratio": float(self._clipped_ratio(batch)),
            "num_tokens": float(lengths.sum()),
            "loss": float(np.mean(stats["loss"])),
            "learning_rate": float(lr),
        }
        if self.beta > 0:
            out["kl"] = float(np.mean(stats["kl"]))
        names = sorted({k for info in batch["infos"] for k in (info.get("rewards") or {})})
        for name in names:
            values = np.array([float((info.get("rewards") or {}).get(name, 0.0)) for info in batch["infos"]])
            out[f"rewards/{name}/mean"] = float(values.mean())
            out[f"rewards/{name}/std"] = float(values.std(ddof=1)) if values.size > 1 else 0.0
        return out

    def _aggregate(self, per_token: th.Tensor, rollout: th.Tensor, counts: th.Tensor, max_length: int) -> th.Tensor:
        if self.loss_type == "bnpo":
            return per_token.mean()
        n_rollouts = counts.numel()
        if self.loss_type == "dr_grpo":
            return per_token.sum() / (n_rollouts * max_length)
        sums = th.zeros(n_rollouts, device=per_token.device).index_add(0, rollout, per_token)
        return (sums / counts).mean()

    def _clipped_ratio(self, batch: dict[str, Any]) -> float:
        """The share of completions cut by the length limit (no EOS); 0 on envs that emit no tokens."""
        if not hasattr(self._unwrapped_env(), "vocabulary"):
            return 0.0
        return float(np.mean(np.asarray(batch["lengths"]) >= batch["max_length"]))

    # ----------------------------------------------------------------------------------------- learn
    def learn(
        self: SelfGRPO,
        total_timesteps: int,
        callback: MaybeCallback = None,
        log_interval: int = 1,
        tb_log_name: str = "GRPO",
        reset_num_timesteps: bool = True,
        progress_bar: bool = False,
    ) -> SelfGRPO:
        """Update until ``total_timesteps`` actions (tokens) have been sampled; ``log_interval`` counts
        updates. Warns once when most groups of an update have zero reward spread."""
        total_timesteps, callback = self._setup_learn(
            total_timesteps, callback, reset_num_timesteps, tb_log_name, progress_bar
        )
        callback.on_training_start(locals(), globals())
        if self.beta > 0 and self.reference is None:
            self.set_reference()
        batched = self._batched()
        warned = False
        while self.num_timesteps < total_timesteps:
            self._update_current_progress_remaining(self.num_timesteps, total_timesteps)
            start = time.perf_counter()
            callback.on_rollout_start()
            keys = self._prompt_keys()
            batch = self._rollouts_batched(keys) if batched else self._rollouts_env(keys)
            if batched:
                self.num_timesteps += len(batch["actions"])
            callback.update_locals(locals())
            if not callback.on_step():
                break
            callback.on_rollout_end()
            stats = self.train_on_batch(batch)
            stats["step_time"] = time.perf_counter() - start
            self.history.append(stats)
            if not warned and stats["frac_reward_zero_std"] > self.zero_std_warning:
                warnings.warn(
                    f"GRPO: {stats['frac_reward_zero_std']:.0%} of the groups of update {self._n_updates} have zero "
                    "reward spread (all rollouts equally right or wrong), so they give no gradient. Raise the "
                    "sampling diversity (a cold or less peaked start), the group size, or use a reward with "
                    "partial credit (R_AU)",
                    RuntimeWarning,
                    stacklevel=2,
                )
                warned = True
            for key, value in stats.items():
                self.logger.record(f"train/{key}", value)
            self.logger.record("train/n_updates", self._n_updates, exclude="tensorboard")
            if log_interval and self._n_updates % log_interval == 0:
                self.logger.record("time/total_timesteps", self.num_timesteps, exclude="tensorboard")
                self.logger.dump(step=self.num_timesteps)
        callback.on_training_end()
        return self

    def _get_torch_save_params(self) -> tuple[list[str], list[str]]:
        return ["policy", "policy.optimizer"], []

    def _excluded_save_params(self) -> list[str]:
        return [*super()._excluded_save_params(), "reference", "_generator", "history"]


__all__ = ["GRPO", "LOSS_TYPES", "SCALE_REWARDS", "STD_EPS", "group_advantages"]
