"""The results table of a sweep: one append-only CSV, crash-safe and resumable, plus a JSON sidecar.

Only the driver writes (workers return rows), and only one driver: the file is
created-or-opened and locked (``flock``) in one step, and only then inspected,
so two sweeps can never truncate each other's rows.  The lock is never held by
a child: a process forked while the table is open (a process-pool worker)
closes its inherited descriptor at once (:func:`os.register_at_fork`), so a
killed driver's lock dies with the driver.  Each row is written with one
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

Identity.  The first line is ``# kparty-sweep-results/2 seed=S grid=H cells=N``:
the format version, the root seed and the grid identity (:func:`grid_identity`,
a hash of the sorted cell keys) live in the file itself.  A resume whose seed,
grid or format differs is refused, with or without the sidecar.  Reading
validates every row (:func:`check_row`: types, ranges, NaN, the columns that
repeat a key parameter, duplicates, keys outside the grid) and names the file
and line of the first bad one.

Formatting is deterministic: integers in decimal, floats as ``repr`` (shortest
round-trip), ``None`` as an empty field, ``extra`` as compact sorted JSON;
standard CSV quoting, ``\\n`` line ends, UTF-8.  Rows are in completion order;
:func:`canonical_table` gives the table sorted by key (identical for identical
results whatever the executor).

The sidecar ``<out>.json`` (a convenience, never trusted on resume) records the
grid, the root seed, the columns, package versions, the git commit when
available and one entry per run.

Examples
--------
>>> format_value(0.1), format_value(None), format_value(3), format_value({"b": 1, "a": [1.5]})
('0.1', '', '3', '{"a":[1.5],"b":1}')
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import math
import os
import platform
import re
import subprocess
import time
from collections.abc import Collection, Iterable, Mapping
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np

try:
    import fcntl
except ImportError:  # pragma: no cover - not POSIX
    fcntl = None  # type: ignore[assignment]

from protocols.validation import check_int

from .errors import ResultsError

__all__ = [
    "COLUMNS",
    "INT_COLUMNS",
    "FLOAT_COLUMNS",
    "FORMAT",
    "MAX_FIELD_BYTES",
    "format_value",
    "format_row",
    "parse_row",
    "check_row",
    "grid_identity",
    "ResultsFile",
    "read_results",
    "canonical_table",
    "sidecar_path",
    "environment",
]

#: Identifies the file layout (first line of the file, and the sidecar).
FORMAT = "kparty-sweep-results/2"

#: Longest field a results row may hold (the csv module's default field limit).
MAX_FIELD_BYTES = 128 * 1024

COLUMNS: tuple[str, ...] = (
    "key", "kind", "name", "q", "k", "N", "R", "s", "trials", "successes", "success",
    "ci_low", "ci_high", "confidence", "target", "s_lo", "s_hi", "bits_written", "max_bits_used", "extra",
)
INT_COLUMNS = frozenset(
    {"q", "k", "N", "R", "s", "trials", "successes", "s_lo", "s_hi", "bits_written", "max_bits_used"}
)
FLOAT_COLUMNS = frozenset({"success", "ci_low", "ci_high", "confidence", "target"})
#: Float columns that are probabilities.
_UNIT_COLUMNS = ("success", "ci_low", "ci_high", "confidence", "target")
#: Columns that repeat a cell parameter of the same name: a row must agree with its key on them.
_KEY_COLUMNS = ("q", "k", "N", "trials")
_HEADER = ",".join(COLUMNS) + "\n"
_META = re.compile(r"# (?P<format>\S+) seed=(?P<seed>\d+) grid=(?P<grid>[0-9a-f]{64}) cells=(?P<cells>\d+)\n")

def grid_identity(keys: Iterable[str]) -> str:
    """The identity of a grid: SHA-256 of its sorted, distinct cell keys (order and repeats do not matter).

    Examples
    --------
    >>> grid_identity(["b", "a"]) == grid_identity(["a", "b", "a"]) != grid_identity(["a"])
    True
    """
    return hashlib.sha256("\n".join(sorted(set(keys))).encode("utf-8")).hexdigest()


def _meta_line(seed: int, grid: str, cells: int) -> str:
    return f"# {FORMAT} seed={seed} grid={grid} cells={cells}\n"


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
    fields = [format_value(row.get(c)) for c in COLUMNS]
    for name, text in zip(COLUMNS, fields, strict=True):
        if len(text.encode("utf-8")) > MAX_FIELD_BYTES:
            raise ResultsError(f"row {row['key']!r}: field {name!r} is over {MAX_FIELD_BYTES} bytes; "
                               "results fields are at most 128 KiB")
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n").writerow(fields)
    return buf.getvalue()


def parse_row(fields: list[str]) -> dict[str, Any]:
    """Typed row from CSV fields (inverse of :func:`format_row`); raises :class:`ResultsError`.

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
        try:
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
        except ValueError:
            raise ResultsError(f"column {name!r} = {text[:40]!r} is not a valid "
                               f"{'integer' if name in INT_COLUMNS else 'number' if name in FLOAT_COLUMNS else 'JSON'}"
                               ) from None
    return out


