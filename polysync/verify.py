"""``verify``: an independent check of a sidecar on audio that sync did not use.

Sync measures windows in the even slots of the overlap; verify measures the odd slots (re-read
wide-band, like sync's final estimate), fits its own line through them and reports how far
that independent estimate is from the sidecar's (at the middle of the overlap), how many
windows agree, and how strongly they correlate.
"""

from __future__ import annotations

import datetime as _dt
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

import numpy as np

from . import __version__
from .align import (_AGREE_TOL, _COARSE_TOL, _DOMINANT_SHARE, CONFIDENCE_REQUIRED,
                    coarse_hypotheses, fit_line, significance)
from .errors import CorruptFileError, VerifyFailed
from .sidecar import Sidecar, check_fresh, load_sidecar, save_sidecar, sidecar_path
from .sync import EXCERPT, FINE_MARGIN, FINE_SEARCH, FileAnalysis, analyse_file, fine_measures

PASS_MEDIAN_MS = 1.0
"""Largest |residual| (ms) that passes a waveform check (plus half the spread of talkers)."""
ENVELOPE_TOLERANCE_MS = 15.0
"""Largest |residual| (ms) that passes when only the sound envelopes can be compared."""


@dataclass
class VerifyReport:
    source: Path
    sidecar_path: Path
    passed: bool
    median_residual_ms: float
    spread_ms: float
    correlation: float
    windows: int
    agreeing: int
    confidence: float
    method: str = "waveform"
    tolerance_ms: float = PASS_MEDIAN_MS

    def as_verification(self) -> dict:
        """The sidecar's ``verification`` object (the original's keys first)."""
        return {
            "median_residual_ms": _r(self.median_residual_ms),
            "residual_spread_ms": _r(self.spread_ms),
            "probe_count": self.windows,
            "drift_applied": True,
            "passed": self.passed,
            "agreeing": self.agreeing,
            "correlation": _r(self.correlation),
            "confidence": _r(self.confidence, 6),
            "method": self.method,
            "tolerance_ms": _r(self.tolerance_ms),
            "verified_at": _dt.datetime.now(_dt.timezone.utc).replace(microsecond=0).isoformat(),
            "tool_version": __version__,
        }


def _r(v: float, nd: int = 3):
    return None if v is None or not np.isfinite(v) else round(float(v), nd)


def _tolerance_ms(sc: Sidecar, span_ms: float) -> float:
    """What a re-measurement may differ by: the precision the sidecar claims.

    A waveform sync is held to ``PASS_MEDIAN_MS`` plus half the spread between talkers (seen
    by sync or by verify); an envelope sync to ``ENVELOPE_TOLERANCE_MS``.
    """
    if sc.quality.get("method") == "envelope":
        return ENVELOPE_TOLERANCE_MS
    span = max(span_ms, float(sc.quality.get("talker_span_ms") or 0.0))
    return PASS_MEDIAN_MS + min(4.0, 0.5 * span)


def _candidate(an: FileAnalysis, channel: Optional[str]):
    for c in an.candidates:
        if channel is None or c.channel == channel:
            return c
    return an.candidates[0]


def check_alignment(ref: FileAnalysis, src: FileAnalysis, sc: Sidecar) -> dict:
    """Re-measure the alignment on the odd-slot windows and compare it with the sidecar.

    The windows get their own robust fit near the sidecar's line; the residual is that
    independent estimate minus the sidecar's at the middle of the overlap, allowed
    ``PASS_MEDIAN_MS`` plus half the spread between talkers. When too few windows agree (far,
    reverberant mics), or sync itself could only place the file by its envelope (or through
    another source: ``quality.via``), the sound envelopes are compared instead, to envelope
    precision. Either way the envelopes' residual is returned too (``envelope_residual_ms``):
    no sidecar passes that they put further off than ``ENVELOPE_TOLERANCE_MS``.
    """
    rc = _candidate(ref, sc.quality.get("reference_channel"))
    cc = _candidate(src, sc.quality.get("channel"))
    a, b = sc.overlap_in_source
    mid = 0.5 * (a + b)
    meas = fine_measures(ref, rc, src, cc, sc.delta_seconds, sc.drift_slope, (a, b), parity=1)
    fit = fit_line(meas, prior=(sc.delta_seconds, sc.drift_slope),
                   band=(_COARSE_TOL, 2e-5 + _COARSE_TOL / max(b - a, 1.0)))
    n, k = len(meas), (int(fit.inliers.sum()) if fit is not None else 0)
    # the envelopes judge every sidecar to their own precision: near a wrong line the windows
    # may find a reflection that agrees with it
    hyps = coarse_hypotheses(rc.feature, rc.t0, cc.feature, cc.t0)
    near = min(hyps, key=lambda h: abs(h.delta + h.slope * mid - sc.to_ref(mid) + mid),
               default=None)
    env_ms = (float("nan") if near is None
              else (near.delta + near.slope * mid - sc.to_ref(mid) + mid) * 1e3)
    out = {"windows": n, "agreeing": k, "method": "waveform", "envelope_residual_ms": env_ms}
    # an envelope-precision sidecar is judged on the envelopes alone: near a far mic's line
    # the windows find reflections as readily as the sound
    if (fit is not None and k >= 3 and sc.quality.get("method") != "envelope"
            and not sc.quality.get("via")):
        conf = significance(n, k, p0=_AGREE_TOL / FINE_MARGIN, n_lines=fit.n_lines_tried)
        offset = (fit.delta + fit.slope * mid) - sc.to_ref(mid) + mid
        r = fit.residuals[fit.inliers] * 1000.0
        out.update(confidence=conf, median_residual_ms=offset * 1000.0,
                   spread_ms=float(np.subtract(*np.percentile(r, [75, 25]))),
                   tolerance_ms=_tolerance_ms(sc, fit.cluster_span * 1000.0),
                   correlation=float(np.median([abs(m.ncc) for m, g in zip(meas, fit.inliers)
                                                if g])))
        if conf >= CONFIDENCE_REQUIRED:
            return out
    if near is None:
        out.update(confidence=0.0, median_residual_ms=float("nan"), spread_ms=float("nan"),
                   tolerance_ms=ENVELOPE_TOLERANCE_MS, correlation=0.0, method="envelope")
        return out
    out.update(confidence=1.0 - near.p_value, method="envelope", median_residual_ms=env_ms,
               spread_ms=float("nan"), tolerance_ms=ENVELOPE_TOLERANCE_MS,
               correlation=near.peak)
    return out


