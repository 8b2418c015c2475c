"""Compile a one-layer chain-of-thought transformer into a protocol and verify every token.

What it shows
-------------
1. ``ChainOfThought``: one causally masked softmax attention layer that
   appends a public separator, generates T chain-of-thought tokens greedily and
   then the answer, in exact fixed point.
2. ``to_protocol``: R = T + 1 rounds, one per generated token.  In round t each
   speaker writes, per head, its chunk's partial numerator Σ e_j v_j (m values)
   and denominator Σ e_j; everyone adds them up and so knows the next token
   (docs/definitions.md §5, [SHT24] Cor. 5.6).  s = H·(m + 1)·acc_bits.
3. ``verify`` (the answer and every message) plus a check of every
   chain-of-thought token: the tokens any speaker derives from the board equal
   the model's, for several splits.
4. ``pointer_chasing_success`` on encoded pointer chasing, beside the bound:
   T + 1 < k rounds need m·H·p >= c·N/k^6.

Run it (from the repository root, after ``pip install -e .``)::

    python examples/verify_cot.py            # q = 8, k = 4, T = 2, 300 trials
    python examples/verify_cot.py --small    # tiny sizes, a few seconds
"""

from __future__ import annotations

import argparse

from lowerbounds import cot_bound
from protocols import PointerChasing, run
from reductions import (
    even_boundaries,
    pointer_chasing_success,
    random_boundaries,
    split_tokens,
    to_protocol,
    verify,
)
from reductions.models import MODELS
from reductions.verify import random_tokens


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--q", type=int, default=8, help="layer size q of pointer chasing")
    ap.add_argument("--k", type=int, default=4, help="players k (and hops)")
    ap.add_argument("--cot-steps", type=int, default=2, help="chain-of-thought tokens T (R = T + 1)")
    ap.add_argument("--width", type=int, default=8, help="model width m")
    ap.add_argument("--heads", type=int, default=2, help="heads H")
    ap.add_argument("--precision", type=int, default=16, help="bits p per number")
    ap.add_argument("--trials", type=int, default=300)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--small", action="store_true", help="tiny sizes (for the test suite)")
    args = ap.parse_args()
    if args.small:
        args.q, args.k, args.cot_steps, args.width, args.heads, args.precision, args.trials = 4, 3, 1, 4, 1, 12, 60

    q, k, T = args.q, args.k, args.cot_steps
    n, vocab = 2 * k * q + 1, 2 * q + 2  # the encoding's length and alphabet (docs/definitions.md §4)
    # The family registry is how the CLI finds models too (python -m reductions verify --model cot).
    model = MODELS["cot"].random(
        vocab=vocab,
        width=args.width,
        heads=args.heads,
        precision=args.precision,
        seed=args.seed,
        cot_steps=T,
        max_len=n + T + 1,
    )
    print(f"{model!r}")
    x = random_tokens(vocab, batch=args.trials, length=n, seed=args.seed + 1)
    generated = model.forward(x)  # (B, T + 1): the chain of thought, then the answer
    print(
        f"generated tokens of instance 0: chain of thought {generated[0, :-1].tolist()}, answer {int(generated[0, -1])}"
    )

    splits = {
        "even": even_boundaries(n, k),
        "one-token first": (0, 1, *even_boundaries(n - 1, k - 1)[1:-1], n),
        "random": random_boundaries(n, k, seed=args.seed + 2),
    }
    for name, b in splits.items():
        b = tuple(int(v) for v in b)
        rep = verify(model, x, b, seed=args.seed)  # the answer and every message on the board
        assert rep.ok
        # The chain of thought never appears on the board as tokens: each speaker
        # re-derives it from the partial sums.  Check that derivation token by token.
        p = to_protocol(model, b)
        r = run(p, split_tokens(x, b), seed=args.seed)
        cot_ok = bool((p.chain_of_thought(r.board) == generated[:, :-1]).all())
        assert cot_ok and (r.outputs == generated[:, -1]).all()
        print(
            f"verify split {name:<16} {str(b):<20} answer agrees {rep.agree}/{rep.trials}, "
            f"all {T} CoT tokens agree: {cot_ok}  R={rep.rounds} s={rep.bits} (formula {rep.bits_formula})"
        )

    # Success counts the answer token 2q + class(v_{k+1}); random weights seldom emit it.
    rep = pointer_chasing_success(model, PointerChasing(q=q, k=k), trials=args.trials, seed=args.seed + 3)
    lo, hi = rep.proportion_ci()
    print(
        f"pointer chasing q={q} k={k} (N={rep.n}): success {rep.success:.3f}  95% CI [{lo:.3f}, {hi:.3f}]  "
        f"model == protocol on {rep.agree}/{rep.trials}"
    )
    need = float(cot_bound(n, k, T=T))
    mhp = args.width * args.heads * args.precision
    print(
        f"m·H·p = {mhp} vs bound c·N/k^6 = {need:.3g} (c = 1; "
        f"{'binding: T + 1 < k' if T + 1 < k else 'vacuous: T + 1 >= k'}); message s = {rep.bits} bits"
    )


if __name__ == "__main__":
    main()
