"""The media layer on small files written here: probe fields, multi-stream decode, timing."""

from fractions import Fraction

import av
import numpy as np
import pytest
from scipy import signal

from polysync.channels import candidates_for_track, rank
from polysync.errors import MediaError
from polysync.align import place_span
from polysync.media import (ANALYSIS_RATE, FINE_RATE, decode_audio, decode_channel,
                            decode_spans, find_ffmpeg,
                            probe)


def clicks(rate: int, seconds: float, every: float = 1.0, width: int = 24) -> np.ndarray:
    """Short pulses every ``every`` seconds (float32, 0.6 full scale)."""
    n = int(rate * seconds)
    x = np.zeros(n, np.float32)
    for k in range(int(seconds / every) + 1):
        i = int(round(k * every * rate))
        x[i: i + width] = 0.6
    return x


def write(path, streams, video_fps=None, timecode=None):
    """Write ``streams`` = [(codec, rate, (channels, n) float32 array, pts_gap_at)]."""
    out = av.open(str(path), "w")
    if timecode:
        out.metadata["timecode"] = timecode
    vs = None
    if video_fps:
        vs = out.add_stream("libx264", rate=video_fps)
        vs.width, vs.height, vs.pix_fmt = 64, 48, "yuv420p"
    enc = []
    for codec, rate, data, gap_at in streams:
        s = out.add_stream(codec, rate=rate)
        s.layout = {1: "mono", 2: "stereo", 4: "quad", 8: "7.1"}[data.shape[0]]
        enc.append((s, rate, data, gap_at))
    if vs is not None:
        for i in range(int(video_fps * 2)):
            frame = av.VideoFrame.from_ndarray(np.full((48, 64, 3), i % 255, np.uint8), "rgb24")
            frame.pts = i
            for p in vs.encode(frame):
                out.mux(p)
        for p in vs.encode():
            out.mux(p)
    for s, rate, data, gap_at in enc:
        fmt = "s16" if s.codec_context.name.startswith("pcm") else "fltp"
        pts = 0
        for i in range(0, data.shape[1], 1024):
            block = np.ascontiguousarray(data[:, i: i + 1024])
            if fmt == "s16":
                block = (block.T.reshape(1, -1) * 32767).astype(np.int16)
            frame = av.AudioFrame.from_ndarray(block, format=fmt, layout=s.layout.name)
            frame.sample_rate, frame.pts = rate, pts
            for p in s.encode(frame):
                out.mux(p)
            pts += data[:, i: i + 1024].shape[1]
            if gap_at is not None and i <= gap_at * rate < i + 1024:
                pts += rate // 2  # a half-second hole in the timestamps
        for p in s.encode():
            out.mux(p)
    out.close()


def peak_times(track) -> list[float]:
    x = np.abs(track.samples.astype(np.float32)).max(axis=0)
    idx = [i for i in range(1, len(x) - 1) if x[i] > 0.1 and x[i] >= x[i - 1] and x[i] > x[i + 1]]
    return [round(track.t0 + i / track.rate, 3) for i in idx]


def test_probe_reports_streams_fps_and_timecode(tmp_path):
    f = tmp_path / "cam.mov"
    live = clicks(48000, 2.0)
    write(f, [("aac", 48000, np.zeros((2, 96000), np.float32), None),
              ("pcm_s16le", 44100, clicks(44100, 2.0)[None], None)],
          video_fps=Fraction(30000, 1001), timecode="01:00:00:00")
    info = probe(f)
    assert info.video.fps == Fraction(30000, 1001)
    assert (info.video.width, info.video.height) == (64, 48)
    assert [s.audio_index for s in info.audio_streams] == [0, 1]
    assert [s.sample_rate for s in info.audio_streams] == [48000, 44100]
    assert [s.channels for s in info.audio_streams] == [2, 1]
    assert info.timecode == "01:00:00:00"
    assert info.duration == pytest.approx(2.0, abs=0.1)
    assert info.size == f.stat().st_size
    del live


def test_one_pass_decodes_every_stream_and_finds_the_live_one(tmp_path):
    f = tmp_path / "cam.mp4"
    rng = np.random.default_rng(3)
    speechy = (rng.standard_normal(48000 * 20) * np.repeat(rng.random(100) > 0.5, 9600) * 0.3)
    write(f, [("aac", 48000, np.zeros((2, 48000 * 20), np.float32), None),
              ("aac", 48000, np.stack([speechy, -speechy]).astype(np.float32), None)])
    dec = decode_audio(f)
    assert [t.audio_index for t in dec.tracks] == [0, 1]
    assert all(t.rate == ANALYSIS_RATE for t in dec.tracks)
    assert dec.tracks[1].duration == pytest.approx(20.0, abs=0.05)
    cands = rank([c for t in dec.tracks
                  for c in candidates_for_track(t.samples, t.rate, t.t0, t.audio_index)])
    best = cands[0]
    assert best.alive and best.audio_stream == 1
    assert best.channel == "L-R"  # the inverted pair is combined without cancelling
    assert not [c for c in cands if c.audio_stream == 0 and c.alive]


