"""The pure correlation core on arrays: compute_sync and its parts, against constructed truth."""

import numpy as np
import pytest
from scipy import signal

from polysync import compute_sync
from polysync.align import (SyncResult, WindowMeasure, adopt_dominant, adopt_drift, adopt_waveform,
                            chain, fit_line, overlap_of, significance, window_slots)
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


def _talker_windows(rng, lines: list[tuple[float, int, tuple[float, ...]]], slope: float = 20e-6):
    """Window measures (clock offset 1.0 s) shuffled in time: for each ``(offset, n, echoes)``,
    ``n`` windows whose top peak sits ``offset`` s from the clock and whose other peaks sit at
    ``echoes``."""
    kinds = [(off, ech) for off, n, ech in lines for _ in range(n)]
    order = rng.permutation(len(kinds))
    meas = []
    for i, j in enumerate(order):
        off, ech = kinds[j]
        t = 4.0 + 2.0 * i
        line = 1.0 + slope * t
        meas.append(WindowMeasure(t_src=t, t_ref=t + line + off + rng.normal(0, 3e-5),
                                  strength=5.0, ncc=0.3, polarity=1,
                                  echoes=tuple(t + line + e + rng.normal(0, 3e-5) for e in ech)))
    return meas


@pytest.mark.parametrize("echoed", [True, False])
def test_fit_line_leaves_out_a_reflection_that_holds_a_talkers_direct_sound(echoed):
    """Two talkers at -3 and +1 ms (in 3 windows both are heard), a third at -5 ms whose
    reflection in the far mic (-9 ms) outdoes its direct sound in most of its windows. Those
    windows still hold the direct sound's peak: the reflection's line is left out of the
    offset. Without that peak in its windows, the same line counts as a talker of its own."""
    rng = np.random.default_rng(4)
    direct = (-0.005,) if echoed else ()
    meas = _talker_windows(rng, [(-0.003, 8, ()), (0.001, 5, ()),
                                 (0.001, 3, (-0.003,)),  # the two talk over each other
                                 (-0.005, 5, (-0.009,)), (-0.009, 20, direct)])
    fit = fit_line(meas)
    assert fit.clusters == 4
    assert fit.slope == pytest.approx(20e-6, abs=1e-6)
    talkers = (8 * -0.003 + 8 * 0.001 + 5 * -0.005) / 21
    everything = (talkers * 21 + 20 * -0.009) / 41
    assert fit.delta == pytest.approx(1.0 + (talkers if echoed else everything), abs=2e-4)


def _reverberant_windows(rng, direct: float, reflection: float, n_direct: int, n_reflect: int,
                         n_noise: int, slope: float = 20e-6):
    """Wide-band window offsets (s, relative to t_ref = t_src): one talker's direct sound, a
    reflection that lines up more windows, and windows that found nothing."""
    kinds = [direct] * n_direct + [reflection] * n_reflect + [None] * n_noise
    rng.shuffle(kinds)
    meas = []
    for i, k in enumerate(kinds):
        t = 3.0 + 2.0 * i
        y = slope * t + (k + rng.normal(0, 5e-5) if k is not None else rng.uniform(-0.03, 0.03))
        meas.append(WindowMeasure(t_src=t, t_ref=t + y, strength=4.0, ncc=0.3,
                                  polarity=int(rng.choice([-1, 1]))))
    return meas


def _analysis_rate_result(delta: float, envelope_delta: float, slope: float = 20e-6):
    return SyncResult(delta_seconds=delta, drift_slope=slope, confidence=1.0,
                      overlap_in_reference=(0.0, 100.0), overlap_in_source=(0.0, 100.0),
                      n_windows=40, n_agree=0, residual_ms=float("nan"), spread_ms=float("nan"),
                      correlation=0.0, polarity=1, coarse_peak=0.5, method="envelope",
                      envelope_line=(envelope_delta, slope))


