"""The agent: one loop that ties a forward model and a controller to an environment."""

from __future__ import annotations

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

    Notes
    -----
    The model learns in every configuration, including ``iterations=0``, so the
    prediction error can be compared across runs; with K = 0 it never affects
    the command.
    """

    def __init__(self, model, feedback: LinearFeedback, actions: ActionMap, iterations: int = 3,
                 observation_names=None):
        if not isinstance(model, ForwardModel):
            raise TypeError(f"model must have predict and learn methods, got {model!r}")
        self.model = model
        self.feedback = feedback
        self.actions = actions
        self.iterations = iterations
        self.controller = ForwardModelController(
            feedback, model, iterations, low=actions.low, high=actions.high
        )
        self.observation_names = tuple(
            observation_names or (f"obs[{i}]" for i in range(feedback.n_state))
        )
        self.last_command_ = None

    @classmethod
    def for_env(cls, env, model="rls", iterations: int = 3, gains=None, setpoint=None,
                action_values=None, input_scale=None, seed: int | None = 0, **model_params):
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
        return cls(model, feedback, actions, iterations, observation_names=names)

    def act(self, observation):
        """Return the action for ``observation``, refined through the forward model."""
        observation = as_finite_vector(observation, "observation", self.feedback.n_state)
        self.last_command_ = self.controller.command(observation)
        return self.actions.to_action(self.last_command_)

    def observe(self, observation, action, next_observation) -> np.ndarray:
        """Learn from one transition; return the model's prediction error before learning."""
        command = self.actions.to_command(action)
        return self.model.learn(observation, command, next_observation)

    def reset(self) -> None:
        """Start a new episode; what the model learned is kept."""
        self.last_command_ = None


def _default_input_scale(preset, obs_space, actions):
    if preset is not None:
        return tuple(preset.state_scale) + tuple(preset.command_scale)
    bounds = np.maximum(np.abs(obs_space.low), np.abs(obs_space.high)).astype(np.float64)
    command = np.maximum(np.abs(actions.low), np.abs(actions.high))
    scale = np.concatenate([bounds, command])
    if np.all(np.isfinite(scale)) and np.all(scale > 0):
        return tuple(scale.tolist())
    return None  # estimate online
