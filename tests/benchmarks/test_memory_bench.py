"""Peak memory of ``protocols run`` is bounded by the budget, not by the trials (issue 12).

Run: ``python -m pytest tests/benchmarks/test_memory_bench.py -q -s``

``python -m protocols run --protocol one-hop-per-round --q 65536 --k 8 --trials T``
for T = 10^4 and T = 10^5, each in a fresh subprocess whose peak RSS is read from
``/usr/bin/time -v`` ("Maximum resident set size").  Before the budget, trials
were chunked by board size only, so this small-message protocol sampled every
instance at once: 10.3 GB at T = 10^4 (1.06 GB at T = 10^3).

Targets: the 10^4-trial run peaks at <= 1.5 GB; the 10^5-trial run peaks within
1.2x of the 10^4-trial run.  (Each run takes minutes on a shared 2-core machine;
run this file alone, once.)
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.benchmark

ROOT = Path(__file__).resolve().parents[2]
ARGV = ["-m", "protocols", "run", "--protocol", "one-hop-per-round", "--q", "65536", "--k", "8", "--json",
        "--no-progress"]


def peak_rss_gb(trials: int) -> float:
    res = subprocess.run(["/usr/bin/time", "-v", sys.executable, *ARGV, "--trials", str(trials)], cwd=ROOT,
                         capture_output=True, text=True, env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert res.returncode == 0, res.stderr[-2000:]
    kb = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", res.stderr).group(1))
    return kb / 2**20


@pytest.mark.skipif(not Path("/usr/bin/time").exists(), reason="needs GNU time for the peak RSS")
def test_peak_rss_is_bounded_whatever_the_trials():
    small, large = peak_rss_gb(10_000), peak_rss_gb(100_000)
    print(f"\none-hop-per-round q=65536 k=8: peak RSS {small:.2f} GiB at 1e4 trials (target <= 1.5 GB; "
          f"was 10.3 GB), {large:.2f} GiB at 1e5 trials ({large / small:.2f}x; target <= 1.2x)")
    assert small * 2**30 <= 1.5e9
    assert large <= 1.2 * small
