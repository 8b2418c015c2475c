"""Progress for long commands: a tqdm bar on a terminal, periodic one-line reports otherwise.

One helper for every package (``protocols run``/``audit``, ``lowerbounds sweep``/``figures``):

- stderr is a terminal: a tqdm bar whose rate is the average over the whole run
  (``smoothing=0``), so the estimate does not swing with the last few items;
- stderr is a pipe or a log file: a line ``desc: done/total, elapsed 12s, eta 40s``
  at most every ``interval`` seconds (default 10), plus a closing line if any was
  printed, so a log shows the job is alive without filling up with bar redraws;
- ``enabled=False`` (``--no-progress``): nothing at all.

The estimate counts only the items done in this run (``initial`` items, e.g. cells
already in a resumed results file, do not make the rate look faster than it is).
"""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TextIO

from tqdm.auto import tqdm

from protocols.validation import check_int, check_real

__all__ = ["Progress", "progress", "format_seconds"]


def format_seconds(seconds: float) -> str:
    """``seconds`` as ``42s``, ``3m05s`` or ``2h03m`` (what a progress line shows).

    Examples
    --------
    >>> format_seconds(4.2), format_seconds(185), format_seconds(7390)
    ('4s', '3m05s', '2h03m')
    """
    s = int(round(max(0.0, seconds)))
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m{s % 60:02d}s"
    return f"{s // 3600}h{s % 3600 // 60:02d}m"


class Progress:
    """Counter behind :func:`progress`; call :meth:`update` as work completes.

    ``mode`` is ``"bar"`` (tqdm), ``"lines"`` (periodic lines) or ``"off"``.
    """

    def __init__(self, total: int, desc: str, mode: str, *, initial: int = 0, unit: str = "it",
                 interval: float = 10.0, file: TextIO | None = None, clock=time.monotonic) -> None:
        self.total = check_int("total", total, low=0)
        self.initial = check_int("initial", initial, low=0, high=self.total)
        self.done = self.initial
        self.desc = desc
        self.mode = mode
        self.unit = unit
        self.interval = check_real("interval", interval, low=0.0)
        self.file = sys.stderr if file is None else file
        self._clock = clock
        self._start = clock()
        self._last = self._start
        self.lines = 0  # lines written in "lines" mode
        self._bar = None
        if mode == "bar":
            self._bar = tqdm(total=self.total, initial=self.initial, desc=desc, unit=unit, file=self.file,
                             dynamic_ncols=True, smoothing=0)

    def elapsed(self) -> float:
        """Seconds since the counter was created."""
        return self._clock() - self._start

    def eta(self) -> float | None:
        """Seconds left at the average rate of this run so far (None before the first item)."""
        fresh = self.done - self.initial
        if fresh <= 0:
            return None
        return (self.total - self.done) * self.elapsed() / fresh

    def line(self) -> str:
        """The one-line report: ``desc: done/total unit, elapsed …, eta …``."""
        eta = self.eta()
        left = "?" if eta is None else format_seconds(eta)
        spent = format_seconds(self.elapsed())
        return f"{self.desc}: {self.done}/{self.total} {self.unit}, elapsed {spent}, eta {left}"

    def update(self, n: int = 1) -> None:
        """Record ``n`` more items done."""
        n = check_int("n", n, low=0)
        self.done = min(self.total, self.done + n)
        if self._bar is not None:
            self._bar.update(n)
        elif self.mode == "lines":
            now = self._clock()
            if now - self._last >= self.interval:
                self._write()
                self._last = now

    def _write(self) -> None:
        try:
            self.file.write(self.line() + "\n")
            self.file.flush()
        except (BrokenPipeError, ValueError):  # closed or broken stderr: progress is best effort
            self.mode = "off"
            return
        self.lines += 1

    def close(self) -> None:
        """Finish the bar; in ``lines`` mode write a closing line if any line was written."""
        if self._bar is not None:
            self._bar.close()
            self._bar = None
        elif self.mode == "lines" and self.lines:
            self._write()
        self.mode = "off"


@contextmanager
def progress(total: int, desc: str, enabled: bool | None = None, *, initial: int = 0, unit: str = "it",
             interval: float = 10.0, file: TextIO | None = None) -> Iterator[Progress]:
    """Report progress on ``total`` items while the ``with`` block runs.

    Parameters
    ----------
    total : number of items (trials, chunks, cells).
    desc : label shown before the counts.
    enabled : False shows nothing; True or None (the default) shows a tqdm bar when
        ``file`` is a terminal and a line every ``interval`` seconds otherwise.
    initial : items already done before this run (excluded from the rate).
    unit : what an item is called (``"trial"``, ``"cell"``).
    interval : least seconds between two lines in line mode.
    file : where to write (default: ``sys.stderr``).

    Examples
    --------
    >>> import io
    >>> out = io.StringIO()
    >>> with progress(3, "demo", file=out, interval=0.0, unit="trial") as p:
    ...     p.update(2)
    >>> out.getvalue().splitlines()[0].startswith("demo: 2/3 trial, elapsed")
    True
    >>> with progress(3, "quiet", enabled=False, file=out) as p:
    ...     p.update(3)
    >>> p.mode
    'off'
    """
    stream = sys.stderr if file is None else file
    if enabled is False:
        mode = "off"
    else:
        try:
            tty = stream.isatty()
        except (AttributeError, ValueError):
            tty = False
        mode = "bar" if tty else "lines"
    p = Progress(total, desc, mode, initial=initial, unit=unit, interval=interval, file=stream)
    try:
        yield p
    finally:
        p.close()
