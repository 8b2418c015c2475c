"""Run an MPC algorithm with every word counted: hop_k by pointer doubling, 1-vs-2 cycles, connectivity, gather.

``python -m protocols mpc --problem hop --n N --k K --delta D [--alphabet V] [--seed S] [--json]``
samples a uniform sequence over V symbols and runs :func:`protocols.mpc.hop.mpc_hop`
(s = 32·⌈N^δ⌉ words; docs/definitions.md §9), checking the answer against a
one-machine computation of hop_k.  ``--problem cycles`` samples one N-cycle or
two N/2-cycles (``--cycles 1|2``, default: by the seed) and decides which;
``--problem connectivity`` labels the components of that graph; ``--problem
gather`` gathers the whole sequence on machine 0 (refused once N > s).

JSON keys: problem, n, delta, seed, correct, rounds, rounds_formula, machines, s,
word_bits, max_words_held, max_words_sent, max_words_received, total_words_sent,
total_messages, audited_machine_rounds, per_round (per-round maxima and totals:
round, max_held, max_sent, max_received, words_sent, messages, busy_machines),
log2_n, and per problem: k, alphabet, c, doubling_rounds, sort_passes,
tree_depth (hop); cycles, components (cycles).
"""

from __future__ import annotations

import argparse
import math
import time

from ..cli_support import UsageError, emit_json
from ..mpc.cycles import components_naive, cycle_instance, mpc_connectivity, mpc_cycles
from ..mpc.gather import gather_hop, local_hop
from ..mpc.hop import hop_memory, mpc_hop
from ..seeding import as_generator, child_seed
from .common import non_negative_int, positive_int

__all__ = ["add_arguments", "run", "measure"]

PROBLEMS = ("hop", "cycles", "connectivity", "gather")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--problem", choices=PROBLEMS, default="hop", help="what to run (default hop)")
    parser.add_argument("--n", type=positive_int, required=True, help="sequence length / vertices N")
    parser.add_argument("--k", type=non_negative_int, default=16, help="hops k (hop, gather; default 16)")
    parser.add_argument("--delta", type=float, default=0.5, help="memory exponent δ in (0,1): s = 32·⌈N^δ⌉")
    parser.add_argument("--alphabet", type=positive_int, default=4, help="alphabet size V (hop; default 4)")
    parser.add_argument("--cycles", type=int, choices=(1, 2), default=None,
                        help="one N-cycle or two N/2-cycles (default: chosen by the seed)")
    parser.add_argument("--s", type=positive_int, default=None, help="local memory s in words (gather only)")
    parser.add_argument("--seed", type=non_negative_int, default=0, help="seed (default 0)")
    parser.add_argument("--audit", type=non_negative_int, default=1,
                        help="machines re-run alone per round by the isolation audit (default 1)")
    parser.add_argument("--per-round", action="store_true", help="text output: also print every round")
    parser.add_argument("--json", action="store_true", help="print JSON")


def measure(args: argparse.Namespace) -> dict:
    """Everything the command reports (the JSON output).

    Examples
    --------
    >>> ns = argparse.Namespace(problem="hop", n=64, k=5, delta=0.5, alphabet=3, cycles=None, s=None, seed=0,
    ...                         audit=1)
    >>> out = measure(ns)
    >>> out["correct"], out["rounds"] == out["rounds_formula"], out["max_words_held"] <= out["s"]
    (True, True, True)
    """
    if not 0.0 < args.delta < 1.0 or not math.isfinite(args.delta):
        raise UsageError(f"--delta {args.delta}: the memory exponent must be in (0, 1)")
    n, seed = args.n, args.seed
    out: dict = {"problem": args.problem, "n": n, "delta": args.delta, "seed": seed}
    if args.problem in ("hop", "gather"):
        x = as_generator(child_seed(seed, 0)).integers(0, args.alphabet, n)
        want = local_hop(x, args.k)
        if args.problem == "gather":
            s = args.s if args.s is not None else hop_memory(n, args.delta)[1]
            y = gather_hop(x, args.k, s, seed=child_seed(seed, 1), audit=args.audit)
            return {**out, "k": args.k, "s": s, "correct": bool((y == want).all())}
        r = mpc_hop(x, args.k, args.delta, args.alphabet, seed=child_seed(seed, 1), audit=args.audit)
        return {**out, **r.summary(), "correct": bool((r.output == want).all()), "log2_k": math.log2(max(1, args.k))}
    if n < 6 or n % 2:
        raise UsageError(f"--n {n}: 1-vs-2 cycles needs an even N >= 6")
    cycles = args.cycles or int(as_generator(child_seed(seed, 2)).integers(1, 3))
    e = cycle_instance(n, cycles, seed=child_seed(seed, 0))
    if args.problem == "cycles":
        r = mpc_cycles(e, n, args.delta, seed=child_seed(seed, 1), audit=args.audit)
        ok = r.components == cycles
    else:
        r = mpc_connectivity(e, n, args.delta, seed=child_seed(seed, 1), audit=args.audit)
        ok = bool((r.labels == components_naive(e, n)).all()) if n <= 20000 else r.components == cycles
    return {**out, **r.summary(), "cycles": cycles, "components": r.components, "correct": bool(ok)}


def run(args: argparse.Namespace) -> int:
    t0 = time.perf_counter()
    out = measure(args)
    out["seconds"] = round(time.perf_counter() - t0, 3)
    if args.json:
        emit_json(out)
        return 0
    if args.problem == "gather":
        print(f"gather on machine 0: N = {out['n']} <= s = {out['s']}; correct: {out['correct']}")
        return 0
    what = (f"hop_{out['k']} on N = {out['n']} (alphabet {out['alphabet']})" if args.problem == "hop" else
            f"{args.problem} on {out['cycles']} cycle(s), N = {out['n']}")
    print(f"{what}: correct {out['correct']}; R = {out['rounds']} rounds (formula {out['rounds_formula']}), "
          f"M = {out['machines']} machines, s = {out['s']} words of {out['word_bits']} bits")
    if args.problem == "hop":
        print(f"  ceil(log2 k) = {out['doubling_rounds']} doubling rounds + c = {out['c']} "
              f"(sort: {out['sort_passes']} pass(es) of base {out['digit_base']}, tree depth {out['tree_depth']})")
    print(f"  max words held {out['max_words_held']}, sent {out['max_words_sent']}, received "
          f"{out['max_words_received']} per machine per round (s = {out['s']}); {out['total_words_sent']} words sent")
    if args.per_round:
        for r in out["per_round"]:
            print(f"  round {r['round']:3d}: held <= {r['max_held']}, sent <= {r['max_sent']}, received <= "
                  f"{r['max_received']}, {r['words_sent']} words in {r['messages']} messages")
    return 0
