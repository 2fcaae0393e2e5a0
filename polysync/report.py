"""``polysync report``: one self-contained HTML page that shows whether a sync is right.

For every angle the page shows the evidence, recomputed from the audio (nothing is taken on
trust from the sidecar except the line it claims):

* the two speech envelopes over the overlap once the source is placed on the reference
  timeline (they should rise and fall together);
* the coarse correlation of the envelopes over every offset, with its peak and the best
  competing peak (a trustworthy match towers over the rest);
* the drift fit: every analysis window's measured offset against the line
  ``t_ref = delta + t_src * (1 + drift_slope)``, and its residual in milliseconds;
* the levels of every audio stream and channel, and which one was used.

For the shoot: a coverage timeline of all angles; with an edit (``--edl edl.json``) the shots
coloured by angle over each person's speech activity.

A file without a sidecar, with a stale one, or one that sync refused is analysed on the spot
and its section says why it is (or is not) a match. Plots are PNGs drawn with matplotlib (Agg,
no pyplot state) and embedded as ``data:`` URIs: the page needs no network and no other file.
"""

from __future__ import annotations

import base64
import datetime as _dt
import html
import io
import os
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Optional, Sequence

import click
import numpy as np

from . import __version__
from .errors import CorruptFileError, PolysyncError, UsageError

PALETTE = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#17becf", "#8c564b",
           "#e377c2", "#7f7f7f", "#bcbd22")
"""One colour per angle, in input order (the reference is the first)."""

CLEAR_PEAK_RATIO = 2.0
"""A coarse peak at least this many times the best competing peak is a clear peak."""

ZOOM_SECONDS = 8.0
"""Length of the envelope close-up (s)."""

RELIABLE, UNRELIABLE, DISAGREES, NOT_ANALYSED, REFERENCE = (
    "reliable match", "no reliable match", "not confirmed", "not analysed",
    "reference")


# --------------------------------------------------------------------------- the evidence


@dataclass
class Curve:
    """Coarse envelope correlation over candidate offsets.

    ``offsets``: candidate ``delta_seconds`` (s), spaced 1/ENV_RATE; ``ncc``: mean normalised
    correlation of the source's envelope chunks at each offset (drift compensated).
    ``peak``/``runner_up``: (offset s, ncc) of the highest local maximum and of the highest
    one at least 0.5 s away from it.
    """

    offsets: np.ndarray
    ncc: np.ndarray
    peak: tuple[float, float]
    runner_up: tuple[float, float]

    @property
    def ratio(self) -> float:
        return self.peak[1] / max(self.runner_up[1], 1e-3)

    @property
    def clear(self) -> bool:
        return self.ratio >= CLEAR_PEAK_RATIO and self.peak[1] > 0.2


@dataclass
class AngleStudy:
    """Everything the report learns about one input file.

    ``delta``/``slope``: the line shown (``t_ref = delta + t_src * (1 + slope)``), from
    ``line_from`` ("sidecar", "measured now" or "best guess"). ``measures``: re-measured
    analysis windows; ``parity`` 0 for sync's (even) slots, 1 for verify's (odd) slots;
    ``residual_ms`` each window's distance from the line (ms); ``band``: windows in a parallel
    talker band. ``check``: :func:`polysync.verify.check_alignment` of the line (``windows``,
    ``agreeing``, ``confidence``, ``median_residual_ms``, ``tolerance_ms``, ``method``).
    """

    index: int
    path: Path
    name: str
    colour: str
    ref_name: str = ""
    is_reference: bool = False
    analysis: object = None  # FileAnalysis
    error: Optional[PolysyncError] = None
    sidecar: object = None  # Sidecar actually used
    sidecar_note: str = ""
    ref_cand: object = None
    cand: object = None
    delta: Optional[float] = None
    slope: Optional[float] = None
    line_from: str = ""
    sync_confidence: Optional[float] = None
    refusal: str = ""
    overlap_ref: tuple[float, float] = (0.0, 0.0)
    overlap_src: tuple[float, float] = (0.0, 0.0)
    curve: Optional[Curve] = None
    measures: list = field(default_factory=list)
    parity: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=int))
    residual_ms: np.ndarray = field(default_factory=lambda: np.zeros(0))
    band: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=bool))
    check: dict = field(default_factory=dict)
    envelope_corr: Optional[float] = None
    verdict: str = ""
    why: str = ""

    @property
    def placed(self) -> bool:
        """On the coverage timeline: the reference, a reliable match, or an offset the audio
        does not confirm (drawn hatched)."""
        return self.is_reference or (self.delta is not None
                                     and self.verdict in (RELIABLE, DISAGREES))

    @property
    def span(self) -> tuple[float, float]:
        """(start, end) of the whole recording on the reference timeline, seconds."""
        dur = self.analysis.info.duration
        if self.is_reference:
            return 0.0, dur
        k = 1.0 + self.slope
        return self.delta, self.delta + dur * k


@dataclass
class Shoot:
    """The studies of every input, the reference first, and the edit drawn (if any)."""

    angles: list[AngleStudy]
    edit: Optional["EditView"] = None

    @property
    def reference(self) -> AngleStudy:
        return self.angles[0]


