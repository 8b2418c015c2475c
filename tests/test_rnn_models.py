"""RNN-family models: fixed point against slow scalar oracles, fidelity to float, save/load, torch."""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np
import pytest

from reductions.arithmetic.fixed_point import FixedPointOverflow
from reductions.models import (
    GRU,
    LSTM,
    MODELS,
    ElmanRNN,
    FiniteStateRNN,
    ModelError,
    SelectiveSSM,
    load_model,
)
from reductions.verify import random_tokens


# -- a slow, obviously-correct scalar oracle of the fixed-point definitions ----------
class Oracle:
    """Python-int fixed point: round half to even via Fraction, saturation by min/max."""

    def __init__(self, p: int, f: int):
        self.p, self.f = p, f
        self.lo, self.hi = -(2 ** (p - 1)), 2 ** (p - 1) - 1

    def rnd(self, x: Fraction) -> int:
        fl = math.floor(x)
        d = x - fl
        return fl + (1 if d > Fraction(1, 2) or (d == Fraction(1, 2) and fl % 2) else 0)

    def sat(self, v: int) -> int:
        return min(max(v, self.lo), self.hi)

    def q(self, x: float) -> int:
        return self.rnd(Fraction(x) * 2**self.f)

    def mul(self, a: int, b: int) -> int:
        return self.sat(self.rnd(Fraction(a * b, 2**self.f)))

    def affine(self, W, x, b) -> list[int]:
        """W (out, in) raws, x (in,), b (out,): exact sum, one rounding, saturating."""
        return [self.sat(self.rnd(Fraction(sum(W[o][i] * x[i] for i in range(len(x))) + b[o] * 2**self.f, 2**self.f)))
                for o in range(len(W))]

    def fn(self, g, v: int) -> int:
        return self.sat(self.q(g(v / 2**self.f)))


def sig(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-x)) if x >= 0 else math.exp(x) / (1.0 + math.exp(x))


def qmat(o: Oracle, a: np.ndarray) -> list:
    return [[o.q(float(v)) for v in row] for row in a] if a.ndim == 2 else [o.q(float(v)) for v in a]


