"""The "trained" cell kind: deterministic for a seed, cached weights reused (and damaged ones retrained)."""

from __future__ import annotations

import pytest

from lowerbounds.cells import make_cell
from lowerbounds.errors import GridError
from lowerbounds.trained_cells import CACHE_ENV

PC = dict(family="gru", task="pointer-chasing", q=3, k=2, layers=1, width=4, steps=5, trials=40)


def _strip(row):
    return {k: v for k, v in row.items() if k != "extra"} | dict(row["extra"])


def test_pointer_chasing_cell_measures_the_compiled_protocol():
    row = make_cell("trained", PC).run(0)
    assert (row["R"], row["s"], row["trials"], row["N"]) == (1, 4 * 16, 40, 2 * 2 * 3 + 1)
    assert row["extra"]["agree"] == 40  # every instance checked against the fixed-point model
    assert row["successes"] == round(row["success"] * 40)
    assert row["ci_low"] <= row["success"] <= row["ci_high"]


def test_same_seed_same_row_and_the_cache_is_used(tmp_path, monkeypatch):
    monkeypatch.setenv(CACHE_ENV, str(tmp_path))
    first = make_cell("trained", PC).run(3)
    files = sorted(p.name for p in tmp_path.iterdir())
    assert len(files) == 1 and files[0].endswith(".safetensors")
    weights = tmp_path / files[0]
    written = weights.stat().st_mtime_ns
    second = make_cell("trained", PC).run(3)
    assert weights.stat().st_mtime_ns == written  # loaded, not retrained
    assert _strip(first) == _strip(second)
    monkeypatch.delenv(CACHE_ENV)
    assert _strip(make_cell("trained", PC).run(3)) == _strip(first)  # training itself is deterministic


def test_a_damaged_cache_entry_is_retrained(tmp_path, monkeypatch):
    monkeypatch.setenv(CACHE_ENV, str(tmp_path))
    good = make_cell("trained", PC).run(1)
    weights = next(tmp_path.glob("*.safetensors"))
    weights.write_bytes(b"not a safetensors file")
    again = make_cell("trained", PC).run(1)
    assert _strip(again) == _strip(good)
    assert weights.read_bytes()[:8] != b"not a sa"  # replaced by a real weight file


def test_hop_cell_reports_the_fixed_point_accuracy():
    row = make_cell("trained", dict(family="gru", task="hop", k=1, n=8, layers=1, width=4, steps=5,
                                    trials=64)).run(0)
    assert row["N"] == 9 and row["R"] == 1 and 0 <= row["success"] <= 1
    assert row["success"] == row["extra"]["train_fixed_accuracy"]


@pytest.mark.parametrize(
    "bad, match",
    [
        (dict(family="fsm"), "no trainer"),
        (dict(q=1), "q = 1"),
        (dict(options="[1]"), "JSON object"),
        (dict(options="{"), "not JSON"),
        (dict(task="parity"), "parity"),
    ],
)
def test_bad_parameters_are_refused_before_training(bad, match):
    with pytest.raises(GridError, match=match):
        make_cell("trained", PC | bad)


def test_cached_weights_carry_their_training_record(tmp_path, monkeypatch):
    from reductions.models.weights import training_record

    monkeypatch.setenv(CACHE_ENV, str(tmp_path))
    make_cell("trained", PC).run(2)
    record = training_record(next(tmp_path.glob("*.safetensors")))
    assert record["family"] == "gru" and record["steps"] == 5


def test_without_the_train_extra_the_figures_report_it_instead_of_failing(monkeypatch):
    import importlib.util

    from lowerbounds.figures import tradeoff_map, trained_models
    from lowerbounds.figures.presets import PRESETS

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "jax" else real(name, *a))
    p = PRESETS["quick"]
    assert trained_models.cells(p) == []
    assert all(c.kind != "trained" for c in tradeoff_map.cells(p))
    t = trained_models.table([], [], p)
    assert t.rows == () and "pip install -e '.[train]'" in t.missing[0]
    trained_models.draw(t, p)  # an empty figure, not an error


def test_a_diverging_training_is_retried_with_a_smaller_learning_rate(monkeypatch):
    import reductions.training as training

    real, rates = training.train, []

    def flaky(family, task, **kw):
        rates.append(kw["learning_rate"])
        if kw["learning_rate"] > 1e-3:
            raise training.TrainingDiverged("training gru diverged (loss nan); lower the learning rate")
        return real(family, task, **kw)

    monkeypatch.setattr(training, "train", flaky)
    row = make_cell("trained", PC | {"learning_rate": 8e-3}).run(0)
    assert rates == [8e-3, 2e-3, 5e-4] and row["extra"]["learning_rate"] == 5e-4
    rates.clear()
    with pytest.raises(training.TrainingDiverged):
        make_cell("trained", PC | {"learning_rate": 0.5}).run(0)  # 0.5, 0.125, 0.03125: all diverge
    assert len(rates) == 3
