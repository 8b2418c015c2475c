"""The interface every kparty sequence model implements, and the recurrent machinery (docs/definitions.md §5).

``SequenceModel`` (all families)
    ``family`` (registry key, e.g. ``"gru"``), ``vocab`` V, ``layers`` L,
    ``width`` m, ``fmt`` (:class:`~reductions.arithmetic.fixed_point.FixedPoint`, or
    ``None`` for purely discrete models); ``forward(tokens (B, N)) -> (B, N)``
    output tokens (argmax readout, ties to the lowest token) computed in fixed
    point; ``forward_float(tokens)`` the plain float64 reference with the same
    (unquantised) weights; ``state_bits()`` the bits of the per-layer state a
    speaker writes; ``random(vocab, layers, width, precision, seed=...)``;
    ``save(path)`` / ``load(path)`` (``.npz`` with the float weights and a JSON
    ``__meta__`` entry).  Class attributes ``bits_text`` (s in words, for
    ``python -m reductions list``) and ``cli_options`` (``{kwarg: (type, help)}``:
    extra ``random()`` options that ``python -m reductions verify`` exposes as
    ``--kwarg-with-dashes``).

``RecurrentModel`` (FSM, Elman, GRU, LSTM, selective SSM)
    A family implements one layer as a scan over a block of positions
    (``_scan(l, x, state) -> (y, state)``) plus embedding, readout and the state
    layout (``_state_fields``).  This class then provides
    ``run(tokens, states, n_layers, cuts=...)`` — the stack of layers over any
    chunk from any initial states, processed in time blocks (every layer
    advances over one block before the next block, so memory stays bounded for
    long sequences) — and the state codec ``encode_state``/``decode_state``
    (a :class:`protocols.bits.Record`).  ``forward`` is ``run`` from the
    initial states; the compiler (:mod:`reductions.compilers.rnn_to_protocol`) calls
    ``run`` on each speaker's chunk.  Both paths execute the same integer
    operations, which is why protocol and model agree bit for bit.
"""

from __future__ import annotations

import abc
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from protocols.bits import Record
from protocols.validation import check_int
from reductions.arithmetic.fixed_point import FixedPoint
from reductions.errors import ReductionsError

__all__ = [
    "ModelError", "SequenceModel", "RecurrentModel", "RunResult", "default_frac", "check_weight_names",
    "checked_weights", "read_saved",
]

#: Widest temporary (elements) a time block may hold; bounds memory on long sequences.
BLOCK_ELEMENTS = 2**22


class ModelError(ReductionsError):
    """A model's hyper-parameters, weights or inputs break its definition."""


def default_frac(precision: int) -> int:
    """Default fractional bits for ``precision`` p: ``p - 4`` (range [-8, 8)), at least 1.

    Examples
    --------
    >>> default_frac(16), default_frac(24), default_frac(4)
    (12, 20, 1)
    """
    return max(1, precision - 4) if precision > 1 else 0


def check_weight_names(model: str, shapes: Mapping[str, Any], params: Mapping[str, Any]) -> None:
    """Raise :class:`ModelError` unless ``params`` has exactly the weights ``shapes`` names.

    Examples
    --------
    >>> check_weight_names("GRU", {"a": (2,)}, {"a": 0, "b": 1})
    Traceback (most recent call last):
    ...
    reductions.models.base.ModelError: GRU got unexpected weights ['b']
    """
    missing = sorted(set(shapes) - set(params))
    if missing:
        raise ModelError(f"{model} weights lack {missing}")
    extra = sorted(set(params) - set(shapes))
    if extra:
        raise ModelError(f"{model} got unexpected weights {extra}")


