"""The fixture generator tells the truth: what truth.json promises is what PyAV decodes.

Scenarios come from the shared cache (built once per GENERATOR_VERSION); tests that need a fresh
or custom build use shortened specs so the whole module stays fast.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
from fractions import Fraction

import av
import numpy as np
import pytest
from scipy import signal

from polysync_fixtures import (GENERATOR_VERSION, SCENARIOS, build_scenario, cached_scenario,
                               decode_frame_code, frame_image, generate, load_truth, long_shoot_spec)
from polysync_fixtures.__main__ import main as cli_main

FS = 48000


# ----------------------------------------------------------------------------------------------
# helpers


def decode_audio(path, stream: int = 0) -> tuple[np.ndarray, int, float]:
    """(samples (channels, n) float64 in [-1, 1], sample rate, pts of the first sample)."""
    with av.open(str(path)) as c:
        st = c.streams.audio[stream]
        chunks, first = [], None
        for frame in c.decode(st):
            a = frame.to_ndarray()
            if frame.format.is_packed:
                a = a.reshape(-1, len(frame.layout.channels)).T
            if a.dtype == np.int16:
                a = a / 32768.0
            if first is None:
                first = float(frame.pts * frame.time_base)
            chunks.append(a.astype(np.float64))
        return np.concatenate(chunks, axis=1), st.rate, first


def live_mono(folder, entry) -> np.ndarray:
    """The file's first live channel, resampled to 48 kHz on the file's own clock."""
    x, rate, _ = decode_audio(folder / entry["name"], entry["live_audio_stream"])
    roles = entry["audio_streams"][entry["live_audio_stream"]]["channel_roles"]
    x = x[roles.index("live")]
    return x if rate == FS else signal.resample_poly(x, FS // 300, rate // 300)


def file_time_of(ref: np.ndarray, sig: np.ndarray, t_ref: float, t_guess: float,
                 width: float = 3.0, search: float = 0.5) -> float:
    """The time on sig's clock (s) that matches ref time ``t_ref``, the centre of a ``width``
    window (centres, so clock-rate differences do not bias it), searched within +-search of
    t_guess: band-limited (150..6000 Hz) GCC-PHAT with parabolic refinement."""
    a0 = int(round((t_ref - width / 2) * FS))
    a = ref[a0: a0 + int(width * FS)]
    s0 = int(round((t_guess - width / 2 - search) * FS))
    b = sig[s0: s0 + len(a) + int(2 * search * FS)]
    a, b = a * np.hanning(len(a)), b * np.hanning(len(b))
    n = len(a) + len(b)
    spec = np.fft.rfft(b, n) * np.conj(np.fft.rfft(a, n))
    spec /= np.abs(spec) + 1e-12
    freqs = np.fft.rfftfreq(n, 1 / FS)
    spec[(freqs < 150) | (freqs > 6000)] = 0
    cc = np.fft.irfft(spec, n)[: len(b) - len(a) + 1]
    k = int(np.clip(np.argmax(cc), 1, len(cc) - 2))
    y0, y1, y2 = cc[k - 1: k + 2]
    return (s0 + k + 0.5 * (y0 - y2) / (y0 - 2 * y1 + y2) + (t_ref * FS - a0)) / FS


def model_t_src(entry, t_ref: float) -> float:
    return (t_ref - entry["delta_seconds"]) / (1 + entry["drift_slope"])


def solo_windows(truth, lo: float, hi: float, width: float = 3.0):
    """(centre, person) of windows inside [lo, hi] where exactly one person talks (a turn)."""
    out = []
    for t in np.arange(lo + width / 2, hi - width / 2, 0.5):
        active = [s for s in truth["speech"]
                  if s["start"] < t + width / 2 + 0.3 and s["end"] > t - width / 2 - 0.3]
        if len(active) == 1 and active[0]["kind"] == "turn":
            out.append((float(t), active[0]["person"]))
    return out


def talk_windows(truth, lo: float, hi: float, width: float = 3.0):
    """Centres of windows inside [lo, hi] covered by someone's turn (any talker: shared path)."""
    turns = [s for s in truth["speech"] if s["kind"] == "turn"]
    return [float(t) for t in np.arange(lo + width / 2, hi - width / 2, 0.5)
            if any(s["start"] <= t - width / 2 and s["end"] >= t + width / 2 for s in turns)]


def shortened(spec, seconds: float):
    """The spec with every file cut to at most ``seconds`` (same deltas, drifts, devices)."""
    files = tuple(dataclasses.replace(f, duration=min(f.duration, seconds)) for f in spec.files)
    return dataclasses.replace(spec, files=files)


