"""OTIO adapter ``polysync_fcp7xml``: a polysync timeline as FCP7 XML (xmeml) for Premiere Pro,
DaVinci Resolve and Final Cut Pro 7.

One ``<sequence>`` (``<rate><timebase><ntsc>``, start timecode 00:00:00:00, drop frame at
29.97/59.94 unless the timeline says otherwise):

* video tracks, bottom to top: one per angle with picture (its clip where the angle exists, in
  pieces re-anchored on the drift model when its clock drifts), the Program (an auto-edit, one
  clipitem per shot with the drift-corrected in-point), and the PiP insets above it, scaled and
  moved by a Basic Motion filter;
* audio tracks: one per angle with sound (linked to its video clip; only the sound source is
  enabled, none in an edit), then the Program audio.

Each ``<file id>`` is written in full once and referenced by id afterwards; ``<pathurl>`` is a
percent-encoded ``file://localhost/`` URL. ``<start>/<end>`` are sequence frames; ``<in>/<out>``
are frames of the clip's own ``<rate>`` (the file's; audio-only files use the sequence rate)
counted from the file's first frame, the file's start timecode being in its ``<timecode>``.
"""

from __future__ import annotations

import math
from fractions import Fraction
from typing import Optional

from lxml import etree

from polysync.errors import UsageError
from polysync.timeline import frame_round, frames_timecode
from polysync_adapters.common import Media, Placement, View, pip_geometry, read_view

VERSIONS = (4, 5)


def write_to_string(input_otio, xmeml_version: int = 4, **_ignored) -> str:
    """xmeml text of a polysync timeline (see the module doc)."""
    if int(xmeml_version) not in VERSIONS:
        raise UsageError(f"xmeml version {xmeml_version} is not supported (use 4 or 5)")
    root = _Writer(read_view(input_otio), int(xmeml_version)).build()
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True,
                          doctype="<!DOCTYPE xmeml>").decode("utf-8")


def _sub(parent, tag: str, text=None, **attrs):
    el = etree.SubElement(parent, tag, {k: str(v) for k, v in attrs.items()})
    if text is not None:
        el.text = str(text)
    return el


def _rate(parent, rate: Fraction) -> None:
    el = _sub(parent, "rate")
    ntsc = rate.denominator == 1001
    _sub(el, "timebase", math.ceil(rate) if ntsc else frame_round(rate))
    _sub(el, "ntsc", "TRUE" if ntsc else "FALSE")


def _timecode(parent, frames: int, rate: Fraction, drop: bool, text: Optional[str] = None):
    el = _sub(parent, "timecode")
    _rate(el, rate)
    _sub(el, "string", text or frames_timecode(frames, rate, drop))
    _sub(el, "frame", frames)
    _sub(el, "displayformat", "DF" if drop else "NDF")


def _pathurl(url: str) -> str:
    """``file:///a%20b`` -> ``file://localhost/a%20b`` (the form Premiere writes)."""
    return "file://localhost/" + url[len("file:///"):] if url.startswith("file:///") else url


class _Item:
    """A clipitem to write: where it sits and what it links to."""

    def __init__(self, kind: str, track: int, clip: int, placement: Placement, name: str):
        self.kind, self.track, self.clip, self.p, self.name = kind, track, clip, placement, name
        self.id = ""
        self.links: list["_Item"] = []
        self.motion = False


