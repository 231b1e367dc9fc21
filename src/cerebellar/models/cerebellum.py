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

import numpy as np

from .._validation import check_positive
from .base import OnlineForwardModel
from .granule import SparseRandomExpansion, TileCoding

GRANULE_LAYERS = ("cmac", "random")


class Cerebellum(OnlineForwardModel):
    """Online cerebellar forward model with a choice of granule layer.

    Parameters
    ----------
    granule : {"cmac", "random"}
        The granule layer: CMAC tile coding, or a sparse random expansion.
    n_granule : int
        Number of granule cells (the CMAC's hashed memory size).
    n_tilings : int
        CMAC only: number of tilings, i.e. active granule cells per step.
    resolution : float
        CMAC only: tiles per unit of scaled input.
    fan_in : int
        Random expansion only: mossy fibres per granule cell.
    n_active : int
        Random expansion only: granule cells left active (k-winners-take-all).
    purkinje_rate : float
        Step size of the parallel-fibre -> Purkinje plasticity (normalised by the
        granule activity, as in Albus' beta / C rule).
    nuclear_rate : float
        Step size of the mossy-fibre -> nuclear plasticity (normalised LMS).
        The two rates add: keep their sum below 2 for stability.
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
        Mossy-fibre -> nuclear synapses.
    purkinje_weights_ : numpy.ndarray, shape (n_state, n_granule)
        Parallel-fibre -> Purkinje synapses (one Purkinje cell per predicted channel).
    """

    _param_names = (
        "granule", "n_granule", "n_tilings", "resolution", "fan_in", "n_active",
        "purkinje_rate", "nuclear_rate", "direct_path", "input_scale", "residual", "seed",
    )

    def __init__(
        self,
        granule: str = "cmac",
        n_granule: int = 4096,
        n_tilings: int = 16,
        resolution: float = 2.0,
        fan_in: int = 4,
        n_active: int = 64,
        purkinje_rate: float = 0.1,
        nuclear_rate: float = 0.5,
        direct_path: bool = True,
        input_scale=None,
        residual: bool = True,
        seed: int | None = 0,
    ):
        self.granule = granule
        self.n_granule = n_granule
        self.n_tilings = n_tilings
        self.resolution = resolution
        self.fan_in = fan_in
        self.n_active = n_active
        self.purkinje_rate = purkinje_rate
        self.nuclear_rate = nuclear_rate
        self.direct_path = direct_path
        self.input_scale = input_scale
        self.residual = residual
        self.seed = seed

    def _initialise(self, n_inputs, n_outputs, rng):
        if self.granule == "cmac":
            self.granule_layer_ = TileCoding(self.n_granule, self.n_tilings, self.resolution)
        elif self.granule == "random":
            self.granule_layer_ = SparseRandomExpansion(self.n_granule, self.fan_in, self.n_active)
        else:
            raise ValueError(f"unknown granule layer {self.granule!r}; choose one of {GRANULE_LAYERS}")
        check_positive(self.purkinje_rate, "purkinje_rate")
        check_positive(self.nuclear_rate, "nuclear_rate")
        if self.purkinje_rate + (self.nuclear_rate if self.direct_path else 0.0) >= 2.0:
            raise ValueError("purkinje_rate + nuclear_rate must be below 2 for a stable update")
        # The granule layer sees the scaled state and command, not the bias fibre.
        self.granule_layer_.build(n_inputs - 1, rng)
        self.nuclear_weights_ = np.zeros((n_outputs, n_inputs))
        self.purkinje_weights_ = np.zeros((n_outputs, self.granule_layer_.n_cells))
        self._last = None

    def _forward(self, z):
        active, rates = self.granule_layer_.activate(z[:-1])
        purkinje = self.purkinje_weights_[:, active] @ rates
        nuclear = self.nuclear_weights_ @ z - purkinje
        self._last = (z, active, rates, purkinje, nuclear)
        return nuclear, active, rates

    def _predictor(self, state, scaled_state, command_inverse_scale):
        # The granule drive and the nuclear drive from the state are the same for
        # every command tried in the refinements: compute them once.
        n_state = scaled_state.shape[0]
        layer = self.granule_layer_
        prepared = layer.prepare(scaled_state)
        weights = self.nuclear_weights_
        direct = weights[:, :n_state] @ scaled_state + weights[:, -1]
        offset = state if self.residual else 0.0
        command_weights = weights[:, n_state:-1]
        purkinje_weights = self.purkinje_weights_

        def predict_command(command):
            scaled_command = command * command_inverse_scale
            active, rates = layer.activate_rest(prepared, scaled_command)
            purkinje = purkinje_weights[:, active] @ rates
            nuclear = direct + command_weights @ scaled_command - purkinje
            self._last = ((scaled_state, scaled_command), active, rates, purkinje, nuclear)
            return offset + nuclear

        return predict_command

    def _predict_encoded(self, z):
        return self._forward(z)[0]

    def _learn_encoded(self, z, target):
        nuclear, active, rates = self._forward(z)
        error = target - nuclear
        # Climbing-fiber error with parallel-fibre activity: LTD where error > 0.
        self.purkinje_weights_[:, active] -= np.outer(
            error, rates * (self.purkinje_rate / (rates @ rates + 1e-12))
        )
        if self.direct_path:
            self.nuclear_weights_ += np.outer(error, z * (self.nuclear_rate / (z @ z)))
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

    def _state_arrays(self):
        return {
            "nuclear_weights": self.nuclear_weights_,
            "purkinje_weights": self.purkinje_weights_,
            **self.granule_layer_.state_arrays(),
        }

    def _set_state_arrays(self, arrays):
        self.nuclear_weights_ = np.array(arrays["nuclear_weights"], dtype=np.float64)
        self.purkinje_weights_ = np.array(arrays["purkinje_weights"], dtype=np.float64)
        self.granule_layer_.set_state_arrays(arrays)
