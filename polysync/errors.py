"""Typed errors. The CLI turns each into one line on stderr and the exit code below.

Exit codes (documented in the README):

====  =====================================================================
0     success
1     refused: unrelated recordings, a result polysync is not sure of,
      overlap too short, ``verify`` FAIL
2     usage error (bad option or argument)
3     bad input media: missing file, not a media file, no audio, silence
4     cannot write the output (unwritable folder, disk full)
5     corrupt or stale sidecar, timeline or edit decision list
6     external tool failed (ffmpeg render)
====  =====================================================================
"""

from __future__ import annotations

EXIT_OK = 0
EXIT_REFUSED = 1
EXIT_USAGE = 2
EXIT_INPUT = 3
EXIT_OUTPUT = 4
EXIT_CORRUPT = 5
EXIT_EXTERNAL = 6


class PolysyncError(Exception):
    """Base of every error polysync raises on purpose.

    ``path`` names the file the error is about (may be None); ``str(err)`` is the
    one line the CLI prints.
    """

    exit_code = EXIT_INPUT

    def __init__(self, message: str, path: object | None = None):
        self.path = None if path is None else str(path)
        self.message = message
        super().__init__(f"{self.path}: {message}" if self.path else message)

    def __reduce__(self):  # keep message and path apart across processes
        return (type(self), (self.message, self.path))


class MediaError(PolysyncError):
    """A media file is missing, unreadable, not media, or has no usable audio."""

    exit_code = EXIT_INPUT


class SyncRefused(PolysyncError):
    """The recordings could not be aligned with confidence (unrelated, too short)."""

    exit_code = EXIT_REFUSED


class VerifyFailed(PolysyncError):
    """An independent check disagrees with the stored sync."""

    exit_code = EXIT_REFUSED


class OutputError(PolysyncError):
    """An output (sidecar, timeline, render) cannot be written."""

    exit_code = EXIT_OUTPUT


class CorruptFileError(PolysyncError):
    """A sidecar, timeline or decision list is unreadable, malformed or stale."""

    exit_code = EXIT_CORRUPT


class UsageError(PolysyncError):
    """Arguments that do not fit together."""

    exit_code = EXIT_USAGE


class ExternalToolError(PolysyncError):
    """An external program (ffmpeg) failed."""

    exit_code = EXIT_EXTERNAL
