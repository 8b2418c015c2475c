"""Results that cannot be mixed up (issue 12): identity in the file, every row validated, atomic create+lock.

Each case the issue lists is a named regression test; a property test corrupts one field of a valid
table at random and checks that a resume either accepts a row a sweep could have written or refuses
with the file and line — never another exception.
"""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lowerbounds.errors import ResultsError
from lowerbounds.executors import SerialExecutor
from lowerbounds.results import (
    COLUMNS,
    FORMAT,
    MAX_FIELD_BYTES,
    ResultsFile,
    check_row,
    format_row,
    grid_identity,
    parse_row,
    read_results,
    sidecar_path,
)
from lowerbounds.sweep import sweep

GRID = {"seed": 0, "cells": [{"kind": "protocol", "protocol": "guess", "q": 16, "k": 2, "trials": [40, 50, 60]}]}


@pytest.fixture
def table(tmp_path) -> Path:
    out = tmp_path / "r.csv"
    sweep(GRID, out=out, executor=SerialExecutor(), progress=False)
    return out


def _lines(path: Path) -> list[str]:
    return path.read_text(encoding="utf-8").splitlines(keepends=True)


def _edit(path: Path, line: int, column: str, text: str) -> None:
    """Set ``column`` of 1-based ``line`` to ``text`` (CSV-quoted as needed)."""
    lines = _lines(path)
    fields = next(csv.reader([lines[line - 1]]))
    fields[COLUMNS.index(column)] = text
    out = []
    csv.writer(_Collect(out), lineterminator="\n").writerow(fields)
    lines[line - 1] = out[0]
    path.write_text("".join(lines), encoding="utf-8")


class _Collect:
    def __init__(self, sink: list[str]) -> None:
        self.sink = sink

    def write(self, s: str) -> None:
        self.sink.append(s)


def test_identity_line_holds_format_seed_and_grid(table):
    first = _lines(table)[0].rstrip("\n")
    keys = [r["key"] for r in read_results(table)]
    assert first == f"# {FORMAT} seed=0 grid={grid_identity(keys)} cells=3"


def test_resume_without_sidecar_still_checks_the_seed(table):
    sidecar_path(table).unlink()
    before = table.read_bytes()
    with pytest.raises(ResultsError, match=r"root seed 0; resuming it with seed 5"):
        sweep(GRID, out=table, executor=SerialExecutor(), seed=5, resume=True)
    assert table.read_bytes() == before and not sidecar_path(table).exists()  # nothing rewritten


def test_resume_with_a_different_grid_is_refused_not_appended(table):
    before, meta = table.read_bytes(), sidecar_path(table).read_text()
    other = {**GRID, "cells": [{**GRID["cells"][0], "trials": [40, 50, 60, 70]}]}
    with pytest.raises(ResultsError, match=r"written for another grid \(3 cells.*this grid has 4 cells"):
        sweep(other, out=table, executor=SerialExecutor(), resume=True)
    assert table.read_bytes() == before and sidecar_path(table).read_text() == meta


def test_the_sidecar_is_not_trusted(table):
    meta = json.loads(sidecar_path(table).read_text())
    sidecar_path(table).write_text(json.dumps({**meta, "seed": 5}))  # a lying sidecar
    with pytest.raises(ResultsError, match="root seed 0"):
        sweep(GRID, out=table, executor=SerialExecutor(), seed=5, resume=True)
    sidecar_path(table).write_text("{not json")
    assert sweep(GRID, out=table, executor=SerialExecutor(), resume=True).skipped == 3


def test_a_table_of_the_previous_format_is_refused(tmp_path):
    old = tmp_path / "old.csv"
    old.write_text(",".join(COLUMNS) + "\n")
    with pytest.raises(ResultsError, match="another results format"):
        sweep(GRID, out=old, executor=SerialExecutor(), resume=True)


@pytest.mark.parametrize("column, text, needle", [
    ("success", "nan", "success = nan; it must be a finite number"),
    ("success", "inf", "success = inf"),
    ("ci_high", "1.5", "ci_high = 1.5; it must be a probability"),
    ("trials", "41", "trials = 41 but the cell key says trials = 40"),
    ("trials", "forty", "column 'trials' = 'forty' is not a valid integer"),
    ("successes", "-1", "successes = -1; it must be a non-negative integer"),
    ("successes", "1000", "successes = 1000 exceeds trials"),
    ("q", "17", "q = 17 but the cell key says q = 16"),
    ("kind", "threshold", "kind = 'threshold' but the cell key says kind = 'protocol'"),
    ("extra", "[1]", "extra = \\[1\\]; it must be a JSON object"),
    ("extra", "{", "column 'extra' = '\\{' is not a valid JSON"),
    ("key", "not json", "key 'not json' is not a cell key"),
])
def test_an_edited_row_is_refused_naming_file_and_line(table, column, text, needle):
    line = next(n for n, s in enumerate(_lines(table), start=1) if '""trials"":40' in s)
    _edit(table, line, column, text)
    with pytest.raises(ResultsError, match=rf"{table} line {line} is corrupt: {needle}"):
        sweep(GRID, out=table, executor=SerialExecutor(), resume=True)
    with pytest.raises(ResultsError, match=rf"line {line} is corrupt"):
        read_results(table)


