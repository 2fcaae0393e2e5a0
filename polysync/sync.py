"""File-level sync: decode each file once, align every source to the reference, write sidecars."""

from __future__ import annotations

import ctypes
import os
import tempfile
import threading
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Callable, Iterator, Optional, Sequence

import numpy as np

from .align import (MAX_DRIFT, SyncResult, WindowMeasure, adopt_dominant, adopt_drift,
                    adopt_waveform, align_pair, chain, measure_window, overlap_of, place_span,
                    release_pages, slot_length, unconfirmed, window_slots)
from .channels import Candidate, candidates_for_track, rank
from .core import check_result
from .errors import MediaError, PolysyncError, SyncRefused, UsageError
from .fsutil import check_writable_dir
from .media import FINE_RATE, MediaInfo, decode_audio, decode_channel, decode_spans
from .sidecar import (Sidecar, check_distinct_sidecars, check_inputs, load_sidecar,
                      media_info_dict, save_sidecar, sidecar_path, withdraw_sidecar)
from .workers import pool_context

ProgressFn = Callable[[str, float], None]


@dataclass
class FileAnalysis:
    """A decoded file: its probe and its live mono candidates, most speech-like first."""

    path: Path
    info: MediaInfo
    candidates: list[Candidate]
    streams: list[dict] = field(default_factory=list)  # activity of every candidate, for reports


def analyse_file(path: str | os.PathLike, progress: Optional[Callable[[float], None]] = None,
                 audio_streams: Optional[Sequence[int]] = None) -> FileAnalysis:
    """Decode ``path`` once and judge its audio. Raises :class:`MediaError` if all is silent."""
    path = Path(path)
    decoded = decode_audio(path, progress=progress, audio_streams=audio_streams)
    info = decoded.info
    cands: list[Candidate] = []
    for track in decoded.tracks:
        cands += candidates_for_track(track.samples, track.rate, track.t0, track.audio_index,
                                      track.mixed)
    del decoded
    cands = rank(cands)
    streams = [{"audio_stream": c.audio_stream, "channel": c.channel,
                **{k: round(v, 2) if isinstance(v, float) else v for k, v in c.stats.items()}}
               for c in cands]
    if not any(c.alive for c in cands):
        raise MediaError("audio is silent (no stream carries more than steady noise)", path)
    # Dead candidates stay only as statistics: their samples are not needed again.
    return FileAnalysis(path=path, info=info, candidates=[c for c in cands if c.alive],
                        streams=streams)


@dataclass
class PairAlignment:
    """The best alignment of a source to the reference, and the candidates that gave it."""

    result: SyncResult
    ref_candidate: Candidate
    src_candidate: Candidate


def align_files(ref: FileAnalysis, src: FileAnalysis, max_pairs: int = 6) -> PairAlignment:
    """Try the live candidates of both files; keep the most confident alignment.

    Raises :class:`SyncRefused` when none is confident (unrelated recordings, no overlap).
    """
    best: Optional[PairAlignment] = None
    pairs = [(rc, sc) for rc in ref.candidates[:2] for sc in src.candidates[:3]][:max_pairs]
    for rc, sc in pairs:
        res = align_pair(rc.signal, rc.t0, sc.signal, sc.t0, rc.rate, rc.feature, sc.feature)
        if res is None:
            continue
        key = (res.confidence, res.n_agree, res.correlation)
        if best is None or key > (best.result.confidence, best.result.n_agree,
                                  best.result.correlation):
            best = PairAlignment(res, rc, sc)
    check_result(best.result if best else None, path=src.path)
    return refine(ref, src, best)


