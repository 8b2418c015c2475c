"""Train a model on k-hop or encoded pointer chasing and save its weights (needs the extra `train`).

``python -m reductions train --model gru --task hop --k 1 --n 32 --alphabet 4 --layers 1
--width 32 --seed 0 --out ih.safetensors`` trains the float model of the family
with JAX/optax (:mod:`reductions.training`), measures token accuracy on fresh
samples (float model, and the fixed-point model at ``--precision``), and
writes a safetensors file that carries the family and hyper-parameters
(:mod:`reductions.models.weights`; ``python -m reductions verify --weights``
reads it).  Tasks: ``hop`` (``--k --n --alphabet``, [SHT24]'s format) and
``pointer-chasing`` (``--q --k``, encoded as k-hop sequences of length 2kq + 1).
JSON keys: model, task, k, n, alphabet, q, layers, width, precision, steps,
batch, learning_rate, seed, frac, loss, accuracy, fixed_accuracy, decision_accuracy,
eval_trials, seconds, out.
"""

from __future__ import annotations

import argparse
import importlib
from pathlib import Path

from protocols.cli_support import UsageError, emit_json
from reductions.cli.verify import family_options
from reductions.models.float_forward import FLOAT_FAMILIES

__all__ = ["add_arguments", "run"]

_TASK_ARGS = {"hop": ("k", "n", "alphabet"), "pointer-chasing": ("q", "k")}


def _positive(text: str) -> int:
    v = int(text)
    if v < 1:
        raise argparse.ArgumentTypeError(f"{v} is not a positive integer")
    return v


def _count(text: str) -> int:
    v = int(text)
    if v < 0:
        raise argparse.ArgumentTypeError(f"{v} is negative")
    return v


def _rate(text: str) -> float:
    v = float(text)
    if not 0 < v < 1:
        raise argparse.ArgumentTypeError(f"{v} is not in (0, 1)")
    return v


def _trainable_options() -> dict[str, tuple[type, str, list[str]]]:
    out = {}
    for kwarg, (typ, help_, fams) in family_options().items():
        fams = [f for f in fams if f in FLOAT_FAMILIES]
        if fams and kwarg != "max_len":  # max_len follows the task's sequence length
            out[kwarg] = (typ, help_, fams)
    return out


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model", required=True, choices=FLOAT_FAMILIES, help="model family")
    parser.add_argument("--task", required=True, choices=sorted(_TASK_ARGS), help="training task")
    parser.add_argument("--k", type=_count, default=None, help="hops (hop) or pointer-chasing layers (>= 1)")
    parser.add_argument("--n", type=_positive, default=None, help="hop: sequence length N (symbols)")
    parser.add_argument("--alphabet", type=_positive, default=None, help="hop: alphabet size (default 4)")
    parser.add_argument("--q", type=_positive, default=None, help="pointer-chasing: vertices per layer q")
    parser.add_argument("--layers", type=_positive, default=1, help="layers L (default 1)")
    parser.add_argument("--width", type=_positive, default=32, help="width m (default 32)")
    parser.add_argument("--precision", type=_positive, default=16,
                        help="fixed-point bits p: weights stay in its range; fixed_accuracy uses it (default 16)")
    parser.add_argument("--frac", type=int, default=None,
                        help="fractional bits f (default p - 4; smaller f = wider range, e.g. 8 for SSMs)")
    parser.add_argument("--steps", type=_positive, default=None, help="optimiser steps (default 1500)")
    parser.add_argument("--batch", type=_positive, default=64, help="sequences per step (default 64)")
    parser.add_argument("--lr", type=_rate, default=3e-3, help="Adam learning rate (default 0.003)")
    parser.add_argument("--eval-batch", type=_positive, default=512, help="fresh sequences for accuracy (default 512)")
    parser.add_argument("--seed", type=int, default=0, help="seed (default 0)")
    for kwarg, (typ, help_, fams) in _trainable_options().items():
        parser.add_argument("--" + kwarg.replace("_", "-"), dest=kwarg, type=typ, default=None,
                            help=f"{help_} [{', '.join(fams)}]")
    parser.add_argument("--out", default=None, help="write the trained weights here (.safetensors)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    parser.add_argument("--json", action="store_true", help="print JSON")


def _task_params(args: argparse.Namespace) -> dict[str, int]:
    wanted = _TASK_ARGS[args.task]
    for name in ("k", "n", "alphabet", "q"):
        value = getattr(args, name)
        if value is not None and name not in wanted:
            raise UsageError(f"--{name} does not apply to --task {args.task} (it takes {', '.join(wanted)})")
    params = {name: getattr(args, name) for name in wanted if getattr(args, name) is not None}
    if args.task == "hop":
        params.setdefault("alphabet", 4)
    missing = [f"--{name}" for name in wanted if name not in params]
    if missing:
        raise UsageError(f"--task {args.task} needs {' '.join(missing)}")
    return params


def run(args: argparse.Namespace) -> int:
    # Validate everything before importing JAX or training.
    params = _task_params(args)
    options = {}
    for kwarg, (_, _, fams) in _trainable_options().items():
        value = getattr(args, kwarg, None)
        if value is not None:
            if args.model not in fams:
                raise UsageError(f"--{kwarg.replace('_', '-')} does not apply to --model {args.model}")
            options[kwarg] = value
    out = None if args.out is None else Path(args.out)
    if out is not None and not out.parent.is_dir():
        raise UsageError(f"--out {out}: directory {out.parent} does not exist")
    try:
        training = importlib.import_module("reductions.training")  # the optional extra, only when asked for
    except ImportError as exc:
        raise UsageError(str(exc)) from None
    from reductions.models.weights import save

    task = training.make_task(args.task, **params)
    result = training.train(
        args.model, task, layers=args.layers, width=args.width, steps=args.steps, batch=args.batch,
        learning_rate=args.lr, seed=args.seed, precision=args.precision, frac=args.frac, eval_batch=args.eval_batch,
        model_options=options, progress=not args.no_progress,
    )
    if out is not None:
        save(result.model, out, training=result.metrics.as_dict() | {"model_options": options})
    m = result.metrics.as_dict()
    report = {"model": m.pop("family"), "task": m.pop("task")}
    report |= {k: params.get(k) for k in ("k", "n", "alphabet", "q")}
    m.pop("task_params")
    report |= m | {"out": None if out is None else str(out)}
    if args.json:
        emit_json(report)
        return 0
    print(f"{result.model!r} trained on {args.task} {params} for {report['steps']} steps ({report['seconds']:.1f} s)")
    print(f"token accuracy on {report['eval_trials']} fresh sequences: float {report['accuracy']:.4f}, "
          f"fixed point p = {report['precision']}: {report['fixed_accuracy']:.4f}; "
          f"last position (float): {report['decision_accuracy']:.4f}")
    print(f"weights: {report['out'] or 'not saved (no --out)'}")
    return 0
