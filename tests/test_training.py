"""Training (the optional extra `train`): one float forward for numpy and JAX, trained → saved → loaded →
quantised → compiled → verified for every trainable family, determinism, tasks, the CLI, the missing extra."""

from __future__ import annotations

import importlib
import json
import sys

import numpy as np
import pytest

from protocols import PointerChasing
from protocols.cli_support import run_commands
from reductions.__main__ import COMMANDS
from reductions.khop.pointer_chasing_to_hop import EncodedPointerChasing
from reductions.khop.task import hop
from reductions.models import MODELS
from reductions.models.float_forward import FLOAT_FAMILIES, float_logits
from reductions.models.weights import load, quantize, save
from reductions.verify import pointer_chasing_success, verify_random_splits


def cli(*argv: str) -> int:
    return run_commands("python -m reductions", "test", "reductions.cli", COMMANDS, list(argv))


@pytest.fixture(scope="module")
def training():
    pytest.importorskip("jax", reason="the optional extra `train` is not installed")
    return importlib.import_module("reductions.training")


def _tiny(family: str, vocab: int, length: int):
    kw = {"max_len": length} if family in ("kernel", "transformer") else {}
    return MODELS[family].random(vocab=vocab, layers=2, width=3, seed=1, **kw)


@pytest.mark.parametrize("family", FLOAT_FAMILIES)
def test_jax_runs_the_same_float_equations_as_numpy(training, family):
    import jax
    import jax.numpy as jnp

    m = _tiny(family, 5, 9)
    x = np.random.default_rng(0).integers(0, 5, (4, 9))
    want = float_logits(family, m.params(), m.hyper(), x)
    p = {k: jnp.asarray(v) for k, v in m.params().items()}
    got = np.asarray(jax.jit(lambda q, t: float_logits(family, q, m.hyper(), t, xp=jnp))(p, jnp.asarray(x)))
    assert got.shape == want.shape
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4)  # float32 (JAX) against float64 (numpy)


@pytest.mark.parametrize("family", FLOAT_FAMILIES)
def test_round_trip_trained_saved_loaded_quantised_compiled(training, family, tmp_path):
    """Done-when of issue 14: a trained model, saved and loaded, quantised at p = 16 and compiled,
    agrees with its protocol on every instance."""
    task = training.pointer_chasing_task(q=2, k=2)
    r = training.train(family, task, layers=2, width=4, steps=4, batch=8, eval_batch=16, seed=0)
    path = tmp_path / f"{family}.safetensors"
    save(r.model, path)
    back = load(path)
    assert all(np.array_equal(back.params()[k], v) for k, v in r.model.params().items())
    model = quantize(back, 16)
    x, _, _ = task.sample(24, seed=5)
    for rep in verify_random_splits(model, x, k=3, splits=2, seed=1):
        assert rep.agree == rep.trials == 24 and rep.board_checked in (True, False)
    chase = pointer_chasing_success(model, PointerChasing(q=2, k=2), 24, seed=2, float_reference=True)
    assert chase.agree == chase.trials == 24 and chase.model_successes == chase.successes
    assert 0 <= chase.float_successes <= 24


def test_training_is_deterministic_and_learns(training):
    task = training.hop_task(k=1, n=8, alphabet=3)
    kw = dict(layers=1, width=16, steps=120, batch=32, eval_batch=128, learning_rate=1e-2)
    a = training.train("gru", task, seed=3, **kw)
    b = training.train("gru", task, seed=3, **kw)
    c = training.train("gru", task, seed=4, **{**kw, "steps": 2})
    for k, v in a.model.params().items():
        assert np.array_equal(v, b.model.params()[k]), k
    assert not np.array_equal(a.model.params()["embedding"], c.model.params()["embedding"])
    assert a.metrics == b.metrics.__class__(**{**b.metrics.as_dict(), "seconds": a.metrics.seconds})
    # a random readout scores about 1/vocab; 120 steps learn most of 1-hop on 8 symbols
    assert a.metrics.accuracy > 0.8 and a.metrics.fixed_accuracy > 0.8
    lim = a.model.fmt.max_value
    assert all(np.abs(v).max() <= lim for v in a.model.params().values())


def test_train_rejects_bad_arguments(training):
    task = training.hop_task(k=1, n=4)
    with pytest.raises(ValueError, match="family 'fsm' has no trainer"):
        training.train("fsm", task)
    with pytest.raises(ValueError, match="steps = 0"):
        training.train("gru", task, steps=0)
    with pytest.raises(ValueError, match="task must be a TrainTask"):
        training.train("gru", "hop")
    with pytest.raises(ValueError, match="learning_rate"):
        training.train("gru", task, learning_rate=2.0)
    with pytest.raises(ValueError, match=r"max_len = 3 is shorter than the task's sequences \(5\)"):
        training.train("transformer", task, model_options={"max_len": 3})
    with pytest.raises(ValueError, match="unknown options"):
        training.train("gru", task, model_options={"state_size": 3})
    with pytest.raises(ValueError, match="known tasks"):
        training.make_task("copy", k=1)
    with pytest.raises(ValueError, match="q = 1"):
        training.make_task("pointer-chasing", q=1, k=2)