def coarse_curve(ref_feat: np.ndarray, ref_t0: float, src_feat: np.ndarray, src_t0: float,
                 slope: float = 0.0, max_chunks: int = 16) -> Optional[Curve]:
    """The coarse stage's correlation over every offset, as one curve.

    Features are :func:`polysync.align.envelope_feature` outputs at ``ENV_RATE`` frames/s whose
    frame 0 sits at ``ref_t0`` / ``src_t0`` seconds. A source of up to 90 s is one chunk; a
    longer one is cut into 60 s chunks (at most ``max_chunks``, spread evenly), each chunk's
    correlation is placed on the offset axis with the drift ``slope`` and the chunks are
    averaged. Returns None if the source has no pattern at all.
    """
    from .align import ENV_RATE, LagCorrelator

    env = ENV_RATE
    n_s = len(src_feat)
    chunk = n_s if n_s <= 90 * env else 60 * env
    starts = np.arange(0, max(1, n_s - chunk + 1), chunk)
    if len(starts) > max_chunks:
        pick = np.round(np.linspace(0, len(starts) - 1, max_chunks)).astype(int)
        starts = starts[np.unique(pick)]
    min_overlap = int(min(chunk, max(8.0 * env, 0.5 * chunk)))
    correlate = LagCorrelator(ref_feat, chunk, min_overlap)
    curves = []
    for s0 in starts:
        c = np.asarray(src_feat[s0: s0 + chunk], dtype=np.float64)
        if len(c) < min_overlap or c.std() < 1e-6:
            continue
        lags, ncc = correlate(c)
        t_chunk = src_t0 + s0 / env
        # lag L: chunk[0] (source time t_chunk) at reference time ref_t0 + L/env
        curves.append((ref_t0 + lags / env - t_chunk * (1.0 + slope), ncc))
    if not curves:
        return None
    lo = min(o[0] for o, _ in curves)
    hi = max(o[-1] for o, _ in curves)
    grid = lo + np.arange(int(round((hi - lo) * env)) + 1) / env
    acc = np.zeros(len(grid))
    cnt = np.zeros(len(grid))
    for offs, ncc in curves:
        v = np.interp(grid, offs, ncc, left=np.nan, right=np.nan)
        ok = np.isfinite(v)
        acc[ok] += v[ok]
        cnt[ok] += 1
    mean = np.where(cnt > 0, acc / np.maximum(cnt, 1), np.nan)
    # offsets seen by fewer than half the chunks are edge effects: drop them
    keep = cnt >= max(1, 0.5 * len(curves))
    grid, mean = grid[keep], mean[keep]
    i = int(np.nanargmax(mean))
    away = np.abs(grid - grid[i]) > 0.5
    if away.any():
        j = int(np.flatnonzero(away)[np.nanargmax(mean[away])])
        runner = (float(grid[j]), float(mean[j]))
    else:
        runner = (float(grid[i]), 0.0)
    return Curve(grid, mean.astype(np.float32), (float(grid[i]), float(mean[i])), runner)


def _candidate(analysis, stream: Optional[int], channel: Optional[str]):
    """The live candidate of ``analysis`` matching ``stream``/``channel`` (else the best)."""
    for c in analysis.candidates:
        if stream in (None, c.audio_stream) and channel in (None, c.channel):
            return c
    return analysis.candidates[0]


def _usable_sidecar(st: AngleStudy, ref: AngleStudy, sidecar_dir) -> None:
    """Load ``st``'s sidecar into ``st.sidecar`` if it places it on ``ref``; note why not."""
    from .sidecar import check_fresh, load_sidecar, sidecar_path

    where = sidecar_path(st.path, sidecar_dir)
    if not where.exists():
        st.sidecar_note = "no sidecar: measured now"
        return
    try:
        sc = load_sidecar(where)
        check_fresh(sc, st.path, st.analysis.info.duration, where)
    except CorruptFileError as exc:
        st.sidecar_note = f"{exc.message}: measured now"
        return
    if sc.is_reference:
        st.sidecar_note = "its sidecar makes it a reference: measured now"
    elif sc.reference != ref.path.name:
        st.sidecar_note = (f"its sidecar places it on {sc.reference}, not {ref.path.name}: "
                           "measured now")
    else:
        st.sidecar = sc
        st.sidecar_note = f"sidecar {where.name}"


def _study_source(st: AngleStudy, ref: AngleStudy, sidecar_dir) -> None:
    """Find the line for ``st`` (its sidecar, or align now), then gather the evidence."""
    from .align import align_pair, overlap_of
    from .sidecar import sidecar_path
    from .sync import PairAlignment, align_files, make_sidecar

    an, ra = st.analysis, ref.analysis
    _usable_sidecar(st, ref, sidecar_dir)
    sc = st.sidecar
    if sc is not None:
        st.ref_cand = _candidate(ra, sc.reference_audio_stream, sc.quality.get("reference_channel"))
        st.cand = _candidate(an, sc.audio_stream, sc.quality.get("channel"))
        st.line_from = "sidecar"
    else:
        try:
            pa = align_files(ra, an)
            st.line_from = "measured now"
        except PolysyncError as exc:
            st.refusal = exc.message
            rc, cc = ra.candidates[0], an.candidates[0]
            res = align_pair(rc.signal, rc.t0, cc.signal, cc.t0, rc.rate, rc.feature, cc.feature)
            pa = PairAlignment(res, rc, cc)
            st.line_from = "best guess"
        st.ref_cand, st.cand = pa.ref_candidate, pa.src_candidate
        if pa.result is not None:
            sc = make_sidecar(ra, an, pa, sidecar_path(st.path, sidecar_dir))
    rc, cc = st.ref_cand, st.cand
    if sc is not None:
        st.delta, st.slope, st.sync_confidence = sc.delta_seconds, sc.drift_slope, sc.confidence
    st.curve = coarse_curve(rc.feature, rc.t0, cc.feature, cc.t0, st.slope or 0.0)
    if sc is None:
        st.verdict = UNRELIABLE
        st.why = (f"No reliable match: {_refused(st.refusal)}. No offset gets any support "
                  "from the audio, so nothing is placed.")
        return
    st.overlap_ref, st.overlap_src = overlap_of(st.delta, st.slope, rc.t0, rc.t0 + rc.duration,
                                                cc.t0, cc.t0 + cc.duration)
    _measure(st)
    _judge(st, ref.analysis, sc)


def _measure(st: AngleStudy) -> None:
    """Measure every analysis window (sync's even and verify's odd slots) around the line."""
    from .align import measure_windows, slot_length, window_slots

    rc, cc = st.ref_cand, st.cand
    a, b = st.overlap_src
    if b - a < 2.0:
        return
    slot = slot_length(b - a)
    meas, parity = [], []
    for p in (0, 1):
        starts = window_slots(a, b - slot, slot, parity=p)
        m = measure_windows(rc.signal, rc.t0, cc.signal, cc.t0, rc.rate, starts, slot,
                            st.delta, st.slope)
        meas += m
        parity += [p] * len(m)
    order = np.argsort([m.t_src for m in meas], kind="stable")
    st.measures = [meas[i] for i in order]
    st.parity = np.array(parity, dtype=int)[order]
    x = np.array([m.t_src for m in st.measures])
    y = np.array([m.t_ref - m.t_src for m in st.measures])
    st.residual_ms = (y - (st.delta + st.slope * x)) * 1000.0
    st.band = _in_band(st.residual_ms)


