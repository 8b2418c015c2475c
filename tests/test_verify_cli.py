"""``python -m reductions verify | list`` end to end, and verify's pointer-chasing helper."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from protocols import PointerChasing
from protocols.cli_support import run_commands
from reductions.__main__ import COMMANDS
from reductions.models import GRU
from reductions.verify import VerificationError, pointer_chasing_success

KEYS = {"model", "trials", "agree", "rounds", "bits", "bits_formula", "max_bits_used", "success", "ci_low", "ci_high"}


def cli(*argv: str) -> int:
    return run_commands("python -m reductions", "test", "reductions.cli", COMMANDS, list(argv))


@pytest.mark.parametrize(
    "family, extra, bits",
    [
        ("fsm", ["--width", "5"], 5),
        ("elman", [], 8 * 12),
        ("gru", [], 8 * 12),
        ("lstm", [], 2 * 8 * 12),
        ("ssm", ["--state-size", "2"], 8 * 2 * 12),
    ],
)
def test_verify_json_random_inputs(family, extra, bits, capsys):
    assert (
        cli(
            "verify",
            "--model",
            family,
            "--layers",
            "2",
            "--precision",
            "12",
            "--k",
            "3",
            "--trials",
            "200",
            "--seed",
            "1",
            "--json",
            *extra,
        )
        == 0
    )
    out = json.loads(capsys.readouterr().out)
    assert KEYS <= set(out)
    assert out["agree"] == out["trials"] == 200 and out["rounds"] == 2
    assert out["bits"] == out["bits_formula"] == out["max_bits_used"] == bits
    assert out["success"] is None and len(out["splits"]) == 3 and out["exact_bits"] and out["board_checked"]


def test_verify_json_pointer_chasing(capsys):
    assert (
        cli(
            "verify",
            "--model",
            "gru",
            "--layers",
            "3",
            "--width",
            "6",
            "--precision",
            "12",
            "--k",
            "3",
            "--q",
            "4",
            "--trials",
            "300",
            "--seed",
            "2",
            "--json",
        )
        == 0
    )
    out = json.loads(capsys.readouterr().out)
    assert out["agree"] == 300 and out["n"] == 2 * 3 * 4 + 1 and out["vocab"] == 10
    assert 0 <= out["ci_low"] <= out["success"] <= out["ci_high"] <= 1
    assert out["splits"] == [[0, 8, 16, 25]]


def test_verify_same_seed_same_result(capsys):
    args = (
        "verify",
        "--model",
        "lstm",
        "--k",
        "2",
        "--q",
        "3",
        "--n",
        "20",
        "--trials",
        "150",
        "--seed",
        "5",
        "--json",
    )
    cli(*args)
    a = json.loads(capsys.readouterr().out)
    cli(*args)
    b = json.loads(capsys.readouterr().out)
    a.pop("seconds"), b.pop("seconds")
    assert a == b and a["n"] == 20 and a["vocab"] == 9


def test_verify_text_output(capsys):
    assert cli("verify", "--model", "elman", "--trials", "50", "--k", "2", "--q", "3") == 0
    text = capsys.readouterr().out
    assert "protocol == model on 50 / 50" in text and "decision success" in text


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--model", "gru", "--state-size", "2"], "--state-size does not apply to --model gru"),
        (["--model", "gru", "--k", "9", "--n", "4"], "need a sequence of at least k tokens"),
        (["--model", "gru", "--q", "3", "--n", "5"], "shorter than the encoding"),
        (["--model", "gru", "--q", "3", "--vocab", "4"], "smaller than the encoding's alphabet"),
        (["--model", "fsm", "--frac", "3"], "unknown options"),
    ],
)
def test_verify_misuse_is_one_line_exit_2(argv, message, capsys):
    assert cli("verify", "--trials", "5", *argv) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1 and "Traceback" not in err


def test_unknown_model_exit_2():
    r = subprocess.run(
        [sys.executable, "-m", "reductions", "verify", "--model", "nope"], capture_output=True, text=True
    )
    assert r.returncode == 2 and "invalid choice" in r.stderr and "Traceback" not in r.stderr


def test_list(capsys):
    assert cli("list", "--json") == 0
    rows = {r["family"]: r for r in json.loads(capsys.readouterr().out)}
    assert {"fsm", "elman", "gru", "lstm", "ssm"} <= set(rows)
    assert rows["lstm"]["bits"] == "2·m·p" and rows["ssm"]["options"] == ["--state-size"]
    assert cli("list") == 0
    assert "reductions.compilers.rnn_to_protocol" in capsys.readouterr().out


def test_pointer_chasing_success_is_model_success():
    model = GRU.random(vocab=8, layers=2, width=4, precision=12, seed=0)
    rep = pointer_chasing_success(model, PointerChasing(q=3, k=2), trials=500, seed=1, batch_size=128)
    assert rep.agree == rep.trials == 500 and rep.exact_bits and rep.board_checked
    lo, hi = rep.proportion_ci()
    assert lo <= rep.success <= hi
    with pytest.raises(VerificationError, match="vocabulary 4 is smaller"):
        pointer_chasing_success(GRU.random(vocab=4, layers=1, width=2, seed=0), PointerChasing(q=3, k=2), 10)


def test_a_model_that_solves_pointer_chasing_scores_one():
    """An FSM that implements hop_k exactly (by table) for q=2, k=1 gets success 1 in the protocol."""
    from reductions.models import FiniteStateRNN

    # q = 2, k = 1: sequence label_1(0), c0, label_1(1), c1, v  (N = 5, alphabet 6), random start v.
    # State bits: position (2), class seen after vertex 0, class seen after vertex 1, last vertex.
    def step(h, x):
        pos, c0, c1, last = h & 3, (h >> 2) & 1, (h >> 3) & 1, (h >> 4) & 1
        is_class = x >= 4
        cls = x - 4
        c0 = c0 | ((is_class & (last == 0)) * cls)
        c1 = c1 | ((is_class & (last == 1)) * cls)
        last = (x & 1) * (x < 4) + last * (x >= 4)
        pos = (pos + 1) & 3
        return pos | (c0 << 2) | (c1 << 3) | (last << 4)

    readout = lambda h: 4 + (((h >> 4) & 1) * ((h >> 3) & 1) + (1 - ((h >> 4) & 1)) * ((h >> 2) & 1))  # noqa: E731
    model = FiniteStateRNN.from_functions(vocab=6, width=5, transitions=[step], readout=readout)
    rep = pointer_chasing_success(model, PointerChasing(q=2, k=1, start=None), trials=200, seed=0)
    assert rep.success == 1.0 and rep.agree == 200 and rep.bits == 5
