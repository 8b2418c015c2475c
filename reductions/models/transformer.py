"""A causally masked softmax transformer in exact fixed point (docs/definitions.md §5, [SHT24] §2).

The model
---------
Tokens ``x[0..N-1]`` in ``0..V-1``.  Width ``m``, ``L`` layers, ``H`` heads of
width ``d`` per layer, MLP width ``F``; explicit positional encodings ``P``
(one row per position up to ``max_len``), no layer normalisation (as in the
theoretical model of [SHT24]):

    h_0[i]   = E[x_i] + P[i]
    for each layer l:
      q, k, v = h W_Q^{l,h}, h W_K^{l,h}, h W_V^{l,h}         per head h, each (N, d)
      a[i]    = sum_{j <= i} softmax_j(q_i . k_j) v_j          causal mask
      h      += concat_h(a) W_O^l
      h      += relu(h W_1^l + b_1^l) W_2^l + b_2^l
    output[i] = output_tokens[argmax_c (h[i] W_U + b_U)_c]    ties -> lowest class

The softmax temperature is folded into ``W_Q`` (:meth:`random` scales it by
``1/sqrt(d)``); the class axis of the readout has its own token ids
``output_tokens`` (by default ``0..V-1``; the k-hop construction adds ⊥ = -1).
Per-head keys and values are ``d``-dimensional; [SHT24]'s convention is
``d = m`` (each head maps ``R^m -> R^m``), the default of :meth:`random`.

Fixed point (what makes the protocol reproduce the model bit for bit)
---------------------------------------------------------------------
Every stored number — weights, embeddings, the residual stream, queries, keys,
values, MLP pre-activations, logits — is a p-bit value with f fractional bits
(:class:`~reductions.arithmetic.fixed_point.FixedPoint`); every matrix product is an
exact integer accumulation followed by ONE rounding (half to even), and
overflow raises.  Attention, with raws at scale ``2^-f``:

1. ``s_ij = round(q_i . k_j / 2^f)`` — the exact dot product (scale ``2^-2f``)
   rounded once to scale ``2^-f``; an exact integer of any size (never stored).
2. ``z_ij = s_ij - max_{j' <= i} s_ij'`` (exact, ``<= 0``).
3. ``e_ij = round(2^f exp(z_ij 2^-f))`` — the weight as an f-bit fraction:
   exactly :meth:`FixedPoint.exp` of ``z`` (same float64 evaluation from the
   exact value, same rounding) and, for ``z`` below the p-bit range, the same
   formula (it rounds to 0 there).  ``e = 2^f`` at the maximum, so the
   denominator ``D_i = sum_j e_ij >= 2^f`` is never 0.
4. ``a_i = round(sum_j e_ij v_j / D_i)`` — exact integer numerator and
   denominator, one rounding (half to even) to scale ``2^-f``.

All sums are exact integers, so the result does not depend on how positions
are grouped: a speaker who holds only the keys and values of earlier chunks
(from the board) computes exactly the model's numbers on its own chunk.  That
is the whole reduction (:mod:`reductions.compilers.transformer_to_protocol`).  Requires
``f <= p - 2`` (softmax weight 1 must be representable).

``forward_float`` is the float64 reference with the same unquantised weights
(plain softmax, or ``attention="hard"``: uniform average over the maximal
scores, which is exact integer arithmetic when weights and inputs are
integers, as in the k-hop construction).

Examples
--------
>>> import numpy as np
>>> m = SoftmaxTransformer.random(vocab=5, layers=2, width=8, precision=16, heads=2, seed=0)
>>> x = np.random.default_rng(1).integers(0, 5, (3, 12))
>>> y = m.forward(x)
>>> y.shape, bool((y == m.forward(x)).all()), m.kv_bits_per_position()
((3, 12), True, 512)
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from protocols.seeding import Seed, as_generator
from protocols.validation import check_int
from reductions.arithmetic.fixed_point import FixedPoint, round_div, round_shift
from reductions.arithmetic.residues import component_max, rounded_quotient
from reductions.models.base import ModelError, SequenceModel, check_weight_names, checked_weights
from reductions.models.float_forward import transformer_logits

__all__ = ["SoftmaxTransformer", "ChunkRun", "sinusoidal_positions", "softmax_weights", "PARAM_NAMES"]

#: The weight arrays of a transformer (stacked over layers where per layer).
PARAM_NAMES = ("embed", "pos", "wq", "wk", "wv", "wo", "w1", "b1", "w2", "b2", "unembed", "unembed_bias")

#: Largest attention-score tensor (elements) one batch slice may hold; bounds memory.
SCORE_ELEMENTS = 2**22

_F53 = 2.0**53


def sinusoidal_positions(max_len: int, width: int) -> np.ndarray:
    """The sinusoidal positional encodings of Vaswani et al. ``(max_len, width)``.

    Examples
    --------
    >>> sinusoidal_positions(3, 4)[1].round(3).tolist()
    [0.841, 0.54, 0.01, 1.0]
    """
    pos = np.arange(max_len, dtype=np.float64)[:, None]
    i = np.arange(width)
    freq = 1.0 / 10000.0 ** ((i - i % 2) / width)
    ang = pos * freq[None, :]
    return np.where(i % 2 == 0, np.sin(ang), np.cos(ang))


def softmax_weights(z: np.ndarray, frac: int) -> np.ndarray:
    """Unnormalised softmax weights ``rint(2^f exp(z 2^-f))`` for raw score differences ``z <= 0``.

    ``z`` holds exact integers (raws at scale ``2^-f``, as float64; ``-inf`` for
    masked entries).  This is :meth:`FixedPoint.exp` — quantize(exp(to_float(z)))
    with round half to even — extended below the p-bit range, where it is 0.
    Only entries with ``z 2^-f > -(f+2) ln 2`` need ``exp``: below that
    ``2^f e^z <= 1/4`` rounds to 0, so they are skipped (a speed-up, same numbers).

    Examples
    --------
    >>> softmax_weights(np.array([0.0, -16.0, -1000.0, -np.inf]), 4).tolist()
    [16.0, 6.0, 0.0, 0.0]
    """
    f = int(frac)
    z = np.asarray(z, dtype=np.float64)
    live = np.flatnonzero(z > -(f + 2) * np.log(2.0) * 2.0**f)
    e = np.zeros(z.shape)
    e.reshape(-1)[live] = np.rint(np.exp(z.reshape(-1)[live] * 2.0**-f) * 2.0**f)
    return e


@dataclass(frozen=True, eq=False)
class ChunkRun:
    """What :meth:`SoftmaxTransformer.run_chunk` returns.

    kv : per layer run, ``(K, V)`` raws of the chunk's positions, each ``(B, H, c, d)``.
    outputs : ``(B, c)`` output tokens (``None`` unless all layers ran with ``readout``).

    Examples
    --------
    >>> m = SoftmaxTransformer.random(vocab=3, layers=2, width=4, precision=12, seed=0)
    >>> r = m.run_chunk(np.zeros((5, 3), int), n_layers=1, readout=False)
    >>> len(r.kv), r.kv[0][0].shape, r.outputs is None
    (1, (5, 1, 3, 4), True)
    """

    kv: list[tuple[np.ndarray, np.ndarray]]
    outputs: np.ndarray | None



class _Affine:
    """``a @ w + bias`` in fixed point, the same numbers as :meth:`FixedPoint.matmul`.

    Exact integer accumulation, ONE rounding (half to even), overflow raises.
    The float64 BLAS path is taken when a per-input-component bound
    ``sum_i max|a_i| max_j |w_ij| + max|bias| 2^f < 2^53`` proves every partial
    sum exact — tighter than a global ``n max|a| max|w|`` when a few large
    entries (positions², tokens²) meet weights that are zero there, as in the
    k-hop construction; otherwise it defers to :meth:`FixedPoint.matmul`.
    """

    __slots__ = ("fmt", "w", "bias", "what", "_wf", "_bf", "_rowmax", "_bmax")

    def __init__(self, fmt: FixedPoint, w: np.ndarray, bias: np.ndarray | None, what: str) -> None:
        self.fmt, self.w, self.bias, self.what = fmt, w, bias, what
        self._wf = w.astype(np.float64)
        self._rowmax = np.abs(self._wf).max(axis=1) if w.size else np.zeros(w.shape[0])
        self._bf = None if bias is None else bias.astype(np.float64) * 2.0**fmt.f
        self._bmax = 0.0 if bias is None or not bias.size else float(np.abs(self._bf).max())

    def __call__(self, a: np.ndarray) -> np.ndarray:
        fmt = self.fmt
        if a.size:
            if float(component_max(a, -1) @ self._rowmax) + self._bmax < _F53:
                acc = a.astype(np.float64) @ self._wf  # (B, n, m) @ (m, k): stacked, single-threaded
                if self._bf is not None:
                    acc += self._bf
                return fmt.check(np.rint(acc * 2.0**-fmt.f).astype(np.int64), self.what)
        return fmt.matmul(a, self.w, bias=self.bias, what=self.what)


class SoftmaxTransformer(SequenceModel):
    """Causally masked softmax transformer: L layers, H heads of width d, width m, fixed point.

    Parameters
    ----------
    vocab, layers, width : V, L, m.
    heads, head_dim, d_ff : H, d (per-head key/value width), F (MLP width).
    max_len : positions with a positional encoding (longest input).
    precision, frac : p total bits and f fractional bits (``f <= p - 2``);
        ``frac=None`` takes ``p - 6`` (values in [-32, 32)).
    params : the float64 weights, keys :data:`PARAM_NAMES` with shapes
        ``embed (V, m)``, ``pos (max_len, m)``, ``wq/wk/wv (L, H, m, d)``,
        ``wo (L, H, d, m)``, ``w1 (L, m, F)``, ``b1 (L, F)``, ``w2 (L, F, m)``,
        ``b2 (L, m)``, ``unembed (m, C)``, ``unembed_bias (C,)``.  Quantised to
        the format on construction (a weight that does not fit raises).
    output_tokens : the token id of each of the C readout classes (default
        ``0..C-1``), strictly increasing, so ties go to the lowest token.

    Examples
    --------
    >>> m = SoftmaxTransformer.random(vocab=4, layers=1, width=4, precision=12, seed=0)
    >>> m.heads, m.head_dim, m.fmt
    (1, 4, FixedPoint(p=12, f=6))
    """

    family = "transformer"
    bits_text = "ceil(N/k)·2·d·H·p (longest chunk's keys and values; d = m in [SHT24])"
    cli_options = {
        "heads": (int, "attention heads H (default 1)"),
        "head_dim": (int, "per-head key/value width d (default m, [SHT24]'s convention)"),
        "d_ff": (int, "MLP width F (default 4m)"),
        "max_len": (int, "positions with an encoding (default 4096)"),
    }

    def __init__(
        self,
        vocab: int,
        layers: int,
        width: int,
        heads: int,
        head_dim: int,
        d_ff: int,
        max_len: int,
        precision: int,
        params: dict[str, np.ndarray],
        frac: int | None = None,
        output_tokens: Sequence[int] | None = None,
    ) -> None:
        p = check_int("precision", precision, low=1, error=ModelError)
        f = max(0, p - 6) if frac is None else frac
        f = check_int("frac", f, low=0, high=p - 2, error=ModelError)  # the softmax needs two integer bits
        super().__init__(vocab, layers, width, FixedPoint(p, int(f)))
        self.heads = check_int("heads", heads, low=1, error=ModelError)
        self.head_dim = check_int("head_dim", head_dim, low=1, error=ModelError)
        self.d_ff = check_int("d_ff", d_ff, low=1, error=ModelError)
        self.max_len = check_int("max_len", max_len, low=1, error=ModelError)
        V, L, m, H, d, F = self.vocab, self.layers, self.width, self.heads, self.head_dim, self.d_ff
        check_weight_names(type(self).__name__, dict.fromkeys(PARAM_NAMES), params)  # before reading "unembed"
        C = np.asarray(params["unembed"]).shape[-1] if np.ndim(params["unembed"]) == 2 else -1
        shapes = {
            "embed": (V, m), "pos": (self.max_len, m), "wq": (L, H, m, d), "wk": (L, H, m, d),
            "wv": (L, H, m, d), "wo": (L, H, d, m), "w1": (L, m, F), "b1": (L, F), "w2": (L, F, m),
            "b2": (L, m), "unembed": (m, C), "unembed_bias": (C,),
        }
        self._params = checked_weights(type(self).__name__, shapes, params)
        self.classes = int(C)
        toks = np.arange(C, dtype=np.int64) if output_tokens is None else np.asarray(output_tokens, dtype=np.int64)
        if toks.shape != (C,) or (C > 1 and np.any(np.diff(toks) <= 0)):
            raise ModelError(f"output_tokens {toks.tolist()} must be {C} strictly increasing token ids")
        self.output_tokens = toks
        fmt = self.fmt
        raw = {n: fmt.quantize(a, what=f"weight {n!r}") for n, a in self._params.items()}
        # One matmul computes all heads' q, k and v: (L, m, 3*H*d).
        qkv = np.concatenate([raw[n].transpose(0, 2, 1, 3).reshape(L, m, H * d) for n in ("wq", "wk", "wv")], -1)
        self._raw = raw
        self._maps = [
            (
                _Affine(fmt, qkv[li], None, f"layer {li} query/key/value"),
                _Affine(fmt, raw["wo"][li].reshape(H * d, m), None, f"layer {li} attention output"),
                _Affine(fmt, raw["w1"][li], raw["b1"][li], f"layer {li} MLP pre-activation"),
                _Affine(fmt, raw["w2"][li], raw["b2"][li], f"layer {li} MLP output"),
            )
            for li in range(L)
        ]
        self._unembed = _Affine(fmt, raw["unembed"], raw["unembed_bias"], "logit")

    # -- SequenceModel interface ------------------------------------------------
    def hyper(self) -> dict:
        return {
            "vocab": self.vocab, "layers": self.layers, "width": self.width, "heads": self.heads,
            "head_dim": self.head_dim, "d_ff": self.d_ff, "max_len": self.max_len,
            "precision": self.fmt.p, "frac": self.fmt.f, "output_tokens": self.output_tokens.tolist(),
        }

    def params(self) -> dict[str, np.ndarray]:
        return dict(self._params)

    def kv_bits_per_position(self) -> int:
        """Bits of one position's keys and values in one layer: ``2 * H * d * p``."""
        return 2 * self.heads * self.head_dim * self.fmt.p

    def state_bits(self) -> int:
        """Bits one position contributes to a message (its keys and values, one layer).

        A speaker's message holds this for every position of its chunk; the
        message size of a split is :func:`reductions.compilers.transformer_to_protocol.message_bits`.
        """
        return self.kv_bits_per_position()

    @classmethod
    def random(
        cls,
        vocab: int,
        layers: int,
        width: int,
        precision: int = 16,
        seed: Seed = None,
        heads: int = 1,
        head_dim: int | None = None,
        d_ff: int | None = None,
        max_len: int = 4096,
        frac: int | None = None,
    ) -> SoftmaxTransformer:
        """Seeded random weights (Gaussian, scaled so the residual stream stays O(1)).

        ``head_dim`` defaults to ``width`` ([SHT24]'s convention), ``d_ff`` to
        ``4 * width``; positional encodings are sinusoidal.

        Examples
        --------
        >>> SoftmaxTransformer.random(vocab=3, layers=2, width=6, seed=1).hyper()["head_dim"]
        6
        """
        V = check_int("vocab", vocab, low=1, error=ModelError)
        L = check_int("layers", layers, low=1, error=ModelError)
        m = check_int("width", width, low=1, error=ModelError)
        H = check_int("heads", heads, low=1, error=ModelError)
        d = m if head_dim is None else check_int("head_dim", head_dim, low=1, error=ModelError)
        F = 4 * m if d_ff is None else check_int("d_ff", d_ff, low=1, error=ModelError)
        n = check_int("max_len", max_len, low=1, error=ModelError)
        g = as_generator(seed)

        def normal(shape, std):
            return g.standard_normal(shape) * std

        params = {
            "embed": normal((V, m), 1.0),
            "pos": sinusoidal_positions(n, m),
            "wq": normal((L, H, m, d), 1.0 / np.sqrt(m)) / np.sqrt(d),
            "wk": normal((L, H, m, d), 1.0 / np.sqrt(m)),
            "wv": normal((L, H, m, d), 1.0 / np.sqrt(m)),
            "wo": normal((L, H, d, m), 0.5 / np.sqrt(H * d * L)),
            "w1": normal((L, m, F), 1.0 / np.sqrt(m)),
            "b1": normal((L, F), 0.1),
            "w2": normal((L, F, m), 0.5 / np.sqrt(F * L)),
            "b2": normal((L, m), 0.1),
            "unembed": normal((m, V), 1.0 / np.sqrt(m)),
            "unembed_bias": np.zeros(V),
        }
        return cls(V, L, m, H, d, F, n, precision, params, frac=frac)

    def __repr__(self) -> str:
        return (f"SoftmaxTransformer(vocab={self.vocab}, layers={self.layers}, width={self.width}, "
                f"heads={self.heads}, head_dim={self.head_dim}, p={self.fmt.p}, f={self.fmt.f})")

    # -- inputs -------------------------------------------------------------
    def _tokens(self, tokens: Any, start: int = 0) -> np.ndarray:
        t = self.check_tokens(tokens)
        if start < 0 or start + t.shape[1] > self.max_len:
            raise ModelError(
                f"positions {start}..{start + t.shape[1] - 1} exceed max_len = {self.max_len} "
                f"(the positional encodings cover 0..{self.max_len - 1})"
            )
        return t

    def _slices(self, batch: int, queries: int, keys: int) -> list[slice]:
        per = max(1, SCORE_ELEMENTS // max(1, self.heads * queries * keys))
        return [slice(a, min(a + per, batch)) for a in range(0, batch, per)]

    # -- fixed point --------------------------------------------------------
    def _scores(self, q: np.ndarray, K: np.ndarray) -> np.ndarray:
        """``round(q . k / 2^f)`` as exact integers in float64 (needs ``Σ_d max|q_d| max|k_d| < 2^53``)."""
        qf = np.ascontiguousarray(q, dtype=np.float64)
        kt = np.ascontiguousarray(K.swapaxes(-1, -2), dtype=np.float64)
        if q.shape[-1] <= 16:
            # Narrow heads: einsum's own loop is steady, while per-slice BLAS calls may spawn
            # threads that only contend on a loaded machine (up to 5x the CPU); exact either way.
            acc = np.einsum("bhcd,bhdt->bhct", qf, kt)
        else:
            acc = qf @ kt
        # exact: acc is an integer < 2**53, scaling by 2**-f is exact, rint = half to even
        return np.rint(acc * 2.0**-self.fmt.f, out=acc)

    def _attend(self, q: np.ndarray, K: np.ndarray, V: np.ndarray, start: int) -> np.ndarray:
        """Causal softmax attention of queries at ``start..start+c-1`` over keys ``0..start+c-1``."""
        f = self.fmt.f
        c, t = q.shape[2], K.shape[2]
        bound = float(component_max(q, -1) @ component_max(K, -1))  # >= |q . k|, per component
        vmax = float(component_max(V, -1).max(initial=0))
        if bound >= _F53 or t * 2.0**f * vmax >= _F53:
            return self._attend_wide(q, K, V, start, bound)
        z = self._scores(q, K)
        # Causal mask as an additive 0 / -inf bias (one pass; -inf + finite = -inf).
        z += np.where(np.arange(t)[None, :] > (start + np.arange(c))[:, None], -np.inf, 0.0)
        z -= z.max(axis=-1, keepdims=True)  # exact: integers below 2**52
        e = softmax_weights(z, f)
        den = e.sum(axis=-1, keepdims=True)  # exact: <= t * 2**f
        num = (e @ np.ascontiguousarray(V, dtype=np.float64)).astype(np.int64)
        return self.fmt.check(round_div(num, den.astype(np.int64)), "attention output")

    def _attend_wide(self, q: np.ndarray, K: np.ndarray, V: np.ndarray, start: int, bound: float) -> np.ndarray:
        """:meth:`_attend` when products leave float64's exact range (p > 26): the same numbers.

        A softmax weight is nonzero only where ``z = s - max s`` exceeds
        ``-(f+2) ln2 2^f`` (:func:`softmax_weights`).  Float64 estimates of all
        scores (error <= δ, proven from ``bound``) select the candidates that
        may get there — the true maximum among them; only those get an exact
        score (float64 value + residue mod 2^64, :mod:`reductions.arithmetic.residues`),
        exact weights, and an exact numerator and denominator per query.
        """
        f = self.fmt.f
        B, H, c, d = q.shape
        t = K.shape[2]
        # estimates of q . k (scale 2^-2f); the future lies in the last c columns (t = start + c)
        est = np.einsum("bhcd,bhdt->bhct", q.astype(np.float64), K.swapaxes(-1, -2).astype(np.float64))
        est[..., start:][..., np.arange(t - start)[None, :] > np.arange(c)[:, None]] = -np.inf
        delta = (d + 4) * bound * 2.0**-52 * 2.0**-f + 1.0  # |estimate·2^-f - exact score|, rounding included
        margin = ((f + 2) * np.log(2.0) * 2.0**f + 2 * delta + 1.0) * 2.0**f
        b, h, i, j = np.nonzero(est >= est.max(axis=-1, keepdims=True) - margin)
        qc, kc = q[b, h, i], K[b, h, j]
        xf = np.einsum("nd,nd->n", qc.astype(np.float64), kc.astype(np.float64))
        with np.errstate(over="ignore"):
            xm = (qc.view(np.uint64) * kc.view(np.uint64)).sum(axis=-1, dtype=np.uint64)
        s = rounded_quotient(xf, xm, (d + 4) * bound * 2.0**-52, 2**f) if f < 52 else None
        if s is None:  # scores beyond 2^62 or formats near 64 bits: Python integers (candidates only)
            s = round_shift((qc.astype(object) * kc.astype(object)).sum(axis=-1), f)
        row = (b * H + h) * c + i  # every query row has at least its maximum as a candidate
        smax = np.empty(B * H * c, dtype=s.dtype)
        smax[row] = s  # start every row at one of its own scores (they may lie below -2^63)
        np.maximum.at(smax, row, s)
        e = softmax_weights((s - smax[row]).astype(np.float64), f)  # exact where nonzero (|z| small)
        live = np.flatnonzero(e)
        row, ei, vj = row[live], e[live].astype(np.int64), V[b[live], h[live], j[live]]  # (n, d)
        den = np.zeros(B * H * c, dtype=np.int64)
        np.add.at(den, row, ei)  # exact integers (f may exceed float64's 53 bits here)
        with np.errstate(over="ignore"):
            terms = vj.view(np.uint64) * ei.view(np.uint64)[:, None]
        xm = np.zeros((B * H * c, d), dtype=np.uint64)
        np.add.at(xm, row, terms)
        xf = np.zeros((B * H * c, d))
        np.add.at(xf, row, vj.astype(np.float64) * e[live][:, None])
        err = (t + 4) * float(den.max(initial=0)) * float(component_max(V, -1).max(initial=0)) * 2.0**-52
        out = rounded_quotient(xf, xm, err, den[:, None])
        if out is None:
            num = np.zeros((B * H * c, d), dtype=object)
            np.add.at(num, row, vj.astype(object) * ei.astype(object)[:, None])
            out = round_div(num, den[:, None])
        return self.fmt.check(out, "attention output").reshape(B, H, c, d)

    def _attend_rows(self, q: np.ndarray, K: np.ndarray, V: np.ndarray, start: int) -> np.ndarray:
        """:meth:`_attend` over blocks of query rows, so a long sequence's scores never exceed
        ``SCORE_ELEMENTS`` at once (each row is independent: same numbers as one call)."""
        Bs, H, c, _ = q.shape
        rows = max(1, SCORE_ELEMENTS // max(1, Bs * H * K.shape[2]))
        if rows >= c:
            return self._attend(q, K, V, start)
        out = np.empty(q.shape, dtype=np.int64)
        for a in range(0, c, rows):
            b = min(c, a + rows)
            out[:, :, a:b] = self._attend(q[:, :, a:b], K[:, :, :start + b], V[:, :, :start + b], start + a)
        return out

    def _qkv(self, layer: int, h: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        B, n, _ = h.shape
        H, d = self.heads, self.head_dim
        qkv = self._maps[layer][0](h)
        qkv = qkv.reshape(B, n, 3, H, d).transpose(2, 0, 3, 1, 4)  # (3, B, H, n, d)
        return qkv[0], qkv[1], qkv[2]

    def _finish_layer(self, layer: int, h: np.ndarray, a: np.ndarray) -> np.ndarray:
        fmt = self.fmt
        _, wo, w1, w2 = self._maps[layer]
        B, H, n, d = a.shape
        h = fmt.add(h, wo(a.transpose(0, 2, 1, 3).reshape(B, n, H * d)))
        return fmt.add(h, w2(np.maximum(w1(h), 0)))

    def _readout(self, h: np.ndarray) -> np.ndarray:
        logits = self._unembed(h)
        return self.output_tokens[np.argmax(logits, axis=-1)]

    def run_chunk(
        self,
        tokens: Any,
        start: int = 0,
        prefix: Sequence[tuple[np.ndarray, np.ndarray]] = (),
        n_layers: int | None = None,
        readout: bool = True,
    ) -> ChunkRun:
        """Run layers ``0..n_layers-1`` on positions ``start..start+c-1`` in fixed point.

        Parameters
        ----------
        tokens : ``(B, c)`` the chunk's tokens.
        start : absolute position of the chunk's first token.
        prefix : per layer, ``(K, V)`` raws ``(B, H, start, d)`` of positions
            ``0..start-1`` (what earlier speakers publish); needed for at least
            ``n_layers`` layers when ``start > 0``.
        n_layers : layers to run (default all); ``readout`` needs all of them.

        Examples
        --------
        >>> import numpy as np
        >>> m = SoftmaxTransformer.random(vocab=3, layers=2, width=4, precision=14, seed=0)
        >>> x = np.random.default_rng(0).integers(0, 3, (2, 7))
        >>> a = m.run_chunk(x[:, :3])
        >>> b = m.run_chunk(x[:, 3:], start=3, prefix=a.kv)
        >>> bool((b.outputs == m.forward(x)[:, 3:]).all())
        True
        """
        t = self._tokens(tokens, start)
        B, c = t.shape
        nl = self.layers if n_layers is None else int(n_layers)
        if not 1 <= nl <= self.layers:
            raise ModelError(f"n_layers = {n_layers}; {self!r} has {self.layers} layers")
        if readout and nl != self.layers:
            raise ModelError(f"readout needs all {self.layers} layers; got n_layers = {nl}")
        H, d = self.heads, self.head_dim
        if start > 0:
            if len(prefix) < nl:
                raise ModelError(f"prefix holds keys/values of {len(prefix)} layers; {nl} needed")
            for li in range(nl):
                for name, a in zip("KV", prefix[li], strict=False):
                    if np.shape(a) != (B, H, start, d):
                        raise ModelError(
                            f"prefix {name} of layer {li} has shape {np.shape(a)}; expected {(B, H, start, d)}"
                        )
        kv = [(np.empty((B, H, c, d), np.int64), np.empty((B, H, c, d), np.int64)) for _ in range(nl)]
        outputs = np.empty((B, c), np.int64) if readout else None
        raw = self._raw
        for sl in self._slices(B, c, start + c):
            h = self.fmt.add(raw["embed"][t[sl]], raw["pos"][start:start + c][None])
            for li in range(nl):
                q, k, v = self._qkv(li, h)
                kv[li][0][sl], kv[li][1][sl] = k, v
                if start > 0:
                    K = np.concatenate([np.asarray(prefix[li][0])[sl], k], axis=2)
                    V = np.concatenate([np.asarray(prefix[li][1])[sl], v], axis=2)
                else:
                    K, V = k, v
                h = self._finish_layer(li, h, self._attend_rows(q, K, V, start))
            if readout:
                outputs[sl] = self._readout(h)
        return ChunkRun(kv, outputs)

    def forward(self, tokens: Any) -> np.ndarray:
        """Output tokens ``(B, N)`` in fixed point."""
        return self.run_chunk(tokens).outputs

    def forward_with_attention(self, tokens: Any, attend: Callable[..., np.ndarray]) -> np.ndarray:
        """:meth:`forward` with the causal attention of every layer computed by ``attend``.

        Embeddings, projections, MLPs and readout are the model's own
        fixed-point maps; only step 1-4 of the attention (module docstring) is
        delegated, so the result equals :meth:`forward` exactly whenever
        ``attend`` returns the numbers :meth:`_attend` would.  Used by models
        whose attention is provably hard (e.g. the k-hop construction) to skip
        the ``N^2`` score matrix; ``attend`` must prove its own shortcut or raise.

        Parameters
        ----------
        tokens : ``(B, N)`` tokens.
        attend : ``attend(layer, q, K, V) -> (B, H, N, d)`` raws, with ``q, K, V``
            the ``(B, H, N, d)`` raws of all positions (queries at 0..N-1).

        Examples
        --------
        >>> m = SoftmaxTransformer.random(vocab=3, layers=2, width=4, precision=14, seed=0)
        >>> x = np.random.default_rng(0).integers(0, 3, (2, 7))
        >>> dense = lambda li, q, K, V: m._attend_rows(q, K, V, 0)
        >>> bool((m.forward_with_attention(x, dense) == m.forward(x)).all())
        True
        """
        t = self._tokens(tokens)
        B, n = t.shape
        out = np.empty((B, n), np.int64)
        raw = self._raw
        # no score matrix here: only the residual stream (B, n, m) bounds a slice
        per = max(1, SCORE_ELEMENTS // max(1, n * max(self.width, self.d_ff)))
        for a in range(0, B, per):
            sl = slice(a, min(B, a + per))
            h = self.fmt.add(raw["embed"][t[sl]], raw["pos"][:n][None])
            for li in range(self.layers):
                q, k, v = self._qkv(li, h)
                h = self._finish_layer(li, h, np.asarray(attend(li, q, k, v), dtype=np.int64))
            out[sl] = self._readout(h)
        return out

    # -- float64 reference --------------------------------------------------
    def forward_float(self, tokens: Any, attention: str = "softmax") -> np.ndarray:
        """Output tokens ``(B, N)`` of the float64 model with the unquantised weights.

        ``attention="hard"`` replaces softmax by the uniform average over the
        maximal scores (exact for integer weights and inputs below 2**53).

        Examples
        --------
        >>> import numpy as np
        >>> m = SoftmaxTransformer.random(vocab=4, layers=2, width=8, precision=24, seed=3)
        >>> x = np.random.default_rng(0).integers(0, 4, (20, 10))
        >>> float((m.forward(x) == m.forward_float(x)).mean()) > 0.95
        True
        """
        if attention not in ("softmax", "hard"):
            raise ModelError(f"attention = {attention!r}; use 'softmax' or 'hard'")
        t = self._tokens(tokens)
        B, n = t.shape
        out = np.empty((B, n), np.int64)
        for sl in self._slices(B, n, n):
            # the float equations live once in float_forward (numpy here, JAX when training)
            logits = transformer_logits(np, self._params, t[sl], attention)
            out[sl] = self.output_tokens[np.argmax(logits, axis=-1)]
        return out
