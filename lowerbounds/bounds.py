"""Bound formulas, one function each, with its source and regime (docs/definitions.md §2, §5).

The one source of truth for every bound kparty plots or prints.  All functions
are vectorised: arguments broadcast like numpy arrays, scalars give numpy
scalars.

Lower bounds (success probability >= 2/3 is impossible below them)
-------------------------------------------------------------------
- :func:`pointer_chasing_bits` — [AN21] Prop. 4.12 as restated in [SHT24]
  Prop. E.3: a (k, R, s) protocol for (q, k) pointer chasing with R < k rounds
  needs s >= c·q/k^5 bits per message.
- :func:`sequence_bits` — the same in sequence length N (the k-hop encoding has
  N = 2kq + 1, :func:`encoded_length`): s >= c·N/k^6 ([SHT24] App. E).
- :func:`rnn_bound`, :func:`kernel_attention_bound`,
  :func:`sparse_attention_bound` (and :func:`sparse_attention_width_needed`),
  :func:`cot_bound` — [SHT24] Cor. 5.2, 5.3, 5.4, 5.6 as requirements on model
  dimensions.
- :func:`verdict` — is a budget (k, R, s, q) ruled out at success 2/3?

The constant c.  The papers prove Omega(.) without a constant; every function
takes an explicit ``c`` (default 1) and every table or plot labels it.  Because
N = 2kq + 1, the two forms relate as c_q·q/k^5 = (c_q/2)·(N - 1)/k^6: the same
bound written in N carries half the constant.

Upper bounds (protocols in :mod:`protocols.library` that reach success 2/3)
---------------------------------------------------------------------------
:func:`one_hop_budget` (R = k, s = ceil(log2 q)), :func:`full_dump_budget`
(R = 1, s = q·ceil(log2 q)), :func:`sampling_budget` (R = k-1,
s = ceil(q/(k-1))·ceil(log2 q) = O((q/k) log q), [NW93]) and
:func:`guess_budget`; :data:`UPPER_BOUNDS` maps library names to them.
:func:`sampling_upper_bits` is the order-of-growth form c·(q/k)·log2 q.
:func:`table` collects everything for one (q, k, N) — the ``bounds`` CLI prints it.

Examples
--------
>>> float(pointer_chasing_bits(q=2**20, k=4))
1024.0
>>> bool(verdict(k=4, R=3, s=512, q=2**20).ruled_out)
True
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike

from protocols.bits import bits_for
from protocols.library.sampling import sampling_budget as _sampling_budget
from reductions.khop.instance import sequence_length

from .errors import BoundArgumentError

__all__ = [
    "TARGET_SUCCESS",
    "ceil_log2",
    "encoded_length",
    "pointer_chasing_bits",
    "sequence_bits",
    "rnn_bound",
    "kernel_attention_bound",
    "sparse_attention_bound",
    "sparse_attention_width_needed",
    "cot_bound",
    "Budget",
    "one_hop_budget",
    "last_layer_table_budget",
    "backward_collapse_budget",
    "full_dump_budget",
    "sampling_budget",
    "guess_budget",
    "sampling_upper_bits",
    "UPPER_BOUNDS",
    "Verdict",
    "verdict",
    "BoundRow",
    "table",
]

#: The success probability at which the lower bounds are stated ([SHT24] Prop. E.3).
TARGET_SUCCESS = 2 / 3


# -- argument checks -------------------------------------------------------------
def _ints(name: str, value: ArrayLike, least: int) -> np.ndarray:
    a = np.asarray(value)
    if a.dtype == bool or a.dtype.kind not in "iuf":
        raise BoundArgumentError(f"{name} = {value!r} is not a number; {name} must be an integer >= {least}")
    if a.dtype.kind == "f":
        if not np.all(np.isfinite(a)) or np.any(a != np.round(a)):
            raise BoundArgumentError(f"{name} = {value!r} is not an integer; {name} must be an integer >= {least}")
        a = a.astype(np.int64)
    if np.any(a < least):
        bad = a[a < least].flat[0]
        raise BoundArgumentError(f"{name} = {bad} is invalid; {name} must be an integer >= {least}")
    return a.astype(np.int64)


def _nonneg(name: str, value: ArrayLike) -> np.ndarray:
    a = np.asarray(value)
    if a.dtype == bool or a.dtype.kind not in "iuf":
        raise BoundArgumentError(f"{name} = {value!r} is not a number; {name} must be >= 0")
    a = a.astype(np.float64)
    if not np.all(np.isfinite(a)) or np.any(a < 0):
        bad = a[~np.isfinite(a) | (a < 0)].flat[0]
        raise BoundArgumentError(f"{name} = {bad} is invalid; {name} must be a finite number >= 0")
    return a


def _constant(c: ArrayLike) -> np.ndarray:
    a = np.asarray(c)
    if a.dtype == bool or a.dtype.kind not in "iuf":
        raise BoundArgumentError(f"c = {c!r} is not a number; the constant c must be > 0")
    a = a.astype(np.float64)
    if not np.all(np.isfinite(a)) or np.any(a <= 0):
        bad = a[~np.isfinite(a) | (a <= 0)].flat[0]
        raise BoundArgumentError(f"c = {bad} is invalid; the constant c must be a finite number > 0")
    return a


def _out(a: np.ndarray):
    """0-d results become numpy scalars, like numpy's own ufuncs."""
    return a[()] if a.ndim == 0 else a


