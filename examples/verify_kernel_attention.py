"""Compile a kernel-attention transformer (Performer-style) into a protocol and verify it.

What it shows
-------------
1. ``KernelFormer``: softmax(QKᵀ) replaced by φ(Q)φ(K)ᵀ with m′ random features,
   in exact fixed point, both causally masked and unmasked.
2. ``to_protocol``: R = L rounds; per layer and head a speaker writes its
   chunk's Σ φ(k) vᵀ (m′×m) and Σ φ(k) (m′) as exact integers, so
   s = H·(m′·m + m′)·acc_bits (docs/definitions.md §5, [SHT24] Cor. 5.3).  Because the
   sums are exact, any grouping of positions gives the same bits — that is
   what makes every split agree.
3. ``verify`` on several splits (model == protocol, messages == predicted sums).
4. ``pointer_chasing_success`` on encoded pointer chasing, and the message
   size beside c·N/k^6.

Run it (from the repository root, after ``pip install -e .``)::

    python examples/verify_kernel_attention.py            # q = 8, k = 3, 300 trials
    python examples/verify_kernel_attention.py --small    # tiny sizes, a few seconds
"""

from __future__ import annotations

import argparse

from lowerbounds import kernel_attention_bound
from protocols import PointerChasing
from reductions import even_boundaries, pointer_chasing_success, random_boundaries, to_protocol, verify
from reductions.khop.instance import encoding_alphabet, sequence_length
from reductions.models import KernelFormer
from reductions.verify import random_tokens


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--q", type=int, default=8, help="layer size q of pointer chasing")
    ap.add_argument("--k", type=int, default=3, help="players k (and hops)")
    ap.add_argument("--layers", type=int, default=2, help="layers L (= rounds R)")
    ap.add_argument("--width", type=int, default=8, help="model width m")
    ap.add_argument("--features", type=int, default=8, help="feature dimension m′")
    ap.add_argument("--heads", type=int, default=2, help="heads H")
    ap.add_argument("--precision", type=int, default=16, help="bits p per number")
    ap.add_argument("--trials", type=int, default=300)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--small", action="store_true", help="tiny sizes (for the test suite)")
    args = ap.parse_args()
    if args.small:
        args.q, args.width, args.features, args.heads, args.precision, args.trials = 4, 4, 4, 1, 12, 60

    q, k = args.q, args.k
    n, vocab = sequence_length(q, k), encoding_alphabet(q)  # the encoding's N and alphabet (docs/definitions.md §4)
    x = random_tokens(vocab, batch=args.trials, length=n, seed=args.seed + 1)
    pc = PointerChasing(q=q, k=k)
    for causal in (True, False):
        # max_len fixes the accumulator width: exact sums of up to max_len products.
        model = KernelFormer.random(
            vocab=vocab,
            layers=args.layers,
            width=args.width,
            precision=args.precision,
            seed=args.seed,
            heads=args.heads,
            features=args.features,
            max_len=n,
            causal=causal,
        )
        p = to_protocol(model, even_boundaries(n, k))
        print(f"{'causal' if causal else 'unmasked'}: {model!r}")
        print(
            f"  compiled: k={p.k} R={p.R} s={p.s} = H·(m′·m + m′)·acc_bits = "
            f"{args.heads}·({args.features}·{args.width} + {args.features})·{model.acc_bits}"
        )
        splits = {
            "even": even_boundaries(n, k),
            "one-token first": (0, 1, *even_boundaries(n - 1, k - 1)[1:-1], n),
            "random": random_boundaries(n, k, seed=args.seed + 2),
        }
        for name, b in splits.items():
            b = tuple(int(v) for v in b)
            rep = verify(model, x, b, seed=args.seed)
            print(
                f"  verify split {name:<16} {str(b):<18} agree {rep.agree}/{rep.trials}  "
                f"s={rep.bits} (formula {rep.bits_formula})  board checked: {rep.board_checked}"
            )
            assert rep.ok
        # Success counts the output token 2q + class(v_{k+1}); random weights seldom emit it.
        rep = pointer_chasing_success(model, pc, trials=args.trials, seed=args.seed + 3)
        lo, hi = rep.proportion_ci()
        print(
            f"  pointer chasing q={q} k={k} (N={rep.n}): success {rep.success:.3f}  95% CI [{lo:.3f}, {hi:.3f}]  "
            f"model == protocol on {rep.agree}/{rep.trials}"
        )
        need = float(kernel_attention_bound(n, k, L=args.layers))
        print(
            f"  m·m′·H·p = {args.width * args.features * args.heads * args.precision} vs bound c·N/k^6 = "
            f"{need:.2f} (c = 1); message s = {rep.bits} bits"
        )


if __name__ == "__main__":
    main()
