"""Pointer chasing on (q, k)-layered graphs (docs/definitions.md §2; [SHT24] Def. E.2, [AN21] Prop. 4.12).

Vertex layers V_1..V_{k+1} of size q (labels ``0..q-1``); edge layer E_j maps
V_j -> V_{j+1} and is a perfect matching (a permutation) — or, in the
``functions=True`` variant, any function.  Start at ``v_1 = start`` and follow
``v_{j+1} = E_j(v_j)``.  The decision version outputs the public class of
``v_{k+1}`` (default: ``u`` is in class 1 iff ``2u >= q``, i.e. labels below
q/2 are class 0); the search version outputs ``v_{k+1}``.

Who holds what.  In the *hard* order (the lower bound's) player P_j holds E_j
and the players speak P_k, ..., P_1 each round, so speaker ``i`` (0-based,
speaking order) holds ``E_{k-i}`` and the last speaker holds E_1.  In the
*easy* order speaker ``i`` holds ``E_{i+1}``: one round of ceil(log2 q) bits
then suffices, which is why order matters.  The start vertex is public.

Arrays: ``layers[j-1]`` is E_j, shape ``(B, q)``, ``layers[j-1][b, u] = E_j(u)``;
each layer is its own array so that no player's input is a view of another's.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

import numpy as np

from ..budget import require
from ..errors import InvalidInstance
from ..lazy_input import LazyInput, gather
from ..sealing import seal
from ..seeding import Seed, as_generator, as_seed_sequence, child_seed
from ..validation import check_int
from .lazy_matching import LazyMatching

__all__ = ["PointerChasing", "PointerChasingInstances"]


def _label_dtype(q: int) -> np.dtype:
    return np.dtype(np.uint8 if q <= 2**8 else np.uint16 if q <= 2**16 else np.uint32)


def random_permutations(rng: np.random.Generator, batch: int, q: int) -> np.ndarray:
    """``(batch, q)`` independent uniform permutations of ``0..q-1``, C-contiguous, smallest dtype.

    (``Generator.permuted`` of a broadcast array returns a Fortran-ordered copy,
    which makes every later row gather several times slower.)

    Examples
    --------
    >>> p = random_permutations(np.random.default_rng(0), 3, 5)
    >>> p.flags.c_contiguous, sorted(p[1].tolist())
    (True, [0, 1, 2, 3, 4])
    """
    out = np.empty((batch, q), dtype=_label_dtype(q))  # owns its memory: the engine hands it over uncopied
    out[...] = np.arange(q, dtype=out.dtype)
    return rng.permuted(out, axis=1, out=out)


@dataclass(frozen=True, eq=False)
class PointerChasingInstances:
    """A validated batch of pointer-chasing instances.

    Attributes
    ----------
    q, k : layer size and number of edge layers.
    layers : tuple of k arrays ``(B, q)``; ``layers[j-1]`` is E_j.
    start : ``(B,)`` start vertices in V_1.
    classes : ``(q,)`` public class (0/1) of each vertex of V_{k+1}.
    """

    q: int
    k: int
    layers: tuple[np.ndarray, ...]
    start: np.ndarray
    classes: np.ndarray

    @property
    def batch(self) -> int:
        return self.start.shape[0]

    def path(self) -> np.ndarray:
        """``(B, k+1)`` vertices v_1..v_{k+1} of the chase (for lazy layers: reads k entries per row)."""
        out = np.empty((self.batch, self.k + 1), dtype=np.int64)
        v = self.start.astype(np.int64)
        out[:, 0] = v
        for j, layer in enumerate(self.layers):
            v = gather(layer, v).astype(np.int64)
            out[:, j + 1] = v
        return out

    def endpoint(self) -> np.ndarray:
        """``(B,)`` the last vertex v_{k+1} (search version's answer)."""
        return self.path()[:, -1]

    def decision(self) -> np.ndarray:
        """``(B,)`` class of v_{k+1} (decision version's answer)."""
        return self.classes[self.endpoint()].astype(np.int64)

    def class_map(self) -> np.ndarray:
        """``(B, q)`` the class of E_k(u) for each u in V_k: all a k-hop encoding keeps of E_k."""
        return self.classes[self.layers[-1].astype(np.int64)]

    def __getitem__(self, idx) -> PointerChasingInstances:
        """Select instances along the batch axis (a copy)."""
        if any(isinstance(l, LazyInput) for l in self.layers):
            raise InvalidInstance("lazy instances cannot be sliced; sample the batch you need")
        sel = np.arange(self.batch)[idx]
        sel = np.atleast_1d(sel)
        return PointerChasingInstances(
            self.q,
            self.k,
            tuple(np.ascontiguousarray(l[sel]) for l in self.layers),
            self.start[sel].copy(),
            self.classes,
        )


@dataclass(frozen=True)
class PointerChasing:
    """The (q, k) pointer-chasing problem: sampler, validator and answers.

    Parameters
    ----------
    q : layer size, >= 2.   k : number of edge layers, >= 1.
    version : ``"decision"`` (1-bit class of v_{k+1}) or ``"search"`` (v_{k+1}).
    order : ``"hard"`` (speaker i holds E_{k-i}) or ``"easy"`` (speaker i holds E_{i+1}).
    functions : if True, layers are arbitrary functions instead of matchings.
    start : the public start vertex, or ``None`` for a uniform random start per instance.
    classes : optional public partition of V_{k+1} (q zeros/ones, balanced);
        default ``u -> int(2u >= q)``.
    hard : declare the hard distribution of the lower bound (docs/definitions.md
        §2.1): uniform independent matchings, fixed start, fixed equipartition,
        hard order.  Protocols may rely on it (e.g. share public orders across
        the batch); requires ``functions=False``, a fixed ``start`` and ``order="hard"``.
    lazy : sample each layer as a :class:`~protocols.problems.lazy_matching.LazyMatching`
        (entries drawn on first read, exact in distribution) instead of whole
        arrays; requires ``hard=True``.  A trial then costs what the protocol reads.

    Examples
    --------
    >>> pc = PointerChasing(q=4, k=2)
    >>> inst = pc.instances([[[1, 2, 3, 0]], [[3, 2, 1, 0]]], start=[0])
    >>> inst.path().tolist(), pc.answer(inst).tolist()
    ([[0, 1, 2]], [1])
    >>> [pc.layer_of(i) for i in range(2)]
    [2, 1]
    """

    q: int
    k: int
    version: Literal["decision", "search"] = "decision"
    order: Literal["hard", "easy"] = "hard"
    functions: bool = False
    start: int | None = 0
    classes: tuple[int, ...] | None = field(default=None)
    hard: bool = False
    lazy: bool = False

    @classmethod
    def hard_distribution(cls, q: int, k: int, version: str = "decision", lazy: bool = False) -> PointerChasing:
        """The lower bound's distribution (docs/definitions.md §2.1): start 0, classes ``2u >= q``.

        Examples
        --------
        >>> pc = PointerChasing.hard_distribution(64, 4, lazy=True)
        >>> pc.hard, pc.lazy, pc.start, pc.order
        (True, True, 0, 'hard')
        """
        return cls(q=q, k=k, version=version, hard=True, lazy=lazy)

    def __post_init__(self) -> None:
        check_int("q", self.q, low=2, error=InvalidInstance)  # vertices per layer
        if self.q > 2**32:
            raise InvalidInstance(f"q = {self.q}; vertex labels are stored in 32 bits, so q <= 2**32")
        check_int("k", self.k, low=1, error=InvalidInstance)  # edge layers
        if self.version not in ("decision", "search"):
            raise InvalidInstance(f"version {self.version!r} is not 'decision' or 'search'")
        if self.order not in ("hard", "easy"):
            raise InvalidInstance(f"order {self.order!r} is not 'hard' or 'easy'")
        if self.start is not None:
            check_int("start", self.start, error=InvalidInstance)
        if self.start is not None and not 0 <= self.start < self.q:
            raise InvalidInstance(f"start vertex {self.start} outside V_1 = 0..{self.q - 1}")
        if self.hard and (self.functions or self.start is None or self.order != "hard"):
            raise InvalidInstance(
                f"hard=True declares uniform matchings, a fixed start and the hard order; got "
                f"functions={self.functions}, start={self.start}, order={self.order!r}"
            )
        if self.lazy and not self.hard:
            raise InvalidInstance("lazy=True needs hard=True: lazy layers are uniform matchings drawn on first read")
        if self.classes is not None:
            c = np.asarray(self.classes)
            if c.shape != (self.q,) or not np.isin(c, (0, 1)).all():
                raise InvalidInstance(f"classes must be q = {self.q} values in {{0, 1}}, got shape {c.shape}")
            if abs(int(c.sum()) - self.q // 2) > (self.q % 2):
                raise InvalidInstance(
                    f"classes put {int(c.sum())} of {self.q} vertices in class 1; the partition must be balanced"
                )

    # -- who holds what -------------------------------------------------
    def layer_of(self, speaker: int) -> int:
        """The 1-based index j of the edge layer E_j that ``speaker`` holds."""
        if not 0 <= speaker < self.k:
            raise InvalidInstance(f"speaker {speaker} outside 0..{self.k - 1}")
        return self.k - speaker if self.order == "hard" else speaker + 1

    def speaker_of(self, layer: int) -> int:
        """The speaker (0-based, speaking order) who holds E_layer."""
        if not 1 <= layer <= self.k:
            raise InvalidInstance(f"layer {layer} outside 1..{self.k}")
        return self.k - layer if self.order == "hard" else layer - 1

    @property
    def class_array(self) -> np.ndarray:
        """``(q,)`` public class of each vertex of V_{k+1}."""
        if self.classes is not None:
            return np.asarray(self.classes, dtype=np.uint8)
        # u is in class 1 iff 2u >= q, i.e. u >= ceil(q/2) (no 2u overflow, no int64 temporary).
        return (np.arange(self.q, dtype=_label_dtype(self.q)) >= (self.q + 1) // 2).view(np.uint8)

    @property
    def answer_values(self) -> int:
        """How many distinct answers there are: 2 (decision) or q (search)."""
        return 2 if self.version == "decision" else self.q

    # -- instances -------------------------------------------------------
    def instance_bytes(self) -> int:
        """Bytes one sampled instance occupies: k layers of q labels, its start, chase path and answer.

        A lazy instance (:class:`~protocols.problems.lazy_matching.LazyMatching`)
        holds per layer a bitmap of used images (q/8 bytes) and a draw count
        instead of q labels; the entries a protocol reads later are that
        protocol's cost, declared by its ``scratch_bytes()``.

        Examples
        --------
        >>> PointerChasing(q=256, k=4).instance_bytes()  # 4 layers of 256 one-byte labels + 56
        1080
        >>> PointerChasing.hard_distribution(256, 4, lazy=True).instance_bytes()  # 4 bitmaps of 32 bytes, 4 counts + 56
        216
        """
        layer = (self.q + 7) // 8 + 8 if self.lazy else self.q * _label_dtype(self.q).itemsize
        return self.k * layer + 8 + 8 * (self.k + 1) + 8

    def sample(self, batch: int, seed: Seed = None) -> PointerChasingInstances:
        """Draw ``batch`` uniform instances (independent uniform layers; sealed arrays, docs/definitions.md §1.1).

        Examples
        --------
        >>> inst = PointerChasing(q=5, k=3).sample(4, seed=0)
        >>> len(inst.layers), inst.layers[0].shape, sorted(inst.layers[0][0].tolist())
        (3, (4, 5), [0, 1, 2, 3, 4])
        """
        batch = check_int("batch", batch, low=1, error=InvalidInstance)
        if self.lazy:
            return self._sample_lazy(batch, seed)
        # Checked before anything is allocated: the whole batch (chunk callers: see protocols.budget).
        require(batch * self.instance_bytes(), f"{batch} pointer-chasing instance(s) with q = {self.q}, k = {self.k}")
        rng = as_generator(seed)
        dt = _label_dtype(self.q)
        if self.functions:
            layers = tuple(rng.integers(0, self.q, (batch, self.q), dtype=dt) for _ in range(self.k))
        else:
            layers = tuple(random_permutations(rng, batch, self.q) for _ in range(self.k))
        if self.start is None:
            start = rng.integers(0, self.q, batch).astype(np.int64)
        else:
            start = np.full(batch, self.start, dtype=np.int64)
        # Sealed (immutable) once here, so the engine hands them to speakers without copying.
        return PointerChasingInstances(self.q, self.k, tuple(map(seal, layers)), seal(start), self.class_array)

    def _sample_lazy(self, batch: int, seed: Seed) -> PointerChasingInstances:
        # Layer j draws from its own child seed: no generator or storage is shared between holders.
        root = as_seed_sequence(seed)
        layers = tuple(
            LazyMatching(batch, self.q, seed=child_seed(root, j), dtype=_label_dtype(self.q)) for j in range(self.k)
        )
        start = np.full(batch, self.start, dtype=np.int64)
        inst = PointerChasingInstances(self.q, self.k, layers, start, self.class_array)
        inst.path()  # fix the answer now (reads one entry per layer and row), before any protocol runs
        return inst

    def instances(
        self, layers: Sequence | np.ndarray, start: Sequence[int] | np.ndarray | None = None
    ) -> PointerChasingInstances:
        """Validate user-given layers ``(k, B, q)`` (or a list of k ``(B, q)``) and starts ``(B,)``.

        Raises :class:`~protocols.errors.InvalidInstance` naming the layer,
        instance and value that break the rules.
        """
        arrs = [np.asarray(l) for l in layers]
        if len(arrs) != self.k:
            raise InvalidInstance(f"got {len(arrs)} edge layers; k = {self.k}")
        batch = arrs[0].shape[0] if arrs[0].ndim == 2 else -1
        for j, a in enumerate(arrs, start=1):
            if a.ndim != 2 or a.shape != (batch, self.q):
                raise InvalidInstance(f"layer E_{j} has shape {a.shape}; expected (B, q) = ({batch}, {self.q})")
            if a.dtype.kind not in "iu":
                raise InvalidInstance(f"layer E_{j} has dtype {a.dtype}; vertex labels are integers")
            if a.size and (a.min() < 0 or a.max() >= self.q):
                bad = a[(a < 0) | (a >= self.q)].flat[0]
                raise InvalidInstance(f"layer E_{j} maps to vertex {bad}, outside V_{j + 1} = 0..{self.q - 1}")
            if not self.functions:
                _check_matching(a, j, self.q)
        if start is None:
            if self.start is None:
                raise InvalidInstance("this problem has random starts (start=None); pass start=(B,) vertices")
            s = np.full(batch, self.start, dtype=np.int64)
        else:
            s = np.asarray(start).astype(np.int64).reshape(-1)
            if s.shape != (batch,):
                raise InvalidInstance(f"start has shape {np.shape(start)}; expected ({batch},)")
            if s.size and (s.min() < 0 or s.max() >= self.q):
                raise InvalidInstance(f"start vertex {s[(s < 0) | (s >= self.q)][0]} outside V_1 = 0..{self.q - 1}")
        dt = _label_dtype(self.q)
        return PointerChasingInstances(self.q, self.k, tuple(np.array(a, dtype=dt) for a in arrs), s, self.class_array)

    def validate(self, inst: PointerChasingInstances) -> PointerChasingInstances:
        """Re-check an instance batch against this problem (shape, range, matchings)."""
        if (inst.q, inst.k) != (self.q, self.k):
            raise InvalidInstance(f"instances have (q, k) = {(inst.q, inst.k)}; problem has {(self.q, self.k)}")
        return self.instances(inst.layers, inst.start)

    # -- the engine's view -----------------------------------------------
    def inputs(self, inst: PointerChasingInstances) -> list[np.ndarray]:
        """Per-speaker inputs in speaking order: speaker i gets ``E_{layer_of(i)}`` as ``(B, q)``."""
        return [inst.layers[self.layer_of(i) - 1] for i in range(self.k)]

    def public(self, inst: PointerChasingInstances) -> dict[str, np.ndarray]:
        """What every player knows: the start vertices."""
        return {"start": inst.start}

    def endpoint(self, inst: PointerChasingInstances) -> np.ndarray:
        """``(B,)`` v_{k+1}."""
        return inst.endpoint()

    def answer(self, inst: PointerChasingInstances) -> np.ndarray:
        """``(B,)`` the correct output: class of v_{k+1} (decision) or v_{k+1} (search)."""
        return inst.decision() if self.version == "decision" else inst.endpoint()


def _check_matching(a: np.ndarray, j: int, q: int) -> None:
    srt = np.sort(a, axis=1)
    dup = srt[:, 1:] == srt[:, :-1]
    if dup.any():
        b, pos = np.argwhere(dup)[0]
        raise InvalidInstance(
            f"layer E_{j} of instance {b} is not a matching: vertex {srt[b, pos]} of V_{j + 1} "
            f"is the image of two vertices (rule: each E_j is a permutation of 0..{q - 1})"
        )
