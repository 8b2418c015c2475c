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

With ``--weights FILE`` (a safetensors file from ``python -m reductions train``
or :func:`reductions.models.weights.save`) the model is the file's instead of
a random one; ``--precision``/``--frac`` quantise its float weights to that
format (default: the file's; ``--precision`` alone keeps the file's integer
bits p - f), and the output adds how often the fixed-point
model's tokens equal the float model's (``float_agreement``, every position of
the checked inputs) and, with ``--q``, the float and fixed-point models'
success on the same instances (``float_success``, ``model_success``).

A mismatch (output or any message) is an error naming the instance.  Family
options (e.g. ``--state-size`` for the SSM) come from each model class's
``cli_options``; other families plug in by registering in ``MODELS``.  JSON
keys: model, layers, width, precision, k, n, vocab, q, trials, agree, rounds,
bits, bits_formula, max_bits_used, min_bits_used, exact_bits, board_checked,
splits, success, ci_low, ci_high, model_success, float_success, float_ci_low,
float_ci_high, float_agreement, weights, measured, seconds.
"""

from __future__ import annotations

import argparse
import time
from typing import Any

from protocols import PointerChasing
from protocols.budget import budget_scope, require
from protocols.cli.common import add_resource_arguments
from protocols.cli_support import UsageError, emit_json, positive_int
from protocols.seeding import child_seed
from reductions.compilers.splits import random_boundaries
from reductions.khop.instance import encoding_alphabet, sequence_length
from reductions.khop.pointer_chasing_to_hop import EncodedPointerChasing
from reductions.models import MODELS
from reductions.models.weights import float_agreement, load, quantize
from reductions.verify import pointer_chasing_success, random_tokens, verify

__all__ = ["add_arguments", "run", "family_options", "build_model"]


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
    parser.add_argument("--model", default=None, choices=sorted(MODELS),
                        help="model family of a seeded random model (or give --weights)")
    parser.add_argument("--weights", default=None,
                        help="a trained model's safetensors file (instead of --model; carries family and sizes)")
    parser.add_argument("--layers", type=positive_int, default=None,
                        help="number of layers L (default 2; the family's own where it has only one, e.g. cot)")
    parser.add_argument("--width", type=positive_int, default=None, help="width m (default 8)")
    parser.add_argument("--precision", type=positive_int, default=None,
                        help="fixed-point bits p (default 16; with --weights the file's)")
    parser.add_argument("--frac", type=int, default=None, help="fractional bits f (default p - 4)")
    parser.add_argument("--k", type=positive_int, default=4, help="number of speakers k (default 4)")
    parser.add_argument("--trials", type=positive_int, default=1000, help="instances (default 1000)")
    parser.add_argument("--seed", type=int, default=0, help="seed for the model, inputs and splits (default 0)")
    parser.add_argument("--q", type=positive_int, default=None, help="run on encoded pointer chasing with layer size q")
    parser.add_argument("--n", type=positive_int, default=None, help="sequence length N (default 4k; with --q 2kq+1)")
    parser.add_argument("--vocab", type=positive_int, default=None,
                        help="vocabulary V (default 8; with --q the encoding's)")
    parser.add_argument("--splits", type=positive_int, default=3, help="random splits to check without --q (default 3)")
    for kwarg, (typ, help_, fams) in family_options().items():
        parser.add_argument("--" + kwarg.replace("_", "-"), dest=kwarg, type=typ, default=None,
                            help=f"{help_} [{', '.join(fams)}]")
    add_resource_arguments(parser, progress=False)
    parser.add_argument("--json", action="store_true", help="print JSON")


def load_weights(args: argparse.Namespace) -> Any:
    """The model of ``--weights``, quantised to ``--precision``/``--frac`` when given."""
    for flag in ("model", "layers", "width", *family_options()):
        if getattr(args, flag, None) is not None:
            raise UsageError(f"--{flag.replace('_', '-')} does not apply with --weights (the file fixes the model)")
    model = load(args.weights)
    if args.precision is not None or args.frac is not None:
        model = quantize(model, args.precision or model.precision, args.frac)
    return model


def _check_sizes(args: argparse.Namespace, n: int, vocab: int) -> None:
    """Refuse, before any model is built, what cannot fit the memory budget."""
    require(8 * args.trials * n, f"{args.trials} sequences of N = {n} tokens")
    if args.weights:
        return  # the file's tensors are already in memory
    layers, width = args.layers or 2, args.width or 8
    # Every family but the FSM (which caps its width itself) has an m×m matrix per layer.
    require(8 * layers * width**2 + 8 * vocab * width,
            f"a {args.model} model with L = {layers}, m = {width} (at least L·m² weights)")


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
    return cls.random(vocab=vocab, layers=layers, width=args.width or 8, precision=args.precision or 16,
                      seed=child_seed(args.seed, 0), **kw)


def _measured(args: argparse.Namespace, out: dict) -> str:
    """One sentence saying what the run measured (and, for random weights, what that means)."""
    origin = (f"weights from {args.weights}" if args.weights else
              "seeded RANDOM weights (untrained: its success says nothing about what the family can learn)")
    text = (f"{out['model']} with {origin}, fixed point p = {out['precision']}: protocol == model on "
            f"{out['agree']}/{out['trials']} instances")
    if out["q"] is not None:
        text += (f"; success = fraction of {out['trials']} encoded pointer-chasing instances (q = {out['q']}, "
                 f"k = {out['k']}, N = {out['n']}) whose protocol output token is the answer 2q + class(v_{{k+1}})")
    return text


def _run_random(args: argparse.Namespace) -> dict:
    n = args.n or 4 * args.k
    if args.k > n:
        raise UsageError(f"--k {args.k} speakers need a sequence of at least k tokens; --n is {n}")
    _check_sizes(args, n, args.vocab or 8)
    if args.weights:
        model = load_weights(args)
        vocab = args.vocab or model.vocab
        if vocab > model.vocab:
            raise UsageError(f"--vocab {vocab} exceeds the model's vocabulary {model.vocab}")
    else:
        vocab = args.vocab or 8
        model = build_model(args, vocab)
    x = random_tokens(vocab, args.trials, n, seed=child_seed(args.seed, 1))
    reports = []
    for j in range(args.splits):
        b = random_boundaries(n, args.k, seed=child_seed(args.seed, 2, j))
        reports.append(verify(model, x, b, seed=child_seed(args.seed, 3, j)))
    first = reports[0]
    return {
        "model": model.family, "layers": model.layers, "width": model.width, "precision": model.precision,
        "k": args.k, "n": n, "vocab": vocab, "q": None, "trials": args.trials,
        "agree": min(r.agree for r in reports), "rounds": first.rounds, "bits": first.bits,
        "bits_formula": first.bits_formula, "max_bits_used": max(r.max_bits_used for r in reports),
        "min_bits_used": min(r.min_bits_used for r in reports), "exact_bits": all(r.exact_bits for r in reports),
        "board_checked": all(r.board_checked for r in reports), "splits": [list(r.boundaries) for r in reports],
        "success": None, "ci_low": None, "ci_high": None, "model_success": None, "float_success": None,
        "float_ci_low": None, "float_ci_high": None,
        "float_agreement": _agreement(model, x), "repr": repr(model),
    }


def _agreement(model: Any, tokens: Any) -> float | None:
    """Fraction of output tokens where the fixed-point model equals the float model (None: no float model)."""
    return float_agreement(model, tokens).rate if model.fmt is not None else None


def _run_chase(args: argparse.Namespace) -> dict:
    q, k = args.q, args.k
    if q < 2:
        raise UsageError(f"--q {q}: pointer chasing needs q >= 2")
    base = sequence_length(q, k)
    n = args.n or base
    if n < base:
        raise UsageError(f"--n {n} is shorter than the encoding's 2kq + 1 = {base}")
    alphabet = encoding_alphabet(q, pad=n - base)
    if args.weights:
        if args.vocab is not None:
            raise UsageError("--vocab does not apply with --weights (the model's vocabulary is the file's)")
        model = load_weights(args)
        vocab = model.vocab
        if vocab < alphabet:
            raise UsageError(f"{args.weights}: the model's vocabulary {vocab} is smaller than the encoding's "
                             f"alphabet 2q + 2 = {alphabet} (q = {q}); it was not trained for this q")
    else:
        vocab = args.vocab or alphabet
        if vocab < alphabet:
            raise UsageError(f"--vocab {vocab} is smaller than the encoding's alphabet {alphabet}")
        _check_sizes(args, n, vocab)
        model = build_model(args, vocab)
    has_float = model.fmt is not None
    problem = PointerChasing(q=q, k=k)
    rep = pointer_chasing_success(model, problem, args.trials, seed=child_seed(args.seed, 1), length=n,
                                  float_reference=has_float)
    d = rep.as_dict()
    instances = EncodedPointerChasing(problem, n).sample(min(args.trials, 1024), seed=child_seed(args.seed, 2))
    return {
        "model": model.family, "layers": model.layers, "width": model.width, "precision": model.precision,
        "k": k, "n": n, "vocab": vocab, "q": q, "trials": rep.trials, "agree": rep.agree, "rounds": rep.rounds,
        "bits": rep.bits, "bits_formula": rep.bits_formula, "max_bits_used": rep.max_bits_used,
        "min_bits_used": rep.min_bits_used, "exact_bits": rep.exact_bits, "board_checked": rep.board_checked,
        "splits": [list(rep.boundaries)], "success": rep.success, "ci_low": d["ci_low"], "ci_high": d["ci_high"],
        "model_success": d["model_success"], "float_success": d["float_success"],
        "float_ci_low": d.get("float_ci_low"), "float_ci_high": d.get("float_ci_high"),
        "float_agreement": _agreement(model, instances.tokens) if has_float else None, "repr": repr(model),
    }


def run(args: argparse.Namespace) -> int:
    if (args.model is None) == (args.weights is None):
        raise UsageError("give exactly one of --model (a random model) and --weights (a trained model's file)")
    t0 = time.perf_counter()
    with budget_scope(args.memory_budget):
        out = _run_chase(args) if args.q is not None else _run_random(args)
        out["weights"] = args.weights
        out["measured"] = _measured(args, out)
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
    if out["float_agreement"] is not None:
        print(f"fixed point (p = {out['precision']}) == float model on {out['float_agreement']:.4f} of output tokens")
    if out["success"] is not None:
        print(f"pointer chasing q = {out['q']}: protocol decision success {out['success']:.4f} "
              f"(95% CI {out['ci_low']:.4f} .. {out['ci_high']:.4f}); fixed-point model {out['model_success']:.4f}"
              + ("" if out["float_success"] is None else f"; float model {out['float_success']:.4f}"))
    print(f"measured: {out['measured']}")
    return 0
