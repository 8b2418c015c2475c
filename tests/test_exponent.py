"""The exponent experiment (docs/definitions.md §10): fit, slopes, cells, CLI."""

from __future__ import annotations

import json
import math
import subprocess
import sys

import numpy as np
import pytest

from lowerbounds.cells import make_cell
from lowerbounds.errors import GridError, ThresholdError
from lowerbounds.exponent import (
    chunk_for,
    exponent_cells,
    fit_exponent,
    least_buildable,
    local_slopes,
    predicted_threshold,
    regime,
)
from protocols import PointerChasing
from protocols.library import Sampling


def _points(alpha, beta=0.0, noise=0.0, seed=0, qs=(4096, 16384), ks=(8, 16, 32, 64)):
    rng = np.random.default_rng(seed)
    return [{"q": q, "k": k, "log_sd": max(noise, 0.01),
             "threshold": math.exp(3 - alpha * math.log(k) + beta * math.log(math.log(q))
                                   + noise * rng.standard_normal())}
            for q in qs for k in ks]


def test_fit_recovers_alpha_and_beta_exactly_without_noise():
    f = fit_exponent(_points(1.7, beta=2.0))
    assert f["alpha"] == pytest.approx(1.7) and f["beta"] == pytest.approx(2.0)
    one_q = fit_exponent(_points(2.0, qs=(4096,)))
    assert one_q["beta"] is None and one_q["alpha"] == pytest.approx(2.0)


def test_alpha_interval_covers_the_truth_about_95_percent():
    hits = 0
    for seed in range(60):
        lo, hi = fit_exponent(_points(1.5, noise=0.05, seed=seed), seed=seed)["alpha_ci"]
        hits += lo <= 1.5 <= hi
    assert hits >= 50


def test_fit_refuses_too_few_points():
    with pytest.raises(ThresholdError, match="at least 3 points"):
        fit_exponent(_points(2.0, qs=(4096,), ks=(8, 16)))
    with pytest.raises(ThresholdError, match="3 parameters and only 3 points"):
        fit_exponent(_points(2.0, qs=(4096, 16384), ks=(8,)) + _points(2.0, qs=(65536,), ks=(8,)))


def test_local_slopes_and_their_intervals():
    s = local_slopes(_points(1.5, qs=(4096,), ks=(8, 16, 32)))
    assert [round(d["slope"], 6) for d in s] == [-1.5, -1.5]
    assert all(d["ci"][0] < -1.5 < d["ci"][1] for d in s)


def test_regime_and_grid():
    assert regime(65536) == (32, 256) and regime(4096) == (24, 64)
    cells = exponent_cells([1024, 4096], 4, 10**6, 100)
    ks = {(c.params["q"], c.params["k"]) for c in cells}
    assert (4096, 64) in ks and (1024, 32) in ks and (1024, 64) not in ks
    assert cells[0].params["q"] == 4096 and cells[0].params["k"] == 64  # costliest first


def test_predicted_threshold_is_the_least_s_reaching_the_target():
    for q, k in ((1024, 8), (4096, 32), (65536, 256)):
        s = predicted_threshold("sampling", q, k, k - 1)
        assert Sampling.predict_success(q, k, k - 1, s) >= 2 / 3
        assert s == least_buildable("sampling", q, k, k - 1) or Sampling.predict_success(q, k, k - 1, s - 1) < 2 / 3


def test_chunks_bound_memory():
    for q, k, s in ((65536, 256, 26), (65536, 4, 11000), (4096, 64, 20)):
        b = chunk_for(q, k, k - 1, s, 2000, 1 << 30)
        assert 1 <= b <= 2000
        assert b * (k * (k - 1) * s + k * q // 8) <= 1 << 30


def test_one_point_checks_the_closed_form_at_every_tested_s():
    row = make_cell("exponent-point", {"q": 1024, "k": 8, "trials": 400}).run(seed=1)
    e = row["extra"]
    assert e["closed_form_checked"] == 5 and e["closed_form_inside"] >= 4
    assert e["lo"] <= e["threshold"] <= e["hi"]
    assert abs(math.log(e["threshold"] / e["predicted_star"])) < 0.3
    assert e["lazy"] and row["R"] == 7


def test_cells_validate_their_parameters():
    with pytest.raises(GridError, match="no closed form"):
        make_cell("exponent-point", {"protocol": "nope", "q": 64, "k": 4})
    with pytest.raises(GridError, match="k = 1"):
        make_cell("exponent-point", {"q": 64, "k": 1})
    with pytest.raises(GridError, match="trials = 5"):
        make_cell("exponent-point", {"q": 64, "k": 4, "trials": 5})


def _cli(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "lowerbounds", "exponent", *args], capture_output=True, text=True,
                          cwd=cwd)


