"""A cerebellar forward model with a smooth, dense granule layer and a least-squares readout.

The CMAC and k-winners-take-all granule layers of
:class:`~cerebellar.models.Cerebellum` are local and sparse: what is learned at
one input generalises only to inputs that share active cells, so a smooth plant
(a pendulum, an acrobot) needs thousands of samples before the prediction error
falls to what a planner needs. Here every granule cell has a smooth tuning
curve over a few mossy fibres, and the Purkinje readout is solved by recursive
least squares, so the circuit behaves like kernel ridge regression and
generalises from a few hundred samples::

    mossy fibres (state, efference copy, bias)
        |-- collaterals ---------------------------------------> deep nuclei --> prediction
        '-> granule cells: rate = cos(w . x_fan_in + phase) -> Purkinje cells --| (inhibit)

Each granule cell reads ``fan_in`` randomly chosen mossy fibres (granule cells
receive about four) with Gaussian random weights of scale ``1 / length_scale``
and a uniform random phase: a random Fourier feature of a Gaussian kernel over
those fibres (Rahimi & Recht 2007). Its rate is relative to a tonic rate, so it
may be negative. The mossy -> nuclear and parallel-fibre -> Purkinje synapses
learn together from the climbing-fibre error by one recursive-least-squares
update (a Kalman-like learner, as the nuclear synapses of
:class:`~cerebellar.models.Cerebellum`); with ``forgetting=1`` the weights are
the ridge-regression solution on every transition seen.

Angles: a joint angle observed as a ``(cos, sin)`` pair changes by a rotation,
not by an addition, and the increment is a far smoother function of the state
than the change of either channel (for a pendulum it is linear in the
velocity). With ``angle_pairs`` the model learns, for each pair, the angle's
increment and predicts the pair by rotating it, so predictions stay on the unit
circle however far a planner rolls them out; proprioceptive afferents code
joint angles in this way rather than their cosines.
"""

from __future__ import annotations

import itertools
import numbers

import numpy as np

from .._validation import check_choice, check_in_range, check_integer, check_positive
from .base import OnlineForwardModel, check_covariance
from .linear import check_trace_cap, rls_update

SMOOTH_GRANULE_LAYERS = ("fourier", "products")


