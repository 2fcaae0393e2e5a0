"""Atomic output: a file appears whole under its final name, or not at all."""

from __future__ import annotations

import contextlib
import json
import math
import os
import tempfile
from pathlib import Path
from typing import Iterator

from .errors import OutputError


@contextlib.contextmanager
def atomic_path(final: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path beside ``final``; on success it is renamed onto ``final``.

    On any exception the temporary file is removed and ``final`` is left as it was.
    Raises :class:`OutputError` when the folder cannot be written.
    """
    final = Path(final)
    folder = final.parent if str(final.parent) else Path(".")
    if not folder.is_dir():
        raise OutputError("folder does not exist", folder)
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{final.name}.", suffix=".part", dir=folder)
    except OSError as exc:
        raise OutputError(f"cannot write here ({exc.strerror or exc})", folder) from None
    os.close(fd)
    tmp_path = Path(tmp)
    os.chmod(tmp_path, 0o666 & ~_umask())  # mkstemp makes 0600; outputs follow the umask
    try:
        yield tmp_path
        os.replace(tmp_path, final)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp_path.unlink()
        raise


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _finite(obj):
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    if isinstance(obj, dict):
        return {k: _finite(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_finite(v) for v in obj]
    return obj


def json_text(obj, **kw) -> str:
    """``obj`` as standard JSON (RFC 8259 has no NaN or Infinity: a measure that could not be
    taken is written as null, which every JSON reader accepts)."""
    return json.dumps(_finite(obj), allow_nan=False, **kw)


def atomic_write_text(final: str | os.PathLike, text: str) -> None:
    """Write ``text`` (UTF-8) to ``final`` atomically, flushed to disk."""
    with atomic_path(final) as tmp:
        try:
            with open(tmp, "w", encoding="utf-8") as fh:
                fh.write(text)
                fh.flush()
                os.fsync(fh.fileno())
        except OSError as exc:
            raise OutputError(f"cannot write ({exc.strerror or exc})", final) from None


def check_writable_dir(folder: str | os.PathLike) -> None:
    """Raise :class:`OutputError` unless ``folder`` exists and a file can be created in it."""
    folder = Path(folder)
    if not folder.is_dir():
        raise OutputError("folder does not exist", folder)
    try:
        with tempfile.TemporaryFile(dir=folder):
            pass
    except OSError as exc:
        raise OutputError(f"cannot write here ({exc.strerror or exc})", folder) from None
