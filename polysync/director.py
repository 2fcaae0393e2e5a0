"""The director: who is on screen when, from speech activity. Pure and deterministic.

The rules are an editor's:

* **The floor.** A person takes the floor by talking for at least ``interjection`` seconds
  (pauses under ``bridge`` do not interrupt them). Shorter sounds - "yeah", a laugh, a
  cough - never cause a cut (hysteresis).
* **The speaker on screen.** The holder of the floor is shown; the cut to a new speaker comes
  ``lead`` seconds before they start, as an editor anticipates.
* **The wide.** Crosstalk (two people holding the floor for ``crosstalk`` seconds or more),
  long silence (``long_silence``) and the opening go to the wide angle when there is one. So
  does a hand-over of the floor with no pause in the sound around it (``handover`` seconds
  each side): people taking turns leave a pause, an interruption does not - the cue that
  remains when the mics cannot tell two voices from one.
* **Shot length.** No shot is shorter than ``min_shot``: a short shot is extended or merged,
  whichever keeps the most of what should be on screen. Shots longer than ``max_shot`` are
  broken by a cutaway of ``cutaway`` seconds - the wide, or a listener while they react
  (nod, laugh) - placed where it costs least. A listener who does not react is never cut
  to while someone talks: without a wide, such a shot stays long (the speaker on screen
  comes first).
* **Coverage.** An angle that is not recording at a moment is never on screen then.
* **Frames.** Every cut sits on the frame grid of ``rate``; shot times are exact Fractions.
* **Picture in picture** (``pip``): each close-up carries an inset of the listener (the
  other person most active during the shot, else the previous speaker), or the wide.

What "should be on screen" is scored per frame and angle (:func:`screen_value`), and every
choice between alternatives (merge, extend, where to cut away) keeps the higher total score.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction
from typing import Optional, Sequence

import numpy as np
from scipy.ndimage import maximum_filter1d

from .activity import runs
from .decisions import Shot

UNCOVERED = -1000.0  # screen value of an angle that is not recording
REACTING = 0.3  # screen value of a listener's close-up while they react


@dataclass
class DirectorRules:
    """The editor's rules; seconds."""

    min_shot: float = 2.0
    max_shot: float = 12.0
    lead: float = 0.25  # cut to a new speaker this much before they start
    interjection: float = 1.2  # talk shorter than this never takes the floor
    bridge: float = 0.8  # pauses shorter than this do not end a person's talk
    crosstalk: float = 0.8  # two people on the floor this long: go wide
    handover: float = 1.0  # a hand-over with no pause is crosstalk this long on each side
    long_silence: float = 3.0  # silence this long: go wide
    silence_hold: float = 1.0  # stay on the last speaker this long into a long silence
    opening: float = 3.0  # the program opens on the wide this long
    cutaway: float = 2.0  # length of a cutaway breaking a long shot (at least min_shot)
    pip: bool = False


@dataclass
class Floor:
    """Who holds the floor on each video frame.

    ``speaker`` (F,) person or -1; ``crosstalk`` (F,) bool; ``silence`` (F,) bool (long
    silences only); ``onset`` (F,) bool, a person takes the floor here; ``holds`` (P, F) bool,
    talk long enough to take the floor; ``minor`` (P, F) bool, talk that does not take it
    (backchannels, laughter).
    """

    speaker: np.ndarray
    crosstalk: np.ndarray
    silence: np.ndarray
    onset: np.ndarray
    holds: np.ndarray
    minor: np.ndarray


def frames_of(t: float, rate: Fraction, up: bool) -> int:
    """Index of the frame boundary at or after (``up``) / at or before ``t`` seconds."""
    x = Fraction(t).limit_denominator(10**9) * rate
    return math.ceil(x) if up else math.floor(x)


def activity_on_frames(active: np.ndarray, act_rate: float, act_t0: float, rate: Fraction,
                       f0: int, n: int) -> np.ndarray:
    """(P, n) bool: ``active`` (P, T) at ``act_rate`` frames/s from ``act_t0`` s, sampled at
    the centres of video frames ``f0 .. f0+n-1`` of ``rate``."""
    centres = (f0 + np.arange(n) + 0.5) / float(rate)
    idx = np.floor((centres - act_t0) * act_rate).astype(np.int64)
    inside = (idx >= 0) & (idx < active.shape[1])
    out = np.zeros((active.shape[0], n), dtype=bool)
    out[:, inside] = active[:, idx[inside]]
    return out


