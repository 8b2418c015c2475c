"""Sparse (Longformer-style) attention in exact fixed point (docs/definitions.md §5, [SHT24] Cor. 5.4).

Position n attends to the keys in its **window** ``{j : |j − n| <= w}`` and to
the **global tokens** ``{j : j ≡ 0 (mod g)}`` (within the sequence), each key
counted once, with softmax weights.  Global tokens are visible to every
position but themselves attend through their window only **[choice]**: in
Longformer a global token also attends to the whole sequence, which would make
its output depend on every position and no (L, small s) simulation would
exist; [SHT24] Cor. 5.4 bounds the model in which globals are read, not
readers.  Otherwise the layer is the shared transformer block of
:mod:`.attention_base` (H heads of query/key/value dimension m, residual MLP,
argmax readout).

Fixed point (format ``FixedPoint(p, f)``, default f = p − 4), for each query:

1. ``s_j = round(q·k_j / 2**f)`` — exact dot product, one rounding half to
   even (an integer that is never stored, so not limited to p bits);
2. ``e_j = exp(s_j − max s)`` — :func:`exp_nonpositive`, the definition of
   :meth:`FixedPoint.exp` on an exact non-positive argument of any size (the
   maximum is over the attended keys, all of which the computing speaker
   holds), so ``e = 2**f`` at the maximum and the denominator is never 0;
3. ``a = round(Σ e_j v_j / Σ e_j)`` — exact integer sums, one rounding.

Every step is per query and exact, so any split of the positions gives the
same numbers.  A speaker needs, from outside its chunk, the keys and values of
the w tokens at each end of its neighbours' chunks and of the global tokens:
per layer and head it writes those of its own chunk — key and value, m values
each, p bits — so (one place: :func:`sparse_message_bits`)
``s = (2w + G)·2·H·m·p`` with G the most global tokens in any chunk.

Examples
--------
>>> m = SparseAttention.random(vocab=5, layers=2, width=4, heads=2, window=2, global_every=4, precision=16,
...                            max_len=32, seed=0)
>>> x = np.array([[0, 1, 2, 3, 4, 0, 1, 2, 3, 4]])
>>> m.forward(x).shape, bool((m.forward(x) == m.forward_float(x)).all())
((1, 10), True)
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from protocols.seeding import as_generator
from protocols.validation import check_int
from reductions.arithmetic.fixed_point import FixedPoint, FixedPointOverflow, round_div, round_shift
from reductions.models.attention_base import AttentionModel, batch_slices, exp_nonpositive
from reductions.models.base import ModelError, default_frac

__all__ = ["SparseAttention", "sparse_message_bits", "global_positions", "globals_per_chunk", "sparse_attention"]


def sparse_message_bits(window: int, globals_max: int, heads: int, width: int, precision: int) -> int:
    """s of a sparse-attention protocol (docs/definitions.md §5): ``(2w + G) · 2 · H · m · p``.

    Per layer and head, the key and value (m values of p bits each) of the w
    tokens at each end of the chunk and of its (at most G) global tokens.

    Examples
    --------
    >>> sparse_message_bits(window=3, globals_max=2, heads=2, width=4, precision=16)
    2048
    """
    return (2 * int(window) + int(globals_max)) * 2 * int(heads) * int(width) * int(precision)


def global_positions(n: int, every: int) -> np.ndarray:
    """The global tokens of a length-n sequence: ``0, g, 2g, ...`` below n.

    Examples
    --------
    >>> global_positions(10, 4).tolist()
    [0, 4, 8]
    """
    return np.arange(0, int(n), int(every), dtype=np.int64)


def globals_per_chunk(boundaries: Sequence[int], every: int) -> list[int]:
    """How many global tokens each chunk ``[b_i, b_{i+1})`` holds.

    Examples
    --------
    >>> globals_per_chunk((0, 3, 4, 10), 4)
    [1, 0, 2]
    """
    g = int(every)
    return [(-(-int(b) // g)) - (-(-int(a) // g)) for a, b in zip(boundaries[:-1], boundaries[1:], strict=True)]


def _exact_einsum(spec: str, a: np.ndarray, b: np.ndarray, terms: int, what: str) -> np.ndarray:
    """Exact integer einsum: float64 when every partial sum is provably below 2**53, else int64."""
    if a.size == 0 or b.size == 0:
        return np.einsum(spec, a, b).astype(np.int64)
    bound = float(terms) * float(np.abs(a).max()) * float(np.abs(b).max())
    if bound < 2.0**53:
        return np.einsum(spec, a.astype(np.float64), b.astype(np.float64)).astype(np.int64)
    if bound < 2.0**63:
        return np.einsum(spec, a, b)
    # p > 32: products leave int64; Python integers keep the sums exact (O(N·(w + G)) terms: a cold path)
    return np.einsum(spec, a.astype(object), b.astype(object))


def _scores_int64(s: np.ndarray, what: str) -> np.ndarray:
    """Rounded scores back to int64, refusing any beyond ±2^62 (their differences must fit int64)."""
    if s.size and max(abs(int(s.max())), abs(int(s.min()))) >= 2**62:
        raise FixedPointOverflow(f"{what} reaches 2^62 (raw); score differences must fit int64")
    return s.astype(np.int64)


def _windows(x: np.ndarray, lo: int, start: int, nq: int, w: int) -> np.ndarray:
    """``(..., nq, m, 2w+1)``: for query i (position start+i) the rows at positions start+i-w .. start+i+w.

    ``x (..., nr, m)`` holds positions ``lo .. lo+nr-1``; positions outside are zeros.
    """
    nr = x.shape[-2]
    first = start - w
    pad_left = max(0, lo - first)
    pad_right = max(0, (start + nq + w) - (lo + nr))
    widths = [(0, 0)] * (x.ndim - 2) + [(pad_left, pad_right), (0, 0)]
    xp = np.pad(x, widths)
    off = first - (lo - pad_left)
    return sliding_window_view(xp[..., off:off + nq + 2 * w, :], 2 * w + 1, axis=-2)


def sparse_attention(fmt: FixedPoint | None, q: np.ndarray, kr: np.ndarray, vr: np.ndarray, lo: int,
                     kg: np.ndarray, vg: np.ndarray, start: int, n: int, window: int, every: int) -> np.ndarray:
    """Window + global softmax attention for the queries at positions ``start .. start+nq-1``.

    Parameters
    ----------
    fmt : the fixed-point format (raws in, raws out), or None for the float64 twin.
    q : ``(..., nq, m)`` queries.
    kr, vr : ``(..., nr, m)`` keys and values at positions ``lo .. lo+nr-1``; must
        cover every window position ``start-w .. start+nq-1+w`` inside ``0..n-1``.
    kg, vg : ``(..., G, m)`` keys and values of the global tokens ``global_positions(n, every)``.
    n : sequence length; window, every : w and g.

    Examples
    --------
    >>> fmt = FixedPoint(12, 6)
    >>> k = v = fmt.quantize(np.arange(5.0)[:, None])
    >>> q = fmt.quantize(np.zeros((5, 1)))    # equal scores: plain averages over window ∪ {0, 4}
    >>> g = global_positions(5, 4)
    >>> fmt.to_float(sparse_attention(fmt, q, k, v, 0, k[g], v[g], 0, 5, 1, 4)).ravel().tolist()
    [1.671875, 1.75, 2.0, 2.25, 2.328125]
    """
    nq, m = q.shape[-2], q.shape[-1]
    w = int(window)
    pos = start + np.arange(nq)
    offs = np.arange(-w, w + 1)
    kw = _windows(kr, lo, start, nq, w)                         # (..., nq, m, 2w+1)
    vw = _windows(vr, lo, start, nq, w)
    win_ok = ((pos[:, None] + offs) >= 0) & ((pos[:, None] + offs) < n)          # (nq, 2w+1)
    gpos = global_positions(n, every)
    glob_ok = np.abs(pos[:, None] - gpos[None, :]) > w                             # (nq, G)
    if fmt is None:
        sw = np.einsum("...im,...imo->...io", q, kw)
        sg = q @ np.swapaxes(kg, -1, -2)
        sw = np.where(win_ok, sw, -np.inf)
        sg = np.where(glob_ok, sg, -np.inf)
        mx = np.maximum(sw.max(axis=-1), sg.max(axis=-1, initial=-np.inf))[..., None]
        ew, eg = np.exp(sw - mx), np.exp(sg - mx)
        num = np.einsum("...io,...imo->...im", ew, vw) + eg @ vg
        return num / (ew.sum(axis=-1) + eg.sum(axis=-1))[..., None]
    sw = _scores_int64(round_shift(_exact_einsum("...im,...imo->...io", q, kw, m, "window score"), fmt.f),
                       "a window score")
    sg = _scores_int64(round_shift(_exact_einsum("...im,...gm->...ig", q, kg, m, "global score"), fmt.f),
                       "a global score")
    low = np.iinfo(np.int64).min
    sw = np.where(win_ok, sw, low)
    sg = np.where(glob_ok, sg, low)
    mx = np.maximum(sw.max(axis=-1), sg.max(axis=-1, initial=low))[..., None]
    sw = np.where(win_ok, sw, mx)  # masked entries: any value <= max keeps the subtraction in range
    sg = np.where(glob_ok, sg, mx)
    ew = np.where(win_ok, exp_nonpositive(fmt, sw - mx), 0)
    eg = np.where(glob_ok, exp_nonpositive(fmt, sg - mx), 0)
    terms = 2 * w + 1 + len(gpos)
    num = _exact_einsum("...io,...imo->...im", ew, vw, terms, "attention numerator") \
        + _exact_einsum("...ig,...gm->...im", eg, vg, terms, "attention numerator")
    den = ew.sum(axis=-1) + eg.sum(axis=-1)
    return fmt.check(round_div(num, den[..., None]), "sparse attention output")


class SparseAttention(AttentionModel):
    """An L-layer, H-head transformer with window-w + every-g-global softmax attention.

    Parameters
    ----------
    params : weights (see :mod:`.attention_base`).
    vocab, layers, width, heads, max_len : V, L, m, H and the number of learned positions.
    window : w >= 0, the attention radius (both sides).
    global_every : g >= 1, a global token at every position divisible by g.
    ff, precision, frac : MLP width (default 2m), p and f (default p − 4).

    Examples
    --------
    >>> m = SparseAttention.random(vocab=4, layers=1, width=3, window=1, global_every=3, precision=12, seed=0)
    >>> m.state_bits((0, 4, 8)), m.forward(np.array([[0, 1, 2, 3, 0, 1, 2, 3]])).shape
    (288, (1, 8))
    """

    family = "sparse"
    #: options of ``python -m reductions verify --model sparse`` (keyword -> (type, help)).
    cli_options = {
        "heads": (int, "attention heads H"),
        "window": (int, "sparse attention window w: positions within w on each side (default 2)"),
        "global_every": (int, "sparse attention: a global token every g positions (default 8)"),
        "max_len": (int, "learned positions = longest sequence (default 4096)"),
    }

    def __init__(self, params: Mapping[str, Any], vocab: int, layers: int, width: int, heads: int = 1,
                 max_len: int = 4096, window: int = 2, global_every: int = 8, ff: int | None = None,
                 precision: int = 16, frac: int | None = None) -> None:
        self.window = check_int("window", window, low=0, error=ModelError)
        self.global_every = check_int("global_every", global_every, low=1, error=ModelError)
        f = default_frac(int(precision)) if frac is None else int(frac)
        if f > int(precision) - 2:
            raise ModelError(f"f = {f} with p = {precision}: a softmax weight of 1 needs f <= p - 2")
        self._setup(params, vocab, layers, width, heads, max_len, ff, precision, frac)

    @classmethod
    def random(cls, vocab: int, layers: int, width: int, precision: int = 16, seed: Any = None,
               heads: int = 1, max_len: int = 4096, window: int = 2, global_every: int = 8,
               ff: int | None = None, frac: int | None = None) -> SparseAttention:
        """Seeded random weights (see :class:`AttentionModel`).

        Examples
        --------
        >>> SparseAttention.random(vocab=3, layers=1, width=2, seed=0, window=1, global_every=3).window
        1
        """
        params = cls._random_params(as_generator(seed), vocab, layers, width, heads, max_len, ff)
        return cls(params, vocab, layers, width, heads, max_len, window, global_every, ff, precision, frac)

    def hyper(self) -> dict:
        return {**self._common_hyper(), "window": self.window, "global_every": self.global_every}

    def message_bits(self, boundaries: Sequence[int]) -> int:
        """Bits per message for a split (:func:`sparse_message_bits` with G = max globals per chunk)."""
        return sparse_message_bits(self.window, max(globals_per_chunk(boundaries, self.global_every)),
                                   self.heads, self.width, self.fmt.p)

    def state_bits(self, boundaries: Sequence[int] | None = None) -> int:
        """Bits per message: ``(2w + G)·2·H·m·p``, G = most global tokens in a chunk.

        G depends on the split; without ``boundaries`` the split into chunks
        of length ``max_len / g`` (one global each) is assumed.
        """
        if boundaries is None:
            return sparse_message_bits(self.window, 1, self.heads, self.width, self.fmt.p)
        return self.message_bits(boundaries)

    def __repr__(self) -> str:
        return (f"SparseAttention(vocab={self.vocab}, layers={self.layers}, width={self.width}, heads={self.heads}, "
                f"window={self.window}, global_every={self.global_every}, p={self.fmt.p}, f={self.fmt.f})")

    # -- one layer over a segment ----------------------------------------------------------------
    def keys_values(self, layer: int, x: np.ndarray, float_path: bool = False) -> tuple[np.ndarray, np.ndarray]:
        """Keys and values of every head, heads first: ``(B, H, n, m)`` each."""
        return (np.moveaxis(self._project(layer, x, "k", float_path), -2, -3),
                np.moveaxis(self._project(layer, x, "v", float_path), -2, -3))

    def layer(self, layer: int, x: np.ndarray, start: int, n: int, kr: np.ndarray, vr: np.ndarray, lo: int,
              kg: np.ndarray, vg: np.ndarray, float_path: bool = False) -> np.ndarray:
        """Layer ``layer`` for the positions ``start .. start+len(x)-1`` of a length-n sequence.

        ``kr, vr`` hold this layer's keys and values at positions ``lo ..`` (covering
        every window), ``kg, vg`` those of all global tokens (see :func:`sparse_attention`).
        """
        q = np.moveaxis(self._project(layer, x, "q", float_path), -2, -3)
        a = sparse_attention(None if float_path else self.fmt, q, kr, vr, lo, kg, vg, start, n,
                             self.window, self.global_every)
        return self._finish_layer(layer, x, np.moveaxis(a, -3, -2), float_path)

    def _per_instance(self, n: int) -> int:
        w = 2 * self.window + 1 + -(-n // self.global_every)
        return n * (self.heads * (2 * w * (self.width + 2) + 6 * self.width) + 4 * self.ff)

    def run(self, tokens: Any, record: bool = False, float_path: bool = False) -> tuple[np.ndarray, list | None]:
        """Output tokens ``(B, N)``; with ``record``, each layer's keys and values ``(B, H, N, m)``."""
        t = self.check_tokens(tokens)
        B, n = t.shape
        self.check_length(n)
        out = np.empty((B, n), dtype=np.int64)
        kvs: list | None = [[[], []] for _ in range(self.layers)] if record else None
        g = global_positions(n, self.global_every)
        for sl in batch_slices(B, self._per_instance(n)):
            x = self._embed(t[sl], 0, float_path)
            for l in range(self.layers):
                k, v = self.keys_values(l, x, float_path)
                if kvs is not None:
                    kvs[l][0].append(k)
                    kvs[l][1].append(v)
                x = self.layer(l, x, 0, n, k, v, 0, k[..., g, :], v[..., g, :], float_path)
            out[sl] = self._readout(x, float_path)
        if kvs is not None:
            kvs = [(np.concatenate(k), np.concatenate(v)) for k, v in kvs]
        return out, kvs

    def forward(self, tokens: Any) -> np.ndarray:
        """Output tokens ``(B, N)`` in fixed point."""
        return self.run(tokens)[0]

    def forward_float(self, tokens: Any) -> np.ndarray:
        """Output tokens ``(B, N)`` of the float64 twin with the unquantised weights."""
        return self.run(tokens, float_path=True)[0]
