"""The paper's image selector (§3.1.3, §4.4.1): five fully connected layers, ReLU, a sigmoid keep-probability;
its categorical twin for envs with more than two actions (FERSelectRelabel-v0), and its MultiBinary twin for
sets chosen at once (FEROpenVocabSet-v0)."""

from __future__ import annotations

from typing import Any

import torch as th
from gymnasium import spaces
from stable_baselines3.common.policies import BasePolicy
from stable_baselines3.common.type_aliases import Schedule
from torch import nn


class SelectorPolicy(BasePolicy):
    """Bernoulli keep/remove policy ``π(a=1 | s) = sigmoid(DNN(s))`` (Eq. 1).

    :param observation_space: a 1-D ``Box``
    :param action_space: ``Discrete(2)`` (1 = keep)
    :param lr_schedule: learning-rate schedule (only its initial value is used by the optimiser)
    :param net_arch: hidden layer sizes; the default four hidden layers plus the output make the paper's five
    :param activation_fn: activation between layers (ReLU in §4.4.1)
    :param optimizer_class: optimiser class
    :param optimizer_kwargs: extra optimiser arguments
    :param normalize_observations: standardise each input with running mean and variance, updated by the
        algorithm from every finished episode (:meth:`update_normalizer`) and saved with the policy. The
        env's features are unbounded ReLU activations next to probabilities in [0, 1]; without this the
        first layer sees the label-probability column at a scale hundreds of times smaller.
    :param feature_dim: F when the observation starts with FERSelect-v0's ``[feature (F), mean kept feature
        (F)]``. The mean block is then standardised with the feature block's statistics: both are in the
        same units, while the mean's own variance within a pass is tiny, so its own statistics would turn
        the drift of the kept mean between passes into inputs of ±10 on every one of its F dimensions.
        :class:`~agents.REINFORCE` fills it in from the env's ``feature_dim`` attribute when present.
    """

    def __init__(
        self,
        observation_space: spaces.Space,
        action_space: spaces.Space,
        lr_schedule: Schedule,
        net_arch: list[int] | None = None,
        activation_fn: type[nn.Module] = nn.ReLU,
        optimizer_class: type[th.optim.Optimizer] = th.optim.Adam,
        optimizer_kwargs: dict[str, Any] | None = None,
        normalize_observations: bool = True,
        feature_dim: int | None = None,
    ) -> None:
        self._check_action_space(action_space)
        if not isinstance(observation_space, spaces.Box) or len(observation_space.shape) != 1:
            raise ValueError(f"SelectorPolicy needs a 1-D Box observation space, got {observation_space}")
        super().__init__(
            observation_space,
            action_space,
            optimizer_class=optimizer_class,
            optimizer_kwargs=optimizer_kwargs,
            normalize_images=False,
        )
        self.net_arch = list(net_arch) if net_arch is not None else [128, 64, 32, 16]
        self.activation_fn = activation_fn
        layers: list[nn.Module] = []
        width = int(observation_space.shape[0])
        for hidden in self.net_arch:
            layers += [nn.Linear(width, hidden), activation_fn()]
            width = hidden
        layers.append(nn.Linear(width, self._n_outputs(action_space)))
        self.net = nn.Sequential(*layers)
        self.normalize_observations = bool(normalize_observations)
        n_in = int(observation_space.shape[0])
        if feature_dim is not None and not 0 < 2 * int(feature_dim) <= n_in:
            raise ValueError(f"feature_dim={feature_dim} does not fit a {n_in}-dimensional observation")
        self.feature_dim = None if feature_dim is None else int(feature_dim)
        self.register_buffer("obs_mean", th.zeros(n_in))
        self.register_buffer("obs_var", th.ones(n_in))
        self.register_buffer("obs_count", th.zeros(()))
        self.optimizer = self.optimizer_class(self.parameters(), lr=lr_schedule(1), **self.optimizer_kwargs)

    @staticmethod
    def _check_action_space(action_space: spaces.Space) -> None:
        if not isinstance(action_space, spaces.Discrete) or action_space.n != 2 or action_space.start != 0:
            raise ValueError(
                f"SelectorPolicy needs a Discrete(2) action space, got {action_space}; for Discrete(n) with n > 2 "
                "use policy='CategoricalMlpPolicy' (CategoricalSelectorPolicy)"
            )

    @staticmethod
    def _n_outputs(action_space: spaces.Discrete) -> int:
        return 1  # the keep logit

    def _get_constructor_parameters(self) -> dict[str, Any]:
        data = super()._get_constructor_parameters()
        data.update(
            net_arch=self.net_arch,
            activation_fn=self.activation_fn,
            normalize_observations=self.normalize_observations,
            feature_dim=self.feature_dim,
        )
        return data

    @th.no_grad()
    def update_normalizer(self, obs: th.Tensor) -> None:
        """Merge a batch of observations into the running mean and variance (Chan et al.'s parallel update)."""
        if not self.normalize_observations or len(obs) == 0:
            return
        obs = obs.float().to(self.obs_mean.device)
        n_b = float(len(obs))
        mean_b = obs.mean(0)
        var_b = obs.var(0, unbiased=False)
        n_a = float(self.obs_count)
        total = n_a + n_b
        delta = mean_b - self.obs_mean
        self.obs_mean += delta * (n_b / total)
        self.obs_var.copy_((self.obs_var * n_a + var_b * n_b + delta.pow(2) * (n_a * n_b / total)) / total)
        self.obs_count.fill_(total)
        if self.feature_dim is not None:
            f = self.feature_dim
            self.obs_mean[f : 2 * f] = self.obs_mean[:f]
            self.obs_var[f : 2 * f] = self.obs_var[:f]

    def normalize(self, obs: th.Tensor) -> th.Tensor:
        """The network's input: standardised and clipped to ±10 once statistics exist, raw before."""
        obs = obs.float()
        if not self.normalize_observations or float(self.obs_count) == 0:
            return obs
        return ((obs - self.obs_mean) / th.sqrt(self.obs_var + 1e-8)).clamp(-10.0, 10.0)

    def keep_logit(self, obs: th.Tensor) -> th.Tensor:
        """``DNN(F(s))`` of Eq. 1, one logit per observation."""
        return self.net(self.normalize(obs)).squeeze(-1)

    def keep_probability(self, obs: th.Tensor) -> th.Tensor:
        """``π(a=1 | s)`` (Eq. 1)."""
        return th.sigmoid(self.keep_logit(obs))

    def action_probabilities(self, obs: th.Tensor) -> th.Tensor:
        """``π(a | s)`` of every action, one row per observation: ``[1 − p, p]``."""
        p = self.keep_probability(obs)
        return th.stack([1.0 - p, p], dim=-1)

    def log_prob(self, obs: th.Tensor, actions: th.Tensor) -> th.Tensor:
        """``log π(a | s)`` of the given 0/1 actions (the binary cross-entropy form of Eq. 4)."""
        logit = self.keep_logit(obs)
        return -nn.functional.binary_cross_entropy_with_logits(logit, actions.float(), reduction="none")

    def entropy(self, obs: th.Tensor) -> th.Tensor:
        """Entropy of the Bernoulli keep decision."""
        logit = self.keep_logit(obs)
        p = th.sigmoid(logit)
        return nn.functional.binary_cross_entropy_with_logits(logit, p, reduction="none")

    def forward(self, obs: th.Tensor, deterministic: bool = False) -> th.Tensor:
        return self._predict(obs, deterministic)

    def _predict(self, observation: th.Tensor, deterministic: bool = False) -> th.Tensor:
        p = self.keep_probability(observation)
        if deterministic:
            return (p > 0.5).long()
        return th.bernoulli(p).long()


