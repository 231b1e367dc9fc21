"""A population-scale cerebellum: heterogeneous mossy fibres, Purkinje cells and nuclear cells.

The circuit has cell counts of the order Tanaka, Ishikawa & Kakei (2019)
recorded in the monkey (94 mossy fibres, 83 Purkinje cells, 73 dentate cells),
and each cell its own tuning::

    inputs (delayed senses, efference copy, target)
      -> mossy fibres m: rectified, heterogeneous tuning (Hz)
           |-- collaterals -------------------------------------> nuclear cells n (Hz)
           '-> granule cells (sparse random expansion)               ^   |
                 -> Purkinje cells p: each samples granule cells ----'   '-> linear read-out = prediction
                    (tonic rate plus learned modulation; inhibit the nuclei)

Mossy fibre ``i`` fires ``max(0, b_i + g_i * t_i . x)`` where ``x`` is the
scaled input and the tuning vector ``t_i`` mixes the input's modalities
(channel groups, e.g. wrist position, velocity, target and command) with
Dirichlet weights, each modality read along the cell's own preferred direction.

Nuclear cell ``j`` fires ``b_j + a_j e_j . (s + W m) / scale - sum_i H_ji (p_i - tonic_i) / k``:
mossy-fibre collaterals carry the input state ``s`` and, through learned
synapses ``W``, the predicted change; Purkinje cells inhibit them through fixed
non-negative synapses ``H``. The nuclear population's linear read-out ``D``
(the pseudo-inverse of the encoders ``a_j e_j``) is the prediction of the next
state, the quantity the controller and the internal feedback use. Because the
circuit is linear after the mossy layer, the prediction is computed in the
equivalent factored form ``s + W m - C p`` with ``C = scale * D H``, and the
nuclear rates are formed from it only when asked for (:meth:`activity`); their
read-out (:meth:`read_out`) gives back the prediction exactly.

Learning is by the climbing-fibre error, the prediction error ``e``, as in
:class:`~cerebellar.models.Cerebellum`: the mossy -> nuclear synapses by
recursive least squares (nuclear cell ``j`` is told ``a_j e_j . e``), the
parallel-fibre -> Purkinje synapses by normalised LTD, Purkinje cell ``i``
being told the error along the direction its inhibition moves the read-out
(``c_i . e``, the olive paired with the nuclear cells it inhibits).
"""

from __future__ import annotations

import math

import numpy as np

from .._validation import check_in_range, check_integer, check_positive
from .base import _NON_FINITE, InputTooLarge, OnlineForwardModel, check_covariance
from .granule import SparseRandomExpansion
from .linear import check_trace_cap, rls_update

#: Mossy rates are divided by this (Hz) before they reach the granule layer and the nuclear synapses.
RATE_UNIT = 100.0


def _check_range(value, name: str, minimum: float = 0.0) -> tuple[float, float]:
    try:
        low, high = (float(v) for v in value)
    except (TypeError, ValueError):
        raise TypeError(f"{name} must be a pair of numbers (low, high), got {value!r}") from None
    if not (math.isfinite(low) and math.isfinite(high) and minimum <= low <= high):
        raise ValueError(f"{name} must be finite with {minimum} <= low <= high, got {value!r}")
    return low, high


def channel_groups(n_state: int, n_command: int) -> list[list[int]]:
    """Return the input's modalities: consecutive pairs of state channels, then of command channels.

    For the wrist's ``(theta_fe, theta_ru, omega_fe, omega_ru, target_fe,
    target_ru)`` and ``(tau_fe, tau_ru)`` these are position, velocity, target
    and command, each a 2-D vector a cell can be tuned to a direction of.
    """
    groups = []
    for start, stop in ((0, n_state), (n_state, n_state + n_command)):
        groups += [list(range(i, min(i + 2, stop))) for i in range(start, stop, 2)]
    return groups


