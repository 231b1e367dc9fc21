"""The cerebellum as a state predictor: Tanaka, Ishikawa & Kakei (2019) on any :class:`Session`.

The paper found the mossy-fibre rates at ``t + t1`` reconstructed from the
dentate rates at ``t`` with mean R2 0.89 at ``t1 = 20 ms``, falling only to
0.86 at 100 ms. A plain lagged-regression R2 is high for any smooth signal, so
:func:`analyse` reports beside it the gain over the inputs' own present,

    delta R2(t1) = R2(dentate(t) -> mossy(t + t1)) - R2(mossy(t) -> mossy(t + t1)),

and runs controls through the identical pipeline: a "dentate" that is only a
low-pass copy of the mossy input, a surrogate that keeps each dentate cell's
own time course but breaks its timing relative to the mossy fibres, and any
sessions passed in (e.g. an untrained model's, a no-model agent's).

Choices (the paper's where the text says, ours otherwise; the paper's bin
width, cross-validation and regularisation are not known to us):

- Regression: ridge on standardised predictors, exactly as
  ``make_pipeline(StandardScaler(), Ridge(alpha))`` of scikit-learn (a test
  holds them equal), one penalty per reconstructed cell and lead, chosen
  from ``alphas`` by generalised cross-validation *within the training
  directions* (ours). It is computed from per-direction sums of products
  (:mod:`cerebellar.analysis._ridge`): scikit-learn's ``RidgeCV`` took
  minutes per session for the thousands of outputs (cells x leads) a fold
  fits.
- Scoring: on held-out conditions, leaving one target direction out
  (:class:`sklearn.model_selection.LeaveOneGroupOut`); R2 per cell
  (:func:`sklearn.metrics.r2_score`) over all held-out bins of all trials,
  so that each cell's R2 says how much of its variance across time and
  directions is reconstructed for a direction never seen in fitting. The
  mean over cells is the paper's summary; the distribution is kept.
- Samples: single-trial bins (trials are not averaged). Every lead is scored
  on the same bins ``t``: those for which ``t + t1`` falls inside the trial
  at every lead analysed (so the first and last 200 ms of each trial serve
  only as past and future). Cells that never vary are left out of the
  scores (their R2 is undefined).
- Reconstruction chain: Purkinje(t) from mossy(t); dentate(t) from mossy(t)
  and Purkinje(t), both at lag 0 through the same pipeline; the signs of
  the weights are those of a ridge fit on all trials (the penalty chosen as
  above).
- Low-pass control: each mossy cell through a causal first-order filter of
  time constant ``lowpass_ms`` (50 ms, ours), so it carries nothing but the
  mossy fibres' past.
- Surrogate: the dentate activity of each trial replaced by that of another
  trial of the same target direction (a random derangement within each
  direction), which keeps each cell's autocorrelation and its tuning to the
  task and breaks the trial-by-trial timing between the populations. A
  session with one trial per direction uses circular shifts instead (each
  dentate cell shifted in time by its own random amount, the same in every
  trial).
"""

from __future__ import annotations

import csv
import math
from dataclasses import dataclass, field

import numpy as np

from .._io import atomic_write, pyplot
from .._validation import check_positive, check_seed
from ._ridge import held_out_ridge
from .kalman import kalman_comparison
from .session import Session

#: The paper's mean R2 of mossy(t + t1) from dentate(t): lead in ms -> R2.
PAPER_R2 = {20.0: 0.89, 100.0: 0.86}
#: The ridge penalties tried (on standardised predictors).
DEFAULT_ALPHAS = tuple(np.logspace(-3, 4, 8))
_SKLEARN_HINT = "pip install 'cerebellar[analysis]'"


def _sklearn():
    try:
        from sklearn.linear_model import RidgeCV
        from sklearn.metrics import r2_score
        from sklearn.model_selection import LeaveOneGroupOut
        from sklearn.pipeline import make_pipeline
        from sklearn.preprocessing import StandardScaler
    except ImportError as error:
        raise ImportError(f"the state-predictor analysis needs scikit-learn: {_SKLEARN_HINT}") from error
    return RidgeCV, r2_score, LeaveOneGroupOut, make_pipeline, StandardScaler


# -- results ---------------------------------------------------------------------------------


