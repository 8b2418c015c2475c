"""Weights in and out: safetensors files, PyTorch state_dict names, quantisation (docs/weights.md).

A kparty weight file is a ``safetensors`` file (read and written with
:mod:`safetensors.numpy`; torch is never needed) whose tensors are exactly the
model's ``params()`` and whose metadata (string → string) says what model
they belong to: ``format = "kparty"``, ``family`` (a key of
:data:`reductions.models.MODELS`) and one entry per hyper-parameter of
``model.hyper()``, each value JSON-encoded (``"32"``, ``"true"``,
``"[0, 1, 2]"``).  So :func:`load` needs nothing but the file.

Files written by other tools load too: a file with no kparty metadata is read
with ``family=`` given by the caller; for Elman/GRU/LSTM the hyper-parameters
are then read off the tensor shapes, and PyTorch's state_dict names of a
module ``embedding = nn.Embedding(V, m)``, ``<any name> = nn.RNN/GRU/LSTM(m, m,
L)``, ``readout = nn.Linear(m, V)`` are accepted (:func:`from_state_dict`).

Every model holds its float weights; the fixed-point model is those weights
quantised to ``FixedPoint(p, f)``.  :func:`quantize` gives the same float
weights at another precision, and :func:`float_agreement` counts how often the
fixed-point model's output tokens equal the float model's.

Every failure is a :class:`~reductions.models.base.ModelError` (a
``ValueError``: one line and exit 2 on the command line) naming the file and
the tensor.

Examples
--------
>>> import os, tempfile
>>> from reductions.models import GRU
>>> path = os.path.join(tempfile.mkdtemp(), "gru.safetensors")
>>> save(GRU.random(vocab=4, layers=1, width=3, seed=0), path)
>>> m = load(path)
>>> m, quantize(m, 10)
(GRU(vocab=4, layers=1, width=3, p=16, f=12), GRU(vocab=4, layers=1, width=3, p=10, f=6))
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from safetensors import SafetensorError
from safetensors.numpy import safe_open, save_file

from reductions.models import MODELS
from reductions.models.base import ModelError, SequenceModel

__all__ = ["save", "load", "read_weights", "training_record", "RESERVED", "from_state_dict", "quantize",
           "float_agreement", "FloatAgreement",
           "FORMAT"]

#: The ``format`` metadata entry of files written by :func:`save`.
FORMAT = "kparty"

_TORCH_RNN = {"elman": "RNN", "gru": "GRU", "lstm": "LSTM"}
_GATES = {"elman": 1, "gru": 3, "lstm": 4}


#: Metadata keys that are not hyper-parameters: the format tag, the family, and how the weights were made.
RESERVED = ("format", "family", "training")


def save(model: SequenceModel, path: str | Path, training: Mapping[str, Any] | None = None) -> None:
    """Write ``model``'s float weights and its family and hyper-parameters to a safetensors file.

    ``training`` (JSON-able, e.g. :meth:`reductions.training.TrainMetrics.as_dict`) is stored
    as the ``training`` metadata entry: how the weights were made (:func:`training_record`).

    Examples
    --------
    >>> import os, tempfile
    >>> from reductions.models import SelectiveSSM
    >>> path = os.path.join(tempfile.mkdtemp(), "ssm.safetensors")
    >>> save(SelectiveSSM.random(vocab=3, layers=1, width=2, state_size=2, seed=0), path)
    >>> read_weights(path)[1]["family"], sorted(read_weights(path)[0])[:3]
    ('ssm', ['A_log_l0', 'B_l0', 'C_l0'])
    """
    meta = {"format": FORMAT, "family": model.family}
    meta |= {k: json.dumps(v) for k, v in model.hyper().items()}
    if training is not None:
        meta["training"] = json.dumps(dict(training), sort_keys=True)
    tensors = {k: np.ascontiguousarray(v) for k, v in model.params().items()}
    # write beside the target, then rename: a run killed mid-write never leaves a truncated weight file
    target = Path(path)
    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    try:
        save_file(tensors, str(tmp), metadata=meta)
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)


def read_weights(path: str | Path) -> tuple[dict[str, np.ndarray], dict[str, str]]:
    """The tensors and the metadata of a safetensors file (any writer).

    Raises :class:`ModelError` naming the file when it is missing or not a safetensors file.
    """
    p = Path(path)
    if not p.is_file():
        raise ModelError(f"weight file {p} does not exist")
    try:
        with safe_open(str(p), framework="np") as f:
            meta = dict(f.metadata() or {})
            tensors = {k: f.get_tensor(k) for k in f.keys()}  # noqa: SIM118 (safe_open has no __iter__)
    except (SafetensorError, OSError, ValueError, TypeError) as exc:
        raise ModelError(f"{p} is not a readable safetensors file: {' '.join(str(exc).split())}") from None
    return tensors, meta


def _hyper_from_meta(path: Path, meta: Mapping[str, str]) -> dict[str, Any]:
    hyper = {}
    for k, v in meta.items():
        if k in RESERVED:
            continue
        try:
            hyper[k] = json.loads(v)
        except json.JSONDecodeError:
            raise ModelError(f"{path}: metadata entry {k!r} = {v!r} is not JSON") from None
    return hyper


def training_record(path: str | Path) -> dict | None:
    """The ``training`` metadata entry of a weight file (how its weights were made), or None.

    Examples
    --------
    >>> import os, tempfile
    >>> from reductions.models import GRU
    >>> path = os.path.join(tempfile.mkdtemp(), "gru.safetensors")
    >>> save(GRU.random(vocab=3, layers=1, width=2, seed=0), path, training={"steps": 10})
    >>> training_record(path), load(path).width
    ({'steps': 10}, 2)
    """
    meta = read_weights(path)[1]
    if "training" not in meta:
        return None
    try:
        return json.loads(meta["training"])
    except json.JSONDecodeError:
        raise ModelError(f"{path}: metadata entry 'training' is not JSON") from None


def load(path: str | Path, family: str | None = None, **hyper: Any) -> SequenceModel:
    """Load a model from a safetensors file (its weights are kept as float; fixed point at its precision).

    Parameters
    ----------
    path : a file written by :func:`save`, or by any tool (then ``family`` is needed).
    family : the family when the file carries no kparty metadata (e.g. a PyTorch state_dict file).
    **hyper : hyper-parameters overriding or completing the file's (e.g. ``precision=12``).

    Examples
    --------
    >>> import os, tempfile
    >>> from safetensors.numpy import save_file
    >>> from reductions.models import LSTM
    >>> src = LSTM.random(vocab=3, layers=2, width=4, seed=0)
    >>> path = os.path.join(tempfile.mkdtemp(), "plain.safetensors")
    >>> save_file(src.params(), path)                      # another writer: no metadata
    >>> load(path, family="lstm")
    LSTM(vocab=3, layers=2, width=4, p=16, f=12)
    """
    p = Path(path)
    tensors, meta = read_weights(p)
    fam = meta.get("family") if family is None else family
    if fam is None:
        raise ModelError(f"{p} carries no 'family' in its metadata (not written by kparty); pass family= "
                         f"(one of {sorted(MODELS)})")
    if fam not in MODELS:
        raise ModelError(f"{p}: family {fam!r} is unknown; known families: {sorted(MODELS)}")
    if meta.get("family") not in (None, fam):
        raise ModelError(f"{p} holds a {meta['family']!r} model, not {fam!r}")
    if meta.get("format") == FORMAT:
        kw = _hyper_from_meta(p, meta) | hyper
        return _build(p, fam, tensors, kw)
    if fam in _TORCH_RNN:
        return from_state_dict(fam, tensors, where=str(p), **hyper)
    return _build(p, fam, tensors, dict(hyper))


def _build(where: Any, family: str, tensors: Mapping[str, Any], hyper: dict) -> SequenceModel:
    cls = MODELS[family]
    try:
        return cls(params=dict(tensors), **hyper)
    except TypeError as exc:
        raise ModelError(f"{where}: hyper-parameters {sorted(hyper)} do not fit a {family!r} model ({exc})") from None
    except ValueError as exc:
        raise ModelError(f"{where}: {' '.join(str(exc).split())}") from None


def _torch_names(sd: Mapping[str, Any]) -> dict[str, Any]:
    """PyTorch module names -> kparty names (``rnn.weight_ih_l0`` -> ``weight_ih_l0``, ``readout.weight``...)."""
    out: dict[str, Any] = {}
    for k, v in sd.items():
        m = re.fullmatch(r"(?:.+\.)?((?:weight|bias)_(?:ih|hh)_l\d+(?:_reverse)?)", k)
        name = m.group(1) if m else {"embedding.weight": "embedding", "readout.weight": "readout_weight",
                                      "readout.bias": "readout_bias"}.get(k, k)
        if name in out:
            raise ModelError(f"state_dict has two tensors named {name!r} after removing module prefixes")
        out[name] = v
    return out


def from_state_dict(family: str, state_dict: Mapping[str, Any], precision: int = 16, frac: int | None = None,
                    where: str = "state_dict", **extra: Any) -> SequenceModel:
    """An Elman/GRU/LSTM from a PyTorch-named state_dict, hyper-parameters read off the shapes.

    Accepted names: ``embedding.weight (V, m)`` (or ``embedding``), ``<prefix>.weight_ih_l{l}``,
    ``weight_hh_l{l}``, ``bias_ih_l{l}``, ``bias_hh_l{l}`` of ``torch.nn.RNN/GRU/LSTM`` (any
    module prefix), ``readout.weight (V, m)``, ``readout.bias (V,)`` (or ``readout_weight``,
    ``readout_bias``).  Tensors may be numpy arrays or torch tensors.

    Examples
    --------
    >>> from reductions.models import GRU
    >>> src = GRU.random(vocab=4, layers=2, width=3, seed=0)
    >>> sd = {("gru." + k if "_l" in k else k.replace("_", ".")): v for k, v in src.params().items()}
    >>> sorted(sd)[:3]
    ['embedding', 'gru.bias_hh_l0', 'gru.bias_hh_l1']
    >>> m = from_state_dict("gru", sd)
    >>> bool((m.forward([[0, 1, 2, 3]]) == src.forward([[0, 1, 2, 3]])).all())
    True
    """
    if family not in _TORCH_RNN:
        raise ModelError(f"family {family!r} has no PyTorch module naming; state_dict loading covers "
                         f"{sorted(_TORCH_RNN)}")
    sd = _torch_names(state_dict)
    if "embedding" not in sd or "weight_hh_l0" not in sd:
        raise ModelError(f"{where}: a {_TORCH_RNN[family]} state_dict needs 'embedding.weight' and "
                         f"'weight_hh_l0'; it has {sorted(state_dict)}")
    vocab, width = (int(d) for d in np.shape(sd["embedding"]))
    layers = len([k for k in sd if re.fullmatch(r"weight_ih_l\d+", k)])
    hh = np.shape(sd["weight_hh_l0"])
    if hh != (_GATES[family] * width, width):
        raise ModelError(f"{where}: tensor weight_hh_l0 has shape {hh}; a {_TORCH_RNN[family]} of width {width} "
                         f"(embedding.weight is {(vocab, width)}) needs {(_GATES[family] * width, width)}")
    hyper = {"vocab": vocab, "layers": layers, "width": width, "precision": precision, "frac": frac} | extra
    return _build(where, family, sd, hyper)


def quantize(model: SequenceModel, precision: int, frac: int | None = None) -> SequenceModel:
    """The same float weights as a fixed-point model of precision p.

    ``frac`` (f) defaults to keeping the model's integer bits ``p - f`` (its range): a
    ``FixedPoint(16, 12)`` model quantised to 24 bits becomes ``FixedPoint(24, 20)``.
    Raises :class:`ModelError` naming the weight that does not fit the format.

    Examples
    --------
    >>> from reductions.models import ElmanRNN
    >>> m = ElmanRNN.random(vocab=3, layers=1, width=2, precision=24, seed=0)
    >>> quantize(m, 8).fmt, quantize(quantize(m, 16, frac=8), 24).fmt
    (FixedPoint(p=8, f=4), FixedPoint(p=24, f=16))
    """
    hyper = model.hyper()
    if "precision" not in hyper or model.fmt is None:
        raise ModelError(f"{model!r} is a discrete model; it has no float weights to quantise")
    if frac is None:
        frac = int(precision) - (model.fmt.p - model.fmt.f)
        if frac < 0:
            raise ModelError(f"precision {precision} is below the {model.fmt.p - model.fmt.f} integer bits of "
                             f"{model!r}; give frac explicitly")
    hyper |= {"precision": precision, "frac": frac}
    return _build(repr(model), model.family, model.params(), hyper)


@dataclass(frozen=True)
class FloatAgreement:
    """How often the fixed-point model's output tokens equal the float model's.

    ``positions`` output tokens compared in all (``agree_positions`` equal);
    ``trials`` sequences, ``agree_last`` of which agree at the last position.

    Examples
    --------
    >>> a = FloatAgreement(trials=4, positions=40, agree_positions=38, agree_last=3)
    >>> a.rate, a.last_rate
    (0.95, 0.75)
    """

    trials: int
    positions: int
    agree_positions: int
    agree_last: int

    @property
    def rate(self) -> float:
        return self.agree_positions / self.positions if self.positions else 1.0

    @property
    def last_rate(self) -> float:
        return self.agree_last / self.trials if self.trials else 1.0


def float_agreement(model: SequenceModel, tokens: Any) -> FloatAgreement:
    """Compare ``model.forward`` (fixed point) with ``model.forward_float`` on ``tokens (B, N)``.

    Examples
    --------
    >>> from reductions.models import GRU
    >>> m = GRU.random(vocab=4, layers=1, width=8, precision=16, seed=0)
    >>> x = np.random.default_rng(0).integers(0, 4, (50, 12))
    >>> float_agreement(m, x).rate > 0.9, float_agreement(quantize(m, 4), x).rate < 1
    (True, True)
    """
    fixed, flt = np.asarray(model.forward(tokens)), np.asarray(model.forward_float(tokens))
    same = fixed == flt
    return FloatAgreement(trials=int(same.shape[0]), positions=int(same.size),
                          agree_positions=int(same.sum()), agree_last=int(same[:, -1].sum()))
