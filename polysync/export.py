"""``polysync export``: synced angles or an auto-edit, written for an editor.

Inputs are media files (synced by their sidecars), one ``polysync-session.json`` from
``sync --all``, or one timeline: a ``.otio`` or an ``edl.json`` auto-edit. The output's format follows its suffix (``--format`` overrides):

====================  =========  ==========================================================
``.otio``             otio       OpenTimelineIO, the structure of :mod:`polysync.timeline`
``.fcpxml``           fcpxml     Final Cut Pro multicam clip (+ project for an edit)
``.xml``              xml        Premiere Pro / DaVinci Resolve / FCP7 XML (xmeml)
``.edl``              edl        CMX 3600: the Program track (or the first angle with picture)
====================  =========  ==========================================================
"""

from __future__ import annotations

import copy
import os
import re
import unicodedata
from pathlib import Path
from typing import Optional, Sequence

import click
import opentimelineio as otio

from .decisions import user_rate
from .errors import OutputError, UsageError
from .fsutil import atomic_write_text
from .session import load_angles
from .timeline import (build_timeline, is_drop_frame_rate, role_track, timeline_from_file,
                       timeline_meta, timeline_rate)

FORMATS = {"otio": "otio", "fcpxml": "fcpxml", "xml": "xml", "premiere": "xml",
           "fcp7xml": "xml", "xmeml": "xml", "edl": "edl", "cmx3600": "edl"}
SUFFIXES = {".otio": "otio", ".fcpxml": "fcpxml", ".xml": "xml", ".edl": "edl"}
FCPXML_VERSIONS = ("1.8", "1.9", "1.10", "1.11")
TIMELINE_SUFFIXES = (".otio", ".json")


def output_format(out: Path, fmt: Optional[str] = None) -> str:
    """The format to write: ``fmt`` if given, else from ``out``'s suffix. UsageError otherwise."""
    if fmt:
        key = FORMATS.get(fmt.lower())
        if key is None:
            raise UsageError(f"unknown format {fmt!r} (use otio, fcpxml, xml or edl)")
        return key
    key = SUFFIXES.get(out.suffix.lower())
    if key is None:
        raise UsageError(f"cannot tell the format from the suffix {out.suffix or '(none)'!r}: "
                         "use .otio, .fcpxml, .xml or .edl, or --format", out)
    return key


def load_timeline(inputs: Sequence[str | os.PathLike], rate=None, sidecar_dir=None,
                  name: Optional[str] = None) -> otio.schema.Timeline:
    """The Timeline of ``inputs``: media files read with their sidecars, one
    ``polysync-session.json`` (from ``sync --all``), or one timeline file (.otio, edl.json)."""
    paths = [Path(p) for p in inputs]
    if not paths:
        raise UsageError("no input files given")
    timelines = [p for p in paths if p.suffix.lower() in TIMELINE_SUFFIXES]
    if timelines:
        if len(paths) > 1:
            raise UsageError("give either media files or one timeline (.otio / edl.json), "
                             "not both", timelines[0])
        from .group import is_session_file

        if is_session_file(paths[0]):  # polysync-session.json: its clips, by their sidecars
            return build_timeline(load_angles(paths, sidecar_dir=sidecar_dir), rate=rate,
                                  name=name)
        return timeline_from_file(paths[0], rate=rate, name=name)
    return build_timeline(load_angles(paths, sidecar_dir=sidecar_dir), rate=rate, name=name)


def write_timeline(tl: otio.schema.Timeline, out: str | os.PathLike, fmt: Optional[str] = None,
                   fcpxml_version: str = "1.10") -> Path:
    """Write ``tl`` to ``out`` atomically, in ``fmt`` (default: from the suffix)."""
    out = Path(out)
    atomic_write_text(out, render(tl, fmt or output_format(out), fcpxml_version))
    return out