def test_a_row_that_is_not_in_the_grid_is_refused(table):
    lines = _lines(table)
    row = parse_row(next(csv.reader([lines[2]])))
    alien = {**row, "key": row["key"].replace('"trials":', '"x":1,"trials":')}
    table.write_text("".join(lines) + format_row(alien))
    with pytest.raises(ResultsError, match=rf"line {len(lines) + 1} holds a cell that is not in the grid"):
        sweep(GRID, out=table, executor=SerialExecutor(), resume=True)


def test_duplicate_rows_are_refused(table):
    lines = _lines(table)
    table.write_text("".join(lines) + lines[3])
    with pytest.raises(ResultsError, match=rf"line {len(lines) + 1} repeats the cell of line 4"):
        sweep(GRID, out=table, executor=SerialExecutor(), resume=True)
    with pytest.raises(ResultsError, match="repeats the cell"):
        read_results(table)


def test_invalid_bytes_name_file_and_line(table):
    data = table.read_bytes().split(b"\n")
    data[3] = data[3][:10] + b"\xff\xfe" + data[3][10:]
    table.write_bytes(b"\n".join(data))
    with pytest.raises(ResultsError, match=rf"{table} line 4: invalid UTF-8 byte\(s\) at column 11"):
        sweep(GRID, out=table, executor=SerialExecutor(), resume=True)


def test_a_field_over_128_kib_is_a_clean_error(table):
    line = len(_lines(table))
    _edit(table, line, "name", "x" * (MAX_FIELD_BYTES + 1))
    with pytest.raises(ResultsError, match=rf"line {line} is corrupt: field larger than field limit"):
        sweep(GRID, out=table, executor=SerialExecutor(), resume=True)
    with pytest.raises(ResultsError, match="over 131072 bytes"):  # and no sweep writes one
        format_row({"key": '{"kind":"x"}', "kind": "x", "extra": {"a": "y" * MAX_FIELD_BYTES}})


def test_a_second_sweep_cannot_truncate_the_first(tmp_path):
    """Creating and locking is one step: a second sweep, with or without --resume, sees the lock first."""
    out = tmp_path / "r.csv"
    keys = ['{"i":0,"kind":"protocol"}']
    first = ResultsFile(out, seed=0, keys=keys)
    first.append({"key": keys[0], "kind": "protocol", "trials": 3, "successes": 1})
    before = out.read_bytes()
    for resume in (False, True):
        with pytest.raises(ResultsError, match="being written by another sweep"):
            ResultsFile(out, seed=0, keys=keys, resume=resume)
        assert out.read_bytes() == before  # not truncated, not rewritten
    first.close()
    with pytest.raises(ResultsError, match="already exists"):
        ResultsFile(out, seed=0, keys=keys)
    assert out.read_bytes() == before


def test_rows_are_checked_before_they_are_written(tmp_path):
    keys = ['{"i":0,"kind":"protocol","trials":3}']
    with ResultsFile(tmp_path / "r.csv", seed=0, keys=keys) as f:
        with pytest.raises(ResultsError, match="trials = 4 but the cell key says trials = 3"):
            f.append({"key": keys[0], "kind": "protocol", "trials": 4})
        with pytest.raises(ResultsError, match="not a cell of this table's grid"):
            f.append({"key": '{"i":1,"kind":"protocol"}', "kind": "protocol"})
        f.append({"key": keys[0], "kind": "protocol", "trials": 3})
        with pytest.raises(ResultsError, match="already in"):
            f.append({"key": keys[0], "kind": "protocol", "trials": 3})
    assert len(read_results(tmp_path / "r.csv")) == 1


def test_a_seed_that_is_not_a_non_negative_integer_is_refused(tmp_path):
    for seed in (-1, True, 1.5):
        with pytest.raises(ResultsError, match="seed"):
            ResultsFile(tmp_path / "r.csv", seed=seed)
    assert not (tmp_path / "r.csv").exists()


_TEXT = st.one_of(
    st.sampled_from(["", "nan", "-inf", "1e309", "-1", "0", "1", "0.5", "2", "40", "1.0", "true", "{}", "[]",
                     "null", '{"a":1}', "x" * 50, "\x00", "1" * 400]),
    st.text(alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\n\r"), max_size=30),
)


@pytest.fixture(scope="module")
def pristine(tmp_path_factory) -> bytes:
    out = tmp_path_factory.mktemp("pristine") / "r.csv"
    sweep(GRID, out=out, executor=SerialExecutor(), progress=False)
    return out.read_bytes()


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(column=st.sampled_from(COLUMNS), text=_TEXT, data=st.data())
def test_a_randomly_corrupted_field_is_accepted_only_if_valid(tmp_path, pristine, column, text, data):
    out = tmp_path / "r.csv"
    out.write_bytes(pristine)
    line = data.draw(st.integers(3, len(_lines(out))))
    _edit(out, line, column, text)
    try:
        rows = read_results(out)
    except ResultsError as exc:
        assert f"{out} line {line}" in str(exc)
        return
    for row in rows:  # accepted: every row is one a sweep could have written
        check_row(row)
        assert all(v is None or not isinstance(v, float) or math.isfinite(v) for v in row.values())
    assert len({r["key"] for r in rows}) == len(rows) == 3