@dataclass
class LaggedReconstruction:
    """How well one session's dentate reconstructs its mossy fibres at each lead.

    Attributes
    ----------
    name : str
        ``"model"`` or the control's name.
    leads_ms : list of float
        The leads t1.
    r2_cells : numpy.ndarray
        (leads, mossy cells) held-out R2 of mossy(t + t1) from dentate(t).
    baseline_r2_cells : numpy.ndarray
        (leads, mossy cells) held-out R2 of mossy(t + t1) from mossy(t).
    """

    name: str
    leads_ms: list[float]
    r2_cells: np.ndarray
    baseline_r2_cells: np.ndarray

    @property
    def r2_mean(self) -> list[float]:
        """Mean R2 over cells at each lead (dentate -> future mossy)."""
        return [float(v) for v in self.r2_cells.mean(axis=1)]

    @property
    def baseline_r2_mean(self) -> list[float]:
        """Mean R2 over cells at each lead (mossy's present -> future mossy)."""
        return [float(v) for v in self.baseline_r2_cells.mean(axis=1)]

    @property
    def delta_r2(self) -> list[float]:
        """Mean over cells of R2(dentate -> future) - R2(mossy present -> future), per lead."""
        return [float(v) for v in (self.r2_cells - self.baseline_r2_cells).mean(axis=1)]

    @property
    def peak_lead_ms(self) -> float:
        """The lead at which delta R2 is largest."""
        return float(self.leads_ms[int(np.argmax(self.delta_r2))])

    @property
    def peak_delta_r2(self) -> float:
        """The largest delta R2 over the leads."""
        return float(max(self.delta_r2))

    def r2_at(self, lead_ms: float) -> float:
        """Mean R2 at the lead nearest ``lead_ms``."""
        index = int(np.argmin(np.abs(np.asarray(self.leads_ms) - lead_ms)))
        return self.r2_mean[index]

    def summary(self) -> dict:
        """Return the JSON-ready lists and peak of this reconstruction."""
        return {"r2_mean": self.r2_mean, "baseline_r2_mean": self.baseline_r2_mean,
                "delta_r2": self.delta_r2, "peak_lead_ms": self.peak_lead_ms,
                "peak_delta_r2": self.peak_delta_r2}


@dataclass
class ReconstructionChain:
    """Each population as a weighted linear sum of the preceding ones (lag 0, held-out R2).

    Attributes
    ----------
    purkinje_r2_cells, dentate_r2_cells : numpy.ndarray
        Held-out R2 of each Purkinje cell from the mossy fibres, and of each
        dentate cell from mossy fibres plus Purkinje cells.
    mossy_weights, purkinje_weights : numpy.ndarray
        The dentate fit's weights, (dentate cells, mossy cells) and
        (dentate cells, Purkinje cells), per standard deviation of the input.
    """

    purkinje_r2_cells: np.ndarray
    dentate_r2_cells: np.ndarray
    mossy_weights: np.ndarray
    purkinje_weights: np.ndarray

    def summary(self) -> dict:
        """Mean R2 of each step and the signs of the dentate weights."""
        return {
            "purkinje_from_mossy_r2_mean": float(self.purkinje_r2_cells.mean()),
            "dentate_from_mossy_purkinje_r2_mean": float(self.dentate_r2_cells.mean()),
            "mossy_weight_mean": float(self.mossy_weights.mean()),
            "purkinje_weight_mean": float(self.purkinje_weights.mean()),
            "mossy_weights_positive_fraction": float(np.mean(self.mossy_weights > 0)),
            "purkinje_weights_negative_fraction": float(np.mean(self.purkinje_weights < 0)),
        }