def render(tl: otio.schema.Timeline, fmt: str, fcpxml_version: str = "1.10") -> str:
    """The text of ``tl`` in format ``fmt`` (otio, fcpxml, xml, edl)."""
    if fmt == "otio":
        return otio.adapters.write_to_string(tl, adapter_name="otio_json")
    if fmt == "fcpxml":
        return otio.adapters.write_to_string(tl, adapter_name="polysync_fcpxml",
                                             version=fcpxml_version)
    if fmt == "xml":
        return otio.adapters.write_to_string(tl, adapter_name="polysync_fcp7xml")
    if fmt == "edl":
        return edl_text(tl)
    raise UsageError(f"unknown format {fmt!r}")


def reel_names(names: Sequence[str]) -> list[str]:
    """Unique CMX reel names (at most 8 characters of A-Z, 0-9, _) for angle names."""
    out: list[str] = []
    for k, name in enumerate(names):
        ascii_ = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
        base = re.sub(r"[^A-Z0-9]+", "_", ascii_.upper()).strip("_")[:8] or f"CAM{k + 1}"
        reel, n = base, 2
        while reel in out:
            tail = str(n)
            reel, n = base[: 8 - len(tail)] + tail, n + 1
        out.append(reel)
    return out


def _ascii(text: str) -> str:
    return unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode() or "polysync"


def _on_edl_grid(track: otio.schema.Track, rate: float) -> None:
    """Put every item's source range on whole frames of the EDL's one rate, in place.

    An angle shot at another rate (59.94 on a 25 fps timeline) starts between two frames of
    the EDL's rate; the adapter would round its source in and out apart and the record side
    apart from them (55 source frames against 56). Record boundaries are rounded from the
    exact running time, each source in is rounded, and the source takes the record length."""
    elapsed = otio.opentime.RationalTime(0, rate)
    rec_in = 0
    for item in track:
        sr = item.source_range or item.available_range()
        elapsed = elapsed + sr.duration
        rec_out = round(elapsed.value_rescaled_to(rate))
        start = round(sr.start_time.value_rescaled_to(rate))
        item.source_range = otio.opentime.TimeRange(otio.opentime.RationalTime(start, rate),
                                                    otio.opentime.RationalTime(rec_out - rec_in,
                                                                               rate))
        rec_in = rec_out


def edl_text(tl: otio.schema.Timeline) -> str:
    """CMX 3600 of the Program track (or the first angle with picture), through OTIO's
    ``cmx_3600`` adapter: clean reel names, drop-frame timecode at 29.97/59.94."""
    meta = timeline_meta(tl)
    rate = timeline_rate(tl)
    track = role_track(tl, "program") or next(
        (t for t in tl.tracks if t.kind == otio.schema.TrackKind.Video and len(t)), None)
    if track is None:
        raise UsageError("the timeline has no video to put in an EDL")
    reels = reel_names([a["name"] for a in sorted(meta["angles"], key=lambda a: a["index"])])
    track = copy.deepcopy(track)
    track.enabled = True
    _on_edl_grid(track, float(rate))
    for item in track:
        if isinstance(item, otio.schema.Clip):
            cam = (item.metadata.get("polysync") or {}).get("cam", 0)
            item.metadata["cmx_3600"] = {"reel": reels[cam]}
            item.name = _ascii(item.name)
    edl = otio.schema.Timeline(name=_ascii(tl.name or "polysync"),
                               global_start_time=tl.global_start_time)
    edl.tracks.append(track)
    text = otio.adapters.write_to_string(edl, adapter_name="cmx_3600", rate=float(rate),
                                         style="avid", reelname_len=8)
    fcm = "FCM: DROP FRAME" if is_drop_frame_rate(rate) else "FCM: NON-DROP FRAME"
    lines = text.splitlines()
    at = 1 if lines and lines[0].startswith("TITLE:") else 0
    return "\n".join(lines[:at] + [fcm] + lines[at:]) + "\n"


