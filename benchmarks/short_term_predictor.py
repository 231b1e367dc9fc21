"""The short-term predictor's speed against channel count, and its accuracy against known answers.

Two tables, printed as Markdown, with the machine noted:

* **Scaling**: steps per second (predict + learn, the median over repeats of
  the rate in each repeat) for 1,000 to 300,000 channels at advance 10, the
  peak memory of building and stepping the predictor (tracemalloc, which sees
  numpy's allocations), the bytes of state touched per step, and the ratio of
  the measured step time to the memory-bandwidth floor (those bytes divided by
  the bandwidth of a large numpy copy measured in the same run).
* **Known answers**: sinusoids of random frequency and phase (exactly
  predictable from two own samples), delayed copies of a sampled channel
  (exactly predictable), a low-dimensional linear latent system observed
  through many noisy channels (whose optimal linear predictor, the
  steady-state Kalman predictor, is computed in closed form from the system
  matrices) and white noise (R2 = 0 at best). Beside the predictor: the
  persistence baseline ``x(t + a) = x(t)`` and a per-channel autoregressive fit
  (least squares of ``x(t + a)`` on the channel's own last lags, fitted on the
  warm-up steps), all scored on the same steps after the warm-up.

Usage::

    python benchmarks/short_term_predictor.py [--sizes 1000 10000 100000 300000] [--repeats 5]
"""

from __future__ import annotations

import argparse
import os
import platform
import time
import tracemalloc
from dataclasses import dataclass

import numpy as np
import scipy.linalg

from cerebellar.predictors import ShortTermPredictor

#: The configurations timed: the defaults, and the one the latent system is scored with.
CONFIGS = {"default": {}, "pooled": {"n_pooled": 16}}


@dataclass(frozen=True)
class Config:
    """What the benchmark runs (the command line's options)."""

    sizes: tuple[int, ...] = (1000, 10000, 100000, 300000)
    advance: int = 10
    steps: int = 50
    repeats: int = 5
    threads: int | None = None
    known_channels: int = 256
    warm_up: int = 2000
    scored_steps: int = 2000
    latent_channels: int = 300
    latent_warm_up: int = 4000
    latent_advances: tuple[int, ...] = (2, 5, 10)
    noise: float = 0.1
    ar_lags: int = 8
    seed: int = 0


# -- the machine -----------------------------------------------------------------------------


def machine() -> str:
    """One line describing the machine and the library versions."""
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    return (f"machine: {platform.machine()}, {os.cpu_count()} cores, {platform.processor() or '?'}, "
            f"Python {platform.python_version()}, numpy {np.__version__}, load average {load:.1f}")


