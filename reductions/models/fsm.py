"""The finite-state RNN: an arbitrary map on an m-bit binary state per layer ([SHT24] §5, docs/definitions.md §5).

This is the paper's model of an RNN with an m-bit state.

Layer ``l`` keeps a state ``h ∈ {0,1}^m``, written as the integer code
``Σ_j h_j 2^(m-1-j)`` (MSB first, exactly the :class:`protocols.bits.UInt`
bit order), starting from 0.  At each position ``h' = T_l(h, x)`` where ``x`` is
the token (layer 0, ``V`` values) or the layer below's new state (``2^m``
values); the layer's output sequence is its state sequence.  The output token
is ``readout(h_L)`` for the last layer's state.  State carried: ``h`` —
**s = m bits** (docs/definitions.md §5: "m for a binary m-dim state").

Three ways to give the maps:

- ``form="table"``: integer tables ``transition_l{l}`` of shape
  ``(2^m, V_in)`` and ``readout`` of shape ``(2^m,)`` — any finite-state map;
- ``form="hash"``: a seeded pseudo-random map (splitmix64 mixing of the state,
  the input and a per-layer key), for widths where tables do not fit (m up to 63);
- :meth:`FiniteStateRNN.from_functions`: any vectorised Python functions
  ``T_l(h, x) -> h'`` and ``readout(h) -> token`` on int64 arrays (not saveable).

Examples
--------
>>> parity = FiniteStateRNN.from_functions(vocab=2, width=1, transitions=[lambda h, x: h ^ x],
...                                        readout=lambda h: h)
>>> parity.forward(np.array([[1, 0, 1, 1]])).tolist(), parity.state_bits()
([[1, 1, 0, 1]], 1)
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

from protocols.bits import UInt
from protocols.seeding import as_generator
from protocols.validation import check_int
from reductions.models.base import ModelError, RecurrentModel

__all__ = ["FiniteStateRNN", "MAX_TABLE_ENTRIES"]

#: Random tables are used while a transition table has at most this many entries.
MAX_TABLE_ENTRIES = 2**22

_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)


def _mix(z: np.ndarray) -> np.ndarray:
    """splitmix64's finaliser on uint64 arrays (wrapping arithmetic is intended)."""
    z = (z ^ (z >> np.uint64(30))) * _M1
    z = (z ^ (z >> np.uint64(27))) * _M2
    return z ^ (z >> np.uint64(31))


