"""OTIO adapter ``polysync_fcpxml``: a polysync timeline as a Final Cut Pro multicam clip.

Writes FCPXML 1.8, 1.9, 1.10 or 1.11 (``version=``), valid against Apple's DTD of that version:

* ``<resources>``: a ``<format>`` per frame rate and size, an ``<asset>`` per file (1.8: ``src``
  attribute; 1.9+: ``<media-rep kind="original-media">``) whose ``start`` is the file's embedded
  start timecode, and a ``<media><multicam>`` with one ``<mc-angle>`` per angle holding a gap
  then the ``<asset-clip>`` at the angle's offset (several abutting ones for a drifting clock).
  Multicam time 0 is timeline time 0.
* ``<library><event>``: the multicam as a browser clip, and for an auto-edit a ``<project>``
  whose spine has one ``<mc-clip>`` per shot choosing the picture angle
  (``<mc-source srcEnable="video">``) and the sound angle (``srcEnable="audio"``); a
  picture-in-picture inset is a connected ``<mc-clip lane="1">`` with an ``<adjust-transform>``.

Every time is a rational number of seconds on a frame grid: offsets and durations on the
timeline's, ``start`` of an asset-clip on its asset's (samples for audio-only media).
An angle whose clock drifts comes as consecutive asset-clips, each re-anchored on the drift
model (see :mod:`polysync.timeline`), so the multicam - and every cut of the project, which
shows the multicam - stays in sync over long shoots.
"""

from __future__ import annotations

import hashlib
from fractions import Fraction

from lxml import etree

from polysync.errors import UsageError

from polysync_adapters.common import Placement, View, pip_geometry, read_view, time_text

VERSIONS = ("1.8", "1.9", "1.10", "1.11")
DEFAULT_VERSION = "1.10"

_AUDIO_HZ = {32000: "32k", 44100: "44.1k", 48000: "48k", 88200: "88.2k", 96000: "96k",
             176400: "176.4k", 192000: "192k"}
_RATE_CODE = {Fraction(24000, 1001): "2398", Fraction(24): "24", Fraction(25): "25",
              Fraction(30000, 1001): "2997", Fraction(30): "30", Fraction(50): "50",
              Fraction(60000, 1001): "5994", Fraction(60): "60"}
_SIZE_CODE = {(1280, 720): "720", (1920, 1080): "1080", (3840, 2160): "3840x2160",
              (4096, 2160): "4096x2160"}


def write_to_string(input_otio, version: str = DEFAULT_VERSION, **_ignored) -> str:
    """FCPXML text of a polysync timeline (see the module doc)."""
    version = str(version)
    if version not in VERSIONS:
        raise UsageError(f"FCPXML version {version} is not supported (use one of "
                         + ", ".join(VERSIONS) + ")")
    root = _Writer(read_view(input_otio), version).build()
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True,
                          doctype="<!DOCTYPE fcpxml>").decode("utf-8")


def angle_id(view: View, index: int) -> str:
    """A stable angle ID: the angle's position and a hash of its file URL."""
    digest = hashlib.sha1(view.media[index].url.encode("utf-8")).hexdigest()[:12]
    return f"polysync-{index}-{digest}"


