"""Compile a fixed-point GRU into a k-party protocol and verify it, bit for bit.

What it shows
-------------
1. A GRU with random weights computing in exact p-bit fixed point
   (``reductions.models.GRU``): its float64 twin usually agrees token for
   token, but only the fixed-point model is what the protocol reproduces.
2. ``to_protocol(model, boundaries)``: an ordinary ``protocols.Protocol`` with
   R = L rounds and s = m·p bits per message (docs/definitions.md §5, [SHT24] Cor. 5.2).
3. ``verify``: model output == protocol output on every input AND every
   message == the GRU's hidden state at the chunk end, for several splits —
   even, random, and with one-token chunks.
4. ``pointer_chasing_success``: the compiled GRU run on encoded pointer-chasing
   instances (docs/definitions.md §4), its success with a Clopper–Pearson interval, and
   its message size beside the bound c·N/k^6 that an L < k layer RNN must meet.

Run it (from the repository root, after ``pip install -e .``)::

    python examples/verify_gru.py            # q = 16, k = 3, width 16, p = 16
    python examples/verify_gru.py --small    # tiny sizes, a few seconds
"""

from __future__ import annotations

import argparse

import numpy as np

from lowerbounds import rnn_bound
from protocols import PointerChasing
from reductions import even_boundaries, pointer_chasing_success, random_boundaries, to_protocol, verify
from reductions.models import GRU
from reductions.verify import random_tokens


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--q", type=int, default=16, help="layer size q of pointer chasing")
    ap.add_argument("--k", type=int, default=3, help="players k (and hops)")
    ap.add_argument("--layers", type=int, default=2, help="GRU layers L (= rounds R)")
    ap.add_argument("--width", type=int, default=16, help="hidden width m")
    ap.add_argument("--precision", type=int, default=16, help="bits p per number")
    ap.add_argument("--trials", type=int, default=500)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--small", action="store_true", help="tiny sizes (for the test suite)")
    args = ap.parse_args()
    if args.small:
        args.q, args.width, args.precision, args.trials = 6, 4, 12, 200

    q, k = args.q, args.k
    n, vocab = 2 * k * q + 1, 2 * q + 2  # the encoding's length and alphabet (docs/definitions.md §4)
    model = GRU.random(vocab=vocab, layers=args.layers, width=args.width, precision=args.precision, seed=args.seed)
    print(f"{model!r}: state bits per layer m·p = {model.state_bits()}")

    x = random_tokens(vocab, batch=args.trials, length=n, seed=args.seed + 1)
    same = np.mean(model.forward(x)[:, -1] == model.forward_float(x)[:, -1])
    print(
        f"fixed point vs float64 at the last position: {same:.3f} agree "
        "(the protocol must match the fixed-point model exactly, not the float one)"
    )

    # Any split must give the same answer: the message is the state, not a summary of it.
    p = to_protocol(model, even_boundaries(n, k))
    print(f"compiled: k={p.k} R={p.R} s={p.s} bits per message")
    splits = {
        "even": even_boundaries(n, k),
        "one-token chunks first": (0, *range(1, k), n),
        "random": random_boundaries(n, k, seed=args.seed + 2),
        "random, 2k players": random_boundaries(n, 2 * k, seed=args.seed + 3),
    }
    for name, b in splits.items():
        rep = verify(model, x, b, seed=args.seed)
        print(
            f"verify split {name:<24} {str(b):<28} agree {rep.agree}/{rep.trials}  "
            f"R={rep.rounds} s={rep.bits} (formula {rep.bits_formula})  board checked: {rep.board_checked}"
        )
        assert rep.ok

    # On pointer chasing, success means the output token is 2q + class(v_{k+1}).  Random
    # weights seldom even emit a class token; no training can lift an L < k layer GRU to 2/3
    # unless its state holds at least c·N/k^6 bits — here the bound is tiny, so it only bites
    # at sequence lengths far beyond this demo (see lowerbounds.bounds).
    pc = PointerChasing(q=q, k=k)
    rep = pointer_chasing_success(model, pc, trials=args.trials, seed=args.seed + 4)
    lo, hi = rep.proportion_ci()
    print(
        f"pointer chasing q={q} k={k} (N={rep.n}): success {rep.success:.3f}  95% CI [{lo:.3f}, {hi:.3f}]  "
        f"model == protocol on {rep.agree}/{rep.trials}"
    )
    need = float(rnn_bound(rep.n, k, L=args.layers))
    print(
        f"message s = {rep.bits} bits vs bound c·N/k^6 = {need:.2f} (c = 1; "
        f"{'binding: L < k' if args.layers < k else 'vacuous: L >= k'})"
    )


if __name__ == "__main__":
    main()