@pytest.mark.parametrize("rate", [44100, 48000])
def test_sample_positions_follow_the_file_clock_across_a_timestamp_gap(tmp_path, rate):
    f = tmp_path / "gap.mkv"  # Matroska keeps timestamp holes (to the millisecond)
    write(f, [("pcm_s16le", rate, clicks(rate, 5.5)[None], 2.2)])
    track = decode_audio(f).tracks[0]
    # clicks at 0..5 s of samples; the 0.5 s hole after 2.2 s moves the later ones by 0.5 s
    assert peak_times(track) == pytest.approx([0.0, 1.0, 2.0, 3.5, 4.5, 5.5], abs=0.0015)


@pytest.mark.parametrize("n_ch, live", [(4, 1), (8, 5)])
def test_multichannel_recorder_gives_one_candidate_per_channel(tmp_path, n_ch, live):
    """A 4-track recorder, and an 8-track polyWAV (PyAV 18 crashes reading planar frames of 8+
    channels: the decoder must not go that way)."""
    f = tmp_path / "zoom.wav"
    rng = np.random.default_rng(1)
    data = np.zeros((n_ch, 44100 * 10), np.float32)
    data[live] = rng.standard_normal(44100 * 10) * np.repeat(rng.random(50) > 0.5, 8820) * 0.2
    write(f, [("pcm_s16le", 44100, data, None)])
    track = decode_audio(f).tracks[0]
    cands = candidates_for_track(track.samples, track.rate, track.t0, 0)
    assert [c.channel for c in cands] == [f"ch{i}" for i in range(n_ch)]
    assert [c.alive for c in cands] == [i == live for i in range(n_ch)]
    (t, x), = decode_spans(f, 0, f"ch{live}", [(2.0, 4.0)])
    assert t == pytest.approx(2.0, abs=0.002) and np.std(x) > 0.05


def test_media_errors_name_the_file(tmp_path):
    with pytest.raises(MediaError, match="file not found") as err:
        probe(tmp_path / "missing.mp4")
    assert "missing.mp4" in str(err.value)
    text = tmp_path / "notes.mp4"
    text.write_text("this is not a video\n" * 50)
    with pytest.raises(MediaError, match="not a media file"):
        decode_audio(text)
    with pytest.raises(MediaError, match="folder"):
        probe(tmp_path)
    video_only = tmp_path / "silent_film.mp4"
    write(video_only, [], video_fps=25)
    with pytest.raises(MediaError, match="no audio stream"):
        decode_audio(video_only)


def test_ffmpeg_is_found_without_a_system_install(monkeypatch):
    monkeypatch.delenv("POLYSYNC_FFMPEG", raising=False)
    assert find_ffmpeg()
    monkeypatch.setenv("POLYSYNC_FFMPEG", "/opt/ff/ffmpeg")
    assert find_ffmpeg() == "/opt/ff/ffmpeg"


def test_long_stereo_pair_is_kept_as_its_mix(tmp_path, monkeypatch):
    """After COLLAPSE_AFTER seconds a stereo pair whose sides are one sound keeps only its mix
    (L-R when a side is inverted); a pair with a dead side stays two channels."""
    from polysync import media

    monkeypatch.setattr(media._TrackBuilder, "COLLAPSE_AFTER", 5.0)
    rng = np.random.default_rng(5)
    speechy = (rng.standard_normal(48000 * 20) * np.repeat(rng.random(100) > 0.5, 9600) * 0.3)
    inverted, dead = tmp_path / "inv.mov", tmp_path / "dead.mov"
    write(inverted, [("pcm_s16le", 48000, np.stack([speechy, -speechy]).astype(np.float32), None)])
    write(dead, [("pcm_s16le", 48000, np.stack([speechy, 0 * speechy]).astype(np.float32), None)])
    track = decode_audio(inverted).tracks[0]
    assert track.samples.shape[0] == 1 and track.mixed == "L-R"
    assert track.duration == pytest.approx(20.0, abs=0.01)
    whole = np.abs(track.samples[0].astype(np.float32))
    assert whole[: 4000 * 5].max() > 0.2 and whole[4000 * 10:].max() > 0.2  # before and after
    (cand,) = candidates_for_track(track.samples, track.rate, track.t0, 0, track.mixed)
    assert cand.channel == "L-R" and cand.alive
    assert decode_audio(dead).tracks[0].samples.shape[0] == 2


