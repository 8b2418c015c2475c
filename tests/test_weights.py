"""Weights in and out (reductions.models.weights) and ``verify --weights``: files from kparty and from
other writers, PyTorch names, quantisation, and every way a weight file can be wrong."""

from __future__ import annotations

import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from safetensors.numpy import save_file

from protocols.cli_support import run_commands
from reductions.__main__ import COMMANDS
from reductions.models import GRU, LSTM, MODELS, ElmanRNN, FiniteStateRNN
from reductions.models.base import ModelError
from reductions.models.float_forward import FLOAT_FAMILIES, float_logits
from reductions.models.weights import FORMAT, float_agreement, from_state_dict, load, quantize, read_weights, save


def cli(*argv: str) -> int:
    return run_commands("python -m reductions", "test", "reductions.cli", COMMANDS, list(argv))


def _random(family: str, seed: int = 0):
    kw = {"max_len": 16} if family in ("transformer", "kernel", "sparse", "cot") else {}
    return MODELS[family].random(vocab=5, layers=1 if family == "cot" else 2, width=3, seed=seed, **kw)


@pytest.mark.parametrize("family", sorted(MODELS))
def test_save_load_every_family_bit_for_bit(family, tmp_path):
    m = _random(family)
    path = tmp_path / f"{family}.safetensors"
    save(m, path)
    tensors, meta = read_weights(path)
    assert meta["format"] == FORMAT and meta["family"] == family
    assert {k: json.loads(v) for k, v in meta.items() if k not in ("format", "family")} == m.hyper()
    back = load(path)
    assert type(back) is type(m) and back.hyper() == m.hyper()
    assert set(back.params()) == set(m.params())
    for name, a in m.params().items():
        b = back.params()[name]
        assert b.dtype == np.asarray(a).dtype and np.array_equal(b, a), name
    x = np.random.default_rng(1).integers(0, 5, (6, 9))
    assert np.array_equal(back.forward(x), m.forward(x))


@settings(max_examples=25, deadline=None)
@given(width=st.integers(1, 5), layers=st.integers(1, 3), vocab=st.integers(2, 6),
       scale=st.sampled_from([1e-6, 0.5, 7.9]), seed=st.integers(0, 2**31))
def test_round_trip_property_any_float_values(tmp_path_factory, width, layers, vocab, scale, seed):
    rng = np.random.default_rng(seed)
    src = GRU.random(vocab=vocab, layers=layers, width=width, seed=seed)
    params = {k: rng.uniform(-scale, scale, v.shape) for k, v in src.params().items()}
    m = GRU(params, vocab, layers, width)
    path = tmp_path_factory.mktemp("w") / "m.safetensors"
    save(m, path)
    back = load(path)
    for k, v in params.items():
        assert np.array_equal(back.params()[k], v)  # float64 stored exactly, every bit


def test_file_written_by_safetensors_from_plain_numpy(tmp_path):
    src = LSTM.random(vocab=4, layers=2, width=3, seed=2)
    path = tmp_path / "plain.safetensors"
    save_file({k: np.array(v) for k, v in src.params().items()}, str(path))
    with pytest.raises(ModelError, match=r"plain\.safetensors carries no 'family'"):
        load(path)
    m = load(path, family="lstm")
    x = np.random.default_rng(0).integers(0, 4, (5, 7))
    assert m.hyper() == src.hyper() and np.array_equal(m.forward(x), src.forward(x))
    assert np.array_equal(load(path, family="lstm", precision=10).forward(x), quantize(src, 10).forward(x))


def _torch_named(src) -> dict[str, np.ndarray]:
    """The state_dict names of Embedding `embedding`, RNN `rnn`, Linear `readout` (float32, as torch saves)."""
    out = {}
    for k, v in src.params().items():
        name = {"embedding": "embedding.weight", "readout_weight": "readout.weight",
                "readout_bias": "readout.bias"}.get(k, f"rnn.{k}")
        out[name] = np.asarray(v, dtype=np.float32)
    return out


@pytest.mark.parametrize("cls", [ElmanRNN, GRU, LSTM])
def test_pytorch_named_state_dict_file(cls, tmp_path):
    src = cls.random(vocab=6, layers=2, width=4, seed=3)
    path = tmp_path / "torch_named.safetensors"
    save_file(_torch_named(src), str(path))
    m = load(path, family=cls.family)
    assert (m.vocab, m.layers, m.width) == (6, 2, 4)
    for k, v in src.params().items():
        assert np.array_equal(m.params()[k], np.asarray(v, dtype=np.float32).astype(np.float64))
    x = np.random.default_rng(0).integers(0, 6, (20, 8))
    assert float_agreement(m, x).rate > 0.9
    assert (m.forward_float(x) == src.forward_float(x)).mean() > 0.95  # float32 rounding of the weights only


