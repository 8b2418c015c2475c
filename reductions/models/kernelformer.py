"""KernelFormer: transformers with kernel ("rank m′") attention in exact fixed point (docs/definitions.md §5).

Source: [SHT24] Cor. 5.3.

Softmax attention ``softmax(QKᵀ)V`` is replaced by ``φ(Q)φ(K)ᵀV`` normalised
by ``φ(q)·Σφ(k)``, with a feature map ``φ : R^m -> R^{m′}``:

- ``"performer"`` — positive random features (Performer, FAVOR+):
  ``φ(u) = exp(Ω ũ − ‖ũ‖²/2 − c)`` with ``ũ = u / m^{1/4}``, ``Ω (m′, m)``
  Gaussian (one draw per layer, shared by the heads) and a fixed offset
  ``c = 2`` that keeps features inside the p-bit range (it cancels in the
  ratio, as does the usual ``1/√m′``), so ``E φ(q)·φ(k) ∝ exp(q·k/√m)``;
- ``"elu1"`` — ``φ(u) = elu(u) + 1`` (linear attention, Katharopoulos et al.), m′ = m;
- any user-given vectorised map (:class:`CustomFeatures`).

What a position reads.  Per layer and head the model carries
``S = Σ_j φ(k_j) v_jᵀ`` (m′ × m) and ``z = Σ_j φ(k_j)`` (m′) — over the positions
``j <= n`` (``causal=True``) or over all positions (``causal=False``) — and
outputs ``a_n = φ(q_n)ᵀ S / φ(q_n)·z``.  The flash-linear-attention "naive"
recurrence is exactly this with S, z carried from token to token; a protocol
speaker writes its chunk's contribution to S and z (see
:mod:`reductions.compilers.kernelformer_to_protocol`).

Fixed point (format ``FixedPoint(p, f)``, default f = p − 4): q, k, v and the
features are p-bit values; ``S`` and ``z`` are *exact* integer sums (scale
``2**-2f`` and ``2**-f``), which need ``acc_bits = 2p − 1 + ⌈log2(max_len+1)⌉``
bits; ``φ(q)ᵀS`` and ``φ(q)·z`` are exact too (wider than int64 at p = 24:
:mod:`reductions.arithmetic.wide_int`), and ``a_n`` is their quotient rounded half to
even — one rounding, so the value is the same however the positions are
grouped or split.  Where ``φ(q)·z = 0`` the head outputs 0 **[choice]**.
Features saturate to the p-bit range (part of the model's definition).

Message size (one place: :func:`kernel_message_bits`): per layer, H heads ×
(m′·m + m′) accumulators of ``acc_bits`` bits.

Examples
--------
>>> m = KernelFormer.random(vocab=5, layers=2, width=4, precision=16, seed=0, heads=2, features=6, max_len=16)
>>> x = np.array([[0, 1, 2, 3, 4, 0, 1]])
>>> m.forward(x).shape, m.state_bits() == kernel_message_bits(4, 6, 2, m.acc_bits)
((1, 7), True)
>>> bool((m.forward(x) == m.forward_float(x)).all())
True
"""

from __future__ import annotations

import abc
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from protocols.bits import bits_for
from protocols.seeding import as_generator
from protocols.validation import check_int
from reductions.arithmetic.fixed_point import FixedPoint, round_shift
from reductions.arithmetic.wide_int import Wide, exact_matmul_int64, exact_matmul_terms, round_div_wide
from reductions.models.attention_base import AttentionModel, batch_slices, parse_flag
from reductions.models.base import ModelError
from reductions.models.float_forward import (
    causal_kernel_float,
    elu1_features,
    global_kernel_float,
    performer_features,
)

__all__ = [
    "KernelFormer", "FeatureMap", "PerformerFeatures", "EluFeatures", "CustomFeatures",
    "FEATURE_MAPS", "kernel_message_bits", "kernel_acc_bits",
    "causal_kernel_attention", "global_kernel_attention", "kernel_sums",
]

#: Positions per block in the causal computation (a speed knob only: results are exact).
BLOCK = 64


def kernel_acc_bits(precision: int, max_len: int) -> int:
    """Accumulator bits that hold any exact ``Σ φ(k) vᵀ`` over up to ``max_len`` positions.

    Each product of two p-bit raws has magnitude at most ``2**(2p-2)``; a sum of
    n of them needs ``2p − 1 + ⌈log2(n+1)⌉`` bits in two's complement.

    Examples
    --------
    >>> kernel_acc_bits(16, 4096), kernel_acc_bits(24, 100)
    (44, 54)
    """
    return 2 * int(precision) - 1 + bits_for(int(max_len) + 1)


