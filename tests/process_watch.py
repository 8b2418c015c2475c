"""Test helper: the live processes of a session (for "no process of the killed run survives it")."""

from __future__ import annotations

import os
import time
from pathlib import Path


def session_processes(sid: int) -> list[int]:
    """Pids of live (not zombie) processes whose session id is ``sid`` (Linux ``/proc``)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:  # it ended while we looked
            continue
        fields = stat[stat.rindex(")") + 2 :].split()  # state ppid pgrp session ...
        if int(fields[3]) == sid and fields[0] not in ("Z", "X"):
            found.append(int(entry.name))
    return found


def wait_until_gone(sid: int, timeout: float) -> list[int]:
    """Wait up to ``timeout`` s for every process of session ``sid`` to end; the survivors."""
    deadline = time.monotonic() + timeout
    while (alive := session_processes(sid)) and time.monotonic() < deadline:
        time.sleep(0.05)
    return alive


def kill_session(sid: int) -> None:
    """Clean-up after a test: SIGKILL whatever is left of session ``sid``."""
    for pid in session_processes(sid):
        try:
            os.kill(pid, 9)
        except ProcessLookupError:
            pass
