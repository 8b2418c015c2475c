"""Differential verification: a model and its compiled protocol compute the same thing (docs/definitions.md §5).

API (generic: works for every family registered in :data:`reductions.compilers.registry.COMPILERS`)
-----------------------------------------------------------------------------------------
``verify(model, inputs, boundaries, seed=0)`` runs the model directly
(``model.forward``, or the compiler's ``reference`` which also predicts the
board) and the compiled protocol through :func:`protocols.run`, and returns a
frozen :class:`VerifyReport`:

- ``trials`` instances, ``agree`` of them with protocol output == model output
  at the last position; ``rounds`` R and ``bits`` s of the protocol beside
  ``rounds_formula``/``bits_formula`` from docs/definitions.md §5;
- ``max_bits_used``/``min_bits_used``: bits speakers actually wrote before the
  engine's padding (``exact_bits`` says every message was exactly s bits);
- ``board_checked``: whether the whole transcript was compared with the
  board the compiler's ``reference`` predicts (for RNNs: the hidden states at
  the chunk boundaries).

On a mismatch it raises :class:`OutputMismatch` (first differing instance, the
position, both tokens and the split) or :class:`BoardMismatch` (first
differing instance, round, speaker and bit); ``raise_on_mismatch=False``
counts instead.  With ``strict=True`` (default) a message size or round count
different from the formula raises :class:`FormulaMismatch`.

Model interface this relies on: ``model.family`` (a key of ``COMPILERS``) and
``model.forward(tokens (B, N)) -> (B, N)`` output tokens.  Inputs are int token
arrays ``(B, N)``; speaker ``i`` gets ``tokens[:, b_i:b_{i+1}]``.

Also here: :func:`verify_random_splits` (several random splits, chunks of
length 1 included), :func:`random_tokens`, and :func:`pointer_chasing_success`
(run a compiled model on encoded pointer-chasing instances and report its
decision success with a Clopper–Pearson interval).

Examples
--------
>>> from reductions.models import GRU
>>> model = GRU.random(vocab=6, layers=2, width=4, precision=12, seed=0)
>>> x = random_tokens(6, batch=50, length=9, seed=1)
>>> rep = verify(model, x, (0, 1, 5, 9), seed=2)
>>> rep.agree, rep.trials, rep.rounds, rep.bits, rep.bits_formula, rep.exact_bits
(50, 50, 2, 48, 48, True)
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from protocols import run
from protocols.budget import chunk_size, chunks
from protocols.estimate import BinomialResult, clopper_pearson
from protocols.seeding import Seed, as_generator, as_seed_sequence, child_seed
from protocols.validation import check_int
from reductions.compilers.registry import bits_formula, compiler_for, rounds_formula
from reductions.compilers.splits import check_boundaries, random_boundaries, split_tokens
from reductions.errors import ReductionsError
from reductions.khop.instance import canonical_boundaries, encoding_alphabet, sequence_length
from reductions.khop.pointer_chasing_to_hop import EncodedPointerChasing

__all__ = [
    "VerifyReport",
    "VerificationError",
    "OutputMismatch",
    "BoardMismatch",
    "FormulaMismatch",
    "verify",
    "verify_random_splits",
    "random_tokens",
    "ChaseReport",
    "pointer_chasing_success",
]


class VerificationError(ReductionsError):
    """A compiled protocol does not behave as its model says it must."""


class OutputMismatch(VerificationError):
    """The protocol's output differs from the model's output on some instance."""


class BoardMismatch(VerificationError):
    """A message on the board differs from the one the model predicts (e.g. a boundary state)."""


class FormulaMismatch(VerificationError):
    """The protocol's R or s differs from the formula of docs/definitions.md §5."""


class _BitsUsed:
    """``exact_bits`` for reports carrying ``bits``, ``min_bits_used`` and ``max_bits_used``."""

    bits: int
    min_bits_used: int
    max_bits_used: int

    @property
    def exact_bits(self) -> bool:
        """Every message the compiler wrote had exactly s bits (before the engine's padding)."""
        return self.min_bits_used == self.max_bits_used == self.bits