def coverage_mask(coverage: Sequence[tuple[float, float]], rate: Fraction, f0: int, n: int
                  ) -> np.ndarray:
    """(A, n) bool: angle a records the whole of video frame f0+j."""
    out = np.zeros((len(coverage), n), dtype=bool)
    for a, (s, e) in enumerate(coverage):
        lo = max(frames_of(s - 1e-6, rate, up=True) - f0, 0)
        hi = min(frames_of(e + 1e-6, rate, up=False) - f0, n)
        if hi > lo:
            out[a, lo:hi] = True
    return out


def find_floor(act: np.ndarray, fps: float, rules: DirectorRules,
               present: Optional[np.ndarray] = None) -> Floor:
    """Turn per-person activity (P, F) on video frames into who holds the floor.

    ``present`` (F,) bool, someone is heard: when given, a hand-over of the floor with no
    pause in the sound around it is taken as the newcomer talking over the speaker.
    """
    n_p, n = act.shape
    bridge = int(round(rules.bridge * fps))
    take = int(round(rules.interjection * fps))
    holds = np.zeros_like(act)
    minor = np.zeros_like(act)
    starts = np.zeros_like(act)
    for p in range(n_p):
        talk = act[p].copy()
        s, e = runs(talk)
        for a, b in zip(e[:-1], s[1:]):
            if b - a < bridge:
                talk[a:b] = True
        for a, b in zip(*runs(talk)):
            # long enough, and mostly real talk (not scattered blips bridged together)
            if b - a >= take and act[p, a:b].mean() >= 0.5:
                holds[p, a:b] = True
                starts[p, a] = True
            else:
                minor[p, a:b] = act[p, a:b]
    count = holds.sum(axis=0)
    speaker = np.full(n, -1, dtype=np.int64)
    single = count == 1
    speaker[single] = holds[:, single].argmax(axis=0)
    crosstalk = np.zeros(n, dtype=bool)
    xt = int(round(rules.crosstalk * fps))
    for a, b in zip(*runs(count >= 2)):
        if b - a >= xt:
            crosstalk[a:b] = True
        else:  # a brief overlap at a hand-over belongs to the newcomer
            who = [p for p in range(n_p) if holds[p, a]]
            speaker[a:b] = max(who, key=lambda p: (_run_start(holds[p], a), -p))
    # gaps: held by the last speaker, unless long (silence)
    silence = np.zeros(n, dtype=bool)
    quiet = (speaker < 0) & ~crosstalk
    long_gap = int(round(rules.long_silence * fps))
    hold = int(round(rules.silence_hold * fps))
    for a, b in zip(*runs(quiet)):
        if b - a >= long_gap and a > 0 and b < n:
            silence[a + hold:b] = True
            speaker[a:a + hold] = speaker[a - 1]
        elif b - a >= long_gap:
            silence[a:b] = True
        elif a > 0:
            speaker[a:b] = speaker[a - 1] if not crosstalk[a - 1] else -1
            crosstalk[a:b] = crosstalk[a - 1]
    if present is not None and rules.handover > 0:
        _handovers(holds, starts, crosstalk, present, fps, rules.handover)
    # onsets: someone starts talking here (not: a crosstalk ends and one voice remains)
    onset = starts.any(axis=0)
    return Floor(speaker, crosstalk & ~silence, silence, onset, holds, minor)


PAUSE = 0.3
"""s: a hand-over whose sound pauses within this of it is a turn taken in turn."""


def _handovers(holds: np.ndarray, starts: np.ndarray, crosstalk: np.ndarray,
               present: np.ndarray, fps: float, width: float) -> None:
    """Mark as crosstalk ``width`` seconds each side of every hand-over - a person takes the
    floor (``starts``) within ``width`` of another holding it (``holds``) - with no pause in
    the sound within ``PAUSE`` of it (in place).

    People take turns with a pause between them (a few hundred ms); an interruption has none,
    the newcomer starting while the speaker finishes. Where the persons' own mics cannot tell
    two voices from one (camera mics in a live room), that is what gives crosstalk away.
    """
    n = holds.shape[1]
    g, w = max(1, int(round(PAUSE * fps))), max(1, int(round(width * fps)))
    for p, k in zip(*np.nonzero(starts)):
        before = np.delete(holds[:, max(0, k - w):k], p, axis=0)
        if before.any() and k - g >= 0 and k + g <= n and present[k - g:k + g].all():
            crosstalk[max(0, k - w):min(n, k + w)] = True


