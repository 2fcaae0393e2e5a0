"""``polysync edit``: a director-style first cut of synced angles, from who is speaking.

File level: every angle and every speaker mic is decoded once (:func:`polysync.sync.analyse_file`,
in worker processes), mapped to the reference timeline with its sidecar, turned into speech
activity per person (:mod:`polysync.activity`) and cut by the director
(:mod:`polysync.director`). The result is an :class:`~polysync.decisions.EditDecisions`,
written as the original's ``edl.json`` or, through :mod:`polysync.timeline` and
:mod:`polysync.export`, as ``.otio``, ``.fcpxml``, ``.xml`` or ``.edl``.

People: ``--speaker NAME=MIC[:ANGLE]`` ties a person to the recording that hears them best (a
lavalier file, a recorder track ``REC.wav#N`` = audio stream N counted from 0, ``#N.C`` =
channel C of it, or a camera's own audio) and to the angle that frames them. Each angle that
no ``--speaker`` names, other than the wide, stands for one person heard by its own audio (so
one lavalier for one guest leaves the others followed by their cameras' sound).
"""

from __future__ import annotations

import os
import tempfile
import time
from dataclasses import dataclass, field, replace
from fractions import Fraction
from pathlib import Path
from typing import Callable, Optional, Sequence

import click
import numpy as np

from .activity import ACTIVITY_RATE, Activity, ActivityParams, MicTrack, detect_activity
from .decisions import EditDecisions, Shot, parse_rate, user_rate, write_edl_json
from .director import DirectorRules, direct, frames_of, legacy_greedy
from .errors import EXIT_REFUSED, MediaError, PolysyncError, UsageError
from .session import Angle, load_angles
from .sync import FileAnalysis, analyse_all, carried_band, decode_mono

DEFAULT_RATE = Fraction(30)
OUTPUT_SUFFIXES = (".json", ".otio", ".fcpxml", ".xml", ".edl")


class MicOutOfRange(PolysyncError):
    """A speaker's mic does not overlap the angles on the reference timeline."""

    exit_code = EXIT_REFUSED


@dataclass
class SpeakerSpec:
    """One ``--speaker NAME=MIC[:ANGLE]``: ``stream``/``channel`` from ``MIC#S[.C]``."""

    name: str
    mic: Path
    stream: Optional[int] = None
    channel: Optional[int] = None
    angle: Optional[str] = None

    @property
    def label(self) -> str:
        tail = "" if self.stream is None else f"#{self.stream}" + (
            "" if self.channel is None else f".{self.channel}")
        return f"{self.mic}{tail}"


def parse_speaker(text: str) -> SpeakerSpec:
    """``NAME=MIC[:ANGLE]`` -> SpeakerSpec (ANGLE is resolved later). UsageError if malformed."""
    name, eq, rest = text.partition("=")
    name = name.strip()
    if not eq or not name or not rest:
        raise UsageError(f"--speaker expects NAME=MIC[:ANGLE], got {text!r}")
    mic, angle = rest, None
    if not Path(rest).exists() and ":" in rest:
        mic, angle = rest.rsplit(":", 1)
        if not mic or not angle:
            raise UsageError(f"--speaker expects NAME=MIC[:ANGLE], got {text!r}")
    stream = channel = None
    if "#" in mic and not Path(mic).exists():
        mic, _, sel = mic.rpartition("#")
        s, _, c = sel.partition(".")
        try:
            stream = int(s)
            channel = int(c) if c else None
        except ValueError:
            raise UsageError(f"--speaker {text!r}: '#{sel}' is not an audio stream number "
                             "(#N or #N.C, counted from 0)") from None
        if stream < 0 or (channel is not None and channel < 0):
            raise UsageError(f"--speaker {text!r}: stream and channel count from 0")
    return SpeakerSpec(name=name, mic=Path(mic), stream=stream, channel=channel, angle=angle)


def resolve_angle(ref: str, angles: Sequence[Angle], what: str) -> int:
    """Index of the angle named by ``ref``: its path as given, file name, stem, name or index."""
    for a in angles:
        if ref in (str(a.path), a.path.name, a.path.stem, a.name):
            return a.index
    p = Path(ref)
    if p.exists():
        for a in angles:
            if a.path.exists() and os.path.samefile(a.path, p):
                return a.index
    if ref.isdigit() and int(ref) < len(angles):
        return int(ref)
    raise UsageError(f"{what}: {ref!r} is not one of the inputs ("
                     + ", ".join(a.path.name for a in angles) + ")")


