"""Elman RNN, GRU and LSTM in p-bit fixed point, with PyTorch's equations and weight layout (docs/definitions.md §5).

Every model: tokens -> embedding ``E[token]`` (width m) -> L recurrent layers
of width m -> logits ``W_r h + b_r`` -> argmax (ties to the lowest token).
Weights use the layout of ``torch.nn.RNN/GRU/LSTM`` (``weight_ih_l{l}`` of
shape ``(G·m, m)``, ``weight_hh_l{l}``, ``bias_ih_l{l}``, ``bias_hh_l{l}``;
gate order GRU ``r, z, n`` and LSTM ``i, f, g, o``) plus ``embedding (V, m)``,
``readout_weight (V, m)`` and ``readout_bias (V,)``, so a trained PyTorch
state_dict loads directly (:meth:`GatedRNN.from_torch`).

Fixed-point definition (format ``FixedPoint(p, f)``, default f = p - 4).
Matrix products accumulate exactly and round once (half to even); the
pre-activations ``W_i x + b_i + W_h h + b_h`` and the logits **saturate** to
the p-bit range (part of the model's definition: tanh and sigmoid are flat
there anyway); tanh and sigmoid are the tabulated/exact maps of
:mod:`reductions.arithmetic.fixed_point`.

- Elman: ``h' = tanh(W_i x + b_i + W_h h + b_h)``.
- GRU:   ``r, z = σ(gi_{r,z} + gh_{r,z})``, ``n = tanh(gi_n + r ⊙ gh_n)``,
  ``h' = n + z ⊙ (h − n)`` (= (1−z)⊙n + z⊙h; one rounding, never out of range).
- LSTM:  ``i, f, o = σ(·)``, ``g = tanh(·)``, ``c' = f⊙c + i⊙g`` (exact sum of two
  products, one rounding, **saturating**: c may otherwise grow with the
  sequence), ``h' = o ⊙ tanh(c')``.

State carried from token to token (what a speaker writes): Elman and GRU
``h`` (m values, s = m·p bits); LSTM ``(h, c)`` (s = 2·m·p bits).  Each message
is ``Record((("h", SInt(p), (m,)), ...))`` of raws — two's complement, MSB first.

``forward_float`` runs the same equations in float64 with the unquantised
weights (PyTorch's form ``(1−z)⊙n + z⊙h`` for the GRU) — the reference that
the fixed-point model is a faithful model of.

Examples
--------
>>> m = GRU.random(vocab=5, layers=2, width=8, precision=16, seed=0)
>>> x = np.array([[0, 1, 2, 3, 4, 0]])
>>> m.forward(x).shape, m.state_bits()
((1, 6), 128)
>>> bool((m.forward(x) == m.forward_float(x)).all())
True
"""

from __future__ import annotations

import abc
from collections.abc import Mapping
from typing import Any, ClassVar

import numpy as np

from protocols.seeding import as_generator
from protocols.validation import check_int
from reductions.arithmetic.fixed_point import FixedPoint, Linear, round_shift
from reductions.models.base import ModelError, RecurrentModel, checked_weights, default_frac
from reductions.models.float_forward import rnn_layer

__all__ = ["GatedRNN", "ElmanRNN", "GRU", "LSTM"]


def _to_numpy(v: Any) -> np.ndarray:
    """A numpy float64 copy of an array or a torch tensor (no torch import needed)."""
    if hasattr(v, "detach"):
        v = v.detach().cpu().numpy()
    return np.array(v, dtype=np.float64)