def _in_band(residual_ms: np.ndarray, width_ms: float = 0.5, band_ms: float = 12.0) -> np.ndarray:
    """Windows that share their residual (within ``width_ms``) with at least two others, within
    ``band_ms`` of the line: the parallel bands of talkers at different distances from the mics.
    Windows of unrelated audio scatter over the whole search range and rarely have such
    neighbours."""
    r = np.asarray(residual_ms, dtype=np.float64)
    near = np.abs(r[:, None] - r[None, :]) <= width_ms
    return (near.sum(axis=1) >= 3) & (np.abs(r) <= band_ms)


def _refused(message: str) -> str:
    """Sync's refusal as a clause: "sync refuses it (4 of 20 windows agree ...): ..."."""
    rest = message.removeprefix("no reliable match ")
    return f"sync refuses it {rest}" if rest != message else f"sync refuses it: {message}"


def _only_stream(an, stream: Optional[int]):
    """``an`` with only the candidates of audio stream ``stream`` (all if None or absent)."""
    from dataclasses import replace

    keep = [c for c in an.candidates if stream is None or c.audio_stream == stream]
    return replace(an, candidates=keep) if keep else an


def _judge(st: AngleStudy, ref_analysis, sc) -> None:
    """Set ``st.check`` (``polysync verify``'s independent check of the line, on the windows
    sync did not use), ``st.verdict`` and the sentences that explain it."""
    from .align import CONFIDENCE_REQUIRED, MIN_OVERLAP
    from .verify import check_alignment

    m = check_alignment(_only_stream(ref_analysis, sc.reference_audio_stream),
                        _only_stream(st.analysis, sc.audio_stream), sc)
    st.check = m
    passed = (m["confidence"] >= CONFIDENCE_REQUIRED
              and abs(m["median_residual_ms"]) <= m["tolerance_ms"])
    span = st.overlap_ref[1] - st.overlap_ref[0]
    curve = ""
    if st.curve is not None:
        pk, ru = st.curve.peak, st.curve.runner_up
        kind = "a clear peak" if st.curve.clear else "no clear peak"
        curve = (f" The coarse correlation has {kind}: {pk[1]:.2f} at {pk[0]:+.3f} s against "
                 f"{ru[1]:.2f} for the best other offset ({st.curve.ratio:.1f}x).")
    how = ("the sound envelopes only (far or reverberant mics)" if m["method"] == "envelope"
           else f"{m['agreeing']} of {m['windows']} windows sync did not use")
    check = (f"the independent check on {how} gives confidence {m['confidence']:.4f} "
             f"({CONFIDENCE_REQUIRED} needed) and lands {m['median_residual_ms']:+.2f} ms from "
             f"the offset ({m['tolerance_ms']:.1f} ms allowed)")
    if st.refusal:
        st.verdict = UNRELIABLE
        st.why = (f"No reliable match: {_refused(st.refusal)}.{curve} The offset drawn below "
                  "is the best guess, not a sync.")
    elif not passed or span < MIN_OVERLAP:
        st.verdict = DISAGREES if m["confidence"] >= CONFIDENCE_REQUIRED else UNRELIABLE
        lead = ("Offset not confirmed" if st.verdict == DISAGREES else
                "No reliable match: the windows do not line up")
        short = f" The overlap is only {span:.1f} s." if span < MIN_OVERLAP else ""
        st.why = f"{lead}: {check}.{short}{curve}"
    else:
        st.verdict = RELIABLE
        rough = (" Only the envelopes agree, so the offset is as precise as they are (a few "
                 "ms to tens of ms), not sample-accurate." if m["method"] == "envelope" else "")
        st.why = (f"Reliable match: {check}.{curve} Offset {st.delta:+.6f} s, drift "
                  f"{st.slope * 1e6:+.2f} ppm, overlap {span:.1f} s.{rough}")


def _envelope_corr(st: AngleStudy) -> None:
    """Correlation of the two dB envelopes over the overlap once aligned (dimensionless)."""
    t, r, s = _aligned_envelopes(st)
    if t.size > 10 and r.std() > 0 and s.std() > 0:
        st.envelope_corr = float(np.corrcoef(r, s)[0, 1])