def check_row(row: Mapping[str, Any]) -> None:
    """Refuse a typed row that no sweep writes: a :class:`ResultsError` naming the column and the rule.

    Checked: a key that is a JSON object naming the row's kind; non-negative
    integers; finite floats, probabilities in [0, 1]; ``successes <= trials``;
    ``ci_low <= success <= ci_high``; ``extra`` an object; and the columns that
    repeat a cell parameter (q, k, N, trials) equal to it.

    Examples
    --------
    >>> ok = {"key": '{"kind":"protocol","trials":10}', "kind": "protocol", "trials": 10, "successes": 3,
    ...       "success": 0.3, "ci_low": 0.1, "ci_high": 0.6, "extra": {}}
    >>> check_row(ok)
    >>> check_row({**ok, "trials": 20})
    Traceback (most recent call last):
    ...
    lowerbounds.errors.ResultsError: trials = 20 but the cell key says trials = 10
    >>> check_row({**ok, "success": float("nan")})
    Traceback (most recent call last):
    ...
    lowerbounds.errors.ResultsError: success = nan; it must be a finite number
    """
    try:
        params = json.loads(row.get("key") or "")
    except ValueError:
        params = None
    if not isinstance(params, dict):
        raise ResultsError(f"key {str(row.get('key'))[:60]!r} is not a cell key (a JSON object)")
    if not row.get("kind") or params.get("kind") != row["kind"]:
        raise ResultsError(f"kind = {row.get('kind')!r} but the cell key says kind = {params.get('kind')!r}")
    for name in INT_COLUMNS:
        v = row.get(name)
        if v is not None and (isinstance(v, bool) or not isinstance(v, int) or v < 0):
            raise ResultsError(f"{name} = {v!r}; it must be a non-negative integer")
    for name in FLOAT_COLUMNS:
        v = row.get(name)
        if v is None:
            continue
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
            raise ResultsError(f"{name} = {v!r}; it must be a finite number")
        if name in _UNIT_COLUMNS and not 0.0 <= v <= 1.0:
            raise ResultsError(f"{name} = {v!r}; it must be a probability in [0, 1]")
    if row.get("extra") is not None and not isinstance(row["extra"], dict):
        raise ResultsError(f"extra = {row['extra']!r}; it must be a JSON object")
    trials, successes = row.get("trials"), row.get("successes")
    if trials is not None and successes is not None and successes > trials:
        raise ResultsError(f"successes = {successes} exceeds trials = {trials}")
    lo, rate, hi = row.get("ci_low"), row.get("success"), row.get("ci_high")
    if None not in (lo, rate, hi) and not lo <= rate <= hi:
        raise ResultsError(f"success = {rate!r} lies outside its interval [{lo!r}, {hi!r}]")
    for name in _KEY_COLUMNS:
        want = params.get(name)
        if row.get(name) is not None and isinstance(want, int) and row[name] != want:
            raise ResultsError(f"{name} = {row[name]!r} but the cell key says {name} = {want!r}")


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
    """Release the lock explicitly (a child forked by other code might still share the description)."""
    if fcntl is not None:
        fcntl.flock(fd, fcntl.LOCK_UN)


