"""Compile a model into a protocol and check it against the model, bit for bit (docs/definitions.md §5).

``python -m reductions verify --model gru --layers 2 --width 16 --precision 16 --k 4
--trials 1000 --seed 0 [--q Q] [--n N] [--json]`` builds a seeded random model of
the family (any key of :data:`reductions.models.MODELS`), compiles it for k
speakers, and runs model and protocol side by side:

- without ``--q``: ``--trials`` random token sequences of length ``--n``
  (default 4k) over ``--vocab`` tokens, under ``--splits`` random splits;
- with ``--q``: ``--trials`` pointer-chasing instances encoded as k-hop
  sequences (docs/definitions.md §4; ``--n`` pads them on the left), canonical split;
  also reports the decision success with a Clopper–Pearson interval.

A mismatch (output or any message) is an error naming the instance.  Family
options (e.g. ``--state-size`` for the SSM) come from each model class's
``cli_options``; other families plug in by registering in ``MODELS``.  JSON
keys: model, layers, width, precision, k, n, vocab, q, trials, agree, rounds,
bits, bits_formula, max_bits_used, min_bits_used, exact_bits, board_checked,
splits, success, ci_low, ci_high, seconds.
"""

from __future__ import annotations

import argparse
import time
from typing import Any

from protocols.budget import budget_scope, require
from protocols.cli.common import add_resource_arguments
from protocols.cli_support import UsageError, emit_json
from protocols.seeding import child_seed

from reductions.models import MODELS
from reductions.compilers.splits import random_boundaries
from reductions.verify import pointer_chasing_success, random_tokens, verify

__all__ = ["add_arguments", "run", "family_options", "build_model"]


def _positive(text: str) -> int:
    v = int(text)
    if v < 1:
        raise argparse.ArgumentTypeError(f"{v} is not a positive integer")
    return v


def family_options() -> dict[str, tuple[type, str, list[str]]]:
    """Every family option: ``kwarg -> (type, help, families that take it)``."""
    out: dict[str, tuple[type, str, list[str]]] = {}
    for name, cls in MODELS.items():
        for kwarg, (typ, help_) in getattr(cls, "cli_options", {}).items():
            if kwarg in out:
                out[kwarg][2].append(name)
            else:
                out[kwarg] = (typ, help_, [name])
    return out


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model", required=True, choices=sorted(MODELS), help="model family")
    parser.add_argument("--layers", type=_positive, default=None,
                        help="number of layers L (default 2; the family's own where it has only one, e.g. cot)")
    parser.add_argument("--width", type=_positive, default=8, help="width m (default 8)")
    parser.add_argument("--precision", type=_positive, default=16, help="fixed-point bits p (default 16)")
    parser.add_argument("--frac", type=int, default=None, help="fractional bits f (default p - 4)")
    parser.add_argument("--k", type=_positive, default=4, help="number of speakers k (default 4)")
    parser.add_argument("--trials", type=_positive, default=1000, help="instances (default 1000)")
    parser.add_argument("--seed", type=int, default=0, help="seed for the model, inputs and splits (default 0)")
    parser.add_argument("--q", type=_positive, default=None, help="run on encoded pointer chasing with layer size q")
    parser.add_argument("--n", type=_positive, default=None, help="sequence length N (default 4k; with --q 2kq+1)")
    parser.add_argument("--vocab", type=_positive, default=None,
                        help="vocabulary V (default 8; with --q the encoding's)")
    parser.add_argument("--splits", type=_positive, default=3, help="random splits to check without --q (default 3)")
    for kwarg, (typ, help_, fams) in family_options().items():
        parser.add_argument("--" + kwarg.replace("_", "-"), dest=kwarg, type=typ, default=None,
                            help=f"{help_} [{', '.join(fams)}]")
    add_resource_arguments(parser, progress=False)
    parser.add_argument("--json", action="store_true", help="print JSON")


def _check_sizes(args: argparse.Namespace, n: int, vocab: int) -> None:
    """Refuse, before any model is built, what cannot fit the memory budget."""
    layers = args.layers or 2
    # Every family but the FSM (which caps its width itself) has an m×m matrix per layer.
    require(8 * layers * args.width**2 + 8 * vocab * args.width,
            f"a {args.model} model with L = {layers}, m = {args.width} (at least L·m² weights)")
    require(8 * args.trials * n, f"{args.trials} sequences of N = {n} tokens")


