"""Pointer chasing -> k-hop sequences and back (docs/definitions.md §4; [SHT24] Prop. E.4).

With 0-based tokens and alphabet ``2q + 2``:

- vertex ``u`` of layer ``V_j`` is the token ``label_j(u) = u`` for odd j and
  ``q + u`` for even j; tokens ``2q`` and ``2q + 1`` are the classes 0 and 1
  of ``V_{k+1}``;
- the block of layer j < k is ``label_j(u), label_{j+1}(E_j(u))`` for
  ``u = 0..q-1``; the block of layer k is ``label_k(u), 2q + class(E_k(u))``;
- the sequence is block k, block k-1, ..., block 1, then ``label_1(v)``:
  ``N = 2kq + 1``.  Optional left padding with the token ``2q + 2`` gives any
  longer N and never changes the answer [choice].

Then ``hop_k(x)[N-1] = 2q + class(v_{k+1})``: each hop goes one block to the
left and reads the image of the current vertex, because inside a block the
first tokens are distinct (so are the second ones, E_j being a matching) and
alternating labels keep neighbouring blocks apart.  Speaker ``i`` holds the
block of layer ``k-i`` (the hard order of §2), the last speaker also the final
token, so chunks are contiguous and in sequence order.

A sequence keeps only the class of ``E_k(u)``, not ``E_k`` itself:
:func:`decode` returns the instances with ``E_1..E_{k-1}`` and ``v`` as
encoded and the *canonical* ``E_k`` consistent with the class map (class-0
vertices of ``V_k`` in increasing order onto class-0 vertices of ``V_{k+1}``
in increasing order, likewise class 1; if ``E_k`` was an arbitrary function,
which the encoding allows, each vertex goes to the first vertex of its class), so ``decode(encode(I))`` agrees with I
on everything the sequence carries: ``E_1..E_{k-1}``, ``v``, the class map
and hence the answer.

Examples
--------
>>> from protocols import PointerChasing
>>> pc = PointerChasing(q=3, k=2)
>>> inst = pc.instances([[[2, 0, 1]], [[1, 2, 0]]], start=[1])
>>> h = encode(inst)
>>> h.tokens.tolist()
[[3, 6, 4, 7, 5, 6, 0, 5, 1, 3, 2, 4, 1]]
>>> from reductions.khop.task import hop
>>> int(hop(h.tokens, 2)[0, -1]) == 2 * 3 + int(pc.answer(inst)[0])
True
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from protocols.problems.pointer_chasing import PointerChasing, PointerChasingInstances
from protocols.validation import check_int
from reductions.khop.instance import (
    EncodingError,
    HopInstance,
    answer_from_hop,
    canonical_boundaries,
    class_token,
    encoding_alphabet,
    pad_token,
    sequence_length,
)
from reductions.khop.sequences import token_dtype
from reductions.khop.task import hop

__all__ = [
    "encode",
    "decode",
    "decode_class_map",
    "answer_from_hop",
    "hop_last",
    "label",
    "EncodedPointerChasing",
    "EncodingError",
]


def label(j: int, u, q: int):
    """``label_j(u)``: the token of vertex ``u`` of ``V_j`` (``u`` for odd j, ``q + u`` for even j).

    Examples
    --------
    >>> label(1, 2, q=5), label(2, 2, q=5)
    (2, 7)
    """
    return u + (0 if j % 2 else q)


def _vertex_dtype(q: int) -> np.dtype:
    # the same widths as protocols.problems.pointer_chasing uses for layers
    return np.dtype(np.uint8 if q <= 2**8 else np.uint16 if q <= 2**16 else np.uint32)


def _first_repeat(rows: np.ndarray) -> tuple[int, int] | None:
    """(instance, value) of the first repeated value in any row, or None."""
    srt = np.sort(rows, axis=1)
    dup = srt[:, 1:] == srt[:, :-1]
    if not dup.any():
        return None
    b, p = np.argwhere(dup)[0]
    return int(b), int(srt[b, p])


def _check_instances(
    inst: PointerChasingInstances,
) -> tuple[int, int, list[np.ndarray], np.ndarray, np.ndarray]:
    q = check_int("q", getattr(inst, "q", None), low=2, error=EncodingError)
    k = check_int("k", getattr(inst, "k", None), low=1, error=EncodingError)
    layers = list(inst.layers)
    if len(layers) != k:
        raise EncodingError(f"got {len(layers)} edge layers; k = {k}")
    arrs = [np.asarray(a) for a in layers]
    B = arrs[0].shape[0] if arrs[0].ndim == 2 else -1
    for j, a in enumerate(arrs, start=1):
        if a.ndim != 2 or a.shape != (B, q):
            raise EncodingError(f"layer E_{j} has shape {a.shape}; expected (B, q) = ({B}, {q})")
        if a.dtype.kind not in "iu":
            raise EncodingError(f"layer E_{j} has dtype {a.dtype}; vertex labels are integers")
        if a.size and (a.min() < 0 or a.max() >= q):
            bad = a[(a < 0) | (a >= q)].flat[0]
            raise EncodingError(f"layer E_{j} maps to vertex {bad}, outside V_{j + 1} = 0..{q - 1}")
        rep = _first_repeat(a) if j < k else None  # E_k may be any function (docs/definitions.md §4)
        if rep is not None:
            raise EncodingError(
                f"layer E_{j} of instance {rep[0]} is not a matching: vertex {rep[1]} of V_{j + 1} "
                f"is the image of two vertices (the k-hop encoding needs E_1..E_(k-1) to be "
                f"permutations; arbitrary functions there, as in PointerChasing(functions=True), are rejected)"
            )
    start = np.asarray(inst.start)
    if start.shape != (B,) or start.dtype.kind not in "iu":
        raise EncodingError(
            f"start has shape {start.shape} and dtype {start.dtype}; expected ({B},) integers"
        )
    if start.size and (start.min() < 0 or start.max() >= q):
        raise EncodingError(
            f"start vertex {start[(start < 0) | (start >= q)][0]} outside V_1 = 0..{q - 1}"
        )
    classes = np.asarray(inst.classes)
    if classes.shape != (q,) or not np.isin(classes, (0, 1)).all():
        raise EncodingError(f"classes must be q = {q} values in {{0, 1}}; got {classes.tolist()}")
    return q, k, arrs, start.astype(np.int64), classes.astype(np.int64)


def encode(instances: PointerChasingInstances, length: int | None = None) -> HopInstance:
    """Encode a batch of pointer-chasing instances as k-hop sequences (docs/definitions.md §4).

    Parameters
    ----------
    instances : :class:`protocols.PointerChasingInstances` with q >= 2, k >= 1
        and every E_j a matching (permutation).
    length : the sequence length N; default ``2kq + 1``.  A longer N pads on
        the left with the token ``2q + 2`` (the alphabet grows by one).

    Returns
    -------
    HopInstance
        tokens ``(B, N)`` (narrowest unsigned dtype), canonical boundaries,
        ``q``, ``k`` and ``pad = N - 2kq - 1``.

    Raises
    ------
    EncodingError
        A layer that is not a matching (naming the layer, instance and repeated
        vertex), wrong shapes or ranges, q < 2, k < 1, or ``length < 2kq + 1``.

    Examples
    --------
    >>> from protocols import PointerChasing
    >>> inst = PointerChasing(q=2, k=1).instances([[[1, 0]]], start=[0])
    >>> encode(inst).tokens.tolist()
    [[0, 5, 1, 4, 0]]
    >>> h = encode(inst, length=7)
    >>> h.tokens.tolist(), h.boundaries.tolist(), h.pad
    ([[6, 6, 0, 5, 1, 4, 0]], [0, 7], 2)
    """
    q, k, layers, start, classes = _check_instances(instances)
    B = start.shape[0]
    n0 = sequence_length(q, k)
    if length is None:
        pad = 0
    else:
        N = check_int("length", length, low=1, error=EncodingError)
        if N < n0:
            raise EncodingError(
                f"length = {N} is shorter than 2kq + 1 = {n0}; padding can only lengthen"
            )
        pad = N - n0
    dt = token_dtype(encoding_alphabet(q, pad=1))  # one dtype whether padded or not
    tokens = np.empty((B, pad + n0), dtype=dt)
    tokens[:, :pad] = pad_token(q)
    u = np.arange(q)
    for j in range(1, k + 1):  # k slices per batch, never a loop over instances
        base = pad + 2 * q * (k - j)
        tokens[:, base : base + 2 * q : 2] = label(j, u, q)
        img = layers[j - 1].astype(np.int64)
        tokens[:, base + 1 : base + 2 * q : 2] = (
            label(j + 1, img, q) if j < k else class_token(q, 0) + classes[img]
        )
    tokens[:, -1] = label(1, start, q)
    return HopInstance(tokens, canonical_boundaries(q, k, pad), q, k, pad)


def _parse(h: HopInstance) -> tuple[list[np.ndarray], np.ndarray, np.ndarray]:
    """Check the layout of every sequence; return (E_1..E_{k-1}, class map, start)."""
    if not isinstance(h, HopInstance):
        raise EncodingError(f"decode takes a HopInstance, got {type(h).__name__}")
    q, k, pad = h.q, h.k, h.pad
    t = h.tokens.astype(np.int64)
    if pad and (t[:, :pad] != h.pad_token).any():
        b, p = np.argwhere(t[:, :pad] != h.pad_token)[0]
        raise EncodingError(
            f"instance {b}, position {p}: token {t[b, p]} in the padding; pad token is {h.pad_token}"
        )
    u = np.arange(q)
    layers = []
    cmap = None
    for j in range(1, k + 1):
        base = pad + 2 * q * (k - j)
        firsts, seconds = t[:, base : base + 2 * q : 2], t[:, base + 1 : base + 2 * q : 2]
        wrong = firsts != label(j, u, q)
        if wrong.any():
            b, c = np.argwhere(wrong)[0]
            raise EncodingError(
                f"instance {b}, position {base + 2 * c}: token {firsts[b, c]} where the block "
                f"of layer {j} "
                f"has label_{j}({c}) = {label(j, c, q)}"
            )
        if j < k:
            img = seconds - label(j + 1, 0, q)
            bad = (img < 0) | (img >= q)
            if bad.any():
                b, c = np.argwhere(bad)[0]
                raise EncodingError(
                    f"instance {b}, position {base + 2 * c + 1}: token {seconds[b, c]} "
                    f"is not a vertex of "
                    f"V_{j + 1} (tokens {label(j + 1, 0, q)}..{label(j + 1, q - 1, q)})"
                )
            rep = _first_repeat(img)
            if rep is not None:
                raise EncodingError(
                    f"layer E_{j} of instance {rep[0]} is not a matching: "
                    f"vertex {rep[1]} of V_{j + 1} "
                    f"appears twice in its block"
                )
            layers.append(img)
        else:
            cmap = seconds - class_token(q, 0)
            bad = (cmap < 0) | (cmap > 1)
            if bad.any():
                b, c = np.argwhere(bad)[0]
                raise EncodingError(
                    f"instance {b}, position {base + 2 * c + 1}: token {seconds[b, c]} "
                    f"is not a class token ({class_token(q, 0)} or {class_token(q, 1)})"
                )
    start = t[:, -1] - label(1, 0, q)
    bad = (start < 0) | (start >= q)
    if bad.any():
        b = int(np.flatnonzero(bad)[0])
        raise EncodingError(
            f"instance {b}: final token {t[b, -1]} is not a vertex of V_1 (tokens 0..{q - 1})"
        )
    return layers, cmap, start


def decode_class_map(h: HopInstance) -> np.ndarray:
    """``(B, q)`` the class of ``E_k(u)`` for each ``u`` of ``V_k``, read off the block of layer k.

    Examples
    --------
    >>> from protocols import PointerChasing
    >>> inst = PointerChasing(q=4, k=2).sample(3, seed=0)
    >>> bool((decode_class_map(encode(inst)) == inst.class_map()).all())
    True
    """
    return _parse(h)[1].astype(np.uint8)


def decode(h: HopInstance, classes=None) -> PointerChasingInstances:
    """Parse encoded sequences back into pointer-chasing instances (docs/definitions.md §4).

    Parameters
    ----------
    h : HopInstance with the layout of :func:`encode` (any padding).
    classes : ``(q,)`` public classes of ``V_{k+1}``; default ``u -> int(2u >= q)``.

    Returns
    -------
    PointerChasingInstances
        ``E_1..E_{k-1}`` and the start vertices as encoded; ``E_k`` the
        canonical matching consistent with the class map (see the module
        docstring); its ``class_map()`` equals :func:`decode_class_map`.

    Raises
    ------
    EncodingError
        A token out of place (naming instance, position and the expected
        token), a layer E_1..E_(k-1) that is not a matching, or a class map
        using a class that ``classes`` does not contain.

    Examples
    --------
    >>> from protocols import PointerChasing
    >>> pc = PointerChasing(q=6, k=3, start=None)
    >>> inst = pc.sample(4, seed=1)
    >>> back = decode(encode(inst))
    >>> all((a == b).all() for a, b in zip(back.layers[:-1], inst.layers[:-1]))
    True
    >>> bool((back.start == inst.start).all()), bool((back.decision() == inst.decision()).all())
    (True, True)
    """
    layers, cmap, start = _parse(h)
    q, k = h.q, h.k
    if classes is None:
        cls = (2 * np.arange(q) >= q).astype(np.int64)
    else:
        cls = np.asarray(classes)
        if cls.shape != (q,) or not np.isin(cls, (0, 1)).all():
            raise EncodingError(
                f"classes must be q = {q} values in {{0, 1}}; got {np.asarray(classes).tolist()}"
            )
        cls = cls.astype(np.int64)
    if cls.min() == cls.max() and cmap.size and (cmap != cls[0]).any():
        raise EncodingError(f"the class map uses class {1 - cls[0]}, which classes does not contain")
    # canonical E_k: the t-th vertex of V_k in (class, label) order goes to the
    # t-th vertex of V_{k+1} in the same order -- a matching when the class map is
    # balanced like ``classes``; otherwise (E_k was a function) every vertex goes to
    # the first vertex of its class
    src = np.argsort(cmap, axis=1, kind="stable")
    dst = np.argsort(cls, kind="stable")
    last = np.empty_like(src)
    np.put_along_axis(last, src, np.broadcast_to(dst, src.shape), axis=1)
    uneven = cmap.sum(axis=1) != cls.sum()
    if uneven.any():
        first = np.array([np.argmax(cls == 0), np.argmax(cls == 1)])
        last[uneven] = first[cmap[uneven]]
    dt = _vertex_dtype(q)
    out_layers = tuple(a.astype(dt) for a in layers) + (last.astype(dt),)
    return PointerChasingInstances(q, k, out_layers, start.astype(np.int64), cls.astype(np.uint8))


@dataclass(frozen=True)
class EncodedPointerChasing:
    """Pointer chasing as k-hop sequences: a :class:`protocols.Problem` over :class:`HopInstance`.

    ``sample`` draws pointer-chasing instances from ``problem`` and encodes
    them; ``inputs`` are the speakers' token chunks; nothing is public (the
    start vertex is the last speaker's final token); ``answer`` is the token
    ``hop_k(x)[N-1] = 2q + class(v_{k+1})``, computed by chasing the decoded
    graph (not by running hop).  So :func:`protocols.estimate_success` runs any
    token-reading protocol on encoded instances.

    Parameters
    ----------
    problem : :class:`protocols.PointerChasing`, decision version, hard order,
        matchings (``functions=False``).
    length : sequence length N (default ``2kq + 1``; longer pads on the left).

    Examples
    --------
    >>> from protocols import PointerChasing
    >>> enc = EncodedPointerChasing(PointerChasing(q=4, k=2, start=None))
    >>> h = enc.sample(3, seed=0)
    >>> bool((enc.answer(h) == hop_last(h)).all())
    True
    """

    problem: PointerChasing
    length: int | None = None

    def __post_init__(self) -> None:
        p = self.problem
        if not isinstance(p, PointerChasing):
            raise EncodingError(
                f"EncodedPointerChasing wraps a PointerChasing problem, got {type(p).__name__}"
            )
        if p.functions:
            raise EncodingError(
                "PointerChasing(functions=True) has arbitrary layers; "
                "the k-hop encoding needs matchings"
            )
        if p.version != "decision":
            raise EncodingError(
                f"version {p.version!r}: a k-hop sequence carries only the class of v_{{k+1}}; "
                "use 'decision'"
            )
        if p.order != "hard":
            raise EncodingError(
                f"order {p.order!r}: the encoding gives speaker i the block of layer k-i "
                "(the 'hard' order)"
            )
        if self.length is not None and self.length < sequence_length(p.q, p.k):
            raise EncodingError(
                f"length = {self.length} is shorter than 2kq + 1 = {sequence_length(p.q, p.k)}"
            )

    @property
    def k(self) -> int:
        return self.problem.k

    @property
    def q(self) -> int:
        return self.problem.q

    def sample(self, batch: int, seed=None) -> HopInstance:
        """Sample ``batch`` pointer-chasing instances and encode them."""
        return encode(self.problem.sample(batch, seed=seed), self.length)

    def inputs(self, instances: HopInstance) -> list[np.ndarray]:
        """Speaker i's token chunk (the block of layer k-i; the last also the final token)."""
        return instances.inputs()

    def public(self, instances: HopInstance) -> dict[str, np.ndarray]:
        """Nothing: in the sequence world every fact sits in some speaker's chunk."""
        return {}

    def answer(self, instances: HopInstance) -> np.ndarray:
        """``(B,)`` the expected ``hop_k`` token at position N-1: ``2q + class(v_{k+1})``."""
        inst = decode(instances, classes=self.problem.class_array)
        return class_token(self.q, 0) + inst.decision()


def hop_last(h: HopInstance) -> np.ndarray:
    """``(B,)`` ``hop_k(tokens)[N-1]`` of encoded sequences (used in examples and tests).

    Examples
    --------
    >>> from protocols import PointerChasing
    >>> hop_last(encode(PointerChasing(q=2, k=1).instances([[[1, 0]]], start=[0]))).tolist()
    [5]
    """
    return hop(h.tokens, h.k)[:, -1].astype(np.int64)
