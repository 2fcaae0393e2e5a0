"""``<input>.sync.json`` sidecars, schema_version 1.

The original polysync's fields keep their names and meaning (``schema_version``, ``source``,
``reference``, ``delta_seconds``, ``drift_slope``, ``overlap_in_reference``,
``overlap_in_source``, ``verification``), so sidecars from either tool read in both. Added:
``drift_ppm``, ``audio_stream``, ``confidence``, ``quality``, ``tool`` and ``source_info`` /
``reference_info`` (size and duration, to detect a stale sidecar).
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

from . import __version__
from .errors import CorruptFileError, MediaError, UsageError
from .fsutil import atomic_write_text, json_text

SCHEMA_VERSION = 1
SUFFIX = ".sync.json"

_HELP = {
    "delta_seconds": "Source's t=0 on the reference timeline, in seconds. Positive: the source "
                     "started after the reference. Apply with ffmpeg -itsoffset <delta_seconds>.",
    "drift_slope": "Clock drift, dimensionless: t_ref = delta_seconds + t_src * (1 + drift_slope). "
                   "Positive when the source's clock runs slow relative to the reference.",
    "overlap_in_reference": "[start, end] in reference time where both recordings have content.",
    "overlap_in_source": "The same span on the source's own clock.",
    "verification": "Filled in by `polysync verify`; null until it runs.",
}


def sidecar_path(media: str | os.PathLike, sidecar_dir: str | os.PathLike | None = None) -> Path:
    """Where the sidecar of ``media`` lives: beside it, or in ``sidecar_dir``."""
    media = Path(media)
    folder = Path(sidecar_dir) if sidecar_dir is not None else media.parent
    return folder / (media.name + SUFFIX)


def check_inputs(media: list[Path]) -> None:
    """Raise :class:`MediaError` for a missing file, :class:`UsageError` for one given twice."""
    seen = set()
    for p in media:
        if not p.exists():
            raise MediaError("file not found", p)
        if p.resolve() in seen:
            raise UsageError("the same file is given twice", p)
        seen.add(p.resolve())


def check_distinct_sidecars(media: list[Path], sidecar_dir: str | os.PathLike | None) -> None:
    """Raise :class:`UsageError` when two different files would share one sidecar: files of
    the same name from different folders (camera cards all start at C0001.MP4) given with one
    ``--sidecar-dir``."""
    owner: dict[Path, Path] = {}
    for p in media:
        where = sidecar_path(p, sidecar_dir).resolve()
        other = owner.setdefault(where, p)
        if other.resolve() != Path(p).resolve():
            raise UsageError(f"shares its file name with {other}, so both would use the sidecar "
                             f"{where}; link one under another name, or keep the sidecars "
                             "beside the media", p)


@dataclass
class Sidecar:
    """A sidecar's content. ``source``/``reference`` are file names (as the original wrote)."""

    source: str
    reference: str
    delta_seconds: float
    drift_slope: float
    overlap_in_reference: tuple[float, float]
    overlap_in_source: tuple[float, float]
    verification: Optional[dict] = None
    audio_stream: Optional[int] = None
    reference_audio_stream: Optional[int] = None
    confidence: Optional[float] = None
    quality: dict = field(default_factory=dict)
    source_info: dict = field(default_factory=dict)
    reference_info: dict = field(default_factory=dict)
    reference_path: Optional[str] = None  # relative to the sidecar's folder
    tool: dict = field(default_factory=lambda: {"name": "polysync", "version": __version__})
    schema_version: int = SCHEMA_VERSION
    extra: dict = field(default_factory=dict)  # unknown keys, kept on rewrite

    @property
    def drift_ppm(self) -> float:
        return self.drift_slope * 1e6

    @property
    def is_reference(self) -> bool:
        return self.source == self.reference and self.delta_seconds == 0.0

    def to_ref(self, t_src: float) -> float:
        """Reference time of source time ``t_src``."""
        return self.delta_seconds + t_src * (1.0 + self.drift_slope)

    def to_src(self, t_ref: float) -> float:
        """Source time of reference time ``t_ref``."""
        return (t_ref - self.delta_seconds) / (1.0 + self.drift_slope)

    def to_json(self) -> dict:
        d = {
            "_about": f"Sync metadata for {self.source} (aligned to {self.reference}). Generated "
                      "by polysync; originals are not modified.",
            "_help": _HELP,
            "schema_version": self.schema_version,
            "source": self.source,
            "reference": self.reference,
            "delta_seconds": round(self.delta_seconds, 9),
            "drift_slope": float(f"{self.drift_slope:.6e}"),
            "drift_ppm": round(self.drift_ppm, 4),
            "overlap_in_reference": [round(v, 6) for v in self.overlap_in_reference],
            "overlap_in_source": [round(v, 6) for v in self.overlap_in_source],
            "verification": self.verification,
            "confidence": None if self.confidence is None else round(self.confidence, 6),
            "audio_stream": self.audio_stream,
            "reference_audio_stream": self.reference_audio_stream,
            "quality": self.quality,
            "source_info": self.source_info,
            "reference_info": self.reference_info,
            "reference_path": self.reference_path,
            "tool": self.tool,
        }
        d.update({k: v for k, v in self.extra.items() if k not in d})
        return d


_KNOWN = {"_about", "_help", "schema_version", "source", "reference", "delta_seconds",
          "drift_slope", "drift_ppm", "overlap_in_reference", "overlap_in_source", "verification",
          "confidence", "audio_stream", "reference_audio_stream", "quality", "source_info",
          "reference_info", "reference_path", "tool"}


