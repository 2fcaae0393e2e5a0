"""A polysync OTIO timeline as plain integers: what the FCPXML and xmeml writers need.

Positions and durations are timeline frames at the timeline rate; source in-points are media
frames (samples for audio-only media) counted from the media's first frame, i.e. without the
embedded start timecode.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Optional
from urllib.parse import unquote, urlparse

import opentimelineio as otio

from polysync.decisions import parse_rate
from polysync.errors import CorruptFileError
from polysync.timeline import (PIP_TRANSFORM, is_drop_frame_rate, parse_fraction, role_track,
                               timeline_meta, to_frames)


@dataclass
class Media:
    """One angle's media file."""

    index: int
    name: str
    url: str
    rate: Fraction          # frames (or samples, audio-only) per second
    tc_start: int           # embedded start timecode, in frames at ``rate``
    frames: int             # length at ``rate``
    timecode: Optional[str]
    has_video: bool
    has_audio: bool
    width: Optional[int] = None
    height: Optional[int] = None
    audio_streams: int = 0
    audio_stream: Optional[int] = None
    audio_channels: Optional[int] = None
    audio_rate: Optional[int] = None

    @property
    def path(self) -> Path:
        return Path(unquote(urlparse(self.url).path))

    @property
    def drop_frame(self) -> bool:
        return bool(self.timecode) and self.timecode.strip()[-3] in ";.," and \
            is_drop_frame_rate(self.rate)


@dataclass
class Placement:
    """A clip on the timeline: ``position``/``duration`` in timeline frames, ``source`` in
    media frames from the media's first frame."""

    cam: int
    position: int
    duration: int
    source: int
    transform: Optional[dict] = None

    @property
    def end(self) -> int:
        return self.position + self.duration


@dataclass
class View:
    name: str
    rate: Fraction
    kind: str
    drop_frame: bool
    audio_source: int
    duration: int
    media: dict[int, Media] = field(default_factory=dict)
    # an angle's clips, in order: one, or consecutive pieces re-anchored against clock drift
    angle_video: dict[int, list[Placement]] = field(default_factory=dict)
    angle_audio: dict[int, list[Placement]] = field(default_factory=dict)
    audio_enabled: dict[int, bool] = field(default_factory=dict)
    program: list[Placement] = field(default_factory=list)
    pip: list[Placement] = field(default_factory=list)
    program_audio: list[Placement] = field(default_factory=list)

    @property
    def video_order(self) -> list[int]:
        """Angle indices with picture, in track order."""
        return sorted(self.angle_video)

    def frame_size(self) -> tuple[int, int]:
        """The sequence's frame size: the first angle with picture (1920x1080 if none)."""
        order = ([self.program[0].cam] if self.program else []) + self.video_order
        for m in [self.media[i] for i in order] + list(self.media.values()):
            if m.width and m.height:
                return m.width, m.height
        return 1920, 1080


def _media(clip: otio.schema.Clip, index: int, meta: dict) -> Media:
    ref = clip.media_reference
    facts = (ref.metadata.get("polysync") or {}) if ref is not None else {}
    angle = next((a for a in meta["angles"] if a["index"] == index), {})
    avail = getattr(ref, "available_range", None)
    url = getattr(ref, "target_url", None)
    if avail is None or not url:
        raise CorruptFileError(f"clip {clip.name!r} has no media file with a known length")
    exact = facts.get("rate") or angle.get("rate")
    rate = parse_fraction(exact) if exact else parse_rate(avail.duration.rate)
    return Media(
        index=index, name=angle.get("name") or clip.name, url=url, rate=rate,
        tc_start=to_frames(avail.start_time, rate), frames=to_frames(avail.duration, rate),
        timecode=facts.get("timecode"), has_video=bool(facts.get("has_video", True)),
        has_audio=bool(facts.get("has_audio", True)), width=facts.get("width"),
        height=facts.get("height"), audio_streams=int(facts.get("audio_streams") or 0),
        audio_stream=facts.get("audio_stream"), audio_channels=facts.get("audio_channels"),
        audio_rate=facts.get("audio_rate"))


def _placements(track: otio.schema.Track, view: View, meta: dict) -> list[Placement]:
    out = []
    for k, item in enumerate(track):
        if not isinstance(item, otio.schema.Clip):
            continue
        info = item.metadata.get("polysync") or {}
        cam = info.get("cam")
        if cam is None:
            raise CorruptFileError(f"clip {item.name!r} on track {track.name!r} names no angle")
        cam = int(cam)
        if cam not in view.media:
            view.media[cam] = _media(item, cam, meta)
        m = view.media[cam]
        span = track.range_of_child_at_index(k)
        source = to_frames(item.source_range.start_time, m.rate) - m.tc_start
        out.append(Placement(cam=cam, position=to_frames(span.start_time, view.rate),
                             duration=to_frames(span.duration, view.rate), source=source,
                             transform=info.get("pip_transform") or
                             (dict(PIP_TRANSFORM) if track_role(track) == "pip" else None)))
    return out


def track_role(track: otio.schema.Track) -> str:
    """"angle", "program", "pip" or "program_audio" (from metadata, else the track's name)."""
    role = (track.metadata.get("polysync") or {}).get("role")
    if role:
        return role
    return {"Program": "program", "PiP": "pip", "Program audio": "program_audio"}.get(
        track.name, "angle")


def read_view(tl: otio.schema.Timeline) -> View:
    """The integer view of a polysync timeline; :class:`CorruptFileError` if it is not one."""
    meta = timeline_meta(tl)
    rate = parse_fraction(meta["rate"])
    view = View(name=tl.name or "polysync", rate=rate, kind=meta.get("kind", "angles"),
                drop_frame=bool(meta.get("drop_frame", is_drop_frame_rate(rate))),
                audio_source=int(meta.get("audio_source") or 0),
                duration=to_frames(tl.duration(), rate))
    for track in tl.tracks:
        if track_role(track) != "angle":
            continue
        for p in _placements(track, view, meta):
            if track.kind == otio.schema.TrackKind.Video:
                view.angle_video.setdefault(p.cam, []).append(p)
            else:
                view.angle_audio.setdefault(p.cam, []).append(p)
                view.audio_enabled[p.cam] = track.enabled
    for role, attr in (("program", "program"), ("pip", "pip"), ("program_audio", "program_audio")):
        track = role_track(tl, role)
        if track is not None:
            setattr(view, attr, _placements(track, view, meta))
    return view


def time_text(frames: int, rate: Fraction) -> str:
    """FCPXML rational seconds of ``frames`` at ``rate``: ``"3003/30000s"``, ``"2s"``, ``"0s"``.

    The denominator is the rate's numerator (frame duration ``den/num``), as FCP writes it.
    """
    num = frames * rate.denominator
    if num % rate.numerator == 0:
        return f"{num // rate.numerator}s"
    return f"{num}/{rate.numerator}s"


def pip_geometry(transform: Optional[dict], width: int, height: int) -> tuple[float, float, float]:
    """``(scale, dx, dy)``: inset scale and its centre's offset from the frame centre in pixels
    (x right, y up) for a ``pip_transform`` dict."""
    t = dict(PIP_TRANSFORM, **(transform or {}))
    scale, margin = float(t["scale"]), float(t["margin"]) * height
    corner = str(t["corner"]).lower()
    sx = -1 if "left" in corner else 1
    sy = 1 if "top" in corner else -1
    dx = sx * (width / 2 - margin - scale * width / 2)
    dy = sy * (height / 2 - margin - scale * height / 2)
    return scale, dx, dy