def _aligned_envelopes(st: AngleStudy) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Reference and source speech envelopes on one grid of reference times over the overlap.

    Returns ``(t, ref, src)``: ``t`` in reference seconds at ENV_RATE, levels in dB above each
    recording's own floor (its 10th percentile), clipped to 0..60 dB.
    """
    from .align import ENV_RATE

    a, b = st.overlap_ref
    if b - a <= 0:
        return np.zeros(0), np.zeros(0), np.zeros(0)
    t = a + np.arange(int((b - a) * ENV_RATE)) / ENV_RATE

    def on_grid(c, src_times):
        env = np.asarray(c.env_db, dtype=np.float64)
        pos = (src_times - c.t0) * ENV_RATE - 0.5
        v = np.interp(pos, np.arange(env.size), env)
        return np.clip(v - np.percentile(env, 10), 0.0, 60.0)

    ref = on_grid(st.ref_cand, t)
    src = on_grid(st.cand, (t - st.delta) / (1.0 + st.slope))
    return t, ref, src


def study_files(paths: Sequence[str | os.PathLike], sidecar_dir=None, jobs: Optional[int] = None,
                progress: Optional[Callable[[str, float], None]] = None) -> Shoot:
    """Analyse every file (the first is the reference) and gather the evidence of each sync.

    Sidecars are read from beside the media or ``sidecar_dir``; a file without a usable one is
    aligned on the spot. Raises :class:`UsageError` for no files or the same file twice and
    :class:`MediaError` when the reference itself cannot be analysed.
    """
    from .sync import analyse_all

    paths = _order(list(paths), sidecar_dir)
    studies = []
    for i, p in enumerate(paths):
        studies.append(AngleStudy(index=i, path=p, name=p.name, colour=PALETTE[i % len(PALETTE)],
                                  ref_name=paths[0].name, is_reference=i == 0))
    results = analyse_all(paths, jobs=jobs, progress=progress)
    for st, res in zip(studies, results):
        if isinstance(res, PolysyncError):
            st.error, st.verdict = res, NOT_ANALYSED
            st.why = f"Could not be analysed: {res.message}."
        else:
            st.analysis = res
    ref = studies[0]
    if ref.error is not None:
        raise ref.error
    ref.verdict = REFERENCE
    ref.ref_cand = ref.cand = ref.analysis.candidates[0]
    ref.why = ("The reference: its clock is the session timeline, every other angle is placed on "
               f"it. Audio used: {ref.cand.label()}.")
    for st in studies[1:]:
        if st.analysis is not None:
            _study_source(st, ref, sidecar_dir)
            if st.delta is not None:
                _envelope_corr(st)
    return Shoot(studies)


def _order(paths: list[Path], sidecar_dir) -> list[Path]:
    """The inputs with the reference first: the first file, unless its own sidecar names
    another of the inputs as its reference."""
    from .sidecar import check_distinct_sidecars, check_inputs, load_sidecar, sidecar_path

    paths = [Path(p) for p in paths]
    if not paths:
        raise UsageError("give the files to report on (the reference first)")
    check_inputs(paths)
    check_distinct_sidecars(paths, sidecar_dir)
    try:
        sc = load_sidecar(sidecar_path(paths[0], sidecar_dir))
    except PolysyncError:
        return paths
    named = [p for p in paths[1:] if p.name == sc.reference]
    if not sc.is_reference and named:
        paths.remove(named[0])
        paths.insert(0, named[0])
    return paths


# --------------------------------------------------------------------------- the edit


@dataclass
class EditView:
    """An edit laid over speech activity. Times are reference seconds.

    ``persons``: (name, input index, colour) per person; ``active``: (P, T) bool at
    ``rate`` frames/s from ``t0``; ``source``: "speech activity" (polysync.activity) or
    "level" (each person's angle's envelope above its floor, when activity is unavailable).
    ``level``: (P, T) dB above floor for the "level" source.
    """

    decisions: object
    names: list[str]
    colours: list[str]
    persons: list[tuple[str, int, str]]
    t0: float
    rate: int
    active: Optional[np.ndarray]
    level: Optional[np.ndarray]
    source: str
    on_speaker: Optional[float] = None  # share of speaking time the speaker is on screen
    on_wide: Optional[float] = None


def edit_view(shoot: Shoot, dec) -> EditView:
    """Line the edit ``dec`` (EditDecisions) up with the angles' sound; the persons are its
    inputs other than the wide, each heard by its own audio."""
    from .align import ENV_RATE

    by_path = {st.path.resolve(): st for st in shoot.angles}
    studies = [by_path.get(Path(p).resolve()) for p in dec.inputs]
    names = [dec.names[i] if i < len(dec.names) and dec.names[i] else Path(p).stem
             for i, p in enumerate(dec.inputs)]
    colours = [st.colour if st is not None else PALETTE[(len(shoot.angles) + i) % len(PALETTE)]
               for i, st in enumerate(studies)]

    def line(i: int) -> tuple[float, float]:
        st = studies[i]
        if i < len(dec.deltas) and i < len(dec.drift_slopes):
            return dec.deltas[i], dec.drift_slopes[i]
        return (0.0, 0.0) if st.is_reference else (st.delta, st.slope)

    heard = [i for i, st in enumerate(studies) if st is not None and st.cand is not None
             and (st.is_reference or st.delta is not None)]
    persons = [(names[i], i, colours[i]) for i in heard if i != dec.wide]
    t0, t1 = float(dec.start), float(dec.duration)
    rate = 100
    view = EditView(dec, names, colours, persons, t0, rate, None, None, "level")
    if not persons:
        return view
    try:
        from .activity import MicTrack, detect_activity
    except ImportError:
        detect_activity = None
    if detect_activity is not None and len(heard) >= 2:
        mics = []
        for i in heard:
            c = studies[i].cand
            d, s = line(i)
            mics.append(MicTrack(names[i], c.signal, c.rate, c.t0, c.env_db, ENV_RATE, d, s))
        person_mics = [heard.index(i) for _, i, _ in persons]
        with warnings.catch_warnings():  # all-NaN medians where a mic does not record
            warnings.simplefilter("ignore", RuntimeWarning)
            act = detect_activity(mics, person_mics, t0, t1, rate=rate)
        view.active, view.source = act.active, "speech activity"
        view.t0 = act.t0
        _screen_share(view, act.dominant)
    else:
        n = max(1, int((t1 - t0) * rate))
        t = t0 + (np.arange(n) + 0.5) / rate
        level = np.zeros((len(persons), n))
        for k, (_, i, _) in enumerate(persons):
            c = studies[i].cand
            d, s = line(i)
            env = np.asarray(c.env_db, dtype=np.float64)
            pos = ((t - d) / (1 + s) - c.t0) * ENV_RATE - 0.5
            v = np.interp(pos, np.arange(env.size), env, left=np.nan, right=np.nan)
            level[k] = np.nan_to_num(np.clip(v - np.percentile(env, 10), 0, 60))
        view.level = level
    return view


def _screen_share(view: EditView, dominant: np.ndarray) -> None:
    """Shares of the time someone speaks with the speaker / the wide on screen."""
    dec = view.decisions
    t = view.t0 + (np.arange(len(dominant)) + 0.5) / view.rate
    starts = np.array([float(s.start) for s in dec.shots])
    ends = np.array([float(s.end) for s in dec.shots])
    k = np.clip(np.searchsorted(starts, t, side="right") - 1, 0, len(starts) - 1)
    inside = (t >= starts[k]) & (t < ends[k])
    cam = np.array([s.cam for s in dec.shots])[k]
    speaker_cam = np.array([i for _, i, _ in view.persons])
    speaking = (dominant >= 0) & inside
    if not speaking.any():
        return
    shown = speaker_cam[np.clip(dominant, 0, len(speaker_cam) - 1)]
    view.on_speaker = float(np.mean(cam[speaking] == shown[speaking]))
    if dec.wide is not None:
        view.on_wide = float(np.mean(cam[speaking] == dec.wide))


# --------------------------------------------------------------------------- plots


def require_matplotlib():
    """matplotlib's Figure class; :class:`UsageError` saying how to install it if missing."""
    try:
        from matplotlib.figure import Figure
    except ImportError:
        raise UsageError('the report draws its plots with matplotlib, which is not installed: '
                         'pip install "polysync[report]"') from None
    return Figure