def checked_weights(model: str, shapes: Mapping[str, tuple[int, ...]], params: Mapping[str, Any],
                    convert: Any = np.asarray) -> dict[str, np.ndarray]:
    """The weights ``shapes`` names, as read-only float64 copies, after checking names, shapes and finiteness.

    ``convert`` turns one stored value into an array (e.g. a torch tensor into numpy).

    Examples
    --------
    >>> checked_weights("GRU", {"a": (2,)}, {"a": [1, 2]})["a"].tolist()
    [1.0, 2.0]
    >>> checked_weights("GRU", {"a": (2,)}, {"a": [1, float("inf")]})
    Traceback (most recent call last):
    ...
    reductions.models.base.ModelError: GRU weight a has a non-finite entry
    """
    check_weight_names(model, shapes, params)
    out = {}
    for name, shape in shapes.items():
        a = np.array(convert(params[name]), dtype=np.float64)  # a copy: the model owns its weights
        if a.shape != tuple(shape):
            raise ModelError(f"{model} weight {name} has shape {a.shape}; expected {tuple(shape)}")
        if not np.isfinite(a).all():
            raise ModelError(f"{model} weight {name} has a non-finite entry")
        a.flags.writeable = False
        out[name] = a
    return out



class SequenceModel(abc.ABC):
    """Base class of every model family (see the module docstring for the interface).

    Examples
    --------
    >>> from reductions.models import GRU
    >>> m = GRU.random(vocab=4, layers=2, width=3, precision=10, seed=0)
    >>> m.family, m.vocab, m.layers, m.width, m.precision, m.state_bits()
    ('gru', 4, 2, 3, 10, 30)
    """

    family: ClassVar[str] = ""
    #: s of docs/definitions.md §5 in words (shown by ``python -m reductions list``).
    bits_text: ClassVar[str] = ""
    #: extra keyword options of ``random()`` that ``python -m reductions verify`` exposes:
    #: ``{kwarg: (type, help)}``; the flag is ``--kwarg-with-dashes``.
    cli_options: ClassVar[dict[str, tuple[type, str]]] = {}

    def __init__(self, vocab: int, layers: int, width: int, fmt: FixedPoint | None) -> None:
        self.vocab = check_int("vocab", vocab, low=1, error=ModelError)
        self.layers = check_int("layers", layers, low=1, error=ModelError)
        self.width = check_int("width", width, low=1, error=ModelError)
        self.fmt = fmt

    # -- to implement -------------------------------------------------------
    @abc.abstractmethod
    def forward(self, tokens: Any) -> np.ndarray:
        """Output tokens ``(B, N)`` in fixed point."""

    @abc.abstractmethod
    def forward_float(self, tokens: Any) -> np.ndarray:
        """Output tokens ``(B, N)`` of the float64 reference."""

    @abc.abstractmethod
    def state_bits(self) -> int:
        """Bits a speaker writes per message."""

    @abc.abstractmethod
    def hyper(self) -> dict:
        """JSON-able constructor arguments other than the weights."""

    @abc.abstractmethod
    def params(self) -> dict[str, np.ndarray]:
        """The weights (float64 arrays; integer tables for discrete models)."""

    @classmethod
    @abc.abstractmethod
    def random(cls, vocab: int, layers: int, width: int, precision: int = 16, seed: Any = None, **kw) -> SequenceModel:
        """A model with seeded random weights."""

    # -- shared -------------------------------------------------------------
    @property
    def precision(self) -> int | None:
        return None if self.fmt is None else self.fmt.p

    def check_tokens(self, tokens: Any) -> np.ndarray:
        """``tokens`` as an int64 ``(B, N)`` array with values in ``0..vocab-1``."""
        t = np.asarray(tokens)
        if t.ndim != 2 or t.dtype.kind not in "iub":
            raise ModelError(f"tokens have shape {t.shape}, dtype {t.dtype}; expected (batch, positions) integers")
        if t.size and (t.min() < 0 or t.max() >= self.vocab):
            bad = t[(t < 0) | (t >= self.vocab)].flat[0]
            raise ModelError(f"token {bad} is outside the vocabulary 0..{self.vocab - 1}")
        return t.astype(np.int64, copy=False)

    def save(self, path: str | Path) -> None:
        """Write the weights and hyper-parameters to ``path`` (``.npz``)."""
        meta = {"family": self.family, **self.hyper()}
        np.savez(path, __meta__=np.array(json.dumps(meta)), **self.params())

    @classmethod
    def load(cls, path: str | Path) -> SequenceModel:
        """Read a model written by :meth:`save` (the class must match the file's family)."""
        family, hyper, params = read_saved(path)
        if cls.family and family != cls.family:
            raise ModelError(f"{path} holds a {family!r} model, not {cls.family!r}")
        return cls(params=params, **hyper)

    def __repr__(self) -> str:
        p = "" if self.fmt is None else f", p={self.fmt.p}, f={self.fmt.f}"
        return f"{type(self).__name__}(vocab={self.vocab}, layers={self.layers}, width={self.width}{p})"


