"""Tiny synthetic shoots for the timeline and export tests: media made with PyAV (64x36 video,
a few seconds) at each rate, sidecars written with save_sidecar, and an auto-edit of them; plus
the frame-grid assertion both test files use."""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import opentimelineio as otio

from polysync.decisions import EditDecisions, Shot, snap, write_edl_json
from polysync.media import probe
from polysync.sidecar import Sidecar, media_info_dict, save_sidecar, sidecar_path

F = Fraction

# name -> (rate, embedded start timecode of the reference camera or None)
RATES = {
    "23.976": (F(24000, 1001), None),
    "24": (F(24), "01:00:00:00"),
    "25": (F(25), "10:00:00:00"),
    "29.97DF": (F(30000, 1001), "01:00:00;00"),
    "29.97NDF": (F(30000, 1001), "01:00:00:00"),
    "30": (F(30), None),
    "50": (F(50), "00:59:59:49"),
    "59.94": (F(60000, 1001), "00:09:59;58"),
    "60": (F(60), "23:00:00:00"),
}
# Sync of the three angles: (delta_seconds, drift_slope)
SYNC = {"A": (0.0, 0.0), "B": (0.4137, 3.0e-5), "R": (-0.2511, -2.0e-5)}


def make_video(path: Path, fps: Fraction, seconds: float, timecode=None, codec="mpeg4") -> None:
    """A 64x36 video (frame i is grey level i) with a mono AAC track, at exactly ``fps``."""
    c = av.open(str(path), "w")
    if timecode:
        c.metadata["timecode"] = timecode
    v = c.add_stream(codec, rate=fps)
    v.width, v.height, v.pix_fmt = 64, 36, "yuv420p"
    if codec == "libx264":
        v.options = {"preset": "ultrafast"}
    a = c.add_stream("aac", rate=48000)
    a.layout = "mono"
    for i in range(round(seconds * fps)):
        frame = av.VideoFrame.from_ndarray(np.full((36, 64, 3), i % 256, np.uint8), format="rgb24")
        frame.pts = i
        c.mux(v.encode(frame))
    c.mux(v.encode())
    k = 0
    while k < seconds * 48000:
        frame = av.AudioFrame.from_ndarray(np.zeros((1, 1024), np.float32), format="fltp",
                                           layout="mono")
        frame.sample_rate, frame.pts = 48000, k
        k += 1024
        c.mux(a.encode(frame))
    c.mux(a.encode())
    c.close()


def make_wav(path: Path, seconds: float, rate: int = 48000) -> None:
    """Stereo PCM silence: an audio recorder's file."""
    c = av.open(str(path), "w")
    a = c.add_stream("pcm_s16le", rate=rate)
    a.layout = "stereo"
    k = 0
    while k < seconds * rate:
        frame = av.AudioFrame.from_ndarray(np.zeros((1, 2048), np.int16), format="s16",
                                           layout="stereo")
        frame.sample_rate, frame.pts = rate, k
        k += 1024
        c.mux(a.encode(frame))
    c.mux(a.encode())
    c.close()


def write_sidecar(media: Path, reference: Path, delta: float, slope: float) -> Path:
    info = probe(media)
    sc = Sidecar(source=media.name, reference=reference.name, delta_seconds=delta,
                 drift_slope=slope, overlap_in_reference=(0.0, info.duration),
                 overlap_in_source=(0.0, info.duration), audio_stream=0,
                 source_info=media_info_dict(info.size, info.duration))
    return save_sidecar(sc, sidecar_path(media))


@dataclass
class Shoot:
    folder: Path
    rate: Fraction
    files: list  # [camera A (reference), camera B, audio recorder]
    edl: Path    # an auto-edit of them (edl.json)


# A shoot whose clocks drift so fast that a few seconds show the angles re-anchored piece by
# piece (a slip of half a frame every 1/(2|slope|) frames: 50 frames at 1%).
FAST_DRIFT = {"A": (0.0, 0.0), "B": (0.4137, 0.01), "R": (-0.2511, -0.008)}


def make_shoot(folder: Path, rate: Fraction, timecode, names=("CAM_A.mp4", "CAM_B.mov",
               "REC.wav"), rate_b: Fraction | None = None, sync: dict = SYNC,
               seconds: float = 2.0) -> Shoot:
    folder.mkdir(parents=True, exist_ok=True)
    a, b, r = (folder / n for n in names)
    make_video(a, rate, seconds, timecode)
    make_video(b, rate_b or rate, seconds, None, codec="libx264")
    make_wav(r, seconds + 1.0)
    for path, key in ((a, "A"), (b, "B"), (r, "R")):
        write_sidecar(path, a, *sync[key])
    R = rate
    shots = [Shot(snap(0.45, R), snap(0.9, R), 0), Shot(snap(0.9, R), snap(1.4, R), 1, 0),
             Shot(snap(1.4, R), snap(1.9, R), 0, 1)]
    dec = EditDecisions(inputs=[a, b, r], shots=shots, audio_source=2, rate=R,
                        deltas=[sync[k][0] for k in "ABR"],
                        drift_slopes=[sync[k][1] for k in "ABR"], names=[p.stem for p in (a, b, r)])
    edl = write_edl_json(dec, folder / "edl.json")
    return Shoot(folder, rate, [a, b, r], edl)


def clip_items(track):
    return [(k, c) for k, c in enumerate(track) if isinstance(c, otio.schema.Clip)]


def assert_on_grid(tl: otio.schema.Timeline, rate: Fraction) -> None:
    """Every position and duration is a whole number of timeline frames at exactly ``rate``;
    every source in-point and media range a whole number on its media's grid."""
    assert tl.global_start_time.rate == float(rate)
    for track in tl.tracks:
        for k, item in enumerate(track):
            span = track.range_of_child_at_index(k)
            for t in (span.start_time, span.duration, item.source_range.duration):
                assert t.rate == float(rate) and t.value == int(t.value), (track.name, t)
            if isinstance(item, otio.schema.Clip):
                start = item.source_range.start_time
                avail = item.media_reference.available_range
                assert start.value == int(start.value) and start.rate == avail.start_time.rate
                assert avail.start_time.value == int(avail.start_time.value)
                assert avail.duration.value == int(avail.duration.value)
                assert start.value >= avail.start_time.value  # never before the media
                end = start.value + item.source_range.duration.value * start.rate / float(rate)
                assert end <= avail.start_time.value + avail.duration.value + 1e-6
