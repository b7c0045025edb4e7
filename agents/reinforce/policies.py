"""The paper's image selector (§3.1.3, §4.4.1): five fully connected layers, ReLU, a sigmoid keep-probability."""

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
    ) -> None:
        if not isinstance(action_space, spaces.Discrete) or action_space.n != 2 or action_space.start != 0:
            raise ValueError(f"SelectorPolicy needs a Discrete(2) action space, got {action_space}")
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
        layers.append(nn.Linear(width, 1))
        self.net = nn.Sequential(*layers)
        self.optimizer = self.optimizer_class(self.parameters(), lr=lr_schedule(1), **self.optimizer_kwargs)

    def _get_constructor_parameters(self) -> dict[str, Any]:
        data = super()._get_constructor_parameters()
        data.update(net_arch=self.net_arch, activation_fn=self.activation_fn)
        return data

    def keep_logit(self, obs: th.Tensor) -> th.Tensor:
        """``DNN(F(s))`` of Eq. 1, one logit per observation."""
        return self.net(obs.float()).squeeze(-1)

    def keep_probability(self, obs: th.Tensor) -> th.Tensor:
        """``π(a=1 | s)`` (Eq. 1)."""
        return th.sigmoid(self.keep_logit(obs))

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


MlpPolicy = SelectorPolicy
