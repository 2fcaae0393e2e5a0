"""Preview renders: ``render-cuts`` and ``render-pip``, exactly what the timeline says.

    polysync render-cuts edl.json --out final.mp4
    polysync render-pip edl.json --out final.mp4 --pip bottom-right
    polysync render-cuts cut.otio --out preview.mp4 --width 1280 --height 720 --crf 23

The input is an auto-edit (``edl.json`` or a ``.otio`` timeline); both become the same OTIO
timeline (:func:`polysync.timeline.timeline_from_file`), and the render draws its Program
track, its PiP track and its Program audio (see :mod:`polysync.render_plan`) in ONE ffmpeg run
(see :mod:`polysync.render_graph`). The output appears whole under its name or not at all.
"""

from __future__ import annotations

import collections
import os
import shlex
import subprocess
import sys
import tempfile
import threading
import time
from fractions import Fraction
from pathlib import Path
from typing import Callable, Optional

import click

from .errors import ExternalToolError, UsageError
from .fsutil import atomic_path
from .media import find_ffmpeg
from .render_graph import (CORNERS, RenderOptions, build_command,
                           output_format, slog3_to_rec709_lut)
from .render_plan import PIP_PICKS, RenderPlan, plan_from_timeline

ProgressFn = Callable[[float, float], None]
"""Called with (fraction done 0..1, speed as a multiple of real time)."""


def run_ffmpeg(cmd: list[str], duration: float, progress: Optional[ProgressFn] = None,
               out: object = None) -> None:
    """Run ffmpeg, reporting its ``-progress pipe:1`` output; raise :class:`ExternalToolError`
    naming ``out`` (the output) with the tail of its messages when it fails. ``duration``:
    output length, seconds."""
    try:
        proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True, errors="replace")
    except OSError as exc:
        raise ExternalToolError(f"cannot run ffmpeg ({exc.strerror or exc})", cmd[0]) from None
    tail: collections.deque[str] = collections.deque(maxlen=20)

    def drain():
        for line in proc.stderr:
            if line.strip():
                tail.append(line.strip())

    reader = threading.Thread(target=drain, daemon=True)
    reader.start()
    try:
        speed = 0.0
        for line in proc.stdout:
            key, _, value = line.strip().partition("=")
            if key == "speed" and value.endswith("x"):
                try:
                    speed = float(value[:-1])
                except ValueError:
                    pass
            elif key == "out_time_us" and progress is not None and duration > 0:
                try:
                    progress(min(1.0, max(0.0, int(value) / 1e6 / duration)), speed)
                except ValueError:
                    pass
            elif key == "progress" and value == "end" and progress is not None:
                progress(1.0, speed)
        code = proc.wait()
    except BaseException:
        proc.kill()
        proc.wait()
        raise
    reader.join(timeout=5)
    if code != 0:
        message = " | ".join(list(tail)[-3:]) or f"exit status {code}"
        raise ExternalToolError(f"ffmpeg failed: {message}", out)


def render_plan_to(plan: RenderPlan, out: str | os.PathLike, opts: RenderOptions,
                   progress: Optional[ProgressFn] = None, log: Optional[str] = None,
                   show_command: Optional[Callable[[str], None]] = None) -> Path:
    """Render ``plan`` to ``out`` (written under a temporary name beside it, then renamed).

    ``log``: a built-in camera-log grade ("slog3") used when ``opts.lut`` is not set.
    Raises :class:`ExternalToolError` when ffmpeg fails; nothing is left at ``out`` then.
    """
    out = Path(out)
    fmt = output_format(out)
    ffmpeg = find_ffmpeg()
    with tempfile.TemporaryDirectory(prefix="polysync-render-") as tmp:
        work = Path(tmp)
        if opts.lut is None and log:
            if log.lower() != "slog3":
                raise UsageError(f"unknown --log {log!r} (known: slog3)")
            opts.lut = slog3_to_rec709_lut(work / "slog3_709.cube")
        with atomic_path(out) as part:
            cmd = build_command(plan, opts, ffmpeg, part, fmt, work)
            if show_command is not None:
                show_command(shlex.join(cmd))
            run_ffmpeg(cmd, float(plan.duration), progress, out)
    return out


