"""Neuroscience analyses on recorded populations, and recordings in and out.

:class:`Session` holds binned activity (trials x bins x cells per population)
with the trials' conditions, and reads and writes ``.npz`` and NWB files.
"""

from .session import Session

__all__ = ["Session"]