class CategoricalSelectorPolicy(SelectorPolicy):
    """``π(a | s) = softmax(DNN(s))_a`` over ``Discrete(n)``: the trunk, normalisation and arguments of
    :class:`SelectorPolicy`, with n logits instead of one keep logit. Action 0 is "remove", so the keep
    probability is ``1 − π(0 | s)`` (FERSelectRelabel-v0: 0 remove, 1 keep, 2 keep relabelled).

    REINFORCE calls it ``"CategoricalMlpPolicy"``; ``"MlpPolicy"`` stays the Bernoulli selector of Discrete(2).
    """

    @staticmethod
    def _check_action_space(action_space: spaces.Space) -> None:
        if not isinstance(action_space, spaces.Discrete) or action_space.n < 2 or action_space.start != 0:
            raise ValueError(
                f"CategoricalSelectorPolicy needs a Discrete(n) action space with n >= 2 starting at 0, got "
                f"{action_space}"
            )

    @staticmethod
    def _n_outputs(action_space: spaces.Discrete) -> int:
        return int(action_space.n)

    def action_logits(self, obs: th.Tensor) -> th.Tensor:
        """``DNN(F(s))``: one logit per action, one row per observation."""
        return self.net(self.normalize(obs))

    def action_probabilities(self, obs: th.Tensor) -> th.Tensor:
        """``π(a | s)`` of every action, one row per observation."""
        return th.softmax(self.action_logits(obs), dim=-1)

    def keep_logit(self, obs: th.Tensor) -> th.Tensor:
        """``log(1 − π(0|s)) − log π(0|s)``: the logit of keeping the image in any form."""
        logits = self.action_logits(obs)
        return th.logsumexp(logits[:, 1:], dim=-1) - logits[:, 0]

    def keep_probability(self, obs: th.Tensor) -> th.Tensor:
        """``1 − π(remove | s)``."""
        return 1.0 - self.action_probabilities(obs)[:, 0]

    def log_prob(self, obs: th.Tensor, actions: th.Tensor) -> th.Tensor:
        """``log π(a | s)`` of the given actions."""
        log_pi = th.log_softmax(self.action_logits(obs), dim=-1)
        return log_pi.gather(-1, actions.long().reshape(-1, 1)).squeeze(-1)

    def entropy(self, obs: th.Tensor) -> th.Tensor:
        """Entropy of the categorical decision."""
        return th.distributions.Categorical(logits=self.action_logits(obs)).entropy()

    def _predict(self, observation: th.Tensor, deterministic: bool = False) -> th.Tensor:
        logits = self.action_logits(observation)
        if deterministic:
            return logits.argmax(dim=-1)
        return th.distributions.Categorical(logits=logits).sample()


