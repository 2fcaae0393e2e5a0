"""The director's rules on synthetic activity arrays (no media)."""

from fractions import Fraction

import numpy as np
import pytest

from polysync.director import DirectorRules, direct, find_floor, legacy_greedy

RATE = 100  # activity frames per second


def talk(n_people: int, seconds: float, spans) -> np.ndarray:
    """(P, T) activity from (person, start, end) seconds."""
    act = np.zeros((n_people, int(seconds * RATE)), dtype=bool)
    for p, a, b in spans:
        act[p, int(a * RATE):int(b * RATE)] = True
    return act


def cut(act, person_angle, coverage, rate=Fraction(25), span=None, wide=None, **rules):
    span = span or (0.0, act.shape[1] / RATE)
    return direct(act, RATE, 0.0, person_angle, coverage, rate, span, wide=wide,
                  rules=DirectorRules(**rules))


def on_screen(shots, t: float):
    return next(s.cam for s in shots if s.start <= t < s.end)


def check_basic(shots, rules: DirectorRules, rate: Fraction):
    for a, b in zip(shots, shots[1:]):
        assert a.end == b.start, "contiguous"
        assert a.cam != b.cam, "adjacent shots of one angle are merged"
    for s in shots:
        assert s.duration >= Fraction(rules.min_shot).limit_denominator(1000)
        assert (s.start * rate).denominator == 1 and (s.end * rate).denominator == 1


CONVERSATION = [(0, 0.5, 9.0), (1, 9.3, 20.0), (0, 12.0, 12.5), (2, 20.2, 27.0),
                (1, 27.5, 28.0), (0, 28.4, 40.0), (1, 38.5, 42.0), (2, 44.0, 58.0)]


def test_shots_are_contiguous_framed_and_never_short():
    act = talk(3, 60, CONVERSATION)
    rate = Fraction(30000, 1001)
    shots = cut(act, [0, 1, 2], [(0, 60)] * 4, rate=rate, wide=3)
    check_basic(shots, DirectorRules(), rate)
    assert shots[0].start == 0 and shots[-1].end == Fraction(1798, 1) / rate  # floor(60 * rate)
    assert all(isinstance(s.start, Fraction) for s in shots)


def test_the_speaker_is_on_screen_with_anticipation():
    act = talk(2, 30, [(0, 0.0, 10.0), (1, 10.5, 30.0)])
    shots = cut(act, [0, 1], [(0, 30)] * 2, max_shot=60)
    assert [s.cam for s in shots] == [0, 1]
    lead = float(shots[1].start) - 10.5
    assert -0.35 <= lead <= -0.15  # the cut comes ~0.25 s before the new speaker


def test_backchannels_do_not_cut():
    spans = [(0, 0.0, 30.0)] + [(1, t, t + 0.6) for t in (4.0, 9.0, 15.0, 22.0)]
    act = talk(2, 30, spans)
    shots = cut(act, [0, 1], [(0, 30)] * 2, max_shot=60)
    assert [s.cam for s in shots] == [0]
    # an interjection just under the floor-taking length does not cut either
    act = talk(2, 30, [(0, 0.0, 30.0), (1, 10.0, 11.0)])
    assert [s.cam for s in cut(act, [0, 1], [(0, 30)] * 2, max_shot=60)] == [0]


def test_long_monologue_is_broken_by_the_wide_or_a_reaction():
    act = talk(2, 40, [(0, 0.0, 40.0), (1, 13.0, 13.5)])
    shots = cut(act, [0, 1], [(0, 40)] * 3, wide=2, opening=0)
    rules = DirectorRules()
    check_basic(shots, rules, Fraction(25))
    assert max(float(s.duration) for s in shots) <= rules.max_shot + 1e-9
    away = [s for s in shots if s.cam != 0]
    assert away and all(s.cam == 2 for s in away)
    assert sum(float(s.duration) for s in away) <= 0.25 * 40
    # without a wide the only cutaway is the listener's reaction: a listener who does not
    # react is not shown while the speaker talks (the speaker on screen comes first)
    shots = cut(act, [0, 1], [(0, 40)] * 2, opening=0)
    check_basic(shots, rules, Fraction(25))
    away = [s for s in shots if s.cam != 0]
    assert len(away) == 1 and away[0].start <= 13.25 < away[0].end
    assert float(away[0].duration) <= rules.cutaway + 1e-9
    silent = talk(2, 40, [(0, 0.0, 40.0)])
    assert [s.cam for s in cut(silent, [0, 1], [(0, 40)] * 2, opening=0)] == [0]


def test_crosstalk_silence_and_opening_go_wide():
    act = talk(2, 60, [(0, 0.0, 20.0), (1, 17.0, 30.0), (0, 40.0, 60.0)])
    shots = cut(act, [0, 1], [(0, 60)] * 3, wide=2, max_shot=100)
    assert on_screen(shots, 1.0) == 2  # opening
    assert all(on_screen(shots, t) == 2 for t in np.arange(17.1, 20.0, 0.2))  # crosstalk
    assert on_screen(shots, 36.0) == 2  # long silence
    assert on_screen(shots, 10.0) == 0 and on_screen(shots, 25.0) == 1
    assert on_screen(shots, 50.0) == 0
    # without a wide, crosstalk stays on a speaker and silence holds the last one
    shots = cut(act, [0, 1], [(0, 60)] * 2, max_shot=100)
    assert on_screen(shots, 36.0) in (0, 1)
    check_basic(shots, DirectorRules(), Fraction(25))


