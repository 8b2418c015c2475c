"""The sampling protocol's cost grows with the board, not faster (issue 12).

Run: ``python -m pytest tests/benchmarks/test_sampling_k_bench.py -q -s``

``sampling`` at q = 256 for k in {30, 100, 300} (R = k - 1, s = 72, 24, 17 bits):
time per instance divided by the board bits per instance, k·R·s.  Before the fix
every message rebuilt per-layer tables in O(k) Python (and drew k public seeds),
so the cost per board bit grew with k (k = 255: 278 s for 1000 trials; k = 300
ran for more than 10 minutes).  After that, the engine itself was quadratic in
the messages: each turn got a new tuple of all sealed messages so far, and each
read of ``BoardView.messages()`` stacked the whole board (k = 300, 24 instances:
67 s, 48 of them stacking).  The board is now one sealed buffer the engine
writes and speakers view without copies (:func:`protocols.sealing.sealed_buffer`).

Figures per k, from the same run and the same machine state:

- *per instance*: wall time of one engine run on B2 instances, divided by B2;
- *marginal*: (T(B2) - T(B1)) / (B2 - B1), the cost of one more instance, which
  excludes the fixed per-message cost (numpy call overhead, amortised by the
  chunk size the memory budget allows);
- each divided by the board bits k·R·s, and by the messages k·R.

Target (issue 12): the time per instance per board bit, at the same batch
B2 for every k, differs by at most 2x across k.  The marginal figures are
reported beside it; they drop with k because at small k every message also
discloses several items (7 at k = 30, none at k = 300), which costs more than
the bits they occupy.
"""

from __future__ import annotations

import time

import pytest

from protocols import PointerChasing, run
from protocols.library import Sampling

pytestmark = pytest.mark.benchmark

Q, KS, B1, B2 = 256, (30, 100, 300), 24, 240
TARGET = 2.0


def timed_run(pc: PointerChasing, protocol: Sampling, batch: int) -> float:
    inst = pc.sample(batch, seed=1)
    t = time.perf_counter()
    run(protocol, pc.inputs(inst), seed=2, public=pc.public(inst))
    return time.perf_counter() - t


def test_sampling_cost_per_board_bit_is_flat_in_k():
    per_instance, per_bit, per_message = {}, {}, {}
    for k in KS:
        pc = PointerChasing(q=Q, k=k)
        p = Sampling(pc)
        bits, messages = k * p.R * p.s, k * p.R
        t1, t2 = timed_run(pc, p, B1), timed_run(pc, p, B2)
        marginal = max(t2 - t1, 1e-9) / (B2 - B1)
        per_instance[k], per_bit[k], per_message[k] = t2 / B2 / bits, marginal / bits, marginal / messages
        print(f"\nsampling q={Q} k={k}: R={p.R} s={p.s} board {bits} bits; T({B1})={t1:.2f}s T({B2})={t2:.2f}s; "
              f"per instance {per_instance[k] * 1e9:.1f} ns/bit; marginal {per_bit[k] * 1e9:.1f} ns/bit, "
              f"{per_message[k] * 1e6:.2f} us/message")

    def spread(d):
        return max(d.values()) / min(d.values())

    print(f"max/min across k: per instance per bit at B={B2} {spread(per_instance):.2f}x (target <= {TARGET}x); "
          f"marginal per bit {spread(per_bit):.2f}x, per message {spread(per_message):.2f}x")
    assert spread(per_instance) <= TARGET