@dataclass
class StatePredictorResult:
    """The state-predictor analysis of a session and of its controls.

    Attributes
    ----------
    model : LaggedReconstruction
        The analysed session.
    controls : dict of str to LaggedReconstruction
        Each control, through the identical pipeline.
    chain : ReconstructionChain or None
        The reconstruction chain (None when the session has no ``"purkinje"``).
    settings : dict
        The choices the analysis ran with (bin width, alphas, seed...).
    kalman : dict of str to KalmanComparison
        The Kalman comparison of the model (``"model"``) and of each named
        control whose session records the signals ``state``, ``command`` and
        ``observation`` (see :func:`~cerebellar.analysis.kalman_comparison`).
    """

    model: LaggedReconstruction
    controls: dict[str, LaggedReconstruction]
    chain: ReconstructionChain | None = None
    settings: dict = field(default_factory=dict)
    kalman: dict = field(default_factory=dict)

    @property
    def leads_ms(self) -> list[float]:
        """The leads t1, in ms."""
        return self.model.leads_ms

    def to_dict(self) -> dict:
        """One JSON-ready object: the model's lists, its peak, each control's lists, the chain."""
        out = {"leads_ms": list(self.leads_ms), **self.model.summary()}
        out["paper_r2"] = {str(lead): value for lead, value in PAPER_R2.items()}
        out["r2_at_paper_leads"] = {str(lead): self.model.r2_at(lead) for lead in PAPER_R2}
        out["controls"] = {name: control.summary() for name, control in self.controls.items()}
        out["chain"] = None if self.chain is None else self.chain.summary()
        out["kalman"] = {name: comparison.summary() for name, comparison in self.kalman.items()}
        out["settings"] = dict(self.settings)
        return out

    def to_rows(self) -> list[dict]:
        """One row per (session, lead): mean, quartiles of the per-cell R2, baseline and delta R2."""
        rows = []
        for reconstruction in (self.model, *self.controls.values()):
            quartiles = np.percentile(reconstruction.r2_cells, [25, 50, 75], axis=1)
            for i, lead in enumerate(reconstruction.leads_ms):
                rows.append({
                    "session": reconstruction.name, "lead_ms": lead,
                    "r2_mean": reconstruction.r2_mean[i],
                    "r2_q25": float(quartiles[0, i]), "r2_median": float(quartiles[1, i]),
                    "r2_q75": float(quartiles[2, i]),
                    "baseline_r2_mean": reconstruction.baseline_r2_mean[i],
                    "delta_r2": reconstruction.delta_r2[i],
                })
        return rows

    def to_csv(self, path):
        """Write :meth:`to_rows` as CSV, atomically; returns the path."""
        rows = self.to_rows()
        with atomic_write(path, "w", newline="") as stream:
            writer = csv.DictWriter(stream, fieldnames=list(rows[0]))
            writer.writeheader()
            writer.writerows(rows)
        return path

    def cells_to_csv(self, path):
        """Write the per-cell R2 (the distribution) of every session and lead as CSV, atomically."""
        with atomic_write(path, "w", newline="") as stream:
            writer = csv.writer(stream)
            writer.writerow(["session", "lead_ms", "cell", "r2", "baseline_r2"])
            for reconstruction in (self.model, *self.controls.values()):
                for i, lead in enumerate(reconstruction.leads_ms):
                    for cell, (r2, base) in enumerate(zip(reconstruction.r2_cells[i],
                                                          reconstruction.baseline_r2_cells[i],
                                                          strict=True)):
                        writer.writerow([reconstruction.name, lead, cell, float(r2), float(base)])
        return path

    def plot(self, path=None):
        """R2 and delta R2 against lead for the model and every control, the paper's points marked.

        Parameters
        ----------
        path : str or os.PathLike, optional
            Where to save the figure (any format matplotlib knows).

        Returns
        -------
        matplotlib.figure.Figure
        """
        plt = pyplot(headless=path is not None)
        figure, (top, bottom) = plt.subplots(2, 1, figsize=(7, 7), sharex=True)
        for reconstruction in (self.model, *self.controls.values()):
            style = {"linewidth": 2.5, "color": "black"} if reconstruction is self.model else {}
            top.plot(reconstruction.leads_ms, reconstruction.r2_mean, label=reconstruction.name, **style)
            bottom.plot(reconstruction.leads_ms, reconstruction.delta_r2, label=reconstruction.name,
                        **style)
        top.plot(list(PAPER_R2), list(PAPER_R2.values()), "r*", markersize=12,
                 label="Tanaka et al. 2019")
        top.set_ylabel("mean R2, mossy(t + t1) from dentate(t)")
        bottom.axhline(0.0, color="grey", linewidth=0.8)
        bottom.set_ylabel("delta R2 (minus mossy(t) -> mossy(t + t1))")
        bottom.set_xlabel("lead t1 (ms)")
        for axis in (top, bottom):
            axis.axvline(0.0, color="grey", linewidth=0.8, linestyle=":")
            axis.legend(fontsize="small")
        figure.tight_layout()
        if path is not None:
            figure.savefig(path)
        return figure