def ceil_log2(q: ArrayLike) -> np.ndarray:
    """``ceil(log2 q)`` for integers q >= 2, exactly (bits to write one of q labels).

    Elementwise :func:`protocols.bits.bits_for`, the one home of the rule (exact integer
    arithmetic, so powers of two are never off by one the way ``np.ceil(np.log2(q))`` can be).

    Examples
    --------
    >>> ceil_log2([2, 3, 1024, 1025]).tolist()
    [1, 2, 10, 11]
    """
    return _out(np.vectorize(bits_for, otypes=[np.int64])(_ints("q", q, 2)))


def encoded_length(q: ArrayLike, k: ArrayLike) -> np.ndarray:
    """Length N = 2kq + 1 of the k-hop encoding of (q, k) pointer chasing.

    Source: docs/definitions.md §4, [SHT24] Prop. E.4 (k blocks of 2q tokens and the
    start token).

    Examples
    --------
    >>> int(encoded_length(1024, 4))
    8193
    """
    qa, ka = _ints("q", q, 2), _ints("k", k, 1)
    return _out(np.vectorize(sequence_length, otypes=[np.int64])(qa, ka))


# -- lower bounds ---------------------------------------------------------------
def pointer_chasing_bits(q: ArrayLike, k: ArrayLike, c: ArrayLike = 1.0) -> np.ndarray:
    """Least bits per message, c·q/k^5, of a protocol with R < k rounds for pointer chasing.

    Source: [AN21] Prop. 4.12, restated as [SHT24] Prop. E.3 (docs/definitions.md §2).
    Regime: (q, k) pointer chasing (decision version), sequential blackboard
    protocols with R < k rounds of s-bit messages, success probability >= 2/3.
    Statement: R >= k or s = Omega(q/k^5); c is the unknown constant, explicit here.

    Parameters
    ----------
    q : layer size(s), integers >= 2.   k : number(s) of layers, integers >= 1.
    c : the constant (> 0), default 1.

    Examples
    --------
    >>> pointer_chasing_bits(1024, [2, 4]).tolist()
    [32.0, 1.0]
    >>> float(pointer_chasing_bits(1024, 2, c=0.5))
    16.0
    """
    qa, ka, ca = _ints("q", q, 2), _ints("k", k, 1), _constant(c)
    return _out(ca * qa / ka.astype(np.float64) ** 5)


def sequence_bits(N: ArrayLike, k: ArrayLike, c: ArrayLike = 1.0) -> np.ndarray:
    """Least bits per message, c·N/k^6, in terms of the sequence length N.

    Source: [SHT24] App. E (Prop. E.3 composed with the encoding of Prop. E.4,
    N = 2kq + 1; docs/definitions.md §2, §4).  Regime: any model that the protocol of
    docs/definitions.md §5 simulates with R < k rounds and solves k-hop at length N
    with success >= 2/3 writes messages of at least c·N/k^6 bits.  Note
    c·N/k^6 in N is (2c)·q/k^5 in q (up to the start token).

    Examples
    --------
    >>> float(sequence_bits(2**20, 2))
    16384.0
    """
    Na, ka, ca = _ints("N", N, 1), _ints("k", k, 1), _constant(c)
    return _out(ca * Na / ka.astype(np.float64) ** 6)


