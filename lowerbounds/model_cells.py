"""Cell kinds for compiled models: what a model costs as a protocol (docs/figures.md §tradeoff_map, §model_budgets).

``"budget"``
    Build a seeded random model of ``family`` (``reductions.models.MODELS``)
    with the stated dimensions, compile it for an even k-way split of a length-N
    sequence (:func:`reductions.compilers.registry.to_protocol`) and report the compiled
    protocol's R and s, with the docs/definitions.md §5 formula in ``extra``.  With
    ``verify_trials > 0`` the protocol is also run through the engine against
    the model on that many random sequences (:func:`reductions.verify.verify`):
    ``successes`` counts agreements and ``max_bits_used`` is measured.

``"depth"``
    The log-depth k-hop construction measured by
    :func:`lowerbounds.depth_table.depth_table` on ``trials`` sampled sequences
    (length ``n``, ``alphabet`` symbols, no equal neighbours unless ``distinct``
    is false): the least exact depth for ``hop_k`` and the error of every depth
    2..``max_layers``.

The family ``"hop-construction"`` in a budget cell compiles that construction
for ``hop_k`` (k = the number of speakers) over ``vocab`` symbols.

``options`` is the family's extra ``random()`` keywords as canonical JSON (a
string, so it can be part of the cell key), e.g. ``'{"heads":2}'``.  If the
family's ``random`` takes ``max_len``, it is set to N + 64
(room for chain-of-thought tokens).

Examples
--------
>>> from lowerbounds.cells import make_cell
>>> row = make_cell("budget", dict(family="gru", k=4, N=64, width=8, precision=16)).run(0)
>>> row["R"], row["s"], row["extra"]["bits_formula"]
(2, 128, 128)
"""

from __future__ import annotations

import inspect
import json
from collections.abc import Mapping
from typing import Any

import numpy as np

from protocols.budget import format_bytes
from protocols.seeding import child_seed
from protocols.validation import check_int
from reductions.compilers.registry import COMPILERS, bits_formula, to_protocol
from reductions.compilers.splits import even_boundaries
from reductions.constructions.hop_construction import hop_construction
from reductions.models import MODELS
from reductions.verify import random_tokens, verify

from .cells import MAX_TRIALS, Param, fits_budget, register_cell_kind
from .depth_table import depth_table
from .errors import GridError

__all__ = ["budget_cell", "depth_cell", "build_model", "options_json", "parse_options", "CONSTRUCTION"]

#: Longest sequence a model cell may ask for (the full preset's largest N is 10^7).
MAX_TOKENS = 10**8

#: Budget-cell family name of the log-depth k-hop construction (a softmax transformer with explicit weights).
CONSTRUCTION = "hop-construction"


def options_json(**options: Any) -> str:
    """Canonical JSON for a cell's ``options``.

    Examples
    --------
    >>> options_json(heads=2, features=8)
    '{"features":8,"heads":2}'
    """
    return json.dumps(options, sort_keys=True, separators=(",", ":"))


def build_model(params: Mapping[str, Any], seed: Any) -> Any:
    """The seeded random model a ``budget`` cell describes (or the k-hop construction)."""

    if params["family"] == CONSTRUCTION:

        return hop_construction(params["k"], max_len=params["N"], alphabet=params["vocab"]).model

    cls = MODELS[params["family"]]
    kw = json.loads(params["options"])
    if "max_len" in inspect.signature(cls.random).parameters:
        kw.setdefault("max_len", params["N"] + 64)  # room for generated (chain-of-thought) tokens
    return cls.random(
        vocab=params["vocab"],
        layers=params["layers"],
        width=params["width"],
        precision=params["precision"],
        seed=seed,
        **kw,
    )


def parse_options(text: str) -> dict[str, Any]:
    """A cell's ``options`` (canonical JSON of a family's extra keywords) as a dict, or a GridError.

    Examples
    --------
    >>> parse_options('{"heads":2}')
    {'heads': 2}
    """
    try:
        opts = json.loads(text)
    except json.JSONDecodeError as exc:
        raise GridError(f"options {text!r} is not JSON: {exc}") from None
    if not isinstance(opts, dict):
        raise GridError(f"options {text!r} must be a JSON object")
    return opts


