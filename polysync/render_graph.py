"""The ffmpeg command of a preview render: one run, built from a :class:`RenderPlan`.

Inputs. Each angle a track uses is ONE input: an ffconcat list of that angle's shots (the
concat demuxer, ``inpoint``/``outpoint`` per shot), so ffmpeg seeks to each shot (keyframe
before it, then decodes forward) and never decodes the stretches between shots: a 2-minute
excerpt of a 2-hour shoot decodes about 2 minutes. One decoder per angle keeps memory flat
however many cuts there are. Each sound is one input seeked with ``-ss`` before ``-i``.

Frame exactness. Every kept frame's output slot is computed from its index in its shot
(``setpts``; timestamps in microseconds), the angles are merged in time order
(``interleave``), and ``fps`` holds each frame until the next one: output frame ``j`` shows
exactly what the plan says. ``select=concatdec_select`` drops what the demuxer hands over
outside a shot; lead-in frames before the in-point all land on the shot's first output frame,
where the in-point frame replaces them. ``-copyts`` keeps the demuxer's timestamps, which that
selection relies on.

Sound. The audio source's samples get timestamps from its sidecar, drift included
(``asetpts``); ``aresample`` with ``async`` stretches the audio to them (measured error about
0.02 ms, see :func:`audio_chain`).
"""

from __future__ import annotations

import functools
import re
import subprocess
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Optional, Sequence

import numpy as np

from .errors import UsageError
from .render_plan import RenderPlan, Segment, Source

AUDIO_RATE = 48000
CORNERS = ("bottom-right", "top-right", "bottom-left", "top-left")
US = 1_000_000  # microseconds per second: the timestamp unit of the merged video streams
GRAPH_INLINE_LIMIT = 100_000
"""Longer filtergraphs (thousands of shots) go to ffmpeg in a file: argv strings stop at 128 kB."""


@dataclass
class RenderOptions:
    """How to render (all sizes in pixels; ``rate`` in frames/s, default the timeline's).

    ``crf``/``preset``/``bitrate`` go to the encoder (``bitrate`` like "8M"; hardware
    encoders get a bitrate, software ones a CRF unless a bitrate is given); ``rotate``: extra
    clockwise rotation per angle index, degrees (multiples of 90), on top of the rotation the
    file declares; ``fill``: crop to fill the frame instead of letterboxing; ``lut``: a .cube
    file applied after scaling; ``pip_*``: inset placement (None: the timeline's
    ``pip_transform``); ``duck_db``: level of the inactive mics, dB.
    """

    width: int = 1280
    height: int = 720
    rate: Optional[Fraction] = None
    encoder: str = "libx264"
    crf: Optional[float] = None
    preset: Optional[str] = None
    bitrate: Optional[str] = None
    audio_bitrate: str = "192k"
    rotate: dict[int, int] = field(default_factory=dict)
    fill: bool = False
    lut: Optional[Path] = None
    pip_corner: Optional[str] = None
    pip_width: Optional[int] = None
    pip_margin: Optional[int] = None
    border_px: int = 4
    duck_audio: bool = False
    duck_db: float = -18.0
    audio_cams: Optional[list[int]] = None

    def check(self) -> None:
        """Raise :class:`UsageError` for options that cannot work."""
        if self.width < 16 or self.height < 16 or self.width % 2 or self.height % 2:
            raise UsageError("--width and --height must be even numbers of at least 16")
        for cam, deg in self.rotate.items():
            if deg % 90:
                raise UsageError(f"--rotate {cam}:{deg}: only multiples of 90 degrees")
        if self.pip_corner is not None and self.pip_corner not in CORNERS:
            raise UsageError(f"--pip must be one of {', '.join(CORNERS)}")
        if self.pip_width is not None and not 16 <= self.pip_width <= self.width:
            raise UsageError("--pip-width must be between 16 and the output width")
        if self.border_px < 0 or (self.pip_margin is not None and self.pip_margin < 0):
            raise UsageError("--border-px and --pip-margin cannot be negative")
        if self.lut is not None and not Path(self.lut).is_file():
            raise UsageError(f"LUT file not found: {self.lut}")


