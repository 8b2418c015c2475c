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
from typing import Any

from ..budget import budget_scope, footprint, format_bytes, require
from ..cli_support import UsageError, emit_json
from ..errors import ReplayMismatch
from ..library import LIBRARY
from ..problems.pointer_chasing import PointerChasing
from ..seeding import child_seed
from ..transcript import Transcript, replay
from ..validation import check_int
from .common import add_resource_arguments

__all__ = ["add_arguments", "run", "read_record"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("file", type=Path, metavar="FILE", help="transcript JSON written by `show --save`")
    add_resource_arguments(parser, progress=False)
    parser.add_argument("--json", action="store_true", help="print JSON")


def read_record(path: Path) -> tuple[Transcript, dict[str, Any]]:
    """The transcript and its ``"run"`` record, every key and type checked (UsageError otherwise).

    The file's size is checked against the memory budget before it is read.
    """
    try:
        size = path.stat().st_size
        # Parsed JSON of bits and index lists takes up to ~16 bytes per character.
        require(16 * size, f"reading {path} ({format_bytes(size)})")
        text = path.read_text()
    except OSError as exc:
        raise UsageError(f"{path}: cannot read ({exc.strerror or exc})") from exc
    except UnicodeDecodeError as exc:
        raise UsageError(f"{path}: not a transcript saved by `show --save` (not UTF-8 text)") from exc
    try:
        record = json.loads(text)
    except RecursionError as exc:
        raise UsageError(f"{path}: not a transcript saved by `show --save` (JSON nested too deeply)") from exc
    except json.JSONDecodeError as exc:
        raise UsageError(f"{path}: not a transcript saved by `show --save` ({exc})") from exc
    if not isinstance(record, dict) or not isinstance(record.get("run"), dict):
        raise UsageError(f"{path}: not a transcript saved by `show --save` (no \"run\" record)")
    try:
        t = Transcript.from_dict(record)
        spec = _check_run(record["run"], t)
    except ValueError as exc:
        raise UsageError(f"{path}: {exc}") from exc
    return t, spec


def _check_run(spec: dict[str, Any], t: Transcript) -> dict[str, Any]:
    keys = ("protocol", "q", "k", "version", "order", "start", "functions", "rounds", "bits", "seed", "batch")
    missing = [key for key in keys if key not in spec]
    if missing:
        raise UsageError(f"run record is missing key(s) {', '.join(missing)}")
    if not isinstance(spec["protocol"], str) or spec["protocol"] not in LIBRARY:
        raise UsageError(f"run record: unknown protocol {spec['protocol']!r:.80}; known: {', '.join(LIBRARY)}")
    for key in ("q", "k", "rounds", "bits", "batch"):
        check_int(f"run {key}", spec[key], low=1, error=UsageError)
    check_int("run seed", spec["seed"], low=0, error=UsageError)
    if spec["start"] != "random":
        check_int("run start", spec["start"], low=0, error=UsageError)
    choices = (("version", ("decision", "search")), ("order", ("hard", "easy")), ("functions", (False, True)))
    for key, allowed in choices:
        if not any(spec[key] is a or (isinstance(a, str) and spec[key] == a) for a in allowed):
            raise UsageError(f"run {key} = {spec[key]!r:.80}; it must be one of {', '.join(map(str, allowed))}")
    agree = {"k": (spec["k"], t.k), "rounds": (spec["rounds"], t.R), "bits": (spec["bits"], t.s),
             "batch": (spec["batch"], t.batch), "protocol": (spec["protocol"], t.name)}
    for key, (ran, saved) in agree.items():
        if ran != saved:
            raise UsageError(f"run {key} = {ran!r:.80} but the transcript has {saved!r:.80}")
    return spec


def run(args: argparse.Namespace) -> int:
    with budget_scope(args.memory_budget):
        return _replay(args)


def _replay(args: argparse.Namespace) -> int:
    t, spec = read_record(args.file)
    start = None if spec["start"] == "random" else spec["start"]
    problem = PointerChasing(
        q=spec["q"], k=spec["k"], version=spec["version"], order=spec["order"], functions=spec["functions"], start=start
    )
    batch = spec["batch"]
    require(batch * problem.instance_bytes(), f"replaying {batch} instance(s) of q = {problem.q}, k = {problem.k}")
    protocol = LIBRARY[spec["protocol"]](problem, R=spec["rounds"], s=spec["bits"])
    require(batch * footprint(protocol, problem).total, f"replaying {batch} instance(s) of {protocol!r}")
    inst = problem.sample(batch, seed=child_seed(spec["seed"], 0))
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