def _check(params: Mapping[str, Any]) -> None:

    for name, low, high in (("k", 1, None), ("N", 1, MAX_TOKENS), ("vocab", 2, None), ("layers", 1, None),
                            ("width", 1, None), ("precision", 1, 64), ("verify_trials", 0, MAX_TRIALS)):
        check_int(name, params[name], low=low, high=high, error=GridError)
    if params["verify_trials"]:  # running the model holds at least every layer's activations of one sequence
        per_sequence = params["N"] * (params["width"] + 1) * params["layers"] * 8
        fits_budget(f"budget cell (family {params['family']}, N = {params['N']}): the activations of one "
                    f"sequence ({format_bytes(per_sequence)})", per_sequence)

    fam = params["family"]
    if (fam, "transformer")[fam == CONSTRUCTION] not in set(MODELS) & set(COMPILERS):
        raise GridError(
            f"model family {fam!r} is not available; built: {', '.join(sorted(set(MODELS) & set(COMPILERS)))}"
        )
    if params["N"] < params["k"]:
        raise GridError(f"N = {params['N']} tokens cannot be split among k = {params['k']} speakers")
    parse_options(params["options"])


def budget_cell(params: Mapping[str, Any], seed: np.random.SeedSequence) -> dict[str, Any]:
    """R and s of a compiled model (the ``"budget"`` kind); see the module docstring."""

    model = build_model(params, child_seed(seed, 0))
    bounds = even_boundaries(params["N"], params["k"])
    proto = to_protocol(model, bounds)
    row: dict[str, Any] = {
        "name": params["family"],
        "k": params["k"],
        "N": params["N"],
        "R": proto.R,
        "s": proto.s,
        "bits_written": proto.k * proto.R * proto.s,
        "extra": {
            "bits_formula": bits_formula(model, bounds),
            "model": repr(model),
            "precision": getattr(model, "precision", None),
        },
    }
    if params["verify_trials"]:
        x = random_tokens(params["vocab"], params["verify_trials"], params["N"], seed=child_seed(seed, 1))
        rep = verify(model, x, bounds, seed=child_seed(seed, 2))
        row.update(
            trials=rep.trials, successes=rep.agree, success=rep.agree / rep.trials, max_bits_used=rep.max_bits_used
        )
    return row


register_cell_kind(
    "budget",
    budget_cell,
    (
        Param("family", str),
        Param("k", int),
        Param("N", int),
        Param("vocab", int, 16),
        Param("layers", int, 2),
        Param("width", int, 16),
        Param("precision", int, 16),
        Param("options", str, "{}"),
        Param("verify_trials", int, 0),
    ),
    check=_check,
)


def depth_cell(params: Mapping[str, Any], seed: np.random.SeedSequence) -> dict[str, Any]:
    """The k-hop construction's measured least exact depth and its error per depth (the ``"depth"`` kind).

    One call of :func:`lowerbounds.depth_table.depth_table` for this k: ``R`` is
    the least exact depth (searched from L = 1), ``extra["errors"]`` maps each
    depth L in 2..``max_layers`` to the token error over non-⊥ positions.

    Examples
    --------
    >>> from lowerbounds.cells import make_cell
    >>> row = make_cell("depth", dict(k=3, max_layers=4, trials=20)).run(0)
    >>> row["R"], row["extra"]["errors"]["4"]
    (4, 0.0)
    """

    k = params["k"]
    t = depth_table(ks=[k], depths=range(2, params["max_layers"] + 1), error_ks=[k], n=params["n"],
                    alphabet=params["alphabet"], trials=params["trials"], distinct_neighbours=params["distinct"],
                    seed=seed)
    cells = [t.cell(L, k) for L in range(2, params["max_layers"] + 1)]
    return {
        "name": CONSTRUCTION, "k": k, "N": params["n"], "R": t.least_exact_depth[0], "trials": params["trials"],
        "extra": {"errors": {str(c.layers): c.error for c in cells}, "exact": {str(c.layers): c.exact for c in cells}},
    }


def _check_depth(params: Mapping[str, Any]) -> None:
    for name, low, high in (("k", 1, None), ("max_layers", 2, None), ("n", 1, MAX_TOKENS), ("alphabet", 2, None),
                            ("trials", 1, MAX_TRIALS)):
        check_int(name, params[name], low=low, high=high, error=GridError)
    # Softmax attention holds an n x n score matrix per sequence (float64).
    per_sequence = params["n"] * params["n"] * 8
    fits_budget(f"depth cell (n = {params['n']}): the attention scores of one sequence "
                f"({format_bytes(per_sequence)})", per_sequence)


register_cell_kind(
    "depth",
    depth_cell,
    (
        Param("k", int), Param("max_layers", int, 6), Param("n", int, 100), Param("alphabet", int, 4),
        Param("trials", int, 1000), Param("distinct", bool, True),
    ),
    check=_check_depth,
)
