"""protocols — k-party blackboard protocols, run exactly and counted bit for bit.

The communication world of kparty (docs/definitions.md §1–2): bit codecs, the engine
that runs a (k, R, s) protocol on a batch, Monte-Carlo success estimates,
a locality audit, pointer chasing, and a library of protocols for it.
"""

from .audit import AuditReport, Violation, audit_locality
from .bits import Fixed, Record, SInt, UInt, as_bitarray, bits_for, pack, unpack
from .engine import ISOLATION, BoardView, Coins, FunctionProtocol, Protocol, Run, run
from .errors import (
    BatchShapeError,
    CodecError,
    InputCountError,
    InvalidInstance,
    IsolationError,
    MessageTooLong,
    NonBinaryMessage,
    ProtocolError,
    ReplayMismatch,
    SealedWriteError,
    SpeakerError,
    TamperingError,
    VisibilityError,
)
from .estimate import SuccessEstimate, clopper_pearson, estimate_success
from .problems import PointerChasing, PointerChasingInstances, Problem
from .replay import replay
from .seeding import as_generator, as_seed_sequence, child_seed
from .transcript import Transcript
from .workers import ProcessSession  # registers isolation="process" in ISOLATION

__version__ = "0.1.0"

__all__ = [
    "Protocol", "FunctionProtocol", "BoardView", "Coins", "Run", "run",
    "Transcript", "replay",
    "SuccessEstimate", "estimate_success", "clopper_pearson",
    "AuditReport", "Violation", "audit_locality",
    "Problem", "PointerChasing", "PointerChasingInstances",
    "UInt", "SInt", "Fixed", "Record", "bits_for", "pack", "unpack", "as_bitarray",
    "as_generator", "as_seed_sequence", "child_seed",
    "ProtocolError", "MessageTooLong", "NonBinaryMessage", "BatchShapeError", "InputCountError",
    "VisibilityError", "InvalidInstance", "CodecError", "ReplayMismatch",
    "ISOLATION", "ProcessSession", "IsolationError", "SealedWriteError", "TamperingError", "SpeakerError",
]
