"""A selective diagonal state-space model in the style of Mamba, in its recurrent form (docs/definitions.md §5).

One layer, input ``u_t ∈ R^m`` at position t (m channels, state size n per channel):

    x_t  = W_x^T u_t                      z_t = W_z^T u_t          (input projections)
    Δ_t  = softplus(W_Δ^T x_t + b_Δ)       (m,)  input-dependent step size
    B_t  = W_B^T x_t,  C_t = W_C^T x_t      (n,)  input-dependent input/output maps
    Ā_t  = exp(Δ_t ⊗ A)                    (m, n), A = -exp(A_log) < 0 fixed, diagonal
    h_t  = Ā_t ⊙ h_{t-1} + (Δ_t ⊙ x_t) ⊗ B_t        (m, n)   <- the recurrence
    y_t  = h_t C_t + D ⊙ x_t                (m,)
    out_t = W_o^T (y_t ⊙ silu(z_t)) + u_t   (m,)   output projection, residual

(Mamba's short causal convolution is omitted so that ``h`` is the *only* thing
carried from token to token.)  Weights are stored as ``(in, out)`` matrices:
``in_x_l{l}, in_z_l{l}, dt_weight_l{l} (m, m)``, ``dt_bias_l{l} (m,)``,
``B_l{l}, C_l{l}, A_log_l{l} (m, n)``, ``D_l{l} (m,)``, ``out_l{l} (m, m)``;
plus ``embedding (V, m)``, ``readout_weight (V, m)``, ``readout_bias (V,)``.

State carried (what a speaker writes): ``h_t`` of every layer, an ``(m, n)``
array of p-bit numbers — **s = m·n·p bits** (= m·p of docs/definitions.md §5 when n = 1).

Fixed point (``FixedPoint(p, f)``, default f = p - 4): every product and
matrix product is exact and rounded once (half to even); ``Δ``, the
projections, ``y``, ``out`` and the logits **saturate**, and so does ``h``
(its geometric-series bound can exceed the range for small |A|): that is part
of this model's definition.  ``exp``, ``softplus`` and ``silu`` are the maps of
:mod:`reductions.arithmetic.fixed_point`.  ``forward_float`` runs the same equations in
float64 with the unquantised weights.

Examples
--------
>>> m = SelectiveSSM.random(vocab=5, layers=2, width=4, precision=16, state_size=3, seed=0)
>>> m.state_bits(), m.forward(np.array([[0, 1, 2, 3, 4]])).shape
(192, (1, 5))
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from protocols.seeding import as_generator
from protocols.validation import check_int
from reductions.arithmetic.fixed_point import FixedPoint, round_shift
from reductions.models.base import ModelError, RecurrentModel, default_frac
from reductions.models.float_forward import ssm_layer

__all__ = ["SelectiveSSM"]

_LAYER_SHAPES = {
    "in_x": "mm", "in_z": "mm", "dt_weight": "mm", "dt_bias": "m", "B": "mn", "C": "mn",
    "A_log": "mn", "D": "m", "out": "mm",
}


class SelectiveSSM(RecurrentModel):
    """Mamba-style selective diagonal SSM, L layers, width m, state size n; s = m·n·p.

    Examples
    --------
    >>> m = SelectiveSSM.random(vocab=3, layers=1, width=2, precision=12, state_size=1, seed=0)
    >>> m.state_bits()
    24
    """

    family = "ssm"
    bits_text = "m·n·p (n = state size)"
    cli_options = {"state_size": (int, "SSM state size n per channel (s = m·n·p; default 4)")}

    def __init__(self, params: Mapping[str, Any], vocab: int, layers: int, width: int, precision: int = 16,
                 frac: int | None = None, state_size: int = 4) -> None:
        fmt = FixedPoint(int(precision), default_frac(int(precision)) if frac is None else int(frac))
        super().__init__(vocab, layers, width, fmt)
        self.state_size = n = check_int("state_size", state_size, low=1, error=ModelError)
        m, v = self.width, self.vocab
        dims = {"m": m, "n": n}
        shapes = {"embedding": (v, m), "readout_weight": (v, m), "readout_bias": (v,)}
        for li in range(self.layers):
            shapes |= {f"{k}_l{li}": tuple(dims[c] for c in s) for k, s in _LAYER_SHAPES.items()}
        if set(shapes) != set(params):
            raise ModelError(f"SelectiveSSM weights: missing {sorted(set(shapes) - set(params))}, "
                             f"unexpected {sorted(set(params) - set(shapes))}")
        self._w = {}
        for name, shape in shapes.items():
            a = np.array(params[name], dtype=np.float64)
            if a.shape != shape or not np.isfinite(a).all():
                raise ModelError(f"weight {name} has shape {a.shape} (finite: {np.isfinite(a).all()}); "
                                 f"expected finite {shape}")
            a.flags.writeable = False
            self._w[name] = a
        q = {name: fmt.quantize(a, what=f"weight {name} entry")
             for name, a in self._w.items() if not name.startswith("A_log")}
        for li in range(self.layers):
            # A = -exp(A_log) is a constant of the model: quantised once, saturating like every SSM quantity.
            q[f"A_l{li}"] = fmt.quantize(-np.exp(self._w[f"A_log_l{li}"]), saturate=True)
        self._q = q
        self._lin = {
            f"{name}_l{li}": fmt.linear(q[f"{name}_l{li}"], q[f"dt_bias_l{li}"] if name == "dt_weight" else None)
            for li in range(self.layers) for name in ("in_x", "in_z", "dt_weight", "B", "C", "out")
        }
        self._lin["readout"] = fmt.linear(q["readout_weight"].T, q["readout_bias"])

    @classmethod
    def random(cls, vocab: int, layers: int, width: int, precision: int = 16, seed: Any = None,
               frac: int | None = None, state_size: int = 4, **kw: Any) -> SelectiveSSM:
        """Mamba-like init: A = -(1..n) per channel (S4D-real), Δ ∈ [0.05, 0.5] at init (log-uniform), D = 1,
        projections ~ U(-1/√m, 1/√m) except W_B, W_C ~ U(-1, 1) (larger than Mamba's, so that the
        state visibly shapes the output of a random model), embedding and readout weights ~ U(-1, 1),
        readout bias 0.

        Examples
        --------
        >>> SelectiveSSM.random(vocab=2, layers=1, width=3, state_size=2, seed=0).state_size
        2
        """
        if kw:
            raise ModelError(f"SelectiveSSM.random got unknown options {sorted(kw)}")
        vocab, layers, m, n = (check_int(name, v, low=1, error=ModelError) for name, v in
                               (("vocab", vocab), ("layers", layers), ("width", width), ("state_size", state_size)))
        rng = as_generator(seed)
        k = 1.0 / np.sqrt(m)
        u = lambda *shape: rng.uniform(-k, k, shape)  # noqa: E731
        params = {"embedding": rng.uniform(-1.0, 1.0, (vocab, m)), "readout_weight": rng.uniform(-1.0, 1.0, (vocab, m)),
                  "readout_bias": np.zeros(vocab)}
        for li in range(layers):
            dt = np.exp(rng.uniform(np.log(0.05), np.log(0.5), m))
            params |= {
                f"in_x_l{li}": u(m, m), f"in_z_l{li}": u(m, m), f"dt_weight_l{li}": u(m, m),
                f"dt_bias_l{li}": dt + np.log(-np.expm1(-dt)),  # inverse softplus
                f"B_l{li}": rng.uniform(-1.0, 1.0, (m, n)), f"C_l{li}": rng.uniform(-1.0, 1.0, (m, n)),
                f"A_log_l{li}": np.log(np.broadcast_to(np.arange(1, n + 1, dtype=np.float64), (m, n))).copy(),
                f"D_l{li}": np.ones(m), f"out_l{li}": u(m, m),
            }
        return cls(params, vocab, layers, width, precision, frac, n)

    def params(self) -> dict[str, np.ndarray]:
        return dict(self._w)

    def hyper(self) -> dict:
        return {"vocab": self.vocab, "layers": self.layers, "width": self.width,
                "precision": self.fmt.p, "frac": self.fmt.f, "state_size": self.state_size}

    def __repr__(self) -> str:
        return (f"SelectiveSSM(vocab={self.vocab}, layers={self.layers}, width={self.width}, "
                f"state_size={self.state_size}, p={self.fmt.p}, f={self.fmt.f})")

    # -- recurrent pieces ---------------------------------------------------------
    def _position_elements(self) -> int:
        return 3 * self.width * self.state_size + 6 * self.width

    def _state_fields(self, layer: int) -> tuple[tuple, ...]:
        return (("h", self.fmt.raw_codec, (self.width, self.state_size)),)

    def _init_state(self, layer: int, batch: int, float_path: bool) -> dict:
        return {"h": np.zeros((batch, self.width, self.state_size), dtype=np.float64 if float_path else np.int64)}

    def _embed(self, tokens: np.ndarray, float_path: bool) -> np.ndarray:
        return (self._w["embedding"] if float_path else self._q["embedding"])[tokens]

    def _readout(self, y: np.ndarray, float_path: bool) -> np.ndarray:
        if float_path:
            logits = y @ self._w["readout_weight"].T + self._w["readout_bias"]
        else:
            logits = self._lin["readout"](y, saturate=True)
        return np.argmax(logits, axis=-1)

    def _scan(self, layer: int, u: np.ndarray, state: dict, float_path: bool) -> tuple[np.ndarray, dict]:
        return (self._scan_float if float_path else self._scan_fixed)(layer, u, state["h"])

    def _scan_fixed(self, li: int, u: np.ndarray, h: np.ndarray) -> tuple[np.ndarray, dict]:
        fmt, q, f = self.fmt, self._q, self.fmt.f
        mm = lambda a, name: self._lin[f"{name}_l{li}"](a, saturate=True)  # noqa: E731
        x, z = mm(u, "in_x"), mm(u, "in_z")
        dt = fmt.softplus(mm(x, "dt_weight"), saturate=True)
        bt, ct = mm(x, "B"), mm(x, "C")
        da = fmt.exp(fmt.mul(dt[..., None], q[f"A_l{li}"], saturate=True), saturate=True)
        dbx = fmt.mul(fmt.mul(dt, x, saturate=True)[..., None], bt[:, :, None, :], saturate=True)
        hs = np.empty(da.shape, dtype=np.int64)
        for t in range(u.shape[1]):
            h = fmt.clip(round_shift(da[:, t] * h, f) + dbx[:, t])
            hs[:, t] = h
        acc = fmt.dot_exact(hs, ct[..., None])[..., 0] + q[f"D_l{li}"] * x
        y = fmt.clip(round_shift(acc, f))
        g = fmt.mul(y, fmt.silu(z, saturate=True), saturate=True)
        out = fmt.add(mm(g, "out"), u, saturate=True)
        return out, {"h": h}

    def _scan_float(self, li: int, u: np.ndarray, h: np.ndarray) -> tuple[np.ndarray, dict]:
        # the float equations live once in float_forward (numpy here, JAX when training)
        return ssm_layer(np, self._w, li, u, h)
