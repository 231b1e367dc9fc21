"""Record the population cerebellum on the wrist task, as Tanaka et al. (2019) recorded the monkey's.

:func:`simulate_sessions` trains a :class:`~cerebellar.models.population.PopulationCerebellum`
agent on ``cerebellar/WristStepTracking-v0`` behind a sensory delay (internal
feedback: a Smith predictor through the population model), then records its
mossy-fibre, Purkinje and nuclear ("dentate") populations trial by trial, with
two controls recorded through the very same cells:

- ``"model"``: the trained agent. At each step the recorded mossy fibres are
  those of the inputs as they arrive (the delayed observation, including the
  delayed target, and the efference copy of the command being sent); the
  Purkinje and nuclear populations are those of the circuit's prediction of
  the next state from the agent's estimate of the present and that command,
  the prediction whose read-out the controller uses. Learning stays on.
- ``"blank"``: the same cells with untrained synapses (a blank model, learning
  off), fed the model session's very inputs (observations and commands,
  replayed): only the learning differs. A blank model predicts that nothing
  changes, so its nuclei relay the delayed senses.
- ``"feedback"``: the wrist driven by a no-model agent (the preset PD on the
  delayed observation as it arrives), with the same (blank) cells driven by its
  inputs: no learned prediction anywhere.

Choices, ours where the paper's are unknown: bins of 10 ms by default (the
wrist's time step; any multiple of it may be given); each trial from 300 ms
before the target appears (``go_bin``) to the end of the 1 s target hold;
``arrival_bin`` the first bin whose true angles are within 0.05 rad of the
target on both axes (-1 if never). Rates are averages over the bin in Hz,
clipped at zero (nuclear and Purkinje cells are linear around their tonic
rates and may be driven below zero); with ``spikes=True`` each bin holds a
Poisson count with mean ``rate * bin``. With several seeds, each seed is a
separately trained model with its own cells, and the cells are pooled into one
pseudo-population (as recordings made one session at a time are), trials
matched by target direction and repetition; the trial conditions and the
signals are the first seed's. Several ``sessions`` per seed record more trials
from the same cells, one after another.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import gymnasium as gym
import numpy as np

from ..agent import FeedbackAgent, run_episode
from ..envs import WRIST_STEP_TRACKING_ID, ActionNoise, ObservationNoise, SensoryDelay
from ..models.population import PopulationCerebellum
from ..tasks.presets import get_preset, make_agent
from .session import Session

#: Angles within this distance of the target on both axes count as arrived (rad).
ARRIVAL_TOLERANCE = 0.05
#: The recorded populations, by the names the analysis uses.
POPULATIONS = ("mossy", "purkinje", "dentate")
#: The sessions :func:`simulate_sessions` returns.
CONDITIONS = ("model", "blank", "feedback")
_RECORDED = ("mossy", "purkinje", "dentate", "prediction")
_N_BODY = 4  # theta_fe, theta_ru, omega_fe, omega_ru: the channels with sensory noise


@dataclass(frozen=True)
class SimulationConfig:
    """Settings of one simulated recording (see :func:`simulate_sessions`).

    Attributes
    ----------
    delay_ms : float
        Sensory delay (ms), rounded to whole 10 ms steps.
    noise_sigma : float
        Standard deviation of Gaussian noise on the observed angles (rad) and
        angular velocities (rad/s); the target is seen without noise.
    motor_noise : float
        Standard deviation of Gaussian noise added to each torque (N m), not
        seen by the efference copy: the process noise that makes trials differ
        and gives a Kalman filter something to weigh against the senses.
    bin_ms : float
        Bin width (ms), a whole number of 10 ms steps.
    trials_per_target : int
        Recorded trials per target direction and session (an episode visits each
        of the 8 directions once).
    sessions : int
        Recording sessions per seed (more trials from the same cells).
    learning_episodes : int
        Episodes (8 trials each) the model learns before the recording.
    pre_go_ms : float
        Start of each recorded trial before the target appears (ms).
    iterations : int
        Refinements per step of the agent's controller (the seed's K).
    spikes : bool
        Record Poisson spike counts per bin instead of rates.
    """

    delay_ms: float = 100.0
    noise_sigma: float = 0.0
    motor_noise: float = 0.0
    bin_ms: float = 10.0
    trials_per_target: int = 4
    sessions: int = 1
    learning_episodes: int = 3
    pre_go_ms: float = 300.0
    iterations: int = 3
    spikes: bool = False

    def __post_init__(self):
        for name in ("trials_per_target", "sessions"):
            value = getattr(self, name)
            if isinstance(value, bool) or int(value) != value or value < 1:
                raise ValueError(f"{name} must be a positive integer, got {value!r}")
        episodes = self.learning_episodes
        if isinstance(episodes, bool) or int(episodes) != episodes or episodes < 0:
            raise ValueError(f"learning_episodes must be a non-negative integer, got {episodes!r}")
        for name in ("delay_ms", "noise_sigma", "motor_noise", "pre_go_ms"):
            value = getattr(self, name)
            if not (isinstance(value, (int, float)) and math.isfinite(value) and value >= 0):
                raise ValueError(f"{name} must be a finite number >= 0, got {value!r}")
        if not (isinstance(self.bin_ms, (int, float)) and math.isfinite(self.bin_ms) and self.bin_ms > 0):
            raise ValueError(f"bin_ms must be a positive number, got {self.bin_ms!r}")


def _steps(milliseconds: float, dt_ms: float, name: str) -> int:
    steps = milliseconds / dt_ms
    if abs(steps - round(steps)) > 1e-9:
        raise ValueError(f"{name} ({milliseconds} ms) must be a whole number of {dt_ms:g} ms steps")
    return int(round(steps))


def make_wrist_env(delay_ms: float, noise_sigma: float = 0.0, seed: int = 0, motor_noise: float = 0.0):
    """Return the wrist task behind a sensory delay, with optional sensory and motor noise."""
    env = gym.make(WRIST_STEP_TRACKING_ID)
    if motor_noise > 0:
        env = ActionNoise(env, motor_noise, seed=seed)
    if noise_sigma > 0:
        sigma = np.zeros(env.observation_space.shape)
        sigma[:_N_BODY] = noise_sigma
        env = ObservationNoise(env, sigma, seed=seed)
    return SensoryDelay(env, delay_ms=delay_ms)


#: The wrist recordings' mossy fibres: mostly proprioceptive (position and velocity), fewer
#: carrying the target or the efference copy, as most of Tanaka et al.'s mossy fibres were
#: movement-related; baselines mostly above the drive, so that a minority of cells rectify.
WRIST_MOSSY = {"mossy_modalities": (1.0, 1.0, 0.2, 0.2), "mossy_baseline": (30.0, 90.0),
               "mossy_gain": (10.0, 30.0)}


def population_model(seed: int = 0, **params) -> PopulationCerebellum:
    """Return a blank population cerebellum for the wrist: the preset's input scale, :data:`WRIST_MOSSY`."""
    preset = get_preset(WRIST_STEP_TRACKING_ID)
    scale = tuple(preset.state_scale) + tuple(preset.command_scale)
    return PopulationCerebellum(**{"input_scale": scale, "seed": seed, **WRIST_MOSSY, **params})


