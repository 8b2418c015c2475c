"""Massively parallel computation: the MPC engine and MPC algorithms (docs/definitions.md §9)."""

from .engine import (
    MachineProgram,
    MPCProgram,
    MPCRun,
    RoundContext,
    RoundStats,
    Step,
    collect_output,
    distribute,
    input_machines,
    run_mpc,
)
from .errors import (
    AddressError,
    IsolationError,
    MachineLimitError,
    MemoryLimitExceeded,
    MPCConfigError,
    MPCError,
    OutputPlacementError,
    ReceiveLimitExceeded,
    RoundLimitExceeded,
    SendLimitExceeded,
    WordError,
)
from .records import Memory, Messages, Records, local_slots

__all__ = [
    "MPCProgram", "MachineProgram", "MPCRun", "RoundContext", "RoundStats", "Step", "run_mpc", "distribute",
    "collect_output", "input_machines", "Records", "Messages", "Memory", "local_slots",
    "MPCError", "MPCConfigError", "MachineLimitError", "MemoryLimitExceeded", "SendLimitExceeded",
    "ReceiveLimitExceeded", "AddressError", "WordError", "IsolationError", "OutputPlacementError",
    "RoundLimitExceeded",
]
