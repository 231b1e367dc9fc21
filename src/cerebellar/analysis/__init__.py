"""Neuroscience analyses on recorded populations, and recordings in and out.

:class:`Session` holds binned activity (trials x bins x cells per population)
with the trials' conditions, and reads and writes ``.npz`` and NWB files.
:func:`analyse` runs the state-predictor analysis of Tanaka, Ishikawa & Kakei
(2019) with its controls; :mod:`cerebellar.analysis.kalman` fits the
Kalman-filter form and computes the steady-state Kalman gain. The statistics
need scikit-learn (``pip install 'cerebellar[analysis]'``), NWB files pynwb
(``pip install 'cerebellar[nwb]'``); both are imported only when used.
"""

from .kalman import (
    KalmanComparison,
    KalmanForm,
    Plant,
    fit_kalman_form,
    identify_plant,
    kalman_comparison,
    steady_state_kalman_gain,
)
from .session import Session
from .state_predictor import (
    PAPER_R2,
    LaggedReconstruction,
    ReconstructionChain,
    StatePredictorResult,
    analyse,
    lowpass_control,
    reconstruction_chain,
    shuffled_control,
)
from .synthetic import future_copy_session

__all__ = [
    "PAPER_R2", "KalmanComparison", "KalmanForm", "LaggedReconstruction", "Plant", "ReconstructionChain",
    "Session", "StatePredictorResult", "analyse", "fit_kalman_form", "future_copy_session",
    "identify_plant", "kalman_comparison", "lowpass_control", "reconstruction_chain", "shuffled_control",
    "steady_state_kalman_gain",
]
