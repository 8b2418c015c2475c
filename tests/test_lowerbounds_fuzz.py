"""Fuzzing ``python -m lowerbounds figures | sweep | plot | bounds`` (issue 12).

Random and adversarial arguments and grid files: every call either reaches the work (a stub stands
in for measuring, so the fuzz stays fast) or fails with exit 2 and one line on stderr — never a
traceback, never more than a few seconds or a few hundred MB.  The cases the issue lists are named
regression tests; the heaviest also run as real subprocesses whose time and peak RSS are measured.
"""

from __future__ import annotations

import contextlib
import importlib
import io
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lowerbounds.__main__ import COMMANDS
from lowerbounds.errors import GridError
from lowerbounds.grid import Grid
from protocols.budget import ENV_VAR
from protocols.cli_support import run_commands

ROOT = Path(__file__).resolve().parent.parent
job = importlib.import_module("lowerbounds.figures.job")
sweep_module = importlib.import_module("lowerbounds.sweep")  # the package's `sweep` is the function
#: Wall-clock bound of one call in process (generous: the suite runs on 2 shared cores under xdist).
SECONDS = 10.0
#: Peak RSS bound of a refused CLI run in a subprocess (measured: ~75 MiB, the interpreter with numpy).
RSS_BYTES = 256 * 2**20


class WouldRun(Exception):  # noqa: N818 - a marker, not an error
    """Raised by the stubs in place of measuring: the input was accepted."""


def _stub(*args, **kwargs):
    raise WouldRun


@pytest.fixture(autouse=True)
def no_measuring(monkeypatch):
    monkeypatch.delenv(ENV_VAR, raising=False)  # --memory-budget exports it; restored after each test
    monkeypatch.setattr(sweep_module, "_drive", _stub)  # sweep: after the grid and the results file
    monkeypatch.setattr(job, "render", _stub)  # plot: after reading and checking cells.csv


def cli(argv: list[str]) -> tuple[int | str, str, str, float]:
    """Exit code (or ``"ran"``), stdout, stderr and seconds of one in-process call."""
    out, err = io.StringIO(), io.StringIO()
    t0 = time.perf_counter()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code: int | str = run_commands("python -m lowerbounds", "fuzz", "lowerbounds.cli", COMMANDS, argv)
        except SystemExit as exc:
            code = exc.code
        except WouldRun:
            code = "ran"
    return code, out.getvalue(), err.getvalue(), time.perf_counter() - t0


def assert_refused(argv: list[str], needle: str | None = None) -> str:
    code, out, err, seconds = cli(argv)
    assert code == 2, (argv, code, err)
    assert err.count("\n") == 1 and err.startswith("python -m lowerbounds") and "Traceback" not in err, err
    assert needle is None or needle in err, err
    assert seconds < SECONDS, (argv, seconds)
    return err


def write_grid(path: Path, spec) -> str:
    path.write_text(json.dumps(spec))
    return str(path)


BLOCK = {"kind": "protocol", "protocol": "guess", "q": 16, "k": 2}


# -- named regressions: grids ------------------------------------------------------------------
@pytest.mark.parametrize("block, needle", [
    ({**BLOCK, "q": "((10**10)**10)**10"}, "exceeds 2**64"),
    ({**BLOCK, "q": "9**9**9**9"}, "exceeds 2**64"),
    ({**BLOCK, "q": "(" * 120 + "2" + ")" * 120}, "at most 200"),
    ({**BLOCK, "q": "1e308 * 1e308"}, "within 2**64"),
    ({**BLOCK, "q": "2 ** 0.5 ** -70"}, "exceeds 2**64"),
    ({**BLOCK, "s": {"geom": [1, 1e9, 100_000_000]}}, "at most 50000 cells"),
    ({**BLOCK, "trials": {"range": [1, 1e10]}}, "at most 50000 cells"),
    ({**BLOCK, "q": {"range": [2, 2000]}, "k": {"range": [1, 2000]}}, "more than 50000 cells"),
    ({**BLOCK, "protocol": "sampling", "q": 10**9, "k": 3}, "the memory budget is"),
    ({**BLOCK, "protocol": "one-hop-per-round", "q": 10**9, "k": 3}, "inputs 11.2 GiB"),
    ({**BLOCK, "trials": 10**10}, "trials = 10000000000"),
    ({"kind": "threshold", "protocol": "sampling", "q": 64, "k": 3, "R": 2, "target": 1.5}, "target = 1.5"),
    ({"kind": "threshold", "protocol": "sampling", "q": 64, "k": 3, "R": 2, "growth": 1.0}, "growth = 1.0"),
    ({"kind": "threshold", "protocol": "sampling", "q": 64, "k": 3, "R": 2, "s_min": 9, "s_max": 3}, "s_max = 3"),
    ({"kind": "protocol", "protocol": "guess", "q": 16, "k": 2, "confidence": 1.0}, "confidence = 1.0"),
    ({"kind": "depth", "k": 3, "n": 10**6}, "attention scores of one sequence"),
    ({"kind": "depth", "k": 3, "alphabet": 1}, "alphabet = 1"),
    ({"kind": "budget", "family": "gru", "k": 4, "N": 64, "precision": 0}, "precision = 0"),
    ({"kind": "budget", "family": "gru", "k": 4, "N": 10**7, "verify_trials": 10}, "activations of one sequence"),
])
def test_a_bad_grid_is_refused_before_any_cell_runs(tmp_path, block, needle):
    grid = write_grid(tmp_path / "g.json", {"cells": [block]})
    assert_refused(["sweep", "--grid", grid, "--out", str(tmp_path / "r.csv"), "--workers", "1"], needle)
    assert not (tmp_path / "r.csv").exists()  # refused before the results file exists


