"""The forward-model agent: act through the model, learn from every transition."""

from __future__ import annotations

import numpy as np
from gymnasium import spaces

from .._validation import as_finite_vector
from ..control import ActionMap, ForwardModelController, LinearFeedback
from ..models import make_model
from ..models.base import ForwardModel
from ._fused import FusedStep
from .estimators import make_internal_feedback
from .internal_feedback import check_delay_steps
from .loop import practise


class Agent:
    """A forward-model agent: act through the model, learn from every transition.

    Parameters
    ----------
    model : ForwardModel
        The forward model (learns online; it is never reset between episodes).
        The agent holds it here; its controller and internal feedback use it.
    controller : object
        Anything with ``command(state) -> command`` (and optionally ``reset()``,
        and ``observe_error(error)`` to be told the model's measured error
        across a delay, as :class:`~cerebellar.control.TrustGated` is), e.g.
        :class:`~cerebellar.control.ForwardModelController` (the seed's
        procedure), :class:`~cerebellar.control.RolloutController` or
        :class:`~cerebellar.control.MPPIController` on the same model.
    actions : ActionMap
        Maps commands to the environment's actions and back.
    n_state : int
        Number of observation channels.
    internal_feedback : SmithPredictor, optional
        With a sensory delay: estimates the present from the delayed
        observation and the commands sent since; the command is computed on
        that estimate (``estimate_``) and the model learns each delayed
        transition with the command that produced it. None: no delay.
    observation_names : sequence of str, optional
        Channel names, for traces and plots.
    label : str, optional
        What the agent is called in results; by default the model's class and K.
    observation_units, command_names, command_units : sequence of str, optional
        Units of the channels, names and units of the commands, for plots.

    Notes
    -----
    The model learns in every configuration, including ``iterations=0``, so the
    prediction error can be compared across runs; with K = 0 it never affects
    the command (but with a delay it still predicts the present).
    """

    def __init__(self, model, controller, actions: ActionMap, n_state: int, internal_feedback=None,
                 observation_names=None, label: str | None = None, observation_units=None,
                 command_names=None, command_units=None):
        if not isinstance(model, ForwardModel):
            raise TypeError(f"model must have predict and learn methods, got {model!r}")
        if not callable(getattr(controller, "command", None)):
            raise TypeError(f"controller must have a command(state) method, got {controller!r}")
        if callable(getattr(controller, "observe_error", None)) and internal_feedback is None:
            raise ValueError("this controller gates on the model's error across a delay: "
                             "give the agent internal_feedback (a delay)")
        self.model = model
        self.controller = controller
        self.actions = actions
        self.n_state = int(n_state)
        self.internal_feedback = internal_feedback
        self.observation_names = tuple(observation_names or (f"channel {i}" for i in range(self.n_state)))
        self.observation_units = tuple(observation_units or ())
        self.command_names = tuple(command_names or ())
        self.command_units = tuple(command_units or ())
        iterations = getattr(controller, "iterations", None)
        self.label = label or (f"{type(model).__name__} K={iterations}" if iterations is not None
                               else type(model).__name__)
        self.last_command_ = None
        self._observed = None
        self._fused = None

    @classmethod
    def for_env(cls, env, model="rls", feedback=None, gains=None, setpoint=None, action_values=None,
                iterations: int = 3, controller=None, input_scale=None, observation_names=None,
                seed: int | None = 0, delay_steps: int = 0, correction: float = 0.0,
                corrected_channels=None, observation_units=None, command_names=None, command_units=None,
                estimator: str = "smith", max_delay_steps: int | None = None, **model_params):
        """Build an agent from a Gymnasium environment's spaces and a feedback controller.

        For an environment with a preset (gains, scales, channel names), use
        :func:`cerebellar.tasks.make_agent`, which fills these in.

        Parameters
        ----------
        env : gymnasium.Env
            The environment (possibly wrapped). Its observation space must be a
            1-D Box; its action space a 1-D Box or a Discrete.
        model : str or ForwardModel
            A model name (see :data:`cerebellar.models.MODEL_NAMES`) for a blank
            model, or a model instance.
        feedback : LinearFeedback or QuantityFeedback, optional
            The simple feedback controller that the model refines; or give ``gains``.
        gains, setpoint : optional
            Build ``LinearFeedback(gains, setpoint)`` when no ``feedback`` is given.
        action_values : sequence, optional
            For a Discrete action space, the command each action stands for.
        iterations : int
            Refinements per step (K) of the seed's procedure.
        controller : object or callable, optional
            A controller (with ``command(state)``), or a factory
            ``controller(model, feedback, actions)`` returning one, e.g.
            ``lambda m, f, a: RolloutController(f, m, horizon=10, low=a.low, high=a.high)``;
            by default the seed's procedure with ``iterations`` refinements.
        input_scale : array_like, optional
            Scale of each observation channel then each command, for the
            mossy-fiber encoding; by default from finite space bounds, or
            estimated online.
        observation_names, observation_units, command_names, command_units : sequence of str, optional
            Channel names and units, command names and units (for traces and plots).
        seed : int or None
            Seeds a model given by name.
        delay_steps : int or "auto"
            Sensory delay in steps, compensated by internal feedback (a
            :class:`SmithPredictor`); e.g. ``SensoryDelay(env, delay_ms=100).delay_steps``.
            ``"auto"``: the agent estimates its delay online, from 0 to
            ``max_delay_steps`` (see :class:`~cerebellar.agent.estimators.DelayEstimator`).
        correction, corrected_channels : optional
            The Smith predictor's bias correction (see :class:`SmithPredictor`).
        estimator : {"smith", "kalman"}
            ``"smith"`` runs the model from the raw delayed observation;
            ``"kalman"`` first fuses it with the model's prediction by a gain
            estimated online from the innovations, and checks the delays within
            two steps of ``delay_steps`` online (see
            :class:`~cerebellar.agent.estimators.KalmanPredictor`).
        max_delay_steps : int, optional
            The largest delay ``delay_steps="auto"`` considers (default
            :data:`~cerebellar.agent.estimators.MAX_DELAY_STEPS`).
        **model_params
            Hyperparameters for a model given by name.

        Raises
        ------
        ValueError
            For unsupported spaces, a missing controller, or mismatched sizes.
        """
        if not (isinstance(delay_steps, str) and delay_steps == "auto"):
            delay_steps = check_delay_steps(delay_steps)
        obs_space = env.observation_space
        if not isinstance(obs_space, spaces.Box) or len(obs_space.shape) != 1:
            raise ValueError(
                f"unsupported observation space {obs_space!r}: cerebellar needs a 1-D Box "
                "of sensory channels"
            )
        n_state = obs_space.shape[0]
        env_id = env.spec.id if env.spec is not None else type(env.unwrapped).__name__
        if feedback is None:
            if gains is None:
                raise ValueError(
                    f"no controller for {env_id!r}: pass gains= (one per observation channel, "
                    f"{n_state} here, or one row per command) or feedback=, or use "
                    "cerebellar.tasks.make_agent for an environment with a preset"
                )
            feedback = LinearFeedback(gains, setpoint)
        actions = ActionMap(env.action_space, action_values)
        if feedback.n_state != n_state:
            raise ValueError(f"the feedback covers {feedback.n_state} channels, the observation {n_state}")
        if feedback.n_command != actions.n_command:
            raise ValueError(
                f"the feedback gives {feedback.n_command} commands, the action space {actions.n_command}"
            )
        if input_scale is None:
            input_scale = _bounds_scale(obs_space, actions)
        if isinstance(model, str):
            model = make_model(model, seed=seed, input_scale=input_scale, **model_params)
        elif model_params:
            raise ValueError("model_params are only used with a model given by name")
        if hasattr(model, "initialise"):
            model.initialise(n_state, actions.n_command)
        if controller is None:
            controller = ForwardModelController(feedback, model, iterations, low=actions.low,
                                                high=actions.high)
        elif not callable(getattr(controller, "command", None)):
            controller = controller(model, feedback, actions)
        internal = make_internal_feedback(estimator, delay_steps, n_state, actions.n_command, correction,
                                          corrected_channels, max_delay_steps)
        return cls(model, controller, actions, n_state, internal_feedback=internal,
                   observation_names=observation_names, observation_units=observation_units,
                   command_names=command_names, command_units=command_units)

    @property
    def delay_steps(self) -> int:
        """int: the sensory delay the agent compensates (0 for none; its estimate with ``"auto"``)."""
        return self.internal_feedback.delay_steps if self.internal_feedback is not None else 0

    @property
    def estimate_(self):
        """The estimate of the present the last command was computed on."""
        return self.internal_feedback.estimate_ if self.internal_feedback is not None else self._observed

    @property
    def delay_error_(self):
        """The model's latest error across the delay (None before the first, or with no delay)."""
        return self.internal_feedback.delay_error_ if self.internal_feedback is not None else None

    @property
    def trust_(self) -> float:
        """How much the command relies on the model (1 unless the controller gates on trust)."""
        return float(getattr(self.controller, "trust_", 1.0))

    def act(self, observation):
        """Return the action for ``observation``, refined through the forward model.

        With a sensory delay, the command is computed on the internal
        feedback's estimate of the present state, not on the stale observation,
        and a controller that gates on trust is told the model's error across
        the delay.
        """
        fused = self._fused
        if fused is None or not fused.covers(self):
            # Built on first use, and again if a part was replaced (see agent/_fused.py).
            fused = self._fused = FusedStep(self)
        if fused.active:
            action = fused.act(self, observation)
            if action is not None:
                return action
        observation = as_finite_vector(observation, "observation", self.n_state)
        self._observed = observation
        estimate = observation
        if self.internal_feedback is not None:
            estimate = self.internal_feedback.estimate(self.model, observation)
            # Once d steps have passed in an episode, every step measures a new error.
            error = self.internal_feedback.delay_error_
            observe_error = getattr(self.controller, "observe_error", None)
            if observe_error is not None and error is not None:
                observe_error(error)
        self.last_command_ = self.controller.command(estimate)
        return self.actions.to_action(self.last_command_)

    def observe(self, observation, action, next_observation) -> np.ndarray | None:
        """Learn from one transition and keep the efference copy of the command sent.

        Returns
        -------
        numpy.ndarray or None
            The model's prediction error before learning; None while a delayed
            agent has no transition to learn from yet (the first ``d`` steps of
            an episode, whose observations all repeat the initial one).
        """
        fused = self._fused
        if fused is None or not fused.covers(self):
            fused = self._fused = FusedStep(self)
        if fused.active:
            error = fused.observe(observation, action, next_observation)
            if error is not None:
                return error
        command = self.actions.to_command(action)
        if self.internal_feedback is None:
            return self.model.learn(observation, command, next_observation)
        behind = self.internal_feedback.record(command)
        if behind is None:
            return None
        # The delayed observations show the transition produced d steps ago. A filtering
        # estimator gives the denoised start of it (noise on a regressor biases the fit;
        # on the target it does not).
        start = getattr(self.internal_feedback, "filtered_", None)
        return self.model.learn(observation if start is None else start, behind, next_observation)

    def practise(self, env, steps: int, noise: float = 0.0, seed: int | None = None) -> int:
        """Learn from ``steps`` steps of the agent's own noisy movements in ``env`` (see :func:`practise`)."""
        return practise(self, env, steps, noise, seed)

    def reset(self) -> None:
        """Start a new episode; what the model learned (and any trust in it) is kept."""
        self.last_command_ = None
        self._observed = None
        if self.internal_feedback is not None:
            self.internal_feedback.reset()
        if hasattr(self.controller, "reset"):
            self.controller.reset()


def _bounds_scale(obs_space, actions):
    """Return the input scale from finite space bounds, or None (estimated online)."""
    bounds = np.maximum(np.abs(obs_space.low), np.abs(obs_space.high)).astype(np.float64)
    command = np.maximum(np.abs(actions.low), np.abs(actions.high))
    scale = np.concatenate([bounds, command])
    if np.all(np.isfinite(scale)) and np.all(scale > 0):
        return tuple(scale.tolist())
    return None  # estimate online
