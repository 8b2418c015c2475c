"""reductions — k-hop induction heads, encoders, finite-precision models, and their protocols.

The bridge between sequence models and the communication world (docs/definitions.md §3–5).
"""

from reductions.arithmetic.fixed_point import FixedPoint, FixedPointError, FixedPointOverflow
from reductions.compilers.registry import COMPILERS, CompileError, to_protocol
from reductions.compilers.splits import SplitError, even_boundaries, random_boundaries, split_tokens
from reductions.constructions.hop_construction import HopConstruction, hop_construction
from reductions.khop.instance import EncodingError, HopInstance
from reductions.khop.pointer_chasing_to_hop import (
    EncodedPointerChasing,
    answer_from_hop,
    decode,
    decode_class_map,
    encode,
)
from reductions.khop.sequences import HopTaskBatch, HopVocab, hop_task_batch, random_sequences
from reductions.khop.task import BOTTOM, HopInputError, find, hop
from reductions.khop.token_chase import TokenChase
from reductions.models.cot import ChainOfThought
from reductions.models.kernelformer import KernelFormer
from reductions.models.sparse_attention import SparseAttention
from reductions.models.transformer import SoftmaxTransformer
from reductions.verify import ChaseReport, VerificationError, VerifyReport, pointer_chasing_success, verify

__all__: list[str] = [
    "find", "hop", "BOTTOM", "HopInputError",
    "HopInstance", "EncodingError", "encode", "decode", "decode_class_map", "answer_from_hop",
    "EncodedPointerChasing", "TokenChase",
    "random_sequences", "hop_task_batch", "HopVocab", "HopTaskBatch",
    "FixedPoint", "FixedPointError", "FixedPointOverflow",
    "COMPILERS", "CompileError", "to_protocol",
    "SplitError", "even_boundaries", "random_boundaries", "split_tokens",
    "verify", "VerifyReport", "VerificationError", "pointer_chasing_success", "ChaseReport",
    "SoftmaxTransformer", "HopConstruction", "hop_construction",
    "KernelFormer", "SparseAttention", "ChainOfThought",
]