def parse_coverage(values: Sequence[str], angles: Sequence[Angle]
                   ) -> dict[int, tuple[float, float]]:
    """``--coverage CAM:START:END`` (reference seconds; CAM an index or an angle's name)."""
    out = {}
    for v in values:
        parts = v.rsplit(":", 2)
        try:
            if len(parts) != 3:
                raise ValueError
            start, end = float(parts[1]), float(parts[2])
        except ValueError:
            raise UsageError(f"--coverage expects CAM:START:END, got {v!r}") from None
        if end <= start:
            raise UsageError(f"--coverage {v!r}: END must be after START")
        try:
            cam = resolve_angle(parts[0], angles, "--coverage")
        except UsageError:
            raise UsageError(f"--coverage cam {parts[0]} out of range") from None
        out[cam] = (start, end)
    return out


@dataclass
class Cast:
    """Who is in the shoot: persons, the mics that hear them, the angles that frame them."""

    names: list[str]
    person_mic: list[int]  # index into mics
    person_angle: list[Optional[int]]
    mics: list[MicTrack]
    angle_mic: list[Optional[int]]  # each angle's own audio, index into mics
    decode_seconds: float = 0.0
    labels: list[str] = field(default_factory=list)  # each mic as the user named it
    band_top: Optional[float] = None  # Hz every mic's stream carries (0.45 of its sample rate)


def _pick_candidate(an: FileAnalysis, stream: Optional[int], channel: Optional[int], label: str):
    if stream is None:
        return an.candidates[0]
    cands = [c for c in an.candidates if c.audio_stream == stream]
    if not cands:
        raise MediaError(f"audio stream #{stream} is missing or silent (the file has "
                         f"{len(an.info.audio_streams)} audio streams, counted from 0)", label)
    if channel is None:
        return cands[0]
    names = {f"ch{channel}"} | ({"L"} if channel == 0 else {"R"} if channel == 1 else set())
    for c in cands:
        if c.channel in names:
            return c
    if len(cands) == 1 and cands[0].channel in ("L+R", "L-R", "mono"):
        return cands[0]  # a stereo pair carrying one mic, mixed
    raise MediaError(f"channel {channel} of audio stream #{stream} is missing or silent", label)


def gather_cast(angles: Sequence[Angle], speakers: Sequence[SpeakerSpec], wide: Optional[int],
                mic_angles: dict[Path, Angle], jobs: Optional[int] = None,
                progress: Optional[Callable[[str, float], None]] = None,
                wideband: bool = True) -> Cast:
    """Decode every angle and speaker mic once; tie persons to mics and angles.

    ``mic_angles``: the sidecar-read Angle of each speaker mic file that is not an input.
    ``wideband``: the mics' sound is then decoded again, only the chosen channel, at
    :data:`polysync.activity.ACTIVITY_RATE` (the arrival times of who speaks).
    """
    keyed: dict[Path, Angle] = {a.path.resolve(): a for a in angles}
    keyed.update({p.resolve(): a for p, a in mic_angles.items()})
    order = list(keyed)
    t = time.perf_counter()
    analyses = dict(zip(order, analyse_all([keyed[k].path for k in order], jobs=jobs,
                                           progress=progress)))
    decode = time.perf_counter() - t
    mics: list[MicTrack] = []
    labels: list[str] = []
    seen: dict[tuple, int] = {}

    def mic_for(key: Path, stream, channel, label) -> int:
        an = analyses[key]
        if isinstance(an, PolysyncError):
            raise an
        cand = _pick_candidate(an, stream, channel, label)
        ident = (key, cand.audio_stream, cand.channel)
        if ident not in seen:
            sc = keyed[key].sidecar
            seen[ident] = len(mics)
            mics.append(MicTrack(name=label, signal=cand.signal, rate=cand.rate, t0=cand.t0,
                                 env_db=cand.env_db, env_rate=100, delta=sc.delta_seconds,
                                 drift_slope=sc.drift_slope))
            labels.append(label)
        return seen[ident]

    angle_mic: list[Optional[int]] = []
    for a in angles:
        key = a.path.resolve()
        # an angle without usable sound can still be cut to; it just hears nobody
        ok = not isinstance(analyses[key], PolysyncError)
        angle_mic.append(mic_for(key, None, None, a.path.name) if ok else None)
    names, person_mic, person_angle = [], [], []
    if speakers:
        for sp in speakers:
            key = sp.mic.resolve()
            names.append(sp.name)
            person_mic.append(mic_for(key, sp.stream, sp.channel, sp.label))
            if sp.angle is not None:
                person_angle.append(resolve_angle(sp.angle, angles, f"--speaker {sp.name}"))
            else:
                person_angle.append(keyed[key].index if key in {x.path.resolve() for x in angles}
                                    else None)
        if len(set(names)) != len(names):
            raise UsageError("--speaker: each person needs a name of their own")
    # an angle no --speaker names stands for the person it frames, heard by its own sound
    # (unless that sound is already someone's mic)
    for a, m in zip(angles, angle_mic):
        if a.index == wide or m is None or a.index in person_angle or m in person_mic:
            continue
        names.append(a.name if a.name not in names else f"{a.name} ({a.index})")
        person_mic.append(m)
        person_angle.append(a.index)
    if not names:
        raise UsageError("nobody to follow: give --speaker NAME=MIC[:ANGLE], or angles with "
                         "sound other than the wide")
    if wideband:
        t = time.perf_counter()
        idents = sorted(seen, key=seen.get)
        with tempfile.TemporaryDirectory(prefix="polysync-", ignore_cleanup_errors=True) as tmp:
            got = decode_mono(idents, ACTIVITY_RATE, tmp, jobs=jobs, progress=progress and (
                lambda path, frac: progress(f"{path} (16 kHz)", frac)))
        for ident, (t0, sig) in zip(idents, got):
            m = seen[ident]
            mics[m] = replace(mics[m], signal=sig, rate=ACTIVITY_RATE, t0=t0)
        decode += time.perf_counter() - t
    # the correlation's band stops where the narrowest mic's does: above it, that mic's
    # phase is noise
    tops = [carried_band(analyses[key], stream) for key, stream, _ in seen]
    top = min((x for x in tops if x), default=None)
    return Cast(names, person_mic, person_angle, mics, angle_mic, decode, labels, top)