@pytest.mark.parametrize("envelope_delta", [0.006, -0.006])
def test_wide_band_line_prefers_the_cluster_the_envelope_supports(envelope_delta):
    """A reflection lining up more windows 22 ms away loses to the direct sound the envelope
    points at (whichever side the envelope errs to), and either polarity counts."""
    rng = np.random.default_rng(1)
    meas = _reverberant_windows(rng, direct=0.001, reflection=-0.021, n_direct=12,
                                n_reflect=15, n_noise=15)
    res = _analysis_rate_result(delta=0.0, envelope_delta=envelope_delta)
    new = adopt_waveform(res, meas, 0.030, 2e-5, (0.0, 200.0), (0.0, 200.0))
    assert new is not None and new.method == "waveform"
    assert new.delta_seconds == pytest.approx(0.001, abs=2e-4)
    assert new.drift_slope == pytest.approx(20e-6, abs=2e-6)
    assert new.n_agree == 12


def test_wide_band_line_is_not_taken_when_few_windows_agree():
    rng = np.random.default_rng(2)
    meas = _reverberant_windows(rng, direct=0.001, reflection=0.015, n_direct=5,
                                n_reflect=0, n_noise=40)
    res = _analysis_rate_result(delta=0.0, envelope_delta=0.0)
    assert adopt_waveform(res, meas, 0.030, 2e-5, (0.0, 200.0), (0.0, 200.0)) is None


def test_an_excerpts_line_far_from_its_envelope_is_taken_when_most_windows_hold_it():
    """A 20 s excerpt: the envelope line 36 ms off, 7 of 10 windows on the sound's line."""
    rng = np.random.default_rng(5)
    meas = _reverberant_windows(rng, direct=-0.036, reflection=0.0, n_direct=7, n_reflect=0,
                                n_noise=3, slope=0.0)
    res = _analysis_rate_result(delta=0.0, envelope_delta=0.0, slope=0.0)
    assert adopt_waveform(res, meas, 0.030, 2e-5, (0.0, 200.0), (0.0, 200.0)) is None
    new = adopt_dominant(res, meas, 0.060, 2e-5, (0.0, 200.0), (0.0, 200.0))
    assert new is not None and new.method == "waveform" and new.wide_band
    assert new.delta_seconds == pytest.approx(-0.036, abs=3e-4)
    assert new.n_agree == 7


@pytest.mark.parametrize("n_far, n_other", [(6, 4), (4, 0)])
def test_a_far_line_is_not_taken_unless_it_stands_alone(n_far, n_other):
    """Not with a second band holding half as many windows (a reflection and the direct
    sound), nor when it holds under half of them."""
    rng = np.random.default_rng(6)
    meas = _reverberant_windows(rng, direct=-0.036, reflection=0.010, n_direct=n_far,
                                n_reflect=n_other, n_noise=10 - n_far - n_other, slope=0.0)
    res = _analysis_rate_result(delta=0.0, envelope_delta=0.0, slope=0.0)
    assert adopt_dominant(res, meas, 0.060, 2e-5, (0.0, 200.0), (0.0, 200.0)) is None


def test_drift_comes_from_a_reflection_line_when_the_offset_is_unclear():
    """Windows that all lock on one reflection 18 ms off the truth still move with the clock:
    their line gives the drift; the envelope's offset at mid-overlap is kept."""
    rng = np.random.default_rng(3)
    true_slope, env_slope = 220e-6, 232e-6
    # the direct sound is lost: the one line the windows gather on is a reflection
    meas = _reverberant_windows(rng, direct=0.018, reflection=0.0, n_direct=14, n_reflect=0,
                                n_noise=40, slope=true_slope)
    span = (min(m.t_src for m in meas), max(m.t_src for m in meas))
    mid = 0.5 * (span[0] + span[1])
    res = _analysis_rate_result(delta=0.002 - (env_slope - true_slope) * mid,
                                envelope_delta=0.0, slope=env_slope)
    res.overlap_in_source = span
    new = adopt_drift(res, meas, 0.030, 5e-5)
    assert new is not None
    assert new.drift_slope == pytest.approx(true_slope, abs=2e-6)  # 12 ppm off before
    at_mid = lambda r: r.delta_seconds + r.drift_slope * mid
    assert at_mid(new) == pytest.approx(at_mid(res), abs=1e-7)
    assert new.method == "envelope"


