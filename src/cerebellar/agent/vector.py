"""Many forward-model agents stepped as one batch: one agent per environment of a vector.

:class:`VectorAgent` holds ``N`` independent agents, each with its own model
learning from its own plant, and steps them as one batch: batched RLS
covariances ``(N, p, p)``, batched CMAC granule layers, the seed's refinement
and the Smith predictor's internal feedback on stacks of states. Agent ``i``
takes exactly the actions a separate :class:`~cerebellar.agent.Agent` would
take on the same observations (same arithmetic, operation for operation).
"""

from __future__ import annotations

import numpy as np

from .._validation import as_finite_matrix
from ..control import ForwardModelController, LinearFeedback
from ..control.batched import feedback_batch, refine_batch
from ..models.batched import batch_models
from .core import Agent
from .internal_feedback import SmithPredictor
from .no_model import FeedbackAgent


def single_envs(vec_env) -> list:
    """Return one single-environment view per environment of ``vec_env`` (or the list itself).

    For a Gymnasium vector env, each view has the single observation and
    action spaces and the spec, which is all that building an agent reads.
    """
    if isinstance(vec_env, (list, tuple)):
        return list(vec_env)
    return [_Spaces(vec_env)] * int(vec_env.num_envs)


class _Spaces:
    """The single-environment view of a Gymnasium vector env that ``Agent.for_env`` reads."""

    def __init__(self, vec_env):
        self.observation_space = vec_env.single_observation_space
        self.action_space = vec_env.single_action_space
        self.spec = getattr(vec_env, "spec", None)
        self.unwrapped = self


def unsupported_reason(agents) -> str | None:
    """Return why ``agents`` cannot be stepped as one :class:`VectorAgent`, or None if they can."""
    agents = list(agents)
    if not agents:
        return "no agents"
    first = agents[0]
    for agent in agents:
        if type(agent) is not Agent:
            return f"{type(agent).__name__} is not a forward-model Agent"
        controller = agent.controller
        if type(controller) is not ForwardModelController:
            return (f"the {type(controller).__name__} controller is not batched (only the seed's "
                    "refinement, ForwardModelController, is)")
        if type(controller.feedback) is not LinearFeedback:
            return f"the {type(controller.feedback).__name__} feedback is not batched (LinearFeedback is)"
        if controller.model is not agent.model:
            return "the controller refines through another model than the agent's"
        if agent.internal_feedback is not None and type(agent.internal_feedback) is not SmithPredictor:
            return f"the {type(agent.internal_feedback).__name__} internal feedback is not batched"
        if type(agent.model) is not type(first.model):
            return "the agents have models of different classes"
    reference = first.controller
    for agent in agents[1:]:
        controller = agent.controller
        if (controller.iterations != reference.iterations
                or not np.array_equal(controller.feedback.gains, reference.feedback.gains)
                or not np.array_equal(controller.feedback.setpoint, reference.feedback.setpoint)
                or not np.array_equal(controller.feedback.low, reference.feedback.low)
                or not np.array_equal(controller.feedback.high, reference.feedback.high)
                or not np.array_equal(controller.low, reference.low)
                or not np.array_equal(controller.high, reference.high)):
            return "the agents' controllers differ (one feedback law, K and limits are batched)"
        if agent.delay_steps != first.delay_steps:
            return "the agents have different delays"
        smith, other = agent.internal_feedback, first.internal_feedback
        if smith is not None and (smith.correction != other.correction
                                  or not np.array_equal(smith._corrected, other._corrected)):
            return "the agents' internal feedback differs"
        if not _same_actions(agent.actions, first.actions):
            return "the agents have different action spaces"
    try:
        batch_models([a.model for a in agents])
    except ValueError as error:
        return str(error)
    return None


