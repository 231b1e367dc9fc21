"""The short-term agents: the short-term predictor cancels the delay, a controller acts on the present.

Two agents the balance and reaching kinds build by name, for the race of the
two theories of the cerebellum on a delayed body:

- ``short-term``: the forward-model agent's controller (the preset's simple
  controller refined K times through a blank one-step model, as the ``rls``
  agent does) acting on the estimate of the present made by
  :class:`~cerebellar.agent.anticipation.ShortTermAnticipation`, in place of
  the Smith predictor. The controller and its model are the ``rls`` agent's;
  only the way the delay is cancelled differs.
- ``short-term-feedback``: the preset's simple controller alone (K = 0, no
  forward model in the command) on the same estimate: the short-term
  predictor with nothing else. On the cart-pole and the wrist the preset
  controller alone does not meet the task even without a delay, so this agent
  measures what the predictor cannot make up for.

Every setting is a field of :class:`ShortTermConfig`.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..agent import Agent
from ..agent.anticipation import ShortTermAnticipation
from .presets import get_preset, make_agent

#: The agent names, and the refinements each uses (None: the config's).
SHORT_TERM_AGENTS = {"short-term": None, "short-term-feedback": 0}


@dataclass(frozen=True)
class ShortTermConfig:
    """Settings of the short-term agents.

    Attributes
    ----------
    iterations : int
        Refinements per step (K) of ``short-term``, as the forward-model agents use.
    low, high : float
        Trust ratios of :class:`~cerebellar.agent.anticipation.ShortTermAnticipation`:
        the prediction is used fully once its recent error is at most ``low``
        times the raw delayed observation's, not at all from ``high`` times.
    window : int
        Checked estimates averaged for the trust.
    predictor : tuple of (str, value) pairs
        Hyperparameters of the :class:`~cerebellar.predictors.ShortTermPredictor`
        beyond the wiring: a learning rate of 0.1, twice its default, which let
        the agent balance at 100 ms by its second or third episode instead of
        its fourth or fifth (seeds 0-2 of the race's tasks).
    """

    iterations: int = 3
    low: float = 0.5
    high: float = 1.0
    window: int = 20
    predictor: tuple = (("learning_rate", 0.1),)


#: The defaults: the settings of the race in the docs.
DEFAULT_SHORT_TERM = ShortTermConfig()


def short_term_agent(env, name: str = "short-term", seed: int = 0, delay_steps: int = 0,
                     config: ShortTermConfig = DEFAULT_SHORT_TERM) -> Agent:
    """Return a short-term agent (see the module docstring) for ``env`` with its preset.

    Parameters
    ----------
    env : gymnasium.Env
        An environment with a preset, possibly wrapped in a sensory delay.
    name : str
        ``"short-term"`` or ``"short-term-feedback"``.
    seed : int
        Seeds the one-step model and the predictor.
    delay_steps : int
        The sensory delay in steps: the predictor's advance. Without a delay
        there is nothing to cancel and the agent acts on the observation.
    config : ShortTermConfig
        The agent's settings.

    Returns
    -------
    Agent
        Its ``internal_feedback`` is the
        :class:`~cerebellar.agent.anticipation.ShortTermAnticipation` (with a delay).
    """
    if name not in SHORT_TERM_AGENTS:
        raise ValueError(f"unknown short-term agent {name!r}; choose from {', '.join(SHORT_TERM_AGENTS)}")
    iterations = SHORT_TERM_AGENTS[name]
    iterations = config.iterations if iterations is None else iterations
    template = make_agent(env, model="rls", iterations=iterations, seed=seed, delay_steps=0)
    if not delay_steps:
        return template
    preset = get_preset(env.spec.id if env.spec is not None else None)
    scale = preset.state_scale if preset is not None else None
    names = template.observation_names
    # Targets are exogenous: their jumps are nobody's prediction error.
    trusted = [i for i, n in enumerate(names) if "target" not in n] or None
    anticipation = ShortTermAnticipation(delay_steps, template.n_state, template.actions.n_command,
                                         state_scale=scale, trust_channels=trusted, low=config.low,
                                         high=config.high, window=config.window, seed=seed,
                                         **dict(config.predictor))
    return Agent(template.model, template.controller, template.actions, template.n_state,
                 internal_feedback=anticipation, observation_names=names, label=name,
                 observation_units=template.observation_units, command_names=template.command_names,
                 command_units=template.command_units)