def _run_start(mask: np.ndarray, at: int) -> int:
    """First index of the True run of ``mask`` containing ``at``."""
    before = np.flatnonzero(~mask[:at + 1])
    return int(before[-1]) + 1 if before.size else 0


def screen_value(floor: Floor, person_angle: Sequence[Optional[int]], n_angles: int,
                 wide: Optional[int], cover: np.ndarray, fps: float, rules: DirectorRules
                 ) -> np.ndarray:
    """(A, F) float32: how right it is to show each angle on each frame.

    1 for the speaker's close-up, 0.6 for the wide while one person speaks, 1 for the wide in
    crosstalk, long silence and the opening; a listener's close-up is worth 0.3 while they
    react (backchannel, laugh) and 0.05 otherwise. Uncovered angles get :data:`UNCOVERED`.
    """
    n = len(floor.speaker)
    val = np.full((n_angles, n), 0.05, dtype=np.float32)
    angle_people: dict[int, list[int]] = {}
    for p, a in enumerate(person_angle):
        if a is not None:
            angle_people.setdefault(a, []).append(p)
    for a, people in angle_people.items():
        val[a, floor.minor[people].any(axis=0)] = REACTING
        for p in people:
            val[a, floor.speaker == p] = 1.0
            val[a, floor.crosstalk & floor.holds[p]] = 0.5
    if wide is not None:
        val[wide] = 0.6
        val[wide, floor.speaker < 0] = 0.8
        off_screen = [p for p, a in enumerate(person_angle) if a is None]
        for p in off_screen:
            val[wide, floor.speaker == p] = 1.0
        val[wide, floor.crosstalk | floor.silence] = 1.0
        val[wide, : int(round(rules.opening * fps))] = 1.2
    val[~cover] = UNCOVERED
    return val


def desired_angles(floor: Floor, person_angle: Sequence[Optional[int]], wide: Optional[int],
                   value: np.ndarray, opening: int) -> np.ndarray:
    """(F,) the angle that should be on screen on each frame (-1 where no angle records).

    The speaker's angle; the wide for crosstalk, long silence, the first ``opening`` frames
    and speakers nobody frames. Where that angle does not record (or there is no wish yet),
    what is on screen continues if it can, else the next wish, else the best covered angle.
    """
    n = value.shape[1]
    usable = value > UNCOVERED / 2
    want = np.full(n, -1, dtype=np.int64)
    for p, a in enumerate(person_angle):
        if a is not None:
            want[floor.speaker == p] = a
    if wide is not None:
        want[floor.crosstalk | floor.silence | (want < 0)] = wide
        want[:opening] = wide
    ok = (want >= 0) & usable[np.maximum(want, 0), np.arange(n)]
    want[~ok] = -1
    # the next wish, for frames before any wish
    nxt = np.full(n, -1, dtype=np.int64)
    upcoming = -1
    for f in range(n - 1, -1, -1):
        if want[f] >= 0:
            upcoming = want[f]
        nxt[f] = upcoming
    best = value.argmax(axis=0)
    for f in np.flatnonzero(~ok):
        if f > 0 and want[f - 1] >= 0 and usable[want[f - 1], f]:
            want[f] = want[f - 1]
        elif nxt[f] >= 0 and usable[nxt[f], f]:
            want[f] = nxt[f]
        elif usable[best[f], f]:
            want[f] = best[f]
    return want


class _Plan:
    """Screen values (A, F) with running sums: the worth of showing angle a on frames
    [s, e) in O(1), and whether a records all of them. Shots are lists [angle, start, end]
    of frame indices (end exclusive)."""

    def __init__(self, value: np.ndarray):
        self.value = value
        self.cum = np.concatenate([np.zeros((value.shape[0], 1)), np.cumsum(value, axis=1,
                                                                         dtype=np.float64)], axis=1)

    def worth(self, a: int, s: int, e: int) -> float:
        return float(self.cum[a, e] - self.cum[a, s]) if e > s else 0.0

    def covered(self, a: int, s: int, e: int) -> bool:
        return e <= s or bool(self.value[a, s:e].min() > UNCOVERED / 2)