def _num(x) -> str:
    """A number for an ffmpeg expression: exact integers, else 17 significant digits."""
    if isinstance(x, Fraction) and x.denominator == 1:
        return str(x.numerator)
    if isinstance(x, int):
        return str(x)
    return repr(float(x))


def _quote_concat(path: Path) -> str:
    """A path for an ffconcat ``file`` line (single-quoted, quotes escaped)."""
    return "'" + str(Path(path).resolve()).replace("'", "'\\''") + "'"


def _escape_filter_value(text: str) -> str:
    """``text`` as a filter option value inside a filtergraph (both escaping levels)."""
    lvl1 = text.replace("\\", "\\\\").replace("'", "\\'").replace(":", "\\:")
    out = lvl1.replace("\\", "\\\\").replace("'", "\\'")
    for ch in "[],;":
        out = out.replace(ch, "\\" + ch)
    return out


def _tree(keys: Sequence[float], leaves: Sequence[str], var: str) -> str:
    """An expression choosing ``leaves[i]`` for ``keys[i] <= var < keys[i+1]`` (balanced ifs)."""

    def build(lo: int, hi: int) -> str:
        if hi - lo == 1:
            return leaves[lo]
        mid = (lo + hi) // 2
        return f"if(lt({var},{_num(keys[mid])}),{build(lo, mid)},{build(mid, hi)})"

    return build(0, len(leaves))


def _us_per_frame(rate: Fraction) -> str:
    return _num(Fraction(US) / rate)


REORDER_FRAMES = 8
"""Media frames of margin around a shot: demuxers seek by decode time, and B-frames near the
shot's ends refer to frames up to a few places away in display order."""


@dataclass(frozen=True)
class ConcatEntry:
    """Where a shot sits in its angle's concatenated stream (seconds): it starts at ``start``
    and its media frame ``m`` arrives at ``start + lead + m / fps``."""

    start: Fraction
    lead: Fraction


def write_concat_list(path: Path, src: Source, segs: Sequence[Segment]) -> list[ConcatEntry]:
    """Write the ffconcat list of ``segs`` (all of ``src``) and say where each shot lands.

    ``inpoint`` is :data:`REORDER_FRAMES` and a half frames (plus ``src.seek_margin``) before
    the in-point frame; the file is read from its start when that is before its first frame.
    ``duration`` ends half a frame after the shot's last frame: ``concatdec_select`` keeps
    exactly that, and the frames before the in-point frame all land on the shot's first output
    frame, where the in-point frame replaces them. ``outpoint`` lets the demuxer read
    :data:`REORDER_FRAMES` further, and ``src.interleave_lead`` more where the sound runs ahead
    of the picture in the file.
    """
    frame = 1 / src.fps
    entries, t = [], 0
    lines = ["ffconcat version 1.0"]
    for seg in segs:
        lines.append(f"file {_quote_concat(src.path)}")
        seek = seg.t_in - (REORDER_FRAMES + Fraction(1, 2)) * frame - Fraction(src.seek_margin)
        if seek > src.t0:
            origin = round((Fraction(src.start) + seek) * US)
            lead = Fraction(src.start) + seg.t_in - Fraction(origin, US)
            lines.append(f"inpoint {origin / US:.6f}")
        else:  # the demuxer then counts from the container's start time
            origin = round(Fraction(src.start) * US)
            lead = seg.t_in
        keep = round((lead + (seg.count - Fraction(1, 2)) * frame) * US)
        reach = round((lead + (seg.count + REORDER_FRAMES) * frame
                       + Fraction(src.interleave_lead)) * US)
        lines += [f"outpoint {(origin + reach) / US:.6f}", f"duration {keep / US:.6f}"]
        entries.append(ConcatEntry(Fraction(t, US), lead))
        t += keep
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return entries