def audio_digest(folder, truth) -> str:
    h = hashlib.sha256()
    for entry in truth["files"]:
        for st in entry["audio_streams"]:
            x, _, _ = decode_audio(folder / entry["name"], st["stream"])
            h.update(np.ascontiguousarray(x.astype(np.float32)).tobytes())
    return h.hexdigest()


@pytest.fixture(scope="module")
def basic():
    folder = cached_scenario("basic")
    return folder, load_truth(folder)


@pytest.fixture(scope="module")
def shared():
    folder = cached_scenario("shared_path")
    return folder, load_truth(folder)


def by_name(truth, name):
    return next(f for f in truth["files"] if f["name"] == name)


# ----------------------------------------------------------------------------------------------
# API and truth structure


def test_scenarios_are_specs_with_a_reference():
    expected = {"basic", "wide", "duo", "quad", "shared_path", "partial", "short", "phone_drift",
                "unrelated", "bad_inputs", "rates"}
    assert expected <= set(SCENARIOS)
    for name, make in SCENARIOS.items():
        spec = make(0)
        assert spec.reference == spec.files[0].name
        names = [f.name for f in spec.files]
        assert len(names) == len(set(names)), name
        codes = [f.camera_code for f in spec.files if f.video is not None]
        assert len(codes) == len(set(codes)) and all(0 <= c < 16 for c in codes), name
        assert spec == make(0)  # deterministic
    assert SCENARIOS["basic"](1) != SCENARIOS["basic"](0)


def test_basic_truth_structure(basic):
    folder, truth = basic
    assert truth["generator_version"] == GENERATOR_VERSION and truth["scenario"] == "basic"
    ref = by_name(truth, truth["reference"])
    assert ref["delta_seconds"] == 0.0 and ref["drift_slope"] == 0.0
    assert [f["container"] for f in truth["files"]] == ["mp4", "mov", "mp4"]
    b, c = by_name(truth, "cam_b.mov"), by_name(truth, "cam_c.mp4")
    assert b["delta_seconds"] == -3.7 and 38 <= b["drift_ppm"] <= 42 and b["audio_codec"] == "pcm_s16le"
    assert 6.1 < c["delta_seconds"] < 6.3 and -27 <= c["drift_ppm"] <= -23 and c["sample_rate"] == 44100
    assert abs(c["drift_slope"] - c["drift_ppm"] * 1e-6) < 1e-15
    assert ref["live_audio_stream"] == 1 and not ref["audio_streams"][0]["live"]
    assert c["stereo"] == "inverted_right"
    assert {p["name"] for p in truth["people"]} == {"ann", "bob", "cat"}
    for p in truth["people"]:
        assert 85 <= p["f0"] <= 260
        assert p["close_mic"] == next(f["name"] for f in truth["files"] if f["frames"] == [p["name"]])
    for f in truth["files"]:
        assert set(f["propagation_ms"]) == {"ann", "bob", "cat"}
        own = f["propagation_ms"][f["frames"][0]]
        assert 0.5 / 0.343 <= own <= 1.5 / 0.343 + 1e-6  # the framed person is 0.5..1.5 m away
        assert own == min(f["propagation_ms"].values())
    scene_end = truth["scene_start"] + truth["scene_duration"]
    for f in truth["files"]:
        assert truth["scene_start"] <= f["delta_seconds"] and f["end_seconds"] <= scene_end
        assert f["end_seconds"] == pytest.approx(f["delta_seconds"] + f["duration"] * (1 + f["drift_slope"]))


def test_speech_crosstalk_and_silences_are_consistent(basic):
    truth = basic[1]
    speech = truth["speech"]
    assert speech == sorted(speech, key=lambda s: (s["start"], s["person"]))
    assert {s["kind"] for s in speech} <= {"turn", "backchannel", "laughter"}
    assert any(s["kind"] == "turn" and s["end"] - s["start"] > 30 for s in speech)
    for s in speech:
        assert s["start"] < s["end"]
        if s["kind"] == "backchannel":
            assert 0.15 <= s["end"] - s["start"] <= 0.7 + 1e-6
    for person in {s["person"] for s in speech}:  # nobody makes two sounds at once
        mine = [s for s in speech if s["person"] == person]
        assert all(x["end"] <= y["start"] for x, y in zip(mine, mine[1:]))
    for a, b in truth["silences"]:
        assert b - a >= 1.0 and not any(s["start"] < b and s["end"] > a for s in speech)
    for a, b in truth["crosstalk"]:
        mid = (a + b) / 2
        talking = {s["person"] for s in speech if s["kind"] != "backchannel" and s["start"] <= mid <= s["end"]}
        assert len(talking) >= 2


