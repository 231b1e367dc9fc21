"""Controllers that look further ahead through the learned model.

The seed's procedure is one step deep and greedy: it refines the command by the
controller's verdict on the *next* predicted state. Tasks such as a swing-up
need more. Two extensions, both running on the same learned forward model:

- :class:`RolloutController` is the seed's procedure stretched over a horizon:
  the model rolls the plan forward H steps, each command is refined by the
  controller evaluated on its own predicted consequence, and the refinement
  repeats. With H = 1 it *is* the seed's procedure. Use it when a simple
  controller is right in kind but acts too late (slow plants, delays, a
  quantity like energy that the controller can push but not see ahead).
- :class:`MPPIController` is a standard sampling planner (model-predictive path
  integral control): many random command sequences are rolled through the
  model in a batch and averaged, weighted by the cost of their predicted
  outcome. It needs a cost function instead of a controller, and a model with a
  fast ``predict_many``. Use it as the reference point for what the learned
  model allows when no simple controller is known.
"""

from __future__ import annotations

import numpy as np

from .._validation import as_finite_vector


class RolloutController:
    """The seed's refinement over a horizon, in receding-horizon fashion.

    Each call: (1) roll the model from the state, choosing each command by the
    controller on the predicted state where it is sent; (2) ``iterations``
    times, sweep through the plan: predict the consequence of command h,
    ``s_hat_{h+1} = model(s_hat_h, u_h)``, add the controller's output on it,
    ``u_h <- u_h + C(s_hat_{h+1})``, and continue the rollout from the refined
    command's prediction; (3) send the first command.

    Parameters
    ----------
    feedback : callable
        The controller ``C(state) -> command``.
    model : ForwardModel
        The learned (or true) forward model.
    horizon : int
        Plan length H; 1 reproduces :class:`ForwardModelController`.
    iterations : int
        Refinement sweeps K.
    low, high : array_like, optional
        Command limits (the action space), applied to every planned command.
    """

    def __init__(self, feedback, model, horizon: int = 10, iterations: int = 3, low=None, high=None):
        if int(horizon) != horizon or horizon < 1:
            raise ValueError(f"horizon must be a positive integer, got {horizon}")
        if int(iterations) != iterations or iterations < 0:
            raise ValueError(f"iterations must be a non-negative integer, got {iterations}")
        self.feedback = feedback
        self.model = model
        self.horizon = int(horizon)
        self.iterations = int(iterations)
        self.low = -np.inf if low is None else np.asarray(low, dtype=np.float64)
        self.high = np.inf if high is None else np.asarray(high, dtype=np.float64)

    def _clip(self, command):
        return np.minimum(np.maximum(command, self.low), self.high)

    def plan(self, state) -> list[np.ndarray]:
        """Return the refined plan (a list of H commands) for ``state``."""
        state = as_finite_vector(state, "state")
        plan, predicted = [], state
        for _ in range(self.horizon):
            command = self._clip(self.feedback(predicted))
            plan.append(command)
            predicted = self.model.predict(predicted, command)
        for _ in range(self.iterations):
            predicted = state
            for h in range(self.horizon):
                consequence = self.model.predict(predicted, plan[h])
                plan[h] = self._clip(plan[h] + self.feedback(consequence))
                predicted = self.model.predict(predicted, plan[h])
        return plan

    def command(self, state) -> np.ndarray:
        """Return the first command of the refined plan."""
        command = self.plan(state)[0]
        if not np.all(np.isfinite(command)):
            raise FloatingPointError(f"the planned command is not finite ({command}): the model diverged")
        return command


class MPPIController:
    """Model-predictive path-integral control through a forward model.

    Parameters
    ----------
    model : ForwardModel
        Needs ``predict_many(states, commands)`` (all models here have it).
    cost : callable
        ``cost(next_states, commands) -> (N,)`` per-step cost of N candidates.
    horizon : int
        Planning horizon in steps.
    samples : int
        Candidate command sequences per step.
    noise : float or array_like
        Standard deviation of the exploration noise per command channel.
    temperature : float
        Softmax temperature on the rollout costs (relative to their spread).
    low, high : array_like
        Command limits.
    seed : int or None
        Seeds the exploration noise.
    """

    def __init__(self, model, cost, horizon: int = 20, samples: int = 256, noise=1.0,
                 temperature: float = 0.1, low=-1.0, high=1.0, seed: int | None = 0):
        if horizon < 1 or samples < 2:
            raise ValueError(f"need horizon >= 1 and samples >= 2, got {horizon} and {samples}")
        if temperature <= 0:
            raise ValueError(f"temperature must be positive, got {temperature}")
        self.model = model
        self.cost = cost
        self.horizon = int(horizon)
        self.samples = int(samples)
        self.low = np.atleast_1d(np.asarray(low, dtype=np.float64))
        self.high = np.atleast_1d(np.asarray(high, dtype=np.float64))
        self.noise = np.broadcast_to(np.asarray(noise, dtype=np.float64), self.low.shape).copy()
        self.temperature = float(temperature)
        self.rng = np.random.default_rng(seed)
        self.reset()

    def reset(self) -> None:
        """Forget the warm-started plan (at the start of an episode)."""
        self._mean = np.zeros((self.horizon, self.low.shape[0]))

    def command(self, state) -> np.ndarray:
        """Return the first command of the cost-weighted average plan."""
        state = as_finite_vector(state, "state")
        n = self.samples
        noise = self.rng.standard_normal((n, self.horizon, self.low.shape[0])) * self.noise
        noise[0] = 0.0  # always evaluate the current plan itself
        plans = np.clip(self._mean + noise, self.low, self.high)
        states = np.repeat(state[None, :], n, axis=0)
        totals = np.zeros(n)
        for h in range(self.horizon):
            states = self.model.predict_many(states, plans[:, h])
            totals += self.cost(states, plans[:, h])
        totals = np.where(np.isfinite(totals), totals, np.inf)
        spread = max(float(np.ptp(totals[np.isfinite(totals)])) if np.isfinite(totals).any() else 1.0,
                     1e-12)
        weights = np.exp(-(totals - totals.min()) / (self.temperature * spread))
        weights /= weights.sum()
        mean = np.einsum("n,nhc->hc", weights, plans)
        first = mean[0].copy()
        # Warm start: shift the plan by one step, repeating the last command.
        self._mean = np.vstack([mean[1:], mean[-1:]])
        return first
