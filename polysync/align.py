"""The correlation core: pure functions on numpy arrays (no files, no printing).

Pipeline for one (reference, source) pair of mono signals at the analysis rate:

1. ``speech_envelope``: band-limited log energy at ``ENV_RATE`` Hz, noise-gated and
   high-passed so that gain, EQ and noise floor differences between mics do not matter.
2. ``coarse_hypotheses``: the source envelope is cut into chunks; each chunk is
   cross-correlated (normalised by the overlap) against the whole reference envelope over
   every lag; a robust line through the chunks' peaks gives (offset, drift) candidates.
   Drift of hundreds of ppm over hours is therefore no obstacle to the coarse stage.
3. ``measure_windows``: for a candidate, short source windows spread over the overlap are
   located in the reference by generalised cross-correlation (PHAT-beta weighting, speech
   band), with a band-limited sub-sample peak and polarity flips tolerated.
4. ``fit_line``: a robust (consensus, then biweight) line through the window positions
   gives ``delta_seconds`` (the source's t=0 on the reference timeline) and ``drift_slope``.
5. ``significance``: how unlikely it is that that many windows agree with one line by chance
   (binomial tail, Bonferroni over the lines tried) - the calibrated confidence.
6. On wide-band windows the caller re-reads from the files (``polysync.sync.refine``):
   ``adopt_waveform`` (their line, when one talker band clearly wins), ``unconfirmed`` (an
   analysis-rate line they contradict gives way to the envelope line), ``adopt_drift`` (an
   envelope line takes their drift); ``chain`` composes a placement through another source.

Time convention: ``t_ref = delta + t_src * (1 + slope)``.
"""

from __future__ import annotations

import mmap
from dataclasses import dataclass, field, replace
from functools import lru_cache
from math import comb, erfc, sqrt
from typing import Optional, Sequence

import numpy as np
from scipy import fft as sfft, signal

ENV_RATE = 100
"""Envelope frames per second."""

MAX_DRIFT = 1.0e-3
"""Largest clock drift considered (1000 ppm; phones reach ~300 ppm)."""

MIN_OVERLAP = 8.0
"""Shortest overlap (seconds) polysync will sync."""

CONFIDENCE_REQUIRED = 0.999
"""Results below this confidence are refused."""

_BAND = (120.0, 1900.0)
_FINE_MARGIN = 0.050  # s, search half-width around the coarse prediction
_COARSE_TOL = 0.010  # s, how far the waveform line may sit from the envelope line
_WAVEFORM_P = 0.01  # the waveform line is used when its agreement is this unlikely by chance
_AGREE_TOL = 0.0015  # s, a window agrees with a line within this
_TALKER_BAND = 0.012  # s, path differences between talkers considered (about 4 m)
_ENVELOPE_SIGMA = 0.012  # s, how far an envelope line may sit from the truth (1 sigma)
_ADOPT_SHARE = 0.2  # share of wide-band windows that must agree before their line is taken


# --------------------------------------------------------------------------- envelopes


def _band_sos(rate: int):
    hi = min(_BAND[1], 0.45 * rate)
    return signal.butter(4, [_BAND[0], hi], btype="bandpass", fs=rate, output="sos")


