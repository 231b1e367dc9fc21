"""Run an agent on an environment for some episodes, recording everything."""

from __future__ import annotations

import time

import numpy as np

from .results import EpisodeTrace, RunResult


def run_episodes(agent, env, episodes: int = 1, seed: int = 0, max_steps: int | None = None,
                 progress=None, label: str | None = None) -> RunResult:
    """Run ``agent`` on ``env``; the agent learns throughout and is reset between episodes.

    Parameters
    ----------
    agent : Agent
        Anything with ``act(obs)``, ``observe(obs, action, next_obs)`` and ``reset()``.
    env : gymnasium.Env
        The environment. It is reset with ``seed`` before the first episode and
        without a seed afterwards, so a run is reproducible from its seed.
    episodes : int
        Number of episodes.
    seed : int
        Seed of the environment's first reset.
    max_steps : int, optional
        Stop an episode after this many steps even if the environment would not.
    progress : callable, optional
        Called with the number of steps taken after each step (for progress bars).
    label : str, optional
        A name for what ran; by default the model's class and K.

    Returns
    -------
    RunResult
    """
    if episodes < 1:
        raise ValueError(f"episodes must be at least 1, got {episodes}")
    env_id = env.spec.id if env.spec is not None else type(env.unwrapped).__name__
    if label is None:
        label = f"{type(agent.model).__name__} K={agent.iterations}"
    started = time.perf_counter()
    traces = []
    for number in range(episodes):
        observation, info = env.reset(seed=seed if number == 0 else None)
        agent.reset()
        observations, commands, applied, rewards, errors = [observation], [], [], [], []
        truths = [info.get("true_observation", observation)]
        terminated = truncated = False
        while not (terminated or truncated):
            action = agent.act(observation)
            next_observation, reward, terminated, truncated, info = env.step(action)
            truths.append(info.get("true_observation", next_observation))
            error = agent.observe(observation, action, next_observation)
            # A delayed agent has nothing to learn at first: record NaN.
            errors.append(np.full(np.shape(observation), np.nan) if error is None else error)
            commands.append(agent.last_command_)
            applied.append(agent.actions.to_command(action))
            rewards.append(reward)
            observation = next_observation
            observations.append(observation)
            if progress is not None:
                progress(1)
            if max_steps is not None and len(rewards) >= max_steps:
                truncated = True
        traces.append(EpisodeTrace(
            observations=np.array(observations, dtype=np.float64),
            commands=np.array(commands, dtype=np.float64),
            applied=np.array(applied, dtype=np.float64),
            rewards=np.array(rewards, dtype=np.float64),
            prediction_errors=np.array(errors, dtype=np.float64),
            terminated=bool(terminated),
            truncated=bool(truncated),
            true_observations=np.array(truths, dtype=np.float64),
        ))
    return RunResult(
        env_id=env_id,
        label=label,
        seed=seed,
        episodes=traces,
        seconds=time.perf_counter() - started,
        observation_names=tuple(getattr(agent, "observation_names", ())),
    )
