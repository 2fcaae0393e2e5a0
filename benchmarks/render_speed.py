"""Render speed and memory of `polysync render-cuts` against the single-input encode floor.

A 3-angle shoot (1920x1080 at 29.97 fps, 1-second GOPs with B-frames, AAC sound; one angle
drifting at 300 ppm like a phone) is generated once with ffmpeg's test sources and cached. A
10-minute auto-edit of shots 4..15 s long is built on it, then, each in its own process:

* the floor: ffmpeg encoding the same length from ONE input at the same settings (scale to
  1280x720, libx264 veryfast CRF 23, AAC 192k, MP4);
* ``polysync.render.render`` of the cut (all three angles, the drifting one as audio source).

Reported (fastest of ``--repeat`` alternated runs): wall and CPU seconds, the ratios render /
floor (target <= 1.3), peak RSS of the Python process and of its ffmpeg children
(``resource.getrusage(RUSAGE_CHILDREN)``), and the A/V offset of the render's sound against the
audio source placed by its sidecar, at 4 points in the cut.

Usage: ``python benchmarks/render_speed.py [--minutes 10] [--media bench-out/render] [--repeat 2]``
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import subprocess
import sys
import time
from fractions import Fraction
from pathlib import Path

import numpy as np

from polysync.media import find_ffmpeg

RATE = Fraction(30000, 1001)
# name -> (delta_seconds, drift_slope, hue shift)
ANGLES = {"cam_a.mp4": (0.0, 0.0, 0), "cam_b.mp4": (-2.3, 3.0e-5, 120),
          "cam_c.mp4": (1.7, 3.0e-4, 240)}
SETTINGS = ["-c:v", "libx264", "-pix_fmt", "yuv420p", "-preset", "veryfast", "-crf", "23",
            "-c:a", "aac", "-b:a", "192k", "-ar", "48000", "-movflags", "+faststart"]


def make_media(folder: Path, seconds: float) -> list[Path]:
    """The shoot's files (made once) and their sidecars."""
    from polysync.sidecar import Sidecar, save_sidecar, sidecar_path

    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for k, (name, (delta, drift, hue)) in enumerate(ANGLES.items()):
        path = folder / f"{int(seconds)}s_{name}"
        if not path.exists():
            print(f"generating {path} ...", file=sys.stderr)
            part = path.with_suffix(".part.mp4")
            subprocess.run([
                find_ffmpeg(), "-v", "error", "-y",
                "-f", "lavfi", "-i", f"testsrc2=s=1920x1080:r=30000/1001:d={seconds}",
                "-f", "lavfi", "-i", f"anoisesrc=c=pink:a=0.1:seed={k + 1}:d={seconds}",
                "-vf", f"hue=h={hue}", "-c:v", "libx264", "-preset", "ultrafast", "-bf", "2",
                "-g", "30", "-crf", "20", "-c:a", "aac", "-b:a", "128k", str(part)], check=True)
            part.rename(path)
        save_sidecar(Sidecar(source=path.name, reference=f"{int(seconds)}s_cam_a.mp4",
                             delta_seconds=delta, drift_slope=drift,
                             overlap_in_reference=(0.0, seconds),
                             overlap_in_source=(0.0, seconds), audio_stream=0),
                     sidecar_path(path))
        paths.append(path)
    return paths


def make_timeline(paths: list[Path], minutes: float, out: Path) -> Path:
    """A cut of ``minutes`` with shots of 4..15 s over the three angles, as .otio."""
    import opentimelineio as otio

    from polysync.decisions import EditDecisions, Shot
    from polysync.session import load_angles
    from polysync.timeline import build_timeline

    rng = random.Random(7)
    start, end = Fraction(3), Fraction(3) + Fraction(round(minutes * 60))
    shots, t, cam = [], start, 0
    while t < end:
        length = min(end - t, Fraction(rng.randint(4, 15)))
        cam = rng.choice([c for c in range(3) if c != cam])
        shots.append(Shot(t, t + length, cam))
        t += length
    dec = EditDecisions(inputs=paths, shots=shots, audio_source=2, rate=RATE)
    tl = build_timeline(load_angles(paths), dec)
    otio.adapters.write_to_file(tl, str(out))
    return out


def worker(kind: str, args: list[str]) -> None:
    """Run one measurement in this process; print JSON (wall and CPU seconds of the process
    and its children, peak RSS in MB of the largest child and of this process)."""
    t0 = time.perf_counter()
    if kind == "floor":
        src, seconds, out = args
        subprocess.run([find_ffmpeg(), "-v", "error", "-y", "-i", src, "-t", seconds,
                        "-vf", "scale=1280:720", *SETTINGS, out], check=True)
    else:
        from polysync.render import render
        from polysync.render_graph import RenderOptions

        timeline, out = args
        render(timeline, out, RenderOptions())
    wall = time.perf_counter() - t0
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    me = resource.getrusage(resource.RUSAGE_SELF)
    cpu = kids.ru_utime + kids.ru_stime + me.ru_utime + me.ru_stime
    print(json.dumps({"wall": wall, "cpu": cpu, "ffmpeg_rss_mb": kids.ru_maxrss / 1024,
                      "python_rss_mb": me.ru_maxrss / 1024}))


