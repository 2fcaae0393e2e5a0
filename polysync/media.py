"""The media layer: the only code that opens containers (PyAV), and the ffmpeg locator.

Files are always opened read-only. Audio is decoded in one streaming pass over a file, every
audio stream at once, resampled to a low analysis rate and kept per channel as float16, so a
3-hour file costs ~86 MB per channel at 4 kHz instead of ~2 GB at 48 kHz.

Time: ``t_src`` is the file's presentation time, 0 at the container's start time (what ffmpeg
and editors call the start of the file). A decoded track's sample ``k`` sits at
``t_src = track.t0 + k / track.rate``.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import BinaryIO, Callable, Optional, Sequence

import numpy as np

from .errors import MediaError

MEDIA_SUFFIXES = frozenset(
    "mp4 m4v mov qt mxf mts m2ts ts avi mkv mka webm wmv flv 3gp 3g2 mpg mpeg dv "
    "wav bwf w64 rf64 aif aiff aifc caf m4a mp3 aac ac3 flac ogg oga opus wma".split())
"""File suffixes (lower case, no dot) treated as media: what a folder scan picks, what is not
an edit list or timeline."""

ANALYSIS_RATE = 4000
"""Sample rate (Hz) of the arrays the correlation core works on."""


@dataclass(frozen=True)
class StreamInfo:
    """One stream of a container. ``audio_index`` counts audio streams only (0 = first)."""

    index: int
    kind: str  # "audio", "video", "data", "subtitle"
    codec: str
    duration: Optional[float]
    audio_index: Optional[int] = None
    sample_rate: Optional[int] = None
    channels: Optional[int] = None
    fps: Optional[Fraction] = None
    width: Optional[int] = None
    height: Optional[int] = None
    rotation: int = 0
    timecode: Optional[str] = None
    start: float = 0.0  # first timestamp relative to the container start, seconds


@dataclass(frozen=True)
class MediaInfo:
    """What a probe learns about a file, without decoding its media."""

    path: Path
    size: int
    format: str
    duration: float
    streams: tuple[StreamInfo, ...]
    timecode: Optional[str] = None
    creation_time: Optional[str] = None  # container/stream ``creation_time`` tag, as written

    @property
    def audio_streams(self) -> list[StreamInfo]:
        return [s for s in self.streams if s.kind == "audio"]

    @property
    def video(self) -> Optional[StreamInfo]:
        """The main video stream (the first one), or None for audio-only files."""
        return next((s for s in self.streams if s.kind == "video"), None)


@dataclass
class AudioTrack:
    """One decoded audio stream at the analysis rate.

    ``samples`` has shape (channels, n), float16, full scale 1.0.
    """

    audio_index: int
    stream_index: int
    codec: str
    source_rate: int
    rate: int
    t0: float
    samples: np.ndarray = field(repr=False)
    mixed: Optional[str] = None  # "L+R"/"L-R": a long stereo pair kept as its mix (one row)

    @property
    def channels(self) -> int:
        return self.samples.shape[0]

    @property
    def duration(self) -> float:
        return self.samples.shape[1] / self.rate


@dataclass
class DecodedAudio:
    """Every audio stream of one file, decoded in one pass."""

    info: MediaInfo
    tracks: list[AudioTrack]


def _open(path: Path):
    import av

    if not path.exists():
        raise MediaError("file not found", path)
    if path.is_dir():
        raise MediaError("is a folder, not a media file", path)
    if not os.access(path, os.R_OK):
        raise MediaError("cannot read (permission denied)", path)
    try:
        return av.open(str(path), mode="r")
    except av.error.FFmpegError as exc:
        raise MediaError(f"not a media file ({_ffmpeg_reason(exc)})", path) from None
    except OSError as exc:
        raise MediaError(f"cannot read ({exc.strerror or exc})", path) from None


def _ffmpeg_reason(exc: Exception) -> str:
    text = getattr(exc, "strerror", None) or str(exc)
    return text.split(":")[0].strip() if text else type(exc).__name__


def _seconds(value, time_base) -> Optional[float]:
    if value is None or time_base is None:
        return None
    return float(value * time_base)


def probe(path: str | os.PathLike) -> MediaInfo:
    """Describe ``path``: streams, codecs, durations, rates, fps, rotation, timecode.

    Raises :class:`MediaError` for a missing file or one that is not media.
    """
    path = Path(path)
    container = _open(path)
    try:
        return _probe_open(path, container)
    finally:
        container.close()


def _probe_open(path: Path, container) -> MediaInfo:
    import av

    start = (container.start_time or 0) / av.time_base
    streams = []
    audio_count = 0
    for s in container.streams:
        kind = s.type or "data"
        codec = s.codec_context.name if s.codec_context is not None else "unknown"
        first = _seconds(s.start_time, s.time_base)
        info = dict(
            index=s.index,
            kind=kind,
            codec=codec,
            duration=_seconds(s.duration, s.time_base),
            start=(first - start) if first is not None else 0.0,
            timecode=(s.metadata or {}).get("timecode"),
        )
        if kind == "audio":
            info.update(audio_index=audio_count, sample_rate=s.codec_context.sample_rate,
                        channels=s.codec_context.channels)
            audio_count += 1
        elif kind == "video":
            rate = s.average_rate or s.guessed_rate or s.base_rate
            info.update(fps=Fraction(rate) if rate else None, width=s.codec_context.width,
                        height=s.codec_context.height, rotation=_rotation(container, s))
        streams.append(StreamInfo(**info))
    duration = container.duration / av.time_base if container.duration else max(
        ((s.duration or 0.0) + s.start for s in streams), default=0.0)
    if not streams or all(s.kind not in ("audio", "video") for s in streams):
        raise MediaError("not a media file (no audio or video stream)", path)
    timecode = (container.metadata or {}).get("timecode") or next(
        (s.timecode for s in streams if s.timecode), None)
    created = next((m["creation_time"] for m in [container.metadata or {}]
                    + [s.metadata or {} for s in container.streams] if "creation_time" in m), None)
    return MediaInfo(path=path, size=path.stat().st_size, format=container.format.name,
                     duration=float(duration), streams=tuple(streams), timecode=timecode,
                     creation_time=created)


def _rotation(container, stream) -> int:
    """Display rotation in degrees (0, 90, 180, 270), read from the first decoded frame."""
    try:
        for frame in container.decode(stream):
            rot = int(round(getattr(frame, "rotation", 0) or 0)) % 360
            container.seek(0)
            return rot
    except Exception:  # a video that cannot be decoded still has audio worth syncing
        pass
    return 0


ProgressFn = Callable[[float], None]


def decode_audio(path: str | os.PathLike, rate: int = ANALYSIS_RATE,
                 progress: Optional[ProgressFn] = None,
                 audio_streams: Optional[Sequence[int]] = None,
                 channel: Optional[str] = None, sink: Optional[BinaryIO] = None
                 ) -> DecodedAudio:
    """Decode every audio stream of ``path`` in one streaming pass, resampled to ``rate``.

    ``audio_streams`` limits decoding to those audio-stream ordinals; ``channel`` keeps only
    that mono candidate of each (as in :func:`mono_of`), block by block; ``sink`` (with a
    ``channel`` and one stream) takes the samples as raw float16 instead (the track then
    comes back without samples, see :func:`decode_channel`). ``progress`` is called
    with the fraction done (0..1) now and then. Timestamp gaps are filled with silence so
    sample positions stay true to the file's clock.

    Raises :class:`MediaError` when the file has no audio stream or cannot be decoded.
    """
    import av

    path = Path(path)
    info = probe(path)
    wanted = [s for s in info.audio_streams
              if audio_streams is None or s.audio_index in audio_streams]
    if not info.audio_streams:
        raise MediaError("no audio stream", path)
    # A fresh demuxer, not a seek back to 0: seeking can skip the packets before 0 that carry
    # a codec's priming (Opus, AAC in some containers) and shift the first sample.
    container = _open(path)
    try:
        av_streams = [container.streams[s.index] for s in wanted]
        for s in container.streams:
            if s not in av_streams:  # the demuxer then skips video packets instead of reading them
                s.discard = type(s.discard).all
        start = (container.start_time or 0) / av.time_base
        accs = {s.index: _TrackBuilder(s, rate, start, info.duration, channel, sink)
                for s in av_streams}
        last_report = -1.0
        count = 0
        try:
            for packet in container.demux(*av_streams):
                acc = accs[packet.stream.index]
                for frame in packet.decode():
                    acc.add(frame)
                count += 1
                if progress is not None and count % 256 == 0 and packet.pts is not None \
                        and info.duration > 0:
                    done = min(1.0, float(packet.pts * packet.time_base) / info.duration)
                    if done - last_report >= 0.02:
                        progress(done)
                        last_report = done
        except av.error.FFmpegError as exc:
            if not any(a.n for a in accs.values()):
                raise MediaError(f"cannot decode audio ({_ffmpeg_reason(exc)})", path) from None
            # A truncated tail (recording cut by a full card) still syncs on what was read.
        tracks = [accs[s.index].finish(s.audio_index) for s in wanted]
        tracks = [t for t in tracks if t is not None]
        if not tracks:
            raise MediaError("audio stream has no decodable samples", path)
        if progress is not None:
            progress(1.0)
        return DecodedAudio(info=info, tracks=tracks)
    finally:
        container.close()


FINE_RATE = 16000
"""Sample rate (Hz) of the short spans the fine alignment re-reads (see :func:`decode_spans`)."""


def decode_channel(path: str | os.PathLike, audio_index: int, channel: str, rate: int,
                   out: BinaryIO, progress: Optional[ProgressFn] = None) -> float:
    """One audio stream's mono ``channel`` (as in :func:`mono_of`) of ``path``, decoded whole at
    ``rate`` into ``out`` as raw float16 samples block by block, so memory stays one block
    however long the file: returns the file time (s) of the first sample. Raises
    :class:`MediaError` as :func:`decode_audio` does."""
    return decode_audio(path, rate, progress=progress, audio_streams=[audio_index],
                        channel=channel, sink=out).tracks[0].t0


def mono_of(samples: np.ndarray, channel: str) -> np.ndarray:
    """The mono candidate ``channel`` ("mono", "L", "R", "L+R", "L-R", "chN") of (channels, n)."""
    if channel in ("L+R", "L-R") and samples.shape[0] >= 2:
        return 0.5 * (samples[0] + (1.0 if channel == "L+R" else -1.0) * samples[1])
    if channel == "R" and samples.shape[0] >= 2:
        return samples[1]
    if channel.startswith("ch") and channel[2:].isdigit() and int(channel[2:]) < samples.shape[0]:
        return samples[int(channel[2:])]
    return samples[0]


def decode_spans(path: str | os.PathLike, audio_index: int, channel: str,
                 spans: Sequence[tuple[float, float]], rate: int = FINE_RATE
                 ) -> list[Optional[tuple[float, np.ndarray]]]:
    """Re-read short spans ``(t_start, t_end)`` (file time, s) of one audio stream at ``rate``.

    Spans close together are read in one run; each run seeks 0.3 s early (so a
    decoder's warm-up after the seek falls outside the span). A span reaching past either end
    of the file comes back shortened. Returns, per span, ``(t, x)``
    with ``x`` mono float32 (``channel`` as in :func:`mono_of`) and ``t`` the time of
    ``x[0]`` from the packet timestamps, or None where the span could not be read. Seeking is
    only as exact as the container: callers check ``t`` against the full-pass signal.
    """
    import av

    out: list[Optional[tuple[float, np.ndarray]]] = [None] * len(spans)
    order = sorted(range(len(spans)), key=lambda i: spans[i][0])
    runs: list[list[int]] = []
    for i in order:
        if runs and spans[i][0] - max(spans[j][1] for j in runs[-1]) < 0.25 \
                and spans[i][1] - spans[runs[-1][0]][0] < 20.0:
            runs[-1].append(i)
        else:
            runs.append([i])
    container = _open(Path(path))
    try:
        streams = [s for s in container.streams if s.type == "audio"]
        if audio_index >= len(streams):
            return out
        stream = streams[audio_index]
        for s in container.streams:
            if s is not stream:
                s.discard = type(s.discard).all
        start = (container.start_time or 0) / av.time_base
        for run in runs:
            a = min(spans[i][0] for i in run)
            b = max(spans[i][1] for i in run)
            got = _read_run(container, stream, start, a, b, rate)
            if got is None:
                continue
            t_run, x = got
            for i in run:
                i0 = max(0, int(round((spans[i][0] - t_run) * rate)))
                i1 = min(x.shape[1], int(round((spans[i][1] - t_run) * rate)))
                if i1 > i0:
                    out[i] = (t_run + i0 / rate, mono_of(x[:, i0:i1], channel).astype(np.float32))
    finally:
        container.close()
    return out


def _read_run(container, stream, start: float, a: float, b: float, rate: int):
    """Decode ``stream`` over file time [a, b) after a seek; (t of sample 0, (ch, n)) or None."""
    import av

    try:
        target = max(0.0, a - 0.3) + start
        container.seek(int(target / stream.time_base), stream=stream, backward=True,
                       any_frame=False)
        graph, t_first, chunks, pushed = None, None, [], 0
        for packet in container.demux(stream):
            for frame in packet.decode():
                if frame.pts is None:
                    return None
                t = float(frame.pts * frame.time_base) - start
                if graph is None:
                    if t > a:
                        return None  # the seek landed past the span
                    t_first = t
                    frame.pts = 0
                    graph = av.filter.Graph()
                    chain = [graph.add_abuffer(format=frame.format.name,
                                               sample_rate=frame.sample_rate,
                                               layout=frame.layout.name,
                                               time_base=frame.time_base),
                             graph.add("aresample", f"{rate}"),
                             graph.add("aformat", "sample_fmts=flt"),
                             graph.add("abuffersink")]
                    for u, v in zip(chain, chain[1:]):
                        u.link_to(v)
                    graph.configure()
                    pts0 = int(round(t_first / frame.time_base))
                else:
                    frame.pts = int(round(t / frame.time_base)) - pts0
                graph.push(frame)
                pushed += 1
                if pushed % 32 == 0:
                    _pull_all(graph, chunks)
                if t > b + 0.05:
                    break
            else:
                continue
            break
        if graph is None:
            return None
        graph.push(None)
        _pull_all(graph, chunks)
    except av.error.FFmpegError:
        return None
    if not chunks:
        return None
    return t_first, np.concatenate(chunks, axis=1)


def channels_of(frame) -> np.ndarray:
    """(channels, samples) float32 of a packed float (``flt``) frame.

    The filter graphs hand back packed samples: PyAV 18's planar path (``to_ndarray`` and
    ``planes`` of an ``fltp`` frame) reads past AVFrame's eight data pointers and crashes the
    process on files of 8 or more channels (polyWAV recorders, 7.1)."""
    return frame.to_ndarray().reshape(-1, len(frame.layout.channels)).T


def _pull_all(graph, chunks: list) -> None:
    import av

    while True:
        try:
            chunks.append(channels_of(graph.pull()))
        except (av.BlockingIOError, av.EOFError):
            return


class _TrackBuilder:
    """Accumulates one stream at the analysis rate, in float16, through an ffmpeg filter graph.

    ``aresample`` with ``async`` fills timestamp holes with silence (so sample positions stay
    true to the file's clock) and ``asetnsamples`` hands back large blocks, keeping the
    per-frame Python work to one push.
    """

    BLOCK = 1 << 16
    COLLAPSE_AFTER = 600.0
    """Seconds of a stereo pair after which, if its sides are clearly the same sound (|r| >=
    COLLAPSE_R), only their mix (L+R, or L-R for an inverted side) is kept from then on: a
    long file then costs one channel of memory. Dead sides and spaced pairs stay apart."""
    COLLAPSE_R = 0.9

    def __init__(self, stream, rate: int, container_start: float, duration: float,
                 channel: Optional[str] = None, sink: Optional[BinaryIO] = None):
        self.stream = stream
        self.channel = channel  # keep only this mono candidate (mono_of), if given
        self.sink = sink  # write the (mono) samples there instead of keeping them
        self.rate = rate
        self.start = container_start
        self.graph = None
        self.buf: Optional[np.ndarray] = None
        self.n = 0
        self.t0: Optional[float] = None
        self.in_rate = stream.codec_context.sample_rate or 48000
        self.expect = int(max(duration, 1.0) * rate * 1.01) + rate
        self.sums = np.zeros(3)  # L*L, R*R, L*R of a stereo pair so far
        self.mix_sign = 0.0  # +1 or -1 once a stereo pair is kept as its mix

    def _build(self, frame) -> None:
        import av

        g = av.filter.Graph()
        src = g.add_abuffer(format=frame.format.name, sample_rate=frame.sample_rate,
                            layout=frame.layout.name, time_base=frame.time_base)
        chain = [src,
                 g.add("aresample", f"{self.rate}:async=1:min_hard_comp=0.005:first_pts=0"),
                 g.add("aformat", "sample_fmts=flt"),
                 g.add("asetnsamples", f"n={self.BLOCK}:p=0"),
                 g.add("abuffersink")]
        for a, b in zip(chain, chain[1:]):
            a.link_to(b)
        g.configure()
        self.graph = g

    def add(self, frame) -> None:
        if self.graph is None:
            self.in_rate = frame.sample_rate
            self.t0 = (float(frame.pts * frame.time_base) - self.start) if frame.pts is not None else 0.0
            # Timestamps are rebased so the first sample is at 0: aresample then never pads
            # the start, and t0 carries the true position at the source rate's precision.
            self.pts0 = frame.pts or 0
            self._build(frame)
            self.drain_every = int(self.BLOCK * frame.sample_rate / self.rate)
            self.pending = 0
        if frame.pts is not None:
            frame.pts -= self.pts0
        self.graph.push(frame)
        self.pending += frame.samples
        if self.pending >= self.drain_every:  # pulling only when a block is due is much cheaper
            self._drain()
            self.pending = 0

    def _drain(self) -> None:
        import av

        while True:
            try:
                out = self.graph.pull()
            except (av.BlockingIOError, av.EOFError):
                return
            self._append(channels_of(out))

    def _append(self, chunk: np.ndarray) -> None:
        np.clip(chunk, -4.0, 4.0, out=chunk)
        if self.channel is not None:
            chunk = mono_of(chunk, self.channel)[None, :]
            if self.sink is not None:
                self.sink.write(chunk.astype(np.float16).tobytes())
                self.n += chunk.shape[1]
                return
        if chunk.shape[0] == 2:
            if self.mix_sign:
                chunk = ((chunk[0] + self.mix_sign * chunk[1]) * 0.5)[None, :]
            else:
                x = chunk.astype(np.float64)
                self.sums += (x[0] @ x[0], x[1] @ x[1], x[0] @ x[1])
        m = chunk.shape[1]
        if self.buf is None:
            self.buf = np.zeros((chunk.shape[0], max(self.expect, m)), dtype=np.float16)
        if self.n + m > self.buf.shape[1]:
            grown = np.zeros((self.buf.shape[0], max(2 * self.buf.shape[1], self.n + m)),
                             dtype=np.float16)
            grown[:, : self.n] = self.buf[:, : self.n]
            self.buf = grown
        self.buf[:, self.n: self.n + m] = chunk
        self.n += m
        if self.buf.shape[0] == 2 and not self.mix_sign and self.n >= self.COLLAPSE_AFTER * self.rate:
            self._collapse()

    def _collapse(self) -> None:
        ll, rr, lr = self.sums
        r = lr / np.sqrt(ll * rr) if ll > 0 and rr > 0 else 0.0
        if abs(r) < self.COLLAPSE_R:
            self.sums[:] = 0.0  # judge the next stretch afresh; never collapse on a weak pair
            self.COLLAPSE_AFTER = self.n / self.rate + type(self).COLLAPSE_AFTER
            return
        self.mix_sign = 1.0 if r > 0 else -1.0
        mixed = np.zeros((1, self.buf.shape[1]), dtype=np.float16)  # pages arrive as filled
        block = 1 << 20
        for i in range(0, self.n, block):
            j = min(self.n, i + block)
            mixed[0, i:j] = (self.buf[0, i:j].astype(np.float32)
                             + self.mix_sign * self.buf[1, i:j].astype(np.float32)) * 0.5
        self.buf = mixed

    def finish(self, audio_index: int) -> Optional[AudioTrack]:
        if self.graph is not None:
            self.graph.push(None)
            self._drain()
        if self.n == 0:
            return None
        if self.sink is not None:
            self.buf = np.zeros((1, 0), dtype=np.float16)  # the samples went to the sink
        samples = self.buf[:, : self.n]
        if self.n < self.buf.shape[1] * 0.9:
            samples = samples.copy()
        self.buf = None
        return AudioTrack(audio_index=audio_index, stream_index=self.stream.index,
                          codec=self.stream.codec_context.name, source_rate=self.in_rate,
                          rate=self.rate, t0=float(self.t0 or 0.0), samples=samples,
                          mixed={1.0: "L+R", -1.0: "L-R"}.get(self.mix_sign))


def container_facts(path: Path, probe_seconds: float = 3.0) -> tuple[float, bool, float]:
    """``(start, indexed, lead)`` of a media file.

    ``start``: the container's start time (s), what ffmpeg's demuxers report as its first
    timestamp; ``indexed``: it seeks by an index (MP4/MOV/MXF/MKV), not by scanning timestamps
    (MPEG-TS, raw streams); ``lead``: how far (s) other streams' packets run ahead of the
    video in file order, measured over the first ``probe_seconds`` (a MOV with PCM sound in
    1-second chunks: ~1 s). The concat demuxer leaves a shot at the first packet of ANY
    stream past its outpoint, so the outpoint must reach that much further.
    """
    import av

    with _open(Path(path)) as c:
        flags = av.format.Flags(c.format.flags)
        scanned = av.format.Flags.ts_discont | av.format.Flags.generic_index | \
            av.format.Flags.no_timestamps
        start = (c.start_time or 0) / av.time_base
        lead, video_dts = 0.0, None
        if c.streams.video and len(c.streams) > 1:
            try:
                for n, packet in enumerate(c.demux()):
                    if packet.dts is None:
                        continue
                    t = float(packet.dts * packet.time_base)
                    if packet.stream.type == "video":
                        video_dts = t if video_dts is None else max(video_dts, t)
                        if t - start > probe_seconds:
                            break
                    elif video_dts is not None:
                        lead = max(lead, t - video_dts)
                    if n > 20000:
                        break
            except av.error.FFmpegError:
                pass
        return start, not (flags & scanned), min(lead, 10.0)


def find_ffmpeg() -> str:
    """The ffmpeg binary for rendering: ``$POLYSYNC_FFMPEG``, then PATH, then imageio-ffmpeg's."""
    env = os.environ.get("POLYSYNC_FFMPEG")
    if env:
        return env
    on_path = shutil.which("ffmpeg")
    if on_path:
        return on_path
    try:
        import imageio_ffmpeg

        return imageio_ffmpeg.get_ffmpeg_exe()
    except Exception as exc:  # pragma: no cover - depends on the machine
        raise MediaError(f"no ffmpeg found: set POLYSYNC_FFMPEG or install imageio-ffmpeg ({exc})")