def read_saved(path: str | Path) -> tuple[str, dict, dict[str, np.ndarray]]:
    """``(family, hyper-parameters, float weights)`` of a file written by :meth:`SequenceModel.save`."""
    with np.load(path, allow_pickle=False) as z:
        if "__meta__" not in z:
            raise ModelError(f"{path} has no __meta__ entry; it was not written by SequenceModel.save")
        meta = json.loads(str(z["__meta__"]))
        params = {k: z[k] for k in z.files if k != "__meta__"}
    return meta.pop("family"), meta, params


@dataclass(frozen=True, eq=False)
class RunResult:
    """What :meth:`RecurrentModel.run` returns.

    outputs : ``(B, n)`` output tokens, or ``None`` when ``readout=False``.
    states : final state of each of the layers run (a dict of arrays per layer).
    cut_states : for each requested cut, the states of each layer after that many positions.

    Examples
    --------
    >>> from reductions.models import ElmanRNN
    >>> r = ElmanRNN.random(vocab=3, layers=2, width=2, seed=0).run(np.array([[0, 1, 2]]), cuts=[1])
    >>> r.outputs.shape, len(r.states), len(r.cut_states), sorted(r.cut_states[0][1])
    ((1, 3), 2, 1, ['h'])
    """

    outputs: np.ndarray | None
    states: list[dict[str, np.ndarray]]
    cut_states: list[list[dict[str, np.ndarray]]]