def test_tasks_match_their_definitions(training):
    t = training.hop_task(k=2, n=10, alphabet=4)
    x, y, mask = t.sample(50, seed=0)
    x2, _, _ = t.sample(50, seed=0)
    assert np.array_equal(x, x2) and x.shape == (50, 11) and t.vocab == 7
    h = hop(x[:, 1:], 2)
    assert np.array_equal(y[:, 1:], np.where(h < 0, 4, h)) and not mask[:, 0].any() and mask[:, 1:].all()
    pc = training.pointer_chasing_task(q=3, k=2)
    x, y, mask = pc.sample(40, seed=1)
    enc = EncodedPointerChasing(PointerChasing(q=3, k=2))
    inst = enc.sample(40, seed=1)
    assert np.array_equal(x, inst.tokens) and np.array_equal(y[:, -1], enc.answer(inst)) and mask[:, -1].all()
    h = hop(x, 2)
    assert np.array_equal(mask, h >= 0) and np.array_equal(y[mask], h[mask])


def test_train_cli_then_verify(training, tmp_path, capsys):
    out = tmp_path / "pc.safetensors"
    assert cli("train", "--model", "lstm", "--task", "pointer-chasing", "--q", "3", "--k", "2", "--layers", "2",
               "--width", "4", "--steps", "3", "--batch", "8", "--eval-batch", "16", "--seed", "0",
               "--out", str(out), "--json", "--no-progress") == 0
    rep = json.loads(capsys.readouterr().out)
    assert {"model", "steps", "accuracy", "out"} <= set(rep)
    assert rep["model"] == "lstm" and rep["steps"] == 3 and rep["out"] == str(out) and rep["q"] == 3
    assert load(out).hyper()["width"] == 4
    assert cli("verify", "--weights", str(out), "--precision", "16", "--q", "3", "--k", "2", "--trials", "30",
               "--seed", "1", "--json") == 0
    v = json.loads(capsys.readouterr().out)
    assert v["agree"] == v["trials"] == 30 and v["rounds"] == 2 and v["bits"] == 2 * 4 * 16
    assert {"success", "ci_low", "ci_high", "float_success", "model_success"} <= set(v)


@pytest.mark.parametrize("argv, msg", [
    (["--model", "gru", "--task", "hop", "--k", "1"], "--task hop needs --n"),
    (["--model", "gru", "--task", "hop", "--k", "1", "--n", "8", "--q", "3"], "--q does not apply to --task hop"),
    (["--model", "gru", "--task", "pointer-chasing", "--q", "3", "--k", "2", "--state-size", "2"],
     "--state-size does not apply to --model gru"),
    (["--model", "gru", "--task", "hop", "--k", "1", "--n", "8", "--out", "/nonexistent/dir/m.safetensors"],
     "does not exist"),
    (["--model", "fsm", "--task", "hop"], "invalid choice"),
    (["--model", "gru", "--task", "hop", "--k", "1", "--n", "8", "--lr", "3"], "not in (0, 1)"),
])
def test_train_cli_usage_errors(argv, msg, capsys):
    with pytest.raises(SystemExit) as exc_info:
        if cli("train", *argv) == 2:
            raise SystemExit(2)
    assert exc_info.value.code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and msg in err, err


def test_missing_extra_is_one_line_naming_the_install(monkeypatch, capsys):
    for name in [n for n in sys.modules if n == "reductions.training" or n.startswith("reductions.training.")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "jax", None)  # as if jax were not installed
    with pytest.raises(ImportError, match=r"pip install -e '\.\[train\]'"):
        importlib.import_module("reductions.training")
    assert cli("train", "--model", "gru", "--task", "hop", "--k", "1", "--n", "8") == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "pip install -e '.[train]'" in err and "jax is missing" in err


def test_train_cached_reuses_only_the_same_configuration(training, tmp_path, monkeypatch):
    import reductions.training.trainer as tr
    from reductions.models.weights import training_record

    path = tmp_path / "m.safetensors"
    task = training.hop_task(k=1, n=5, alphabet=3)
    kw = dict(width=3, steps=2, batch=4, eval_batch=8, seed=1)
    first, metrics = training.train_cached(path, "elman", task, **kw)
    assert training_record(path)["steps"] == 2 and training_record(path)["model_options"] == {}
    calls = []
    real = tr.train
    monkeypatch.setattr(tr, "train", lambda *a, **k: calls.append(k) or real(*a, **k))
    again = training.train_cached(path, "elman", task, **kw)
    assert calls == [] and again.metrics == metrics
    assert all(np.array_equal(again.model.params()[k], v) for k, v in first.params().items())
    for arg, value, key in (("seed", 2, "seed"), ("steps", 3, "steps"), ("eval_batch", 6, "eval_trials")):
        training.train_cached(path, "elman", task, **{**kw, arg: value})  # same compiled step: cheap retrains
        assert len(calls) == 1 and training_record(path)[key] == value
        calls.clear()
    training.train_cached(path, "elman", training.hop_task(k=2, n=5, alphabet=3), **kw)
    assert len(calls) == 1
