"""The mpc_rounds figure's table (measured rounds against k, beside the blackboard bound) on a tiny preset."""

from __future__ import annotations

from dataclasses import replace

import pytest

from lowerbounds.bounds import pointer_chasing_bits
from lowerbounds.cells import make_cell
from lowerbounds.errors import GridError
from lowerbounds.figures import mpc_rounds
from lowerbounds.figures.presets import PRESETS


def test_table_and_figure():
    p = replace(PRESETS["quick"], mpc_ks=(1, 3, 8), mpc_n=300, mpc_construction_n=12, mpc_trials=2)
    cs = mpc_rounds.cells(p)
    rows = [{"key": c.key, **c.run(0)} for c in cs]
    t = mpc_rounds.table(rows, cs, p)
    hop = [r for r in t.rows if r["source"] == "MPC pointer doubling"]
    con = [r for r in t.rows if r["source"] == "compiled log-depth transformer"]
    assert [r["k"] for r in hop] == [1, 3, 8] and all(r["correct"] == 2 for r in hop + con)
    c = {r["rounds"] - (r["k"] - 1).bit_length() for r in hop}
    assert len(c) == 1 and c == {hop[0]["c"]}
    assert [r["layers"] for r in con] == [2, 4, 5]
    bound = [r for r in t.rows if r["source"].startswith("blackboard, R < k")]
    assert [r["bits"] for r in bound] == [float(pointer_chasing_bits(p.mpc_q, k)) for k in (1, 3, 8)]
    assert set(t.columns) >= {"source", "k", "rounds", "layers", "bits"}
    assert len(mpc_rounds.draw(t, p).axes) == 2


def test_cell_checks():
    with pytest.raises(GridError):
        make_cell("mpc", dict(algo="sort", k=2))
    with pytest.raises(GridError):
        make_cell("mpc", dict(algo="hop", k=2, delta=1.0))
