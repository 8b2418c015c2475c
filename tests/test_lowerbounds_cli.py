"""``python -m lowerbounds bounds | sweep`` end to end (in process, plus one real subprocess)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from lowerbounds.__main__ import COMMANDS
from lowerbounds.results import read_results
from protocols.cli_support import run_commands

ROOT = Path(__file__).resolve().parent.parent


def cli(argv, capsys):
    """Exit code, stdout and stderr of one CLI call (argparse errors exit via SystemExit)."""
    try:
        code = run_commands("python -m lowerbounds", "test", "lowerbounds.cli", COMMANDS, argv)
    except SystemExit as exc:
        code = exc.code
    out, err = capsys.readouterr()
    return code, out, err


def test_bounds_table(capsys):
    code, out, err = cli(["bounds", "--q", "1024", "--k", "4"], capsys)
    assert code == 0 and err == ""
    assert "c·q/k^5, c = 1; [AN21] Prop. 4.12 = [SHT24] Prop. E.3" in out
    assert "N = 8193" in out and "[SHT24] Cor. 5.6" in out
    assert "sampling           R = 3   s = 3420" in out


def test_bounds_json_and_verdict(capsys):
    code, out, _ = cli(["bounds", "--q", "1048576", "--k", "4", "--n", "1000000", "--c", "0.5",
                        "--R", "3", "--s", "100", "--json"], capsys)
    d = json.loads(out)
    assert code == 0 and d["N"] == 1000000 and d["c"] == 0.5
    rows = {r["name"]: r for r in d["rows"]}
    assert rows["pointer chasing"]["value"] == 0.5 * 2**20 / 4**5
    assert rows["RNN"]["value"] == 0.5 * 10**6 / 4**6
    assert rows["one-hop-per-round"]["rounds"] == 4 and rows["one-hop-per-round"]["ruled_out"] is False
    assert d["verdict"]["ruled_out"] is True and d["verdict"]["bound"] == 512.0


@pytest.mark.parametrize(
    "argv, needle",
    [
        (["bounds", "--q", "1", "--k", "3"], "q = 1 is invalid"),
        (["bounds", "--q", "8", "--k", "3", "--c", "-1"], "c = -1"),
        (["bounds", "--q", "8", "--k", "3", "--R", "2"], "--R and --s go together"),
        (["bounds", "--k", "3"], "required: --q"),
        (["sweep", "--grid", "nope.json", "--out", "x.csv"], "cannot read grid file"),
        (["sweep", "--grid", "g.json", "--out", "x.csv", "--workers", "2", "--dask-local", "2"], "not allowed with"),
        (["sweep", "--grid", "g.json", "--out", "x.csv", "--workers", "0"], "workers = 0"),
    ],
)
def test_misuse_is_one_line_and_exit_2(argv, needle, capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    block = {"kind": "protocol", "protocol": "guess", "q": 16, "k": 2}
    (tmp_path / "g.json").write_text(json.dumps({"cells": [block]}))
    code, out, err = cli(argv, capsys)
    assert code == 2 and out == ""
    assert needle in err and err.count("\n") == 1 and "Traceback" not in err
    assert not (tmp_path / "x.csv").exists()


def test_sweep_end_to_end_and_resume(capsys, tmp_path):
    grid = tmp_path / "g.json"
    grid.write_text(json.dumps({"seed": 4, "cells": [
        {"kind": "protocol", "protocol": ["guess", "one-hop-per-round"], "q": 32, "k": [2, 3], "trials": 100},
        {"kind": "threshold", "protocol": "one-hop-per-round", "q": 32, "k": 2, "R": 2}]}))
    out = tmp_path / "r.csv"
    code, stdout, err = cli(["sweep", "--grid", str(grid), "--out", str(out), "--workers", "1", "--json"], capsys)
    assert code == 0, err
    summary = json.loads(stdout)
    assert summary["cells"] == summary["ran"] == 5 and summary["skipped"] == 0 and summary["seed"] == 4
    rows = read_results(out)
    thr = next(r for r in rows if r["kind"] == "threshold")
    assert (thr["s"], thr["s_lo"], thr["s_hi"]) == (5, 4, 5)
    assert all(r["success"] == 1.0 for r in rows if r["name"] == "one-hop-per-round" and r["kind"] == "protocol")

    code, _, err = cli(["sweep", "--grid", str(grid), "--out", str(out), "--workers", "1"], capsys)
    assert code == 2 and "already exists; resume it" in err
    code, stdout, err = cli(["sweep", "--grid", str(grid), "--out", str(out), "--workers", "1", "--resume",
                             "--seed", "5"], capsys)
    assert code == 2 and "root seed 4" in err
    code, stdout, _ = cli(["sweep", "--grid", str(grid), "--out", str(out), "--resume", "--workers", "1"], capsys)
    assert code == 0 and "ran 0, skipped 5" in stdout and str(out) in stdout


def test_module_entry_point_exits_2_with_one_line():
    env = {**os.environ, "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    bad = subprocess.run([sys.executable, "-m", "lowerbounds", "bounds", "--q", "64", "--k", "0"],
                         cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert bad.returncode == 2 and bad.stdout == "" and bad.stderr.count("\n") == 1 and "k = 0" in bad.stderr
