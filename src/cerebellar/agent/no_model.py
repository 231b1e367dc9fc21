"""No-model agents: plain feedback on the observation as it arrives (the opponents)."""

from __future__ import annotations

import numpy as np

from .._validation import as_finite_vector
from ..control import ActionMap, LinearFeedback


class FeedbackAgent:
    """Plain linear feedback on the observation as it arrives: no model, nothing learned.

    Parameters
    ----------
    feedback : LinearFeedback
        The controller.
    actions : ActionMap
        Maps its command to the environment's action.
    observation_names : sequence of str, optional
        Channel names, for traces.
    """

    label = "feedback"

    def __init__(self, feedback: LinearFeedback, actions: ActionMap, observation_names=None):
        self.feedback = feedback
        self.actions = actions
        self.observation_names = tuple(observation_names or ())
        self.last_command_ = None

    @classmethod
    def for_env(cls, env, gains, setpoint=None, action_values=None, observation_names=None):
        """Build a feedback agent for ``env`` with the given gains."""
        actions = ActionMap(env.action_space, action_values)
        return cls(LinearFeedback(gains, setpoint), actions, observation_names)

    def act(self, observation):
        """Return the action for ``observation``."""
        observation = as_finite_vector(observation, "observation", self.feedback.n_state)
        self.last_command_ = np.minimum(
            np.maximum(self.feedback(observation), self.actions.low), self.actions.high
        )
        return self.actions.to_action(self.last_command_)

    def observe(self, observation, action, next_observation) -> None:
        """Learn nothing."""
        return None

    def reset(self) -> None:
        """Nothing to reset."""
        self.last_command_ = None


class PolicyAgent:
    """A no-model agent from any ``policy(observation) -> command`` (nothing is learned).

    Parameters
    ----------
    policy : callable
        ``policy(observation) -> command``.
    actions : ActionMap
        Maps commands to the environment's actions.
    """

    label = "policy"

    def __init__(self, policy, actions: ActionMap):
        self.policy = policy
        self.actions = actions
        self.last_command_ = None

    def act(self, observation):
        """Return the action for ``observation``."""
        command = self.policy(np.asarray(observation, dtype=np.float64))
        self.last_command_ = np.clip(command, self.actions.low, self.actions.high)
        return self.actions.to_action(self.last_command_)

    def observe(self, observation, action, next_observation) -> None:
        """Learn nothing."""
        return None

    def reset(self) -> None:
        """Nothing to reset."""
        self.last_command_ = None
