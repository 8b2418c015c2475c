"""What every attention model shares: embeddings, projections, residual MLP, readout (docs/definitions.md §5).

The three attention families of [SHT24] §5 — kernel attention
(:mod:`.kernelformer`), sparse attention (:mod:`.sparse_attention`) and the
one-layer chain-of-thought transformer (:mod:`.cot`) — differ only in how a
head mixes positions.  Everything else lives here, computed in the model's
:class:`~reductions.arithmetic.fixed_point.FixedPoint` format (default ``f = p - 4``):

- embedding: ``x_j = E[token_j] + P[j]`` (learned absolute positions,
  ``max_len`` of them), a saturating sum;
- per layer ℓ and head h: ``q, k, v = x W_q, x W_k, x W_v`` with
  ``W_· : (m, H·m)`` — every head has query, key and value embeddings of
  dimension m, as in [SHT24] — each an exact matmul with one rounding;
- after attention: ``x += concat_h(a_h) W_o`` then ``x += W_2 relu(W_1 x + b_1) + b_2``
  (hidden width ``ff``, default ``2m``);
- readout: ``argmax(x W_r + b_r)`` over the vocabulary (ties to the lowest token).

Matmul outputs and residual sums **saturate** to the p-bit range (part of the
model's definition, as in the RNN models); the float64 twin (``float_path``)
runs the same equations without rounding or saturation.

Weights are float64 arrays in math layout (``x @ W``), quantised once.  Params:
``embedding (V_e, m)``, ``position (max_len, m)``, per layer ``wq_l{l}, wk_l{l},
wv_l{l} (m, H·m)``, ``wo_l{l} (H·m, m)``, ``w1_l{l} (m, ff)``, ``b1_l{l} (ff,)``,
``w2_l{l} (ff, m)``, ``b2_l{l} (m,)``, and ``readout_weight (m, V)``,
``readout_bias (V,)``; a family may add more.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

import numpy as np

from protocols.validation import check_int
from reductions.arithmetic.fixed_point import FixedPoint, FixedPointOverflow
from reductions.models.base import ModelError, SequenceModel, checked_weights, default_frac
from reductions.models.float_forward import attn_embed, attn_finish, attn_linear

__all__ = ["AttentionModel", "batch_slices", "parse_flag", "exp_nonpositive", "BLOCK_ELEMENTS"]

#: Widest temporary (elements) a batch slice may hold; bounds memory on long sequences.
BLOCK_ELEMENTS = 2**23


def batch_slices(batch: int, per_instance: int, budget: int = BLOCK_ELEMENTS) -> Iterator[slice]:
    """Slices of the batch axis whose temporaries stay below ``budget`` elements.

    Examples
    --------
    >>> [(s.start, s.stop) for s in batch_slices(5, 10, budget=20)]
    [(0, 2), (2, 4), (4, 5)]
    """
    step = max(1, budget // max(1, per_instance))
    for a in range(0, batch, step):
        yield slice(a, min(batch, a + step))


def exp_nonpositive(fmt: FixedPoint, d: np.ndarray) -> np.ndarray:
    """``round(2**f · exp(d · 2**-f))`` for raws ``d <= 0`` of any size: :meth:`FixedPoint.exp`'s
    definition (float64 exp of the exact value, rounded half to even), also below the p-bit range,
    where it tends to 0 instead of saturating.

    Examples
    --------
    >>> fmt = FixedPoint(8, 4)
    >>> exp_nonpositive(fmt, np.array([0, -16, -1000])).tolist()
    [16, 6, 0]
    """
    d = np.asarray(d, dtype=np.int64)
    if d.size and d.max() > 0:
        raise FixedPointOverflow(f"exp_nonpositive got a positive argument {int(d.max())}; it takes d <= 0")
    return fmt.quantize(np.exp(fmt.to_float(np.ascontiguousarray(d))), what="exp weight")


def parse_flag(text: str) -> bool:
    """A yes/no command-line value: 1/0, true/false, yes/no (case-insensitive).

    Examples
    --------
    >>> parse_flag("0"), parse_flag("True")
    (False, True)
    """
    t = str(text).strip().lower()
    if t in ("1", "true", "yes", "y", "on"):
        return True
    if t in ("0", "false", "no", "n", "off"):
        return False
    raise ValueError(f"{text!r} is not a yes/no value (use 1 or 0)")



class AttentionModel(SequenceModel):
    """Base of the attention families (see the module docstring for the shared equations).

    Subclasses set ``family``, call :meth:`_setup` from ``__init__`` with their
    extra parameter shapes, and implement attention.

    Examples
    --------
    >>> from reductions.models.sparse_attention import SparseAttention
    >>> m = SparseAttention.random(vocab=3, layers=2, width=2, heads=2, precision=10, max_len=5, seed=0)
    >>> isinstance(m, AttentionModel), sorted(m.params())[:3], m.ff
    (True, ['b1_l0', 'b1_l1', 'b2_l0'], 4)
    """

    #: rows of the embedding table beyond the vocabulary (the CoT separator).
    extra_tokens = 0

    def _setup(self, params: Mapping[str, Any], vocab: int, layers: int, width: int, heads: int,
               max_len: int, ff: int | None, precision: int, frac: int | None,
               extra_shapes: Mapping[str, tuple[int, ...]] = {}) -> None:
        p = check_int("precision", precision, low=1, error=ModelError)
        fmt = FixedPoint(p, default_frac(p) if frac is None else int(frac))
        super().__init__(vocab, layers, width, fmt)
        self.heads = check_int("heads", heads, low=1, error=ModelError)
        self.max_len = check_int("max_len", max_len, low=1, error=ModelError)
        self.ff = 2 * self.width if ff is None else check_int("ff", ff, low=1, error=ModelError)
        m, H, F, V = self.width, self.heads, self.ff, self.vocab
        shapes: dict[str, tuple[int, ...]] = {
            "embedding": (V + self.extra_tokens, m), "position": (self.max_len, m),
            "readout_weight": (m, V), "readout_bias": (V,),
        }
        for l in range(self.layers):
            shapes |= {f"wq_l{l}": (m, H * m), f"wk_l{l}": (m, H * m), f"wv_l{l}": (m, H * m),
                       f"wo_l{l}": (H * m, m), f"w1_l{l}": (m, F), f"b1_l{l}": (F,),
                       f"w2_l{l}": (F, m), f"b2_l{l}": (m,)}
        shapes |= dict(extra_shapes)
        self._w = checked_weights(type(self).__name__, shapes, params)
        self._q: dict[str, np.ndarray] = {}
        for name, a in self._w.items():
            raw = fmt.quantize(a, what=f"weight {name} entry")
            raw.flags.writeable = False
            self._q[name] = raw

    # -- random init ----------------------------------------------------------------
    @classmethod
    def _random_params(cls, rng: np.random.Generator, vocab: int, layers: int, width: int, heads: int,
                       max_len: int, ff: int | None) -> dict[str, np.ndarray]:
        """Embedding ~ U(-1, 1), positions ~ U(-1/2, 1/2), matrices ~ U(-1/√fan_in, 1/√fan_in)."""
        m, H = check_int("width", width, low=1, error=ModelError), check_int("heads", heads, low=1, error=ModelError)
        F = 2 * m if ff is None else check_int("ff", ff, low=1, error=ModelError)
        V = check_int("vocab", vocab, low=1, error=ModelError)
        L = check_int("layers", layers, low=1, error=ModelError)
        u = lambda fan, *shape: rng.uniform(-1.0, 1.0, shape) / np.sqrt(fan)  # noqa: E731
        params = {
            "embedding": rng.uniform(-1.0, 1.0, (V + cls.extra_tokens, m)),
            "position": rng.uniform(-0.5, 0.5, (check_int("max_len", max_len, low=1, error=ModelError), m)),
            "readout_weight": u(m, m, V), "readout_bias": u(m, V),
        }
        for l in range(L):
            params |= {f"wq_l{l}": u(m, m, H * m), f"wk_l{l}": u(m, m, H * m), f"wv_l{l}": u(m, m, H * m),
                       f"wo_l{l}": u(H * m, H * m, m), f"w1_l{l}": u(m, m, F), f"b1_l{l}": u(m, F),
                       f"w2_l{l}": u(F, F, m), f"b2_l{l}": u(F, m)}
        return params

    # -- interface ------------------------------------------------------------------
    def params(self) -> dict[str, np.ndarray]:
        return dict(self._w)

    def _common_hyper(self) -> dict:
        return {"vocab": self.vocab, "layers": self.layers, "width": self.width, "heads": self.heads,
                "max_len": self.max_len, "ff": self.ff, "precision": self.fmt.p, "frac": self.fmt.f}

    def check_length(self, n: int, extra: int = 0) -> None:
        if n + extra > self.max_len:
            raise ModelError(
                f"sequence length {n}{f' + {extra}' if extra else ''} exceeds max_len = {self.max_len} "
                f"of {self!r} (one learned position per token)"
            )

    # -- shared pieces (fixed point or float64 twin) ----------------------------------
    def _embed(self, tokens: np.ndarray, start: int, float_path: bool) -> np.ndarray:
        """``E[token] + P[position]`` for tokens at positions ``start, start+1, ...``."""
        n = tokens.shape[-1]
        if float_path:
            return attn_embed(np, self._w, tokens, start)
        return self.fmt.add(self._q["embedding"][tokens], self._q["position"][start:start + n], saturate=True)

    def _linear(self, x: np.ndarray, name: str, bias: str | None, float_path: bool) -> np.ndarray:
        if float_path:
            return attn_linear(np, self._w, x, name, bias)
        return self.fmt.matmul(x, self._q[name], None if bias is None else self._q[bias], saturate=True)

    def _project(self, layer: int, x: np.ndarray, which: str, float_path: bool) -> np.ndarray:
        """Queries, keys or values of every head: ``(..., n, H, m)``."""
        y = self._linear(x, f"w{which}_l{layer}", None, float_path)
        return y.reshape(*y.shape[:-1], self.heads, self.width)

    def _finish_layer(self, layer: int, x: np.ndarray, heads_out: np.ndarray, float_path: bool) -> np.ndarray:
        """Residual attention output, then the residual MLP: the layer's output ``(..., n, m)``."""
        if float_path:
            return attn_finish(np, self._w, layer, x, heads_out)
        a = heads_out.reshape(*heads_out.shape[:-2], self.heads * self.width)
        x = self.fmt.add(x, self._linear(a, f"wo_l{layer}", None, False), saturate=True)
        h = np.maximum(self._linear(x, f"w1_l{layer}", f"b1_l{layer}", False), 0)
        return self.fmt.add(x, self._linear(h, f"w2_l{layer}", f"b2_l{layer}", False), saturate=True)

    def _readout(self, x: np.ndarray, float_path: bool) -> np.ndarray:
        """Argmax of the logits (ties to the lowest token)."""
        return np.argmax(self._linear(x, "readout_weight", "readout_bias", float_path), axis=-1)
