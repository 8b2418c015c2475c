"""Transcripts of single instances: bits, index, JSON, and replay.

A transcript is the board of one instance: R·k messages of exactly s bits in
speaking order, with an index of ``(round, speaker, start, stop, used)``
spans.  It round-trips through JSON and can be checked against a re-run with
:func:`replay`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from bitarray import bitarray, frozenbitarray

from .bits import as_bitarray, pack
from .engine import Protocol, Run, _seed_from_record, run
from .errors import ReplayMismatch, TranscriptError
from .validation import check_int

__all__ = ["Transcript", "replay"]


@dataclass(frozen=True, eq=False)
class Transcript:
    """The board of one instance of a run.

    Attributes
    ----------
    bits : frozenbitarray of exactly ``R * k * s`` bits (message m at ``m*s``).
    index : tuple of ``(round, speaker, start, stop, used)``: where each message
        lies in ``bits`` and how many of its bits the speaker used.
    output : the protocol's answer for this instance (an int).
    instance : the instance's position in its batch; ``batch`` its batch size.
    seed : the run's seed record (for :func:`replay`).

    Examples
    --------
    >>> from protocols import PointerChasing, run
    >>> from protocols.library import OneHopPerRound
    >>> pc = PointerChasing(q=4, k=2)
    >>> inst = pc.sample(3, seed=0)
    >>> t = run(OneHopPerRound(pc), pc.inputs(inst), seed=1, public=pc.public(inst)).transcript(0)
    >>> len(t.bits), t.index[0]
    (8, (0, 0, 0, 2, 0))
    >>> Transcript.from_json(t.to_json()) == t
    True
    """

    name: str
    k: int
    R: int
    s: int
    bits: frozenbitarray
    index: tuple[tuple[int, int, int, int, int], ...]
    output: int
    instance: int
    batch: int
    seed: dict

    @classmethod
    def from_run(cls, r: Run, b: int) -> Transcript:
        if not 0 <= b < r.batch:
            raise IndexError(f"instance {b} outside the batch of {r.batch}")
        n = r.R * r.k * r.s
        packed = pack(r.board[b].reshape(-1))
        bits = frozenbitarray(as_bitarray(packed)[:n])
        index = tuple(
            (rr, i, (rr * r.k + i) * r.s, (rr * r.k + i + 1) * r.s, int(r.used[rr, i]))
            for rr in range(r.R)
            for i in range(r.k)
        )
        return cls(r.name, r.k, r.R, r.s, bits, index, int(r.outputs[b]), b, r.batch, dict(r.seed))

    def view(self) -> bitarray:
        """A zero-copy bitarray view of the transcript's packed bytes (pad bits zero)."""
        return as_bitarray(np.frombuffer(self.bits.tobytes(), dtype=np.uint8))

    def message(self, round: int, speaker: int) -> frozenbitarray:
        """The s bits ``speaker`` wrote in ``round``."""
        m = round * self.k + speaker
        return self.bits[m * self.s : (m + 1) * self.s]

    def to_json(self) -> str:
        return json.dumps(
            {
                "protocol": self.name,
                "k": self.k,
                "R": self.R,
                "s": self.s,
                "bits": self.bits.to01(),
                "index": [list(e) for e in self.index],
                "output": self.output,
                "instance": self.instance,
                "batch": self.batch,
                "seed": self.seed,
            }
        )

    @classmethod
    def from_json(cls, text: str) -> Transcript:
        """Parse and validate a transcript; a malformed one raises :class:`TranscriptError`.

        Every key, type and size is checked before anything is built: the bit
        string must hold exactly ``R·k·s`` bits and the index one entry per message.
        """
        try:
            d = json.loads(text)
        except RecursionError as exc:
            raise TranscriptError("transcript JSON is nested too deeply") from exc
        except json.JSONDecodeError as exc:
            raise TranscriptError(f"transcript is not JSON ({exc})") from exc
        return cls.from_dict(d)

    @classmethod
    def from_dict(cls, d: Any) -> Transcript:
        """A transcript from its parsed JSON (see :meth:`from_json`)."""
        if not isinstance(d, dict):
            raise TranscriptError(f"a transcript is a JSON object, got {type(d).__name__}")
        keys = ("protocol", "k", "R", "s", "bits", "index", "output", "instance", "batch", "seed")
        missing = [key for key in keys if key not in d]
        if missing:
            raise TranscriptError(f"transcript is missing key(s) {', '.join(missing)}")
        if not isinstance(d["protocol"], str):
            raise TranscriptError(f"transcript protocol = {d['protocol']!r}; it must be a string")
        k, R, s = (check_int(f"transcript {key}", d[key], low=1, error=TranscriptError) for key in ("k", "R", "s"))
        bits = d["bits"]
        if not isinstance(bits, str) or len(bits) != R * k * s or bits.strip("01"):
            shown = f"{len(bits)} characters" if isinstance(bits, str) else type(bits).__name__
            raise TranscriptError(f"transcript bits must be R·k·s = {R * k * s} characters 0/1, got {shown}")
        index = d["index"]
        if not isinstance(index, list) or len(index) != R * k:
            raise TranscriptError(f"transcript index must list R·k = {R * k} messages")
        entries = []
        for m, e in enumerate(index):
            want = (m // k, m % k, m * s, (m + 1) * s)
            if not isinstance(e, list) or len(e) != 5 or any(isinstance(x, bool) or not isinstance(x, int) for x in e):
                raise TranscriptError(f"transcript index entry {m} must be 5 integers, got {e!r:.80}")
            if tuple(e[:4]) != want or not 0 <= e[4] <= s:
                raise TranscriptError(f"transcript index entry {m} is {e}; expected {list(want)} and 0 <= used <= {s}")
            entries.append(tuple(e))
        output = check_int("transcript output", d["output"], error=TranscriptError)
        batch = check_int("transcript batch", d["batch"], low=1, error=TranscriptError)
        instance = check_int("transcript instance", d["instance"], low=0, high=batch - 1, error=TranscriptError)
        seed = d["seed"]
        if (
            not isinstance(seed, dict)
            or not isinstance(seed.get("entropy"), str)
            or not seed["entropy"].isdigit()
            or not isinstance(seed.get("spawn_key"), list)
            or any(isinstance(x, bool) or not isinstance(x, int) or x < 0 for x in seed["spawn_key"])
        ):
            raise TranscriptError("transcript seed must be {'entropy': digits, 'spawn_key': [non-negative ints]}")
        return cls(d["protocol"], k, R, s, frozenbitarray(bits), tuple(entries), output, instance, batch, seed)

    def save(self, path: str | Path) -> None:
        Path(path).write_text(self.to_json())

    @classmethod
    def load(cls, path: str | Path) -> Transcript:
        return cls.from_json(Path(path).read_text())

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Transcript) and self.to_json() == other.to_json()

    __hash__ = None  # type: ignore[assignment]

    def render(self, decode: Any = None) -> str:
        """Human-readable board: one line per message (round, speaker, bits, value).

        ``decode(round, speaker, bits: np.ndarray) -> str`` may name each message's value.
        """
        lines = [f"{self.name}: k={self.k} R={self.R} s={self.s} instance {self.instance}"]
        for r, i, start, stop, used in self.index:
            bits = self.bits[start:stop].to01()
            text = f"round {r} speaker {i} [{used:>4} bits] {bits[:used] or '-'}"
            if decode is not None and used:
                text += f"  = {decode(r, i, np.frombuffer(bits.encode(), np.uint8) - 48)}"
            lines.append(text)
        lines.append(f"output: {self.output}")
        return "\n".join(lines)