def kernel_message_bits(width: int, feature_dim: int, heads: int, acc_bits: int) -> int:
    """s of a kernel-attention protocol (docs/definitions.md §5): ``H · (m′·m + m′) · acc_bits``.

    Examples
    --------
    >>> kernel_message_bits(32, 64, 2, 44)
    185856
    """
    return int(heads) * (int(feature_dim) * int(width) + int(feature_dim)) * int(acc_bits)


# -- feature maps -------------------------------------------------------------------------
class FeatureMap(abc.ABC):
    """A feature map ``φ : R^m -> R^{m′}`` in fixed point and in float64.

    ``fixed(fmt, u, params)`` maps raws ``(..., m)`` to raws ``(..., m′)``;
    ``float(u, params)`` is its float64 twin; ``params`` holds the layer's
    feature weights (if any).  Maps must be row-wise: a row's features depend
    on that row only (so chunks and whole sequences agree).

    Examples
    --------
    >>> [FEATURE_MAPS[name](6).dim(4) for name in sorted(FEATURE_MAPS)]
    [4, 6]
    """

    name: str = ""

    @abc.abstractmethod
    def dim(self, width: int) -> int:
        """m′, the feature dimension for model width ``width``."""

    def param_shape(self, width: int, feature_dim: int) -> tuple[int, ...] | None:
        """Shape of the per-layer weight ``features_l{l}``, or None if the map has none."""
        return None

    @abc.abstractmethod
    def fixed(self, fmt: FixedPoint, u: np.ndarray, weight: np.ndarray | None) -> np.ndarray:
        """Raws ``(..., m)`` -> raws ``(..., m′)`` in ``fmt``."""

    @abc.abstractmethod
    def float(self, u: np.ndarray, weight: np.ndarray | None) -> np.ndarray:
        """The float64 twin of :meth:`fixed`."""


@dataclass(frozen=True)
class PerformerFeatures(FeatureMap):
    """Positive random features ``exp(Ω ũ − ‖ũ‖²/2 − offset)``, ``ũ = u / m^{1/4}`` (Performer).

    Examples
    --------
    >>> fm, fmt = PerformerFeatures(8), FixedPoint(16, 12)
    >>> w = np.random.default_rng(0).normal(size=(8, 4))
    >>> u = np.array([[0.5, -0.25, 0.0, 1.0]])
    >>> got = fmt.to_float(fm.fixed(fmt, fmt.quantize(u), fmt.quantize(w)))
    >>> bool(np.abs(got - fm.float(u, fmt.to_float(fmt.quantize(w)))).max() < 1e-2)
    True
    """

    features: int
    offset: float = 2.0
    name: str = "performer"

    def dim(self, width: int) -> int:
        return self.features

    def param_shape(self, width: int, feature_dim: int) -> tuple[int, ...]:
        return (feature_dim, width)

    def fixed(self, fmt, u, weight):
        m = u.shape[-1]
        scale = fmt.quantize(np.array(m ** -0.25))
        ut = fmt.mul(u, scale)
        t = fmt.matmul(ut, weight.T, saturate=True)
        sq = np.einsum("...i,...i->...", ut, ut) if fmt.p <= 26 else (ut.astype(object) ** 2).sum(-1)
        half_norm = round_shift(np.asarray(sq, dtype=np.int64), fmt.f + 1) + fmt.quantize(np.array(self.offset))
        z = fmt.sub(t, fmt.clip(half_norm)[..., None], saturate=True)
        return fmt.exp(z, saturate=True)

    def float(self, u, weight):
        return performer_features(np, u, weight, self.offset)


def _elu1(x: np.ndarray) -> np.ndarray:
    return elu1_features(np, x)


@dataclass(frozen=True)
class EluFeatures(FeatureMap):
    """``φ(u) = elu(u) + 1`` elementwise (linear attention), m′ = m.

    Examples
    --------
    >>> fmt = FixedPoint(12, 8)
    >>> fmt.to_float(EluFeatures().fixed(fmt, fmt.quantize([[1.0, 0.0, -1.0]]), None)).tolist()
    [[2.0, 1.0, 0.3671875]]
    """

    name: str = "elu1"

    def dim(self, width: int) -> int:
        return width

    def fixed(self, fmt, u, weight):
        return fmt.apply_fn(_elu1, u, saturate=True, what="elu+1 feature")

    def float(self, u, weight):
        return elu1_features(np, u)


