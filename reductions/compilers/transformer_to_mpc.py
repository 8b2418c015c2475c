"""A softmax transformer as an MPC protocol with Thm 3.4's roles (docs/definitions.md §9; [SHT24] Thm 3.4, App. C.1).

Machines (ids are public functions of the roles):

- **token machines** ``0..N-1``: machine i holds position i's residual stream
  ``h_i`` (m words) and does every per-position computation — embedding,
  queries/keys/values, the attention output's division, residual, MLP, readout;
- **inner-product machines** ``(i, j)`` for every causal pair ``j <= i``
  (``N(N+1)/2`` of them): ``q_i · k_j``, the softmax weight and ``e_ij v_j``;
- **propagation machines**: per token, a query tree (root: token i; leaves:
  the machines ``(i, ·)``) and a key/value tree (root: token j; leaves
  ``(·, j)``), ``b``-ary with depth ``D = ⌈log_b N⌉`` — levels 1..D-1 are
  extra machines.

One layer, ``4D`` rounds: q and (k, v) down the trees (D rounds); scores up
the query tree as a running maximum (D); the row maximum back down (D); the
weights ``e_ij = round(2^f exp((s_ij - max_i) 2^-f))`` and ``e_ij v_j`` summed up
(D).  Then the token machine divides (one rounding, half to even) and runs
the residual and MLP, which starts the next layer in the same round.  Plus 1
round to spread the input and 1 to put the output tokens on the first
``⌈N/s⌉`` machines: **R = 4·D·L + 2**.

Exactness.  Every number is the model's fixed-point number
(:mod:`reductions.models.transformer`): scores are exact integers rounded
once, maxima and sums are exact integer reductions (so grouping them in a tree
changes nothing), and the token machines call the model's own per-position
maps.  The outputs equal ``model.forward`` bit for bit.

**Departure from [SHT24]'s proof**: there the softmax is accumulated in one
upward pass of partial normalisers (``2D + 3`` rounds per layer, with a
precision analysis for the approximation); the model here subtracts the exact
row maximum before ``exp`` (as real implementations do, and as its
fixed-point definition says), so the maximum needs its own pass up and down:
``4D`` rounds per layer — still ``O(L/(δ' − δ))`` with ``b = Θ(N^(δ'−δ))``.

Local memory: ``s = max(3·b·H·d, m + b·H·(d+1), 4·H·d)`` words — a token
machine sends q and (k, v) to b children, or receives b partial sums; [SHT24]
take ``b = ⌊s / (4mH)⌋``, i.e. ``s ≈ 4·m·H·b`` (:func:`theorem_formulas`).

Examples
--------
>>> import numpy as np
>>> from reductions.models.transformer import SoftmaxTransformer
>>> m = SoftmaxTransformer.random(vocab=4, layers=2, width=4, precision=14, heads=2, seed=0)
>>> x = np.random.default_rng(1).integers(0, 4, 9)
>>> r = run_transformer_mpc(m, x, branching=3)
>>> bool((r.output == m.forward(x[None])[0]).all()), r.plan.depth, r.run.rounds == 4 * 2 * 2 + 2
(True, 2, True)
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from protocols.mpc import (
    MPCProgram,
    MPCRun,
    Records,
    RoundContext,
    Step,
    collect_output,
    distribute,
    local_slots,
    run_mpc,
)
from protocols.mpc.records import Memory, Messages
from protocols.seeding import Seed
from protocols.validation import check_int
from reductions.arithmetic.fixed_point import round_div, round_shift
from reductions.compilers.registry import CompileError
from reductions.models.transformer import SoftmaxTransformer, softmax_weights

__all__ = ["MPCPlan", "TransformerMPC", "TransformerMPCResult", "plan", "run_transformer_mpc",
           "theorem_formulas"]


@dataclass(frozen=True)
class MPCPlan:
    """Every public parameter of the compiled protocol: sizes, the tree, machine ids, s and R."""

    n: int
    layers: int
    width: int
    heads: int
    head_dim: int
    branching: int

    @property
    def depth(self) -> int:
        """D = ⌈log_b N⌉ (at least 1): token machine at level D, inner-product machines at level 0."""
        d, reach = 1, self.branching
        while reach < self.n:
            d, reach = d + 1, reach * self.branching
        return d

    def level_size(self, level: int) -> int:
        """Node slots per token at ``level`` (1..D-1): ⌈N / b^level⌉."""
        return -(-self.n // self.branching**level)

    @property
    def pairs(self) -> int:
        return self.n * (self.n + 1) // 2

    def _offsets(self) -> list[int]:
        off, acc = [0, 0], 0
        for lv in range(1, self.depth):
            acc += self.n * self.level_size(lv)
            off.append(acc)
        return off  # off[l] = ids before level l within one tree family (l >= 1)

    @property
    def tree_machines(self) -> int:
        """Propagation machines of one family (query or key/value): N · Σ_{l=1}^{D-1} ⌈N/b^l⌉."""
        return self._offsets()[-1]

    @property
    def ip_base(self) -> int:
        return self.n

    @property
    def q_base(self) -> int:
        return self.n + self.pairs

    @property
    def kv_base(self) -> int:
        return self.q_base + self.tree_machines

    @property
    def machines(self) -> int:
        return self.kv_base + self.tree_machines

    @property
    def s(self) -> int:
        b, H, d, m = self.branching, self.heads, self.head_dim, self.width
        return max(3 * b * H * d, m + b * H * (d + 1), 4 * H * d)

    @property
    def rounds(self) -> int:
        return 4 * self.depth * self.layers + 2

    def node_id(self, family: str, level: int, owner: np.ndarray, index: np.ndarray) -> np.ndarray:
        """Machine ids of tree nodes (level D: the token machine; level 0: inner-product machines)."""
        if level == self.depth:
            return owner.astype(np.int64)
        if level == 0:  # leaves: query tree of i has leaf j; key/value tree of j has leaf i
            i, j = (owner, index) if family == "q" else (index, owner)
            return self.ip_base + i * (i + 1) // 2 + j
        base = self.q_base if family == "q" else self.kv_base
        return base + self._offsets()[level] + owner * self.level_size(level) + index

    def decode(self, family: str, level: int, ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``(owner, index)`` of tree nodes at ``level`` from their machine ids."""
        if level == self.depth:
            return ids, np.zeros_like(ids)
        if level == 0:
            p = ids - self.ip_base
            i = ((np.sqrt(8.0 * p + 1) - 1) // 2).astype(np.int64)
            i -= (i * (i + 1) // 2 > p).astype(np.int64)
            i += ((i + 1) * (i + 2) // 2 <= p).astype(np.int64)
            j = p - i * (i + 1) // 2
            return (i, j) if family == "q" else (j, i)
        base = self.q_base if family == "q" else self.kv_base
        rel = ids - base - self._offsets()[level]
        return rel // self.level_size(level), rel % self.level_size(level)

    def exists(self, family: str, level: int, owner: np.ndarray, index: np.ndarray) -> np.ndarray:
        """Whether node ``index`` at ``level`` of ``owner``'s tree covers a real leaf."""
        span = self.branching**level
        lo = index * span
        if family == "q":  # leaves j <= i
            return lo <= owner
        return (lo < self.n) & (lo + span > owner)  # leaves i >= j


def plan(model: SoftmaxTransformer, n: int, branching: int | None = None) -> MPCPlan:
    """The protocol's parameters for ``model`` on length-``n`` inputs (default ``b = ⌈√N⌉``, at least 2).

    Examples
    --------
    >>> from reductions.models.transformer import SoftmaxTransformer
    >>> p = plan(SoftmaxTransformer.random(vocab=3, layers=3, width=8, seed=0), 64, branching=8)
    >>> p.depth, p.rounds, p.machines, p.s
    (2, 26, 3168, 192)
    """
    if not isinstance(model, SoftmaxTransformer):
        raise CompileError(f"transformer_to_mpc compiles SoftmaxTransformer models; got {type(model).__name__}")
    n = check_int("N", n, low=1, error=CompileError)
    if n > model.max_len:
        raise CompileError(f"N = {n} exceeds the model's max_len = {model.max_len}")
    b = max(2, math.isqrt(n - 1) + 1) if branching is None else check_int("branching", branching, low=2,
                                                                            error=CompileError)
    return MPCPlan(n, model.layers, model.width, model.heads, model.head_dim, b)


def theorem_formulas(p: MPCPlan) -> dict[str, Any]:
    """The measured protocol's formulas beside [SHT24] Thm 3.4's (App. C.1), for reports.

    Examples
    --------
    >>> theorem_formulas(MPCPlan(64, 3, 8, 1, 8, 8))["paper_rounds"]
    21
    """
    D, N, b = p.depth, p.n, p.branching
    return {
        "rounds_formula": p.rounds, "paper_rounds": p.layers * (2 * D + 3),
        "machines_formula": p.machines,
        "paper_machines": N + N * N + N * sum(b**d for d in range(1, D)),
        "s_formula": p.s, "paper_s": 4 * p.width * p.heads * b,
        "delta_prime": math.log(p.s) / math.log(N) if N > 1 else None,
        "delta": math.log(p.width * p.heads) / math.log(N) if N > 1 else None,
    }


def _cols(prefix: str, a: np.ndarray) -> dict[str, np.ndarray]:
    return {f"{prefix}{c}": a[:, c] for c in range(a.shape[1])}


def _arr(r: Records, prefix: str, width: int) -> np.ndarray:
    if width == 0:
        return np.zeros((len(r), 0), np.int64)
    return np.stack([r[f"{prefix}{c}"] for c in range(width)], axis=1).astype(np.int64, copy=False)


def _group(at: np.ndarray, vals: np.ndarray, how: str) -> tuple[np.ndarray, np.ndarray]:
    """Per machine (``at``), the max or the sum of its received rows (exact integers)."""
    order = np.argsort(at, kind="stable")
    sa = at[order]
    start = np.flatnonzero(np.r_[True, sa[1:] != sa[:-1]]) if sa.size else np.empty(0, np.int64)
    ufunc = np.maximum if how == "max" else np.add
    return sa[start], ufunc.reduceat(vals[order], start, axis=0) if sa.size else vals[:0]


class TransformerMPC(MPCProgram):
    """The compiled protocol (see the module docstring for the schedule)."""

    name = "transformer-mpc"

    def __init__(self, model: SoftmaxTransformer, p: MPCPlan) -> None:
        self.model, self.p = model, p
        self.hd = p.heads * p.head_dim

    def step(self, ctx: RoundContext, memory: Memory) -> Step:
        r = ctx.round
        if r == 1:
            x = memory["x"]
            i = x.at * ctx.s + local_slots(x.at)
            return Step(send={"tok": Messages.of(x.at, i, x=x["x"])})
        st, used = self._phase(ctx, memory)
        # token machines keep h and inner-product machines their scores and values until used
        carry = {n: memory[n] for n in ("h", "ip") if n in memory and n not in st.keep and n not in used}
        return Step({**st.keep, **carry}, st.send, st.halt)

    def _phase(self, ctx: RoundContext, memory: Memory) -> tuple[Step, tuple[str, ...]]:
        """This round's step and the kept tables it consumes (the rest are carried over)."""
        p, r = self.p, ctx.round
        if not any(len(t) for t in memory.values()):
            return Step(halt=r == p.rounds), ()  # machines holding nothing have nothing to do
        D = p.depth
        layer, u = divmod(r - 2, 4 * D)
        if layer == p.layers:
            return self._readout(ctx, memory), ("h",)
        u += 1
        if u == 1:
            return self._token_start(memory, layer), ("h",)
        if u <= D:
            return self._forward(memory, D - u + 1, ("dq", "dkv")), ()
        if u == D + 1:
            return self._scores(memory), ()
        if u <= 2 * D:
            return self._up(memory, u - D - 1, "um", "max"), ()
        if u == 2 * D + 1:
            return self._token_max(memory), ()
        if u <= 3 * D:
            return self._forward(memory, 3 * D - u + 1, ("dm",)), ()
        if u == 3 * D + 1:
            return self._weights(memory), ("ip",)
        return self._up(memory, u - 3 * D - 1, "us", "sum"), ()

    # -- token machines -----------------------------------------------------------------
    def _h(self, memory: Memory, layer: int) -> tuple[np.ndarray, np.ndarray]:
        """Token ids present and their residual streams entering ``layer`` (finishing layer-1)."""
        model, p = self.model, self.p
        if layer == 0:
            t = memory["tok"]
            i = t.at
            h = model.fmt.add(model._raw["embed"][t["x"]], model._raw["pos"][i])
            return i, h
        hs = memory["h"]
        i = hs.at
        h = _arr(hs, "h", p.width)
        got = memory["us"]
        ids, tot = _group(got.at, _arr(got, "s", p.heads * (p.head_dim + 1)), "sum")
        where = np.searchsorted(ids, i)
        tot = tot[where]
        den = tot[:, : p.heads]
        num = tot[:, p.heads:].reshape(-1, p.heads, p.head_dim)
        a = model.fmt.check(round_div(num, den[:, :, None]), "attention output")  # (n, H, d)
        h = model._finish_layer(layer - 1, h[None], a.transpose(1, 0, 2)[None])[0]
        return i, h

    def _token_start(self, memory: Memory, layer: int) -> Step:
        p = self.p
        if ("tok" if layer == 0 else "h") not in memory:
            return Step()
        i, h = self._h(memory, layer)
        q, k, v = (a[0].transpose(1, 0, 2).reshape(len(i), self.hd) for a in self.model._qkv(layer, h[None]))
        send = {**self._children("q", p.depth, i, np.zeros_like(i), "dq", {"q": q}),
                **self._children("kv", p.depth, i, np.zeros_like(i), "dkv", {"k": k, "v": v})}
        return Step(keep={"h": Records.of(i, **_cols("h", h))}, send=send)

    def _token_max(self, memory: Memory) -> Step:
        p = self.p
        if "um" not in memory:
            return Step()
        got = memory["um"]
        ids, mx = _group(got.at, _arr(got, "m", p.heads), "max")
        send = self._children("q", p.depth, ids, np.zeros_like(ids), "dm", {"m": mx})
        return Step(send=send)

    def _readout(self, ctx: RoundContext, memory: Memory) -> Step:
        if "h" not in memory:
            return Step(halt=True)
        i, h = self._h(memory, self.p.layers)
        y = self.model._readout(h[None])[0]
        return Step(send={"y": Messages.of(i, i // ctx.s, y=y)}, halt=True)

    # -- trees ----------------------------------------------------------------------------
    def _children(self, family: str, level: int, owner: np.ndarray, index: np.ndarray, table: str,
                  payload: dict[str, np.ndarray]) -> dict[str, Messages]:
        """Messages from nodes (owner, index) at ``level`` to each existing child at ``level - 1``."""
        p, b = self.p, self.p.branching
        kid = index[:, None] * b + np.arange(b)[None, :]
        row = np.broadcast_to(np.arange(owner.shape[0])[:, None], kid.shape)
        own = owner[row]
        ok = p.exists(family, level - 1, own, kid) & (kid < p.n if level - 1 == 0 else True)
        row, own, kid = row[ok], own[ok], kid[ok]
        src = p.node_id(family, level, owner, index)[row]
        dst = p.node_id(family, level - 1, own, kid)
        cols: dict[str, np.ndarray] = {}
        for name, a in payload.items():
            cols.update(_cols(name, a[row]))
        return {table: Messages.of(src, dst, **cols)}

    def _forward(self, memory: Memory, level: int, tables: tuple[str, ...]) -> Step:
        """Propagation machines at ``level`` (< D) pass what they received to their children."""
        send: dict[str, Messages] = {}
        keep: dict[str, Records] = {}
        for tab in (t for t in tables if t in memory):
            fam = "kv" if tab == "dkv" else "q"
            got = memory[tab]
            owner, index = self.p.decode(fam, level, got.at)
            payload = {name[0]: np.stack([got[c] for c in got.cols if c[0] == name[0]], axis=1)
                       for name in {c[0] for c in got.cols}}
            send.update(self._children(fam, level, owner, index, tab, payload))
        return Step(keep=keep, send=send)

    def _up(self, memory: Memory, level: int, table: str, how: str) -> Step:
        """Propagation machines at ``level`` (1..D-1) reduce their children's rows and pass them up."""
        p = self.p
        if table not in memory:
            return Step()
        got = memory[table]
        prefix = "m" if table == "um" else "s"
        width = p.heads if table == "um" else p.heads * (p.head_dim + 1)
        ids, val = _group(got.at, _arr(got, prefix, width), how)
        owner, index = p.decode("q", level, ids)
        parent = p.node_id("q", level + 1, owner, index // p.branching)
        return Step(send={table: Messages.of(ids, parent, **_cols(prefix, val))})

    # -- inner-product machines ---------------------------------------------------------------
    def _scores(self, memory: Memory) -> Step:
        p, f = self.p, self.model.fmt.f
        if "dq" not in memory or "dkv" not in memory:
            return Step()
        dq, dkv = memory["dq"], memory["dkv"]
        ids = np.union1d(dq.at, dkv.at)
        q = np.zeros((ids.shape[0], self.hd), np.int64)
        k = np.zeros_like(q)
        v = np.zeros_like(q)
        q[np.searchsorted(ids, dq.at)] = _arr(dq, "q", self.hd)
        kpos = np.searchsorted(ids, dkv.at)
        k[kpos], v[kpos] = _arr(dkv, "k", self.hd), _arr(dkv, "v", self.hd)
        H, d = p.heads, p.head_dim
        qa, ka = np.abs(q).max(initial=0), np.abs(k).max(initial=0)
        if float(qa) * float(ka) * d >= 2.0**62:
            raise CompileError(f"a score q·k of {self.model!r} may reach 2^62; it does not fit a 64-bit word")
        s = round_shift((q.reshape(-1, H, d) * k.reshape(-1, H, d)).sum(axis=2), f)
        owner, index = p.decode("q", 0, ids)
        parent = p.node_id("q", 1, owner, index // p.branching)
        keep = {"ip": Records.of(ids, **_cols("s", s), **_cols("v", v))}
        return Step(keep=keep, send={"um": Messages.of(ids, parent, **_cols("m", s))})

    def _weights(self, memory: Memory) -> Step:
        p, f = self.p, self.model.fmt.f
        if "ip" not in memory or "dm" not in memory:
            return Step()
        ip, dm = memory["ip"], memory["dm"]
        H, d = p.heads, p.head_dim
        mx = np.zeros((len(ip), H), np.int64)
        mx[np.searchsorted(ip.at, dm.at)] = _arr(dm, "m", H)
        z = _arr(ip, "s", H) - mx  # exact, <= 0
        e = softmax_weights(z.astype(np.float64), f).astype(np.int64)
        ev = (e[:, :, None] * _arr(ip, "v", H * d).reshape(-1, H, d)).reshape(len(ip), H * d)
        owner, index = p.decode("q", 0, ip.at)
        parent = p.node_id("q", 1, owner, index // p.branching)
        return Step(send={"us": Messages.of(ip.at, parent, **_cols("s", np.concatenate([e, ev], axis=1)))})


@dataclass(frozen=True, eq=False)
class TransformerMPCResult:
    """One compiled run: output tokens ``(N,)``, the plan and the counted run."""

    output: np.ndarray
    plan: MPCPlan
    run: MPCRun

    def summary(self) -> dict[str, Any]:
        p = self.plan
        return {**self.run.summary(per_round=False), "n": p.n, "layers": p.layers, "heads": p.heads,
                "width": p.width, "head_dim": p.head_dim, "branching": p.branching, "depth": p.depth,
                "token_machines": p.n, "inner_product_machines": p.pairs,
                "propagation_machines": 2 * p.tree_machines, **theorem_formulas(p)}


def run_transformer_mpc(model: SoftmaxTransformer, tokens: Any, branching: int | None = None, *,
                        seed: Seed = 0, audit: int | str = 1) -> TransformerMPCResult:
    """Run ``model`` on one sequence as the compiled MPC protocol (outputs equal ``model.forward``)."""
    t = model.check_tokens(np.asarray(tokens).reshape(1, -1))[0]
    p = plan(model, t.shape[0], branching)
    run = run_mpc(TransformerMPC(model, p), {"x": distribute(t, p.s)}, machines=p.machines, s=p.s,
                  max_rounds=p.rounds, seed=seed, audit=audit)
    return TransformerMPCResult(collect_output(run.memory["y"], p.n, p.s), p, run)