def render(source: str | os.PathLike, out: str | os.PathLike, opts: Optional[RenderOptions] = None,
           pip: bool = False, pip_pick: str = "next", start: Optional[float] = None,
           duration: Optional[float] = None, log: Optional[str] = None,
           progress: Optional[ProgressFn] = None) -> Path:
    """Render the auto-edit ``source`` (``edl.json``, ``.otio`` or an OTIO Timeline) to ``out``.

    ``pip``: draw the inset (render-pip); ``start``/``duration``: timeline seconds to render
    (default all). Returns the output path.
    """
    from .timeline import timeline_from_file

    opts = opts or RenderOptions()
    tl = source if not isinstance(source, (str, os.PathLike)) else timeline_from_file(source)
    plan = plan_from_timeline(tl, rate=opts.rate, pip=pip, pip_pick=pip_pick, start=start,
                              duration=duration)
    return render_plan_to(plan, out, opts, progress, log)


# -- command line ---------------------------------------------------------------------------

class _Progress:
    """Render progress on stderr: a live line on a terminal, every 10 % otherwise."""

    def __init__(self, quiet: bool):
        self.quiet, self.tty, self.last, self.shown = quiet, sys.stderr.isatty(), 0.0, -1
        self.started = time.monotonic()

    def __call__(self, frac: float, speed: float) -> None:
        if self.quiet:
            return
        now = time.monotonic()
        if self.tty:
            if now - self.last > 0.25 or frac >= 1.0:
                self.last = now
                click.echo(f"\rrendering {frac:6.1%}  {speed:5.2f}x", err=True, nl=False)
        elif int(frac * 10) > self.shown:
            self.shown = int(frac * 10)
            click.echo(f"rendering {frac:.0%} ({speed:.2f}x)", err=True)

    def done(self) -> None:
        if self.tty and not self.quiet:
            click.echo("", err=True)


def _parse_rotate(values) -> dict[int, int]:
    out = {}
    for v in values or ():
        cam, sep, deg = v.partition(":")
        try:
            out[int(cam)] = int(deg)
        except ValueError:
            raise click.BadParameter(f"expects CAM:DEG (e.g. 1:90), got {v!r}",
                                     param_hint="--rotate") from None
        if not sep:
            raise click.BadParameter(f"expects CAM:DEG, got {v!r}", param_hint="--rotate")
    return out


def _check_angles(opts: RenderOptions, n: int) -> None:
    """--rotate and --audio-cams must name angles of the timeline (0..n-1)."""
    for cam in opts.rotate:
        if not 0 <= cam < n:
            raise UsageError(f"--rotate {cam}:{opts.rotate[cam]}: the timeline's angles are "
                             f"0..{n - 1}")
    for cam in opts.audio_cams or ():
        if not 0 <= cam < n:
            raise UsageError(f"--audio-cams {cam}: the timeline's angles are 0..{n - 1}")


def _parse_cams(value: Optional[str]) -> Optional[list[int]]:
    if value is None:
        return None
    try:
        return [int(x) for x in value.split(",") if x.strip()]
    except ValueError:
        raise click.BadParameter(f"expects a comma-separated list of angle indices, got "
                                 f"{value!r}", param_hint="--audio-cams") from None


def _parse_fps(value: Optional[str]) -> Optional[Fraction]:
    from .decisions import user_rate

    return None if value is None else user_rate(value)


def _common(fn):
    options = [
        click.argument("edl", type=click.Path(path_type=Path)),
        click.option("--out", "-o", required=True, type=click.Path(path_type=Path),
                     help="Output video (.mp4, .m4v, .mov or .mkv)."),
        click.option("--width", type=int, default=1280, show_default=True),
        click.option("--height", type=int, default=720, show_default=True),
        click.option("--fps", help="Output frame rate, e.g. 25 or 30000/1001 "
                                   "[default: the timeline's]."),
        click.option("--encoder", default="libx264", show_default=True,
                     help="ffmpeg video encoder (h264_videotoolbox, h264_nvenc, libx265 ...)."),
        click.option("--crf", type=float, help="Quality for libx264/libx265 [default: 23/28]."),
        click.option("--preset", help="Encoder preset [default: veryfast for libx264/265]."),
        click.option("--bitrate", help="Video bitrate, e.g. 8M (instead of --crf)."),
        click.option("--lut", type=click.Path(path_type=Path),
                     help="3D LUT (.cube) applied after scaling; wins over --log."),
        click.option("--log", "log_curve", help="Built-in log to Rec.709 grade (slog3)."),
        click.option("--rotate", multiple=True,
                     help="Extra clockwise rotation of one angle, CAM:DEG (90, 180, 270); "
                          "repeatable."),
        click.option("--fill", is_flag=True,
                     help="Crop to fill the frame instead of letterboxing."),
        click.option("--duck-audio", is_flag=True,
                     help="Mix every mic: the one of the angle on screen up, the others down."),
        click.option("--duck-db", type=float, default=-18.0, show_default=True,
                     help="Level of the ducked (inactive) mics, dB."),
        click.option("--audio-cams", help="Comma-separated angle indices whose mics "
                                          "--duck-audio mixes [default: the angles on screen, "
                                          "not the wide]."),
        click.option("--start", type=float, help="Render from this timeline second."),
        click.option("--duration", type=float, help="Render this many seconds."),
        click.option("--quiet", "-q", is_flag=True, help="No progress on stderr."),
        click.option("--verbose", "-v", is_flag=True, help="Print the ffmpeg command."),
    ]
    for opt in reversed(options):
        fn = opt(fn)
    return fn


