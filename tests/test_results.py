"""Results CSV (lowerbounds.results): formatting, torn lines, resume rules, fsync cadence, sidecar."""

from __future__ import annotations

import csv
import json
import os
import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lowerbounds import results as res
from lowerbounds.errors import ResultsError
from lowerbounds.results import COLUMNS, ResultsFile, canonical_table, format_row, parse_row, read_results


def key(i: int) -> str:
    return f'{{"i":{i},"kind":"protocol"}}'


def row(i: int, **kw):
    base = {"key": key(i), "kind": "protocol", "name": "guess", "q": 16, "k": 2, "R": 1, "s": 1,
            "trials": 100, "successes": 50 + i, "success": (50 + i) / 100, "ci_low": 0.39, "ci_high": 0.6,
            "confidence": 0.95, "extra": {"i": i}}
    base.update(kw)
    return base


def test_columns_are_stable():
    # Figures read these names: changing them is a breaking change.
    assert COLUMNS == (
        "key", "kind", "name", "q", "k", "N", "R", "s", "trials", "successes", "success", "ci_low", "ci_high",
        "confidence", "target", "s_lo", "s_hi", "bits_written", "max_bits_used", "extra",
    )


@settings(max_examples=200, deadline=None)
@given(st.floats(allow_nan=False, allow_infinity=False))
def test_floats_round_trip_exactly_via_repr(x):
    r = parse_row(next(csv.reader([format_row({"key": "k", "success": x})])))
    assert r["success"] == x and res.format_value(x) == repr(float(x))


@settings(max_examples=40, deadline=None)
@given(st.dictionaries(st.text(min_size=1, max_size=5), st.integers() | st.text(max_size=8) | st.none(), max_size=4),
       st.text(alphabet=st.characters(blacklist_characters="\r\n", blacklist_categories=("Cs",)),
               min_size=1, max_size=20))
def test_rows_round_trip(extra, name):
    r = {"key": "k1", "kind": "x", "name": name, "q": 5, "extra": extra}
    back = parse_row(next(csv.reader([format_row(r)])))
    assert back["name"] == name and back["extra"] == extra and back["q"] == 5 and back["s"] is None


def test_formatting_is_deterministic_and_canonical():
    a = format_row(row(1, extra={"b": 2, "a": [1.5, None]}))
    b = format_row(row(1, extra={"a": [1.5, None], "b": 2}))
    assert a == b and a.endswith("\n") and '"{""a"":[1.5,null],""b"":2}"' in a


@pytest.mark.parametrize(
    "bad, needle",
    [
        ({"key": "k", "success": float("nan")}, "not finite"),
        ({"key": "k", "name": "a\nb"}, "line break"),
        ({"key": "k", "colour": 1}, "unknown column"),
        ({"success": 0.5}, "no key"),
        ({"key": "k", "extra": [1]}, "extra must be a dict"),
        ({"key": "k", "q": object()}, "cannot be written"),
    ],
)
def test_bad_rows_are_refused(bad, needle):
    with pytest.raises(ResultsError, match=needle):
        format_row(bad)


def test_write_read_and_sidecar(tmp_path):
    out = tmp_path / "sub" / "r.csv"
    with ResultsFile(out, seed=7, grid={"cells": []}, keys=[key(i) for i in range(3)],
                     run_info={"executor": "serial", "workers": 1}) as f:
        for i in range(3):
            f.append(row(i))
    rows = read_results(out)
    assert [r["successes"] for r in rows] == [50, 51, 52] and rows[2]["extra"] == {"i": 2}
    meta = json.loads((tmp_path / "sub" / "r.csv.json").read_text())
    assert meta["seed"] == 7 and meta["grid"] == {"cells": []} and meta["columns"] == list(COLUMNS)
    assert meta["cells"] == 3 and meta["grid_identity"] == res.grid_identity(key(i) for i in range(3))
    assert out.read_text().splitlines()[0] == f"# {res.FORMAT} seed=7 grid={meta['grid_identity']} cells=3"
    env = meta["environment"]
    assert env["packages"]["numpy"] and env["packages"]["kparty"] and env["python"]
    assert env["git_commit"] is None or re.fullmatch(r"[0-9a-f]{40}", env["git_commit"])
    (run,) = meta["runs"]
    assert run["completed"] is True and run["ran"] == 3 and run["executor"] == "serial" and not run["resumed"]


def test_existing_file_needs_resume(tmp_path):
    out = tmp_path / "r.csv"
    with ResultsFile(out, seed=0) as f:
        f.append(row(0))
    with pytest.raises(ResultsError, match="already exists; resume it"):
        ResultsFile(out, seed=0)


def test_resume_with_another_seed_is_refused(tmp_path):
    out = tmp_path / "r.csv"
    with ResultsFile(out, seed=0) as f:
        f.append(row(0))
    with pytest.raises(ResultsError, match="root seed 0.*seed 1"):
        ResultsFile(out, seed=1, resume=True)