def slot_expr(src: Source, segs: Sequence[Segment], entries: Sequence[ConcatEntry],
              rate: Fraction) -> str:
    """setpts expression: each frame's output slot as a timestamp in microseconds, or -1 for a
    frame that is never on screen (``select`` then drops it before it is scaled).

    A frame arriving at ``T`` seconds in shot ``i``'s part of the stream is media frame
    ``m = round((T - start - lead) * fps)``, shown from output frame
    ``s(m) = max(first, ceil(lead_slot + m * step))`` (see :class:`Segment`) until
    ``s(m + 1)``; it is never shown when ``s(m + 1) == s(m)`` (lead-in frames before the
    in-point, m < 0, and frames a higher-rate angle has between two output frames).
    """
    fps = _num(src.fps)
    us = _us_per_frame(rate)
    leaves = []
    for seg, e in zip(segs, entries):
        m = f"round((T-{_num(e.start + e.lead)})*{fps})"

        def slot(k: str) -> str:
            return f"max({seg.first},ceil({_num(seg.lead)}+({k})*{_num(seg.step)}-1e-6))"

        hidden = f"lt({m}+1,{seg.count})*eq({slot(m + '+1')},{slot(m)})"
        leaves.append(f"if({hidden},-1,round({slot(m)}*{us}))")
    # A shot's frames arrive in [start, start + duration), and the previous shot's last frame
    # half a frame before that: a quarter frame early is a boundary safe from rounding.
    quarter = Fraction(1, 4) / src.fps
    return _tree([e.start - quarter for e in entries], leaves, "T")


def _rotation(deg: int) -> str:
    deg %= 360
    return {0: "", 90: "transpose=clock,", 180: "hflip,vflip,", 270: "transpose=cclock,"}[deg]


def _fit(w: int, h: int, fill: bool) -> str:
    """Scale into ``w``x``h`` keeping the display aspect: letterbox (pad) or fill (crop)."""
    op = "max" if fill else "min"
    scale = (f"scale=w='{op}({w},round({h}*dar/2)*2)':h='{op}({h},round({w}/dar/2)*2)',"
             "setsar=1")
    if fill:
        return f"{scale},crop={w}:{h}"
    return f"{scale},pad={w}:{h}:(ow-iw)/2:(oh-ih)/2:black"