@dataclass(frozen=True)
class VerifyReport(_BitsUsed):
    """Result of :func:`verify`: one model, one split, a batch of inputs.

    Examples
    --------
    >>> from reductions.models import FiniteStateRNN
    >>> fsm = FiniteStateRNN.random(vocab=3, layers=2, width=4, seed=0)
    >>> rep = verify(fsm, random_tokens(3, 10, 5, seed=0), (0, 1, 5))
    >>> rep.ok, rep.as_dict()["bits"], rep.as_dict()["boundaries"]
    (True, 4, [0, 1, 5])
    """

    model: str
    k: int
    n: int
    boundaries: tuple[int, ...]
    trials: int
    agree: int
    rounds: int
    rounds_formula: int
    bits: int
    bits_formula: int
    max_bits_used: int
    min_bits_used: int
    board_checked: bool

    @property
    def ok(self) -> bool:
        """All outputs agree and R, s equal the docs/definitions.md §5 formulas.

        No message can exceed s (the engine refuses it); shorter ones are
        zero-padded (docs/definitions.md §1), e.g. a transformer speaker with a shorter
        chunk.  ``exact_bits`` says whether every message filled all s bits.
        """
        return self.agree == self.trials and self.bits == self.bits_formula and self.rounds == self.rounds_formula

    def as_dict(self) -> dict:
        d = asdict(self)
        d["boundaries"] = list(self.boundaries)
        d["exact_bits"] = self.exact_bits
        return d


def random_tokens(vocab: int, batch: int, length: int, seed: Seed = None) -> np.ndarray:
    """Uniform random tokens ``(batch, length)`` in ``0..vocab-1`` (int64).

    Examples
    --------
    >>> random_tokens(3, 2, 4, seed=0).shape
    (2, 4)
    """
    if vocab < 1 or batch < 1 or length < 1:
        raise VerificationError(f"need vocab, batch, length >= 1; got {vocab}, {batch}, {length}")
    return as_generator(seed).integers(0, vocab, (batch, length), dtype=np.int64)


def _reference(model: Any, tokens: np.ndarray, boundaries: tuple[int, ...]):
    mod = compiler_for(model)
    if hasattr(mod, "reference"):
        return mod.reference(model, tokens, boundaries)
    return model.forward(tokens), None


def verify(
    model: Any,
    inputs: Any,
    boundaries: Sequence[int] | None = None,
    seed: Seed = 0,
    check_board: bool = True,
    strict: bool = True,
    raise_on_mismatch: bool = True,
) -> VerifyReport:
    """Run ``model`` and ``to_protocol(model, boundaries)`` on ``inputs`` and compare (docs/definitions.md §5).

    Parameters
    ----------
    model : any model whose ``family`` has a compiler in ``COMPILERS``.
    inputs : ``(B, N)`` int tokens, or a :class:`~reductions.HopInstance` (its tokens and,
        unless ``boundaries`` is given, its split).
    boundaries : ``(0, b_1, ..., N)``; speaker i holds ``inputs[:, b_i:b_{i+1}]``.
    seed : coins for the engine (compiled models are deterministic; kept for the record).
    check_board : also compare every message with the compiler's predicted board.
    strict : raise :class:`FormulaMismatch` if R or s differ from the formulas.
    raise_on_mismatch : raise on the first differing instance (else only count).

    Examples
    --------
    >>> from reductions.models import LSTM
    >>> m = LSTM.random(vocab=4, layers=1, width=2, precision=8, seed=0)
    >>> verify(m, random_tokens(4, 20, 5, seed=0), (0, 2, 3, 5)).bits
    32
    """
    return _verify(model, inputs, boundaries, seed, check_board, strict, raise_on_mismatch)[0]