def test_director_scenarios_have_crosstalk_laughter_and_silence():
    from polysync_fixtures.script import crosstalk, make_script, silences
    for name in ("wide", "quad"):
        for seed in range(3):
            scene = SCENARIOS[name](seed).scenes[0]
            events = make_script(scene, -3.0, 92.0)
            assert any(e.kind == "laughter" for e in events), (name, seed)
            assert crosstalk(events) and silences(events, -3 * FS, 92 * FS), (name, seed)


# ----------------------------------------------------------------------------------------------
# media matches the truth


def test_files_decode_as_the_truth_says(basic):
    folder, truth = basic
    for f in truth["files"]:
        with av.open(str(folder / f["name"])) as c:
            assert len(c.streams.audio) == len(f["audio_streams"])
            v = f["video"]
            assert c.streams.video[0].average_rate == Fraction(v["fps"])
            assert (c.streams.video[0].width, c.streams.video[0].height) == (v["width"], v["height"])
            assert c.streams.video[0].frames in (0, v["frames"])
        for st in f["audio_streams"]:
            x, rate, first = decode_audio(folder / f["name"], st["stream"])
            assert rate == f["sample_rate"] and x.shape[0] == st["channels"] and first == 0.0
            slack = 0 if f["audio_codec"].startswith("pcm") else 2048  # AAC pads its last frame
            assert f["n_samples"] <= x.shape[1] <= f["n_samples"] + slack
            assert f["duration"] == f["n_samples"] / f["sample_rate"]


def test_dead_stream_is_silent_and_live_stream_is_not(basic):
    folder, truth = basic
    ref = by_name(truth, "cam_a.mp4")
    dead, _, _ = decode_audio(folder / ref["name"], 0)
    live, _, _ = decode_audio(folder / ref["name"], 1)
    assert np.abs(dead).max() == 0.0
    rms_db = 20 * np.log10(np.sqrt(np.mean(live ** 2, axis=1)))
    assert np.all((rms_db > -45) & (rms_db < -10))


def test_inverted_channel_is_exactly_negative(basic):
    folder, truth = basic
    x, _, _ = decode_audio(folder / "cam_c.mp4", by_name(truth, "cam_c.mp4")["live_audio_stream"])
    assert np.corrcoef(x[0], x[1])[0, 1] < -0.99
    y, _, _ = decode_audio(folder / "cam_b.mov", 0)  # normal stereo: same sound, own noise
    assert 0.9 < np.corrcoef(y[0], y[1])[0, 1] < 1.0


def test_frame_codes_survive_h264_and_rescaling(basic):
    folder, truth = basic
    entry = by_name(truth, "cam_b.mov")
    fps = Fraction(entry["video"]["fps"])
    seen = 0
    with av.open(str(folder / entry["name"])) as c:
        for frame in c.decode(video=0):
            n = round(frame.pts * frame.time_base * fps)
            assert frame.pts * frame.time_base == Fraction(n) / fps
            assert decode_frame_code(frame.to_ndarray(format="rgb24")) == (entry["video"]["camera_code"], n)
            if n in (0, 1, 777, entry["video"]["frames"] - 1):
                for w, h in ((1280, 720), (640, 360), (1920, 1080)):
                    big = frame.reformat(width=w, height=h, format="rgb24").to_ndarray()
                    assert decode_frame_code(big) == (entry["video"]["camera_code"], n)
            seen += 1
    assert seen == entry["video"]["frames"]


def test_decode_frame_code_rejects_other_pictures():
    rng = np.random.default_rng(0)
    assert decode_frame_code(rng.integers(0, 256, (180, 320, 3), dtype=np.uint8)) is None
    assert decode_frame_code(np.full((360, 640, 3), 128, np.uint8)) is None
    img = frame_image(9, 123456, 640, 360)
    assert decode_frame_code(img) == (9, 123456)
    img[130:150, 200:220] = 255 - img[130:150, 200:220]  # flip one data cell: the CRC catches it
    assert decode_frame_code(img) is None


# ----------------------------------------------------------------------------------------------
# the time model


