"""Finite-precision sequence models (docs/definitions.md §5), one module per family or close group.

:data:`MODELS` maps a family name (the ``family`` attribute, also the CLI's
``--model`` value) to its class; every class has ``random(vocab, layers,
width, precision, seed=...)``, ``forward``, ``forward_float``, ``state_bits``,
``save``/``load``.  Other families register here with one line each.
Weight files (safetensors, any family, PyTorch names, quantisation):
:mod:`reductions.models.weights`; the float forward shared by numpy and the
JAX trainers: :mod:`reductions.models.float_forward`.

Examples
--------
>>> {'fsm', 'elman', 'gru', 'lstm', 'ssm'} <= set(MODELS)
True
"""

from pathlib import Path

from reductions.models.base import ModelError, RecurrentModel, RunResult, SequenceModel, read_saved
from reductions.models.cot import ChainOfThought
from reductions.models.fsm import FiniteStateRNN
from reductions.models.kernelformer import KernelFormer
from reductions.models.rnn import GRU, LSTM, ElmanRNN, GatedRNN
from reductions.models.sparse_attention import SparseAttention
from reductions.models.ssm import SelectiveSSM
from reductions.models.transformer import SoftmaxTransformer

#: family name -> model class (used by ``python -m reductions verify --model``).
MODELS: dict[str, type[SequenceModel]] = {
    "fsm": FiniteStateRNN,
    "elman": ElmanRNN,
    "gru": GRU,
    "lstm": LSTM,
    "ssm": SelectiveSSM,
    "transformer": SoftmaxTransformer,
    "kernel": KernelFormer,
    "sparse": SparseAttention,
    "cot": ChainOfThought,
}


def load_model(path: str | Path) -> SequenceModel:
    """Load any saved model, choosing the class from the file's family via ``MODELS``.

    Examples
    --------
    >>> import tempfile, os
    >>> from reductions.models import LSTM
    >>> path = os.path.join(tempfile.mkdtemp(), "lstm.npz")
    >>> LSTM.random(vocab=3, layers=1, width=2, seed=0).save(path)
    >>> load_model(path)
    LSTM(vocab=3, layers=1, width=2, p=16, f=12)
    """
    family, hyper, params = read_saved(path)
    if family not in MODELS:
        raise ModelError(f"{path} holds family {family!r}; known families: {sorted(MODELS)}")
    return MODELS[family](params=params, **hyper)


__all__ = [
    "MODELS", "SequenceModel", "RecurrentModel", "RunResult", "ModelError", "load_model",
    "FiniteStateRNN", "GatedRNN", "ElmanRNN", "GRU", "LSTM", "SelectiveSSM", "SoftmaxTransformer",
    "KernelFormer", "SparseAttention", "ChainOfThought",
]
