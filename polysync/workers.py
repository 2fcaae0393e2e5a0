"""How polysync's decode workers start.

Files decode in worker processes (:func:`polysync.sync.decode_stream`). A fork of the caller is
the cheapest start (the workers share its imported libraries: a 60-minute edit peaks near
260 MB, against about 350 with a forkserver), but a fork copies the caller's memory with the
locks its other threads hold at that instant (a progress thread; the thread pools of BLAS, of
scipy's FFT and of ffmpeg's filter graphs; a host application's threads) and none of the
threads that would release them: a worker that touches one waits forever. polysync's CI once
hung for an hour in a test that decoded this way (not reproduced since). CPython fixed the
same hazard inside ``ProcessPoolExecutor`` (gh-90622) and starts with ``forkserver`` by
default from 3.14.

So the workers are forks of the caller only while the caller runs no other thread, which
Linux shows in ``/proc/self/task``; the command line keeps BLAS to the calling thread
(:func:`single_threaded_blas`) so that it qualifies. Otherwise they fork from a clean,
single-threaded server process (``forkserver``, which imports the decoding code once), or
start as fresh interpreters where there is none (``spawn``, on Windows). With those two, a
script that calls polysync needs the usual ``if __name__ == "__main__":`` guard; a script read
from standard input, which they cannot import, decodes its files one after another instead.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import sys
import threading
import time
from multiprocessing.context import BaseContext
from typing import Optional

PRELOAD = ["polysync.sync"]
"""What the forkserver imports before it forks workers."""

BLAS_THREADS = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")


def only_thread(wait: float = 0.0) -> bool:
    """True when this process runs no thread but the calling one (False where it cannot tell).

    A thread Python has already joined (the last pool's relay and manager threads) can still
    be listed for a moment while the system ends it; when Python knows of no other thread,
    this waits up to ``wait`` seconds for the list to say so too. (Without it, one 60-minute
    edit in three started its second pool from a forkserver, which then held 80 MB to the end.)
    """
    deadline = time.monotonic() + wait
    while True:
        try:
            if len(os.listdir("/proc/self/task")) == 1:
                return True
        except OSError:
            return False
        if time.monotonic() >= deadline or threading.active_count() > 1:
            return False
        time.sleep(0.005)


def main_importable() -> bool:
    """Whether a fresh process can import this program's ``__main__`` as multiprocessing's
    ``forkserver`` and ``spawn`` do (not a script read from standard input, ``python -``)."""
    main = sys.modules.get("__main__")
    if getattr(getattr(main, "__spec__", None), "name", None):
        return True
    path = getattr(main, "__file__", None)
    return path is None or os.path.isfile(path)


def pool_context() -> Optional[BaseContext]:
    """The multiprocessing context to start decode workers from, now; None when there is no
    safe one (a threaded caller whose main script a new process cannot import): the files
    then decode one after another in this process."""
    methods = mp.get_all_start_methods()
    if "fork" in methods and only_thread(wait=0.5):
        return mp.get_context("fork")
    if not main_importable():
        return None
    if "forkserver" not in methods:
        return mp.get_context("spawn")
    ctx = mp.get_context("forkserver")
    ctx.set_forkserver_preload(PRELOAD)
    return ctx


def single_threaded_blas() -> None:
    """Keep BLAS (numpy's and scipy's OpenBLAS start a thread pool when they load) to the
    calling thread, unless the user chose otherwise; call before numpy is imported. polysync's
    matrix products are small: measured on the 60-minute edit, no slower."""
    for var in BLAS_THREADS:
        os.environ.setdefault(var, "1")
