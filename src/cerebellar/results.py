"""Run results as objects with ``.plot()`` and ``.to_csv()``."""

from __future__ import annotations

import csv
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ._io import atomic_write


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
    """

    observations: np.ndarray
    commands: np.ndarray
    applied: np.ndarray
    rewards: np.ndarray
    prediction_errors: np.ndarray
    terminated: bool
    truncated: bool
    true_observations: np.ndarray | None = None

    @property
    def length(self) -> int:
        """Number of steps."""
        return int(self.rewards.shape[0])

    @property
    def total_return(self) -> float:
        """Sum of rewards."""
        return float(self.rewards.sum())


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
    """

    env_id: str
    label: str
    seed: int
    episodes: list[EpisodeTrace]
    seconds: float
    observation_names: tuple[str, ...] = field(default_factory=tuple)

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
        """Write one row per step (all episodes), atomically.

        Columns: ``episode, step``, each observation channel (the observation
        the command was chosen on), ``command_i``, ``applied_i``, ``reward``,
        ``prediction_error`` (Euclidean norm) and ``prediction_error_i`` per channel.
        """
        names = self.observation_names or tuple(
            f"obs_{i}" for i in range(self.episodes[0].observations.shape[1])
        )
        n_command = self.episodes[0].commands.shape[1] if self.episodes else 0
        header = (
            ["episode", "step", *names]
            + [f"command_{i}" for i in range(n_command)]
            + [f"applied_{i}" for i in range(n_command)]
            + ["reward", "prediction_error"]
            + [f"prediction_error_{i}" for i in range(len(names))]
        )
        with atomic_write(path, "w", newline="") as stream:
            writer = csv.writer(stream)
            writer.writerow(header)
            for number, ep in enumerate(self.episodes):
                norms = np.linalg.norm(ep.prediction_errors, axis=1)
                block = np.column_stack([
                    ep.observations[:-1], ep.commands, ep.applied, ep.rewards, norms,
                    ep.prediction_errors,
                ])
                for step, row in enumerate(block):
                    writer.writerow([number, step, *(f"{v:.6g}" for v in row)])
        return Path(path)

    def plot(self, path=None, channels=None):
        """Plot the controlled channels, the command and the prediction error over time.

        Episodes are laid end to end, separated by dotted lines.

        Parameters
        ----------
        path : str or os.PathLike, optional
            Where to save a PNG; the figure is returned either way.
        channels : sequence of int, optional
            Observation channels to draw, one panel each; by default the first
            two channels with the largest scale of variation, in channel order,
            following the names in ``observation_names``.

        Returns
        -------
        matplotlib.figure.Figure
        """
        try:
            import matplotlib

            if path is not None:
                matplotlib.use("Agg")
            import matplotlib.pyplot as plt
        except ImportError as error:  # pragma: no cover - depends on the extra
            raise ImportError(
                "plotting needs matplotlib: pip install 'cerebellar[plot]'"
            ) from error
        observations = np.vstack([ep.observations[:-1] for ep in self.episodes])
        commands = np.vstack([ep.commands for ep in self.episodes])
        applied = np.vstack([ep.applied for ep in self.episodes])
        errors = np.concatenate([np.linalg.norm(ep.prediction_errors, axis=1) for ep in self.episodes])
        names = self.observation_names or tuple(f"obs[{i}]" for i in range(observations.shape[1]))
        if channels is None:
            channels = _default_channels(names)
        time = np.arange(observations.shape[0])
        panels = len(channels) + 2
        figure, axes = plt.subplots(panels, 1, sharex=True, figsize=(9, 1.9 * panels + 0.6))
        for axis, channel in zip(axes, channels, strict=False):
            axis.plot(time, observations[:, channel], lw=0.8)
            axis.axhline(0.0, color="0.7", lw=0.5)
            axis.set_ylabel(names[channel])
        axis = axes[len(channels)]
        # The applied command (e.g. +-10 N) and the controller's continuous command
        # can differ by orders of magnitude: give each its own axis.
        axis.plot(time, applied[:, 0], lw=0.5, color="0.6")
        axis.set_ylabel("applied", color="0.4")
        twin = axis.twinx()
        twin.plot(time, commands[:, 0], lw=0.8, color="tab:blue")
        twin.set_ylabel("command", color="tab:blue")
        axis = axes[-1]
        axis.semilogy(time, np.maximum(errors, 1e-12), lw=0.6, color="tab:red")
        axis.set_ylabel("|prediction error|")
        axis.set_xlabel("step (episodes end to end)")
        boundaries = np.cumsum(self.lengths)[:-1]
        for axis in axes:
            for boundary in boundaries:
                axis.axvline(boundary, color="0.5", ls=":", lw=0.8)
        axes[0].set_title(f"{self.env_id}, {self.label}, seed {self.seed}: lengths {self.lengths.tolist()}")
        figure.tight_layout()
        if path is not None:
            with atomic_write(path, "wb") as stream:
                figure.savefig(stream, format="png", dpi=110)
        return figure


def _default_channels(names) -> list[int]:
    preferred = [i for i, name in enumerate(names) if "angle" in name and "velocity" not in name]
    preferred += [i for i, name in enumerate(names) if "position" in name]
    if not preferred:
        preferred = list(range(min(2, len(names))))
    return preferred[:3]