def check_mics(cast: Cast, span: tuple[float, float]) -> None:
    """Every speaker's mic must record some of the program span."""
    for name, m in zip(cast.names, cast.person_mic):
        s, e = cast.mics[m].span
        if min(e, span[1]) - max(s, span[0]) < 1.0:
            raise MicOutOfRange(f"the mic of {name} ({s:.1f}..{e:.1f} s) does not overlap the "
                                f"angles ({span[0]:.1f}..{span[1]:.1f} s on the reference "
                                "timeline): sync it to the same reference", cast.labels[m])


def program_rate(angles: Sequence[Angle], rate=None) -> Fraction:
    """``rate`` if given, else the reference angle's video rate, else the first video's, else 30."""
    if rate is not None:
        return user_rate(rate)
    ref = next((a for a in angles if a.sidecar.is_reference and a.fps), None)
    ref = ref or next((a for a in angles if a.fps), None)
    return parse_rate(ref.fps) if ref is not None else DEFAULT_RATE


def choose_audio_source(cast: Cast, coverage: Sequence[tuple[float, float]],
                        span: tuple[float, float]) -> int:
    """The original's rule: the angle whose sound has the widest level range (p90 - p10 dB)
    plus half its coverage fraction."""
    best, best_score = None, -np.inf
    length = max(span[1] - span[0], 1e-9)
    for a, m in enumerate(cast.angle_mic):
        if m is None:
            continue
        env = cast.mics[m].env_db
        p10, p90 = np.percentile(env, [10, 90]) if len(env) else (0.0, 0.0)
        cov = max(0.0, min(coverage[a][1], span[1]) - max(coverage[a][0], span[0])) / length
        score = float(p90 - p10) + 0.5 * cov
        if score > best_score:
            best, best_score = a, score
    return 0 if best is None else best


def per_second_levels(cast: Cast, n_seconds: int) -> np.ndarray:
    """(A, S) each angle's own sound in dB per reference second (the original's score input)."""
    from .activity import levels_on_grid

    out = np.full((len(cast.angle_mic), n_seconds), np.nan)
    for a, m in enumerate(cast.angle_mic):
        if m is None:
            continue
        lv = levels_on_grid([cast.mics[m]], 0.0, n_seconds * 10, rate=10)[0]
        ok = np.isfinite(lv).reshape(n_seconds, 10)
        power = np.where(ok, 10.0 ** (np.nan_to_num(lv) / 10.0).reshape(n_seconds, 10), 0.0)
        mean = power.sum(axis=1) / np.maximum(ok.sum(axis=1), 1)
        out[a] = np.where(ok.any(axis=1), 10.0 * np.log10(mean + 1e-12), np.nan)
    return out


