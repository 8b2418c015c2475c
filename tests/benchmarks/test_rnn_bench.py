"""Benchmark: verifying a compiled GRU costs at most 3x running the model alone (issue 4).

2-layer GRU, m = 64, p = 16; 256 sequences of length 4,096 split 8 ways.
Verification = the model's own run (recording the states at the chunk ends)
+ the compiled protocol through the engine (speakers recompute lower layers
on their chunks, so the protocol alone does 3 layer-passes to the model's 2)
+ comparing outputs and every message.  The ratio is measured in one run,
best of ``REPEATS`` interleaved repetitions for each side.

Run: ``python -m pytest tests/benchmarks/test_rnn_bench.py -q -s -p no:randomly``.
The module asks OpenBLAS for one thread (``OPENBLAS_NUM_THREADS=1`` unless set)
before numpy loads: the per-position products are small (256 x 64 by 64 x 192),
and on a shared 2-core machine OpenBLAS's worker threads spin against other
processes, which made both sides ~5x slower in our runs (the ratio is a ratio
either way; only the wall time suffers).
"""

from __future__ import annotations

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # must precede the first numpy import

import time  # noqa: E402

from reductions.compilers.splits import even_boundaries  # noqa: E402
from reductions.models import GRU  # noqa: E402
from reductions.verify import random_tokens, verify  # noqa: E402

BATCH, LENGTH, K, WIDTH, LAYERS, PRECISION = 256, 4096, 8, 64, 2, 16
REPEATS = 2
TARGET = 3.0


def timed(fn) -> float:
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


def test_verify_costs_at_most_3x_the_model():
    model = GRU.random(vocab=16, layers=LAYERS, width=WIDTH, precision=PRECISION, seed=0)
    x = random_tokens(16, BATCH, LENGTH, seed=1)
    b = even_boundaries(LENGTH, K)
    report = verify(model, x, b)  # warm-up (nonlinearity tables) and correctness
    assert report.agree == BATCH and report.bits == WIDTH * PRECISION and report.board_checked
    # Interleaved, so that a change in machine load hits both sides alike; best of REPEATS each.
    t_model, t_verify = float("inf"), float("inf")
    for _ in range(REPEATS):
        t_model = min(t_model, timed(lambda: model.forward(x)))
        t_verify = min(t_verify, timed(lambda: verify(model, x, b)))
    ratio = t_verify / t_model
    print(f"\nGRU L={LAYERS} m={WIDTH} p={PRECISION}, B={BATCH}, N={LENGTH}, k={K} "
          f"(OPENBLAS_NUM_THREADS={os.environ.get('OPENBLAS_NUM_THREADS', 'unset')}): "
          f"model {t_model:.2f} s, verify {t_verify:.2f} s, ratio {ratio:.2f} (target <= {TARGET})")
    assert ratio <= TARGET