def build_model(args: argparse.Namespace, vocab: int) -> Any:
    """The seeded random model the arguments describe (model seed = child_seed(seed, 0))."""
    cls = MODELS[args.model]
    kw: dict[str, Any] = {}
    for kwarg, (_, _, fams) in family_options().items():
        value = getattr(args, kwarg, None)
        if value is None:
            continue
        if args.model not in fams:
            flag = "--" + kwarg.replace("_", "-")
            raise UsageError(f"{flag} does not apply to --model {args.model} (only {', '.join(fams)})")
        kw[kwarg] = value
    if args.frac is not None:
        kw["frac"] = args.frac
    layers = args.layers if args.layers is not None else getattr(cls, "default_layers", 2)
    return cls.random(vocab=vocab, layers=layers, width=args.width, precision=args.precision,
                      seed=child_seed(args.seed, 0), **kw)


def _run_random(args: argparse.Namespace) -> dict:
    n = args.n or 4 * args.k
    if args.k > n:
        raise UsageError(f"--k {args.k} speakers need a sequence of at least k tokens; --n is {n}")
    vocab = args.vocab or 8
    _check_sizes(args, n, vocab)
    model = build_model(args, vocab)
    x = random_tokens(vocab, args.trials, n, seed=child_seed(args.seed, 1))
    reports = []
    for j in range(args.splits):
        b = random_boundaries(n, args.k, seed=child_seed(args.seed, 2, j))
        reports.append(verify(model, x, b, seed=child_seed(args.seed, 3, j)))
    first = reports[0]
    return {
        "model": args.model, "layers": model.layers, "width": args.width, "precision": model.precision,
        "k": args.k, "n": n, "vocab": vocab, "q": None, "trials": args.trials,
        "agree": min(r.agree for r in reports), "rounds": first.rounds, "bits": first.bits,
        "bits_formula": first.bits_formula, "max_bits_used": max(r.max_bits_used for r in reports),
        "min_bits_used": min(r.min_bits_used for r in reports), "exact_bits": all(r.exact_bits for r in reports),
        "board_checked": all(r.board_checked for r in reports), "splits": [list(r.boundaries) for r in reports],
        "success": None, "ci_low": None, "ci_high": None, "repr": repr(model),
    }


def _run_chase(args: argparse.Namespace) -> dict:
    from protocols import PointerChasing

    q, k = args.q, args.k
    if q < 2:
        raise UsageError(f"--q {q}: pointer chasing needs q >= 2")
    base = 2 * k * q + 1
    n = args.n or base
    if n < base:
        raise UsageError(f"--n {n} is shorter than the encoding's 2kq + 1 = {base}")
    alphabet = 2 * q + 2 + (1 if n > base else 0)
    vocab = args.vocab or alphabet
    if vocab < alphabet:
        raise UsageError(f"--vocab {vocab} is smaller than the encoding's alphabet {alphabet}")
    _check_sizes(args, n, vocab)
    model = build_model(args, vocab)
    rep = pointer_chasing_success(model, PointerChasing(q=q, k=k), args.trials, seed=child_seed(args.seed, 1), length=n)
    lo, hi = rep.proportion_ci()
    return {
        "model": args.model, "layers": model.layers, "width": args.width, "precision": model.precision,
        "k": k, "n": n, "vocab": vocab, "q": q, "trials": rep.trials, "agree": rep.agree, "rounds": rep.rounds,
        "bits": rep.bits, "bits_formula": rep.bits_formula, "max_bits_used": rep.max_bits_used,
        "min_bits_used": rep.min_bits_used, "exact_bits": rep.exact_bits, "board_checked": rep.board_checked,
        "splits": [list(rep.boundaries)], "success": rep.success, "ci_low": lo, "ci_high": hi, "repr": repr(model),
    }


def run(args: argparse.Namespace) -> int:
    t0 = time.perf_counter()
    with budget_scope(args.memory_budget):
        out = _run_chase(args) if args.q is not None else _run_random(args)
    out["seconds"] = round(time.perf_counter() - t0, 3)
    if args.json:
        emit_json(out)
        return 0
    print(f"{out['repr']}")
    print(f"k = {out['k']} speakers, N = {out['n']}, splits checked: {len(out['splits'])}")
    print(f"protocol == model on {out['agree']} / {out['trials']} instances "
          f"(every message checked: {out['board_checked']})")
    print(f"R = {out['rounds']}, s = {out['bits']} bits (docs/definitions.md §5 formula: {out['bits_formula']}); "
          f"max bits used {out['max_bits_used']}")
    if out["success"] is not None:
        print(f"pointer chasing q = {out['q']}: decision success {out['success']:.4f} "
              f"(95% CI {out['ci_low']:.4f} .. {out['ci_high']:.4f})")
    return 0
