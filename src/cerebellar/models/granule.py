"""Granule-cell layers: sparse expansions of the mossy-fiber input.

Each layer maps a scaled mossy-fiber vector to a small set of active granule
cells (their indices and rates). The Purkinje readout is a weighted sum over
the active cells only, so a step costs in proportion to the number of active
cells, not the size of the layer.

- :class:`TileCoding` is Albus' CMAC: ``n_tilings`` overlapping grids, each
  offset by a fraction of a tile (asymmetric offsets, so the tilings do not line
  up along the diagonal), hashed into a bounded memory. Exactly one cell per
  tiling is active, at rate 1.
- :class:`SparseRandomExpansion` is the Marr-Albus expansion: each granule cell
  sums ``fan_in`` randomly chosen mossy fibres (about 4 in the cerebellum, where
  the dimension of the granule code is maximal) with random weights and a random
  threshold; Golgi-cell inhibition keeps only the ``k`` most excited cells
  (k-winners-take-all), with rates equal to how far they exceed the (k+1)-th.
"""

from __future__ import annotations

import numpy as np

from .._validation import check_bool, check_integer, check_positive

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)  # 2^64 / golden ratio, odd
_SHIFT = np.uint64(32)


class TileCoding:
    """CMAC tile coding, hashed into ``n_cells`` memory cells.

    Parameters
    ----------
    n_cells : int
        Memory size; split evenly between tilings so that two tilings never
        share a cell.
    n_tilings : int
        Number of overlapping tilings: the number of active cells (Albus' C).
    resolution : float
        Tiles per unit of scaled input along each axis.
    singles : bool
        Also tile each input on its own (``n_tilings`` one-dimensional tilings
        per input, as Albus allowed tilings over subsets of the inputs). Joint
        tilings generalise only to nearby points in the whole input space; the
        single-input ones let what is learned about one input carry over to all
        values of the others, which learns additive functions (e.g. a
        pendulum's ``sin(angle)`` term) far faster.
    """

    def __init__(self, n_cells: int, n_tilings: int, resolution: float, singles: bool = False):
        n_cells = check_integer(n_cells, "n_cells", minimum=1)
        n_tilings = check_integer(n_tilings, "n_tilings", minimum=1)
        if n_cells < n_tilings:
            raise ValueError(f"need 1 <= n_tilings <= n_cells, got {n_tilings} and {n_cells}")
        self.n_cells = n_cells
        self.n_tilings = n_tilings
        self.resolution = check_positive(resolution, "resolution")
        self.singles = check_bool(singles, "singles")

    #: Largest scaled input (times ``resolution``) that is tiled: tile coordinates must fit int64.
    max_tiles = 1e18

    def in_range(self, inputs: np.ndarray) -> bool:
        """Whether the tile coordinates of ``inputs`` (one vector, or all rows together) fit in int64."""
        # The norm bounds every entry; vdot is one cheap pass and does not warn on overflow.
        return np.vdot(inputs, inputs) * self.resolution**2 <= self.max_tiles**2

    @property
    def n_active(self) -> int:
        """Number of granule cells active at each step."""
        return self.rates.shape[0] if hasattr(self, "rates") else self.n_tilings

    def build(self, n_inputs: int, rng: np.random.Generator) -> None:
        """Draw the tiling offsets and hash for ``n_inputs`` mossy fibres."""
        # Miller & Glanz asymmetric displacement (1, 3, 5, ...), in tile units.
        displacement = 2 * np.arange(n_inputs) + 1
        groups = 1 + (n_inputs if self.singles else 0)
        tiling = np.tile(np.arange(self.n_tilings), groups)[:, None]
        self.offsets = ((tiling * displacement) % self.n_tilings) / self.n_tilings
        total = self.n_tilings * groups
        # Which inputs each tiling reads: all of them, then (with singles) one each.
        self.mask = None
        if self.singles:
            self.mask = np.vstack([np.ones((self.n_tilings, n_inputs), dtype=np.int64)]
                                  + [np.repeat(np.eye(n_inputs, dtype=np.int64)[i:i + 1], self.n_tilings, 0)
                                     for i in range(n_inputs)])
        # The tile coordinates are combined linearly (h = coords . multipliers + salt)
        # and then mixed by Fibonacci hashing, which keeps the high bits of
        # h * 2^64/phi: taking h modulo the block directly would map whole lattices
        # of distant inputs (those with k . multipliers = 0 mod block) onto the same cells.
        self.multipliers = rng.integers(1, 2**31 - 1, size=n_inputs, dtype=np.int64) | 1
        if self.n_cells < total:
            raise ValueError(f"n_cells ({self.n_cells}) must be at least the number of tilings ({total})")
        self.block = self.n_cells // total
        self._block_u64 = np.uint64(self.block)
        self.base = np.arange(total, dtype=np.int64) * self.block
        self.tiling_salt = rng.integers(0, 2**31 - 1, size=total, dtype=np.int64)
        self.rates = np.ones(total)

    def activate(self, inputs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Return the active cells' indices and rates (all 1) for one input vector."""
        coords = np.floor(inputs * self.resolution + self.offsets).astype(np.int64)
        if self.mask is not None:
            coords *= self.mask
        return self._cells(coords @ self.multipliers + self.tiling_salt), self.rates

    def activate_many(self, inputs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Activate for a batch: ``inputs`` (N, n) -> cell indices (N, n_tilings) and rates."""
        coords = np.floor(inputs[:, None, :] * self.resolution + self.offsets).astype(np.int64)
        if self.mask is not None:
            coords *= self.mask
        hashed = coords @ self.multipliers + self.tiling_salt
        return self._cells(hashed), np.ones(hashed.shape)

    def prepare(self, leading: np.ndarray) -> np.ndarray:
        """Precompute the hash share of the first inputs (the state), for :meth:`activate_rest`."""
        n = leading.shape[0]
        coords = np.floor(leading * self.resolution + self.offsets[:, :n]).astype(np.int64)
        if self.mask is not None:
            coords *= self.mask[:, :n]
        return coords @ self.multipliers[:n] + self.tiling_salt

    def activate_rest(self, prepared: np.ndarray, rest: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Activate with the state's share from :meth:`prepare` and the remaining inputs."""
        n = rest.shape[0]
        coords = np.floor(rest * self.resolution + self.offsets[:, -n:]).astype(np.int64)
        if self.mask is not None:
            coords *= self.mask[:, -n:]
        return self._cells(prepared + coords @ self.multipliers[-n:]), self.rates

    def _cells(self, hashed: np.ndarray) -> np.ndarray:
        # Fibonacci hashing in wrapping uint64 arithmetic; the high 32 bits pick the cell.
        mixed = hashed.view(np.uint64) * _GOLDEN
        return self.base + ((mixed >> _SHIFT) % self._block_u64).view(np.int64)

    def state_arrays(self) -> dict[str, np.ndarray]:
        """Return the connectivity for a checkpoint."""
        return {"cmac_multipliers": self.multipliers, "cmac_salt": self.tiling_salt}

    def set_state_arrays(self, arrays: dict[str, np.ndarray]) -> None:
        """Restore connectivity from a checkpoint (after :meth:`build`)."""
        self.multipliers = np.array(arrays["cmac_multipliers"], dtype=np.int64)
        self.tiling_salt = np.array(arrays["cmac_salt"], dtype=np.int64)


class SparseRandomExpansion:
    """Random sparse expansion with k-winners-take-all sparseness.

    Parameters
    ----------
    n_cells : int
        Number of granule cells.
    fan_in : int
        Mossy fibres per granule cell (capped at the number of inputs).
    n_active : int
        Cells left active by the Golgi-cell inhibition (k).
    """

    def __init__(self, n_cells: int, fan_in: int, n_active: int):
        n_cells = check_integer(n_cells, "n_cells", minimum=2)
        n_active = check_integer(n_active, "n_active", minimum=1)
        if not n_active < n_cells:
            raise ValueError(f"need 1 <= n_active < n_cells, got {n_active} and {n_cells}")
        self.n_cells = n_cells
        self.fan_in = check_integer(fan_in, "fan_in", minimum=1)
        self.n_active = n_active

    def in_range(self, inputs: np.ndarray) -> bool:
        """Return True: any finite input has a finite drive (overflow is caught by the learner)."""
        return True

    def build(self, n_inputs: int, rng: np.random.Generator) -> None:
        """Draw each granule cell's mossy fibres, synaptic weights and threshold."""
        fan_in = min(self.fan_in, n_inputs)
        weights = np.zeros((self.n_cells, n_inputs))
        for cell in range(self.n_cells):
            fibres = rng.choice(n_inputs, size=fan_in, replace=False)
            weights[cell, fibres] = rng.standard_normal(fan_in)
        # Scaled inputs are of order 1, so a cell's drive is of order sqrt(fan_in);
        # thresholds spread over that range make cells tuned to different regions.
        self.weights = weights
        self.thresholds = rng.uniform(-1.0, 1.0, self.n_cells) * np.sqrt(fan_in)

    def activate(self, inputs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Return the k most excited cells and their rates above the (k+1)-th."""
        return self._winners(self.weights @ inputs - self.thresholds)

    def activate_many(self, inputs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Activate for a batch: ``inputs`` (N, n) -> active cells (N, k) and their rates."""
        drive = inputs @ self.weights.T - self.thresholds
        cut = self.n_cells - self.n_active
        order = np.argpartition(drive, cut - 1, axis=1)
        active = order[:, cut:]
        threshold = np.take_along_axis(drive, order[:, cut - 1 : cut], axis=1)
        return active, np.take_along_axis(drive, active, axis=1) - threshold

    def prepare(self, leading: np.ndarray) -> np.ndarray:
        """Precompute the drive from the first inputs (the state), for :meth:`activate_rest`."""
        return self.weights[:, : leading.shape[0]] @ leading - self.thresholds

    def activate_rest(self, prepared: np.ndarray, rest: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Activate with the state's drive from :meth:`prepare` and the remaining inputs."""
        return self._winners(prepared + self.weights[:, -rest.shape[0] :] @ rest)

    def _winners(self, drive: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        # Golgi inhibition as k-winners-take-all: the rate is the excess over the (k+1)-th.
        cut = self.n_cells - self.n_active
        order = np.argpartition(drive, cut - 1)
        active = order[cut:]
        return active, drive[active] - drive[order[cut - 1]]

    def state_arrays(self) -> dict[str, np.ndarray]:
        """Return the connectivity for a checkpoint."""
        return {"granule_weights": self.weights, "granule_thresholds": self.thresholds}

    def set_state_arrays(self, arrays: dict[str, np.ndarray]) -> None:
        """Restore connectivity from a checkpoint (after :meth:`build`)."""
        self.weights = np.array(arrays["granule_weights"], dtype=np.float64)
        self.thresholds = np.array(arrays["granule_thresholds"], dtype=np.float64)
