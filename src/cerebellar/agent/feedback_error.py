"""Feedback-error learning: an inverse model trained by the feedback controller's own command.

Kawato's scheme (Kawato, Furukawa & Suzuki 1987; Miyamoto et al. 1988)::

    desired trajectory (q_d, dq_d, ddq_d) --> inverse model --> u_ff --.
                   |                                                     +--> u --> limb
                   '--> (q_d, dq_d) - sensed --> PD feedback --> u_fb --'
                                                                  |
                         the inverse model learns with u_fb as its error

The feedback command is zero exactly when the feedforward command was right,
so it serves as the error signal; as the inverse model learns, the feedback
share of the command falls. Under a sensory delay the feedback acts on the
forward model's estimate of the present (internal feedback, a
:class:`~cerebellar.agent.SmithPredictor`), while the inverse model, driven by
the plan alone, supplies the feedforward command (the combination of
Kawato's 1999 review).
"""

from __future__ import annotations

import numpy as np

from .._validation import as_finite_vector
from ..control import ActionMap


class FeedbackErrorAgent:
    """Track a desired trajectory with PD feedback plus a learned inverse model (feedforward).

    Parameters
    ----------
    inverse : object
        ``predict(state, desired) -> command`` and ``learn(state, desired,
        error_command)`` (e.g. :class:`~cerebellar.models.InverseModel`, or
        :class:`~cerebellar.models.oracle.OracleInverseModel` for the
        computed-torque ceiling). It is asked with the desired positions and
        velocities as ``state`` and the desired accelerations as ``desired``.
    trajectory : object
        ``at(time) -> (position, velocity, acceleration)`` (e.g.
        :class:`~cerebellar.envs.Trajectory`): the plan, known to the agent
        ahead of the senses; time counts from each reset.
    kp, kd : array_like, shape (n_joints,)
        PD gains of the feedback, per joint.
    actions : ActionMap
        Maps commands to the environment's actions.
    dt : float
        Seconds per step.
    forward_model : object, optional
        A forward model (``predict``, ``learn``) for internal feedback under a delay.
    internal_feedback : SmithPredictor, optional
        With a sensory delay: the feedback acts on its estimate of the present.
    learning : bool
        Whether the inverse model learns (False: the frozen control).
    learning_rate : float
        The inverse model learns ``learning_rate * u_fb`` as its error. A
        learner that corrects its whole error at once (RLS) would otherwise
        add the feedback command to the feedforward one every step, an
        integral action of gain ``1 / dt`` that destabilises the loop.
    label : str, optional
        What the agent is called in results.

    Attributes
    ----------
    last_command_ : numpy.ndarray
        The last command (clipped to the action bounds).
    last_components_ : dict
        ``feedback`` and ``feedforward`` parts of the last command (before clipping).
    """

    def __init__(self, inverse, trajectory, kp, kd, actions: ActionMap, dt: float, forward_model=None,
                 internal_feedback=None, learning: bool = True, learning_rate: float = 1.0,
                 label: str | None = None):
        for method in ("predict", "learn"):
            if not callable(getattr(inverse, method, None)):
                raise TypeError(f"inverse must have predict and learn methods, got {inverse!r}")
        if not callable(getattr(trajectory, "at", None)):
            raise TypeError(f"trajectory must have an at(time) method, got {trajectory!r}")
        if (internal_feedback is None) != (forward_model is None):
            raise ValueError("internal feedback needs a forward model and a forward model internal feedback")
        self.inverse = inverse
        self.trajectory = trajectory
        self.kp = as_finite_vector(kp, "kp")
        self.kd = as_finite_vector(kd, "kd", len(self.kp))
        self.actions = actions
        self.dt = float(dt)
        self.forward_model = forward_model
        self.internal_feedback = internal_feedback
        self.learning = bool(learning)
        if not (isinstance(learning_rate, (int, float)) and 0.0 < learning_rate <= 1.0):
            raise ValueError(f"learning_rate must be in (0, 1], got {learning_rate!r}")
        self.learning_rate = float(learning_rate)
        self.label = label or f"FEL {type(inverse).__name__}"
        self.n_joints = len(self.kp)
        self.last_command_ = None
        self.last_components_ = None
        self._step = 0

    @property
    def delay_steps(self) -> int:
        """int: the sensory delay the agent compensates (0 for none)."""
        return self.internal_feedback.delay_steps if self.internal_feedback is not None else 0

    def act(self, observation):
        """Return the action: PD on the (estimated) tracking error plus the inverse model's command."""
        observation = as_finite_vector(observation, "observation")
        estimate = observation
        if self.internal_feedback is not None:
            estimate = self.internal_feedback.estimate(self.forward_model, observation)
        n = self.n_joints
        position, velocity, acceleration = self.trajectory.at(self._step * self.dt)
        feedback = self.kp * (position - estimate[:n]) + self.kd * (velocity - estimate[n:2 * n])
        plan = np.concatenate([position, velocity])
        feedforward = np.asarray(self.inverse.predict(plan, acceleration), dtype=np.float64)
        if self.learning:
            # The feedback command is the inverse model's error (feedback-error learning).
            self.inverse.learn(plan, acceleration, self.learning_rate * feedback)
        self._step += 1
        self.last_components_ = {"feedback": feedback, "feedforward": feedforward}
        self.last_command_ = np.clip(feedforward + feedback, self.actions.low, self.actions.high)
        return self.actions.to_action(self.last_command_)

    def observe(self, observation, action, next_observation):
        """Let the forward model learn the transition (across the delay); return its error or None."""
        if self.forward_model is None:
            return None
        command = self.actions.to_command(action)
        behind = self.internal_feedback.record(command)
        if behind is None:
            return None
        return self.forward_model.learn(observation, behind, next_observation)

    def reset(self) -> None:
        """Start a new trial at time 0; what the models learned is kept."""
        self._step = 0
        self.last_command_ = None
        self.last_components_ = None
        if self.internal_feedback is not None:
            self.internal_feedback.reset()