class GatedRNN(RecurrentModel):
    """Common machinery of Elman, GRU and LSTM (``G`` gate blocks per layer)."""

    gates: ClassVar[int] = 1
    torch_class: ClassVar[str] = "RNN"

    def __init__(self, params: Mapping[str, Any], vocab: int, layers: int, width: int,
                 precision: int = 16, frac: int | None = None) -> None:
        fmt = FixedPoint(int(precision), default_frac(int(precision)) if frac is None else int(frac))
        super().__init__(vocab, layers, width, fmt)
        m, g, v = self.width, self.gates, self.vocab
        shapes = {"embedding": (v, m), "readout_weight": (v, m), "readout_bias": (v,)}
        for li in range(self.layers):
            shapes |= {f"weight_ih_l{li}": (g * m, m), f"weight_hh_l{li}": (g * m, m),
                       f"bias_ih_l{li}": (g * m,), f"bias_hh_l{li}": (g * m,)}
        self._w = checked_weights(type(self).__name__, shapes, params, convert=_to_numpy)
        q = lambda name, a: fmt.quantize(a, what=f"weight {name} entry")  # noqa: E731
        w = self._w
        self._emb = q("embedding", w["embedding"])
        self._lin_r = fmt.linear(q("readout_weight", w["readout_weight"].T), q("readout_bias", w["readout_bias"]))
        def lin(kind: str, li: int) -> Linear:
            return fmt.linear(q(f"weight_{kind}_l{li}", w[f"weight_{kind}_l{li}"].T),
                              q(f"bias_{kind}_l{li}", w[f"bias_{kind}_l{li}"]))

        self._lin_i = [lin("ih", li) for li in range(self.layers)]
        self._lin_h = [lin("hh", li) for li in range(self.layers)]

    # -- construction -----------------------------------------------------------
    @classmethod
    def random(cls, vocab: int, layers: int, width: int, precision: int = 16, seed: Any = None,
               frac: int | None = None, **kw: Any) -> GatedRNN:
        """PyTorch's default init for the recurrent layers: weights and biases ~ U(-1/√m, 1/√m);
        embedding and readout weights ~ U(-1, 1), readout bias 0 (so outputs depend on the state).

        Examples
        --------
        >>> ElmanRNN.random(vocab=3, layers=1, width=4, precision=8, seed=0).state_bits()
        32
        """
        if kw:
            raise ModelError(f"{cls.__name__}.random got unknown options {sorted(kw)}")
        vocab, layers, width = (check_int(n, v, low=1, error=ModelError)
                                for n, v in (("vocab", vocab), ("layers", layers), ("width", width)))
        rng = as_generator(seed)
        m, g = width, cls.gates
        k = 1.0 / np.sqrt(m)
        u = lambda *shape: rng.uniform(-k, k, shape)  # noqa: E731
        params = {"embedding": rng.uniform(-1.0, 1.0, (vocab, m)), "readout_weight": rng.uniform(-1.0, 1.0, (vocab, m)),
                  "readout_bias": np.zeros(vocab)}
        for li in range(layers):
            params |= {f"weight_ih_l{li}": u(g * m, m), f"weight_hh_l{li}": u(g * m, m),
                       f"bias_ih_l{li}": u(g * m), f"bias_hh_l{li}": u(g * m)}
        return cls(params, vocab, layers, width, precision, frac)

    @classmethod
    def from_torch(cls, state_dict: Mapping[str, Any], vocab: int, precision: int = 16, frac: int | None = None,
                   embedding: Any = None, readout_weight: Any = None, readout_bias: Any = None,
                   seed: Any = None) -> GatedRNN:
        """Load (and quantise) the ``state_dict`` of a ``torch.nn.{RNN,GRU,LSTM}`` with tanh, one direction.

        ``input_size`` must equal ``hidden_size`` (= m); biases must be present.
        Embedding ``(V, m)`` and readout ``(V, m)``, ``(V,)`` default to the
        random init (seeded).  Works on tensors or plain arrays; torch itself
        is only needed to produce the dict.

        Examples
        --------
        >>> src = GRU.random(vocab=4, layers=2, width=3, precision=16, seed=1)
        >>> sd = {k: v for k, v in src.params().items() if "_l" in k}
        >>> p = src.params()
        >>> m = GRU.from_torch(sd, vocab=4, embedding=p["embedding"], readout_weight=p["readout_weight"],
        ...                    readout_bias=p["readout_bias"])
        >>> x = np.array([[0, 1, 2, 3]])
        >>> bool((m.forward(x) == src.forward(x)).all())
        True
        """
        sd = {k: _to_numpy(v) for k, v in state_dict.items()}
        bad = [k for k in sd if "reverse" in k or "weight_hr" in k]
        if bad:
            raise ModelError(f"bidirectional or projected {cls.torch_class} is not a left-to-right RNN: keys {bad}")
        layers = sum(1 for k in sd if k.startswith("weight_ih_l"))
        if layers == 0 or "weight_hh_l0" not in sd:
            raise ModelError(f"state_dict has no weight_ih_l0/weight_hh_l0: keys {sorted(sd)}")
        m = sd["weight_hh_l0"].shape[1]
        if sd["weight_ih_l0"].shape[1] != m:
            raise ModelError(f"input_size {sd['weight_ih_l0'].shape[1]} != hidden_size {m}; "
                             "kparty RNNs have width m throughout")
        base = cls.random(vocab, layers, m, precision, seed=seed, frac=frac)
        params = dict(base.params())
        params.update({k: v for k, v in sd.items() if k in params})
        for name, v in (("embedding", embedding), ("readout_weight", readout_weight), ("readout_bias", readout_bias)):
            if v is not None:
                params[name] = _to_numpy(v)
        return cls(params, vocab, layers, m, precision, frac)

    def params(self) -> dict[str, np.ndarray]:
        return dict(self._w)

    def hyper(self) -> dict:
        return {"vocab": self.vocab, "layers": self.layers, "width": self.width,
                "precision": self.fmt.p, "frac": self.fmt.f}

    # -- recurrent pieces -------------------------------------------------------
    def _position_elements(self) -> int:
        return (self.gates + 1) * self.width

    def _state_names(self) -> tuple[str, ...]:
        return ("h",)

    def _state_fields(self, layer: int) -> tuple[tuple, ...]:
        return tuple((name, self.fmt.raw_codec, (self.width,)) for name in self._state_names())

    def _init_state(self, layer: int, batch: int, float_path: bool) -> dict:
        dt = np.float64 if float_path else np.int64
        return {name: np.zeros((batch, self.width), dtype=dt) for name in self._state_names()}

    def _embed(self, tokens: np.ndarray, float_path: bool) -> np.ndarray:
        return (self._w["embedding"] if float_path else self._emb)[tokens]

    def _readout(self, y: np.ndarray, float_path: bool) -> np.ndarray:
        if float_path:
            logits = y @ self._w["readout_weight"].T + self._w["readout_bias"]
        else:
            logits = self._lin_r(y, saturate=True)
        return np.argmax(logits, axis=-1)

    def _scan(self, layer: int, x: np.ndarray, state: dict, float_path: bool) -> tuple[np.ndarray, dict]:
        if float_path:
            # the float equations live once in float_forward (numpy here, JAX when training)
            return rnn_layer(np, self.family, self._w, layer, x, state)
        return self._scan_fixed(self._lin_i[layer](x, saturate=True), self._lin_h[layer], state)

    @abc.abstractmethod
    def _scan_fixed(self, gi: np.ndarray, lin_h: Linear, state: dict) -> tuple[np.ndarray, dict]:
        """Fixed-point recurrence over a block, given the input pre-activations ``gi (B, T, G·m)``
        and the prepared hidden-to-hidden map ``lin_h(h) = W_h h + b_h`` (saturating)."""