#: Descriptors of the results tables this process has open (and locked).
_HELD: set[int] = set()


def _drop_inherited() -> None:
    """In a forked child: close the parent's locked tables, so the lock dies with the parent.

    ``flock`` belongs to the open file description, which a fork shares; a
    process-pool worker that kept it would hold the table locked after a killed
    driver.  Closing the child's copy leaves the parent's lock untouched.
    """
    for fd in _HELD:
        try:
            os.close(fd)
        except OSError:
            pass
    _HELD.clear()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_drop_inherited)


def _split(data: bytes) -> tuple[bytes, int]:
    """The complete-lines prefix of ``data`` and how many torn bytes follow it."""
    clean = data.rstrip(b"\x00")  # a crash can leave a NUL-filled tail
    end = clean.rfind(b"\n") + 1
    return clean[:end], len(data) - end


def _parse(
    data: bytes, path: Path, keys: Collection[str] | None = None, on_meta: Any = None
) -> tuple[dict[str, Any] | None, dict[str, dict[str, Any]]]:
    """The identity line (None for an empty file) and the validated rows of complete-lines ``data``.

    ``on_meta(meta)`` runs on the identity line before any row is read (a wrong
    seed or grid is reported as such, not as the first row it does not know).
    """
    lines = data.split(b"\n")[:-1] if data else []
    if not lines:
        return None, {}

    def text(n: int) -> str:
        try:
            return lines[n - 1].decode("utf-8")
        except UnicodeDecodeError as exc:
            raise ResultsError(f"{path} line {n}: invalid UTF-8 byte(s) at column {exc.start + 1}") from None

    m = _META.fullmatch(text(1) + "\n")
    if m is None:
        first = text(1)
        if first + "\n" == _HEADER or first.startswith("# kparty-sweep-results/"):
            raise ResultsError(f"{path} was written in another results format ({first[:40]!r}); this version "
                               f"reads {FORMAT}: rerun the sweep into a new file")
        raise ResultsError(f"{path} line 1 is not a results identity line '# {FORMAT} seed=S grid=H cells=N'; "
                           "it is not a kparty results table")
    if m["format"] != FORMAT:
        raise ResultsError(f"{path} was written in format {m['format']}; this version reads {FORMAT}")
    meta = {"format": m["format"], "seed": int(m["seed"]), "grid": m["grid"], "cells": int(m["cells"])}
    if on_meta is not None:
        on_meta(meta)
    if len(lines) >= 2 and text(2) + "\n" != _HEADER:
        raise ResultsError(f"{path} line 2 is not the results header ({', '.join(COLUMNS[:4])}, ...)")
    rows: dict[str, dict[str, Any]] = {}
    where: dict[str, int] = {}
    for n in range(3, len(lines) + 1):
        try:
            fields = next(csv.reader([text(n)]))
            row = parse_row(fields)
            check_row(row)
        except csv.Error as exc:
            raise ResultsError(f"{path} line {n} is corrupt: {exc} (fields are at most {MAX_FIELD_BYTES} bytes)"
                               ) from None
        except ResultsError as exc:
            raise ResultsError(f"{path} line {n} is corrupt: {exc}") from None
        key = row["key"]
        if key in where:
            raise ResultsError(f"{path} line {n} repeats the cell of line {where[key]} ({key[:60]}); "
                               "a results table holds each cell once")
        if keys is not None and key not in keys:
            raise ResultsError(f"{path} line {n} holds a cell that is not in the grid ({key[:60]})")
        where[key] = n
        rows[key] = row
    return meta, rows