FINE_MARGIN = 0.030
"""Search half-width (s) of the wide-band windows around the analysis-rate line."""
FINE_SEARCH = 0.060
"""Wider search half-width (s) of the same windows, for a line most of them gather on away
from the analysis-rate one (:func:`polysync.align.adopt_dominant`): the envelope line of an
:data:`EXCERPT` of far mics can be this far off."""
EXCERPT = 60.0
"""Overlaps (s) shorter than this are excerpts. From a minute on, the envelope line of far
mics sits within about 10 ms of the sound's, and a line of windows far from it is a
reflection's; a 20 s excerpt's can be 20-40 ms off (``benchmarks/hard_cases.py``)."""
EXCERPT_SLOPE_TOL = 3.0e-4
"""On an :data:`EXCERPT`, how far (300 ppm) the wide-band windows' line may leave the drift of
the envelope line: over 20 s, 6 ms. Every slope allowed beyond that is more lines a few windows
could fall on by chance, so four of nine on the sound's line were not significant and the
envelope line (10-20 ms off on an excerpt of far mics) stood (``benchmarks/hard_cases.py``)."""
FINE_WINDOWS = 64
"""Most windows re-read at :data:`FINE_RATE` per pair."""
FINE_BAND = (120.0, 7000.0)
FINE_BETA = 1.0
"""PHAT exponent of the wide-band windows: every frequency weighs the same. Speech carries
most of its energy below 1 kHz, where a distant mic hears mostly the room (low frequencies
reverberate longest); with the exponent below 1 that band's stronger bins outvote the upper
band, where the direct sound still stands out, and a far mic's windows line up on a
reverberant peak 20-40 ms away (``benchmarks/hard_cases.py``)."""


def carried_band(an: FileAnalysis, stream: int) -> Optional[float]:
    """The highest frequency (Hz) audio stream ``stream`` of ``an`` can carry: 0.45 of its
    sample rate (a phone's 8 kHz has nothing above 3.6 kHz), None when unknown."""
    s = next((s for s in an.info.audio_streams if s.audio_index == stream), None)
    return 0.45 * s.sample_rate if s is not None and s.sample_rate else None


def fine_band(ref: FileAnalysis, rc: Candidate, src: FileAnalysis, sc: Candidate
              ) -> tuple[float, float]:
    """The band both recordings really carry (a phone at 8 kHz has nothing above 4 kHz)."""
    tops = [carried_band(an, c.audio_stream) for an, c in ((ref, rc), (src, sc))]
    return FINE_BAND[0], min([FINE_BAND[1], 0.45 * FINE_RATE, *(t for t in tops if t)])


def fine_measures(ref: FileAnalysis, rc: Candidate, src: FileAnalysis, sc: Candidate,
                  delta: float, slope: float, ov_src: tuple[float, float], parity: int,
                  margin: float = FINE_MARGIN) -> list[WindowMeasure]:
    """:func:`fine_measures_at` one ``margin``."""
    return fine_measures_at(ref, rc, src, sc, delta, slope, ov_src, parity, (margin,))[0]


def fine_measures_at(ref: FileAnalysis, rc: Candidate, src: FileAnalysis, sc: Candidate,
                     delta: float, slope: float, ov_src: tuple[float, float], parity: int,
                     margins: Sequence[float]) -> list[list[WindowMeasure]]:
    """Window measures over the speech band up to 7 kHz (full phase transform,
    :data:`FINE_BETA`), re-read from the files.

    The analysis-rate signals (4 kHz) carry only the band below 2 kHz, where a distant mic's
    reflections and a voice's pitch echoes look as much like the sound as its direct path.
    Here the windows of ``parity`` slots over the overlap and the reference around where the
    line ``(delta, slope)`` puts them are decoded again at :data:`FINE_RATE`; each span is
    placed on its file's clock against the full-pass signal (so a container's seek precision
    does not matter) and the windows are located within +-``margin`` of the line, for each of
    ``margins`` (one list each; the audio is read once, for the widest).
    """
    a, b = ov_src
    slot = slot_length(b - a)
    starts = window_slots(a, b - slot, slot, parity, max_windows=FINE_WINDOWS)
    pad = 0.05
    src_spans = [(t - pad, t + slot + pad) for t in starts]
    ref_spans = []
    widest = max(margins)
    for t in starts:
        p0 = delta + t * (1.0 + slope)
        ref_spans.append((p0 - widest - pad, p0 + slot * (1.0 + slope) + widest + pad))
    got_s = decode_spans(src.path, sc.audio_stream, sc.channel, src_spans)
    got_r = decode_spans(ref.path, rc.audio_stream, rc.channel, ref_spans)
    band = fine_band(ref, rc, src, sc)
    rate = FINE_RATE
    n_w = int(round(slot * rate))
    out: list[list[WindowMeasure]] = [[] for _ in margins]
    for k, (t, gs, gr) in enumerate(zip(starts, got_s, got_r)):
        if k % 16 == 15:
            release_pages(rc.signal, sc.signal)
        if gs is None or gr is None:
            continue
        ts = place_span(gs[1], rate, gs[0], sc.signal, sc.t0, sc.rate)
        tr = place_span(gr[1], rate, gr[0], rc.signal, rc.t0, rc.rate)
        if ts is None or tr is None:
            continue
        i0 = int(round((t - ts) * rate))
        if i0 < 0 or i0 + n_w > len(gs[1]):
            continue
        t_win = ts + i0 / rate
        for margin, found in zip(margins, out):
            m = int(round(margin * rate))
            j0 = int(np.floor((delta + t_win * (1.0 + slope) - tr) * rate)) - m
            if j0 < 0 or j0 + n_w + 2 * m > len(gr[1]):
                continue
            w = measure_window(gs[1][i0: i0 + n_w], t_win, gr[1][j0: j0 + n_w + 2 * m],
                               tr + j0 / rate, rate, slope, upsample=2, band_hz=band,
                               beta=FINE_BETA)
            if w is not None:
                found.append(w)
    release_pages(rc.signal, sc.signal)
    return out


