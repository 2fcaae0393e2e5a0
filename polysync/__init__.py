"""polysync: align multicam recordings by their sound, never re-encoding them.

Python entry points::

    from polysync import compute_sync          # pure numpy: two mono arrays -> SyncResult
    from polysync.sync import sync_files       # files -> <input>.sync.json sidecars
    from polysync.verify import verify_files   # an independent check of a sidecar
"""

__version__ = "1.0.0.dev0"

from .errors import PolysyncError, SyncRefused  # noqa: E402

SyncError = SyncRefused  # the original polysync's name for a failed sync


def __getattr__(name):  # lazy: importing polysync stays cheap for the CLI's --help
    if name in ("compute_sync", "SyncResult"):
        from . import core

        return getattr(core, name)
    if name in ("read_sidecar", "sidecar_path", "SCHEMA_VERSION", "load_sidecar", "save_sidecar"):
        from . import sidecar

        return getattr(sidecar, name)
    raise AttributeError(name)


__all__ = ["compute_sync", "SyncResult", "SyncError", "PolysyncError", "read_sidecar",
           "sidecar_path", "load_sidecar", "save_sidecar", "SCHEMA_VERSION", "__version__"]