class _Recording:
    """Wrap an agent: after each ``act``, keep what the cells see and do (the loop still steps the env)."""

    def __init__(self, agent, cells, estimate):
        self.agent, self.cells, self.estimate = agent, cells, estimate
        self.rows = {name: [] for name in ("observation", "command", *_RECORDED)}

    def act(self, observation):
        action = self.agent.act(observation)
        observation = np.asarray(observation, dtype=np.float64)
        command = np.asarray(self.agent.last_command_, dtype=np.float64)
        self.rows["observation"].append(observation)
        self.rows["command"].append(command)
        record_step(self.rows, self.cells, self.estimate(self.agent, observation), observation, command)
        return action

    def observe(self, observation, action, next_observation):
        return self.agent.observe(observation, action, next_observation)

    def reset(self):
        self.agent.reset()


def record_step(rows: dict, cells: PopulationCerebellum, estimate, observation, command) -> None:
    """Append one step: mossy rates of the arriving inputs, the rest of the prediction from ``estimate``."""
    prediction = cells.predict(estimate, command)
    activity = cells.activity()
    rows["mossy"].append(cells.encode_inputs(observation, command))
    rows["purkinje"].append(activity["purkinje"])
    rows["dentate"].append(activity["nuclear"])
    rows["prediction"].append(prediction)


def _record_episode(agent, cells, env, seed: int, estimate) -> dict[str, np.ndarray]:
    recording = _Recording(agent, cells, estimate)
    truths = []
    run_episode(recording, env, seed=seed,
                on_start=lambda observation, info: truths.append(info["true_observation"]),
                on_step=lambda step: truths.append(step.info["true_observation"]))
    rows = {name: np.array(values) for name, values in recording.rows.items()}
    rows["state"] = np.array(truths[:-1])
    return rows