def beyond_reach(res: SyncResult, new: SyncResult) -> bool:
    """Whether ``new`` (the line most windows searched within +-:data:`FINE_SEARCH` gather on,
    :func:`polysync.align.adopt_dominant`) lies beyond :data:`FINE_MARGIN` of the line of
    ``res``, mid-overlap.

    The windows searched within +-:data:`FINE_MARGIN` cannot see such a line: each returns
    the strongest peak left inside its search instead, typically a reflection of the same
    sound a few ms short of the search's edge, and on an excerpt those agree on a line of
    their own (``benchmarks/hard_cases.py``: 8 of 9 windows 8 ms from the sound's line, whose
    peaks, twice as strong, lay 2 ms beyond the edge).
    """
    a, b = res.overlap_in_source
    mid = 0.5 * (a + b)
    shift = (new.delta_seconds + new.drift_slope * mid
             - (res.delta_seconds + res.drift_slope * mid))
    return abs(shift) > FINE_MARGIN


def refine(ref: FileAnalysis, src: FileAnalysis, pa: PairAlignment) -> PairAlignment:
    """Re-estimate an accepted alignment on wide-band windows (:func:`fine_measures`).

    The wide-band line replaces the analysis-rate one when it is clear on its own; on an
    :data:`EXCERPT`, so does a line most windows gather on further away
    (:func:`polysync.align.adopt_dominant`) - first, when it lies beyond the narrow search
    (:func:`beyond_reach`). Otherwise (far mics whose direct sound is lost)
    an analysis-rate waveform line the windows contradict gives way to the envelope line, and
    an envelope line takes its drift from the one line the windows gather on, if any
    (:func:`polysync.align.adopt_drift`).
    """
    res = pa.result
    span = max(res.overlap_in_source[1] - res.overlap_in_source[0], 1.0)
    excerpt = span < EXCERPT

    def slope_tol(r: SyncResult) -> float:
        # an envelope line's drift can be off by hundreds of ppm on a short overlap (one chunk)
        if r.method == "waveform":
            return max(5e-6, 0.003 / span)
        return min(EXCERPT_SLOPE_TOL if excerpt else MAX_DRIFT, max(2e-5, 0.03 / span))

    meas, *found = fine_measures_at(ref, pa.ref_candidate, src, pa.src_candidate,
                                    res.delta_seconds, res.drift_slope, res.overlap_in_source,
                                    parity=0, margins=(FINE_MARGIN, FINE_SEARCH)[:1 + excerpt])
    rc, sc = pa.ref_candidate, pa.src_candidate
    ranges = (rc.t0, rc.t0 + rc.duration), (sc.t0, sc.t0 + sc.duration)
    dominant = (adopt_dominant(res, found[0], FINE_SEARCH, slope_tol(res), *ranges)
                if excerpt else None)
    new = dominant if dominant is not None and beyond_reach(res, dominant) else None
    if new is None:
        new = adopt_waveform(res, meas, FINE_MARGIN, slope_tol(res), *ranges)
    if new is None:
        new = dominant
    if new is None:
        res = unconfirmed(res, meas, FINE_MARGIN, *ranges) or res
        new = adopt_drift(res, meas, FINE_MARGIN, slope_tol(res)) or res
    return PairAlignment(new, rc, sc)


