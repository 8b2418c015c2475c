"""One trainer for every family with a float forward: Adam on the masked cross-entropy (JAX, CPU).

The loss is computed from :func:`reductions.models.float_forward.float_logits`
with ``xp = jax.numpy`` — the same equations as the model's float64
reference.  After every update each weight is clipped to the range of the
fixed-point format ``FixedPoint(p, f)`` the model is trained for, so the
trained weights always quantise (a weight outside the range would not be a
p-bit number).  Batches are fresh samples, batch ``i`` drawn with
``child_seed(seed, 1, i)``; the initial weights are the family's
``random(..., seed=child_seed(seed, 0))``; evaluation uses ``child_seed(seed, 2)``.
Same seed, same weights (XLA on CPU is deterministic).

Examples
--------
>>> from reductions.training.tasks import hop_task
>>> r = train("gru", hop_task(k=1, n=6, alphabet=3), layers=1, width=4, steps=3, batch=8, eval_batch=16, seed=0)
>>> r.model.family, r.metrics.steps, 0.0 <= r.metrics.accuracy <= 1.0
('gru', 3, True)
"""

from __future__ import annotations

import functools
import json
import sys
import time
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optax
from tqdm import tqdm

from protocols.seeding import child_seed
from reductions.models import MODELS
from reductions.models.base import ModelError, SequenceModel, default_frac
from reductions.models.float_forward import FLOAT_FAMILIES, float_logits
from reductions.models.weights import load, save, training_record
from reductions.training.tasks import TrainTask

__all__ = ["train", "train_cached", "TrainingDiverged", "TrainResult", "TrainMetrics", "TRAINABLE", "DEFAULT_STEPS"]

#: Families with a trainer (those with a float forward written for numpy and JAX).
TRAINABLE = FLOAT_FAMILIES

#: Steps when ``steps`` is not given.
DEFAULT_STEPS = 1500


class TrainingDiverged(ModelError):
    """The training loss became NaN or infinite (a smaller learning rate usually cures it)."""


@dataclass(frozen=True)
class TrainMetrics:
    """What a training run measured.

    ``accuracy``: token accuracy of the float model (numpy float64, trained
    weights) on ``eval_trials`` fresh sequences, over the task's scored
    positions; ``fixed_accuracy``: the same for the fixed-point model at
    ``precision``; ``decision_accuracy``: float model at the last position only
    (for pointer chasing: the decision ``2q + class(v_{k+1})``); ``loss``: mean
    training loss over the last 10% of steps; ``seconds``: wall time of the run.
    """

    family: str
    task: str
    task_params: dict
    layers: int
    width: int
    precision: int
    frac: int
    steps: int
    batch: int
    learning_rate: float
    seed: int
    loss: float
    accuracy: float
    fixed_accuracy: float
    decision_accuracy: float
    eval_trials: int
    seconds: float

    def as_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True, eq=False)
class TrainResult:
    """A trained model (float weights; fixed point at the trained precision) and its metrics."""

    model: SequenceModel
    metrics: TrainMetrics

    def __iter__(self):
        """``model, metrics = train(...)``."""
        return iter((self.model, self.metrics))


def _positive(name: str, v: Any) -> int:
    if not isinstance(v, (int, np.integer)) or isinstance(v, bool) or v < 1:
        raise ModelError(f"{name} = {v!r}; {name} must be a positive integer")
    return int(v)


@functools.lru_cache(maxsize=16)
def _optimiser(family: str, hyper_json: str, learning_rate: float, limit: float):
    """Adam and the jitted update step for one model configuration (cached: runs of the same
    configuration, e.g. several seeds, compile once)."""
    hyper = json.loads(hyper_json)
    opt = optax.chain(optax.clip_by_global_norm(1.0), optax.adam(learning_rate))

    def loss_fn(p, x, y, mask):
        logits = float_logits(family, p, hyper, x, xp=jnp)
        ce = optax.softmax_cross_entropy_with_integer_labels(logits, y)
        return jnp.sum(ce * mask) / jnp.maximum(jnp.sum(mask), 1.0)

    @jax.jit
    def step(p, s, x, y, mask):
        loss, grads = jax.value_and_grad(loss_fn)(p, x, y, mask)
        updates, s = opt.update(grads, s, p)
        p = optax.apply_updates(p, updates)
        # keep every weight a p-bit number: the fixed-point model must exist for the trained weights
        return jax.tree_util.tree_map(lambda a: jnp.clip(a, -limit, limit), p), s, loss

    return opt, step