def trial_bytes(model: Any, n: int, rounds: int, k: int, bits: int) -> int:
    """Bytes one verified sequence needs: the protocol's board three times (the run's, the
    predicted one, their comparison), the model's activations (``n·m`` floats per layer,
    a few live at once) and the tokens."""
    width, layers = int(getattr(model, "width", 1)), int(getattr(model, "layers", 1))
    return 3 * rounds * k * bits + 8 * n * width * (layers + 1) * 4 + 16 * n


def _verify(model, inputs, boundaries, seed, check_board=True, strict=True, raise_on_mismatch=True):
    """:func:`verify`, also returning the protocol's and the model's outputs at the last position ``(B,)``.

    Sequences are verified in chunks that fit the memory budget
    (:mod:`protocols.budget`); compiled models are deterministic, so the report
    does not depend on the chunking.
    """
    if hasattr(inputs, "tokens") and hasattr(inputs, "boundaries"):
        boundaries = inputs.boundaries if boundaries is None else boundaries
        inputs = inputs.tokens
    if boundaries is None:
        raise VerificationError("verify needs boundaries (0, b_1, ..., N) unless inputs is a HopInstance")
    tokens = np.asarray(inputs)
    if tokens.ndim != 2 or tokens.dtype.kind not in "iu":
        raise VerificationError(f"inputs have shape {tokens.shape} and dtype {tokens.dtype}; "
                                "expected (B, N) integer tokens")
    b = check_boundaries(boundaries, tokens.shape[1])
    s_formula, r_formula = bits_formula(model, b), rounds_formula(model)
    per = trial_bytes(model, tokens.shape[1], r_formula, len(b) - 1, s_formula)
    what = f"verifying one sequence of {model.family} (N = {tokens.shape[1]})"
    size = chunk_size(per, max(1, len(tokens)), what=what)
    parts = [_verify_batch(model, tokens[start:start + count], b, seed, check_board, strict, raise_on_mismatch, start)
             for _, start, count in chunks(len(tokens), size)] or [
        _verify_batch(model, tokens, b, seed, check_board, strict, raise_on_mismatch, 0)]
    reports = [r for r, _, _ in parts]
    first = reports[0]
    report = VerifyReport(
        model=first.model, k=first.k, n=first.n, boundaries=b, trials=sum(r.trials for r in reports),
        agree=sum(r.agree for r in reports), rounds=first.rounds, rounds_formula=first.rounds_formula,
        bits=first.bits, bits_formula=first.bits_formula, max_bits_used=max(r.max_bits_used for r in reports),
        min_bits_used=min(r.min_bits_used for r in reports), board_checked=all(r.board_checked for r in reports),
    )
    return report, np.concatenate([o for _, o, _ in parts]), np.concatenate([w for _, _, w in parts])


def _verify_batch(model, tokens, b, seed, check_board, strict, raise_on_mismatch, offset):
    """One chunk of :func:`_verify`; ``offset`` numbers its instances in the whole batch."""
    protocol = compiler_for(model).compile(model, b)
    s_formula, r_formula = bits_formula(model, b), rounds_formula(model)
    if strict and (protocol.s != s_formula or protocol.R != r_formula):
        raise FormulaMismatch(
            f"{protocol!r} compiled from {model!r}: docs/definitions.md §5 gives R = {r_formula}, s = {s_formula}"
        )
    outputs, board = _reference(model, tokens, b)
    want = np.asarray(outputs)[:, -1]
    r = run(protocol, split_tokens(tokens, b), seed=seed)
    got = np.asarray(r.outputs)
    diff = np.flatnonzero(got != want)
    if diff.size and raise_on_mismatch:
        i = int(diff[0])
        raise OutputMismatch(
            f"{model.family} model and its protocol disagree on instance {offset + i} at position "
            f"{tokens.shape[1] - 1}: "
            f"model says {int(want[i])}, protocol says {int(got[i])} "
            f"(split {b}; {diff.size} of {len(got)} instances differ)"
        )
    checked = bool(check_board and board is not None)
    if checked:
        bad = np.argwhere((r.board != board).any(axis=3))
        if bad.size and raise_on_mismatch:
            inst, rnd, spk = (int(v) for v in bad[0])
            bit = int(np.flatnonzero(r.board[inst, rnd, spk] != board[inst, rnd, spk])[0])
            raise BoardMismatch(
                f"{model.family} protocol message of speaker {spk} in round {rnd} differs from the model's "
                f"on instance {offset + inst} at bit {bit} (split {b}); "
                "the message must be the model's state at the chunk end"
            )
    report = VerifyReport(
        model=str(model.family), k=protocol.k, n=int(tokens.shape[1]), boundaries=b, trials=int(len(got)),
        agree=int(len(got) - diff.size), rounds=protocol.R, rounds_formula=r_formula, bits=protocol.s,
        bits_formula=s_formula, max_bits_used=int(r.used.max()), min_bits_used=int(r.used.min()),
        board_checked=checked,
    )
    return report, got, want


