"""Where the cells of a sweep run: all through :class:`concurrent.futures.Executor`.

- :class:`SerialExecutor` — in the calling process, one task at a time.
- :class:`concurrent.futures.ProcessPoolExecutor` — local processes, the
  default, one worker per core.
- Dask — ``distributed.Client(address).get_executor()`` for an existing
  cluster (``--scheduler ADDRESS``; the workers must be able to import kparty),
  or a :class:`distributed.LocalCluster` of N single-threaded workers
  (``--dask-local N``).

:func:`open_executor` picks one from CLI-style options and cleans it up;
:func:`describe_executor` names an executor for the results sidecar.

Workers die with the driver (:mod:`lowerbounds.lifeline`): pool workers through
their initializer, LocalCluster workers through a plugin.  When the ``with``
block is left by an exception — :class:`KeyboardInterrupt`, SIGTERM under
:func:`lowerbounds.lifeline.sigterm_as_interrupt`, a failed cell — the pool's
workers are killed at once instead of finishing their cells.

Examples
--------
>>> with open_executor(workers=1) as ex:
...     ex.submit(pow, 2, 10).result(), describe_executor(ex)
(1024, {'executor': 'serial', 'workers': 1})
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from concurrent.futures import Executor, Future, ProcessPoolExecutor
from contextlib import contextmanager
from typing import Any

from protocols.budget import ENV_VAR, parse_size
from protocols.validation import check_int
from reductions.khop.task import THREADS_ENV, threads

from .errors import ExecutorError
from .lifeline import die_with_parent

__all__ = ["SerialExecutor", "open_executor", "describe_executor", "default_workers", "kill_workers",
           "export_memory_budget", "MAX_WORKERS"]

#: Most local worker processes (a typo like --workers 100000 must not fork a hundred thousand processes).
MAX_WORKERS = 1024


class SerialExecutor(Executor):
    """Run every task in the calling process, at submission (no pool, no pickling).

    Exceptions land in the returned future, as with any executor;
    ``KeyboardInterrupt`` propagates at once.

    Examples
    --------
    >>> f = SerialExecutor().submit(divmod, 7, 2)
    >>> f.done(), f.result()
    (True, (3, 1))
    """

    def __init__(self) -> None:
        self._shutdown = False

    def submit(self, fn, /, *args, **kwargs) -> Future:
        if self._shutdown:
            raise RuntimeError("cannot schedule new tasks after shutdown")
        future: Future = Future()
        future.set_running_or_notify_cancel()
        try:
            result = fn(*args, **kwargs)
        except Exception as exc:  # noqa: BLE001 - delivered through the future
            future.set_exception(exc)
        else:
            future.set_result(result)
        return future

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        self._shutdown = True


def default_workers() -> int:
    """Cores available to this process (one worker per core)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not Linux
        return max(1, os.cpu_count() or 1)


@contextmanager
def open_executor(
    workers: int | None = None,
    scheduler: str | None = None,
    dask_local: int | None = None,
    dask_processes: bool = True,
) -> Iterator[Executor]:
    """An executor for at most one of ``workers`` / ``scheduler`` / ``dask_local``; shut down on exit.

    ``workers=1`` runs serially in this process; ``workers=N`` (default: one per
    core) is a process pool; ``scheduler`` connects to a Dask scheduler;
    ``dask_local=N`` starts a Dask LocalCluster with N single-threaded workers
    (processes unless ``dask_processes=False``) and closes it afterwards.
    """
    threads()  # a bad $KPARTY_THREADS fails here, in one line, not in every worker
    options = (("workers", workers), ("scheduler", scheduler), ("dask_local", dask_local))
    chosen = [n for n, v in options if v is not None]
    if len(chosen) > 1:
        raise ExecutorError(f"choose one executor; got {' and '.join(chosen)}")
    if scheduler is not None or dask_local is not None:
        try:
            from distributed import Client, LocalCluster
        except ImportError:  # pragma: no cover - dask is an optional extra
            raise ExecutorError("Dask executors need the 'dist' extra: pip install 'kparty[dist]'") from None
        cluster = None
        if dask_local is not None:
            from .dask_lifeline import DaskLifeline

            n = check_int("dask_local", dask_local, low=1, high=MAX_WORKERS, error=ExecutorError)
            cluster = LocalCluster(n_workers=n, threads_per_worker=1, processes=dask_processes,
                                   dashboard_address=None, silence_logs=logging.ERROR,
                                   **({"env": {THREADS_ENV: os.environ.get(THREADS_ENV, "1")}}
                                      if dask_processes else {}))
            client = Client(cluster)
            client.register_plugin(DaskLifeline(os.getpid()))
        else:
            try:
                client = Client(scheduler, timeout="20s")
            except (OSError, TimeoutError) as exc:
                raise ExecutorError(f"cannot reach Dask scheduler {scheduler!r}: {exc}") from None
        try:
            yield client.get_executor()
        finally:
            client.close()
            if cluster is not None:
                cluster.close()
        return
    n = default_workers() if workers is None else check_int("workers", workers, low=1, high=MAX_WORKERS,
                                                            error=ExecutorError)
    if n == 1:
        yield SerialExecutor()
        return
    pool = ProcessPoolExecutor(max_workers=n, initializer=_start_worker, initargs=(os.getpid(),))
    try:
        yield pool
    except BaseException:
        kill_workers(pool)  # interrupted or failed: the cells in flight are not wanted
        raise
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def _start_worker(parent: int) -> None:
    """A pool worker: ends with the driver; one thread per worker for hop (``$KPARTY_THREADS``)
    unless the driver set it, since the pool already fills the cores."""
    os.environ.setdefault(THREADS_ENV, "1")
    die_with_parent(parent)


def kill_workers(pool: ProcessPoolExecutor) -> None:
    """SIGKILL every worker of ``pool`` now (the pool then reports itself broken and shuts down)."""
    for proc in list((getattr(pool, "_processes", None) or {}).values()):
        try:
            proc.kill()
        except (OSError, AttributeError, ValueError):
            pass


def export_memory_budget(size: Any) -> int | None:
    """Make ``size`` (bytes or ``"512M"``, ``"2G"``; None: no change) the memory budget here and in every
    worker started afterwards (through ``$KPARTY_MEMORY_BUDGET``, which local workers inherit).

    Examples
    --------
    >>> old = os.environ.get(ENV_VAR)
    >>> export_memory_budget("64M"), os.environ[ENV_VAR]
    (67108864, '67108864')
    >>> _ = os.environ.pop(ENV_VAR) if old is None else os.environ.update({ENV_VAR: old})
    """
    if size is None:
        return None
    n = parse_size(size)
    os.environ[ENV_VAR] = str(n)
    return n


def describe_executor(executor: Executor) -> dict[str, Any]:
    """``{"executor": kind, "workers": n, ...}`` for the sidecar (best effort for foreign executors)."""
    if isinstance(executor, SerialExecutor):
        return {"executor": "serial", "workers": 1}
    if isinstance(executor, ProcessPoolExecutor):
        return {"executor": "process", "workers": getattr(executor, "_max_workers", None)}
    client = getattr(executor, "_client", None)
    if client is not None and type(executor).__module__.startswith("distributed"):
        try:
            return {"executor": "dask", "workers": sum(client.nthreads().values()),
                    "scheduler": client.scheduler.address}
        except Exception:  # noqa: BLE001 - description only
            return {"executor": "dask", "workers": None}
    return {"executor": type(executor).__name__, "workers": getattr(executor, "_max_workers", None)}