def test_time_model_shared_path(shared):
    """One mixer feed everywhere: the lag at two far-apart points is the model's to 0.5 ms."""
    folder, truth = shared
    assert truth["shared_path"]
    ref = by_name(truth, truth["reference"])
    x_ref = live_mono(folder, ref)
    for f in truth["files"]:
        if f["name"] == ref["name"]:
            continue
        x = live_mono(folder, f)
        lo, hi = max(f["delta_seconds"], 0) + 1, min(f["end_seconds"], ref["duration"]) - 1
        windows = talk_windows(truth, lo, hi)
        assert windows[-1] - windows[0] > 30
        for group in (windows[:3], windows[-3:]):  # median of 3: one quiet window may mislead
            err = np.median([file_time_of(x_ref, x, t, model_t_src(f, t)) - model_t_src(f, t) for t in group])
            assert abs(err) < 0.5e-3, (f["name"], group)


def test_time_model_under_phone_grade_drift(tmp_path):
    """-300 ppm at 44.1 kHz AAC: the model holds at both ends (10 ms of drift apart) to 0.3 ms."""
    spec = SCENARIOS["shared_path"](0)
    ref, other = spec.files[0], spec.files[2]
    files = (dataclasses.replace(ref, duration=40.0, video=None, camera_code=None),
             dataclasses.replace(other, name="phone.m4a", sample_rate=44100, drift_ppm=-300.0,
                                 delta=3.3, duration=36.0))
    truth = generate(dataclasses.replace(spec, files=files), tmp_path)
    x_ref, f = live_mono(tmp_path, truth["files"][0]), truth["files"][1]
    x = live_mono(tmp_path, f)
    windows = talk_windows(truth, 4.5, 38.5)
    assert windows[-1] - windows[0] > 25
    for group in (windows[:3], windows[-3:]):
        err = np.median([file_time_of(x_ref, x, t, model_t_src(f, t)) - model_t_src(f, t) for t in group])
        assert abs(err) < 0.3e-3, group


def test_time_model_with_room_propagation(basic):
    """Room mics: the lag is the model's plus the talker's propagation difference, to 2 ms."""
    folder, truth = basic
    ref = by_name(truth, truth["reference"])
    x_ref = live_mono(folder, ref)
    for name in ("cam_b.mov", "cam_c.mp4"):
        f = by_name(truth, name)
        x = live_mono(folder, f)
        lo, hi = max(f["delta_seconds"], 0) + 1, min(f["end_seconds"], ref["duration"]) - 1
        windows = solo_windows(truth, lo, hi)
        assert windows[-1][0] - windows[0][0] > 30
        for group in (windows[:3], windows[-3:]):
            errs = []
            for t, person in group:
                expected = model_t_src(f, t) + (f["propagation_ms"][person] - ref["propagation_ms"][person]) / 1000
                errs.append(file_time_of(x_ref, x, t, model_t_src(f, t)) - expected)
            assert abs(np.median(errs)) < 2e-3, (name, group)


# ----------------------------------------------------------------------------------------------
# other scenarios (cached, or shortened custom builds)


def test_bad_inputs():
    folder = cached_scenario("bad_inputs")
    truth = load_truth(folder)
    assert [f["related"] for f in truth["files"]] == [True, False, False, False]
    assert all(f["delta_seconds"] is None for f in truth["files"][1:])
    x, _, _ = decode_audio(folder / "silent.mp4")
    assert x.shape[1] >= 10 * FS and np.abs(x).max() == 0.0
    with av.open(str(folder / "silent.mp4")) as c:
        assert len(c.streams.video) == 1
    with av.open(str(folder / "noaudio.mp4")) as c:
        assert len(c.streams.audio) == 0 and len(c.streams.video) == 1
    with pytest.raises(av.FFmpegError):
        av.open(str(folder / "notmedia.mp4"))
    assert decode_audio(folder / "cam_a.mp4")[0].shape[1] >= 20 * FS


