"""Preview renders (render-cuts, render-pip): exactly what the timeline says.

Short synthetic clips are made here with PyAV: every video frame carries its camera index and
frame number in the fixtures' block code (``polysync_fixtures.decode_frame_code``), encoded with
libx264 with B-frames and 1-second GOPs like a camera; the sound is band-limited noise with a
different seed per file. Sidecars are written directly (known offsets and drift), the timeline
is built with :func:`polysync.timeline.build_timeline`, and each render is decoded again:

* every output frame must show the angle and source frame the timeline says (0 frames off),
  with three frame rates and two sizes among the angles;
* the sound must match the timeline's audio source placed by its own sidecar within 1 ms
  (cross-correlation), with a 44.1 kHz recorder that is not the reference and has an offset
  and drift as the audio source.
"""

from __future__ import annotations

import math
import os
import subprocess
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import opentimelineio as otio
import pytest
from click.testing import CliRunner
from scipy.interpolate import CubicSpline
from scipy.signal import butter, correlate, sosfilt

from polysync.cli import main
from polysync.decisions import EditDecisions, Shot, write_edl_json
from polysync.errors import ExternalToolError, UsageError
from polysync.media import find_ffmpeg
from polysync.render import render
from polysync.render_graph import GraphBuilder, RenderOptions, write_concat_list
from polysync.render_plan import plan_from_timeline
from polysync.session import load_angles
from polysync.sidecar import Sidecar, save_sidecar, sidecar_path
from polysync.timeline import build_timeline, parse_fraction, role_track, to_frames
from polysync_fixtures import decode_frame_code
from polysync_fixtures.framecode import frame_yuv420p

F = Fraction
R = F(30000, 1001)  # timeline rate
SR = 48000
SECONDS = 10.0
# name -> (camera code, fps, width, height, delta_seconds, drift_slope, audio sample rate)
FILES = {
    "A.mp4": (0, F(30000, 1001), 320, 180, 0.0, 0.0, 48000),        # the reference
    "B.mov": (1, F(25), 320, 180, 0.4137, 3.0e-4, 48000),            # drift; PCM ahead
    "C.mp4": (2, F(60000, 1001), 640, 360, -0.2511, -2.0e-4, 48000),
    "R.wav": (None, None, 0, 0, -1.2345, -2.5e-4, 44100),            # a recorder
}


