"""The MPC engine: run a (γ, δ)-MPC protocol round by round with every word counted ([SHT24] Def. 2.3).

docs/definitions.md §9.  ``M`` machines, each with a local memory of at most
``s`` words of ``p`` bits.  In round r every machine computes on its local
memory and then sends messages; it keeps some of its records and the rest of
its memory is gone.  The engine enforces, per machine and per round:

- words sent <= s (:class:`SendLimitExceeded`),
- words received <= s (:class:`ReceiveLimitExceeded`),
- words held = words kept + words received <= s (:class:`MemoryLimitExceeded`),
  and the input itself fits (round 0),
- every sender and receiver is a machine (:class:`AddressError`), every word is
  an integer of p bits (:class:`WordError`),
- a machine's computation depends on its own memory only
  (:class:`IsolationError`, see below), and the protocol halts within
  ``max_rounds`` (:class:`RoundLimitExceeded`).

Each error names the round and the machine.

Programs
--------
A vectorised :class:`MPCProgram` implements ``step(ctx, memory) -> Step``:
``memory`` is every machine's memory at once (tables whose records carry
their machine), so a round over 10^6 positions is a few numpy operations.  Its
contract is that each machine's part of the result (the records it keeps,
the messages it sends) is a function of that machine's records only.  The
engine checks this contract by **isolation audit**: in every round it re-runs
``step`` on the memory of ``audit`` sampled machines alone (every other
machine's records removed) and requires their kept records and sent messages
to be exactly those of the full run; a program that reads another machine's
words (or sends in its name, or plants records on it from what another
machine holds) gets a different answer there and is refused.  Machines with
empty memory still compute (from public parameters), as in Def. 2.3.
``audit="all"`` runs every machine alone (exhaustive, for tests).

A :class:`MachineProgram` implements ``compute(ctx, machine, memory)`` and is
called once per machine with only that machine's memory: isolated by
construction (slow; for small protocols and tests).

Examples
--------
>>> import numpy as np
>>> class Total(MPCProgram):
...     name = "total"
...     def step(self, ctx, memory):
...         x = memory["x"]
...         tot = np.bincount(x.at, weights=x["v"], minlength=ctx.machines).astype(np.int64)
...         live = np.flatnonzero(np.bincount(x.at, minlength=ctx.machines))
...         if ctx.round == 1:   # every machine sends its partial sum to machine 0
...             return Step(send={"x": Messages.of(live, 0, v=tot[live])})
...         return Step(keep={"y": Records.of(live, y=tot[live])}, halt=True)
>>> r = run_mpc(Total(), {"x": distribute(np.arange(10), 4, "v")}, machines=3, s=4, audit="all")
>>> r.rounds, int(r.memory["y"]["y"][0]), r.summary()["max_words_received"]
(2, 45, 3)
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..seeding import Seed, as_generator, as_seed_sequence
from ..validation import check_int
from .errors import (
    AddressError,
    IsolationError,
    MemoryLimitExceeded,
    MPCConfigError,
    MPCError,
    OutputPlacementError,
    ReceiveLimitExceeded,
    RoundLimitExceeded,
    SendLimitExceeded,
    WordError,
)
from .records import Memory, Messages, Records, concat_records

__all__ = [
    "MPCProgram",
    "MachineProgram",
    "Step",
    "RoundContext",
    "RoundStats",
    "MPCRun",
    "run_mpc",
    "distribute",
    "collect_output",
    "input_machines",
]

#: Round limit when the caller gives none (any honest protocol here halts far sooner).
DEFAULT_MAX_ROUNDS = 10_000


@dataclass(frozen=True)
class RoundContext:
    """What every machine knows in a round: public parameters only (no one's memory)."""

    round: int
    machines: int
    s: int
    word_bits: int
    seed: np.random.SeedSequence


@dataclass(frozen=True, eq=False)
class Step:
    """One round's result: records each machine keeps, messages each sends, and whether the protocol halts."""

    keep: Mapping[str, Records] = field(default_factory=dict)
    send: Mapping[str, Messages] = field(default_factory=dict)
    halt: bool = False


class MPCProgram(ABC):
    """A vectorised MPC protocol (see the module docstring for the isolation contract)."""

    name: str = "mpc-program"

    @abstractmethod
    def step(self, ctx: RoundContext, memory: Memory) -> Step:
        """Every machine's computation of round ``ctx.round`` on its own records of ``memory``."""


class MachineProgram(MPCProgram):
    """A protocol written one machine at a time: ``compute`` sees only that machine's memory."""

    @abstractmethod
    def compute(self, ctx: RoundContext, machine: int, memory: Memory) -> Step:
        """Machine ``machine``'s computation on its own ``memory`` (every record has ``at == machine``)."""

    def step(self, ctx: RoundContext, memory: Memory) -> Step:
        split = {n: _split(t, ctx.machines) for n, t in memory.items()}
        keep: dict[str, list[Records]] = {}
        send: dict[str, list[Messages]] = {}
        halts = []
        for i in range(ctx.machines):
            mine = {n: t.take(idx[i]) for n, (t, idx) in split.items()}
            st = self.compute(ctx, i, mine)
            for n, r in st.keep.items():
                if len(r) and bool((r.at != i).any()):
                    raise AddressError(f"round {ctx.round}, machine {i}: kept a record on machine "
                                       f"{int(r.at[r.at != i][0])} (records move only by messages)")
                keep.setdefault(n, []).append(r)
            for n, m in st.send.items():
                if len(m) and bool((m.src != i).any()):
                    raise AddressError(f"round {ctx.round}, machine {i}: sent a message in the name of machine "
                                       f"{int(m.src[m.src != i][0])}")
                send.setdefault(n, []).append(m)
            halts.append(bool(st.halt))
        if len(set(halts)) > 1:
            raise MPCError(f"round {ctx.round}: machines disagree on halting (the protocol's rounds are fixed)")
        return Step({n: concat_records(v) for n, v in keep.items()},
                    {n: _concat_messages(v) for n, v in send.items()}, halts[0] if halts else False)


def _split(t: Records, machines: int) -> tuple[Records, list[np.ndarray]]:
    order = np.argsort(t.at, kind="stable")
    bounds = np.searchsorted(t.at[order], np.arange(machines + 1))
    return t, [order[bounds[i]:bounds[i + 1]] for i in range(machines)]


def _concat_messages(parts: list[Messages]) -> Messages:
    names = list(parts[0].cols)
    for p in parts[1:]:
        if list(p.cols) != names:
            raise MPCError(f"message tables with columns {names} and {list(p.cols)} cannot share a name")
    return Messages(np.concatenate([p.src for p in parts]), np.concatenate([p.dst for p in parts]),
                    {n: np.concatenate([p.cols[n] for p in parts]) for n in names})


@dataclass(frozen=True)
class RoundStats:
    """Per-round maxima and totals (round 0 is the input)."""

    round: int
    max_held: int
    max_sent: int
    max_received: int
    words_sent: int
    messages: int
    busy_machines: int

    def as_dict(self) -> dict[str, int]:
        return dict(round=self.round, max_held=self.max_held, max_sent=self.max_sent,
                    max_received=self.max_received, words_sent=self.words_sent, messages=self.messages,
                    busy_machines=self.busy_machines)


@dataclass(frozen=True, eq=False)
class MPCRun:
    """What :func:`run_mpc` returns: the final memory and the counted transcript."""

    program: str
    machines: int
    s: int
    word_bits: int
    memory: Mapping[str, Records]
    stats: tuple[RoundStats, ...]
    audited: int

    @property
    def rounds(self) -> int:
        """Communication rounds run (round 0, the input, is not a round)."""
        return len(self.stats) - 1

    def summary(self, per_round: bool = True) -> dict[str, Any]:
        """Per-round maxima and totals, and their maxima over the run (a JSON-able dict)."""
        st = self.stats
        out: dict[str, Any] = {
            "protocol": self.program, "rounds": self.rounds, "machines": self.machines, "s": self.s,
            "word_bits": self.word_bits,
            "max_words_held": max(r.max_held for r in st),
            "max_words_sent": max((r.max_sent for r in st[1:]), default=0),
            "max_words_received": max((r.max_received for r in st[1:]), default=0),
            "total_words_sent": sum(r.words_sent for r in st),
            "total_messages": sum(r.messages for r in st),
            "audited_machine_rounds": self.audited,
        }
        if per_round:
            out["per_round"] = [r.as_dict() for r in st]
        return out


def input_machines(n: int, s: int) -> int:
    """``ceil(n / s)``: the machines that hold an n-word input (or output).

    Examples
    --------
    >>> input_machines(10, 4)
    3
    """
    return -(-int(n) // int(s))


def distribute(x: Any, s: int, name: str = "x") -> Records:
    """The input spread over the first ``ceil(n/s)`` machines, s words each, in order (Def. 2.3).

    Word ``i`` sits on machine ``i // s`` as its slot ``i % s``
    (:func:`~protocols.mpc.records.local_slots`).

    Examples
    --------
    >>> distribute([4, 5, 6], 2).at.tolist()
    [0, 0, 1]
    """
    a = np.asarray(x).reshape(-1)
    s = check_int("s", s, low=1, error=MPCConfigError)
    return Records.of(np.arange(a.shape[0], dtype=np.int64) // s, **{name: a})


def collect_output(records: Records, n_out: int, s: int, column: str | None = None) -> np.ndarray:
    """Read the output: ``n_out`` words on the first ``ceil(n_out/s)`` machines, s per machine, in order.

    Raises :class:`OutputPlacementError` when the output table is not laid out
    that way (Def. 2.3: after the last round the output is in the local
    memories of the first ``ceil(n_out/s)`` machines).

    Examples
    --------
    >>> collect_output(Records.of([1, 0, 0], y=[9, 7, 8]), 3, 2).tolist()
    [7, 8, 9]
    """
    if records.width != 1 and column is None:
        raise OutputPlacementError(f"the output table has {records.width} words per record; name the column")
    col = column or next(iter(records.cols))
    n = len(records)
    if n != n_out:
        raise OutputPlacementError(f"the output has {n} words; expected n_out = {n_out}")
    counts = np.bincount(records.at, minlength=1)
    want = np.full(input_machines(n_out, s), s)
    if n_out % s:
        want[-1] = n_out % s
    if counts.shape[0] != want.shape[0] or bool((counts != want).any()):
        bad = int(np.flatnonzero(np.pad(counts, (0, max(0, want.shape[0] - counts.shape[0])))[: max(
            counts.shape[0], want.shape[0])] != np.pad(want, (0, max(0, counts.shape[0] - want.shape[0]))))[0])
        raise OutputPlacementError(
            f"machine {bad} holds {int(counts[bad]) if bad < counts.shape[0] else 0} output words; the output "
            f"must fill machines 0..{want.shape[0] - 1} with s = {s} words each (Def. 2.3)")
    order = np.argsort(records.at, kind="stable")
    return records.cols[col][order]


def _check_words(what: str, r: int, cols: Mapping[str, np.ndarray], owner: np.ndarray, lo: int, hi: int) -> None:
    for name, a in cols.items():
        if a.dtype.kind not in "iub":
            raise WordError(f"round {r}: {what} column {name!r} has dtype {a.dtype}; words are integers")
        info = None if a.dtype.kind == "b" else np.iinfo(a.dtype)
        if info is not None and info.min >= lo and info.max <= hi:
            continue  # the dtype itself keeps every value a p-bit word
        if a.size and a.dtype.kind != "b":
            mn, mx = int(a.min()), int(a.max())
            if mn < lo or mx > hi:
                i = int(np.flatnonzero((a < lo) | (a > hi))[0])
                raise WordError(f"round {r}, machine {int(owner[i])}: {what} column {name!r} holds "
                                f"{int(a[i])}, outside the {hi.bit_length() + 1}-bit words [{lo}, {hi}]")


#: Addresses counted per bincount call (see :func:`_counts`).
_COUNT_CHUNK = 1 << 16


def _grouped(a: np.ndarray) -> bool:
    """Whether an address column is non-decreasing (records grouped by machine, the usual layout).

    One vectorised comparison; it lets a count or a machine's rows come from a
    binary search instead of a pass over every record.
    """
    if a.dtype not in (np.int32, np.int64):
        return False
    few = a[:: max(1, a.shape[0] // 64)]  # an ungrouped column usually shows it in a few samples
    return bool((few[1:] >= few[:-1]).all()) and bool((a[1:] >= a[:-1]).all())


class _GroupedOnce:
    """:func:`_grouped` of each address column once per round (a table's column is counted, then audited).

    Keyed by identity; holding the column keeps its id from being reused within the round.
    """

    def __init__(self) -> None:
        self._seen: dict[int, tuple[np.ndarray, bool]] = {}

    def __call__(self, a: np.ndarray) -> bool:
        hit = self._seen.get(id(a))
        if hit is not None and hit[0] is a:
            return hit[1]
        g = _grouped(a)
        self._seen[id(a)] = (a, g)
        return g


def _counts(what: str, r: int, a: np.ndarray, machines: int, grouped: Callable[[np.ndarray], bool] = _grouped
            ) -> np.ndarray:
    """Records per machine, ``(machines,)``; an address that is not a machine raises :class:`AddressError`."""
    n = a.shape[0]
    if n and grouped(a) and 0 <= int(a[0]) and int(a[-1]) < machines:
        # grouped and in range: the counts are the gaps between each machine's first record
        # (exactly bincount's, without bincount's cast to intp and its two passes over a)
        lo, hi = int(a[0]), int(a[-1])
        c = np.zeros(machines, np.intp)
        edges = np.arange(lo, hi + 2, dtype=a.dtype if hi + 1 <= np.iinfo(a.dtype).max else np.int64)
        c[lo:hi + 1] = np.diff(np.searchsorted(a, edges))
        return c
    # in chunks: bincount casts its input to intp, and a cast of a whole column is a fresh array
    # as large as the column (page faults on every round); a chunk's cast stays in cache
    c = np.zeros(machines, np.intp)
    for lo in range(0, n, _COUNT_CHUNK):
        try:
            part = np.bincount(a[lo:lo + _COUNT_CHUNK], minlength=machines)
        except ValueError:  # a negative address
            part = None
        if part is None or part.shape[0] > machines:
            c = None
            break
        c += part
    if c is None:
        bad = int(a[(a < 0) | (a >= machines)][0])
        raise AddressError(f"round {r}: {what} {bad} is not a machine (machines are 0..{machines - 1})")
    return c


def _rows(a: np.ndarray, machine: int, grouped: Callable[[np.ndarray], bool] = _grouped) -> np.ndarray:
    """Indices of the records of ``machine`` in an address column, in table order."""
    if grouped(a):  # a contiguous run: two binary searches instead of a pass over every record
        info = np.iinfo(a.dtype)
        if not info.min <= machine <= info.max:
            return np.empty(0, np.intp)
        key = a.dtype.type(machine)  # in a's dtype: a Python int would make searchsorted cast all of a
        return np.arange(np.searchsorted(a, key, "left"), np.searchsorted(a, key, "right"))
    return np.flatnonzero(a == machine)


def _first_over(words: np.ndarray, s: int) -> int:
    return int(np.flatnonzero(words > s)[0])


def _alone(memory: Memory, machine: int, grouped: Callable[[np.ndarray], bool] = _grouped) -> dict[str, Records]:
    """The memory with every machine but ``machine`` emptied."""
    return {n: t.take(_rows(t.at, machine, grouped)) for n, t in memory.items()}


def _same_tables(a: Mapping[str, Any], b: Mapping[str, Any], who: str) -> bool:
    names = {n for n, t in a.items() if len(t)} | {n for n, t in b.items() if len(t)}
    for n in names:
        ta, tb = a.get(n), b.get(n)
        if ta is None or tb is None or len(ta) != len(tb) or list(ta.cols) != list(tb.cols):
            return False
        if not np.array_equal(getattr(ta, who), getattr(tb, who)):
            return False
        if who == "src" and not np.array_equal(ta.dst, tb.dst):
            return False
        if any(not np.array_equal(ta.cols[c], tb.cols[c]) for c in ta.cols):
            return False
    return True


def _audit(program: MPCProgram, ctx: RoundContext, memory: Memory, st: Step, sample: np.ndarray,
           grouped: Callable[[np.ndarray], bool] = _grouped) -> None:
    """Re-run the round on the sampled machines alone; their results must be the full run's."""
    for i in sample.tolist():
        try:
            mine = program.step(ctx, _alone(memory, i, grouped))
        except Exception as exc:  # a computation that fails without the others' words used them
            raise IsolationError(f"round {ctx.round}, machine {i}: its computation fails on its own memory "
                                 f"({type(exc).__name__}: {exc}); it used words it does not hold") from exc
        # index arrays, not masks: at most one pass over each address column, then small gathers
        full_keep = {n: t.take(_rows(t.at, i, grouped)) for n, t in st.keep.items()}
        full_send = {n: m.take(_rows(m.src, i, grouped)) for n, m in st.send.items()}
        own_keep = {n: t.take(_rows(t.at, i)) for n, t in mine.keep.items()}
        own_send = {n: m.take(_rows(m.src, i)) for n, m in mine.send.items()}
        if not _same_tables(full_keep, own_keep, "at") or not _same_tables(full_send, own_send, "src"):
            raise IsolationError(f"round {ctx.round}, machine {i}: what it keeps or sends changes when the other "
                                 f"machines' memory is removed; it read memory it was not sent")


def run_mpc(
    program: MPCProgram,
    inputs: Mapping[str, Records],
    *,
    machines: int,
    s: int,
    word_bits: int = 64,
    max_rounds: int = DEFAULT_MAX_ROUNDS,
    seed: Seed = 0,
    audit: int | str = 1,
) -> MPCRun:
    """Run ``program`` from ``inputs`` until it halts; enforce and count every limit of Def. 2.3.

    Parameters
    ----------
    program : an :class:`MPCProgram` (or :class:`MachineProgram`).
    inputs : the initial memory (e.g. ``{"x": distribute(x, s)}``).
    machines, s : the number of machines M and the local memory s in words.
    word_bits : p; every word is an integer in ``[-2^(p-1), 2^(p-1))``.
    max_rounds : refuse a protocol that has not halted after this many rounds.
    seed : seeds the audit's choice of machines and ``ctx.seed`` (the run is
        deterministic for a seed).
    audit : machines re-run alone per round (the isolation audit); ``"all"``
        for every machine, 0 to switch it off.

    Returns
    -------
    MPCRun
        The final memory and per-round statistics (:meth:`MPCRun.summary`).
    """
    M = check_int("machines", machines, low=1, error=MPCConfigError)
    s = check_int("s", s, low=1, error=MPCConfigError)
    p = check_int("word_bits", word_bits, low=2, high=64, error=MPCConfigError)
    max_rounds = check_int("max_rounds", max_rounds, low=1, error=MPCConfigError)
    if audit != "all":
        audit = check_int("audit", audit, low=0, error=MPCConfigError)
    lo, hi = -(2 ** (p - 1)), 2 ** (p - 1) - 1
    root = as_seed_sequence(seed)
    rng = as_generator(np.random.SeedSequence(root.entropy, spawn_key=tuple(root.spawn_key) + (0x4D5043,)))
    memory = dict(inputs)
    del inputs  # the input tables go once round 1 has replaced them (the caller's dict is usually a temporary)
    held = np.zeros(M, np.int64)
    for n, t in memory.items():
        if not isinstance(t, Records):
            raise MPCError(f"input table {n!r} is a {type(t).__name__}; inputs are Records")
        held += _counts("input machine", 0, t.at, M) * t.width
        _check_words(f"input {n!r}", 0, t.cols, t.at, lo, hi)
    if held.size and held.max() > s:
        i = _first_over(held, s)
        raise MemoryLimitExceeded(f"round 0, machine {i}: the input puts {int(held[i])} words on it; s = {s}",
                                  0, i, int(held[i]), s)
    stats = [RoundStats(0, int(held.max(initial=0)), 0, 0, 0, 0, int((held > 0).sum()))]
    audited = 0
    for r in range(1, max_rounds + 1):
        ctx = RoundContext(r, M, s, p, root)
        st = program.step(ctx, memory)
        if not isinstance(st, Step):
            raise MPCError(f"round {r}: step returned {type(st).__name__}; it must return a Step")
        grouped = _GroupedOnce()
        kept = np.zeros(M, np.int64)
        for n, t in st.keep.items():
            kept += _counts("a kept record's machine", r, t.at, M, grouped) * t.width
            _check_words(f"kept {n!r}", r, t.cols, t.at, lo, hi)
        sent = np.zeros(M, np.int64)
        recv = np.zeros(M, np.int64)
        n_msgs = 0
        for n, m in st.send.items():
            sent += _counts("sender", r, m.src, M, grouped) * m.width
            recv += _counts("receiver", r, m.dst, M, grouped) * m.width
            _check_words(f"message {n!r}", r, m.cols, m.src, lo, hi)
            n_msgs += len(m)
        if sent.max() > s:
            i = _first_over(sent, s)
            raise SendLimitExceeded(f"round {r}, machine {i}: sends {int(sent[i])} words; s = {s}", r, i,
                                    int(sent[i]), s)
        if recv.max() > s:
            i = _first_over(recv, s)
            raise ReceiveLimitExceeded(f"round {r}, machine {i}: is sent {int(recv[i])} words; s = {s}", r, i,
                                       int(recv[i]), s)
        busy = held > 0  # machines holding words at the start of this round
        held = recv + kept
        if held.max() > s:
            i = _first_over(held, s)
            raise MemoryLimitExceeded(f"round {r}, machine {i}: would hold {int(held[i])} words (kept + received); "
                                      f"s = {s}", r, i, int(held[i]), s)
        if audit == "all":
            sample = np.arange(M)
        elif audit:
            pool = np.flatnonzero(busy) if busy.any() else np.arange(M)
            sample = np.sort(rng.choice(pool, size=min(int(audit), pool.size), replace=False))
        else:
            sample = np.empty(0, np.int64)
        if sample.size:
            _audit(program, ctx, memory, st, sample, grouped)
            audited += int(sample.size)
        new: dict[str, list[Records]] = {}
        for n, t in st.keep.items():
            new.setdefault(n, []).append(t)
        for n, m in st.send.items():
            new.setdefault(n, []).append(m.delivered())
        memory = {n: concat_records(v) for n, v in new.items()}
        stats.append(RoundStats(r, int(held.max()), int(sent.max()), int(recv.max()), int(sent.sum()), n_msgs,
                                int((held > 0).sum())))
        halt = bool(st.halt)
        # the senders' columns are needed no more once delivered: free them (held by the step and the
        # loop variables) before the next round allocates its own
        st = new = grouped = m = None  # type: ignore[assignment]
        if halt:
            return MPCRun(program.name, M, s, p, memory, tuple(stats), audited)
    raise RoundLimitExceeded(f"{program.name} did not halt within max_rounds = {max_rounds}")