class GraphBuilder:
    """Collects inputs and filter chains; :meth:`command` gives the ffmpeg argument list."""

    def __init__(self, plan: RenderPlan, opts: RenderOptions, workdir: Path):
        self.plan, self.opts, self.workdir = plan, opts, workdir
        self.inputs: list[list[str]] = []
        self.chains: list[str] = []
        self.lut = opts.lut

    def add_input(self, args: list[str]) -> int:
        self.inputs.append(args)
        return len(self.inputs) - 1

    # -- video ------------------------------------------------------------------------------

    def angle_stream(self, track: str, cam: int, segs: list[Segment], w: int, h: int,
                     extra: str = "") -> str:
        """One input for ``cam``'s shots on ``track``; its frames at their output slots."""
        src = self.plan.sources[cam]
        listing = self.workdir / f"{track}_{cam}.ffconcat"
        entries = write_concat_list(listing, src, segs)
        i = self.add_input(["-f", "concat", "-safe", "0", "-segment_time_metadata", "1",
                            "-i", str(listing)])
        label = f"{track}{cam}"
        grade = f",lut3d=file={_escape_filter_value(str(self.lut))}" if self.lut else ""
        self.chains.append(
            f"[{i}:v:0]select=concatdec_select,settb=AVTB,"
            f"setpts='{slot_expr(src, segs, entries, self.plan.rate)}',select='gte(pts,0)',"
            f"{_rotation(self.opts.rotate.get(cam, 0))}{_fit(w, h, self.opts.fill)}{grade}"
            f",format=yuv420p{extra}[{label}]")
        return label

    def gap_stream(self, label: str, first: int, end: int, w: int, h: int) -> str:
        """Black frames over output frames ``[first, end)``: where the timeline has a gap."""
        r = self.plan.rate
        self.chains.append(
            f"color=c=black:s={w}x{h}:r={r.numerator}/{r.denominator},trim=end_frame={end - first},"
            f"settb=AVTB,setpts='round((N+{first})*{_us_per_frame(r)})',format=yuv420p[{label}]")
        return label

    def merged(self, labels: list[str], out: str, w: int, h: int) -> str:
        """Streams merged in time order on the output grid, exactly ``plan.frames`` long.

        ``fps`` holds each frame until the next one; a black frame at ``plan.frames`` (cut off
        by ``trim``) tells it how long the last one lasts, whatever EOF time ffmpeg reports.
        """
        r, n = self.plan.rate, self.plan.frames
        labels = labels + [self.gap_stream(f"{out}_end", n, n + 1, w, h)]
        head = "".join(f"[{x}]" for x in labels)
        self.chains.append(f"{head}interleave=n={len(labels)},fps={r.numerator}/{r.denominator},"
                           f"trim=end_frame={n}[{out}]")
        return out

    def program(self) -> str:
        plan, W, H = self.plan, self.opts.width, self.opts.height
        labels = []
        by_cam: dict[int, list[Segment]] = {}
        for seg in plan.program:
            by_cam.setdefault(seg.cam, []).append(seg)
        for cam, segs in sorted(by_cam.items()):
            labels.append(self.angle_stream("program", cam, segs, W, H))
        cursor = 0
        for seg in sorted(plan.program, key=lambda s: s.first) + [None]:
            nxt = seg.first if seg is not None else plan.frames
            if nxt > cursor:
                labels.append(self.gap_stream(f"gap{len(labels)}", cursor, nxt, W, H))
            if seg is not None:
                cursor = max(cursor, seg.end)
        return self.merged(labels, "program", W, H)

    def pip_geometry(self) -> tuple[int, int, int, int, int]:
        """``(inset_w, inset_h, border, x, y)`` of the inset tile in pixels."""
        plan, o = self.plan, self.opts
        W, H = o.width, o.height
        style = plan.pip_style
        corner = o.pip_corner or (style.corner if style else "bottom-right")
        if corner not in CORNERS:
            corner = "bottom-right"
        pw = o.pip_width or 2 * round(W * (style.scale if style else 0.25) / 2)
        pw = max(16, min(W, pw - pw % 2))
        ph = max(16, 2 * round(pw * H / W / 2))
        margin = o.pip_margin if o.pip_margin is not None else round(
            (style.margin if style else 24 / 720) * H)
        b = o.border_px
        tw, th = pw + 2 * b, ph + 2 * b
        x = W - tw - margin if "right" in corner else margin
        y = H - th - margin if "bottom" in corner else margin
        return pw, ph, b, x, y

    def with_pip(self, main: str) -> str:
        plan = self.plan
        if not plan.pip:
            return main
        pw, ph, b, x, y = self.pip_geometry()
        border = f",pad=iw+{2 * b}:ih+{2 * b}:{b}:{b}:white" if b else ""
        by_cam: dict[int, list[Segment]] = {}
        for seg in plan.pip:
            by_cam.setdefault(seg.cam, []).append(seg)
        labels = [self.angle_stream("pip", cam, segs, pw, ph, border)
                  for cam, segs in sorted(by_cam.items())]
        inset = self.merged(labels, "inset", pw + 2 * b, ph + 2 * b)
        spans: list[list[int]] = []
        for seg in sorted(plan.pip, key=lambda s: s.first):
            if spans and spans[-1][1] == seg.first:
                spans[-1][1] = seg.end
            else:
                spans.append([seg.first, seg.end])
        enable = "+".join(f"between(n,{a},{e - 1})" for a, e in spans)
        self.chains.append(f"[{main}][{inset}]overlay=x={x}:y={y}:eof_action=pass:"
                           f"enable='{enable}'[picture]")
        return "picture"

    # -- sound ------------------------------------------------------------------------------

    def audio_input(self, cam: int, start: Fraction, end: Fraction) -> Optional[tuple[int, str]]:
        """Input + chain of ``cam``'s sound over output seconds ``[start, end)``, placed by its
        sidecar on the output clock; None when the source has no sound there."""
        plan = self.plan
        src = plan.sources[cam]
        if not src.has_audio:
            return None
        t_a = src.to_src(plan.ref_time(start))
        t_b = src.to_src(plan.ref_time(end))
        t_a, t_b = max(t_a, Fraction(0)), min(t_b, Fraction(src.duration))
        if t_b <= t_a:
            return None
        args = []
        if t_a > 0:
            args += ["-ss", f"{float(t_a):.6f}"]
        args += ["-t", f"{float(t_b - t_a) + 0.5:.6f}", "-i", str(src.path)]
        i = self.add_input(args)
        return i, audio_chain(f"{i}:a:{src.audio_stream or 0}", src, plan, end)

    def audio(self) -> Optional[str]:
        plan, o = self.plan, self.opts
        total = round(plan.duration * AUDIO_RATE)
        tail = f"aformat=sample_fmts=fltp:channel_layouts=stereo,apad=whole_len={total}," \
               f"atrim=end_sample={total}"
        if o.duck_audio:
            ducked = self.ducked_audio(tail)
            if ducked is not None:
                return ducked
        streams = []
        spans = sorted(plan.audio, key=lambda s: s.start)
        merged: list[list] = []
        for s in spans:
            if merged and merged[-1][0] == s.cam and merged[-1][2] == s.start:
                merged[-1][2] = s.end
            else:
                merged.append([s.cam, s.start, s.end])
        for k, (cam, a, b) in enumerate(merged):
            got = self.audio_input(cam, a, b)
            if got is None:
                continue
            _, chain = got
            self.chains.append(f"{chain}[snd{k}]")
            streams.append(f"snd{k}")
        return self._mix(streams, tail, 1.0)

    def _mix(self, streams: list[str], tail: str, gain: float) -> Optional[str]:
        if not streams:
            return None
        vol = f"volume={gain:.6f}," if gain != 1.0 else ""
        if len(streams) == 1:
            self.chains.append(f"[{streams[0]}]{vol}{tail}[sound]")
        else:
            head = "".join(f"[{s}]" for s in streams)
            self.chains.append(f"{head}amix=inputs={len(streams)}:duration=longest:"
                               f"dropout_transition=0:normalize=0,{vol}{tail}[sound]")
        return "sound"

    def ducked_audio(self, tail: str) -> Optional[str]:
        """Every candidate mic, the one of the angle on screen at full level, the others at
        ``duck_db``; gains ramp over 0.1 s ending at each cut, so nothing is delayed."""
        plan, o = self.plan, self.opts
        on_screen = {s.cam for s in plan.program}
        if o.audio_cams is not None:
            mics = [c for c in o.audio_cams if c in plan.sources and plan.sources[c].has_audio]
            if not mics:
                raise UsageError("--audio-cams names no angle with sound")
        else:
            mics = [c for c in sorted(on_screen) if plan.sources[c].has_audio and c != plan.wide]
        if not mics:
            return None
        duck = 10 ** (o.duck_db / 20)
        active = _active_spans(plan, mics)
        streams = []
        for cam in mics:
            got = self.audio_input(cam, Fraction(0), plan.duration)
            if got is None:
                continue
            _, chain = got
            gain = _gain_expr(active.get(cam, []), duck, 0.1)
            self.chains.append(f"{chain},asetnsamples=n=480:p=0,"
                               f"volume='{gain}':eval=frame[mic{cam}]")
            streams.append(f"mic{cam}")
        return self._mix(streams, tail, 1.0 / (1.0 + (len(streams) - 1) * duck))

    # -- the command ------------------------------------------------------------------------

    def command(self, ffmpeg: str, out: Path, fmt: str, graph_file: Optional[Path]) -> list[str]:
        picture = self.with_pip(self.program())
        sound = self.audio()
        graph = ";".join(self.chains)
        cmd = [ffmpeg, "-hide_banner", "-nostdin", "-y", "-loglevel", "error", "-nostats",
               "-progress", "pipe:1", "-copyts"]
        for args in self.inputs:
            cmd += args
        if graph_file is not None and len(graph) > GRAPH_INLINE_LIMIT:
            graph_file.write_text(graph, encoding="utf-8")
            option = "-/filter_complex" if ffmpeg_major(ffmpeg) >= 7 else "-filter_complex_script"
            cmd += [option, str(graph_file)]
        else:
            cmd += ["-filter_complex", graph]
        cmd += ["-map", f"[{picture}]"]
        cmd += encoder_args(self.opts, self.plan.rate)
        if sound is not None:
            cmd += ["-map", f"[{sound}]", "-c:a", "aac", "-b:a", self.opts.audio_bitrate,
                    "-ar", str(AUDIO_RATE)]
        if fmt in ("mp4", "mov"):
            cmd += ["-movflags", "+faststart"]
        cmd += ["-f", fmt, str(out)]
        return cmd


