"""The log-depth k-hop transformer, checked against hop_k and priced as a protocol.

What it shows
-------------
1. ``hop_construction(k, max_len, alphabet)``: explicit weights for a causal
   softmax transformer with one head, width 16 and L = ceil(log2 k) + 2 layers
   that computes hop_k at every position ([SHT24] Thm 4.2; docs/definitions.md §3) —
   no training.  Its fixed-point softmax is an exact argmax.
2. A check against ``reductions.hop`` on sampled sequences (uniform and with
   no two equal neighbours, the paper's distribution), every position.
3. The other side of the parallelism tradeoff: compiled for k speakers, the
   same transformer is a protocol with only R = L << k rounds, but each speaker
   publishes the keys and values of its whole chunk every layer, so
   s ≈ (N/k)·2·d·H·p — far above the c·N/k^6 that R < k would force.  Few rounds
   are only possible because the messages are enormous (docs/definitions.md §5).

Run it (from the repository root, after ``pip install -e .``)::

    python examples/log_depth_construction.py                # k = 2..16, N = 100, 1000 sequences
    python examples/log_depth_construction.py --small        # tiny sizes, a few seconds
"""

from __future__ import annotations

import argparse

import numpy as np

from lowerbounds import sequence_bits
from reductions import even_boundaries, hop, hop_construction, to_protocol, verify
from reductions.khop.sequences import random_sequences


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--k", type=int, nargs="+", default=[2, 3, 4, 8, 16], help="hop counts")
    ap.add_argument("--length", type=int, default=100, help="sequence length N")
    ap.add_argument("--alphabet", type=int, default=4, help="alphabet size (the paper uses 4)")
    ap.add_argument("--batch", type=int, default=1000, help="sequences checked per k")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--small", action="store_true", help="tiny sizes (for the test suite)")
    args = ap.parse_args()
    if args.small:
        args.k, args.length, args.batch = [2, 3, 8], 24, 200
    n, V = args.length, args.alphabet

    print(
        f"{'k':>3} {'L':>2} {'H':>2} {'m':>3} {'p':>3}  {'exact on':>12}  {'protocol R':>10} {'s (bits)':>9}  c·N/k^6"
    )
    for k in args.k:
        c = hop_construction(k, max_len=n, alphabet=V)
        # Half uniform, half with distinct neighbours: equal neighbours exercise find(i) = i.
        x = np.concatenate(
            [
                random_sequences(args.batch // 2, n, V, seed=args.seed + k),
                random_sequences(
                    args.batch - args.batch // 2, n, V, distinct_neighbours=True, seed=args.seed + 100 + k
                ),
            ]
        ).astype(np.int64)
        ok = (c(x) == hop(x, k)).all(axis=1)
        assert ok.all(), f"construction differs from hop_{k} on {np.count_nonzero(~ok)} sequences"

        # The same weights as a k-party protocol: an even split of the N positions.
        b = even_boundaries(n, k)
        p = to_protocol(c.model, b)
        rep = verify(c.model, x[: min(len(x), 64)], b)  # the protocol's answer is the model's, bit for bit
        assert rep.ok, rep  # outputs agree, R and s equal the formulas
        # The bound only constrains protocols with R < k rounds.
        need = f"{float(sequence_bits(n, k)):.3g}" if p.R < k else "none (R >= k)"
        print(
            f"{k:>3} {c.layers:>2} {c.heads:>2} {c.width:>3} {c.precision:>3}  "
            f"{int(ok.sum()):>5}/{len(ok):<6}  {p.R:>10} {p.s:>9}  {need}"
        )
    print(
        "R = L = ceil(log2 k) + 2 rounds, far fewer than k once k > 4; the price is s, "
        "which grows like N/k — not N/k^6."
    )


if __name__ == "__main__":
    main()