def _number(d: dict, key: str, path: Path, default=None) -> float:
    v = d.get(key, default)
    if v is None and default is not None:
        v = default
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
        raise CorruptFileError(f"corrupt sidecar: '{key}' is not a number", path)
    return float(v)


def _span(d: dict, key: str, path: Path) -> tuple[float, float]:
    v = d.get(key)
    if (not isinstance(v, (list, tuple)) or len(v) != 2
            or not all(isinstance(x, (int, float)) and not isinstance(x, bool) for x in v)):
        raise CorruptFileError(f"corrupt sidecar: '{key}' is not [start, end]", path)
    return float(v[0]), float(v[1])


def parse_sidecar(data: object, path: Path) -> Sidecar:
    """Validate a decoded JSON object as a sidecar (original or polysync 1.x)."""
    if not isinstance(data, dict):
        raise CorruptFileError("corrupt sidecar: not a JSON object", path)
    version = data.get("schema_version")
    if version != SCHEMA_VERSION:
        raise CorruptFileError(f"unsupported sidecar schema_version {version!r}", path)
    for key in ("source", "reference"):
        if not isinstance(data.get(key), str):
            raise CorruptFileError(f"corrupt sidecar: '{key}' missing", path)
    ver = data.get("verification")
    if ver is not None and not isinstance(ver, dict):
        raise CorruptFileError("corrupt sidecar: 'verification' is not an object", path)
    audio = data.get("audio_stream")
    return Sidecar(
        source=data["source"], reference=data["reference"],
        delta_seconds=_number(data, "delta_seconds", path),
        drift_slope=_number(data, "drift_slope", path, default=0.0),
        overlap_in_reference=_span(data, "overlap_in_reference", path),
        overlap_in_source=_span(data, "overlap_in_source", path),
        verification=ver,
        audio_stream=audio if isinstance(audio, int) else None,
        reference_audio_stream=data.get("reference_audio_stream"),
        confidence=data.get("confidence"),
        quality=data.get("quality") or {},
        source_info=data.get("source_info") or {},
        reference_info=data.get("reference_info") or {},
        reference_path=data.get("reference_path"),
        tool=data.get("tool") or {},
        extra={k: v for k, v in data.items() if k not in _KNOWN},
    )


def load_sidecar(path: str | os.PathLike) -> Sidecar:
    """Read and validate the sidecar file at ``path``.

    Raises :class:`CorruptFileError` if it is missing, unreadable or malformed.
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise CorruptFileError("sidecar not found (run `polysync sync` first)", path) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise CorruptFileError(f"cannot read sidecar ({exc})", path) from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise CorruptFileError(f"corrupt sidecar: invalid JSON at line {exc.lineno}", path) from None
    return parse_sidecar(data, path)


def save_sidecar(sidecar: Sidecar, path: str | os.PathLike) -> Path:
    """Write ``sidecar`` to ``path`` atomically."""
    path = Path(path)
    atomic_write_text(path, json_text(sidecar.to_json(), indent=2, ensure_ascii=False) + "\n")
    return path


def withdraw_sidecar(media: str | os.PathLike, reference: str | os.PathLike,
                     sidecar_dir: str | os.PathLike | None = None) -> Optional[Path]:
    """Remove the sidecar an earlier run wrote for ``media`` against ``reference``, when this
    run refuses the pair: it claims a placement polysync no longer stands behind, and edit or
    export would still use it. A sidecar against another reference, a reference's own, or one
    that does not read as a sidecar is left alone. Returns the removed path, else None."""
    path = sidecar_path(media, sidecar_dir)
    if not path.is_file():
        return None
    try:
        sc = load_sidecar(path)
    except CorruptFileError:
        return None
    if sc.is_reference or sc.reference != Path(reference).name:
        return None
    try:
        path.unlink()
    except OSError:
        return None
    return path


def check_fresh(sidecar: Sidecar, media: str | os.PathLike, duration: Optional[float] = None,
                path: Optional[Path] = None) -> None:
    """Raise :class:`CorruptFileError` if ``media`` changed since the sidecar was written."""
    info = sidecar.source_info or {}
    where = path or sidecar_path(media)
    size = info.get("size")
    if isinstance(size, int) and Path(media).exists() and Path(media).stat().st_size != size:
        raise CorruptFileError(f"stale sidecar: {Path(media).name} changed since it was synced "
                               "(run `polysync sync` again)", where)
    dur = info.get("duration")
    if duration is not None and isinstance(dur, (int, float)) and abs(dur - duration) > 0.05:
        raise CorruptFileError(f"stale sidecar: {Path(media).name} changed since it was synced "
                               "(run `polysync sync` again)", where)


def read_sidecar(media: str | os.PathLike) -> tuple[float, Optional[tuple[float, float]], bool]:
    """The original polysync's reader: ``(delta_seconds, overlap_in_reference, has_sidecar)``.

    A missing sidecar gives ``(0.0, None, False)``; a corrupt one raises.
    """
    path = sidecar_path(media)
    if not path.exists():
        return 0.0, None, False
    sc = load_sidecar(path)
    return sc.delta_seconds, sc.overlap_in_reference, True


def media_info_dict(size: int, duration: float) -> dict:
    return {"size": int(size), "duration": round(float(duration), 6)}


__all__ = ["SCHEMA_VERSION", "Sidecar", "sidecar_path", "load_sidecar", "save_sidecar",
           "parse_sidecar", "check_fresh", "withdraw_sidecar", "read_sidecar", "media_info_dict"]