@pytest.mark.parametrize("channel", ["R", "L-R"])
def test_one_channel_is_decoded_to_a_file_on_the_same_clock(tmp_path, channel):
    """decode_channel writes one mono candidate of a stream as it decodes: the samples the
    full pass gives that candidate, from the same first-sample time (here after a gap)."""
    from polysync.media import mono_of

    rng = np.random.default_rng(8)
    speechy = (rng.standard_normal(48000 * 6) * np.repeat(rng.random(30) > 0.5, 9600) * 0.3)
    f = tmp_path / "pair.mkv"
    pair = np.stack([speechy, -0.5 * speechy]).astype(np.float32)
    write(f, [("pcm_s16le", 48000, clicks(48000, 2.5)[None], None),
              ("pcm_s16le", 48000, pair, 1.5)])
    out = tmp_path / "one.f16"
    with open(out, "wb") as fh:
        t0 = decode_channel(f, 1, channel, FINE_RATE, fh)
    got = np.fromfile(out, dtype=np.float16)
    full = decode_audio(f, rate=FINE_RATE).tracks[1]
    assert t0 == full.t0
    want = mono_of(full.samples.astype(np.float32), channel)
    assert len(got) == len(want) == pytest.approx(6.5 * FINE_RATE, abs=40)  # 0.5 s of hole
    assert np.abs(got).max() > 0.1
    np.testing.assert_allclose(got.astype(np.float32), want.astype(np.float16), atol=1e-3)


def span_peaks(t: float, x: np.ndarray, rate: int) -> list[float]:
    a = np.abs(x)
    idx = [i for i in range(1, len(a) - 1) if a[i] > 0.1 and a[i] >= a[i - 1] and a[i] > a[i + 1]
           and a[i] == a[max(0, i - 200): i + 200].max()]
    # sub-sample: the vertex of the parabola through the peak and its neighbours
    frac = [0.5 * (a[i - 1] - a[i + 1]) / (a[i - 1] - 2 * a[i] + a[i + 1]) for i in idx]
    return [t + (i + f) / rate for i, f in zip(idx, frac)]


@pytest.mark.parametrize("rate", [44100, 48000])
def test_spans_are_read_on_the_file_clock(tmp_path, rate):
    """Spans re-read at the fine rate after a seek sit near where their timestamps say
    (Matroska rounds them to the millisecond), across a timestamp hole too; placed against the
    full-pass signal they are exact."""
    f = tmp_path / "gap.mkv"
    write(f, [("pcm_s16le", rate, clicks(rate, 5.5)[None], 2.2)])
    track = decode_audio(f).tracks[0]
    spans = [(0.6, 1.6), (3.2, 4.8), (1.7, 2.4)]
    got = decode_spans(f, 0, "mono", spans)
    want = [[1.0], [3.5, 4.5], [2.0]]
    full = span_peaks(track.t0, track.samples[0].astype(np.float32), track.rate)
    for (t, x), w, (a, _) in zip(got, want, spans):
        assert t == pytest.approx(a, abs=0.0015)
        assert span_peaks(t, x, FINE_RATE) == pytest.approx(w, abs=0.0015)
        placed = place_span(x, FINE_RATE, t, track.samples[0], track.t0, track.rate)
        on_full = [min(full, key=lambda p: abs(p - q)) for q in w]
        # (a click filtered at 4 and at 16 kHz peaks up to ~0.2 ms apart)
        assert span_peaks(placed, x, FINE_RATE) == pytest.approx(on_full, abs=3e-4)


def test_spans_of_a_compressed_stream_match_the_full_pass(tmp_path):
    rate = 48000
    rng = np.random.default_rng(3)
    noise = signal.lfilter([1.0], [1.0, -0.9], rng.standard_normal(rate * 8)).astype(np.float32)
    data = np.stack([0.1 * noise, -0.1 * noise])  # an inverted pair: the candidate is L-R
    f = tmp_path / "cam.mp4"
    write(f, [("aac", rate, data, None)])
    before = (f.read_bytes(), f.stat().st_mtime_ns)
    track = decode_audio(f).tracks[0]
    ref = 0.5 * (track.samples[0].astype(np.float32) - track.samples[1].astype(np.float32))
    spans = [(0.0, 1.0), (2.3, 3.4), (6.5, 8.5)]
    got = decode_spans(f, 0, "L-R", spans)
    assert got[2][1].size < 2.0 * FINE_RATE  # the last span is cut at the end of the file
    for (t, x), (a, _) in zip(got, spans):
        assert t == pytest.approx(a, abs=0.002)
        assert np.std(x) > 0.05  # L-R of an inverted pair keeps the sound
        placed = place_span(x, FINE_RATE, t, ref, track.t0, track.rate)
        assert placed is not None and placed == pytest.approx(t, abs=2e-4)
    assert (f.read_bytes(), f.stat().st_mtime_ns) == before
