"""reductions — k-hop induction heads, the pointer-chasing encoding, finite-precision models and their protocols.

The bridge between sequence models and the communication world (docs/definitions.md §3–5).
The package is in rooms: ``khop`` (the task, instances, samplers, the encoder, the token
chase), ``arithmetic`` (fixed point, wide integers), ``models`` (one module per family;
:data:`reductions.models.MODELS`), ``constructions`` (the log-depth k-hop transformer),
``compilers`` (one ``<family>_to_protocol`` per family, the registry, splits) and, above them,
``verify`` (model and protocol agree bit for bit). The short public API:

- the task: :func:`find`, :func:`hop`, :data:`BOTTOM`; samplers :func:`random_sequences`,
  :func:`hop_task_batch` (:class:`HopVocab`, :class:`HopTaskBatch`);
- the encoding: :func:`encode`, :func:`decode`, :func:`decode_class_map`, :func:`answer_from_hop`,
  :class:`HopInstance`, :class:`EncodedPointerChasing`, :class:`TokenChase`;
- models to protocols: :func:`to_protocol` (:data:`COMPILERS`), :func:`verify`
  (:class:`VerifyReport`), :func:`pointer_chasing_success` (:class:`ChaseReport`), and the
  splits :func:`even_boundaries`, :func:`random_boundaries`, :func:`split_tokens`;
- the log-depth construction :func:`hop_construction` (:class:`HopConstruction`) and the
  arithmetic :class:`FixedPoint`;
- errors: :class:`ReductionsError`, the base of every error the package raises, and its
  subclasses by rule (:class:`HopInputError`, :class:`EncodingError`, :class:`CompileError`,
  :class:`SplitError`, :class:`VerificationError`, :class:`FixedPointError`,
  :class:`FixedPointOverflow`).

Model families are imported from :mod:`reductions.models` (``from reductions.models import GRU``).

Examples
--------
>>> from protocols import PointerChasing
>>> h = encode(PointerChasing(q=4, k=2).sample(3, seed=0))
>>> h.length, bool((answer_from_hop(hop(h.tokens, 2)[:, -1], 4) == h.hop_answer()).all())
(17, True)
"""

from reductions.arithmetic.fixed_point import FixedPoint, FixedPointError, FixedPointOverflow
from reductions.compilers.registry import COMPILERS, CompileError, to_protocol
from reductions.compilers.splits import SplitError, even_boundaries, random_boundaries, split_tokens
from reductions.constructions.hop_construction import HopConstruction, hop_construction
from reductions.errors import ReductionsError
from reductions.khop.instance import EncodingError, HopInstance, answer_from_hop
from reductions.khop.pointer_chasing_to_hop import EncodedPointerChasing, decode, decode_class_map, encode
from reductions.khop.sequences import HopTaskBatch, HopVocab, hop_task_batch, random_sequences
from reductions.khop.task import BOTTOM, HopInputError, find, hop
from reductions.khop.token_chase import TokenChase
from reductions.verify import ChaseReport, VerificationError, VerifyReport, pointer_chasing_success, verify

__all__: list[str] = [
    "find", "hop", "BOTTOM", "random_sequences", "hop_task_batch", "HopVocab", "HopTaskBatch",
    "encode", "decode", "decode_class_map", "answer_from_hop", "HopInstance", "EncodedPointerChasing", "TokenChase",
    "to_protocol", "COMPILERS", "verify", "VerifyReport", "pointer_chasing_success", "ChaseReport",
    "even_boundaries", "random_boundaries", "split_tokens", "hop_construction", "HopConstruction", "FixedPoint",
    "ReductionsError", "HopInputError", "EncodingError", "CompileError", "SplitError", "VerificationError",
    "FixedPointError", "FixedPointOverflow",
]
