"""The pure correlation core on arrays: compute_sync and its parts, against constructed truth."""

import numpy as np
import pytest
from scipy import signal

from polysync import compute_sync
from polysync.align import (WindowMeasure, fit_line, overlap_of, significance, window_slots)
from polysync.errors import SyncRefused
from polysync_fixtures.spec import rng_for
from polysync_fixtures.synth import make_voice, synthesize

FS = 16000


def conversation(seconds: float, seed: int) -> np.ndarray:
    """Two synthetic talkers taking turns with pauses, at 48 kHz."""
    rng = rng_for(seed, "test-conversation")
    voices = [make_voice(rng), make_voice(rng)]
    out = np.zeros(int(seconds * 48000))
    t, who = 0.5, 0
    while t < seconds - 1:
        n = int(rng.uniform(2.0, 6.0) * 48000)
        seg = synthesize(voices[who], "turn", n, rng)
        i = int(t * 48000)
        out[i: i + n] += seg[: len(out) - i]
        t += n / 48000 + rng.uniform(0.2, 1.2)
        who = 1 - who
    return out


def recording(scene: np.ndarray, delta: float, slope: float, seconds: float, seed: int,
              noise_db: float = -45.0, polarity: float = 1.0) -> np.ndarray:
    """What a device sees: t_ref = delta + t_src*(1+slope), its own EQ and noise, at FS."""
    rng = np.random.default_rng(seed)
    t = delta + np.arange(int(seconds * FS)) / FS * (1 + slope)
    # band-limited interpolation: the scene is oversampled 3x relative to FS
    x = np.interp(t * 48000, np.arange(len(scene)), scene, left=0.0, right=0.0)
    sos = signal.butter(2, rng.uniform(80, 250), "highpass", fs=FS, output="sos")
    x = signal.sosfilt(sos, x) * polarity
    return x + 10 ** (noise_db / 20) * rng.standard_normal(len(x))


@pytest.fixture(scope="module")
def scene():
    return conversation(150.0, seed=7)


@pytest.mark.parametrize("delta, slope, seconds, polarity", [
    (12.3456, 0.0, 100.0, 1.0),      # plain offset
    (-0.0, 2.5e-4, 120.0, 1.0),      # phone-grade drift
    (30.0, -3.0e-4, 20.0, 1.0),      # a 20 s excerpt with drift
    (5.0, 4.0e-5, 60.0, -1.0),       # polarity flipped
])
def test_compute_sync_recovers_offset_and_drift(scene, delta, slope, seconds, polarity):
    ref = recording(scene, 10.0, 0.0, 130.0, seed=1)
    src = recording(scene, 10.0 + delta, slope, seconds, seed=2, polarity=polarity)
    res = compute_sync(ref, src, sr=FS)
    assert res.delta_seconds == pytest.approx(delta, abs=0.0005)
    # over the clip, drift keeps the placement within 0.5 ms
    assert abs(res.drift_slope - slope) * seconds <= 0.0005
    assert res.confidence >= 0.999
    assert res.polarity == (1 if polarity > 0 else -1)
    assert res.n_good == res.n_agree and res.fallback is None  # the original's names


def test_source_starting_before_and_overhanging_the_reference(scene):
    ref = recording(scene, 40.0, 0.0, 60.0, seed=1)
    src = recording(scene, 20.0, 1e-5, 110.0, seed=2)  # starts 20 s before, ends 30 s after
    res = compute_sync(ref, src, sr=FS)
    assert res.delta_seconds == pytest.approx(-20.0, abs=0.0005)
    assert res.overlap_in_reference[0] == pytest.approx(0.0, abs=0.01)
    assert res.overlap_in_reference[1] == pytest.approx(60.0, abs=0.01)
    assert res.overlap_in_source[0] == pytest.approx(20.0, abs=0.01)


def test_unrelated_conversation_is_refused(scene):
    other = conversation(120.0, seed=99)
    ref = recording(scene, 0.0, 0.0, 120.0, seed=1)
    src = recording(other, 0.0, 0.0, 100.0, seed=2)
    with pytest.raises(SyncRefused, match="unrelated"):
        compute_sync(ref, src, sr=FS)


def test_significance_is_a_calibrated_tail():
    assert significance(40, 0, 0.02, 100) == 0.0
    low = significance(40, 3, 0.02, 100)
    high = significance(40, 12, 0.02, 100)
    assert 0.0 <= low < 0.5 < 0.999 < high <= 1.0
    assert significance(40, 12, 0.02, 10) >= high  # fewer lines tried, more confidence


def test_verify_windows_never_reuse_sync_audio():
    sync = window_slots(3.0, 200.0, 2.0, parity=0)
    check = window_slots(3.0, 200.0, 2.0, parity=1)
    spans = sorted([(a, a + 2.0, "s") for a in sync] + [(a, a + 2.0, "v") for a in check])
    for (a0, a1, _), (b0, _, _) in zip(spans, spans[1:]):
        assert a1 <= b0 + 1e-9
    assert len(window_slots(0.0, 10_000.0, 2.0, 0, max_windows=50)) == 50


def test_overlap_uses_the_time_convention():
    ov_ref, ov_src = overlap_of(5.0, 1e-4, 0.0, 100.0, 0.0, 200.0)
    assert ov_ref == (5.0, 100.0)
    assert ov_src[1] == pytest.approx((100.0 - 5.0) / 1.0001)


def test_fit_line_separates_talkers_from_drift():
    """Talker A speaks first, talker B later, 4 ms apart: a plain line would call that drift."""
    rng = np.random.default_rng(0)
    meas = []
    for i in range(80):
        t = 5.0 + i * 2.0
        bias = -0.002 if i < 50 else 0.002
        y = 1.0 + 30e-6 * t + bias + rng.normal(0, 3e-5)
        if i % 9 == 0:
            y = 1.0 + rng.uniform(-0.03, 0.03)  # a window that locked onto nothing
        meas.append(WindowMeasure(t_src=t, t_ref=t + y, strength=6.0, ncc=0.5, polarity=1))
    fit = fit_line(meas)
    assert fit.clusters == 2
    assert fit.slope == pytest.approx(30e-6, abs=1e-6)
    # the offset lands between the talkers, weighted by how long each spoke
    assert 1.0 - 0.002 < fit.delta < 1.0 + 0.002
