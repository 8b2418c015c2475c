"""What the engine needs from a communication problem."""

from __future__ import annotations

from typing import Any, runtime_checkable
from typing import Protocol as TypingProtocol

import numpy as np

from ..seeding import Seed

__all__ = ["Problem"]


@runtime_checkable
class Problem(TypingProtocol):
    """A distribution of k-party instances with a right answer.

    ``sample`` draws a batch; ``inputs`` splits it into the k speakers' inputs
    (speaking order); ``public`` is what every player knows; ``answer`` is the
    correct output per instance.
    """

    k: int

    def sample(self, batch: int, seed: Seed = None) -> Any: ...

    def inputs(self, instances: Any) -> list[np.ndarray]: ...

    def public(self, instances: Any) -> dict[str, np.ndarray]: ...

    def answer(self, instances: Any) -> np.ndarray: ...
