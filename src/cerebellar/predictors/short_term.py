"""The short-term predictor: every channel learns to emit its own value ``advance`` steps early.

The second theory of the cerebellum in the source material: it watches a very
large number of signals and learns to emit each of them a fraction of a second
before it arrives, trained when the real signal comes in. Here each channel is
one Purkinje-like linear unit reading a small cerebellar context:

* a granule-like temporal expansion of the channel's **own recent history**:
  the channel's normalised value and its successive differences (orders
  ``0 .. history - 1``), each whitened by its running mean square, so that the
  features are nearly uncorrelated for smooth signals and a normalised LMS
  readout converges in a few hundred steps instead of the thousands that raw,
  highly correlated lags would need;
* **mossy fibres from other channels**: ``n_sampled`` other channels drawn at
  random (or given as ``sources``), each at lags ``0 .. sampled_lags - 1``, so
  that a channel that is a delayed copy of a sampled channel with a delay
  between ``advance`` and ``advance + sampled_lags - 1`` is exactly predictable;
* optionally ``n_pooled`` **pooled mossy fibres** shared by all channels: each
  channel feeds one of them with a random sign, so each is a random projection
  of the whole population. A low-dimensional latent state that drives many
  noisy channels is seen in them almost free of noise, which a few sampled
  channels cannot give.

The readout is learned by a normalised LMS rule driven by a climbing-fibre
error that arrives ``advance`` steps late: when ``x(t)`` arrives, the
prediction made at ``t - advance`` is scored against it, and the context it was
made from (kept in a ring buffer of ``advance`` contexts) is moved along the
error. Memory is bounded and every step costs a fixed number of passes over
arrays of ``n_channels x n_features`` float32; there is no Python loop over
channels, only over cache-sized chunks of them, which two threads can share
(numpy releases the GIL inside its loops).
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from .._io import CheckpointError, load_checkpoint, save_checkpoint
from .._validation import check_in_range, check_integer, check_positive, check_seed

#: Largest accepted ``|x|``: the running variances form squares in float32 (max 3.4e38).
MAX_ABS_INPUT = 1e15
_TINY = np.float32(1e-30)  # keeps a constant channel's normalised value at 0, not NaN
_NLMS_EPS = np.float32(1e-6)
_DTYPE = np.float32


def _sample_sources(n_channels: int, k: int, rng: np.random.Generator) -> np.ndarray:
    """Return ``(n_channels, k)`` indices of other channels (never the channel itself).

    Populations of up to 512 draw ``k`` distinct others per channel; larger ones draw
    independently (a repeated source then has probability about ``k**2 / n``).
    """
    if k == 0:
        return np.zeros((n_channels, 0), dtype=np.int64)
    if n_channels <= 512:
        keys = rng.random((n_channels, n_channels - 1))
        offsets = np.argsort(keys, axis=1)[:, :k] + 1
    else:
        offsets = rng.integers(1, n_channels, size=(n_channels, k))
    return ((np.arange(n_channels)[:, None] + offsets) % n_channels).astype(np.int64)


class ShortTermPredictor:
    """Predict every channel ``advance`` steps ahead, learning online from the delayed truth.

    Parameters
    ----------
    n_channels : int
        Number of channels (signals) watched and predicted.
    advance : int
        How many steps ahead each prediction is made (>= 1).
    seed : int or None
        Seeds the random choice of sampled channels; the only randomness.
    history : int
        Length of the own-history expansion: the channel's value and its
        differences of orders ``1 .. history - 1`` (>= 1). Two suffice for a
        sinusoid; three also capture a slowly varying mean or a damped mode.
    n_sampled : int
        How many other channels each channel samples as mossy-fibre input; at
        most ``n_channels - 1`` are used. Ignored when ``sources`` is given.
    sources : array_like of int, shape (n_channels, k), optional
        Explicit mossy-fibre sources: row ``i`` lists the channels channel
        ``i`` samples (any index in range, itself included if wanted).
    sampled_lags : int
        Each sampled channel enters at lags ``0 .. sampled_lags - 1`` (>= 1).
    n_pooled : int
        Pooled mossy fibres (0 for none); at most ``n_channels`` are used.
        Channel ``i`` feeds pool ``i % n_pooled`` with a random sign of the seed.
    learning_rate : float
        Step size of the normalised LMS readout, in (0, 1]. Larger learns
        faster and fluctuates more: on unpredictable channels the excess
        error is about ``learning_rate / 2`` of the signal's variance. The
        error arrives ``advance`` steps late, which makes large steps unstable:
        keep ``learning_rate * advance`` below about 1.
    stats_time : float
        Time constant, in steps, of the running means and mean squares that
        normalise each channel and feature (a plain average until then).
    chunk_size : int
        Channels processed together: large enough that numpy's per-call cost
        is small, small enough that a chunk's weights stay in a core's cache
        (12 features x 32,768 channels x 4 bytes = 1.5 MB).
    n_threads : int or None
        Threads sharing the chunks; None uses ``min(2, os.cpu_count())``. The
        outputs do not depend on it.

    Attributes
    ----------
    sources_ : numpy.ndarray of int, shape (n_channels, k)
        The channels each channel samples.
    weights_ : numpy.ndarray of float32, shape (n_features, n_channels)
        The readout: rows ``0 .. history - 1`` weigh the own-history features,
        the next ``sampled_lags * k`` rows the sampled channels (oldest lag first),
        the last ``n_pooled`` rows the pooled mossy fibres.
    n_steps_ : int
        Steps seen in total (they set the normalising averages' weights).
    episode_steps_ : int
        Steps seen since the last :meth:`reset`.

    Notes
    -----
    Each call of :meth:`step` with ``x(t)``:

    1. updates the channel's running mean and variance and normalises
       ``x(t)`` to ``m(t)``;
    2. scores the prediction made at ``t - advance`` against ``m(t)`` and moves
       its weights along that context by ``learning_rate * error / |context|^2``
       (learning starts once a context was built from a full history);
    3. builds the new context and returns ``mean + std * (weights . context)``.

    Examples
    --------
    >>> import numpy as np
    >>> from cerebellar.predictors import ShortTermPredictor
    >>> predictor = ShortTermPredictor(n_channels=3, advance=2, n_sampled=1)
    >>> t = np.arange(600)
    >>> signals = np.sin(0.2 * t[:, None] + np.arange(3))
    >>> predictions = np.array([predictor.step(x) for x in signals])
    >>> bool(np.abs(predictions[-100:-2] - signals[-98:]).max() < 0.05)
    True
    """

    def __init__(
        self,
        n_channels: int,
        advance: int,
        seed: int | None = 0,
        *,
        history: int = 3,
        n_sampled: int = 3,
        sources=None,
        sampled_lags: int = 3,
        n_pooled: int = 0,
        learning_rate: float = 0.02,
        stats_time: float = 1000.0,
        chunk_size: int = 32768,
        n_threads: int | None = None,
    ):
        self.n_channels = n_channels
        self.advance = advance
        self.seed = seed
        self.history = history
        self.n_sampled = n_sampled
        self.sources = sources
        self.sampled_lags = sampled_lags
        self.n_pooled = n_pooled
        self.learning_rate = learning_rate
        self.stats_time = stats_time
        self.chunk_size = chunk_size
        self.n_threads = n_threads
        self._allocate()  # the state's size is fixed by n_channels: built now, not on the first step

    # -- set-up ------------------------------------------------------------------------------
    def _check_params(self) -> None:
        check_integer(self.n_channels, "n_channels", minimum=1)
        check_integer(self.advance, "advance", minimum=1)
        check_seed(self.seed)
        check_integer(self.history, "history", minimum=1)
        check_integer(self.n_sampled, "n_sampled", minimum=0)
        check_integer(self.sampled_lags, "sampled_lags", minimum=1)
        check_integer(self.n_pooled, "n_pooled", minimum=0)
        check_in_range(self.learning_rate, "learning_rate", 0.0, 1.0)
        check_positive(self.stats_time, "stats_time")
        if self.stats_time < 1:
            raise ValueError(f"stats_time must be at least 1 step, got {self.stats_time}")
        check_integer(self.chunk_size, "chunk_size", minimum=1)
        if self.n_threads is not None:
            check_integer(self.n_threads, "n_threads", minimum=1)

    def _check_sources(self, sources) -> np.ndarray:
        try:
            array = np.asarray(sources)
        except (TypeError, ValueError) as error:
            raise ValueError(f"sources must be an integer array, got {sources!r}") from error
        if array.ndim != 2 or array.shape[0] != self.n_channels:
            raise ValueError(f"sources must have shape (n_channels={self.n_channels}, k), "
                             f"got shape {array.shape}")
        if array.size and array.dtype.kind not in "iu":
            raise ValueError(f"sources must hold integer channel indices, got dtype {array.dtype}")
        if array.size and (array.min() < 0 or array.max() >= self.n_channels):
            raise ValueError(f"sources must be channel indices in [0, {self.n_channels}), "
                             f"got values from {array.min()} to {array.max()}")
        return array.astype(np.int64)

    def _allocate(self) -> None:
        self._check_params()
        n = self.n_channels
        rng = np.random.default_rng(self.seed)
        if self.sources is None:
            self.sources_ = _sample_sources(n, min(self.n_sampled, n - 1), rng)
        else:
            self.sources_ = self._check_sources(self.sources)
        k = self.sources_.shape[1]
        pools = min(self.n_pooled, n)
        self.pool_sign_ = np.where(rng.random(n) < 0.5, -1.0, 1.0).astype(_DTYPE)
        members = np.bincount(np.arange(n) % pools, minlength=pools) if pools else np.zeros(0)
        self._pool_scale = (1.0 / np.sqrt(np.maximum(members, 1))).astype(_DTYPE)
        self.pooled_var_ = np.zeros(pools, dtype=_DTYPE)
        self.n_features_ = self.history + self.sampled_lags * k + pools
        self.weights_ = np.zeros((self.n_features_, n), dtype=_DTYPE)
        self.mean_ = np.zeros(n, dtype=_DTYPE)
        self.var_ = np.zeros(n, dtype=_DTYPE)
        self.diff_var_ = np.zeros((self.history - 1, n), dtype=_DTYPE)
        self.n_steps_ = 0
        self._index = np.ascontiguousarray(self.sources_.T.astype(np.intp))  # (k, n) for chunked gathers
        self._forget()
        self._chunks = [slice(start, min(start + self.chunk_size, n))
                        for start in range(0, n, self.chunk_size)]
        self._executor = None

    def _forget(self) -> None:
        """Zero the history: differences, context rings, sampled-value rings, pending predictions."""
        n, k, a = self.n_channels, self.sources_.shape[1], self.advance
        self.episode_steps_ = 0
        self.diff_ = np.zeros((self.history, n), dtype=_DTYPE)
        self.contexts_ = np.zeros((a, self.history, n), dtype=_DTYPE)
        self.context_sq_ = np.zeros((a, n), dtype=_DTYPE)
        self.predictions_ = np.zeros((a, n), dtype=_DTYPE)
        # The sampled values of the last advance + sampled_lags steps, each written twice
        # (rows r and r + period) so that any window of sampled_lags rows is one slice.
        self._period = a + self.sampled_lags
        self.sampled_ = np.zeros((2 * self._period, k, n), dtype=_DTYPE)
        self.sampled_sq_ = np.zeros((self._period, n), dtype=_DTYPE)
        self.pooled_ = np.zeros((a, self.pooled_var_.shape[0]), dtype=_DTYPE)

    # -- public protocol -----------------------------------------------------------------------
    def reset(self) -> None:
        """Forget the history (start of a new episode); keep the weights and normalisation."""
        self._forget()

    def step(self, x) -> np.ndarray:
        """Take in every channel's current value; learn; return the predictions ``advance`` ahead.

        Parameters
        ----------
        x : array_like, shape (n_channels,)
            The current value of every channel.

        Returns
        -------
        numpy.ndarray of float32, shape (n_channels,)
            The prediction, made now, of each channel's value ``advance`` steps ahead.

        Raises
        ------
        ValueError
            If ``x`` has the wrong shape, holds NaN or infinite values, or
            values beyond :data:`MAX_ABS_INPUT`; the predictor is unchanged.
        """
        x = self._check_input(x)
        t = self.episode_steps_
        rate = _DTYPE(max(1.0 / (self.n_steps_ + 1), 1.0 / self.stats_time))
        slot = t % self.advance
        learn = t - self.advance >= max(self.history, self.sampled_lags) - 1
        normalised = np.empty(self.n_channels, dtype=_DTYPE)
        output = np.empty(self.n_channels, dtype=_DTYPE)
        self._map(lambda chunk: self._normalise(chunk, x, rate, normalised))
        pooled = self._pooled(normalised, rate)
        self._map(lambda chunk: self._learn_and_predict(chunk, t, slot, learn, rate, normalised, pooled,
                                                        output))
        self.pooled_[slot] = pooled
        self.episode_steps_ = t + 1
        self.n_steps_ += 1
        return output

    # -- the step, one chunk of channels at a time -----------------------------------------------
    def _map(self, function) -> None:
        threads = self.n_threads if self.n_threads is not None else min(2, os.cpu_count() or 1)
        if threads == 1 or len(self._chunks) == 1:
            for chunk in self._chunks:
                function(chunk)
            return
        if self._executor is None or self._executor._max_workers != threads:
            self._executor = ThreadPoolExecutor(max_workers=threads)
        groups = np.array_split(np.arange(len(self._chunks)), threads)

        def run(group):
            for index in group:
                function(self._chunks[index])

        for future in [self._executor.submit(run, group) for group in groups if len(group)]:
            future.result()

    def _normalise(self, chunk: slice, x: np.ndarray, rate, normalised: np.ndarray) -> None:
        mean, var = self.mean_[chunk], self.var_[chunk]
        delta = x[chunk] - mean
        mean += rate * delta
        # Exponentially weighted variance (West's update): var <- (1 - r)(var + r delta^2).
        var += rate * delta * delta
        var *= 1 - rate
        out = normalised[chunk]
        np.subtract(x[chunk], mean, out=out)
        out /= np.sqrt(var) + _TINY

    def _pooled(self, normalised: np.ndarray, rate) -> np.ndarray:
        """Return the pooled mossy fibres now: signed sums of channels ``i % n_pooled``, whitened."""
        pools = self.pooled_var_.shape[0]
        if pools == 0:
            return np.zeros(0, dtype=_DTYPE)
        signed = normalised * self.pool_sign_
        whole = signed.shape[0] // pools * pools
        sums = signed[:whole].reshape(-1, pools).sum(axis=0, dtype=np.float64)
        sums[: signed.shape[0] - whole] += signed[whole:]
        values = sums.astype(_DTYPE) * self._pool_scale
        self.pooled_var_ += rate * (values * values - self.pooled_var_)
        return values / (np.sqrt(self.pooled_var_) + _TINY)

    def _learn_and_predict(self, chunk, t, slot, learn, rate, normalised, pooled, output) -> None:
        a, lags, period, h = self.advance, self.sampled_lags, self._period, self.history
        sampled_end = h + lags * self._index.shape[0]
        m = normalised[chunk]
        weights = self.weights_[:, chunk]
        if learn:
            # The climbing-fibre signal: the truth that just arrived minus the prediction made
            # advance steps ago, applied to the context that prediction was made from.
            gain = m - self.predictions_[slot, chunk]
            gain *= self.learning_rate / (self.context_sq_[slot, chunk] + _NLMS_EPS)
            weights[:h] += self.contexts_[slot][:, chunk] * gain
            old = (t - a) % period + period
            window = self.sampled_[old - lags + 1: old + 1, :, chunk].reshape(-1, m.shape[0])
            weights[h:sampled_end] += window * gain
            if pooled.size:
                weights[sampled_end:] += np.multiply.outer(self.pooled_[slot], gain)
        # The new context: own differences, whitened.
        diff = self.diff_[:, chunk]
        context = self.contexts_[slot][:, chunk]
        previous = diff[0].copy()
        diff[0] = m
        for order in range(1, h):
            current = diff[order - 1] - previous  # this step's difference of the order below
            previous = diff[order].copy()
            diff[order] = current
            var = self.diff_var_[order - 1, chunk]
            var += rate * (current * current - var)
            np.divide(current, np.sqrt(var) + _TINY, out=context[order])
        context[0] = m
        square = np.einsum("fn,fn->n", context, context)
        self.context_sq_[slot, chunk] = square
        # The sampled channels' values now, into both copies of the ring row.
        row = t % period
        k = self._index.shape[0]
        if k:
            sampled = normalised[self._index[:, chunk]]  # fancy indexing gathers faster than take
            self.sampled_[row, :, chunk] = sampled
            self.sampled_[row + period, :, chunk] = sampled
            self.sampled_sq_[row, chunk] = np.einsum("kn,kn->n", sampled, sampled)
            rows = [(t - lag) % period for lag in range(lags)]
            self.context_sq_[slot, chunk] += self.sampled_sq_[rows, chunk].sum(axis=0)
        if pooled.size:
            self.context_sq_[slot, chunk] += pooled @ pooled
        prediction = np.einsum("fn,fn->n", weights[:h], context)
        if k:
            now = row + period
            window = self.sampled_[now - lags + 1: now + 1, :, chunk].reshape(-1, m.shape[0])
            prediction += np.einsum("fn,fn->n", weights[h:sampled_end], window)
        if pooled.size:
            # einsum, not matmul: BLAS would start threads of its own inside each chunk's thread.
            prediction += np.einsum("p,pn->n", pooled, weights[sampled_end:])
        self.predictions_[slot, chunk] = prediction
        np.multiply(np.sqrt(self.var_[chunk]), prediction, out=output[chunk])
        output[chunk] += self.mean_[chunk]

    def _check_input(self, x) -> np.ndarray:
        try:
            array = np.asarray(x)
        except (TypeError, ValueError) as error:
            raise ValueError(f"x must be a vector of {self.n_channels} numbers, got {x!r}") from error
        if array.shape != (self.n_channels,):
            raise ValueError(f"x must have shape ({self.n_channels},), got shape {array.shape}")
        if array.dtype.kind not in "biuf":
            raise ValueError(f"x must hold real numbers, got dtype {array.dtype}")
        with np.errstate(over="ignore", invalid="ignore"):
            values = array.astype(_DTYPE, copy=False)
        low, high = float(values.min()), float(values.max())
        if not (-MAX_ABS_INPUT <= low and high <= MAX_ABS_INPUT):
            bad = np.flatnonzero(~np.isfinite(values))
            if bad.size:
                raise ValueError(f"x contains NaN or infinite values at channels {bad[:10].tolist()}")
            worst = int(np.argmax(np.abs(values)))
            raise ValueError(f"x is too large at channel {worst} ({values[worst]:.3g}); values are "
                             f"limited to |x| <= {MAX_ABS_INPUT:.0e} so that running variances stay finite")
        return values

    # -- checkpoints -----------------------------------------------------------------------------
    def get_params(self) -> dict:
        """Return the hyperparameters as a dict (``sources`` as a nested list, if given)."""
        sources = None if self.sources is None else np.asarray(self.sources).tolist()
        return {
            "n_channels": self.n_channels, "advance": self.advance, "seed": self.seed,
            "history": self.history, "n_sampled": self.n_sampled, "sources": sources,
            "sampled_lags": self.sampled_lags, "n_pooled": self.n_pooled,
            "learning_rate": self.learning_rate,
            "stats_time": self.stats_time, "chunk_size": self.chunk_size, "n_threads": self.n_threads,
        }

    _STATE = ("weights_", "mean_", "var_", "diff_var_", "diff_", "contexts_", "context_sq_",
              "predictions_", "sampled_", "sampled_sq_", "pooled_var_", "pooled_", "pool_sign_")
    _MEAN_SQUARES = ("var_", "diff_var_", "context_sq_", "sampled_sq_", "pooled_var_")

    def save(self, path):
        """Save hyperparameters, learned state and history to an ``.npz`` file, atomically.

        The sources are stored as an array (not in the JSON header), so a
        checkpoint of 300,000 channels stays compact.

        Returns
        -------
        pathlib.Path
            The path written (``.npz`` appended when missing).
        """
        params = self.get_params()
        params["sources"] = None
        arrays = {name: getattr(self, name) for name in self._STATE}
        arrays["sources_"] = self.sources_
        arrays["explicit_sources"] = np.array(self.sources is not None)
        arrays["steps"] = np.array([self.n_steps_, self.episode_steps_], dtype=np.int64)
        return save_checkpoint(path, type(self).__name__, params, arrays)

    @classmethod
    def load(cls, path):
        """Load a predictor saved with :meth:`save`; its next outputs equal the saved one's.

        Raises
        ------
        CheckpointError
            If the file is missing, corrupt, of another kind, or its arrays do
            not match its hyperparameters.
        """
        kind, params, arrays = load_checkpoint(path)
        if kind != cls.__name__:
            raise CheckpointError(f"{path} holds a {kind}, not a {cls.__name__}")
        try:
            params["sources"] = arrays.pop("sources_")
            explicit = bool(arrays.pop("explicit_sources"))
            predictor = cls(**params)
            steps = arrays.pop("steps")
            if steps.shape != (2,) or steps.min() < 0:
                raise ValueError(f"steps must be two non-negative counts, got {steps}")
            for name in cls._STATE:
                stored, expected = arrays[name], getattr(predictor, name)
                if stored.shape != expected.shape:
                    raise ValueError(f"{name} has shape {stored.shape}, expected {expected.shape}")
                if name in cls._MEAN_SQUARES and stored.min(initial=0) < 0:
                    raise ValueError(f"{name} holds negative mean squares")
                setattr(predictor, name, stored.astype(_DTYPE))
        except (KeyError, TypeError, ValueError) as error:
            raise CheckpointError(f"checkpoint {path} is incomplete or inconsistent: {error}") from error
        if not explicit:
            predictor.sources = None  # drawn from the seed, as in the saved predictor
        predictor.n_steps_, predictor.episode_steps_ = (int(value) for value in steps)
        return predictor

    def __getstate__(self):
        state = dict(self.__dict__)
        state["_executor"] = None  # threads are not copied
        return state

    def __del__(self):
        executor = self.__dict__.get("_executor")
        if executor is not None:
            executor.shutdown(wait=False)

