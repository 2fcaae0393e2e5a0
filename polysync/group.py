"""Group sync: every angle and every clip of a shoot placed on one reference timeline.

Real shoots are not one file per camera: cameras split recordings (4 GB limits) and stop
between takes, phones and recorders start mid-way, and some clips overlap only each other.
:func:`sync_group` takes files and folders and:

1. decodes every file once (:func:`polysync.sync.analyse_file` in worker processes) and,
   while the others decode, compares it with every file decoded before it;
2. compares every pair cheaply on 10 Hz envelope features (the whole shorter file, plus its
   first and last 20 s so short edge overlaps are found; a timecode or creation-time prior,
   when both files carry one, adds a narrowed search), and runs the sample-level stage only
   for pairs whose envelopes may overlap: first on a few windows, on all of them only when
   the few do not decide;
3. solves the placement globally: each pair ``t_L = D + t_S (1 + S)`` gives two linear
   equations in the files' ``(delta, slope)`` (at the middle of the overlap, and on the
   slope), solved by weighted least squares with the reference fixed at ``(0, 0)``. A pair
   whose leave-one-out residual (how far the rest of the graph puts it) exceeds 2 ms is
   dropped, the worst first, so one bad pair cannot misplace a clip. Chains compose drift:
   A->R and B->A give ``t_R = dA + dBA (1 + sA) + t_B (1 + sBA)(1 + sA)``;
4. groups files into angles (``--angle NAME=GLOB``, else file naming + device signature +
   folder), splits an angle whose clips overlap in time (one device cannot record twice at
   once), fits one drift slope per angle when its clips agree, and reports the joins between
   an angle's clips (contiguous split within a frame, or a gap between takes);
5. writes ``<file>.sync.json`` sidecars against the ONE reference file and
   ``polysync-session.json`` (atomically). Files that cannot be placed get no sidecar.

Time convention everywhere: ``t_ref = delta_seconds + t_src * (1 + drift_slope)``, seconds.
"""

from __future__ import annotations

import datetime as _dt
import heapq
import json
import os
import re
import tempfile
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path, PurePosixPath
from typing import Iterable, Mapping, Optional, Sequence

import numpy as np

from . import __version__
from .align import (_AGREE_TOL, _FINE_MARGIN, CONFIDENCE_REQUIRED, MIN_OVERLAP, Hypothesis,
                    SyncResult, coarse_hypotheses, fit_line, measure_windows, overlap_of,
                    significance, window_slots)
from .channels import Candidate
from .errors import CorruptFileError, MediaError, PolysyncError, SyncRefused, UsageError
from .fsutil import atomic_write_text, check_writable_dir, json_text
from .media import MEDIA_SUFFIXES, MediaInfo, probe
from .session import Angle, angle_name
from .sidecar import (Sidecar, check_distinct_sidecars, check_fresh, load_sidecar,
                      media_info_dict, save_sidecar, sidecar_path, withdraw_sidecar)
from .sync import (FileAnalysis, ProgressFn, _relpath, align_files, decode_stream,
                   drop_pages,
                   reference_sidecar)

SESSION_NAME = "polysync-session.json"
SESSION_KIND = "polysync-session"
SESSION_VERSION = 1

CYCLE_TOLERANCE = 0.002
"""s: a pair further than this from where the rest of the graph puts it is dropped."""

ENVELOPE_SIGMA = 0.005
"""s: precision of a pair the core could only place by envelopes (far, reverberant mics)."""

SCREEN_RATE = 10
"""Hz: envelope feature rate of the all-pairs screen (100 Hz features averaged by 10)."""

SCREEN_P = 1e-3
"""A screen hypothesis goes to the sample-level stage when an envelope peak that high would
happen by chance less often than this, over all the lags and chunks searched (the core's
``Hypothesis.p_value``: a narrowed search needs a lower peak)."""

EDGE_SECONDS = 20.0
"""s: the head and tail of a file screened on their own (finds overlaps of 10 s at an edge)."""

QUICK_WINDOWS = 16
"""Windows of the first sample-level pass (1 s each)."""

FULL_P = 1e-6
"""Screen p-value below which a pair the few windows cannot decide gets the full alignment."""

PRIOR_TOLERANCE = {"timecode": 2.0, "creation_time": 60.0}
"""s: how far a metadata prior may be off and still narrow the search."""


# =========================================================================== inputs


def scan_media(paths: Iterable[str | os.PathLike]) -> list[Path]:
    """The media files among ``paths``: files as given, folders searched recursively for
    :data:`MEDIA_SUFFIXES` (any case), skipping hidden files and folders and ``*.json``.

    Order: as given, each folder's files sorted by path. Duplicates are dropped.
    Raises :class:`MediaError` for a path that does not exist.
    """
    out: list[Path] = []
    seen: set[Path] = set()

    def add(p: Path) -> None:
        key = p.resolve()
        if key not in seen:
            seen.add(key)
            out.append(p)

    for raw in paths:
        p = Path(raw)
        if not p.exists():
            raise MediaError("file not found", p)
        if not p.is_dir():
            add(p)
            continue
        for root, dirs, files in os.walk(p):
            dirs[:] = sorted(d for d in dirs if not d.startswith("."))
            for name in sorted(files):
                suffix = name.rsplit(".", 1)[-1].lower() if "." in name else ""
                if name.startswith(".") or suffix == "json" or suffix not in MEDIA_SUFFIXES:
                    continue
                add(Path(root) / name)
    return out


def parse_angle_option(text: str) -> tuple[str, str]:
    """``"NAME=GLOB"`` -> ``(NAME, GLOB)``; raises :class:`UsageError` otherwise."""
    name, sep, glob = text.partition("=")
    name, glob = name.strip(), glob.strip().strip("'\"")
    if not sep or not name or not glob:
        raise UsageError(f"--angle wants NAME=GLOB (e.g. A='A0*.MP4'), not {text!r}")
    return name, glob


def naming_family(stem: str) -> str:
    """A file's naming pattern: digit runs replaced by ``#`` (A001 and A002 -> ``A#``,
    GH010001 -> ``GH#``, IMG_0412 -> ``IMG_#``, ZOOM0001 -> ``ZOOM#``)."""
    return re.sub(r"\d+", "#", stem)


def family_label(stem: str) -> str:
    """A short angle name from a file stem: its first run of letters (A001 -> ``A``,
    ZOOM0001 -> ``ZOOM``), else the stem."""
    m = re.search(r"[A-Za-z]+", stem)
    return m.group(0) if m else stem


def device_signature(info: Optional[MediaInfo], path: Path) -> tuple:
    """What one device's files share: suffix, container, and per stream codec, size, rate
    and channels (a camera's A001 and A002 match; a phone's clips differ from it)."""
    if info is None:
        return (path.suffix.lower(),)
    streams = tuple((s.kind, s.codec, s.width, s.height, s.fps, s.sample_rate, s.channels)
                    for s in info.streams if s.kind in ("audio", "video"))
    return (path.suffix.lower(), info.format, streams)