@pytest.mark.parametrize("tail", [b'"{""i"":9}",protocol,gue', b"\x00\x00\x00\x00", b'"{""i"":9}",pro\x00\x00'])
def test_resume_cuts_a_torn_last_line(tmp_path, tail):
    out = tmp_path / "r.csv"
    with ResultsFile(out, seed=0) as f:
        for i in range(3):
            f.append(row(i))
    whole = out.read_bytes()
    with open(out, "ab") as fh:
        fh.write(tail)
    # readers ignore the torn tail without touching the file
    assert len(read_results(out)) == 3 and out.read_bytes() == whole + tail
    assert canonical_table(out).encode() == whole
    with ResultsFile(out, seed=0, resume=True) as f:
        assert sorted(f.finished) == sorted(row(i)["key"] for i in range(3))
        assert f.torn_bytes == len(tail)
        f.append(row(3))
    assert out.read_bytes() == whole + format_row(row(3)).encode()
    meta = json.loads(res.sidecar_path(out).read_text())
    assert [r["resumed"] for r in meta["runs"]] == [False, True]


def test_header_only_torn_file_restarts_cleanly(tmp_path):
    out = tmp_path / "r.csv"
    out.write_bytes(b"key,kind,na")  # killed while writing the header
    with ResultsFile(out, seed=0, resume=True) as f:
        assert f.finished == {}
        f.append(row(0))
    assert [r["key"] for r in read_results(out)] == [row(0)["key"]]


def test_corrupt_files_are_refused(tmp_path):
    out = tmp_path / "r.csv"
    out.write_text("a,b,c\n1,2,3\n")
    with pytest.raises(ResultsError, match="line 1 is not a results identity line"):
        ResultsFile(out, seed=0, resume=True)
    with ResultsFile(tmp_path / "ok.csv", seed=0) as f:
        f.append(row(0))
        f.append(row(1))
    lines = (tmp_path / "ok.csv").read_text().splitlines(keepends=True)
    (tmp_path / "ok.csv").write_text(lines[0] + lines[1] + "garbage,line\n" + lines[3])
    with pytest.raises(ResultsError, match="line 3 is corrupt"):
        ResultsFile(tmp_path / "ok.csv", seed=0, resume=True)


def test_fsync_cadence(tmp_path, monkeypatch):
    calls = []
    real = os.fsync
    monkeypatch.setattr(os, "fsync", lambda fd: (calls.append(fd), real(fd)))
    f = ResultsFile(tmp_path / "r.csv", seed=0, fsync_every=2, fsync_seconds=1e9)
    after_open = len(calls)
    for i in range(5):
        f.append(row(i))
    assert len(calls) - after_open == 2  # after rows 2 and 4
    f.close()
    assert len(calls) - after_open >= 3  # and at close
    g = ResultsFile(tmp_path / "t.csv", seed=0, fsync_every=10**6, fsync_seconds=0.0)
    n0 = len(calls)
    g.append(row(0))
    g.append(row(1))
    assert len(calls) - n0 == 2  # every row once the interval has passed
    g.close()


def test_canonical_table_sorts_by_key(tmp_path):
    a, b = tmp_path / "a.csv", tmp_path / "b.csv"
    with ResultsFile(a, seed=0) as f:
        for i in (2, 0, 1):
            f.append(row(i))
    with ResultsFile(b, seed=0) as f:
        for i in (1, 2, 0):
            f.append(row(i))
    assert a.read_bytes() != b.read_bytes()
    assert canonical_table(a) == canonical_table(b)
    assert [next(csv.reader([line]))[0] for line in canonical_table(a).splitlines()[2:]] == [key(i) for i in range(3)]


def test_one_driver_per_table(tmp_path):
    out = tmp_path / "r.csv"
    first = ResultsFile(out, seed=0)
    first.append(row(0))
    with pytest.raises(ResultsError, match="being written by another sweep"):
        ResultsFile(out, seed=0, resume=True)
    first.close()
    with ResultsFile(out, seed=0, resume=True) as again:  # the lock goes with the writer
        assert list(again.finished) == [row(0)["key"]]


def test_closed_file_refuses_rows(tmp_path):
    f = ResultsFile(tmp_path / "r.csv", seed=0)
    f.close()
    with pytest.raises(ResultsError, match="closed"):
        f.append(row(0))


def test_a_long_lived_process_pool_can_serve_two_sweeps_on_one_table(tmp_path):
    """Pool workers forked while the table is open share its lock; closing must release it."""
    from concurrent.futures import ProcessPoolExecutor

    from lowerbounds.sweep import sweep

    out = tmp_path / "t.csv"
    grid = {"seed": 0, "cells": [{"kind": "protocol", "protocol": "guess", "q": 8, "k": 2, "trials": [10, 20]}]}
    more = {"seed": 0, "cells": [{"kind": "protocol", "protocol": "guess", "q": 8, "k": 2, "trials": [10, 20, 30]}]}
    with ProcessPoolExecutor(max_workers=2) as pool:
        first = sweep(grid, out=out, executor=pool, progress=False)
        second = sweep(grid, out=out, executor=pool, resume=True, progress=False)
        with pytest.raises(ResultsError, match="written for another grid"):
            sweep(more, out=out, executor=pool, resume=True, progress=False)
    assert (first.ran, second.ran, second.skipped) == (2, 0, 2)