def test_a_hand_over_without_a_pause_goes_wide():
    """Camera mics may hear only one voice at a time: two turns that touch, with sound all the
    way through, are an interruption (wide); turns with a pause between them are not."""
    act = talk(2, 40, [(0, 0.0, 15.0), (1, 15.0, 40.0)])
    heard = np.ones(act.shape[1], dtype=bool)
    shots = direct(act, RATE, 0.0, [0, 1], [(0, 40)] * 3, Fraction(25), (0.0, 40.0), wide=2,
                   rules=DirectorRules(max_shot=100), present=heard)
    assert all(on_screen(shots, t) == 2 for t in np.arange(14.1, 16.0, 0.2))
    assert on_screen(shots, 10.0) == 0 and on_screen(shots, 25.0) == 1
    check_basic(shots, DirectorRules(), Fraction(25))
    heard[int(14.8 * RATE):int(15.2 * RATE)] = False  # a 0.4 s pause at the hand-over
    shots = direct(act, RATE, 0.0, [0, 1], [(0, 40)] * 3, Fraction(25), (0.0, 40.0), wide=2,
                   rules=DirectorRules(max_shot=100), present=heard)
    assert [s.cam for s in shots] == [2, 0, 1]  # the opening, then the two speakers


def test_an_angle_is_never_shown_when_it_does_not_record():
    act = talk(3, 60, CONVERSATION)
    coverage = [(0, 60), (15.3, 60), (0, 41.7), (2.0, 57.0)]
    rate = Fraction(24000, 1001)
    shots = cut(act, [0, 1, 2], coverage, rate=rate, wide=3)
    check_basic(shots, DirectorRules(), rate)
    for s in shots:
        lo, hi = coverage[s.cam]
        assert lo <= s.start and s.end <= hi
    # a speaker whose angle is not recording: another recording angle stands in
    assert on_screen(shots, 10.0) != 1


def test_short_tail_is_merged_or_dropped():
    act = talk(2, 30, [(0, 0.0, 14.0), (1, 14.5, 30.0)])
    # at 29..30 only angle 0 records: its shot starts earlier to last the minimum
    shots = cut(act, [0, 1], [(0, 30), (0, 29.0)], max_shot=100)
    check_basic(shots, DirectorRules(), Fraction(25))
    assert shots[-1].cam == 0 and shots[-1].end == 30
    # angle 0 records only that last second: no shot can be made of it, the program ends at 29
    shots = cut(act, [0, 1], [(29.0, 30), (0, 29.0)], max_shot=100)
    check_basic(shots, DirectorRules(), Fraction(25))
    assert [s.cam for s in shots] == [1] and shots[-1].end == 29


def test_speaker_without_angle_goes_wide():
    act = talk(3, 30, [(0, 0.0, 10.0), (2, 10.5, 20.0), (1, 20.5, 30.0)])
    shots = cut(act, [0, 1, None], [(0, 30)] * 3, wide=2, opening=0)
    assert on_screen(shots, 15.0) == 2


def test_pip_shows_the_listener():
    act = talk(2, 40, [(0, 0.0, 12.0), (1, 12.5, 24.0), (0, 24.5, 36.0)])
    shots = cut(act, [0, 1], [(0, 40)] * 3, wide=2, pip=True, opening=0, max_shot=100)
    for s in shots:
        if s.cam == 2:
            assert s.pip is None
        else:
            assert s.pip == 1 - s.cam


def test_deterministic():
    rng = np.random.default_rng(7)
    spans = []
    t = 0.0
    while t < 300:
        d = float(rng.uniform(0.3, 15))
        spans.append((int(rng.integers(3)), t, t + d))
        t += d + float(rng.uniform(-0.5, 2))
    act = talk(3, 300, spans)
    a = cut(act, [0, 1, 2], [(0, 300)] * 4, wide=3)
    b = cut(act.copy(), [0, 1, 2], [(0, 300)] * 4, wide=3)
    assert a == b
    check_basic(a, DirectorRules(), Fraction(25))
    assert max(float(s.duration) for s in a) <= 12.0 + 1e-9


@pytest.mark.parametrize("min_shot", [1.0, 2.0, 3.5])
def test_min_shot_holds_on_choppy_talk(min_shot):
    rng = np.random.default_rng(3)
    spans = [(int(rng.integers(2)), float(t), float(t + rng.uniform(0.8, 3.0)))
             for t in np.arange(0, 120, 1.5)]
    act = talk(2, 120, spans)
    shots = cut(act, [0, 1], [(0, 120)] * 3, wide=2, min_shot=min_shot)
    check_basic(shots, DirectorRules(min_shot=min_shot), Fraction(25))


def test_floor_marks_backchannels_as_minor():
    act = talk(2, 10, [(0, 0, 10), (1, 3, 3.4)])
    fl = find_floor(act, 100.0, DirectorRules())
    assert (fl.speaker == 0).all() and fl.minor[1].any() and not fl.holds[1].any()


def test_legacy_greedy_follows_the_original_rule():
    level = np.full((2, 40), -40.0)
    level[0, :20] = -20.0
    level[1, 20:] = -20.0
    rows = legacy_greedy(level, [(0, 40), (0, 40)], min_dwell=4, max_dwell=30)
    assert rows[0][0] == 0 and rows[0][1] == 0
    assert [r[0] for r in rows] == [0, 1]
    assert rows[1][1] in range(17, 21) and rows[-1][2] == 40
    # a cam that stops recording is left
    rows = legacy_greedy(level, [(0, 10), (0, 40)], min_dwell=8, max_dwell=30)
    assert rows[0] == (0, 0, 10) and rows[1][0] == 1