def assign_angles(paths: Sequence[Path], infos: Sequence[Optional[MediaInfo]],
                  rules: Sequence[tuple[str, str]] = ()) -> tuple[list[str], set[str]]:
    """Tentative angle of each file: the ``(NAME, GLOB)`` rule whose glob matches it
    (case-insensitive; a glob with ``/`` matches the path's last parts, ``cards/A/*.MP4``),
    else its (folder, naming family, device signature).

    Returns (angle names, names given by the user). Raises :class:`UsageError` for a rule
    that matches no file or a file that matches rules of two angles.
    """
    names: list[Optional[str]] = [None] * len(paths)
    used: set[str] = set()
    for i, p in enumerate(paths):
        lower = PurePosixPath(p.as_posix().lower())
        hits = {name for name, glob in rules if lower.match(glob.lower())}
        if len(hits) > 1:
            raise UsageError(f"matches --angle globs of {', '.join(sorted(hits))}", p)
        if hits:
            names[i] = hits.pop()
            used.add(names[i])
    for name, glob in rules:
        if name not in used:
            raise UsageError(f"--angle {name}={glob} matches none of the input files")
    keys: dict[tuple, list[int]] = {}
    for i, p in enumerate(paths):
        if names[i] is None:
            key = (str(p.parent.resolve()), naming_family(p.stem), device_signature(infos[i], p))
            keys.setdefault(key, []).append(i)
    taken = set(used)
    for key, members in keys.items():
        p = paths[members[0]]
        base = family_label(p.stem)
        label = base if base not in taken else f"{p.parent.name}/{base}"
        k = 2
        while label in taken:
            label, k = f"{base}-{k}", k + 1
        taken.add(label)
        for i in members:
            names[i] = label
    return [str(n) for n in names], used


# =========================================================================== priors


