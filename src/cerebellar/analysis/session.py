"""Recorded populations as data: one session of trials x time bins x cells.

A :class:`Session` holds what the analyses need from a recording, whether it
came from this library's simulations or from a laboratory: binned rates (or
spike counts) of each population, per-trial conditions (at least the target
direction, which groups trials for leave-one-direction-out cross-validation),
optional behavioural or plant signals on the same bins, and free metadata.

Two file formats, both documented in ``docs/guide/state-predictor.md``:

``.npz`` (:meth:`Session.save_npz`, :meth:`Session.load_npz`)
    One archive of plain arrays, read with ``allow_pickle=False``::

        __format__            "cerebellar-session-v1"
        bin_ms                float scalar
        __metadata__          JSON text (an object)
        population/<name>     (trials, bins, cells) float64
        condition/<name>      (trials,) int64 or float64
        signal/<name>         (trials, bins, k) float64

``.nwb`` (:meth:`Session.to_nwb`, :meth:`Session.from_nwb`; needs ``pynwb``)
    Trials are the file's trials table (``start_time``, ``stop_time`` and one
    column per condition); trial ``i`` of ``bins`` bins spans
    ``[i * bins * bin_ms, (i + 1) * bins * bin_ms)`` ms when written here. Each
    population is a :class:`pynwb.TimeSeries` of shape (time bins, cells) in
    the processing module ``populations``, each signal one in the module
    ``signals``; the bin width is the series' rate (or the spacing of its
    timestamps). The metadata is JSON in the file's ``notes``. A recording
    whose binned series have gaps between trials loads too, as long as every
    trial holds the same number of bins.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from .._io import atomic_write
from .._validation import check_path, check_positive

FORMAT_TAG = "cerebellar-session-v1"
#: Processing-module names of an NWB file that hold the populations and the signals.
NWB_POPULATIONS = "populations"
NWB_SIGNALS = "signals"
_NWB_HINT = "pip install 'cerebellar[nwb]'"


def _check_name(name, what: str) -> str:
    if not isinstance(name, str) or not name or "/" in name or name.startswith("__"):
        raise ValueError(f"{what} names must be non-empty strings without '/' or a leading '__', "
                         f"got {name!r}")
    return name


def _finite_array(value, name: str, ndim: int) -> np.ndarray:
    try:
        array = np.array(value, dtype=np.float64)  # a copy: the session never aliases its inputs
    except (TypeError, ValueError) as error:
        raise ValueError(f"{name} must be an array of numbers: {error}") from error
    if array.ndim != ndim:
        raise ValueError(f"{name} must have {ndim} dimensions, got shape {array.shape}")
    if not np.all(np.isfinite(array)):
        where = np.argwhere(~np.isfinite(array))[0].tolist()
        raise ValueError(f"{name} contains NaN or infinite values (first at index {where})")
    return array


def _condition_array(value, name: str, trials: int) -> np.ndarray:
    array = np.asarray(value)
    if array.dtype.kind not in "biuf":
        raise ValueError(f"condition {name!r} must hold numbers, got dtype {array.dtype}")
    if array.shape != (trials,):
        raise ValueError(f"condition {name!r} must have shape ({trials},) (one value per trial), "
                         f"got {array.shape}")
    if array.dtype.kind in "biu":
        return array.astype(np.int64)
    array = array.astype(np.float64)
    if not np.all(np.isfinite(array)):
        raise ValueError(f"condition {name!r} contains NaN or infinite values")
    return array


@dataclass
class Session:
    """Binned activity of several populations over trials, with the trials' conditions.

    Parameters
    ----------
    populations : dict of str to numpy.ndarray
        Population name to an array of shape (trials, bins, cells): rates in Hz
        or spike counts per bin. The state-predictor analysis uses ``"mossy"``,
        ``"purkinje"`` and ``"dentate"``. Every population has the same trials
        and bins; cell counts may differ.
    bin_ms : float
        Width of one time bin, in milliseconds.
    conditions : dict of str to numpy.ndarray
        Per-trial values, each of shape (trials,). ``"target"`` (the integer
        index of the target direction) is required: it groups the trials for
        leave-one-direction-out cross-validation. Optional: ``"go_bin"``,
        ``"arrival_bin"`` (bin indices of the go cue and of arrival).
    signals : dict of str to numpy.ndarray, optional
        Behavioural or plant signals on the same bins, each (trials, bins, k),
        e.g. ``"observation"`` (the delayed senses), ``"command"`` (the motor
        command), ``"state"`` (the true state). A (trials, bins) array is taken
        as k = 1.
    metadata : dict, optional
        JSON-serialisable facts about the session (e.g. ``delay_ms``,
        ``noise_sigma``, ``model``, ``seed``, ``spikes``).

    Raises
    ------
    ValueError
        If an array has the wrong number of dimensions, the populations, signals
        and conditions disagree on trials or bins, a value is NaN or infinite,
        ``"target"`` is missing or not integer-valued, or the metadata is not
        plain JSON.

    Notes
    -----
    Arrays are copied in (float64 for activity and signals; int64 or float64
    for conditions), so changing the arrays passed in later does not change
    the session.
    """

    populations: dict[str, np.ndarray]
    bin_ms: float
    conditions: dict[str, np.ndarray]
    signals: dict[str, np.ndarray] = field(default_factory=dict)
    metadata: dict = field(default_factory=dict)

    def __post_init__(self):
        if not isinstance(self.populations, dict) or not self.populations:
            raise ValueError("populations must be a non-empty dict of name -> (trials, bins, cells) array")
        populations = {}
        for name, value in self.populations.items():
            _check_name(name, "population")
            array = _finite_array(value, f"population {name!r}", 3)
            if 0 in array.shape:
                raise ValueError(f"population {name!r} is empty: shape {array.shape}")
            populations[name] = array
        shapes = {name: array.shape[:2] for name, array in populations.items()}
        if len(set(shapes.values())) != 1:
            listed = ", ".join(f"{name}: {trials} trials x {bins} bins"
                               for name, (trials, bins) in shapes.items())
            raise ValueError(f"populations disagree on trials and bins ({listed})")
        trials, bins = next(iter(shapes.values()))
        self.populations = populations
        self.bin_ms = check_positive(self.bin_ms, "bin_ms")

        if not isinstance(self.conditions, dict) or "target" not in self.conditions:
            raise ValueError("conditions must be a dict holding at least 'target' "
                             "(the target direction of each trial)")
        conditions = {}
        for name, value in self.conditions.items():
            _check_name(name, "condition")
            conditions[name] = _condition_array(value, name, trials)
        target = conditions["target"]
        if target.dtype.kind == "f":
            if not np.all(target == np.round(target)):
                raise ValueError("condition 'target' must hold integer direction indices")
            conditions["target"] = target.astype(np.int64)
        self.conditions = conditions

        if not isinstance(self.signals, dict):
            raise ValueError("signals must be a dict of name -> (trials, bins, k) array")
        signals = {}
        for name, value in self.signals.items():
            _check_name(name, "signal")
            array = np.asarray(value)
            if array.ndim == 2:
                array = array[:, :, None]
            array = _finite_array(array, f"signal {name!r}", 3)
            if array.shape[:2] != (trials, bins):
                raise ValueError(f"signal {name!r} has {array.shape[0]} trials x {array.shape[1]} bins; "
                                 f"the populations have {trials} x {bins}")
            signals[name] = array
        self.signals = signals

        if not isinstance(self.metadata, dict):
            raise ValueError(f"metadata must be a dict, got {type(self.metadata).__name__}")
        try:
            self.metadata = json.loads(json.dumps(self.metadata, allow_nan=False))
        except (TypeError, ValueError) as error:
            raise ValueError(f"metadata must be plain JSON values: {error}") from error

    # -- shape ---------------------------------------------------------------------------

    @property
    def n_trials(self) -> int:
        """Number of trials."""
        return next(iter(self.populations.values())).shape[0]

    @property
    def n_bins(self) -> int:
        """Number of time bins per trial."""
        return next(iter(self.populations.values())).shape[1]

    @property
    def targets(self) -> np.ndarray:
        """The target direction of each trial, shape (trials,)."""
        return self.conditions["target"]

    @property
    def times_ms(self) -> np.ndarray:
        """Start time of each bin from the start of its trial, in milliseconds."""
        return np.arange(self.n_bins) * self.bin_ms

    def with_population(self, name: str, activity) -> Session:
        """Return a copy of the session with population ``name`` replaced (or added)."""
        populations = dict(self.populations)
        populations[name] = activity
        return replace(self, populations=populations)

    @classmethod
    def concatenate(cls, sessions: list[Session]) -> Session:
        """Join sessions of the same populations, bins and conditions trial after trial.

        The metadata is the first session's, with ``"sessions"`` set to how many were joined.

        Raises
        ------
        ValueError
            If the list is empty or the sessions differ in bin width, names or cell counts.
        """
        sessions = list(sessions)
        if not sessions:
            raise ValueError("concatenate needs at least one session")
        first = sessions[0]
        for other in sessions[1:]:
            if other.bin_ms != first.bin_ms:
                raise ValueError(f"sessions differ in bin_ms ({first.bin_ms} and {other.bin_ms})")
            for kind in ("populations", "conditions", "signals"):
                if set(getattr(other, kind)) != set(getattr(first, kind)):
                    raise ValueError(f"sessions differ in their {kind}: {sorted(getattr(first, kind))} "
                                     f"and {sorted(getattr(other, kind))}")

        def joined(kind):
            return {name: np.concatenate([getattr(s, kind)[name] for s in sessions])
                    for name in getattr(first, kind)}

        try:
            return cls(populations=joined("populations"), bin_ms=first.bin_ms,
                       conditions=joined("conditions"), signals=joined("signals"),
                       metadata={**first.metadata, "sessions": len(sessions)})
        except ValueError as error:  # e.g. cell counts or bins that differ
            raise ValueError(f"cannot concatenate the sessions: {error}") from error

    def __eq__(self, other) -> bool:
        if not isinstance(other, Session):
            return NotImplemented

        def same(a, b):
            return set(a) == set(b) and all(
                a[k].dtype == b[k].dtype and np.array_equal(a[k], b[k]) for k in a)

        return (self.bin_ms == other.bin_ms and same(self.populations, other.populations)
                and same(self.conditions, other.conditions) and same(self.signals, other.signals)
                and self.metadata == other.metadata)

    # -- .npz ----------------------------------------------------------------------------

    def save_npz(self, path) -> Path:
        """Write the session as a ``.npz`` archive (layout in the module docstring), atomically.

        ``.npz`` is appended to ``path`` when missing. Returns the path written.
        """
        path = Path(check_path(path))
        if path.suffix != ".npz":
            path = path.with_name(path.name + ".npz")
        payload = {"__format__": np.array(FORMAT_TAG), "bin_ms": np.array(self.bin_ms),
                   "__metadata__": np.array(json.dumps(self.metadata, sort_keys=True))}
        for prefix, arrays in (("population", self.populations), ("condition", self.conditions),
                               ("signal", self.signals)):
            for name, array in arrays.items():
                payload[f"{prefix}/{name}"] = array
        with atomic_write(path, "wb") as stream:
            np.savez(stream, **payload)
        return path

    @classmethod
    def load_npz(cls, path) -> Session:
        """Read a session written by :meth:`save_npz` (or by hand in the same layout).

        Raises
        ------
        ValueError
            If the file is missing, is not a session archive, holds objects
            (pickle is never loaded) or holds arrays the session refuses.
        """
        path = Path(check_path(path))
        if not path.is_file():
            raise ValueError(f"session file {path} does not exist")
        try:
            with np.load(path, allow_pickle=False) as archive:
                contents = {key: archive[key] for key in archive.files}
        except ValueError as error:
            raise ValueError(f"{path} is not a readable .npz session (pickled objects are "
                             f"never loaded): {error}") from error
        except Exception as error:
            raise ValueError(f"{path} is not a readable .npz session: {type(error).__name__}: "
                             f"{error}") from error
        tag = contents.pop("__format__", None)
        if tag is None or tag.dtype.kind != "U" or str(tag) != FORMAT_TAG:
            raise ValueError(f"{path} is not a cerebellar session (no {FORMAT_TAG!r} tag)")
        if "bin_ms" not in contents:
            raise ValueError(f"{path} has no 'bin_ms'")
        bin_ms = float(contents.pop("bin_ms"))
        metadata_text = contents.pop("__metadata__", np.array("{}"))
        try:
            metadata = json.loads(str(metadata_text))
        except ValueError as error:
            raise ValueError(f"{path}: '__metadata__' is not JSON: {error}") from error
        parts = {"population": {}, "condition": {}, "signal": {}}
        for key, value in contents.items():
            prefix, _, name = key.partition("/")
            if prefix not in parts or not name:
                raise ValueError(f"{path}: unexpected array {key!r} (expected population/<name>, "
                                 "condition/<name> or signal/<name>)")
            parts[prefix][name] = value
        try:
            return cls(populations=parts["population"], bin_ms=bin_ms, conditions=parts["condition"],
                       signals=parts["signal"], metadata=metadata)
        except ValueError as error:
            raise ValueError(f"{path}: {error}") from error

    # -- NWB -----------------------------------------------------------------------------

    def to_nwb(self, path) -> Path:
        """Write the session as an NWB file (layout in the module docstring), atomically.

        Needs ``pynwb`` (``pip install 'cerebellar[nwb]'``). Returns the path written.
        """
        pynwb, h5py = _import_nwb()
        from datetime import UTC, datetime
        from uuid import uuid4

        path = Path(check_path(path))
        rate = 1000.0 / self.bin_ms
        trial_s = self.n_bins * self.bin_ms / 1000.0
        nwbfile = pynwb.NWBFile(
            session_description=str(self.metadata.get("description", "cerebellar session")),
            identifier=str(uuid4()),
            session_start_time=datetime.now(UTC),
            notes=json.dumps(self.metadata, sort_keys=True),
        )
        for name in self.conditions:
            nwbfile.add_trial_column(name=name, description=f"per-trial condition {name!r}")
        for trial in range(self.n_trials):
            values = {name: array[trial].item() for name, array in self.conditions.items()}
            nwbfile.add_trial(start_time=trial * trial_s, stop_time=(trial + 1) * trial_s, **values)
        unit = "spikes per bin" if self.metadata.get("spikes") else "Hz"
        for module_name, arrays, description, unit_of in (
                (NWB_POPULATIONS, self.populations, "binned activity per population (time bins x cells)",
                 lambda _: unit),
                (NWB_SIGNALS, self.signals, "behavioural and plant signals on the same bins",
                 lambda _: "n.a.")):
            if not arrays:
                continue
            module = nwbfile.create_processing_module(name=module_name, description=description)
            for name, array in arrays.items():
                module.add(pynwb.TimeSeries(
                    name=name, data=array.reshape(-1, array.shape[2]), unit=unit_of(name),
                    rate=rate, starting_time=0.0, description=f"{name}: trials laid end to end"))
        with atomic_write(path, "w+b") as stream:
            with h5py.File(stream, "w") as h5file, pynwb.NWBHDF5IO(file=h5file, mode="w") as io:
                io.write(nwbfile)
        return path

    @classmethod
    def from_nwb(cls, path, *, populations_module: str = NWB_POPULATIONS,
                 signals_module: str = NWB_SIGNALS) -> Session:
        """Read a session from an NWB file laid out as :meth:`to_nwb` writes it.

        A recording of one's own loads when its binned rates are TimeSeries of
        shape (time, cells) in the processing module ``populations_module``,
        its trials table has a ``target`` column, and every trial covers the
        same number of bins.

        Raises
        ------
        ImportError
            If ``pynwb`` is not installed.
        ValueError
            If the file lacks the trials table, the populations module, or its
            trials hold different numbers of bins.
        """
        pynwb, _ = _import_nwb()
        path = Path(check_path(path))
        if not path.is_file():
            raise ValueError(f"NWB file {path} does not exist")
        with pynwb.NWBHDF5IO(str(path), mode="r") as io:
            nwbfile = io.read()
            if nwbfile.trials is None:
                raise ValueError(f"{path} has no trials table (one row per trial, with a 'target' column)")
            columns = [name for name in nwbfile.trials.colnames if name not in ("start_time", "stop_time")]
            starts = np.asarray(nwbfile.trials["start_time"].data[:], dtype=float)
            stops = np.asarray(nwbfile.trials["stop_time"].data[:], dtype=float)
            conditions = {name: np.asarray(nwbfile.trials[name].data[:]) for name in columns}
            if populations_module not in nwbfile.processing:
                raise ValueError(f"{path} has no processing module {populations_module!r} holding the "
                                 f"populations' binned rates (modules: {sorted(nwbfile.processing)})")
            bin_widths = {}
            populations = _read_module(nwbfile.processing[populations_module], starts, stops, bin_widths,
                                       path)
            signals = {}
            if signals_module in nwbfile.processing:
                signals = _read_module(nwbfile.processing[signals_module], starts, stops, bin_widths, path)
            notes = nwbfile.notes
        widths = set(bin_widths.values())
        if len(widths) != 1:
            raise ValueError(f"{path}: the series have different bin widths (ms): {bin_widths}")
        metadata = {}
        if notes:
            try:
                parsed = json.loads(notes)
                metadata = parsed if isinstance(parsed, dict) else {"notes": notes}
            except ValueError:
                metadata = {"notes": notes}
        try:
            return cls(populations=populations, bin_ms=widths.pop(), conditions=conditions,
                       signals=signals, metadata=metadata)
        except ValueError as error:
            raise ValueError(f"{path}: {error}") from error


def _import_nwb():
    try:
        import h5py
        import pynwb
    except ImportError as error:
        raise ImportError(f"reading and writing NWB files needs pynwb: {_NWB_HINT}") from error
    return pynwb, h5py


def _read_module(module, starts: np.ndarray, stops: np.ndarray, bin_widths: dict, path) -> dict:
    """Cut each TimeSeries of an NWB processing module into (trials, bins, k) by the trials table."""
    arrays = {}
    for name, series in module.data_interfaces.items():
        if not hasattr(series, "data") or not hasattr(series, "rate"):
            continue  # not a TimeSeries (e.g. a container of other things)
        data = np.asarray(series.data[:], dtype=np.float64)
        if data.ndim == 1:
            data = data[:, None]
        if series.timestamps is not None:
            times = np.asarray(series.timestamps[:], dtype=float)
            step = float(np.median(np.diff(times))) if len(times) > 1 else math.nan
            width_ms = round(step * 1000.0, 9)
        else:
            step = 1.0 / float(series.rate)
            times = float(series.starting_time or 0.0) + np.arange(len(data)) * step
            width_ms = 1000.0 / float(series.rate)  # undoes to_nwb's rate = 1000 / bin_ms
        if not step > 0:
            raise ValueError(f"{path}: series {name!r} has no usable bin width")
        # A bin belongs to a trial when it starts inside [start, stop); half a bin of tolerance
        # absorbs the rounding of the stored times.
        first = np.searchsorted(times, starts - 0.5 * step)
        last = np.searchsorted(times, stops - 0.5 * step)
        counts = set((last - first).tolist())
        if len(counts) != 1 or 0 in counts:
            raise ValueError(f"{path}: series {name!r} holds different numbers of bins per trial "
                             f"({sorted(counts)}); a session needs the same bins in every trial")
        bins = counts.pop()
        arrays[name] = np.stack([data[i:i + bins] for i in first])
        bin_widths[name] = width_ms
    return arrays