class RecurrentModel(SequenceModel):
    """L stacked recurrent layers: one state per layer carried from position to position.

    Subclasses define ``_embed``, ``_scan``, ``_readout`` (each with a
    ``float_path`` flag for the float64 reference), ``_init_state`` and
    ``_state_fields``.

    Examples
    --------
    >>> from reductions.models import GRU
    >>> m = GRU.random(vocab=4, layers=2, width=3, precision=10, seed=0)
    >>> x = np.array([[0, 1, 2, 3, 1]])
    >>> head = m.run(x[:, :2])                      # the first chunk, from the initial states
    >>> tail = m.run(x[:, 2:], states=head.states)  # the rest, from the chunk-end states
    >>> bool((tail.outputs == m.forward(x)[:, 2:]).all())
    True
    >>> bits = m.encode_state(0, head.states[0])
    >>> bits.shape, bool((m.decode_state(0, bits)["h"] == head.states[0]["h"]).all())
    ((1, 30), True)
    """

    #: widest per-position, per-instance temporary of one layer (elements); sets the time block.
    def _position_elements(self) -> int:
        return 4 * self.width

    # -- per family -----------------------------------------------------------
    @abc.abstractmethod
    def _embed(self, tokens: np.ndarray, float_path: bool) -> np.ndarray: ...

    @abc.abstractmethod
    def _scan(self, layer: int, x: np.ndarray, state: dict, float_path: bool) -> tuple[np.ndarray, dict]: ...

    @abc.abstractmethod
    def _readout(self, y: np.ndarray, float_path: bool) -> np.ndarray: ...

    @abc.abstractmethod
    def _init_state(self, layer: int, batch: int, float_path: bool) -> dict: ...

    @abc.abstractmethod
    def _state_fields(self, layer: int) -> tuple[tuple, ...]:
        """Record fields ``(name, codec, shape)`` of layer ``layer``'s state (fixed point)."""

    # -- state codec ----------------------------------------------------------
    def state_record(self, layer: int = 0) -> Record:
        """The :class:`protocols.bits.Record` layout of a layer's state (a speaker's message)."""
        return Record(self._state_fields(layer))

    def state_bits(self) -> int:
        """Bits of one layer's state; equal for all layers (the protocol's s)."""
        widths = {self.state_record(li).width for li in range(self.layers)}
        if len(widths) != 1:
            raise ModelError(f"layers of {self!r} have different state widths {sorted(widths)}")
        return widths.pop()

    def initial_state(self, layer: int, batch: int) -> dict[str, np.ndarray]:
        """The state every sequence starts from in ``layer`` (fixed point)."""
        return self._init_state(layer, batch, False)

    def encode_state(self, layer: int, state: Mapping[str, np.ndarray]) -> np.ndarray:
        """``(B, s)`` bits of a batch of layer states."""
        return self.state_record(layer).encode(state)

    def decode_state(self, layer: int, bits: np.ndarray) -> dict[str, np.ndarray]:
        """Inverse of :meth:`encode_state`."""
        return self.state_record(layer).decode(bits)

    # -- running --------------------------------------------------------------
    def block_size(self, batch: int) -> int:
        """Positions per time block so that the widest temporary stays under BLOCK_ELEMENTS."""
        return max(1, BLOCK_ELEMENTS // max(1, batch * self._position_elements()))

    def run(
        self,
        tokens: Any,
        states: Sequence[Mapping[str, np.ndarray]] | None = None,
        n_layers: int | None = None,
        readout: bool = True,
        cuts: Sequence[int] = (),
        float_path: bool = False,
    ) -> RunResult:
        """Run layers ``0..n_layers-1`` over ``tokens`` (a whole sequence or one chunk).

        Parameters
        ----------
        tokens : ``(B, n)`` tokens.
        states : initial state of each layer run (default: the initial states).
        n_layers : how many layers to run (default all); ``readout`` needs all.
        readout : compute output tokens at every position from the last layer.
        cuts : positions ``c`` (``1 <= c <= n``) after which to record every layer's state.
        float_path : run the float64 reference instead of fixed point.
        """
        x_tok = self.check_tokens(tokens)
        batch, n = x_tok.shape
        nl = self.layers if n_layers is None else int(n_layers)
        if not 1 <= nl <= self.layers:
            raise ModelError(f"n_layers = {n_layers}; {self!r} has layers 0..{self.layers - 1}")
        if readout and nl != self.layers:
            raise ModelError(f"readout needs all {self.layers} layers; got n_layers = {nl}")
        if states is None:
            st = [self._init_state(li, batch, float_path) for li in range(nl)]
        else:
            if len(states) != nl:
                raise ModelError(f"got {len(states)} initial states for {nl} layers")
            st = [dict(s) for s in states]
        cut_set = sorted({int(c) for c in cuts})
        if cut_set and (cut_set[0] < 1 or cut_set[-1] > n):
            raise ModelError(f"cuts {cut_set} must lie in 1..{n}")
        step = self.block_size(batch)
        ends = sorted(set(range(step, n, step)) | set(cut_set) | {n})
        outputs = np.empty((batch, n), dtype=np.int64) if readout else None
        recorded: dict[int, list[dict]] = {}
        start = 0
        for end in ends:
            if end <= start:
                continue
            x = self._embed(x_tok[:, start:end], float_path)
            for li in range(nl):
                x, st[li] = self._scan(li, x, st[li], float_path)
            if readout:
                outputs[:, start:end] = self._readout(x, float_path)
            if end in cut_set:
                recorded[end] = [dict(s) for s in st]
            start = end
        return RunResult(outputs, st, [recorded[c] for c in cut_set])

    def forward(self, tokens: Any) -> np.ndarray:
        """Output tokens ``(B, N)`` in fixed point (argmax readout, ties to the lowest token)."""
        return self.run(tokens).outputs

    def forward_float(self, tokens: Any) -> np.ndarray:
        """Output tokens ``(B, N)`` of the float64 reference with the unquantised weights."""
        return self.run(tokens, float_path=True).outputs
