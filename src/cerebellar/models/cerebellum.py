"""A cerebellar forward model: mossy fibres, granule cells, Purkinje cells, deep nuclei.

The circuit, as in Marr-Albus-Ito::

    mossy fibres (state, efference copy, bias)
        |-- collaterals ---------------------------------> deep nuclei --> prediction
        '-> granule cells (sparse expansion) -> Purkinje cells --| (inhibit)

The deep-nuclear output is the direct mossy-fiber drive minus the Purkinje
inhibition. Both sets of synapses learn from the climbing-fiber signal, the
prediction error of the nuclear output. At a parallel-fibre synapse the rule is
Marr-Albus-Ito's: a climbing-fiber spike together with parallel-fibre activity
depresses the synapse (LTD), which lessens the Purkinje inhibition and so raises
the nuclear output in the direction of the error. The direct path is a linear
map that generalises across the whole input space; the granule path adds a
local, nonlinear correction.
"""

from __future__ import annotations

import math

import numpy as np

from .._validation import check_bool, check_choice, check_in_range, check_integer, check_positive
from .base import _NON_FINITE, InputTooLarge, OnlineForwardModel, check_covariance
from .granule import SparseRandomExpansion, TileCoding
from .linear import check_trace_cap, rls_update

GRANULE_LAYERS = ("cmac", "random")
NUCLEAR_RULES = ("rls", "nlms")


