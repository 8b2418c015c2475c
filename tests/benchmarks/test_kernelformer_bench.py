"""Benchmark: verifying a compiled KernelFormer costs at most 3x running the model alone (issue 5).

2-layer causal KernelFormer, m = 32, m′ = 64 (Performer features), H = 2,
p = 16; 256 sequences of length 4,096 split 8 ways.  Verification = the
model's own run (also summing every chunk's φ(k)vᵀ and φ(k) per layer, to
predict the board) + the compiled protocol through the engine (speakers
recompute lower layers on their chunks; the last speaker reads out only the
last position) + comparing outputs and every message.  The ratio is measured
in one run, best of ``REPEATS`` for each side.

Run: ``python -m pytest tests/benchmarks/test_kernelformer_bench.py -q -s -p no:randomly``
(on a busy 2-core machine, ``OPENBLAS_NUM_THREADS=1`` makes both sides faster;
the ratio holds either way).
"""

from __future__ import annotations

import os
import time

import pytest

from reductions.compilers.kernelformer_to_protocol import bits_formula
from reductions.compilers.splits import even_boundaries
from reductions.models.kernelformer import KernelFormer
from reductions.verify import random_tokens, verify

pytestmark = pytest.mark.benchmark

BATCH, LENGTH, K = 256, 4096, 8
WIDTH, FEATURES, HEADS, LAYERS, PRECISION = 32, 64, 2, 2, 16
REPEATS = 2
TARGET = 3.0


def best(fn, repeats: int = REPEATS) -> float:
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return min(times)


def test_verify_costs_at_most_3x_the_model():
    model = KernelFormer.random(vocab=16, layers=LAYERS, width=WIDTH, heads=HEADS, features=FEATURES,
                                precision=PRECISION, max_len=LENGTH, seed=0)
    x = random_tokens(16, BATCH, LENGTH, seed=1)
    b = even_boundaries(LENGTH, K)
    t_model = best(lambda: model.forward(x))
    reports = []
    t_verify = best(lambda: reports.append(verify(model, x, b)))
    report = reports[-1]
    assert report.ok and report.board_checked and report.agree == BATCH
    assert report.bits == bits_formula(model) == model.state_bits()
    ratio = t_verify / t_model
    print(f"\nKernelFormer L={LAYERS} m={WIDTH} m'={FEATURES} H={HEADS} p={PRECISION}, B={BATCH}, N={LENGTH}, "
          f"k={K}, s={report.bits} (OPENBLAS_NUM_THREADS={os.environ.get('OPENBLAS_NUM_THREADS', 'unset')}): "
          f"model {t_model:.2f} s, verify {t_verify:.2f} s, ratio {ratio:.2f} (target <= {TARGET})")
    assert ratio <= TARGET
