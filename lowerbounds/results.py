"""The results table of a sweep: one append-only CSV, crash-safe and resumable, plus a JSON sidecar.

Only the driver writes (workers return rows), and only one driver: the file is
locked (``flock``) while a sweep has it open.  Each row is written with one
``os.write`` and flushed to the OS at once; ``os.fsync`` runs every
``fsync_every`` rows or ``fsync_seconds`` seconds and at close.  A sweep killed
at any moment loses at most the rows not yet fsynced on a machine crash, and
nothing on a process kill.  On resume a torn last line (no trailing newline:
the process died mid-write) is cut, and cells whose key is already in the file
are skipped.

Columns (stable: figures and users read them; empty field = not applicable)
----------------------------------------------------------------------------
=============  ==========================================================================
key            canonical cell key: compact JSON of the kind and every parameter
               (defaults included), sorted keys; unique per row
kind           cell kind: ``protocol``, ``threshold``, or one registered later (``model``)
name           protocol (or model) name
q, k           pointer-chasing layer size and number of layers
N              sequence length (model cells)
R              rounds actually used
s              bits per message actually used; for ``threshold`` the least s found
               to reach the target (empty: none in range)
trials         trials run; for ``threshold`` the total spent by the search
successes      successful trials; for ``threshold`` those of the step at s
success        successes / trials (for ``threshold``: of the step at s)
ci_low         Clopper–Pearson interval of ``success`` at ``confidence``
ci_high
confidence     confidence level of the interval
target         success target (``threshold``)
s_lo, s_hi     ``threshold`` bracket: the threshold lies in (s_lo, s_hi]
bits_written   k·R·s, bits on the board per instance
max_bits_used  most bits any instance really used
extra          kind-specific data as canonical JSON (``threshold``: every step)
=============  ==========================================================================

Formatting is deterministic: integers in decimal, floats as ``repr`` (shortest
round-trip), ``None`` as an empty field, ``extra`` as compact sorted JSON;
standard CSV quoting, ``\\n`` line ends, UTF-8.  Rows are in completion order;
:func:`canonical_table` gives the table sorted by key (identical for identical
results whatever the executor).

The sidecar ``<out>.json`` records the grid, the root seed, the columns,
package versions, the git commit when available and one entry per run.

Examples
--------
>>> format_value(0.1), format_value(None), format_value(3), format_value({"b": 1, "a": [1.5]})
('0.1', '', '3', '{"a":[1.5],"b":1}')
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
import platform
import subprocess
import time
from collections.abc import Mapping
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np

try:
    import fcntl
except ImportError:  # pragma: no cover - not POSIX
    fcntl = None  # type: ignore[assignment]

from .errors import ResultsError

__all__ = [
    "COLUMNS",
    "INT_COLUMNS",
    "FLOAT_COLUMNS",
    "FORMAT",
    "format_value",
    "format_row",
    "parse_row",
    "ResultsFile",
    "read_results",
    "canonical_table",
    "sidecar_path",
    "environment",
]

#: Identifies the file layout in the sidecar.
FORMAT = "kparty-sweep-results/1"

COLUMNS: tuple[str, ...] = (
    "key", "kind", "name", "q", "k", "N", "R", "s", "trials", "successes", "success",
    "ci_low", "ci_high", "confidence", "target", "s_lo", "s_hi", "bits_written", "max_bits_used", "extra",
)
INT_COLUMNS = frozenset(
    {"q", "k", "N", "R", "s", "trials", "successes", "s_lo", "s_hi", "bits_written", "max_bits_used"}
)
FLOAT_COLUMNS = frozenset({"success", "ci_low", "ci_high", "confidence", "target"})
_HEADER = ",".join(COLUMNS) + "\n"


def _json(obj: Any) -> str:
    def default(o: Any) -> Any:
        if isinstance(o, np.generic):
            return o.item()
        if isinstance(o, np.ndarray):
            return o.tolist()
        raise TypeError(f"{type(o).__name__} is not JSON serialisable")

    try:
        return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False,
                          default=default)
    except (TypeError, ValueError) as exc:
        raise ResultsError(f"extra {obj!r} cannot be written as JSON: {exc}") from None


def format_value(value: Any) -> str:
    """The CSV text of one value (deterministic; see the module docstring)."""
    if isinstance(value, np.generic):
        value = value.item()
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ResultsError(f"value {value!r} is not finite; results must not contain NaN or infinity")
        return repr(value)
    if isinstance(value, str):
        if "\n" in value or "\r" in value:
            raise ResultsError(f"value {value!r} contains a line break; CSV fields must be one line")
        return value
    if isinstance(value, (dict, list, tuple)):
        return _json(value)
    raise ResultsError(f"value {value!r} of type {type(value).__name__} cannot be written to the results CSV")


def format_row(row: Mapping[str, Any]) -> str:
    """One CSV line (with ``\\n``) for ``row``; unknown columns raise, missing ones are empty.

    Examples
    --------
    >>> format_row({"key": '{"kind":"x"}', "kind": "x", "success": 0.5, "extra": {}})
    '"{""kind"":""x""}",x,,,,,,,,,0.5,,,,,,,,,{}\\n'
    """
    unknown = sorted(set(row) - set(COLUMNS))
    if unknown:
        raise ResultsError(f"row has unknown column(s) {', '.join(unknown)}; columns: {', '.join(COLUMNS)}")
    if not row.get("key"):
        raise ResultsError("row has no key")
    extra = row.get("extra")
    if extra is not None and not isinstance(extra, dict):
        raise ResultsError(f"extra must be a dict; got {type(extra).__name__}")
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n").writerow([format_value(row.get(c)) for c in COLUMNS])
    return buf.getvalue()


def parse_row(fields: list[str]) -> dict[str, Any]:
    """Typed row from CSV fields (inverse of :func:`format_row`).

    Examples
    --------
    >>> line = format_row({"key": "a", "kind": "protocol", "q": 8, "success": 0.25, "extra": {"x": 1}})
    >>> r = parse_row(next(csv.reader([line])))
    >>> r["q"], r["success"], r["s"], r["extra"]
    (8, 0.25, None, {'x': 1})
    """
    if len(fields) != len(COLUMNS):
        raise ResultsError(f"row has {len(fields)} fields; the results table has {len(COLUMNS)} columns")
    out: dict[str, Any] = {}
    for name, text in zip(COLUMNS, fields, strict=True):
        if text == "":
            out[name] = None
        elif name in INT_COLUMNS:
            out[name] = int(text)
        elif name in FLOAT_COLUMNS:
            out[name] = float(text)
        elif name == "extra":
            out[name] = json.loads(text)
        else:
            out[name] = text
    return out


def sidecar_path(path: str | Path) -> Path:
    """``results.csv`` -> ``results.csv.json``."""
    p = Path(path)
    return p.with_name(p.name + ".json")


def _git(*args: str) -> str | None:
    try:
        res = subprocess.run(
            ["git", *args], cwd=Path(__file__).resolve().parent.parent, capture_output=True, text=True, timeout=10
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return res.stdout.strip() if res.returncode == 0 else None


def environment() -> dict[str, Any]:
    """Python, platform, package versions and the git commit (None when not in a git checkout)."""
    packages: dict[str, str | None] = {}
    for name in ("kparty", "numpy", "scipy", "bitarray", "matplotlib", "tqdm", "dask", "distributed"):
        try:
            packages[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            packages[name] = None
    if packages["kparty"] is None:
        import protocols

        packages["kparty"] = getattr(protocols, "__version__", None)
    commit = _git("rev-parse", "HEAD")
    status = _git("status", "--porcelain", "--untracked-files=no") if commit else None
    return {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "packages": packages,
        "git_commit": commit,
        "git_dirty": None if status is None else bool(status),
    }


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def _write_json_atomic(path: Path, obj: Any) -> None:
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(obj, f, indent=2, sort_keys=False, ensure_ascii=False)
        f.write("\n")
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def _fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path.parent if str(path.parent) else ".", os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _lock(fd: int, path: Path) -> None:
    """Exclusive, non-blocking advisory lock (released by the kernel if the process dies)."""
    if fcntl is None:  # pragma: no cover - not POSIX
        return
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        raise ResultsError(
            f"{path} is being written by another sweep (it is locked); wait for it or choose another output"
        ) from None


def _unlock(fd: int) -> None:
    """Release the lock explicitly: process-pool workers forked while the table was open share its
    open file description, and would otherwise keep it locked after ``os.close`` in the driver."""
    if fcntl is not None:
        fcntl.flock(fd, fcntl.LOCK_UN)


def _split(data: bytes) -> tuple[bytes, int]:
    """The complete-lines prefix of ``data`` and how many torn bytes follow it."""
    clean = data.rstrip(b"\x00")  # a crash can leave a NUL-filled tail
    end = clean.rfind(b"\n") + 1
    return clean[:end], len(data) - end


def _parse(data: bytes, path: Path) -> dict[str, dict[str, Any]]:
    text = data.decode("utf-8")
    lines = text.splitlines(keepends=True)
    if not lines:
        return {}
    if lines[0] != _HEADER:
        raise ResultsError(
            f"{path} does not start with the results header ({', '.join(COLUMNS[:4])}, ...); "
            "it is not a kparty results table or was written by another version"
        )
    rows: dict[str, dict[str, Any]] = {}
    for n, fields in enumerate(csv.reader(lines[1:]), start=2):
        try:
            row = parse_row(fields)
        except (ResultsError, ValueError) as exc:
            raise ResultsError(f"{path} line {n} is corrupt: {exc}") from None
        rows.setdefault(row["key"], row)  # a key appears once; keep the first if not
    return rows


def read_results(path: str | Path) -> list[dict[str, Any]]:
    """Typed rows of a results CSV in file order (a torn last line is ignored, not cut).

    Examples
    --------
    >>> import tempfile, os
    >>> d = tempfile.mkdtemp()
    >>> with ResultsFile(os.path.join(d, "r.csv"), seed=0) as f:
    ...     f.append({"key": "a", "kind": "x", "success": 0.5})
    >>> [(r["key"], r["success"]) for r in read_results(os.path.join(d, "r.csv"))]
    [('a', 0.5)]
    """
    p = Path(path)
    try:
        data = p.read_bytes()
    except OSError as exc:
        raise ResultsError(f"cannot read results {str(p)!r}: {exc.strerror or exc}") from None
    return list(_parse(_split(data)[0], p).values())


def canonical_table(path: str | Path) -> str:
    """The results CSV text with rows sorted by key (torn tail dropped): compare sweeps with ``==``."""
    p = Path(path)
    complete, _ = _split(p.read_bytes())
    lines = complete.decode("utf-8").splitlines(keepends=True)
    if not lines:
        return ""
    body = sorted(lines[1:], key=lambda line: next(csv.reader([line]))[0])
    return "".join([lines[0], *body])


class ResultsFile:
    """The driver's handle on a results CSV and its sidecar (a context manager).

    Parameters
    ----------
    path : the CSV.
    seed : root seed of the sweep (recorded; a resumed file must match it).
    grid : the grid spec to record in the sidecar.
    cells : number of cells in the grid.
    resume : continue an existing file (cut a torn last line, skip its keys);
        without it an existing non-empty file is an error.
    run_info : extra facts about this run for the sidecar (executor, workers).
    fsync_every, fsync_seconds : fsync after this many rows or seconds.

    Attributes
    ----------
    finished : ``{key: row}`` of rows already in the file when opened.
    """

    def __init__(
        self,
        path: str | Path,
        *,
        seed: int,
        grid: Any = None,
        cells: int | None = None,
        resume: bool = False,
        run_info: Mapping[str, Any] | None = None,
        fsync_every: int = 32,
        fsync_seconds: float = 2.0,
    ) -> None:
        self.path = Path(path)
        self.sidecar = sidecar_path(self.path)
        self.fsync_every, self.fsync_seconds = fsync_every, fsync_seconds
        self.finished: dict[str, dict[str, Any]] = {}
        self.torn_bytes = 0
        self.written = 0
        self._pending = 0
        self._last_sync = time.monotonic()
        self._t0 = time.monotonic()
        exists = self.path.exists() and self.path.stat().st_size > 0
        if exists and not resume:
            raise ResultsError(
                f"{self.path} already exists; resume it (resume=True / --resume) or choose another output"
            )
        meta: dict[str, Any] | None = None
        if self.sidecar.exists():
            try:
                meta = json.loads(self.sidecar.read_text(encoding="utf-8"))
            except (OSError, json.JSONDecodeError) as exc:
                if exists:
                    raise ResultsError(f"sidecar {self.sidecar} is unreadable: {exc}") from None
                meta = None
        if exists and meta is not None and meta.get("seed") != seed:
            raise ResultsError(
                f"{self.path} was written with root seed {meta.get('seed')!r}; resuming it with seed {seed!r} "
                "would mix results of different seeds"
            )
        if self.path.parent and not self.path.parent.exists():
            self.path.parent.mkdir(parents=True, exist_ok=True)
        self._meta = {
            "format": FORMAT,
            "results": self.path.name,
            "columns": list(COLUMNS),
            "seed": seed,
            "grid": grid,
            "cells": cells,
            "environment": environment(),
            "runs": list(meta.get("runs", [])) if (exists and meta) else [],
        }
        self._run = {"started": _now(), "finished": None, **dict(run_info or {}), "resumed": bool(exists),
                     "skipped": None, "ran": 0, "completed": False, "wall_seconds": None}
        self._meta["runs"].append(self._run)
        self._fd: int | None = None
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            _lock(fd, self.path)  # one driver per table: a second sweep on the same file is refused
            if exists:
                self.finished = self._repair()  # raises on a corrupt file before anything is rewritten
            _write_json_atomic(self.sidecar, self._meta)
            self._fd = fd
            if not exists:
                os.ftruncate(fd, 0)
                self._write(_HEADER.encode("utf-8"))
                os.fsync(fd)
                _fsync_dir(self.path)
        except BaseException:
            self._fd = None
            os.close(fd)
            raise

    def _repair(self) -> dict[str, dict[str, Any]]:
        data = self.path.read_bytes()
        complete, torn = _split(data)
        rows = _parse(complete, self.path)
        if not complete:  # not even a whole header: start afresh
            with open(self.path, "wb") as f:
                f.write(_HEADER.encode("utf-8"))
                f.flush()
                os.fsync(f.fileno())
        elif torn:
            with open(self.path, "r+b") as f:
                f.truncate(len(complete))
                f.flush()
                os.fsync(f.fileno())
        self.torn_bytes = torn
        return rows

    def _write(self, data: bytes) -> None:
        view = memoryview(data)
        while view:
            n = os.write(self._fd, view)
            view = view[n:]

    def append(self, row: Mapping[str, Any]) -> None:
        """Write one row now (flushed to the OS); fsync when due."""
        if self._fd is None:
            raise ResultsError(f"{self.path} is closed")
        self._write(format_row(row).encode("utf-8"))
        self.written += 1
        self._pending += 1
        if self._pending >= self.fsync_every or time.monotonic() - self._last_sync >= self.fsync_seconds:
            self.sync()

    def sync(self) -> None:
        """fsync the CSV now."""
        if self._fd is not None and self._pending:
            os.fsync(self._fd)
        self._pending = 0
        self._last_sync = time.monotonic()

    def close(self, completed: bool = False, skipped: int | None = None) -> None:
        """fsync, close, and record the run in the sidecar."""
        if self._fd is None:
            return
        try:
            os.fsync(self._fd)
        finally:
            _unlock(self._fd)
            os.close(self._fd)
            self._fd = None
        self._run.update(finished=_now(), ran=self.written, completed=completed,
                         wall_seconds=round(time.monotonic() - self._t0, 3))
        if skipped is not None:
            self._run["skipped"] = skipped
        _write_json_atomic(self.sidecar, self._meta)

    def __enter__(self) -> ResultsFile:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        self.close(completed=exc_type is None)

    def __del__(self) -> None:  # last resort: never leave a descriptor open
        fd = getattr(self, "_fd", None)
        if fd is not None:
            try:
                os.close(fd)
            except OSError:
                pass