class SmoothCerebellum(OnlineForwardModel):
    """Online cerebellar forward model: dense random-Fourier granule layer, RLS readout.

    Parameters
    ----------
    granule : {"fourier", "products"}
        The granule layer: ``"fourier"``, random Fourier features over
        ``fan_in`` mossy fibres each; or ``"products"``, one cell per product of
        2 to ``degree`` mossy fibres (every such monomial, repeats allowed): a
        conjunction of a few inputs, deterministic.
    n_granule : int
        Fourier layer only: number of granule cells. A learning step costs
        about ``(n_granule + n_inputs)^2``.
    fan_in : int
        Fourier layer only: mossy fibres per granule cell (capped at the number
        of inputs, bias excluded).
    degree : int
        Products layer only: the largest number of mossy fibres a cell multiplies.
    length_scale : float
        Length scale of the granule cells' tuning, in scaled input units: the
        random weights have standard deviation ``1 / length_scale``.
    prior : float
        Prior variance of every weight (the initial RLS covariance); the
        readout is ridge regression with penalty ``1 / prior``.
    forgetting : float
        Forgetting factor of the readout, in (0, 1]; 1 keeps every transition.
    max_covariance : float
        Cap on the mean diagonal of the readout's covariance (wind-up guard).
    input_scale : array_like or None
        Fixed scale of the state and command channels, or ``None`` to estimate it online.
    residual : bool
        Learn the change of state (default) rather than the next state itself.
    angle_pairs : sequence of (int, int), optional
        State channels that are the ``(cos, sin)`` of an angle. For each pair
        the model learns the angle's increment (in the cos channel's readout
        row; the sin row learns nothing) and predicts by rotation. Needs
        ``residual=True``.
    seed : int or None
        Seeds the granule layer's random connectivity.

    Attributes
    ----------
    nuclear_weights_ : numpy.ndarray, shape (n_state, n_inputs)
        Mossy-fibre -> nuclear synapses (scaled inputs, bias last).
    purkinje_weights_ : numpy.ndarray, shape (n_state, n_granule)
        Parallel-fibre -> Purkinje synapses; the nuclear output is the direct
        drive minus the Purkinje inhibition.
    covariance_ : numpy.ndarray
        The readout's RLS covariance over ``[mossy inputs, granule rates]``.
    """

    _param_names = (
        "granule", "n_granule", "fan_in", "degree", "length_scale", "prior", "forgetting", "max_covariance",
        "input_scale", "residual", "angle_pairs", "seed",
    )

    def __init__(
        self,
        granule: str = "fourier",
        n_granule: int = 200,
        fan_in: int = 4,
        degree: int = 3,
        length_scale: float = 1.0,
        prior: float = 100.0,
        forgetting: float = 1.0,
        max_covariance: float = 1e4,
        input_scale=None,
        residual: bool = True,
        angle_pairs=None,
        seed: int | None = 0,
    ):
        self.granule = granule
        self.n_granule = n_granule
        self.fan_in = fan_in
        self.degree = degree
        self.length_scale = length_scale
        self.prior = prior
        self.forgetting = forgetting
        self.max_covariance = max_covariance
        self.input_scale = input_scale
        self.residual = residual
        self.angle_pairs = angle_pairs
        self.seed = seed

    def _check_params(self):
        super()._check_params()
        check_choice(self.granule, "granule layer", SMOOTH_GRANULE_LAYERS)
        check_integer(self.n_granule, "n_granule", minimum=1)
        check_integer(self.fan_in, "fan_in", minimum=1)
        check_integer(self.degree, "degree", minimum=2)
        check_positive(self.length_scale, "length_scale")
        check_positive(self.prior, "prior")
        check_positive(self.max_covariance, "max_covariance")
        check_in_range(self.forgetting, "forgetting", 0.0, 1.0)
        if self.prior > self.max_covariance:
            raise ValueError(f"prior ({self.prior}) must not exceed max_covariance ({self.max_covariance})")
        self._check_pairs(None)

    def _initialise(self, n_inputs, n_outputs, rng):
        self._pairs = self._check_pairs(n_outputs)
        if self.granule == "fourier":
            self._build_fourier(n_inputs - 1, rng)  # the granule cells do not read the bias fibre
        else:
            self._build_products(n_inputs)
        n_total = n_inputs + self.granule_size_
        self._max_trace = self.max_covariance * n_total
        check_trace_cap(self._max_trace, self.forgetting, "max_covariance")
        self.readout_ = np.zeros((n_outputs, n_total))
        self.covariance_ = np.eye(n_total) * self.prior
        self._last = None

    def _build_fourier(self, n_mossy, rng):
        n_granule = int(self.n_granule)
        fan_in = min(int(self.fan_in), n_mossy)
        weights = np.zeros((n_granule, n_mossy))
        for cell in range(n_granule):
            fibres = rng.choice(n_mossy, size=fan_in, replace=False)
            weights[cell, fibres] = rng.standard_normal(fan_in) / self.length_scale
        self.granule_weights_ = weights
        self.granule_phases_ = rng.uniform(0.0, 2.0 * np.pi, n_granule)
        self.granule_size_ = n_granule
        # Normalised so that the summed power of the granule layer is about 1.
        self._gain = np.sqrt(2.0 / self.n_granule)

    def _build_products(self, n_inputs):
        # Every multiset of `degree` inputs, the bias fibre (value 1, last) included,
        # is one monomial of degree <= `degree`; those of degree 0 and 1 are the direct path.
        bias = n_inputs - 1
        combos = [c for c in itertools.combinations_with_replacement(range(n_inputs), int(self.degree))
                  if sum(i != bias for i in c) >= 2]
        self.granule_inputs_ = np.array(combos, dtype=np.int64)
        self.granule_size_ = len(combos)

    def _granule_many(self, z):
        # Granule rates for a batch of encoded inputs (rows, bias fibre last).
        if self.granule == "products":
            return np.prod(z[:, self.granule_inputs_], axis=2)
        drive = z[:, :-1] @ self.granule_weights_.T
        drive += self.granule_phases_
        return self._gain * np.cos(drive, out=drive)

    @property
    def nuclear_weights_(self) -> np.ndarray:
        """Mossy-fibre -> nuclear synapses (a view of the readout)."""
        return self.readout_[:, : self.n_state_ + self.n_command_ + 1]

    @property
    def purkinje_weights_(self) -> np.ndarray:
        """Parallel-fibre -> Purkinje synapses (inhibitory: minus the readout's granule part)."""
        return -self.readout_[:, self.n_state_ + self.n_command_ + 1 :]

    def _features(self, z):
        return np.concatenate((z, self._granule_many(z[None, :])[0]))

    def _predict_encoded(self, z):
        features = self._features(z)
        self._last = features
        return self.readout_ @ features

    def _predict_encoded_many(self, z):
        n_direct = z.shape[1]
        return z @ self.readout_[:, :n_direct].T + self._granule_many(z) @ self.readout_[:, n_direct:].T

    def _learn_encoded(self, z, target):
        features = self._features(z)
        error = target - self.readout_ @ features
        self.readout_ = rls_update(self.readout_, self.covariance_, features, error, self.forgetting,
                                   self._max_trace)
        self._last = features
        return error

    def get_params(self) -> dict:
        """Return the hyperparameters; ``angle_pairs`` as lists, as a checkpoint stores them."""
        params = super().get_params()
        if params["angle_pairs"] is not None:
            try:
                params["angle_pairs"] = [[i.item() if isinstance(i, np.generic) else i for i in pair]
                                         for pair in params["angle_pairs"]]
            except TypeError:
                pass  # not pairs at all: left as given, for _check_pairs to report
        return params

    # -- angles ----------------------------------------------------------------------
    def _check_pairs(self, n_state):
        """Return ``angle_pairs`` as an (n, 2) index array, or None; ``n_state=None`` skips the bound."""
        if self.angle_pairs is None:
            return None
        try:
            entries = [list(pair) for pair in self.angle_pairs]
        except TypeError as error:
            raise ValueError(f"angle_pairs must be pairs of integer indices, "
                             f"got {self.angle_pairs!r}") from error
        if not entries:
            return None  # no pairs, as None
        if any(len(pair) != 2 or not all(isinstance(i, numbers.Integral) and not isinstance(i, bool)
                                         for i in pair) for pair in entries):
            raise ValueError(f"angle_pairs must be pairs of integer indices, got {self.angle_pairs!r}")
        pairs = np.array(entries, dtype=np.int64).reshape(-1, 2)
        high = np.inf if n_state is None else n_state
        if pairs.min() < 0 or pairs.max() >= high or len(np.unique(pairs)) != pairs.size:
            bound = "non-negative" if n_state is None else f"below {n_state}"
            raise ValueError(f"angle_pairs must be distinct state indices {bound}, got {self.angle_pairs}")
        if not self.residual:
            raise ValueError("angle_pairs needs residual=True")
        return pairs

    def _target(self, state, next_state):
        # The change to learn: differences, except the angle increment in each cos channel.
        target = next_state - state
        if self._pairs is not None:
            c, s = self._pairs[:, 0], self._pairs[:, 1]
            target[c] = np.arctan2(next_state[s] * state[c] - next_state[c] * state[s],
                                   next_state[c] * state[c] + next_state[s] * state[s])
            target[s] = 0.0
        return target

    def _apply(self, states, change):
        # Inverse of _target on a batch (rows): add the differences, rotate the angle pairs.
        out = states + change
        if self._pairs is not None:
            c, s = self._pairs[:, 0], self._pairs[:, 1]
            cos, sin = np.cos(change[..., c]), np.sin(change[..., c])
            out[..., c] = states[..., c] * cos - states[..., s] * sin
            out[..., s] = states[..., s] * cos + states[..., c] * sin
        return out

    def _observation_error(self, state, next_state, target, error):
        # The learned change of an angle pair is its increment, not a difference: the
        # prediction before the update was the target less its error.
        if self._pairs is None:
            return error
        return next_state - self._apply(state, target - error)

    def activity(self) -> dict[str, np.ndarray]:
        """Return the population activity of the last ``predict`` or ``learn`` step.

        Returns
        -------
        dict
            ``mossy`` (encoded inputs, bias last), ``granule`` (rates relative
            to the tonic rate), ``purkinje`` (one rate per predicted channel)
            and ``nuclear`` (the predicted change of state, with each angle
            pair's increment in its cos channel; or the next state with
            ``residual=False``). Copies, safe to keep.
        """
        if getattr(self, "_last", None) is None:
            raise RuntimeError("no activity yet: call predict or learn first")
        n_direct = self.n_state_ + self.n_command_ + 1
        mossy, granule = self._last[:n_direct], self._last[n_direct:]
        purkinje = self.purkinje_weights_ @ granule
        return {
            "mossy": mossy.copy(),
            "granule": granule.copy(),
            "purkinje": purkinje,
            "nuclear": self.nuclear_weights_ @ mossy - purkinje,
        }

    def _check_state_values(self, arrays):
        super()._check_state_values(arrays)
        check_covariance(arrays, "covariance", self._max_trace)

    def _state_arrays(self):
        arrays = {"readout": self.readout_, "covariance": self.covariance_}
        if self.granule == "fourier":
            arrays.update(granule_weights=self.granule_weights_, granule_phases=self.granule_phases_)
        return arrays

    def _set_state_arrays(self, arrays):
        self.readout_ = np.array(arrays["readout"], dtype=np.float64)
        self.covariance_ = np.array(arrays["covariance"], dtype=np.float64)
        if self.granule == "fourier":
            self.granule_weights_ = np.array(arrays["granule_weights"], dtype=np.float64)
            self.granule_phases_ = np.array(arrays["granule_phases"], dtype=np.float64)