def timecode_seconds(info: Optional[MediaInfo]) -> Optional[float]:
    """The start timecode (``HH:MM:SS:FF``, ``;`` for drop-frame) as seconds of real time,
    counted at the video's frame rate; None without timecode or frame rate."""
    if info is None or not info.timecode or info.video is None or not info.video.fps:
        return None
    m = re.fullmatch(r"(\d+):(\d+):(\d+)([:;.,])(\d+)", info.timecode.strip())
    if not m:
        return None
    fps = Fraction(info.video.fps)
    nominal = round(fps)
    h, mi, s, ff = (int(m.group(k)) for k in (1, 2, 3, 5))
    frames = ((h * 60 + mi) * 60 + s) * nominal + ff
    if m.group(4) in ";," and fps.denominator == 1001:  # drop-frame numbering
        minutes = h * 60 + mi
        frames -= (nominal // 15) * (minutes - minutes // 10)
    return float(frames / fps)


def creation_seconds(info: Optional[MediaInfo]) -> Optional[float]:
    """The container's ``creation_time`` as POSIX seconds, or None."""
    if info is None or not info.creation_time:
        return None
    try:
        t = _dt.datetime.fromisoformat(info.creation_time.strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    if t.tzinfo is None:
        t = t.replace(tzinfo=_dt.timezone.utc)
    if t.year < 1990:  # an unset clock (1904 / 1970)
        return None
    return t.timestamp()


def metadata_prior(long: MediaInfo, short: MediaInfo) -> Optional[tuple[float, float, str]]:
    """Where metadata puts ``short``'s t=0 on ``long``'s clock: (seconds, tolerance, kind),
    from start timecodes when both have one, else from creation times; None otherwise."""
    for kind, fn in (("timecode", timecode_seconds), ("creation_time", creation_seconds)):
        a, b = fn(long), fn(short)
        if a is not None and b is not None:
            return b - a, PRIOR_TOLERANCE[kind], kind
    return None


# =========================================================================== pairs


def _screen_feature(c: Candidate, cache: dict) -> np.ndarray:
    """``c.feature`` (100 Hz) averaged to :data:`SCREEN_RATE` and re-normalised (float32)."""
    key = id(c)
    if key not in cache:
        k = 100 // SCREEN_RATE
        f = c.feature
        g = f[: len(f) // k * k].reshape(-1, k).mean(axis=1)
        sd = g.std()
        cache[key] = ((g - g.mean()) / (sd if sd > 0 else 1.0)).astype(np.float32)
    return cache[key]


@dataclass
class _Option:
    """A screened hypothesis for the sample-level stage."""

    p_value: float
    hyp: Hypothesis
    rc: Candidate
    sc: Candidate
    prior: bool = False


def _screen(long: FileAnalysis, short: FileAnalysis, cache: dict,
            prior: Optional[tuple[float, float, str]]) -> list[_Option]:
    """Envelope hypotheses for ``short`` on ``long``'s clock that may be real (p-value at
    most :data:`SCREEN_P`), most significant first, at most three.

    The whole of ``short`` is screened against all of ``long`` (that finds overlaps down to
    30 s, or half of a file shorter than 90 s). Shorter overlaps can only be at an edge:
    ``short``'s first :data:`EDGE_SECONDS` against the end of ``long``, its last ones against
    the start. With a ``prior``, the part of ``long`` it points at is searched as well (fewer
    lags searched, so a lower peak is significant there).
    """
    rate, edge = SCREEN_RATE, int(EDGE_SECONDS * SCREEN_RATE)
    found: list[_Option] = []

    def search(rf, rc, r0, r1, sf, sc, s0, s1, from_prior=False):
        r0, r1 = max(0, r0), min(len(rf), r1)
        if r1 - r0 < MIN_OVERLAP * rate or s1 - s0 < MIN_OVERLAP * rate:
            return
        for h in coarse_hypotheses(rf[r0:r1], rc.t0 + r0 / rate, sf[s0:s1], sc.t0 + s0 / rate,
                                   env_rate=rate, max_hypotheses=2):
            if h.p_value <= SCREEN_P:
                found.append(_Option(h.p_value, h, rc, sc, from_prior))

    for rc in long.candidates[:2]:
        rf = _screen_feature(rc, cache)
        for sc in short.candidates[:2]:
            sf = _screen_feature(sc, cache)
            n = len(sf)
            search(rf, rc, 0, len(rf), sf, sc, 0, n)
            if prior is not None:
                at, tol, _ = prior
                a = int(np.floor((at - tol - rc.t0 + sc.t0) * rate)) - edge
                if a > 0 or a + n + 2 * (edge + int(tol * rate)) < len(rf):
                    search(rf, rc, a, a + n + 2 * (edge + int(tol * rate)), sf, sc, 0, n, True)
            if n > 2 * edge:
                whole_min = min(n, max(int(MIN_OVERLAP * rate), (n if n <= 90 * rate
                                                                 else 60 * rate) // 2))
                reach = whole_min + edge + 5 * rate  # of long's end (start) to search
                search(rf, rc, len(rf) - reach, len(rf), sf, sc, 0, edge)
                search(rf, rc, 0, reach, sf, sc, n - edge, n)
    found.sort(key=lambda o: (not o.prior, o.p_value))
    unique: list[_Option] = []
    for o in found:
        mid = o.sc.t0 + o.sc.duration / 2
        at = o.hyp.delta + o.hyp.slope * mid
        if not any(u.rc is o.rc and u.sc is o.sc
                   and abs(u.hyp.delta + u.hyp.slope * mid - at) < 0.1 for u in unique):
            unique.append(o)
    return unique[:3]


def _quick(rc: Candidate, sc: Candidate, h: Hypothesis) -> Optional[SyncResult]:
    """The sample-level stage on a few windows: :data:`QUICK_WINDOWS` of the overlap's even
    1 s slots around ``h``, the core's window measure, robust line and binomial
    significance. Returns a result only when it is decisive (confidence >= 0.999 with at least
    8 agreeing windows, or all but one of fewer); None sends the pair to the full alignment."""
    ref_end, src_end = rc.t0 + rc.duration, sc.t0 + sc.duration
    _, ov_src = overlap_of(h.delta, h.slope, rc.t0, ref_end, sc.t0, src_end)
    span = ov_src[1] - ov_src[0]
    if span < MIN_OVERLAP:
        return None
    slot = 1.0  # short windows: a quarter of the FFT work of sync's 2 s ones on long overlaps
    starts = window_slots(ov_src[0], ov_src[1] - slot, slot, parity=0, max_windows=QUICK_WINDOWS)
    meas = measure_windows(rc.signal, rc.t0, sc.signal, sc.t0, rc.rate, starts, slot,
                           h.delta, h.slope)
    fit = fit_line(meas, prior=(h.delta, h.slope))
    if fit is None:
        return None
    n, k = len(meas), int(fit.inliers.sum())
    conf = significance(n, k, p0=_AGREE_TOL / _FINE_MARGIN, n_lines=fit.n_lines_tried)
    if conf < CONFIDENCE_REQUIRED or k < min(8, max(5, n - 1)):
        return None
    ov_ref, ov_src = overlap_of(fit.delta, fit.slope, rc.t0, ref_end, sc.t0, src_end)
    if ov_ref[1] - ov_ref[0] < MIN_OVERLAP:
        return None
    r = fit.residuals[fit.inliers] * 1000.0
    nccs = np.array([abs(m.ncc) for m, a in zip(meas, fit.inliers) if a])
    pol = np.array([m.polarity for m, a in zip(meas, fit.inliers) if a])
    return SyncResult(
        delta_seconds=fit.delta, drift_slope=fit.slope, confidence=conf,
        overlap_in_reference=ov_ref, overlap_in_source=ov_src, n_windows=n, n_agree=k,
        residual_ms=float(np.median(np.abs(r))), spread_ms=float(np.subtract(
            *np.percentile(r, [75, 25]))), correlation=float(np.median(nccs)),
        polarity=int(np.sign(pol.sum())) or 1, coarse_peak=h.peak)


@dataclass
class Edge:
    """A link between two files: ``t_i = D + t_j (1 + S)`` (times in s).

    ``kind`` "audio": a confident pair measured by sound (``i`` the longer file);
    "timecode": ``j`` continues ``i`` seamlessly (a split recording whose start timecode is
    ``i``'s plus its duration, within a frame): same clock, ``D`` from the timecodes.
    """

    i: int
    j: int
    result: SyncResult
    ref_candidate: Optional[Candidate] = field(default=None, repr=False)
    src_candidate: Optional[Candidate] = field(default=None, repr=False)
    prior: Optional[str] = None  # "timecode" / "creation_time" when a prior narrowed it
    kind: str = "audio"
    frame: float = 0.04  # s, one video frame of the files (timecode links)

    @property
    def centre(self) -> float:
        """Middle of the overlap on file j's clock (s)."""
        a, b = self.result.overlap_in_source
        return 0.5 * (a + b)

    @property
    def span(self) -> float:
        a, b = self.result.overlap_in_source
        return b - a

    @property
    def window_sigma(self) -> float:
        """One window's timing noise (s), from the agreeing windows' residuals."""
        r = self.result
        ms = max(1.4826 * (r.residual_ms if np.isfinite(r.residual_ms) else 0.5),
                 (r.spread_ms if np.isfinite(r.spread_ms) else 0.5) / 1.349, 0.02)
        return ms / 1000.0

    @property
    def sigma_delta(self) -> float:
        """Standard error (s) of the pair's offset at the middle of the overlap (a timecode
        link: half a frame; an envelope-only estimate: 5 ms)."""
        if self.kind == "timecode":
            return self.frame / 2
        if getattr(self.result, "method", "waveform") == "envelope":
            return ENVELOPE_SIGMA
        return self.window_sigma / np.sqrt(max(1, self.result.n_agree)) + 2e-5

    @property
    def sigma_slope(self) -> float:
        """Standard error of the pair's drift slope (dimensionless; 0.1 ppm for one clock,
        two envelope errors over the overlap for an envelope-only estimate)."""
        if self.kind == "timecode":
            return 1e-7
        if getattr(self.result, "method", "waveform") == "envelope":
            return 2 * ENVELOPE_SIGMA / max(self.span, 1.0)
        n = max(2, self.result.n_agree)
        return self.window_sigma * np.sqrt(12.0 / n) / max(self.span, 1.0) + 1e-8

    @property
    def tolerance(self) -> float:
        """s: largest disagreement with the rest of the graph this link may show."""
        if self.kind == "timecode":
            return self.frame
        return max(CYCLE_TOLERANCE, 3 * self.sigma_delta)

    @property
    def strength(self) -> tuple:
        """Sort key, strongest first: sound before timecode, confidence, then precision."""
        return (self.kind != "audio", -round(self.result.confidence, 12), self.sigma_delta)


def timecode_links(clips: Sequence["ClipOutcome"], ok: Sequence[int]) -> list[Edge]:
    """Seamless splits of one device: consecutive clips of a tentative angle whose start
    timecodes differ by the first clip's duration, within a frame."""
    by_angle: dict[str, list[tuple[float, int]]] = {}
    for i in ok:
        tc = timecode_seconds(clips[i].info)
        if tc is not None:
            by_angle.setdefault(clips[i].angle, []).append((tc, i))
    links = []
    for members in by_angle.values():
        members.sort()
        for (ta, a), (tb, b) in zip(members, members[1:]):
            frame = _frame(clips[a].info)
            if abs(tb - ta - clips[a].duration) <= frame:
                d = tb - ta
                res = SyncResult(delta_seconds=d, drift_slope=0.0, confidence=1.0,
                                 overlap_in_reference=(d, d), overlap_in_source=(0.0, 0.0),
                                 n_windows=0, n_agree=0, residual_ms=float("nan"),
                                 spread_ms=float("nan"), correlation=0.0, polarity=1,
                                 coarse_peak=0.0)
                links.append(Edge(a, b, res, kind="timecode", frame=frame))
    return links


def measure_pair(long: FileAnalysis, short: FileAnalysis, cache: Optional[dict] = None,
                 stats: Optional[dict] = None
                 ) -> Optional[tuple[SyncResult, Candidate, Candidate, Optional[str]]]:
    """The confident alignment of ``short`` on ``long``'s clock, or None.

    Envelopes first (:func:`_screen`); each hypothesis that survives gets the few-window pass
    (:func:`_quick`); when none decides but one is clearly significant (p-value at most
    :data:`FULL_P`), the pair gets the full alignment ``polysync sync`` uses
    (:func:`polysync.sync.align_files`). Returns (result ``t_long = D + t_short (1 + S)``,
    long's candidate, short's candidate, the prior kind that found it or None).
    ``stats["fine"]`` counts pairs that reached the sample-level stage.
    """
    cache = {} if cache is None else cache
    prior = metadata_prior(long.info, short.info)
    options = _screen(long, short, cache, prior)
    if not options:
        return None
    if stats is not None:
        stats["fine"] = stats.get("fine", 0) + 1
    for opt in options:
        res = _quick(opt.rc, opt.sc, opt.hyp)
        if res is not None:
            return res, opt.rc, opt.sc, prior[2] if opt.prior and prior else None
    if min(o.p_value for o in options) > FULL_P:
        return None
    try:
        pa = align_files(long, short)
    except SyncRefused:
        return None
    return pa.result, pa.ref_candidate, pa.src_candidate, None


# =========================================================================== the solve


@dataclass
class Placement:
    """Every solved file's ``(delta, slope)`` on the reference timeline."""

    delta: dict[int, float]
    slope: dict[int, float]
    sigma: dict[int, float]  # standard error of delta, s
    cov: np.ndarray = field(default=None, repr=False)  # of the unknowns (deltas, slopes)
    dcol: dict = field(default_factory=dict, repr=False)
    scol: dict = field(default_factory=dict, repr=False)
    clock: Sequence[int] = ()

    def predicted_sigma(self, e: Edge) -> float:
        """Standard error (s) of where this placement puts edge ``e``'s overlap middle."""
        if self.cov is None:
            return 0.0
        g = np.zeros(self.cov.shape[0])
        D, S, c = e.result.delta_seconds, e.result.drift_slope, e.centre
        for f, sign in ((e.j, 1.0), (e.i, -1.0)):
            if f in self.dcol:
                g[self.dcol[f]] += sign
        if self.clock[e.j] in self.scol:
            g[self.scol[self.clock[e.j]]] += c
        if self.clock[e.i] in self.scol:
            g[self.scol[self.clock[e.i]]] -= D + c * (1 + S)
        return float(np.sqrt(max(g @ self.cov @ g, 0.0)))


def _system(edges: Sequence[Edge], files: Sequence[int], ref: int, clock: Sequence[int]):
    """Weighted rows of the linear system in (delta per file, slope per clock)."""
    dcol = {f: k for k, f in enumerate(f for f in files if f != ref)}
    clocks = sorted({clock[f] for f in files} - {clock[ref]})
    scol = {g: len(dcol) + k for k, g in enumerate(clocks)}
    A = np.zeros((2 * len(edges), len(dcol) + len(scol)))
    b = np.zeros(2 * len(edges))
    for k, e in enumerate(edges):
        D, S, c = e.result.delta_seconds, e.result.drift_slope, e.centre
        w_d, w_s = 1.0 / e.sigma_delta, 1.0 / e.sigma_slope
        # offset at the overlap middle: d_j - d_i + c s_j - (D + c (1 + S)) s_i = D + c S
        # slope:                         s_j - (1 + S) s_i = S
        row_d, row_s = A[2 * k], A[2 * k + 1]
        if e.j in dcol:
            row_d[dcol[e.j]] += w_d
        if e.i in dcol:
            row_d[dcol[e.i]] -= w_d
        if clock[e.j] in scol:
            row_d[scol[clock[e.j]]] += c * w_d
            row_s[scol[clock[e.j]]] += w_s
        if clock[e.i] in scol:
            row_d[scol[clock[e.i]]] -= (D + c * (1 + S)) * w_d
            row_s[scol[clock[e.i]]] -= (1 + S) * w_s
        b[2 * k], b[2 * k + 1] = (D + c * S) * w_d, S * w_s
    return A, b, dcol, scol


def solve_placement(edges: Sequence[Edge], files: Sequence[int], ref: int,
                    clock: Sequence[int]) -> Optional[Placement]:
    """Least-squares placement of ``files`` (connected to ``ref`` through ``edges``);
    files sharing a ``clock`` id share one slope, ``ref``'s clock has slope 0.
    None when the edges do not determine every unknown."""
    A, b, dcol, scol = _system(edges, files, ref, clock)
    if A.shape[1] == 0:
        return Placement({ref: 0.0}, {ref: 0.0}, {ref: 0.0})
    x, _, rank, _ = np.linalg.lstsq(A, b, rcond=None)
    if rank < A.shape[1]:
        return None
    cov = np.linalg.pinv(A.T @ A)
    delta, slope, sigma = {ref: 0.0}, {ref: 0.0}, {ref: 0.0}
    for f in files:
        if f != ref:
            delta[f] = float(x[dcol[f]])
            sigma[f] = float(np.sqrt(max(cov[dcol[f], dcol[f]], 0.0)))
        slope[f] = float(x[scol[clock[f]]]) if clock[f] in scol else 0.0
    return Placement(delta, slope, sigma, cov, dcol, scol, clock)


def edge_error(e: Edge, p: Placement) -> float:
    """How far (s) the placement ``p`` is from what edge ``e`` measured, at the worse end of
    the overlap: the offset residual at its middle plus the slope residual over half of it."""
    D, S, c = e.result.delta_seconds, e.result.drift_slope, e.centre
    di, dj, si, sj = p.delta[e.i], p.delta[e.j], p.slope[e.i], p.slope[e.j]
    r_mid = (dj + c * (1 + sj)) - (di + (D + c * (1 + S)) * (1 + si))
    r_slope = (1 + sj) - (1 + S) * (1 + si)
    return abs(r_mid) + abs(r_slope) * e.span / 2


def _connected(edges: Sequence[Edge], start: int) -> set[int]:
    adj: dict[int, list[int]] = {}
    for e in edges:
        adj.setdefault(e.i, []).append(e.j)
        adj.setdefault(e.j, []).append(e.i)
    seen, stack = {start}, [start]
    while stack:
        for n in adj.get(stack.pop(), []):
            if n not in seen:
                seen.add(n)
                stack.append(n)
    return seen


@dataclass
class DroppedPair:
    edge: Edge
    residual: float  # s, leave-one-out


def prune_inconsistent(edges: list[Edge], ref: int, clock: Sequence[int]
                       ) -> tuple[list[Edge], list[DroppedPair], dict[int, float]]:
    """Drop pairs inconsistent with the rest, worst first, until every pair on a cycle is
    within its tolerance (2 ms; a frame for a timecode link; three times the uncertainty of
    either estimate when that is larger) of where the other pairs put it (its leave-one-out
    residual).

    Among pairs about as bad as the worst (a single cycle cannot tell which of its pairs is
    wrong), the least confident one goes. Returns (kept, dropped, leave-one-out residual of
    each kept pair on a cycle, keyed by its index in ``kept``).
    """
    kept = list(edges)
    dropped: list[DroppedPair] = []
    while True:
        files = sorted(_connected(kept, ref))
        comp = [e for e in kept if e.i in files]
        loo: dict[int, float] = {}
        limit: dict[int, float] = {}
        for k, e in enumerate(kept):
            if e.i not in files:
                continue
            rest = [x for x in comp if x is not e]
            if e.j not in _connected(rest, e.i):
                continue  # a bridge: no cycle checks it
            p = solve_placement(rest, files, ref, clock)
            if p is not None:
                loo[k] = edge_error(e, p)
                limit[k] = max(e.tolerance, 3 * np.hypot(p.predicted_sigma(e), e.sigma_delta))
        bad = {k: r for k, r in loo.items() if r > limit[k]}
        if not bad:
            return kept, dropped, loo
        worst = max(bad.values())
        near = [k for k, r in bad.items() if r >= worst - max(0.25e-3, 0.1 * worst)]
        k = max(near, key=lambda k: (kept[k].strength, -bad[k]))  # least confident
        dropped.append(DroppedPair(kept[k], bad[k]))
        del kept[k]


def placement_paths(edges: Sequence[Edge], ref: int) -> dict[int, list[tuple[int, Edge]]]:
    """For every file linked to ``ref``: the chain of links that places it most directly,
    as ``[(from file, edge), ...]`` starting at ``ref`` - fewest hops, then sound before
    timecode, highest product of confidences, smallest error. (The placement itself is the
    least-squares solve over every link; this chain is what the report names.)"""
    adj: dict[int, list[tuple[int, Edge]]] = {}
    for e in edges:
        adj.setdefault(e.i, []).append((e.j, e))
        adj.setdefault(e.j, []).append((e.i, e))
    best: dict[int, tuple] = {ref: ((0, 0, 0.0, 0.0), [])}
    heap = [((0, 0, 0.0, 0.0), ref)]
    while heap:
        cost, x = heapq.heappop(heap)
        if cost > best[x][0]:
            continue
        for n, e in adj.get(x, []):
            conf = max(e.result.confidence, 1e-300)
            c = (cost[0] + 1, cost[1] + (e.kind != "audio"), cost[2] - np.log(conf),
                 cost[3] + e.sigma_delta ** 2)
            if n not in best or c < best[n][0]:
                best[n] = (c, best[x][1] + [(x, e)])
                heapq.heappush(heap, (c, n))
    return {f: path for f, (_, path) in best.items()}


# =========================================================================== the report


@dataclass
class ClipOutcome:
    """One input file: where it sits on the reference timeline, or why it is not placed."""

    index: int
    path: Path
    angle: str
    info: Optional[MediaInfo] = None
    delta_seconds: Optional[float] = None
    drift_slope: Optional[float] = None
    confidence: Optional[float] = None
    sigma_seconds: Optional[float] = None  # standard error of the placement
    placed_via: list[str] = field(default_factory=list)  # file names from the reference
    audio_stream: Optional[int] = None
    channel: Optional[str] = None
    sidecar: Optional[Path] = None
    error: Optional[PolysyncError] = None
    withdrawn: Optional[Path] = None  # an earlier run's sidecar this refusal removed
    is_reference: bool = False
    by_timecode: bool = False  # a timecode link (seamless split) is on its path
    edge: Optional[Edge] = field(default=None, repr=False)  # last link of its placed_via chain

    @property
    def ok(self) -> bool:
        return self.error is None and self.delta_seconds is not None

    @property
    def duration(self) -> float:
        return self.info.duration if self.info else 0.0

    @property
    def drift_ppm(self) -> Optional[float]:
        return None if self.drift_slope is None else self.drift_slope * 1e6

    @property
    def start(self) -> Optional[float]:
        """Reference time (s) of the file's t=0."""
        return self.delta_seconds

    @property
    def end(self) -> Optional[float]:
        """Reference time (s) of the file's end."""
        if not self.ok:
            return None
        return self.delta_seconds + self.duration * (1 + self.drift_slope)


@dataclass
class AngleSummary:
    """One camera / recorder: its clips in recording order and how they join."""

    name: str
    clips: list[ClipOutcome]
    shared_drift: bool = False  # one slope fitted for all its placed clips
    user_defined: bool = False
    one_device: bool = True  # False: a user-named angle whose clips overlap in time
    joins: list[dict] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def drift_slope(self) -> Optional[float]:
        placed = [c for c in self.clips if c.ok]
        return placed[0].drift_slope if self.shared_drift and placed else None


@dataclass
class GroupReport:
    reference: Path
    clips: list[ClipOutcome]
    angles: list[AngleSummary]
    pairs_compared: int
    pairs_measured: int  # pairs that reached the sample-level stage
    pairs_confident: int  # pairs measured with confidence (before the consistency checks)
    edges: list[Edge]  # used in the final solve
    dropped: list[DroppedPair]
    cycle_residuals: list[tuple[Edge, float]]  # (pair, leave-one-out residual in s)
    max_residual: float  # s, largest |residual| of a used pair in the final solve
    session_path: Optional[Path] = None

    @property
    def ok(self) -> bool:
        return all(c.ok for c in self.clips)

    @property
    def unplaced(self) -> list[ClipOutcome]:
        return [c for c in self.clips if not c.ok]


# =========================================================================== sync_group


def _frame(info: Optional[MediaInfo]) -> float:
    """One frame (s) of the file's video, 1/25 s without video."""
    fps = info.video.fps if info is not None and info.video is not None else None
    return float(1 / Fraction(fps)) if fps else 0.04


def _pick_reference(clips: list[ClipOutcome], edges: Sequence[Edge], ok: Sequence[int],
                    reference: Optional[str]) -> int:
    """The reference file: given by file or angle name, else in the component with most
    angles (then files, then seconds), its longest angle (then the best-connected), and in
    it the file with most overlap seconds to others (then the longest)."""
    angle_names = {c.angle.lower(): c.angle for c in clips}
    overlap = {i: 0.0 for i in ok}
    for e in edges:
        overlap[e.i] += e.span
        overlap[e.j] += e.span

    def best_file(members: Iterable[int]) -> int:
        return max(members, key=lambda i: (overlap.get(i, 0.0), clips[i].duration, -i))

    if reference:
        key = reference.lower()
        if key in angle_names:
            members = [i for i in ok if clips[i].angle == angle_names[key]]
            if not members:
                raise SyncRefused(f"no file of angle {angle_names[key]} could be decoded")
            return best_file(members)
        rp = Path(reference)
        for c in clips:
            if (rp.exists() and c.path.resolve() == rp.resolve()) or c.path.name == reference:
                if c.index not in ok:
                    raise c.error or SyncRefused("cannot be the reference", c.path)
                return c.index
        raise UsageError(f"--reference {reference}: no such angle or input file "
                         f"(angles: {', '.join(sorted(set(angle_names.values())))})")
    best = None
    for i in ok:
        comp = sorted(_connected(edges, i))
        angles = {clips[f].angle for f in comp}
        key = (len(angles), len(comp), sum(clips[f].duration for f in comp))
        if best is None or key > best[0]:
            best = (key, comp)
    comp = best[1]
    per_angle: dict[str, list[int]] = {}
    for f in comp:
        per_angle.setdefault(clips[f].angle, []).append(f)

    def angle_key(name: str):
        members = per_angle[name]
        linked = {clips[e.j].angle if clips[e.i].angle == name else clips[e.i].angle
                  for e in edges if name in (clips[e.i].angle, clips[e.j].angle)} - {name}
        return (round(sum(clips[f].duration for f in members), 1), len(linked), name)

    return best_file(per_angle[max(per_angle, key=angle_key)])


def _check_reference_name(files: Sequence[Path], names: Sequence[str],
                          reference: Optional[str]) -> None:
    """Before any decoding: ``reference`` must name an input file or an angle."""
    if not reference:
        return
    known = {n.lower() for n in names} | {family_label(p.stem).lower() for p in files}
    rp = Path(reference)
    if (reference.lower() in known or any(p.name == reference for p in files)
            or (rp.exists() and any(p.resolve() == rp.resolve() for p in files))):
        return
    raise UsageError(f"--reference {reference}: no such angle or input file "
                     f"(angles: {', '.join(sorted(set(names)))})")


def _split_overlapping(clips: list[ClipOutcome], members: list[int]) -> list[list[int]]:
    """Partition one tentative angle's placed clips into runs that never overlap in time
    (by more than a frame): one device cannot record two files at once."""
    runs: list[list[int]] = []
    for i in sorted(members, key=lambda i: clips[i].start):
        for run in runs:
            last = clips[run[-1]]
            if clips[i].start >= last.end - _frame(clips[i].info):
                run.append(i)
                break
        else:
            runs.append([i])
    return runs


def sync_group(paths: Sequence[str | os.PathLike], angles: Optional[Mapping[str, str] | Sequence[
        tuple[str, str]]] = None, reference: Optional[str] = None,
        sidecar_dir: str | os.PathLike | None = None, jobs: Optional[int] = None,
        progress: Optional[ProgressFn] = None, write: bool = True) -> GroupReport:
    """Place every media file of ``paths`` (files and/or folders) on one reference timeline.

    ``angles``: ``{NAME: GLOB}`` (or pairs) naming the files of each camera; other files are
    grouped by naming pattern, device signature and folder. ``reference``: an angle name or a
    file; by default the longest, best-connected angle's best-connected file. Writes a
    ``<file>.sync.json`` sidecar for every placed file (in ``sidecar_dir`` if given) and
    :data:`SESSION_NAME` beside them (in ``sidecar_dir``, else the inputs' common folder).
    Files that cannot be placed get no sidecar; their outcome carries the reason.
    Raises :class:`UsageError` for bad arguments, :class:`OutputError` when it cannot write.
    """
    files = scan_media(paths)
    if len(files) < 2:
        raise UsageError("give at least two media files (or a folder holding them) to sync; "
                         f"found {len(files)}")
    rules = list(angles.items()) if isinstance(angles, Mapping) else list(angles or [])
    if write:
        check_distinct_sidecars(files, sidecar_dir)
        for folder in {sidecar_path(p, sidecar_dir).parent for p in files}:
            check_writable_dir(folder)
    _check_reference_name(files, assign_angles(files, [None] * len(files), rules)[0], reference)

    with tempfile.TemporaryDirectory(prefix="polysync-group-") as tmp:
        analyses, edges, compared, measured = _measure(files, tmp, jobs, progress)
        infos = [a.info if isinstance(a, FileAnalysis) else None for a in analyses]
        names, user_angles = assign_angles(files, infos, rules)
        clips = [ClipOutcome(index=i, path=p, angle=names[i], info=infos[i],
                             error=a if isinstance(a, PolysyncError) else None)
                 for i, (p, a) in enumerate(zip(files, analyses))]
        ok = [i for i, a in enumerate(analyses) if isinstance(a, FileAnalysis)]
        if not ok:
            raise next(c.error for c in clips if c.error is not None)
        edges += timecode_links(clips, ok)
        ref = _pick_reference(clips, edges, ok, reference)
        report = _solve(clips, edges, ref, user_angles, analyses)
        report.pairs_compared, report.pairs_measured = compared, measured
        report.pairs_confident = sum(e.kind == "audio" for e in edges)
        for an in ok:  # release the memory-mapped signals before their folder goes
            for c in analyses[an].candidates:
                c.signal = np.zeros(0, dtype=np.float16)
    if write and sum(c.ok for c in clips) > 1:
        _write_outputs(report, analyses[ref], sidecar_dir)
    return report


def _measure(files: Sequence[Path], tmp: str, jobs: Optional[int],
             progress: Optional[ProgressFn]) -> tuple[list, list[Edge], int, int]:
    """Decode every file once and measure every pair as soon as both are decoded.

    Returns (analyses or errors per file, confident pairs, pairs compared, pairs that reached
    the sample-level stage)."""
    analyses: list = [None] * len(files)
    cache: dict = {}
    edges: list[Edge] = []
    compared, stats, done = 0, {"fine": 0}, []
    for i, an in decode_stream(files, tmp, jobs=jobs, progress=progress):
        analyses[i] = an
        if not isinstance(an, FileAnalysis):
            continue
        for k in done:  # the longer file is the pair's reference (ties: the first given)
            a, b = sorted((i, k), key=lambda f: (-analyses[f].info.duration, f))
            compared += 1
            found = measure_pair(analyses[a], analyses[b], cache, stats)
            if found is not None:
                res, rc, sc, prior = found
                edges.append(Edge(a, b, res, rc, sc, prior))
            drop_pages(analyses[k])
        drop_pages(an)
        done.append(i)
    return analyses, edges, compared, stats["fine"]


def _solve(clips: list[ClipOutcome], edges: list[Edge], ref: int, user_angles: set[str],
           analyses: list) -> GroupReport:
    """Place every clip connected to ``ref``: drop inconsistent pairs (per-file slopes), split
    angles whose clips overlap, fit one slope per angle whose clips agree, and fill in the
    outcomes, angle summaries and solve quality."""
    per_file = list(range(len(clips)))
    kept, dropped, loo = prune_inconsistent(edges, ref, per_file)
    placed = sorted(_connected(kept, ref))
    used = [e for e in kept if e.i in placed]
    sol = solve_placement(used, placed, ref, per_file)
    for f in placed:
        clips[f].delta_seconds, clips[f].drift_slope = sol.delta[f], sol.slope[f]

    summaries = _angles(clips, placed, user_angles)
    clock = list(per_file)
    for s in summaries:
        members = [c.index for c in s.clips if c.ok]
        if len(members) < 2 or not s.one_device:
            continue
        mean = 0.0 if ref in members else float(np.median([sol.slope[f] for f in members]))
        if all(abs(sol.slope[f] - mean) <= 2e-6 + 3 * _slope_sigma(used, f) for f in members):
            anchor = ref if ref in members else members[0]
            for f in members:
                clock[f] = anchor
            s.shared_drift = True
        else:
            s.notes.append("clips' drift differs: fitted per clip")
    shared = solve_placement(used, placed, ref, clock) if clock != per_file else None
    if shared is not None and all(edge_error(e, shared) <= e.tolerance for e in used):
        sol = shared
    else:
        for s in summaries:
            if s.shared_drift:
                s.shared_drift = False
                s.notes.append("one drift for all clips did not fit: fitted per clip")

    paths = placement_paths(used, ref)
    for f in placed:
        c = clips[f]
        c.delta_seconds, c.drift_slope, c.sigma_seconds = sol.delta[f], sol.slope[f], sol.sigma[f]
        hops = paths.get(f, [])
        c.placed_via = [clips[prev].path.name for prev, _ in hops]
        c.confidence = float(np.prod([e.result.confidence for _, e in hops]))
        c.by_timecode = any(e.kind == "timecode" for _, e in hops)
        c.edge = hops[-1][1] if hops else None
        own = [e for e in ([c.edge] if c.edge else []) + used
               if e.kind == "audio" and f in (e.i, e.j)]
        cand = ((own[0].ref_candidate if own[0].i == f else own[0].src_candidate) if own
                else analyses[f].candidates[0])
        c.audio_stream, c.channel = cand.audio_stream, cand.channel
    clips[ref].is_reference = True
    for s in summaries:
        _joins(s)
    _explain_unplaced(clips, placed, edges, ref)
    return GroupReport(
        reference=clips[ref].path, clips=clips, angles=_order_angles(summaries, ref),
        pairs_compared=0, pairs_measured=0, pairs_confident=0, edges=used, dropped=dropped,
        cycle_residuals=[(e, loo[k]) for k, e in enumerate(kept) if k in loo],
        max_residual=max((edge_error(e, sol) for e in used if e.kind == "audio"), default=0.0))


def _slope_sigma(edges: Sequence[Edge], f: int) -> float:
    """The best slope precision any pair gives file ``f`` (an optimistic bound, dimensionless)."""
    return min((e.sigma_slope for e in edges if f in (e.i, e.j) and e.kind == "audio"),
               default=1e-3)


def _angles(clips: list[ClipOutcome], placed: Sequence[int], user: set[str]
            ) -> list[AngleSummary]:
    """Angle summaries: a tentative angle whose placed clips overlap in time is split into
    runs that do not (named NAME-2, NAME-3...), unless the user named it."""
    by_name: dict[str, list[int]] = {}
    for c in clips:
        by_name.setdefault(c.angle, []).append(c.index)
    out: list[AngleSummary] = []
    taken = set(by_name)
    for name, members in by_name.items():
        on = [i for i in members if i in placed]
        off = [i for i in members if i not in placed]
        runs = _split_overlapping(clips, on) if on else [[]]
        if name in user and len(runs) > 1:
            s = AngleSummary(name, [clips[i] for i in sorted(members, key=_order_key(clips))],
                             user_defined=True, one_device=False)
            s.notes.append("clips overlap in time: not one device, drift fitted per clip")
            out.append(s)
            continue
        for k, run in enumerate(runs):
            label = name
            if k:
                n = k + 1
                while f"{name}-{n}" in taken:
                    n += 1
                label = f"{name}-{n}"
                taken.add(label)
                for i in run:
                    clips[i].angle = label
            members_k = run + (off if k == 0 else [])
            out.append(AngleSummary(label, [clips[i] for i in sorted(members_k,
                                                                      key=_order_key(clips))],
                                    user_defined=name in user))
    return out


def _order_key(clips: list[ClipOutcome]):
    return lambda i: (clips[i].start is None, clips[i].start or 0.0, clips[i].path.name)


def _order_angles(summaries: list[AngleSummary], ref: int) -> list[AngleSummary]:
    """The reference's angle first, then by first placed clip."""
    def key(s: AngleSummary):
        starts = [c.start for c in s.clips if c.ok]
        return (not any(c.index == ref for c in s.clips), not starts,
                min(starts) if starts else 0.0, s.name)
    return sorted(summaries, key=key)


def _joins(s: AngleSummary) -> None:
    """How consecutive placed clips of an angle meet: ``gap_seconds`` (reference time, next
    start minus previous end), ``contiguous`` within a frame, and the timecode's view."""
    placed = [c for c in s.clips if c.ok]
    for a, b in zip(placed, placed[1:]):
        gap = b.start - a.end
        join = {"after": a.path.name, "before": b.path.name, "gap_seconds": round(gap, 6),
                "contiguous": abs(gap) <= _frame(a.info)}
        ta, tb = timecode_seconds(a.info), timecode_seconds(b.info)
        if ta is not None and tb is not None:
            tc_gap = tb - (ta + a.duration)
            join["timecode_gap_seconds"] = round(tc_gap, 6)
            join["timecode_agrees"] = abs(tc_gap - gap) <= 2 * _frame(a.info)
        s.joins.append(join)


def _explain_unplaced(clips: list[ClipOutcome], placed: Sequence[int], edges: Sequence[Edge],
                      ref: int) -> None:
    """Give every unplaced clip its reason (a :class:`SyncRefused` unless decoding failed)."""
    for c in clips:
        if c.index in placed or c.error is not None:
            continue
        partners = sorted({clips[e.j if e.i == c.index else e.i].path.name for e in edges
                           if c.index in (e.i, e.j)})
        if partners:
            msg = (f"overlaps only {', '.join(partners)}, which share no sound with the "
                   f"reference {clips[ref].path.name}'s recordings: not placed")
        else:
            msg = ("no common sound with any other file (unrelated, or overlaps too short): "
                   "not placed")
        c.error = SyncRefused(msg, c.path)


# =========================================================================== outputs


def session_folder(paths: Sequence[Path], sidecar_dir: str | os.PathLike | None) -> Path:
    """Where the session file goes: ``sidecar_dir``, else the inputs' common folder."""
    if sidecar_dir is not None:
        return Path(sidecar_dir)
    parents = [str(p.resolve().parent) for p in paths]
    try:
        return Path(os.path.commonpath(parents))
    except ValueError:  # different drives (Windows)
        return Path(parents[0])


def _sidecar_for(c: ClipOutcome, ref: ClipOutcome, report: GroupReport, where: Path,
                 ref_info: dict) -> Sidecar:
    """The sidecar of a placed, non-reference clip."""
    ov_ref, ov_src = overlap_of(c.delta_seconds, c.drift_slope, 0.0, ref.duration, 0.0,
                                c.duration)
    quality = {"role": "group", "angle": c.angle, "placed_via": c.placed_via,
               "sigma_ms": round((c.sigma_seconds or 0.0) * 1000, 4), "channel": c.channel,
               "reference_channel": ref.channel}
    if c.by_timecode:
        quality["timecode_link"] = True  # a seamless split continued by timecode on its chain
    if c.edge is not None and c.edge.kind == "audio":
        r = c.edge.result
        quality.update(windows=r.n_windows, agreeing=r.n_agree,
                       residual_ms=round(r.residual_ms, 4), spread_ms=round(r.spread_ms, 4),
                       correlation=round(r.correlation, 4), polarity=r.polarity)
    return Sidecar(
        source=c.path.name, reference=ref.path.name, delta_seconds=c.delta_seconds,
        drift_slope=c.drift_slope, overlap_in_reference=ov_ref, overlap_in_source=ov_src,
        audio_stream=c.audio_stream, reference_audio_stream=ref.audio_stream,
        confidence=c.confidence, quality=quality,
        source_info=media_info_dict(c.info.size, c.info.duration), reference_info=ref_info,
        reference_path=_relpath(ref.path, where.parent))


def _write_outputs(report: GroupReport, ref_analysis: FileAnalysis, sidecar_dir) -> None:
    ref = next(c for c in report.clips if c.is_reference)
    ref_info = media_info_dict(ref.info.size, ref.info.duration)
    for c in report.clips:
        if not c.ok:
            if isinstance(c.error, SyncRefused):
                c.withdrawn = withdraw_sidecar(c.path, ref.path, sidecar_dir)
            continue
        where = sidecar_path(c.path, sidecar_dir)
        sc = (reference_sidecar(ref_analysis, where) if c.is_reference
              else _sidecar_for(c, ref, report, where, ref_info))
        c.sidecar = save_sidecar(sc, where)
    folder = session_folder([c.path for c in report.clips], sidecar_dir)
    target = folder / SESSION_NAME
    atomic_write_text(target, json_text(session_json(report, folder), indent=2,
                                         ensure_ascii=False) + "\n")
    report.session_path = target


def session_json(report: GroupReport, folder: Optional[Path]) -> dict:
    """The session file's content; paths relative to ``folder`` (absolute when None)."""
    def rel(p: Path) -> str:
        return Path(_relpath(p, folder)).as_posix() if folder else str(p.resolve())

    ref = next(c for c in report.clips if c.is_reference)

    def clip(c: ClipOutcome) -> dict:
        return {"path": rel(c.path), "angle": c.angle,
                "delta_seconds": round(c.delta_seconds, 9),
                "drift_slope": float(f"{c.drift_slope:.6e}"), "drift_ppm": round(c.drift_ppm, 4),
                "end_seconds": round(c.end, 6), "duration": round(c.duration, 6),
                "confidence": round(c.confidence, 6),
                "sigma_ms": round((c.sigma_seconds or 0.0) * 1000, 4),
                "placed_via": c.placed_via, "timecode_link": c.by_timecode,
                "sidecar": rel(c.sidecar) if c.sidecar else None}

    return {
        "_about": "polysync session: every clip of a shoot on one reference timeline "
                  "(t_ref = delta_seconds + t_src * (1 + drift_slope), seconds). Generated by "
                  "`polysync sync --all`; pass this file to export/edit in place of the files.",
        "kind": SESSION_KIND, "schema_version": SESSION_VERSION,
        "tool": {"name": "polysync", "version": __version__},
        "reference": {"path": rel(ref.path), "angle": ref.angle},
        "angles": [{"name": s.name, "clips": [rel(c.path) for c in s.clips if c.ok],
                    "shared_drift": s.shared_drift,
                    "drift_ppm": None if s.drift_slope is None else round(s.drift_slope * 1e6, 4),
                    "user_defined": s.user_defined, "joins": s.joins, "notes": s.notes}
                   for s in report.angles if any(c.ok for c in s.clips)],
        "clips": [clip(c) for s in report.angles for c in s.clips if c.ok],
        "solve": {
            "pairs_compared": report.pairs_compared,
            "pairs_measured": report.pairs_measured,
            "pairs_confident": report.pairs_measured,
            "pairs_used": [_pair_json(e, report, rel) for e in report.edges],
            "pairs_dropped": [dict(_pair_json(d.edge, report, rel),
                                   residual_ms=round(d.residual * 1000, 4))
                              for d in report.dropped],
            "cycle_residuals_ms": [round(r * 1000, 4) for _, r in report.cycle_residuals],
            "max_residual_ms": round(report.max_residual * 1000, 4),
        },
        "unplaced": [{"path": rel(c.path), "angle": c.angle,
                      "reason": c.error.message if c.error else "not placed"}
                     for c in report.unplaced],
    }


def _pair_json(e: Edge, report: GroupReport, rel) -> dict:
    r = e.result
    out = {"files": [rel(report.clips[e.i].path), rel(report.clips[e.j].path)],
           "kind": e.kind, "delta_seconds": round(r.delta_seconds, 9),
           "drift_ppm": round(r.drift_ppm, 4), "confidence": round(r.confidence, 6)}
    if e.kind == "audio":
        out.update(agreeing=r.n_agree, windows=r.n_windows, overlap_seconds=round(e.span, 3),
                   method=getattr(r, "method", "waveform"), prior=e.prior)
    return out


# =========================================================================== reading it back


def is_session_file(path: str | os.PathLike) -> bool:
    """True when ``path`` is a readable JSON object of kind :data:`SESSION_KIND`."""
    p = Path(path)
    if p.suffix.lower() != ".json" or not p.is_file():
        return False
    try:
        data = json.loads(p.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return isinstance(data, dict) and data.get("kind") == SESSION_KIND


def load_session(path: str | os.PathLike, sidecar_dir: str | os.PathLike | None = None
                 ) -> list[Angle]:
    """The clips of a session file as :class:`polysync.session.Angle` objects (``.angle`` =
    camera name), in the session's order (reference angle first), sidecars loaded and
    checked for staleness. ``sidecar_dir`` overrides where the sidecars are looked for.

    Raises :class:`CorruptFileError` for a malformed session or stale sidecars,
    :class:`MediaError` for a missing clip.
    """
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise CorruptFileError(f"cannot read session ({exc.strerror or exc})", path) from None
    except ValueError as exc:
        raise CorruptFileError(f"corrupt session: invalid JSON ({exc})", path) from None
    if not isinstance(data, dict) or data.get("kind") != SESSION_KIND:
        raise CorruptFileError("not a polysync session file", path)
    if data.get("schema_version") != SESSION_VERSION:
        raise CorruptFileError(f"unsupported session schema_version "
                               f"{data.get('schema_version')!r}", path)
    clips = data.get("clips")
    if not isinstance(clips, list) or not clips:
        raise CorruptFileError("corrupt session: no clips", path)
    base = path.parent
    out: list[Angle] = []
    taken: set[str] = set()
    for i, clip in enumerate(clips):
        if not isinstance(clip, dict) or not isinstance(clip.get("path"), str):
            raise CorruptFileError("corrupt session: a clip has no path", path)
        media = base / clip["path"]
        if not media.exists():
            raise MediaError("file not found (listed in the session)", media)
        info = probe(media)
        if sidecar_dir is not None:
            sc_path = sidecar_path(media, sidecar_dir)
        elif isinstance(clip.get("sidecar"), str):
            sc_path = base / clip["sidecar"]
        else:
            sc_path = sidecar_path(media)
        if not sc_path.exists():
            raise CorruptFileError("no sidecar: run `polysync sync --all` again", sc_path)
        sc = load_sidecar(sc_path)
        check_fresh(sc, media, info.duration, sc_path)
        out.append(Angle(index=i, path=media, info=info, sidecar=sc,
                         name=angle_name(media, taken), angle=str(clip.get("angle") or "")))
    refs = {a.sidecar.reference for a in out}
    if len(refs) > 1:
        raise CorruptFileError("the session's sidecars name different references ("
                               + ", ".join(sorted(refs)) + "): run `polysync sync --all` again",
                               path)
    return out


# =========================================================================== for the CLI


def summary_rows(report: GroupReport) -> list[list[str]]:
    """One row per clip, angle by angle: angle, clip, offset, drift, confidence, status."""
    rows = []
    for s in report.angles:
        for c in s.clips:
            if c.ok:
                status = ("reference" if c.is_reference else
                          "via " + " > ".join(c.placed_via[1:]) if len(c.placed_via) > 1
                          else "direct")
                status += " (timecode link)" if c.by_timecode else ""
                rows.append([s.name, c.path.name, f"{c.delta_seconds:+.6f} s",
                             f"{c.drift_ppm:+.2f} ppm", f"{c.confidence:.4f}", status])
            else:
                rows.append([s.name, c.path.name, "-", "-", "-", "NOT PLACED"])
    return rows


def report_json(report: GroupReport) -> dict:
    """The report as plain data (``--json``): the session's content with absolute paths and
    the reasons of unplaced files."""
    data = session_json(report, None)
    data["session"] = str(report.session_path) if report.session_path else None
    data["unplaced"] = [dict(u, exit_code=c.error.exit_code,
                             withdrawn_sidecar=str(c.withdrawn) if c.withdrawn else None)
                        for u, c in zip(data["unplaced"], report.unplaced)]
    return data