@dataclass
class SyncOutcome:
    """What happened to one source: a written sidecar, or the reason it was refused."""

    path: Path
    sidecar: Optional[Path] = None
    result: Optional[SyncResult] = None
    alignment: Optional[PairAlignment] = None
    error: Optional[PolysyncError] = None
    analysis: Optional[FileAnalysis] = None
    withdrawn: Optional[Path] = None  # an earlier run's sidecar this refusal removed

    @property
    def ok(self) -> bool:
        return self.error is None


@dataclass
class SyncReport:
    reference: Path
    reference_sidecar: Optional[Path]
    reference_analysis: FileAnalysis
    outcomes: list[SyncOutcome]

    @property
    def ok(self) -> bool:
        return all(o.ok for o in self.outcomes)


def _relpath(target: Path, start: Path) -> str:
    try:
        return os.path.relpath(target.resolve(), start.resolve())
    except ValueError:  # another drive on Windows
        return str(target.resolve())


def make_sidecar(ref: FileAnalysis, src: FileAnalysis, pa: PairAlignment,
                 where: Path) -> Sidecar:
    """The sidecar of ``src`` synced to ``ref``, to be written at ``where``."""
    r = pa.result
    return Sidecar(
        source=src.path.name, reference=ref.path.name,
        delta_seconds=r.delta_seconds, drift_slope=r.drift_slope,
        overlap_in_reference=r.overlap_in_reference, overlap_in_source=r.overlap_in_source,
        audio_stream=pa.src_candidate.audio_stream,
        reference_audio_stream=pa.ref_candidate.audio_stream,
        confidence=r.confidence,
        quality={"windows": r.n_windows, "agreeing": r.n_agree,
                 "residual_ms": round(r.residual_ms, 4), "spread_ms": round(r.spread_ms, 4),
                 "correlation": round(r.correlation, 4), "polarity": r.polarity,
                 "method": r.method, "envelope_z": round(r.coarse_z, 2),
                 "talker_span_ms": round(r.talker_span_ms, 3),
                 "channel": pa.src_candidate.channel,
                 "reference_channel": pa.ref_candidate.channel,
                 **({"via": r.via} if r.via else {})},
        source_info=media_info_dict(src.info.size, src.info.duration),
        reference_info=media_info_dict(ref.info.size, ref.info.duration),
        reference_path=_relpath(ref.path, where.parent),
    )


def reference_sidecar(ref: FileAnalysis, where: Path) -> Sidecar:
    """The reference's own sidecar: delta 0 over its whole span."""
    best = ref.candidates[0]
    span = (0.0, round(ref.info.duration, 6))
    return Sidecar(
        source=ref.path.name, reference=ref.path.name, delta_seconds=0.0, drift_slope=0.0,
        overlap_in_reference=span, overlap_in_source=span, audio_stream=best.audio_stream,
        reference_audio_stream=best.audio_stream, confidence=1.0,
        quality={"channel": best.channel, "role": "reference"},
        source_info=media_info_dict(ref.info.size, ref.info.duration),
        reference_info=media_info_dict(ref.info.size, ref.info.duration),
        reference_path=_relpath(ref.path, where.parent),
    )


def _may_write_reference(path: Path) -> bool:
    """A reference sidecar never overwrites one that places the file on another reference."""
    if not path.exists():
        return True
    try:
        existing = load_sidecar(path)
    except PolysyncError:
        return True  # corrupt: replace it
    return existing.is_reference


_worker_state: dict = {}


def _init_decoder(queue, folder: str) -> None:
    _worker_state.update(queue=queue, folder=folder)


def _report_to_caller(path: Path, progress):
    """``progress`` if given, else (in a pool worker) a function sending ``(path, fraction)``
    to the caller's relay (:class:`_DecodePool`), else None."""
    queue = _worker_state.get("queue")
    if progress is None and queue is not None:
        def progress(frac: float) -> None:
            queue.put((str(path), frac))
    return progress


def _decode(path: Path, folder: Optional[str] = None, progress=None):
    """Analyse ``path`` and move its candidates' signals to ``.npy`` files in ``folder``:
    returns ``(FileAnalysis without signals, [npy path per candidate])`` or the error."""
    folder = folder or _worker_state["folder"]
    try:
        an = analyse_file(path, progress=_report_to_caller(path, progress))
    except PolysyncError as exc:
        return exc
    spilled = []
    for c in an.candidates:
        fd, name = tempfile.mkstemp(suffix=".npy", dir=folder)
        with os.fdopen(fd, "wb") as fh:
            np.save(fh, c.signal)
        c.signal = np.zeros(0, dtype=np.float16)
        spilled.append(name)
    if _worker_state.get("queue") is not None:
        _trim_heap()  # a pool worker: hand the freed decode buffers back to the system
    return an, spilled