def verify_random_splits(
    model: Any, inputs: np.ndarray, k: int, splits: int = 3, seed: Seed = 0, **kwargs: Any
) -> tuple[VerifyReport, ...]:
    """:func:`verify` under ``splits`` uniformly random k-way splits (chunks of length 1 included).

    Split ``j`` uses ``random_boundaries(N, k, seed=child_seed(seed, j))``.

    Examples
    --------
    >>> from reductions.models import ElmanRNN
    >>> m = ElmanRNN.random(vocab=3, layers=1, width=3, precision=8, seed=0)
    >>> reps = verify_random_splits(m, random_tokens(3, 10, 6, seed=0), k=3, splits=2, seed=1)
    >>> [r.agree for r in reps]
    [10, 10]
    """
    n = np.asarray(inputs).shape[1]
    root = as_seed_sequence(seed)
    return tuple(
        verify(model, inputs, random_boundaries(n, k, seed=child_seed(root, j)), seed=child_seed(root, j, 1), **kwargs)
        for j in range(splits)
    )


@dataclass(frozen=True)
class ChaseReport(BinomialResult, _BitsUsed):
    """Result of :func:`pointer_chasing_success`: a compiled model on encoded pointer chasing.

    Examples
    --------
    >>> rep = ChaseReport("gru", 4, 2, 17, (0, 8, 17), 100, 50, 100, 0.95, 2, 64, 64, 64, 64, True)
    >>> rep.success, [round(v, 3) for v in rep.proportion_ci()]
    (0.5, [0.398, 0.602])
    """

    model: str
    q: int
    k: int
    n: int
    boundaries: tuple[int, ...]
    trials: int
    successes: int
    agree: int
    confidence: float
    rounds: int
    bits: int
    bits_formula: int
    max_bits_used: int
    min_bits_used: int
    board_checked: bool
    #: instances the fixed-point model itself answered correctly (equal to ``successes`` when all agree)
    model_successes: int | None = None
    #: instances the float model (unquantised weights) answered correctly, if it was run
    float_successes: int | None = None

    @property
    def success(self) -> float:
        """Decision success rate of the protocol (output token == 2q + class(v_{k+1}))."""
        return self.rate

    def as_dict(self) -> dict:
        d = asdict(self)
        d["boundaries"] = list(self.boundaries)
        d["success"], (d["ci_low"], d["ci_high"]) = self.success, self.proportion_ci()
        d["exact_bits"] = self.exact_bits
        for who in ("model", "float"):
            hits = getattr(self, f"{who}_successes")
            d[f"{who}_success"] = None if hits is None else hits / self.trials
        if self.float_successes is not None:
            d["float_ci_low"], d["float_ci_high"] = clopper_pearson(self.float_successes, self.trials, self.confidence)
        return d


