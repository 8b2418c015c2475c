"""reductions — k-hop induction heads, encoders, finite-precision models, and their protocols.

The bridge between sequence models and the communication world (DEFINITIONS §3–5).
"""

from .compile import COMPILERS, CompileError, to_protocol
from .depth_table import DepthTable, depth_table
from .fixed_point import FixedPoint, FixedPointError, FixedPointOverflow
from .hop import BOTTOM, HopInputError, find, hop
from .hop_instance import EncodingError, HopInstance
from .models.cot import ChainOfThought
from .models.hop_construction import HopConstruction, hop_construction
from .models.kernelformer import KernelFormer
from .models.sparse_attention import SparseAttention
from .models.transformer import SoftmaxTransformer
from .pointer_chasing_to_hop import EncodedPointerChasing, answer_from_hop, decode, decode_class_map, encode
from .sequences import HopTaskBatch, HopVocab, hop_task_batch, random_sequences
from .splits import SplitError, even_boundaries, random_boundaries, split_tokens
from .token_chase import TokenChase
from .verify import ChaseReport, VerificationError, VerifyReport, pointer_chasing_success, verify

__all__: list[str] = [
    "find", "hop", "BOTTOM", "HopInputError",
    "HopInstance", "EncodingError", "encode", "decode", "decode_class_map", "answer_from_hop",
    "EncodedPointerChasing", "TokenChase",
    "random_sequences", "hop_task_batch", "HopVocab", "HopTaskBatch",
    "FixedPoint", "FixedPointError", "FixedPointOverflow",
    "COMPILERS", "CompileError", "to_protocol",
    "SplitError", "even_boundaries", "random_boundaries", "split_tokens",
    "verify", "VerifyReport", "VerificationError", "pointer_chasing_success", "ChaseReport",
    "SoftmaxTransformer", "HopConstruction", "hop_construction", "DepthTable", "depth_table",
    "KernelFormer", "SparseAttention", "ChainOfThought",
]
