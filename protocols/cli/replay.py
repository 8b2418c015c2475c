"""Re-run a transcript saved by ``show --save`` and check it bit for bit.

``python -m protocols replay FILE [--json]`` rebuilds the problem, protocol and
batch from the file's ``"run"`` record, re-runs with the recorded seed and
compares the instance's board and output with :func:`protocols.replay`.
Prints ok or the first difference; ``--json`` prints ``{"ok", "file",
"protocol", "instance", "mismatch"}``.  Exit code 1 on a mismatch.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from ..cli_support import UsageError, emit_json
from ..errors import ReplayMismatch
from ..library import LIBRARY
from ..problems.pointer_chasing import PointerChasing
from ..replay import replay
from ..seeding import child_seed
from ..transcript import Transcript

__all__ = ["add_arguments", "run"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("file", type=Path, metavar="FILE", help="transcript JSON written by `show --save`")
    parser.add_argument("--json", action="store_true", help="print JSON")


def run(args: argparse.Namespace) -> int:
    try:
        text = args.file.read_text()
    except OSError as exc:
        raise UsageError(f"{args.file}: cannot read ({exc.strerror})") from exc
    try:
        record = json.loads(text)
        spec = record["run"]
        t = Transcript.from_json(text)
    except (json.JSONDecodeError, KeyError, TypeError) as exc:
        raise UsageError(f"{args.file}: not a transcript saved by `show --save` ({exc})") from exc
    if spec["protocol"] not in LIBRARY:
        raise UsageError(f"{args.file}: unknown protocol {spec['protocol']!r}")
    start = None if spec["start"] == "random" else spec["start"]
    problem = PointerChasing(
        q=spec["q"], k=spec["k"], version=spec["version"], order=spec["order"], functions=spec["functions"], start=start
    )
    protocol = LIBRARY[spec["protocol"]](problem, R=spec["rounds"], s=spec["bits"])
    inst = problem.sample(spec["batch"], seed=child_seed(spec["seed"], 0))
    mismatch = None
    try:
        replay(t, protocol, problem.inputs(inst), problem.public(inst))
    except ReplayMismatch as exc:
        mismatch = str(exc)
    if args.json:
        emit_json(
            {
                "ok": mismatch is None,
                "file": str(args.file),
                "protocol": protocol.name,
                "instance": t.instance,
                "mismatch": mismatch,
            }
        )
    elif mismatch is None:
        print(f"ok: instance {t.instance} of {args.file} replays bit for bit ({protocol!r})")
    else:
        print(f"mismatch: {mismatch}")
    return 0 if mismatch is None else 1
