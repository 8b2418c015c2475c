"""Every script in examples/ runs as written (at its --small sizes) and prints what it promises."""

from __future__ import annotations

import ast
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples"

#: example stem -> regular expressions its output must match (re.MULTILINE).
EXPECTED: dict[str, list[str]] = {
    "own_protocol": [
        r"^relay R=3 s=4: success 1\.000  95% CI \[0\.99\d, 1\.000\]  \(400/400\)$",
        r"^relay R=2 s=4: success 0\.[3-6]\d\d",  # one round short: a coin flip
        r"^round 0 speaker 2 \[   4 bits\] [01]{4}  = vertex \d+$",
        r"^audit relay: ok=True \(9 messages re-run\)$",
        r"^peeker R=1 s=1: success 1\.000",
        r"^audit peeker: ok=False$",
        r"^  flagged: speaker 2 in round 0: message changed on \d+ instance",
    ],
    "verify_gru": [
        r"^compiled: k=3 R=2 s=48 bits per message$",
        r"^verify split even .* agree 200/200  R=2 s=48 \(formula 48\)  board checked: True$",
        r"^verify split one-token chunks first +\(0, 1, 2, 37\) .* agree 200/200",
        r"^verify split random, 2k players +\(0(, \d+){5}, 37\) .* agree 200/200",
        r"^pointer chasing q=6 k=3 \(N=37\): success 0\.\d{3}  95% CI .* model == protocol on 200/200$",
    ],
    "verify_kernel_attention": [
        r"^causal: KernelFormer\(.*causal=True",
        r"^unmasked: KernelFormer\(.*causal=False",
        r"^  compiled: k=3 R=2 s=560 = H·\(m′·m \+ m′\)·acc_bits = 1·\(4·4 \+ 4\)·28$",
        r"^  verify split random .* agree 60/60  s=560 \(formula 560\)  board checked: True$",
        r"^  pointer chasing q=4 k=3 \(N=25\): .* model == protocol on 60/60$",
    ],
    "verify_cot": [
        r"^generated tokens of instance 0: chain of thought \[\d+\], answer \d+$",
        r"^verify split even .* answer agrees 60/60, all 1 CoT tokens agree: True  R=2 s=\d+ \(formula \d+\)$",
        r"^verify split random .* all 1 CoT tokens agree: True",
        r"^pointer chasing q=4 k=3 \(N=25\): .* model == protocol on 60/60$",
        r"binding: T \+ 1 < k",
    ],
    "custom_sweep": [
        r"^sweep: 6 cells run, 0 reused from .*sampling\.csv \(process\)$",
        r"^again: 0 cells run, 6 reused$",
        r"^k=3: least s reaching 2/3 = \d+; lower bound c·q/k\^5 = 0\.132 \(c = 1\)$",
    ],
    "log_depth_construction": [
        r"^  2  3  1  16  16    200/200              3      1536  none \(R >= k\)$",
        r"^  8  5  1  16  16    200/200              5       384  9\.16e-05$",  # R = 5 < k: the bound applies
    ],
}


def _run(stem: str, *extra: str) -> subprocess.CompletedProcess:
    env = dict(
        os.environ,
        MPLBACKEND="Agg",
        PYTHONPATH=os.pathsep.join([str(ROOT), *filter(None, [os.environ.get("PYTHONPATH")])]),
    )
    return subprocess.run(
        [sys.executable, str(EXAMPLES / f"{stem}.py"), "--small", *extra],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_every_example_is_tested_and_documented():
    stems = sorted(p.stem for p in EXAMPLES.glob("*.py"))
    assert stems == sorted(EXPECTED), "add new examples to EXPECTED (and remove deleted ones)"
    for stem in stems:
        doc = ast.get_docstring(ast.parse((EXAMPLES / f"{stem}.py").read_text()))
        assert doc and "What it shows" in doc, f"{stem}.py needs a module docstring saying what it shows"
        assert f"python examples/{stem}.py --small" in doc, f"{stem}.py's docstring must say how to run it"


@pytest.mark.parametrize("stem", sorted(set(EXPECTED) - {"custom_sweep"}))
def test_example_runs(stem):
    proc = _run(stem)
    assert proc.returncode == 0, f"{stem}.py failed:\n{proc.stderr[-3000:]}"
    for pattern in EXPECTED[stem]:
        assert re.search(pattern, proc.stdout, re.MULTILINE), f"{stem}.py output lacks {pattern!r}:\n{proc.stdout}"


def test_custom_sweep_writes_its_table_and_plot(tmp_path):
    proc = _run("custom_sweep", "--out", str(tmp_path))
    assert proc.returncode == 0, f"custom_sweep.py failed:\n{proc.stderr[-3000:]}"
    for pattern in EXPECTED["custom_sweep"]:
        assert re.search(pattern, proc.stdout, re.MULTILINE), f"output lacks {pattern!r}:\n{proc.stdout}"
    png = tmp_path / "success_vs_s.png"
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 10_000
    rows = (tmp_path / "sampling.csv").read_text().splitlines()
    assert len(rows) == 2 + 6 and rows[0].startswith("# kparty-sweep-results/") and rows[1].startswith("key,kind,name,")