def test_a_threshold_cell_with_target_above_one_fails_before_26_cells_ran(tmp_path):
    ok = [{**BLOCK, "trials": t} for t in range(10, 36)]  # 26 good cells first, as in the report
    bad = {"kind": "threshold", "protocol": "sampling", "q": 64, "k": 3, "R": 2, "target": 1.5}
    grid = write_grid(tmp_path / "g.json", {"cells": [*ok, bad]})
    assert_refused(["sweep", "--grid", grid, "--out", str(tmp_path / "r.csv")], "target = 1.5")
    assert not (tmp_path / "r.csv").exists()


@pytest.mark.parametrize("content, needle", [
    (b"[" * 100_000 + b"]" * 100_000, "nests JSON too deeply"),
    (b'{"cells": [{"kind": "protocol", "protocol": "gu\xffess"}]}', "line 1: invalid UTF-8"),
    (b'{"cells": [', "not valid JSON"),
    (b'{"cells": [], "seed": -1}', "seed = -1"),
    (b'{"cells": {}}', "must be a list of blocks"),
    (b'"just a string"', "a grid must be a JSON object"),
])
def test_a_hostile_grid_file_is_one_line(tmp_path, content, needle):
    (tmp_path / "g.json").write_bytes(content)
    assert_refused(["sweep", "--grid", str(tmp_path / "g.json"), "--out", str(tmp_path / "r.csv")], needle)


def test_a_huge_grid_file_is_not_read(tmp_path):
    assert_refused(["sweep", "--grid", "/dev/zero", "--out", str(tmp_path / "r.csv")], "over 16 MiB")


# -- named regressions: outputs and options ----------------------------------------------------
def test_figures_out_on_an_existing_file(tmp_path):
    (tmp_path / "f").write_text("x")
    assert_refused(["figures", "--quick", "--out", str(tmp_path / "f")], "is an existing file")


def test_figures_out_on_an_invalid_path(tmp_path):
    (tmp_path / "f").write_text("x")
    assert_refused(["figures", "--quick", "--out", str(tmp_path / "f" / "sub")], "Not a directory")


def test_figures_out_on_a_read_only_folder(tmp_path, monkeypatch):
    ro = tmp_path / "ro"
    ro.mkdir()
    monkeypatch.setattr(job.os, "access", lambda path, mode: False)  # tests may run as root
    assert_refused(["figures", "--quick", "--out", str(ro)], "is not writable")


@pytest.mark.parametrize("c", ["nan", "inf", "-1", "0"])
def test_figures_c_is_checked_before_measuring(tmp_path, c):
    assert_refused(["figures", "--quick", "--out", str(tmp_path / "o"), "--c", c], "c = ")
    assert not (tmp_path / "o" / "cells.csv").exists()


@pytest.mark.parametrize("resume", [[], ["--resume"]])
def test_sweep_out_on_a_folder(tmp_path, resume):
    grid = write_grid(tmp_path / "g.json", {"cells": [BLOCK]})
    err = assert_refused(["sweep", "--grid", grid, "--out", str(tmp_path), *resume], "Is a directory")
    assert "--resume" not in err  # no advice to resume a folder


