"""Run results as objects with ``.plot()`` and ``.to_csv()``."""

from __future__ import annotations

import csv
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .._io import atomic_write, pyplot


@dataclass
class EpisodeTrace:
    """Everything that happened in one episode, step by step.

    Attributes
    ----------
    observations : numpy.ndarray, shape (T + 1, n_state)
        Observations, from the reset one to the last.
    commands : numpy.ndarray, shape (T, n_command)
        The controller's continuous command at each step.
    applied : numpy.ndarray, shape (T, n_command)
        The command the chosen action actually sent (the efference copy).
    rewards : numpy.ndarray, shape (T,)
        Rewards.
    prediction_errors : numpy.ndarray, shape (T, n_state)
        The model's error on each transition, before it learned from it (NaN
        where it learned nothing, e.g. the first steps of a delayed agent).
    terminated, truncated : bool
        How the episode ended.
    true_observations : numpy.ndarray, shape (T + 1, n_state), optional
        The undelayed, noiseless observations where a wrapper reports them
        (``info["true_observation"]``); otherwise the observations themselves.
    length : int
        Number of steps of the episode (T, unless the arrays were capped: see
        ``recorded``).
    total_return : float
        Sum of the rewards of every step.
    components : dict of str to numpy.ndarray, shape (T, n_command) each
        Parts of the command an agent reports in ``last_components_`` (e.g.
        the feedback and the feedforward command of feedback-error
        learning); empty for agents that report none.

    Notes
    -----
    A long run may keep only the first steps of an episode in memory
    (``run_episodes(..., max_recorded_steps=...)``): the arrays then hold
    ``recorded`` steps, while ``length`` and ``total_return`` count them all.
    """

    observations: np.ndarray
    commands: np.ndarray
    applied: np.ndarray
    rewards: np.ndarray
    prediction_errors: np.ndarray
    terminated: bool
    truncated: bool
    true_observations: np.ndarray | None = None
    length: int = 0
    total_return: float = 0.0
    components: dict = field(default_factory=dict)

    @property
    def recorded(self) -> int:
        """Number of steps held in the arrays."""
        return int(self.rewards.shape[0])


