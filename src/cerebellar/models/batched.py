"""Many independent forward models stepped as one batch (for :class:`~cerebellar.agent.VectorAgent`).

A batch holds the learned state of ``N`` models of one kind and size, stacked
along a first axis: RLS weights ``(N, n_state, p)`` and covariances ``(N, p,
p)``, a cerebellum's Purkinje and nuclear synapses and each model's own CMAC
hash. Every model learns only from its own transitions; the batch only saves
Python overhead. Each product is the single model's, computed per model by the
same BLAS call (``numpy.matmul`` on stacks calls the kernel once per matrix),
so a batch of models gives bitwise the numbers the separate models give.

Only what the vector agent needs is batched: ``predict``, ``predictor`` (the
state's share computed once for the K refinements) and ``learn``. A batch is
built from existing models (:meth:`BatchedRLS.from_models`), which checks
they can be batched, and writes its state back into them with ``to_models``.
"""

from __future__ import annotations

import math

import numpy as np

from .._grouping import EqualityClasses
from .base import _NON_FINITE, InputTooLarge
from .cerebellum import Cerebellum
from .granule import _GOLDEN, _SHIFT, TileCoding
from .linear import RLS
from .oracle import OracleModel


def matvec(matrices: np.ndarray, vectors: np.ndarray) -> np.ndarray:
    """Return ``matrices[i] @ vectors[i]`` for every row (matrices may be one shared matrix).

    ``numpy.matmul`` on a stack calls the BLAS kernel once per matrix, so each
    row is bitwise what the single product gives.
    """
    return np.matmul(matrices, vectors[:, :, None])[:, :, 0]


