"""Cell kinds for compiled models: what a model costs as a protocol (FIGURES: tradeoff_map, model_budgets).

``"budget"``
    Build a seeded random model of ``family`` (``reductions.models.MODELS``)
    with the stated dimensions, compile it for an even k-way split of a length-N
    sequence (:func:`reductions.compile.to_protocol`) and report the compiled
    protocol's R and s, with the DEFINITIONS §5 formula in ``extra``.  With
    ``verify_trials > 0`` the protocol is also run through the engine against
    the model on that many random sequences (:func:`reductions.verify.verify`):
    ``successes`` counts agreements and ``max_bits_used`` is measured.

``"depth"``
    The log-depth k-hop construction (:func:`reductions.models.hop_construction.hop_construction`)
    with ``layers`` layers asked for ``hop_k``, run on ``trials`` sampled
    sequences (length ``n``, ``alphabet`` symbols, no equal neighbours unless
    ``distinct`` is false) and compared with :func:`reductions.hop.hop`:
    ``trials``/``successes`` count positions whose true answer is not ⊥ (the
    paper's error measure); ``extra["exact"]`` says whether *every* position,
    ⊥ included, was right.

The family ``"hop-construction"`` in a budget cell compiles that construction
for ``hop_k`` (k = the number of speakers) over ``vocab`` symbols.

``options`` is the family's extra ``random()`` keywords as canonical JSON (a
string, so it can be part of the cell key), e.g. ``'{"heads":2}'``.  If the
family's ``random`` takes ``max_len``, it is set to N.

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

from .cells import Param, register_cell_kind
from .errors import GridError

__all__ = ["budget_cell", "depth_cell", "build_model", "options_json", "CONSTRUCTION"]

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
    from reductions.models import MODELS

    if params["family"] == CONSTRUCTION:
        from reductions.models.hop_construction import hop_construction

        return hop_construction(params["k"], max_len=params["N"], alphabet=params["vocab"]).model

    cls = MODELS[params["family"]]
    kw = json.loads(params["options"])
    if "max_len" in inspect.signature(cls.random).parameters:
        kw.setdefault("max_len", params["N"])
    return cls.random(
        vocab=params["vocab"],
        layers=params["layers"],
        width=params["width"],
        precision=params["precision"],
        seed=seed,
        **kw,
    )


def _check(params: Mapping[str, Any]) -> None:
    from reductions.compile import COMPILERS
    from reductions.models import MODELS

    fam = params["family"]
    if (fam, "transformer")[fam == CONSTRUCTION] not in set(MODELS) & set(COMPILERS):
        raise GridError(
            f"model family {fam!r} is not available; built: {', '.join(sorted(set(MODELS) & set(COMPILERS)))}"
        )
    if params["N"] < params["k"]:
        raise GridError(f"N = {params['N']} tokens cannot be split among k = {params['k']} speakers")
    try:
        opts = json.loads(params["options"])
    except json.JSONDecodeError as exc:
        raise GridError(f"options {params['options']!r} is not JSON: {exc}") from None
    if not isinstance(opts, dict):
        raise GridError(f"options {params['options']!r} must be a JSON object")


def budget_cell(params: Mapping[str, Any], seed: np.random.SeedSequence) -> dict[str, Any]:
    """R and s of a compiled model (the ``"budget"`` kind); see the module docstring."""
    from protocols.seeding import child_seed
    from reductions.compile import bits_formula, to_protocol
    from reductions.splits import even_boundaries
    from reductions.verify import random_tokens, verify

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
    """Error of an L-layer k-hop construction on sampled sequences (the ``"depth"`` kind).

    Examples
    --------
    >>> from lowerbounds.cells import make_cell
    >>> row = make_cell("depth", dict(k=3, layers=4, trials=20)).run(0)
    >>> row["success"], row["extra"]["exact"]
    (1.0, True)
    """
    from reductions.hop import hop
    from reductions.models.hop_construction import hop_construction
    from reductions.sequences import random_sequences

    c = hop_construction(params["k"], max_len=params["n"], alphabet=params["alphabet"], layers=params["layers"])
    x = random_sequences(
        params["trials"], params["n"], params["alphabet"], distinct_neighbours=params["distinct"], seed=seed
    )
    got, want = c(x), hop(x, params["k"])
    scored = want != -1
    right = int(np.count_nonzero((got == want) & scored))
    total = int(np.count_nonzero(scored))
    return {
        "name": CONSTRUCTION,
        "k": params["k"],
        "N": params["n"],
        "R": params["layers"],
        "trials": total,
        "successes": right,
        "success": right / total if total else 1.0,
        "extra": {
            "exact": bool((got == want).all()),
            "reached": c.reached,
            "sequences": params["trials"],
            "precision": c.precision,
            "error": (total - right) / total if total else 0.0,
        },
    }


register_cell_kind(
    "depth",
    depth_cell,
    (
        Param("k", int),
        Param("layers", int),
        Param("n", int, 100),
        Param("alphabet", int, 4),
        Param("trials", int, 1000),
        Param("distinct", bool, True),
    ),
)