def test_cli_json_is_resumable_and_has_the_documented_keys(tmp_path):
    out = tmp_path / "exp.csv"
    args = ["--q", "1024", "--k-min", "20", "--per-octave", "4", "--trials", "150", "--seed", "0", "--workers", "1",
            "--json", "--out", str(out)]
    first = _cli(*args)
    assert first.returncode == 0, first.stderr
    res = json.loads(first.stdout)
    for key in ("alpha", "alpha_ci", "regime", "points", "local_slopes"):
        assert key in res
    assert res["regime"] == {"1024": [20, 32]}
    assert [p["k"] for p in res["points"]] == [20, 24, 28]  # 20·2^(i/4) up to sqrt q = 32
    for p in res["points"]:
        assert {"q", "k", "threshold", "lo", "hi", "predicted"} <= set(p)
    again = _cli(*args, "--resume")
    assert again.returncode == 0, again.stderr
    assert json.loads(again.stdout)["points"] == res["points"]
    assert json.loads(again.stdout)["seconds"] < res["seconds"]


@pytest.mark.parametrize("args, message", [
    (["--q", "8"], "need q >= 16"),
    (["--q", "1024", "--k-min", "8", "--k-max", "4"], "below --k-min"),
    (["--q", "1024", "--k-min", "64"], "exceeds sqrt(q)"),
    (["--q", "1024", "--resume"], "--resume needs --out"),
    (["--q", "1024", "--trials", "3"], "at least 10"),
])
def test_cli_misuse_is_one_line_and_exit_2(args, message):
    r = _cli(*args)
    assert r.returncode == 2 and message in r.stderr and r.stderr.count("\n") == 1


def test_cli_closed_form_needs_no_simulation_and_matches_the_exact_thresholds():
    r = _cli("--q", "65536", "--k-min", "32", "--closed-form", "--json")
    assert r.returncode == 0, r.stderr
    res = json.loads(r.stdout)
    assert res["closed_form"] and [p["k"] for p in res["points"]] == [32, 64, 128, 256]
    assert res["points"][-1]["threshold"] == 16.0  # k = sqrt q: the floor s >= L binds
    for p in res["points"]:
        assert Sampling.predict_success(65536, p["k"], p["k"] - 1, p["s_int"]) >= 2 / 3
    assert 1.0 < res["alpha"] < 2.0 and res["alpha_ci"][0] < res["alpha"] < res["alpha_ci"][1]


@pytest.mark.parametrize("q, k, s", [(65536, 64, 225), (65536, 32, 675), (65536, 256, 24), (4096, 16, 400)])
def test_the_chunk_a_point_picks_passes_the_engines_own_memory_check(q, k, s):
    """Regression: at q = 2^16, k = 64 the engine counted lazy layers as materialised (8 MiB per trial)
    and refused the chunk chunk_for had sized from the lazy model (324 trials, 2.6 GiB > 1 GiB)."""
    from protocols.budget import footprint
    from protocols.library import Sampling

    pc = PointerChasing.hard_distribution(q, k, lazy=True)
    p = Sampling(pc, R=k - 1, s=s)
    fp = footprint(p, pc)
    memory = 1 << 30
    b = chunk_for(q, k, k - 1, s, 2000, memory)
    assert b * fp.total + fp.run <= memory
    assert fp.inputs < PointerChasing.hard_distribution(q, k).instance_bytes() // 10  # bitmaps, not labels
