"""Worker processes that die with the driver, and a driver that shuts its pool down on SIGTERM.

A sweep's workers are only useful to the driver that feeds them.  Left alone, a
process-pool worker outlives a killed driver (it blocks on a queue whose other
end it holds itself), so this module gives every worker two independent
lifelines to the driver, either of which ends it:

- on Linux, ``prctl(PR_SET_PDEATHSIG, SIGKILL)``: the kernel kills the worker
  the moment the driver dies, however it dies;
- everywhere, a daemon thread that polls ``os.getppid()`` and exits the worker
  as soon as its parent is no longer the driver (re-parented to init or a
  subreaper).

:func:`die_with_parent` installs both (a process pool's ``initializer``);
:class:`lowerbounds.dask_lifeline.DaskLifeline` installs the polling one in every
worker of a Dask LocalCluster (a worker plugin; Dask's own parent-alive pipe is
a third).  :func:`sigterm_as_interrupt` turns SIGTERM into
:class:`Terminated` (a :class:`KeyboardInterrupt`) so the driver unwinds: its
executor kills the pool and the results file is closed, ready to resume.

Examples
--------
>>> import os
>>> with sigterm_as_interrupt():
...     try:
...         os.kill(os.getpid(), signal.SIGTERM)
...         time.sleep(5)
...     except Terminated:
...         print("terminated")
terminated
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import signal
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

__all__ = ["die_with_parent", "Terminated", "sigterm_as_interrupt", "POLL_SECONDS"]

#: How often a worker checks that its driver is alive (the fallback lifeline).
POLL_SECONDS = 0.5

_PR_SET_PDEATHSIG = 1


def _pdeathsig() -> bool:
    """Ask Linux to SIGKILL this process when its parent dies; False where that is unavailable."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or None, use_errno=True)
        return libc.prctl(_PR_SET_PDEATHSIG, int(signal.SIGKILL), 0, 0, 0) == 0
    except (OSError, AttributeError):
        return False


def _watch(parent: int, interval: float) -> None:
    while True:
        time.sleep(interval)
        if os.getppid() != parent:
            os._exit(1)  # the driver is gone: nobody will read what this worker computes


def die_with_parent(parent: int, pdeathsig: bool = True, interval: float = POLL_SECONDS,
                    signals: bool = True) -> None:
    """End this process as soon as ``parent`` (the driver's pid, our parent) dies.

    Call it first thing in a worker.  ``pdeathsig=False`` skips the Linux
    signal, for workers started from a thread that may end before the driver
    (the kernel signals the death of the creating *thread*).  ``signals``
    restores SIGTERM's default and ignores SIGINT: a forked worker inherits the
    driver's handlers, but only the driver should unwind on them (and then
    end its workers) — a worker would print a traceback per cell in flight.
    """
    if signals and threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        signal.signal(signal.SIGINT, signal.SIG_IGN)
    if pdeathsig:
        _pdeathsig()
    if os.getppid() != parent:  # the driver died before the lifeline was in place
        os._exit(1)
    threading.Thread(target=_watch, args=(parent, interval), name="kparty-lifeline", daemon=True).start()


class Terminated(KeyboardInterrupt):
    """SIGTERM arrived (raised by the handler of :func:`sigterm_as_interrupt`)."""


def _raise_terminated(signum: int, frame: Any) -> None:
    raise Terminated(f"signal {signum}")


@contextmanager
def sigterm_as_interrupt() -> Iterator[None]:
    """Within the block, SIGTERM raises :class:`Terminated` in the main thread (elsewhere: no change)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGTERM, _raise_terminated)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)
