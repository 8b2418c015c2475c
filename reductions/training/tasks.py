"""Training tasks: k-hop sequences in [SHT24]'s format and encoded pointer chasing (docs/definitions.md §3, §4).

A :class:`TrainTask` draws batches ``(inputs, targets, mask)`` of shape
``(B, N)``: a causal model reads ``inputs[:, :t+1]`` and is scored on
``targets[:, t]`` where ``mask[:, t]``.  Sampling is numpy only (seeded);
the same batch for the same seed.

- :func:`hop_task` — :func:`reductions.khop.sequences.hop_task_batch` with one
  hop count k: inputs ``[hop_token(k), x_0..x_{N-1}]``, targets
  ``[blank, hop_k(x)]`` (⊥ as the ``none`` token); scored on positions 1..N
  (the blank under the hop-count token is not a prediction).
- :func:`pointer_chasing_task` — pointer-chasing instances (decision version,
  hard order) encoded as k-hop sequences of length ``N = 2kq + 1``
  (:class:`~reductions.khop.pointer_chasing_to_hop.EncodedPointerChasing`);
  targets ``hop_k`` of the sequence at every position where it is defined
  (the dense signal), and the last position's target is the decision answer
  ``2q + class(v_{k+1})`` (``decision_accuracy`` scores only that one).

Examples
--------
>>> t = hop_task(k=1, n=8, alphabet=4)
>>> x, y, mask = t.sample(2, seed=0)
>>> x.shape, y.shape, t.vocab, mask[:, 0].tolist()
((2, 9), (2, 9), 7, [False, False])
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from protocols import PointerChasing
from protocols.seeding import Seed
from reductions.khop.pointer_chasing_to_hop import EncodedPointerChasing
from reductions.khop.sequences import HopVocab, hop_task_batch
from reductions.khop.task import hop

__all__ = ["TrainTask", "hop_task", "pointer_chasing_task", "TASKS", "make_task"]


@dataclass(frozen=True)
class TrainTask:
    """A sequence task to train on: ``sample(batch, seed) -> (inputs, targets, mask)``.

    ``name`` (``"hop"`` or ``"pointer-chasing"``), ``vocab`` (model vocabulary V, also the
    number of output classes), ``length`` (sequence length fed to the model) and
    ``params`` (the task's own parameters, e.g. ``{"k": 1, "n": 32, "alphabet": 4}``).
    """

    name: str
    vocab: int
    length: int
    params: dict[str, int] = field(default_factory=dict)

    def sample(self, batch: int, seed: Seed = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(inputs, targets, mask)``, each ``(batch, length)``."""
        p = self.params
        if self.name == "hop":
            tb = hop_task_batch(batch, p["n"], p["alphabet"], min_hops=p["k"], max_hops=p["k"], hops=p["k"],
                                seed=seed)
            mask = np.ones(tb.inputs.shape, dtype=bool)
            mask[:, 0] = False
            return tb.inputs, tb.targets, mask
        enc = EncodedPointerChasing(PointerChasing(q=p["q"], k=p["k"]))
        h = enc.sample(batch, seed=seed)
        tokens = np.asarray(h.tokens, dtype=np.int64)
        # hop_k at the last position is the decision answer 2q + class(v_{k+1}) (the encoding's property)
        targets = hop(tokens, p["k"]).astype(np.int64)
        mask = targets >= 0
        return tokens, np.where(mask, targets, 0), mask


def _count(name: str, v: Any, least: int) -> int:
    if not isinstance(v, (int, np.integer)) or isinstance(v, bool) or v < least:
        raise ValueError(f"{name} = {v!r}; {name} must be an integer >= {least}")
    return int(v)


def hop_task(k: int, n: int, alphabet: int = 4) -> TrainTask:
    """k-hop (k = 1: induction heads) on N symbols over ``alphabet``, distinct neighbours ([SHT24]).

    Examples
    --------
    >>> hop_task(2, 16).length, hop_task(2, 16).vocab
    (17, 7)
    """
    k, n, a = _count("k", k, 0), _count("n", n, 1), _count("alphabet", alphabet, 2)
    return TrainTask("hop", HopVocab(a, k, k).size, n + 1, {"k": k, "n": n, "alphabet": a})


def pointer_chasing_task(q: int, k: int) -> TrainTask:
    """Pointer chasing with k layers of q vertices, encoded as k-hop sequences (N = 2kq + 1, V = 2q + 2).

    Examples
    --------
    >>> t = pointer_chasing_task(q=4, k=2)
    >>> t.length, t.vocab
    (17, 10)
    """
    q, k = _count("q", q, 2), _count("k", k, 1)
    return TrainTask("pointer-chasing", 2 * q + 2, 2 * k * q + 1, {"q": q, "k": k})


#: task name -> constructor.
TASKS = {"hop": hop_task, "pointer-chasing": pointer_chasing_task}


def make_task(name: str, **params: int) -> TrainTask:
    """A task by name: ``make_task("hop", k=1, n=32, alphabet=4)`` or ``make_task("pointer-chasing", q=8, k=3)``.

    Examples
    --------
    >>> make_task("pointer-chasing", q=3, k=2).params
    {'q': 3, 'k': 2}
    """
    if name not in TASKS:
        raise ValueError(f"task = {name!r}; known tasks: {sorted(TASKS)}")
    try:
        return TASKS[name](**params)
    except TypeError as exc:
        raise ValueError(f"task {name!r} takes {TASKS[name].__code__.co_varnames[:TASKS[name].__code__.co_argcount]}; "
                         f"got {sorted(params)} ({exc})") from None