@dataclass
class RunResult:
    """The result of :func:`cerebellar.run_episodes`: episodes of one agent on one env.

    Attributes
    ----------
    env_id : str
        The environment.
    label : str
        What ran, e.g. ``"rls K=3"``.
    seed : int
        The seed of the run.
    episodes : list of EpisodeTrace
        One trace per episode.
    seconds : float
        Wall-clock time of the run.
    observation_names : tuple of str
        Channel names.
    observation_units, command_names, command_units : tuple of str
        Units of the channels, names and units of the commands (for plots).
    """

    env_id: str
    label: str
    seed: int
    episodes: list[EpisodeTrace]
    seconds: float
    observation_names: tuple[str, ...] = field(default_factory=tuple)
    observation_units: tuple[str, ...] = field(default_factory=tuple)
    command_names: tuple[str, ...] = field(default_factory=tuple)
    command_units: tuple[str, ...] = field(default_factory=tuple)

    @property
    def returns(self) -> np.ndarray:
        """Return of each episode."""
        return np.array([episode.total_return for episode in self.episodes])

    @property
    def lengths(self) -> np.ndarray:
        """Length of each episode in steps."""
        return np.array([episode.length for episode in self.episodes], dtype=int)

    @property
    def steps(self) -> int:
        """Environment steps in all episodes."""
        return int(self.lengths.sum())

    def summary(self) -> str:
        """One line: what ran, and the episode lengths and returns."""
        lengths = ", ".join(str(n) for n in self.lengths)
        return (
            f"{self.env_id} {self.label} seed {self.seed}: episode lengths [{lengths}], "
            f"mean return {self.returns.mean():.1f}, {self.steps} steps in {self.seconds:.2f} s"
        )

    def to_dict(self) -> dict:
        """Return the per-seed summary as plain Python types (for JSON)."""
        return {
            "env": self.env_id,
            "label": self.label,
            "seed": self.seed,
            "returns": self.returns.tolist(),
            "lengths": self.lengths.tolist(),
            "steps": self.steps,
            "seconds": round(self.seconds, 4),
        }

    def to_csv(self, path) -> Path:
        """Write one row per recorded step (all episodes), atomically.

        Columns: ``episode, step``, each observation channel (the observation
        the command was chosen on), ``command_i``, ``applied_i``, ``reward``,
        ``prediction_error`` (Euclidean norm) and ``prediction_error_i`` per channel.
        """
        n_state = self.episodes[0].observations.shape[1] if self.episodes else 0
        n_command = self.episodes[0].commands.shape[1] if self.episodes else 0
        with atomic_write(path, "w", newline="") as stream:
            writer = csv.writer(stream)
            writer.writerow(csv_header(self.observation_names, n_state, n_command))
            for number, ep in enumerate(self.episodes):
                for step in range(ep.recorded):
                    writer.writerow(csv_row(number, step, ep.observations[step], ep.commands[step],
                                            ep.applied[step], ep.rewards[step],
                                            ep.prediction_errors[step]))
        return Path(path)

    def plot(self, path=None, channels=None):
        """Plot the controlled channels, the commands and the prediction error over time.

        Episodes are laid end to end, separated by dotted lines. Each panel is
        labelled with its channel's name and unit; a channel called ``"X
        target"`` is drawn dashed on the panel of ``"X angle"`` (reaching
        tasks), and every command channel is drawn (both torques of a limb).

        Parameters
        ----------
        path : str or os.PathLike, optional
            Where to save a PNG; the figure is returned either way.
        channels : sequence of int, optional
            Observation channels to draw, one panel each; by default the
            angles (else positions), at most three.

        Returns
        -------
        matplotlib.figure.Figure
        """
        plt = pyplot(headless=path is not None)
        observations = np.vstack([ep.observations[:ep.recorded] for ep in self.episodes])
        commands = np.vstack([ep.commands for ep in self.episodes])
        applied = np.vstack([ep.applied for ep in self.episodes])
        errors = np.concatenate([np.linalg.norm(ep.prediction_errors, axis=1) for ep in self.episodes])
        n_state, n_command = observations.shape[1], commands.shape[1]
        names = self.observation_names or tuple(f"channel {i}" for i in range(n_state))
        units = self.observation_units or ("",) * n_state
        command_names = self.command_names or tuple(
            "command" if n_command == 1 else f"command {i}" for i in range(n_command))
        command_units = self.command_units or ("",) * n_command
        if channels is None:
            channels = _default_channels(names)
        targets = {i: names.index(name.replace(" angle", " target")) for i, name in enumerate(names)
                   if " angle" in name and name.replace(" angle", " target") in names}
        # A long run is drawn from every k-th step (at most ~5,000 points a line, more than
        # the figure has pixels): drawing a million points costs hundreds of MB.
        stride = max(1, observations.shape[0] // 5_000)
        time = np.arange(observations.shape[0])[::stride]
        observations, commands, applied = observations[::stride], commands[::stride], applied[::stride]
        errors = errors[::stride]
        panels = len(channels) + 2
        figure, axes = plt.subplots(panels, 1, sharex=True, figsize=(9, 1.9 * panels + 0.6))
        for axis, channel in zip(axes, channels, strict=False):
            axis.plot(time, observations[:, channel], lw=0.8, label=names[channel])
            if channel in targets:
                axis.plot(time, observations[:, targets[channel]], lw=0.8, ls="--", color="k",
                          label=names[targets[channel]])
                axis.legend(fontsize="x-small", loc="upper right")
            axis.axhline(0.0, color="0.7", lw=0.5)
            axis.set_ylabel(_label(names[channel], units[channel]), fontsize="small")
        axis = axes[len(channels)]
        if n_command == 1:
            # The applied command (e.g. +-10 N) and the controller's continuous command
            # can differ by orders of magnitude: give each its own axis.
            axis.plot(time, applied[:, 0], lw=0.5, color="0.6")
            axis.set_ylabel(_label("applied", command_units[0]), color="0.4", fontsize="small")
            twin = axis.twinx()
            twin.plot(time, commands[:, 0], lw=0.8, color="tab:blue")
            twin.set_ylabel(_label(command_names[0], command_units[0]), color="tab:blue", fontsize="small")
        else:
            for i in range(n_command):
                axis.plot(time, applied[:, i], lw=0.7, label=command_names[i])
            unit = command_units[0] if len(set(command_units)) == 1 else ""
            axis.set_ylabel(_label("applied", unit), fontsize="small")
            axis.legend(fontsize="x-small", loc="upper right")
        axis = axes[-1]
        axis.semilogy(time, np.maximum(errors, 1e-12), lw=0.6, color="tab:red")
        axis.set_ylabel("|prediction error|\n(observation units)", fontsize="small")
        axis.set_xlabel("step (episodes end to end)")
        boundaries = np.cumsum([ep.recorded for ep in self.episodes])[:-1]
        for axis in axes:
            for boundary in boundaries:
                axis.axvline(boundary, color="0.5", ls=":", lw=0.8)
        shown = "" if all(ep.recorded == ep.length for ep in self.episodes) else " (first steps shown)"
        axes[0].set_title(f"{self.env_id}, {self.label}, seed {self.seed}: lengths "
                          f"{self.lengths.tolist()}{shown}", fontsize="small")
        figure.tight_layout()
        if path is not None:
            with atomic_write(path, "wb") as stream:
                figure.savefig(stream, format="png", dpi=110)
        return figure


def _label(name: str, unit: str) -> str:
    return f"{name} ({unit})" if unit else name


def _default_channels(names) -> list[int]:
    preferred = [i for i, name in enumerate(names) if "angle" in name and "velocity" not in name
                 and "cosine" not in name]
    preferred += [i for i, name in enumerate(names) if "position" in name]
    if not preferred:
        preferred = list(range(min(2, len(names))))
    return preferred[:3]


def csv_header(observation_names, n_state: int, n_command: int) -> list[str]:
    """Return the header of a per-step CSV (see :meth:`RunResult.to_csv`)."""
    names = tuple(observation_names) or tuple(f"obs_{i}" for i in range(n_state))
    return (["episode", "step", *names] + [f"command_{i}" for i in range(n_command)]
            + [f"applied_{i}" for i in range(n_command)] + ["reward", "prediction_error"]
            + [f"prediction_error_{i}" for i in range(n_state)])


def csv_row(episode: int, step: int, observation, command, applied, reward, error) -> list:
    """Return one row of a per-step CSV (see :meth:`RunResult.to_csv`)."""
    values = np.concatenate([observation, command, applied, [reward, np.linalg.norm(error)], error])
    return [episode, step, *(f"{v:.6g}" for v in values)]
