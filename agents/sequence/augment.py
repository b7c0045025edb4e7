"""Training-time noise on the posterior an agent sees: an augmentation against learning one split's faces.

The agents learn on the validation identities' episodes, a few hundred faces whose posterior trajectories
a policy can learn by heart: at λ = 0 PPO's early commits cost nothing on those faces and 0.5-1 point of
accuracy on new ones (``docs/sequence.md``). The test identities' posteriors are another draw of the same
classifier's errors, so the training envs show a perturbed posterior, Gaussian noise on its
log-probabilities, and a policy commits early only where the commit survives the noise. The scored envs are
never perturbed.
"""

from __future__ import annotations

import gymnasium as gym
import numpy as np

from fer_select_env.core.checks import check_positive_number
from fer_select_env.envs.sequence.env import posterior_table


def jitter_posterior(observation: np.ndarray, sigma: float, num_classes: int, rng: np.random.Generator) -> np.ndarray:
    """The ``"posterior"`` observation ``[p (K), max p, H(p)/log K, (t+1)/T]`` with N(0, σ²) noise added to
    log p, renormalised; max p and the normalised entropy are recomputed (by the env's own
    :func:`~fer_select_env.envs.sequence.env.posterior_table`), t/T is kept."""
    logits = np.log(np.clip(observation[:num_classes], 1e-6, 1.0)) + rng.normal(0.0, sigma, num_classes)
    p = np.exp(logits - logits.max())
    out = posterior_table((p / p.sum())[None, None])[0, 0]
    out[-1] = observation[-1]
    return out


class PosteriorJitter(gym.ObservationWrapper):
    """FERSequence-v0 (``observation="posterior"``) whose posterior is perturbed by :func:`jitter_posterior`.

    The noise comes from the env's ``np_random``, so a seeded ``reset`` makes an episode reproducible.

    :param sigma: standard deviation of the noise on log p_t (> 0)
    :raises ValueError: for a ``sigma`` that is not a positive number, or an env whose observation is not
        the posterior
    """

    def __init__(self, env: gym.Env, sigma: float):
        super().__init__(env)
        if getattr(env.unwrapped, "observation", None) != "posterior":
            raise ValueError("PosteriorJitter: the env's observation must be 'posterior'")
        self.sigma, self.num_classes = check_positive_number("sigma", sigma), int(env.unwrapped.num_classes)

    def observation(self, observation: np.ndarray) -> np.ndarray:
        return jitter_posterior(np.asarray(observation), self.sigma, self.num_classes, self.np_random)


__all__ = ["PosteriorJitter", "jitter_posterior"]
