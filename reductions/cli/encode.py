"""Encode a random pointer-chasing instance as a k-hop sequence (docs/definitions.md §4).

``python -m reductions encode --q 4 --k 3 --seed 0 [--start V] [--length N] [--json]``
prints the sequence with each speaker's block marked, and checks that
``hop_k(x)[N-1] = 2q + answer``.  JSON keys: q, k, N, alphabet, pad, tokens,
layers (``layers[j-1]`` = E_j as the list of images of 0..q-1), start, classes
(the class of each vertex of V_{k+1}), path, answer, hop_last, boundaries,
speakers (who holds which block).
"""

from __future__ import annotations

import argparse

from protocols.budget import budget_scope, require
from protocols.cli.common import add_resource_arguments
from protocols.cli_support import UsageError, emit_json
from protocols.problems.pointer_chasing import PointerChasing
from reductions.khop.instance import class_token, sequence_length
from reductions.khop.pointer_chasing_to_hop import encode
from reductions.khop.task import hop

__all__ = ["add_arguments", "run"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--q", type=int, required=True, help="layer size q (>= 2)")
    parser.add_argument("--k", type=int, required=True, help="number of edge layers k (>= 1)")
    parser.add_argument("--seed", type=int, required=True, help="seed of the random instance")
    parser.add_argument("--start", type=int, default=None, help="start vertex v in V_1 (default 0)")
    parser.add_argument(
        "--length", type=int, default=None, help="pad on the left to this sequence length N"
    )
    add_resource_arguments(parser, progress=False)
    parser.add_argument("--json", action="store_true", help="print JSON")


def run(args: argparse.Namespace) -> int:
    with budget_scope(args.memory_budget):
        return _encode(args)


def _encode(args: argparse.Namespace) -> int:
    if args.q < 2 or args.k < 1:
        raise UsageError(f"--q {args.q} --k {args.k}: pointer chasing needs q >= 2 and k >= 1")
    if args.seed < 0:
        raise UsageError(f"--seed {args.seed}: seeds are non-negative")
    start = 0 if args.start is None else args.start
    pc = PointerChasing(q=args.q, k=args.k, start=start)
    n = max(2 * args.k * args.q + 1, args.length or 0)
    # The sequence (int64 tokens), hop_k's doubling tables over it, and the printed text.
    require(64 * n + pc.instance_bytes(), f"a k-hop sequence of N = {n} tokens")
    inst = pc.sample(1, seed=args.seed)
    h = encode(inst, args.length)
    q, k = args.q, args.k
    tokens = h.tokens[0].tolist()
    last = int(hop(h.tokens, k)[0, -1])
    answer = int(pc.answer(inst)[0])
    if last != 2 * q + answer:  # the claim of §4; a failure here is a bug, not misuse
        raise RuntimeError(f"hop_k(x)[N-1] = {last} but 2q + answer = {2 * q + answer}")
    b = h.boundaries.tolist()
    speakers = [{"speaker": i, "layer": k - i, "from": b[i], "to": b[i + 1]} for i in range(k)]
    if args.json:
        emit_json(
            {
                "q": q,
                "k": k,
                "N": h.length,
                "alphabet": h.alphabet,
                "pad": h.pad,
                "tokens": tokens,
                "layers": [layer[0].tolist() for layer in inst.layers],
                "start": int(inst.start[0]),
                "classes": inst.classes.tolist(),
                "path": inst.path()[0].tolist(),
                "answer": answer,
                "hop_last": last,
                "boundaries": b,
                "speakers": speakers,
            }
        )
        return 0
    path = " -> ".join(str(v) for v in inst.path()[0].tolist())
    print(
        f"pointer chasing q = {q}, k = {k}, seed {args.seed}: path v_1..v_{k + 1} = {path}; "
        f"answer (class of v_{k + 1}) = {answer}"
    )
    for j, layer in enumerate(inst.layers, start=1):
        print(f"  E_{j} = {layer[0].tolist()}")
    print(f"  classes of V_{k + 1} = {inst.classes.tolist()}")
    kinds = f"V_odd 0..{q - 1}, V_even {q}..{2 * q - 1}, classes {class_token(q, 0)}/{class_token(q, 1)}"
    if h.pad:
        kinds += f", pad {h.pad_token}"
    print(
        f"k-hop sequence: N = {h.length} (2kq + 1 = {sequence_length(q, k)}, pad {h.pad}), "
        f"alphabet {h.alphabet} ({kinds})"
    )
    width = len(f"[{b[-1]}, {b[-1]})")
    for s in speakers:
        i, lo, hi = s["speaker"], s["from"], s["to"]
        chunk = tokens[lo:hi]
        parts = []
        if i == 0 and h.pad:
            parts.append(" ".join(map(str, chunk[: h.pad])) + " |")
            chunk = chunk[h.pad :]
        if i == k - 1:
            parts.append(" ".join(map(str, chunk[:-1])) + f" | {chunk[-1]}")
        else:
            parts.append(" ".join(map(str, chunk)))
        span = f"[{lo}, {hi})"
        print(f"  speaker {i} (P_{k - i}, block of E_{k - i}) {span:>{width}}: {' '.join(parts)}")
    print(
        f"  (the last token {tokens[-1]} is label_1(v), v = {int(inst.start[0])}, "
        f"held by speaker {k - 1})"
    )
    print(f"hop_{k}(x)[N-1] = {last} = 2q + {last - 2 * q}: class {answer}")
    return 0
