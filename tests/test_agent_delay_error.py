import gymnasium as gym
import numpy as np
import pytest

import cerebellar.envs  # noqa: F401
from cerebellar import Agent, make_agent
from cerebellar.agent import SmithPredictor
from cerebellar.control import ActionMap, ForwardModelController, LinearFeedback, TrustGated
from cerebellar.envs import SensoryDelay
from cerebellar.models.oracle import OracleModel

ARM = "cerebellar/TwoLinkArm-v0"


class Still:
    """A model that predicts no change and learns nothing."""

    def predict(self, state, command):
        return np.asarray(state, dtype=np.float64)

    def learn(self, state, command, next_state):
        return np.asarray(next_state) - np.asarray(state)


def run(agent, env, steps, seed=0):
    observation, _ = env.reset(seed=seed)
    agent.reset()
    seen, errors = [observation], []
    for _ in range(steps):
        action = agent.act(observation)
        errors.append(agent.delay_error_)
        observation, *_ = env.step(action)
        agent.observe(seen[-1], action, observation)
        seen.append(observation)
    return seen, errors


def test_delay_error_is_the_change_over_the_delay_for_a_still_model():
    # A model that predicts no change estimates the present as the delayed
    # observation, so its error d steps later is how far the observation moved.
    d = 3
    env = SensoryDelay(gym.make(ARM), delay_steps=d)
    agent = make_agent(env, model=Still(), delay_steps=d)
    seen, errors = run(agent, env, 40)
    assert all(e is None for e in errors[:d])
    for j in range(d, 40):
        np.testing.assert_array_equal(errors[j], seen[j] - seen[j - d])
    agent.reset()
    assert agent.delay_error_ is None


def test_delay_error_vanishes_with_the_true_dynamics():
    d = 5
    env = SensoryDelay(gym.make(ARM), delay_steps=d)
    agent = make_agent(env, model=OracleModel(env), delay_steps=d)
    _, errors = run(agent, env, 60, seed=2)
    assert np.max(np.abs(errors[-1])) < 1e-9 and np.max(np.abs(errors[d])) < 1e-9


def test_no_delay_no_delay_error():
    env = gym.make(ARM)
    agent = make_agent(env, model="rls")
    _, errors = run(agent, env, 5)
    assert errors == [None] * 5


# --- internal-feedback options: correction, fallback and trust -----------------------------


class Feed:
    """A synthetic delayed sensor: the true value ramps up 0.1 per step; the agent sees it d late."""

    def __init__(self, d):
        self.d = d

    def truth(self, t):
        return np.array([0.1 * t, 5.0])

    def seen(self, t):
        return self.truth(max(t - self.d, 0))


class Constant:
    """A controller that always returns the same command."""

    def __init__(self, value):
        self.value = np.array([value])

    def command(self, state):
        return self.value


def scalar_agent(d, correction=0.0, corrected_channels=None, fallback=None, trust=None,
                 trust_channels=None, trust_window=20):
    """A still model under plain feedback (K = 0) on two channels, from the pieces.

    With ``d``: internal feedback (a Smith predictor with the given correction);
    with a ``fallback``: the controller gated on trust, with thresholds ``trust``.
    """
    from gymnasium import spaces

    actions = ActionMap(spaces.Box(-10.0, 10.0, shape=(1,)))
    model = Still()
    controller = ForwardModelController(LinearFeedback([[1.0, 0.0]]), model, 0, low=actions.low,
                                        high=actions.high)
    if fallback is not None:
        controller = TrustGated(controller, fallback, *trust, window=trust_window, channels=trust_channels,
                                command_low=actions.low, command_high=actions.high)
    internal = SmithPredictor(d, 2, correction, corrected_channels) if d else None
    return Agent(model, controller, actions, 2, internal_feedback=internal)