def _figure(width: float, height: float, rows: int = 1, left: float = 0.8, grid: str = "both",
            **kw):
    """A matplotlib Figure (Agg, outside pyplot) and its axes, with fixed margins (one draw
    per picture, unlike constrained layout). Sizes and ``left`` margin in inches."""
    Figure = require_matplotlib()
    fig = Figure(figsize=(width, height), dpi=100)
    top, bottom, gap = 0.35, 0.5, 0.65  # inches: title, x labels, between rows
    axes_h = (height - top - bottom - gap * (rows - 1)) / rows
    fig.subplots_adjust(left=left / width, right=1 - 0.15 / width, top=1 - top / height,
                        bottom=bottom / height, hspace=gap / max(axes_h, 0.1))
    axes = fig.subplots(rows, 1, squeeze=False, **kw)[:, 0]
    for ax in axes:
        ax.grid(True, axis=grid, alpha=0.3, linewidth=0.6)
    return fig, axes


def _label_inches(labels) -> float:
    """Left margin (inches) that fits y tick ``labels`` at the default font size."""
    return 0.3 + 0.075 * max((len(str(x)) for x in labels), default=4)


def _png(fig) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", metadata={"Software": None})
    return buf.getvalue()


def _pool(t: np.ndarray, *ys: np.ndarray, bins: int = 3000):
    """Max-pool long series to about ``bins`` points so peaks survive in a small picture."""
    if t.size <= 2 * bins:
        return (t, *ys)
    k = t.size // bins
    n = k * bins
    out = [t[:n].reshape(bins, k).mean(axis=1)]
    for y in ys:
        out.append(np.nanmax(y[:n].reshape(bins, k), axis=1))
    return tuple(out)


def _zoom_start(t: np.ndarray, r: np.ndarray, s: np.ndarray) -> float:
    """Start (s) of the ZOOM_SECONDS stretch where both recordings are busiest."""
    from .align import ENV_RATE

    w = int(ZOOM_SECONDS * ENV_RATE)
    if t.size <= w:
        return float(t[0]) if t.size else 0.0
    both = np.minimum(r, s)
    score = np.convolve(both, np.ones(w), mode="valid")
    return float(t[int(np.argmax(score))])


def plot_envelopes(st: AngleStudy) -> bytes:
    """Reference (up) and source (down, mirrored) envelopes after alignment: whole overlap and
    an 8 s close-up; levels in dB above each recording's floor, time on the reference clock."""
    t, r, s = _aligned_envelopes(st)
    fig, (ax1, ax2) = _figure(9, 4.6, rows=2)
    tp, rp, sp = _pool(t, r, s)
    for ax, (tt, rr, ss) in ((ax1, (tp, rp, sp)), (ax2, (t, r, s))):
        ax.fill_between(tt, 0, rr, color=PALETTE[0], alpha=0.75, linewidth=0, label=st.ref_name)
        ax.fill_between(tt, 0, -ss, color=st.colour, alpha=0.75, linewidth=0, label=st.name)
        ax.axhline(0, color="black", linewidth=0.6)
        ax.set_ylabel("dB above floor")
    z0 = _zoom_start(t, r, s)
    sel = (t >= z0) & (t <= z0 + ZOOM_SECONDS)
    ax2.set_xlim(z0, z0 + ZOOM_SECONDS)
    if sel.any():
        top = max(float(r[sel].max()), float(s[sel].max()), 1.0) * 1.05
        ax2.set_ylim(-top, top)
    ax1.axvspan(z0, z0 + ZOOM_SECONDS, color="gold", alpha=0.25)
    corr = f", envelope correlation {st.envelope_corr:.2f}" if st.envelope_corr is not None else ""
    ax1.set_title(f"Envelopes after alignment ({st.line_from} offset {st.delta:+.3f} s{corr})")
    ax1.legend(loc="upper right", fontsize=8)
    ax2.set_title(f"Close-up of {ZOOM_SECONDS:.0f} s (shaded above): syllables should coincide",
                  fontsize=10)
    ax2.set_xlabel("reference time (s)")
    return _png(fig)


def plot_curve(st: AngleStudy) -> bytes:
    """The coarse correlation over all offsets (top) and around its peak (bottom)."""
    cv = st.curve
    fig, (ax1, ax2) = _figure(9, 4.4, rows=2)
    op, cp = _pool(cv.offsets, cv.ncc)
    ax1.plot(op, cp, color="0.3", linewidth=0.7)
    centre = st.delta if st.delta is not None else cv.peak[0]
    sel = np.abs(cv.offsets - centre) <= 3.0
    ax2.plot(cv.offsets[sel], cv.ncc[sel], color="0.3", linewidth=0.9)
    for ax in (ax1, ax2):
        ax.plot(*cv.peak, "o", color="#d62728", label=f"peak {cv.peak[1]:.2f}")
        ax.plot(*cv.runner_up, "o", color="#ff7f0e", label=f"runner-up {cv.runner_up[1]:.2f}")
        ax.axhline(cv.runner_up[1], color="#ff7f0e", linewidth=0.7, linestyle=":")
        if st.delta is not None:
            ax.axvline(st.delta, color=st.colour, linewidth=1.0, linestyle="--",
                       label=f"{st.line_from} offset")
        ax.set_ylabel("correlation")
    ax2.set_xlim(centre - 3.0, centre + 3.0)
    verdict = "clear peak" if cv.clear else "NO CLEAR PEAK"
    ax1.set_title(f"Coarse correlation of the envelopes: {verdict} "
                  f"(peak / runner-up = {cv.ratio:.1f})")
    ax1.legend(loc="upper right", fontsize=8)
    ax2.set_title("Around the offset (+-3 s)", fontsize=10)
    ax2.set_xlabel("offset of the source on the reference timeline, delta_seconds (s)")
    return _png(fig)


