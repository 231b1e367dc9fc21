"""Predictors of many signals: each channel learns to emit its own value some steps early.

:class:`ShortTermPredictor` is the cerebellum as a short-term predictor of about
300,000 signals (inside the brain, down to the body and back up), trained when
the real signal arrives; see ``docs/results/short-term-predictor.md``.
"""

from __future__ import annotations

from .short_term import MAX_ABS_INPUT, ShortTermPredictor

__all__ = ["MAX_ABS_INPUT", "ShortTermPredictor"]