def _run(edl, out, pip, kw) -> None:
    from .timeline import timeline_from_file, timeline_meta

    output_format(Path(out))  # a bad name fails before the timeline is read

    opts = RenderOptions(
        width=kw["width"], height=kw["height"], rate=_parse_fps(kw["fps"]),
        encoder=kw["encoder"], crf=kw["crf"], preset=kw["preset"], bitrate=kw["bitrate"],
        rotate=_parse_rotate(kw["rotate"]), fill=kw["fill"], lut=kw["lut"],
        pip_corner=kw.get("pip"), pip_width=kw.get("pip_width"),
        pip_margin=kw.get("pip_margin"),
        border_px=kw["border_px"] if kw.get("border_px") is not None else 4,
        duck_audio=kw["duck_audio"], duck_db=kw["duck_db"],
        audio_cams=_parse_cams(kw["audio_cams"]))
    opts.check()
    tl = timeline_from_file(edl)
    _check_angles(opts, len(timeline_meta(tl, edl)["angles"]))
    plan = plan_from_timeline(tl, rate=opts.rate, pip=pip, pip_pick=kw.get("pip_pick") or "next",
                              start=kw["start"], duration=kw["duration"])
    for w in plan.warnings:
        click.echo(f"polysync: warning: {w}", err=True)
    if pip and not kw["quiet"]:
        from .render_graph import GraphBuilder

        pw, ph, b, x, y = GraphBuilder(plan, opts, Path(".")).pip_geometry()
        click.echo(f"PiP {opts.width}x{opts.height}, inset {pw}x{ph} (+{b}px) at {x},{y}; "
                   f"{len(plan.sources)} cams; {len(plan.program)} shots, "
                   f"{len(plan.pip)} insets", err=True)
    progress = _Progress(kw["quiet"])
    started = time.monotonic()
    echo = (lambda c: click.echo(c, err=True)) if kw["verbose"] else None
    render_plan_to(plan, out, opts, progress, kw["log_curve"], show_command=echo)
    progress.done()
    click.echo(f"{out}  {float(plan.duration):.2f} s, {plan.frames} frames at "
               f"{plan.rate.numerator}/{plan.rate.denominator} fps, "
               f"rendered in {time.monotonic() - started:.1f} s")


@click.command("render-cuts")
@_common
def render_cuts(edl, out, **kw):
    """Render the auto-edit EDL (edl.json or .otio) as a cut-by-cut preview video."""
    from .cli import fail_cleanly  # here, not at import: cli registers this command

    fail_cleanly(_run)(edl, out, False, kw)


@click.command("render-pip")
@_common
@click.option("--pip", type=click.Choice(CORNERS), help="Inset corner [default: the "
              "timeline's, else bottom-right].")
@click.option("--pip-width", type=int, help="Inset width, px [default: the timeline's scale].")
@click.option("--pip-margin", type=int, help="Gap from the frame edges to the border, px.")
@click.option("--border-px", type=int, default=4, show_default=True,
              help="White border around the inset, px (0: none).")
@click.option("--pip-pick", type=click.Choice(PIP_PICKS), default="next", show_default=True,
              help="How insets are chosen when the edit decided none.")
def render_pip(edl, out, **kw):
    """Render the auto-edit EDL (edl.json or .otio) with a picture-in-picture inset."""
    from .cli import fail_cleanly  # here, not at import: cli registers this command

    fail_cleanly(_run)(edl, out, True, kw)


__all__ = ["render", "render_plan_to", "run_ffmpeg", "render_cuts", "render_pip", "RenderOptions"]