def _conditional(N: ArrayLike, k: ArrayLike, depth: ArrayLike | None, depth_name: str, offset: int, c: ArrayLike):
    """c·N/k^6 where depth + offset < k (the bound bites), else 0 (no requirement)."""
    need = np.asarray(sequence_bits(N, k, c))
    if depth is None:
        return _out(need)
    da = _ints(depth_name, depth, 0)
    ka = _ints("k", k, 1)
    return _out(np.where(da + offset >= ka, 0.0, need))


def rnn_bound(N: ArrayLike, k: ArrayLike, L: ArrayLike | None = None, c: ArrayLike = 1.0) -> np.ndarray:
    """Least state bits m of an L-layer RNN solving k-hop at length N: c·N/k^6 if L < k, else 0.

    Source: [SHT24] Cor. 5.2 (docs/definitions.md §5): L >= k or m = Omega(N/k^6),
    where m counts the bits of the state carried across a chunk boundary
    (m for a binary m-dim state, m·p at p-bit precision, 2·m·p for an LSTM).
    Regime: Elman/GRU/LSTM/selective-SSM/finite-state recurrences, success >= 2/3.
    ``L=None`` returns the requirement in the regime L < k.

    Examples
    --------
    >>> rnn_bound(2**20, 2, L=[1, 2]).tolist()
    [16384.0, 0.0]
    """
    return _conditional(N, k, L, "L", 0, c)


def kernel_attention_bound(N: ArrayLike, k: ArrayLike, L: ArrayLike | None = None, c: ArrayLike = 1.0) -> np.ndarray:
    """Least m·m′·H·p of an L-layer kernel (rank-m′) attention model: c·N/k^6 if L < k, else 0.

    Source: [SHT24] Cor. 5.3 (docs/definitions.md §5): L >= k or m·m′·H·p = Omega(N/k^6)
    (m: width, m′: feature dimension, H: heads, p: bits per number).  Regime:
    Performer / linear attention with any feature maps, success >= 2/3.

    Examples
    --------
    >>> float(kernel_attention_bound(2**20, 2, L=1))
    16384.0
    """
    return _conditional(N, k, L, "L", 0, c)


def sparse_attention_bound(N: ArrayLike, k: ArrayLike, L: ArrayLike | None = None, c: ArrayLike = 1.0) -> np.ndarray:
    """Least (w + N/(g·k))·m·H·p of an L-layer sparse attention model: c·N/k^6 if L < k, else 0.

    Source: [SHT24] Cor. 5.4 (docs/definitions.md §5): L >= k or (w + N/(g·k))·m·H·p =
    Omega(N/k^6), for window w and a global token every g positions (Longformer
    style).  Regime: success >= 2/3.  See :func:`sparse_attention_width_needed`
    for the requirement on m·H·p at given w and g.

    Examples
    --------
    >>> float(sparse_attention_bound(2**20, 2, L=3))
    0.0
    """
    return _conditional(N, k, L, "L", 0, c)


def sparse_attention_width_needed(
    N: ArrayLike, k: ArrayLike, w: ArrayLike, g: ArrayLike, L: ArrayLike | None = None, c: ArrayLike = 1.0
) -> np.ndarray:
    """Least m·H·p of sparse attention at window w and global stride g: c·N/k^6 / (w + N/(g·k)).

    Source: [SHT24] Cor. 5.4 solved for m·H·p (regime as in
    :func:`sparse_attention_bound`; 0 where L >= k).

    Examples
    --------
    >>> float(sparse_attention_width_needed(2**20, 2, w=0, g=2**20))
    32768.0
    """
    wa = _nonneg("w", w)
    ga = _ints("g", g, 1)
    Na, ka = _ints("N", N, 1), _ints("k", k, 1)
    per = wa + Na / (ga * ka.astype(np.float64))
    if np.any(per <= 0):
        raise BoundArgumentError("w + N/(g·k) must be > 0")
    return _out(np.asarray(sparse_attention_bound(N, k, L, c)) / per)


def cot_bound(N: ArrayLike, k: ArrayLike, T: ArrayLike | None = None, c: ArrayLike = 1.0) -> np.ndarray:
    """Least m·H·p of one softmax attention layer with T CoT tokens: c·N/k^6 if T + 1 < k, else 0.

    Source: [SHT24] Cor. 5.6 (docs/definitions.md §5): the simulation has R = T + 1
    rounds, so T + 1 >= k or m·H·p = Omega(N/k^6) (the paper states T >= k).
    Regime: one attention layer, H heads, width m, p-bit numbers, success >= 2/3.

    Examples
    --------
    >>> cot_bound(2**20, 2, T=[0, 1]).tolist()
    [16384.0, 0.0]
    """
    return _conditional(N, k, T, "T", 1, c)