def _segments(want: np.ndarray) -> list[list[int]]:
    out: list[list[int]] = []
    for f, a in enumerate(want):
        if out and out[-1][0] == a:
            out[-1][2] = f + 1
        else:
            out.append([int(a), f, f + 1])
    return out


def anticipate(segs: list[list[int]], onset: np.ndarray, lead: int, plan: _Plan) -> None:
    """Move cuts to a new speaker ``lead`` frames earlier (in place), where the angle records."""
    for i in range(1, len(segs)):
        a, s, _ = segs[i]
        prev = segs[i - 1]
        if a < 0 or prev[0] < 0 or not onset[s]:
            continue
        shift = min(lead, prev[2] - prev[1] - 1)
        while shift > 0 and not plan.covered(a, s - shift, s):
            shift -= 1
        if shift > 0:
            prev[2] -= shift
            segs[i][1] -= shift


def enforce_min(segs: list[list[int]], m: int, plan: _Plan) -> list[list[int]]:
    """Resolve shots shorter than ``m`` frames, left to right, keeping the most screen value.

    Options for a short shot: extend it forward (the next shot starts later), give it to the
    previous shot, give it to the next shot, or extend it backward. Gaps (angle -1) stay; a
    short shot none of these can fix (the angles around it stop recording) becomes a gap if
    it borders the program's edge or a gap.
    """
    segs = [list(x) for x in segs]
    out: list[list[int]] = []
    i = 0
    while i < len(segs):
        a, s, e = segs[i]
        if a < 0 or e - s >= m:
            out.append(segs[i])
            i += 1
            continue
        prev = out[-1] if out and out[-1][0] >= 0 and out[-1][2] == s else None
        nxt = segs[i + 1] if i + 1 < len(segs) and segs[i + 1][0] >= 0 else None
        here = plan.worth(a, s, e)
        options = []
        if nxt is not None and nxt[2] - (s + m) >= 1 and plan.covered(a, e, s + m):
            loss = plan.worth(nxt[0], e, s + m) - plan.worth(a, e, s + m)
            options.append((loss, 0, "forward"))
        if prev is not None and plan.covered(prev[0], s, e):
            options.append((here - plan.worth(prev[0], s, e), 1, "to_prev"))
        if nxt is not None and plan.covered(nxt[0], s, e):
            options.append((here - plan.worth(nxt[0], s, e), 2, "to_next"))
        if prev is not None and (e - m) - prev[1] >= m and plan.covered(a, e - m, s):
            options.append((plan.worth(prev[0], e - m, s) - plan.worth(a, e - m, s), 3, "back"))
        if not options:
            # nothing can take its place: at the edge of the program or of a gap, leave it out
            edge = prev is None or nxt is None
            out.append([-1, s, e] if edge else segs[i])
            i += 1
            continue
        _, _, how = min(options)
        if how == "forward":
            segs[i][2] = s + m
            nxt[1] = s + m
            out.append(segs[i])
        elif how == "to_prev":
            prev[2] = e
        elif how == "to_next":
            nxt[1] = s
        else:
            prev[2] = e - m
            segs[i][1] = e - m
            out.append(segs[i])
        i += 1
        # a merge may have made the previous shot continue into an equal neighbour
        while len(out) >= 2 and out[-2][0] == out[-1][0] and out[-2][2] == out[-1][1]:
            out[-2][2] = out[-1][2]
            out.pop()
    return _merge_equal(out)


def _merge_equal(segs: list[list[int]]) -> list[list[int]]:
    out: list[list[int]] = []
    for a, s, e in segs:
        if e <= s:
            continue
        if out and out[-1][0] == a and out[-1][2] == s:
            out[-1][2] = e
        else:
            out.append([a, s, e])
    return out


