"""The OpenTimelineIO timeline: the one hand-off between what was decided and what is written.

Exporters (``.otio``, FCPXML, FCP7/Premiere XML, CMX 3600) and the preview renderer all read
the Timeline built here, so a preview shows exactly what an editor imports. The structure is
plain, standard OTIO:

* Timeline rate ``R`` (exact: NTSC is n/1001). Timeline time 0 is reference time ``origin``
  (seconds): ``min(0, earliest angle start)`` floored to the frame grid for synced angles, the
  first shot's start for an auto-edit. ``global_start_time`` is 0 at ``R``.
* ``timeline.metadata["polysync"]``: ``version``, ``kind`` ("angles" | "edit"),
  ``origin_seconds`` (+ exact ``origin`` "n/d"), ``rate`` "n/d", ``drop_frame``, ``reference``
  (path), ``audio_source`` and ``wide`` (angle indices), ``angles``: one dict per input with
  ``index, name, path, delta_seconds, drift_slope, audio_stream, fps, duration`` (+ ``rate``,
  the angle's media grid as "n/d").
* Stack order, bottom to top: one audio track per angle that has sound (named after the angle;
  only the audio source's is enabled, none in an edit), "Program audio" (edit only), one video
  track per angle that has picture (named after the angle), "PiP" (edit with insets only),
  "Program" (edit only) - the top-most video track, so a naive compositor shows the program.
* Each angle track holds a Gap then the angle's Clip at its offset; angles that start before
  the origin (or run past the edit) are trimmed in ``source_range``. An angle whose clock
  drifts is cut into consecutive Clips, each taking its in-point from the drift model, wherever
  the drift has slipped half a timeline frame (``1 / (2 |drift_slope|)`` frames: 100 s at
  200 ppm), so every angle stays in sync over long shoots, in every editor. Clips reference the
  media with an ExternalReference (absolute percent-encoded ``file://`` URL, ``available_range`` =
  the whole media at its own rate, starting at its embedded start timecode).
* ``clip.source_range``: ``start_time`` on the media's grid (video fps, or the sample rate for
  audio-only media) including the start timecode; ``duration`` in timeline frames at ``R``, so
  every position on a track is a whole number of timeline frames even with mixed rates.
* Program clips take each shot's source in-point from the drift model at the shot's start
  (``t_src = angle.to_src(shot.start)``, rounded to the media's frame grid), so long shoots stay
  in sync per cut. ``clip.metadata["polysync"]``: ``{"cam"}`` on angle tracks, ``{"cam", "pip"}``
  on the Program, ``{"cam", "pip_transform": {"corner", "scale", "margin"}}`` on the PiP track
  (scale: inset width / frame width; margin: gap to the frame edges / frame height).
  Tracks carry ``metadata["polysync"]["role"]`` ("angle", "program", "pip", "program_audio").

Every time is a RationalTime with an integer value at its rate.
"""

from __future__ import annotations

import math
import os
import re
from dataclasses import dataclass, replace
from fractions import Fraction
from pathlib import Path
from typing import Optional, Sequence

import opentimelineio as otio

from . import __version__
from .decisions import EditDecisions, Shot, parse_rate, read_edl_json
from .errors import CorruptFileError, UsageError
from .media import MEDIA_SUFFIXES, probe
from .session import Angle, angle_name
from .sidecar import Sidecar

TIMELINE_VERSION = 1
PIP_TRANSFORM = {"corner": "bottom-right", "scale": 0.3, "margin": 0.04}
"""Default inset placement: corner, inset width / frame width, edge gap / frame height."""

STANDARD_RATES = tuple(Fraction(n, d) for n, d in (
    (24000, 1001), (24, 1), (25, 1), (30000, 1001), (30, 1), (48000, 1001), (48, 1), (50, 1),
    (60000, 1001), (60, 1), (100, 1), (120000, 1001), (120, 1)))