def read_results(path: str | Path) -> list[dict[str, Any]]:
    """Typed, validated rows of a results CSV in file order (a torn last line is ignored, not cut).

    Examples
    --------
    >>> import tempfile, os
    >>> d = tempfile.mkdtemp()
    >>> with ResultsFile(os.path.join(d, "r.csv"), seed=0) as f:
    ...     _ = f.append({"key": '{"kind":"x"}', "kind": "x", "success": 0.5})
    >>> [(r["key"], r["success"]) for r in read_results(os.path.join(d, "r.csv"))]
    [('{"kind":"x"}', 0.5)]
    """
    p = Path(path)
    try:
        data = p.read_bytes()
    except OSError as exc:
        raise ResultsError(f"cannot read results {str(p)!r}: {exc.strerror or exc}") from None
    return list(_parse(_split(data)[0], p)[1].values())


def canonical_table(path: str | Path) -> str:
    """The results CSV text with rows sorted by key (torn tail dropped): compare sweeps with ``==``."""
    p = Path(path)
    complete, _ = _split(p.read_bytes())
    lines = complete.decode("utf-8").splitlines(keepends=True)
    body = sorted(lines[2:], key=lambda line: next(csv.reader([line]))[0])
    return "".join([*lines[:2], *body])


def _read_all(fd: int) -> bytes:
    chunks, offset = [], 0
    while chunk := os.pread(fd, 1 << 20, offset):
        chunks.append(chunk)
        offset += len(chunk)
    return b"".join(chunks)


def _previous_runs(sidecar: Path) -> list[Any]:
    """The run history of an existing sidecar (a convenience: unreadable means none)."""
    try:
        runs = json.loads(sidecar.read_text(encoding="utf-8")).get("runs", [])
    except (OSError, ValueError, AttributeError):
        return []
    return list(runs) if isinstance(runs, list) else []


