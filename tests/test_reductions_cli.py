"""``python -m reductions hop | encode`` end to end."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from protocols.cli_support import run_commands
from reductions import hop
from reductions.__main__ import COMMANDS

ROOT = Path(__file__).resolve().parents[1]


def cli(capsys, *argv):
    code = run_commands("python -m reductions", "test", "reductions.cli", COMMANDS, list(argv))
    out, err = capsys.readouterr()
    return code, out, err


# --------------------------------------------------------------------- hop
def test_hop_text_worked_example(capsys):
    code, out, err = cli(capsys, "hop", "--k", "2", "baebcabebdea")
    assert code == 0 and err == ""
    rows = [line.split() for line in out.strip().splitlines()[2:]]
    assert len(rows) == 12
    assert rows[-1] == ["11", "a", "4", "c"]  # position, token, find^2, hop_2
    assert [r[3] for r in rows] == list("⊥⊥⊥⊥⊥⊥⊥ab⊥ec")


def test_hop_json(capsys):
    code, out, _ = cli(capsys, "hop", "--k", "1", "baebcabebdea", "--json")
    data = json.loads(out)
    assert code == 0 and data["k"] == 1 and data["n"] == 12
    assert data["tokens"] == list("baebcabebdea")
    assert data["hop"] == [-1, -1, -1, "a", -1, "e", "c", "b", "e", -1, "b", "b"]
    assert data["find"][-1] == 6


def test_hop_numeric_tokens(capsys):
    code, out, _ = cli(capsys, "hop", "--k", "3", "3 1 3,2 3 1 3 1", "--json")
    data = json.loads(out)
    x = np.array([3, 1, 3, 2, 3, 1, 3, 1])
    assert data["tokens"] == x.tolist() and data["hop"] == hop(x, 3).tolist()


@pytest.mark.parametrize(
    "argv, match",
    [
        (["hop", "--k", "-1", "ab"], "--k -1"),
        (["hop", "--k", "x", "ab"], "invalid int value"),
        (["hop", "ab"], "required: --k"),
        (["hop", "--k", "1", " , "], "no tokens"),
    ],
)
def test_hop_misuse(capsys, argv, match):
    try:
        code, _, err = cli(capsys, *argv)
    except SystemExit as exc:  # argparse errors
        code, err = exc.code, capsys.readouterr().err
    assert (
        code == 2 and match in err and "Traceback" not in err and len(err.strip().splitlines()) == 1
    )


# ------------------------------------------------------------------ encode
def test_encode_json_is_consistent(capsys):
    code, out, _ = cli(
        capsys, "encode", "--q", "5", "--k", "3", "--seed", "7", "--start", "2", "--json"
    )
    d = json.loads(out)
    assert code == 0
    assert {"q", "k", "tokens", "layers", "start", "classes", "answer", "boundaries"} <= set(d)
    q, k = d["q"], d["k"]
    assert (q, k, d["start"]) == (5, 3, 2)
    assert len(d["tokens"]) == d["N"] == 2 * k * q + 1 and d["boundaries"] == [0, 10, 20, 31]
    assert d["classes"] == [0, 0, 0, 1, 1]
    v = d["start"]
    for layer in d["layers"]:  # layers[j-1] = E_j as images of 0..q-1
        assert sorted(layer) == list(range(q))
        v = layer[v]
    assert d["answer"] == d["classes"][v]
    assert hop(np.array(d["tokens"]), k)[-1] == 2 * q + d["answer"] == d["hop_last"]
    assert [s["layer"] for s in d["speakers"]] == [3, 2, 1]


def test_encode_is_seeded_and_pads(capsys):
    a = json.loads(cli(capsys, "encode", "--q", "4", "--k", "2", "--seed", "1", "--json")[1])
    b = json.loads(cli(capsys, "encode", "--q", "4", "--k", "2", "--seed", "1", "--json")[1])
    c = json.loads(
        cli(capsys, "encode", "--q", "4", "--k", "2", "--seed", "1", "--length", "20", "--json")[1]
    )
    assert a == b
    assert a["start"] == 0  # docs/definitions.md §2 default
    assert c["pad"] == 3 and c["tokens"][:3] == [10, 10, 10] and c["tokens"][3:] == a["tokens"]
    assert c["boundaries"] == [0, 11, 20] and c["answer"] == a["answer"]


def test_encode_text_marks_blocks_and_owners(capsys):
    code, out, _ = cli(capsys, "encode", "--q", "4", "--k", "3", "--seed", "0")
    assert code == 0
    assert "N = 25" in out and "alphabet 10" in out
    for i, j in [(0, 3), (1, 2), (2, 1)]:
        assert f"speaker {i} (P_{j}, block of E_{j})" in out
    assert "hop_3(x)[N-1] =" in out


@pytest.mark.parametrize(
    "argv, match",
    [
        (["encode", "--q", "1", "--k", "2", "--seed", "0"], "q >= 2"),
        (["encode", "--q", "4", "--k", "0", "--seed", "0"], "k >= 1"),
        (["encode", "--q", "4", "--k", "2", "--seed", "0", "--start", "4"], "start vertex 4"),
        (["encode", "--q", "4", "--k", "2", "--seed", "0", "--length", "5"], "length = 5"),
        (["encode", "--q", "4", "--k", "2", "--seed", "-3"], "--seed -3"),
        (["encode", "--q", "4", "--k", "2"], "required: --seed"),
    ],
)
def test_encode_misuse(capsys, argv, match):
    try:
        code, _, err = cli(capsys, *argv)
    except SystemExit as exc:
        code, err = exc.code, capsys.readouterr().err
    assert (
        code == 2 and match in err and "Traceback" not in err and len(err.strip().splitlines()) == 1
    )


def test_module_entry_point():
    proc = subprocess.run(
        [sys.executable, "-m", "reductions", "hop", "--k", "1", "baebcabebdea", "--json"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["hop"][-1] == "b"
    bad = subprocess.run(
        [sys.executable, "-m", "reductions", "encode", "--q", "1", "--k", "1", "--seed", "0"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert bad.returncode == 2 and "Traceback" not in bad.stderr