def tuning_vectors(n_cells: int, groups, n_channels: int, concentration,
                   rng: np.random.Generator) -> np.ndarray:
    """Draw heterogeneous tuning vectors: a Dirichlet mix of modalities, one preferred direction per cell.

    Each cell's vector reads every modality (a group of channels) along the
    same preferred direction (for 2-D groups an angle; for 1-D ones a sign;
    larger groups a random unit vector), weighted by Dirichlet(``concentration``)
    mixing weights: a small concentration makes most cells dominated by one
    or two modalities. ``concentration`` is one number, or one per group (a
    larger one makes the modality more common).

    Returns
    -------
    numpy.ndarray, shape (n_cells, n_channels)
    """
    vectors = np.zeros((n_cells, n_channels))
    mix = rng.dirichlet(np.broadcast_to(np.asarray(concentration, dtype=np.float64), (len(groups),)),
                        size=n_cells)
    angle = rng.uniform(0.0, 2 * math.pi, size=n_cells)
    for k, group in enumerate(groups):
        if len(group) == 2:
            direction = np.stack((np.cos(angle), np.sin(angle)), axis=1)
        else:
            direction = rng.standard_normal((n_cells, len(group)))
            direction /= np.linalg.norm(direction, axis=1, keepdims=True)
        vectors[:, group] = mix[:, k : k + 1] * direction
    return vectors


