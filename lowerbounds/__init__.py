"""lowerbounds — bounds, thresholds, sweeps and the figures (the science layer)."""

from .bounds import (
    UPPER_BOUNDS,
    Budget,
    Verdict,
    cot_bound,
    encoded_length,
    kernel_attention_bound,
    pointer_chasing_bits,
    rnn_bound,
    sampling_budget,
    sampling_upper_bits,
    sequence_bits,
    sparse_attention_bound,
    sparse_attention_width_needed,
    verdict,
)
from .cells import CELL_KINDS, Cell, Param, make_cell, register_cell_kind
from .depth_table import DepthTable, DepthTableError, depth_table
from .errors import (
    BoundArgumentError,
    CellError,
    ExecutorError,
    GridError,
    LowerBoundsError,
    ResultsError,
    ThresholdError,
)
from .executors import SerialExecutor, open_executor
from .grid import Grid
from .results import COLUMNS, ResultsFile, canonical_table, read_results
from .sweep import SweepResult, sweep
from .threshold import ScanReport, ThresholdReport, ThresholdStep, find_threshold, scan_threshold

__all__: list[str] = [
    # bounds
    "pointer_chasing_bits", "sequence_bits", "encoded_length", "rnn_bound", "kernel_attention_bound",
    "sparse_attention_bound", "sparse_attention_width_needed", "cot_bound", "sampling_budget",
    "sampling_upper_bits", "UPPER_BOUNDS", "Budget", "Verdict", "verdict",
    # thresholds
    "find_threshold", "scan_threshold", "ThresholdReport", "ThresholdStep", "ScanReport",
    # sweeps
    "sweep", "SweepResult", "Grid", "CELL_KINDS", "Cell", "Param", "make_cell", "register_cell_kind",
    "SerialExecutor", "open_executor", "COLUMNS", "ResultsFile", "read_results", "canonical_table",
    # measurements
    "depth_table", "DepthTable", "DepthTableError",
    # errors
    "LowerBoundsError", "BoundArgumentError", "ThresholdError", "GridError", "ResultsError", "CellError",
    "ExecutorError",
]
