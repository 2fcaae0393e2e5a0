"""Who speaks when: speech activity per person from several synced mics. Pure numpy.

Every mic of a shoot hears every person; the question is whose sound it is. All cues are
relative, so the loudest or noisiest mic never wins by level alone:

1. *That* someone speaks (10 ms frames): some mic's speech-band level is well above that
   mic's own noise floor (so gains and hiss cancel).
2. *Who* speaks, per 256 ms window every 100 ms, scored against one talker model per person:

   * **Level pattern.** Each mic's level minus the mean over the mics (the talker's loudness
     cancels). A person's own mic stands out against its usual level while others speak
     (their bleed). With lavaliers this separates people by 10+ dB.
   * **Arrival order.** A talker's sound reaches the mics in an order fixed by where they
     sit: the phase-transform cross-correlation (GCC-PHAT) of every mic pair peaks at that
     talker's time difference. The score is the steered response (the correlation at the
     talker's differences, weighted by how clear each pair is). In a live room, levels at
     cameras a metre or two away differ by only 1-2 dB between talkers; the direct sound's
     arrival, which PHAT isolates, still does.

   When the persons' own mics separate them by level (:func:`level_separation`), the models
   are seeded from the windows where each person's mic stands out; otherwise from arrival
   times alone, and each talker is then tied to the person whose mic it reaches earliest and
   loudest (:func:`assign_persons`). Both halves are refitted on the windows each talker
   wins until the assignment settles.
3. *A second voice* (crosstalk, a backchannel): a person's own mic is louder than the main
   talker's bleed explains (2.5 times the robust scatter of that talker's level pattern, at
   least 3 dB), or - when levels are weak - their arrival pattern is strong, or they win a
   share of the windows around. While someone speaks into a close mic (a lavalier), that
   mic's pairs carry their voice alone, so the others are looked for on the remaining pairs.

Smoothing: evidence over 0.3 s; activity gaps under 0.3 s bridged, blips under 0.1 s dropped.
No voice-activity library is used: the level gate against each mic's floor is what decides
*that* someone speaks, and the hard part - *who* - is not what VAD models answer.

Time: every array here lives on the reference timeline; frame ``j`` of an :class:`Activity`
covers ``[t0 + j/rate, t0 + (j+1)/rate)`` seconds.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Optional, Sequence

import numpy as np
import scipy.fft
from scipy.ndimage import maximum_filter1d, uniform_filter1d
from scipy.optimize import linear_sum_assignment

from .align import release_pages

FRAME_RATE = 100
"""Activity frames per second (10 ms)."""

ACTIVITY_RATE = 16000
"""Sample rate (Hz) of the sound whose arrival times tell talkers apart. Below 2 kHz a
camera a metre or two away hears mostly the room; the direct sound's arrival stands out over
the band up to 7 kHz (as in sync's wide-band windows)."""


@dataclass
class MicTrack:
    """One mic's sound and its place on the reference timeline.

    ``signal``: 1-D float16/float32 at ``rate`` Hz, sample k at source time ``t0 + k/rate``.
    ``env_db``: speech-band level (dB) at ``env_rate`` frames/s, frame j at ``t0 + j/env_rate``.
    The source maps to the reference by ``t_ref = delta + t_src * (1 + drift_slope)``.
    """

    name: str
    signal: np.ndarray = field(repr=False)
    rate: int
    t0: float
    env_db: np.ndarray = field(repr=False)
    env_rate: int
    delta: float = 0.0
    drift_slope: float = 0.0

    def to_src(self, t_ref):
        return (np.asarray(t_ref, dtype=np.float64) - self.delta) / (1.0 + self.drift_slope)

    @property
    def span(self) -> tuple[float, float]:
        """(start, end) of the recording on the reference timeline, seconds."""
        dur = len(self.signal) / self.rate
        k = 1.0 + self.drift_slope
        return self.delta + self.t0 * k, self.delta + (self.t0 + dur) * k


AROUND = 0.8
"""s: how far either side of a window the windows each talker wins are counted (second voices
by alternation; :func:`inside_share`)."""


@dataclass
class ActivityParams:
    """Tunables of :func:`detect_activity`; seconds unless noted."""

    gate_db: float = 12.0  # a frame has speech when some mic is this far above its floor
    window: float = 0.256  # correlation window
    hop: float = 0.1  # correlation hop
    max_delay: float = 0.020  # largest time difference between two mics considered
    band: tuple[float, float] = (150.0, 7000.0)  # Hz used by the correlation (to 0.45 rate)
    learn_windows: int = 4000  # windows used to find the talkers
    smooth: float = 0.3  # evidence averaging
    secondary: float = 0.75  # steered response (1 = a talker's typical) for a second voice
    alternation: Optional[float] = 0.3  # share of the speech windows near one that makes a
    alternation_span: float = AROUND  # second voice, counted this far either side (None: off)
    min_evidence: float = 0.45  # posterior below this: nobody in particular is speaking
    bridge: float = 0.3  # gaps in a person's activity shorter than this are closed
    min_run: float = 0.1  # activity runs shorter than this are dropped


@dataclass
class Activity:
    """Speech activity of ``P`` persons on ``T`` frames of the reference timeline.

    ``active``: (P, T) bool. ``evidence``: (P, T) float32, the smoothed posterior that the
    person is the one speaking (sums to 1 over persons where someone speaks).
    ``present``: (T,) bool, someone speaks.
    ``dominant``: (T,) int, the person most clearly speaking, -1 for nobody.
    ``talker_delays``: (P, M) arrival time of each person's sound at each mic relative to the
    mics' mean, seconds (NaN when unknown).
    """

    rate: int
    t0: float
    active: np.ndarray
    evidence: np.ndarray
    present: np.ndarray
    dominant: np.ndarray
    floors_db: np.ndarray
    talker_delays: np.ndarray

    @property
    def n_frames(self) -> int:
        return self.active.shape[1]

    def times(self) -> np.ndarray:
        """Start time (s) of every frame."""
        return self.t0 + np.arange(self.n_frames) / self.rate


# ----------------------------------------------------------------------------- levels


def nan_mean(x: np.ndarray, axis: int) -> np.ndarray:
    """Mean over ``axis`` ignoring NaN; NaN where nothing is left (and no warning)."""
    ok = np.isfinite(x)
    n = ok.sum(axis=axis)
    total = np.where(ok, x, 0.0).sum(axis=axis)
    return np.where(n > 0, total / np.maximum(n, 1), np.nan)



def levels_on_grid(mics: Sequence[MicTrack], t0: float, n: int, rate: int = FRAME_RATE
                   ) -> np.ndarray:
    """Each mic's speech-band level (dB) on reference frames ``t0 + j/rate``, shape (M, n).

    NaN where the mic does not record. Drift is applied exactly (no 1 s truncation).
    """
    centres = t0 + (np.arange(n) + 0.5) / rate
    out = np.full((len(mics), n), np.nan, dtype=np.float32)
    for i, m in enumerate(mics):
        pos = (m.to_src(centres) - m.t0) * m.env_rate - 0.5
        env = np.asarray(m.env_db, dtype=np.float32)
        if env.size == 0:
            continue
        out[i] = np.interp(pos, np.arange(env.size), env, left=np.nan, right=np.nan)
    return out


def noise_floors(levels: np.ndarray, percentile: float = 5.0) -> np.ndarray:
    """Per-mic noise floor (dB): a low percentile of the covered frames. levels: (M, n)."""
    out = np.full(levels.shape[0], np.nan, dtype=np.float32)
    for i, row in enumerate(levels):
        ok = row[np.isfinite(row)]
        if ok.size:
            out[i] = np.percentile(ok, percentile)
    return out


def speech_presence(levels: np.ndarray, floors: np.ndarray, gate_db: float) -> np.ndarray:
    """(n,) bool: some mic is ``gate_db`` above its own floor (levels (M, n) dB)."""
    snr = levels - floors[:, None]
    best = np.where(np.isfinite(snr), snr, -np.inf).max(axis=0)
    return best >= gate_db


# ----------------------------------------------------------------------------- arrival


def mic_pairs(m: int) -> list[tuple[int, int]]:
    return [(i, j) for i in range(m) for j in range(i + 1, m)]


GCC_BLOCK = 512
"""Windows transformed at a time: the spectra of 512 windows take about 20 MB, so memory
stays bounded however many windows are asked for."""


def gcc_phat(mics: Sequence[MicTrack], centres: np.ndarray, window: float, max_delay: float,
             band: tuple[float, float]) -> tuple[np.ndarray, np.ndarray]:
    """Phase-transform cross-correlation of every mic pair around reference times ``centres``.

    Returns ``cc`` (W, pairs, 2L+1) float32 over lags -L..L samples (lag > 0: the sound
    reaches the pair's first mic later; 0 where a mic does not record) and ``ok`` (W, pairs)
    bool (both mics record).
    Fractional sample positions are compensated in phase, so lags are on the reference clock.
    """
    rate = mics[0].rate
    win = int(round(window * rate))
    lag = int(round(max_delay * rate))
    nfft = scipy.fft.next_fast_len(win + 2 * lag + 1, real=True)  # no circular wrap within +-lag
    freqs = np.fft.rfftfreq(nfft, 1.0 / rate)
    band_bins = np.flatnonzero((freqs >= band[0]) & (freqs <= min(band[1], 0.45 * rate)))
    lo, hi = int(band_bins[0]), int(band_bins[-1]) + 1
    omega = (2 * np.pi * freqs[lo:hi] / rate).astype(np.float32)
    taper = np.hanning(win).astype(np.float32)
    offsets = np.arange(win)
    pairs = mic_pairs(len(mics))
    gain = np.float32(nfft / max(hi - lo, 1))  # 1.0 = a perfect single path
    cc = np.empty((len(centres), len(pairs), 2 * lag + 1), dtype=np.float32)
    okp = np.empty((len(centres), len(pairs)), dtype=bool)
    for a in range(0, len(centres), GCC_BLOCK):
        block = centres[a:a + GCC_BLOCK]
        white, covered = [], []
        for m in mics:
            sig = m.signal
            pos = (m.to_src(block) - m.t0) * rate - win / 2
            start = np.floor(pos).astype(np.int64)
            frac = (pos - start).astype(np.float32)
            ok = (start >= 0) & (start + win <= len(sig))
            if len(sig) < win:
                spec = np.zeros((len(block), hi - lo), dtype=np.complex64)
                ok[:] = False
            else:
                start = np.clip(start, 0, len(sig) - win)
                seg = sig[start[:, None] + offsets].astype(np.float32)
                seg *= taper
                spec = scipy.fft.rfft(seg, nfft, axis=1)[:, lo:hi]
                spec /= np.abs(spec) + np.float32(1e-12)  # phase transform: keep the phase only
                phase = frac[:, None] * omega[None, :]  # advance by the fractional sample
                spec *= np.cos(phase) + 1j * np.sin(phase)
            white.append(spec)
            covered.append(ok)
        full = np.zeros((len(block), nfft // 2 + 1), dtype=np.complex64)
        for p, (i, j) in enumerate(pairs):
            np.multiply(white[i], np.conj(white[j]), out=full[:, lo:hi])
            r = scipy.fft.irfft(full, nfft, axis=1)
            out = cc[a:a + len(block), p]
            out[:, :lag] = r[:, nfft - lag:]
            out[:, lag:] = r[:, : lag + 1]
            out *= gain
            okp[a:a + len(block), p] = covered[i] & covered[j]
        release_pages(*(m.signal for m in mics))  # a long file's sound read so far
    cc[~okp] = 0.0
    return cc, okp


def mic_polarity(cc: np.ndarray, okp: np.ndarray, m: int) -> np.ndarray:
    """(M,) +1 or -1: each mic's polarity against the first's, from windows' correlations
    ``cc`` (W, pairs, 2L+1). A mic wired the other way round (or a recorder that inverts)
    hears every sound upside down, so its pairs peak negative at the talker's lag.

    Each pair votes with the sign of its strongest peak in its clearer half of the windows;
    the signs of the mics are then made to agree with the votes, weighed by how one-sided
    each is: the signs of the votes' leading eigenvector, then each mic turned while that
    agrees better.
    """
    pairs = mic_pairs(m)
    vote = np.zeros((m, m))
    for p, (i, j) in enumerate(pairs):
        ok = np.flatnonzero(okp[:, p])
        if len(ok) < 10:
            continue
        x = cc[ok, p]
        peak = x[np.arange(len(x)), np.abs(x).argmax(axis=1)]
        clear = np.abs(peak) >= np.median(np.abs(peak))
        vote[i, j] = vote[j, i] = np.sign(peak[clear]).mean()
    lead = np.linalg.eigh(vote)[1][:, -1]
    signs = np.where(lead >= 0, 1.0, -1.0)
    for _ in range(4):
        for i in range(m):
            signs[i] = 1.0 if vote[i] @ signs >= 0 else -1.0
    return signs * signs[0]


def orient(cc: np.ndarray, signs: np.ndarray) -> np.ndarray:
    """``cc`` (W, pairs, 2L+1) with each pair as if both mics had the first mic's polarity
    (in place; see :func:`mic_polarity`)."""
    for p, (i, j) in enumerate(mic_pairs(len(signs))):
        if signs[i] * signs[j] < 0:
            cc[:, p] *= -1.0
    return cc


def _dilate(cc: np.ndarray) -> np.ndarray:
    """Max over +-1 lag: a talker's difference may wobble by a sample between windows."""
    return maximum_filter1d(cc, 3, axis=2, mode="nearest")


def steered_response(ccd: np.ndarray, okp: np.ndarray, lags: np.ndarray,
                      weights: Optional[np.ndarray] = None) -> np.ndarray:
    """(W, K) weighted mean over covered pairs of the correlation at each talker's lags.

    ``ccd``: (W, pairs, 2L+1) dilated; ``lags``: (K, pairs) integer lags (-L..L);
    ``weights``: (K, pairs) reliability of each pair for each talker (default equal).
    """
    half = (ccd.shape[2] - 1) // 2
    n_k, n_pairs = lags.shape
    if weights is None:
        weights = np.ones((n_k, n_pairs), dtype=np.float32)
    cover = okp.astype(np.float32)
    out = np.zeros((ccd.shape[0], n_k), dtype=np.float32)
    norm = np.zeros((ccd.shape[0], n_k), dtype=np.float32)
    for p in range(n_pairs):
        w = cover[:, p:p + 1] * weights[None, :, p].astype(np.float32)
        out += ccd[:, p, :][:, lags[:, p] + half] * w
        norm += w
    return out / np.maximum(norm, 1e-6)


def pair_lags(arrival: np.ndarray) -> np.ndarray:
    """(K, pairs) lag of every mic pair (i, j), ``arrival[:, i] - arrival[:, j]``."""
    pairs = mic_pairs(arrival.shape[1])
    return np.stack([arrival[:, i] - arrival[:, j] for i, j in pairs], axis=1)


def fit_arrival(acc: np.ndarray, weights: np.ndarray, start: np.ndarray, sweeps: int = 10
                ) -> np.ndarray:
    """Integer arrival vector (M,) maximising the weighted sum of ``acc`` at consistent lags.

    ``acc``: (pairs, 2L+1) correlations; ``weights``: (pairs,). Coordinate ascent from
    ``start``; mic 0 stays fixed (only differences matter). Every pair lag stays within +-L.
    """
    half = (acc.shape[1] - 1) // 2
    m = len(start)
    pairs = mic_pairs(m)
    index = {pq: k for k, pq in enumerate(pairs)}
    a = start.astype(np.int64).copy()
    values = np.arange(-2 * half, 2 * half + 1)
    for _ in range(sweeps):
        changed = False
        for i in range(1, m):
            total = np.zeros(len(values))
            valid = np.ones(len(values), dtype=bool)
            for j in range(m):
                if j == i:
                    continue
                if i < j:
                    k, lag = index[(i, j)], values - a[j]
                else:
                    k, lag = index[(j, i)], a[j] - values
                inside = np.abs(lag) <= half
                valid &= inside
                at = acc[k, np.clip(lag + half, 0, 2 * half)]
                total += np.where(inside, at, 0.0) * weights[k]
            total[~valid] = -np.inf
            best = int(values[int(np.argmax(total))])
            if best != a[i] and total[values == best][0] > total[values == a[i]][0]:
                a[i], changed = best, True
        if not changed:
            break
    return a


def _peak_arrival(peaks: np.ndarray, m: int) -> np.ndarray:
    """Least-squares integer arrival vectors (C, M) from per-pair peak lags (C, pairs)."""
    pairs = mic_pairs(m)
    design = np.zeros((len(pairs) + 1, m))
    for p, (i, j) in enumerate(pairs):
        design[p, i], design[p, j] = 1.0, -1.0
    design[-1, 0] = 1.0  # mic 0 at 0
    rhs = np.concatenate([peaks.T.astype(np.float64), np.zeros((1, len(peaks)))])
    sol = np.linalg.lstsq(design, rhs, rcond=None)[0].T
    return np.round(sol).astype(np.int64)


TWIN_SEED = 4
"""Samples: two talkers at arrivals this close are one voice learned twice (see
:func:`same_place`)."""

INSIDE_SHARE = 0.3
"""A talker :func:`find_talkers` started again is kept unless it lives this much inside
another's turns (:func:`inside_share`). On the fixtures: 0.07..0.30 where it found a rarely
heard person (quad-30's Dan, wide-42's Bob) or changed nothing; 0.34..0.61 where it gathered
reflections of a voice inside that voice's turns (wide-9, wide-2, quad-0)."""


def same_place(arrivals: np.ndarray, one: np.ndarray, tol: float) -> np.ndarray:
    """(C,) bool: which arrival vectors (C, M) put a sound where ``one`` (M,) does - the same
    time differences within ``tol`` samples at every mic, or (four mics or more) at every mic
    but one (that mic heard a reflection of the voice instead: three mics or more fix a place)."""
    d = np.sort(arrivals - one[None, :], axis=1)
    spread = d[:, -1] - d[:, 0]
    if arrivals.shape[1] >= 4:
        spread = np.minimum(spread, np.minimum(d[:, -2] - d[:, 0], d[:, -1] - d[:, 1]))
    return spread <= tol


def inside_share(assign: np.ndarray, times: np.ndarray, c: int, span: float = AROUND
                 ) -> float:
    """How much talker ``c`` lives inside another's turns: over the windows ``c`` wins
    (``assign`` (W,), window centres ``times`` (W,) s, ascending), the mean share of the
    windows within ``span`` s that one other talker wins - the largest over the others."""
    own = np.flatnonzero(assign == c)
    if own.size == 0:
        return 0.0
    k = int(assign.max()) + 1
    counts = np.vstack([np.zeros((1, k)), np.cumsum(np.eye(k)[assign], axis=0)])
    lo = np.searchsorted(times, times[own] - span, side="left")
    hi = np.searchsorted(times, times[own] + span, side="right")
    share = (counts[hi] - counts[lo]) / (hi - lo)[:, None]
    share[:, c] = 0.0
    return float(share.mean(axis=0).max())


def find_talkers(cc: np.ndarray, okp: np.ndarray, k: int, m: int, times: np.ndarray,
                 iterations: int = 20) -> tuple[np.ndarray, np.ndarray]:
    """The ``k`` talkers' arrival vectors (k, M) in samples and pair weights (k, pairs), from
    arrival times alone (learning windows ``cc`` (W, pairs, 2L+1)).

    Deterministic: candidates are fitted to the peak lags of the most confident windows and
    picked greedily by how much correlation they explain; then windows are assigned to the
    best talker and each talker refitted to its windows' summed correlations, until stable.
    One voice can take two of the places (told apart by a reflection at one mic), most often
    the voice a lavalier hears, while a rarely heard person is never found: such a twin is
    started again from the best candidate elsewhere, and kept there if the windows it wins are
    a voice of their own (``times`` (W,): the windows' centres, s).
    """
    half = (cc.shape[2] - 1) // 2
    ccd = _dilate(cc)
    full = okp.all(axis=1)
    pool = np.flatnonzero(full) if full.sum() >= max(20, k * 5) else np.arange(len(cc))
    height = cc[pool].max(axis=2).mean(axis=1)
    conf = pool[np.argsort(-height, kind="stable")[: max(k * 10, len(pool) // 3)]]
    cands = np.unique(_peak_arrival(cc[conf].argmax(axis=2) - half, m), axis=0)
    cands = cands[(np.abs(pair_lags(cands)) <= half).all(axis=1)]
    resp = steered_response(ccd[conf], okp[conf], pair_lags(cands))
    resp = np.maximum(resp - np.median(resp, axis=1, keepdims=True), 0.0)
    explained = np.zeros(len(conf), dtype=np.float32)
    chosen = []
    for _ in range(min(k, len(cands))):
        gain = np.maximum(resp - explained[:, None], 0.0).sum(axis=0)
        best = int(np.argmax(gain))
        chosen.append(cands[best])
        explained = np.maximum(explained, resp[:, best])
    arrival = np.zeros((k, m), dtype=np.int64)
    arrival[: len(chosen)] = np.array(chosen, dtype=np.int64).reshape(-1, m)
    weights = np.ones((k, cc.shape[1]))
    reseeds, before, budget = k, None, iterations
    while budget > 0:
        budget -= 1
        assign = steered_response(ccd, okp, pair_lags(arrival), weights).argmax(axis=1)
        new, weights = _fit_arrivals(cc, okp, assign, k, m, arrival, weights)
        if not np.array_equal(new, arrival):
            arrival = new
            continue
        # settled: a talker that sits where another does is one voice learned twice (a
        # reflection at one mic told them apart); start it again from the best candidate
        # that is not where any talker is
        dup = next((c for c in range(1, k) if same_place(arrival[:c], arrival[c],
                                                         TWIN_SEED).any()), None)
        if dup is None or reseeds == 0:
            break
        reseeds -= 1
        others = np.delete(arrival, dup, axis=0)
        explained = steered_response(ccd[conf], okp[conf], pair_lags(others)).max(axis=1)
        explained = np.maximum(explained - np.median(explained), 0.0)
        gain = np.maximum(resp - explained[:, None], 0.0).sum(axis=0)
        for a in others:
            gain[same_place(cands, a, TWIN_SEED)] = -1.0
        if gain.max() <= 0:
            break
        before = (dup, arrival.copy(), weights.copy())
        arrival[dup] = cands[int(np.argmax(gain))]
        weights[dup] = 1.0
        budget = iterations
    if before is not None:
        c = before[0]
        assign = steered_response(ccd, okp, pair_lags(arrival), weights).argmax(axis=1)
        if same_place(np.delete(arrival, c, axis=0), arrival[c], TWIN_SEED).any() or \
                inside_share(assign, times, c) >= INSIDE_SHARE:  # nobody else: someone is silent
            arrival, weights = before[1], before[2]
    return arrival, weights


def relative_arrivals(arrival: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """(K, M) how much later (samples) each talker reaches each mic than the talker's own
    emission time and the mic's own clock explain, shrunk towards 0 where unreliable.

    ``arrival[c, m] = e_c + s_m + r[c, m]`` is fitted by weighted least squares (solved
    exactly, the ``s_m`` summing to 0), each entry weighed by the reliability of the pairs
    through mic m for talker c (``weights``: (K, pairs)). ``s_m`` takes up each recording's
    offset from the others: sync puts a recording on the line of the voices it heard, a ms or
    two from its neighbours' (the talkers' different paths), the same for every talker at that
    mic, so the result does not change with it. ``r`` is what tells whose mic is whose.
    """
    k_count, m_count = arrival.shape
    index = {pq: k for k, pq in enumerate(mic_pairs(m_count))}
    w = np.zeros((k_count, m_count))
    for m in range(m_count):
        for j in range(m_count):
            if j != m:
                w[:, m] += weights[:, index[(min(m, j), max(m, j))]]
    a = arrival.astype(float)
    if k_count >= 2:
        design = np.zeros((k_count * m_count + 1, k_count + m_count))
        rows = np.arange(k_count * m_count)
        root = np.sqrt(w).ravel()
        design[rows, np.repeat(np.arange(k_count), m_count)] = root
        design[rows, k_count + np.tile(np.arange(m_count), k_count)] = root
        design[-1, k_count:] = 1.0  # the mics' offsets sum to 0
        rhs = np.concatenate([(a * np.sqrt(w)).ravel(), [0.0]])
        sol = np.linalg.lstsq(design, rhs, rcond=None)[0]
        e, s = sol[:k_count], sol[k_count:]
    else:
        e = (a * w).sum(axis=1) / np.maximum(w.sum(axis=1), 1e-9)
        s = np.zeros(m_count)
    return (a - e[:, None] - s[None, :]) * w / (w + 1.0)


TWIN_TOL = 0.00025
"""s: two learned talkers whose sound reaches every mic within this of each other are one voice
in one place, split in two. The model learns one talker per person, so when someone never
speaks it splits a voice (by its level, or its loud and soft parts) to fill the place."""


def twin_groups(arrival: np.ndarray, rate: int) -> np.ndarray:
    """(K,) the group of each talker: the first talker of a set whose arrival times match at
    every mic (within :data:`TWIN_TOL`, the first mic's time taken out)."""
    rel = arrival - arrival[:, :1]
    group = np.arange(len(arrival))
    for b in range(len(arrival)):
        for a in range(b):
            if group[a] == a and np.abs(rel[a] - rel[b]).max() <= TWIN_TOL * rate:
                group[b] = a
                break
    return group


def clarity(cc: np.ndarray, okp: np.ndarray, assign: np.ndarray, arrival: np.ndarray
            ) -> np.ndarray:
    """(K, M) how clearly each mic hears each talker's direct sound, in log units, centred
    over the mics for each talker.

    A pair of mics correlates at the talker's lag as much as both hear the direct sound over
    the room's tail (and their noise): the peak of the pair (i, j) is modelled as
    ``log h = f_i + f_j`` and the ``f`` of every mic solved from all pairs (three mics or more).
    Unlike arrival leads and levels, which each recording's offset and gain blur and which
    therefore compare talkers only against each other at a mic, this says which mic a voice
    is near on its own: the nearest mic hears the least room. 0 where it cannot be told.
    """
    k, m = arrival.shape
    out = np.zeros((k, m))
    pairs = mic_pairs(m)
    if m < 3:
        return out
    half = (cc.shape[2] - 1) // 2
    lags = pair_lags(arrival) + half
    design = np.zeros((len(pairs), m))
    for p, (i, j) in enumerate(pairs):
        design[p, i] = design[p, j] = 1.0
    for c in range(k):
        sel = np.flatnonzero(assign == c)
        if len(sel) < 5:
            continue
        # the peak within a sample of the talker's lag (as :func:`_dilate`)
        near = np.clip(lags[c][None, :] + np.arange(-1, 2)[:, None], 0, 2 * half)  # (3, pairs)
        at = cc[sel[:, None, None], np.arange(len(pairs))[None, None, :], near[None]].max(axis=1)
        ok = okp[sel]
        heard = ok.sum(axis=0) >= 5
        if np.linalg.matrix_rank(design[heard]) < m:
            continue
        h = np.array([np.median(at[ok[:, p], p]) if heard[p] else 1.0 for p in range(len(pairs))])
        f = np.linalg.lstsq(design[heard], np.log(np.maximum(h[heard], 1e-3)), rcond=None)[0]
        out[c] = f - f.mean()
    return out


CLARITY_WEIGHT = 3.0
"""What one log unit of :func:`clarity` counts in :func:`assign_persons`, in ms of lead. The
clarity of a talker differs between mics by 0.2..0.8; at 6 it outweighs levels and arrivals
even where those are clear, and a silent person's place was given away again."""


VACANCY_MS = 0.5
"""What leaving a person without a talker costs, in ms of lead at their mic (see
:func:`assign_persons`). The model learns one talker per person; when someone hardly speaks,
their place is taken by a part of another voice (a half of it, a reflection), which is heard
best at that voice's own mic. Taking the quiet person's place makes it theirs; joining the
person it is heard best at costs this much."""


def assign_persons(arrival: np.ndarray, weights: np.ndarray, level_sig: np.ndarray,
                   person_mics: Sequence[int], rate: int,
                   groups: Optional[np.ndarray] = None, vacancy_ms: float = VACANCY_MS,
                   clear: Optional[np.ndarray] = None
                   ) -> tuple[np.ndarray, np.ndarray]:
    """Talker index of each person: the talker heard earliest, loudest and most clearly on
    their mic.

    ``arrival``: (K, M) samples; ``weights``: (K, pairs) pair reliability; ``level_sig``:
    (K, M) dB relative to the mics' mean. Arrivals are compared as
    :func:`relative_arrivals` (each recording's own offset taken out), levels between talkers
    at the same mic (each mic's gain taken out); 1 ms of lead counts as much as 6 dB of level.
    ``clear`` (K, M), if given (:func:`clarity`): how clearly each mic hears each talker,
    :data:`CLARITY_WEIGHT` ms of lead per log unit.
    ``groups`` (K,) (:func:`twin_groups`): the talkers of one group go to one person together,
    scored by their mean, and the person gets the group's first talker.

    Each person gets at most one group, the one that fits best over all (an optimal
    assignment); a group may instead join the person it fits best, who then holds two groups,
    leaving a person without a talker at a cost of ``vacancy_ms``. Returns (P,) int, the
    talker of each person (-1: none), and (K,) the group of each talker after such joins.
    """
    lead = -relative_arrivals(arrival, weights) / rate
    level = np.nan_to_num(np.asarray(level_sig, dtype=float))
    if level.shape[0] >= 2:
        level = level - level.mean(axis=0, keepdims=True)
    score = np.array([lead[:, m] * 1000.0 + level[:, m] / 6.0 for m in person_mics])
    if clear is not None:
        score = score + CLARITY_WEIGHT * np.array([clear[:, m] for m in person_mics])
    groups = np.arange(len(arrival)) if groups is None else np.asarray(groups).copy()
    heads = np.unique(groups)
    score = np.stack([score[:, groups == g].mean(axis=1) for g in heads], axis=1)  # (P, H)
    n_p, n_h = score.shape
    # columns: the persons, then one "join your best person" column per group
    table = np.full((n_h, n_p + n_h), -1e9)
    table[:, :n_p] = score.T
    table[np.arange(n_h), n_p + np.arange(n_h)] = score.max(axis=0) - vacancy_ms
    rows, cols = linear_sum_assignment(-table)
    out = np.full(n_p, -1, dtype=np.int64)
    out[cols[cols < n_p]] = heads[rows[cols < n_p]]
    for h in rows[cols >= n_p]:
        best = int(np.argmax(score[:, h]))
        if out[best] < 0:  # only with no cost: the place is free, so it is theirs
            out[best] = heads[h]
        else:
            groups[groups == heads[h]] = out[best]
    first = {int(g): int(np.flatnonzero(groups == g)[0]) for g in np.unique(groups)}
    groups = np.array([first[int(g)] for g in groups])  # which half holds the place is moot
    return np.array([first[int(t)] if t >= 0 else -1 for t in out], dtype=np.int64), groups


# ----------------------------------------------------------------------------- smoothing


def runs(mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Start and end (exclusive) indices of the True runs of a 1-D bool array."""
    d = np.diff(np.concatenate(([0], mask.astype(np.int8), [0])))
    return np.flatnonzero(d == 1), np.flatnonzero(d == -1)


def clean_runs(mask: np.ndarray, bridge: int, min_run: int) -> np.ndarray:
    """Close False gaps shorter than ``bridge`` frames, then drop runs under ``min_run``."""
    out = mask.copy()
    s, e = runs(out)
    for a, b in zip(e[:-1], s[1:]):
        if b - a < bridge:
            out[a:b] = True
    s, e = runs(out)
    for a, b in zip(s, e):
        if b - a < min_run:
            out[a:b] = False
    return out


# ----------------------------------------------------------------------------- main


def detect_activity(mics: Sequence[MicTrack], person_mics: Sequence[int], t0: float, t1: float,
                    params: Optional[ActivityParams] = None, rate: int = FRAME_RATE) -> Activity:
    """Speech activity of each person on reference frames from ``t0`` to ``t1`` seconds.

    ``mics``: every recording that hears the room (all at one sample rate). ``person_mics``:
    for each person, the index of the mic that hears them best. Deterministic.
    """
    prm = params or ActivityParams()
    n = max(int(np.ceil((t1 - t0) * rate)), 1)
    n_p, n_m = len(person_mics), len(mics)
    levels = levels_on_grid(mics, t0, n, rate)
    floors = noise_floors(levels)
    present = speech_presence(levels, floors, prm.gate_db)
    posterior = np.zeros((n_p, n), dtype=np.float32)
    second = np.zeros((n_p, n), dtype=bool)
    delays = np.full((n_p, n_m), np.nan)
    if n_m >= 2 and n_p >= 2 and present.any():
        posterior, second, delays = _talker_evidence(mics, person_mics, levels, present, t0, n,
                                                     rate, prm)
    elif n_p == 1:
        posterior[0] = 1.0  # one person: whoever speaks is them
    smooth = max(1, int(round(prm.smooth * rate)))
    weight = present.astype(np.float32)
    frac = uniform_filter1d(weight, smooth, mode="nearest")
    ev = uniform_filter1d(posterior * weight, smooth, axis=1, mode="nearest")
    ev = np.where(frac > 0, ev / np.maximum(frac, 1e-6), 0.0).astype(np.float32)
    sec = uniform_filter1d(second.astype(np.float32) * weight, smooth, axis=1, mode="nearest")
    sec = np.where(frac > 0, sec / np.maximum(frac, 1e-6), 0.0) >= 0.5
    top = ev.argmax(axis=0)
    dominant = np.where(present & (ev.max(axis=0) >= prm.min_evidence), top, -1)
    bridge, min_run = int(round(prm.bridge * rate)), int(round(prm.min_run * rate))
    active = np.zeros((n_p, n), dtype=bool)
    for p in range(n_p):
        active[p] = clean_runs(present & ((dominant == p) | sec[p]), bridge, min_run)
    return Activity(rate=rate, t0=t0, active=active, evidence=ev, present=present,
                    dominant=dominant.astype(np.int64), floors_db=floors, talker_delays=delays)


def window_levels(levels: np.ndarray, frames: np.ndarray, width: int) -> np.ndarray:
    """(W, M) each mic's level (dB, power-averaged over ``width`` frames around ``frames``)
    minus the mean over the mics that record then (so the talker's loudness cancels).
    NaN where a mic does not record."""
    covered = np.isfinite(levels)
    power = np.where(covered, 10.0 ** (np.where(covered, levels, -200.0) / 10.0), 0.0)
    smooth = uniform_filter1d(power, max(width, 1), axis=1, mode="nearest")
    with np.errstate(divide="ignore"):
        lv = 10.0 * np.log10(smooth[:, frames] + 1e-20).T
    lv[~covered[:, frames].T] = np.nan
    return lv - nan_mean(lv, axis=1)[:, None]


def level_groups(rel: np.ndarray, person_mics: Sequence[int], margin_db: float = 1.0
                 ) -> Optional[np.ndarray]:
    """(P, W) bool: the windows where each person's mic stands out most (relative levels
    ``rel`` (W, M) from :func:`window_levels`, each mic against its 10th percentile: its
    level while others speak), by ``margin_db`` or more. A weak cue in a live room, a strong
    one with lavaliers; it seeds the talker model. None when persons share a mic."""
    if len(set(person_mics)) < len(person_mics):
        return None
    x = rel[:, list(person_mics)].T
    for row in x:  # against the mic's level while others speak (its bleed)
        ok = np.isfinite(row)
        if ok.any():
            row -= np.percentile(row[ok], 10)
    x = np.nan_to_num(x, nan=-1e6)  # a mic that does not record never stands out
    order = np.sort(x, axis=0)
    top = x.argmax(axis=0)
    margin = np.where(order[-1] > -1e5, order[-1] - order[-2], 0.0)
    return np.stack([(top == p) & (margin >= margin_db) for p in range(len(person_mics))])


@dataclass
class TalkerModel:
    """What each talker sounds like across the mics.

    ``arrival`` (K, M) samples and ``weights`` (K, pairs): the arrival-time model;
    ``scale`` (K,): a talker's typical steered response above the noise; ``level`` (K, M) dB:
    mean relative level at each mic; ``spread`` (M,) dB: level scatter within a talker (RMS);
    ``typical`` (M,) dB: the same scatter measured robustly (the windows where a second voice
    joins in are outliers of their talker's pattern, which an RMS would take in).
    """

    arrival: np.ndarray
    weights: np.ndarray
    scale: np.ndarray
    level: np.ndarray
    spread: np.ndarray
    typical: np.ndarray


ARRIVAL_WEIGHT = 4.0
"""Log-likelihood units per unit of normalised steered response (1 = a talker's typical)."""


def _steered(cc, okp, model: TalkerModel) -> np.ndarray:
    """(W, K) steered response above the window's noise level, in units of each talker's
    typical value, clipped to [0, 2]."""
    ccd = _dilate(cc)
    resp = steered_response(ccd, okp, pair_lags(model.arrival), model.weights)
    noise = ccd.mean(axis=2)
    base = (noise * okp).sum(axis=1) / np.maximum(okp.sum(axis=1), 1)
    return np.clip((resp - base[:, None]) / model.scale[None, :], 0.0, 2.0)


def talker_scores(rel: np.ndarray, cc: np.ndarray, okp: np.ndarray, model: TalkerModel
                  ) -> tuple[np.ndarray, np.ndarray]:
    """(W, K) log-likelihood-like score of each talker per window, and the steered part.

    Level: Gaussian with the talker's mean and the shared spread, over the mics that record
    (the talker's means re-centred on those mics, as ``rel`` is). Arrival:
    :data:`ARRIVAL_WEIGHT` times the normalised steered response.
    """
    cov = np.isfinite(rel).astype(np.float64)
    centre = (cov @ model.level.T) / np.maximum(cov.sum(axis=1, keepdims=True), 1.0)  # (W, K)
    expect = model.level[None, :, :] - centre[:, :, None]
    z = (rel[:, None, :] - expect) / model.spread[None, None, :]
    lev = -0.5 * np.nansum(z * z, axis=2)
    arr = _steered(cc, okp, model)
    return lev + ARRIVAL_WEIGHT * arr, arr


def _fit_levels(rel: np.ndarray, assign: np.ndarray, k: int, old: Optional[TalkerModel]):
    """Per talker mean relative level (K, M), and the shared spread (M,) as an RMS and as a
    normal-equivalent median absolute deviation, dB. Windows where every mic records are used
    when there are enough (their centring is comparable)."""
    level = np.zeros((k, rel.shape[1])) if old is None else old.level.copy()
    full = np.isfinite(rel).all(axis=1)
    resid = []
    for c in range(k):
        sel = assign == c
        if (sel & full).sum() >= 20:
            sel = sel & full
        if sel.sum() >= 5:
            level[c] = np.nan_to_num(nan_mean(rel[sel], axis=0))
            resid.append(rel[sel] - level[c])
    if resid:
        r = np.concatenate(resid)
        spread = np.nan_to_num(np.sqrt(nan_mean(r * r, axis=0)), nan=3.0)
        typical = np.full(rel.shape[1], 3.0)
        for m in range(rel.shape[1]):
            col = r[np.isfinite(r[:, m]), m]
            if col.size:
                typical[m] = 1.4826 * float(np.median(np.abs(col - np.median(col))))
    else:
        spread = typical = np.full(rel.shape[1], 3.0)
    return level, np.maximum(spread, 1.0), np.maximum(typical, 1.0)


def _stand_in_levels(level: np.ndarray, assign: np.ndarray, person_mics: Sequence[int]) -> None:
    """Give a person heard in too few windows (< 5) a level pattern from the others': their
    mean pattern, with the person's own mic raised by the others' typical own-mic lead."""
    k = len(level)
    known = [c for c in range(k) if (assign == c).sum() >= 5]
    if len(known) == k or not known:
        return
    lead = np.median([level[c, person_mics[c]] - np.mean([level[o, person_mics[c]]
                      for o in known if o != c] or [level[c, person_mics[c]]]) for c in known])
    for c in range(k):
        if c not in known:
            level[c] = np.mean(level[known], axis=0)
            level[c, person_mics[c]] += lead


def _fit_arrivals(cc, okp, assign, k, m, arrival, weights):
    half = (cc.shape[2] - 1) // 2
    n_pairs = cc.shape[1]
    arrival, weights = arrival.copy(), weights.copy()
    for c in range(k):
        sel = assign == c
        if sel.sum() < 5:
            continue
        acc = cc[sel].sum(axis=0) / np.maximum(okp[sel].sum(axis=0), 1)[:, None]
        start = arrival[c] if weights[c].sum() > 0 else \
            _peak_arrival((acc.argmax(axis=1) - half)[None], m)[0]
        arrival[c] = fit_arrival(_dilate(acc[None])[0], np.maximum(weights[c], 0.02), start)
        lags = pair_lags(arrival[c][None])
        # reliability from the windows that match the talker best: a talker heard rarely
        # also wins windows of others' reverberation, which would hide their clear pairs
        idx = np.flatnonzero(sel)
        fit = steered_response(_dilate(cc[idx]), okp[idx], lags)[:, 0]
        top = idx[fit >= np.median(fit)]
        acc = cc[top].sum(axis=0) / np.maximum(okp[top].sum(axis=0), 1)[:, None]
        at = acc[np.arange(n_pairs), lags[0] + half]
        z = (at - np.median(acc, axis=1)) / (acc.std(axis=1) + 1e-9)
        weights[c] = np.clip(z - 2.5, 0.02, 8.0)
    return arrival, weights


def _fit_scale(cc, okp, assign, model: TalkerModel) -> np.ndarray:
    unit = replace(model, scale=np.ones(len(model.scale)))
    arr = _steered(cc, okp, unit)
    scale = np.full(len(model.scale), np.nan)
    for c in range(len(scale)):
        sel = assign == c
        if sel.sum() >= 20:
            scale[c] = max(float(np.median(arr[sel, c])), 1e-3)
    # a talker heard too rarely to measure gets the others' typical value
    known = scale[np.isfinite(scale)]
    return np.where(np.isfinite(scale), scale, float(np.median(known)) if known.size else 1.0)


SEED_MARGIN_DB = 3.0
"""A seed window's person mic stands out this much more than the next person's mic."""

LEVEL_SEPARATION = 6.5
"""Levels seed the talker model when the persons' own mics separate them this well (see
:func:`level_separation`): lavaliers give 7.7..15, camera mics in a live room 4.2..6.1."""


def level_separation(rel: np.ndarray, person_mics: Sequence[int]) -> float:
    """How well the persons' own mics tell them apart by level, from consecutive windows.

    For each pair of persons, d(t) = level at one's mic minus level at the other's (dB); its
    2..98 % range (wide enough to catch a person who rarely speaks) is compared with its
    short-term jitter (the robust spread of d(t+3) - d(t), mostly the same talker). The
    least ratio over the pairs is returned.
    """
    ratios = []
    mics = list(dict.fromkeys(person_mics))
    for i, a in enumerate(mics):
        for b in mics[i + 1:]:
            d = rel[:, a] - rel[:, b]
            d = d[np.isfinite(d)]
            if d.size < 20:
                continue
            step = d[3:] - d[:-3]
            jitter = 1.4826 * np.median(np.abs(step - np.median(step))) / np.sqrt(2) + 1e-6
            ratios.append((np.percentile(d, 98) - np.percentile(d, 2)) / jitter)
    return float(min(ratios)) if ratios else 0.0


def learn_talkers(rel: np.ndarray, cc: np.ndarray, okp: np.ndarray, person_mics: Sequence[int],
                  separation: float, times: np.ndarray, iterations: int = 12
                  ) -> tuple[TalkerModel, bool, np.ndarray]:
    """Fit one talker per person on learning windows: levels ``rel`` (W, M), correlations
    ``cc`` (W, pairs, 2L+1); ``separation`` from :func:`level_separation`. Returns the model
    and whether talker k is person k already (seeded from the persons' mics, when their
    levels tell them apart) or still needs :func:`assign_persons`, and the talker of each
    window (W,) the model was last fitted to.

    Windows are assigned to the best-scoring talker and both halves of the model refitted,
    until the assignment settles. Deterministic.
    """
    k, m = len(person_mics), rel.shape[1]
    groups = level_groups(rel, person_mics, SEED_MARGIN_DB)
    seeded = separation >= LEVEL_SEPARATION and groups is not None
    if seeded:
        loose = level_groups(rel, person_mics, 1.0)
        assign = np.full(len(rel), -1)
        for c in range(k):  # a person who rarely speaks is seeded more loosely
            assign[groups[c] if groups[c].sum() >= 10 else loose[c]] = c
        level, spread, typical = _fit_levels(rel, assign, k, None)
        _stand_in_levels(level, assign, person_mics)
        arrival, weights = _fit_arrivals(cc, okp, assign, k, m, np.zeros((k, m), dtype=np.int64),
                                         np.zeros((k, cc.shape[1])))
    else:  # levels do not tell the persons apart (a live room): start from arrival times
        arrival, weights = find_talkers(cc, okp, k, m, times)
        assign = steered_response(_dilate(cc), okp, pair_lags(arrival), weights).argmax(axis=1)
        level, spread, typical = _fit_levels(rel, assign, k, None)
    model = TalkerModel(arrival, weights, np.ones(k), level, spread, typical)
    model.scale = _fit_scale(cc, okp, assign, model)
    for _ in range(iterations):
        score, _ = talker_scores(rel, cc, okp, model)
        new = score.argmax(axis=1)
        if np.array_equal(new, assign):
            break
        assign = new
        if not seeded:  # seeded level means stay: the persons' own mics define them
            model.level, model.spread, model.typical = _fit_levels(rel, assign, k, model)
        model.arrival, model.weights = _fit_arrivals(cc, okp, assign, k, m, model.arrival,
                                                     model.weights)
        model.scale = _fit_scale(cc, okp, assign, model)
    return model, seeded, assign


CLOSE_DB = 6.0
"""A mic hears a talker this much louder than any other talker: the talker's close mic (a
lavalier). While they speak, its pairs carry their voice alone (the phase transform whitens
to the strongest sound), so a second voice is looked for on the other pairs."""

KEPT_WEIGHT = 0.5
"""A second voice is looked for on the pairs a close mic leaves only for a talker who keeps
this share of their pair weights there (else those pairs would be mostly noise)."""


@dataclass
class Drowned:
    """While talker ``b`` speaks into a close mic: every talker's ``weights`` (K, pairs)
    without that mic's pairs, their typical response there (``scale``), and who keeps enough
    weight to be heard (``eligible``, K)."""

    b: int
    weights: np.ndarray
    scale: np.ndarray
    eligible: np.ndarray


def drowned_pairs(model: TalkerModel, cc: np.ndarray, okp: np.ndarray, assign: np.ndarray
                  ) -> list[Drowned]:
    """One :class:`Drowned` per talker that has a close mic (see :data:`CLOSE_DB`)."""
    k, m = model.level.shape
    if k < 2:
        return []
    pairs = mic_pairs(m)
    out = []
    for b in range(k):
        lead = model.level[b] - np.delete(model.level, b, axis=0).max(axis=0)
        close = set(np.flatnonzero(lead >= CLOSE_DB).tolist())
        if not close:
            continue
        keep = np.array([i not in close and j not in close for i, j in pairs])
        if not keep.any():
            continue
        w = model.weights * keep[None, :]
        eligible = w.sum(axis=1) >= KEPT_WEIGHT * model.weights.sum(axis=1)
        eligible[b] = True
        alt = replace(model, weights=w)
        out.append(Drowned(b, w, _fit_scale(cc, okp, assign, alt), eligible))
    return out


def _talker_evidence(mics, person_mics, levels, present, t0, n, rate, prm):
    """Per person: (P, n) posterior of being the talker, (P, n) bool a second voice (speaking
    over the main talker), and (P, M) arrival delays (s) at each mic."""
    hop = max(1, int(round(prm.hop * rate)))
    frame_of = np.minimum(np.arange(0, n, hop) + hop // 2, n - 1)
    centres = t0 + (frame_of + 0.5) / rate
    width = int(round(prm.window * rate))
    rel = window_levels(levels, frame_of, width)
    speech = np.flatnonzero(present[frame_of])
    step = max(1, len(speech) // prm.learn_windows)
    learn = speech[::step][: prm.learn_windows]
    cc, okp = gcc_phat(mics, centres[learn], prm.window, prm.max_delay, prm.band)
    signs = mic_polarity(cc, okp, len(mics))
    orient(cc, signs)
    separation = level_separation(rel[speech], person_mics)
    model, seeded, assign = learn_talkers(rel[learn], cc, okp, person_mics, separation,
                                          centres[learn])
    clear = None if seeded else clarity(cc, okp, assign, model.arrival)
    drowned = [] if seeded else drowned_pairs(model, cc, okp, assign)
    del cc, okp  # the scoring below re-reads every window in blocks
    k = len(person_mics)
    score = np.zeros((len(centres), k), dtype=np.float32)
    arr = np.zeros((len(centres), k), dtype=np.float32)
    best = np.zeros(len(centres), dtype=np.int64)  # the talker of each window
    turn = np.zeros(len(centres), dtype=np.int64)  # the same, as alternation counts it
    for a in range(0, len(centres), GCC_BLOCK):
        b = a + GCC_BLOCK
        c, o = gcc_phat(mics, centres[a:b], prm.window, prm.max_delay, prm.band)
        score[a:b], arr[a:b] = talker_scores(rel[a:b], orient(c, signs), o, model)
        best[a:b] = turn[a:b] = score[a:b].argmax(axis=1)
        for d in drowned:  # b speaks into a close mic: look for the others on the other pairs
            rows = np.flatnonzero(best[a:b] == d.b)
            if rows.size:
                alt = _steered(c[rows], o[rows], replace(model, weights=d.weights, scale=d.scale))
                arr[a + rows] = np.where(d.eligible, alt, arr[a + rows])
                turn[a + rows] = np.where(d.eligible, alt, -np.inf).argmax(axis=1)
    groups = np.arange(k)
    if seeded:
        talker = np.arange(k)
    else:
        talker, groups = assign_persons(model.arrival, model.weights, model.level,
                                        person_mics, mics[0].rate,
                                        twin_groups(model.arrival, mics[0].rate),
                                        clear=clear)
    post = np.exp(score - score.max(axis=1, keepdims=True))
    post /= post.sum(axis=1, keepdims=True)
    wins = None
    if not seeded and prm.alternation is not None:
        # Camera mics in a live room: while two people talk at once, the windows go to one
        # voice and then the other - the share of the speech windows around each a talker wins.
        spoken = present[frame_of].astype(np.float32)
        span = 2 * int(round(prm.alternation_span / prm.hop)) + 1
        wins = uniform_filter1d(np.eye(k, dtype=np.float32)[turn] * spoken[:, None], span,
                                axis=0, mode="nearest")
        wins /= np.maximum(uniform_filter1d(spoken, span, mode="nearest"), 1e-6)[:, None]
    posterior = np.zeros((k, n), dtype=np.float32)
    second = np.zeros((k, n), dtype=bool)
    delays = np.full((k, len(mics)), np.nan)
    nearest = np.clip(np.round((np.arange(n) - frame_of[0]) / hop).astype(np.int64), 0,
                      len(frame_of) - 1)
    for p, c in enumerate(talker):
        if c < 0:
            continue
        own = groups == groups[c]
        mic = person_mics[p]
        # louder at their own mic than the main talker's bleed explains, or heard arriving
        resid = rel[:, mic] - model.level[best, mic]
        extra = resid >= max(2.5 * model.typical[mic], 3.0)
        if not seeded:  # levels are weak: a strong arrival pattern, or alternation, says it
            extra |= arr[:, own].max(axis=1) >= prm.secondary
            if wins is not None:
                extra |= wins[:, own].sum(axis=1) >= prm.alternation
        extra &= ~own[best]
        posterior[p] = np.interp(np.arange(n), frame_of, post[:, own].sum(axis=1))
        second[p] = extra[nearest]
        delays[p] = (model.arrival[c] - model.arrival[c].mean()) / mics[0].rate
    return posterior, second, delays
