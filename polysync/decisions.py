"""Edit decisions and the original's ``edl.json`` file.

An edit is a list of shots on the reference timeline: which angle (``cam``, an index into
``inputs``) is on screen from ``start`` to ``end`` seconds, and optionally which angle is in
the picture-in-picture inset (``pip``). Shot boundaries sit on the frame grid of ``rate``.

``edl.json`` keeps the original polysync's shape - ``inputs``, ``deltas``, ``duration_sec``,
``audio_source``, ``coverage``, ``edl: [{start, end, cam, pip?}]`` - with times in seconds as
floats and ``inputs`` relative to the file itself (not the working directory). Added keys:
``drift_slopes``, ``frame_rate``, ``wide``, ``names``, ``tool``.
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Optional

from . import __version__
from .errors import CorruptFileError, UsageError
from .fsutil import atomic_write_text, json_text


@dataclass
class Shot:
    start: Fraction  # seconds on the reference timeline, on the frame grid
    end: Fraction
    cam: int
    pip: Optional[int] = None

    @property
    def duration(self) -> Fraction:
        return self.end - self.start


@dataclass
class EditDecisions:
    """A whole auto-edit. ``inputs`` are absolute paths; ``deltas``/``drift_slopes`` per input."""

    inputs: list[Path]
    shots: list[Shot]
    audio_source: int
    rate: Fraction
    deltas: list[float] = field(default_factory=list)
    drift_slopes: list[float] = field(default_factory=list)
    coverage: list[tuple[float, float]] = field(default_factory=list)
    wide: Optional[int] = None
    names: list[str] = field(default_factory=list)

    @property
    def start(self) -> Fraction:
        return self.shots[0].start if self.shots else Fraction(0)

    @property
    def duration(self) -> Fraction:
        return self.shots[-1].end if self.shots else Fraction(0)


def snap(t: float, rate: Fraction) -> Fraction:
    """The frame boundary nearest ``t`` seconds, as an exact rational."""
    return Fraction(round(Fraction(t) * rate)) / rate


def parse_rate(value) -> Fraction:
    """A frame rate from "30000/1001", 29.97, 30 ... (29.97-like floats become n/1001)."""
    if isinstance(value, Fraction):
        return value
    if isinstance(value, str) and "/" in value:
        num, den = value.split("/", 1)
        return Fraction(int(num), int(den))
    f = float(value)
    for base in (24, 30, 48, 60, 120):
        if abs(f - base * 1000 / 1001) < 0.01:
            return Fraction(base * 1000, 1001)
    return Fraction(f).limit_denominator(1001)


def _rate_or_none(value) -> Optional[Fraction]:
    """:func:`parse_rate` of ``value``, or None when it is not a positive frame rate."""
    try:
        rate = parse_rate(value)
    except (TypeError, ValueError, ZeroDivisionError, OverflowError):
        return None
    return rate if rate > 0 else None


def user_rate(value) -> Fraction:
    """A frame rate given on the command line; :class:`UsageError` when it is not one."""
    rate = _rate_or_none(value)
    if rate is None:
        raise UsageError(f"not a frame rate: {value!r}")
    return rate


def write_edl_json(dec: EditDecisions, path: str | os.PathLike) -> Path:
    """Write ``dec`` as edl.json at ``path`` atomically; inputs relative to its folder."""
    path = Path(path)
    folder = path.resolve().parent

    def rel(p: Path) -> str:
        try:
            return os.path.relpath(Path(p).resolve(), folder)
        except ValueError:
            return str(Path(p).resolve())

    rows = []
    for s in dec.shots:
        row = {"start": float(s.start), "end": float(s.end), "cam": s.cam}
        if s.pip is not None:
            row["pip"] = s.pip
        rows.append(row)
    data = {
        "_about": "Edit decision list made by polysync. Times are seconds on the reference "
                  "timeline; inputs are relative to this file; cam is an index into inputs.",
        "schema_version": 1,
        "inputs": [rel(p) for p in dec.inputs],
        "deltas": [round(d, 9) for d in dec.deltas],
        "drift_slopes": [float(f"{s:.6e}") for s in dec.drift_slopes],
        "duration_sec": float(dec.duration),
        "audio_source": dec.audio_source,
        "coverage": [[round(a, 6), round(b, 6)] for a, b in dec.coverage],
        "frame_rate": f"{dec.rate.numerator}/{dec.rate.denominator}",
        "wide": dec.wide,
        "names": dec.names,
        "edl": rows,
        "tool": {"name": "polysync", "version": __version__},
    }
    atomic_write_text(path, json_text(data, indent=2, ensure_ascii=False) + "\n")
    return path


def _num(v, what: str, path: Path) -> float:
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
        raise CorruptFileError(f"corrupt edit list: {what} is not a number", path)
    return float(v)


def read_edl_json(path: str | os.PathLike) -> EditDecisions:
    """Read an edl.json (the original's or ours). Relative inputs resolve against its folder.

    Raises :class:`CorruptFileError` for unreadable or malformed files.
    """
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise CorruptFileError("edit list not found", path) from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise CorruptFileError(f"corrupt edit list ({type(exc).__name__})", path) from None
    if not isinstance(data, dict):
        raise CorruptFileError("corrupt edit list: not a JSON object", path)
    inputs = data.get("inputs")
    rows = data.get("edl")
    if not isinstance(inputs, list) or not inputs or not all(isinstance(i, str) for i in inputs):
        raise CorruptFileError("corrupt edit list: 'inputs' must be a list of paths", path)
    if not isinstance(rows, list) or not rows:
        raise CorruptFileError("corrupt edit list: 'edl' must be a list of shots", path)
    n = len(inputs)
    rate = _rate_or_none(data.get("frame_rate", 30))
    if rate is None:
        raise CorruptFileError("corrupt edit list: 'frame_rate' is not a frame rate", path)
    shots = []
    for k, row in enumerate(rows):
        if not isinstance(row, dict):
            raise CorruptFileError(f"corrupt edit list: shot {k} is not an object", path)
        cam = row.get("cam")
        pip = row.get("pip")
        if not isinstance(cam, int) or not 0 <= cam < n:
            raise CorruptFileError(f"corrupt edit list: shot {k} has no valid cam", path)
        if pip is not None and (not isinstance(pip, int) or not 0 <= pip < n):
            raise CorruptFileError(f"corrupt edit list: shot {k} has an invalid pip", path)
        start = snap(_num(row.get("start"), f"shot {k} start", path), rate)
        end = snap(_num(row.get("end"), f"shot {k} end", path), rate)
        if end <= start:
            raise CorruptFileError(f"corrupt edit list: shot {k} ends before it starts", path)
        shots.append(Shot(start, end, cam, pip))
    base = path.resolve().parent
    resolved = [(base / p) if not Path(p).is_absolute() else Path(p) for p in inputs]
    deltas = data.get("deltas")
    slopes = data.get("drift_slopes", [0.0] * n)  # added by polysync 1; the original's had none
    for key, values in (("deltas", deltas), ("drift_slopes", slopes)):
        if not isinstance(values, list) or len(values) != n:
            raise CorruptFileError(f"corrupt edit list: '{key}' must hold one number per input",
                                   path)
    coverage = data.get("coverage") or []
    audio = data.get("audio_source", 0)
    if not isinstance(audio, int) or not 0 <= audio < n:
        raise CorruptFileError("corrupt edit list: 'audio_source' is not an input index", path)
    try:
        return EditDecisions(
            inputs=resolved, shots=shots, audio_source=audio, rate=rate,
            deltas=[_num(d, "a delta", path) for d in deltas],
            drift_slopes=[_num(s, "a drift slope", path) for s in slopes],
            coverage=[(float(a), float(b)) for a, b in coverage],
            wide=data.get("wide"), names=list(data.get("names") or []))
    except (TypeError, ValueError):
        raise CorruptFileError("corrupt edit list: malformed 'coverage'", path) from None