class _Writer:
    def __init__(self, view: View, version: int):
        self.v = view
        self.version = version
        self.files_written: set[int] = set()
        self.count = 0

    def clip_rate(self, m: Media) -> Fraction:
        """The ``<rate>`` of a file and its clips: the video rate, or the sequence's for sound."""
        return m.rate if m.has_video else self.v.rate

    def build(self):
        v = self.v
        video_tracks: list[tuple[str, bool, list[Placement]]] = []
        audio_tracks: list[tuple[str, bool, list[Placement]]] = []
        for i in v.video_order:
            video_tracks.append((v.media[i].name, True, v.angle_video[i]))
        if v.program:
            video_tracks.append(("Program", True, v.program))
        if v.pip:
            video_tracks.append(("PiP", True, v.pip))
        for i in sorted(v.angle_audio):
            audio_tracks.append((v.media[i].name, v.audio_enabled.get(i, True),
                                 v.angle_audio[i]))
        if v.program_audio:
            audio_tracks.append(("Program audio", True, v.program_audio))

        items: dict[str, list[list[_Item]]] = {"video": [], "audio": []}
        for kind, tracks in (("video", video_tracks), ("audio", audio_tracks)):
            for t, (name, _, places) in enumerate(tracks, 1):
                row = [_Item(kind, t, c, p, v.media[p.cam].name) for c, p in enumerate(places, 1)]
                for it in row:
                    it.motion = kind == "video" and name == "PiP"
                items[kind].append(row)
        for row in items["video"] + items["audio"]:
            for it in row:
                self.count += 1
                it.id = f"clipitem-{self.count}"
        # An angle's picture and sound are linked clips, as the camera recorded them (piece by
        # piece when a drifting clock cut the angle).
        sound = {(it.p.cam, it.p.position): it
                 for row in items["audio"][:len(v.angle_audio)] for it in row}
        for row in items["video"][:len(v.video_order)]:
            for picture in row:
                other = sound.get((picture.p.cam, picture.p.position))
                if other is not None:
                    picture.links = other.links = [picture, other]

        root = etree.Element("xmeml", version=str(self.version))
        seq = _sub(root, "sequence", id="sequence-1")
        _sub(seq, "name", v.name)
        _sub(seq, "duration", v.duration)
        _rate(seq, v.rate)
        _timecode(seq, 0, v.rate, v.drop_frame)
        media = _sub(seq, "media")
        video = _sub(media, "video")
        width, height = v.frame_size()
        sc = _sub(_sub(video, "format"), "samplecharacteristics")
        _rate(sc, v.rate)
        _sub(sc, "width", width)
        _sub(sc, "height", height)
        _sub(sc, "anamorphic", "FALSE")
        _sub(sc, "pixelaspectratio", "square")
        _sub(sc, "fielddominance", "none")
        for (_, enabled, _), row in zip(video_tracks, items["video"]):
            self._track(video, row, enabled)
        audio = _sub(media, "audio")
        _sub(audio, "numOutputChannels", 2)
        asc = _sub(_sub(audio, "format"), "samplecharacteristics")
        _sub(asc, "depth", 16)
        _sub(asc, "samplerate", 48000)
        for (_, enabled, _), row in zip(audio_tracks, items["audio"]):
            self._track(audio, row, enabled)
        return root

    def _track(self, parent, row: list[_Item], enabled: bool) -> None:
        track = _sub(parent, "track")
        for it in row:
            self._clipitem(track, it)
        _sub(track, "enabled", "TRUE" if enabled else "FALSE")
        _sub(track, "locked", "FALSE")

    def _clipitem(self, track, it: _Item) -> None:
        v, p = self.v, it.p
        m = v.media[p.cam]
        rate = self.clip_rate(m)
        if m.has_video:
            media_frames, source = m.frames, p.source
        else:  # audio-only: samples -> sequence frames
            media_frames = math.floor(Fraction(m.frames) * rate / m.rate)
            source = frame_round(Fraction(p.source) * rate / m.rate)
        length = frame_round(Fraction(p.duration) * rate / v.rate)
        el = _sub(track, "clipitem", id=it.id)
        _sub(el, "name", it.name)
        _sub(el, "enabled", "TRUE")
        _sub(el, "duration", media_frames)
        _rate(el, rate)
        _sub(el, "start", p.position)
        _sub(el, "end", p.end)
        _sub(el, "in", source)
        _sub(el, "out", source + length)
        self._file(el, m)
        st = _sub(el, "sourcetrack")
        _sub(st, "mediatype", it.kind)
        _sub(st, "trackindex", (m.audio_stream or 0) + 1 if it.kind == "audio" else 1)
        if it.motion:
            self._motion(el, p)
        for other in it.links:
            link = _sub(el, "link")
            _sub(link, "linkclipref", other.id)
            _sub(link, "mediatype", other.kind)
            _sub(link, "trackindex", other.track)
            _sub(link, "clipindex", other.clip)
            if other.kind == "audio":
                _sub(link, "groupindex", 1)

    def _file(self, parent, m: Media) -> None:
        fid = f"file-{m.index + 1}"
        if m.index in self.files_written:
            _sub(parent, "file", id=fid)
            return
        self.files_written.add(m.index)
        rate = self.clip_rate(m)
        f = _sub(parent, "file", id=fid)
        _sub(f, "name", m.path.name)
        _sub(f, "pathurl", _pathurl(m.url))
        _rate(f, rate)
        if m.has_video:
            _sub(f, "duration", m.frames)
            _timecode(f, m.tc_start, rate, m.drop_frame, m.timecode)
        else:
            _sub(f, "duration", math.floor(Fraction(m.frames) * rate / m.rate))
            tc = frame_round(Fraction(m.tc_start) * rate / m.rate)
            _timecode(f, tc, rate, self.v.drop_frame)
        media = _sub(f, "media")
        if m.has_video:
            sc = _sub(_sub(media, "video"), "samplecharacteristics")
            _rate(sc, rate)
            _sub(sc, "width", m.width or 1920)
            _sub(sc, "height", m.height or 1080)
            _sub(sc, "anamorphic", "FALSE")
            _sub(sc, "pixelaspectratio", "square")
            _sub(sc, "fielddominance", "none")
        if m.has_audio:
            for _ in range(max(1, m.audio_streams)):
                audio = _sub(media, "audio")
                sc = _sub(audio, "samplecharacteristics")
                _sub(sc, "depth", 16)
                _sub(sc, "samplerate", m.audio_rate or 48000)
                _sub(audio, "channelcount", m.audio_channels or 2)

    def _motion(self, parent, p: Placement) -> None:
        """Basic Motion: scale in percent, centre offset in frame widths/heights (y down)."""
        width, height = self.v.frame_size()
        scale, dx, dy = pip_geometry(p.transform, width, height)
        effect = _sub(_sub(parent, "filter"), "effect")
        _sub(effect, "name", "Basic Motion")
        _sub(effect, "effectid", "basic")
        _sub(effect, "effectcategory", "motion")
        _sub(effect, "effecttype", "motion")
        _sub(effect, "mediatype", "video")
        param = _sub(effect, "parameter", authoringApp="PremierePro")
        _sub(param, "parameterid", "scale")
        _sub(param, "name", "Scale")
        _sub(param, "valuemin", 0)
        _sub(param, "valuemax", 1000)
        _sub(param, "value", f"{scale * 100:g}")
        param = _sub(effect, "parameter", authoringApp="PremierePro")
        _sub(param, "parameterid", "center")
        _sub(param, "name", "Center")
        value = _sub(param, "value")
        _sub(value, "horiz", f"{dx / width:.6f}")
        _sub(value, "vert", f"{-dy / height:.6f}")
