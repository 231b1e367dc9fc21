"""Controllers that look further ahead through the learned model.

The seed's procedure is one step deep: it refines the command by the
controller's verdict on the *next* predicted state. Tasks with a delay or a
slow plant need the verdicts on states further ahead. Two extensions, both
running on the same learned forward model:

- :class:`RolloutController` is the seed's procedure stretched over a horizon:
  the model rolls a plan of H commands forward, and each command is refined by
  the controller's mean verdict on all the predicted states it leads to; the
  refinement repeats and the first command is sent. With H = 1 it *is* the
  seed's procedure. Use it when a controller that regulates the state towards
  a setpoint is right in kind and a look-ahead of a few steps through the model
  helps it (a sensory delay, an unstable plant). A law that switches with the
  phase of a motion (energy pumping) gains nothing from verdicts on states a
  half-cycle ahead, which point the other way.
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

    Each call plans H commands ``u_0 .. u_{H-1}`` from the state ``s`` and
    sends ``u_0``:

    1. Initial plan: roll the model forward with the controller choosing each
       command on the predicted state where it is sent,
       ``u_h = C(s_hat_h)``, ``s_hat_0 = s``,
       ``s_hat_{h+1} = model(s_hat_h, u_h)``.
    2. ``iterations`` sweeps, each of which rolls the current plan through the
       model once, ``s_hat_{j} = model(s_hat_{j-1}, u_{j-1})`` for j = 1..H,
       and then refines every command at once by the controller's mean verdict
       on the states it leads to::

           u_h <- clip(u_h + (1 / (H - h)) * sum_{j = h+1}^{H} C(s_hat_j))

    3. Send ``u_0``. Every command is clipped to ``[low, high]`` whenever it
       is set, so the model is only asked about commands that could be sent.

    Why this update: a command moves every predicted state after it, so it
    takes the verdicts on all of them, not only on its own next state (which
    would leave ``u_0`` blind to the horizon). The mean, rather than the sum,
    keeps one sweep's correction within the range of the controller's own
    outputs, so the horizon does not multiply the controller's gain. All
    commands are refined from one rollout (a Jacobi sweep), so a sweep costs H
    predictions rather than the H^2 of re-rolling after each command. For
    H = 1 the update is ``u_0 <- clip(u_0 + C(model(s, u_0)))`` repeated K
    times: the seed's procedure, :class:`ForwardModelController`.

    Parameters
    ----------
    feedback : callable
        The controller ``C(state) -> command``.
    model : ForwardModel
        The learned (or true) forward model: anything with
        ``predict(state, command) -> next state``.
    horizon : int
        Plan length H; 1 reproduces :class:`ForwardModelController`.
    iterations : int
        Refinement sweeps K; 0 sends plain feedback ``C(s)`` whatever H is.
    low, high : array_like, optional
        Command limits (the action space), applied to every planned command.

    Notes
    -----
    On a linear model ``s' = A s + B u`` with ``C(s) = G (r - s)`` and no
    limit reached, the plan ``U`` (the H commands stacked) after K sweeps is
    ``U_K = M^K U_0 + sum_{i<K} M^i W (R - Phi s)``, with ``Phi`` the stacked
    powers ``A^1 .. A^H``, ``Gamma`` the block lower-triangular map from
    commands to predicted states (block ``(j, i)`` is ``A^{j-1-i} B`` for
    ``i < j``), ``W`` the averaging of the verdicts (block ``(h, j)`` is
    ``G / (H - h)`` for ``j > h``), ``R`` the stacked setpoint and
    ``M = I - W Gamma``; ``U_0`` is the feedback rollout of step 1.

    The horizon acts through the few sweeps: where the sweeps converge (the
    spectral radius of ``M`` below 1, many sweeps, no limit reached) the plan
    tends to the one that puts every predicted state at ``C = 0``, whose first
    command is the seed's fixed point whatever H is. With a few sweeps and a
    weak controller, the regime the seed's procedure runs in, the first sweep
    adds the controller's mean verdict over the next H predicted states: a
    look-ahead that grows with H, taken from the model. The mean bounds the
    size of a verdict, not its sensitivity to the plan: on an integrating or
    unstable plant a command's effect on the states grows along the horizon,
    so ``W Gamma`` grows with H, and a long horizon makes the sweeps overshoot
    (the limits then decide) where a short one would not.

    Each sweep costs H model predictions and H controller calls, so a call
    costs ``(K + 1) H`` of each (less one prediction).
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
        """Return the refined plan for ``state``.

        Parameters
        ----------
        state : array_like
            The (estimated) current state.

        Returns
        -------
        list of numpy.ndarray
            The H refined commands, the one to send first.
        """
        state = as_finite_vector(state, "state")
        horizon, feedback, predict = self.horizon, self.feedback, self.model.predict
        plan = [self._clip(feedback(state))]
        predicted = state
        for h in range(1, horizon):
            predicted = predict(predicted, plan[h - 1])
            plan.append(self._clip(feedback(predicted)))
        for _ in range(self.iterations):
            # Roll the current plan out once: verdicts[j] is C on the state after command j.
            verdicts, predicted = [], state
            for command in plan:
                predicted = predict(predicted, command)
                verdicts.append(feedback(predicted))
            # Command h leads to the states after commands h..H-1: a suffix sum of the verdicts.
            total = verdicts[-1]
            plan[-1] = self._clip(plan[-1] + total)
            for h in range(horizon - 2, -1, -1):
                total = total + verdicts[h]
                plan[h] = self._clip(plan[h] + total / (horizon - h))
        return plan

    def command(self, state) -> np.ndarray:
        """Return the first command of the refined plan.

        Parameters
        ----------
        state : array_like
            The (estimated) current state.

        Returns
        -------
        numpy.ndarray
            The command to send, within ``[low, high]``.

        Raises
        ------
        FloatingPointError
            If the model's rollout made the command non-finite.
        """
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