@pytest.mark.parametrize("argv, needle", [
    (["figures", "--workers", "100000"], "workers must be an integer in [1, 1024]"),
    (["figures", "--dask-local", "0"], "dask_local = 0"),
    (["figures", "--memory-budget", "lots"], "is not a size"),
    (["figures", "--seed", "-3"], "--seed -3"),
    (["figures", "--quick", "--out", "o", "--c", "1e999"], "c = inf"),
    (["sweep", "--grid", "g.json", "--out", "r.csv", "--seed", "-1"], "seed = -1"),
    (["sweep", "--grid", "g.json", "--out", "r.csv", "--memory-budget", "0"], "at least 1 byte"),
    (["plot", "--out", "nowhere"], "does not exist"),
    (["plot", "--out", "o", "--c", "nan"], "--c = nan"),
    (["bounds", "--q", "16", "--k", "3", "--c", "nan"], "c = nan"),
    (["bounds", "--q", "1", "--k", "3"], "q = 1"),
])
def test_misuse_is_one_line(tmp_path, monkeypatch, argv, needle):
    monkeypatch.chdir(tmp_path)
    write_grid(tmp_path / "g.json", {"cells": [BLOCK]})
    assert_refused(argv, needle)


def test_plot_accepts_json_and_checks_cells_csv(tmp_path):
    out = tmp_path / "o"
    out.mkdir()
    (out / "cells.csv").write_text("garbage\n")  # no identity line: not a results table
    assert_refused(["plot", "--quick", "--json", "--out", str(out)], "is not a results identity line")


# -- measured in a real process: time and peak memory of a refusal ---------------------------------
#: Runs the CLI and reports the peak RSS of *this* interpreter (VmHWM of its own address space: the
#: rusage of a child also counts the parent's pages at fork, which says nothing about the CLI).
_MEASURED = (
    "import atexit, runpy, sys\n"
    "def peak():\n"
    "    hwm = [ln for ln in open('/proc/self/status') if ln.startswith('VmHWM')][0]\n"
    "    sys.stderr.write('PEAK ' + hwm.split()[1] + '\\n')\n"
    "atexit.register(peak)\n"
    "sys.argv = ['python -m lowerbounds', *sys.argv[1:]]\n"
    "runpy.run_module('lowerbounds', run_name='__main__')\n"
)


def run_measured(argv: list[str], cwd: Path) -> tuple[int, str, float, int]:
    """Exit code, stderr, seconds and peak RSS (bytes) of ``python -m lowerbounds ARGV``."""
    env = {**os.environ, "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    t0 = time.perf_counter()
    proc = subprocess.run([sys.executable, "-c", _MEASURED, *argv], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=120)
    seconds = time.perf_counter() - t0
    lines = proc.stderr.splitlines(keepends=True)
    peak = [ln for ln in lines if ln.startswith("PEAK ")]
    assert len(peak) == 1, proc.stderr
    err = "".join(ln for ln in lines if not ln.startswith("PEAK "))
    return proc.returncode, err, seconds, int(peak[0].split()[1]) * 1024


@pytest.mark.parametrize("block", [
    {**BLOCK, "q": "((10**10)**10)**10"},
    {**BLOCK, "s": {"geom": [1, 1e9, 100_000_000]}},
    {**BLOCK, "trials": {"range": [1, 1e10]}},
    {**BLOCK, "protocol": "sampling", "q": 10**9, "k": 3},
], ids=["nested-powers", "geom-1e8", "trials-range-1e10", "q-1e9"])
def test_a_refusal_takes_seconds_and_little_memory(tmp_path, block):
    grid = write_grid(tmp_path / "g.json", {"cells": [block]})
    code, err, seconds, rss = run_measured(["sweep", "--grid", grid, "--out", "r.csv"], tmp_path)
    assert code == 2 and err.count("\n") == 1 and "Traceback" not in err, err
    assert seconds < 30 and rss < RSS_BYTES, (seconds, rss)  # 30 s: interpreter start-up on a loaded machine


# -- fuzz ---------------------------------------------------------------------------------------------
_NUMBER_TEXT = st.one_of(
    st.integers(-(10**30), 10**30).map(str),
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.sampled_from(["nan", "inf", "-inf", "1e999", "0", "-0", "True", "", " ", "1_000", "0x10", "1e-400", "2**64"]),
)
_WORDS = st.text(alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), max_size=12)