def plot_drift(st: AngleStudy) -> bytes:
    """Each window's measured offset (ms, relative to delta) with the drift line, and its
    residual from the line (ms); sync's windows as circles, verify's as triangles. Colour: on the
    fit; light: in a parallel talker band; grey: stray."""
    x = np.array([m.t_src for m in st.measures])
    y = np.array([m.t_ref - m.t_src for m in st.measures])
    tref = np.array([m.t_ref for m in st.measures])
    tol = float(st.check.get("tolerance_ms", 1.0))
    agree = np.abs(st.residual_ms) <= tol
    band = st.band & ~agree
    stray = ~(agree | band)
    fig, (ax1, ax2) = _figure(9, 4.8, rows=2, sharex=True)
    rel = (y - st.delta) * 1000.0
    line_x = np.array([st.overlap_src[0], st.overlap_src[1]])
    ax1.plot(st.delta + line_x * (1 + st.slope), st.slope * line_x * 1000.0, color="black",
             linewidth=1.0, label=f"{st.line_from} line: drift {st.slope * 1e6:+.2f} ppm")
    far = max(12.0, float(np.abs(st.residual_ms).max()) if len(x) else 0.0) * 1.15
    groups = ((agree, st.colour, 1.0, "on the line"), (band, st.colour, 0.35, "talker band"),
              (stray, "0.55", 0.8, "stray"))
    for sel, colour, alpha, label in groups:
        for p, marker in ((0, "o"), (1, "^")):
            m = sel & (st.parity == p)
            if not m.any():
                continue
            first = p == 0 or not (sel & (st.parity == 0)).any()
            ax1.scatter(tref[m], rel[m], s=14, marker=marker, color=colour, alpha=alpha,
                        label=f"{label} ({int(sel.sum())})" if first else None)
            ax2.scatter(tref[m], st.residual_ms[m], s=14, marker=marker,
                        color=colour, alpha=alpha)
    kept = agree | band
    if kept.sum() >= 3:
        lo, hi = float(rel[kept].min()), float(rel[kept].max())
        pad = max(1.0, 0.2 * (hi - lo))
        ax1.set_ylim(lo - pad, hi + pad)
    ax2.axhspan(-tol, tol, color=st.colour, alpha=0.12)
    ax2.axhline(0, color="black", linewidth=0.6)
    # linear within +-5 ms (talker bands), logarithmic out to the search range
    ax2.set_yscale("symlog", linthresh=5.0, linscale=1.0)
    ax2.set_ylim(-far, far)
    ticks = [t for t in (-40, -20, -10, -5, 0, 5, 10, 20, 40) if abs(t) < far]
    ax2.set_yticks(ticks, [str(t) for t in ticks])
    ax1.set_ylabel("offset - delta (ms)")
    ax2.set_ylabel("residual (ms)")
    ax2.set_xlabel("reference time (s); circles: sync's windows, triangles: verify's")
    ax1.set_title(f"Drift fit: {int(agree.sum())} of {len(x)} windows within +-{tol:.1f} ms of "
                  f"the line, {int(band.sum())} in talker bands, {int(stray.sum())} stray")
    ax1.legend(loc="best", fontsize=8)
    ax2.set_title(f"Residual of each window from the line (shaded: +-{tol:.1f} ms; scale "
                  "linear to +-5 ms, logarithmic beyond)", fontsize=10)
    return _png(fig)


def plot_streams(st: AngleStudy) -> bytes:
    """Level range (10th to 95th percentile, dBFS) of every stream/channel, the median marked;
    the one used for alignment in colour, dead ones hatched."""
    rows = st.analysis.streams
    fig, (ax,) = _figure(9, 0.95 + 0.42 * len(rows), grid="x", left=_label_inches(
        f"a:{r['audio_stream']} {r['channel']}" for r in rows))
    used = (st.cand.audio_stream, st.cand.channel)
    labels = []
    for k, s in enumerate(rows):
        chosen = (s["audio_stream"], s["channel"]) == used
        colour = st.colour if chosen else ("0.7" if s["alive"] else "white")
        ax.barh(k, max(s["p95"] - s["p10"], 0.5), left=s["p10"], color=colour,
                edgecolor="0.3", hatch=None if s["alive"] else "///", height=0.6)
        ax.plot(s["p50"], k, "|", color="black", markersize=14)
        state = "USED" if chosen else ("live" if s["alive"] else "dead")
        if not s["alive"]:
            state += ": digital silence" if s["p95"] <= -119 else ": steady noise, no events"
        ax.text(2.0, k, f"{state} (spread {s['spread']:.0f} dB)", va="center", fontsize=8)
        labels.append(f"a:{s['audio_stream']} {s['channel']}")
    ax.set_yticks(range(len(rows)), labels)
    ax.invert_yaxis()
    ax.set_xlim(-125, 45)
    ax.set_xticks(range(-120, 1, 20))
    ax.set_xlabel("level (dBFS): bar from quiet (10th percentile) to loud (95th); tick = median")
    ax.set_title(f"Audio streams of {st.name}")
    return _png(fig)


def plot_coverage(shoot: Shoot) -> bytes:
    """Every angle's span on the reference timeline (s); unplaced angles are listed empty."""
    rows = shoot.angles
    fig, (ax,) = _figure(9, 0.95 + 0.45 * len(rows), grid="x",
                         left=_label_inches(st.name for st in rows))
    for k, st in enumerate(rows):
        if st.analysis is not None and st.placed:
            a, b = st.span
            bad = st.verdict == DISAGREES
            ax.barh(k, b - a, left=a, color=st.colour, alpha=0.5 if bad else 0.85,
                    hatch="xx" if bad else None, height=0.6)
            ax.text(a, k, f" {a:+.2f} s", va="center", fontsize=8, color="white"
                    if not bad else "black")
        else:
            ax.text(0, k, f"  not placed: {st.verdict}", va="center", fontsize=9, color="#d62728")
    ax.set_yticks(range(len(rows)), [st.name for st in rows])
    ax.invert_yaxis()
    ax.axvline(0, color="black", linewidth=0.6)
    ax.set_xlabel("reference time (s)")
    ax.set_title("Coverage: where each recording sits on the reference timeline")
    return _png(fig)