def speech_envelope(x: np.ndarray, rate: int, env_rate: int = ENV_RATE,
                    block_seconds: float = 60.0) -> np.ndarray:
    """Log energy (dB re full scale) of the speech band of ``x``, ``env_rate`` frames/s.

    ``x``: 1-D signal at ``rate`` Hz (any float dtype). Processed in blocks so a float16
    array of hours is never copied whole. Returns float32, length ``len(x) // (rate/env_rate)``.
    """
    hop = rate // env_rate
    n_frames = len(x) // hop
    out = np.empty(n_frames, dtype=np.float32)
    sos = _band_sos(rate)
    zi = np.zeros((sos.shape[0], 2))
    block = max(hop, int(block_seconds * rate) // hop * hop)
    for start in range(0, n_frames * hop, block):
        seg = np.asarray(x[start: min(start + block, n_frames * hop)], dtype=np.float64)
        y, zi = signal.sosfilt(sos, seg, zi=zi)
        e = (y.reshape(-1, hop) ** 2).mean(axis=1)
        out[start // hop: start // hop + len(e)] = 10.0 * np.log10(e + 1e-12)
    return out


def envelope_feature(env_db: np.ndarray, env_rate: int = ENV_RATE) -> np.ndarray:
    """Turn a dB envelope into the zero-mean feature the coarse correlation uses.

    Frames within 6 dB of the noise floor are flattened to it (so hiss and hum carry no
    pattern). The feature is the level minus its 1.5 s moving average plus the onsets (rises of
    the level): reverberation smears the decays of a far mic late, not its onsets, so onsets
    keep the envelope alignment from drifting late for a distant camera.
    """
    env = env_db.astype(np.float64)
    if env.size == 0:
        return env.astype(np.float32)
    floor = np.percentile(env, 10)
    top = np.percentile(env, 99)
    gate = floor + min(6.0, max(0.0, 0.25 * (top - floor)))
    env = np.clip(env, gate, top) - gate
    k = max(1, int(1.5 * env_rate))
    box = np.ones(k) / k
    level = env - np.convolve(env, box, mode="same")
    onset = np.maximum(0.0, np.diff(env, prepend=env[0]))
    onset -= np.convolve(onset, box, mode="same")
    feat = level / (level.std() or 1.0) + onset / (onset.std() or 1.0)
    sd = feat.std()
    return (feat / sd if sd > 0 else feat).astype(np.float32)


ALIVE_FLOOR_DB = -100.0
"""dB re full scale: a track whose loud frames (95th percentile of the speech-band level) stay
below this is dead whatever its spread - 16-bit dither sits at about -100."""


def activity(env_db: np.ndarray) -> dict:
    """How alive a track is: its level percentiles (dB) and dynamic spread.

    A dead track (digital silence, or hiss with no events) has a small spread. The level
    only has to clear :data:`ALIVE_FLOOR_DB`: a 32-bit float or 24-bit recorder with its gain
    turned down carries clean speech peaking at -60 dBFS or below.
    """
    if env_db.size == 0:
        return {"p10": -120.0, "p95": -120.0, "spread": 0.0, "alive": False}
    p10, p50, p95 = (float(v) for v in np.percentile(env_db, [10, 50, 95]))
    spread = p95 - p10
    alive = spread >= 10.0 and p95 >= ALIVE_FLOOR_DB
    return {"p10": p10, "p50": p50, "p95": p95, "spread": spread, "alive": bool(alive)}


# --------------------------------------------------------------------------- coarse


class LagCorrelator:
    """Overlap-normalised cross-correlation of equal-length chunks against one reference
    feature at every lag, sharing the reference transform and the lag geometry between chunks.

    Lag ``L`` (index into the returned ``lags``) means chunk[0] sits at ref[L]; lags run from
    ``-(chunk_len-min_overlap)`` to ``len(ref)-min_overlap``. Single precision is ample for
    locating envelope peaks and halves the transform time.
    """

    def __init__(self, ref_feat: np.ndarray, chunk_len: int, min_overlap: int):
        n_r, n_c = len(ref_feat), chunk_len
        self.n_c = n_c
        self.nfft = int(2 ** np.ceil(np.log2(n_r + n_c + 1)))
        ref32 = np.asarray(ref_feat, dtype=np.float32)
        self.ref_fft = sfft.rfft(ref32, self.nfft)
        ref_sq_cum = np.concatenate([[0.0], np.cumsum(ref32.astype(np.float64) ** 2)])
        self.lags = np.arange(-(n_c - min_overlap), n_r - min_overlap + 1)
        self.wrapped = self.lags % self.nfft
        lo = np.clip(self.lags, 0, n_r)
        hi = np.clip(self.lags + n_c, 0, n_r)
        self.ref_e = ref_sq_cum[hi] - ref_sq_cum[lo]
        self.c_lo, self.c_hi = lo - self.lags, hi - self.lags
        # small overlaps are penalised mildly: their correlation is noisier
        self.penalty = np.sqrt(np.clip((hi - lo) / n_c, 0.0, 1.0))

    def __call__(self, chunk: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(lags, ncc) of ``chunk`` (``chunk_len`` samples) against the reference."""
        if len(chunk) != self.n_c:
            raise ValueError("chunk length differs from the correlator's")
        c_fft = sfft.rfft(np.asarray(chunk, dtype=np.float32), self.nfft)
        num = sfft.irfft(self.ref_fft * np.conj(c_fft), self.nfft)[self.wrapped]
        c_cum = np.concatenate([[0.0], np.cumsum(np.asarray(chunk, dtype=np.float64) ** 2)])
        c_e = c_cum[self.c_hi] - c_cum[self.c_lo]
        ncc = num / np.sqrt(np.maximum(self.ref_e * c_e, 1e-9)) * self.penalty
        return self.lags, ncc


def _top_peaks(values: np.ndarray, k: int, exclusion: int) -> list[int]:
    """Indices of the ``k`` highest local maxima at least ``exclusion`` apart."""
    v = values.copy()
    out = []
    for _ in range(k):
        i = int(np.argmax(v))
        if not np.isfinite(v[i]) or v[i] <= -np.inf:
            break
        out.append(i)
        v[max(0, i - exclusion): i + exclusion + 1] = -np.inf
    return out


def _parabolic(y_m: float, y_0: float, y_p: float) -> float:
    den = y_m - 2.0 * y_0 + y_p
    return 0.0 if den == 0 else float(np.clip(0.5 * (y_m - y_p) / den, -0.5, 0.5))


@dataclass
class Hypothesis:
    """A coarse (offset, drift) candidate: ``t_ref = delta + t_src * (1 + slope)``.

    ``z`` is the envelope correlation peak of its best supporting chunk in robust standard
    deviations of that chunk's correlation over all lags; ``p_value`` the chance of a peak that
    high anywhere over the lags and chunks searched if the recordings were unrelated.
    ``slope_known`` is False when the slope was not measured (a single chunk).
    """

    delta: float
    slope: float
    score: float
    peak: float
    z: float = 0.0
    p_value: float = 1.0
    slope_known: bool = True
    slope_se: float = MAX_DRIFT  # standard error of the slope from the chunks


def _gauss_tail(z: float) -> float:
    """P[N(0,1) > z]."""
    return 0.5 * float(erfc(z / sqrt(2.0)))


def coarse_hypotheses(ref_feat: np.ndarray, ref_t0: float, src_feat: np.ndarray, src_t0: float,
                      env_rate: int = ENV_RATE, max_hypotheses: int = 3) -> list[Hypothesis]:
    """Candidate alignments from envelope features, best first.

    The source feature is cut into chunks (whole if short); each chunk's best lags over the
    full range are found; lines through the chunk peaks (|slope| <= MAX_DRIFT) are scored by
    the correlation of the chunks that agree with them.
    """
    n_s = len(src_feat)
    chunk_len = n_s if n_s <= 90 * env_rate else 60 * env_rate
    starts = list(range(0, max(1, n_s - chunk_len + 1), chunk_len))
    if n_s > chunk_len and starts[-1] + chunk_len < n_s:
        starts.append(n_s - chunk_len)
    # a chunk must overlap the reference by half its length (or half the reference, if that is
    # shorter), and by MIN_OVERLAP at least
    min_overlap = int(min(chunk_len, len(ref_feat),
                          max(MIN_OVERLAP * env_rate, 0.5 * min(chunk_len, len(ref_feat)))))
    correlate = LagCorrelator(ref_feat, chunk_len, min_overlap)

    points = []  # (chunk centre t_src, delta at centre, ncc, chunk id, z, lags searched)
    for cid, s0 in enumerate(starts):
        chunk = src_feat[s0: s0 + chunk_len].astype(np.float64)
        if chunk.std() < 1e-6:
            continue
        lags, ncc = correlate(chunk)
        # robust level and spread of the correlation over all lags (every 7th lag: envelope
        # lags are correlated far beyond that, and a median of all 2*10^5 per chunk is slow)
        thin = ncc[::7]
        med = float(np.median(thin))
        scale = 1.4826 * float(np.median(np.abs(thin - med))) or 1e-9
        for i in _top_peaks(ncc, 4, exclusion=int(0.5 * env_rate)):
            frac = _parabolic(*ncc[i - 1: i + 2]) if 0 < i < len(ncc) - 1 else 0.0
            lag = (lags[i] + frac) / env_rate
            centre_src = src_t0 + (s0 + chunk_len / 2) / env_rate
            # chunk sample 0 (t_src = src_t0 + s0/env) sits at ref time ref_t0 + lag
            delta_at_centre = ref_t0 + lag - (src_t0 + s0 / env_rate)
            points.append((centre_src, delta_at_centre, float(ncc[i]), cid,
                           (float(ncc[i]) - med) / scale, len(lags)))
    if not points:
        return []
    pts = np.array(points)
    t, d, w, cid, zs = pts[:, 0], pts[:, 1], pts[:, 2], pts[:, 3].astype(int), pts[:, 4]
    n_lags = float(pts[:, 5].max())
    n_chunks = len(starts)
    tol = 2.5 / env_rate

    def support(delta0: float, slope: float) -> tuple[float, np.ndarray]:
        ok = (np.abs(d - (delta0 + slope * t)) <= tol) & (w > 0)
        best = {}  # one vote per chunk: its best agreeing peak
        for j in np.flatnonzero(ok):
            if w[j] > best.get(cid[j], (-1, 0))[0]:
                best[cid[j]] = (w[j], j)
        idx = np.array([j for _, j in best.values()], dtype=int)
        return float(sum(v for v, _ in best.values())), idx

    order = np.argsort(-w)
    seeds = order[: min(len(order), 48)]
    cands = []
    for a in seeds:
        cands.append((d[a], 0.0))  # slope-free: a single chunk or no drift
        for b in seeds:
            if b <= a or cid[a] == cid[b] or t[a] == t[b]:
                continue
            slope = (d[b] - d[a]) / (t[b] - t[a])
            if abs(slope) <= MAX_DRIFT:
                cands.append((d[a] - slope * t[a], slope))
    scored = sorted((support(d0, sl) + (d0, sl) for d0, sl in cands), key=lambda z: -z[0])

    hyps: list[Hypothesis] = []
    mid = float(np.median(t))
    for s_score, idx, delta0, slope in scored:
        slope_known = len(idx) >= 2
        slope_se = MAX_DRIFT
        if len(idx) == 2:
            slope_se = tol / abs(t[idx[1]] - t[idx[0]])
        if len(idx) >= 3:  # refine on the agreeing chunks
            A = np.stack([np.ones(len(idx)), t[idx]], axis=1)
            sol, *_ = np.linalg.lstsq(A, d[idx], rcond=None)
            if abs(sol[1]) <= MAX_DRIFT:
                delta0, slope = float(sol[0]), float(sol[1])
                resid = d[idx] - (delta0 + slope * t[idx])
                sigma = max(float(np.sqrt(np.sum(resid ** 2) / max(1, len(idx) - 2))),
                            0.2 / env_rate)
                slope_se = sigma / float(np.sqrt(np.sum((t[idx] - t[idx].mean()) ** 2)))
        if any(abs((h.delta + h.slope * mid) - (delta0 + slope * mid)) < 0.05 for h in hyps):
            continue
        z_best = float(zs[idx].max()) if len(idx) else 0.0
        # chance of such a peak at any lag of any chunk, for unrelated recordings
        p = min(1.0, _gauss_tail(z_best) * n_lags * n_chunks)
        hyps.append(Hypothesis(delta=float(delta0), slope=float(slope), score=s_score,
                               peak=float(w[idx].max()) if len(idx) else 0.0, z=z_best,
                               p_value=p, slope_known=slope_known,
                               slope_se=float(min(MAX_DRIFT, slope_se))))
        if len(hyps) >= max_hypotheses:
            break
    return hyps


# --------------------------------------------------------------------------- fine


@dataclass
class WindowMeasure:
    """One window's measurement: source window centre and where it sits in the reference."""

    t_src: float
    t_ref: float
    strength: float  # GCC peak over its noise level
    ncc: float  # band-limited correlation coefficient at the peak (signed)
    polarity: int
    echoes: tuple[float, ...] = ()  # t_ref of the other peaks nearly as strong (see measure_window)


def window_slots(src_start: float, src_end: float, slot: float, parity: int,
                 max_windows: int = 256) -> list[float]:
    """Start times (source clock) of analysis windows over [src_start, src_end).

    The overlap is divided into slots of ``slot`` seconds; sync uses even slots
    (``parity=0``) and verify odd ones (``parity=1``), so verify never re-reads sync's audio.
    At most ``max_windows`` are spread evenly over the span.
    """
    n_slots = int((src_end - src_start) // slot)
    idx = np.arange(parity, n_slots, 2)
    if len(idx) > max_windows:
        keep = np.unique(np.round(np.linspace(0, len(idx) - 1, max_windows)).astype(int))
        idx = idx[keep]
    return [src_start + i * slot for i in idx]


def _gcc(src_win: np.ndarray, ref_seg: np.ndarray, rate: int, upsample: int,
         beta: float = 0.75, band_hz: tuple[float, float] = _BAND
         ) -> tuple[np.ndarray, np.ndarray, float, float]:
    """PHAT-beta generalised cross-correlation of a window against a longer segment.

    Returns ``(gcc, plain, e_src, e_ref)``: ``gcc[i]`` is the whitened correlation with
    ``src_win[0]`` at ``ref_seg[i / upsample]`` (band-limited interpolation), ``plain[j]`` the
    speech-band correlation at integer lag ``j``, both over every full-overlap position, and
    the speech-band energies per sample of the (tapered) window and of the segment.
    """
    n_w, n_r = len(src_win), len(ref_seg)
    nfft = int(2 ** np.ceil(np.log2(n_r + n_w)))
    taper = _hann(n_w)
    S = np.fft.rfft(src_win * taper, nfft)
    R = np.fft.rfft(ref_seg, nfft)
    f = np.fft.rfftfreq(nfft, 1.0 / rate)
    band = ((f >= band_hz[0]) & (f <= min(band_hz[1], 0.45 * rate))).astype(np.float64)
    e_src = 2.0 * float(np.sum(band * np.abs(S) ** 2)) / nfft / float(np.sum(taper ** 2))
    e_ref = 2.0 * float(np.sum(band * np.abs(R) ** 2)) / nfft / n_r
    G = R * np.conj(S)
    mag = np.abs(G)
    phat = G * band / (mag ** beta + 1e-12 * (mag.max() + 1e-30))
    cc = np.fft.irfft(phat, nfft * upsample) * upsample
    plain = np.fft.irfft(G * band, nfft)
    return cc[: (n_r - n_w) * upsample + 1], plain[: n_r - n_w + 1], e_src, e_ref


@lru_cache(maxsize=16)
def _hann(n: int) -> np.ndarray:
    return np.hanning(n)


def release_pages(*arrays: np.ndarray) -> None:
    """Let the kernel take back the resident pages of memory-mapped ``arrays`` (a long file's
    signal read window by window would otherwise stay resident, read-around and all). The data
    stays in the page cache; plain arrays are left alone."""
    for a in arrays:
        mm = getattr(a, "_mmap", None)
        if mm is not None and hasattr(mm, "madvise") and hasattr(mmap, "MADV_DONTNEED"):
            mm.madvise(mmap.MADV_DONTNEED)


def measure_windows(ref: np.ndarray, ref_t0: float, src: np.ndarray, src_t0: float, rate: int,
                    starts: Sequence[float], window: float, delta: float, slope: float,
                    margin: float = _FINE_MARGIN) -> list[WindowMeasure]:
    """Locate each source window (start times in ``starts``, length ``window`` s) in the
    reference within +-``margin`` of the prediction ``delta + t*(1+slope)``.

    Windows that are silent (in the speech band) in either recording are skipped.
    """
    n_w = int(round(window * rate))
    m = int(round(margin * rate))
    out = []
    for k, a in enumerate(starts):
        i0 = int(round((a - src_t0) * rate))
        if i0 < 0 or i0 + n_w > len(src):
            continue
        a = src_t0 + i0 / rate
        pred = delta + a * (1.0 + slope)
        j0 = int(np.floor((pred - ref_t0) * rate)) - m
        if j0 < 0 or j0 + n_w + 2 * m > len(ref):
            continue
        w = measure_window(src[i0: i0 + n_w], a, ref[j0: j0 + n_w + 2 * m], ref_t0 + j0 / rate,
                           rate, slope)
        if w is not None:
            out.append(w)
        if k % 32 == 31:
            release_pages(ref, src)
    release_pages(ref, src)
    return out


def measure_window(src_win: np.ndarray, t_src: float, ref_seg: np.ndarray, t_ref: float,
                   rate: int, slope: float, upsample: int = 4,
                   band_hz: tuple[float, float] = _BAND, beta: float = 0.75
                   ) -> Optional[WindowMeasure]:
    """Where ``src_win`` (first sample at source time ``t_src``) best sits in ``ref_seg`` (first
    sample at reference time ``t_ref``); None when either is silent in the band. ``beta``: the
    PHAT exponent of :func:`_gcc`."""
    n_w = len(src_win)
    sw = np.asarray(src_win, dtype=np.float64)
    rs = np.asarray(ref_seg, dtype=np.float64)
    cc, pc, e_s, e_r = _gcc(sw - sw.mean(), rs - rs.mean(), rate, upsample, beta=beta,
                             band_hz=band_hz)
    if e_s <= 1e-12 or e_r <= 1e-12:  # below -120 dBFS in the band: silence
        return None
    mag = np.abs(cc)
    k = int(np.argmax(mag))
    frac = _parabolic(*mag[k - 1: k + 2]) if 0 < k < len(mag) - 1 else 0.0
    guard = 2 * upsample * max(1, rate // 1000)  # exclude +-2 ms around the peak
    noise = np.concatenate([mag[: max(0, k - guard)], mag[k + guard + 1:]])
    noise_level = float(np.sqrt(np.mean(noise ** 2))) if noise.size else 1e-12
    strength = float(mag[k] / max(noise_level, 1e-12))
    lag_i = min(len(pc) - 1, max(0, int(round(k / upsample))))
    taper_e = float(np.sum(_hann(n_w) ** 2))
    ncc = float(pc[lag_i] / np.sqrt(max(e_s * taper_e * e_r * taper_e, 1e-30)))
    lag = (k + frac) / upsample  # samples: src_win[0] at ref_seg[lag]
    window = n_w / rate
    centre = t_ref + window / 2 * (1 + slope)
    return WindowMeasure(t_src=t_src + window / 2, t_ref=centre + lag / rate,
                         strength=strength, ncc=float(np.clip(ncc, -1, 1)),
                         polarity=1 if cc[k] >= 0 else -1,
                         echoes=tuple(centre + j / upsample / rate
                                      for j in _top_peaks(mag, 5, guard // 4)[1:]
                                      if mag[j] >= _ECHO_SHARE * mag[k]))


_ECHO_SHARE = 0.6
"""A window's other peaks kept (:attr:`WindowMeasure.echoes`): of its next four, those at least
this share of its strongest."""


# --------------------------------------------------------------------------- line fit


@dataclass
class LineFit:
    delta: float
    slope: float
    inliers: np.ndarray  # boolean mask over the measures
    residuals: np.ndarray  # seconds, all measures
    n_lines_tried: int
    clusters: int = 1  # talker clusters averaged (see _across_talkers)
    cluster_span: float = 0.0  # s, between the outermost talker clusters


def fit_line(measures: Sequence[WindowMeasure], prior: Optional[tuple[float, float]] = None,
             tol: float = _AGREE_TOL, band: Optional[tuple[float, float]] = None
             ) -> Optional[LineFit]:
    """Robust line ``t_ref - t_src = delta + slope * t_src`` through window measures.

    Consensus first (lines through pairs of the strongest windows, plus ``prior``), then a
    Tukey-biweight refit on the consensus set, then the talker-cluster refinement. With
    ``band = (offset_tol, slope_tol)`` only lines within that distance of ``prior`` (offset
    compared at the middle of the windows) are considered. Returns None with < 2 measures.
    """
    if len(measures) < 2:
        return None
    x = np.array([m.t_src for m in measures])
    y = np.array([m.t_ref - m.t_src for m in measures])
    wgt = np.array([min(m.strength, 30.0) for m in measures])
    x_mid = float(np.median(x))

    def allowed(d0: float, s: float) -> bool:
        if abs(s) > MAX_DRIFT:
            return False
        if band is None or prior is None:
            return True
        return (abs((d0 + s * x_mid) - (prior[0] + prior[1] * x_mid)) <= band[0]
                and abs(s - prior[1]) <= band[1])

    order = np.argsort(-wgt)[:24]
    lines = [prior] if prior is not None else []
    for ia, a in enumerate(order):
        for b in order[ia + 1:]:
            if abs(x[b] - x[a]) < 1e-6:
                continue
            s = (y[b] - y[a]) / (x[b] - x[a])
            lines.append((y[a] - s * x[a], s))
        lines.append((y[a] - (prior[1] if prior else 0.0) * x[a], prior[1] if prior else 0.0))
    lines = [ln for ln in lines if allowed(*ln)]
    if not lines:
        return None
    lines = _shared_slope(lines, x, y, wgt, tol)
    best = None
    for d0, s in lines:
        inl = np.abs(y - (d0 + s * x)) <= tol
        score = wgt[inl].sum() + inl.sum()
        if best is None or score > best[0]:
            best = (score, d0, s)
    _, d0, s = best
    for scale in (tol, tol / 2, tol / 3):
        r = y - (d0 + s * x)
        u = r / (4.685 * max(scale, 1e-5))
        bw = np.where(np.abs(u) < 1, (1 - u ** 2) ** 2, 0.0) * wgt
        if bw.sum() <= 0 or np.count_nonzero(bw) < 2:
            break
        xm = np.average(x, weights=bw)
        if np.count_nonzero(bw) >= 3 and np.ptp(x[bw > 0]) > 0:
            A = np.stack([np.ones_like(x), x - xm], axis=1) * np.sqrt(bw)[:, None]
            sol, *_ = np.linalg.lstsq(A, y * np.sqrt(bw), rcond=None)
            s_new = float(np.clip(sol[1], -MAX_DRIFT, MAX_DRIFT))
            d0, s = float(sol[0] - s_new * xm), s_new
        else:
            d0 = float(np.average(y - s * x, weights=bw))
    inliers = np.abs(y - (d0 + s * x)) <= tol
    echoes = [np.array(m.echoes) - m.t_src for m in measures]
    d0, s, n_clusters, span = _across_talkers(x, y, wgt, d0, s, inliers, echoes)
    return LineFit(delta=float(d0), slope=float(s), inliers=inliers,
                   residuals=y - (d0 + s * x), n_lines_tried=max(1, len(lines)),
                   clusters=n_clusters, cluster_span=span)


_CLUSTER_TOL = 0.00025
"""s: windows of one talker's sound (or one reflection of it) agree this closely once the
clock drift is taken out."""


_CLUSTER_EVIDENCE = 12
"""Windows needed before their clusters choose the slope: a 20 s excerpt's nine or ten hold a
cluster of three by chance about as often as by sound."""


def _shared_slope(lines: list[tuple[float, float]], x: np.ndarray, y: np.ndarray,
                  wgt: np.ndarray, tol: float) -> list[tuple[float, float]]:
    """The candidate lines whose slope is the one the windows' clusters share.

    Each talker's direct sound, and each strong reflection of it, lines its windows up on its
    own line, and the clock drift tilts all those lines alike. A line through two windows of
    different clusters threads them at a fake slope - over a short overlap ``tol`` lets it
    pick up windows of several clusters and outnumber each one. At the true slope the clusters
    are tight: the slope kept is the one under which the most window weight sits in runs of
    three or more windows each within ``_CLUSTER_TOL`` of the next (two windows always
    coincide under the slope of the line through them), and the lines within ``tol`` of it
    over the windows' span. (:func:`_across_talkers` then refines the slope with the talker
    clusters near the chosen line; it cannot undo a consensus taken at a fake slope.)"""
    slopes = np.unique(np.array([s for _, s in lines]))
    if len(slopes) < 2 or len(x) < _CLUSTER_EVIDENCE:
        return lines

    def tightness(s: float) -> float:
        return float(sum(wgt[g].sum() for g in _intercept_groups(y - s * x, _CLUSTER_TOL)
                         if len(g) >= 3))

    score = np.array([tightness(s) for s in slopes])
    best = slopes[int(np.argmax(score))]
    reach = tol / max(float(np.ptp(x)), 1e-9)
    return [ln for ln in lines if abs(ln[1] - best) <= reach]


def _intercept_groups(c: np.ndarray, gap: float) -> list[np.ndarray]:
    """Indices of the windows whose intercepts ``c`` form runs, each within ``gap`` of the
    next (in intercept order)."""
    order = np.argsort(c)
    return np.split(order, np.flatnonzero(np.diff(c[order]) > gap) + 1)


def _across_talkers(x: np.ndarray, y: np.ndarray, wgt: np.ndarray, d0: float, s: float,
                    inliers: np.ndarray, echoes: list[np.ndarray]
                    ) -> tuple[float, float, int, float]:
    """Refine a consensus line when talkers sit at different distances from the two mics.

    Each talker's sound reaches the two mics with its own path difference, so the windows form
    parallel clusters a fraction of a ms to a few ms apart around the true clock offset, and a
    plain line through them turns a change of talker over time into fake drift. Here the
    windows within ``_TALKER_BAND`` of the line are grouped by intercept (split at gaps well
    above the window-to-window noise); the groups share one slope and get their own intercept
    (a fixed-effects fit), iterated from several starting slopes, keeping the tightest
    solution. The offset is the groups' average weighted by windows, leaving out a group that is
    a reflection of another (:func:`_direct_groups`, from each window's other peaks
    ``echoes``: (t_ref - t_src) of each, per window).
    Returns (delta, slope, number of groups, span between the outermost groups in s).
    """
    band = np.flatnonzero(np.abs(y - (d0 + s * x)) <= _TALKER_BAND)
    min_size = max(3, int(0.08 * inliers.sum()))
    if len(band) < 2 * min_size:
        return d0, s, 1, 0.0
    xb, yb, wb = x[band], y[band], wgt[band]
    t_order = np.argsort(xb)
    dx, dy = np.diff(xb[t_order]), np.diff(yb[t_order])
    ok = dx > 0
    local = float(np.median(dy[ok] / dx[ok])) if ok.any() else s
    local = float(np.clip(local, -MAX_DRIFT, MAX_DRIFT))
    step = np.abs(dy - local * dx)
    noise = 1.4826 * float(np.median(step)) / np.sqrt(2) if step.size else 0.0
    gap = float(np.clip(8.0 * noise, 0.00012, 0.0008))

    def solve(slope: float):
        for _ in range(6):
            groups = [g for g in _intercept_groups(yb - slope * xb, gap) if len(g) >= min_size]
            if not groups:
                return None
            idx = np.concatenate(groups)
            if np.ptp(xb[idx]) <= 0:
                return None
            A = np.zeros((len(idx), 1 + len(groups)))
            A[:, 0] = xb[idx]
            row = 0
            for k, g in enumerate(groups):
                A[row: row + len(g), 1 + k] = 1.0
                row += len(g)
            sw = np.sqrt(wb[idx])
            sol, *_ = np.linalg.lstsq(A * sw[:, None], yb[idx] * sw, rcond=None)
            new = float(np.clip(sol[0], -MAX_DRIFT, MAX_DRIFT))
            done = abs(new - slope) < 1e-9
            slope = new
            if done:
                break
        resid = yb[idx] - A[:, 1:] @ sol[1:] - slope * xb[idx]
        rms = float(np.sqrt(np.average(resid ** 2, weights=wb[idx])))
        explained = int(np.count_nonzero(np.abs(resid) <= max(0.0003, 3.0 * noise)))
        return (explained, -rms, groups, sol[1:], slope)

    # Start from the consensus slope, the local (successive windows) slope and no drift; keep
    # the solution that puts the most windows tightly on their talker's line.
    results = [r for r in (solve(s), solve(local), solve(0.0)) if r is not None]
    if not results:
        return d0, s, 1, 0.0
    _, _, groups, levels, slope = max(results, key=lambda r: (r[0], r[1]))
    sizes = np.array([len(g) for g in groups], dtype=float)
    keep = _direct_groups(groups, levels, [echoes[i] - slope * x[i] for i in band],
                          max(gap, 0.0003))
    delta = float(np.average(levels[keep], weights=sizes[keep]))
    return delta, slope, len(groups), float(np.ptp(levels))


_ECHO_HELD = 0.5
"""Share of a talker group's windows whose other peaks hold another group's line, for the two
to be one sound: its direct path and a reflection (:func:`_direct_groups`)."""


def _direct_groups(groups: list[np.ndarray], levels: np.ndarray, echoes: list[np.ndarray],
                   tol: float) -> np.ndarray:
    """Which talker groups (intercepts ``levels``) are direct sound: a bool mask.

    A reflection reaches a mic later than the direct sound, by a fixed few ms. Where the far
    mic's reflection outdoes the direct sound (a talker facing away from it), the windows' top
    peaks gather on the reflection's line as on a talker's own; but the direct sound's peak is
    still in those windows, nearly as strong. A group whose windows mostly hold another group's
    line among their other peaks (``echoes``: per window, intercepts of its other peaks with the
    drift taken out; :data:`_ECHO_HELD`) is one sound with it. Of the two, the reflection is the
    one further from the other talkers' lines: the far mic's reflections lengthen its path, and
    move the line away from the clock offset, which the talkers sit around. Needs a third group
    to say which side that is; pairs are resolved from the most tied.
    """
    keep = np.ones(len(groups), dtype=bool)
    while keep.sum() > 2:
        found = None
        for a in np.flatnonzero(keep):
            for b in np.flatnonzero(keep):
                if a == b:
                    continue
                rest = keep.copy()
                rest[[a, b]] = False
                centre = float(np.mean(levels[rest]))
                if abs(levels[a] - centre) <= abs(levels[b] - centre):
                    continue
                held = np.mean([bool(np.any(np.abs(echoes[i] - levels[b]) <= tol))
                                for i in groups[a]])
                if held >= _ECHO_HELD and (found is None or held > found[0]):
                    found = (held, a)
        if found is None:
            break
        keep[found[1]] = False
    return keep


def significance(n: int, k: int, p0: float, n_lines: int) -> float:
    """Confidence that ``k`` of ``n`` windows agreeing with a line is not chance.

    Each window of an unrelated pair lands within the agreement band with probability
    ``p0``; the tail P[Binomial(n, p0) >= k] is multiplied by the number of lines tried.
    """
    if n <= 0 or k <= 0:
        return 0.0
    tail = 0.0
    for j in range(k, n + 1):
        tail += comb(n, j) * p0 ** j * (1 - p0) ** (n - j)
    return float(max(0.0, 1.0 - min(1.0, tail * n_lines)))


def waveform_line(meas: Sequence[WindowMeasure], prior: tuple[float, float],
                  band: tuple[float, float], margin: float = _FINE_MARGIN):
    """The waveform line through window measures found within +-``margin`` of ``prior``.

    A file's polarity relative to the reference is one for the whole recording, so windows of
    each polarity are fitted apart. Reflections and pitch echoes can line up too, with either
    sign; when both polarities find a significant line at different offsets, the waveform is
    ambiguous. Returns ``(p, k, fit, idx, ambiguous)``: the chance of that agreement for
    unrelated recordings, the agreeing count, the :class:`LineFit` (or None) and the indices
    of ``meas`` it was fitted on.
    """
    n = len(meas)
    fits = {}
    for pol in (1, -1):
        idx = [i for i, m in enumerate(meas) if m.polarity == pol]
        f = fit_line([meas[i] for i in idx], prior=prior, band=band)
        if f is not None:
            k_pol = int(f.inliers.sum())
            p_pol = 1.0 - significance(n, k_pol, p0=_AGREE_TOL / margin,
                                       n_lines=2 * f.n_lines_tried)
            fits[pol] = (p_pol, k_pol, f, idx)
    ranked = sorted(fits.values(), key=lambda v: (v[0], -v[1]))
    p, k, fit, idx = ranked[0] if ranked else (1.0, 0, None, [])
    mid = float(np.median([m.t_src for m in meas])) if meas else 0.0
    ambiguous = (len(ranked) == 2 and ranked[1][0] <= _WAVEFORM_P
                 and abs((ranked[0][2].delta + ranked[0][2].slope * mid)
                         - (ranked[1][2].delta + ranked[1][2].slope * mid)) > 0.002)
    return p, k, fit, idx, ambiguous


def place_span(x: np.ndarray, rate: int, t_guess: float, coarse: np.ndarray, coarse_t0: float,
               coarse_rate: int, search: float = 0.02) -> Optional[float]:
    """Exact time of ``x[0]`` (``x`` re-read at ``rate``, an integer multiple of
    ``coarse_rate``) on the clock of ``coarse``, the same sound from the full decoding pass,
    searched within +-``search`` s of ``t_guess``. None when the two do not match (the span
    is silent, or not the same sound)."""
    factor = rate // coarse_rate
    y = signal.resample_poly(np.asarray(x, dtype=np.float64), 1, factor)
    m = int(round(search * coarse_rate))
    j0 = max(0, int(np.floor((t_guess - coarse_t0) * coarse_rate)) - m)  # clipped at the ends
    j1 = min(len(coarse), int(np.floor((t_guess - coarse_t0) * coarse_rate)) + len(y) + m)
    if j1 - j0 < len(y) + 2 or len(y) < coarse_rate // 4:
        return None
    seg = np.asarray(coarse[j0: j1], dtype=np.float64)
    up = 4  # a whitened peak of one sound against itself is sharp: parabolic on 4x is exact
    cc, pc, e_s, e_r = _gcc(y - y.mean(), seg - seg.mean(), coarse_rate, up, beta=1.0)
    if e_s <= 1e-12 or e_r <= 1e-12:
        return None
    k = int(np.argmax(cc))
    frac = _parabolic(*cc[k - 1: k + 2]) if 0 < k < len(cc) - 1 else 0.0
    lag_i = min(len(pc) - 1, int(round(k / up)))
    taper_e = float(np.sum(_hann(len(y)) ** 2))
    ncc = pc[lag_i] / np.sqrt(max(e_s * e_r * taper_e ** 2, 1e-30))
    if ncc < 0.8:
        return None
    return coarse_t0 + (j0 + (k + frac) / up) / coarse_rate


def adopt_waveform(res: SyncResult, meas: list[WindowMeasure], margin: float, slope_tol: float,
                   ref_range: tuple[float, float], src_range: tuple[float, float]
                   ) -> Optional[SyncResult]:
    """``res`` re-estimated from wide-band window measures found within +-``margin`` of its
    line, or None when they do not give one clear answer (then ``res`` stands).

    Each talker's windows gather where its direct sound lines up, and talkers sit within a few
    metres, so the true line is where the most windows gather within a talker band
    (``_TALKER_BAND`` wide). A strong reflection gathers windows too, but only of the talkers
    it serves, and mostly well away from where the envelopes put the line; so each window's
    vote is weighed by how well it fits the envelope line (``_ENVELOPE_SIGMA``). When
    another band far off is nearly as well supported, or fewer than ``_ADOPT_SHARE`` of the
    windows agree (reflections of a distant mic can line up a few by themselves), the answer is
    not clear. Polarity is not used: the phase of a device's filters turns a wide-band peak's
    sign.
    """
    if len(meas) < 3:
        return None
    x, u, strength = _window_offsets(res, meas)
    x_mid = float(np.median(x))
    env_d, env_s = res.envelope_line
    env_off = (env_d + env_s * x_mid) - (res.delta_seconds + res.drift_slope * x_mid)
    # each window is weighed by how well its own offset fits the envelope line (not the band's
    # centre, which would let a band reach for a far cluster with its near edge)
    w = strength * np.exp(-0.5 * ((u - env_off) / _ENVELOPE_SIGMA) ** 2)
    c0 = _clear_band(u, w, margin, rival=0.8)
    if c0 is None:
        return None
    return _line_in_band(res, meas, c0, margin, slope_tol, max(3, _ADOPT_SHARE * len(meas)),
                         ref_range, src_range)


_DOMINANT_SHARE = 0.5
"""Share of the wide-band windows a line must hold to be taken however far it sits from the
envelope line (:func:`adopt_dominant`)."""


def adopt_dominant(res: SyncResult, meas: list[WindowMeasure], search: float, slope_tol: float,
                   ref_range: tuple[float, float], src_range: tuple[float, float]
                   ) -> Optional[SyncResult]:
    """``res`` re-estimated on the one line most wide-band windows (found within +-``search``
    of it) gather on, wherever it lies; None unless that line holds at least
    :data:`_DOMINANT_SHARE` of the windows and no band away from it holds half as much.

    For when :func:`adopt_waveform` finds nothing clear near the envelope line. On a short
    excerpt of far mics the envelope line can sit 20-40 ms off - reverberation smears the two
    envelopes differently, the same way all through the excerpt - while the windows still
    agree on the sound's own line. Unweighed by the envelope, that line must stand out alone:
    a reflection lines up windows too, but then the direct sound's band holds some as well.
    """
    if len(meas) < 3:
        return None
    _, u, strength = _window_offsets(res, meas)
    least = max(3, _DOMINANT_SHARE * len(meas))
    c0 = _clear_band(u, strength, search, rival=0.5, least=least)
    if c0 is None:
        return None
    return _line_in_band(res, meas, c0, search, slope_tol, least, ref_range, src_range)


def _window_offsets(res: SyncResult, meas: list[WindowMeasure]
                    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Each window's source time, its offset from the line of ``res`` (s) and its vote (the
    strength of its peak, capped)."""
    x = np.array([m.t_src for m in meas])
    u = np.array([m.t_ref - m.t_src for m in meas]) - (res.delta_seconds + res.drift_slope * x)
    return x, u, np.array([min(m.strength, 30.0) for m in meas]) + 1.0


def _clear_band(u: np.ndarray, w: np.ndarray, margin: float, rival: float, least: float = 0
                ) -> Optional[float]:
    """Centre (offset from the line, s) of the talker band (``_TALKER_BAND`` wide) within
    +-``margin`` where the votes ``w`` of the windows at offsets ``u`` gather most; None when
    a band away from it holds ``rival`` of that support, or the band holds fewer than
    ``least`` windows."""
    half = _TALKER_BAND / 2
    centres = np.arange(-margin + half, margin - half + 1e-9, 0.0005)
    support = np.array([w[np.abs(u - c) <= half].sum() for c in centres])
    best = int(np.argmax(support))
    far = np.abs(centres - centres[best]) > 2 * half
    if far.any() and support[far].max() >= rival * support[best]:
        return None
    if np.count_nonzero(np.abs(u - centres[best]) <= half) < least:
        return None
    return float(centres[best])


def _line_in_band(res: SyncResult, meas: list[WindowMeasure], c0: float, margin: float,
                  slope_tol: float, least: float, ref_range: tuple[float, float],
                  src_range: tuple[float, float]) -> Optional[SyncResult]:
    """``res`` on the line the windows fit in the talker band ``c0`` off its own, when at least
    ``least`` windows agree and that is unlikely by chance (windows searched +-``margin``)."""
    fit = fit_line(meas, prior=(res.delta_seconds + c0, res.drift_slope),
                   band=(_TALKER_BAND / 2, slope_tol))
    if fit is None:
        return None
    k = int(fit.inliers.sum())
    p = 1.0 - significance(len(meas), k, p0=_AGREE_TOL / margin, n_lines=fit.n_lines_tried)
    if k < least or p > _WAVEFORM_P:
        return None
    return _wide_band_result(res, meas, fit, p, ref_range, src_range)


def _wide_band_result(res: SyncResult, meas: list[WindowMeasure], fit: LineFit, p: float,
                      ref_range: tuple[float, float], src_range: tuple[float, float]
                      ) -> SyncResult:
    """``res`` with the line ``fit`` of the wide-band windows ``meas`` (chance ``p``)."""
    k = int(fit.inliers.sum())
    agree = fit.inliers
    r = fit.residuals[agree] * 1000.0
    ov_ref, ov_src = overlap_of(fit.delta, fit.slope, *ref_range, *src_range)
    good = [m for m, a in zip(meas, agree) if a]
    return replace(res, delta_seconds=fit.delta, drift_slope=fit.slope,
                   overlap_in_reference=ov_ref, overlap_in_source=ov_src,
                   n_windows=len(meas), n_agree=k, residual_ms=float(np.median(np.abs(r))),
                   spread_ms=float(np.subtract(*np.percentile(r, [75, 25]))),
                   correlation=float(np.median([abs(m.ncc) for m in good])),
                   polarity=int(np.sign(sum(m.polarity for m in good)) or 1),
                   measures=meas, agree=agree, method="waveform", p_waveform=p,
                   talker_span_ms=fit.cluster_span * 1000.0, wide_band=True)


def unconfirmed(res: SyncResult, meas: list[WindowMeasure], margin: float,
                ref_range: tuple[float, float], src_range: tuple[float, float],
                min_windows: int = 20) -> Optional[SyncResult]:
    """The envelope line of ``res``, when ``res`` is an analysis-rate waveform line that the
    wide-band windows ``meas`` (searched within +-``margin``) contradict; else None.

    Below 2 kHz a far mic's strong reflection can line up windows as well as the direct sound.
    The direct sound's line holds over the whole speech band, so when plenty of wide-band
    windows were measured and their agreement with the line is no better than chance, the
    line was a reflection and the envelopes give the offset instead.
    """
    if res.method != "waveform" or len(meas) < min_windows:
        return None
    u = np.array([m.t_ref - m.t_src - (res.delta_seconds + res.drift_slope * m.t_src)
                  for m in meas])
    k = int(np.count_nonzero(np.abs(u) <= _AGREE_TOL))
    if 1.0 - significance(len(meas), k, p0=_AGREE_TOL / margin, n_lines=1) <= _WAVEFORM_P:
        return None
    d, sl = res.envelope_line
    ov_ref, ov_src = overlap_of(d, sl, *ref_range, *src_range)
    return replace(res, delta_seconds=d, drift_slope=sl, method="envelope", n_agree=0,
                   overlap_in_reference=ov_ref, overlap_in_source=ov_src,
                   residual_ms=float("nan"), spread_ms=float("nan"), correlation=0.0,
                   agree=np.zeros(len(res.measures), dtype=bool), talker_span_ms=0.0)


def adopt_drift(res: SyncResult, meas: list[WindowMeasure], margin: float, slope_tol: float
                ) -> Optional[SyncResult]:
    """``res`` (an envelope line) with its drift taken from wide-band window measures, or None.

    When no line is clear enough to give the offset (:func:`adopt_waveform`), the windows may
    still gather on one line away from it: a strong reflection seen by one mic lines up windows
    just as the direct sound does, a fixed number of ms off, and it moves with the same clock
    drift. Such a line (significant on its own, spread over most of the overlap) gives the
    drift; the offset stays the envelope's at the middle of the overlap, where it is measured.
    """
    if res.method != "envelope" or len(meas) < 5:
        return None
    fit = fit_line(meas, prior=(res.delta_seconds, res.drift_slope), band=(margin, slope_tol))
    if fit is None:
        return None
    k = int(fit.inliers.sum())
    p = 1.0 - significance(len(meas), k, p0=_AGREE_TOL / margin, n_lines=fit.n_lines_tried)
    x = np.array([m.t_src for m in meas])[fit.inliers]
    y = np.array([m.t_ref - m.t_src for m in meas])[fit.inliers]
    span = res.overlap_in_source[1] - res.overlap_in_source[0]
    if k < 5 or p > _WAVEFORM_P or np.ptp(x) < 0.5 * span:
        return None
    # the slope of that one line alone (the talker-cluster refit of fit_line would pull in
    # whatever lies near a line that is not the sound's)
    slope = float(np.clip(np.polyfit(x, y, 1)[0], -MAX_DRIFT, MAX_DRIFT))
    x_mid = 0.5 * (res.overlap_in_source[0] + res.overlap_in_source[1])
    delta = res.delta_seconds + (res.drift_slope - slope) * x_mid
    return replace(res, delta_seconds=delta, drift_slope=slope)


# --------------------------------------------------------------------------- the pair


@dataclass
class SyncResult:
    """Everything the core learns about one (reference, source) pair."""

    delta_seconds: float
    drift_slope: float
    confidence: float
    overlap_in_reference: tuple[float, float]
    overlap_in_source: tuple[float, float]
    n_windows: int
    n_agree: int
    residual_ms: float  # median |residual| of agreeing windows
    spread_ms: float  # inter-quartile range of agreeing residuals
    correlation: float  # median |ncc| of agreeing windows
    polarity: int
    coarse_peak: float
    measures: list = field(default_factory=list, repr=False)
    agree: np.ndarray = field(default=None, repr=False)
    method: str = "waveform"  # what set the estimate: "waveform" windows or the "envelope"
    coarse_z: float = 0.0
    p_envelope: float = 1.0
    p_waveform: float = 1.0
    talker_span_ms: float = 0.0  # between the outermost talker clusters averaged
    envelope_line: tuple = (0.0, 0.0)  # (delta, slope) the sound envelopes gave
    via: Optional[str] = None  # placed through this other source (see :func:`chain`)
    wide_band: bool = False  # the line is the wide-band windows' (:func:`adopt_waveform`)

    @property
    def drift_ppm(self) -> float:
        return self.drift_slope * 1e6

    # Names the original polysync's SyncResult had.
    @property
    def n_probes(self) -> int:
        return self.n_windows

    @property
    def n_good(self) -> int:
        return self.n_agree

    @property
    def coarse_corr(self) -> float:
        return self.coarse_peak

    fallback = None


def overlap_of(delta: float, slope: float, ref_start: float, ref_end: float,
               src_start: float, src_end: float) -> tuple[tuple[float, float], tuple[float, float]]:
    """The common span, in reference time and in source time."""
    a_ref = max(ref_start, delta + src_start * (1 + slope))
    b_ref = min(ref_end, delta + src_end * (1 + slope))
    if b_ref <= a_ref:
        return (a_ref, a_ref), ((a_ref - delta) / (1 + slope),) * 2
    return (a_ref, b_ref), ((a_ref - delta) / (1 + slope), (b_ref - delta) / (1 + slope))


def slot_length(overlap_seconds: float) -> float:
    """Analysis window length (s): short overlaps get 1 s windows, long ones 2 s."""
    return 1.0 if overlap_seconds < 120.0 else 2.0


def chain(first: SyncResult, second: SyncResult, ref_range: tuple[float, float],
          src_range: tuple[float, float], via: str) -> SyncResult:
    """``second`` (a source on another source ``via``'s clock) carried onto the reference by
    ``first`` (``via`` on the reference's clock): the lines compose,
    ``t_ref = d1 + (d2 + t (1 + s2)) (1 + s1)``. The measures are ``second``'s."""
    d1, s1 = first.delta_seconds, first.drift_slope
    d2, s2 = second.delta_seconds, second.drift_slope
    delta = d1 + d2 * (1.0 + s1)
    slope = (1.0 + s2) * (1.0 + s1) - 1.0
    ov_ref, ov_src = overlap_of(delta, slope, *ref_range, *src_range)
    return replace(second, delta_seconds=delta, drift_slope=slope, overlap_in_reference=ov_ref,
                   overlap_in_source=ov_src, confidence=min(first.confidence, second.confidence),
                   via=via)


def align_pair(ref: np.ndarray, ref_t0: float, src: np.ndarray, src_t0: float, rate: int,
               ref_feat: Optional[np.ndarray] = None, src_feat: Optional[np.ndarray] = None
               ) -> Optional[SyncResult]:
    """Align ``src`` to ``ref`` (mono, same ``rate``). Returns the best-supported result,
    or None if no candidate alignment exists at all. The caller judges ``confidence``.
    """
    if ref_feat is None:
        ref_feat = envelope_feature(speech_envelope(ref, rate))
    if src_feat is None:
        src_feat = envelope_feature(speech_envelope(src, rate))
    hyps = coarse_hypotheses(ref_feat, ref_t0, src_feat, src_t0)
    ref_end = ref_t0 + len(ref) / rate
    src_end = src_t0 + len(src) / rate
    best: Optional[SyncResult] = None
    for h in hyps:
        res = _fine(ref, ref_t0, ref_end, src, src_t0, src_end, rate, h)
        if res is None:
            continue
        if best is None or (res.confidence, res.n_agree) > (best.confidence, best.n_agree):
            best = res
        if best.confidence >= CONFIDENCE_REQUIRED:
            break
    return best


def _fine(ref, ref_t0, ref_end, src, src_t0, src_end, rate, h: Hypothesis) -> Optional[SyncResult]:
    """Measure windows around hypothesis ``h`` and fit the line; None without enough data.

    Two pieces of evidence make the confidence: the envelope peak (``h.p_value``) and the
    number of waveform windows agreeing with one line (binomial tail over the lines tried).
    The waveform line gives the estimate when its agreement is itself significant
    (``_WAVEFORM_P``); otherwise (far, reverberant mics whose waveforms barely cohere) the
    envelope line does, to about 10 ms.
    """
    ov_ref, ov_src = overlap_of(h.delta, h.slope, ref_t0, ref_end, src_t0, src_end)
    span = ov_src[1] - ov_src[0]
    if span < 2.0:
        return None
    slot = slot_length(span)
    starts = window_slots(ov_src[0], ov_src[1] - slot, slot, parity=0)
    meas = measure_windows(ref, ref_t0, src, src_t0, rate, starts, slot, h.delta, h.slope)
    slope_tol = min(MAX_DRIFT, 2e-6 + 4.0 * h.slope_se) if h.slope_known else MAX_DRIFT
    n = len(meas)
    p_fine, k, fit, idx, ambiguous = waveform_line(meas, (h.delta, h.slope),
                                                   (_COARSE_TOL, slope_tol))
    conf = max(0.0, 1.0 - min(1.0, 2.0 * min(p_fine, h.p_value)))
    if fit is not None and k >= 3 and p_fine <= _WAVEFORM_P and not ambiguous:
        delta, slope, method = fit.delta, fit.slope, "waveform"
        agree = np.zeros(n, dtype=bool)
        agree[np.array(idx)[fit.inliers]] = True
        r = fit.residuals[fit.inliers] * 1000.0
    else:
        delta, slope, method = h.delta, h.slope, "envelope"
        agree = np.zeros(n, dtype=bool)
        r = np.array([])
    ov_ref, ov_src = overlap_of(delta, slope, ref_t0, ref_end, src_t0, src_end)
    nccs = np.array([abs(m.ncc) for m, a in zip(meas, agree) if a])
    pol = np.array([m.polarity for m, a in zip(meas, agree) if a])
    return SyncResult(
        delta_seconds=delta, drift_slope=slope, confidence=conf,
        overlap_in_reference=ov_ref, overlap_in_source=ov_src,
        n_windows=n, n_agree=k,
        residual_ms=float(np.median(np.abs(r))) if r.size else float("nan"),
        spread_ms=float(np.subtract(*np.percentile(r, [75, 25]))) if r.size else float("nan"),
        correlation=float(np.median(nccs)) if nccs.size else 0.0,
        polarity=int(np.sign(pol.sum())) if pol.size else 1,
        coarse_peak=h.peak, measures=meas, agree=agree,
        method=method, coarse_z=h.z, p_envelope=h.p_value, p_waveform=p_fine,
        talker_span_ms=(fit.cluster_span * 1000.0 if fit is not None and k >= 3 else 0.0),
        envelope_line=(h.delta, h.slope))