# -- the pipeline ----------------------------------------------------------------------------


def _flatten(activity: np.ndarray, times: slice) -> np.ndarray:
    part = activity[:, times]
    return part.reshape(-1, part.shape[2])


def _held_out_r2(X: np.ndarray, Y: np.ndarray, groups: np.ndarray, alphas) -> np.ndarray:
    """Per-column R2 of Y predicted from X, each direction predicted by a fit on the others."""
    _, r2_score, LeaveOneGroupOut, _, _ = _sklearn()
    predicted, _ = held_out_ridge(X, Y, groups, alphas, LeaveOneGroupOut().split(X, Y, groups))
    return np.asarray(r2_score(Y, predicted, multioutput="raw_values"))


def lagged_r2(predictor: np.ndarray, target: np.ndarray, groups: np.ndarray, leads_bins,
              alphas=DEFAULT_ALPHAS, max_outputs: int = 5000) -> np.ndarray:
    """Held-out R2 of ``target(t + lead)`` from ``predictor(t)`` for each lead, per target cell.

    Every lead is scored on the same bins ``t`` (those whose past and future
    at every lead fall inside the trial), so that R2 changes across leads
    come from the lead alone. The leads share one fit per held-out direction
    (their futures are outputs of one multi-output ridge, each with its own
    penalty), in batches of at most ``max_outputs`` outputs to bound memory.

    Parameters
    ----------
    predictor, target : numpy.ndarray
        (trials, bins, cells) activity of the same trials.
    groups : numpy.ndarray
        (trials,) condition of each trial; one condition is held out at a time.
    leads_bins : sequence of int
        Leads in bins (negative: the target's past).
    alphas : sequence of float
        Ridge penalties to choose from.
    max_outputs : int
        Largest number of outputs fitted at once.

    Returns
    -------
    numpy.ndarray
        (leads, target cells) R2.

    Raises
    ------
    ValueError
        If the leads leave fewer than two bins of a trial to score.
    """
    _sklearn()  # a clear ImportError naming the extra before anything else is needed
    from threadpoolctl import threadpool_limits  # installed with scikit-learn

    leads = [int(lead) for lead in leads_bins]
    bins, cells = target.shape[1], target.shape[2]
    before, after = max(0, -min(leads)), max(0, max(leads))
    span = bins - before - after
    if span < 2:
        raise ValueError(f"leads from {min(leads)} to {max(leads)} bins leave {span} bins of a "
                         f"{bins}-bin trial to score; use shorter leads or longer trials")
    X = _flatten(predictor, slice(before, before + span))
    sample_groups = np.repeat(np.asarray(groups), span)
    per_batch = max(1, max_outputs // cells)
    out = []
    # Small matrices: BLAS threads cost more than they give, most of all on a shared machine.
    with threadpool_limits(1):
        for first in range(0, len(leads), per_batch):
            batch = leads[first:first + per_batch]
            Y = np.concatenate([_flatten(target, slice(before + lead, before + lead + span))
                                for lead in batch], axis=1)
            out.append(_held_out_r2(X, Y, sample_groups, alphas).reshape(len(batch), cells))
    return np.concatenate(out)


def _varying(activity: np.ndarray) -> np.ndarray:
    """Cells whose activity varies at all (the others have no R2)."""
    return activity.reshape(-1, activity.shape[2]).std(axis=0) > 0


def _reconstruct(name: str, session: Session, leads_bins, bin_ms: float, alphas) -> LaggedReconstruction:
    for needed in ("mossy", "dentate"):
        if needed not in session.populations:
            raise ValueError(f"session {name!r} has no {needed!r} population "
                             f"(it has {sorted(session.populations)})")
    groups = session.targets
    if len(np.unique(groups)) < 2:
        raise ValueError(f"session {name!r} has one target direction; leave-one-direction-out needs two")
    mossy = session.populations["mossy"]
    mossy = mossy[:, :, _varying(mossy)]
    dentate = session.populations["dentate"]
    dentate = dentate[:, :, _varying(dentate)]
    if mossy.shape[2] == 0 or dentate.shape[2] == 0:
        raise ValueError(f"session {name!r}: every mossy or every dentate cell is constant")
    return LaggedReconstruction(
        name=name, leads_ms=[float(lead * bin_ms) for lead in leads_bins],
        r2_cells=lagged_r2(dentate, mossy, groups, leads_bins, alphas),
        baseline_r2_cells=lagged_r2(mossy, mossy, groups, leads_bins, alphas))


def reconstruction_chain(session: Session, alphas=DEFAULT_ALPHAS) -> ReconstructionChain:
    """Purkinje from mossy, dentate from mossy + Purkinje: held-out R2 and the weights' signs.

    Raises
    ------
    ValueError
        If the session lacks ``"mossy"``, ``"purkinje"`` or ``"dentate"``.
    """
    RidgeCV, _, _, make_pipeline, StandardScaler = _sklearn()
    for needed in ("mossy", "purkinje", "dentate"):
        if needed not in session.populations:
            raise ValueError(f"the reconstruction chain needs a {needed!r} population "
                             f"(the session has {sorted(session.populations)})")
    mossy, purkinje, dentate = (session.populations[name] for name in ("mossy", "purkinje", "dentate"))
    mossy, purkinje, dentate = (a[:, :, _varying(a)] for a in (mossy, purkinje, dentate))
    groups = session.targets
    purkinje_r2 = lagged_r2(mossy, purkinje, groups, [0], alphas)[0]
    inputs = np.concatenate([mossy, purkinje], axis=2)
    dentate_r2 = lagged_r2(inputs, dentate, groups, [0], alphas)[0]
    pipeline = make_pipeline(StandardScaler(), RidgeCV(alphas=alphas, alpha_per_target=True))
    pipeline.fit(_flatten(inputs, slice(None)), _flatten(dentate, slice(None)))
    weights = np.atleast_2d(pipeline[-1].coef_)  # per standard deviation of each input
    n_mossy = mossy.shape[2]
    return ReconstructionChain(purkinje_r2_cells=purkinje_r2, dentate_r2_cells=dentate_r2,
                               mossy_weights=weights[:, :n_mossy], purkinje_weights=weights[:, n_mossy:])


# -- controls --------------------------------------------------------------------------------


def lowpass_control(session: Session, time_constant_ms: float = 50.0) -> Session:
    """Return the session with its dentate replaced by a causal low-pass copy of its mossy fibres.

    Each mossy cell goes through ``y[t] = y[t-1] + (x[t] - y[t-1]) * (1 - exp(-bin/tau))``
    (:func:`scipy.signal.lfilter`), started at the trial's first value; the
    copy carries nothing but the mossy fibres' past.
    """
    from scipy.signal import lfilter

    tau = check_positive(time_constant_ms, "time_constant_ms")
    decay = math.exp(-session.bin_ms / tau)
    mossy = session.populations["mossy"]
    initial = (decay * mossy[:, :1, :])  # the filter's state as if the first value had held forever
    smooth, _ = lfilter([1.0 - decay], [1.0, -decay], mossy, axis=1, zi=initial)
    return session.with_population("dentate", smooth)


def shuffled_control(session: Session, seed: int | None = 0) -> Session:
    """Return the session with each trial's dentate taken from another trial of the same direction.

    A random derangement within each target direction keeps every dentate
    cell's own time course and tuning and breaks its trial-by-trial timing
    relative to the mossy fibres. When some direction has a single trial,
    each dentate cell is instead shifted circularly in time by its own random
    amount (between a quarter and three quarters of a trial), the same in
    every trial.
    """
    rng = np.random.default_rng(check_seed(seed))
    dentate = session.populations["dentate"]
    targets = session.targets
    members = [np.flatnonzero(targets == value) for value in np.unique(targets)]
    if min(len(m) for m in members) >= 2:
        order = np.arange(session.n_trials)
        for trials in members:
            # a cyclic shift of a random ordering: no trial keeps its own dentate
            permuted = rng.permutation(trials)
            order[permuted] = np.roll(permuted, 1)
        return session.with_population("dentate", dentate[order])
    bins = session.n_bins
    shifts = rng.integers(bins // 4, max(bins // 4 + 1, 3 * bins // 4), size=dentate.shape[2])
    shifted = np.stack([np.roll(dentate[:, :, cell], shift, axis=1) for cell, shift in enumerate(shifts)],
                       axis=2)
    return session.with_population("dentate", shifted)


# -- the analysis ----------------------------------------------------------------------------


def _leads_in_bins(leads_ms, bin_ms: float, bins: int) -> list[int]:
    if leads_ms is None:
        reach = int(math.floor(200.0 / bin_ms + 1e-9))
        reach = min(reach, bins - 2)
        return list(range(-reach, reach + 1))
    leads = sorted({int(round(float(lead) / bin_ms)) for lead in leads_ms})
    if not leads:
        raise ValueError("leads_ms must hold at least one lead")
    return leads


def analyse(session: Session, leads_ms=None, *, controls: dict | None = None, lowpass_ms: float = 50.0,
            surrogate: bool = True, chain: bool = True, alphas=DEFAULT_ALPHAS,
            seed: int | None = 0, kalman: bool = True) -> StatePredictorResult:
    """Run the state-predictor analysis on a session and its controls.

    Parameters
    ----------
    session : Session
        Needs ``"mossy"`` and ``"dentate"`` populations (``"purkinje"`` too for
        the reconstruction chain) and at least two target directions.
    leads_ms : sequence of float, optional
        Leads t1 in ms (rounded to whole bins). Default: every bin from -200
        to +200 ms (as far as the trials allow).
    controls : dict of str to Session or None, optional
        Extra controls analysed through the same pipeline, e.g. ``{"blank":
        untrained_session, "feedback": no_model_session}``; a None value is
        skipped. The low-pass and surrogate controls are made from
        ``session`` itself and named ``"lowpass"`` and ``"shuffled"``.
    lowpass_ms : float
        Time constant of the low-pass control (see :func:`lowpass_control`).
    surrogate : bool
        Whether to run the shuffled surrogate (see :func:`shuffled_control`).
    chain : bool
        Whether to fit the reconstruction chain (when the session has Purkinje cells).
    alphas : sequence of float
        Ridge penalties to choose from (on standardised predictors).
    seed : int or None
        Seed of the surrogate's shuffle.
    kalman : bool
        Whether to run :func:`~cerebellar.analysis.kalman_comparison` on the
        sessions that record ``state``, ``command`` and ``observation``, with
        the observation lag taken from ``metadata["delay_ms"]`` (0 if absent).

    Returns
    -------
    StatePredictorResult
    """
    if not isinstance(session, Session):
        raise TypeError(f"session must be a Session, got {type(session).__name__}")
    for needed in ("mossy", "dentate"):
        if needed not in session.populations:
            raise ValueError(f"the session has no {needed!r} population "
                             f"(it has {sorted(session.populations)})")
    leads = _leads_in_bins(leads_ms, session.bin_ms, session.n_bins)
    alphas = tuple(check_positive(alpha, "alphas") for alpha in alphas)
    named = {"lowpass": lowpass_control(session, lowpass_ms)}
    if surrogate:
        named["shuffled"] = shuffled_control(session, seed)
    for name, other in (controls or {}).items():
        if other is None:
            continue
        if not isinstance(other, Session):
            raise TypeError(f"control {name!r} must be a Session or None, got {type(other).__name__}")
        if other.bin_ms != session.bin_ms:
            raise ValueError(f"control {name!r} has bins of {other.bin_ms} ms, the session {session.bin_ms}")
        named[name] = other
    model = _reconstruct("model", session, leads, session.bin_ms, alphas)
    results = {name: _reconstruct(name, other, leads, session.bin_ms, alphas)
               for name, other in named.items()}
    fitted_chain = None
    if chain and "purkinje" in session.populations:
        fitted_chain = reconstruction_chain(session, alphas)
    settings = {"bin_ms": session.bin_ms, "alphas": list(alphas), "lowpass_ms": lowpass_ms, "seed": seed,
                "cross_validation": "leave one target direction out",
                "penalty": "per cell and lead, generalised cross-validation on the training directions",
                "trials": session.n_trials,
                "metadata": session.metadata}
    comparisons = {}
    if kalman:
        for name, other in {"model": session, **{n: c for n, c in named.items() if n not in
                                                 ("lowpass", "shuffled")}}.items():
            if all(signal in other.signals for signal in ("state", "command", "observation")):
                lag = int(round(float(other.metadata.get("delay_ms", 0.0)) / other.bin_ms))
                comparisons[name] = kalman_comparison(other, observation_lag_bins=lag)
    return StatePredictorResult(model=model, controls=results, chain=fitted_chain, settings=settings,
                                kalman=comparisons)