MlpPolicy = SelectorPolicy
CategoricalMlpPolicy = CategoricalSelectorPolicy


class MultiBinarySelectorPolicy(SelectorPolicy):
    """``π(a | s) = Π_j Bernoulli(a_j; sigmoid(DNN(s)_j))`` over ``MultiBinary(n)``: the trunk, normalisation
    and arguments of :class:`SelectorPolicy`, with one independent keep logit per bit (a word set at once,
    FEROpenVocabSet-v0). The log-probability and entropy of an action are the sums over its bits.

    REINFORCE calls it ``"MultiBinaryMlpPolicy"``.
    """

    @staticmethod
    def _check_action_space(action_space: spaces.Space) -> None:
        if not isinstance(action_space, spaces.MultiBinary) or len(action_space.shape) != 1:
            raise ValueError(f"MultiBinarySelectorPolicy needs a 1-D MultiBinary action space, got {action_space}")

    @staticmethod
    def _n_outputs(action_space: spaces.MultiBinary) -> int:  # type: ignore[override]
        return int(action_space.shape[0])

    def keep_logit(self, obs: th.Tensor) -> th.Tensor:
        """One logit per bit, one row per observation."""
        return self.net(self.normalize(obs))

    def action_probabilities(self, obs: th.Tensor) -> th.Tensor:
        """``π(a_j = 1 | s)`` of every bit, one row per observation."""
        return self.keep_probability(obs)

    def log_prob(self, obs: th.Tensor, actions: th.Tensor) -> th.Tensor:
        """``log π(a | s)``: the sum of the bits' Bernoulli log-probabilities."""
        logit = self.keep_logit(obs)
        bits = actions.float().reshape(logit.shape)
        return -nn.functional.binary_cross_entropy_with_logits(logit, bits, reduction="none").sum(-1)

    def entropy(self, obs: th.Tensor) -> th.Tensor:
        """The sum of the bits' Bernoulli entropies."""
        return super().entropy(obs).sum(-1)


MultiBinaryMlpPolicy = MultiBinarySelectorPolicy