def _to_actions(actions, commands: np.ndarray) -> np.ndarray:
    """Return the action of each row of ``commands`` under the ActionMap ``actions``."""
    if actions.discrete:
        if actions._scalar:
            index = np.argmin(np.abs(actions._flat_values[None, :] - commands[:, :1]), axis=1)
        else:
            index = np.argmin(np.sum((actions.values[None] - commands[:, None, :]) ** 2, axis=2), axis=1)
        return index + actions._start
    return np.clip(commands, actions.low, actions.high).astype(actions.space.dtype)


def _same_actions(a, b) -> bool:
    return (a.space == b.space and a.discrete == b.discrete
            and (not a.discrete or np.array_equal(a.values, b.values)))


class VectorAgent:
    """``N`` independent forward-model agents stepped as one batch.

    Build it with :meth:`for_env` (like :meth:`Agent.for_env`, agent ``i``
    seeded ``seed + i``) or :meth:`from_agents`. Models supported: ``rls``
    and ``cerebellum`` (CMAC granule layer, rls nuclei) with a fixed input
    scale; controller: the seed's refinement on linear feedback; internal
    feedback: the Smith predictor over any delay. Anything else raises
    ValueError saying what is not batched.

    Parameters
    ----------
    agents : sequence of Agent
        The agents; their models' learned state is copied into the batch
        (:meth:`to_agents` copies it back).

    Attributes
    ----------
    n_agents : int
        Number of agents ``N``.
    last_command_ : numpy.ndarray, shape (N, n_command) or None
        Each agent's last continuous command.
    """

    def __init__(self, agents):
        agents = list(agents)
        reason = unsupported_reason(agents)
        if reason is not None:
            raise ValueError(f"these agents cannot be stepped as one vector: {reason}")
        first = agents[0]
        self.agents = agents
        self.n_agents = len(agents)
        self.model = batch_models([a.model for a in agents])
        self.feedback = first.controller.feedback
        self.iterations = first.controller.iterations
        self.low, self.high = first.controller.low, first.controller.high
        self.actions = first.actions
        self.n_state = first.n_state
        self.n_command = first.actions.n_command
        self.delay_steps = first.delay_steps
        smith = first.internal_feedback
        self.correction = smith.correction if smith is not None else 0.0
        self._corrected = smith._corrected if smith is not None else None
        self.label = first.label
        self.observation_names = first.observation_names
        self.observation_units = first.observation_units
        self.command_names = first.command_names
        self.command_units = first.command_units
        self.reset()

    @classmethod
    def for_env(cls, vec_env, model="rls", seed: int | None = 0, **options):
        """Build one agent per environment of ``vec_env``, agent ``i`` seeded ``seed + i``.

        Parameters
        ----------
        vec_env : gymnasium.vector.VectorEnv or sequence of gymnasium.Env
            A vector env (its single spaces are used) or a list of envs.
        model : str
            A model name (``"rls"`` or ``"cerebellum"``); a model instance cannot
            be shared by several agents.
        seed : int or None
            Agent ``i`` is built with ``seed + i`` (None: every model unseeded).
        **options
            As :meth:`Agent.for_env` (feedback, gains, iterations, delay_steps, ...).
        """
        if not isinstance(model, str):
            raise ValueError("give the model by name: every agent of a vector needs its own model")
        envs = single_envs(vec_env)
        return cls([Agent.for_env(env, model=model, seed=None if seed is None else seed + i, **options)
                    for i, env in enumerate(envs)])

    @classmethod
    def from_agents(cls, agents) -> VectorAgent:
        """Return the vector of ``agents`` (see :func:`unsupported_reason` for what is supported)."""
        return cls(agents)

    # -- stepping ---------------------------------------------------------------------------
    def act(self, observations) -> np.ndarray:
        """Return every agent's action for its row of ``observations`` (N, n_state).

        Returns
        -------
        numpy.ndarray
            Discrete spaces: the actions, shape (N,), int64; Box spaces: shape
            (N, n_command) in the space's dtype.
        """
        observations = as_finite_matrix(observations, "observations", self.n_state)
        self._check_rows(observations, "observations")
        estimates = observations if self.delay_steps == 0 else self._estimate(observations)
        predict = self.model.predictor(estimates) if self.iterations else None
        commands = refine_batch(self.feedback, predict, estimates, self.iterations, self.low, self.high)
        self.last_command_ = commands
        self.estimate_ = estimates
        return self.to_actions(commands)

    def observe(self, observations, actions, next_observations, active=None) -> np.ndarray:
        """Learn one transition per agent; return the prediction errors (N, n_state).

        A row is NaN where an agent learned nothing: a delayed agent with no
        transition to learn from yet (the first ``d`` steps of its episode,
        where a single agent returns None), or an agent left out by
        ``active`` (a boolean mask, e.g. of the environments still running:
        those agents neither learn nor keep an efference copy).
        """
        observations = as_finite_matrix(observations, "observations", self.n_state)
        next_observations = as_finite_matrix(next_observations, "next_observations", self.n_state)
        self._check_rows(observations, "observations")
        self._check_rows(next_observations, "next_observations")
        commands = self.to_commands(actions)
        if active is None:
            active = np.ones(self.n_agents, dtype=bool)
        else:
            active = np.asarray(active, dtype=bool)
            if active.shape != (self.n_agents,):
                raise ValueError(f"active must be a mask of {self.n_agents} agents, got shape {active.shape}")
        if self.delay_steps:
            commands, ready = self._record(commands, active)
            active = active & ready
        errors = np.full((self.n_agents, self.n_state), np.nan)
        if np.all(active):
            errors[:] = self.model.learn(observations, commands, next_observations)
        elif np.any(active):
            index = np.flatnonzero(active)
            errors[index] = self.model.learn(observations[index], commands[index], next_observations[index],
                                             index=index)
        return errors

    def reset(self, indices=None) -> None:
        """Start a new episode for every agent, or for the agents in ``indices`` (where an env autoresets).

        What the models learned is kept.
        """
        index = slice(None) if indices is None else np.asarray(indices, dtype=np.int64)
        if indices is None:
            self.last_command_ = None
            self.estimate_ = None
            d, n, m = self.delay_steps, self.n_state, self.n_command
            self._sent = np.zeros((self.n_agents, d + 1, m))
            self._n_sent = np.zeros(self.n_agents, dtype=np.int64)
            self._estimates = np.zeros((self.n_agents, d, n))
            self._n_estimates = np.zeros(self.n_agents, dtype=np.int64)
            self.correction_ = np.zeros((self.n_agents, n))
            self.delay_error_ = np.full((self.n_agents, n), np.nan)
            return
        self._sent[index] = 0.0
        self._n_sent[index] = 0
        self._estimates[index] = 0.0
        self._n_estimates[index] = 0
        self.correction_[index] = 0.0
        self.delay_error_[index] = np.nan

    reset_agents = reset

    # -- internal feedback (the Smith predictor, per row) -----------------------------------
    def _estimate(self, observations):
        d = self.delay_steps
        estimates = observations
        used = np.minimum(self._n_sent, d)  # commands rolled forward: all at first, then the newest d
        for j in range(d):
            rolling = j >= d - used
            if not np.any(rolling):
                continue
            predicted = self.model.predict(estimates, self._sent[:, 1 + j])
            estimates = np.where(rolling[:, None], predicted, estimates)
        full = self._n_estimates == d
        if np.any(full):
            error = observations - self._estimates[:, 0]
            self.delay_error_ = np.where(full[:, None], error, self.delay_error_)
            if self.correction:
                update = self.correction_ + self.correction * (np.where(self._corrected, error, 0.0)
                                                               - self.correction_)
                self.correction_ = np.where(full[:, None], update, self.correction_)
        # Keep the estimate (before the correction), oldest first, at most d of them.
        self._estimates[:, :-1] = self._estimates[:, 1:].copy()
        self._estimates[:, -1] = estimates
        self._n_estimates = np.minimum(self._n_estimates + 1, d)
        if self.correction:
            estimates = estimates + self.correction_
        return estimates

    def _record(self, commands, rows):
        """Keep the efference copies of ``rows``; return the commands behind and which are due."""
        d = self.delay_steps
        sent = self._sent[rows]
        sent[:, :-1] = sent[:, 1:].copy()
        sent[:, -1] = commands[rows]
        self._sent[rows] = sent
        self._n_sent[rows] = np.minimum(self._n_sent[rows] + 1, d + 1)
        return self._sent[:, 0].copy(), self._n_sent > d

    # -- actions ----------------------------------------------------------------------------
    def to_actions(self, commands: np.ndarray) -> np.ndarray:
        """Return the action each row of ``commands`` sends (as :meth:`ActionMap.to_action`)."""
        return _to_actions(self.actions, commands)

    def to_commands(self, actions) -> np.ndarray:
        """Return the command each action sends (the efference copies), shape (N, n_command).

        Raises
        ------
        ValueError
            For actions the space does not contain, or the wrong number of them.
        """
        space = self.actions
        if space.discrete:
            array = np.asarray(actions)
            if array.shape != (self.n_agents,) or array.dtype.kind not in "iu":
                raise ValueError(f"actions must be {self.n_agents} integers, got {actions!r}")
            index = array.astype(np.int64) - space._start
            if np.any((index < 0) | (index >= space._n)):
                raise ValueError(f"actions {actions!r} are out of range; {space._valid()}")
            return space.values[index]
        commands = as_finite_matrix(actions, "actions", self.n_command)
        self._check_rows(commands, "actions")
        return np.clip(commands, space.low, space.high)

    def _check_rows(self, array, name):
        if array.shape[0] != self.n_agents:
            raise ValueError(f"{name} must have one row per agent ({self.n_agents}), got {array.shape[0]}")

    def to_agents(self) -> list[Agent]:
        """Return the separate agents, with what each model learned in the batch copied back."""
        self.model.to_models([a.model for a in self.agents])
        return self.agents