class Cerebellum(OnlineForwardModel):
    """Online cerebellar forward model with a choice of granule layer.

    Parameters
    ----------
    granule : {"cmac", "random"}
        The granule layer: CMAC tile coding, or a sparse random expansion.
    n_granule : int or None
        Number of granule cells (the CMAC's hashed memory size). By default
        4,096 for CMAC, whose cost does not depend on it, and 1,024 for the
        random expansion, whose k-winners-take-all step costs in proportion to it.
    n_tilings : int
        CMAC only: number of tilings, i.e. active granule cells per step.
    resolution : float
        CMAC only: tiles per unit of scaled input.
    tile_singles : bool
        CMAC only: add one-dimensional tilings of each input to the joint ones
        (see :class:`~cerebellar.models.granule.TileCoding`); faster on plants
        whose nonlinearity is a sum of one-input terms.
    fan_in : int
        Random expansion only: mossy fibres per granule cell.
    n_active : int
        Random expansion only: granule cells left active (k-winners-take-all).
    purkinje_rate : float
        Step size of the parallel-fibre -> Purkinje plasticity (normalised by the
        granule activity, as in Albus' beta / C rule).
    nuclear_rule : {"rls", "nlms"}
        Learning rule of the mossy-fibre -> nuclear synapses. ``"rls"`` (the
        default) is recursive least squares, the Kalman-like state predictor the
        nuclear populations resemble (Tanaka et al. 2019); it learns a linear
        plant in a few dozen steps. ``"nlms"`` is a plain normalised LMS synapse,
        slower on badly conditioned inputs (it fails the delay tasks that
        ``"rls"`` passes; see the evaluation).
    nuclear_rate : float
        Step size of the ``"nlms"`` nuclear rule; it adds to ``purkinje_rate``,
        and their sum must stay below 2 for stability.
    forgetting : float
        Forgetting factor of the ``"rls"`` nuclear rule, in (0, 1].
    direct_path : bool
        Whether the mossy-fibre collaterals to the nuclei learn; without it the
        prediction comes from the granule path alone.
    input_scale : array_like or None
        Fixed scale of the state and command channels, or ``None`` to estimate it.
    residual : bool
        Learn the change of state (default) rather than the next state itself.
    seed : int or None
        Seeds the granule layer's random connectivity.

    Attributes
    ----------
    nuclear_weights_ : numpy.ndarray, shape (n_state, n_inputs)
        Mossy-fibre -> nuclear synapses (on the unscaled inputs with the rls
        rule, on the scaled mossy rates with the nlms rule; bias last).
    purkinje_weights_ : numpy.ndarray, shape (n_state, n_granule)
        Parallel-fibre -> Purkinje synapses (one Purkinje cell per predicted channel).
    """

    _param_names = (
        "granule", "n_granule", "n_tilings", "resolution", "tile_singles", "fan_in", "n_active",
        "purkinje_rate", "nuclear_rule", "nuclear_rate", "forgetting", "direct_path",
        "input_scale", "residual", "seed",
    )

    def __init__(
        self,
        granule: str = "cmac",
        n_granule: int | None = None,
        n_tilings: int = 16,
        resolution: float = 2.0,
        tile_singles: bool = False,
        fan_in: int = 4,
        n_active: int = 32,
        purkinje_rate: float = 0.1,
        nuclear_rule: str = "rls",
        nuclear_rate: float = 0.5,
        forgetting: float = 0.999,
        direct_path: bool = True,
        input_scale=None,
        residual: bool = True,
        seed: int | None = 0,
    ):
        self.granule = granule
        self.n_granule = n_granule
        self.n_tilings = n_tilings
        self.resolution = resolution
        self.tile_singles = tile_singles
        self.fan_in = fan_in
        self.n_active = n_active
        self.purkinje_rate = purkinje_rate
        self.nuclear_rule = nuclear_rule
        self.nuclear_rate = nuclear_rate
        self.forgetting = forgetting
        self.direct_path = direct_path
        self.input_scale = input_scale
        self.residual = residual
        self.seed = seed

    def _check_params(self):
        super()._check_params()
        check_choice(self.granule, "granule layer", GRANULE_LAYERS)
        if self.n_granule is not None:
            check_integer(self.n_granule, "n_granule", minimum=1)
        check_integer(self.n_tilings, "n_tilings", minimum=1)
        check_positive(self.resolution, "resolution")
        check_bool(self.tile_singles, "tile_singles")
        check_integer(self.fan_in, "fan_in", minimum=1)
        check_integer(self.n_active, "n_active", minimum=1)
        check_positive(self.purkinje_rate, "purkinje_rate")
        check_choice(self.nuclear_rule, "nuclear_rule", NUCLEAR_RULES)
        check_positive(self.nuclear_rate, "nuclear_rate")
        check_in_range(self.forgetting, "forgetting", 0.0, 1.0)
        check_bool(self.direct_path, "direct_path")
        if self.nuclear_rule == "nlms":
            if self.purkinje_rate + (self.nuclear_rate if self.direct_path else 0.0) >= 2.0:
                raise ValueError("purkinje_rate + nuclear_rate must be below 2 for a stable update")
        elif self.direct_path and self.purkinje_rate >= 1.0:
            raise ValueError("with the rls nuclear rule, purkinje_rate must be below 1")
        cells = self._n_cells()
        if self.granule == "cmac" and cells < self.n_tilings:
            raise ValueError(f"n_granule ({cells}) must be at least n_tilings ({self.n_tilings})")
        if self.granule == "random" and not self.n_active < cells:
            raise ValueError(f"n_active ({self.n_active}) must be below n_granule ({cells})")

    def _tile_limit(self) -> float:
        return self.granule_layer_.max_tiles / self.resolution

    def _n_cells(self) -> int:
        if self.n_granule is not None:
            return int(self.n_granule)
        # CMAC's cost does not depend on its memory size; k-winners-take-all's does.
        return 4096 if self.granule == "cmac" else 1024

    def _granule_layer(self):
        if self.granule == "cmac":
            return TileCoding(self._n_cells(), self.n_tilings, self.resolution, self.tile_singles)
        return SparseRandomExpansion(self._n_cells(), self.fan_in, self.n_active)

    def _initialise(self, n_inputs, n_outputs, rng):
        self.granule_layer_ = self._granule_layer()
        # The granule layer sees the scaled state and command, not the bias fibre.
        self.granule_layer_.build(n_inputs - 1, rng)
        self.nuclear_weights_ = np.zeros((n_outputs, n_inputs))
        self.purkinje_weights_ = np.zeros((n_outputs, self.granule_layer_.n_cells))
        if self.nuclear_rule == "rls":
            self.nuclear_covariance_ = np.eye(n_inputs) * 100.0
            self._max_trace = 1e4 * n_inputs
            check_trace_cap(self._max_trace, self.forgetting, "forgetting")
        self._last = None

    def _nuclear_input(self, z):
        # The rls rule reads the mossy fibres in their own units: RLS does not need
        # the scaling, and an estimated scale that drifts would leave its
        # covariance describing inputs that no longer exist.
        if self.nuclear_rule != "rls":
            return z
        raw = z.copy()
        raw[:-1] /= self.mossy_._inverse_scale
        return raw

    def _forward(self, z):
        if not self.granule_layer_.in_range(z[:-1]):
            raise InputTooLarge(f"the CMAC cannot tile scaled inputs beyond {self._tile_limit():.0e}")
        active, rates = self.granule_layer_.activate(z[:-1])
        purkinje = self.purkinje_weights_[:, active] @ rates
        nuclear_input = self._nuclear_input(z)
        nuclear = self.nuclear_weights_ @ nuclear_input - purkinje
        return nuclear, active, rates, nuclear_input, purkinje

    def _predictor(self, state, scaled_state, command_inverse_scale):
        # The granule drive and the nuclear drive from the state are the same for
        # every command tried in the refinements: compute them once.
        n_state = scaled_state.shape[0]
        layer = self.granule_layer_
        if not layer.in_range(scaled_state):
            raise ValueError(f"state is too large to predict from: the CMAC cannot tile scaled inputs "
                             f"beyond {self._tile_limit():.0e}")
        prepared = layer.prepare(scaled_state)
        weights = self.nuclear_weights_
        raw = self.nuclear_rule == "rls"
        direct = weights[:, :n_state] @ (state if raw else scaled_state) + weights[:, -1]
        offset = state if self.residual else 0.0
        command_weights = weights[:, n_state:-1] * (1.0 if raw else command_inverse_scale)
        purkinje_weights = self.purkinje_weights_

        def predict_command(command):
            scaled_command = command * command_inverse_scale
            active, rates = layer.activate_rest(prepared, scaled_command)
            purkinje = purkinje_weights[:, active] @ rates
            nuclear = direct + command_weights @ command - purkinje
            self._last = ((scaled_state, scaled_command), active, rates, purkinje, nuclear)
            return offset + nuclear

        return predict_command

    def _predict_encoded(self, z):
        nuclear, active, rates, _, purkinje = self._forward(z)
        self._last = (z, active, rates, purkinje, nuclear)
        return nuclear

    def _predict_encoded_many(self, z):
        # Batch form for planners that roll many candidate command sequences.
        if not self.granule_layer_.in_range(z[:, :-1]):
            raise InputTooLarge(f"the CMAC cannot tile scaled inputs beyond {self._tile_limit():.0e}")
        active, rates = self.granule_layer_.activate_many(z[:, :-1])
        purkinje = np.einsum("onk,nk->no", self.purkinje_weights_[:, active], rates)
        if self.nuclear_rule == "rls":
            z = z.copy()
            z[:, :-1] /= self.mossy_._inverse_scale
        return z @ self.nuclear_weights_.T - purkinje

    def _learn_encoded(self, z, target):
        nuclear, active, rates, nuclear_input, purkinje = self._forward(z)
        error = target - nuclear
        granule_power = rates @ rates
        nuclear_weights = None
        if self.direct_path and self.nuclear_rule == "nlms":
            # Both synapse sets descend one normalised gradient (one denominator):
            # normalising each by its own input power would change the combined
            # step's direction every step, and the sum of rates below 2 would no
            # longer guarantee stability.
            denominator = granule_power + z @ z
            nuclear_weights = self.nuclear_weights_ + np.outer(error, z * (self.nuclear_rate / denominator))
        else:
            denominator = granule_power + 1e-12
        # Climbing-fiber error with parallel-fibre activity: LTD where error > 0.
        # Computed into temporaries and committed only when all of it is finite.
        purkinje_block = self.purkinje_weights_[:, active] - np.outer(
            error, rates * (self.purkinje_rate / denominator))
        if not (math.isfinite(denominator) and math.isfinite(np.vdot(purkinje_block, purkinje_block))
                and (nuclear_weights is None or math.isfinite(np.vdot(nuclear_weights, nuclear_weights)))):
            raise InputTooLarge(_NON_FINITE)
        if self.direct_path and self.nuclear_rule == "rls":
            # Last: it checks its own step, then changes the covariance in place.
            nuclear_weights = rls_update(self.nuclear_weights_, self.nuclear_covariance_, nuclear_input,
                                         error, self.forgetting, self._max_trace)
        self.purkinje_weights_[:, active] = purkinje_block
        if nuclear_weights is not None:
            self.nuclear_weights_ = nuclear_weights
        self._last = (z, active, rates, purkinje, nuclear)
        return error

    def activity(self) -> dict[str, np.ndarray]:
        """Return the population activity of the last step (a prediction or a learning step).

        Returns
        -------
        dict
            ``mossy`` (encoded inputs, bias last), ``granule`` (dense rates of all
            granule cells), ``purkinje`` (one rate per predicted channel, relative
            to the tonic rate) and ``nuclear`` (the predicted change of state, or
            the next state with ``residual=False``). Copies, safe to keep.
        """
        if getattr(self, "_last", None) is None:
            raise RuntimeError("no activity yet: call predict or learn first")
        z, active, rates, purkinje, nuclear = self._last
        if isinstance(z, tuple):  # from a predictor: the state and command parts
            z = np.concatenate((*z, (1.0,)))
        granule = np.zeros(self.granule_layer_.n_cells)
        granule[active] = rates
        return {
            "mossy": z.copy(),
            "granule": granule,
            "purkinje": purkinje.copy(),
            "nuclear": nuclear.copy(),
        }

    def _check_state_values(self, arrays):
        super()._check_state_values(arrays)
        if self.nuclear_rule == "rls":
            check_covariance(arrays, "nuclear_covariance", self._max_trace)

    def _state_arrays(self):
        arrays = {
            "nuclear_weights": self.nuclear_weights_,
            "purkinje_weights": self.purkinje_weights_,
            **self.granule_layer_.state_arrays(),
        }
        if self.nuclear_rule == "rls":
            arrays["nuclear_covariance"] = self.nuclear_covariance_
        return arrays

    def _set_state_arrays(self, arrays):
        if self.nuclear_rule == "rls":
            self.nuclear_covariance_ = np.array(arrays["nuclear_covariance"], dtype=np.float64)
        self.nuclear_weights_ = np.array(arrays["nuclear_weights"], dtype=np.float64)
        self.purkinje_weights_ = np.array(arrays["purkinje_weights"], dtype=np.float64)
        self.granule_layer_.set_state_arrays(arrays)