def test_drift_is_kept_when_no_line_gathers_the_windows():
    rng = np.random.default_rng(4)
    meas = _reverberant_windows(rng, direct=0.0, reflection=0.0, n_direct=0, n_reflect=0,
                                n_noise=50, slope=220e-6)
    res = _analysis_rate_result(delta=0.0, envelope_delta=0.0, slope=232e-6)
    res.overlap_in_source = (min(m.t_src for m in meas), max(m.t_src for m in meas))
    assert adopt_drift(res, meas, 0.030, 5e-5) is None


def test_a_source_placed_through_a_neighbour_lands_where_the_two_lines_put_it():
    """B sits on A's clock, A on the reference's: every instant of B maps through both."""
    a_on_ref = _analysis_rate_result(delta=12.5, envelope_delta=12.5, slope=-40e-6)
    b_on_a = _analysis_rate_result(delta=-3.25, envelope_delta=-3.25, slope=180e-6)
    got = chain(a_on_ref, b_on_a, (0.0, 400.0), (0.0, 300.0), via="a.mp4")
    for t_b in (0.0, 57.3, 299.0):
        t_a = -3.25 + t_b * (1 + 180e-6)
        t_ref = 12.5 + t_a * (1 - 40e-6)
        assert got.delta_seconds + t_b * (1 + got.drift_slope) == pytest.approx(t_ref, abs=1e-9)
    assert got.via == "a.mp4"
    assert got.overlap_in_source == pytest.approx((0.0, 300.0))
    assert got.overlap_in_reference[0] == pytest.approx(got.delta_seconds)


# Window offsets (ms, clock truth taken out) measured on a mu-law copy of a camera 60 s long,
# every 2 s from t = 6.2 s, and their peak strengths: the direct sounds of two talkers
# (1.9, 3.6 ms) and reflections (10.5, 14.7, 26.9 ms) each gather a few windows.
_CLUSTERED_MS = [3.64, 26.84, -20.98, 13.19, 25.29, 13.19, 1.90, 14.66, 1.88, 14.71, 14.66,
                 25.37, 6.44, 10.52, -2.57, 10.42, 1.87, 9.02, 1.85, 14.67, 26.86, 12.58,
                 26.85, -4.58, 26.82, 3.64, 3.63, -1.09, 1.89]
_CLUSTERED_STRENGTH = [6.7, 3.0, 3.4, 3.4, 3.6, 3.1, 3.1, 3.7, 3.7, 3.4, 3.1, 2.9, 3.2, 2.8, 3.0,
                       3.3, 4.8, 3.2, 3.4, 3.5, 3.4, 2.8, 3.2, 3.0, 3.9, 6.2, 4.6, 3.6, 3.4]


@pytest.mark.parametrize("slope", [39.8e-6, -250e-6])
def test_fit_line_takes_the_slope_the_clusters_share(slope):
    """A line through windows of different clusters can thread several of them at a fake
    slope (-311 ppm here, 20 ms off at the ends of a minute) and outnumber each cluster; the
    clock drift is the slope under which the clusters are tight."""
    meas = [WindowMeasure(t_src=6.2 + 2 * i, t_ref=6.2 + 2 * i + 1.5 + slope * (6.2 + 2 * i)
                          + off / 1000, strength=s, ncc=0.5, polarity=1)
            for i, (off, s) in enumerate(zip(_CLUSTERED_MS, _CLUSTERED_STRENGTH))]
    for prior, band in ((None, None), ((1.5 + 0.004, 0.0), (0.006, 1e-3))):
        fit = fit_line(meas, prior=prior, band=band)
        assert fit.slope == pytest.approx(slope, abs=5e-6)