# -- upper bounds -----------------------------------------------------------------
@dataclass(frozen=True)
class Budget:
    """Rounds R and bits per message s of a protocol (arrays broadcast over q and k)."""

    R: np.ndarray
    s: np.ndarray


def one_hop_budget(q: ArrayLike, k: ArrayLike) -> Budget:
    """R = k, s = ceil(log2 q): one hop per round, success 1 (docs/definitions.md §2).

    Source: the trivial protocol (``protocols.library.OneHopPerRound``).

    Examples
    --------
    >>> b = one_hop_budget(1024, 4); int(b.R), int(b.s)
    (4, 10)
    """
    qa, ka = _ints("q", q, 2), _ints("k", k, 1)
    R, s = np.broadcast_arrays(ka, np.asarray(ceil_log2(qa)))
    return Budget(_out(np.array(R)), _out(np.array(s)))


def full_dump_budget(q: ArrayLike, k: ArrayLike) -> Budget:
    """R = 1, s = q·ceil(log2 q): every player writes its matching, success 1 (docs/definitions.md §2).

    Source: the trivial protocol (``protocols.library.FullDump``).

    Examples
    --------
    >>> b = full_dump_budget(1024, 4); int(b.R), int(b.s)
    (1, 10240)
    """
    qa, ka = _ints("q", q, 2), _ints("k", k, 1)
    R, s = np.broadcast_arrays(np.ones_like(ka), qa * ceil_log2(qa))
    return Budget(_out(np.array(R)), _out(np.array(s)))


def sampling_budget(q: ArrayLike, k: ArrayLike) -> Budget:
    """R = max(k-1, 1), s = ceil(q/(k-1))·ceil(log2 q) = O((q/k) log q): [NW93]-style sampling.

    Source: [NW93] (docs/definitions.md §2); the natural budget of
    ``protocols.library.Sampling``, whose success at this budget is measured
    (not proved) to exceed 2/3.  For k = 1 the formula uses k - 1 -> 1; for
    tiny q it is raised to the protocol's message header, ceil(log2(k+1)) +
    ceil(log2 q) bits (the chase state every message carries).

    Examples
    --------
    >>> b = sampling_budget(1024, 3); int(b.R), int(b.s)
    (2, 5120)
    """
    qa, ka = _ints("q", q, 2), _ints("k", k, 1)
    R, s = np.vectorize(_sampling_budget, otypes=[np.int64, np.int64])(qa, ka)
    return Budget(_out(np.asarray(R)), _out(np.asarray(s)))


def sampling_upper_bits(q: ArrayLike, k: ArrayLike, c: ArrayLike = 1.0) -> np.ndarray:
    """The sampling upper bound's order of growth, c·(q/k)·log2 q bits per message (R = k-1).

    Source: [NW93] (docs/definitions.md §2): R = k-1 rounds suffice with s =
    O((q/k) log q); c is the explicit constant (default 1).  The library's
    concrete natural budget is :func:`sampling_budget`.

    Examples
    --------
    >>> float(sampling_upper_bits(1024, 4))
    2560.0
    """
    qa, ka, ca = _ints("q", q, 2), _ints("k", k, 1), _constant(c)
    return _out(ca * qa / ka.astype(np.float64) * np.log2(qa.astype(np.float64)))


def guess_budget(q: ArrayLike, k: ArrayLike) -> Budget:
    """R = 1, s = 1: guess the class bit; success exactly 1/2 (the floor, not an upper bound).

    Examples
    --------
    >>> b = guess_budget(1024, 3); int(b.R), int(b.s)
    (1, 1)
    """
    qa, ka = _ints("q", q, 2), _ints("k", k, 1)
    R, s = np.broadcast_arrays(np.ones_like(ka), np.ones_like(qa))
    return Budget(_out(np.array(R)), _out(np.array(s)))


