"""The agent: one loop that ties a forward model and a controller to an environment."""

from __future__ import annotations

import math
from collections import deque

import numpy as np
from gymnasium import spaces

from ._validation import as_finite_vector
from .control import ActionMap, ForwardModelController, LinearFeedback
from .models import make_model
from .models.base import ForwardModel
from .presets import get_preset


class Agent:
    """A forward-model agent: act through the model, learn from every transition.

    Parameters
    ----------
    model : ForwardModel
        The forward model (learns online; it is never reset between episodes).
    feedback : LinearFeedback
        The simple feedback controller that the model refines.
    actions : ActionMap
        Maps commands to the environment's actions and back.
    iterations : int
        Refinements per step (K); 0 is pure feedback.
    observation_names : sequence of str, optional
        Channel names, for traces and plots.
    delay_steps : int
        Sensory delay in steps: the observations the agent receives are this
        many steps old. With ``delay_steps = d > 0`` the agent uses internal
        feedback (a Smith predictor): it keeps the efference copies of the last
        ``d`` commands, predicts the present state by running the forward model
        from the delayed observation through them, and runs the refinement on
        that estimate. The model learns each delayed transition with the command
        that actually produced it, ``d`` steps before the current one. Each
        estimate is checked when the observation of its moment arrives, ``d``
        steps later: ``delay_error_`` holds the latest such error, the model's
        own measure of how well it predicts across the delay.
    controller : object, optional
        Anything with ``command(state) -> command`` (and optionally ``reset()``),
        e.g. a :class:`~cerebellar.control.RolloutController` or
        :class:`~cerebellar.control.MPPIController` on the same model; by
        default the seed's procedure, :class:`~cerebellar.control.ForwardModelController`.
    correction : float
        With a delay: weight in [0, 1] of each new ``delay_error_`` in a running
        average that is added to every estimate of the present (the correction
        of the classic Smith predictor, which removes a steady bias of the
        model's prediction across the delay). 0, the default, adds nothing.
    corrected_channels : sequence of int, optional
        Channels the correction applies to (all by default); leave out exogenous
        channels such as targets, whose jumps are not the model's error.
    fallback : object, optional
        With a delay: a controller (``command(state)``) that the agent relies on
        while its model is not yet trusted, e.g. gentle feedback that is stable
        under the delay. The command is ``(1 - trust_) * fallback + trust_ *
        controller``, both on the estimate. None (the default): always the controller.
    trust : tuple of float, optional
        ``(low, high)``, required with ``fallback``: ``trust_`` is 1 when the
        mean over the last ``trust_window`` steps of the largest absolute
        ``delay_error_`` over ``trust_channels`` is at most ``low``, 0 at
        ``high`` or above, linear between.
    trust_channels : sequence of int, optional
        Channels whose delay error measures trust (all by default).
    trust_window : int
        Number of recent delay errors averaged for ``trust_``.

    Notes
    -----
    The model learns in every configuration, including ``iterations=0``, so the
    prediction error can be compared across runs; with K = 0 it never affects
    the command (but with a delay it still predicts the present).
    """

    def __init__(self, model, feedback: LinearFeedback, actions: ActionMap, iterations: int = 3,
                 observation_names=None, delay_steps: int = 0, controller=None,
                 correction: float = 0.0, corrected_channels=None, fallback=None, trust=None,
                 trust_channels=None, trust_window: int = 20):
        if not isinstance(model, ForwardModel):
            raise TypeError(f"model must have predict and learn methods, got {model!r}")
        if int(delay_steps) != delay_steps or delay_steps < 0:
            raise ValueError(f"delay_steps must be a non-negative integer, got {delay_steps}")
        if not 0.0 <= correction <= 1.0:
            raise ValueError(f"correction must be in [0, 1], got {correction}")
        if fallback is not None:
            if not delay_steps:
                raise ValueError("a fallback needs a delay: trust is measured across it")
            if trust is None or not 0.0 <= trust[0] < trust[1]:
                raise ValueError(f"trust must be (low, high) with 0 <= low < high, got {trust}")
            if int(trust_window) != trust_window or trust_window < 1:
                raise ValueError(f"trust_window must be a positive integer, got {trust_window}")
        self.model = model
        self.feedback = feedback
        self.actions = actions
        self.iterations = iterations
        self.delay_steps = int(delay_steps)
        # Efference copies: the commands sent, newest last. d + 1 are kept: the
        # newest d roll the delayed observation forward to the present, and the
        # oldest is the command behind the transition being learned.
        self._sent = deque(maxlen=self.delay_steps + 1)
        # Estimates of the present made in the last d steps, oldest first: the
        # oldest is of the moment the next delayed observation will show.
        self._estimates = deque(maxlen=self.delay_steps)
        self.estimate_ = None
        self.delay_error_ = None
        self.controller = controller or ForwardModelController(
            feedback, model, iterations, low=actions.low, high=actions.high
        )
        self.observation_names = tuple(
            observation_names or (f"obs[{i}]" for i in range(feedback.n_state))
        )
        self.last_command_ = None
        self.correction = float(correction)
        self._corrected = np.zeros(feedback.n_state, dtype=bool)
        self._corrected[list(range(feedback.n_state)) if corrected_channels is None
                        else list(corrected_channels)] = True
        self.correction_ = np.zeros(feedback.n_state)
        self.fallback = fallback
        self.trust = None if trust is None else (float(trust[0]), float(trust[1]))
        self._trust_channels = (list(range(feedback.n_state)) if trust_channels is None
                                else list(trust_channels))
        self._recent_errors = deque(maxlen=int(trust_window))
        # Trust is in the model, not in an episode: it is kept across resets.
        self.trust_ = 0.0

    @classmethod
    def for_env(cls, env, model="rls", iterations: int = 3, gains=None, setpoint=None,
                action_values=None, input_scale=None, seed: int | None = 0, delay_steps: int = 0,
                controller=None, **model_params):
        """Build an agent from a Gymnasium environment's spaces and its preset.

        Parameters
        ----------
        env : gymnasium.Env
            The environment (possibly wrapped). Its observation space must be a
            1-D Box; its action space a 1-D Box or a Discrete.
        model : str or ForwardModel
            A model name (``"rls"``, ``"nlms"``, ``"cerebellum"``,
            ``"cerebellum-random"``) for a blank model, or a model instance.
        iterations : int
            Refinements per step (K).
        gains, setpoint, action_values : optional
            Override the preset; required when the environment has no preset
            (``setpoint`` defaults to zero, ``action_values`` only for Discrete).
        input_scale : array_like, optional
            Scale of each observation channel then each command, for the
            mossy-fiber encoding; from the preset, or from finite space bounds,
            or estimated online.
        seed : int or None
            Seeds the model.
        delay_steps : int
            Sensory delay the agent compensates by internal feedback (see
            :class:`Agent`); e.g. ``SensoryDelay(env, delay_ms=100).delay_steps``.
        controller : callable, optional
            ``controller(model, feedback, actions)`` returning the controller to
            use instead of the seed's procedure, e.g.
            ``lambda m, f, a: RolloutController(f, m, horizon=10, low=a.low, high=a.high)``.
        **model_params
            Hyperparameters for a model given by name.

        Raises
        ------
        ValueError
            For unsupported spaces, or a missing setting with no preset.
        """
        env_id = env.spec.id if env.spec is not None else None
        preset = get_preset(env_id)
        obs_space = env.observation_space
        if not isinstance(obs_space, spaces.Box) or len(obs_space.shape) != 1:
            raise ValueError(
                f"unsupported observation space {obs_space!r}: cerebellar needs a 1-D Box "
                "of sensory channels"
            )
        n_state = obs_space.shape[0]
        if gains is None:
            if preset is None:
                raise ValueError(
                    f"no preset for environment {env_id!r}: pass gains= (one per observation "
                    f"channel, {n_state} here, or one row per command)"
                )
            gains = preset.gains
        if setpoint is None and preset is not None:
            setpoint = preset.setpoint
        if action_values is None and preset is not None:
            action_values = preset.action_values
        actions = ActionMap(env.action_space, action_values)
        feedback = LinearFeedback(gains, setpoint)
        if feedback.n_state != n_state:
            raise ValueError(f"gains cover {feedback.n_state} channels, the observation has {n_state}")
        if feedback.n_command != actions.n_command:
            raise ValueError(
                f"gains give {feedback.n_command} commands, the action space takes {actions.n_command}"
            )
        if input_scale is None:
            input_scale = _default_input_scale(preset, obs_space, actions)
        if isinstance(model, str):
            model = make_model(model, seed=seed, input_scale=input_scale, **model_params)
        if hasattr(model, "initialise"):
            model.initialise(n_state, actions.n_command)
        elif model_params:
            raise ValueError("model_params are only used with a model given by name")
        names = preset.observation_names if preset is not None else None
        custom = controller(model, feedback, actions) if controller is not None else None
        return cls(model, feedback, actions, iterations, observation_names=names,
                   delay_steps=delay_steps, controller=custom)

    def act(self, observation):
        """Return the action for ``observation``, refined through the forward model.

        With a sensory delay, the command is computed on the model's estimate of
        the present state (kept in ``estimate_``), not on the stale observation,
        and ``delay_error_`` becomes ``observation`` minus the model's estimate
        (before any ``correction``) made ``d`` steps earlier, once ``d`` steps
        have passed in the episode: the model's error across the delay,
        measurable online.
        """
        observation = as_finite_vector(observation, "observation", self.feedback.n_state)
        estimate = observation
        if self.delay_steps:
            # Commands sent since the observation was taken: all of them early in
            # an episode (the delayed senses still show the initial state), then
            # the newest d.
            sent = list(self._sent)[-self.delay_steps:]
            for command in sent:
                estimate = self.model.predict(estimate, command)
            if len(self._estimates) == self.delay_steps:
                self.delay_error_ = observation - self._estimates[0]
                self._update_internal_feedback(self.delay_error_)
            self._estimates.append(estimate)
            if self.correction:
                estimate = estimate + self.correction_
        self.estimate_ = estimate
        if self.fallback is None or self.trust_ >= 1.0:
            command = self.controller.command(estimate)
        else:
            # The model's controller is asked only once it is trusted at all: an
            # untrained model's refinement may not even be finite.
            command = np.asarray(self.fallback.command(estimate), dtype=np.float64)
            if self.trust_ > 0.0:
                command = (1.0 - self.trust_) * command + self.trust_ * self.controller.command(estimate)
            command = np.minimum(np.maximum(command, self.actions.low), self.actions.high)
        self.last_command_ = command
        return self.actions.to_action(self.last_command_)

    def _update_internal_feedback(self, error) -> None:
        """Fold one delay error into the correction and the trust."""
        if self.correction:
            self.correction_ += self.correction * (np.where(self._corrected, error, 0.0)
                                                   - self.correction_)
        if self.fallback is not None:
            worst = float(np.max(np.abs(error[self._trust_channels])))
            self._recent_errors.append(worst if math.isfinite(worst) else math.inf)
            if len(self._recent_errors) == self._recent_errors.maxlen:
                low, high = self.trust
                mean = float(np.mean(self._recent_errors))
                self.trust_ = min(max((high - mean) / (high - low), 0.0), 1.0)

    def observe(self, observation, action, next_observation) -> np.ndarray | None:
        """Learn from one transition and record the command sent.

        Returns
        -------
        numpy.ndarray or None
            The model's prediction error before learning; None while a delayed
            agent has no transition to learn from yet (the first ``d`` steps of
            an episode, whose observations all repeat the initial one).
        """
        command = self.actions.to_command(action)
        self._sent.append(command)
        if not self.delay_steps:
            return self.model.learn(observation, command, next_observation)
        if len(self._sent) <= self.delay_steps:
            return None
        # The delayed observations show the transition produced d steps ago.
        return self.model.learn(observation, self._sent[0], next_observation)

    def practise(self, env, steps: int, noise: float = 0.0, seed: int | None = None) -> int:
        """Learn from ``steps`` steps of the agent's own movements in ``env``, then start afresh.

        Motor babbling before a task: the agent acts as it would (its controller,
        its fallback, its internal feedback over any delay) with Gaussian
        exploratory noise of standard deviation ``noise`` (command units) added
        to every command, and learns from every transition. Nothing is scored;
        afterwards the agent is reset for a new episode (the model, and the trust
        in it, are kept). A terminated or truncated episode is reset and the
        practice goes on.

        Parameters
        ----------
        env : gymnasium.Env
            The environment to practise in: a separate instance of the task's
            (with the same delay, since the agent compensates it).
        steps : int
            Environment steps of practice.
        noise : float
            Standard deviation of the exploratory noise added to each command
            (command units); 0 practises without it.
        seed : int or None
            Seeds the environment's first reset and the noise.

        Returns
        -------
        int
            The number of transitions learned (fewer than ``steps`` under a
            delay: the first ``d`` of each episode show no transition yet).
        """
        if int(steps) != steps or steps < 1:
            raise ValueError(f"steps must be a positive integer, got {steps}")
        if not (math.isfinite(noise) and noise >= 0.0):
            raise ValueError(f"noise must be a finite non-negative number, got {noise}")
        rng = np.random.default_rng(seed)
        observation, _ = env.reset(seed=seed)
        self.reset()
        learned = 0
        for _ in range(int(steps)):
            action = self.act(observation)
            if noise:
                command = self.last_command_ + noise * rng.standard_normal(self.last_command_.shape)
                action = self.actions.to_action(command)
            next_observation, _, terminated, truncated, _ = env.step(action)
            learned += self.observe(observation, action, next_observation) is not None
            observation = next_observation
            if terminated or truncated:
                observation, _ = env.reset()
                self.reset()
        self.reset()
        return learned

    def reset(self) -> None:
        """Start a new episode; what the model learned is kept."""
        self.last_command_ = None
        self.estimate_ = None
        self.delay_error_ = None
        self.correction_ = np.zeros_like(self.correction_)
        self._sent.clear()
        self._estimates.clear()
        if hasattr(self.controller, "reset"):
            self.controller.reset()


def _default_input_scale(preset, obs_space, actions):
    if preset is not None:
        return tuple(preset.state_scale) + tuple(preset.command_scale)
    bounds = np.maximum(np.abs(obs_space.low), np.abs(obs_space.high)).astype(np.float64)
    command = np.maximum(np.abs(actions.low), np.abs(actions.high))
    scale = np.concatenate([bounds, command])
    if np.all(np.isfinite(scale)) and np.all(scale > 0):
        return tuple(scale.tolist())
    return None  # estimate online
