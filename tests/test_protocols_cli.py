"""``python -m protocols list | run | show | audit | replay`` end to end (subprocesses, as a user runs them)."""

from __future__ import annotations

import json
import subprocess
import sys
from math import ceil, log2
from pathlib import Path

import numpy as np
import pytest

from protocols import PointerChasing, Transcript
from protocols.__main__ import COMMANDS
from protocols.cli.list import NATURAL, evaluate_formula
from protocols.cli_support import run_commands
from protocols.library import LIBRARY

ROOT = Path(__file__).resolve().parents[1]


def cli(*argv: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "protocols", *argv], cwd=ROOT, capture_output=True, text=True, timeout=300
    )


def in_process(capsys, *argv: str):
    code = run_commands("python -m protocols", "test", "protocols.cli", COMMANDS, list(argv))
    out, err = capsys.readouterr()
    return code, out, err


# -------------------------------------------------------------------- list
def test_list_json_formulas_agree_with_the_constructors():
    res = cli("list", "--q", "1000", "--k", "5", "--json")
    assert res.returncode == 0 and res.stderr == ""
    rows = json.loads(res.stdout)
    assert [r["name"] for r in rows] == list(LIBRARY)
    for r in rows:
        assert r["rounds_formula"] == NATURAL[r["name"]][0] and r["bits_formula"] == NATURAL[r["name"]][1]
        assert r["rounds"] == evaluate_formula(r["rounds_formula"], 1000, 5)
        assert r["bits"] == evaluate_formula(r["bits_formula"], 1000, 5)
        assert r["summary"]
    assert {r["name"]: (r["rounds"], r["bits"]) for r in rows}["one-hop-per-round"] == (5, 10)


@pytest.mark.parametrize("version", ["decision", "search"])
@pytest.mark.parametrize("q, k", [(2, 1), (3, 2), (64, 3), (1000, 8), (1025, 4)])
def test_natural_formulas_match_every_constructor(q, k, version):
    pc = PointerChasing(q=q, k=k, version=version)
    for name, cls in LIBRARY.items():
        p = cls(pc)
        r_formula, s_formula = NATURAL[name]
        decision = version == "decision"
        assert (p.R, p.s) == (
            evaluate_formula(r_formula, q, k, decision),
            evaluate_formula(s_formula, q, k, decision),
        ), name


def test_list_human_table(capsys):
    code, out, err = in_process(capsys, "list")
    lines = out.strip().splitlines()
    assert code == 0 and err == "" and "q=1024, k=8" in lines[0]
    assert len(lines) == 2 + len(LIBRARY)
    one_hop = next(line for line in lines if line.startswith("one-hop-per-round"))
    assert one_hop.split()[1:5] == ["k", "ceil(log2(q))", "8", "10"]


# --------------------------------------------------------------------- run
RUN_KEYS = {
    "protocol",
    "problem",
    "q",
    "k",
    "rounds",
    "bits",
    "trials",
    "successes",
    "success",
    "ci_low",
    "ci_high",
    "bits_written",
    "max_bits_used",
}


def test_run_json_one_hop_is_exact_and_reports_its_budget():
    res = cli(
        "run",
        "--problem",
        "pointer-chasing",
        "--protocol",
        "one-hop-per-round",
        "--q",
        "64",
        "--k",
        "3",
        "--trials",
        "2000",
        "--seed",
        "1",
        "--json",
    )
    assert res.returncode == 0 and res.stderr == ""
    d = json.loads(res.stdout)
    assert RUN_KEYS <= set(d)
    assert (d["protocol"], d["problem"], d["q"], d["k"]) == ("one-hop-per-round", "pointer-chasing", 64, 3)
    assert (d["rounds"], d["bits"], d["trials"], d["successes"], d["success"]) == (3, 6, 2000, 2000, 1.0)
    assert d["ci_high"] == 1.0 and 0.99 < d["ci_low"] < 1.0
    assert d["bits_written"] == 3 * 3 * 6 and d["max_bits_used"] == 6
    assert (d["version"], d["order"], d["start"], d["seed"]) == ("decision", "hard", 0, 1)


def test_run_json_explicit_budget_and_options_and_same_seed_same_numbers(capsys):
    argv = [
        "run",
        "--protocol",
        "one-hop-per-round",
        "--q",
        "100",
        "--k",
        "4",
        "--rounds",
        "3",
        "--bits",
        "9",
        "--trials",
        "3000",
        "--seed",
        "7",
        "--version",
        "search",
        "--start",
        "random",
        "--json",
    ]
    (code, a, _), (_, b, _) = in_process(capsys, *argv), in_process(capsys, *argv)
    assert code == 0 and a == b
    d = json.loads(a)
    assert (d["rounds"], d["bits"], d["version"], d["start"]) == (3, 9, "search", "random")
    assert d["bits_written"] == 4 * 3 * 9 and d["max_bits_used"] == 7
    assert d["ci_low"] < 0.01 < d["ci_high"]  # one round short: a uniform guess among q = 100