def _noise(seed: int, seconds: float, sr: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    x = sosfilt(butter(6, 6000, fs=sr, output="sos"), rng.standard_normal(int(seconds * sr)))
    env = np.repeat(rng.uniform(0.05, 0.5, int(seconds * 10) + 1), sr // 10)[: len(x)]
    return (x * env).astype(np.float32)


def _make_video(path: Path, cam: int, fps: F, w: int, h: int, seed: int) -> None:
    """Video with the block code; AAC sound, or for .mov PCM written in 1-second chunks ahead
    of the picture (as some cameras do: the sound runs ~1 s ahead in file order)."""
    pcm = path.suffix == ".mov"
    out = av.open(str(path), "w")
    v = out.add_stream("libx264", rate=fps)
    v.width, v.height, v.pix_fmt, v.time_base = w, h, "yuv420p", 1 / fps
    v.options = {"preset": "veryfast", "crf": "18", "g": str(round(fps)), "bf": "2",
                 "threads": "1"}
    a = out.add_stream("pcm_s16le" if pcm else "aac", rate=SR)
    a.layout = "mono"
    x, k = _noise(seed, SECONDS, SR), 0
    block = SR if pcm else 1024
    for i in range(round(SECONDS * fps)):
        while k < ((i + 1) / fps + (1 if pcm else 0)) * SR and k < len(x):
            chunk = x[None, k:k + block]
            af = (av.AudioFrame.from_ndarray((chunk * 32767).astype(np.int16), format="s16",
                                             layout="mono") if pcm else
                  av.AudioFrame.from_ndarray(chunk, format="flt", layout="mono"))
            af.sample_rate, af.pts = SR, k
            out.mux(a.encode(af))
            k += block
        frame = av.VideoFrame.from_ndarray(frame_yuv420p(cam, i, w, h), format="yuv420p")
        frame.pts = i
        out.mux(v.encode(frame))
    out.mux(v.encode())
    out.mux(a.encode())
    out.close()


def _make_wav(path: Path, sr: int, seed: int) -> None:
    x = _noise(seed, SECONDS + 2, sr)
    out = av.open(str(path), "w")
    a = out.add_stream("pcm_s16le", rate=sr)
    a.layout = "mono"
    for k in range(0, len(x), 4096):
        af = av.AudioFrame.from_ndarray((x[None, k:k + 4096] * 32767).astype(np.int16),
                                        format="s16", layout="mono")
        af.sample_rate, af.pts = sr, k
        out.mux(a.encode(af))
    out.mux(a.encode())
    out.close()


@pytest.fixture(scope="module")
def shoot(tmp_path_factory):
    """The synthetic shoot: (folder, [paths], angles)."""
    folder = tmp_path_factory.mktemp("render_shoot")
    paths = []
    for seed, (name, (cam, fps, w, h, delta, drift, sr)) in enumerate(FILES.items(), 1):
        path = folder / name
        if cam is None:
            _make_wav(path, sr, seed)
        else:
            _make_video(path, cam, fps, w, h, seed)
        save_sidecar(Sidecar(source=name, reference="A.mp4", delta_seconds=delta,
                             drift_slope=drift, overlap_in_reference=(0.0, SECONDS),
                             overlap_in_source=(0.0, SECONDS), audio_stream=0),
                     sidecar_path(path))
        paths.append(path)
    return folder, paths, load_angles(paths)


def _edit(paths, cuts, audio_source=3, wide=None) -> EditDecisions:
    """An edit from ``(first, end, cam, pip)`` spans in timeline frames."""
    return EditDecisions(inputs=list(paths), audio_source=audio_source, rate=R, wide=wide,
                         shots=[Shot(F(a) / R, F(b) / R, c, p) for a, b, c, p in cuts],
                         deltas=[0.0] * len(paths), drift_slopes=[0.0] * len(paths))


CUTS = [(0, 40, 0, None), (40, 95, 1, None), (95, 96, 2, None), (96, 150, 0, None),
        (150, 151, 1, None), (151, 200, 2, None), (200, 262, 1, None)]


def expected_frames(tl, track, rate: F, window: int = 0) -> dict:
    """Output frame -> (cam, media frame) the timeline puts on ``track`` (None in a gap).

    Output frame ``j`` is at render time ``j / rate``; a shot covers the output frames from the
    first at or after its start; the media frame on screen is the one whose interval holds the
    shot's in-point plus the time since the shot started.
    """
    meta = tl.metadata["polysync"]
    out = {}
    for k, item in enumerate(track):
        span = track.range_of_child_at_index(k)
        p0 = to_frames(span.start_time, R)
        t0, t1 = F(p0 - window) / R, F(p0 + to_frames(span.duration, R) - window) / R
        for j in range(max(0, math.ceil(t0 * rate)), math.ceil(t1 * rate)):
            if isinstance(item, otio.schema.Clip):
                cam = item.metadata["polysync"]["cam"]
                media = parse_fraction(meta["angles"][cam]["rate"])
                k_in = round(item.source_range.start_time.value)
                out[j] = (cam, k_in + math.floor((F(j) / rate - t0) * media))
            else:
                out[j] = None
    return out


def decoded_frames(path: Path, crop=None) -> list:
    codes = []
    with av.open(str(path)) as c:
        for frame in c.decode(video=0):
            rgb = frame.to_ndarray(format="rgb24")
            codes.append(decode_frame_code(crop(rgb) if crop else rgb))
    return codes


def mismatches(got: list, want: dict, total: int) -> list:
    assert len(got) == total, f"{len(got)} frames, expected {total}"
    return [(j, got[j], want.get(j)) for j in range(total) if got[j] != want.get(j)]


def _audio(path: Path, stream: int = 0) -> tuple[np.ndarray, int]:
    """(mono samples, full scale 1.0; sample rate) of an audio stream."""

    def samples(f):
        a = f.to_ndarray()
        a = a.reshape(st.channels, -1) if f.format.is_planar else a.reshape(-1, st.channels).T
        if a.dtype.kind == "i":
            return a / float(2 ** (8 * a.dtype.itemsize - 1))
        return a.astype(np.float64)

    with av.open(str(path)) as c:
        st = c.streams.audio[stream]
        y = np.concatenate([samples(f) for f in c.decode(st)], axis=1)
        return y.mean(axis=0), st.sample_rate


def audio_offsets_ms(out: Path, source: Path, tl, cam: int, times, window_start=0.0) -> list:
    """Where the output's sound sits against the audio source placed by its sidecar (ms,
    positive = late), at output times ``times`` (s); 0.1 s windows, sub-sample peaks."""
    meta = tl.metadata["polysync"]
    a = meta["angles"][cam]
    origin = float(parse_fraction(meta["origin"])) + window_start
    y, sr = _audio(out)
    x, sx = _audio(source, a["audio_stream"] or 0)
    spline = CubicSpline(np.arange(len(x)) / sx, x)
    length, pad = int(0.1 * sr), int(0.02 * sr)
    offsets = []
    for t in times:
        n = int(t * sr)
        seg = y[n:n + length]
        t_out = np.arange(n - pad, n + length + pad) / sr
        ref = spline((origin + t_out - a["delta_seconds"]) / (1 + a["drift_slope"]))
        c = correlate(ref, seg, mode="valid")
        k = int(np.argmax(c))
        assert c[k] > 0.9 * np.sqrt((ref[k:k + length] ** 2).sum() * (seg ** 2).sum())
        frac = 0.5 * (c[k - 1] - c[k + 1]) / (c[k - 1] - 2 * c[k] + c[k + 1])
        offsets.append((pad - (k + frac)) / sr * 1000)
    return offsets


# -- the tests ------------------------------------------------------------------------------

def test_cuts_are_frame_exact_and_sound_follows_its_own_sidecar(shoot, tmp_path):
    folder, paths, angles = shoot
    tl = build_timeline(angles, _edit(paths, CUTS, audio_source=3))
    out = render(tl, tmp_path / "cuts.mp4", RenderOptions(width=640, height=360))
    want = expected_frames(tl, role_track(tl, "program"), R)
    assert mismatches(decoded_frames(out), want, 262) == []
    offsets = audio_offsets_ms(out, paths[3], tl, 3, [0.05, 1.0, 2.5, 4.5, 6.5, 8.5])
    assert max(abs(o) for o in offsets) <= 1.0, offsets


def test_output_rate_and_excerpt_with_a_camera_as_audio_source(shoot, tmp_path):
    folder, paths, angles = shoot
    tl = build_timeline(angles, _edit(paths, CUTS, audio_source=1))
    rate = F(25)
    out = render(tl, tmp_path / "excerpt.mp4", RenderOptions(width=640, height=360, rate=rate),
                 start=3.0, duration=4.0)
    window = round(3 * R)  # the excerpt, in whole timeline frames: [90, 210)
    want = expected_frames(tl, role_track(tl, "program"), rate, window)
    assert mismatches(decoded_frames(out), want, math.ceil(F(120) / R * rate)) == []
    offsets = audio_offsets_ms(out, paths[1], tl, 1, [0.05, 1.3, 2.6, 3.8],
                               window_start=float(F(window) / R))
    assert max(abs(o) for o in offsets) <= 1.0, offsets


def test_pip_inset_is_frame_exact(shoot, tmp_path):
    folder, paths, angles = shoot
    cuts = [(0, 40, 0, 1), (40, 95, 1, None), (95, 150, 2, 0), (150, 151, 0, 2),
            (151, 200, 1, 2)]
    tl = build_timeline(angles, _edit(paths, cuts))
    # A narrow inset at the right leaves the main picture's code (the middle half) readable.
    opts = RenderOptions(width=1280, height=720, pip_width=256, pip_margin=8, border_px=4)
    out = render(tl, tmp_path / "pip.mp4", opts, pip=True)
    pw, ph, b, x, y = GraphBuilder(plan_from_timeline(tl, pip=True), opts, tmp_path).pip_geometry()
    assert (pw, ph, b, x, y) == (256, 144, 4, 1280 - 264 - 8, 720 - 152 - 8)
    want_main = expected_frames(tl, role_track(tl, "program"), R)
    want_inset = expected_frames(tl, role_track(tl, "pip"), R)
    assert mismatches(decoded_frames(out), want_main, 200) == []
    inset = decoded_frames(out, lambda rgb: rgb[y + b:y + b + ph, x + b:x + b + pw])
    assert mismatches(inset, want_inset, 200) == []
    with av.open(str(out)) as c:  # frame 100: cam 2 with cam 0 inset
        rgb = next(f for i, f in enumerate(c.decode(video=0)) if i == 100).to_ndarray("rgb24")
    assert rgb[y + 1, x + 100].min() > 200  # the white border
    assert abs(int(rgb[y - 3, x + 100].mean()) - int(rgb[y - 3, x - 30].mean())) < 10


def test_pip_picks_insets_when_the_edit_has_none(shoot, tmp_path):
    folder, paths, angles = shoot
    tl = build_timeline(angles, _edit(paths, [(15, 60, 0, None), (60, 120, 2, None)]))
    plan = plan_from_timeline(tl, pip=True, pip_pick="next")
    assert [(s.cam, s.first, s.end) for s in plan.pip] == [(1, 0, 45), (0, 45, 105)]
    assert plan_from_timeline(tl, pip=True, pip_pick="second-best").pip[1].cam == 0
    assert plan_from_timeline(tl, pip=False).pip == []


def test_gaps_are_black_and_only_gaps(shoot, tmp_path, monkeypatch):
    folder, paths, angles = shoot
    monkeypatch.setattr("polysync.render_graph.GRAPH_INLINE_LIMIT", 0)  # the graph as a file
    # B starts 0.4137 s after the reference: a shot of B at 0 begins with a gap.
    tl = build_timeline(angles, _edit(paths, [(0, 30, 1, None), (30, 60, 0, None)],
                                      audio_source=0))
    program = role_track(tl, "program")
    assert isinstance(program[0], otio.schema.Gap)
    out = render(tl, tmp_path / "gap.mp4", RenderOptions(width=320, height=180))
    want = expected_frames(tl, program, R)
    got = decoded_frames(out)
    assert mismatches(got, want, 60) == []
    with av.open(str(out)) as c:
        luma = [f.to_ndarray(format="gray").mean() for f in c.decode(video=0)]
    gap = [j for j, w in want.items() if w is None]
    assert gap == list(range(to_frames(program[0].duration(), R))) and len(gap) >= 10
    assert all(luma[j] < 20 for j in gap) and all(luma[j] > 40 for j in want if j not in gap)


def test_rotation_from_the_file_and_from_the_option(shoot, tmp_path):
    folder, paths, angles = shoot
    rotated = tmp_path / "A_portrait.mp4"
    subprocess.run([find_ffmpeg(), "-v", "error", "-display_rotation", "90", "-i",
                    str(paths[0]), "-c", "copy", str(rotated)], check=True)
    save_sidecar(Sidecar(source=rotated.name, reference="A.mp4", delta_seconds=0.0,
                         drift_slope=0.0, overlap_in_reference=(0, SECONDS),
                         overlap_in_source=(0, SECONDS), audio_stream=0), sidecar_path(rotated))
    tl = build_timeline(load_angles([rotated, paths[1]]),
                        EditDecisions(inputs=[rotated, paths[1]], audio_source=0, rate=R,
                                      shots=[Shot(F(0), F(20) / R, 0)]))
    want = expected_frames(tl, role_track(tl, "program"), R)
    # Letterboxed: a 180x320 picture in 640x360 is 202 px wide, centred.
    out = render(tl, tmp_path / "portrait.mp4", RenderOptions(width=640, height=360))
    with av.open(str(out)) as c:
        first = next(c.decode(video=0)).to_ndarray(format="rgb24")
    assert first[:, :200].max() < 30 and first[:, -200:].max() < 30
    upright = decoded_frames(out, lambda rgb: np.rot90(rgb[:, 219:421], -1))
    assert mismatches(upright, want, 20) == []
    # --rotate 0:90 turns it back to landscape: the whole frame decodes.
    out = render(tl, tmp_path / "turned.mp4", RenderOptions(width=640, height=360, rotate={0: 90}))
    assert mismatches(decoded_frames(out), want, 20) == []
    # Fill crops instead of letterboxing: no black bars.
    out = render(tl, tmp_path / "fill.mp4", RenderOptions(width=640, height=360, fill=True))
    with av.open(str(out)) as c:
        first = next(c.decode(video=0)).to_ndarray(format="rgb24")
    assert first[:, :20].mean() > 40 and first[:, -20:].mean() > 40


def test_duck_audio_puts_the_angle_on_screen_up(shoot, tmp_path):
    folder, paths, angles = shoot
    cuts = [(0, 90, 0, None), (90, 180, 1, None), (180, 270, 2, None)]
    tl = build_timeline(angles, _edit(paths, cuts))
    out = render(tl, tmp_path / "duck.mp4",
                 RenderOptions(width=320, height=180, duck_audio=True, duck_db=-18.0))
    y, sr = _audio(out)
    meta = tl.metadata["polysync"]
    origin = float(parse_fraction(meta["origin"]))
    mics = []
    for cam in range(3):
        a = meta["angles"][cam]
        x, sx = _audio(paths[cam])
        t_src = (origin + np.arange(len(y)) / sr - a["delta_seconds"]) / (1 + a["drift_slope"])
        mics.append(np.interp(t_src, np.arange(len(x)) / sx, x, left=0, right=0))
    for cam, (a, b, _, _) in enumerate(cuts):
        span = slice(int((a / R + 0.2) * sr), int((b / R - 0.2) * sr))
        basis = np.stack([m[span] for m in mics], axis=1)
        gains, *_ = np.linalg.lstsq(basis, y[span], rcond=None)
        others = [g for k, g in enumerate(gains) if k != cam]
        ratio_db = [20 * np.log10(gains[cam] / g) for g in others]
        assert all(15 < r < 21 for r in ratio_db), (cam, gains)


def test_cli_renders_edl_json_and_fails_cleanly(shoot, tmp_path):
    folder, paths, angles = shoot
    edl = write_edl_json(_edit(paths, [(0, 45, 0, None), (45, 90, 2, 1)]), tmp_path / "edl.json")
    out = tmp_path / "final.mp4"
    res = CliRunner().invoke(main, ["render-cuts", str(edl), "--out", str(out), "--width", "320",
                                    "--height", "180", "-q"])
    assert res.exit_code == 0, res.output
    with av.open(str(out)) as c:
        assert c.streams.video[0].codec_context.name == "h264"
        assert c.streams.audio[0].sample_rate == SR
        assert (c.streams.video[0].width, c.streams.video[0].height) == (320, 180)
    res = CliRunner().invoke(main, ["render-pip", str(edl), "--out", str(out), "--width", "320",
                                    "--height", "180", "-q", "--pip", "top-left", "--log",
                                    "slog3", "--rotate", "2:180", "--fps", "25"])
    assert res.exit_code == 0, res.output
    res = CliRunner().invoke(main, ["render-cuts", str(edl), "--out", str(out), "--log", "hlg"])
    assert res.exit_code == 2 and "unknown --log" in res.output
    for bad_opt in (["--fps", "abc"], ["--fps", "0"], ["--out", str(tmp_path / "final.avi")],
                    ["--rotate", "9:90"], ["--duck-audio", "--audio-cams", "0,9"]):
        res = CliRunner().invoke(main, ["render-cuts", str(edl), "--out", str(out), *bad_opt])
        assert res.exit_code == 2 and "internal error" not in res.output, res.output
    assert not (tmp_path / "final.avi").exists()
    # a camera file where the edit should be: a usage error naming it, not a JSON parse error
    res = CliRunner().invoke(main, ["render-cuts", str(paths[0]), "--out", str(out)])
    assert res.exit_code == 2 and f"{paths[0]}: a media file, not an edit" in res.output
    # A failing ffmpeg run: exit 6, one line with ffmpeg's reason, nothing left behind.
    before = sorted(os.listdir(tmp_path))
    bad = tmp_path / "bad.mp4"
    res = CliRunner().invoke(main, ["render-cuts", str(edl), "--out", str(bad),
                                    "--encoder", "no_such_encoder", "-q"])
    assert res.exit_code == 6
    lines = [ln for ln in res.output.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith(f"polysync: error: {bad}: ffmpeg failed:")
    assert "no_such_encoder" in lines[0] or "encoder" in lines[0].lower()
    assert sorted(os.listdir(tmp_path)) == before
    with pytest.raises(ExternalToolError):
        render(edl, bad, RenderOptions(encoder="no_such_encoder"))
    assert not bad.exists()
    with pytest.raises(UsageError):  # the library refuses a name it would not write as named
        render(edl, tmp_path / "final.avi")
    assert not (tmp_path / "final.avi").exists()


def test_each_shot_is_read_from_its_in_point(shoot, tmp_path):
    """The concat list seeks every shot to a few frames before its in-point: nothing is read
    from the start of the file or between shots."""
    folder, paths, angles = shoot
    tl = build_timeline(angles, _edit(paths, CUTS))
    plan = plan_from_timeline(tl)
    src = plan.sources[1]
    segs = [s for s in plan.program if s.cam == 1]
    entries = write_concat_list(tmp_path / "b.ffconcat", src, segs)
    lines = (tmp_path / "b.ffconcat").read_text().splitlines()
    inpoints = [float(ln.split()[1]) for ln in lines if ln.startswith("inpoint")]
    assert len(inpoints) == len(segs) == 3
    for seg, inpoint in zip(segs, inpoints):
        assert 0 < float(seg.t_in) - inpoint < 10 / float(src.fps)
    starts = [e.start for e in entries]
    assert starts[0] == 0 and all(b > a for a, b in zip(starts, starts[1:]))


def test_mpegts_angle_with_a_start_offset(shoot, tmp_path):
    """MPEG-TS starts its clock at 1.4 s and seeks without an index: frames and sound stay
    exact."""
    folder, paths, angles = shoot
    ts = tmp_path / "A.ts"
    subprocess.run([find_ffmpeg(), "-v", "error", "-i", str(paths[0]), "-c", "copy", str(ts)],
                   check=True)
    save_sidecar(Sidecar(source=ts.name, reference="A.mp4", delta_seconds=0.0, drift_slope=0.0,
                         overlap_in_reference=(0, SECONDS), overlap_in_source=(0, SECONDS),
                         audio_stream=0), sidecar_path(ts))
    files = [ts, paths[1]]
    tl = build_timeline(load_angles(files), EditDecisions(
        inputs=files, audio_source=0, rate=R,
        shots=[Shot(F(a) / R, F(b) / R, c) for a, b, c in
               [(0, 40, 0), (40, 90, 1), (90, 150, 0), (150, 200, 1), (200, 240, 0)]]))
    plan = plan_from_timeline(tl)
    assert plan.sources[0].start > 1.0 and plan.sources[0].seek_margin > 0
    out = render(tl, tmp_path / "ts.mp4", RenderOptions(width=320, height=180))
    want = expected_frames(tl, role_track(tl, "program"), R)
    assert mismatches(decoded_frames(out), want, 240) == []
    y, sr = _audio(out)
    with av.open(str(ts)) as c:  # the source's samples at their own times
        st = c.streams.audio[0]
        frames = list(c.decode(st))
        t0 = float(frames[0].pts * frames[0].time_base) - c.start_time / 1e6
        x = np.concatenate([f.to_ndarray().mean(axis=0) for f in frames]).astype(np.float64)
    spline = CubicSpline(t0 + np.arange(len(x)) / st.sample_rate, x)
    origin = float(parse_fraction(tl.metadata["polysync"]["origin"]))
    for t in (0.5, 3.0, 6.0):
        n, pad = int(t * sr), 960
        seg = y[n:n + 4800]
        c = correlate(spline(origin + np.arange(n - pad, n + 4800 + pad) / sr), seg, "valid")
        k = int(np.argmax(c))
        frac = 0.5 * (c[k - 1] - c[k + 1]) / (c[k - 1] - 2 * c[k] + c[k + 1])
        assert abs(pad - (k + frac)) / sr * 1000 <= 1.0
