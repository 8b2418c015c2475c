"""One line, exit 2, for the failures that are not ValueErrors: the environment's (OSError) and size limits.

:func:`protocols.cli_support.main` turns every ValueError into one stderr line and
exit code 2.  A read-only output folder, a path that is a file, a full disk or
an exhausted machine raise other exceptions; :func:`one_line_errors` re-raises
them as :class:`lowerbounds.errors.LowerBoundsError` naming the path and the
reason, so every lowerbounds command fails in one line, never a traceback.

Examples
--------
>>> @one_line_errors
... def run(args):
...     open("/nonexistent/kparty/x", "w")
>>> run(None)
Traceback (most recent call last):
...
lowerbounds.errors.LowerBoundsError: cannot use '/nonexistent/kparty/x': No such file or directory
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from ..errors import LowerBoundsError

__all__ = ["one_line_errors"]


def one_line_errors(run: Callable[[Any], int | None]) -> Callable[[Any], int | None]:
    """Wrap a subcommand's ``run(args)`` (see the module docstring)."""

    @functools.wraps(run)
    def wrapped(args: Any) -> int | None:
        try:
            return run(args)
        except BrokenPipeError:  # the reader went away (e.g. `| head`): not an error of ours
            raise
        except OSError as exc:
            where = f" {exc.filename!r}" if exc.filename else ""
            raise LowerBoundsError(f"cannot use{where}: {exc.strerror or exc}") from None
        except MemoryError:
            raise LowerBoundsError("out of memory; lower the sizes or $KPARTY_MEMORY_BUDGET") from None
        except (OverflowError, RecursionError) as exc:
            raise LowerBoundsError(f"a value is too large to handle: {exc}") from None

    return wrapped