@dataclass
class EditReport:
    """What :func:`build_edit` did, for printing and benchmarks."""

    decisions: EditDecisions
    cast: Cast
    activity: Optional[Activity]
    decode_seconds: float
    edit_seconds: float
    angles: list[Angle]


def cut(angles: Sequence[Angle], cast: Cast, *, wide: Optional[int] = None,
        rules: Optional[DirectorRules] = None, rate=None,
        coverage: Optional[dict[int, tuple[float, float]]] = None,
        audio_source: Optional[int] = None, mode: str = "director",
        switch_threshold: float = 0.0, activity_params: Optional[ActivityParams] = None
        ) -> tuple[EditDecisions, Optional[Activity]]:
    """Everything after the decode: activity, the director (or the legacy greedy rule)."""
    rules = rules or DirectorRules()
    if rules.min_shot <= 0 or rules.max_shot < rules.min_shot:
        raise UsageError(f"shot lengths must satisfy 0 < min-shot <= max-shot "
                         f"(got {rules.min_shot} and {rules.max_shot})")
    cov = [(a.start, a.end) for a in angles]
    for k, v in (coverage or {}).items():
        cov[k] = v
    span = (max(0.0, min(s for s, _ in cov)), max(e for _, e in cov))
    if span[1] - span[0] < rules.min_shot:
        raise UsageError("no camera is covered at any time" if span[1] <= span[0] else
                         "the angles cover less than one minimum shot")
    check_mics(cast, span)
    r = program_rate(angles, rate)
    if audio_source is None:
        audio_source = choose_audio_source(cast, cov, span)
    elif not 0 <= audio_source < len(angles):
        raise UsageError(f"--audio-source {audio_source} is not an input index "
                         f"(0..{len(angles) - 1})")
    act = None
    if mode == "greedy":
        shots = _greedy_shots(cast, cov, span, r, rules, switch_threshold)
    else:
        prm = activity_params or ActivityParams()
        if cast.band_top is not None:
            prm = replace(prm, band=(prm.band[0], min(prm.band[1], cast.band_top)))
        if wide is None:  # crosstalk has no wide to go to: a second voice by alternation would
            prm = replace(prm, alternation=None)  # only hold close-ups back (on-screen -3.5%)
        act = detect_activity(cast.mics, cast.person_mic, span[0], span[1], prm)
        shots = direct(act.active, act.rate, act.t0, cast.person_angle, cov, r, span,
                       wide=wide, rules=rules, present=act.present)
    if not shots:
        raise UsageError("no camera is covered at any time")
    dec = EditDecisions(
        inputs=[a.path.resolve() for a in angles], shots=shots, audio_source=audio_source,
        rate=r, deltas=[a.sidecar.delta_seconds for a in angles],
        drift_slopes=[a.sidecar.drift_slope for a in angles],
        coverage=[(max(s, 0.0), e) for s, e in cov], wide=wide,
        names=[a.name for a in angles])
    return dec, act


def _greedy_shots(cast: Cast, cov, span, rate: Fraction, rules: DirectorRules,
                  switch_threshold: float) -> list[Shot]:
    """The original's greedy rule on whole seconds, its cuts snapped to frames."""
    n_s = int(np.ceil(span[1]))
    levels = per_second_levels(cast, n_s)
    rows = legacy_greedy(levels, cov, min_dwell=max(1, int(round(rules.min_shot))),
                         max_dwell=max(1, int(round(rules.max_shot))),
                         switch_threshold=switch_threshold)
    f0 = frames_of(span[0] - 1e-6, rate, up=True)
    f1 = frames_of(span[1] + 1e-6, rate, up=False)
    shots: list[Shot] = []
    for cam, s, e in rows:
        a = min(max(frames_of(s, rate, up=True), f0), f1)
        b = min(max(frames_of(e, rate, up=True), f0), f1)
        if b > a:
            shots.append(Shot(Fraction(a) / rate, Fraction(b) / rate, cam))
    return shots