def _trim_heap() -> None:
    """Return the C heap's free pages to the system (glibc only; elsewhere nothing)."""
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        pass


def drop_pages(an: FileAnalysis) -> None:
    """Let the kernel take back the pages of ``an``'s memory-mapped signals (the window
    measurements of :mod:`polysync.align` and :func:`fine_measures` do so themselves)."""
    release_pages(*(c.signal for c in an.candidates))


class _DecodePool:
    """Decode worker processes (:func:`polysync.workers.pool_context`) whose progress
    reports reach ``progress`` through a relay thread here. ``pool`` is None when there is
    no safe way to start workers (or one job): the caller then decodes in this process."""

    def __init__(self, jobs: int, folder: str, progress: Optional[ProgressFn]):
        ctx = pool_context() if jobs > 1 else None
        self.pool = self.thread = None
        if ctx is None:
            return
        self.queue = ctx.SimpleQueue()

        def relay() -> None:
            while (item := self.queue.get()) is not None:
                if progress is not None:
                    progress(*item)

        self.thread = threading.Thread(target=relay, daemon=True)
        self.pool = ProcessPoolExecutor(max_workers=jobs, mp_context=ctx,
                                        initializer=_init_decoder, initargs=(self.queue, folder))

    def submit(self, fn, *args):
        fut = self.pool.submit(fn, *args)
        # the relay starts after the first submit, which forks every worker (polysync.workers)
        if self.thread.ident is None:
            self.thread.start()
        return fut

    def __enter__(self) -> "_DecodePool":
        return self

    def __exit__(self, *exc) -> None:
        if self.pool is not None:
            self.pool.shutdown(wait=True)
        if self.thread is not None and self.thread.ident is not None:
            self.queue.put(None)
            self.thread.join(timeout=5)


def decode_stream(paths: Sequence[Path], folder: str, jobs: Optional[int] = None,
                  progress: Optional[ProgressFn] = None) -> Iterator[tuple[int, object]]:
    """Decode every file once (:func:`polysync.sync.analyse_file`, in worker processes like
    :func:`polysync.sync.analyse_all`), biggest first, and yield ``(index, FileAnalysis or
    PolysyncError)`` as each finishes, so the caller works while the rest decode.

    The 4 kHz signals come back memory-mapped from ``.npy`` files in ``folder``: the
    sample-level stage reads a few windows of each, so a long shoot does not sit in memory.
    """
    order = sorted(range(len(paths)), key=lambda i: -Path(paths[i]).stat().st_size)
    workers = max(1, min(len(paths), jobs or os.cpu_count() or 1))

    def attach(out):
        if isinstance(out, PolysyncError):
            return out
        an, spilled = out
        for c, name in zip(an.candidates, spilled):
            c.signal = _mapped(name, np.load(name, mmap_mode="r"))
        return an

    with _DecodePool(workers, folder, progress) as dp:
        if dp.pool is None:
            for i in order:
                cb = (lambda f, p=str(paths[i]): progress(p, f)) if progress else None
                yield i, attach(_decode(Path(paths[i]), folder, cb))
            return
        futures = {dp.submit(_decode, Path(paths[i])): i for i in order}
        for n, fut in enumerate(as_completed(futures), 1):
            if n == len(futures):  # the workers' memory goes before the caller works on
                dp.pool.shutdown(wait=True)
            yield futures[fut], attach(fut.result())


def _mapped(name: str, array: np.ndarray) -> np.ndarray:
    """``array`` (a mapping of the file ``name``), the file itself removed."""
    try:
        os.unlink(name)  # the mapping stays valid; the disk space goes with it
    except OSError:  # Windows keeps mapped files: the folder's owner removes them
        pass
    return array


def _decode_mono(path: Path, audio_index: int, channel: str, rate: int, folder: str,
                 progress=None) -> tuple[float, str] | PolysyncError:
    """One audio stream's mono ``channel`` of ``path`` at ``rate``, written as raw float16 to
    a file in ``folder`` as it decodes: ``(t0, file)``, or the error."""
    fd, name = tempfile.mkstemp(suffix=".f16", dir=folder)
    try:
        with os.fdopen(fd, "wb") as fh:
            t0 = decode_channel(path, audio_index, channel, rate, fh,
                                progress=_report_to_caller(path, progress))
    except PolysyncError as exc:
        return exc
    return t0, name