def rowdot(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Return ``a[i] @ b[i]`` for every row, as the single 1-D product computes it."""
    return np.matmul(a[:, None, :], b[:, :, None])[:, 0, 0]


def rls_update_batch(weights, covariance, z, error, forgetting: float, max_trace: float) -> np.ndarray:
    """:func:`~cerebellar.models.linear.rls_update` for a stack of models, operation for operation.

    ``weights`` (N, o, p), ``covariance`` (N, p, p) (updated in place), ``z``
    (N, p), ``error`` (N, o). Raises :class:`InputTooLarge` (changing nothing)
    if any model's step would not be finite.
    """
    pz = matvec(covariance, z)
    denominator = forgetting + rowdot(z, pz)
    if not np.all((denominator > 0.0) & (denominator < math.inf)):
        raise InputTooLarge(_NON_FINITE)
    inverse_denominator = 1.0 / denominator
    new_weights = weights + error[:, :, None] * (pz * inverse_denominator[:, None])[:, None, :]
    pz *= np.sqrt(inverse_denominator / forgetting)[:, None]
    if not (np.all(rowdot(pz, pz) <= 2.0 * max_trace / forgetting)
            and np.all(np.isfinite(new_weights))):
        raise InputTooLarge(_NON_FINITE)
    covariance *= 1.0 / forgetting
    covariance -= pz[:, :, None] * pz[:, None, :]
    trace = np.trace(covariance, axis1=1, axis2=2)
    over = trace > max_trace
    if np.any(over):
        # Wind-up guard, per model, as the single update applies it.
        covariance[over] *= (max_trace / trace[over])[:, None, None]
    return new_weights


def _common(models, names):
    """Return the models' shared values of ``names``, or raise ValueError naming the first that differs."""
    first = models[0]
    for name in names:
        values = [getattr(m, name) for m in models]
        if any(not np.array_equal(np.asarray(v), np.asarray(values[0])) for v in values):
            raise ValueError(f"models differ in {name}: a batch needs one shared value")
    return [getattr(first, name) for name in names]


class _Batch:
    """What both batched models share: sizes, the fixed input scale, residual targets."""

    def _setup_common(self, models):
        if not models:
            raise ValueError("a batch needs at least one model")
        if not all(type(m) is type(models[0]) for m in models):
            raise ValueError("a batch needs models of one class")
        if not all(m.is_initialised for m in models):
            raise ValueError("batch only sized models (call initialise first)")
        if any(m.mossy_.scale is None for m in models):
            raise ValueError(f"a batch of {type(models[0]).__name__} models needs a fixed input_scale "
                             "(an online estimate of the scale is not batched)")
        self.n_state, self.n_command, self.residual = _common(models, ("n_state_", "n_command_", "residual"))
        self.inverse_scale = models[0].mossy_._inverse_scale
        if any(not np.array_equal(m.mossy_._inverse_scale, self.inverse_scale) for m in models):
            raise ValueError("models differ in input_scale: a batch needs one shared value")
        self.n_models = len(models)
        self.n_learned = np.array([m.n_learned_ for m in models], dtype=np.int64)

    def encode(self, states, commands):
        """Encode rows of states and commands as mossy-fibre vectors ``[x / scale, 1]``."""
        raw = np.concatenate((states, commands), axis=1)
        z = np.empty((raw.shape[0], raw.shape[1] + 1))
        np.multiply(raw, self.inverse_scale, out=z[:, :-1])
        z[:, -1] = 1.0
        return z

    def predict(self, states, commands, index=None) -> np.ndarray:
        """Return each model's prediction of its next state (rows of ``index``, or all)."""
        change = self._predict_encoded(self.encode(states, commands), index)
        return states + change if self.residual else change

    def learn(self, states, commands, next_states, index=None) -> np.ndarray:
        """Learn one transition per model (rows of ``index``, or all); return the errors before learning."""
        z = self.encode(states, commands)
        target = next_states - states if self.residual else next_states
        error = self._learn_encoded(z, target, index)
        if index is None:
            self.n_learned += 1
        else:
            self.n_learned[index] += 1
        return error

    def predictor(self, states):
        """Return the prediction as a function of the command for fixed ``states`` (all models)."""
        n = self.n_state
        return self._predictor(states, states * self.inverse_scale[:n], self.inverse_scale[n:])

    @staticmethod
    def _rows(array, index):
        return array if index is None else array[index]

    @staticmethod
    def _store(array, index, value):
        if index is None:
            array[...] = value
        else:
            array[index] = value


class BatchedAffinePredictor:
    """Predictions affine in the command for every model: ``offset[i] + slope[i] @ u``."""

    __slots__ = ("offset", "slope")

    def __init__(self, offset: np.ndarray, slope: np.ndarray):
        self.offset = offset
        self.slope = slope

    def __call__(self, commands: np.ndarray) -> np.ndarray:
        """Return each model's predicted next state for its row of ``commands``."""
        return self.offset + matvec(self.slope, commands)


class BatchedRLS(_Batch):
    """``N`` :class:`~cerebellar.models.RLS` models as one batch.

    Parameters
    ----------
    models : sequence of RLS
        Sized models with the same hyperparameters and sizes; their learned
        state is copied in (:meth:`to_models` copies it back).
    """

    def __init__(self, models):
        models = list(models)
        self._setup_common(models)
        if not isinstance(models[0], RLS):
            raise ValueError(f"BatchedRLS batches RLS models, got {type(models[0]).__name__}")
        self.forgetting, = _common(models, ("forgetting",))
        self.max_trace = models[0]._max_trace
        self.weights = np.stack([m.weights_ for m in models])
        self.covariance = np.stack([m.covariance_ for m in models])

    def _predict_encoded(self, z, index=None):
        return matvec(self._rows(self.weights, index), z)

    def _learn_encoded(self, z, target, index=None):
        weights = self._rows(self.weights, index)
        covariance = self._rows(self.covariance, index)
        if index is not None:
            covariance = covariance.copy()
        error = target - matvec(weights, z)
        new_weights = rls_update_batch(weights, covariance, z, error, self.forgetting, self.max_trace)
        self._store(self.weights, index, new_weights)
        if index is not None:
            self.covariance[index] = covariance
        return error

    def _predictor(self, states, scaled_states, command_inverse_scale):
        n = self.n_state
        weights = self.weights
        offset = matvec(weights[:, :, :n], scaled_states) + weights[:, :, -1]
        if self.residual:
            offset += states
        return BatchedAffinePredictor(offset, weights[:, :, n:-1] * command_inverse_scale)

    def to_models(self, models) -> None:
        """Copy each model's learned state back into ``models`` (in order)."""
        for i, model in enumerate(models):
            model.weights_ = self.weights[i].copy()
            model.covariance_ = self.covariance[i].copy()
            model.n_learned_ = int(self.n_learned[i])


class BatchedCerebellum(_Batch):
    """``N`` :class:`~cerebellar.models.Cerebellum` models (CMAC granule layer, rls nuclei) as one batch.

    Each model keeps its own hash (multipliers and salts, drawn from its own
    seed), Purkinje synapses and nuclear RLS.

    Parameters
    ----------
    models : sequence of Cerebellum
        Sized models with ``granule="cmac"``, ``nuclear_rule="rls"`` and
        ``direct_path=True``, the same hyperparameters and sizes.
    """

    def __init__(self, models):
        models = list(models)
        self._setup_common(models)
        first = models[0]
        if not isinstance(first, Cerebellum):
            raise ValueError(f"BatchedCerebellum batches Cerebellum models, got {type(first).__name__}")
        params = first.get_params()
        for model in models:
            other = model.get_params()
            other["seed"] = params["seed"]
            if other != params:
                raise ValueError("models differ in their hyperparameters: a batch needs one shared set")
        if (first.granule, first.nuclear_rule, first.direct_path) != ("cmac", "rls", True):
            raise ValueError("only the cerebellum with a CMAC granule layer, the rls nuclear rule and the "
                             f"direct path is batched, got granule={first.granule!r}, "
                             f"nuclear_rule={first.nuclear_rule!r}, direct_path={first.direct_path!r}")
        layer: TileCoding = first.granule_layer_
        self.resolution = layer.resolution
        self.offsets = layer.offsets
        self.mask = layer.mask
        self.base = layer.base
        self.block = layer._block_u64
        self.max_tiles = layer.max_tiles
        self.rates = layer.rates
        self.multipliers = np.stack([m.granule_layer_.multipliers for m in models])
        self.salt = np.stack([m.granule_layer_.tiling_salt for m in models])
        self.purkinje_rate = first.purkinje_rate
        self.forgetting = first.forgetting
        self.max_trace = first._max_trace
        self.nuclear_weights = np.stack([m.nuclear_weights_ for m in models])
        self.nuclear_covariance = np.stack([m.nuclear_covariance_ for m in models])
        self.purkinje_cells = np.stack([m.purkinje_weights_.T for m in models])
        self.granule_power = self.rates @ self.rates
        self._rows_all = np.arange(self.n_models)

    def _cells(self, hashed):
        mixed = hashed.view(np.uint64) * _GOLDEN
        return self.base + ((mixed >> _SHIFT) % self.block).view(np.int64)

    def _check_range(self, inputs):
        squares = np.sum(inputs * inputs, axis=1) * self.resolution**2
        if not np.all(squares <= self.max_tiles**2):
            limit = self.max_tiles / self.resolution
            raise InputTooLarge(f"the CMAC cannot tile scaled inputs beyond {limit:.0e}")

    def _hash(self, inputs, offsets, mask, multipliers, salt):
        """Active cells of each model: ``inputs`` (N, n) against its ``multipliers`` (N, n)."""
        coords = np.floor(inputs[:, None, :] * self.resolution + offsets).astype(np.int64)
        if mask is not None:
            coords *= mask
        hashed = matvec(coords, multipliers)
        if salt is not None:
            hashed = hashed + salt
        return hashed

    def _purkinje(self, rows, active):
        # Each model's purkinje_weights_[:, active] @ rates. The single model's gathered
        # block is Fortran-ordered (numpy's layout for that indexing), which selects the BLAS
        # kernel and so the order of summation: the cells are kept (N, n_granule, n_state)
        # here, so that the gathered (N, T, n_state) block, transposed, has the same layout.
        block = self.purkinje_cells[rows[:, None], active].transpose(0, 2, 1)
        rates = np.broadcast_to(self.rates, active.shape)
        return matvec(block, rates), block

    def _forward(self, z, index):
        inputs = z[:, :-1]
        self._check_range(inputs)
        hashed = self._hash(inputs, self.offsets, self.mask, self._rows(self.multipliers, index),
                            self._rows(self.salt, index))
        active = self._cells(hashed)
        rows = self._rows_all if index is None else np.asarray(index)
        purkinje, block = self._purkinje(rows, active)
        nuclear_input = z.copy()
        nuclear_input[:, :-1] /= self.inverse_scale
        nuclear = matvec(self._rows(self.nuclear_weights, index), nuclear_input) - purkinje
        return nuclear, active, block, nuclear_input

    def _predict_encoded(self, z, index=None):
        return self._forward(z, index)[0]

    def _learn_encoded(self, z, target, index=None):
        nuclear, active, block, nuclear_input = self._forward(z, index)
        error = target - nuclear
        denominator = self.granule_power + 1e-12
        purkinje_block = block - error[:, :, None] * (self.rates * (self.purkinje_rate / denominator))
        if not np.all(np.isfinite(purkinje_block)):
            raise InputTooLarge(_NON_FINITE)
        covariance = self._rows(self.nuclear_covariance, index)
        if index is not None:
            covariance = covariance.copy()
        nuclear_weights = rls_update_batch(self._rows(self.nuclear_weights, index), covariance,
                                           nuclear_input, error, self.forgetting, self.max_trace)
        rows = self._rows_all if index is None else np.asarray(index)
        self.purkinje_cells[rows[:, None], active] = purkinje_block.transpose(0, 2, 1)
        self._store(self.nuclear_weights, index, nuclear_weights)
        if index is not None:
            self.nuclear_covariance[index] = covariance
        return error

    def _predictor(self, states, scaled_states, command_inverse_scale):
        n = self.n_state
        self._check_range(scaled_states)
        mask = self.mask
        prepared = self._hash(scaled_states, self.offsets[:, :n], None if mask is None else mask[:, :n],
                              self.multipliers[:, :n], self.salt)
        weights = self.nuclear_weights
        direct = matvec(weights[:, :, :n], states) + weights[:, :, -1]
        offset = states if self.residual else 0.0
        command_weights = weights[:, :, n:-1] * 1.0
        rest_offsets = self.offsets[:, -self.n_command:]
        rest_mask = None if mask is None else mask[:, -self.n_command:]
        rest_multipliers = self.multipliers[:, -self.n_command:]
        rows = self._rows_all

        def predict_commands(commands):
            scaled = commands * command_inverse_scale
            hashed = prepared + self._hash(scaled, rest_offsets, rest_mask, rest_multipliers, None)
            purkinje = self._purkinje(rows, self._cells(hashed))[0]
            nuclear = direct + matvec(command_weights, commands) - purkinje
            return offset + nuclear

        return predict_commands

    def to_models(self, models) -> None:
        """Copy each model's learned state back into ``models`` (in order)."""
        for i, model in enumerate(models):
            model.nuclear_weights_ = self.nuclear_weights[i].copy()
            model.nuclear_covariance_ = self.nuclear_covariance[i].copy()
            model.purkinje_weights_ = np.ascontiguousarray(self.purkinje_cells[i].T)
            model.n_learned_ = int(self.n_learned[i])
            model._last = None


class BatchedOracle:
    """``N`` :class:`~cerebellar.models.oracle.OracleModel` oracles as one batch.

    Each row predicts with its own plant's parameters as they are now (after a
    mid-episode change too): the rows whose plants share their ``params`` are
    stepped together by the plant's ``dynamics_many(states, commands)`` (the
    continuous cart-pole has it), which is its ``dynamics`` on a stack of rows.

    Parameters
    ----------
    models : sequence of OracleModel
        Oracles of plants with ``params`` and ``dynamics_many``.
    """

    def __init__(self, models):
        models = list(models)
        if not models or not all(isinstance(m, OracleModel) for m in models):
            raise ValueError("BatchedOracle batches OracleModel oracles")
        plants = [m._plant for m in models]
        if any(not callable(getattr(p, "dynamics_many", None)) or not hasattr(p, "params") for p in plants):
            raise ValueError("only oracles of plants with dynamics_many (the continuous cart-pole) are "
                             f"batched, got {sorted({type(p).__name__ for p in plants})}")
        self.plants = plants
        self.n_models = len(models)
        self._classes = EqualityClasses()  # of plant parameters: rows of one class step together

    def predict(self, states, commands, index=None) -> np.ndarray:
        """Return each row's true next state under its plant's current parameters."""
        rows = np.arange(self.n_models) if index is None else np.asarray(index)
        out = np.empty_like(states)
        groups: dict = {}
        for position, row in enumerate(rows):
            plant = self.plants[row]
            groups.setdefault(self._classes.index(plant.params), (plant, []))[1].append(position)
        for plant, positions in groups.values():
            out[positions] = plant.dynamics_many(states[positions], commands[positions])
        return out

    def learn(self, states, commands, next_states, index=None) -> np.ndarray:
        """Learn nothing; return each row's prediction error."""
        return next_states - self.predict(states, commands, index)

    def predictor(self, states):
        """Return the prediction as a function of the command for fixed ``states``."""
        return lambda commands: self.predict(states, commands)

    def to_models(self, models) -> None:
        """Nothing learned: nothing to copy back."""


#: Model classes that have a batch, and the batch class.
BATCHES = {RLS: BatchedRLS, Cerebellum: BatchedCerebellum, OracleModel: BatchedOracle}


def batch_models(models):
    """Return the batch of ``models`` (of one class in :data:`BATCHES`); raise ValueError saying why not."""
    models = list(models)
    kind = type(models[0]) if models else None
    if kind not in BATCHES:
        supported = ", ".join(c.__name__ for c in BATCHES)
        raise ValueError(f"no batched form of {getattr(kind, '__name__', kind)} models: the vector agent "
                         f"supports {supported} (e.g. model='rls' or 'cerebellum')")
    return BATCHES[kind](models)