def plot_edit(view: EditView) -> bytes:
    """The program's shots coloured by angle (insets as a thin upper band), over each person's
    speech activity (or level) on the reference timeline (s)."""
    dec = view.decisions
    rows = 1 + len(view.persons)
    labels = ["program"] + [f"person on {n}" for n, _, _ in view.persons]
    fig, (ax,) = _figure(9, 1.0 + 0.5 * rows, grid="x", left=_label_inches(labels))
    for s in dec.shots:
        a, b = float(s.start), float(s.end)
        ax.barh(0, b - a, left=a, color=view.colours[s.cam], height=0.7, edgecolor="white",
                linewidth=0.5)
        if s.pip is not None:
            ax.barh(-0.25, b - a, left=a, color=view.colours[s.pip], height=0.2,
                    edgecolor="white", linewidth=0.5)
    rows_data = view.active if view.active is not None else view.level
    t = view.t0 + np.arange(rows_data.shape[1] if rows_data is not None else 0) / view.rate
    for k, (_, _, colour) in enumerate(view.persons, start=1):
        if view.active is not None:
            mask = view.active[k - 1]
            d = np.diff(np.concatenate(([0], mask.astype(np.int8), [0])))
            spans = [(t[a], (b - a) / view.rate) for a, b in
                     zip(np.flatnonzero(d == 1), np.flatnonzero(d == -1))]
            ax.broken_barh(spans, (k - 0.3, 0.6), color=colour)
        else:
            lv = view.level[k - 1] / 60.0 * 0.8
            ax.fill_between(t, k + 0.4 - lv, k + 0.4, color=colour, linewidth=0)
    ax.set_yticks(range(rows), labels)
    ax.set_ylim(rows - 0.5, -0.6)
    ax.set_xlabel("reference time (s)")
    ax.set_title(f"Edit: {len(dec.shots)} shots over {view.source} (colours = angles)")
    return _png(fig)


# --------------------------------------------------------------------------- the page


_CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,Helvetica,Arial,sans-serif;
margin:2em auto;max-width:1000px;padding:0 1em;color:#222;line-height:1.45}
h1{margin-bottom:.2em}h2{margin-top:2em;border-bottom:2px solid #ddd;padding-bottom:.2em}
table{border-collapse:collapse;margin:1em 0}td,th{padding:.3em .8em;border-bottom:1px solid #ddd;
text-align:left;font-variant-numeric:tabular-nums}
.badge{display:inline-block;padding:.15em .6em;border-radius:.3em;color:#fff;font-weight:600;
font-size:.9em;text-transform:uppercase;letter-spacing:.03em}
.reliable{background:#2a8f3d}.unreliable{background:#c62828}.disagrees{background:#e07b00}
.not-analysed{background:#777}.reference{background:#1f5fa8}
.why{font-size:1.05em}figure{margin:1.2em 0}figure img{max-width:100%;border:1px solid #eee}
figcaption{color:#555;font-size:.92em}.swatch{display:inline-block;width:.9em;height:.9em;
border-radius:.2em;vertical-align:middle;margin-right:.4em}.meta{color:#666}
"""

_BADGE = {RELIABLE: "reliable", UNRELIABLE: "unreliable", DISAGREES: "disagrees",
          NOT_ANALYSED: "not-analysed", REFERENCE: "reference"}


def _img(png: bytes, title: str, caption: str) -> str:
    data = base64.b64encode(png).decode("ascii")
    return (f'<figure><h3>{html.escape(title)}</h3><img alt="{html.escape(title)}" '
            f'src="data:image/png;base64,{data}"><figcaption>{html.escape(caption)}</figcaption>'
            "</figure>")


def _fmt(v, spec: str, unit: str = "") -> str:
    return "-" if v is None else f"{v:{spec}}{unit}"


def _summary_table(shoot: Shoot) -> str:
    head = ("<tr><th>angle</th><th>verdict</th><th>offset</th><th>drift</th><th>sync confidence"
            "</th><th>independent check</th><th>line from</th></tr>")
    rows = []
    for st in shoot.angles:
        c = st.check
        check = (f"{c['agreeing']}/{c['windows']} windows, {c['median_residual_ms']:+.2f} ms"
                 if c else "-")
        rows.append(
            f'<tr><td><span class="swatch" style="background:{st.colour}"></span>'
            f"{html.escape(st.name)}</td><td><span class=\"badge {_BADGE[st.verdict]}\">"
            f"{html.escape(st.verdict)}</span></td>"
            f"<td>{'0' if st.is_reference else _fmt(st.delta, '+.6f', ' s')}</td>"
            f"<td>{'0' if st.is_reference else _fmt(_ppm(st.slope), '+.2f', ' ppm')}</td>"
            f"<td>{'-' if st.is_reference else _fmt(st.sync_confidence, '.4f')}</td>"
            f"<td>{html.escape(check)}</td><td>{html.escape(st.line_from or '-')}</td></tr>")
    return "<table>" + head + "".join(rows) + "</table>"


def _ppm(slope: Optional[float]) -> Optional[float]:
    return None if slope is None else slope * 1e6


_CAPTIONS = {
    "envelopes": "Speech level of the reference (up) and of this angle (down, mirrored) once this "
                 "angle is moved by the offset and drift. In a good sync the two shapes are mirror "
                 "images in time: every burst starts and stops at the same moment above and below "
                 "the line. In a bad one they do not match.",
    "curve": "How well the two envelopes match at every possible offset. A trustworthy match is "
             "one sharp peak far above everything else (the runner-up, dotted line); an "
             "unrelated pair gives a flat, noisy curve with no clear peak.",
    "drift": "Short windows of this angle located in the reference to a fraction of a "
             "millisecond. Top: each window's offset; a slope is clock drift. Bottom: each "
             "window's distance from the line. In a good sync the windows form tight bands "
             "along the line: one per person talking, a few ms apart, because sound travels "
             "about 3 ms per metre and each person sits at another distance from the two "
             "microphones (the line sits between the bands). Points scattered everywhere "
             "(grey) mean the windows do not agree.",
    "streams": "Every audio stream and channel of the file, from its quiet level to its loud "
               "level. The coloured one was used; dead tracks (silence or steady hiss) are "
               "hatched and never used.",
}


def render_html(shoot: Shoot) -> str:
    """The report page (a str of self-contained HTML)."""
    parts = [f"<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\">"
             f"<title>polysync report: {html.escape(shoot.reference.name)}</title>"
             f"<style>{_CSS}</style></head><body>",
             "<h1>polysync sync report</h1>",
             f"<p class=\"meta\">Reference {html.escape(shoot.reference.name)}; "
             f"{len(shoot.angles)} files; polysync {__version__}; "
             f"{_dt.datetime.now().replace(microsecond=0).isoformat(sep=' ')}</p>",
             "<section class=\"shoot\"><h2>The shoot</h2>", _summary_table(shoot),
             _img(plot_coverage(shoot), "Coverage",
                  "Each recording on the reference timeline (seconds). Angles without a "
                  "reliable match are not placed.")]
    if shoot.edit is not None:
        parts.append(_edit_html(shoot.edit))
    parts.append("</section>")
    for st in shoot.angles:
        parts.append(_angle_html(st))
    parts.append("</body></html>")
    return "\n".join(parts)


def _edit_html(view: EditView) -> str:
    dec = view.decisions
    lengths = [float(s.duration) for s in dec.shots]
    total = sum(lengths) or 1.0
    share = {}
    for s in dec.shots:
        share[s.cam] = share.get(s.cam, 0.0) + float(s.duration)
    screen = ", ".join(f"{view.names[c]} {v / total:.0%}" for c, v in sorted(share.items()))
    facts = [f"{len(dec.shots)} shots over {total:.1f} s, median shot "
             f"{float(np.median(lengths)) if lengths else 0:.1f} s; screen time: {screen}."]
    if view.on_speaker is not None:
        wide = f", the wide {view.on_wide:.0%}" if view.on_wide is not None else ""
        facts.append(f"While someone speaks, the speaker is on screen {view.on_speaker:.0%} of "
                     f"the time{wide}.")
    if view.source != "speech activity":
        facts.append("Speech activity could not be computed here; each person's row shows the "
                     "level of their angle's microphone instead.")
    caption = ("Top row: the program, one colour per angle (a thin band above it is the "
               "picture-in-picture inset). Rows below: when each person speaks, in the colour "
               "of the angle that frames them. A good cut follows the speaker.")
    return ("<h2>Edit</h2><p>" + html.escape(" ".join(facts)) + "</p>"
            + _img(plot_edit(view), "Edit over speech activity", caption))


def _angle_html(st: AngleStudy) -> str:
    out = [f'<section class="angle" id="angle-{st.index}">',
           f'<h2><span class="swatch" style="background:{st.colour}"></span>'
           f"{html.escape(st.name)} <span class=\"badge {_BADGE[st.verdict]}\">"
           f"{html.escape(st.verdict)}</span></h2>",
           f'<p class="why">{html.escape(st.why)}</p>']
    if st.sidecar_note:
        out.append(f'<p class="meta">{html.escape(st.sidecar_note)}; audio used: '
                   f"{html.escape(st.cand.label() if st.cand else '-')} against the reference's "
                   f"{html.escape(st.ref_cand.label() if st.ref_cand else '-')}.</p>")
    if st.analysis is None:
        out.append("</section>")
        return "\n".join(out)
    if not st.is_reference:
        if st.delta is not None and st.overlap_ref[1] > st.overlap_ref[0]:
            out.append(_img(plot_envelopes(st), "Envelopes after alignment",
                            _CAPTIONS["envelopes"]))
        if st.curve is not None:
            out.append(_img(plot_curve(st), "Coarse correlation", _CAPTIONS["curve"]))
            if not st.curve.clear:
                out.append("<p><strong>No clear peak</strong>: no offset matches much better "
                           "than the others, which is what unrelated recordings look like.</p>")
        if st.measures:
            out.append(_img(plot_drift(st), "Drift fit and window residuals", _CAPTIONS["drift"]))
        elif st.delta is not None:
            out.append("<p>No analysis window could be measured over the overlap.</p>")
    out.append(_img(plot_streams(st), "Audio streams", _CAPTIONS["streams"]))
    out.append("</section>")
    return "\n".join(out)


def make_report(paths: Sequence[str | os.PathLike], out: str | os.PathLike,
                edl: str | os.PathLike | None = None, sidecar_dir=None,
                jobs: Optional[int] = None,
                progress: Optional[Callable[[str, float], None]] = None) -> Shoot:
    """Study ``paths`` (reference first) and write the HTML report to ``out`` (atomically).

    ``edl``: an edl.json whose shots are drawn over the persons' speech activity. Raises
    :class:`UsageError` when matplotlib is missing, :class:`MediaError` for a missing or
    unreadable reference, :class:`CorruptFileError` for a bad edl.json.
    """
    from .fsutil import atomic_write_text, check_writable_dir

    from .decisions import read_edl_json

    require_matplotlib()  # every check before the slow part
    out = Path(out)
    check_writable_dir(out.resolve().parent)
    dec = read_edl_json(edl) if edl is not None else None
    shoot = study_files(paths, sidecar_dir=sidecar_dir, jobs=jobs, progress=progress)
    if dec is not None:
        shoot.edit = edit_view(shoot, dec)
    atomic_write_text(out, render_html(shoot))
    return shoot


@click.command("report")
@click.argument("files", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--out", "-o", required=True, type=click.Path(path_type=Path),
              help="The HTML file to write.")
@click.option("--edl", type=click.Path(path_type=Path),
              help="An edl.json auto-edit to draw over the persons' speech activity.")
@click.option("--sidecar-dir", type=click.Path(path_type=Path),
              help="Read sidecars from here instead of beside the media.")
@click.option("--jobs", "-j", type=int, default=None,
              help="Files decoded at once (default: cores).")
@click.option("--quiet", "-q", is_flag=True, help="No progress on stderr.")
def report(files, out, edl, sidecar_dir, jobs, quiet):
    """Write one self-contained HTML page showing why each sync is right (or not).

    FILES: the reference first, then the other angles. Sidecars are used where they exist;
    files without one are aligned on the spot. Opens offline: every plot is embedded.
    """
    from .cli import Progress, fail_cleanly

    fail_cleanly(_report)(files, out, edl, sidecar_dir, jobs, Progress(quiet))


def _report(files, out, edl, sidecar_dir, jobs, progress) -> None:
    from .cli import table

    shoot = make_report(files, out, edl=edl, sidecar_dir=sidecar_dir, jobs=jobs, progress=progress)
    progress.done()
    rows = []
    for st in shoot.angles:
        c = st.check
        rows.append([st.name, st.verdict,
                     "0" if st.is_reference else _fmt(st.delta, "+.6f", " s"),
                     "0" if st.is_reference else _fmt(_ppm(st.slope), "+.2f", " ppm"),
                     f"{c['agreeing']}/{c['windows']}" if c else "-",
                     st.line_from or "-"])
    click.echo(table(rows, ["file", "verdict", "offset", "drift", "windows", "line from"]))
    click.echo(f"wrote {out}")


__all__ = ["make_report", "study_files", "coarse_curve", "edit_view", "render_html", "Shoot",
           "AngleStudy", "Curve", "report"]
