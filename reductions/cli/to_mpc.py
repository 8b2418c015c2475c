"""Compile a softmax transformer into an MPC protocol ([SHT24] Thm 3.4), run it, and compare with the model.

``python -m reductions to-mpc --model hop-construction --k K --n N [--trials T] [--branching B] [--json]``
builds the log-depth k-hop construction (or ``--model transformer``: a seeded
random softmax transformer with ``--layers --width --heads --vocab
--precision``), runs the compiled protocol of
:mod:`reductions.compilers.transformer_to_mpc` on ``--trials`` random sequences
of length N, and counts the sequences on which every output equals
``model.forward`` (bit for bit).  Rounds, machines and memory are measured by
the MPC engine and printed beside the formulas: ours ``R = 4·D·L + 2`` and
[SHT24]'s ``L·(2D + 3)`` (docs/definitions.md §9).

JSON keys: model, k, n, trials, seed, agree, layers, heads, width, head_dim,
branching, depth, rounds, rounds_formula, paper_rounds, machines,
machines_formula, paper_machines, token_machines, inner_product_machines,
propagation_machines, s, s_formula, paper_s, delta, delta_prime, word_bits,
max_words_held, max_words_sent, max_words_received, total_words_sent,
seconds.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from protocols.cli_support import UsageError, emit_json
from protocols.seeding import as_generator, child_seed
from reductions.compilers.transformer_to_mpc import run_transformer_mpc
from reductions.constructions.hop_construction import hop_construction
from reductions.models.transformer import SoftmaxTransformer

__all__ = ["add_arguments", "run", "measure"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model", choices=("hop-construction", "transformer"), default="hop-construction",
                        help="the log-depth k-hop construction or a random softmax transformer")
    parser.add_argument("--k", type=int, default=8, help="hops k of the construction (default 8)")
    parser.add_argument("--n", type=int, required=True, help="sequence length N")
    parser.add_argument("--trials", type=int, default=10, help="random sequences (default 10)")
    parser.add_argument("--branching", type=int, default=None, help="tree fan-out b (default ceil(sqrt N))")
    parser.add_argument("--alphabet", type=int, default=4, help="alphabet of the construction (default 4)")
    parser.add_argument("--layers", type=int, default=2, help="random transformer: layers (default 2)")
    parser.add_argument("--width", type=int, default=8, help="random transformer: width m (default 8)")
    parser.add_argument("--heads", type=int, default=1, help="random transformer: heads H (default 1)")
    parser.add_argument("--vocab", type=int, default=4, help="random transformer: vocabulary (default 4)")
    parser.add_argument("--precision", type=int, default=16, help="random transformer: bits p (default 16)")
    parser.add_argument("--seed", type=int, default=0, help="seed (default 0)")
    parser.add_argument("--audit", type=int, default=1, help="machines re-run alone per round (default 1)")
    parser.add_argument("--json", action="store_true", help="print JSON")


def measure(args: argparse.Namespace) -> dict:
    """Everything the command reports (the JSON output).

    Examples
    --------
    >>> ns = argparse.Namespace(model="hop-construction", k=3, n=20, trials=2, branching=None, alphabet=4,
    ...                         seed=0, audit=1)
    >>> out = measure(ns)
    >>> out["agree"], out["layers"], out["rounds"] == 4 * out["depth"] * out["layers"] + 2
    (2, 4, True)
    """
    for name in ("n", "trials"):
        if getattr(args, name) < 1:
            raise UsageError(f"--{name} {getattr(args, name)}: must be >= 1")
    if args.k < 0:
        raise UsageError(f"--k {args.k}: the number of hops must be >= 0")
    if args.branching is not None and args.branching < 2:
        raise UsageError(f"--branching {args.branching}: the trees need a fan-out >= 2")
    if args.audit < 0:
        raise UsageError(f"--audit {args.audit}: must be >= 0")
    if args.model == "hop-construction":
        model = hop_construction(args.k, max_len=args.n, alphabet=args.alphabet).model
        vocab = args.alphabet
    else:
        for name in ("layers", "width", "heads", "vocab", "precision"):
            if getattr(args, name) < 1:
                raise UsageError(f"--{name} {getattr(args, name)}: must be >= 1")
        model = SoftmaxTransformer.random(vocab=args.vocab, layers=args.layers, width=args.width,
                                          heads=args.heads, precision=args.precision, max_len=args.n,
                                          seed=child_seed(args.seed, 0))
        vocab = args.vocab
    x = as_generator(child_seed(args.seed, 1)).integers(0, vocab, (args.trials, args.n))
    want = model.forward(x)
    agree, out = 0, {}
    worst = ("max_words_held", "max_words_sent", "max_words_received")
    for t in range(args.trials):
        r = run_transformer_mpc(model, x[t], args.branching, seed=child_seed(args.seed, 2, t), audit=args.audit)
        agree += int(np.array_equal(r.output, want[t]))
        now = r.summary()
        out = {**now, **{w: max(out.get(w, 0), now[w]) for w in worst}}  # maxima over every trial
    return {"model": args.model, "k": args.k if args.model == "hop-construction" else None, "n": args.n,
            "trials": args.trials, "seed": args.seed, "agree": agree, **out}


def run(args: argparse.Namespace) -> int:
    t0 = time.perf_counter()
    out = measure(args)
    out["seconds"] = round(time.perf_counter() - t0, 3)
    if args.json:
        emit_json(out)
        return 0
    print(f"{out['model']} (L = {out['layers']}, H = {out['heads']}, m = {out['width']}, d = {out['head_dim']}) "
          f"as MPC on N = {out['n']}: agrees with the model on {out['agree']} / {out['trials']} sequences")
    print(f"  R = {out['rounds']} rounds (ours 4·D·L + 2 = {out['rounds_formula']}, [SHT24] L·(2D+3) = "
          f"{out['paper_rounds']}), D = {out['depth']}, b = {out['branching']}")
    print(f"  M = {out['machines']} machines ({out['token_machines']} token, {out['inner_product_machines']} "
          f"inner-product, {out['propagation_machines']} propagation; [SHT24] count {out['paper_machines']})")
    print(f"  s = {out['s']} words (formula {out['s_formula']}, [SHT24] 4·m·H·b = {out['paper_s']}); measured max "
          f"held {out['max_words_held']}, sent {out['max_words_sent']}, received {out['max_words_received']}")
    return 0