def _replay(cells: PopulationCerebellum, episode: dict) -> dict[str, np.ndarray]:
    """Feed a recorded episode's inputs to other cells (their prediction from the observation itself)."""
    rows = {name: [] for name in _RECORDED}
    for observation, command in zip(episode["observation"], episode["command"], strict=True):
        record_step(rows, cells, observation, observation, command)
    replayed = dict(episode)
    replayed.update({name: np.array(values) for name, values in rows.items()})
    return replayed


def _trials(episodes, pre_steps: int, post_steps: int, steps_per_bin: int):
    """Cut episodes into trials (ordered by direction, then repetition) and bin them.

    Returns a dict of (trials, bins, ...) arrays, averaged over each bin, plus
    ``target``, ``go_bin`` and ``arrival_bin`` per trial.
    """
    cut = {}
    targets, arrivals = [], []
    for episode in episodes:
        target = episode["state"][:, 4:6]
        on = np.linalg.norm(target, axis=1) > 0
        starts = np.flatnonzero(on & ~np.concatenate(([False], on[:-1])))
        for go in starts:
            if go - pre_steps < 0 or go + post_steps > on.shape[0]:
                continue
            window = slice(go - pre_steps, go + post_steps)
            for name, values in episode.items():
                cut.setdefault(name, []).append(values[window])
            angle = math.atan2(target[go, 1], target[go, 0])
            targets.append(int(round(angle / (math.pi / 4))) % 8)
            error = np.max(np.abs(episode["state"][go:go + post_steps, :2] - target[go]), axis=1)
            inside = np.flatnonzero(error < ARRIVAL_TOLERANCE)
            arrivals.append(int(inside[0]) if inside.size else -1)
    targets = np.array(targets)
    order = np.argsort(targets, kind="stable")  # by direction, repetitions in recording order
    n_bins = (pre_steps + post_steps) // steps_per_bin
    binned = {name: np.array(values)[order].reshape(len(order), n_bins, steps_per_bin, -1).mean(axis=2)
              for name, values in cut.items()}
    go_bin = pre_steps // steps_per_bin
    arrival = np.array(arrivals)[order]
    arrival_bin = np.where(arrival >= 0, go_bin + arrival // steps_per_bin, -1)
    return binned, {"target": targets[order], "go_bin": np.full(len(order), go_bin),
                    "arrival_bin": arrival_bin}


def poisson_counts(rates: np.ndarray, bin_ms: float, rng: np.random.Generator) -> np.ndarray:
    """Return Poisson spike counts per bin with mean ``rate * bin`` (rates in Hz, clipped at zero)."""
    return rng.poisson(np.maximum(rates, 0.0) * (bin_ms / 1000.0)).astype(np.int64)


def simulate_sessions(delay_ms: float = 100, noise_sigma: float = 0.0, seeds=range(1), sessions: int = 1,
                      bin_ms: float = 10.0, trials_per_target: int = 4, spikes: bool = False,
                      learning_episodes: int = 3, model_params: dict | None = None,
                      motor_noise: float = 0.0) -> dict[str, Session]:
    """Train the population cerebellum on the delayed wrist task and record it, with two controls.

    Parameters
    ----------
    delay_ms : float
        Sensory delay (ms), a whole number of the wrist's 10 ms steps.
    noise_sigma : float
        Gaussian noise on the observed angles and angular velocities.
    seeds : iterable of int
        One trained model (its own cells, its own episodes) per seed; their
        cells are pooled into a pseudo-population.
    sessions : int
        Recording sessions per seed.
    bin_ms : float
        Bin width (ms), a multiple of 10 ms.
    trials_per_target : int
        Trials per direction and session.
    spikes : bool
        Poisson spike counts per bin instead of rates (Hz).
    learning_episodes : int
        Episodes of learning before the recording.
    motor_noise : float
        Gaussian noise on each torque (N m), unseen by the efference copy.
    model_params : dict, optional
        Hyperparameters of :class:`~cerebellar.models.population.PopulationCerebellum`
        (e.g. cell counts).

    Returns
    -------
    dict of str to Session
        ``"model"``, ``"blank"`` and ``"feedback"`` (see the module docstring),
        each with populations ``mossy``, ``purkinje`` and ``dentate`` of shape
        (8 * trials_per_target * sessions, bins, cells), conditions ``target``,
        ``go_bin`` and ``arrival_bin``, and signals ``observation`` (the
        delayed, noisy angles and velocities the agent saw), ``command`` (the
        torques sent), ``state`` (the true angles and velocities) and
        ``prediction`` (the nuclear read-out: the predicted next observation).
    """
    config = SimulationConfig(delay_ms=delay_ms, noise_sigma=noise_sigma, bin_ms=bin_ms,
                              trials_per_target=trials_per_target, sessions=sessions,
                              learning_episodes=learning_episodes, spikes=spikes, motor_noise=motor_noise)
    seeds = [int(seed) for seed in seeds]
    if not seeds:
        raise ValueError("seeds must hold at least one seed")
    model_params = dict(model_params or {})
    recorded = {condition: [] for condition in CONDITIONS}
    for seed in seeds:
        for condition, (binned, conditions, dt_ms) in _simulate_seed(config, seed, model_params).items():
            recorded[condition].append((binned, conditions, dt_ms))
    rng = np.random.default_rng([seeds[0], 7919])
    result = {}
    for condition in CONDITIONS:
        runs = recorded[condition]
        first, conditions, dt_ms = runs[0]
        if any(not np.array_equal(run[1]["target"], conditions["target"]) for run in runs):
            raise RuntimeError("the seeds recorded different trial conditions; cannot pool their cells")
        populations = {name: np.concatenate([run[0][name] for run in runs], axis=2) for name in POPULATIONS}
        populations = {name: np.maximum(values, 0.0) for name, values in populations.items()}
        if config.spikes:
            populations = {name: poisson_counts(values, config.bin_ms, rng)
                           for name, values in populations.items()}
        signals = {"observation": first["observation"][:, :, :_N_BODY], "command": first["command"],
                   "state": first["state"][:, :, :_N_BODY], "prediction": first["prediction"][:, :, :_N_BODY]}
        result[condition] = Session(
            populations=populations, bin_ms=float(config.bin_ms), conditions=conditions, signals=signals,
            metadata={"delay_ms": float(delay_ms), "noise_sigma": float(noise_sigma),
                      "motor_noise": float(motor_noise),
                      "model": "population-cerebellum" if condition == "model" else condition,
                      "condition": condition, "seed": seeds[0], "seeds": seeds, "spikes": bool(spikes),
                      "dt_ms": dt_ms, "sessions": int(sessions), "learning_episodes": int(learning_episodes),
                      "cells_per_seed": {name: int(first[name].shape[2]) for name in POPULATIONS}})
    return result


def _simulate_seed(config: SimulationConfig, seed: int, model_params: dict) -> dict:
    env = make_wrist_env(config.delay_ms, config.noise_sigma, seed=seed, motor_noise=config.motor_noise)
    dt_ms = 1000.0 * env.unwrapped.params.dt
    steps_per_bin = _steps(config.bin_ms, dt_ms, "bin_ms")
    pre_steps = _steps(config.pre_go_ms, dt_ms, "pre_go_ms")
    post_steps = env.unwrapped.params.target_steps
    if (pre_steps + post_steps) % steps_per_bin:
        raise ValueError(f"a trial of {pre_steps + post_steps} steps does not split into bins of "
                         f"{steps_per_bin} steps; choose bin_ms or pre_go_ms to fit")
    model = population_model(seed, **model_params)
    agent = make_agent(env, model=model, iterations=config.iterations, delay_steps=env.delay_steps)
    episode_seed = 1_000_003 * seed
    for episode in range(config.learning_episodes):
        run_episode(agent, env, seed=episode_seed + episode)
    n_recorded = config.trials_per_target * config.sessions
    record_seeds = [episode_seed + 500 + episode for episode in range(n_recorded)]
    # The trained cells' prediction starts from the agent's estimate of the present.
    trained = [_record_episode(agent, model, env, s, lambda a, observation: a.estimate_)
               for s in record_seeds]
    blank = population_model(seed, **model_params)
    blank.initialise(env.observation_space.shape[0], agent.actions.n_command)
    replayed = [_replay(blank, episode) for episode in trained]
    preset = get_preset(WRIST_STEP_TRACKING_ID)
    feedback_agent = FeedbackAgent.for_env(env, preset.gains)
    feedback = [_record_episode(feedback_agent, blank, env, s, lambda a, observation: observation)
                for s in record_seeds]
    env.close()
    return {name: (*_trials(episodes, pre_steps, post_steps, steps_per_bin), dt_ms)
            for name, episodes in (("model", trained), ("blank", replayed), ("feedback", feedback))}