def audio_chain(stream: str, src: Source, plan: RenderPlan, end: Fraction) -> str:
    """Filters placing ``src``'s sound on the output clock, ending at output second ``end``.

    A sample at file timestamp ``T`` (s; ``t_src = T - src.start``) belongs at output time
    ``delta + t_src * (1 + drift) - origin - window_start``. ``aresample``'s soft compensation
    answers a timestamp error of ``e`` seconds with a speed change of ``e`` (``min_comp`` makes
    it act on any error), so under a steady drift it would settle ``drift`` seconds behind.
    The timestamps after the first frame therefore lead by ``drift`` seconds: the first frame
    places the sound exactly (``first_pts=0`` pads or trims the start), and from the second on
    the compensation runs at the drift's rate.
    """
    scale = 1 + src.drift_slope
    k0 = src.delta_seconds - float(plan.origin + plan.window_start)
    lead = f"+gt(N,0)*{src.drift_slope!r}" if src.drift_slope else ""
    return (f"[{stream}]asetpts='round(({k0!r}+(T-{src.start!r})*{scale!r}{lead})/TB)',"
            f"aresample={AUDIO_RATE}:async=1000:min_comp=0.000001:first_pts=0,"
            f"atrim=end={float(end)!r}")


def _active_spans(plan: RenderPlan, mics: list[int]) -> dict[int, list[tuple[float, float]]]:
    """Output-second spans where each mic is the active one: its angle is on screen, or (for a
    shot of an angle without a candidate mic) it was the last active one."""
    out: dict[int, list[tuple[float, float]]] = {}
    current = None
    r = plan.rate
    for seg in sorted(plan.program, key=lambda s: s.first):
        if seg.cam in mics:
            current = seg.cam
        if current is None:
            current = mics[0]
        a, b = float(seg.first / r), float(seg.end / r)
        spans = out.setdefault(current, [])
        if spans and abs(spans[-1][1] - a) < 1e-9:
            spans[-1] = (spans[-1][0], b)
        else:
            spans.append((a, b))
    return out


