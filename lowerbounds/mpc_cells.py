"""Cell kind ``"mpc"``: rounds of an MPC algorithm for hop_k, measured by the MPC engine (docs/definitions.md §9).

``algo="hop"``
    :func:`protocols.mpc.hop.mpc_hop` (pointer doubling) on ``trials`` uniform
    sequences of length ``n`` over ``alphabet`` symbols with memory exponent
    ``delta``; ``R`` is the measured round count, ``successes`` counts the
    sequences whose answer equals :func:`reductions.hop`.
``algo="construction"``
    the log-depth k-hop transformer compiled by
    :mod:`reductions.compilers.transformer_to_mpc` and run on ``trials``
    sequences of length ``n``: ``R`` measured rounds, ``extra["layers"]`` its L,
    ``successes`` the sequences on which it equals the model (bit for bit).

Examples
--------
>>> from lowerbounds.cells import make_cell
>>> row = make_cell("mpc", dict(algo="hop", k=8, n=256, trials=2)).run(0)
>>> row["R"], row["successes"], row["extra"]["doubling_rounds"]
(10, 2, 3)
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from .cells import Param, register_cell_kind
from .errors import GridError

__all__ = ["mpc_cell"]


def _check(params: Mapping[str, Any]) -> None:
    if not 0.0 < params["delta"] < 1.0:
        raise GridError(f"delta = {params['delta']}; the memory exponent must be in (0, 1)")
    if params["k"] < 0 or params["n"] < 1 or params["trials"] < 1 or params["alphabet"] < 1:
        raise GridError(f"k = {params['k']}, n = {params['n']}, trials = {params['trials']}, alphabet = "
                        f"{params['alphabet']}: need k >= 0 and n, trials, alphabet >= 1")


def mpc_cell(params: Mapping[str, Any], seed: np.random.SeedSequence) -> dict[str, Any]:
    """Measured MPC rounds for hop_k (the ``"mpc"`` kind); see the module docstring."""
    from protocols.mpc.hop import mpc_hop
    from protocols.seeding import as_generator, child_seed
    from reductions.compilers.transformer_to_mpc import run_transformer_mpc
    from reductions.constructions.hop_construction import hop_construction
    from reductions.khop.task import hop

    k, n, V, trials = params["k"], params["n"], params["alphabet"], params["trials"]
    x = as_generator(child_seed(seed, 0)).integers(0, V, (trials, n))
    ok = 0
    if params["algo"] == "hop":
        for t in range(trials):
            r = mpc_hop(x[t], k, params["delta"], V, seed=child_seed(seed, 1, t))
            ok += int(np.array_equal(r.output, hop(x[t], k)))
        sm = r.summary()
        extra = {key: sm[key] for key in ("c", "doubling_rounds", "sort_passes", "tree_depth", "machines", "s",
                                           "max_words_held", "max_words_sent", "max_words_received")}
    else:
        model = hop_construction(k, max_len=n, alphabet=V).model
        want = model.forward(x)
        for t in range(trials):
            r = run_transformer_mpc(model, x[t], seed=child_seed(seed, 1, t))
            ok += int(np.array_equal(r.output, want[t]))
        sm = r.summary()
        extra = {key: sm[key] for key in ("layers", "depth", "branching", "machines", "s", "paper_rounds")}
    return {"name": params["algo"], "k": k, "N": n, "R": sm["rounds"], "trials": trials, "successes": ok,
            "success": ok / trials, "extra": extra}


register_cell_kind(
    "mpc",
    mpc_cell,
    (Param("algo", str, choices=("hop", "construction")), Param("k", int), Param("n", int, 4096),
     Param("delta", float, 0.5), Param("alphabet", int, 4), Param("trials", int, 1)),
    check=_check,
)