def test_run_easy_order_and_human_table():
    res = cli(
        "run",
        "--protocol",
        "one-hop-per-round",
        "--q",
        "1024",
        "--k",
        "8",
        "--rounds",
        "1",
        "--order",
        "easy",
        "--trials",
        "500",
        "--seed",
        "0",
    )
    assert res.returncode == 0 and res.stderr == ""
    table = dict(
        line.split(None, 1)
        for line in res.stdout.replace("bits written", "bits_written")
        .replace("max bits used", "max_bits_used")
        .replace("rounds R", "rounds")
        .replace("bits s", "bits")
        .strip()
        .splitlines()
    )
    assert table["protocol"] == "one-hop-per-round" and table["rounds"] == "1" and table["bits"] == "10"
    assert table["successes"] == "500" and table["success"].startswith("1.0000")
    assert table["bits_written"].startswith("80 ") and "easy order" in table["problem"]


def test_run_sampling_default_budget(capsys):
    code, out, _ = in_process(
        capsys, "run", "--protocol", "sampling", "--q", "1024", "--k", "4", "--trials", "300", "--seed", "2", "--json"
    )
    d = json.loads(out)
    assert code == 0 and (d["rounds"], d["bits"]) == (3, ceil(1024 / 3) * ceil(log2(1024)))
    assert d["success"] >= 0.95


# -------------------------------------------------------------------- show
def test_show_human_board_names_round_speaker_layer_bits_and_values():
    res = cli("show", "--protocol", "one-hop-per-round", "--q", "16", "--k", "3", "--instance", "2", "--seed", "5")
    assert res.returncode == 0 and res.stderr == ""
    lines = res.stdout.splitlines()
    chase = [int(part.split("=")[1]) for part in lines[1].split(";")[0].removeprefix("chase: ").split(" -> ")]
    assert len(chase) == 4
    assert "speaker 0 holds E_3" in lines[2] and "speaker 2 holds E_1" in lines[2]
    board = [line for line in lines if line.startswith("round ")]
    assert len(board) == 9
    hops = [line for line in board if "= v_" in line]
    assert [line.split("= ")[-1] for line in hops] == [str(v) for v in chase[1:]]
    assert hops[0].startswith("round 0 speaker 2 [   4 bits] " + format(chase[1], "04b"))
    assert board[-1].startswith("round 2 speaker 2 [   1 bits]") and "answer: class" in board[-1]
    assert lines[-1] == "correct: yes"


def test_show_json_transcript_and_instance(tmp_path):
    res = cli(
        "show",
        "--protocol",
        "sampling",
        "--q",
        "32",
        "--k",
        "3",
        "--instance",
        "1",
        "--batch",
        "4",
        "--seed",
        "3",
        "--json",
    )
    assert res.returncode == 0
    d = json.loads(res.stdout)
    t = Transcript.from_json(json.dumps(d["transcript"]))
    inst = d["instance"]
    assert (t.name, t.k, t.instance, t.batch) == ("sampling", 3, 1, 4)
    assert len(inst["layers"]) == 3 and all(sorted(layer) == list(range(32)) for layer in inst["layers"])
    path = [inst["start"]]
    for layer in inst["layers"]:
        path.append(layer[path[-1]])
    assert inst["path"] == path and inst["answer"] == int(2 * path[-1] >= 32)
    assert d["correct"] == (t.output == inst["answer"])
    assert [m["layer"] for m in d["messages"][:3]] == [3, 2, 1]
    assert all(len(m["bits"]) == m["used"] for m in d["messages"])
    assert d["messages"][-1]["value"] == f"answer: class {t.output}"


def test_show_save_then_replay_and_replay_catches_tampering(tmp_path, capsys):
    path = tmp_path / "t.json"
    res = cli(
        "show",
        "--protocol",
        "one-hop-per-round",
        "--q",
        "64",
        "--k",
        "4",
        "--seed",
        "9",
        "--instance",
        "3",
        "--save",
        str(path),
    )
    assert res.returncode == 0 and f"saved transcript to {path}" in res.stdout
    t = Transcript.load(path)  # the file is an ordinary transcript
    assert (t.k, t.R, t.s, t.instance, t.batch) == (4, 4, 6, 3, 4)
    ok = cli("replay", str(path), "--json")
    assert ok.returncode == 0 and json.loads(ok.stdout) == {
        "ok": True,
        "file": str(path),
        "protocol": "one-hop-per-round",
        "instance": 3,
        "mismatch": None,
    }
    d = json.loads(path.read_text())
    pos = d["index"][3][2]  # round 0, speaker 3: the first hop
    d["bits"] = d["bits"][:pos] + ("0" if d["bits"][pos] == "1" else "1") + d["bits"][pos + 1 :]
    path.write_text(json.dumps(d))
    code, out, _ = in_process(capsys, "replay", str(path))
    assert code == 1 and out.startswith("mismatch: instance 3: message of speaker 3 in round 0 differs at bit 0")