class ResultsFile:
    """The driver's handle on a results CSV and its sidecar (a context manager).

    Parameters
    ----------
    path : the CSV.
    seed : root seed of the sweep (recorded in the file; a resumed file must match it).
    grid : the grid spec to record in the sidecar.
    keys : the cell keys of the grid; their :func:`grid_identity` is recorded in the
        file, a resumed file must match it, and every row must be one of them.
        None: the empty grid (for a table filled by hand).
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
        keys: Collection[str] | None = None,
        resume: bool = False,
        run_info: Mapping[str, Any] | None = None,
        fsync_every: int = 32,
        fsync_seconds: float = 2.0,
    ) -> None:
        self.path = Path(path)
        self.sidecar = sidecar_path(self.path)
        self.seed = check_int("seed", seed, low=0, error=ResultsError)
        self.fsync_every, self.fsync_seconds = fsync_every, fsync_seconds
        keyset = frozenset(keys or ())
        self._keys = keyset if keys is not None else None
        self.grid_id = grid_identity(keyset)
        self.finished: dict[str, dict[str, Any]] = {}
        self.torn_bytes = 0
        self.written = 0
        self._pending = 0
        self._last_sync = time.monotonic()
        self._t0 = time.monotonic()
        self._fd: int | None = None
        self._pid = os.getpid()
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            # Create-or-open, then lock, then look: no window in which another sweep's rows can be truncated.
            fd = os.open(self.path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o644)
        except OSError as exc:
            raise ResultsError(f"cannot open results {str(self.path)!r}: {exc.strerror or exc}") from None
        _HELD.add(fd)
        try:
            _lock(fd, self.path)  # one driver per table: a second sweep on the same file is refused
            data = _read_all(fd)
            exists = bool(data)
            if exists and not resume:
                raise ResultsError(
                    f"{self.path} already exists; resume it (resume=True / --resume) or choose another output"
                )
            complete, torn = _split(data)
            meta, self.finished = _parse(complete, self.path, self._keys, self._check_identity)
            self._seen = set(self.finished)
            self._fd = fd
            if meta is None or complete.count(b"\n") < 2:  # no whole header yet: (re)start the table
                os.ftruncate(fd, 0)
                self._write((_meta_line(self.seed, self.grid_id, len(keyset)) + _HEADER).encode("utf-8"))
                os.fsync(fd)
                _fsync_dir(self.path)
            elif torn:  # the process died mid-row: cut the torn tail
                os.ftruncate(fd, len(complete))
                os.fsync(fd)
            self.torn_bytes = torn if complete else 0
            self._meta = {
                "format": FORMAT,
                "results": self.path.name,
                "columns": list(COLUMNS),
                "seed": self.seed,
                "grid_identity": self.grid_id,
                "grid": grid,
                "cells": len(keyset),
                "environment": environment(),
                "runs": _previous_runs(self.sidecar) if exists else [],
            }
            self._run = {"started": _now(), "finished": None, **dict(run_info or {}), "resumed": exists,
                         "skipped": None, "ran": 0, "completed": False, "wall_seconds": None}
            self._meta["runs"].append(self._run)
            _write_json_atomic(self.sidecar, self._meta)
        except BaseException:
            self._fd = None
            _HELD.discard(fd)
            os.close(fd)
            raise

    def _check_identity(self, meta: Mapping[str, Any]) -> None:
        if meta["seed"] != self.seed:
            raise ResultsError(
                f"{self.path} was written with root seed {meta['seed']}; resuming it with seed {self.seed} "
                "would mix results of different seeds"
            )
        if meta["grid"] != self.grid_id:
            raise ResultsError(
                f"{self.path} was written for another grid ({meta['cells']} cells, identity {meta['grid'][:12]}); "
                f"this grid has {len(self._keys or ())} cells (identity {self.grid_id[:12]}): use another output"
            )

    def _write(self, data: bytes) -> None:
        view = memoryview(data)
        while view:
            n = os.write(self._fd, view)
            view = view[n:]

    def append(self, row: Mapping[str, Any]) -> dict[str, Any]:
        """Validate and write one row now (flushed to the OS), fsync when due; return it as read back.

        A row that a resume would refuse (:func:`check_row`, a key outside the
        grid, a cell already written) is refused here, before it is written.
        """
        if self._fd is None:
            raise ResultsError(f"{self.path} is closed")
        line = format_row(row)
        typed = parse_row(next(csv.reader([line])))
        check_row(typed)
        key = typed["key"]
        if self._keys is not None and key not in self._keys:
            raise ResultsError(f"row {key[:60]} is not a cell of this table's grid")
        if key in self._seen:
            raise ResultsError(f"row {key[:60]} is already in {self.path}")
        self._write(line.encode("utf-8"))
        self._seen.add(key)
        self.written += 1
        self._pending += 1
        if self._pending >= self.fsync_every or time.monotonic() - self._last_sync >= self.fsync_seconds:
            self.sync()
        return typed

    def sync(self) -> None:
        """fsync the CSV now."""
        if self._fd is not None and self._pending:
            os.fsync(self._fd)
        self._pending = 0
        self._last_sync = time.monotonic()

    def close(self, completed: bool = False, skipped: int | None = None) -> None:
        """fsync, close, and record the run in the sidecar."""
        if self._fd is None or self._pid != os.getpid():
            return
        try:
            os.fsync(self._fd)
        finally:
            _unlock(self._fd)
            os.close(self._fd)
            _HELD.discard(self._fd)
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
        if fd is not None and getattr(self, "_pid", None) == os.getpid():  # a forked child closed it already
            _HELD.discard(fd)
            try:
                os.close(fd)
            except OSError:
                pass