def break_long(segs: list[list[int]], m: int, top: int, cut: int, plan: _Plan,
               wide: Optional[int], slack: int) -> list[list[int]]:
    """Break shots longer than ``top`` frames with cutaways of ``cut`` frames.

    A shot of length L gets k = ceil((L - top) / (top + cut)) cutaways, spread evenly; each
    moves up to ``slack`` frames from its even place to where it loses least screen value
    (a pause, a listener's reaction). The cutaway is the wide or a listener, whichever is
    worth more there (the wide on a tie); a listener only while they react. Pieces stay
    between ``m`` and ``top`` frames where possible. A shot with no such alternative stays
    long.
    """
    n_angles = plan.value.shape[0]
    # reacting[b][u]: angle b is worth a cutaway somewhere in frames [u, u + cut) (its
    # person reacts there, or speaks)
    reacting = maximum_filter1d(plan.value, cut, axis=1, origin=-(cut // 2)) >= REACTING
    out: list[list[int]] = []
    for a, s, e in segs:
        length = e - s
        if a < 0 or length <= top or length < 2 * m + cut:
            out.append([a, s, e])
            continue
        k = math.ceil((length - top) / (top + cut))
        while k > 1 and (length - k * cut) / (k + 1) < m:
            k -= 1
        piece = (length - k * cut) / (k + 1)
        at = s
        for i in range(1, k + 1):
            nominal = s + round(i * piece + (i - 1) * cut)
            remaining = k - i
            lo = max(at + m, nominal - slack, e - remaining * (top + cut) - top - cut)
            hi = min(at + top, nominal + slack, e - m - cut - remaining * (m + cut))
            if hi < lo:
                continue
            u = np.arange(lo, hi + 1)
            keep = plan.cum[a, u + cut] - plan.cum[a, u]
            best = None
            for b in range(n_angles):
                if b == a:
                    continue
                alt = plan.cum[b, u + cut] - plan.cum[b, u]
                loss = keep - alt + 1e-6 * np.abs(u - nominal)
                if b != wide:  # a listener only while they react
                    reacts = reacting[b][u]
                    if not reacts.any():
                        continue
                    loss = np.where(reacts, loss, np.inf)
                j = int(np.argmin(loss))
                if not plan.covered(b, int(u[j]), int(u[j]) + cut):
                    ok = [jj for jj in np.argsort(loss, kind="stable")
                          if plan.covered(b, int(u[jj]), int(u[jj]) + cut)]
                    if not ok:
                        continue
                    j = int(ok[0])
                cand = (round(float(loss[j]), 6), 0 if b == wide else 1, b, int(u[j]))
                if best is None or cand < best:
                    best = cand
            if best is None:
                continue
            _, _, b, u0 = best
            out.append([a, at, u0])
            out.append([b, u0, u0 + cut])
            at = u0 + cut
        out.append([a, at, e])
    return _merge_equal(out)


def choose_pip(segs: list[list[int]], act: np.ndarray, floor: Floor,
               person_angle: Sequence[Optional[int]], wide: Optional[int], plan: _Plan
               ) -> list[Optional[int]]:
    """The inset of each shot: the most active other person's angle, else the previous
    speaker's, else the wide; None on the wide itself or when nothing else records."""
    out: list[Optional[int]] = []
    last_speaker: dict[int, int] = {}
    for a, s, e in segs:
        if a < 0 or a == wide:
            out.append(None)
            continue
        shown = {p for p, pa in enumerate(person_angle) if pa == a}
        options = []
        for p, pa in enumerate(person_angle):
            if pa is None or pa == a or p in shown or not plan.covered(pa, s, e):
                continue
            options.append((-int(act[p, s:e].sum()), -last_speaker.get(p, -1), pa))
        pick = None
        if options:
            options.sort()
            pick = options[0][2]
        if pick is None and wide is not None and plan.covered(wide, s, e):
            pick = wide
        out.append(pick)
        for f in range(s, e):
            p = int(floor.speaker[f])
            if p >= 0:
                last_speaker[p] = f
    return out


def direct(active: np.ndarray, act_rate: float, act_t0: float,
           person_angle: Sequence[Optional[int]], coverage: Sequence[tuple[float, float]],
           rate: Fraction, span: tuple[float, float], wide: Optional[int] = None,
           rules: Optional[DirectorRules] = None,
           present: Optional[np.ndarray] = None) -> list[Shot]:
    """Make the cut.

    ``active``: (P, T) bool speech activity per person at ``act_rate`` frames/s, frame 0 at
    ``act_t0`` s on the reference timeline. ``person_angle``: angle index framing each person
    (None: nobody frames them). ``coverage``: (start, end) seconds each angle records.
    ``rate``: frame rate of the cut. ``span``: (start, end) seconds of the program, snapped
    inwards to frames. Returns contiguous shots (gaps only where no angle records).
    """
    rules = rules or DirectorRules()
    f0 = frames_of(span[0] - 1e-6, rate, up=True)
    f1 = frames_of(span[1] + 1e-6, rate, up=False)
    n = f1 - f0
    if n <= 0:
        return []
    fps = float(rate)
    act = activity_on_frames(active, act_rate, act_t0, rate, f0, n)
    cover = coverage_mask(coverage, rate, f0, n)
    heard = (activity_on_frames(present[None], act_rate, act_t0, rate, f0, n)[0]
             if present is not None else None)
    floor = find_floor(act, fps, rules, heard)
    value = screen_value(floor, person_angle, len(coverage), wide, cover, fps, rules)
    plan = _Plan(value)
    want = desired_angles(floor, person_angle, wide, value, int(round(rules.opening * fps)))
    segs = _segments(want)
    m = max(1, math.ceil(Fraction(rules.min_shot).limit_denominator(1000) * rate))
    top = max(m, math.floor(Fraction(rules.max_shot).limit_denominator(1000) * rate))
    cut = max(m, round(rules.cutaway * fps))
    anticipate(segs, floor.onset, int(round(rules.lead * fps)), plan)
    segs = enforce_min(segs, m, plan)
    segs = break_long(segs, m, top, cut, plan, wide, int(round(1.5 * fps)))
    segs = enforce_min(segs, m, plan)
    pips = (choose_pip(segs, act, floor, person_angle, wide, plan) if rules.pip
            else [None] * len(segs))
    return [Shot(Fraction(f0 + s) / rate, Fraction(f0 + e) / rate, a, pip)
            for (a, s, e), pip in zip(segs, pips) if a >= 0]


# ----------------------------------------------------------------------------- legacy


def legacy_greedy(level_db: np.ndarray, coverage: Sequence[tuple[float, float]],
                  min_dwell: int = 8, max_dwell: int = 15, switch_threshold: float = 0.0,
                  lookahead: int = 4, opening: int = 8) -> list[tuple[int, int, int]]:
    """The original polysync's ``--mode greedy`` rule, for comparison.

    ``level_db``: (A, S) each angle's own audio level per whole second of the reference
    timeline (second s covers [s, s+1)). Score = level minus the mean of the other covered
    angles. Returns (angle, start_s, end_s) in whole seconds, contiguous over [0, S).
    """
    n_a, n_s = level_db.shape
    cov = np.zeros((n_a, n_s), dtype=bool)
    for a, (s, e) in enumerate(coverage):
        cov[a, max(0, math.ceil(s)):max(0, min(n_s, math.floor(e)))] = True
    env = np.where(cov, level_db, np.nan)
    score = np.full((n_a, n_s), -np.inf)
    finite = np.isfinite(env)
    total, count = np.where(finite, env, 0.0).sum(axis=0), finite.sum(axis=0)
    for a in range(n_a):
        n_other = count - finite[a]
        others = (total - np.where(finite[a], env[a], 0.0)) / np.maximum(n_other, 1)
        sc = env[a] - np.where(n_other > 0, others, 0.0)
        score[a] = np.where(cov[a] & finite[a], sc, -np.inf)

    def window_mean(a: int, t: int, w: int) -> float:
        x = score[a, t:t + w]
        x = x[np.isfinite(x)]
        return float(x.mean()) if x.size else -np.inf

    covered_any = cov.any(axis=0)
    if not covered_any.any():
        return []
    t = int(np.flatnonzero(covered_any)[0])
    cams = [a for a in range(n_a) if cov[a, t]]
    cur = max(cams, key=lambda a: (window_mean(a, t, opening), -a))
    out = [[cur, 0, t + 1]]
    dwell = 1
    for t in range(t + 1, n_s):
        if not covered_any[t]:
            out[-1][2] = t + 1
            continue
        others = [a for a in range(n_a) if a != cur and cov[a, t]]
        switch = None
        if not cov[cur, t]:
            switch = (max(others, key=lambda a: (window_mean(a, t, lookahead), -a))
                      if others else None)
        elif dwell >= max_dwell and others:
            switch = max(others, key=lambda a: (window_mean(a, t, lookahead), -a))
        elif dwell >= min_dwell and others:
            best = max(others, key=lambda a: (window_mean(a, t, lookahead), -a))
            if window_mean(best, t, lookahead) > window_mean(cur, t, lookahead) + switch_threshold:
                switch = best
        if switch is not None and switch != cur:
            cur, dwell = switch, 0
            out.append([cur, t, t + 1])
        else:
            out[-1][2] = t + 1
        dwell += 1
    return [tuple(x) for x in out]
