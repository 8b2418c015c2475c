"""Build the log-depth k-hop transformer, check it on sampled sequences and show its protocol budget ([SHT24] Thm 4.2).

``python -m reductions construct-hop --k K [--n N] [--trials T] [--seed S] [--json]``
builds the explicit construction (:mod:`reductions.constructions.hop_construction`:
one head per layer, width 16, L = ceil(log2 k) + 2 layers, p-bit fixed point),
runs it on ``--trials`` sampled sequences of length ``--n`` (the paper's
setting by default: alphabet 4, no equal neighbours) and compares every
position with :func:`reductions.hop`, ⊥ included.  Then it compiles the model
for a ``--parties``-party split (default k parties, even split) and prints the
protocol's budget — R = L rounds of s-bit messages (docs/definitions.md §5) — next to
the lower bound c·N/k^6 that any protocol with R < k rounds must meet
(docs/definitions.md §2; the formula of ``lowerbounds.bounds.sequence_bits``).
``--verify-protocol P`` also runs the compiled protocol on P of the sequences.

JSON keys: k, layers, reached, heads, width, head_dim, d_ff, precision, frac,
temperature, n, alphabet, distinct_neighbours, trials, seed, positions, errors,
error_rate, non_bottom_positions, non_bottom_errors, token_error, parties,
boundaries, rounds, bits_per_message, bits_total, bound_c, bound_bits,
rounds_below_k, bits_over_bound, protocol_trials, protocol_agree, seconds.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from protocols import run as run_protocol
from protocols.budget import budget_scope, require
from protocols.cli.common import add_resource_arguments
from protocols.cli_support import UsageError, emit_json
from protocols.seeding import child_seed
from reductions.compilers.splits import even_boundaries, split_tokens
from reductions.compilers.transformer_to_protocol import compile as compile_transformer
from reductions.compilers.transformer_to_protocol import message_bits
from reductions.constructions.hop_construction import hop_construction
from reductions.khop.sequences import random_sequences
from reductions.khop.task import hop

__all__ = ["add_arguments", "run", "construct"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--k", type=int, required=True, help="number of hops k (>= 0)")
    parser.add_argument("--n", type=int, default=100, help="sequence length N (default 100, as in [SHT24])")
    parser.add_argument("--alphabet", type=int, default=4, help="alphabet size (default 4, as in [SHT24])")
    parser.add_argument("--layers", type=int, default=None,
                        help="depth L (default ceil(log2 k) + 2; fewer layers truncate to 2^(L-2) hops)")
    parser.add_argument("--trials", type=int, default=1000, help="sampled sequences to check (default 1000)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the sample (default 0)")
    parser.add_argument("--uniform", action="store_true",
                        help="sample uniform sequences (default: no two equal neighbours, as in [SHT24])")
    parser.add_argument("--parties", type=int, default=None, help="speakers in the protocol split (default k)")
    parser.add_argument("--c", type=float, default=1.0, help="constant c of the bound c·N/k^6 (default 1)")
    parser.add_argument("--verify-protocol", type=int, default=0, metavar="P",
                        help="also run the compiled protocol on P of the sequences (default 0)")
    add_resource_arguments(parser, progress=False)
    parser.add_argument("--json", action="store_true", help="print JSON")


def construct(args: argparse.Namespace) -> dict:
    """Everything the command reports, as a dict (the JSON output).

    Examples
    --------
    >>> ns = argparse.Namespace(k=3, n=30, alphabet=4, layers=None, trials=20, seed=0, uniform=False,
    ...                         parties=None, c=1.0, verify_protocol=0)
    >>> out = construct(ns)
    >>> out["layers"], out["errors"], out["rounds"], out["bits_per_message"] == 10 * 8 * out["precision"]
    (4, 0, 4, True)
    """
    k, n, alphabet, trials = args.k, args.n, args.alphabet, args.trials
    if k < 0:
        raise UsageError(f"--k {k}: the number of hops must be >= 0")
    if n < 1 or trials < 1:
        raise UsageError(f"--n {n}, --trials {trials}: both must be >= 1")
    if not args.uniform and n >= 2 and alphabet < 2:
        raise UsageError(f"--alphabet {alphabet}: sequences without equal neighbours need at least 2 symbols")
    if args.parties is None:
        parties = max(k, 1)
        if parties > n:
            raise UsageError(f"the default split gives each of k = {k} parties a token, but N = {n}; "
                             f"pass --n >= {parties} or a smaller --parties")
    else:
        parties = args.parties
        if not 1 <= parties <= n:
            raise UsageError(f"--parties {parties}: need 1 <= parties <= N = {n}")
    layers = args.layers if args.layers is not None else max(k - 1, 1).bit_length() + 2
    if layers < 1:
        raise UsageError(f"--layers {layers}: the construction needs at least 1 layer")
    # The model: per layer a few 16x16 matrices, and N positions.
    require(8 * layers * 4096 + 8 * n * 16, f"the L = {layers} construction for N = {n}")
    if not 0 <= args.verify_protocol <= trials:
        raise UsageError(f"--verify-protocol {args.verify_protocol}: need 0 <= P <= --trials {trials}")
    c = hop_construction(k, max_len=n, alphabet=alphabet, layers=args.layers)
    # Checking it: the sequences, activations (width 16, a few arrays per layer) and N×N attention scores.
    require(8 * trials * n * (1 + 16 * 4 * (c.layers + 1) + 2 * n),
            f"checking the L = {c.layers} construction on {trials} sequences of N = {n}")
    x = random_sequences(trials, n, alphabet, distinct_neighbours=not args.uniform,
                         seed=child_seed(args.seed, 0)).astype(np.int64)
    want, got = hop(x, k), c(x)
    wrong, bottom = got != want, want == -1
    b = even_boundaries(n, parties)
    s = message_bits(c.model, b)
    bound = args.c * n / float(max(k, 1)) ** 6  # docs/definitions.md §2: c·N/k^6 (lowerbounds.bounds.sequence_bits)
    out = {
        **c.summary(), "n": n, "distinct_neighbours": not args.uniform, "trials": trials, "seed": args.seed,
        "positions": int(x.size), "errors": int(wrong.sum()), "error_rate": float(wrong.mean()),
        "non_bottom_positions": int((~bottom).sum()), "non_bottom_errors": int((wrong & ~bottom).sum()),
        "token_error": float((wrong & ~bottom).sum() / max(1, (~bottom).sum())),
        "parties": parties, "boundaries": list(b), "rounds": c.layers, "bits_per_message": s,
        "bits_total": parties * c.layers * s, "bound_c": args.c, "bound_bits": bound,
        "rounds_below_k": c.layers < k, "bits_over_bound": s / bound if bound > 0 else None,
        "protocol_trials": args.verify_protocol, "protocol_agree": None,
    }
    if args.verify_protocol:
        xs = x[: args.verify_protocol]
        r = run_protocol(compile_transformer(c.model, b), split_tokens(xs, b), seed=child_seed(args.seed, 1))
        out["protocol_agree"] = int((r.outputs == got[: args.verify_protocol, -1]).sum())
    return out


def run(args: argparse.Namespace) -> int:
    t0 = time.perf_counter()
    with budget_scope(args.memory_budget):
        out = construct(args)
    out["seconds"] = round(time.perf_counter() - t0, 3)
    if args.json:
        emit_json(out)
        return 0
    dist = "no equal neighbours" if out["distinct_neighbours"] else "uniform"
    reached = "" if out["reached"] == out["k"] else f" (truncated: reaches {out['reached']} hops)"
    print(f"hop_{out['k']} construction: L = {out['layers']} layers{reached}, H = {out['heads']} head per layer, "
          f"width m = {out['width']} (head width {out['head_dim']}, MLP {out['d_ff']}), "
          f"p = {out['precision']} bits (f = {out['frac']}, softmax temperature 1/{out['temperature']})")
    print(f"checked on {out['trials']} sequences (N = {out['n']}, alphabet {out['alphabet']}, {dist}): "
          f"{out['errors']} wrong of {out['positions']} positions (error rate {out['error_rate']:.4g}); "
          f"token error over non-⊥ positions {out['token_error']:.4g}")
    print(f"as a protocol with {out['parties']} parties (split {out['boundaries'][:6]}"
          f"{'...' if len(out['boundaries']) > 6 else ''}): R = {out['rounds']} rounds, "
          f"s = {out['bits_per_message']} bits per message, {out['bits_total']} bits in all")
    verdict = ("R < k, so the bound applies" if out["rounds_below_k"] else "R >= k, so the bound does not apply")
    ratio = "" if out["bits_over_bound"] is None else f"; s is {out['bits_over_bound']:.3g}x the bound"
    print(f"lower bound c·N/k^6 = {out['bound_bits']:.4g} bits (c = {out['bound_c']:g}); {verdict}{ratio}")
    if out["protocol_agree"] is not None:
        print(f"compiled protocol == model on {out['protocol_agree']} / {out['protocol_trials']} sequences")
    return 0