class VectorFeedbackAgent:
    """Plain linear feedback for ``N`` environments at once: :class:`~cerebellar.agent.FeedbackAgent` per row.

    Parameters
    ----------
    feedback : LinearFeedback
        The controller.
    actions : ActionMap
        Maps its command to the environment's action.
    n_agents : int
        Number of environments.
    """

    label = "feedback"

    def __init__(self, feedback: LinearFeedback, actions, n_agents: int, observation_names=None):
        self.feedback = feedback
        self.actions = actions
        self.n_agents = int(n_agents)
        self.observation_names = tuple(observation_names or ())
        self.last_command_ = None

    @classmethod
    def from_agents(cls, agents) -> VectorFeedbackAgent | None:
        """Return the vector of :class:`~cerebellar.agent.FeedbackAgent` ``agents`` with one law, or None."""
        agents = list(agents)
        first = agents[0] if agents else None
        if first is None or any(type(a) is not FeedbackAgent for a in agents):
            return None
        same = all(np.array_equal(a.feedback.gains, first.feedback.gains)
                   and np.array_equal(a.feedback.setpoint, first.feedback.setpoint)
                   and np.array_equal(a.feedback.low, first.feedback.low)
                   and np.array_equal(a.feedback.high, first.feedback.high)
                   and _same_actions(a.actions, first.actions) for a in agents)
        return cls(first.feedback, first.actions, len(agents), first.observation_names) if same else None

    def observe(self, observations, actions, next_observations, active=None) -> np.ndarray:
        """Learn nothing: every row of the errors is NaN (a single agent returns None)."""
        return np.full((self.n_agents, self.feedback.n_state), np.nan)

    def act(self, observations) -> np.ndarray:
        """Return every row's action, as :meth:`FeedbackAgent.act` computes it."""
        observations = as_finite_matrix(observations, "observations", self.feedback.n_state)
        commands = np.minimum(np.maximum(feedback_batch(self.feedback, observations), self.actions.low),
                              self.actions.high)
        self.last_command_ = commands
        return _to_actions(self.actions, commands)

    def reset(self, indices=None) -> None:
        """Nothing to reset (the last commands are forgotten)."""
        if indices is None:
            self.last_command_ = None