def export_timeline(inputs: Sequence[str | os.PathLike], out: str | os.PathLike,
                    fmt: Optional[str] = None, fcpxml_version: str = "1.10", rate=None,
                    sidecar_dir: str | os.PathLike | None = None) -> otio.schema.Timeline:
    """Write the timeline of ``inputs`` to ``out`` (atomically) and return it.

    ``rate``: timeline frame rate ("30000/1001", 29.97, 25 ...; default the reference angle's).
    Raises :class:`UsageError` for an unknown format, :class:`CorruptFileError` for a missing,
    stale or unreadable sidecar or timeline, :class:`MediaError` for missing media.
    """
    out = Path(out)
    kind = output_format(out, fmt)
    if str(fcpxml_version) not in FCPXML_VERSIONS:
        raise UsageError(f"FCPXML version {fcpxml_version} is not supported (use "
                         + ", ".join(FCPXML_VERSIONS) + ")")
    if rate is not None:
        rate = user_rate(rate)
    resolved = out.resolve()
    for p in inputs:
        if Path(p).resolve() == resolved and Path(p).suffix.lower() not in TIMELINE_SUFFIXES:
            raise OutputError("refusing to overwrite an input media file", out)
    tl = load_timeline(inputs, rate=rate, sidecar_dir=sidecar_dir, name=out.stem)
    if kind != "otio":
        timeline_meta(tl, inputs[0])  # the other writers need polysync's structure
    write_timeline(tl, out, kind, str(fcpxml_version))
    return tl


@click.command("export")
@click.argument("inputs", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--out", "-o", required=True, type=click.Path(path_type=Path),
              help="Output file; its suffix picks the format (.otio .fcpxml .xml .edl).")
@click.option("--format", "fmt", type=click.Choice(sorted(FORMATS), case_sensitive=False),
              help="Format to write, whatever the suffix.")
@click.option("--fcpxml-version", type=click.Choice(FCPXML_VERSIONS), default="1.10",
              show_default=True, help="FCPXML version (Final Cut Pro 10.4 reads 1.8).")
@click.option("--rate", help="Timeline frame rate, e.g. 25, 29.97, 30000/1001 "
                             "(default: the reference angle's).")
@click.option("--sidecar-dir", type=click.Path(path_type=Path),
              help="Read sidecars from here instead of beside the media.")
def export(inputs, out, fmt, fcpxml_version, rate, sidecar_dir):
    """Write synced angles (INPUTS are media with sidecars) or an auto-edit (one edl.json or
    .otio) as OpenTimelineIO, FCPXML multicam, Premiere/Resolve XML or a CMX 3600 EDL."""
    from .cli import fail_cleanly  # here, not at import: cli registers this command

    fail_cleanly(_export)(inputs, out, fmt, fcpxml_version, rate, sidecar_dir)


def _export(inputs, out, fmt, fcpxml_version, rate, sidecar_dir) -> None:
    tl = export_timeline(inputs, out, fmt=fmt, fcpxml_version=fcpxml_version, rate=rate,
                         sidecar_dir=sidecar_dir)
    meta = tl.metadata.get("polysync") or {"angles": []}
    kind = output_format(out, fmt)
    program = role_track(tl, "program")
    shots = sum(isinstance(c, otio.schema.Clip) for c in program) if program is not None else 0
    r = tl.duration().rate
    what = f"{shots} shots" if meta.get("kind") == "edit" else "synced angles"
    label = {"otio": "OpenTimelineIO", "fcpxml": f"FCPXML {fcpxml_version}",
             "xml": "Premiere/FCP7 XML", "edl": "CMX 3600 EDL"}[kind]
    click.echo(f"wrote {out} ({label}: {len(meta['angles'])} angles, {what}, "
               f"{r:.3f} fps, {float(tl.duration().to_seconds()):.2f} s)")
    if kind == "edl" and program is None and len(meta["angles"]) > 1:
        click.echo("polysync: warning: a CMX 3600 EDL holds one track, so it has only the first "
                   "angle with picture; the multicam needs .otio, .fcpxml or .xml", err=True)


__all__ = ["export_timeline", "load_timeline", "render", "edl_text", "reel_names",
           "output_format", "export"]