class FiniteStateRNN(RecurrentModel):
    """L layers of arbitrary maps on m-bit binary states; s = m.

    Parameters
    ----------
    params : ``{"transition_l{l}": (2^m, V_in) ints, "readout": (2^m,) ints}`` for
        ``form="table"``; ``{"keys": (L+1,) uint64}`` for ``form="hash"``.
    vocab, layers, width : V, L, m (1 <= m <= 63).
    form : ``"table"`` or ``"hash"``.
    precision, frac : ignored (the state is binary); accepted so every family
        takes the same arguments.

    Examples
    --------
    >>> m = FiniteStateRNN.random(vocab=4, layers=2, width=3, seed=0)
    >>> m.form, m.state_bits(), m.forward(np.array([[0, 1, 2, 3]])).shape
    ('table', 3, (1, 4))
    """

    family = "fsm"
    bits_text = "m"
    cli_options = {"form": (str, "FSM maps: 'table' or 'hash' (default: table when it fits)")}

    def __init__(self, params: Mapping[str, Any], vocab: int, layers: int, width: int, form: str = "table",
                 precision: Any = None, frac: Any = None) -> None:
        super().__init__(vocab, layers, width, None)
        m = self.width
        if m > 63:
            raise ModelError(f"width m = {m}; FiniteStateRNN states are int64 codes, so m <= 63")
        self.form = form
        self._fns: tuple[Callable, ...] | None = None
        self._readout_fn: Callable | None = None
        if form == "table":
            self._tables = []
            for li in range(self.layers):
                t = np.asarray(params.get(f"transition_l{li}"))
                shape = (2**m, self._v_in(li))
                if t.shape != shape or t.dtype.kind not in "iu":
                    raise ModelError(f"transition_l{li} must be an integer table of shape {shape}; "
                                     f"got {t.dtype}{t.shape}")
                if t.size and (t.min() < 0 or t.max() >= 2**m):
                    bad = t[(t < 0) | (t >= 2**m)].flat[0]
                    raise ModelError(f"transition_l{li} holds state {bad}; states are 0..{2**m - 1}")
                t = t.astype(np.int64)
                t.flags.writeable = False
                self._tables.append(t)
            r = np.asarray(params.get("readout"))
            if r.shape != (2**m,) or r.dtype.kind not in "iu" or (r.size and (r.min() < 0 or r.max() >= self.vocab)):
                raise ModelError(f"readout must be {2**m} integer tokens in 0..{self.vocab - 1}; "
                                 f"got {r.dtype}{r.shape}")
            self._readout_table = r.astype(np.int64)
            self._readout_table.flags.writeable = False
        elif form == "hash":
            keys = np.asarray(params.get("keys"))
            if keys.shape != (self.layers + 1,) or keys.dtype.kind not in "iu":
                raise ModelError(f"hash form needs keys of shape ({self.layers + 1},) integers; "
                                 f"got {keys.dtype}{keys.shape}")
            self._keys = keys.astype(np.uint64)
        elif form != "functions":
            raise ModelError(f"form {form!r} is not 'table', 'hash' or 'functions'")

    def _v_in(self, layer: int) -> int:
        return self.vocab if layer == 0 else 2**self.width

    # -- construction -------------------------------------------------------------
    @classmethod
    def random(cls, vocab: int, layers: int, width: int, precision: Any = None, seed: Any = None,
               form: str | None = None, **kw: Any) -> FiniteStateRNN:
        """Uniformly random tables (or, if a table would exceed MAX_TABLE_ENTRIES, a seeded hash map)."""
        if kw:
            raise ModelError(f"FiniteStateRNN.random got unknown options {sorted(kw)} (precision is unused)")
        vocab = check_int("vocab", vocab, low=1, error=ModelError)
        layers = check_int("layers", layers, low=1, error=ModelError)
        width = check_int("width", width, low=1, high=63, error=ModelError)  # states are int64 codes
        rng = as_generator(seed)
        entries = 2**width * max(vocab, 2**width)
        if form is None:
            form = "table" if entries <= MAX_TABLE_ENTRIES else "hash"
        if form not in ("table", "hash"):
            raise ModelError(f"form = {form!r}; FSM maps are 'table' or 'hash'")
        if form == "table" and entries > MAX_TABLE_ENTRIES:
            raise ModelError(f"form 'table' with width m = {width} needs {entries} table entries per layer; "
                             f"at most {MAX_TABLE_ENTRIES} (use form 'hash')")
        if form == "hash":
            keys = rng.integers(0, 2**63, layers + 1, dtype=np.uint64)
            return cls({"keys": keys}, vocab, layers, width, "hash")
        params = {f"transition_l{li}": rng.integers(0, 2**width, (2**width, vocab if li == 0 else 2**width))
                  for li in range(layers)}
        params["readout"] = rng.integers(0, vocab, 2**width)
        return cls(params, vocab, layers, width, "table")

    @classmethod
    def from_functions(cls, vocab: int, width: int,
                       transitions: Sequence[Callable[[np.ndarray, np.ndarray], np.ndarray]],
                       readout: Callable[[np.ndarray], np.ndarray]) -> FiniteStateRNN:
        """A model from vectorised maps ``T_l(h, x) -> h'`` (int64 arrays ``(B,)``) and ``readout(h) -> token``."""
        model = cls({}, vocab, len(transitions), width, "functions")
        model._fns = tuple(transitions)
        model._readout_fn = readout
        return model

    def params(self) -> dict[str, np.ndarray]:
        if self.form == "functions":
            raise ModelError("a FiniteStateRNN given by Python functions has no arrays to save; use form='table'")
        if self.form == "hash":
            return {"keys": self._keys.copy()}
        return {**{f"transition_l{li}": t for li, t in enumerate(self._tables)}, "readout": self._readout_table}

    def hyper(self) -> dict:
        return {"vocab": self.vocab, "layers": self.layers, "width": self.width, "form": self.form}

    def __repr__(self) -> str:
        return f"FiniteStateRNN(vocab={self.vocab}, layers={self.layers}, width={self.width}, form={self.form!r})"

    # -- recurrent pieces ---------------------------------------------------------
    def _position_elements(self) -> int:
        return 2

    def _state_fields(self, layer: int) -> tuple[tuple, ...]:
        return (("h", UInt(self.width), ()),)

    def _init_state(self, layer: int, batch: int, float_path: bool) -> dict:
        return {"h": np.zeros(batch, dtype=np.int64)}

    def _embed(self, tokens: np.ndarray, float_path: bool) -> np.ndarray:
        return tokens

    def _step(self, layer: int, h: np.ndarray, x: np.ndarray) -> np.ndarray:
        if self.form == "table":
            return self._tables[layer][h, x]
        if self.form == "hash":
            key = self._keys[layer]
            z = _mix(_mix(h.astype(np.uint64) ^ key) ^ x.astype(np.uint64))
            return (z & np.uint64(2**self.width - 1)).astype(np.int64)
        out = np.asarray(self._fns[layer](h, x))
        top = 2**self.width
        if out.shape != h.shape or out.dtype.kind not in "iu" or (out.size and (out.min() < 0 or out.max() >= top)):
            raise ModelError(f"transition {layer} returned {out.dtype}{out.shape}; "
                             f"expected {h.shape} states in 0..{top - 1}")
        return out.astype(np.int64)

    def _scan(self, layer: int, x: np.ndarray, state: dict, float_path: bool) -> tuple[np.ndarray, dict]:
        h = state["h"]
        ys = np.empty(x.shape, dtype=np.int64)
        for t in range(x.shape[1]):
            h = self._step(layer, h, x[:, t])
            ys[:, t] = h
        return ys, {"h": h}

    def _readout(self, y: np.ndarray, float_path: bool) -> np.ndarray:
        if self.form == "table":
            return self._readout_table[y]
        if self.form == "hash":
            return (_mix(y.astype(np.uint64) ^ self._keys[-1]) % np.uint64(self.vocab)).astype(np.int64)
        out = np.asarray(self._readout_fn(y))
        v = self.vocab
        if out.shape != y.shape or out.dtype.kind not in "iu" or (out.size and (out.min() < 0 or out.max() >= v)):
            raise ModelError(f"readout returned {out.dtype}{out.shape}; expected {y.shape} tokens in 0..{v - 1}")
        return out.astype(np.int64)