def _far_mic(x: np.ndarray, delay: float, rng) -> np.ndarray:
    """``x`` (at FS) as a mic a few metres from the talker in a live room hears it: the direct
    sound ``delay`` s late, 15 dB below the room's tail, which starts 3 ms later and
    reverberates longest below 1.5 kHz (RT60 0.7 s; 0.42 s above), as the generator's rooms
    do; self-noise at -60 dBFS."""
    n = int(0.8 * FS)
    t = np.arange(n) / FS
    lo = signal.sosfilt(signal.butter(2, 1500, "lowpass", fs=FS, output="sos"),
                        rng.standard_normal(n)) * np.exp(-6.91 * t / 0.7)
    hi = signal.sosfilt(signal.butter(2, [1500, 7000], "bandpass", fs=FS, output="sos"),
                        rng.standard_normal(n)) * np.exp(-6.91 * t / 0.42)
    tail = (lo + hi) * np.sqrt(np.clip(t / 0.02, 0, 1))
    start = int(round((delay + 0.003) * FS))
    h = np.zeros(start + n)
    h[start:] = tail * 10 ** (15 / 20) / np.sqrt(np.sum(tail ** 2))
    h[int(round(delay * FS))] += 1.0
    return signal.fftconvolve(x, h)[: len(x)] + 1e-3 * rng.standard_normal(len(x))


def test_far_mic_windows_find_the_direct_sound_not_the_room():
    """Wide-band windows of a far mic in a live room sit on its direct sound, as the fine
    stage of sync measures them (full phase transform over 120 Hz-7 kHz). Below 1.5 kHz such
    a mic hears mostly the room, whose tail lines up a talker's windows on one reverberant
    peak; weighing the band by energy (PHAT-beta 0.75) lets that band win."""
    from polysync.align import measure_window
    from polysync.sync import FINE_BAND, FINE_BETA

    delay = 0.0087  # 3 m of sound path; the window's true lag is -delay
    margin = int(0.030 * FS)
    hits = {FINE_BETA: [], 0.75: []}
    for seed in range(3, 9):  # six talkers, six rooms
        rng = rng_for(seed, "far-mic")
        near = signal.resample_poly(synthesize(make_voice(rng), "turn", 48000 * 21, rng), 1, 3)
        far = _far_mic(near, delay, rng)
        for a in np.arange(1.0, 19.0, 2.0):  # 2 s windows of the far mic, as sync's slots
            i0 = int(a * FS)
            j0 = i0 - int(round(delay * FS)) - margin
            for beta, found in hits.items():
                m = measure_window(far[i0: i0 + 2 * FS], a, near[j0: j0 + 2 * FS + 2 * margin],
                                   j0 / FS, FS, 0.0, upsample=2, band_hz=FINE_BAND, beta=beta)
                found.append(m is not None and abs(m.t_ref - m.t_src + delay) < 0.001)
    assert np.mean(hits[FINE_BETA]) >= 0.9
    assert np.mean(hits[0.75]) < 0.75  # the reason FINE_BETA is 1


@pytest.mark.parametrize("offset, taken", [(0.032, True), (0.020, False)])
def test_an_excerpts_dominant_line_beyond_the_narrow_search_is_taken_first(offset, taken):
    """8 of 9 windows searched +-60 ms on a line 32 ms from the envelope's: windows searched
    +-30 ms cannot see it, so it is taken before them; 20 ms away they can, and it is left
    to them (adopt_waveform)."""
    from polysync.align import adopt_dominant
    from polysync.sync import FINE_SEARCH, beyond_reach

    rng = np.random.default_rng(7)
    meas = _reverberant_windows(rng, direct=offset, reflection=0.0, n_direct=8, n_reflect=0,
                                n_noise=1, slope=0.0)
    res = _analysis_rate_result(delta=0.0, envelope_delta=0.0, slope=0.0)
    new = adopt_dominant(res, meas, FINE_SEARCH, 3e-4, (0.0, 200.0), (0.0, 200.0))
    new = new if new is not None and beyond_reach(res, new) else None
    if taken:
        assert new is not None and new.wide_band
        assert new.delta_seconds == pytest.approx(offset, abs=3e-4)
    else:
        assert new is None