def _gain_expr(spans: list[tuple[float, float]], duck: float, ramp: float) -> str:
    """Gain over time ``t`` (s): 1 inside ``spans``, ``duck`` outside, linear ramps of ``ramp``
    seconds that end at each span's start and end."""
    if not spans:
        return f"{duck!r}"
    keys, leaves = [], []
    for a, b in spans:
        up = f"clip((t-{a - ramp!r})/{ramp!r},0,1)"
        down = f"clip(({b!r}-t)/{ramp!r},0,1)"
        keys.append(a - ramp)
        leaves.append(f"min({up},{down})")
    level = _tree(keys, leaves, "t")
    return f"{duck!r}+{1 - duck!r}*if(lt(t,{keys[0]!r}),0,{level})"


@functools.lru_cache(maxsize=8)
def ffmpeg_major(ffmpeg: str) -> int:
    """The major version of the ffmpeg binary (99 for development builds it cannot tell)."""
    try:
        out = subprocess.run([ffmpeg, "-hide_banner", "-version"], capture_output=True,
                             text=True, timeout=30).stdout
    except (OSError, subprocess.SubprocessError):
        return 99
    m = re.match(r"ffmpeg version n?(\d+)\.", out)
    return int(m.group(1)) if m else 99


def encoder_args(opts: RenderOptions, rate: Fraction) -> list[str]:
    """Video encoder arguments: CRF + preset for x264/x265, a bitrate for hardware encoders."""
    enc = opts.encoder
    args = ["-c:v", enc, "-pix_fmt", "yuv420p"]
    software = enc in ("libx264", "libx265")
    if opts.preset or software:
        args += ["-preset", opts.preset or "veryfast"]
    if opts.bitrate:
        args += ["-b:v", opts.bitrate]
    elif software:
        crf = opts.crf if opts.crf is not None else (23 if enc == "libx264" else 28)
        args += ["-crf", _num(crf)]
    else:  # about 0.1 bit per pixel per frame, enough for a preview
        bits = opts.width * opts.height * float(rate) * 0.1
        args += ["-b:v", f"{max(1, round(bits / 1e6))}M"]
    if "hevc" in enc or "265" in enc:
        args += ["-tag:v", "hvc1"]
    return args