def train(
    family: str,
    task: TrainTask,
    *,
    layers: int = 1,
    width: int = 32,
    steps: int | None = None,
    batch: int = 64,
    learning_rate: float = 3e-3,
    seed: int = 0,
    precision: int = 16,
    frac: int | None = None,
    eval_batch: int = 512,
    model_options: Mapping[str, Any] | None = None,
    progress: bool = False,
) -> TrainResult:
    """Train a ``family`` model on ``task`` and return it with its metrics.

    Parameters
    ----------
    family : one of :data:`TRAINABLE` (``elman``, ``gru``, ``lstm``, ``ssm``, ``kernel``, ``transformer``).
    task : a :class:`~reductions.training.tasks.TrainTask` (``make_task("hop", k=1, n=32, alphabet=4)``).
    layers, width : L and m.
    steps : optimiser steps (default :data:`DEFAULT_STEPS`); batch : sequences per step.
    learning_rate : Adam's step size (gradients clipped to global norm 1).
    seed : an int; same seed, same model.
    precision, frac : the fixed-point format ``FixedPoint(p, f)`` (f default p - 4, range [-8, 8)) the
        weights are kept inside and ``fixed_accuracy`` is measured in.  A smaller f widens the range
        activations saturate at (e.g. p = 16, f = 8: [-128, 128)), which trained SSMs and kernel models need.
    eval_batch : fresh sequences the accuracies are measured on.
    model_options : extra keyword options of the family's ``random`` (e.g. ``{"state_size": 4}``,
        ``{"heads": 2}``); attention families get ``max_len = task.length`` unless given.
    progress : show a tqdm progress bar on stderr.
    """
    if family not in TRAINABLE:
        raise ModelError(f"family {family!r} has no trainer; trainable families: {list(TRAINABLE)}")
    if not isinstance(task, TrainTask):
        raise ModelError(f"task must be a TrainTask (see reductions.training.make_task); got {type(task).__name__}")
    steps = DEFAULT_STEPS if steps is None else _positive("steps", steps)
    batch, eval_batch = _positive("batch", batch), _positive("eval_batch", eval_batch)
    if not (isinstance(learning_rate, (int, float)) and 0 < learning_rate < 1):
        raise ModelError(f"learning_rate = {learning_rate!r}; it must be a number in (0, 1)")
    seed = int(seed)
    t0 = time.perf_counter()
    cls = MODELS[family]
    options = dict(model_options or {})
    if family in ("kernel", "transformer"):
        options.setdefault("max_len", task.length)
        if options["max_len"] < task.length:
            raise ModelError(f"max_len = {options['max_len']} is shorter than the task's sequences ({task.length})")
    init = cls.random(vocab=task.vocab, layers=_positive("layers", layers), width=_positive("width", width),
                      precision=_positive("precision", precision), frac=frac, seed=child_seed(seed, 0), **options)
    hyper = init.hyper()
    params = {k: jnp.asarray(v, dtype=jnp.float32) for k, v in init.params().items()}
    opt, step = _optimiser(family, json.dumps(hyper, sort_keys=True), float(learning_rate), float(init.fmt.max_value))
    opt_state = opt.init(params)
    losses = []
    bar = tqdm(range(steps), desc=f"train {family}", file=sys.stderr, disable=not progress, leave=False)
    for i in bar:
        x, y, mask = task.sample(batch, seed=child_seed(seed, 1, i))
        params, opt_state, loss = step(params, opt_state, x, y, mask.astype(np.float32))
        losses.append(loss)
        if progress and i % 50 == 0:
            bar.set_postfix(loss=f"{float(loss):.3f}")
    bar.close()
    tail = np.asarray(jax.device_get(losses[-max(1, steps // 10):]), dtype=np.float64)
    if not np.isfinite(tail).all():
        raise TrainingDiverged(f"training {family} diverged (loss {tail[-1]}); lower the learning rate")
    model = cls(params={k: np.asarray(v, dtype=np.float64) for k, v in params.items()}, **hyper)
    x, y, mask = task.sample(eval_batch, seed=child_seed(seed, 2))
    flt, fixed = model.forward_float(x), model.forward(x)
    metrics = TrainMetrics(
        family=family, task=task.name, task_params=dict(task.params), layers=model.layers, width=model.width,
        precision=model.fmt.p, frac=model.fmt.f, steps=steps, batch=batch, learning_rate=float(learning_rate),
        seed=seed, loss=float(tail.mean()), accuracy=float((flt == y)[mask].mean()),
        fixed_accuracy=float((fixed == y)[mask].mean()), decision_accuracy=float((flt[:, -1] == y[:, -1]).mean()),
        eval_trials=eval_batch, seconds=round(time.perf_counter() - t0, 3),
    )
    return TrainResult(model, metrics)


#: TrainMetrics fields that describe the run asked for (the rest are what it measured).
_CONFIG = ("family", "task", "task_params", "layers", "width", "precision", "frac", "steps", "batch", "learning_rate",
           "seed", "eval_trials")


def train_cached(path: str | Path, family: str, task: TrainTask, **kwargs: Any) -> TrainResult:
    """:func:`train`, reusing the weight file ``path`` when it holds a run of the same configuration.

    The file is written by :func:`reductions.models.weights.save` with the metrics in its
    ``training`` metadata; a file from another configuration (or without that entry) is
    retrained and replaced.  Same arguments as :func:`train`; ``progress`` and the
    wall-clock ``seconds`` do not count as configuration.

    Examples
    --------
    >>> import os, tempfile
    >>> from reductions.training.tasks import hop_task
    >>> path = os.path.join(tempfile.mkdtemp(), "gru.safetensors")
    >>> a = train_cached(path, "gru", hop_task(1, 4, 3), width=2, steps=2, batch=4, eval_batch=4)
    >>> b = train_cached(path, "gru", hop_task(1, 4, 3), width=2, steps=2, batch=4, eval_batch=4)
    >>> b.metrics == a.metrics, b.model.params()["embedding"].tolist() == a.model.params()["embedding"].tolist()
    (True, True)
    """
    path = Path(path)
    result = None
    if path.is_file():
        record = training_record(path)
        want = _config_of(family, task, kwargs)
        if record is not None and {k: record.get(k) for k in _CONFIG} == want \
                and record.get("model_options", {}) == dict(kwargs.get("model_options") or {}):
            record.pop("model_options", None)
            result = TrainResult(load(path), TrainMetrics(**record))
    if result is None:
        result = train(family, task, **kwargs)
        options = dict(kwargs.get("model_options") or {})
        save(result.model, path, training=result.metrics.as_dict() | {"model_options": options})
    return result


def _config_of(family: str, task: TrainTask, kwargs: Mapping[str, Any]) -> dict:
    """The configuration fields of the TrainMetrics ``train(family, task, **kwargs)`` would return."""
    defaults = {"layers": 1, "width": 32, "steps": DEFAULT_STEPS, "batch": 64, "learning_rate": 3e-3, "seed": 0,
                "precision": 16, "frac": None, "eval_batch": 512}
    kw = defaults | {k: v for k, v in kwargs.items() if k in defaults and v is not None}
    return {"family": family, "task": task.name, "task_params": dict(task.params), "layers": kw["layers"],
            "width": kw["width"], "precision": kw["precision"],
            "frac": default_frac(kw["precision"]) if kw["frac"] is None else kw["frac"], "steps": kw["steps"],
            "batch": kw["batch"],
            "learning_rate": float(kw["learning_rate"]), "seed": int(kw["seed"]), "eval_trials": kw["eval_batch"]}