class ElmanRNN(GatedRNN):
    """Elman RNN (``torch.nn.RNN``, tanh): ``h' = tanh(W_i x + b_i + W_h h + b_h)``; s = m·p.

    Examples
    --------
    >>> m = ElmanRNN.random(vocab=5, layers=2, width=8, precision=12, seed=0)
    >>> m.forward(np.array([[1, 2, 3, 0, 4, 4]])).tolist(), m.state_bits()
    ([[2, 2, 2, 2, 2, 2]], 96)
    """

    family = "elman"
    bits_text = "m·p"
    gates = 1
    torch_class = "RNN"

    def _scan_fixed(self, gi, lin_h, state):
        fmt, h = self.fmt, state["h"]
        ys = np.empty(gi.shape, dtype=np.int64)
        for t in range(gi.shape[1]):
            h = fmt.tanh(fmt.add(gi[:, t], lin_h(h, saturate=True), saturate=True))
            ys[:, t] = h
        return ys, {"h": h}


class GRU(GatedRNN):
    """Gated recurrent unit (``torch.nn.GRU``); state h, s = m·p.

    Examples
    --------
    >>> m = GRU.random(vocab=5, layers=2, width=8, precision=12, seed=0)
    >>> x = np.array([[1, 2, 3, 0, 4, 4]])
    >>> m.forward(x).tolist(), m.forward_float(x).tolist()
    ([[0, 0, 0, 0, 0, 1]], [[0, 0, 0, 0, 0, 1]])
    """

    family = "gru"
    bits_text = "m·p"
    gates = 3
    torch_class = "GRU"

    def _scan_fixed(self, gi, lin_h, state):
        fmt, h, m = self.fmt, state["h"], self.width
        ys = np.empty(gi.shape[:2] + (m,), dtype=np.int64)
        for t in range(gi.shape[1]):
            gh = lin_h(h, saturate=True)
            g = gi[:, t]
            rz = fmt.sigmoid(fmt.add(g[:, : 2 * m], gh[:, : 2 * m], saturate=True))
            n = fmt.tanh(fmt.add(g[:, 2 * m:], fmt.mul(rz[:, :m], gh[:, 2 * m:], saturate=True), saturate=True))
            # n + z(h - n) lies between n and h, so it always fits: no range check needed.
            h = n + round_shift(rz[:, m:] * (h - n), fmt.f)
            ys[:, t] = h
        return ys, {"h": h}


class LSTM(GatedRNN):
    """Long short-term memory (``torch.nn.LSTM``, no projection); state (h, c), s = 2·m·p.

    Examples
    --------
    >>> m = LSTM.random(vocab=4, layers=1, width=3, precision=12, seed=0)
    >>> m.state_bits(), m.forward(np.array([[1, 2, 3, 0]])).tolist()
    (72, [[0, 1, 1, 1]])
    """

    family = "lstm"
    bits_text = "2·m·p"
    gates = 4
    torch_class = "LSTM"

    def _state_names(self) -> tuple[str, ...]:
        return ("h", "c")

    def _scan_fixed(self, gi, lin_h, state):
        fmt, m = self.fmt, self.width
        h, c = state["h"], state["c"]
        ys = np.empty(gi.shape[:2] + (m,), dtype=np.int64)
        for t in range(gi.shape[1]):
            pre = fmt.add(gi[:, t], lin_h(h, saturate=True), saturate=True)
            i, f = fmt.sigmoid(pre[:, :m]), fmt.sigmoid(pre[:, m: 2 * m])
            g, o = fmt.tanh(pre[:, 2 * m: 3 * m]), fmt.sigmoid(pre[:, 3 * m:])
            c = fmt.clip(round_shift(f * c + i * g, fmt.f))
            h = fmt.mul(o, fmt.tanh(c), saturate=True)
            ys[:, t] = h
        return ys, {"h": h, "c": c}
