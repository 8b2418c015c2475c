"""The ``"trained"`` cell kind: train (or reuse cached weights) → quantise → compile → verify → measure.

One cell trains a ``family`` model with JAX (:func:`reductions.training.train`, the
optional extra ``train``) on a task — encoded pointer chasing (``task =
"pointer-chasing"``, ``q``, ``k``) or k-hop sequences (``task = "hop"``, ``k``,
``n``, ``alphabet``) — keeps it in ``precision``-bit fixed point, and measures it:

- pointer chasing: the compiled protocol runs through the engine on ``trials``
  fresh instances (:func:`reductions.verify.pointer_chasing_success`), every
  output and message checked against the fixed-point model (a mismatch raises);
  the row holds the protocol's success with its Clopper–Pearson interval, its R
  and s, and in ``extra`` the float and fixed-point models' success on the same
  instances;
- hop: the token accuracy of the float and the fixed-point model on fresh
  sequences (``success`` is the fixed-point accuracy; no protocol is involved).

Weights are cached (:func:`reductions.training.train_cached`): with ``KPARTY_WEIGHTS_CACHE`` naming
a folder (the figures job sets ``OUT/weights``), a cell whose weights are there
loads them instead of training, so a resumed or re-plotted run never retrains.
The file name hashes the cell's parameters and seed, and training is
deterministic for a seed, so a cached and a fresh run give the same row.  On a
Dask cluster whose workers cannot see that folder the cells simply train.

Examples
--------
>>> from lowerbounds.cells import make_cell
>>> row = make_cell("trained", dict(family="gru", task="pointer-chasing", q=3, k=2, layers=1,
...                                 width=4, steps=5, trials=20)).run(0)
>>> row["R"], row["s"], row["trials"], 0 <= row["success"] <= 1
(1, 64, 20, True)
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

from protocols import PointerChasing
from protocols.seeding import child_seed

from .cells import Param, canonical_key, register_cell_kind
from .errors import GridError
from .model_cells import parse_options

__all__ = ["trained_cell", "weights_cache", "training_missing", "CACHE_ENV", "TASKS"]

#: Environment variable naming the folder where trained weights are cached.
CACHE_ENV = "KPARTY_WEIGHTS_CACHE"
TASKS = ("pointer-chasing", "hop")


def training_missing() -> str | None:
    """Why trained cells cannot run here (the extra ``train`` is not installed), or None when they can.

    Examples
    --------
    >>> training_missing() is None or "pip install" in training_missing()
    True
    """
    absent = [m for m in ("jax", "optax") if importlib.util.find_spec(m) is None]
    if absent:
        return (f"trained models need the optional extra 'train' ({', '.join(absent)} not installed): "
                "pip install -e '.[train]'")
    return None


@contextmanager
def weights_cache(folder: str | os.PathLike) -> Iterator[None]:
    """Cache trained weights in ``folder`` within the block, unless ``KPARTY_WEIGHTS_CACHE`` is already set.

    Examples
    --------
    >>> import tempfile
    >>> with weights_cache(tempfile.mkdtemp()):
    ...     CACHE_ENV in os.environ
    True
    """
    if os.environ.get(CACHE_ENV):
        yield
        return
    os.environ[CACHE_ENV] = str(Path(folder).resolve())
    try:
        yield
    finally:
        os.environ.pop(CACHE_ENV, None)


def _check(params: Mapping[str, Any]) -> None:
    from reductions.models.float_forward import FLOAT_FAMILIES

    if params["family"] not in FLOAT_FAMILIES:
        raise GridError(f"family = {params['family']!r} has no trainer; trainable: {', '.join(FLOAT_FAMILIES)}")
    if params["task"] == "pointer-chasing" and params["q"] < 2:
        raise GridError(f"q = {params['q']}; a pointer-chasing task needs q >= 2")
    if params["task"] == "hop" and params["n"] < 1:
        raise GridError(f"n = {params['n']}; a hop task needs a sequence length n >= 1")
    parse_options(params["options"])


def _cache_path(params: Mapping[str, Any], seed: np.random.SeedSequence) -> Path | None:
    folder = os.environ.get(CACHE_ENV)
    if not folder:
        return None
    ident = f"{canonical_key('trained', params)}|{seed.entropy}|{tuple(seed.spawn_key)}"
    digest = hashlib.sha256(ident.encode("utf-8")).hexdigest()[:20]
    return Path(folder) / f"{params['family']}-{digest}.safetensors"


def _trained(params: Mapping[str, Any], seed: np.random.SeedSequence) -> tuple[Any, dict[str, Any]]:
    """The trained model and its training metrics (from the cache when it holds this configuration)."""
    from reductions.training import TrainingDiverged, make_task

    if params["task"] == "hop":
        task = make_task("hop", k=params["k"], n=params["n"], alphabet=params["alphabet"])
    else:
        task = make_task("pointer-chasing", q=params["q"], k=params["k"])
    kw = dict(layers=params["layers"], width=params["width"], steps=params["steps"], batch=params["batch"],
              learning_rate=params["learning_rate"], seed=int(seed.generate_state(1)[0]),
              precision=params["precision"], eval_batch=params["trials"],
              model_options=parse_options(params["options"]))
    path = _cache_path(params, seed)
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
    lr = params["learning_rate"]
    for attempt in range(3):
        try:
            res = _fit(params["family"], task, kw | {"learning_rate": lr}, path)
            break
        except TrainingDiverged:
            if attempt == 2:
                raise
            lr /= 4  # deterministic: a cell always takes the same retries, so its row stays reproducible
    return res.model, res.metrics.as_dict()


def _fit(family: str, task: Any, kw: dict[str, Any], path: Path | None) -> Any:
    from reductions.models.base import ModelError
    from reductions.training import TrainingDiverged, train, train_cached

    if path is None:
        return train(family, task, **kw)
    try:
        return train_cached(path, family, task, **kw)
    except TrainingDiverged:
        raise
    except ModelError:  # a damaged cache entry is retrained and replaced, never trusted
        path.unlink(missing_ok=True)
        return train_cached(path, family, task, **kw)


def trained_cell(params: Mapping[str, Any], seed: np.random.SeedSequence) -> dict[str, Any]:
    """Train (or load), quantise, compile, verify and measure one model; see the module docstring."""
    from reductions.models.weights import quantize
    from reductions.verify import pointer_chasing_success

    # Rows hold no wall-clock time and no cache state: the same (params, seed), the same row.
    model, metrics = _trained(params, child_seed(seed, 0))
    model = quantize(model, params["precision"])
    extra = {
        "task": params["task"],
        "train_accuracy": metrics["accuracy"],
        "train_fixed_accuracy": metrics["fixed_accuracy"],
        "train_decision_accuracy": metrics["decision_accuracy"],
        "learning_rate": metrics["learning_rate"],
        "steps": metrics["steps"],
        "layers": params["layers"],
        "width": params["width"],
        "precision": params["precision"],
    }
    if params["task"] == "hop":
        return {
            "name": params["family"], "k": params["k"], "N": params["n"] + 1, "R": params["layers"],
            "trials": metrics["eval_trials"], "success": metrics["fixed_accuracy"], "extra": extra,
        }
    rep = pointer_chasing_success(model, PointerChasing(q=params["q"], k=params["k"]), params["trials"],
                                  seed=child_seed(seed, 1), float_reference=True)
    lo, hi = rep.proportion_ci()
    extra |= {"fixed_success": rep.model_successes / rep.trials, "float_success": rep.float_successes / rep.trials,
              "agree": rep.agree}
    return {
        "name": params["family"], "q": rep.q, "k": rep.k, "N": rep.n, "R": rep.rounds, "s": rep.bits,
        "trials": rep.trials, "successes": rep.successes, "success": rep.success, "ci_low": lo, "ci_high": hi,
        "max_bits_used": rep.max_bits_used, "bits_written": rep.k * rep.rounds * rep.bits, "extra": extra,
    }


register_cell_kind(
    "trained",
    trained_cell,
    (
        Param("family", str),
        Param("task", str, "pointer-chasing", choices=TASKS),
        Param("k", int),
        Param("q", int, 0),
        Param("n", int, 0),
        Param("alphabet", int, 4),
        Param("layers", int, 1),
        Param("width", int, 32),
        Param("precision", int, 16),
        Param("steps", int, 300),
        Param("batch", int, 64),
        Param("learning_rate", float, 3e-3),
        Param("options", str, "{}"),
        Param("trials", int, 500),
    ),
    check=_check,
)