class _Writer:
    def __init__(self, view: View, version: str):
        self.v = view
        self.version = version
        self.next_id = 0
        self.formats: dict[tuple, str] = {}
        self.assets: dict[int, str] = {}
        self.asset_formats: dict[int, str] = {}

    def _id(self) -> str:
        self.next_id += 1
        return f"r{self.next_id}"

    def t(self, frames: int) -> str:
        """Timeline frames as FCPXML time."""
        return time_text(frames, self.v.rate)

    def build(self) -> etree._Element:
        v = self.v
        root = etree.Element("fcpxml", version=self.version)
        resources = etree.SubElement(root, "resources")
        width, height = v.frame_size()
        seq_format = self._format(resources, v.rate, width, height)
        for i in sorted(v.media):
            self._asset(resources, i)
        media_id = self._id()
        media = etree.SubElement(resources, "media", id=media_id, name=f"{v.name} multicam")
        multicam = etree.SubElement(media, "multicam", format=seq_format, tcStart="0s",
                                    tcFormat=self._tc_format())
        for i in sorted(v.media):
            self._angle(multicam, i)

        library = etree.SubElement(root, "library")
        event = etree.SubElement(library, "event", name=v.name)
        clip = etree.SubElement(event, "mc-clip", ref=media_id, offset="0s",
                                name=f"{v.name} multicam", start="0s", duration=self.t(v.duration))
        video = next(iter(v.video_order), None)
        self._sources(clip, video, v.audio_source if v.audio_source in v.media else None)
        if v.kind == "edit" and v.program:
            self._project(event, media_id, seq_format)
        return root

    def _tc_format(self) -> str:
        return "DF" if self.v.drop_frame else "NDF"

    def _format(self, parent, rate: Fraction, width: int, height: int) -> str:
        key = (rate, width, height)
        if key not in self.formats:
            fid = self._id()
            attrs = {"id": fid}
            if key[1:] in _SIZE_CODE and rate in _RATE_CODE:
                attrs["name"] = f"FFVideoFormat{_SIZE_CODE[key[1:]]}p{_RATE_CODE[rate]}"
            attrs.update(frameDuration=time_text(1, rate), width=str(width), height=str(height))
            etree.SubElement(parent, "format", attrs)
            self.formats[key] = fid
        return self.formats[key]

    def _asset(self, resources, i: int) -> None:
        m = self.v.media[i]
        if m.has_video:
            self.asset_formats[i] = self._format(resources, m.rate, m.width or 1920,
                                                 m.height or 1080)
        aid = self._id()
        attrs = {"id": aid, "name": m.name}
        if self.version == "1.8":
            attrs["src"] = m.url
        attrs.update(start=time_text(m.tc_start, m.rate), duration=time_text(m.frames, m.rate))
        if m.has_video:
            attrs.update(hasVideo="1", format=self.asset_formats[i])
        if m.has_audio:
            attrs.update(hasAudio="1", audioSources=str(max(1, m.audio_streams)),
                         audioChannels=str(m.audio_channels or 2),
                         audioRate=str(m.audio_rate or 48000))
        asset = etree.SubElement(resources, "asset", attrs)
        if self.version != "1.8":
            etree.SubElement(asset, "media-rep", kind="original-media", src=m.url)
        self.assets[i] = aid

    def _angle(self, multicam, i: int) -> None:
        m = self.v.media[i]
        angle = etree.SubElement(multicam, "mc-angle", name=m.name, angleID=angle_id(self.v, i))
        cursor = 0
        for p in self.v.angle_video.get(i) or self.v.angle_audio.get(i) or []:
            if p.position > cursor:
                etree.SubElement(angle, "gap", name="Gap", offset=self.t(cursor),
                                 start=self.t(cursor), duration=self.t(p.position - cursor))
            attrs = {"ref": self.assets[i], "offset": self.t(p.position), "name": m.name,
                     "start": time_text(m.tc_start + p.source, m.rate),
                     "duration": self.t(p.duration)}
            if i in self.asset_formats:
                attrs["format"] = self.asset_formats[i]
            if m.timecode:
                attrs["tcFormat"] = "DF" if m.drop_frame else "NDF"
            etree.SubElement(angle, "asset-clip", attrs)
            cursor = p.end

    def _sources(self, clip, video, audio) -> None:
        """``<mc-source>`` children choosing the picture and the sound angle."""
        if video is not None and video == audio:
            etree.SubElement(clip, "mc-source", angleID=angle_id(self.v, video), srcEnable="all")
            return
        if video is not None:
            etree.SubElement(clip, "mc-source", angleID=angle_id(self.v, video),
                             srcEnable="video")
        if audio is not None:
            etree.SubElement(clip, "mc-source", angleID=angle_id(self.v, audio),
                             srcEnable="audio")

    def _project(self, event, media_id: str, seq_format: str) -> None:
        v = self.v
        audio_hz = v.media[v.audio_source].audio_rate if v.audio_source in v.media else None
        project = etree.SubElement(event, "project", name=v.name)
        sequence = etree.SubElement(project, "sequence", {
            "format": seq_format, "duration": self.t(v.duration), "tcStart": "0s",
            "tcFormat": self._tc_format(), "audioLayout": "stereo",
            "audioRate": _AUDIO_HZ.get(audio_hz or 48000, "48k")})
        spine = etree.SubElement(sequence, "spine")
        parents = []  # (position, end, element) of each spine item, for connecting insets
        cursor = 0
        for shot in v.program:
            if shot.position > cursor:
                parents.append((cursor, shot.position, self._gap(spine, cursor, shot.position)))
            clip = etree.SubElement(spine, "mc-clip", ref=media_id, offset=self.t(shot.position),
                                    name=v.media[shot.cam].name, start=self.t(shot.position),
                                    duration=self.t(shot.duration))
            self._sources(clip, shot.cam, v.audio_source if v.audio_source in v.media else None)
            parents.append((shot.position, shot.end, clip))
            cursor = shot.end
        if v.duration > cursor:
            parents.append((cursor, v.duration, self._gap(spine, cursor, v.duration)))
        for inset in v.pip:
            parent = next((el for a, b, el in parents if a <= inset.position < b), None)
            if parent is not None:
                self._inset(parent, media_id, inset)

    def _gap(self, spine, start: int, end: int):
        # A gap's local time starts at its timeline position, so insets on it use that too.
        return etree.SubElement(spine, "gap", name="Gap", offset=self.t(start),
                                start=self.t(start), duration=self.t(end - start))

    def _inset(self, parent, media_id: str, inset: Placement) -> None:
        """A picture-in-picture clip connected above ``parent`` (whose local time is timeline
        time, since every spine item's ``start`` equals its ``offset``)."""
        v = self.v
        width, height = v.frame_size()
        scale, dx, dy = pip_geometry(inset.transform, width, height)
        clip = etree.Element("mc-clip", ref=media_id, lane="1", offset=self.t(inset.position),
                             name=v.media[inset.cam].name, start=self.t(inset.position),
                             duration=self.t(inset.duration), srcEnable="video")
        source = etree.SubElement(clip, "mc-source", angleID=angle_id(v, inset.cam),
                                  srcEnable="video")
        # FCP positions are in percent of the frame height, y up.
        etree.SubElement(source, "adjust-transform",
                         position=f"{_num(dx / height * 100)} {_num(dy / height * 100)}",
                         scale=f"{_num(scale)} {_num(scale)}")
        # Connected clips go after the parent's mc-source elements and before its metadata.
        anchor = len([c for c in parent if c.tag in ("note", "conform-rate", "timeMap",
                                                     "adjust-volume", "adjust-panner",
                                                     "mc-source", "mc-clip")])
        parent.insert(anchor, clip)


def _num(x: float) -> str:
    return f"{x:.4f}".rstrip("0").rstrip(".") if x != 0 else "0"