def last_layer_table_budget(q: ArrayLike, k: ArrayLike) -> Budget:
    """R = max(k-1, 1), s = max(ceil(q/(k-1)), ceil(log2 q)) (k >= 3; k <= 2: ceil(q/(k-1))): certain success.

    Source: docs/definitions.md §10 (``protocols.library.LastLayerTable``).

    Examples
    --------
    >>> b = last_layer_table_budget(1024, 8); int(b.R), int(b.s)
    (7, 147)
    """
    qa, ka = _ints("q", q, 2), _ints("k", k, 1)
    km1 = np.maximum(ka - 1, 1)
    table = -(-qa // km1)
    R, s = np.broadcast_arrays(km1, np.where(ka >= 3, np.maximum(table, ceil_log2(qa)), table))
    return Budget(_out(np.array(R)), _out(np.array(s)))


def backward_collapse_budget(q: ArrayLike, k: ArrayLike) -> Budget:
    """R = 1, s = q: every player posts its collapsed class table in round 1 (docs/definitions.md §10).

    Examples
    --------
    >>> b = backward_collapse_budget(1024, 8); int(b.R), int(b.s)
    (1, 1024)
    """
    qa, ka = _ints("q", q, 2), _ints("k", k, 1)
    R, s = np.broadcast_arrays(np.ones_like(ka), qa)
    return Budget(_out(np.array(R)), _out(np.array(s)))


#: Library protocol name -> its natural budget (decision version of pointer chasing).
UPPER_BOUNDS: dict[str, Callable[[ArrayLike, ArrayLike], Budget]] = {
    "one-hop-per-round": one_hop_budget,
    "full-dump": full_dump_budget,
    "sampling": sampling_budget,
    "nw-sampling": sampling_budget,
    "last-layer-table": last_layer_table_budget,
    "backward-collapse": backward_collapse_budget,
    "guess": guess_budget,
}


# -- verdicts -------------------------------------------------------------------
@dataclass(frozen=True)
class Verdict:
    """Whether budgets (k, R, s) for (q, k) pointer chasing are ruled out at success 2/3.

    Attributes
    ----------
    k, R, s, q, c : the broadcast inputs.
    bound : c·q/k^5, the least s when R < k.
    ruled_out : True where R < k and s < c·q/k^5: no protocol with that budget
        reaches success 2/3 (for this c).  False means "not ruled out", not
        "achievable".
    """

    k: np.ndarray
    R: np.ndarray
    s: np.ndarray
    q: np.ndarray
    c: np.ndarray
    bound: np.ndarray
    ruled_out: np.ndarray

    def explain(self) -> str:
        """One sentence for a scalar verdict.

        Examples
        --------
        >>> print(verdict(k=4, R=3, s=512, q=2**20).explain())
        ruled out: R = 3 < k = 4 and s = 512 < c·q/k^5 = 1024 (c = 1)
        """
        if np.ndim(self.ruled_out) != 0:
            raise BoundArgumentError(f"explain() needs a scalar verdict; this one has shape {np.shape(self.ruled_out)}")
        k, R, s, b, c = int(self.k), int(self.R), float(self.s), float(self.bound), float(self.c)
        sv = f"{s:g}"
        if bool(self.ruled_out):
            return f"ruled out: R = {R} < k = {k} and s = {sv} < c·q/k^5 = {b:g} (c = {c:g})"
        if R >= k:
            return f"not ruled out: R = {R} >= k = {k} (one hop per round suffices)"
        return f"not ruled out: s = {sv} >= c·q/k^5 = {b:g} (c = {c:g}); the bound allows it"


def verdict(k: ArrayLike, R: ArrayLike, s: ArrayLike, q: ArrayLike, c: ArrayLike = 1.0) -> Verdict:
    """Is the budget (R rounds, s bits per message) ruled out for (q, k) pointer chasing at success 2/3?

    Source: [AN21] Prop. 4.12 / [SHT24] Prop. E.3 with explicit constant c:
    ruled out iff R < k and s < c·q/k^5.  Vectorised over all arguments.

    Examples
    --------
    >>> v = verdict(k=4, R=[3, 3, 4], s=[10, 2000, 10], q=2**20)
    >>> v.ruled_out.tolist(), v.bound.tolist()
    ([True, False, False], [1024.0, 1024.0, 1024.0])
    """
    ka, Ra, qa = _ints("k", k, 1), _ints("R", R, 1), _ints("q", q, 2)
    sa, ca = _nonneg("s", s), _constant(c)
    bound = np.asarray(pointer_chasing_bits(qa, ka, ca))
    ruled = (Ra < ka) & (sa < bound)
    ka, Ra, sa, qa, ca, bound, ruled = np.broadcast_arrays(ka, Ra, sa, qa, ca, bound, ruled)
    return Verdict(*(_out(np.array(a)) for a in (ka, Ra, sa, qa, ca, bound, ruled)))


# -- the table --------------------------------------------------------------------
@dataclass(frozen=True)
class BoundRow:
    """One line of :func:`table`.

    ``kind`` is ``"lower"`` (a requirement: below ``value`` success 2/3 is
    impossible when ``regime`` holds) or ``"upper"`` (a library protocol with
    ``rounds`` rounds of ``value`` bits).
    """

    name: str
    kind: str
    source: str
    regime: str
    quantity: str
    formula: str
    value: float
    rounds: int | None = None
    ruled_out: bool | None = None

    def as_dict(self) -> dict:
        return {
            "name": self.name, "kind": self.kind, "source": self.source, "regime": self.regime,
            "quantity": self.quantity, "formula": self.formula, "value": self.value,
            "rounds": self.rounds, "ruled_out": self.ruled_out,
        }


def table(q: int, k: int, N: int | None = None, c: float = 1.0) -> tuple[BoundRow, ...]:
    """Every bound at one (q, k) and sequence length N (default 2kq + 1), constant c.

    Lower bounds first, then the natural budgets of the library protocols with
    their :func:`verdict` (a correct library must never be ruled out).

    Examples
    --------
    >>> rows = table(1024, 4)
    >>> [(r.name, r.value) for r in rows[:2]]
    [('pointer chasing', 1.0), ('sequence length', 2.000244140625)]
    >>> [(r.name, r.rounds, r.value, r.ruled_out) for r in rows if r.kind == "upper"][:3]
    [('one-hop-per-round', 4, 10.0, False), ('full-dump', 1, 10240.0, False), ('sampling', 3, 3420.0, False)]
    """
    N = int(encoded_length(q, k)) if N is None else N
    seq = float(sequence_bits(N, k, c))
    cl = f"c = {float(c):g}"
    rows = [
        BoundRow("pointer chasing", "lower", "[AN21] Prop. 4.12 = [SHT24] Prop. E.3", "R < k, success >= 2/3",
                 "s (bits per message)", f"c·q/k^5, {cl}", float(pointer_chasing_bits(q, k, c))),
        BoundRow("sequence length", "lower", "[SHT24] App. E (Prop. E.3 + E.4)", "R < k, success >= 2/3",
                 "s (bits per message)", f"c·N/k^6, N = {N}, {cl}", seq),
        BoundRow("RNN", "lower", "[SHT24] Cor. 5.2", "L < k layers", "m (state bits)",
                 f"c·N/k^6, N = {N}, {cl}", float(rnn_bound(N, k, c=c))),
        BoundRow("kernel attention", "lower", "[SHT24] Cor. 5.3", "L < k layers", "m·m′·H·p (bits)",
                 f"c·N/k^6, N = {N}, {cl}", float(kernel_attention_bound(N, k, c=c))),
        BoundRow("sparse attention", "lower", "[SHT24] Cor. 5.4", "L < k layers", "(w + N/(g·k))·m·H·p (bits)",
                 f"c·N/k^6, N = {N}, {cl}", float(sparse_attention_bound(N, k, c=c))),
        BoundRow("one-layer CoT", "lower", "[SHT24] Cor. 5.6", "T + 1 < k CoT steps", "m·H·p (bits)",
                 f"c·N/k^6, N = {N}, {cl}", float(cot_bound(N, k, c=c))),
    ]
    formulas = {
        "one-hop-per-round": "R = k, s = ceil(log2 q)",
        "full-dump": "R = 1, s = q·ceil(log2 q)",
        "sampling": "R = k-1, s = ceil(q/(k-1))·ceil(log2 q)",
        "nw-sampling": "R = k-1, s = ceil(q/(k-1))·ceil(log2 q)",
        "last-layer-table": "R = k-1, s = max(ceil(q/(k-1)), ceil(log2 q))",
        "backward-collapse": "R = 1, s = q",
        "guess": "R = 1, s = 1 (success 1/2)",
    }
    sources = {"one-hop-per-round": "docs/definitions.md §2", "full-dump": "docs/definitions.md §2",
               "sampling": "[NW93]", "nw-sampling": "[NW93]", "last-layer-table": "docs/definitions.md §10",
               "backward-collapse": "docs/definitions.md §10", "guess": "baseline"}
    for name, fn in UPPER_BOUNDS.items():
        b = fn(q, k)
        v = verdict(k, b.R, b.s, q, c)
        rows.append(BoundRow(name, "upper", sources[name], "library protocol", "s (bits per message)",
                             formulas[name], float(b.s), int(b.R), bool(v.ruled_out)))
    return tuple(rows)