def build_edit(inputs: Sequence[str | os.PathLike], *, speakers: Sequence[str | SpeakerSpec] = (),
               wide: Optional[str] = None, rules: Optional[DirectorRules] = None, rate=None,
               coverage: Sequence[str] = (), audio_source: Optional[int] = None,
               mode: str = "director", switch_threshold: float = 0.0,
               sidecar_dir: str | os.PathLike | None = None, jobs: Optional[int] = None,
               progress: Optional[Callable[[str, float], None]] = None,
               report: bool = False) -> EditDecisions | EditReport:
    """The auto-edit of synced ``inputs`` (cam k = inputs[k]) as EditDecisions.

    ``speakers``: ``NAME=MIC[:ANGLE]`` strings or SpeakerSpec; ``wide``: the wide angle (path,
    name or index); ``coverage``: ``CAM:START:END`` overrides; ``mode``: "director" (also
    "rotation") or "greedy" (the original's rule). ``report=True`` returns an EditReport.
    Raises UsageError (bad options), CorruptFileError (missing/stale sidecar), MediaError,
    MicOutOfRange (a speaker mic that does not overlap the angles).
    """
    if mode not in ("director", "rotation", "greedy"):
        raise UsageError(f"unknown mode {mode!r} (director, rotation or greedy)")
    specs = [s if isinstance(s, SpeakerSpec) else parse_speaker(s) for s in speakers]
    paths = [Path(p) for p in inputs]
    if len({p.resolve() for p in paths}) != len(paths):
        raise UsageError("the same file is given twice")
    input_keys = {p.resolve() for p in paths}
    extra = []
    for sp in specs:
        if not sp.mic.exists():
            raise MediaError("file not found", sp.mic)
        key = sp.mic.resolve()
        if key not in input_keys and key not in {x.resolve() for x in extra}:
            extra.append(sp.mic)
    loaded = load_angles([*paths, *extra], sidecar_dir=sidecar_dir)
    angles, mic_files = loaded[: len(paths)], loaded[len(paths):]
    wide_index = resolve_angle(str(wide), angles, "--wide") if wide is not None else None
    for sp in specs:
        if sp.angle is not None:
            resolve_angle(sp.angle, angles, f"--speaker {sp.name}")  # fail before decoding
    cov = parse_coverage(coverage, angles)
    cast = gather_cast(angles, specs, wide_index, {a.path: a for a in mic_files}, jobs=jobs,
                       progress=progress, wideband=mode != "greedy")
    t = time.perf_counter()
    dec, act = cut(angles, cast, wide=wide_index, rules=rules, rate=rate, coverage=cov,
                   audio_source=audio_source, mode="greedy" if mode == "greedy" else "director",
                   switch_threshold=switch_threshold)
    elapsed = time.perf_counter() - t
    if report:
        return EditReport(dec, cast, act, cast.decode_seconds, elapsed, list(angles))
    return dec


def write_decisions(dec: EditDecisions, angles: Sequence[Angle], out: str | os.PathLike) -> Path:
    """Write ``dec`` by ``out``'s suffix: ``.json`` as edl.json, else a timeline export."""
    out = Path(out)
    if out.suffix.lower() == ".json":
        return write_edl_json(dec, out)
    from .export import write_timeline
    from .timeline import build_timeline

    return write_timeline(build_timeline(list(angles), dec, name=out.stem), out)


# ----------------------------------------------------------------------------- CLI


@click.command("edit")
@click.argument("inputs", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--out", "-o", required=True, type=click.Path(path_type=Path),
              help="edl.json (the original's shape), .otio, .fcpxml, .xml or .edl.")
@click.option("--speaker", "speakers", multiple=True, metavar="NAME=MIC[:ANGLE]",
              help="A person: the recording that hears them best (file, REC.wav#N for audio "
                   "stream N from 0, #N.C for channel C) and the angle that frames them. "
                   "Repeatable. An angle no --speaker names (other than the wide) stands for the "
                   "person it frames, heard by its own sound.")
@click.option("--wide", metavar="ANGLE", help="The wide angle: crosstalk, long silence, the "
                                               "opening and breaks in long monologues.")
@click.option("--min-shot", "--min-dwell", "min_shot", type=float, default=2.0,
              show_default=True, help="Shortest shot, seconds.")
@click.option("--max-shot", "--max-dwell", "max_shot", type=float, default=12.0,
              show_default=True, help="Longest shot before a cutaway (the wide, or a listener "
                                       "while they react), seconds.")
@click.option("--lead", type=float, default=0.25, show_default=True,
              help="Cut to a new speaker this many seconds before they start.")
@click.option("--pip", is_flag=True, help="Give each close-up a picture-in-picture inset of "
                                          "the listener (or the wide).")