@dataclass(frozen=True)
class CustomFeatures(FeatureMap):
    """Any vectorised float64 map ``fn(u (..., m)) -> (..., features)``, quantised half to even.

    The fixed-point map is ``quantize(fn(exact value of u))`` (saturating), so
    ``fn`` must be row-wise and deterministic.  Models with a custom map cannot
    be saved (a function is not data).

    Examples
    --------
    >>> fm = CustomFeatures(lambda u: np.concatenate([u * u, np.ones_like(u)], axis=-1), 6)
    >>> fmt = FixedPoint(12, 6)
    >>> fmt.to_float(fm.fixed(fmt, fmt.quantize([[0.5, 1.0, 2.0]]), None)).tolist()
    [[0.25, 1.0, 4.0, 1.0, 1.0, 1.0]]
    """

    fn: Callable[[np.ndarray], np.ndarray]
    features: int
    name: str = "custom"

    def dim(self, width: int) -> int:
        return self.features

    def fixed(self, fmt, u, weight):
        out = fmt.apply_fn(self.fn, u, saturate=True, what=f"{self.name} feature")
        if out.shape != (*u.shape[:-1], self.features):
            raise ModelError(f"feature map {self.name!r} returned shape {out.shape}; expected (..., {self.features})")
        return out

    def float(self, u, weight):
        return np.asarray(self.fn(u), dtype=np.float64)


#: name -> constructor (feature_dim -> FeatureMap) for the built-in maps.
FEATURE_MAPS: dict[str, Callable[[int], FeatureMap]] = {
    "performer": PerformerFeatures,
    "elu1": lambda dim: EluFeatures(),
}


