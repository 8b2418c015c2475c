"""One seed in, reproducible randomness out.

Every random function in kparty takes ``seed`` (``None``, an int, a
:class:`numpy.random.SeedSequence` or a :class:`numpy.random.Generator`).
Children are derived by *spawn keys* rather than ``SeedSequence.spawn`` so that
deriving never mutates the caller's object: the same seed gives the same
children however often it is used.
"""

from __future__ import annotations

from typing import TypeAlias

import numpy as np

__all__ = ["Seed", "as_seed_sequence", "child_seed", "as_generator"]

Seed: TypeAlias = int | np.random.SeedSequence | np.random.Generator | None


def as_seed_sequence(seed: Seed) -> np.random.SeedSequence:
    """Normalise any accepted seed to a :class:`numpy.random.SeedSequence`.

    Examples
    --------
    >>> as_seed_sequence(7).entropy
    7
    >>> as_seed_sequence(as_seed_sequence(7)).entropy
    7
    """
    if isinstance(seed, np.random.SeedSequence):
        return seed
    if isinstance(seed, np.random.Generator):
        # Drawing entropy advances the generator, as any use of a Generator does.
        return np.random.SeedSequence(int(seed.integers(0, 2**63)))
    if seed is None or isinstance(seed, (int, np.integer)):
        if seed is not None and int(seed) < 0:
            raise ValueError(f"seed {seed} is negative; seeds are non-negative integers")
        return np.random.SeedSequence(None if seed is None else int(seed))
    raise TypeError(f"seed {seed!r} is not None, an int, a SeedSequence or a Generator")


def child_seed(seed: Seed, *key: int) -> np.random.SeedSequence:
    """The child of ``seed`` at spawn key ``key`` (deterministic, no mutation).

    Examples
    --------
    >>> a = child_seed(1, 0, 3).generate_state(1)
    >>> b = child_seed(1, 0, 3).generate_state(1)
    >>> bool((a == b).all())
    True
    """
    root = as_seed_sequence(seed)
    return np.random.SeedSequence(
        root.entropy, spawn_key=tuple(root.spawn_key) + tuple(int(x) for x in key)
    )


def as_generator(seed: Seed) -> np.random.Generator:
    """A :class:`numpy.random.Generator` for ``seed`` (a Generator is used as is).

    Examples
    --------
    >>> int(as_generator(0).integers(10)) == int(as_generator(0).integers(10))
    True
    """
    if isinstance(seed, np.random.Generator):
        return seed
    return np.random.default_rng(as_seed_sequence(seed))
