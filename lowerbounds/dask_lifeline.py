"""A Dask worker plugin: a LocalCluster worker exits when the driver that started it dies.

Imported only when a Dask executor is chosen (Dask is the optional ``dist`` extra).
"""

from __future__ import annotations

import os
from typing import Any

from distributed.diagnostics.plugin import WorkerPlugin

from .lifeline import die_with_parent

__all__ = ["DaskLifeline"]


class DaskLifeline(WorkerPlugin):
    """Install :func:`lowerbounds.lifeline.die_with_parent` in every worker whose parent is ``parent``.

    Only for workers the driver started (``LocalCluster``); workers of a remote
    scheduler are not the driver's to end, and in-process (thread) workers share
    the driver's fate anyway.
    """

    name = "kparty-lifeline"

    def __init__(self, parent: int) -> None:
        self.parent = parent

    def setup(self, worker: Any) -> None:
        # Not PDEATHSIG: Dask starts worker processes from a helper thread, whose exit would kill them.
        if os.getpid() != self.parent and os.getppid() == self.parent:
            die_with_parent(self.parent, pdeathsig=False, signals=False)  # Dask handles its own signals
