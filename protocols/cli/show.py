"""Show one instance's blackboard: every message with its round, speaker, layer held, bits and value.

``python -m protocols show --protocol NAME --q Q --k K [--rounds R] [--bits S]
[--instance B] [--batch N] --seed SEED [--version ...] [--order ...] [--start V]
[--save FILE] [--memory-budget SIZE] [--json]``

Samples ``N`` instances (default ``B + 1``) from ``child_seed(SEED, 0)``, runs the
protocol on them with coins from ``child_seed(SEED, 1)`` and prints instance
``B``: its chase, then the board rendered by :meth:`protocols.Transcript.render`
with each message decoded.  ``--json`` prints ``{"transcript", "instance",
"messages", "correct"}``; ``--save FILE`` writes the transcript JSON (loadable
with :meth:`protocols.Transcript.load`) plus a ``"run"`` record that
``python -m protocols replay FILE`` uses to re-run and check it.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from ..bits import UInt
from ..budget import budget_scope
from ..cli_support import UsageError, emit_json
from ..engine import Protocol
from ..engine import run as run_protocol
from ..library.disclosure_chase import DisclosureChase
from ..problems.pointer_chasing import PointerChasing, PointerChasingInstances
from ..seeding import child_seed
from ..transcript import Transcript
from .common import (
    add_problem_arguments,
    add_protocol_arguments,
    add_resource_arguments,
    non_negative_int,
    positive_int,
    prepare,
    problem_record,
)

__all__ = ["add_arguments", "run", "sample_and_run", "message_decoder", "instance_record"]

#: Lists longer than this are shortened in the human-readable board.
SHOW_ITEMS = 12


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_problem_arguments(parser)
    add_protocol_arguments(parser)
    parser.add_argument(
        "--instance",
        type=non_negative_int,
        default=0,
        metavar="B",
        help="which instance of the batch to show (default 0)",
    )
    parser.add_argument(
        "--batch", type=positive_int, default=None, metavar="N", help="instances sampled and run together (default B+1)"
    )
    parser.add_argument("--seed", type=non_negative_int, default=0, help="seed of instances and coins (default 0)")
    parser.add_argument(
        "--save", type=Path, default=None, metavar="FILE", help="also write the transcript JSON to FILE"
    )
    add_resource_arguments(parser, progress=False)
    parser.add_argument("--json", action="store_true", help="print JSON")


def sample_and_run(protocol: Protocol, problem: PointerChasing, batch: int, seed: int):
    """The batch ``show`` and ``replay`` use.

    Instances come from ``child_seed(seed, 0)``, coins from ``child_seed(seed, 1)``.
    """
    inst = problem.sample(batch, seed=child_seed(seed, 0))
    r = run_protocol(protocol, problem.inputs(inst), seed=child_seed(seed, 1), public=problem.public(inst))
    return inst, r


def _short(values: list[int]) -> str:
    if len(values) <= SHOW_ITEMS:
        return "[" + ", ".join(map(str, values)) + "]"
    return "[" + ", ".join(map(str, values[:SHOW_ITEMS])) + f", ... {len(values) - SHOW_ITEMS} more]"


def message_decoder(
    protocol: Protocol, problem: PointerChasing, transcript: Transcript
) -> Callable[[int, int, np.ndarray], str]:
    """``decode(round, speaker, bits) -> str`` naming what a message of ``protocol`` says.

    The last message is decoded with the protocol's own output decoder; the
    library's message layouts are read as each module documents them.
    """
    k, R = protocol.k, protocol.R
    used = {(r, i): u for r, i, _, _, u in transcript.index}
    answer = "class" if problem.version == "decision" else "vertex"

    def decode(r: int, i: int, bits: np.ndarray) -> str:
        j = problem.layer_of(i)
        if r == R - 1 and i == k - 1:
            value = int(np.asarray(protocol.output(bits[None, :].astype(np.uint8)))[0])
            return f"answer: {answer} {value}"
        n = used[(r, i)]
        name = protocol.name
        if name == "one-hop-per-round":
            v = int(protocol.codec.decode(bits[None, : protocol.codec.width])[0])
            return f"v_{j + 1} = E_{j}(v_{j}) = {v}"
        if name == "full-dump":
            w = protocol.codec.width
            images = protocol.codec.decode(bits[: problem.q * w].reshape(problem.q, w)).tolist()
            return f"E_{j} = {_short(images)}"
        if isinstance(protocol, DisclosureChase):
            plan, rnd = protocol.plan, r + 1
            head = ""
            if j == k and plan.c:
                head = f"free hops so far: {int(UInt(plan.c).decode(bits[None, : plan.c])[0])}; "
            if rnd <= plan.rounds[j]:
                lo, hi = plan.items(j, rnd - 1), plan.items(j, rnd)
                what = "classes of E_k" if plan.d[j] == 1 and j == k else f"images under E_{j}"
                return f"{head}{what} of the points of ranks {lo}..{hi - 1} in the public order (or a hop)"
            return f"{head}a hop: the next chase vertex (or the answer field if j = k)"
        return f"{n} bits"

    return decode


def instance_record(inst: PointerChasingInstances, problem: PointerChasing, b: int) -> dict[str, Any]:
    """One instance as JSON-ready fields (``layers[j-1]`` = E_j as images of 0..q-1)."""
    path = inst.path()[b].tolist()
    return {
        "index": b,
        "layers": [layer[b].tolist() for layer in inst.layers],
        "start": int(inst.start[b]),
        "classes": inst.classes.tolist(),
        "path": path,
        "answer": int(problem.answer(inst)[b]),
        "holders": [{"speaker": i, "layer": problem.layer_of(i)} for i in range(problem.k)],
    }


def run(args: argparse.Namespace) -> int:
    with budget_scope(args.memory_budget):
        return _show(args)


def _show(args: argparse.Namespace) -> int:
    batch = args.batch if args.batch is not None else args.instance + 1
    if args.instance >= batch:
        raise UsageError(f"--instance {args.instance} is outside the batch of {batch} instances (0..{batch - 1})")
    problem, protocol = prepare(args, batch)
    inst, r = sample_and_run(protocol, problem, batch, args.seed)
    b = args.instance
    t = r.transcript(b)
    record = instance_record(inst, problem, b)
    correct = int(r.outputs[b]) == record["answer"]
    decode = message_decoder(protocol, problem, t)
    if args.save is not None:
        saved = json.loads(t.to_json())
        saved["run"] = {
            **problem_record(problem),
            "protocol": protocol.name,
            "rounds": protocol.R,
            "bits": protocol.s,
            "seed": args.seed,
            "batch": batch,
        }
        try:
            args.save.write_text(json.dumps(saved))
        except OSError as exc:
            raise UsageError(f"--save {args.save}: cannot write ({exc.strerror})") from exc
    if args.json:
        messages = []
        for rr, i, start, stop, used in t.index:
            bits = np.frombuffer(t.bits[start:stop].to01().encode(), np.uint8) - 48
            messages.append(
                {
                    "round": rr,
                    "speaker": i,
                    "layer": problem.layer_of(i),
                    "used": used,
                    "bits": t.bits[start : start + used].to01(),
                    "value": decode(rr, i, bits) if used else None,
                }
            )
        emit_json(
            {
                "transcript": json.loads(t.to_json()),
                "instance": {**problem_record(problem), **record},
                "messages": messages,
                "correct": correct,
            }
        )
        return 0
    q, k = problem.q, problem.k
    chase = " -> ".join(f"v_{j + 1}={v}" for j, v in enumerate(record["path"]))
    print(f"instance {b} of {batch} (seed {args.seed}): pointer-chasing q={q} k={k} ", end="")
    print(f"{problem.version}, {problem.order} order")
    print(f"chase: {chase}; answer {record['answer']}")
    print("holders: " + ", ".join(f"speaker {h['speaker']} holds E_{h['layer']}" for h in record["holders"]))
    print(t.render(decode))
    print(f"correct: {'yes' if correct else 'no'}")
    if args.save is not None:
        print(f"saved transcript to {args.save}")
    return 0