def test_rates_fps_frames_and_timecode():
    folder = cached_scenario("rates")
    truth = load_truth(folder)
    fps = sorted(Fraction(f["video"]["fps"]) for f in truth["files"])
    assert fps == sorted(Fraction(x) for x in ("24000/1001", "25", "30000/1001", "50", "60000/1001", "60"))
    for f in truth["files"]:
        with av.open(str(folder / f["name"])) as c:
            v = c.streams.video[0]
            assert v.average_rate == Fraction(f["video"]["fps"])
            if f["video"]["timecode"]:
                assert v.metadata.get("timecode") == f["video"]["timecode"] == "01:00:00:00"
            frames = list(c.decode(v))
        assert len(frames) == f["video"]["frames"]
        for n in (0, len(frames) // 2, len(frames) - 1):
            assert decode_frame_code(frames[n].to_ndarray(format="rgb24")) == (f["video"]["camera_code"], n)
    assert sum(1 for f in truth["files"] if f["video"]["timecode"]) == 1


def test_recorder_channels_and_phone(tmp_path):
    spec = shortened(SCENARIOS["phone_drift"](0), 8.0)
    truth = generate(spec, tmp_path)
    rec = by_name(truth, "rec.wav")
    assert rec["audio_streams"][0]["channel_roles"] == ["dead_hiss", "live", "safety", "dead_zero"]
    x, rate, _ = decode_audio(tmp_path / "rec.wav")
    assert x.shape == (4, 8 * FS) and rate == FS
    rms = 20 * np.log10(np.sqrt(np.mean(x ** 2, axis=1)) + 1e-12)
    assert -100 < rms[0] < -80 and rms[1] > -45 and np.abs(x[3]).max() == 0.0
    assert rms[1] - rms[2] == pytest.approx(12.0, abs=1.0)
    assert np.corrcoef(x[1], x[2])[0, 1] > 0.95
    phone = by_name(truth, "phone.m4a")
    assert phone["kind"] == "phone" and phone["sample_rate"] == 44100 and -303 <= phone["drift_ppm"] <= -297
    assert phone["device"]["agc"] and phone["device"]["band"] is not None
    assert by_name(truth, "cam.mp4")["video"] is None


def test_unrelated_file_has_no_place_on_the_timeline(tmp_path):
    spec = shortened(SCENARIOS["unrelated"](0), 6.0)
    truth = generate(spec, tmp_path)
    other = by_name(truth, "unrelated.mp4")
    assert other["related"] is False and other["delta_seconds"] is None and other["drift_slope"] is None
    assert other["propagation_ms"].keys().isdisjoint({p["name"] for p in truth["people"]})
    assert decode_audio(tmp_path / "unrelated.mp4")[0].shape[1] >= 6 * FS


def test_mp3_excerpt_is_sample_aligned(tmp_path):
    """The mp3 writer compensates the codec delay: decoded sample n is at pts n / rate."""
    spec = shortened(SCENARIOS["short"](0), 12.0)
    truth = generate(spec, tmp_path)
    f = by_name(truth, "rec.mp3")
    x, rate, first = decode_audio(tmp_path / "rec.mp3")
    assert first == 0.0 and rate == 44100 and x.shape[1] >= f["n_samples"]


def test_same_seed_same_output(tmp_path):
    spec = shortened(SCENARIOS["short"](0), 6.0)
    t1 = generate(spec, tmp_path / "one")
    t2 = generate(spec, tmp_path / "two")
    assert (tmp_path / "one" / "truth.json").read_bytes() == (tmp_path / "two" / "truth.json").read_bytes()
    assert audio_digest(tmp_path / "one", t1) == audio_digest(tmp_path / "two", t2)
    other = SCENARIOS["short"](1)
    assert other.scenes[0].seed != spec.scenes[0].seed and other.files[1].delta != spec.files[1].delta


def test_long_shoot_spec_builds_in_chunks(tmp_path):
    spec = long_shoot_spec(0.2, n_cams=4, seed=3)
    truth = generate(spec, tmp_path)
    phone = by_name(truth, "phone.m4a")
    assert phone["sample_rate"] == 44100 and 200 <= abs(phone["drift_ppm"]) <= 300
    cams = [f for f in truth["files"] if f["kind"] == "camera"]
    assert len(cams) == 3 and all(abs(f["drift_ppm"]) <= 60 for f in cams)
    assert truth["scene_duration"] > 12 and all(f["video"] is None for f in truth["files"])


def test_cli_and_cache(tmp_path, monkeypatch):
    assert cli_main(["long:0.1", str(tmp_path / "cli"), "--seed", "4", "--cams", "2"]) == 0
    cli_truth = json.loads((tmp_path / "cli" / "truth.json").read_text())
    assert cli_truth == json.loads(json.dumps(generate(long_shoot_spec(0.1, 2, 4), tmp_path / "api")))
    monkeypatch.setenv("POLYSYNC_FIXTURE_CACHE", str(tmp_path / "cache"))
    folder = cached_scenario("bad_inputs")
    assert folder.parent == tmp_path / "cache" and GENERATOR_VERSION in folder.name
    assert load_truth(folder)["scenario"] == "bad_inputs"
    stamp = os.stat(folder / "truth.json").st_mtime_ns
    assert cached_scenario("bad_inputs") == folder
    assert os.stat(folder / "truth.json").st_mtime_ns == stamp
    assert [p.name for p in (tmp_path / "cache").iterdir()] == [folder.name]  # no temporary left


def test_build_scenario_rejects_unknown_names(tmp_path):
    with pytest.raises(KeyError):
        build_scenario("nope", tmp_path)
