"""Where polysync's decode workers start.

Files decode in worker processes (:func:`polysync.sync.decode_stream`). They start as forks of
a clean, single-threaded server process (multiprocessing's ``forkserver``), or as fresh
interpreters where there is none (``spawn``, on Windows): never as forks of the caller.

A fork copies the caller's memory with the locks that its other threads hold at that instant
(our progress relay; the thread pools of BLAS, of scipy's FFT and of ffmpeg's filter graphs; a
host application's threads), and none of the threads that would release them: a worker that
touches one waits forever. polysync's CI once hung for an hour in a test that decodes this way.
CPython warns of forking a threaded process from 3.12, and starts with ``forkserver`` by
default from 3.14.

The server imports the decoding code once (scipy.signal makes that about 0.8 s) and forks each
worker ready to decode; :func:`warm` starts it early, so that import runs beside the caller's.
A script that calls polysync needs the usual ``if __name__ == "__main__":`` guard, as with any
multiprocessing start method but fork.
"""

from __future__ import annotations

import multiprocessing as mp
from multiprocessing.context import BaseContext

PRELOAD = ["polysync.sync"]
"""What the server imports before it forks workers."""


def pool_context() -> BaseContext:
    """The multiprocessing context the decode workers start from."""
    if "forkserver" not in mp.get_all_start_methods():
        return mp.get_context("spawn")
    ctx = mp.get_context("forkserver")
    ctx.set_forkserver_preload(PRELOAD)
    return ctx


def warm() -> None:
    """Start the worker server now (it is started at the first decode otherwise)."""
    if pool_context().get_start_method() == "forkserver":
        from multiprocessing import forkserver

        forkserver.ensure_running()
