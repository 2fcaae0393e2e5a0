"""What a preview render shows, read from the OpenTimelineIO timeline (no ffmpeg here).

The renderer draws exactly the timeline an editor imports: the "Program" video track (the
top-most), the "PiP" track for the inset, and the "Program audio" track. This module turns
those tracks into a :class:`RenderPlan` on the output's frame grid:

* Output frame ``j`` (``j = 0 .. frames-1``) is shown at render time ``j / rate`` seconds;
  render time 0 is timeline time ``window_start``.
* A :class:`Segment` is one clip of a track: from output frame ``first`` on, its media frame
  ``m`` (``m = 0, 1, ...``, the frame at source time ``t_in + m / fps``) is on screen from
  output frame ``max(first, ceil(lead + m * step))`` - a frame is shown from the first output
  frame at or after its own instant, and stays until the next one (sample and hold, what an
  NLE shows for mixed rates). Within a shot the media play at their own speed: drift is
  corrected per cut, by the in-point the timeline carries.
* Sound is placed by the audio source's own sidecar, sample-accurately: render time ``T``
  plays source time ``(origin + window_start + T - delta_seconds) / (1 + drift_slope)``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from fractions import Fraction
from pathlib import Path
from typing import Optional

import opentimelineio as otio

from .decisions import parse_rate
from .errors import CorruptFileError, MediaError, UsageError
from .media import container_facts, probe
from .timeline import (angles_from_decisions, build_timeline, decisions_from_timeline,
                       file_url, parse_fraction, role_track, timeline_meta, to_frames)

PIP_PICKS = ("next", "second-best")


@dataclass(frozen=True)
class Source:
    """One media file as the renderer opens it.

    ``start``: the container's first timestamp (s), i.e. where ``t_src = 0`` sits in the
    file's own timestamps; ``t0``: source time (s) of its first video frame (audio for
    audio-only media); ``fps``: its frame grid (frames/s), None without picture.
    ``delta_seconds`` / ``drift_slope``: its sidecar (``t_ref = delta + t_src * (1 + drift)``);
    ``seek_margin``: seconds to read before an in-point, on top of the reorder margin (see
    :data:`IMPRECISE_SEEK_MARGIN`); ``interleave_lead``: seconds to read past a shot's end
    (see :func:`container_facts`).
    """

    index: int
    name: str
    path: Path
    fps: Optional[Fraction]
    start: float
    t0: Fraction
    duration: float
    delta_seconds: float
    drift_slope: float
    audio_stream: Optional[int]
    has_audio: bool
    seek_margin: float = 0.0
    interleave_lead: float = 0.0

    def to_src(self, t_ref: Fraction) -> Fraction:
        """Source time (s) of reference time ``t_ref`` (s)."""
        return (Fraction(t_ref) - Fraction(self.delta_seconds)) / (1 + Fraction(self.drift_slope))


@dataclass(frozen=True)
class Segment:
    """One clip of the program or PiP track on the output grid (see the module docstring).

    ``t_in``: source time (s) of media frame ``m = 0``; ``lead``: output frame (a rational
    number) at which that frame's instant falls; ``step``: output frames per media frame
    (``rate / fps``); ``first``/``end``: output frames ``[first, end)`` the clip covers;
    ``count``: media frames it needs (``m = 0 .. count-1``).
    """

    track: str  # "program" or "pip"
    cam: int
    t_in: Fraction
    lead: Fraction
    step: Fraction
    first: int
    end: int

    @property
    def count(self) -> int:
        return math.floor((self.end - 1 - self.lead) / self.step) + 1


@dataclass(frozen=True)
class AudioSpan:
    """A stretch of the program sound: ``cam``'s audio over output seconds ``[start, end)``."""

    cam: int
    start: Fraction
    end: Fraction


@dataclass
class PipStyle:
    """Inset placement: ``corner`` name, ``scale`` = inset width / frame width, ``margin`` = gap
    to the frame edges / frame height (both from the timeline's ``pip_transform``)."""

    corner: str = "bottom-right"
    scale: float = 0.25
    margin: float = 24 / 720


@dataclass
class RenderPlan:
    """Everything a render draws, on the output frame grid (``rate`` frames/s)."""

    rate: Fraction
    frames: int
    window_start: Fraction  # timeline seconds at output frame 0
    origin: Fraction  # reference seconds at timeline 0
    sources: dict[int, Source]
    program: list[Segment]
    pip: list[Segment]
    audio: list[AudioSpan]
    audio_source: Optional[int]
    wide: Optional[int]
    pip_style: Optional[PipStyle] = None
    warnings: list[str] = field(default_factory=list)

    @property
    def duration(self) -> Fraction:
        """Output length, seconds."""
        return Fraction(self.frames) / self.rate

    def ref_time(self, t: Fraction) -> Fraction:
        """Reference time (s) of output time ``t`` (s)."""
        return self.origin + self.window_start + Fraction(t)


