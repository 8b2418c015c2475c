"""The log-depth k-hop construction: explicit transformer weights for hop_k ([SHT24] Thm 4.2; docs/definitions.md §3).

A causally masked softmax transformer with ONE head per layer, width m = 16
(independent of N and k) and ``L = ceil(log2 k) + 2`` layers that computes
``hop_k(x)[i]`` at every position i, ⊥ = -1 included, with no training.  It is
an ordinary :class:`~reductions.models.transformer.SoftmaxTransformer` (family
``"transformer"``), so it runs, compiles into a protocol and is verified like
any other model.

How it works (all quantities are integers)
------------------------------------------
Residual slots: ``one, x, x², pos, pos², first`` (token embedding
``(1, a, a²)``, positional encoding ``(j, j², [j = 0])``), then ``prev, prev²,
F, TF, G, TG`` and four scratch slots ``S0..S3`` that every layer's attention
writes into and its MLP clears.

* Position lookup (the exact version of the paper's sinusoidal keys): a query
  ``(2t, -1)`` against keys ``(j, j²)`` scores ``2tj - j² = t² - (j - t)²``,
  uniquely maximal at ``j = t`` with a gap of at least 1.  (The paper puts
  positions on a circle, ``cos(θ_t - θ_j)``, gap ~1/N²; the parabola gives the
  same argmax with integer scores.)  A target ``t = -1`` lands on ``j = 0``.
* Layer 1 — previous token: target ``t = i - 1``; reads ``(x_{i-1}, x_{i-1}²)``
  into ``prev, prev²``.  Position 0 has no predecessor: its MLP sets
  ``prev = -1, prev² = 1`` (gated by ``first``), a value no token matches.
* Layer 2 — induction head, ``find^1``: query ``(2Mx_i, -M, 1)`` against keys
  ``(prev_j, prev_j², j)`` scores ``M(x_i² - (prev_j - x_i)²) + j`` with
  ``M = max_len``: every match beats every mismatch and among matches the
  largest j wins, i.e. the LAST occurrence, ``find(i)``.  It reads ``(j, x_j,
  prev_j)``; the MLP checks ``prev_j = x_i`` with ReLU gates
  (``p·[d = 0] = relu(p - Md) + relu(p + Md) - relu(Md) - relu(-Md) - p`` and
  the hat ``[d = 0] = relu(d+1) - 2relu(d) + relu(d-1)``) and writes
  ``F = find(i)``, ``TF = x[F]``, both -1 when there is no match (⊥).
* Layer ℓ >= 3 — doubling: query ``(2F_i, -1)`` looks up position ``F_i``
  (``j = 0`` when ``F_i = ⊥``, whose record is ⊥ again) and reads ``(F, TF, G,
  TG)`` there.  ``F <- F(F_i)`` doubles the pointer to ``find^{2^{ℓ-2}}``.
  ``G`` holds ``find^r`` for the bits ``r = k mod 2^{ℓ-3}`` of k done so far
  (implicitly the identity while ``r = 0``); if bit ``ℓ-3`` of k is set, ``G <-
  G(F_i) = find^{r + 2^{ℓ-3}}(i)`` (powers of find commute), or ``G <- F`` when
  ``r = 0``.  Tokens ``TF, TG`` travel with their pointers.  One lookup per layer.
* Readout: the answer slot T (``x`` for k = 0, ``TF`` for ``k = 2^{L-2}``,
  else ``TG``) is decoded by the linear logits ``2aT - a²`` over the classes
  ``a = -1 (⊥), 0, ..., V-1``: argmax at ``a = T``.

So L layers reach ``find^{2^{L-2}}`` and every ``k <= 2^{L-2}``; hence
``L = ceil(log2 k) + 2`` for ``k >= 1``.  **Departure from the paper's text**:
[SHT24] Thm 4.2 prints ``floor(log2 k) + 2``; with one lookup per layer the
exact depth is ``ceil`` (they agree when k is a power of two; docs/definitions.md §3
[choice]).  **k = 0**: ``hop_0`` is the identity, read straight off the token
slot; we build it with ``L = 1`` (the previous-token layer, whose result the
readout ignores) so that every construction is a transformer with ``L >= 1``
and compiles to a protocol with ``R = L >= 1`` rounds.

Truncated constructions (for the depth table): asked for ``hop_k`` with only
``L`` layers, the construction computes ``hop_{k'}`` with ``k' = min(k,
reach(L))``, ``reach(L) = 2^{L-2}`` (``reach(1) = 0``): it runs all its doubling
layers and answers with the farthest hop it can reach.

Softmax and precision (stated and used)
---------------------------------------
All scores are integers with a gap >= 1 between the maximum and any other
entry.  The queries carry a temperature ``β = f + 1`` (folded into ``W_Q``), so
every non-maximal softmax weight is ``exp(-β·gap) <= e^{-(f+1)} < 2^{-(f+1)}``
and rounds to 0 at f fractional bits, while the maximal one is exactly 1: the
fixed-point softmax IS the argmax, and every number stays an exact integer.
The format is ``FixedPoint(p, f)`` with ``f = ceil(log2 max_len)`` (a weight
can resolve 1/N, the log-precision regime of [SHT24]/[MS23]) and
``p = 1 + f + ceil(log2(A + 1))`` where A bounds every stored magnitude (the
largest is the induction query ``2βM(V-1)``): ``p = O(log N)`` for alphabets
``V <= N`` (e.g. p = 22 for N = 100, V = 4; p = 30 for N = V = 256; p = 43 for
the pointer-chasing encoding at q = 1024, N = 6145, V = 2050; p = 52 for N = 10^5,
V = 4; p = 61 for N = 10^6, V = 4).  Fixed point holds p <= 64 exactly
(docs/definitions.md §7), which covers N up to about 2·10^6 for small alphabets;
beyond that :class:`ConstructionError` names the limit.

Examples
--------
>>> import numpy as np
>>> c = hop_construction(3, max_len=12, alphabet=5)
>>> c.layers, c.model.heads, c.model.width, c.precision
(4, 1, 16, 15)
>>> x = np.array([[1, 0, 4, 1, 2, 0, 1, 4, 1, 3, 4, 0]])
>>> c(x).tolist()
[[-1, -1, -1, -1, -1, -1, -1, -1, 0, -1, 1, -1]]
>>> from reductions import hop
>>> bool((c(x) == hop(x, 3)).all())
True
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from protocols.bits import bits_for
from protocols.validation import check_int
from reductions.arithmetic.fixed_point import MAX_BITS
from reductions.models.base import ModelError
from reductions.models.transformer import SoftmaxTransformer

__all__ = [
    "HopConstruction",
    "ConstructionError",
    "hop_construction",
    "construction_depth",
    "construction_reach",
    "construction_precision",
    "WIDTH",
    "SLOTS",
]

#: Residual-stream slots, in order (width m = len(SLOTS) = 16, for every N and k).
SLOTS = ("one", "x", "x2", "pos", "pos2", "first", "prev", "prev2", "F", "TF", "G", "TG", "S0", "S1", "S2", "S3")
WIDTH = len(SLOTS)
_S = {name: i for i, name in enumerate(SLOTS)}
HEAD_DIM = 4  # the widest read: (F, TF, G, TG)
D_FF = 16  # the widest MLP: eight linear maps, two ReLUs each


class ConstructionError(ModelError):
    """Bad parameters for the k-hop construction (names the value and the rule)."""



def construction_depth(k: int) -> int:
    """Layers of the construction for ``hop_k``: ``ceil(log2 k) + 2`` (``k >= 1``), 1 for ``k = 0``.

    Examples
    --------
    >>> [construction_depth(k) for k in (0, 1, 2, 3, 4, 5, 8, 9, 16, 17, 32)]
    [1, 2, 3, 4, 4, 5, 5, 6, 6, 7, 7]
    """
    k = check_int("k", k, low=0, error=ConstructionError)
    return 1 if k == 0 else bits_for(k) + 2


def construction_reach(layers: int) -> int:
    """Most hops an L-layer construction computes: ``2^(L-2)`` (0 for L = 1).

    Examples
    --------
    >>> [construction_reach(L) for L in range(1, 8)]
    [0, 1, 2, 4, 8, 16, 32]
    """
    L = check_int("layers", layers, low=1, error=ConstructionError)
    return 0 if L == 1 else 2 ** (L - 2)


def construction_precision(max_len: int, alphabet: int) -> tuple[int, int, int]:
    """``(p, f, β)``: total bits, fractional bits and softmax temperature of the construction.

    ``f = ceil(log2 max_len)``, ``β = f + 1``, ``p = 1 + f + ceil(log2(A+1))``
    with A the largest magnitude any weight or stored value can take (see the
    module docstring).  ``p = O(log N)``.

    Examples
    --------
    >>> construction_precision(100, 4), construction_precision(256, 256)
    ((22, 7, 8), (30, 8, 9))
    """
    n = check_int("max_len", max_len, low=1, error=ConstructionError)
    V = check_int("alphabet", alphabet, low=1, error=ConstructionError)
    f = bits_for(n)
    beta = f + 1
    M, Mg, V1 = n, max(n, V), V - 1
    A = max(
        2 * beta * M * max(V1, 1) + beta * M,  # induction-head query (2βM x, -βM, β)
        2 * beta * n + beta,  # position queries β(2t, -1)
        n * n,  # pos² key
        Mg * (V + 1) + n,  # MLP gates S ± M·d
        3 * V * V + 2,  # logits 2aT - a², a² weights, prev² + 1
    )
    return 1 + f + bits_for(A + 1), f, beta


@dataclass(frozen=True, eq=False)
class HopConstruction:
    """The k-hop construction: requested k, depth L, and the transformer that computes it.

    Calling it runs the fixed-point model: ``(B, N)`` tokens in ``0..alphabet-1``
    -> ``(B, N)`` answers ``hop_{k'}(x)`` with -1 for ⊥, where ``k' = reached``.

    Attributes
    ----------
    k : the hop count asked for.
    layers : L.
    reached : ``min(k, construction_reach(L))`` — what it computes.
    max_len, alphabet : longest input N and alphabet size V it is built for.
    precision, frac, temperature : p, f and β of the fixed-point softmax.
    model : the :class:`SoftmaxTransformer` (one head per layer, width 16).

    Examples
    --------
    >>> c = hop_construction(2, max_len=6, alphabet=3)
    >>> c(np.array([[0, 1, 2, 0, 1, 0]])).tolist()
    [[-1, -1, -1, -1, -1, 2]]
    """

    k: int
    layers: int
    reached: int
    max_len: int
    alphabet: int
    precision: int
    frac: int
    temperature: int
    model: SoftmaxTransformer

    @property
    def exact(self) -> bool:
        """Whether ``L`` suffices for ``hop_k`` (``k <= 2^(L-2)``)."""
        return self.reached == self.k

    @property
    def heads(self) -> int:
        return self.model.heads

    @property
    def width(self) -> int:
        return self.model.width

    def __call__(self, tokens: Any) -> np.ndarray:
        """``hop_{reached}`` at every position, computed by the fixed-point transformer."""
        return self.model.forward(tokens)

    def fast(self, tokens: Any) -> np.ndarray:
        """The fixed-point model's exact output, with each attention computed as the argmax it provably is.

        Same numbers as :meth:`__call__` (the model's own embeddings, projections,
        MLPs and readout; see :func:`_hard_attention` for why the attention is
        equal), in ``O(N)`` per layer for the lookups and ``O(N·U)`` for the
        induction head (U distinct previous tokens) instead of ``N^2``, so
        N = 10^5 is seconds, not hours.  Raises :class:`ConstructionError` if the
        queries or keys do not have the form the proof needs (it never guesses).

        Examples
        --------
        >>> c = hop_construction(3, max_len=12, alphabet=5)
        >>> x = np.array([[1, 0, 4, 1, 2, 0, 1, 4, 1, 3, 4, 0]])
        >>> bool((c.fast(x) == c(x)).all())
        True
        """
        return self.model.forward_with_attention(tokens, self._hard_attention)

    def _hard_attention(self, layer: int, q: np.ndarray, K: np.ndarray, V: np.ndarray) -> np.ndarray:
        """One layer's attention output ``(B, 1, N, d)`` raws, proven equal to the fixed-point softmax.

        Why it is equal.  Every query and key raw of the construction is an
        integer multiple of ``2^f`` (checked), so with ``q = 2^f q'``,
        ``k = 2^f k'`` the rounded score is ``s_ij = 2^f (q'_i . k'_j)`` exactly.
        Where ``q'`` is ``β`` times an integer vector (checked), the scores of
        one row are ``β 2^f`` times integers; below, those integers have a
        unique maximum over ``j <= i`` (so every other score is at least
        ``β 2^f = (f+1) 2^f`` lower).  The maximum's weight is
        ``rint(2^f e^0) = 2^f``, every other ``rint(2^f e^{-z 2^-f}) <=
        rint(2^f e^{-(f+1)}) = 0`` since ``e^{f+1} > 2^{f+1}``, so the output
        ``round(2^f v_{j*} / 2^f) = v_{j*}``: the value row at the argmax.

        * lookups (every layer but the second): ``q' = β(2t, -1, 0, 0)``,
          ``k'_j = (j, j², 0, 0)``, integer ``β(t² - (j - t)²)``: unique
          maximum at ``j* = clip(t, 0, i)``.
        * induction head (layer 2): ``q' = β(2Ma, -M, 1, 0)``, ``k'_j = (p_j,
          p_j², j, 0)`` with ``N <= M``: integer ``M(a² - (p_j - a)²) + j``;
          as ``0 <= j < M``, the maximum is the lexicographic maximum of
          ``(-(p_j - a)², j)``, unique because j is.
        """
        f, beta, M = self.frac, self.temperature, self.max_len
        B, H, n, d = q.shape
        if H != 1 or d != HEAD_DIM:
            raise ConstructionError(f"layer {layer}: expected one head of width {HEAD_DIM}, got {H} of {d}")
        qi, ki = _multiples(q[:, 0], f, layer, "query"), _multiples(K[:, 0], f, layer, "key")
        j = np.arange(n, dtype=np.int64)

        def require(ok: Any, what: str) -> None:
            if not bool(np.all(ok)):
                raise ConstructionError(f"layer {layer}: {what} does not hold; the hard-attention proof does not apply")

        if layer == 1:
            require(n <= M, "N <= M")
            require((ki[..., 1] == ki[..., 0] ** 2) & (ki[..., 2] == j) & (ki[..., 3] == 0), "keys = (p, p², j, 0)")
            require((qi[..., 1] == -beta * M) & (qi[..., 2] == beta) & (qi[..., 3] == 0), "queries = β(·, -M, 1, 0)")
            require(qi[..., 0] % (2 * beta * M) == 0, "query 0 = 2βM·a")
            arg = _induction_argmax(ki[..., 0], qi[..., 0] // (2 * beta * M))
        else:
            require((ki[..., 0] == j) & (ki[..., 1] == j * j) & (ki[..., 2:] == 0).all(-1), "keys = (j, j², 0, 0)")
            require((qi[..., 1] == -beta) & (qi[..., 2:] == 0).all(-1), "queries = β(·, -1, 0, 0)")
            require(qi[..., 0] % (2 * beta) == 0, "query 0 = 2βt")
            arg = np.clip(qi[..., 0] // (2 * beta), 0, j)  # row i may look at 0..i only
        return np.take_along_axis(V[:, 0], arg[..., None], axis=1)[:, None]

    def reference(self, tokens: Any) -> np.ndarray:
        """The same weights run in float64 with hard (argmax) attention: an independent exact path."""
        return self.model.forward_float(tokens, attention="hard")

    def summary(self) -> dict:
        """The construction's size as plain numbers (for CLIs and tables).

        Examples
        --------
        >>> hop_construction(5, max_len=50, alphabet=4).summary()["layers"]
        5
        """
        m = self.model
        return {
            "k": self.k, "reached": self.reached, "layers": self.layers, "heads": m.heads,
            "width": m.width, "head_dim": m.head_dim, "d_ff": m.d_ff, "precision": self.precision,
            "frac": self.frac, "temperature": self.temperature, "max_len": self.max_len,
            "alphabet": self.alphabet,
        }

    def __repr__(self) -> str:
        return (f"HopConstruction(k={self.k}, layers={self.layers}, reached={self.reached}, "
                f"max_len={self.max_len}, alphabet={self.alphabet}, p={self.precision})")


def _multiples(raw: np.ndarray, f: int, layer: int, what: str) -> np.ndarray:
    """``raw / 2^f`` as exact integers; refuses raws that are not multiples of ``2^f``."""
    raw = np.asarray(raw, dtype=np.int64)
    if np.any(raw & ((1 << f) - 1)):
        raise ConstructionError(
            f"layer {layer}: a {what} raw is not an integer; the hard-attention proof does not apply"
        )
    return raw >> f  # exact (arithmetic shift of a multiple of 2^f)


def _induction_argmax(p: np.ndarray, a: np.ndarray) -> np.ndarray:
    """Per row i of each sequence: the j <= i maximising ``(-(p_j - a_i)^2, j)`` lexicographically.

    For each distinct value u of p, ``last_u[i]`` (latest j <= i with p_j = u)
    comes from a running maximum; the best u per row is then an argmax of
    ``-(u - a_i)^2 (N + 1) + last_u[i]`` (lexicographic because ``last < N + 1``).
    Blocks of u values keep the table below ~2^22 entries.
    """
    B, n = p.shape
    j = np.arange(n, dtype=np.int64)
    out = np.empty((B, n), dtype=np.int64)
    floor = np.iinfo(np.int64).min
    for b in range(B):
        values = np.unique(p[b])
        best_key = np.full(n, floor, dtype=np.int64)
        best_j = np.zeros(n, dtype=np.int64)
        step = max(1, 2**22 // n)
        for c in range(0, values.size, step):
            u = values[c:c + step, None]
            last = np.where(p[b][None, :] == u, j[None, :], -1)
            np.maximum.accumulate(last, axis=1, out=last)
            key = -((u - a[b][None, :]) ** 2) * (n + 1) + last
            key[last < 0] = floor  # u not seen yet at row i
            top = key.argmax(axis=0)
            k_top = key[top, j]
            better = k_top > best_key
            best_key[better] = k_top[better]
            best_j[better] = last[top, j][better]
        out[b] = best_j
    return out


def _weights(reached: int, L: int, n: int, V: int, beta: int) -> tuple[dict[str, np.ndarray], list[int]]:
    m, d, F = WIDTH, HEAD_DIM, D_FF
    S = _S
    P = {
        "embed": np.zeros((V, m)), "pos": np.zeros((n, m)),
        "wq": np.zeros((L, 1, m, d)), "wk": np.zeros((L, 1, m, d)), "wv": np.zeros((L, 1, m, d)),
        "wo": np.zeros((L, 1, d, m)), "w1": np.zeros((L, m, F)), "b1": np.zeros((L, F)),
        "w2": np.zeros((L, F, m)), "b2": np.zeros((L, m)),
        "unembed": np.zeros((m, V + 1)), "unembed_bias": np.zeros(V + 1),
    }
    a = np.arange(V, dtype=np.float64)
    P["embed"][:, S["one"]], P["embed"][:, S["x"]], P["embed"][:, S["x2"]] = 1.0, a, a * a
    j = np.arange(n, dtype=np.float64)
    P["pos"][:, S["pos"]], P["pos"][:, S["pos2"]], P["pos"][0, S["first"]] = j, j * j, 1.0
    # views on the single head of each layer
    wq, wk, wv, wo = P["wq"][:, 0], P["wk"][:, 0], P["wv"][:, 0], P["wo"][:, 0]
    w1, w2 = P["w1"], P["w2"]

    def position_keys(li: int) -> None:
        wk[li, S["pos"], 0], wk[li, S["pos2"], 1] = 1.0, 1.0

    def linear_mlp(li: int, maps: list[tuple[dict[str, float], str, float]]) -> None:
        # Each linear map z -> delta uses relu(z) - relu(-z) = z (exact on integers).
        for u, (form, target, sign) in enumerate(maps):
            for slot, c in form.items():
                w1[li, S[slot], 2 * u], w1[li, S[slot], 2 * u + 1] = c, -c
            w2[li, 2 * u, S[target]], w2[li, 2 * u + 1, S[target]] = sign, -sign

    # Layer 1: previous token (target i - 1), position 0 gets prev = -1, prev² = 1.
    wq[0, S["pos"], 0], wq[0, S["one"], 0], wq[0, S["one"], 1] = 2 * beta, -2 * beta, -beta
    position_keys(0)
    wv[0, S["x"], 0], wv[0, S["x2"], 1] = 1.0, 1.0
    wo[0, 0, S["prev"]], wo[0, 1, S["prev2"]] = 1.0, 1.0
    w1[0, S["prev"], 0], w1[0, S["one"], 0], w1[0, S["first"], 0] = 1.0, 1.0 - V, V
    w1[0, S["prev2"], 1], w1[0, S["one"], 1], w1[0, S["first"], 1] = 1.0, 1.0 - V * V, V * V
    w1[0, S["first"], 2] = 1.0
    w2[0, 0, S["prev"]], w2[0, 1, S["prev2"]], w2[0, 2, S["prev2"]] = -1.0, -1.0, 2.0

    if L >= 2:
        # Layer 2: induction head; score M(2 x prev - prev²) + j, M = n.
        M, Mg = n, max(n, V)
        wq[1, S["x"], 0], wq[1, S["one"], 1], wq[1, S["one"], 2] = 2 * beta * M, -beta * M, beta
        wk[1, S["prev"], 0], wk[1, S["prev2"], 1], wk[1, S["pos"], 2] = 1.0, 1.0, 1.0
        wv[1, S["pos"], 0], wv[1, S["x"], 1], wv[1, S["prev"], 2] = 1.0, 1.0, 1.0
        wo[1, 0, S["S0"]], wo[1, 1, S["S1"]], wo[1, 2, S["S2"]] = 1.0, 1.0, 1.0
        d_ = {"S2": 1.0, "x": -1.0}  # d = prev_j - x_i; match iff d = 0

        def unit(u: int, form: dict[str, float], const: float = 0.0) -> None:
            for slot, c in form.items():
                w1[1, S[slot], u] += c
            w1[1, S["one"], u] += const

        def scaled(c: float) -> dict[str, float]:
            return {k_: c * v_ for k_, v_ in d_.items()}

        unit(0, {"S0": 1.0, **scaled(-Mg)})  # relu(S0 - M d)
        unit(1, {"S0": 1.0, **scaled(Mg)})  # relu(S0 + M d)
        unit(2, scaled(Mg))  # relu(M d)
        unit(3, scaled(-Mg))  # relu(-M d)
        unit(4, {"S1": 1.0, **scaled(-Mg)})
        unit(5, {"S1": 1.0, **scaled(Mg)})
        unit(6, d_, 1.0)  # relu(d + 1)
        unit(7, d_)  # relu(d)
        unit(8, d_, -1.0)  # relu(d - 1)
        unit(9, {}, 1.0)  # relu(1) = 1
        for u, slot in zip((10, 12, 14), ("S0", "S1", "S2"), strict=False):
            unit(u, {slot: 1.0})
            unit(u + 1, {slot: -1.0})
        gate_bottom = {6: 1.0, 7: -2.0, 8: 1.0, 9: -1.0}  # [d = 0] - 1 = -[no match]
        for target, (lo, hi, lin) in {"F": (0, 1, 10), "TF": (4, 5, 12)}.items():
            coef = {lo: 1.0, hi: 1.0, 2: -1.0, 3: -1.0, lin: -1.0, lin + 1: 1.0, **gate_bottom}
            for u, c in coef.items():
                w2[1, u, S[target]] += c
        for slot, lin in (("S0", 10), ("S1", 12), ("S2", 14)):
            w2[1, lin, S[slot]], w2[1, lin + 1, S[slot]] = -1.0, 1.0

    done = 0  # bits of `reached` absorbed into G so far (as a number r)
    for li in range(2, L):
        b = li - 2
        wq[li, S["F"], 0], wq[li, S["one"], 1] = 2 * beta, -beta
        position_keys(li)
        for i, slot in enumerate(("F", "TF", "G", "TG")):
            wv[li, S[slot], i] = 1.0
            wo[li, i, S[f"S{i}"]] = 1.0
        maps: list[tuple[dict[str, float], str, float]] = [
            ({"S0": 1.0, "F": -1.0}, "F", 1.0), ({"S1": 1.0, "TF": -1.0}, "TF", 1.0),
        ]
        if reached < 2 ** (L - 2) and (reached >> b) & 1:
            if done == 0:  # G was the identity: G <- F
                maps += [({"F": 1.0, "G": -1.0}, "G", 1.0), ({"TF": 1.0, "TG": -1.0}, "TG", 1.0)]
            else:  # G <- G(F(i))
                maps += [({"S2": 1.0, "G": -1.0}, "G", 1.0), ({"S3": 1.0, "TG": -1.0}, "TG", 1.0)]
            done += 2**b
        maps += [({f"S{i}": 1.0}, f"S{i}", -1.0) for i in range(4)]
        linear_mlp(li, maps)

    if reached == 0:
        answer = "x"
    elif reached == construction_reach(L):
        answer = "TF"
    else:
        answer = "TG"
        assert done == reached
    cls = np.arange(-1, V, dtype=np.float64)
    P["unembed"][S[answer]], P["unembed"][S["one"]] = 2 * cls, -cls * cls
    return P, list(range(-1, V))


def hop_construction(k: int, max_len: int, alphabet: int, layers: int | None = None) -> HopConstruction:
    """Build the construction for ``hop_k`` on sequences of length <= ``max_len`` over ``alphabet`` tokens.

    Parameters
    ----------
    k : hops, >= 0.
    max_len : longest sequence N (sets the positional encodings and M = N).
    alphabet : V; tokens are ``0..V-1``.
    layers : L (default :func:`construction_depth` ``(k)``).  With fewer layers
        than that the construction is truncated: it computes ``hop_{k'}``,
        ``k' = min(k, 2^(L-2))`` (see the module docstring).

    Examples
    --------
    >>> c = hop_construction(5, max_len=30, alphabet=3, layers=4)
    >>> c.reached, c.exact
    (4, False)
    >>> hop_construction(0, max_len=4, alphabet=2)(np.array([[1, 0, 0, 1]])).tolist()
    [[1, 0, 0, 1]]
    """
    k = check_int("k", k, low=0, error=ConstructionError)
    n = check_int("max_len", max_len, low=1, error=ConstructionError)
    V = check_int("alphabet", alphabet, low=1, error=ConstructionError)
    L = construction_depth(k) if layers is None else check_int("layers", layers, low=1, error=ConstructionError)
    p, f, beta = construction_precision(n, V)
    if p > MAX_BITS:
        raise ConstructionError(
            f"max_len = {n}, alphabet = {V} need p = {p} bits; fixed point holds at most {MAX_BITS} "
            f"(p = 1 + f + ceil(log2(A+1)) grows like 3 log2 N)"
        )
    reached = min(k, construction_reach(L))
    params, out_tokens = _weights(reached, L, n, V, beta)
    model = SoftmaxTransformer(
        vocab=V, layers=L, width=WIDTH, heads=1, head_dim=HEAD_DIM, d_ff=D_FF, max_len=n,
        precision=p, frac=f, params=params, output_tokens=out_tokens,
    )
    return HopConstruction(k, L, reached, n, V, p, f, beta, model)