def replay(
    recorded: Transcript | Run,
    protocol: Protocol,
    inputs: Sequence[np.ndarray],
    public: Mapping[str, Any] | None = None,
) -> Run:
    """Re-run ``protocol`` on ``inputs`` with the recorded seed and check identity.

    Coins are drawn for the whole batch, so ``inputs`` is the batch the
    recording came from.  Raises :class:`ReplayMismatch` naming the first
    differing message; returns the new run otherwise.

    Examples
    --------
    >>> from protocols import PointerChasing, run
    >>> from protocols.library import OneHopPerRound
    >>> pc = PointerChasing(q=4, k=2); inst = pc.sample(3, seed=0); p = OneHopPerRound(pc)
    >>> r = run(p, pc.inputs(inst), seed=1, public=pc.public(inst))
    >>> _ = replay(r.transcript(2), p, pc.inputs(inst), pc.public(inst))
    """
    again = run(protocol, inputs, seed=_seed_from_record(recorded.seed), public=public)
    if isinstance(recorded, Run):
        pairs = [(b, recorded.transcript(b)) for b in range(recorded.batch)]
    else:
        if again.batch != recorded.batch:
            raise ReplayMismatch(f"recorded batch has {recorded.batch} instances; replay got {again.batch}")
        pairs = [(recorded.instance, recorded)]
    for b, t in pairs:
        new = again.transcript(b)
        if (new.k, new.R, new.s) != (t.k, t.R, t.s):
            raise ReplayMismatch(f"shape (k, R, s) = {(new.k, new.R, new.s)}; recorded {(t.k, t.R, t.s)}")
        if new.bits != t.bits:
            pos = next(j for j in range(len(t.bits)) if new.bits[j] != t.bits[j])
            m = pos // t.s
            raise ReplayMismatch(
                f"instance {b}: message of speaker {m % t.k} in round {m // t.k} differs at bit {pos % t.s}"
            )
        if new.output != t.output:
            raise ReplayMismatch(f"instance {b}: output {new.output}; recorded {t.output}")
    return again