IMPRECISE_SEEK_MARGIN = 3.0
"""Seconds read before a shot's in-point in containers without a seek index (MPEG-TS/PS,
raw streams): seeking there lands near, not on, a keyframe, so the decoder needs a whole GOP
of lead-in to be sure of a clean in-point frame."""


def _sources(meta: dict, used: set[int]) -> dict[int, Source]:
    """The timeline's angles; only those in ``used`` must exist."""
    out = {}
    for a in meta["angles"]:
        path = Path(a["path"])
        if not path.exists():
            if int(a["index"]) in used:
                raise MediaError("file not found (a timeline uses it)", path)
            continue
        info = probe(path)
        video = info.video
        fps = parse_fraction(a["fps"]) if a.get("fps") else None
        first = video if (video is not None and fps) else (info.audio_streams or [None])[0]
        audio = a.get("audio_stream")
        has_audio = bool(info.audio_streams)
        if audio is None or not 0 <= int(audio) < len(info.audio_streams):
            audio = 0 if has_audio else None
        start, indexed, lead = container_facts(path)
        out[int(a["index"])] = Source(
            index=int(a["index"]), name=str(a.get("name", path.stem)), path=path, fps=fps,
            start=start, t0=Fraction(first.start if first else 0.0),
            duration=float(a.get("duration") or info.duration),
            delta_seconds=float(a["delta_seconds"]), drift_slope=float(a["drift_slope"]),
            audio_stream=audio, has_audio=has_audio,
            seek_margin=0.0 if indexed else IMPRECISE_SEEK_MARGIN, interleave_lead=lead)
    return out


def _clip_cam(clip: otio.schema.Clip, urls: dict[str, int]) -> int:
    info = clip.metadata.get("polysync") or {}
    cam = info.get("cam")
    if cam is None:
        cam = urls.get(getattr(clip.media_reference, "target_url", None))
    if cam is None:
        raise CorruptFileError(f"timeline clip {clip.name!r} names no angle")
    return int(cam)


def _track_clips(track, R: Fraction):
    """``(p0, p1, clip)`` per clip of ``track``, in timeline frames."""
    for k, item in enumerate(track):
        if isinstance(item, otio.schema.Clip) and item.enabled:
            span = track.range_of_child_at_index(k)
            p0 = to_frames(span.start_time, R)
            yield p0, p0 + to_frames(span.duration, R), item


def _segment(track: str, cam: int, clip, p0: int, p1: int, src: Source, R: Fraction,
             rate: Fraction, w0: int, w1: int) -> Optional[Segment]:
    """The clip on the output grid, cut to the window ``[w0, w1)`` (timeline frames)."""
    if src.fps is None:
        raise UsageError(f"the timeline puts {src.name} on screen, but it has no picture")
    a, b = max(p0, w0), min(p1, w1)
    if b <= a:
        return None
    sr = clip.source_range
    media = parse_rate(sr.start_time.rate)
    avail = clip.media_reference.available_range if clip.media_reference else None
    tc = to_frames(avail.start_time, media) if avail is not None else 0
    k_in = to_frames(sr.start_time, media) - tc
    fps = src.fps
    t_clip = src.t0 + Fraction(k_in) / media  # source time at timeline frame p0
    start = Fraction(p0 - w0) / R  # render time (s) of the clip's in-point
    step = rate / fps
    lead = start * rate
    first = math.ceil(Fraction(a - w0) / R * rate)
    end = math.ceil(Fraction(b - w0) / R * rate)
    # Skip media frames that are replaced before the window starts: m0 is the frame on screen
    # at output frame `first`.
    m0 = max(0, math.floor((first - lead) / step))
    if end <= first:
        return None
    return Segment(track, cam, t_clip + Fraction(m0) / fps, lead + m0 * step, step, first, end)


def _pick_pips(tl, meta, mode: str) -> Optional[otio.schema.Timeline]:
    """A copy of an edit's timeline with insets chosen by ``mode`` for every shot (the original's
    ``--pip-pick``), or None when no other angle covers any shot."""
    if mode not in PIP_PICKS:
        raise UsageError(f"--pip-pick must be one of {', '.join(PIP_PICKS)}")
    dec = decisions_from_timeline(tl)
    angles = {int(a["index"]): a for a in meta["angles"]}
    n = len(angles)

    def covers(i: int, t0: Fraction, t1: Fraction) -> bool:
        a = angles[i]
        if not a.get("fps"):
            return False
        start = Fraction(a["delta_seconds"])
        end = start + Fraction(a["duration"]) * (1 + Fraction(a["drift_slope"]))
        return start <= t0 and end >= t1

    picked = False
    for shot in dec.shots:
        if shot.pip is not None:
            continue
        others = [c for c in range(n) if c != shot.cam and covers(c, shot.start, shot.end)]
        if not others:
            continue
        if mode == "next":
            shot.pip = min(others, key=lambda c: (c - shot.cam) % n)
        else:  # the original's "second-best": the lowest-index covering angle
            shot.pip = others[0]
        picked = True
    if not picked:
        return None
    angle_list = angles_from_decisions(dec)
    for a in angle_list:
        a.sidecar = replace(a.sidecar, audio_stream=angles[a.index].get("audio_stream"))
    return build_timeline(angle_list, dec, rate=dec.rate, name=tl.name)