def pointer_chasing_success(
    model: Any,
    problem: Any,
    trials: int,
    seed: Seed = None,
    length: int | None = None,
    confidence: float = 0.95,
    batch_size: int = 1024,
    float_reference: bool = False,
) -> ChaseReport:
    """Decision success of a compiled model on encoded pointer chasing, with a Clopper–Pearson interval.

    ``problem`` is a :class:`protocols.PointerChasing` (decision version, hard
    order, matchings) or an :class:`~reductions.khop.pointer_chasing_to_hop.EncodedPointerChasing`.
    Instances are encoded as k-hop sequences (docs/definitions.md §4, N = 2kq + 1 or
    ``length`` with left padding); the model is compiled for the canonical
    split (speaker i holds the block of layer k-i) and the protocol's output
    token counts as a success when it equals ``2q + class(v_{k+1})`` — the
    value of hop_k at the last position.  Every batch is also run through
    :func:`verify`, so the reported success is the protocol's *and* the
    model's (a mismatch raises).  Batch ``c`` samples with ``child_seed(seed, c)``.
    ``model_successes`` counts the fixed-point model's own correct answers and,
    with ``float_reference=True``, ``float_successes`` the float model's
    (``model.forward_float``, the unquantised weights) on the same instances.

    Examples
    --------
    >>> from protocols import PointerChasing
    >>> from reductions.models import GRU
    >>> pc = PointerChasing(q=3, k=2)
    >>> model = GRU.random(vocab=8, layers=2, width=4, precision=12, seed=0)
    >>> rep = pointer_chasing_success(model, pc, trials=200, seed=1)
    >>> rep.trials, rep.agree, rep.rounds, rep.bits, 0 <= rep.ci_low <= rep.success <= rep.ci_high <= 1
    (200, 200, 2, 48, True)
    """
    enc = problem if isinstance(problem, EncodedPointerChasing) else EncodedPointerChasing(problem, length)
    check_int("trials", trials, low=1, error=VerificationError)
    vocab = getattr(model, "vocab", None)
    q, k = enc.q, enc.k
    n = enc.length or sequence_length(q, k)
    pad = n - sequence_length(q, k)
    alphabet = encoding_alphabet(q, pad)
    if vocab is not None and vocab < alphabet:
        raise VerificationError(
            f"model vocabulary {vocab} is smaller than the encoding's alphabet {alphabet} (q = {q}, N = {n})"
        )
    b = tuple(int(x) for x in canonical_boundaries(q, k, pad))
    # Chunks of batch_size, smaller if the memory budget needs it (sequence, board, activations).
    per = trial_bytes(model, n, rounds_formula(model), k, bits_formula(model, b)) + 4 * k * q
    batch_size = chunk_size(per, min(int(batch_size), int(trials)), what=f"one encoded instance (N = {n})")
    root = as_seed_sequence(seed)
    successes = model_hits = float_hits = agree = done = c = 0
    max_used, min_used, checked = 0, None, True
    while done < trials:
        size = min(batch_size, trials - done)
        h = enc.sample(size, seed=child_seed(root, c))
        rep, outs, model_outs = _verify(model, h.tokens, b, child_seed(root, c, 1))
        answer = enc.answer(h)
        successes += int(np.count_nonzero(outs == answer))
        model_hits += int(np.count_nonzero(model_outs == answer))
        if float_reference:
            float_hits += int(np.count_nonzero(model.forward_float(h.tokens)[:, -1] == answer))
        agree += rep.agree
        max_used = max(max_used, rep.max_bits_used)
        min_used = rep.min_bits_used if min_used is None else min(min_used, rep.min_bits_used)
        checked = checked and rep.board_checked
        done, c = done + size, c + 1
    return ChaseReport(
        model=str(model.family), q=q, k=k, n=n, boundaries=b, trials=int(trials), successes=successes,
        agree=agree, confidence=confidence, rounds=rep.rounds, bits=rep.bits, bits_formula=rep.bits_formula,
        max_bits_used=max_used, min_bits_used=min_used, board_checked=checked,
        model_successes=model_hits, float_successes=float_hits if float_reference else None,
    )