def measure(kind: str, *args: str) -> dict:
    res = subprocess.run([sys.executable, __file__, "--worker", kind, *args],
                         capture_output=True, text=True, check=True)
    return json.loads(res.stdout.strip().splitlines()[-1])


def _block(path: str, t: float, seconds: float) -> tuple[float, int, np.ndarray]:
    """(time of the first sample (s), sample rate, mono samples) of ``path``'s first audio
    stream around ``t`` .. ``t + seconds``."""
    import av

    with av.open(path) as c:
        st = c.streams.audio[0]
        c.seek(int(max(0.0, t - 1.0) / st.time_base), stream=st)
        first, chunks = None, []
        for f in c.decode(st):
            if first is None:
                first = float(f.pts * f.time_base)
            chunks.append(f.to_ndarray().reshape(st.channels, -1).mean(axis=0))
            if float(f.pts * f.time_base) > t + seconds:
                break
        return first, st.sample_rate, np.concatenate(chunks).astype(np.float64)


def av_offsets(out: Path, timeline: Path, cam: int, times: list[float]) -> list[float]:
    """A/V offset (ms, + = late) of the render's sound against the audio source placed by its
    sidecar, from 0.1 s windows at output times ``times`` (s)."""
    from scipy.signal import correlate

    from polysync.timeline import parse_fraction, read_timeline

    tl = read_timeline(timeline)
    meta = tl.metadata["polysync"]
    a = dict(meta["angles"][cam])
    origin = float(parse_fraction(meta["origin"]))
    result = []
    for t in times:
        t0, sr, y = _block(str(out), t, 0.2)
        seg = y[round((t - t0) * sr):][:round(0.1 * sr)]
        pad = 0.02
        t_src = (origin + t - pad - a["delta_seconds"]) / (1 + a["drift_slope"])
        s0, sx, x = _block(a["path"], t_src, 0.2)
        # Within 0.14 s, 300 ppm of drift is 0.04 ms: the source needs no resampling here.
        ref = x[round((t_src - s0) * sx):][:len(seg) + round(2 * pad * sx)]
        c = correlate(ref, seg, mode="valid")
        k = int(np.argmax(c))
        frac = 0.5 * (c[k - 1] - c[k + 1]) / (c[k - 1] - 2 * c[k] + c[k + 1])
        result.append(round((pad * sx - (k + frac)) / sx * 1000, 3))
    return result


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--minutes", type=float, default=10.0)
    ap.add_argument("--media", type=Path, default=Path("bench-out/render"))
    ap.add_argument("--repeat", type=int, default=2, help="runs of each; the fastest counts")
    ap.add_argument("--worker", nargs="+", help=argparse.SUPPRESS)
    ns = ap.parse_args()
    if ns.worker:
        worker(ns.worker[0], ns.worker[1:])
        return
    seconds = ns.minutes * 60 + 10
    paths = make_media(ns.media, seconds)
    timeline = make_timeline(paths, ns.minutes, ns.media / "cut.otio")
    floor_out, render_out = ns.media / "floor.mp4", ns.media / "render.mp4"
    floors, renders = [], []
    for _ in range(ns.repeat):  # alternated, so both see the same machine load
        floors.append(measure("floor", str(paths[0]), str(ns.minutes * 60), str(floor_out)))
        renders.append(measure("render", str(timeline), str(render_out)))
    floor = min(floors, key=lambda m: m["wall"])
    rendered = min(renders, key=lambda m: m["wall"])
    cpu_floor = min(m["cpu"] for m in floors)
    cpu_render = min(m["cpu"] for m in renders)
    length = ns.minutes * 60
    offsets = av_offsets(render_out, timeline, 2, [f * length for f in (0.02, 0.35, 0.65, 0.98)])
    report = {
        "minutes": ns.minutes, "floor_s": round(floor["wall"], 1),
        "render_s": round(rendered["wall"], 1),
        "ratio": round(rendered["wall"] / floor["wall"], 3),
        "floor_cpu_s": round(cpu_floor, 1), "render_cpu_s": round(cpu_render, 1),
        "cpu_ratio": round(cpu_render / cpu_floor, 3),
        "floor_ffmpeg_rss_mb": round(floor["ffmpeg_rss_mb"]),
        "render_ffmpeg_rss_mb": round(rendered["ffmpeg_rss_mb"]),
        "render_python_rss_mb": round(rendered["python_rss_mb"]),
        "av_offset_ms": offsets,
    }
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
