"""One-layer softmax transformer with T chain-of-thought tokens, then the answer (docs/definitions.md §5).

Source: [SHT24] Cor. 5.6.

Input ``x_0..x_{N-1}`` (tokens ``0..V-1``).  The model appends a separator
token ``SEP = V`` at position N and then generates greedily: at step
``t = 0..T`` its query is the last token so far (position ``N + t``: SEP, then
the previous chain-of-thought token), one causally masked softmax attention
layer with H heads reads every position ``<= N + t``, then the residual MLP
and the argmax readout over the V tokens give token ``y_t``; ``y_0..y_{T-1}``
are the chain of thought (fed back at positions ``N+1..N+T``) and ``y_T`` is
the answer.  ``forward`` returns all ``T + 1`` generated tokens.

Why the separator **[choice]**: the first query must be known to every
speaker of the protocol; with a public SEP it is, so each round is one
generation step and R = T + 1.  Without it the first query would be the last
input token, private to the last speaker.

Fixed point (format ``FixedPoint(p, f)``, default f = p − 4), per step and head:

- keys and values are ``k_j = KE[x_j] + KP[j]`` and ``v_j = VE[x_j] + VP[j]``
  with tables ``KE = E W_k``, ``KP = P W_k`` (and likewise for values), each
  rounded once: a one-layer key depends on its token and position only;
- ``s_j = round(q·k_j / 2**f)`` (an exact integer, never stored, so not
  limited to p bits) and the **fixed
  offset** ``c = round(max_u q·KE[u] / 2**f + max_{i <= N+t} q·KP[i] / 2**f)``
  (same rounding, on the sum of the two exact maxima) — a public function of
  the query alone that bounds every score, since a key is any token's part
  plus any position's part;
- ``e_j = exp(s_j − c)`` (:func:`~.attention_base.exp_nonpositive`: the
  definition of :meth:`FixedPoint.exp`, argument <= 0, so ``0 <= e_j <= 2**f``):
  a deterministic function of position j alone;
- ``a = round(Σ_j e_j v_j / Σ_j e_j)``, exact integer sums, one rounding; 0 if
  every weight rounded to 0 **[choice]**.

The offset is exact but not tight (the best token need not sit at the best
position); when attention is very sharp the gap can push every weight below
``2**-f`` and the head outputs 0 where float64 would not — the price of a
fixed offset; the default random scale stays well inside (fixed point agrees
with float64 on >= 99% of tokens at p = 24).

So the numerator and denominator split over any chunks of positions exactly:
a speaker writes its chunk's ``Σ e_j v_j`` (m values) and ``Σ e_j`` per head
at accumulator precision ``acc_bits = f + p + ⌈log2(max_len+1)⌉``, and
everyone adds them up (:func:`cot_message_bits`: ``s = H·(m + 1)·acc_bits``).

Examples
--------
>>> m = ChainOfThought.random(vocab=5, width=4, heads=2, cot_steps=3, precision=16, max_len=32, seed=0)
>>> x = np.array([[0, 1, 2, 3, 4, 0, 1]])
>>> y = m.forward(x)
>>> y.shape, bool((y == m.forward_float(x)).all()), m.state_bits() == cot_message_bits(4, 2, m.acc_bits)
((1, 4), True, True)
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from protocols.bits import bits_for
from protocols.seeding import as_generator
from protocols.validation import check_int
from reductions.arithmetic.fixed_point import round_div, round_shift
from reductions.models.attention_base import AttentionModel, batch_slices, exp_nonpositive
from reductions.models.base import ModelError, default_frac

__all__ = ["ChainOfThought", "cot_message_bits", "cot_acc_bits", "CoTStep"]


def cot_acc_bits(precision: int, frac: int, max_len: int) -> int:
    """Accumulator bits for ``Σ e_j v_j`` over up to ``max_len`` positions: ``f + p + ⌈log2(max_len+1)⌉``.

    ``0 <= e_j <= 2**f`` and ``|v_j| <= 2**(p-1)``, so a sum of n terms has
    magnitude below ``n · 2**(f+p-1)``.

    Examples
    --------
    >>> cot_acc_bits(16, 12, 100)
    35
    """
    return int(frac) + int(precision) + bits_for(int(max_len) + 1)


def cot_message_bits(width: int, heads: int, acc_bits: int) -> int:
    """s of a one-layer CoT protocol (docs/definitions.md §5): ``H · (m + 1) · acc_bits``.

    Examples
    --------
    >>> cot_message_bits(8, 2, 35)
    630
    """
    return int(heads) * (int(width) + 1) * int(acc_bits)


class CoTStep:
    """What every speaker knows at one generation step: the query of each head and its offset.

    ``q (B, H, m)`` raws, ``offset (B, H, 1)`` raws (scale ``2**-f``).

    Examples
    --------
    >>> m = ChainOfThought.random(vocab=4, width=3, heads=2, precision=12, max_len=16, seed=0)
    >>> st = m.step(np.array([m.sep]), 5)
    >>> st.q.shape, st.offset.shape, st.position
    ((1, 2, 3), (1, 2, 1), 5)
    """

    __slots__ = ("q", "offset", "position")

    def __init__(self, q: np.ndarray, offset: np.ndarray, position: int) -> None:
        self.q, self.offset, self.position = q, offset, position


class ChainOfThought(AttentionModel):
    """One causally masked softmax attention layer, H heads, T chain-of-thought tokens (module docstring).

    Parameters
    ----------
    params : weights (see :mod:`.attention_base`; one layer; the embedding has V + 1 rows, the last is SEP).
    vocab, width, heads : V, m, H (``layers`` must be 1).
    cot_steps : T >= 0 chain-of-thought tokens before the answer.
    max_len : learned positions; a run needs ``N + T + 1 <= max_len``.
    ff, precision, frac : MLP width (default 2m), p and f (default p − 4; f <= p − 2).

    Examples
    --------
    >>> m = ChainOfThought.random(vocab=4, width=3, cot_steps=2, precision=12, max_len=16, seed=0)
    >>> m.sep, m.rounds, m.forward(np.array([[0, 1, 2, 3]])).shape
    (4, 3, (1, 3))
    """

    family = "cot"
    extra_tokens = 1
    #: the CLI's layer count when ``--layers`` is not given (this family has exactly one).
    default_layers = 1
    #: options of ``python -m reductions verify --model cot`` (keyword -> (type, help)).
    cli_options = {
        "heads": (int, "attention heads H"),
        "cot_steps": (int, "chain-of-thought tokens T before the answer (default 2)"),
        "max_len": (int, "learned positions = longest sequence (default 4096)"),
    }

    def __init__(self, params: Mapping[str, Any], vocab: int, layers: int = 1, width: int = 8, heads: int = 1,
                 max_len: int = 4096, cot_steps: int = 2, ff: int | None = None, precision: int = 16,
                 frac: int | None = None) -> None:
        if layers != 1:
            raise ModelError(f"layers = {layers!r}; the chain-of-thought model has exactly one attention layer")
        self.cot_steps = check_int("cot_steps", cot_steps, low=0, error=ModelError)
        f = default_frac(int(precision)) if frac is None else int(frac)
        if f > int(precision) - 2:
            raise ModelError(f"f = {f} with p = {precision}: a softmax weight of 1 needs f <= p - 2")
        self._setup(params, vocab, layers, width, heads, max_len, ff, precision, frac)
        self.sep = self.vocab
        self.acc_bits = cot_acc_bits(self.fmt.p, self.fmt.f, self.max_len)
        if self.acc_bits > 64:
            raise ModelError(f"p = {self.fmt.p}, f = {self.fmt.f}, max_len = {self.max_len} need {self.acc_bits}-bit "
                             f"accumulators (f + p + ceil(log2(max_len + 1))); at most 64 are supported")
        fmt, q = self.fmt, self._q
        # Key and value tables: token part and position part, each rounded once.
        self._ke = fmt.matmul(q["embedding"], q["wk_l0"], saturate=True).reshape(-1, self.heads, self.width)
        self._kp = fmt.matmul(q["position"], q["wk_l0"], saturate=True).reshape(-1, self.heads, self.width)
        self._ve = fmt.matmul(q["embedding"], q["wv_l0"], saturate=True).reshape(-1, self.heads, self.width)
        self._vp = fmt.matmul(q["position"], q["wv_l0"], saturate=True).reshape(-1, self.heads, self.width)

    @classmethod
    def random(cls, vocab: int, layers: int = 1, width: int = 8, precision: int = 16, seed: Any = None,
               heads: int = 1, max_len: int = 4096, cot_steps: int = 2, ff: int | None = None,
               frac: int | None = None) -> ChainOfThought:
        """Seeded random weights (see :class:`AttentionModel`), queries ×6 and attention output ×5.

        With the default scales one layer averages over all N positions and the
        residual stream of the (fixed) query token dominates, so every input
        would produce the same tokens; sharper attention and a stronger
        attention output make the generated tokens depend on the input.

        Examples
        --------
        >>> ChainOfThought.random(vocab=3, width=2, cot_steps=1, seed=0).rounds
        2
        """
        params = cls._random_params(as_generator(seed), vocab, layers, width, heads, max_len, ff)
        params["wq_l0"] = params["wq_l0"] * 6.0
        params["wo_l0"] = params["wo_l0"] * 5.0
        return cls(params, vocab, layers, width, heads, max_len, cot_steps, ff, precision, frac)

    def hyper(self) -> dict:
        return {**self._common_hyper(), "cot_steps": self.cot_steps}

    @property
    def rounds(self) -> int:
        """R = T + 1: one protocol round per generated token."""
        return self.cot_steps + 1

    def state_bits(self) -> int:
        """Bits per message: ``H · (m + 1) · acc_bits`` (:func:`cot_message_bits`)."""
        return cot_message_bits(self.width, self.heads, self.acc_bits)

    def __repr__(self) -> str:
        return (f"ChainOfThought(vocab={self.vocab}, width={self.width}, heads={self.heads}, T={self.cot_steps}, "
                f"p={self.fmt.p}, f={self.fmt.f})")

    # -- pieces a speaker uses ---------------------------------------------------------------------
    def keys_values(self, tokens: np.ndarray, start: int) -> tuple[np.ndarray, np.ndarray]:
        """Keys and values ``(B, n, H, m)`` of tokens at positions ``start, start+1, ...`` (exact, range-checked)."""
        n = tokens.shape[-1]
        k = self.fmt.check(self._ke[tokens] + self._kp[start:start + n], "key")
        v = self.fmt.check(self._ve[tokens] + self._vp[start:start + n], "value")
        return k, v

    def step(self, token: np.ndarray, position: int) -> CoTStep:
        """The query at ``position`` (holding ``token (B,)``) and its public offset."""
        fmt = self.fmt
        x = self._embed(token[:, None], position, False)
        q = self._project(0, x, "q", False)[:, 0]                                       # (B, H, m)
        tok_part = np.einsum("bhm,uhm->bhu", q, self._ke).max(axis=-1)               # exact: |.| < 2**53
        pos_part = np.einsum("bhm,ihm->bhi", q, self._kp[: position + 1]).max(axis=-1)
        offset = round_shift(tok_part + pos_part, fmt.f)
        return CoTStep(q, offset[..., None], position)

    def partial_sums(self, step: CoTStep, k: np.ndarray, v: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Exact ``(Σ e_j v_j (B, H, m), Σ e_j (B, H))`` over the given keys/values ``(B, n, H, m)``."""
        fmt = self.fmt
        raw = np.einsum("bhm,bnhm->bhn", step.q, k)
        e = exp_nonpositive(fmt, round_shift(raw, fmt.f) - step.offset)                                    # (B, H, n)
        return np.einsum("bhn,bnhm->bhm", e, v), e.sum(axis=-1)

    def finish(self, step: CoTStep, token: np.ndarray, num: np.ndarray, den: np.ndarray) -> np.ndarray:
        """The generated token ``(B,)`` from the complete numerator and denominator of the step."""
        safe = np.where(den == 0, 1, den)
        a = np.where(den[..., None] == 0, 0, round_div(num, safe[..., None]))
        a = self.fmt.check(a, "attention output")
        x = self._embed(token[:, None], step.position, False)
        y = self._finish_layer(0, x, a[:, None], False)
        return self._readout(y, False)[:, 0]

    def _check_run(self, tokens: Any) -> np.ndarray:
        t = self.check_tokens(tokens)
        self.check_length(t.shape[1], extra=self.cot_steps + 1)
        return t

    # -- whole sequences ------------------------------------------------------------------------------
    def generate(self, tokens: Any, boundaries: Sequence[int] | None = None) -> tuple[np.ndarray, list | None]:
        """All generated tokens ``(B, T+1)`` and, with ``boundaries``, each chunk's partial sums per step.

        ``sums[t][i] = (num, den)`` over chunk i at step t — the message speaker i
        writes in round t (:mod:`reductions.compilers.cot_to_protocol`).
        """
        t = self._check_run(tokens)
        B, n = t.shape
        T = self.cot_steps
        out = np.empty((B, T + 1), dtype=np.int64)
        sums: list | None = None
        if boundaries is not None:
            b = tuple(int(v) for v in boundaries)
            sums = [[None] * (len(b) - 1) for _ in range(T + 1)]
        per = n * self.heads * (4 * self.width + 4)
        for sl in batch_slices(B, per):
            k_in, v_in = self.keys_values(t[sl], 0)
            gen = np.full((len(range(*sl.indices(B))), 1), self.sep, dtype=np.int64)
            for step_i in range(T + 1):
                st = self.step(gen[:, -1], n + step_i)
                num, den = self.partial_sums(st, k_in, v_in)
                if sums is not None:
                    for i in range(len(b) - 1):
                        part = self.partial_sums(st, k_in[:, b[i]:b[i + 1]], v_in[:, b[i]:b[i + 1]])
                        prev = sums[step_i][i]
                        sums[step_i][i] = part if prev is None else tuple(
                            np.concatenate([p0, p1]) for p0, p1 in zip(prev, part, strict=True))
                kg, vg = self.keys_values(gen, n)
                pn, pd = self.partial_sums(st, kg, vg)
                y = self.finish(st, gen[:, -1], num + pn, den + pd)
                out[sl, step_i] = y
                gen = np.concatenate([gen, y[:, None]], axis=1)
        return out, sums

    def forward(self, tokens: Any) -> np.ndarray:
        """The T chain-of-thought tokens and the answer, ``(B, T+1)``, in fixed point."""
        return self.generate(tokens)[0]

    def forward_float(self, tokens: Any) -> np.ndarray:
        """The same greedy generation, ``(B, T+1)``, in float64 with the unquantised weights."""
        t = self._check_run(tokens)
        B, n = t.shape
        w = self._w
        H, m = self.heads, self.width
        seq = np.concatenate([t, np.full((B, 1), self.sep, dtype=np.int64)], axis=1)
        out = np.empty((B, self.cot_steps + 1), dtype=np.int64)
        for step_i in range(self.cot_steps + 1):
            L = seq.shape[1]
            x = self._embed(seq, 0, True)                                              # (B, L, m)
            k = (x @ w["wk_l0"]).reshape(B, L, H, m)
            v = (x @ w["wv_l0"]).reshape(B, L, H, m)
            q = (x[:, -1] @ w["wq_l0"]).reshape(B, H, m)
            s = np.einsum("bhm,blhm->bhl", q, k)
            e = np.exp(s - s.max(axis=-1, keepdims=True))
            a = np.einsum("bhl,blhm->bhm", e, v) / e.sum(axis=-1)[..., None]
            y = self._readout(self._finish_layer(0, x[:, -1:], a[:, None], True), True)[:, 0]
            out[:, step_i] = y
            seq = np.concatenate([seq, y[:, None]], axis=1)
        return out