def plan_from_timeline(tl: otio.schema.Timeline, rate=None, pip: bool = False,
                       pip_pick: str = "next", start: Optional[float] = None,
                       duration: Optional[float] = None) -> RenderPlan:
    """The :class:`RenderPlan` of an auto-edit timeline.

    ``rate``: output frame rate (default the timeline's); ``pip``: draw the PiP track (when the
    edit decided no inset at all, insets are picked with ``pip_pick``); ``start``/``duration``:
    render only that part of the timeline (seconds of timeline time; whole frames).
    Raises :class:`CorruptFileError` for a timeline that is not a polysync edit and
    :class:`UsageError` for a window outside it.
    """
    meta = timeline_meta(tl)
    program = role_track(tl, "program")
    if program is None:
        raise CorruptFileError("the timeline has no Program track: render an auto-edit "
                               "(polysync edit), not the synced angles")
    if pip:
        pip_track = role_track(tl, "pip")
        if pip_track is None or not any(isinstance(i, otio.schema.Clip) for i in pip_track):
            picked = _pick_pips(tl, meta, pip_pick)
            if picked is not None:
                tl, meta = picked, timeline_meta(picked)
                program, pip_track = role_track(tl, "program"), role_track(tl, "pip")
    else:
        pip_track = None
    R = parse_fraction(meta["rate"])
    out_rate = parse_rate(rate) if rate is not None else R
    if out_rate <= 0:
        raise UsageError("the output frame rate must be positive")
    origin = parse_fraction(meta.get("origin") or meta.get("origin_seconds") or 0)
    total = to_frames(program.duration(), R)
    w0 = 0 if start is None else round(Fraction(start) * R)
    w1 = total if duration is None else w0 + round(Fraction(duration) * R)
    w1 = min(w1, total)
    if w0 < 0 or w1 <= w0:
        raise UsageError(f"nothing to render: the timeline is {float(total / R):.3f} s long")
    urls = {file_url(a["path"]): int(a["index"]) for a in meta["angles"]}
    tracks = [t for t in (program, pip_track, role_track(tl, "program_audio")) if t is not None]
    used = {_clip_cam(clip, urls) for t in tracks for _, _, clip in _track_clips(t, R)}
    sources = _sources(meta, used)

    def segments(track, name):
        out = []
        for p0, p1, clip in _track_clips(track, R):
            cam = _clip_cam(clip, urls)
            if cam not in sources:
                raise CorruptFileError(f"timeline clip {clip.name!r} names angle {cam}, which "
                                       "is not in the timeline's angles")
            seg = _segment(name, cam, clip, p0, p1, sources[cam], R, out_rate, w0, w1)
            if seg is not None:
                out.append(seg)
        return out

    plan = RenderPlan(
        rate=out_rate, frames=math.ceil(Fraction(w1 - w0) / R * out_rate),
        window_start=Fraction(w0) / R, origin=origin, sources=sources,
        program=segments(program, "program"),
        pip=segments(pip_track, "pip") if pip_track is not None else [],
        audio=[], audio_source=meta.get("audio_source"), wide=meta.get("wide"))
    sound = role_track(tl, "program_audio")
    if sound is not None:
        for p0, p1, clip in _track_clips(sound, R):
            cam = _clip_cam(clip, urls)
            a, b = max(p0, w0), min(p1, w1)
            if b > a and cam in sources and sources[cam].has_audio:
                plan.audio.append(AudioSpan(cam, Fraction(a - w0) / R, Fraction(b - w0) / R))
    for t in (pip_track,) if pip_track is not None else ():
        for _, _, clip in _track_clips(t, R):
            pt = (clip.metadata.get("polysync") or {}).get("pip_transform")
            if isinstance(pt, dict):
                plan.pip_style = PipStyle(corner=str(pt.get("corner", "bottom-right")),
                                          scale=float(pt.get("scale", 0.25)),
                                          margin=float(pt.get("margin", 24 / 720)))
                break
    _check_media_ends(plan)
    return plan


def _check_media_ends(plan: RenderPlan) -> None:
    """Note clips that ask for frames past the end of their media (a frozen frame follows)."""
    for seg in plan.program + plan.pip:
        src = plan.sources[seg.cam]
        last = seg.t_in + Fraction(seg.count - 1) / src.fps
        if float(last) > src.duration + 0.5 / float(src.fps):
            plan.warnings.append(f"{src.name}: the timeline uses it until {float(last):.3f} s, "
                                 f"but it ends at {src.duration:.3f} s")


__all__ = ["RenderPlan", "Segment", "AudioSpan", "Source", "PipStyle", "plan_from_timeline",
           "PIP_PICKS"]
