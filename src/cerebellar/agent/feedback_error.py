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
    gentle : tuple of (kp, kd), optional
        Under a delay: gentle PD gains for the delayed observation, used while
        the forward model's own error across the delay (``delay_error_`` of
        the internal feedback, on the joint angles) is large. The feedback is
        ``trust * PD(estimate) + (1 - trust) * gentle PD(delayed observation
        against the desired position of its moment)``, the trust ramping from
        0 at a mean error of ``trust_range[1]`` rad to 1 at ``trust_range[0]``
        (the trust gate of the delayed reaching agent, here inside the
        feedback so that the inverse model learns from the feedback sent).
    trust_range : tuple of float
        The errors (rad) of full and of no trust.
    trust_window : int
        Steps of delay error averaged for the trust.
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
                 gentle=None, trust_range=(0.03, 0.15), trust_window: int = 20, label: str | None = None):
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
        if gentle is not None and internal_feedback is None:
            raise ValueError("gentle gains are for a delay: give internal feedback too")
        self.gentle = None if gentle is None else (as_finite_vector(gentle[0], "gentle kp", len(self.kp)),
                                                   as_finite_vector(gentle[1], "gentle kd", len(self.kp)))
        self.trust_range = (float(trust_range[0]), float(trust_range[1]))
        if not 0.0 <= self.trust_range[0] < self.trust_range[1]:
            raise ValueError(f"trust_range must be two increasing non-negative errors, got {trust_range!r}")
        self.trust_window = int(trust_window)
        self._errors: list[float] = []
        self.trust_ = 1.0 if gentle is None else 0.0
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
        if self.gentle is not None:
            feedback = self._gated(feedback, observation)
        plan = np.concatenate([position, velocity])
        feedforward = np.asarray(self.inverse.predict(plan, acceleration), dtype=np.float64)
        if self.learning:
            # The feedback command is the inverse model's error (feedback-error learning).
            self.inverse.learn(plan, acceleration, self.learning_rate * feedback)
        self._step += 1
        self.last_components_ = {"feedback": feedback, "feedforward": feedforward}
        self.last_command_ = np.clip(feedforward + feedback, self.actions.low, self.actions.high)
        return self.actions.to_action(self.last_command_)

    def _gated(self, feedback, observation):
        """Blend the feedback on the estimate with gentle feedback on the delayed senses, by trust."""
        error = self.internal_feedback.delay_error_
        if error is not None:
            self._errors.append(float(np.max(np.abs(error[:self.n_joints]))))
            del self._errors[:-self.trust_window]
        if self._errors:
            full, none = self.trust_range
            self.trust_ = float(np.clip((none - np.mean(self._errors)) / (none - full), 0.0, 1.0))
        if self.trust_ >= 1.0:
            return feedback
        n = self.n_joints
        # The delayed observation shows the moment d steps ago: compare it with the plan of then.
        then = max(self._step - self.internal_feedback.delay_steps, 0) * self.dt
        position, velocity, _ = self.trajectory.at(then)
        kp, kd = self.gentle
        gentle = kp * (position - observation[:n]) + kd * (velocity - observation[n:2 * n])
        return self.trust_ * feedback + (1.0 - self.trust_) * gentle

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
        # Trust in the forward model carries over between trials, as the model does.