# -- exact kernel attention ------------------------------------------------------------------
def kernel_sums(fk: np.ndarray, v: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Exact ``(Σ_j φ(k_j) v_jᵀ, Σ_j φ(k_j))`` over the positions axis (-2): int64 raws.

    ``fk (..., n, m′)``, ``v (..., n, m)`` -> ``S (..., m′, m)`` at scale
    ``2**-2f`` and ``z (..., m′)`` at scale ``2**-f``.  Integer sums: any
    grouping of the positions gives the same result.

    Examples
    --------
    >>> S, z = kernel_sums(np.array([[1, 2], [3, 4]]), np.array([[5], [6]]))
    >>> S.tolist(), z.tolist()
    ([[23], [34]], [4, 6])
    """
    S = exact_matmul_int64(np.swapaxes(fk, -1, -2), v, what="kernel state Σφ(k)vᵀ")
    return S, fk.sum(axis=-2)


def _quotient(num_terms, den_terms, shape) -> np.ndarray:
    num = Wide.from_terms(num_terms)
    den = Wide.from_terms([(np.broadcast_to(t, shape), s) for t, s in den_terms])
    return round_div_wide(num, den, zero=0)


def global_kernel_attention(fq: np.ndarray, S: np.ndarray, z: np.ndarray) -> np.ndarray:
    """``round(φ(q)ᵀS / φ(q)·z)`` per position with one state for all positions (unmasked).

    ``fq (..., n, m′)``, ``S (..., m′, m)``, ``z (..., m′)`` raws -> ``(..., n, m)`` raws;
    0 where the denominator is 0.

    Examples
    --------
    >>> global_kernel_attention(np.array([[1, 1]]), np.array([[4], [2]]), np.array([2, 2])).tolist()
    [[2]]
    """
    num_terms = exact_matmul_terms(fq, S)
    den_terms = exact_matmul_terms(fq, z[..., None])
    return _quotient(num_terms, den_terms, num_terms[0][0].shape)


def causal_kernel_attention(
    fq: np.ndarray, fk: np.ndarray, v: np.ndarray, S0: np.ndarray | None = None, z0: np.ndarray | None = None,
    block: int = BLOCK,
) -> np.ndarray:
    """Causally masked kernel attention over a segment, exactly (block-wise prefix sums).

    Position n of the segment reads ``S0 + Σ_{j<=n} φ(k_j)v_jᵀ`` and
    ``z0 + Σ_{j<=n} φ(k_j)``, where ``S0, z0`` are the sums over everything
    before the segment (zero for a whole sequence).  Blocks of ``block``
    positions: an exclusive cumsum of block sums plus a masked in-block part;
    every quantity is an exact integer, so the result equals the naive
    per-position recurrence for every block size and every split.

    Examples
    --------
    >>> fq = fk = np.array([[1, 0], [0, 1], [1, 1]]); v = np.array([[4], [8], [6]])
    >>> causal_kernel_attention(fq, fk, v, block=2).ravel().tolist()   # (4), (8), (4+8+12)/4
    [4, 8, 6]
    """
    *lead, n, mf = fq.shape
    m = v.shape[-1]
    if S0 is None:
        S0 = np.zeros((*lead, mf, m), dtype=np.int64)
    if z0 is None:
        z0 = np.zeros((*lead, mf), dtype=np.int64)
    c = max(1, min(int(block), n))
    nb = -(-n // c)
    pad = nb * c - n
    if pad:
        widths = [(0, 0)] * len(lead) + [(0, pad), (0, 0)]
        fq, fk, v = np.pad(fq, widths), np.pad(fk, widths), np.pad(v, widths)
    fqb = fq.reshape(*lead, nb, c, mf)
    fkb = fk.reshape(*lead, nb, c, mf)
    vb = v.reshape(*lead, nb, c, m)
    kv = exact_matmul_int64(np.swapaxes(fkb, -1, -2), vb, what="kernel state Σφ(k)vᵀ")
    zb = fkb.sum(axis=-2)
    S_start = S0[..., None, :, :] + (np.cumsum(kv, axis=-3) - kv)
    z_start = z0[..., None, :] + (np.cumsum(zb, axis=-2) - zb)
    del kv, zb
    num_terms = exact_matmul_terms(fqb, S_start)
    den_terms = exact_matmul_terms(fqb, z_start[..., None])
    del S_start, z_start
    A = exact_matmul_int64(fqb, np.swapaxes(fkb, -1, -2), what="kernel scores φ(q)·φ(k)")
    A *= np.tri(c, dtype=np.int64)
    num_terms += exact_matmul_terms(A, vb)
    den_terms.append((A.sum(axis=-1, keepdims=True), 0))
    del A
    y = _quotient(num_terms, den_terms, num_terms[0][0].shape)
    return y.reshape(*lead, nb * c, m)[..., :n, :]


# -- the model ---------------------------------------------------------------------------------
def _feature_map(feature_map: str | FeatureMap, width: int, features: int | None) -> FeatureMap:
    if isinstance(feature_map, FeatureMap):
        if features is not None and int(features) != feature_map.dim(int(width)):
            raise ModelError(f"features = {features} but the feature map {feature_map.name!r} has "
                             f"dimension {feature_map.dim(int(width))}")
        return feature_map
    if isinstance(feature_map, str) and feature_map in FEATURE_MAPS:
        if features is not None:
            check_int("features", features, low=1, error=ModelError)
        fmap = FEATURE_MAPS[feature_map](int(width) if features is None else int(features))
        if features is not None and fmap.dim(int(width)) != int(features):
            raise ModelError(f"features = {features}: the {feature_map!r} map has m' = {fmap.dim(int(width))} (= m)")
        return fmap
    raise ModelError(f"feature_map = {feature_map!r}; known maps: {sorted(FEATURE_MAPS)} or a FeatureMap")


class KernelFormer(AttentionModel):
    """An L-layer, H-head transformer with kernel attention (see the module docstring).

    Parameters
    ----------
    params : weights (see :mod:`.attention_base`), plus ``features_l{l} (m′, m)``
        for the Performer map.
    vocab, layers, width : V, L, m.
    heads : H.
    max_len : number of learned positions (longest sequence).
    features : m′, the feature dimension (default m; ``elu1`` always has m′ = m).
    feature_map : ``"performer"``, ``"elu1"`` or a :class:`FeatureMap`.
    causal : causally masked (True) or every position reads the whole sequence.
    ff, precision, frac : MLP width (default 2m), p and f (default p − 4).

    Examples
    --------
    >>> m = KernelFormer.random(vocab=4, layers=1, width=3, features=5, causal=False, precision=12, max_len=8, seed=0)
    >>> m.feature_dim, m.acc_bits, m.forward(np.array([[0, 1, 2, 3]])).shape
    (5, 27, (1, 4))
    """

    family = "kernel"
    #: options of ``python -m reductions verify --model kernel`` (keyword -> (type, help)).
    cli_options = {
        "heads": (int, "attention heads H"),
        "features": (int, "feature dimension m' of kernel attention (default m)"),
        "feature_map": (str, "kernel feature map: performer | elu1 (default performer)"),
        "causal": (parse_flag, "causal mask: 1 (default) or 0 (every position reads the whole sequence)"),
        "max_len": (int, "learned positions = longest sequence (default 4096)"),
    }

    def __init__(self, params: Mapping[str, Any], vocab: int, layers: int, width: int, heads: int = 1,
                 max_len: int = 4096, features: int | None = None, feature_map: str | FeatureMap = "performer",
                 causal: bool = True, ff: int | None = None, precision: int = 16, frac: int | None = None) -> None:
        fmap = _feature_map(feature_map, width, features)
        self.feature_map = fmap
        self.feature_dim = int(fmap.dim(int(width)))
        if self.feature_dim < 1:
            raise ModelError(f"feature_dim = {self.feature_dim}; feature maps need m' >= 1")
        self.causal = bool(causal)
        pshape = fmap.param_shape(int(width), self.feature_dim)
        extra = {} if pshape is None else {f"features_l{l}": pshape for l in range(int(layers))}
        self._setup(params, vocab, layers, width, heads, max_len, ff, precision, frac, extra)
        self.acc_bits = kernel_acc_bits(self.fmt.p, self.max_len)
        if self.acc_bits > 64:
            raise ModelError(
                f"p = {self.fmt.p} with max_len = {self.max_len} needs {self.acc_bits}-bit accumulators "
                f"(2p - 1 + ceil(log2(max_len + 1))); at most 64 are supported"
            )
        # φ(q)ᵀS has magnitude < max_len · m′ · 2**(3p-3): it must fit the Wide read-out (about 2**92).
        need = 3 * (self.fmt.p - 1) + bits_for(self.feature_dim) + bits_for(self.max_len + 1)
        if need > 92:
            raise ModelError(
                f"p = {self.fmt.p}, m' = {self.feature_dim}, max_len = {self.max_len} need {need}-bit exact "
                f"read-outs φ(q)ᵀS; at most 92 bits are supported (lower p or max_len)"
            )

    # -- construction ---------------------------------------------------------------------
    @classmethod
    def random(cls, vocab: int, layers: int, width: int, precision: int = 16, seed: Any = None,
               heads: int = 1, max_len: int = 4096, features: int | None = None,
               feature_map: str | FeatureMap = "performer", causal: bool = True, ff: int | None = None,
               frac: int | None = None) -> KernelFormer:
        """Seeded random weights (see :class:`AttentionModel`); Performer Ω ~ N(0, 1).

        Examples
        --------
        >>> KernelFormer.random(vocab=3, layers=1, width=2, precision=12, seed=0, features=3, max_len=256).state_bits()
        288
        """
        rng = as_generator(seed)
        params = cls._random_params(rng, vocab, layers, width, heads, max_len, ff)
        fmap = _feature_map(feature_map, width, features)
        shape = fmap.param_shape(int(width), fmap.dim(int(width)))
        if shape is not None:
            for l in range(int(layers)):
                params[f"features_l{l}"] = rng.normal(size=shape)
        return cls(params, vocab, layers, width, heads, max_len, features, feature_map, causal, ff, precision, frac)

    def hyper(self) -> dict:
        if isinstance(self.feature_map, CustomFeatures) or self.feature_map.name not in FEATURE_MAPS:
            raise ModelError(
                f"a KernelFormer with the user-given feature map {self.feature_map.name!r} cannot be saved")
        return {**self._common_hyper(), "features": self.feature_dim, "feature_map": self.feature_map.name,
                "causal": self.causal}

    def state_bits(self) -> int:
        """Bits per message: ``H · (m′·m + m′) · acc_bits`` (:func:`kernel_message_bits`)."""
        return kernel_message_bits(self.width, self.feature_dim, self.heads, self.acc_bits)

    def __repr__(self) -> str:
        return (f"KernelFormer(vocab={self.vocab}, layers={self.layers}, width={self.width}, heads={self.heads}, "
                f"map={self.feature_map.name}, m'={self.feature_dim}, causal={self.causal}, "
                f"p={self.fmt.p}, f={self.fmt.f})")

    # -- one layer, any segment ---------------------------------------------------------------
    def qkv_features(self, layer: int, x: np.ndarray,
                     float_path: bool = False) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(φ(q), φ(k), v)`` of every head, heads first: ``(B, H, n, m′)``, ``(B, H, n, m′)``, ``(B, H, n, m)``."""
        w = self._w if float_path else self._q
        weight = w.get(f"features_l{layer}")
        out = []
        for which in ("q", "k", "v"):
            y = np.moveaxis(self._project(layer, x, which, float_path), -2, -3)
            if which != "v":
                y = self.feature_map.float(y, weight) if float_path else self.feature_map.fixed(self.fmt, y, weight)
            out.append(y)
        return tuple(out)

    def layer(self, layer: int, x: np.ndarray, state: tuple[np.ndarray, np.ndarray] | None = None,
              float_path: bool = False, feats: tuple | None = None) -> np.ndarray:
        """Layer ``layer`` over a segment ``x (B, n, m)``.

        ``state`` is ``(S, z)`` per head ``((B, H, m′, m), (B, H, m′))``: for a
        causal model the sums over the positions *before* the segment (None:
        none); for an unmasked model the sums over the *whole sequence* (None:
        the segment is the whole sequence).
        """
        fq, fk, v = self.qkv_features(layer, x, float_path) if feats is None else feats
        if float_path:
            if self.causal:
                if state is not None:
                    raise ModelError("the float64 twin runs whole sequences only")
                a = causal_kernel_float(np, fq, fk, v, BLOCK)
            else:
                S, z = (np.swapaxes(fk, -1, -2) @ v, fk.sum(axis=-2)) if state is None else state
                a = global_kernel_float(np, fq, S, z)
        elif self.causal:
            S0, z0 = (None, None) if state is None else state
            a = causal_kernel_attention(fq, fk, v, S0, z0)
            a = self.fmt.check(a, "kernel attention output")
        else:
            S, z = kernel_sums(fk, v) if state is None else state
            a = self.fmt.check(global_kernel_attention(fq, S, z), "kernel attention output")
        return self._finish_layer(layer, x, np.moveaxis(a, -3, -2), float_path)

    def _per_instance(self, n: int) -> int:
        c = min(BLOCK, max(n, 1))
        per_pos = self.heads * (4 * self.feature_dim + 8 * self.width + 4 * c) + 4 * self.ff
        per_block = self.heads * 4 * self.feature_dim * self.width
        return n * per_pos + -(-n // c) * per_block

    # -- whole sequences ---------------------------------------------------------------------------
    def run(self, tokens: Any, boundaries: Sequence[int] | None = None,
            float_path: bool = False) -> tuple[np.ndarray, list | None]:
        """Output tokens ``(B, N)`` and, if ``boundaries`` are given, each chunk's sums per layer.

        ``sums[l][i] = (S, z)`` over chunk i at layer l — the message speaker i
        writes in round l (:mod:`reductions.compilers.kernelformer_to_protocol`).
        """
        t = self.check_tokens(tokens)
        B, n = t.shape
        self.check_length(n)
        out = np.empty((B, n), dtype=np.int64)
        sums: list | None = None
        if boundaries is not None:
            b = tuple(int(v) for v in boundaries)
            sums = [[[None, None] for _ in range(len(b) - 1)] for _ in range(self.layers)]
        for sl in batch_slices(B, self._per_instance(n)):
            x = self._embed(t[sl], 0, float_path)
            for l in range(self.layers):
                feats = self.qkv_features(l, x, float_path)
                if sums is not None and not float_path:
                    fk, v = feats[1], feats[2]
                    for i in range(len(b) - 1):
                        S, z = kernel_sums(fk[..., b[i]:b[i + 1], :], v[..., b[i]:b[i + 1], :])
                        for j, part in enumerate((S, z)):
                            cur = sums[l][i][j]
                            sums[l][i][j] = part if cur is None else np.concatenate([cur, part])
                x = self.layer(l, x, None, float_path, feats)
            out[sl] = self._readout(x, float_path)
        return out, sums

    def forward(self, tokens: Any) -> np.ndarray:
        """Output tokens ``(B, N)`` in fixed point (argmax readout at every position)."""
        return self.run(tokens)[0]

    def forward_float(self, tokens: Any) -> np.ndarray:
        """Output tokens ``(B, N)`` of the float64 twin with the unquantised weights."""
        return self.run(tokens, float_path=True)[0]