def _argv(command: str, flags: list[str]):
    value = st.one_of(_NUMBER_TEXT, _WORDS)
    token = st.one_of(st.sampled_from(flags), value)
    return st.lists(token, max_size=8).map(lambda a: [command, *a])


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(argv=_argv("bounds", ["--q", "--k", "--n", "--c", "--R", "--s", "--json"]))
def test_fuzz_bounds(argv):
    code, _, err, seconds = cli(argv)
    assert code in (0, 2), (argv, code, err)
    assert seconds < SECONDS
    if code == 2:
        assert err.count("\n") == 1 and "Traceback" not in err, err


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(argv=_argv("figures", ["--quick", "--full", "--out", "--workers", "--seed", "--c", "--json", "--progress",
                              "--no-progress", "--memory-budget"]))
def test_fuzz_figures_arguments(argv):
    with tempfile.TemporaryDirectory() as d, contextlib.chdir(d):
        code, _, err, seconds = cli(argv)
    assert code in (2, "ran"), (argv, code, err)  # "ran": accepted, measuring stubbed out
    assert seconds < SECONDS
    if code == 2:
        assert err.count("\n") == 1 and "Traceback" not in err, err


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(argv=_argv("plot", ["--quick", "--full", "--out", "--c", "--json"]))
def test_fuzz_plot_arguments(argv):
    with tempfile.TemporaryDirectory() as d, contextlib.chdir(d):
        code, _, err, seconds = cli(argv)
    assert code == 2 and err.count("\n") == 1 and "Traceback" not in err, (argv, err)
    assert seconds < SECONDS


_EXPR = st.recursive(
    st.one_of(st.integers(-5, 70).map(str), st.sampled_from(["k", "q", "1e308", "0.5", "-1"])),
    lambda sub: st.tuples(sub, st.sampled_from(["+", "-", "*", "/", "//", "%", "**"]), sub).map(
        lambda t: f"({t[0]} {t[1]} {t[2]})"),
    max_leaves=8,
)
_VALUE = st.one_of(
    st.integers(-(10**12), 10**12), st.floats(allow_nan=False), st.booleans(), st.none(), _EXPR, _WORDS,
    st.builds(lambda a, b: {"range": [a, b]}, st.integers(-10, 10**11), st.one_of(st.integers(-10, 10**11), _EXPR)),
    st.builds(lambda a, b, n: {"geom": [a, b, n]}, st.floats(-1, 1e12), st.floats(-1, 1e12), st.integers(-1, 10**9)),
    st.lists(st.one_of(st.integers(-3, 10**10), _EXPR), max_size=4),
)
_BLOCK = st.fixed_dictionaries(
    {"kind": st.sampled_from(["protocol", "threshold", "budget", "depth", "nope"])},
    optional={name: _VALUE for name in ("protocol", "q", "k", "R", "s", "trials", "target", "confidence", "N",
                                         "family", "n", "alphabet", "max_trials", "growth", "colour")},
).map(lambda b: {**b, "protocol": b.get("protocol", "guess")} if b["kind"] in ("protocol", "threshold") else b)
_GRID = st.one_of(
    st.fixed_dictionaries({"cells": st.lists(_BLOCK, min_size=1, max_size=3)},
                          optional={"seed": st.one_of(st.integers(-2, 2**70), st.floats(), st.text(max_size=3))}),
    st.lists(_BLOCK, max_size=2),
    st.recursive(st.none() | st.integers() | st.text(max_size=4), lambda c: st.lists(c, max_size=3), max_leaves=6),
)


@settings(max_examples=150, deadline=None)
@given(spec=_GRID)
def test_fuzz_grids_are_refused_with_a_grid_error_or_accepted_quickly(spec):
    t0 = time.perf_counter()
    try:
        Grid.from_spec(spec)
    except GridError as exc:
        assert "\n" not in str(exc)
    assert time.perf_counter() - t0 < SECONDS


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(spec=_GRID, resume=st.booleans())
def test_fuzz_sweep_with_random_grid_files(spec, resume):
    with tempfile.TemporaryDirectory() as d:
        grid = write_grid(Path(d) / "g.json", spec)
        code, _, err, seconds = cli(["sweep", "--grid", grid, "--out", str(Path(d) / "r.csv"), "--workers", "1",
                                     *(["--resume"] if resume else [])])
    assert code in (2, "ran"), (spec, code, err)
    assert seconds < SECONDS
    if code == 2:
        assert err.count("\n") == 1 and "Traceback" not in err, err
