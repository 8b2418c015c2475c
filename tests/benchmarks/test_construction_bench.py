"""The log-depth construction beyond 32-bit fixed point at the sizes of issue 16 (error counts, not ratios).

Run: ``python -m pytest tests/benchmarks/test_construction_bench.py -q -s -p no:randomly``

(a) k = 3, N = 6145 over 2050 symbols (pointer chasing at q = 1024; p = 43): error 0
    on ``KPARTY_BENCH_SEQUENCES`` (default 1000) uniform sequences, and the compiled
    protocol agrees with the model — and both answer correctly — on as many
    encoded pointer-chasing instances.
(b) k = 16, N = 10^5 over 4 symbols (p = 52): error 0 on the same number of sequences.

Softmax attention costs N^2 per layer and sequence, so (a) takes about a second
per sequence on an idle core and (b) minutes; set ``KPARTY_BENCH_SEQUENCES`` to
run fewer (the printed line states how many were checked).
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


def _errors(k: int, n: int, alphabet: int, batch: int, seed: int) -> tuple[int, int, float]:
    c = hop_construction(k, max_len=n, alphabet=alphabet)
    errors = checked = 0
    t0 = time.perf_counter()
    for start in range(0, SEQUENCES, batch):
        x = random_sequences(min(batch, SEQUENCES - start), n, alphabet, seed=seed + start)
        errors += int((c(x) != hop(x, k)).any(axis=1).sum())
        checked += len(x)
    return errors, checked, time.perf_counter() - t0


def test_a_pointer_chasing_scale():
    errors, checked, dt = _errors(3, 6145, 2050, batch=4, seed=100)
    c = hop_construction(3, max_len=6145, alphabet=2050)
    t0 = time.perf_counter()
    rep = pointer_chasing_success(c.model, PointerChasing(q=1024, k=3), trials=SEQUENCES, seed=7, batch_size=4)
    dp = time.perf_counter() - t0
    print(f"\n(a) k=3, N=6145, 2050 symbols, p={c.precision}: {errors} wrong of {checked} sequences ({dt:.0f} s); "
          f"protocol = model on {rep.agree} of {rep.trials} encoded instances, success {rep.success:.4f} ({dp:.0f} s)")
    assert errors == 0 and rep.agree == rep.trials == SEQUENCES and rep.success == 1.0


def test_b_long_sequences():
    errors, checked, dt = _errors(16, 10**5, 4, batch=1, seed=200)
    print(f"\n(b) k=16, N=10^5, 4 symbols, p=52: {errors} wrong of {checked} sequences ({dt:.0f} s)")
    assert errors == 0 and checked == SEQUENCES