def test_pytorch_module_state_dict():
    torch = pytest.importorskip("torch", reason="torch is an optional extra")
    torch.manual_seed(0)

    class Net(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.embedding = torch.nn.Embedding(5, 4)
            self.gru = torch.nn.GRU(4, 4, 2, batch_first=True)
            self.readout = torch.nn.Linear(4, 5)

        def forward(self, x):
            return self.readout(self.gru(self.embedding(x))[0])

    net = Net().double()
    m = from_state_dict("gru", net.state_dict())
    x = np.random.default_rng(0).integers(0, 5, (10, 7))
    want = net(torch.as_tensor(x)).argmax(-1).numpy()
    assert np.array_equal(m.forward_float(x), want)


def _bad_file(tmp_path, mutate) -> str:
    params = GRU.random(vocab=4, layers=1, width=3, seed=0).params()
    path = tmp_path / "bad.safetensors"
    m = GRU(params, 4, 1, 3)
    save(m, path)
    tensors, meta = read_weights(path)
    tensors = mutate(dict(tensors))
    save_file(tensors, str(path), metadata=meta)
    return str(path)


@pytest.mark.parametrize("mutate, message", [
    (lambda t: {("weight_xx_l0" if k == "weight_ih_l0" else k): v for k, v in t.items()},
     r"bad\.safetensors: GRU weights lack \['weight_ih_l0'\]"),
    (lambda t: t | {"extra_tensor": np.zeros(2)}, r"unexpected weights \['extra_tensor'\]"),
    (lambda t: t | {"bias_hh_l0": np.zeros(5)}, r"weight bias_hh_l0 has shape \(5,\); expected \(9,\)"),
    (lambda t: t | {"weight_hh_l0": np.full((9, 3), np.nan)}, r"weight weight_hh_l0 has a non-finite entry"),
    (lambda t: t | {"embedding": np.full((4, 3), 100.0)}, r"weight embedding entry 100\.0 does not fit"),
])
def test_bad_tensors_name_the_tensor_and_the_file(tmp_path, capsys, mutate, message):
    path = _bad_file(tmp_path, mutate)
    with pytest.raises(ModelError, match=message):
        load(path)
    assert cli("verify", "--weights", path, "--k", "2", "--trials", "5") == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "bad.safetensors" in err


@pytest.mark.parametrize("content", [b"", b"not a safetensors file at all", b"\xff" * 8 + b"{}",
                                     (2**40).to_bytes(8, "little") + b"{}"])
def test_not_a_safetensors_file(tmp_path, capsys, content):
    path = tmp_path / "junk.safetensors"
    path.write_bytes(content)
    with pytest.raises(ModelError, match=r"junk\.safetensors is not a readable safetensors file"):
        load(path)
    assert cli("verify", "--weights", str(path), "--k", "2") == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "junk.safetensors" in err


def test_npz_and_missing_file(tmp_path):
    npz = tmp_path / "model.npz"
    GRU.random(vocab=3, layers=1, width=2, seed=0).save(npz)
    with pytest.raises(ModelError, match="model.npz is not a readable safetensors file"):
        load(npz)
    with pytest.raises(ModelError, match="does not exist"):
        load(tmp_path / "nothing.safetensors")


def test_bad_metadata(tmp_path):
    m = GRU.random(vocab=3, layers=1, width=2, seed=0)
    path = tmp_path / "meta.safetensors"
    save_file(m.params(), str(path), metadata={"format": FORMAT, "family": "gru", "vocab": "three"})
    with pytest.raises(ModelError, match="metadata entry 'vocab' = 'three' is not JSON"):
        load(path)
    save_file(m.params(), str(path), metadata={"format": FORMAT, "family": "gru", "vocab": "3", "layers": "1",
                                               "width": "2", "colour": "1"})
    with pytest.raises(ModelError, match="do not fit a 'gru' model"):
        load(path)
    save_file(m.params(), str(path), metadata={"format": FORMAT, "family": "mamba9"})
    with pytest.raises(ModelError, match="family 'mamba9' is unknown"):
        load(path)
    save(m, path)
    with pytest.raises(ModelError, match="holds a 'gru' model, not 'lstm'"):
        load(path, family="lstm")


def test_save_is_atomic(tmp_path, monkeypatch):
    import reductions.models.weights as w

    path = tmp_path / "m.safetensors"
    save(GRU.random(vocab=3, layers=1, width=2, seed=0), path)
    before = path.read_bytes()

    def dying_save_file(tensors, filename, metadata=None):
        with open(filename, "wb") as f:
            f.write(b"partial")
        raise KeyboardInterrupt  # killed mid-write

    monkeypatch.setattr(w, "save_file", dying_save_file)
    with pytest.raises(KeyboardInterrupt):
        save(GRU.random(vocab=3, layers=1, width=2, seed=1), path)
    assert path.read_bytes() == before and [p.name for p in tmp_path.iterdir()] == ["m.safetensors"]


def test_quantize_keeps_float_weights_and_changes_format():
    m = GRU.random(vocab=4, layers=2, width=3, precision=24, seed=0)
    q = quantize(m, 8, frac=5)
    assert (q.fmt.p, q.fmt.f) == (8, 5) and q.hyper()["precision"] == 8
    assert all(np.array_equal(q.params()[k], v) for k, v in m.params().items())
    assert np.array_equal(quantize(q, 24, frac=20).forward([[0, 1, 2, 3]]), m.forward([[0, 1, 2, 3]]))
    assert quantize(q, 24).fmt.f == 21 and quantize(m, 16).fmt.f == 12  # integer bits p - f kept
    with pytest.raises(ModelError, match="precision 2 is below the 3 integer bits"):
        quantize(q, 2)
    with pytest.raises(ModelError, match="weight embedding entry .* does not fit FixedPoint"):
        quantize(GRU(m.params() | {"embedding": np.full((4, 3), 3.0)}, 4, 2, 3), 4, frac=2)
    with pytest.raises(ModelError, match="discrete model"):
        quantize(FiniteStateRNN.random(vocab=3, layers=1, width=2, seed=0), 16)


def test_float_agreement_counts_against_an_oracle():
    m = GRU.random(vocab=4, layers=1, width=6, precision=16, seed=0)
    x = np.random.default_rng(0).integers(0, 4, (15, 10))
    for p in (3, 6, 16):
        q = quantize(m, p, frac=p - 2)
        a = float_agreement(q, x)
        same = [[int(q.forward(x[i:i + 1])[0, j] == m.forward_float(x[i:i + 1])[0, j]) for j in range(10)]
                for i in range(15)]
        assert a.agree_positions == sum(map(sum, same)) and a.positions == 150
        assert a.agree_last == sum(row[-1] for row in same) and a.trials == 15
    assert float_agreement(quantize(m, 3, frac=1), x).rate < float_agreement(m, x).rate


@pytest.mark.parametrize("family", FLOAT_FAMILIES)
def test_numpy_float_logits_are_the_models_float_reference(family):
    m = _random(family)
    x = np.random.default_rng(2).integers(0, 5, (7, 11))
    logits = float_logits(family, m.params(), m.hyper(), x)
    assert logits.shape[:2] == (7, 11)
    assert np.array_equal(np.argmax(logits, -1), m.forward_float(x))


def test_verify_weights_cli(tmp_path, capsys):
    path = tmp_path / "gru.safetensors"
    m = GRU.random(vocab=10, layers=2, width=4, seed=0)
    m = GRU(m.params() | {"readout_bias": np.full(10, 5.0)}, 10, 2, 4)  # fits p = 16 (range ±8), not f = 6
    save(m, path)
    assert cli("verify", "--weights", str(path), "--precision", "12", "--q", "4", "--k", "2",
               "--trials", "60", "--seed", "1", "--json") == 0
    out = json.loads(capsys.readouterr().out)
    assert out["agree"] == out["trials"] == 60 and out["precision"] == 12 and out["bits"] == 2 * 4 * 12 // 2
    assert out["model_success"] == out["success"] and 0 <= out["float_success"] <= 1
    assert out["ci_low"] <= out["success"] <= out["ci_high"] and out["weights"] == str(path)
    assert f"weights from {path}" in out["measured"] and 0 <= out["float_agreement"] <= 1
    assert cli("verify", "--model", "gru", "--q", "4", "--k", "2", "--trials", "20") == 0
    assert "RANDOM weights" in capsys.readouterr().out
    for argv, msg in [
        (["--weights", str(path), "--model", "gru"], "exactly one of --model"),
        ([], "exactly one of --model"),
        (["--weights", str(path), "--width", "8"], "--width does not apply with --weights"),
        (["--weights", str(path), "--q", "5", "--k", "2"], "vocabulary 10 is smaller than the encoding's alphabet"),
        (["--weights", str(path), "--precision", "8", "--frac", "6"], "readout_bias entry 5.0 does not fit"),
    ]:
        assert cli("verify", *argv, "--trials", "5") == 2, argv
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and msg in err, (argv, err)


@pytest.mark.parametrize("family", sorted(MODELS))
def test_docs_weights_md_names_every_tensor(family):
    """docs/weights.md lists each family's tensor names (per-layer names as ``name_l{l}``)."""
    import re
    from pathlib import Path

    doc = (Path(__file__).resolve().parents[1] / "docs" / "weights.md").read_text()
    for name in _random(family).params():
        assert f"`{re.sub(r'_l[0-9]+$', '_l{l}', name)}`" in doc, name