def slog3_to_rec709_lut(path: Path, size: int = 33) -> Path:
    """Write a ``size``^3 .cube LUT: Sony S-Log3 / S-Gamut3.Cine to Rec.709 (a preview grade).

    Input RGB 0..1 is full-range from limited-range video, i.e. 10-bit code ``64 + 876 v``.
    """
    v = np.linspace(0.0, 1.0, size)
    code = 64 + 876 * v
    lin = np.where(code >= 171.2102946929, 10 ** ((code - 420) / 261.5) * 0.19 - 0.01,
                   (code - 95) * 0.01125 / (171.2102946929 - 95))
    b, g, r = np.meshgrid(lin, lin, lin, indexing="ij")  # red varies fastest in a .cube
    rgb = np.stack([r, g, b], axis=-1).reshape(-1, 3)
    gamut = np.array([[1.6269474, -0.5401385, -0.0868089],
                      [-0.1785155, 1.4179409, -0.2394254],
                      [-0.0444361, -0.1959199, 1.2403560]])
    x = np.clip(rgb @ gamut.T, 0, None) * 1.15
    x = x * (1 + x / 16) / (1 + x)  # soft shoulder
    out = np.where(x < 0.018, 4.5 * x, 1.099 * np.power(x, 0.45) - 0.099)
    out = np.clip(out, 0, 1)
    lines = [f"LUT_3D_SIZE {size}"] + [f"{a:.6f} {b_:.6f} {c:.6f}" for a, b_, c in out]
    path.write_text("\n".join(lines) + "\n", encoding="ascii")
    return path


_MUXERS = {".mp4": "mp4", ".m4v": "mp4", ".mov": "mov", ".mkv": "matroska"}
VIDEO_SUFFIXES = tuple(_MUXERS)
"""Names a preview can be written under."""


def output_format(path: Path) -> str:
    """ffmpeg muxer for the output name (the temporary file has another suffix);
    :class:`UsageError` for a name that is not one of :data:`VIDEO_SUFFIXES`."""
    fmt = _MUXERS.get(Path(path).suffix.lower())
    if fmt is None:
        raise UsageError(f"the preview is written as {', '.join(VIDEO_SUFFIXES)}", path)
    return fmt


def build_command(plan: RenderPlan, opts: RenderOptions, ffmpeg: str, out: Path, fmt: str,
                  workdir: Path) -> list[str]:
    """The ffmpeg argument list rendering ``plan`` to ``out`` (lists and LUTs go in ``workdir``)."""
    opts.check()
    if not plan.program and plan.frames <= 0:
        raise UsageError("nothing to render")
    return GraphBuilder(plan, opts, workdir).command(ffmpeg, out, fmt, workdir / "graph.txt")


__all__ = ["RenderOptions", "build_command", "encoder_args", "slog3_to_rec709_lut",
           "output_format", "write_concat_list", "slot_expr", "audio_chain", "CORNERS",
           "AUDIO_RATE"]
