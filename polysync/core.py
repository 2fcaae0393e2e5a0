"""``compute_sync``: the whole correlation core on two mono arrays (pure numpy)."""

from __future__ import annotations

from fractions import Fraction
from typing import Optional

import numpy as np
from scipy import signal

from .align import CONFIDENCE_REQUIRED, MIN_OVERLAP, SyncResult, align_pair
from .errors import SyncRefused
from .media import ANALYSIS_RATE


def to_analysis_rate(x: np.ndarray, sr: int) -> np.ndarray:
    """Resample a mono signal from ``sr`` Hz to the analysis rate (float32)."""
    x = np.asarray(x, dtype=np.float32)
    if sr == ANALYSIS_RATE:
        return x
    ratio = Fraction(ANALYSIS_RATE, int(sr)).limit_denominator(1000)
    return signal.resample_poly(x, ratio.numerator, ratio.denominator).astype(np.float32)


def check_result(res: Optional[SyncResult], path=None) -> SyncResult:
    """Refuse a result polysync is not sure of (raises :class:`SyncRefused` naming ``path``)."""
    if res is None:
        raise SyncRefused("no common sound found: the source looks unrelated to the reference",
                          path)
    span = res.overlap_in_reference[1] - res.overlap_in_reference[0]
    if res.confidence < CONFIDENCE_REQUIRED:
        raise SyncRefused(
            f"no reliable match (envelope peak {res.coarse_z:.1f} sigma, {res.n_agree} of "
            f"{res.n_windows} windows agree; confidence {res.confidence:.3f}): the source "
            "looks unrelated to the reference", path)
    if span < MIN_OVERLAP:
        raise SyncRefused(f"overlap too short ({span:.1f} s; at least {MIN_OVERLAP:.0f} s needed)",
                          path)
    return res


def compute_sync(reference: np.ndarray, source: np.ndarray, ref_dur: Optional[float] = None,
                 src_dur: Optional[float] = None, sr: int = 8000, partial: bool = False,
                 verbose: bool = False) -> SyncResult:
    """Align ``source`` to ``reference`` (1-D mono arrays at ``sr`` Hz, both starting at t=0).

    Returns a :class:`SyncResult` with ``delta_seconds`` (the source's t=0 on the reference
    timeline) and ``drift_slope`` (``t_ref = delta + t_src * (1 + drift_slope)``).
    Raises :class:`SyncRefused` when the two do not share sound reliably. ``ref_dur``,
    ``src_dur``, ``partial`` and ``verbose`` are accepted for compatibility with the original
    polysync; partial coverage is always handled.
    """
    ref = to_analysis_rate(reference, sr)
    src = to_analysis_rate(source, sr)
    return check_result(align_pair(ref, 0.0, src, 0.0, ANALYSIS_RATE))