# ------------------------------------------------------------------- audit
@pytest.mark.parametrize("name", sorted(LIBRARY))
def test_audit_json_passes_library_protocols(name, capsys):
    code, out, err = in_process(
        capsys, "audit", "--protocol", name, "--q", "16", "--k", "3", "--trials", "16", "--json"
    )
    d = json.loads(out)
    assert code == 0 and err == "" and d["ok"] is True and d["violations"] == [] and d["protocol"] == name


def test_audit_subprocess_human():
    res = cli("audit", "--protocol", "sampling", "--q", "64", "--k", "4", "--trials", "16")
    assert res.returncode == 0 and "ok: every message depends only on" in res.stdout


def test_audit_exit_code_1_and_violations_for_a_cheat(capsys, monkeypatch):
    """A protocol that reads another player's input (via instances it captured) fails the audit."""
    from protocols.engine import FunctionProtocol

    captured = []
    original = PointerChasing.sample

    def sample(self, batch, seed=None):
        inst = original(self, batch, seed)
        captured.append(inst)
        return inst

    def cheat(problem, R=None, s=None):
        def message(r, i, board, own, coins):
            if i == problem.k - 1:  # the last speaker reads E_k, held by speaker 0
                theirs = captured[-2].layers[problem.k - 1]  # the audit's world A (then it samples B)
                return (theirs[:, :1] & 1).astype(np.uint8)
            return np.zeros((board.batch, 0), np.uint8)

        return FunctionProtocol(problem.k, 1, 1, message, lambda last: last[:, 0], name="cheat")

    monkeypatch.setattr(PointerChasing, "sample", sample)
    monkeypatch.setitem(LIBRARY, "cheat", cheat)
    code, out, err = in_process(capsys, "audit", "--protocol", "cheat", "--q", "16", "--k", "3", "--json")
    d = json.loads(out)
    assert code == 1 and d["ok"] is False
    assert [(v["round"], v["speaker"]) for v in d["violations"]] == [(0, 2)]
    code, out, _ = in_process(capsys, "audit", "--protocol", "cheat", "--q", "16", "--k", "3")
    assert code == 1 and "violation: speaker 2 in round 0: message changed" in out


# ------------------------------------------------------------------ misuse
@pytest.mark.parametrize(
    "argv, says",
    [
        (["run", "--protocol", "nope", "--q", "8", "--k", "2"], "unknown protocol 'nope'"),
        (["run", "--protocol", "guess", "--q", "1", "--k", "2"], "q = 1"),
        (
            ["run", "--protocol", "one-hop-per-round", "--q", "1024", "--k", "3", "--bits", "5"],
            "needs s >= ceil(log2 q) = 10",
        ),
        (["run", "--protocol", "guess", "--q", "x", "--k", "2"], "invalid int value: 'x'"),
        (["run", "--protocol", "guess", "--q", "8", "--k", "0"], "k = 0"),
        (
            ["run", "--protocol", "guess", "--q", "8", "--k", "2", "--trials", "0"],
            "--trials: 0 is not an integer >= 1",
        ),
        (["run", "--protocol", "guess", "--q", "8", "--k", "2", "--seed", "-3"], "--seed: -3 is not an integer >= 0"),
        (
            ["show", "--protocol", "guess", "--q", "8", "--k", "2", "--instance", "4", "--batch", "2"],
            "--instance 4 is outside",
        ),
        (["audit", "--protocol", "full-dump", "--q", "8", "--k", "2", "--bits", "3"], "full-dump needs s >="),
        (["replay", "/nonexistent/t.json"], "cannot read"),
        (["frobnicate"], "invalid choice"),
    ],
)
def test_misuse_is_one_stderr_line_and_exit_2(argv, says, capsys):
    try:
        code, out, err = in_process(capsys, *argv)
    except SystemExit as exc:  # argparse stops at its own errors
        code = exc.code
        out, err = capsys.readouterr()
    assert code == 2 and out == "" and says in err and len(err.strip().splitlines()) == 1


@pytest.mark.parametrize(
    "argv",
    [
        ["run", "--protocol", "sampling", "--q", "1024", "--k", "3", "--bits", "3"],
        ["show", "--protocol", "guess", "--q", "x", "--k", "2"],
    ],
)
def test_misuse_in_a_subprocess_has_no_traceback(argv):
    res = cli(*argv)
    assert res.returncode == 2 and res.stdout == ""
    assert len(res.stderr.strip().splitlines()) == 1 and "Traceback" not in res.stderr
    assert res.stderr.startswith("python -m protocols")