def passes(m: dict, overlap_seconds: float) -> bool:
    """PASS or FAIL for the measures ``m`` of :func:`check_alignment`.

    A confident re-measurement within its tolerance, which the envelopes do not put more than
    ``ENVELOPE_TOLERANCE_MS`` off. On an excerpt (under :data:`polysync.sync.EXCERPT` of
    overlap) the envelopes themselves can be 20-40 ms off; there a waveform line at least
    half of the windows agree on stands against them up to :data:`polysync.sync.FINE_SEARCH`,
    as it does in sync (:func:`polysync.align.adopt_dominant`).
    """
    env = abs(m["envelope_residual_ms"])
    env_limit = ENVELOPE_TOLERANCE_MS
    if (overlap_seconds < EXCERPT and m["method"] == "waveform"
            and m["agreeing"] >= _DOMINANT_SHARE * m["windows"]):
        env_limit = FINE_SEARCH * 1000.0
    return bool(m["confidence"] >= CONFIDENCE_REQUIRED
                and abs(m["median_residual_ms"]) <= m["tolerance_ms"]
                and not env > env_limit)


def verify_files(reference: str | os.PathLike, source: str | os.PathLike,
                 sidecar: str | os.PathLike | None = None,
                 sidecar_dir: str | os.PathLike | None = None, write: bool = True
                 ) -> VerifyReport:
    """Check ``source``'s sidecar against the audio; record the result in the sidecar.

    Raises :class:`CorruptFileError` for a missing, corrupt or stale sidecar. A FAIL is a
    report with ``passed=False`` (the CLI exits 1), not an exception.
    """
    reference, source = Path(reference), Path(source)
    sc_path = Path(sidecar) if sidecar is not None else sidecar_path(source, sidecar_dir)
    sc = load_sidecar(sc_path)
    if sc.is_reference:
        raise CorruptFileError(f"this is the reference's own sidecar; verify a source against "
                               f"{sc.reference}", sc_path)
    if sc.reference != reference.name:
        raise CorruptFileError(f"sidecar was synced to {sc.reference}, not {reference.name}",
                               sc_path)
    src = analyse_file(source, audio_streams=None if sc.audio_stream is None else [sc.audio_stream])
    check_fresh(sc, source, src.info.duration, sc_path)
    ref_streams = None if sc.reference_audio_stream is None else [sc.reference_audio_stream]
    ref = analyse_file(reference, audio_streams=ref_streams)
    m = check_alignment(ref, src, sc)
    passed = passes(m, sc.overlap_in_source[1] - sc.overlap_in_source[0])
    report = VerifyReport(source=source, sidecar_path=sc_path, passed=bool(passed),
                          median_residual_ms=m["median_residual_ms"], spread_ms=m["spread_ms"],
                          correlation=m["correlation"], windows=m["windows"],
                          agreeing=m["agreeing"], confidence=m["confidence"],
                          method=m["method"], tolerance_ms=m["tolerance_ms"])
    if write:
        sc.verification = report.as_verification()
        save_sidecar(sc, sc_path)
    return report


__all__ = ["verify_files", "VerifyReport", "VerifyFailed", "check_alignment", "passes"]