def drive(agent, feed, steps):
    estimates, actions = [], []
    for t in range(steps):
        actions.append(agent.act(feed.seen(t)))
        estimates.append(agent.estimate_.copy())
        agent.observe(feed.seen(t), actions[-1], feed.seen(t + 1))
    return estimates, actions


def test_full_correction_makes_a_still_model_track_a_ramp():
    # A still model is wrong across the delay by exactly d steps of the ramp;
    # with correction 1 the corrected estimate is the true present.
    d = 4
    feed = Feed(d)
    agent = scalar_agent(d, correction=1.0, corrected_channels=(0,))
    estimates, _ = drive(agent, feed, 30)
    for t in range(2 * d, 30):
        np.testing.assert_allclose(estimates[t], feed.truth(t), atol=1e-12)
    # The uncorrected channel keeps the delayed value (it is constant here anyway).
    assert agent.internal_feedback.correction_[1] == 0.0


def test_partial_correction_converges_geometrically():
    d = 3
    feed = Feed(d)
    agent = scalar_agent(d, correction=0.5)
    estimates, _ = drive(agent, feed, 40)
    gaps = [feed.truth(t)[0] - estimates[t][0] for t in range(2 * d, 2 * d + 4)]
    # Errors 0, 0.1, 0.2 then 0.3 for good; the average's gap to 0.3 then halves each step.
    np.testing.assert_allclose(gaps[0], 0.3 - (0.5 * 0.3 + 0.25 * 0.2 + 0.125 * 0.1), rtol=1e-9)
    np.testing.assert_allclose(np.diff(np.log(gaps)), np.log(0.5), rtol=1e-9)


def test_untrusted_model_leaves_the_command_to_the_fallback():
    d = 2
    feed = Feed(d)
    # The still model is 0.2 rad off across the delay: above `high`, so trust stays 0.
    agent = scalar_agent(d, fallback=Constant(-3.0), trust=(0.05, 0.1), trust_channels=(0,),
                         trust_window=3)
    _, actions = drive(agent, feed, 20)
    assert agent.trust_ == 0.0
    np.testing.assert_array_equal(np.concatenate(actions), -3.0)


def test_trust_blends_the_commands_linearly():
    d = 2
    feed = Feed(d)
    # Error 0.2 across the delay, halfway between low 0.1 and high 0.3: trust 0.5.
    agent = scalar_agent(d, fallback=Constant(-3.0), trust=(0.1, 0.3), trust_channels=(0,),
                         trust_window=3)
    _, actions = drive(agent, feed, 20)
    assert agent.trust_ == pytest.approx(0.5)
    # The controller's own command: G (0 - estimate) with the still model's estimate.
    own = -feed.seen(19)[0]
    np.testing.assert_allclose(actions[-1], 0.5 * -3.0 + 0.5 * own)


def test_trust_reaches_one_for_an_exact_model_and_is_kept_across_resets():
    d = 5
    env = SensoryDelay(gym.make(ARM), delay_steps=d)
    template = make_agent(env, model=OracleModel(env), delay_steps=d)
    actions = template.actions
    gated = TrustGated(template.controller, Constant(0.0), 0.01, 0.02, window=4,
                       command_low=actions.low, command_high=actions.high)
    agent = Agent(template.model, gated, actions, template.n_state,
                  internal_feedback=template.internal_feedback)
    run(agent, env, 20)
    assert agent.trust_ == 1.0
    agent.reset()
    assert agent.trust_ == 1.0


def test_options_are_checked():
    with pytest.raises(ValueError, match="correction"):
        scalar_agent(2, correction=1.5)
    with pytest.raises(ValueError, match="internal_feedback"):
        scalar_agent(0, fallback=Constant(0.0), trust=(0.1, 0.2))
    with pytest.raises(TypeError, match="low"):  # a fallback needs its trust thresholds
        TrustGated(Constant(1.0), Constant(0.0))
    with pytest.raises(ValueError, match="trust"):
        scalar_agent(2, fallback=Constant(0.0), trust=(0.2, 0.1))