@click.option("--rate", help="Frame rate of the cut, e.g. 25, 29.97, 30000/1001 "
                             "(default: the reference angle's).")
@click.option("--mode", type=click.Choice(["director", "rotation", "greedy"]),
              default="director", show_default=True,
              help="director (rotation is accepted as its alias); greedy is the original "
                   "level-based rule, kept for comparison.")
@click.option("--coverage", multiple=True, metavar="CAM:START:END",
              help="Override when angle CAM records, in reference seconds. Repeatable.")
@click.option("--audio-source", type=int, default=None,
              help="Input index whose sound the program uses (default: the widest range).")
@click.option("--switch-threshold", type=float, default=0.0,
              help="greedy mode: level margin (dB) needed to cut.")
@click.option("--seed", type=int, default=42, help="Accepted for compatibility; the director "
                                                   "is deterministic.")
@click.option("--sidecar-dir", type=click.Path(path_type=Path),
              help="Read sidecars from here instead of beside the media.")
@click.option("--jobs", "-j", type=int, default=None, help="Files decoded at once.")
@click.option("--quiet", "-q", is_flag=True, help="No progress on stderr.")
def edit(inputs, out, speakers, wide, min_shot, max_shot, lead, pip, rate, mode, coverage,
         audio_source, switch_threshold, seed, sidecar_dir, jobs, quiet):
    """Cut synced INPUTS (camera 0, 1, ...) like a director: the person speaking is on screen.

    Backchannels and laughter do not cut; crosstalk, long silence and the opening go to the
    --wide angle; long monologues get a cutaway; no shot is shorter than --min-shot; cuts
    sit on frames.
    """
    from .cli import Progress, fail_cleanly  # here, not at import: cli registers this command

    fail_cleanly(_edit)(inputs, out, speakers, wide, min_shot, max_shot, lead, pip, rate, mode,
                        coverage, audio_source, switch_threshold, sidecar_dir, jobs,
                        Progress(quiet))


def _edit(inputs, out, speakers, wide, min_shot, max_shot, lead, pip, rate, mode, coverage,
          audio_source, switch_threshold, sidecar_dir, jobs, progress) -> None:
    from .cli import table

    if Path(out).suffix.lower() not in OUTPUT_SUFFIXES:  # fail now, not after the decode
        raise UsageError(f"cannot tell the format from the suffix {Path(out).suffix or '(none)'!r}"
                         ": use " + ", ".join(OUTPUT_SUFFIXES), out)
    if rate is not None:
        program_rate([], rate)  # likewise a bad --rate
    if mode == "rotation":
        click.echo("polysync: note: --mode rotation is served by the director", err=True)
    rules = DirectorRules(min_shot=min_shot, max_shot=max_shot, lead=lead, pip=pip)
    rep = build_edit(inputs, speakers=speakers, wide=wide, rules=rules, rate=rate,
                     coverage=coverage, audio_source=audio_source, mode=mode,
                     switch_threshold=switch_threshold, sidecar_dir=sidecar_dir, jobs=jobs,
                     progress=progress, report=True)
    progress.done()
    dec = rep.decisions
    write_decisions(dec, rep.angles, out)
    total = float(dec.duration - dec.start) or 1.0
    frames = {p: cam for p, cam in zip(rep.cast.names, rep.cast.person_angle)}
    rows = []
    for a in rep.angles:
        on = sum(float(s.duration) for s in dec.shots if s.cam == a.index)
        who = [p for p, cam in frames.items() if cam == a.index]
        role = "wide" if a.index == dec.wide else ", ".join(who) or "-"
        rows.append([f"cam{a.index}", a.path.name, role, f"{on:.0f} s", f"{on / total:.0%}"])
    click.echo(table(rows, ["cam", "angle", "frames", "on screen", "share"]))
    short = sum(1 for s in dec.shots if s.duration < Fraction(min_shot).limit_denominator(1000))
    click.echo(f"EDL: {len(dec.shots)} segments; audio_source=cam{dec.audio_source}; saved {out}")
    click.echo(f"{len(dec.shots)} shots at {float(dec.rate):.3f} fps over {total:.1f} s, "
               f"{short} under {min_shot:g} s; edit took {rep.edit_seconds:.2f} s after "
               f"{rep.decode_seconds:.1f} s of decoding", err=True)


__all__ = ["build_edit", "cut", "gather_cast", "parse_speaker", "write_decisions", "edit",
           "SpeakerSpec", "MicOutOfRange", "EditReport"]
