"""The protocols and reductions CLIs fail cleanly on any input (issue 12).

Every failure is one line on stderr and exit code 2 — never a traceback — and
comes before any large allocation, so a refusal takes bounded time and memory.
Named regression tests cover every case the issue lists for these CLIs; the
hypothesis suites drive the CLIs in process (``main(argv)``) with random and
adversarial arguments and transcripts; a few subprocess checks measure the
time and peak memory of a refusal as a user meets it.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from protocols.__main__ import COMMANDS as PROTOCOL_COMMANDS
from protocols.budget import ENV_VAR
from protocols.cli_support import run_commands
from protocols.library import LIBRARY
from reductions.__main__ import COMMANDS as REDUCTION_COMMANDS
from reductions.models import MODELS

ROOT = Path(__file__).resolve().parents[1]
COMMANDS = {"protocols": PROTOCOL_COMMANDS, "reductions": REDUCTION_COMMANDS}
#: Wall-clock bound of one in-process call (generous: the test machine is shared).
SECONDS = 30.0
FUZZ = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                       HealthCheck.too_slow])


def call(package: str, *argv: str) -> tuple[int, str, str]:
    """Run ``python -m package argv`` in this process: (exit code, stdout, stderr)."""
    out, err = io.StringIO(), io.StringIO()
    t0 = time.perf_counter()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = run_commands(f"python -m {package}", "test", f"{package}.cli", COMMANDS[package], list(argv))
        except SystemExit as exc:  # argparse errors exit(2) after writing their one line
            code = exc.code
    assert time.perf_counter() - t0 < SECONDS, f"{package} {argv} took too long"
    return code, out.getvalue(), err.getvalue()


def assert_clean(code: int, err: str, ok_codes=(0,)) -> None:
    """Success (``ok_codes``), or a refusal: exit 2 and exactly one line naming the program."""
    assert "Traceback" not in err
    if code in ok_codes:
        return
    assert code == 2, (code, err)
    assert err.endswith("\n") and err.count("\n") == 1, err
    assert err.startswith("python -m "), err


def refused(package: str, *argv: str, match: str) -> str:
    code, _, err = call(package, *argv)
    assert_clean(code, err, ok_codes=())
    assert re.search(match, err), err
    return err


@pytest.fixture(autouse=True)
def _default_budget(monkeypatch):
    monkeypatch.delenv(ENV_VAR, raising=False)


# ------------------------------------------------------ the cases, by name
def test_run_q_1e9_is_refused_before_allocating():
    refused("protocols", "run", "--protocol", "one-hop-per-round", "--q", "1000000000", "--k", "8",
            match=r"needs 2[0-9.]+ GiB; the memory budget is 1.0 GiB")


def test_run_k_1e6_is_refused_naming_the_board():
    refused("protocols", "run", "--protocol", "one-hop-per-round", "--q", "256", "--k", "1000000",
            match=r"board \(k·R·s = 1000000·1000000·8 bytes\) needs 7.3 TiB")


def test_run_bits_1e12_is_refused():
    refused("protocols", "run", "--protocol", "guess", "--q", "16", "--k", "3", "--bits", str(10**12),
            match=r"k·R·s = 3·1·1000000000000 .* needs 2.7 TiB")


def test_run_rounds_1e9_is_refused():
    for name in LIBRARY:
        refused("protocols", "run", "--protocol", name, "--q", "16", "--k", "3", "--rounds", str(10**9),
                match="needs .*; the memory budget is")


def test_show_a_huge_batch_is_refused():
    refused("protocols", "show", "--protocol", "guess", "--q", "16", "--k", "3", "--instance", str(10**9),
            match=r"1000000001 instance\(s\)")


def test_memory_budget_option_and_environment(monkeypatch):
    argv = ("run", "--protocol", "one-hop-per-round", "--q", "65536", "--k", "8", "--trials", "2")
    refused("protocols", *argv, "--memory-budget", "512K", match=r"the memory budget is 512.0 KiB")
    monkeypatch.setenv(ENV_VAR, "700K")
    refused("protocols", *argv, match=r"the memory budget is 700.0 KiB")
    code, out, err = call("protocols", *argv, "--memory-budget", "64M", "--json", "--no-progress")
    assert code == 0 and json.loads(out)["successes"] == 2
    refused("protocols", *argv, "--memory-budget", "lots", match="--memory-budget 'lots' is not a size")
    monkeypatch.setenv(ENV_VAR, "lots")
    refused("protocols", *argv, match=rf"\${ENV_VAR} 'lots' is not a size")


def test_encode_q_1e9_is_refused():
    refused("reductions", "encode", "--q", str(10**9), "--k", "3", "--seed", "0",
            match=r"N = 6000000001 tokens needs .*the memory budget is 1.0 GiB")


def test_verify_width_1e6_is_refused_before_the_model_is_built():
    refused("reductions", "verify", "--model", "gru", "--width", str(10**6),
            match=r"m = 1000000 \(at least L·m² weights\) needs 14.6 TiB")


def test_verify_form_bogus_is_refused():
    refused("reductions", "verify", "--model", "fsm", "--form", "bogus", "--width", "3", "--trials", "5",
            match="form = 'bogus'; FSM maps are 'table' or 'hash'")
    refused("reductions", "verify", "--model", "fsm", "--form", "table", "--width", "40", "--trials", "5",
            match="use form 'hash'")
    refused("reductions", "verify", "--model", "gru", "--form", "table", "--trials", "5",
            match="--form does not apply to --model gru")


def test_construct_hop_k_200_names_no_flag_the_user_did_not_pass():
    err = refused("reductions", "construct-hop", "--k", "200", match="k = 200 parties .* N = 100")
    assert "--parties 200" not in err
    refused("reductions", "construct-hop", "--k", "3", "--parties", "200", match="--parties 200")


@pytest.mark.parametrize("argv, match", [
    (("--k", "3", "--n", str(10**9)), "N = 1000000000 needs"),
    (("--k", "3", "--trials", str(10**9)), "1000000000 sequences"),
    (("--k", "3", "--layers", str(10**9)), "L = 1000000000 construction"),
    (("--k", "3", "--layers", "0"), "--layers 0"),
])
def test_construct_hop_big_sizes_are_refused(argv, match):
    refused("reductions", "construct-hop", *argv, match=match)


def test_hop_with_a_token_beyond_64_bits_is_refused():
    refused("reductions", "hop", "--k", "1", "3 " + "9" * 30, match="does not fit a 64-bit integer")


# ------------------------------------------------------------ transcripts
@pytest.fixture(scope="module")
def saved(tmp_path_factory) -> dict:
    path = tmp_path_factory.mktemp("replay") / "t.json"
    code, _, err = call("protocols", "show", "--protocol", "sampling", "--q", "16", "--k", "3", "--batch", "3",
                        "--instance", "1", "--seed", "4", "--save", str(path))
    assert code == 0, err
    return json.loads(path.read_text())


def replay(tmp_path: Path, text: str | bytes) -> tuple[int, str, str]:
    path = tmp_path / "t.json"
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text)
    return call("protocols", "replay", str(path))


def test_the_saved_transcript_replays(saved, tmp_path):
    code, out, err = replay(tmp_path, json.dumps(saved))
    assert code == 0 and out.startswith("ok: instance 1"), err


@pytest.mark.parametrize("edit, match", [
    (lambda d: d["run"].update(q=10**9), r"replaying 3 instance\(s\) of q = 1000000000, k = 3 needs"),
    (lambda d: d["run"].update(batch=10**9), "run batch = 1000000000 but the transcript has 3"),
    (lambda d: d.update(batch=10**9) or d["run"].update(batch=10**9), r"1000000000 instance\(s\)"),
    (lambda d: d["run"].pop("seed"), "run record is missing key\\(s\\) seed"),
    (lambda d: d.pop("bits"), "transcript is missing key\\(s\\) bits"),
    (lambda d: d["run"].update(q="16"), "run q = '16'; run q must be an integer"),
    (lambda d: d["run"].update(k=True), "run k = True; run k must be an integer, not a bool"),
    (lambda d: d.update(R=10**9), "transcript bits must be R·k·s"),
    (lambda d: d.update(bits=d["bits"][:-1] + "2"), "characters 0/1"),
    (lambda d: d.update(index=d["index"][:-1]), "index must list R·k"),
    (lambda d: d["index"][0].__setitem__(4, 10**6), "index entry 0"),
    (lambda d: d.update(seed={"entropy": "x", "spawn_key": []}), "transcript seed must be"),
    (lambda d: d["run"].update(protocol=["sampling"]), "unknown protocol"),
    (lambda d: d["run"].update(version="maybe"), "run version = 'maybe'"),
    (lambda d: d["run"].update(start=-1), "run start = -1"),
    (lambda d: d.update(instance=7), r"transcript instance = 7; .* in \[0, 2\]"),
])
def test_malformed_transcripts_are_refused_by_key(saved, tmp_path, edit, match):
    d = json.loads(json.dumps(saved))
    edit(d)
    code, _, err = replay(tmp_path, json.dumps(d))
    assert_clean(code, err, ok_codes=())
    assert re.search(match, err), err


@pytest.mark.parametrize("text, match", [
    ("[" * 100_000 + "]" * 100_000, "nested too deeply"),
    ("{", "not a transcript"),
    ("[]", 'no "run" record'),
    ('{"run": 3}', 'no "run" record'),
    (b"\xff\xfe\x00", "not UTF-8"),
    ("", "not a transcript"),
])
def test_non_transcripts_are_refused(tmp_path, text, match):
    code, _, err = replay(tmp_path, text)
    assert_clean(code, err, ok_codes=())
    assert re.search(match, err), err


def test_a_missing_or_huge_file_is_refused(tmp_path):
    refused("protocols", "replay", str(tmp_path / "nope.json"), match="cannot read")
    big = tmp_path / "big.json"
    with open(big, "wb") as f:
        f.truncate(2**30)  # sparse: 1 GiB of nothing, refused before it is read
    refused("protocols", "replay", str(big), match=r"reading .* needs 16.0 GiB")


json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**70), 2**70) | st.floats() | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner, max_size=4),
    max_leaves=12,
)


@FUZZ
@given(data=st.data())
def test_fuzzed_transcripts_replay_or_are_refused_in_one_line(saved, tmp_path, data):
    d = json.loads(json.dumps(saved))
    for _ in range(data.draw(st.integers(1, 3))):
        where = data.draw(st.sampled_from(["top", "run"]))
        target = d if where == "top" or not isinstance(d.get("run"), dict) else d["run"]
        key = data.draw(st.sampled_from(sorted(target) + ["extra"]))
        if data.draw(st.booleans()):
            target.pop(key, None)
        else:
            target[key] = data.draw(json_values | st.sampled_from([10**9, 10**12, 0, -1, 2**64, "random"]))
    code, _, err = replay(tmp_path, json.dumps(d))
    assert_clean(code, err, ok_codes=(0, 1))


# ------------------------------------------------------------ argument fuzzing
def sizes(small: st.SearchStrategy) -> st.SearchStrategy:
    """Small valid values, invalid ones, huge ones and non-numbers, as argv strings."""
    odd = st.sampled_from(["0", "-1", "1000000000", str(10**12), str(2**64), "1e9", "x", "", "True", "nan"])
    return st.one_of(small.map(str), odd)


protocol_args = st.fixed_dictionaries({
    "--protocol": st.one_of(st.sampled_from(list(LIBRARY)), st.text(max_size=5)),
    "--q": sizes(st.integers(2, 40)),
    "--k": st.one_of(sizes(st.integers(1, 5)), st.just("10000000")),
}, optional={
    "--rounds": sizes(st.integers(1, 6)),
    "--bits": sizes(st.integers(1, 80)),
    "--trials": sizes(st.integers(1, 30)),
    "--seed": sizes(st.integers(0, 2**70)),
    "--start": st.sampled_from(["0", "1", "random", "-1", "999", "x"]),
    "--version": st.sampled_from(["decision", "search", "other"]),
    "--order": st.sampled_from(["hard", "easy", "x"]),
    "--memory-budget": st.sampled_from(["64M", "1K", "2G", "bogus", "0", "-5M", "1e3"]),
    "--confidence": st.sampled_from(["0.9", "1", "0", "nan", "-inf", "x"]),
})


def argv_of(args: dict[str, str], extra: list[str]) -> list[str]:
    out = []
    for flag, value in args.items():
        out += [flag, value]
    return out + extra


@FUZZ
@given(command=st.sampled_from(["run", "show", "audit"]), args=protocol_args,
       extra=st.lists(st.sampled_from(["--json", "--functions", "--no-progress", "--bogus", "7", "--q"]),
                      max_size=2))
def test_fuzzed_protocol_commands_succeed_or_refuse_in_one_line(command, args, extra):
    if command != "run":
        args.pop("--confidence", None)
    if command == "show":
        args.pop("--trials", None)
    code, _, err = call("protocols", command, *argv_of(args, extra))
    assert_clean(code, err)


@FUZZ
@given(text=st.text(max_size=30), k=sizes(st.integers(0, 6)), extra=st.lists(st.sampled_from(["--json", "--x"]),
                                                                            max_size=1))
def test_fuzzed_hop_succeeds_or_refuses_in_one_line(text, k, extra):
    code, _, err = call("reductions", "hop", "--k", k, "--", text, *extra) if not extra else call(
        "reductions", "hop", "--k", k, *extra, "--", text)
    assert_clean(code, err)


@FUZZ
@given(q=sizes(st.integers(2, 12)), k=sizes(st.integers(1, 4)), seed=sizes(st.integers(0, 99)),
       length=st.one_of(st.none(), sizes(st.integers(1, 200))), start=st.one_of(st.none(), sizes(st.integers(0, 12))))
def test_fuzzed_encode_succeeds_or_refuses_in_one_line(q, k, seed, length, start):
    argv = ["encode", "--q", q, "--k", k, "--seed", seed, "--json"]
    argv += [] if length is None else ["--length", length]
    argv += [] if start is None else ["--start", start]
    code, _, err = call("reductions", *argv)
    assert_clean(code, err)


@FUZZ
@given(model=st.one_of(st.sampled_from(sorted(MODELS)), st.just("nope")), width=sizes(st.integers(1, 6)),
       layers=sizes(st.integers(1, 2)), k=sizes(st.integers(1, 3)), precision=sizes(st.integers(4, 20)),
       trials=sizes(st.integers(1, 8)), q=st.one_of(st.none(), sizes(st.integers(2, 4))),
       extra=st.lists(st.sampled_from(["--form", "bogus", "hash", "--heads", "0", "--n", "3", "--frac", "-2"]),
                      max_size=3))
def test_fuzzed_verify_succeeds_or_refuses_in_one_line(model, width, layers, k, precision, trials, q, extra):
    argv = ["verify", "--model", model, "--width", width, "--layers", layers, "--k", k, "--precision", precision,
            "--trials", trials, "--splits", "1"]
    argv += [] if q is None else ["--q", q]
    code, _, err = call("reductions", *argv, *extra)
    assert_clean(code, err)


@FUZZ
@given(k=sizes(st.integers(0, 6)), n=sizes(st.integers(1, 40)), trials=sizes(st.integers(1, 10)),
       layers=st.one_of(st.none(), sizes(st.integers(1, 4))), parties=st.one_of(st.none(), sizes(st.integers(1, 8))),
       alphabet=sizes(st.integers(1, 5)), verify=st.one_of(st.none(), sizes(st.integers(0, 3))))
def test_fuzzed_construct_hop_succeeds_or_refuses_in_one_line(k, n, trials, layers, parties, alphabet, verify):
    argv = ["construct-hop", "--k", k, "--n", n, "--trials", trials, "--alphabet", alphabet]
    for flag, value in (("--layers", layers), ("--parties", parties), ("--verify-protocol", verify)):
        if value is not None:
            argv += [flag, value]
    code, _, err = call("reductions", *argv)
    assert_clean(code, err)


# ------------------------------------------------ refusals as a user meets them
def measured(package: str, *argv: str) -> tuple[subprocess.CompletedProcess, float, float]:
    """A subprocess run with its wall time and peak RSS in MB.

    The peak is the child's own VmHWM (getrusage's ru_maxrss would include the
    forked test worker's, which Linux keeps across exec).
    """
    code = (
        "import re, runpy, sys\n"
        f"sys.argv = ['python -m {package}', *{list(argv)!r}]\n"
        "try:\n"
        f"    runpy.run_module('{package}', run_name='__main__')\n"
        "finally:\n"
        "    hwm = re.search(r'VmHWM:\\s+(\\d+)', open('/proc/self/status').read()).group(1)\n"
        "    open(RSS_FILE, 'w').write(hwm)\n"
    ).replace("RSS_FILE", repr(str(ROOT / f".rss-{os.getpid()}")))
    t0 = time.perf_counter()
    res = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120,
                         env={**os.environ, "PYTHONPATH": str(ROOT)})
    seconds = time.perf_counter() - t0
    rss_file = ROOT / f".rss-{os.getpid()}"
    rss = int(rss_file.read_text()) / 1024
    rss_file.unlink()
    return res, seconds, rss


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="reads VmHWM from /proc")
@pytest.mark.parametrize("package, argv", [
    ("protocols", ("run", "--protocol", "one-hop-per-round", "--q", "1000000000", "--k", "8")),
    ("protocols", ("run", "--protocol", "one-hop-per-round", "--q", "256", "--k", "1000000")),
    ("reductions", ("encode", "--q", "1000000000", "--k", "3", "--seed", "0")),
    ("reductions", ("verify", "--model", "gru", "--width", "1000000")),
])
def test_a_refusal_is_fast_small_and_one_line(package, argv):
    res, seconds, rss = measured(package, *argv)
    assert res.returncode == 2 and "Traceback" not in res.stderr
    assert res.stderr.count("\n") == 1 and res.stderr.startswith(f"python -m {package}: error: ")
    assert seconds < 60 and rss < 400, (seconds, rss)