def memory_bandwidth(megabytes: int = 256, repeats: int = 5) -> float:
    """Bytes per second of a large numpy copy (read + write), the best of ``repeats``."""
    source = np.ones(megabytes * 2**20 // 4, dtype=np.float32)
    target = np.empty_like(source)
    best = np.inf
    for _ in range(repeats):
        started = time.perf_counter()
        np.copyto(target, source)
        best = min(best, time.perf_counter() - started)
    return 2 * source.nbytes / best


# -- speed -----------------------------------------------------------------------------------


def bytes_touched_per_step(predictor: ShortTermPredictor) -> int:
    """Bytes of state one step must read or write at least once (its compulsory memory traffic).

    Counts, per channel: the weights (read and written), the context slot of
    ``advance`` steps ago (read, then overwritten with the new one), the window
    of sampled values it was made from and the new window (read), the new
    sampled row (written twice), the running statistics (read and written),
    the pending prediction and context norm (read and written), the source
    indices and the input and output vectors.
    """
    n, h, lags = predictor.n_channels, predictor.history, predictor.sampled_lags
    k = predictor.sources_.shape[1]
    floats = (
        2 * predictor.n_features_  # weights
        + 2 * h  # the context slot
        + 2 * lags * k + 2 * k  # old and new windows, the new row's two copies
        + 2 * (2 + h + h - 1)  # mean, variance, differences and their mean squares
        + 2 * 2 + 2 * lags  # pending prediction and norm, the sampled rows' squares
        + 2 + 2  # input and output, the normalised values (written, gathered)
        + (1 if predictor.pooled_var_.size else 0)  # the pool signs
    )
    return 4 * floats * n + 8 * k * n  # float32 state, int64 indices


def time_steps(n_channels: int, config: Config, settings: dict):
    """Steps per second in each repeat, CPU seconds per step (all threads), and the predictor."""
    rng = np.random.default_rng(config.seed)
    frames = rng.standard_normal((8, n_channels)).astype(np.float32)
    predictor = ShortTermPredictor(n_channels, config.advance, seed=config.seed, n_threads=config.threads,
                                   **settings)
    for index in range(config.advance + 5):  # past the warm-up, so every step learns
        predictor.step(frames[index % 8])
    rates, cpu = [], []
    for _ in range(config.repeats):
        started, started_cpu = time.perf_counter(), time.process_time()
        for index in range(config.steps):
            predictor.step(frames[index % 8])
        rates.append(config.steps / (time.perf_counter() - started))
        cpu.append((time.process_time() - started_cpu) / config.steps)
    return rates, float(np.median(cpu)), predictor


def peak_memory(n_channels: int, config: Config, settings: dict) -> int:
    """Peak bytes numpy allocated while building the predictor and taking a few steps."""
    frames = np.random.default_rng(config.seed).standard_normal((2, n_channels)).astype(np.float32)
    tracemalloc.start()
    try:
        predictor = ShortTermPredictor(n_channels, config.advance, seed=config.seed,
                                       n_threads=config.threads, **settings)
        for index in range(config.advance + 3):
            predictor.step(frames[index % 2])
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return peak


def scaling_table(config: Config) -> list[str]:
    """The scaling table's Markdown lines."""
    bandwidth = memory_bandwidth()
    lines = [f"memory bandwidth (numpy copy of 256 MB, read + write, best of 5): {bandwidth / 1e9:.1f} GB/s",
             "",
             "| config | channels | features | steps/s (median) | min | max | CPU ms/step | peak memory MB "
             "| state touched MB/step | floor steps/s | x floor |",
             "|---|---|---|---|---|---|---|---|---|---|---|"]
    for name, settings in CONFIGS.items():
        for n_channels in config.sizes:
            rates, cpu, predictor = time_steps(n_channels, config, settings)
            touched = bytes_touched_per_step(predictor)
            features = _features(predictor)
            del predictor
            peak = peak_memory(n_channels, config, settings)
            median = float(np.median(rates))
            floor = bandwidth / touched
            lines.append(f"| {name} | {n_channels} | {features} | {median:.1f} | {min(rates):.1f} "
                         f"| {max(rates):.1f} | {cpu * 1e3:.2f} | {peak / 2**20:.0f} | {touched / 2**20:.1f} "
                         f"| {floor:.0f} | {floor / median:.1f} |")
    return lines


def _features(predictor: ShortTermPredictor) -> str:
    """The context's size as ``own + lags x sampled (+ pooled) = total``."""
    text = f"{predictor.history} + {predictor.sampled_lags}x{predictor.sources_.shape[1]}"
    pools = predictor.pooled_var_.size
    if pools:
        text += f" + {pools}"
    return f"{text} = {predictor.n_features_}"


# -- known answers ---------------------------------------------------------------------------


def r2_per_channel(truth: np.ndarray, prediction: np.ndarray) -> np.ndarray:
    """Coefficient of determination of each column."""
    return 1.0 - ((truth - prediction) ** 2).mean(axis=0) / truth.var(axis=0)


def predictor_outputs(signals: np.ndarray, advance: int, seed: int, **settings) -> np.ndarray:
    """The predictor's outputs over the rows of ``signals``."""
    predictor = ShortTermPredictor(signals.shape[1], advance, seed=seed, **settings)
    return np.array([predictor.step(x) for x in signals])


def autoregressive_predictions(signals: np.ndarray, advance: int, lags: int, train: int) -> np.ndarray:
    """Per-channel least squares of ``x(t + advance)`` on ``x(t), ..., x(t - lags + 1), 1``.

    Fitted on the predictions whose targets lie in the first ``train`` steps;
    returns the predictions made at every step from ``lags - 1`` on (NaN before).
    """
    steps, n = signals.shape
    data = signals.astype(np.float64)
    rows = np.arange(lags - 1, steps)
    design = np.stack([data[rows - lag] for lag in range(lags)] + [np.ones((rows.size, n))], axis=-1)
    fit = rows + advance < train
    target = data[rows[fit] + advance]
    gram = np.einsum("tnf,tng->nfg", design[fit], design[fit]) + 1e-9 * np.eye(lags + 1)
    moment = np.einsum("tnf,tn->nf", design[fit], target)
    coefficients = np.linalg.solve(gram, moment[..., None])[..., 0]
    predictions = np.full((steps, n), np.nan)
    predictions[rows] = np.einsum("tnf,nf->tn", design, coefficients)
    return predictions


def scores(signals, outputs, advance: int, warm_up: int, lags: int) -> dict[str, float]:
    """Median R2 over channels of the predictor, persistence and AR, on the steps after ``warm_up``."""
    truth = signals[warm_up + advance:]
    ar = autoregressive_predictions(signals, advance, lags, train=warm_up)
    return {
        "predictor": float(np.median(r2_per_channel(truth, outputs[warm_up:-advance]))),
        "persistence": float(np.median(r2_per_channel(truth, signals[warm_up:-advance]))),
        "ar": float(np.median(r2_per_channel(truth, ar[warm_up:-advance]))),
    }


def sinusoids(n_channels: int, steps: int, rng: np.random.Generator) -> np.ndarray:
    """Sinusoids of random period (20-200 steps), phase, amplitude and offset."""
    frequency = rng.uniform(2 * np.pi / 200, 2 * np.pi / 20, n_channels)
    phase = rng.uniform(0, 2 * np.pi, n_channels)
    amplitude = rng.uniform(0.5, 5.0, n_channels)
    offset = rng.normal(0, 3, n_channels)
    t = np.arange(steps)[:, None]
    return (offset + amplitude * np.sin(frequency * t + phase)).astype(np.float32)


def delayed_copies(n_sources: int, steps: int, advance: int, lags: int, rng: np.random.Generator):
    """White-noise sources and copies of them delayed by ``advance .. advance + lags - 1``.

    Returns the signals (sources first) and a ``sources`` array in which each
    copy samples the channel it copies (and one other channel).
    """
    longest = advance + lags
    noise = rng.standard_normal((steps + longest, n_sources)).astype(np.float32)
    delays = advance + np.arange(n_sources) % lags
    copies = np.stack([noise[longest - d: longest - d + steps, j] for j, d in enumerate(delays)], axis=1)
    n = 2 * n_sources
    sources = np.stack([(np.arange(n) + 1) % n, (np.arange(n) + 7) % n], axis=1)
    sources[n_sources:, 0] = np.arange(n_sources)
    return np.concatenate([noise[longest:], copies], axis=1), sources


@dataclass(frozen=True)
class LatentSystem:
    """``s(t + 1) = A s(t) + w``, ``x(t) = C s(t) + v``, with ``w ~ N(0, Q)`` and ``v ~ N(0, R)``."""

    A: np.ndarray
    C: np.ndarray
    Q: np.ndarray
    R: np.ndarray

    @classmethod
    def oscillators(cls, n_channels: int, noise: float, rng: np.random.Generator) -> LatentSystem:
        """Two damped oscillators (periods 30 and 80 steps) seen through ``n_channels`` random mixtures.

        Each channel's noise variance is ``noise`` times its signal variance.
        """
        blocks = []
        for period, damping in ((30, 0.97), (80, 0.99)):
            angle = 2 * np.pi / period
            rotation = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
            blocks.append(damping * rotation)
        A = scipy.linalg.block_diag(*blocks)
        Q = 0.1 * np.eye(A.shape[0])
        C = rng.normal(size=(n_channels, A.shape[0]))
        signal = np.einsum("ij,jk,ik->i", C, scipy.linalg.solve_discrete_lyapunov(A, Q), C)
        return cls(A=A, C=C, Q=Q, R=np.diag(noise * signal))

    def simulate(self, steps: int, rng: np.random.Generator) -> np.ndarray:
        """Observations of ``steps`` steps from the stationary distribution, float32."""
        stationary = scipy.linalg.solve_discrete_lyapunov(self.A, self.Q)
        state = rng.multivariate_normal(np.zeros(self.A.shape[0]), stationary)
        process = rng.multivariate_normal(np.zeros(self.A.shape[0]), self.Q, size=steps)
        observation_noise = rng.standard_normal((steps, self.C.shape[0])) * np.sqrt(np.diag(self.R))
        observations = np.empty((steps, self.C.shape[0]))
        for t in range(steps):
            observations[t] = self.C @ state
            state = self.A @ state + process[t]
        return (observations + observation_noise).astype(np.float32)

    def kalman(self):
        """Steady-state Kalman gain ``K`` and filtered error covariance ``P(t|t)``."""
        prior = scipy.linalg.solve_discrete_are(self.A.T, self.C.T, self.Q, self.R)
        gain = prior @ self.C.T @ np.linalg.inv(self.C @ prior @ self.C.T + self.R)
        return gain, prior - gain @ self.C @ prior

    def optimal_r2(self, advance: int) -> np.ndarray:
        """Each channel's R2 under the optimal linear predictor ``C A^a s(t|t)``, in closed form."""
        _, filtered = self.kalman()
        power = np.linalg.matrix_power(self.A, advance)
        error = power @ filtered @ power.T
        for lag in range(advance):
            step = np.linalg.matrix_power(self.A, lag)
            error += step @ self.Q @ step.T
        stationary = scipy.linalg.solve_discrete_lyapunov(self.A, self.Q)
        error_variance = np.einsum("ij,jk,ik->i", self.C, error, self.C) + np.diag(self.R)
        variance = np.einsum("ij,jk,ik->i", self.C, stationary, self.C) + np.diag(self.R)
        return 1.0 - error_variance / variance

    def optimal_predictions(self, observations: np.ndarray, advance: int) -> np.ndarray:
        """The steady-state Kalman predictor run on ``observations``: row t predicts row t + advance."""
        gain, _ = self.kalman()
        power = self.C @ np.linalg.matrix_power(self.A, advance)
        estimate = np.zeros(self.A.shape[0])
        predictions = np.empty(observations.shape)
        for t, observation in enumerate(observations.astype(np.float64)):
            estimate = estimate + gain @ (observation - self.C @ estimate)  # s(t|t)
            predictions[t] = power @ estimate
            estimate = self.A @ estimate  # s(t+1|t)
        return predictions


def known_answer_table(config: Config) -> list[str]:
    """The known-answer table's Markdown lines."""
    rng = np.random.default_rng(config.seed)
    lines = ["| signals | advance | predictor R2 | optimum R2 | persistence R2 | AR R2 | settings |",
             "|---|---|---|---|---|---|---|"]
    warm, steps = config.warm_up, config.warm_up + config.scored_steps

    def row(name, advance, result, optimum, settings):
        text = ", ".join(f"{key}={value}" for key, value in settings.items()) or "defaults"
        lines.append(f"| {name} | {advance} | {result['predictor']:.3f} | {optimum} | "
                     f"{result['persistence']:.3f} | {result['ar']:.3f} | {text} |")

    for advance in (5, 10):
        signals = sinusoids(config.known_channels, steps, rng)
        outputs = predictor_outputs(signals, advance, config.seed)
        row("sinusoids", advance, scores(signals, outputs, advance, warm, config.ar_lags), "1", {})
    advance, lags = 5, 3
    signals, sources = delayed_copies(config.known_channels // 2, steps, advance, lags, rng)
    outputs = predictor_outputs(signals, advance, config.seed, sources=sources)
    half = config.known_channels // 2
    result = scores(signals[:, half:], outputs[:, half:], advance, warm, config.ar_lags)
    row(f"delayed copies (delays {advance}-{advance + lags - 1})", advance, result, "1", {"sources": "given"})
    system = LatentSystem.oscillators(config.latent_channels, config.noise, rng)
    latent_steps = 2 * config.latent_warm_up
    observations = system.simulate(latent_steps, rng)
    for advance in config.latent_advances:
        kalman = system.optimal_predictions(observations, advance)
        empirical = np.median(r2_per_channel(observations[config.latent_warm_up + advance:],
                                             kalman[config.latent_warm_up:-advance]))
        optimum = f"{np.median(system.optimal_r2(advance)):.3f} (run: {empirical:.3f})"
        for settings in (CONFIGS["pooled"], CONFIGS["default"]):
            outputs = predictor_outputs(observations, advance, config.seed, **settings)
            result = scores(observations, outputs, advance, config.latent_warm_up, config.ar_lags)
            row(f"latent system, 4 states, {config.latent_channels} channels, noise {config.noise:g}",
                advance, result, optimum, settings)
    signals = rng.standard_normal((steps, config.known_channels)).astype(np.float32)
    outputs = predictor_outputs(signals, config.advance, config.seed)
    result = scores(signals, outputs, config.advance, warm, config.ar_lags)
    row("white noise", config.advance, result, "0", {})
    return lines


def main(argv=None) -> None:
    """Run the benchmark and print both tables (``argv``: the arguments, default the command line)."""
    defaults = Config()
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=list(defaults.sizes))
    parser.add_argument("--steps", type=int, default=defaults.steps, help="steps per timed repeat")
    parser.add_argument("--repeats", type=int, default=defaults.repeats)
    parser.add_argument("--threads", type=int, default=None, help="threads (default min(2, cores))")
    parser.add_argument("--warm-up", type=int, default=defaults.warm_up)
    parser.add_argument("--scored-steps", type=int, default=defaults.scored_steps)
    parser.add_argument("--latent-warm-up", type=int, default=defaults.latent_warm_up)
    parser.add_argument("--latent-advances", type=int, nargs="+", default=list(defaults.latent_advances))
    parser.add_argument("--skip-known", action="store_true", help="print the scaling table only")
    args = parser.parse_args(argv)
    config = Config(sizes=tuple(args.sizes), steps=args.steps, repeats=args.repeats, threads=args.threads,
                    warm_up=args.warm_up, scored_steps=args.scored_steps,
                    latent_warm_up=args.latent_warm_up, latent_advances=tuple(args.latent_advances))
    print(machine())
    print(f"advance {config.advance}; {config.steps} steps x {config.repeats} repeats per size; "
          f"threads {config.threads or 'default'}")
    print()
    print("### Scaling")
    print("\n".join(scaling_table(config)))
    if not args.skip_known:
        print()
        print(f"### Known answers (median R2 over channels, scored after a warm-up of {config.warm_up} "
              f"steps; latent system after {config.latent_warm_up})")
        print("\n".join(known_answer_table(config)))


if __name__ == "__main__":
    main()