def oracle_rnn(model, tokens: np.ndarray) -> list[list[int]]:
    """Elman / GRU / LSTM of the module docstring, one instance and one position at a time."""
    o = Oracle(model.fmt.p, model.fmt.f)
    w = model.params()
    m, L = model.width, model.layers
    E, Wr, br = qmat(o, w["embedding"]), qmat(o, w["readout_weight"]), qmat(o, w["readout_bias"])
    lay = [{k: qmat(o, w[f"{k}_l{li}"]) for k in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")} for li in range(L)]
    out = []
    for seq in tokens:
        h = [[0] * m for _ in range(L)]
        c = [[0] * m for _ in range(L)]
        row = []
        for tok in seq:
            x = E[tok]
            for li in range(L):
                P = lay[li]
                gi = o.affine(P["weight_ih"], x, P["bias_ih"])
                gh = o.affine(P["weight_hh"], h[li], P["bias_hh"])
                if model.family == "elman":
                    h[li] = [o.fn(math.tanh, o.sat(gi[j] + gh[j])) for j in range(m)]
                elif model.family == "gru":
                    r = [o.fn(sig, o.sat(gi[j] + gh[j])) for j in range(m)]
                    z = [o.fn(sig, o.sat(gi[m + j] + gh[m + j])) for j in range(m)]
                    n = [o.fn(math.tanh, o.sat(gi[2 * m + j] + o.mul(r[j], gh[2 * m + j]))) for j in range(m)]
                    h[li] = [n[j] + o.rnd(Fraction(z[j] * (h[li][j] - n[j]), 2**o.f)) for j in range(m)]
                else:
                    pre = [o.sat(gi[j] + gh[j]) for j in range(4 * m)]
                    i_ = [o.fn(sig, pre[j]) for j in range(m)]
                    f_ = [o.fn(sig, pre[m + j]) for j in range(m)]
                    g_ = [o.fn(math.tanh, pre[2 * m + j]) for j in range(m)]
                    o_ = [o.fn(sig, pre[3 * m + j]) for j in range(m)]
                    c[li] = [o.sat(o.rnd(Fraction(f_[j] * c[li][j] + i_[j] * g_[j], 2**o.f))) for j in range(m)]
                    h[li] = [o.mul(o_[j], o.fn(math.tanh, c[li][j])) for j in range(m)]
                x = h[li]
            logits = o.affine(Wr, x, br)
            row.append(max(range(len(logits)), key=lambda v: (logits[v], -v)))
        out.append(row)
    return out


def oracle_ssm(model: SelectiveSSM, tokens: np.ndarray) -> list[list[int]]:
    """The selective SSM of its module docstring, scalar by scalar."""
    o = Oracle(model.fmt.p, model.fmt.f)
    w = model.params()
    m, n, L = model.width, model.state_size, model.layers
    T = lambda a: qmat(o, np.asarray(a).T)  # (in, out) -> (out, in) for affine  # noqa: E731
    E, Wr, br = qmat(o, w["embedding"]), qmat(o, w["readout_weight"]), qmat(o, w["readout_bias"])
    zero = lambda k: [0] * k  # noqa: E731
    lay = []
    for li in range(L):
        lay.append({
            "x": T(w[f"in_x_l{li}"]), "z": T(w[f"in_z_l{li}"]), "dt": T(w[f"dt_weight_l{li}"]),
            "dtb": qmat(o, w[f"dt_bias_l{li}"]), "B": T(w[f"B_l{li}"]), "C": T(w[f"C_l{li}"]),
            "A": [[o.sat(o.q(-math.exp(v))) for v in row] for row in w[f"A_log_l{li}"]],
            "D": qmat(o, w[f"D_l{li}"]), "o": T(w[f"out_l{li}"]),
        })
    softplus = lambda v: math.log1p(math.exp(v)) if v < 30 else v + math.log1p(math.exp(-v))  # noqa: E731
    silu = lambda v: v * sig(v)  # noqa: E731
    out = []
    for seq in tokens:
        h = [[[0] * n for _ in range(m)] for _ in range(L)]
        row = []
        for tok in seq:
            u = E[tok]
            for li in range(L):
                P = lay[li]
                x, z = o.affine(P["x"], u, zero(m)), o.affine(P["z"], u, zero(m))
                dt = [o.fn(softplus, v) for v in o.affine(P["dt"], x, P["dtb"])]
                Bt, Ct = o.affine(P["B"], x, zero(n)), o.affine(P["C"], x, zero(n))
                for i in range(m):
                    dx = o.mul(dt[i], x[i])
                    for j in range(n):
                        da = o.fn(math.exp, o.mul(dt[i], P["A"][i][j]))
                        h[li][i][j] = o.sat(o.rnd(Fraction(da * h[li][i][j], 2**o.f)) + o.mul(dx, Bt[j]))
                y = [o.sat(o.rnd(Fraction(sum(h[li][i][j] * Ct[j] for j in range(n)) + P["D"][i] * x[i], 2**o.f)))
                     for i in range(m)]
                g = [o.mul(y[i], o.fn(silu, z[i])) for i in range(m)]
                u = [o.sat(v + u[i]) for i, v in enumerate(o.affine(P["o"], g, zero(m)))]
            logits = o.affine(Wr, u, br)
            row.append(max(range(len(logits)), key=lambda v: (logits[v], -v)))
        out.append(row)
    return out


@pytest.mark.parametrize("cls, layers, width, p", [
    (ElmanRNN, 2, 3, 8), (ElmanRNN, 1, 4, 16), (GRU, 2, 3, 10), (GRU, 1, 4, 24),
    (LSTM, 2, 2, 8), (LSTM, 1, 3, 16), (GRU, 1, 2, 32),
])
def test_rnn_fixed_point_matches_scalar_oracle(cls, layers, width, p):
    model = cls.random(vocab=5, layers=layers, width=width, precision=p, seed=width + layers)
    x = random_tokens(5, 12, 7, seed=p)
    assert model.forward(x).tolist() == oracle_rnn(model, x)


@pytest.mark.parametrize("layers, width, n, p", [(1, 2, 2, 12), (2, 3, 1, 16), (1, 2, 3, 8)])
def test_ssm_fixed_point_matches_scalar_oracle(layers, width, n, p):
    model = SelectiveSSM.random(vocab=4, layers=layers, width=width, precision=p, state_size=n, seed=layers)
    x = random_tokens(4, 10, 6, seed=n)
    assert model.forward(x).tolist() == oracle_ssm(model, x)


def test_fsm_matches_naive_loop():
    model = FiniteStateRNN.random(vocab=6, layers=3, width=4, seed=0)
    x = random_tokens(6, 40, 9, seed=1)
    p = model.params()
    want = []
    for seq in x:
        h = [0, 0, 0]
        row = []
        for tok in seq:
            inp = int(tok)
            for li in range(3):
                h[li] = int(p[f"transition_l{li}"][h[li], inp])
                inp = h[li]
            row.append(int(p["readout"][h[2]]))
        want.append(row)
    assert model.forward(x).tolist() == want


def test_fsm_hash_form_is_deterministic_and_saveable(tmp_path):
    model = FiniteStateRNN.random(vocab=7, layers=2, width=40, seed=5)
    assert model.form == "hash" and model.state_bits() == 40
    x = random_tokens(7, 30, 12, seed=0)
    model.save(tmp_path / "f.npz")
    again = load_model(tmp_path / "f.npz")
    assert (again.forward(x) == model.forward(x)).all()
    assert len(set(model.forward(x)[:, -1].tolist())) > 1


def test_gru_fixed_point_p24_agrees_with_float():
    """Fixed point is a faithful model of the float network: >= 99% of output tokens agree."""
    model = GRU.random(vocab=10, layers=2, width=32, precision=24, seed=0)
    x = random_tokens(10, 400, 40, seed=1)
    fixed, flt = model.forward(x), model.forward_float(x)
    assert len(np.unique(flt)) >= 5  # the outputs are not trivially constant
    assert (fixed == flt).mean() >= 0.99


@pytest.mark.parametrize("family", ["elman", "lstm", "ssm"])
def test_other_families_p24_agree_with_float(family):
    model = MODELS[family].random(vocab=10, layers=2, width=16, precision=24, seed=2)
    x = random_tokens(10, 200, 30, seed=3)
    assert (model.forward(x) == model.forward_float(x)).mean() >= 0.99


@pytest.mark.parametrize("family", ["fsm", "elman", "gru", "lstm", "ssm"])
def test_save_load_roundtrip(family, tmp_path):
    model = MODELS[family].random(vocab=6, layers=2, width=4, precision=12, seed=7)
    path = tmp_path / f"{family}.npz"
    model.save(path)
    a, b = MODELS[family].load(path), load_model(path)
    x = random_tokens(6, 20, 8, seed=0)
    assert (a.forward(x) == model.forward(x)).all() and (b.forward(x) == model.forward(x)).all()
    assert type(b) is type(model) and b.state_bits() == model.state_bits()


def test_load_wrong_family_raises(tmp_path):
    GRU.random(vocab=3, layers=1, width=2, seed=0).save(tmp_path / "g.npz")
    with pytest.raises(ModelError, match="holds a 'gru' model"):
        LSTM.load(tmp_path / "g.npz")


def test_seeded_random_is_reproducible():
    a = LSTM.random(vocab=4, layers=2, width=3, precision=10, seed=11)
    b = LSTM.random(vocab=4, layers=2, width=3, precision=10, seed=11)
    assert all((a.params()[k] == b.params()[k]).all() for k in a.params())


def test_weight_out_of_range_raises_naming_weight():
    params = GRU.random(vocab=3, layers=1, width=2, precision=8, seed=0).params()
    params["weight_hh_l0"] = params["weight_hh_l0"].copy()
    params["weight_hh_l0"][0, 0] = 100.0
    with pytest.raises(FixedPointOverflow, match="weight weight_hh_l0 entry 100.0"):
        GRU(params, vocab=3, layers=1, width=2, precision=8)


def test_bad_inputs_raise():
    model = GRU.random(vocab=3, layers=1, width=2, seed=0)
    with pytest.raises(ModelError, match="token 3 is outside the vocabulary 0..2"):
        model.forward(np.array([[0, 3]]))
    with pytest.raises(ModelError, match="expected \\(batch, positions\\)"):
        model.forward(np.array([0, 1]))
    with pytest.raises(ModelError, match="lack"):
        GRU({}, vocab=3, layers=1, width=2)
    with pytest.raises(ModelError, match="width"):
        GRU.random(vocab=3, layers=1, width=0)


def test_long_sequences_run_in_time_blocks():
    """Outputs do not depend on the time-block size (blocks are an implementation detail)."""
    model = LSTM.random(vocab=5, layers=2, width=3, precision=12, seed=0)
    x = random_tokens(5, 8, 300, seed=0)
    want = model.forward(x)
    import reductions.models.base as base

    old = base.BLOCK_ELEMENTS
    try:
        base.BLOCK_ELEMENTS = 8 * 16 * 7  # a handful of positions per block
        assert model.block_size(8) < 300
        assert (model.forward(x) == want).all()
    finally:
        base.BLOCK_ELEMENTS = old


def test_from_torch_numpy_state_dict_lstm_and_elman():
    for cls in (LSTM, ElmanRNN):
        src = cls.random(vocab=4, layers=2, width=3, precision=16, seed=1)
        p = src.params()
        sd = {k: v for k, v in p.items() if "_l" in k}
        m = cls.from_torch(sd, vocab=4, embedding=p["embedding"], readout_weight=p["readout_weight"],
                           readout_bias=p["readout_bias"])
        x = random_tokens(4, 10, 6, seed=0)
        assert (m.forward(x) == src.forward(x)).all()
    with pytest.raises(ModelError, match="bidirectional"):
        GRU.from_torch({**sd, "weight_ih_l0_reverse": p["weight_ih_l0"]}, vocab=4)


def test_torch_gru_agrees_with_quantised_model():
    torch = pytest.importorskip("torch", reason="torch is an optional extra (pip install kparty[torch]); not installed")
    torch.manual_seed(0)
    m, V = 16, 8
    net = torch.nn.GRU(m, m, num_layers=2, batch_first=True)
    emb = np.random.default_rng(0).uniform(-1, 1, (V, m))
    ro = np.random.default_rng(1).uniform(-1, 1, (V, m))
    model = GRU.from_torch(net.state_dict(), vocab=V, precision=24, embedding=emb, readout_weight=ro,
                           readout_bias=np.zeros(V))
    x = random_tokens(V, 200, 30, seed=2)
    with torch.no_grad():
        hs, _ = net(torch.tensor(emb[x], dtype=torch.float32))
    logits = hs.double().numpy() @ ro.T
    assert (np.argmax(logits, -1) == model.forward(x)).mean() >= 0.99
    assert (model.forward_float(x) == np.argmax(logits, -1)).mean() >= 0.99