def decode_mono(items: Sequence[tuple[Path, int, str]], rate: int, folder: str,
                jobs: Optional[int] = None, progress: Optional[ProgressFn] = None
                ) -> list[tuple[float, np.ndarray]]:
    """Each ``(path, audio stream, channel)`` of ``items`` decoded whole at ``rate`` (in worker
    processes, as :func:`decode_stream`): ``(t0, mono float16 signal)``, memory-mapped from
    ``folder``. Raises the first :class:`PolysyncError`."""
    workers = max(1, min(len(items), jobs or os.cpu_count() or 1))
    with _DecodePool(workers, folder, progress) as dp:
        if dp.pool is None:
            done = [_decode_mono(Path(p), a, c, rate, folder,
                                 (lambda f, q=str(p): progress(q, f)) if progress else None)
                    for p, a, c in items]
        else:
            futures = [dp.submit(_decode_mono, Path(p), a, c, rate, folder) for p, a, c in items]
            done = [f.result() for f in futures]
    out = []
    for d in done:
        if isinstance(d, PolysyncError):
            raise d
        t0, name = d
        out.append((t0, _mapped(name, np.memmap(name, dtype=np.float16, mode="r"))))
    return out


def analyse_all(paths: Sequence[Path], jobs: Optional[int] = None,
                progress: Optional[ProgressFn] = None) -> list[FileAnalysis | PolysyncError]:
    """Decode every file once (see :func:`decode_stream`); per path, in order, its analysis
    or the :class:`PolysyncError` that stopped it."""
    out: list = [None] * len(paths)
    with tempfile.TemporaryDirectory(prefix="polysync-", ignore_cleanup_errors=True) as tmp:
        for i, result in decode_stream(paths, tmp, jobs=jobs, progress=progress):
            out[i] = result
    return out


CHAIN_AGREEMENT = 0.030
"""s: a source placed through a neighbour must land this close to its own envelope line (an
envelope line can be 30 ms off a far mic's truth; a reflection lock is usually further)."""
CLEAR_SHARE = 0.4
"""Share of wide-band windows on a line above which a placement is not questioned."""
CHAIN_GAIN = 0.1
"""How much clearer (in share of agreeing windows) a path through a neighbour must be."""


def _share(res: SyncResult) -> float:
    """How clearly the wide-band windows gave ``res``: the share of them on its line (0 when
    they did not give it)."""
    return res.n_agree / res.n_windows if res.wide_band and res.n_windows else 0.0


def _predicted(t: PairAlignment, o: PairAlignment) -> PairAlignment:
    """Where source ``o`` sits on source ``t``'s clock by their placements on the reference,
    to envelope precision: the start of a search for their own wide-band line."""
    a, b = t.result, o.result
    delta = (b.delta_seconds - a.delta_seconds) / (1.0 + a.drift_slope)
    slope = (1.0 + b.drift_slope) / (1.0 + a.drift_slope) - 1.0
    tc, sc = t.src_candidate, o.src_candidate
    ov_ref, ov_src = overlap_of(delta, slope, tc.t0, tc.t0 + tc.duration, sc.t0,
                                sc.t0 + sc.duration)
    res = replace(b, delta_seconds=delta, drift_slope=slope, overlap_in_reference=ov_ref,
                  overlap_in_source=ov_src, method="envelope", wide_band=False, via=None,
                  envelope_line=(delta, slope))
    return PairAlignment(res, tc, sc)