DEFAULT_RATE = Fraction(30)
_HALF = Fraction(1, 2)


def rate_str(rate: Fraction) -> str:
    """``"30000/1001"``, ``"25/1"``: the exact text form of a rate."""
    return f"{rate.numerator}/{rate.denominator}"


def parse_fraction(text: str) -> Fraction:
    """The inverse of :func:`rate_str` (also accepts plain numbers)."""
    return parse_rate(text) if "/" in str(text) else Fraction(str(text))


def frame_round(x: Fraction) -> int:
    """Nearest integer, halves up (deterministic, unlike banker's rounding)."""
    return math.floor(x + _HALF)


def media_rate(fps: Optional[Fraction]) -> Optional[Fraction]:
    """A video stream's frame rate on the exact grid editors use.

    Phones record variable frame rate; their average (e.g. 29.9662) is snapped to the nearest
    standard rate when within 0.5 %, as NLEs do. Anything else keeps a denominator of at most 1001.
    """
    if not fps or fps <= 0:
        return None
    fps = Fraction(fps)
    nearest = min(STANDARD_RATES, key=lambda std: abs(fps - std))
    if abs(fps - nearest) <= nearest * Fraction(5, 1000):
        return nearest
    return fps.limit_denominator(1001)


def is_drop_frame_rate(rate: Fraction) -> bool:
    """29.97 and 59.94 count timecode in drop frame by default."""
    return rate in (Fraction(30000, 1001), Fraction(60000, 1001))


_TC = re.compile(r"^(\d{1,3}):(\d{2})[:;.,](\d{2})([:;.,])(\d{2,3})$")


