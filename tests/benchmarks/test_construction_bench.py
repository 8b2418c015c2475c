"""The log-depth construction beyond 32-bit fixed point at the sizes of issue 16 (error counts, not ratios).

Run: ``python -m pytest tests/benchmarks/test_construction_bench.py -q -s -p no:randomly``

(a) k = 3, N = 6145 over 2050 symbols (pointer chasing at q = 1024; p = 43): error 0
    on ``KPARTY_BENCH_SEQUENCES`` (default 1000) uniform sequences, and the compiled
    protocol agrees with the model — and both answer correctly — on
    ``KPARTY_BENCH_INSTANCES`` (default 40) encoded pointer-chasing instances.  The
    protocol runs the dense model's arithmetic (N^2 attention per chunk), ~15 s per
    instance, so it checks fewer instances than the fast path checks sequences.
(b) k = 16, N = 10^5 over 4 symbols (p = 52): error 0 on the same number of sequences.

Softmax attention costs N^2 per layer and sequence (hours for 1000 sequences), so
the error counts use :meth:`HopConstruction.fast`: the same fixed-point model with
each attention computed as the argmax it provably is (equal numbers, checked
against the dense forward in tests/test_hop_construction.py).  Measured on the
shared 2-core box: ~1.4 s per sequence for (a) (the 2051-class readout dominates)
and ~1.8 s for (b) (p = 52 products take the exact wide path).  Set
``KPARTY_BENCH_SEQUENCES`` to run fewer (the printed line states how many were
checked), or run this file as a script for progress lines:
``python tests/benchmarks/test_construction_bench.py a|b SEQUENCES``.
"""

from __future__ import annotations

import os
import time

import pytest

from protocols import PointerChasing
from reductions import hop, hop_construction, random_sequences
from reductions.verify import pointer_chasing_success

pytestmark = pytest.mark.benchmark

SEQUENCES = int(os.environ.get("KPARTY_BENCH_SEQUENCES", "1000"))
INSTANCES = int(os.environ.get("KPARTY_BENCH_INSTANCES", "40"))


def _errors(
    k: int, n: int, alphabet: int, batch: int, seed: int, sequences: int = SEQUENCES, progress: bool = False
) -> tuple[int, int, float]:
    """Wrong sequences, sequences checked and seconds: the construction (fast exact path) against hop."""
    c = hop_construction(k, max_len=n, alphabet=alphabet)
    errors = checked = 0
    t0 = time.perf_counter()
    for start in range(0, sequences, batch):
        x = random_sequences(min(batch, sequences - start), n, alphabet, seed=seed + start)
        errors += int((c.fast(x) != hop(x, k)).any(axis=1).sum())
        checked += len(x)
        if progress:
            dt = time.perf_counter() - t0
            print(f"k={k} N={n} V={alphabet}: {errors} wrong of {checked} ({dt:.0f} s, {dt / checked:.2f} s/seq)",
                  flush=True)
    return errors, checked, time.perf_counter() - t0


def test_a_pointer_chasing_scale():
    errors, checked, dt = _errors(3, 6145, 2050, batch=8, seed=100)
    c = hop_construction(3, max_len=6145, alphabet=2050)
    t0 = time.perf_counter()
    rep = pointer_chasing_success(c.model, PointerChasing(q=1024, k=3), trials=INSTANCES, seed=7, batch_size=4)
    dp = time.perf_counter() - t0
    print(f"\n(a) k=3, N=6145, 2050 symbols, p={c.precision}: {errors} wrong of {checked} sequences ({dt:.0f} s); "
          f"protocol = model on {rep.agree} of {rep.trials} encoded instances, success {rep.success:.4f} ({dp:.0f} s)")
    assert errors == 0 and checked == SEQUENCES and rep.agree == rep.trials == INSTANCES and rep.success == 1.0


def test_b_long_sequences():
    errors, checked, dt = _errors(16, 10**5, 4, batch=1, seed=200)
    print(f"\n(b) k=16, N=10^5, 4 symbols, p=52: {errors} wrong of {checked} sequences ({dt:.0f} s)")
    assert errors == 0 and checked == SEQUENCES


if __name__ == "__main__":
    import sys

    which, count = sys.argv[1], int(sys.argv[2])
    if which == "a":
        _errors(3, 6145, 2050, batch=8, seed=100, sequences=count, progress=True)
    else:
        _errors(16, 10**5, 4, batch=1, seed=200, sequences=count, progress=True)