def through_neighbours(outcomes: list[SyncOutcome]) -> None:
    """Place a source whose own placement is unclear (far, reverberant mics: set by the
    envelopes, by a sub-2 kHz line the wide band could not confirm, or by a wide-band line few
    windows agree with) through a clearly placed neighbour, when the path through it is
    clearer.

    Two cameras near each other often hear the same direct sound when the reference, across
    the room, hears mostly its reflections. Only clearly placed neighbours (``CLEAR_SHARE``)
    are gone through. A path is as clear as its weakest link (share of wide-band windows on
    the line, :func:`_share`); it must beat the direct placement by ``CHAIN_GAIN`` and land
    within ``CHAIN_AGREEMENT`` of the source's own envelope line.
    ``outcomes`` are updated in place.
    """
    firm = [o for o in outcomes if o.ok and _share(o.result) >= CLEAR_SHARE and not o.result.via]
    for o in outcomes:
        if not o.ok or _share(o.result) >= CLEAR_SHARE:
            continue
        best = None
        for t in firm:
            if t is o:
                continue
            pa = refine(t.analysis, o.analysis, _predicted(t.alignment, o.alignment))
            clear = min(_share(t.result), _share(pa.result))
            if clear >= _share(o.result) + CHAIN_GAIN and (best is None or clear > best[0]):
                best = (clear, t, pa)
        if best is None:
            continue
        _, t, pa = best
        rc, sc = t.alignment.ref_candidate, pa.src_candidate
        res = chain(t.result, pa.result, (rc.t0, rc.t0 + rc.duration),
                    (sc.t0, sc.t0 + sc.duration), via=t.path.name)
        a, b = o.result.overlap_in_source
        mid = 0.5 * (a + b)
        own = o.result.envelope_line[0] + o.result.envelope_line[1] * mid
        if abs(res.delta_seconds + res.drift_slope * mid - own) > CHAIN_AGREEMENT:
            continue
        o.result = res
        o.alignment = PairAlignment(res, rc, sc)


def sync_files(reference: str | os.PathLike, sources: Sequence[str | os.PathLike] | str,
               sidecar_dir: str | os.PathLike | None = None, partial: bool = False,
               jobs: Optional[int] = None, progress: Optional[ProgressFn] = None,
               write: bool = True) -> SyncReport:
    """Align each of ``sources`` to ``reference`` and write ``<source>.sync.json`` sidecars.

    A source that cannot be aligned with confidence gets no sidecar: its outcome carries the
    error. The reference gets its own sidecar (delta 0) unless it already has one that places
    it on another reference. ``partial`` is accepted for compatibility (partial coverage is
    always detected). Raises for a bad reference or an unwritable sidecar location.
    """
    ref_path = Path(reference)
    src_paths = [Path(sources)] if isinstance(sources, (str, os.PathLike)) else [Path(s) for s in sources]
    if not src_paths:
        raise UsageError("give at least one source to sync to the reference")
    check_inputs([ref_path, *src_paths])
    if write:
        check_distinct_sidecars([ref_path, *src_paths], sidecar_dir)
        for folder in {sidecar_path(p, sidecar_dir).parent for p in [ref_path, *src_paths]}:
            check_writable_dir(folder)

    def place(path: Path, an) -> SyncOutcome:
        if isinstance(an, PolysyncError):
            return SyncOutcome(path=path, error=an)
        try:
            pa = align_files(ref, an)
        except PolysyncError as exc:
            return SyncOutcome(path=path, error=exc, analysis=an)
        return SyncOutcome(path=path, result=pa.result, alignment=pa, analysis=an)

    # each source is aligned as soon as it and the reference are decoded, while the last files
    # still decode on the other cores
    ref = None
    done: dict[int, SyncOutcome] = {}
    waiting: dict[int, object] = {}
    with tempfile.TemporaryDirectory(prefix="polysync-", ignore_cleanup_errors=True) as tmp:
        for i, an in decode_stream([ref_path, *src_paths], tmp, jobs=jobs, progress=progress):
            if i == 0:
                if isinstance(an, PolysyncError):
                    raise an
                ref = an
            else:
                waiting[i] = an
            if ref is not None:
                for j in sorted(waiting):
                    done[j] = place(src_paths[j - 1], waiting.pop(j))
    outcomes = [done[j] for j in sorted(done)]
    through_neighbours(outcomes)
    if write:
        for out in outcomes:
            if out.ok:
                where = sidecar_path(out.path, sidecar_dir)
                out.sidecar = save_sidecar(make_sidecar(ref, out.analysis, out.alignment, where),
                                           where)
            elif isinstance(out.error, SyncRefused):
                out.withdrawn = withdraw_sidecar(out.path, ref_path, sidecar_dir)

    ref_sc = None
    if write and any(o.ok for o in outcomes):
        where = sidecar_path(ref_path, sidecar_dir)
        if _may_write_reference(where):
            ref_sc = save_sidecar(reference_sidecar(ref, where), where)
    return SyncReport(reference=ref_path, reference_sidecar=ref_sc, reference_analysis=ref,
                      outcomes=outcomes)