def timecode_frames(tc: str, fps: Fraction) -> int:
    """Frame count of timecode ``tc`` (``"01:00:00;00"`` drop frame, ``":"`` non-drop) at ``fps``.

    Raises ValueError for text that is not a timecode.
    """
    m = _TC.match(tc.strip())
    if not m:
        raise ValueError(f"not a timecode: {tc!r}")
    h, mi, s, sep, f = int(m[1]), int(m[2]), int(m[3]), m[4], int(m[5])
    nominal = math.ceil(fps) if fps.denominator != 1 else fps.numerator
    frames = ((h * 60 + mi) * 60 + s) * nominal + f
    if sep != ":" and fps.denominator == 1001 and nominal in (30, 60):
        minutes = h * 60 + mi
        frames -= (nominal // 15) * (minutes - minutes // 10)
    return frames


def frames_timecode(frames: int, fps: Fraction, drop: bool) -> str:
    """Timecode text of a frame count at ``fps`` (drop frame only at 29.97 / 59.94)."""
    nominal = math.ceil(fps) if fps.denominator != 1 else fps.numerator
    drop = drop and is_drop_frame_rate(fps)
    if drop:
        d = nominal // 15
        per10 = nominal * 600 - d * 9
        tens, rem = divmod(frames, per10)
        extra = 0 if rem < d else d * ((rem - d) // (nominal * 60 - d))
        frames += d * 9 * tens + extra
    f = frames % nominal
    s = frames // nominal
    return f"{s // 3600:02d}:{s // 60 % 60:02d}:{s % 60:02d}{';' if drop else ':'}{f:02d}"


def file_url(path: str | os.PathLike) -> str:
    """Absolute ``file://`` URL of ``path``, percent-encoded (spaces, ``#``, ``%``, UTF-8)."""
    return Path(os.path.abspath(path)).as_uri()


def _rt(value: int, rate: Fraction) -> otio.opentime.RationalTime:
    return otio.opentime.RationalTime(int(value), float(rate))


def _range(start: int, start_rate: Fraction, duration: int, duration_rate: Fraction):
    return otio.opentime.TimeRange(_rt(start, start_rate), _rt(duration, duration_rate))


@dataclass
class MediaGrid:
    """An angle's media on its own grid, with the drift model in exact rationals.

    ``rate``: frames (or samples, for audio-only media) per second; media frame ``k`` is shown
    at ``t_src = t0 + k / rate`` seconds; ``frames`` long; ``tc_start`` is the embedded start
    timecode in frames at ``rate`` (0 without one).
    """

    angle: Angle
    rate: Fraction
    t0: Fraction
    frames: int
    tc_start: int
    has_video: bool
    has_audio: bool

    @property
    def delta(self) -> Fraction:
        return Fraction(self.angle.sidecar.delta_seconds)

    @property
    def scale(self) -> Fraction:
        return 1 + Fraction(self.angle.sidecar.drift_slope)

    def to_src(self, t_ref: Fraction) -> Fraction:
        """Source time (s) of reference time ``t_ref`` (s): the sidecar's model, exact."""
        return (t_ref - self.delta) / self.scale

    def to_ref(self, t_src: Fraction) -> Fraction:
        return self.delta + t_src * self.scale

    def frame_at(self, t_ref: Fraction) -> int:
        """The media frame on screen at reference time ``t_ref`` (may be out of range)."""
        return frame_round((self.to_src(t_ref) - self.t0) * self.rate)


def _audio_stream(angle: Angle):
    streams = angle.info.audio_streams
    if not streams:
        return None
    k = angle.sidecar.audio_stream
    return streams[k] if k is not None and 0 <= k < len(streams) else streams[0]


def media_grid(angle: Angle, timeline_rate: Fraction) -> MediaGrid:
    """Where ``angle``'s frames sit: its rate, first frame time, length and start timecode."""
    info = angle.info
    video = info.video
    fps = media_rate(video.fps) if video is not None else None
    audio = _audio_stream(angle)
    tc = info.timecode
    if fps is not None:
        rate, stream = fps, video
    elif audio is not None:
        rate, stream = Fraction(audio.sample_rate or 48000), audio
    else:  # probe guarantees audio or video; a video without a rate is treated as 30 fps
        rate, stream = DEFAULT_RATE, video
    t0 = Fraction(stream.start or 0.0)
    seconds = Fraction(stream.duration) if stream.duration else Fraction(info.duration) - t0
    frames = max(1, frame_round(seconds * rate))
    tc_start = 0
    if tc:
        try:
            if fps is not None:
                tc_start = timecode_frames(tc, rate)
            else:  # audio-only: the timecode counts timeline frames; keep it in samples
                tc_start = frame_round(timecode_frames(tc, timeline_rate) * rate / timeline_rate)
        except ValueError:
            tc_start = 0
    return MediaGrid(angle=angle, rate=rate, t0=t0, frames=frames, tc_start=tc_start,
                     has_video=fps is not None, has_audio=audio is not None)


def _media_reference(m: MediaGrid) -> otio.schema.ExternalReference:
    info, video, audio = m.angle.info, m.angle.info.video, _audio_stream(m.angle)
    facts = {
        "has_video": m.has_video, "has_audio": m.has_audio, "rate": rate_str(m.rate),
        "timecode": info.timecode, "audio_streams": len(info.audio_streams),
        "audio_stream": audio.audio_index if audio is not None else None,
        "audio_channels": audio.channels if audio is not None else None,
        "audio_rate": audio.sample_rate if audio is not None else None,
    }
    if m.has_video:
        facts.update(width=video.width, height=video.height, rotation=video.rotation)
    return otio.schema.ExternalReference(
        target_url=file_url(m.angle.path),
        available_range=_range(m.tc_start, m.rate, m.frames, m.rate),
        metadata={"polysync": facts})


def _gap(frames: int, rate: Fraction) -> otio.schema.Gap:
    return otio.schema.Gap(source_range=_range(0, rate, frames, rate))


def _span(m: MediaGrid, origin: Fraction, rate: Fraction, p0: int, p1: Optional[int],
          meta: dict, trailing: bool) -> list:
    """Items covering timeline frames ``[p0, p1)``: ``m``'s media where it exists, gaps elsewhere.

    The clip starts at the first timeline frame whose instant falls on a media frame; its
    source in-point is that media frame (the drift model at that instant). ``p1=None`` runs to
    the end of the media. Without ``trailing`` no gap is added after the clip.
    """
    # First timeline frame p with frame_at(origin + p/R) >= 0, i.e. source >= t0 - half a frame.
    earliest = m.to_ref(m.t0 - _HALF / m.rate)
    first = max(p0, math.ceil((earliest - origin) * rate))
    source = max(0, m.frame_at(origin + Fraction(first) / rate))
    length = math.floor((m.frames - source) * rate / m.rate) if source < m.frames else 0
    if p1 is not None:
        length = min(length, p1 - first)
    items = []
    if length <= 0:
        if trailing and p1 is not None and p1 > p0:
            items.append(_gap(p1 - p0, rate))
        return items
    if first > p0:
        items.append(_gap(first - p0, rate))
    items.append(otio.schema.Clip(
        name=m.angle.name, media_reference=_media_reference(m),
        source_range=_range(m.tc_start + source, m.rate, length, rate),
        metadata={"polysync": dict(meta)}))
    if trailing and p1 is not None and first + length < p1:
        items.append(_gap(p1 - first - length, rate))
    return items


def _angle_items(m: MediaGrid, origin: Fraction, rate: Fraction, end: Optional[int],
                 meta: dict) -> list:
    """An angle track's items: a gap, then ``m``'s media from its first timeline frame.

    Played at its nominal rate, a drifting clock slips against the reference by ``|slope|``
    seconds per second, so the clip is cut wherever that slip reaches half a timeline frame
    (every ``1 / (2 |slope|)`` timeline frames) and each piece takes its in-point from the
    drift model again (:func:`_span`): the angle stays within half a timeline frame plus the
    media frame's rounding of its sync over hours. Pieces that continue each other (rounding
    gave the same frame) are merged by :func:`_append`.
    """
    items = _span(m, origin, rate, 0, end, meta, trailing=False)
    slope = abs(m.angle.sidecar.drift_slope)
    if slope == 0.0 or not items:
        return items
    first = sum(round(i.source_range.duration.value) for i in items[:-1])
    stop = first + round(items[-1].source_range.duration.value)
    step = max(1, math.floor(1 / (2 * slope)))
    pieces = items[:-1]
    for p0 in range(first, stop, step):
        pieces += _span(m, origin, rate, p0, min(p0 + step, stop), meta, trailing=False)
    return pieces


def _append(track: otio.schema.Track, items: list, merge_clips: bool = False) -> None:
    """Append items, merging neighbouring gaps (and, if asked, clips that continue each other)."""
    for item in items:
        last = track[-1] if len(track) else None
        if isinstance(item, otio.schema.Gap) and isinstance(last, otio.schema.Gap):
            sr = last.source_range
            last.source_range = otio.opentime.TimeRange(
                sr.start_time, sr.duration + item.source_range.duration)
            continue
        if (merge_clips and isinstance(item, otio.schema.Clip)
                and isinstance(last, otio.schema.Clip) and _continues(last, item)):
            sr = last.source_range
            last.source_range = otio.opentime.TimeRange(
                sr.start_time, sr.duration + item.source_range.duration)
            continue
        track.append(item)


def _continues(a: otio.schema.Clip, b: otio.schema.Clip) -> bool:
    """True when ``b`` starts on the media frame where ``a``, played on, would be anyway."""
    if a.media_reference.target_url != b.media_reference.target_url:
        return False
    sa, sb = a.source_range, b.source_range
    media = parse_rate(sa.start_time.rate)
    timeline = parse_rate(sa.duration.rate)
    natural = Fraction(round(sa.start_time.value)) + round(sa.duration.value) * media / timeline
    return frame_round(natural) == round(sb.start_time.value)


def _timeline_rate(angles: Sequence[Angle], decisions: Optional[EditDecisions], rate) -> Fraction:
    if rate is not None:
        r = parse_rate(rate)
    elif decisions is not None:
        r = decisions.rate
    else:
        ref = next((a for a in angles if _is_reference(a) and a.fps), None)
        ref = ref or next((a for a in angles if a.fps), None)
        r = media_rate(ref.fps) if ref is not None else DEFAULT_RATE
    if r <= 0:
        raise UsageError(f"frame rate must be positive, not {rate}")
    return r


def _is_reference(a: Angle) -> bool:
    sc = a.sidecar
    return sc.is_reference or (a.path.name == sc.reference and sc.delta_seconds == 0.0
                               and sc.drift_slope == 0.0)


def _reference_path(angles: Sequence[Angle]) -> str:
    ref = next((a for a in angles if _is_reference(a)), None)
    if ref is not None:
        return str(Path(os.path.abspath(ref.path)))
    first = angles[0]
    return str(Path(os.path.abspath(first.path)).parent / first.sidecar.reference)


def _track(name: str, kind, role: str, cam: Optional[int] = None, enabled: bool = True):
    meta = {"role": role}
    if cam is not None:
        meta["cam"] = cam
    track = otio.schema.Track(name=name, kind=kind, metadata={"polysync": meta})
    track.enabled = enabled
    return track


def build_timeline(angles: Sequence[Angle], decisions: Optional[EditDecisions] = None,
                   rate=None, name: Optional[str] = None) -> otio.schema.Timeline:
    """The OTIO Timeline of synced ``angles`` (``load_angles`` results), or of an auto-edit.

    ``rate``: timeline frame rate (Fraction, "30000/1001", 29.97 ...); default the edit's rate,
    else the reference angle's video rate, else 30. ``decisions`` cams index ``angles``.
    Raises :class:`UsageError` for an edit that does not fit the angles.
    """
    angles = list(angles)
    if not angles:
        raise UsageError("no angles to put on a timeline")
    R = _timeline_rate(angles, decisions, rate)
    grids = [media_grid(a, R) for a in angles]
    shots: list[tuple[int, int, Shot]] = []
    if decisions is not None:
        shots = _shot_frames(decisions, R, len(angles))
        for _, _, shot in shots:
            for cam in (shot.cam, shot.pip):
                if cam is not None and not grids[cam].has_video:
                    raise UsageError(f"a shot puts {angles[cam].name} on screen, but it has "
                                     "no picture")
        origin_frames = frame_round(decisions.shots[0].start * R)
        origin = Fraction(origin_frames) / R
        end: Optional[int] = shots[-1][1]
        audio_source = decisions.audio_source
        if not 0 <= audio_source < len(angles) or not grids[audio_source].has_audio:
            raise UsageError(f"audio source {audio_source} is not an angle with sound")
    else:
        earliest = min(g.to_ref(g.t0) for g in grids)
        origin = Fraction(math.floor(min(Fraction(0), earliest) * R)) / R
        end = None
        ref = next((i for i, a in enumerate(angles) if _is_reference(a) and grids[i].has_audio),
                   None)
        audio_source = ref if ref is not None else next(
            (i for i, g in enumerate(grids) if g.has_audio), 0)

    video_tracks, audio_tracks = [], []
    for i, g in enumerate(grids):
        for has, kind, bucket in ((g.has_audio, otio.schema.TrackKind.Audio, audio_tracks),
                                  (g.has_video, otio.schema.TrackKind.Video, video_tracks)):
            if not has:
                continue
            enabled = kind == otio.schema.TrackKind.Video or (
                decisions is None and i == audio_source)
            track = _track(g.angle.name, kind, "angle", i, enabled)
            _append(track, _angle_items(g, origin, R, end, {"cam": i}), merge_clips=True)
            bucket.append(track)

    if decisions is not None:
        program = _track("Program", otio.schema.TrackKind.Video, "program")
        pip = _track("PiP", otio.schema.TrackKind.Video, "pip")
        sound = _track("Program audio", otio.schema.TrackKind.Audio, "program_audio",
                       audio_source)
        cursor = 0
        for p0, p1, shot in shots:
            if p0 > cursor:
                for t in (program, pip, sound):
                    _append(t, [_gap(p0 - cursor, R)])
            _append(program, _span(grids[shot.cam], origin, R, p0, p1,
                                   {"cam": shot.cam, "pip": shot.pip}, trailing=True))
            if shot.pip is not None:
                _append(pip, _span(grids[shot.pip], origin, R, p0, p1,
                                   {"cam": shot.pip, "pip_transform": dict(PIP_TRANSFORM)},
                                   trailing=True))
            else:
                _append(pip, [_gap(p1 - p0, R)])
            _append(sound, _span(grids[audio_source], origin, R, p0, p1,
                                 {"cam": audio_source}, trailing=True), merge_clips=True)
            cursor = p1
        audio_tracks.append(sound)
        if any(s.pip is not None for _, _, s in shots):
            video_tracks.append(pip)
        video_tracks.append(program)

    tl = otio.schema.Timeline(name=name or _default_name(angles, decisions),
                              global_start_time=_rt(0, R))
    tl.tracks.extend(audio_tracks + video_tracks)
    tl.metadata["polysync"] = {
        "version": TIMELINE_VERSION,
        "tool": __version__,
        "kind": "edit" if decisions is not None else "angles",
        "origin_seconds": float(origin),
        "origin": rate_str(origin),
        "rate": rate_str(R),
        "drop_frame": _drop_frame(grids, R),
        "reference": _reference_path(angles),
        "audio_source": audio_source,
        "wide": decisions.wide if decisions is not None else None,
        "angles": [_angle_meta(i, g) for i, g in enumerate(grids)],
    }
    return tl


def _shot_frames(dec: EditDecisions, R: Fraction, n: int) -> list[tuple[int, int, Shot]]:
    """Shots as timeline frame spans ``(p0, p1, shot)`` relative to the first shot's start."""
    if not dec.shots:
        raise UsageError("the edit has no shots")
    origin = frame_round(dec.shots[0].start * R)
    out = []
    for k, s in enumerate(dec.shots):
        for cam in (s.cam, s.pip):
            if cam is not None and not 0 <= cam < n:
                raise UsageError(f"shot {k} uses angle {cam}, but there are {n} angles")
        p0 = frame_round(s.start * R) - origin
        p1 = frame_round(s.end * R) - origin
        if out and p0 < out[-1][1]:
            raise UsageError(f"shot {k} starts before shot {k - 1} ends")
        if p1 > p0:
            out.append((p0, p1, s))
    if not out:
        raise UsageError("every shot is shorter than one frame")
    return out


def _drop_frame(grids: Sequence[MediaGrid], R: Fraction) -> bool:
    """Drop-frame timecode at 29.97/59.94, unless the reference's own timecode is non-drop."""
    if not is_drop_frame_rate(R):
        return False
    ref = next((g for g in grids if _is_reference(g.angle)), grids[0])
    m = _TC.match((ref.angle.info.timecode or "").strip())
    return not (m and ref.rate == R and m[4] == ":")


def _angle_meta(index: int, g: MediaGrid) -> dict:
    a = g.angle
    fps = media_rate(a.fps)
    audio = _audio_stream(a)
    return {
        "index": index, "name": a.name, "path": str(Path(os.path.abspath(a.path))),
        "delta_seconds": a.sidecar.delta_seconds, "drift_slope": a.sidecar.drift_slope,
        "audio_stream": audio.audio_index if audio is not None else None,
        "fps": rate_str(fps) if fps else None, "duration": a.info.duration,
        "rate": rate_str(g.rate),
    }


def _default_name(angles: Sequence[Angle], decisions: Optional[EditDecisions]) -> str:
    ref = next((a for a in angles if _is_reference(a)), angles[0])
    return f"{ref.path.stem} {'edit' if decisions is not None else 'multicam'}"


# -- reading back ---------------------------------------------------------------------------

def timeline_meta(tl: otio.schema.Timeline, path: object = None) -> dict:
    """``tl.metadata["polysync"]``, checked; :class:`CorruptFileError` if it is not ours."""
    meta = tl.metadata.get("polysync") if isinstance(tl, otio.schema.Timeline) else None
    if not meta or "rate" not in meta or "angles" not in meta:
        raise CorruptFileError("not a polysync timeline (no metadata['polysync'])", path)
    return meta


def timeline_rate(tl: otio.schema.Timeline) -> Fraction:
    """The exact timeline rate of a polysync timeline."""
    return parse_fraction(timeline_meta(tl)["rate"])


def role_track(tl: otio.schema.Timeline, role: str) -> Optional[otio.schema.Track]:
    """The first track with ``metadata["polysync"]["role"] == role`` (or its standard name)."""
    names = {"program": "Program", "pip": "PiP", "program_audio": "Program audio"}
    for t in tl.tracks:
        if (t.metadata.get("polysync") or {}).get("role") == role:
            return t
    return next((t for t in tl.tracks if t.name == names.get(role)), None)


def to_frames(rt: otio.opentime.RationalTime, rate: Fraction) -> int:
    """A RationalTime as a whole number of frames at ``rate``."""
    if rt.rate == float(rate):
        return int(round(rt.value))
    return frame_round(Fraction(rt.value) * rate / parse_rate(rt.rate))


def decisions_from_timeline(tl: otio.schema.Timeline, path: object = None) -> EditDecisions:
    """The auto-edit of a polysync timeline: its Program track as :class:`EditDecisions`.

    Raises :class:`CorruptFileError` when ``tl`` is not a polysync edit.
    """
    meta = timeline_meta(tl, path)
    program = role_track(tl, "program")
    if program is None:
        raise CorruptFileError("timeline has no Program track (not an auto-edit)", path)
    R = parse_fraction(meta["rate"])
    origin = parse_fraction(meta.get("origin") or meta.get("origin_seconds", 0))
    angles = sorted(meta["angles"], key=lambda a: a["index"])
    urls = {file_url(a["path"]): a["index"] for a in angles}
    shots = []
    for k, item in enumerate(program):
        if not isinstance(item, otio.schema.Clip):
            continue
        info = item.metadata.get("polysync") or {}
        cam = info.get("cam")
        if cam is None:
            cam = urls.get(getattr(item.media_reference, "target_url", None))
        if cam is None:
            raise CorruptFileError(f"program clip {item.name!r} names no angle", path)
        span = program.range_of_child_at_index(k)
        p0 = to_frames(span.start_time, R)
        p1 = p0 + to_frames(span.duration, R)
        shots.append(Shot(origin + Fraction(p0) / R, origin + Fraction(p1) / R, int(cam),
                          info.get("pip")))
    return EditDecisions(
        inputs=[Path(a["path"]) for a in angles], shots=shots,
        audio_source=int(meta.get("audio_source") or 0), rate=R,
        deltas=[float(a["delta_seconds"]) for a in angles],
        drift_slopes=[float(a["drift_slope"]) for a in angles],
        wide=meta.get("wide"), names=[a["name"] for a in angles])


def angles_from_decisions(dec: EditDecisions) -> list[Angle]:
    """Angles of an edit's inputs, synced by the deltas and drift slopes the edit carries.

    Sidecars are not read: the edit list is the record of the sync it was cut on.
    """
    n = len(dec.inputs)
    deltas = list(dec.deltas) + [0.0] * (n - len(dec.deltas))
    slopes = list(dec.drift_slopes) + [0.0] * (n - len(dec.drift_slopes))
    ref = next((i for i in range(n) if deltas[i] == 0.0 and slopes[i] == 0.0), 0)
    taken: set[str] = set()
    angles = []
    for i, p in enumerate(dec.inputs):
        p = Path(p)
        info = probe(p)
        sc = Sidecar(source=p.name, reference=Path(dec.inputs[ref]).name,
                     delta_seconds=deltas[i], drift_slope=slopes[i],
                     overlap_in_reference=(0.0, info.duration),
                     overlap_in_source=(0.0, info.duration))
        wanted = dec.names[i] if i < len(dec.names) else None
        if wanted and wanted not in taken:
            name = wanted
            taken.add(name)
        else:
            name = angle_name(p, taken)
        angles.append(Angle(index=i, path=p, info=info, sidecar=sc, name=name))
    return angles


def read_timeline(path: str | os.PathLike) -> otio.schema.Timeline:
    """Read a ``.otio`` file; :class:`CorruptFileError` if it is missing or unreadable."""
    path = Path(path)
    if not path.is_file():
        raise CorruptFileError("timeline not found", path)
    try:
        tl = otio.adapters.read_from_file(str(path), adapter_name="otio_json")
    except Exception as exc:  # OTIO raises many types for a damaged file
        reason = str(exc).splitlines()[0][:120] if str(exc) else type(exc).__name__
        raise CorruptFileError(f"unreadable timeline ({reason})", path) from None
    if not isinstance(tl, otio.schema.Timeline):
        raise CorruptFileError("not a timeline (an OTIO file of another kind)", path)
    return tl


def timeline_from_file(path: str | os.PathLike, rate=None,
                       name: Optional[str] = None) -> otio.schema.Timeline:
    """A Timeline from a ``.otio`` file or an ``edl.json`` auto-edit.

    ``rate`` re-times a polysync timeline (its media are probed again); a ``.otio`` is
    otherwise returned as read. Raises :class:`CorruptFileError` for unreadable files.
    """
    path = Path(path)
    if path.suffix.lower().lstrip(".") in MEDIA_SUFFIXES:
        raise UsageError("a media file, not an edit: give the edl.json or .otio that "
                         "'polysync edit' wrote", path)
    if path.suffix.lower() == ".json":
        dec = read_edl_json(path)
        return build_timeline(angles_from_decisions(dec), dec, rate=rate, name=name or path.stem)
    tl = read_timeline(path)
    meta = tl.metadata.get("polysync")
    if rate is None or not meta or parse_rate(rate) == parse_fraction(meta.get("rate", "0")):
        return tl
    meta = timeline_meta(tl, path)
    if meta.get("kind") == "edit":
        dec = decisions_from_timeline(tl, path)
        return build_timeline(angles_from_decisions(dec), dec, rate=rate, name=name or tl.name)
    dec = EditDecisions(inputs=[Path(a["path"]) for a in meta["angles"]], shots=[],
                        audio_source=0, rate=parse_rate(rate),
                        deltas=[float(a["delta_seconds"]) for a in meta["angles"]],
                        drift_slopes=[float(a["drift_slope"]) for a in meta["angles"]],
                        names=[a["name"] for a in meta["angles"]])
    angles = angles_from_decisions(dec)
    for a, m in zip(angles, meta["angles"]):
        a.sidecar = replace(a.sidecar, audio_stream=m.get("audio_stream"))
    return build_timeline(angles, rate=rate, name=name or tl.name)


__all__ = ["build_timeline", "timeline_from_file", "decisions_from_timeline", "read_timeline",
           "angles_from_decisions", "timeline_meta", "timeline_rate", "role_track", "to_frames",
           "media_grid", "MediaGrid", "timecode_frames", "frames_timecode", "file_url",
           "rate_str", "media_rate", "PIP_TRANSFORM", "TIMELINE_VERSION"]
