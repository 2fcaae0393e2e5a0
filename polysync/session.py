"""Angles of a synced shoot: media + probe + sidecar, the input of export, edit and render."""

from __future__ import annotations

import os
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Optional, Sequence

from .errors import CorruptFileError, MediaError, UsageError
from .media import MediaInfo, probe
from .sidecar import Sidecar, check_distinct_sidecars, check_fresh, load_sidecar, sidecar_path


@dataclass
class Angle:
    """One synced recording. ``index`` is its position in the input list (the original's cam)."""

    index: int
    path: Path
    info: MediaInfo
    sidecar: Sidecar
    name: str
    angle: str = ""  # the camera this clip belongs to; several clips may share one angle

    def __post_init__(self):
        if not self.angle:
            self.angle = self.name

    @property
    def start(self) -> float:
        """Where the recording's t=0 sits on the reference timeline (s)."""
        return self.sidecar.delta_seconds

    @property
    def end(self) -> float:
        """Where the recording ends on the reference timeline (s)."""
        return self.sidecar.to_ref(self.info.duration)

    @property
    def fps(self) -> Optional[Fraction]:
        return self.info.video.fps if self.info.video else None

    def to_src(self, t_ref: float) -> float:
        return self.sidecar.to_src(t_ref)


def angle_name(path: Path, taken: set[str]) -> str:
    """A short unique name for an angle, from its file name."""
    base = path.stem or path.name
    name, i = base, 2
    while name in taken:
        name, i = f"{base}_{i}", i + 1
    taken.add(name)
    return name


def load_angles(paths: Sequence[str | os.PathLike], sidecar_dir: str | os.PathLike | None = None,
                require_sidecars: bool = True) -> list[Angle]:
    """Probe each file and read its sidecar (checked against the media for staleness).

    All angles must be synced to the same reference. The first file without a sidecar is an
    error when ``require_sidecars`` (the default); otherwise it is treated as the reference.
    A single ``polysync-session.json`` (from ``sync --all``) stands for all of its clips.
    """
    if not paths:
        raise UsageError("no input files given")
    if len(paths) == 1 and str(paths[0]).lower().endswith(".json"):
        from .group import is_session_file, load_session

        if is_session_file(paths[0]):  # polysync-session.json from `sync --all`
            return load_session(paths[0], sidecar_dir=sidecar_dir)
    check_distinct_sidecars([Path(p) for p in paths], sidecar_dir)
    angles: list[Angle] = []
    taken: set[str] = set()
    for i, p in enumerate(paths):
        p = Path(p)
        if not p.exists():
            raise MediaError("file not found", p)
        info = probe(p)
        sc_path = sidecar_path(p, sidecar_dir)
        if sc_path.exists():
            sc = load_sidecar(sc_path)
            check_fresh(sc, p, info.duration, sc_path)
        elif require_sidecars:
            raise CorruptFileError("no sidecar: run `polysync sync` first", sc_path)
        else:
            sc = Sidecar(source=p.name, reference=p.name, delta_seconds=0.0, drift_slope=0.0,
                         overlap_in_reference=(0.0, info.duration),
                         overlap_in_source=(0.0, info.duration))
        angles.append(Angle(index=i, path=p, info=info, sidecar=sc, name=angle_name(p, taken)))
    refs = [a.sidecar.reference for a in angles]
    common = max(refs, key=refs.count)  # ties: the first input's
    odd = next((a for a in angles if a.sidecar.reference != common), None)
    if odd is not None:
        raise CorruptFileError(f"synced to {odd.sidecar.reference}, the other inputs to "
                               f"{common}: sync them to one reference",
                               sidecar_path(odd.path, sidecar_dir))
    return angles
