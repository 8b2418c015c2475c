"""``python -m protocols mpc`` and ``python -m reductions to-mpc`` end to end (JSON keys, refusals, exit 2)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from protocols.__main__ import COMMANDS as PROTOCOL_COMMANDS
from protocols.cli_support import run_commands
from reductions.__main__ import COMMANDS as REDUCTION_COMMANDS

ROOT = Path(__file__).resolve().parents[1]


def proto(capsys, *argv):
    code = run_commands("python -m protocols", "t", "protocols.cli", PROTOCOL_COMMANDS, ["mpc", *argv])
    out, err = capsys.readouterr()
    return code, out, err


def red(capsys, *argv):
    code = run_commands("python -m reductions", "t", "reductions.cli", REDUCTION_COMMANDS, ["to-mpc", *argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_hop_json_subprocess():
    p = subprocess.run([sys.executable, "-m", "protocols", "mpc", "--problem", "hop", "--n", "1024", "--k", "16",
                        "--delta", "0.5", "--seed", "0", "--json"], cwd=ROOT, capture_output=True, text=True,
                       timeout=300)
    assert p.returncode == 0, p.stderr
    out = json.loads(p.stdout)
    for key in ("rounds", "machines", "s", "max_words_held", "max_words_sent", "max_words_received", "correct",
                "per_round"):
        assert key in out
    assert out["correct"] is True and out["rounds"] == out["rounds_formula"] == 4 + out["c"]
    assert max(out["max_words_held"], out["max_words_sent"], out["max_words_received"]) <= out["s"] == 1024
    assert len(out["per_round"]) == out["rounds"] + 1
    assert max(r["max_sent"] for r in out["per_round"]) == out["max_words_sent"]


@pytest.mark.parametrize("problem", ["cycles", "connectivity"])
def test_cycles_json(capsys, problem):
    for c in (1, 2):
        code, out, _ = proto(capsys, "--problem", problem, "--n", "500", "--cycles", str(c), "--json")
        d = json.loads(out)
        assert code == 0 and d["correct"] is True and d["cycles"] == c and d["components"] == c
        assert d["rounds"] == d["rounds_formula"] and "log2_n" in d


def test_text_output_and_gather(capsys):
    code, out, _ = proto(capsys, "--n", "200", "--k", "5", "--per-round")
    assert code == 0 and "correct True" in out and "round   1" in out
    code, out, _ = proto(capsys, "--problem", "gather", "--n", "100", "--s", "100")
    assert code == 0 and "correct: True" in out
    code, out, err = proto(capsys, "--problem", "gather", "--n", "100", "--s", "99")
    assert code == 2 and out == "" and err.count("\n") == 1 and "round 1, machine 0: is sent 100 words" in err


@pytest.mark.parametrize("argv", [["--n", "0"], ["--n", "10", "--delta", "1"], ["--n", "10", "--delta", "nan"],
                                  ["--problem", "cycles", "--n", "9"], ["--n", "10", "--k", "-1"],
                                  ["--problem", "nope", "--n", "10"], ["--n", "ten"]])
def test_misuse_exits_2_with_one_line(capsys, argv):
    with pytest.raises(SystemExit) as e:
        code, out, err = proto(capsys, *argv)
        raise SystemExit(code)
    assert e.value.code == 2
    err = capsys.readouterr().err
    assert err == "" or err.count("\n") == 1


def test_to_mpc_json_hop_construction(capsys):
    code, out, _ = red(capsys, "--model", "hop-construction", "--k", "8", "--n", "40", "--trials", "4", "--json")
    d = json.loads(out)
    assert code == 0
    for key in ("layers", "rounds", "machines", "s", "agree", "trials"):
        assert key in d
    assert d["agree"] == d["trials"] == 4 and d["layers"] == 5
    assert d["rounds"] == 4 * d["depth"] * d["layers"] + 2 and d["machines"] == d["machines_formula"]
    assert d["max_words_held"] <= d["s"]


def test_to_mpc_random_transformer_text(capsys):
    code, out, _ = red(capsys, "--model", "transformer", "--n", "12", "--layers", "2", "--heads", "2",
                       "--trials", "2")
    assert code == 0 and "agrees with the model on 2 / 2" in out


@pytest.mark.parametrize("argv", [["--n", "0"], ["--n", "10", "--branching", "1"], ["--n", "10", "--k", "-2"],
                                  ["--n", "10", "--model", "transformer", "--layers", "0"]])
def test_to_mpc_misuse(capsys, argv):
    code, out, err = red(capsys, *argv)
    assert code == 2 and err.count("\n") == 1 and "error" in err
