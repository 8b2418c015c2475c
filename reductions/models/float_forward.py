"""The float forward of every trainable family, written once for numpy and JAX (docs/definitions.md §5).

Each function takes an array namespace ``xp`` — :mod:`numpy` or
:mod:`jax.numpy` — and the float weights of a model (the names of
``model.params()``, documented in ``docs/weights.md``).  The models' float64
reference (``forward_float`` and ``float_path=True``) calls these functions
with ``xp = numpy``; :mod:`reductions.training` calls the very same functions
with ``xp = jax.numpy`` to differentiate them.  So the model a trainer fits is
exactly the float model the fixed-point model is checked against — there is
no second copy of the equations.

The functions use only what both namespaces share (``@``, ``tanh``, ``exp``,
``where``, ``cumsum``, ``pad``, ``tri``, ...), never in-place updates; the one
construct that differs is the loop over positions, :func:`scan` (a Python
loop for numpy, :func:`jax.lax.scan` for JAX).

:func:`float_logits` maps a family name, weights, hyper-parameters and tokens
``(B, N)`` to logits ``(B, N, C)``; the output token is their argmax (ties to
the lowest class, as in fixed point).

Examples
--------
>>> from reductions.models import GRU
>>> m = GRU.random(vocab=5, layers=2, width=4, seed=0)
>>> x = np.array([[0, 1, 2, 3, 4]])
>>> logits = float_logits("gru", m.params(), m.hyper(), x)
>>> logits.shape, bool((logits.argmax(-1) == m.forward_float(x)).all())
((1, 5, 5), True)
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

__all__ = [
    "FLOAT_FAMILIES", "float_logits", "scan", "sigmoid", "rnn_layer", "ssm_layer", "recurrent_logits",
    "performer_features", "elu1_features", "causal_kernel_float", "global_kernel_float",
    "attn_embed", "attn_linear", "attn_finish", "kernel_logits", "transformer_logits",
]

#: Families with a float forward here (and so a trainer in :mod:`reductions.training`).
FLOAT_FAMILIES = ("elman", "gru", "lstm", "ssm", "kernel", "transformer")

Array = Any


def _is_numpy(xp: Any) -> bool:
    return xp is np


def scan(xp: Any, step: Callable, carry: Any, xs: Array) -> tuple[Any, Array]:
    """Run ``carry, y = step(carry, xs[:, t])`` for t = 0, 1, ... and stack the ys on axis 1.

    ``xs`` is ``(B, T, ...)``; numpy loops in Python, JAX uses :func:`jax.lax.scan` (time-major inside).

    Examples
    --------
    >>> c, ys = scan(np, lambda c, x: (c + x, c + x), np.zeros(1), np.array([[1.0, 2.0, 3.0]]))
    >>> c.tolist(), ys.tolist()
    ([6.0], [[1.0, 3.0, 6.0]])
    """
    if _is_numpy(xp):
        ys = []
        for t in range(xs.shape[1]):
            carry, y = step(carry, xs[:, t])
            ys.append(y)
        return carry, np.stack(ys, axis=1)
    from jax import lax  # only reached with xp = jax.numpy, i.e. with the `train` extra installed

    carry, ys = lax.scan(step, carry, xp.swapaxes(xs, 0, 1))
    return carry, xp.swapaxes(ys, 0, 1)


def sigmoid(xp: Any, z: Array) -> Array:
    """The logistic function as ``(tanh(z/2) + 1) / 2`` (no overflow for any finite z).

    Examples
    --------
    >>> sigmoid(np, np.array([0.0, 1000.0, -1000.0])).tolist()
    [0.5, 1.0, 0.0]
    """
    return 0.5 * (xp.tanh(0.5 * z) + 1.0)


# -- recurrent families ------------------------------------------------------------------------
def rnn_layer(xp: Any, family: str, w: Mapping[str, Array], layer: int, x: Array,
              state: Mapping[str, Array]) -> tuple[Array, dict]:
    """One Elman/GRU/LSTM layer (PyTorch's equations) over ``x (B, T, m)`` from ``state``.

    Returns the outputs ``(B, T, m)`` and the final state (``{"h"}``, LSTM ``{"h", "c"}``).
    """
    m = w[f"weight_hh_l{layer}"].shape[1]
    gi = x @ w[f"weight_ih_l{layer}"].T + w[f"bias_ih_l{layer}"]
    wh, bh = w[f"weight_hh_l{layer}"].T, w[f"bias_hh_l{layer}"]

    if family == "elman":
        def step(c, g):
            h = xp.tanh(g + c["h"] @ wh + bh)
            return {"h": h}, h
    elif family == "gru":
        def step(c, g):
            h = c["h"]
            gh = h @ wh + bh
            r = sigmoid(xp, g[:, :m] + gh[:, :m])
            z = sigmoid(xp, g[:, m:2 * m] + gh[:, m:2 * m])
            n = xp.tanh(g[:, 2 * m:] + r * gh[:, 2 * m:])
            h = (1.0 - z) * n + z * h
            return {"h": h}, h
    elif family == "lstm":
        def step(c, g):
            pre = g + c["h"] @ wh + bh
            i, f = sigmoid(xp, pre[:, :m]), sigmoid(xp, pre[:, m:2 * m])
            gg, o = xp.tanh(pre[:, 2 * m:3 * m]), sigmoid(xp, pre[:, 3 * m:])
            cc = f * c["c"] + i * gg
            h = o * xp.tanh(cc)
            return {"h": h, "c": cc}, h
    else:
        raise ValueError(f"family {family!r} is not an Elman/GRU/LSTM family")
    state, ys = scan(xp, step, dict(state), gi)
    return ys, state


def ssm_layer(xp: Any, w: Mapping[str, Array], layer: int, u: Array, h: Array) -> tuple[Array, dict]:
    """One selective-SSM layer (see :mod:`reductions.models.ssm`) over ``u (B, T, m)`` from ``h (B, m, n)``."""
    g = lambda name: w[f"{name}_l{layer}"]  # noqa: E731
    x, z = u @ g("in_x"), u @ g("in_z")
    dt = xp.logaddexp(0.0, x @ g("dt_weight") + g("dt_bias"))
    bt, ct = x @ g("B"), x @ g("C")
    da = xp.exp(dt[..., None] * -xp.exp(g("A_log")))
    dbx = (dt * x)[..., None] * bt[:, :, None, :]

    def step(hh, a):
        hh = a[:, 0] * hh + a[:, 1]
        return hh, hh

    h, hs = scan(xp, step, h, xp.stack([da, dbx], axis=2))
    y = (hs * ct[:, :, None, :]).sum(-1) + g("D") * x
    out = (y * (z * sigmoid(xp, z))) @ g("out") + u
    return out, {"h": h}


def recurrent_logits(xp: Any, family: str, w: Mapping[str, Array], hyper: Mapping[str, Any], tokens: Array) -> Array:
    """Logits ``(B, N, V)`` of an Elman/GRU/LSTM/SSM stack from the zero state."""
    x = w["embedding"][tokens]
    batch, m = tokens.shape[0], int(hyper["width"])
    for li in range(int(hyper["layers"])):
        if family == "ssm":
            x, _ = ssm_layer(xp, w, li, x, xp.zeros((batch, m, int(hyper["state_size"]))))
        else:
            zeros = xp.zeros((batch, m))
            x, _ = rnn_layer(xp, family, w, li, x, {"h": zeros, "c": zeros} if family == "lstm" else {"h": zeros})
    return x @ w["readout_weight"].T + w["readout_bias"]


# -- attention families ------------------------------------------------------------------------
def performer_features(xp: Any, u: Array, weight: Array, offset: float) -> Array:
    """Performer positive features ``exp(Ω ũ − ‖ũ‖²/2 − offset)``, ``ũ = u / m^{1/4}``."""
    ut = u * u.shape[-1] ** -0.25
    return xp.exp(ut @ weight.T - 0.5 * xp.sum(ut * ut, axis=-1, keepdims=True) - offset)


def elu1_features(xp: Any, u: Array) -> Array:
    """``elu(u) + 1`` elementwise.

    Examples
    --------
    >>> elu1_features(np, np.array([1.0, 0.0])).tolist()
    [2.0, 1.0]
    """
    return xp.where(u > 0, u + 1.0, xp.exp(xp.minimum(u, 0.0)))


def _safe_quotient(xp: Any, num: Array, den: Array) -> Array:
    """``num / den`` where ``den != 0``, else 0 (the fixed-point model's choice); no 0/0 anywhere."""
    ok = den != 0
    return xp.where(ok, num / xp.where(ok, den, 1.0), 0.0)


def causal_kernel_float(xp: Any, fq: Array, fk: Array, v: Array, block: int = 64) -> Array:
    """Causal kernel attention ``φ(q_n)ᵀ Σ_{j<=n} φ(k_j)v_jᵀ / φ(q_n)·Σ_{j<=n} φ(k_j)`` in blocks."""
    *lead, n, mf = fq.shape
    m = v.shape[-1]
    c = max(1, min(block, n))
    nb = -(-n // c)
    pad = nb * c - n
    if pad:
        widths = [(0, 0)] * len(lead) + [(0, pad), (0, 0)]
        fq, fk, v = xp.pad(fq, widths), xp.pad(fk, widths), xp.pad(v, widths)
    fqb, fkb, vb = fq.reshape(*lead, nb, c, mf), fk.reshape(*lead, nb, c, mf), v.reshape(*lead, nb, c, m)
    kv = xp.swapaxes(fkb, -1, -2) @ vb
    zb = fkb.sum(axis=-2)
    S_start = xp.cumsum(kv, axis=-3) - kv
    z_start = xp.cumsum(zb, axis=-2) - zb
    A = (fqb @ xp.swapaxes(fkb, -1, -2)) * np.tri(c)
    num = fqb @ S_start + A @ vb
    den = (fqb @ z_start[..., None])[..., 0] + A.sum(axis=-1)
    y = _safe_quotient(xp, num, den[..., None])
    return y.reshape(*lead, nb * c, m)[..., :n, :]


def global_kernel_float(xp: Any, fq: Array, S: Array, z: Array) -> Array:
    """Unmasked kernel attention ``φ(q)ᵀS / φ(q)·z`` (0 where the denominator is 0)."""
    return _safe_quotient(xp, fq @ S, fq @ z[..., None])


def attn_embed(xp: Any, w: Mapping[str, Array], tokens: Array, start: int = 0) -> Array:
    """``E[token] + P[position]`` (:mod:`reductions.models.attention_base`)."""
    n = tokens.shape[-1]
    return w["embedding"][tokens] + w["position"][start:start + n]


def attn_linear(xp: Any, w: Mapping[str, Array], x: Array, name: str, bias: str | None = None) -> Array:
    """``x @ W (+ b)`` with math-layout weights."""
    y = x @ w[name]
    return y if bias is None else y + w[bias]


def attn_finish(xp: Any, w: Mapping[str, Array], layer: int, x: Array, heads_out: Array) -> Array:
    """Residual attention output ``x + concat_h(a) W_o``, then the residual ReLU MLP."""
    a = heads_out.reshape(*heads_out.shape[:-2], heads_out.shape[-2] * heads_out.shape[-1])
    x = x + attn_linear(xp, w, a, f"wo_l{layer}")
    h = xp.maximum(attn_linear(xp, w, x, f"w1_l{layer}", f"b1_l{layer}"), 0.0)
    return x + attn_linear(xp, w, h, f"w2_l{layer}", f"b2_l{layer}")


def kernel_features(xp: Any, feature_map: str, u: Array, weight: Array | None, offset: float = 2.0) -> Array:
    """The built-in feature maps by name: ``"performer"`` or ``"elu1"``."""
    if feature_map == "performer":
        return performer_features(xp, u, weight, offset)
    if feature_map == "elu1":
        return elu1_features(xp, u)
    raise ValueError(f"feature_map = {feature_map!r}; the float forward knows 'performer' and 'elu1'")


def kernel_logits(xp: Any, w: Mapping[str, Array], hyper: Mapping[str, Any], tokens: Array) -> Array:
    """Logits ``(B, N, V)`` of a KernelFormer (:mod:`reductions.models.kernelformer`)."""
    H, m = int(hyper["heads"]), int(hyper["width"])
    fmap, causal = str(hyper.get("feature_map", "performer")), bool(hyper.get("causal", True))
    x = attn_embed(xp, w, tokens)
    for l in range(int(hyper["layers"])):
        heads = []
        for which in ("q", "k", "v"):
            y = attn_linear(xp, w, x, f"w{which}_l{l}")
            y = xp.moveaxis(y.reshape(*y.shape[:-1], H, m), -2, -3)
            heads.append(y if which == "v" else kernel_features(xp, fmap, y, w.get(f"features_l{l}")))
        fq, fk, v = heads
        if causal:
            a = causal_kernel_float(xp, fq, fk, v)
        else:
            a = global_kernel_float(xp, fq, xp.swapaxes(fk, -1, -2) @ v, fk.sum(axis=-2))
        x = attn_finish(xp, w, l, x, xp.moveaxis(a, -3, -2))
    return attn_linear(xp, w, x, "readout_weight", "readout_bias")


def transformer_logits(xp: Any, P: Mapping[str, Array], tokens: Array, attention: str = "softmax") -> Array:
    """Logits ``(B, N, C)`` of a :class:`~reductions.models.transformer.SoftmaxTransformer`.

    ``attention="hard"``: uniform average over the maximal scores (numpy only).
    """
    n = tokens.shape[-1]
    L = P["wq"].shape[0]
    mask = np.triu(np.ones((n, n), bool), 1)
    h = P["embed"][tokens] + P["pos"][:n][None]
    for li in range(L):
        q = xp.einsum("bnm,hmd->bhnd", h, P["wq"][li])
        k = xp.einsum("bnm,hmd->bhnd", h, P["wk"][li])
        v = xp.einsum("bnm,hmd->bhnd", h, P["wv"][li])
        s = xp.where(mask, -np.inf, q @ xp.swapaxes(k, -1, -2))
        mx = s.max(axis=-1, keepdims=True)
        wgt = xp.exp(s - mx) if attention == "softmax" else (s == mx).astype(np.float64)
        a = (wgt @ v) / wgt.sum(axis=-1, keepdims=True)
        h = h + xp.einsum("bhnd,hdm->bnm", a, P["wo"][li])
        h = h + xp.maximum(h @ P["w1"][li] + P["b1"][li], 0.0) @ P["w2"][li] + P["b2"][li]
    return h @ P["unembed"] + P["unembed_bias"]


def float_logits(family: str, params: Mapping[str, Array], hyper: Mapping[str, Any], tokens: Array,
                 xp: Any = np) -> Array:
    """Logits ``(B, N, C)`` of the float model of ``family`` with weights ``params``.

    Parameters
    ----------
    family : one of :data:`FLOAT_FAMILIES`.
    params : the weights, named as in ``model.params()``.
    hyper : the hyper-parameters, as in ``model.hyper()``.
    tokens : ``(B, N)`` integer tokens.
    xp : :mod:`numpy` (default) or :mod:`jax.numpy`.

    Examples
    --------
    >>> from reductions.models import SelectiveSSM
    >>> m = SelectiveSSM.random(vocab=3, layers=1, width=2, state_size=2, seed=0)
    >>> float_logits("ssm", m.params(), m.hyper(), np.array([[0, 1, 2]])).shape
    (1, 3, 3)
    """
    if family in ("elman", "gru", "lstm", "ssm"):
        return recurrent_logits(xp, family, params, hyper, tokens)
    if family == "kernel":
        return kernel_logits(xp, params, hyper, tokens)
    if family == "transformer":
        return transformer_logits(xp, params, tokens)
    raise ValueError(f"family {family!r} has no float forward here; families with one: {list(FLOAT_FAMILIES)}")
