"""Transcripts of single instances: bits, index and JSON.

A transcript is the board of one instance: R·k messages of exactly s bits in
speaking order, with an index of ``(round, speaker, start, stop, used)``
spans.  It round-trips through JSON and can be checked against a re-run with
:func:`protocols.replay.replay`.  This module does not import the engine (the
engine's ``Run.transcript`` builds transcripts), so there is no import cycle.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from bitarray import bitarray, frozenbitarray

from .bits import as_bitarray, pack

__all__ = ["Transcript"]


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
    def from_run(cls, r: Any, b: int) -> Transcript:
        """Instance ``b`` of ``r``, a :class:`protocols.Run` (typed ``Any``: the engine imports this module)."""
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
        d = json.loads(text)
        return cls(
            d["protocol"], d["k"], d["R"], d["s"], frozenbitarray(d["bits"]),
            tuple(tuple(e) for e in d["index"]), d["output"], d["instance"], d["batch"], d["seed"],
        )

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

