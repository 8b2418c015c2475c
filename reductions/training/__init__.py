"""Training kparty models with JAX and optax — the optional extra ``train`` (``pip install -e '.[train]'``).

The trainers fit the float model of a family — the very equations of
:mod:`reductions.models.float_forward`, run with ``xp = jax.numpy`` — and
return an ordinary kparty model holding the trained float weights, ready to be
saved (:func:`reductions.models.weights.save`), quantised
(:func:`reductions.models.weights.quantize`), compiled and verified.

API
---
``train(family, task, layers=..., width=..., steps=..., seed=...) -> TrainResult``
    ``TrainResult.model`` (the trained model, fixed point at ``precision``) and
    ``TrainResult.metrics`` (:class:`TrainMetrics`: loss, token accuracy of the
    float and the fixed-point model on fresh samples, seconds, ...).
``train_cached(path, family, task, ...) -> TrainResult``
    :func:`train`, reusing the weight file at ``path`` when it holds a run of the same
    configuration (the metrics travel in the file's ``training`` metadata), else training
    and writing it.
``make_task(name, **params)``, ``hop_task(k, n, alphabet)``, ``pointer_chasing_task(q, k)``
    the tasks (:mod:`reductions.training.tasks`).
``TRAINABLE``
    families with a trainer.

Only this package imports JAX; without it, importing the package raises
:class:`MissingTrainExtra` (an ``ImportError``) with the install command.
"""

from __future__ import annotations

import os

from reductions.errors import ReductionsError


class MissingTrainExtra(ReductionsError, ImportError):
    """The optional extra ``train`` (jax, optax) is not installed (an ImportError, and a ReductionsError)."""


# XLA would otherwise probe for accelerators; training here is CPU-only by design.
os.environ.setdefault("JAX_PLATFORMS", "cpu")
try:
    import jax  # noqa: F401
    import optax  # noqa: F401
except ImportError as _exc:
    raise MissingTrainExtra(
        f"training needs the optional extra 'train' (jax, optax; {_exc.name} is missing): "
        "pip install -e '.[train]'"
    ) from None

from reductions.training.tasks import TASKS, TrainTask, hop_task, make_task, pointer_chasing_task  # noqa: E402
from reductions.training.trainer import (  # noqa: E402
    DEFAULT_STEPS,
    TRAINABLE,
    TrainingDiverged,
    TrainMetrics,
    TrainResult,
    train,
    train_cached,
)

__all__ = [
    "MissingTrainExtra", "TrainingDiverged", "train", "train_cached", "TrainResult", "TrainMetrics",
    "TRAINABLE", "DEFAULT_STEPS",
    "TrainTask", "TASKS", "make_task", "hop_task", "pointer_chasing_task",
]