class PopulationCerebellum(OnlineForwardModel):
    """Online cerebellar forward model with populations of heterogeneously tuned cells.

    Parameters
    ----------
    n_mossy, n_purkinje, n_nuclear : int
        Cell counts (defaults of the order of Tanaka et al. 2019's recordings).
    n_granule : int
        Granule cells of the sparse random expansion.
    fan_in : int
        Mossy fibres per granule cell.
    n_active : int
        Granule cells left active (k-winners-take-all, the Golgi inhibition).
    purkinje_fan_in : int
        Granule cells each Purkinje cell samples (capped at ``n_granule``).
    nuclear_fan_in : int
        Nuclear cells each Purkinje cell inhibits (capped at ``n_nuclear``).
    mix_concentration : float
        Dirichlet concentration of each cell's mix of modalities.
    mossy_modalities : tuple of float or None
        The mossy fibres' Dirichlet concentration per modality (see
        :func:`channel_groups`: for the wrist position, velocity, target and
        command), making some modalities more common; None: ``mix_concentration``
        for all. The nuclear cells use ``mix_concentration``.
    mossy_baseline, mossy_gain : tuple of float
        Ranges (Hz, Hz per unit of scaled input) the mossy fibres' baselines
        and gains are drawn from; a baseline below ``gain * |drive|`` rectifies.
    purkinje_tonic : tuple of float
        Range of the Purkinje cells' tonic rates (Hz).
    purkinje_gain : float
        Hz of Purkinje modulation per unit of (scaled) state its inhibition moves.
    nuclear_baseline, nuclear_gain : tuple of float
        Ranges of the nuclear cells' baselines (Hz) and gains (Hz per unit of
        scaled state).
    purkinje_rate : float
        Step size of the parallel-fibre -> Purkinje LTD (normalised), in (0, 1).
    forgetting : float
        Forgetting factor of the mossy -> nuclear recursive least squares, in (0, 1].
    prior : float
        Initial covariance (times the identity) of that recursive least squares.
    input_scale : array_like or None
        Fixed scale of the state and command channels, or ``None`` to estimate it.
    residual : bool
        Learn the change of state (default): a blank model predicts that nothing changes.
    seed : int or None
        Seeds every cell's tuning and the connectivity.

    Attributes
    ----------
    mossy_tuning_ : numpy.ndarray, shape (n_mossy, n_state + n_command)
        Tuning vectors of the mossy fibres (on the scaled inputs).
    nuclear_weights_ : numpy.ndarray, shape (n_state, n_mossy + 1)
        Learned mossy -> nuclear synapses, in read-out coordinates (the nuclear
        cells' own synapses are ``encoders @ diag(1/scale) @ nuclear_weights_``).
    purkinje_weights_ : numpy.ndarray, shape (n_purkinje, purkinje_fan_in)
        Learned parallel-fibre -> Purkinje synapses.
    readout_ : numpy.ndarray, shape (n_state, n_nuclear)
        The nuclear population's linear read-out (of the scaled state).
    """

    _param_names = (
        "n_mossy", "n_purkinje", "n_nuclear", "n_granule", "fan_in", "n_active", "purkinje_fan_in",
        "nuclear_fan_in", "mix_concentration", "mossy_modalities", "mossy_baseline", "mossy_gain",
        "purkinje_tonic", "purkinje_gain", "nuclear_baseline", "nuclear_gain", "purkinje_rate", "forgetting",
        "prior", "input_scale", "residual", "seed",
    )

    def __init__(
        self,
        n_mossy: int = 100,
        n_purkinje: int = 80,
        n_nuclear: int = 70,
        n_granule: int = 1000,
        fan_in: int = 4,
        n_active: int = 50,
        purkinje_fan_in: int = 200,
        nuclear_fan_in: int = 10,
        mix_concentration: float = 0.5,
        mossy_modalities: tuple | None = None,
        mossy_baseline: tuple = (10.0, 80.0),
        mossy_gain: tuple = (10.0, 40.0),
        purkinje_tonic: tuple = (40.0, 100.0),
        purkinje_gain: float = 20.0,
        nuclear_baseline: tuple = (30.0, 70.0),
        nuclear_gain: tuple = (5.0, 20.0),
        purkinje_rate: float = 0.05,
        forgetting: float = 0.999,
        prior: float = 100.0,
        input_scale=None,
        residual: bool = True,
        seed: int | None = 0,
    ):
        self.n_mossy = n_mossy
        self.n_purkinje = n_purkinje
        self.n_nuclear = n_nuclear
        self.n_granule = n_granule
        self.fan_in = fan_in
        self.n_active = n_active
        self.purkinje_fan_in = purkinje_fan_in
        self.nuclear_fan_in = nuclear_fan_in
        self.mix_concentration = mix_concentration
        self.mossy_modalities = mossy_modalities
        self.mossy_baseline = mossy_baseline
        self.mossy_gain = mossy_gain
        self.purkinje_tonic = purkinje_tonic
        self.purkinje_gain = purkinje_gain
        self.nuclear_baseline = nuclear_baseline
        self.nuclear_gain = nuclear_gain
        self.purkinje_rate = purkinje_rate
        self.forgetting = forgetting
        self.prior = prior
        self.input_scale = input_scale
        self.residual = residual
        self.seed = seed

    def get_params(self) -> dict:
        """Return the hyperparameters as a dict, ranges as lists (as a checkpoint's JSON stores them)."""
        return {name: list(value) if isinstance(value, tuple) else value
                for name, value in super().get_params().items()}

    def _check_params(self):
        super()._check_params()
        for name in ("n_mossy", "n_purkinje", "n_nuclear", "fan_in", "n_active", "purkinje_fan_in",
                     "nuclear_fan_in"):
            check_integer(getattr(self, name), name, minimum=1)
        check_integer(self.n_granule, "n_granule", minimum=2)
        if not self.n_active < self.n_granule:
            raise ValueError(f"n_active ({self.n_active}) must be below n_granule ({self.n_granule})")
        check_positive(self.mix_concentration, "mix_concentration")
        if self.mossy_modalities is not None:
            try:
                weights = [float(w) for w in self.mossy_modalities]
            except (TypeError, ValueError):
                raise TypeError(f"mossy_modalities must be a sequence of numbers or None, "
                                f"got {self.mossy_modalities!r}") from None
            if not weights or not all(math.isfinite(w) and w > 0 for w in weights):
                raise ValueError(f"mossy_modalities must be positive numbers, got {self.mossy_modalities!r}")
        for name in ("mossy_baseline", "mossy_gain", "purkinje_tonic", "nuclear_baseline"):
            _check_range(getattr(self, name), name)
        low, _ = _check_range(self.nuclear_gain, "nuclear_gain")
        if low <= 0:
            raise ValueError(f"nuclear_gain must be positive, got {self.nuclear_gain!r}")
        check_positive(self.purkinje_gain, "purkinje_gain")
        check_in_range(self.purkinje_rate, "purkinje_rate", 0.0, 1.0, include_high=False)
        check_positive(self.purkinje_rate, "purkinje_rate")
        check_in_range(self.forgetting, "forgetting", 0.0, 1.0)
        check_positive(self.prior, "prior")

    # -- construction ------------------------------------------------------------------
    def _initialise(self, n_inputs, n_outputs, rng):
        n_channels = n_inputs - 1
        n_state = n_outputs
        groups = channel_groups(n_state, n_channels - n_state)
        concentration = self.mix_concentration
        if self.mossy_modalities is not None:
            concentration = np.asarray(self.mossy_modalities, dtype=np.float64)
            if concentration.shape != (len(groups),):
                raise ValueError(f"mossy_modalities must have one entry per modality ({len(groups)} for "
                                 f"{n_state} state and {n_channels - n_state} command channels), "
                                 f"got {len(concentration)}")
        # Fixed connectivity and tuning, all drawn from the seed.
        self.mossy_tuning_ = tuning_vectors(self.n_mossy, groups, n_channels, concentration, rng)
        self.mossy_baseline_ = rng.uniform(*self.mossy_baseline, size=self.n_mossy)
        self.mossy_gain_ = rng.uniform(*self.mossy_gain, size=self.n_mossy)
        self.granule_layer_ = SparseRandomExpansion(self.n_granule, self.fan_in, self.n_active)
        self.granule_layer_.build(self.n_mossy, rng)
        sample = min(self.purkinje_fan_in, self.n_granule)
        self.purkinje_inputs_ = np.array([rng.choice(self.n_granule, size=sample, replace=False)
                                          for _ in range(self.n_purkinje)])
        self.purkinje_tonic_ = rng.uniform(*self.purkinje_tonic, size=self.n_purkinje)
        state_groups = [g for g in groups if g[-1] < n_state]
        encoders = tuning_vectors(self.n_nuclear, state_groups, n_state, self.mix_concentration, rng)
        self.nuclear_baseline_ = rng.uniform(*self.nuclear_baseline, size=self.n_nuclear)
        self.nuclear_encoders_ = encoders * rng.uniform(*self.nuclear_gain, size=self.n_nuclear)[:, None]
        # Each Purkinje cell inhibits a few nuclear cells through non-negative synapses.
        contacts = min(self.nuclear_fan_in, self.n_nuclear)
        inhibition = np.zeros((self.n_nuclear, self.n_purkinje))
        for cell in range(self.n_purkinje):
            targets = rng.choice(self.n_nuclear, size=contacts, replace=False)
            inhibition[targets, cell] = rng.uniform(0.5, 1.5, size=contacts)
        self.purkinje_inhibition_ = inhibition
        self.readout_ = np.linalg.pinv(self.nuclear_encoders_)
        # Where each Purkinje cell's inhibition moves the read-out (scaled state per Hz of modulation),
        # times purkinje_gain: per unit of its learned drive.
        self._purkinje_directions = self.readout_ @ inhibition
        # Learned state.
        self.nuclear_weights_ = np.zeros((n_outputs, self.n_mossy + 1))
        self.nuclear_covariance_ = np.eye(self.n_mossy + 1) * float(self.prior)
        self._max_trace = max(1e4, 10.0 * float(self.prior)) * (self.n_mossy + 1)
        check_trace_cap(self._max_trace, self.forgetting, "forgetting")
        self.purkinje_weights_ = np.zeros((self.n_purkinje, sample))
        self._last = None

    # -- the circuit -------------------------------------------------------------------
    def mossy_rates(self, scaled_inputs: np.ndarray) -> np.ndarray:
        """Return the mossy fibres' rates (Hz) for scaled inputs (one vector, or rows).

        Parameters
        ----------
        scaled_inputs : numpy.ndarray, shape (n_state + n_command,) or (N, n_state + n_command)
            State and command divided by the input scale (as the model's
            encoding does); see :meth:`encode_inputs` for raw ones.
        """
        drive = scaled_inputs @ self.mossy_tuning_.T
        return np.maximum(self.mossy_baseline_ + self.mossy_gain_ * drive, 0.0)

    def encode_inputs(self, state, command) -> np.ndarray:
        """Return the mossy fibres' rates (Hz) for a raw state and command (rows allowed)."""
        if not self.is_initialised:
            raise RuntimeError("a blank model does not know its sizes yet: call initialise first")
        raw = np.concatenate((np.asarray(state, dtype=np.float64), np.asarray(command, dtype=np.float64)),
                             axis=-1)
        return self.mossy_rates(raw * self.mossy_._inverse_scale)

    def _circuit(self, z):
        """Return the predicted change, the nuclei's mossy input, sampled granule rates, Purkinje drive."""
        mossy = self.mossy_rates(z[:-1]) / RATE_UNIT
        active, rates = self.granule_layer_.activate(mossy)
        granule = np.zeros(self.n_granule)
        granule[active] = rates
        sampled = granule[self.purkinje_inputs_]
        drive = np.einsum("ij,ij->i", self.purkinje_weights_, sampled)
        nuclear_input = np.append(mossy, 1.0)
        change_scaled = -(self._purkinje_directions @ drive)
        state_scale = 1.0 / self.mossy_._inverse_scale[: self.n_state_]
        change = self.nuclear_weights_ @ nuclear_input + change_scaled * state_scale
        return change, nuclear_input, sampled, drive

    def _predict_encoded(self, z):
        change, _, _, drive = self._circuit(z)
        self._last = (z, drive, change)
        return change

    def _predict_encoded_many(self, z):
        return np.array([self._circuit(row)[0] for row in z])

    def _learn_encoded(self, z, target):
        change, nuclear_input, sampled, drive = self._circuit(z)
        error = target - change
        inverse_scale = self.mossy_._inverse_scale[: self.n_state_]
        scaled_error = error * inverse_scale
        # Climbing fibre of Purkinje cell i: the error along the direction its inhibition moves the
        # read-out. Inhibition lowers the read-out along c_i, so LTD where c_i . e > 0.
        directions = self._purkinje_directions
        climbing = directions.T @ scaled_error
        power = np.einsum("ij,ij->i", sampled, sampled)
        denominator = float(power @ np.einsum("ij,ij->j", directions, directions)) + 1e-12
        weights = self.purkinje_weights_ - (self.purkinje_rate / denominator) * climbing[:, None] * sampled
        if not (math.isfinite(denominator) and math.isfinite(np.vdot(weights, weights))):
            raise InputTooLarge(_NON_FINITE)
        # Last: it checks its own step, then changes the covariance in place.
        nuclear = rls_update(self.nuclear_weights_, self.nuclear_covariance_, nuclear_input, error,
                             self.forgetting, self._max_trace)
        self.purkinje_weights_ = weights
        self.nuclear_weights_ = nuclear
        self._last = (z, drive, change)
        return error

    # -- populations -------------------------------------------------------------------
    def populations(self, z: np.ndarray, drive: np.ndarray, change: np.ndarray) -> dict[str, np.ndarray]:
        """Return the rates (Hz) of every population for one step of the circuit."""
        n_state = self.n_state_
        inverse_scale = self.mossy_._inverse_scale[:n_state]
        mossy = self.mossy_rates(z[:-1])
        active, rates = self.granule_layer_.activate(mossy / RATE_UNIT)
        granule = np.zeros(self.n_granule)
        granule[active] = rates
        modulation = self.purkinje_gain * drive
        purkinje = self.purkinje_tonic_ + modulation
        # The nuclei: collaterals (the state and its learned change) minus Purkinje inhibition.
        learned = (self.nuclear_weights_ @ np.append(mossy / RATE_UNIT, 1.0)) * inverse_scale
        predicted_without_purkinje = z[:n_state] + learned if self.residual else learned
        nuclear = (self.nuclear_baseline_ + self.nuclear_encoders_ @ predicted_without_purkinje
                   - self.purkinje_inhibition_ @ (modulation / self.purkinje_gain))
        return {"mossy": mossy, "granule": granule, "purkinje": purkinje, "nuclear": nuclear}

    def activity(self) -> dict[str, np.ndarray]:
        """Return the population rates (Hz) of the last step (a prediction or a learning step).

        Returns
        -------
        dict
            ``mossy`` (n_mossy rates of the inputs of that step), ``granule``
            (dense rates of the expansion), ``purkinje`` (tonic plus learned
            modulation) and ``nuclear`` (n_nuclear rates, whose :meth:`read_out`
            is the prediction). New arrays, safe to keep. Rates of linear cells
            can go below zero where a tuning drives them hard; recordings clip them.
        """
        if getattr(self, "_last", None) is None:
            raise RuntimeError("no activity yet: call predict or learn first")
        return self.populations(*self._last)

    def read_out(self, nuclear_rates) -> np.ndarray:
        """Return the prediction (the next state, in the state's units) the nuclear rates stand for."""
        scaled = self.readout_ @ (np.asarray(nuclear_rates, dtype=np.float64) - self.nuclear_baseline_)
        return scaled / self.mossy_._inverse_scale[: self.n_state_]

    # -- checkpoints -------------------------------------------------------------------
    #: The fixed tuning and connectivity, stored with the learned synapses (a seed of None redraws them).
    _FIXED = ("mossy_tuning_", "mossy_baseline_", "mossy_gain_", "purkinje_inputs_", "purkinje_tonic_",
              "nuclear_baseline_", "nuclear_encoders_", "purkinje_inhibition_")

    def _check_state_values(self, arrays):
        super()._check_state_values(arrays)
        check_covariance(arrays, "nuclear_covariance", self._max_trace)
        inputs = arrays["purkinje_inputs"]
        if inputs.size and (inputs.min() < 0 or inputs.max() >= self.n_granule):
            raise ValueError(f"array 'purkinje_inputs' must index granule cells 0..{self.n_granule - 1}")
        if np.any(arrays["purkinje_inhibition"] < 0):
            raise ValueError("array 'purkinje_inhibition' must be non-negative (inhibitory synapses)")
        if np.linalg.matrix_rank(arrays["nuclear_encoders"]) < self.n_state_:
            raise ValueError("array 'nuclear_encoders' must have full column rank (a read-out must exist)")

    def _state_arrays(self):
        arrays = {name.removesuffix("_"): getattr(self, name) for name in self._FIXED}
        arrays.update(self.granule_layer_.state_arrays())
        arrays.update(nuclear_weights=self.nuclear_weights_, nuclear_covariance=self.nuclear_covariance_,
                      purkinje_weights=self.purkinje_weights_)
        return arrays

    def _set_state_arrays(self, arrays):
        for name in self._FIXED:
            stored = arrays[name.removesuffix("_")]
            integer = stored.dtype.kind in "iu"
            setattr(self, name, np.array(stored, dtype=np.int64 if integer else np.float64))
        self.granule_layer_.set_state_arrays(arrays)
        self.readout_ = np.linalg.pinv(self.nuclear_encoders_)
        self._purkinje_directions = self.readout_ @ self.purkinje_inhibition_
        self.nuclear_weights_ = np.array(arrays["nuclear_weights"], dtype=np.float64)
        self.nuclear_covariance_ = np.array(arrays["nuclear_covariance"], dtype=np.float64)
        self.purkinje_weights_ = np.array(arrays["purkinje_weights"], dtype=np.float64)
