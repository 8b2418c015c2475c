"""Exact rounded quotients of wide integer sums from a float64 estimate and the residue mod 2^64.

Fixed point wider than 32 bits (docs/definitions.md §7) multiplies p-bit raws
into 2p-bit products and sums them: up to ~2^128, beyond int64.  But what a
model keeps of such a sum ``X`` is a rounded quotient ``Y = round(X / D)``
(``D = 2^f`` after a matmul, the softmax denominator in attention) that fits
p <= 64 bits.  Two cheap numbers pin ``Y`` down exactly:

- ``X mod 2^64``: the same sum in ``uint64``, whose wrap-around is exact
  modular arithmetic (two's complement is a ring homomorphism);
- ``Xf``, the float64 sum, with a proven error bound ``E`` (from per-component
  magnitudes: ``|Xf - X| <= (n + 4) 2^-52 Σ_i max|a_i| max|w_i|``).

Then ``Y0 = rint(Xf / D)`` is close to ``Y``, the remainder ``r = X - Y0·D``
is small, so it is read off exactly as ``(X mod 2^64 - Y0·D mod 2^64)`` seen
as a signed int64, and ``Y = Y0 + round(r / D)`` (round half to even on the
whole quotient).  Valid while ``E < 2^60``, ``D < 2^52`` and ``|Y| < 2^62``;
otherwise :func:`rounded_quotient` returns ``None`` and the caller takes an
exact Python-integer path (a cold path: it is needed only for formats near 64
bits or values that overflow anyway).

Examples
--------
>>> a = np.array([[2**40 + 3, -(2**41)]]); w = np.array([[2**39 - 1], [2**38 + 5]])
>>> xf, xm, err = matmul_residues(a, w)
>>> y = rounded_quotient(xf, xm, err, 2**20)
>>> int(y[0, 0]) == round(((2**40 + 3) * (2**39 - 1) - 2**41 * (2**38 + 5)) / 2**20)
True
"""

from __future__ import annotations

import numpy as np

__all__ = ["component_max", "matmul_residues", "product_residues", "rounded_quotient"]

_U64 = np.uint64


def component_max(x: np.ndarray, axis: int) -> np.ndarray:
    """``max |x|`` over every axis but ``axis``, as float64 (safe at -2^63, where ``np.abs`` wraps).

    Examples
    --------
    >>> component_max(np.array([[1, -5], [-2**63, 2]]), -1).tolist() == [2.0**63, 5.0]
    True
    """
    if not x.size:
        return np.zeros(x.shape[axis])
    axes = tuple(i for i in range(x.ndim) if i != axis % x.ndim)
    return np.maximum(x.max(axis=axes).astype(np.float64), -x.min(axis=axes).astype(np.float64))


def matmul_residues(
    a: np.ndarray, w: np.ndarray, extra: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray, float]:
    """``X = a @ w (+ extra)`` for int64 arrays as ``(Xf, X mod 2^64, E)`` with ``|Xf - X| <= E``.

    ``a`` is ``(..., n)``, ``w`` is ``(..., n, m)`` (numpy matmul broadcasting),
    ``extra`` broadcasts against the result (e.g. a bias already at the
    product's scale).  The bound is per contraction component.

    Examples
    --------
    >>> xf, xm, err = matmul_residues(np.array([[3, -4]]), np.array([[5], [6]]))
    >>> xf.tolist(), xm.view(np.int64).tolist(), err < 1
    ([[-9.0]], [[-9]], True)
    """
    a = np.asarray(a, dtype=np.int64)
    w = np.asarray(w, dtype=np.int64)
    n = a.shape[-1]
    bound = float(component_max(a, -1) @ component_max(w, -2))
    xf = a.astype(np.float64) @ w.astype(np.float64)
    with np.errstate(over="ignore"):
        xm = a.view(_U64) @ w.view(_U64)
        if extra is not None:
            e = np.asarray(extra, dtype=np.int64)
            xf = xf + e.astype(np.float64)
            xm = xm + e.view(_U64)
            bound += float(np.abs(e.astype(np.float64)).max(initial=0.0))
    return xf, xm, (n + 4) * bound * 2.0**-52


def product_residues(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray, float]:
    """Elementwise ``X = a * b`` as ``(Xf, X mod 2^64, E)`` (see :func:`matmul_residues`).

    Examples
    --------
    >>> xf, xm, err = product_residues(np.array([2**40]), np.array([-(2**30)]))
    >>> xf.tolist() == [-(2.0**70)], int(xm.view(np.int64)[0]), err <= 2**20
    (True, 0, True)
    """
    a = np.asarray(a, dtype=np.int64)
    b = np.asarray(b, dtype=np.int64)
    xf = a.astype(np.float64) * b.astype(np.float64)
    with np.errstate(over="ignore"):
        xm = a.view(_U64) * b.view(_U64)
    big = float(np.abs(xf).max(initial=0.0))
    return xf, xm, 4 * big * 2.0**-52


def rounded_quotient(xf: np.ndarray, xm: np.ndarray, err: float, den: int | np.ndarray) -> np.ndarray | None:
    """``round_half_even(X / den)`` exactly as int64, from ``(Xf, X mod 2^64, E)``; None if unprovable.

    ``den`` is a positive integer (or int64 array broadcasting against ``X``)
    below 2^52.  Returns None when the error bound is ``>= 2^60`` or some
    ``|X / den|`` may reach 2^62 (the caller then computes exactly with Python
    integers, which also decides overflow).

    Examples
    --------
    >>> rounded_quotient(np.array([5.0, 7.0, -5.0]), np.array([5, 7, -5]).view(np.uint64), 0.0, 2).tolist()
    [2, 4, -2]
    """
    if not err < 2.0**60:
        return None
    d = np.asarray(den, dtype=np.int64)
    if d.size and (d.min() < 1 or d.max() >= 2**52):
        return None
    with np.errstate(over="ignore", invalid="ignore"):
        qf = xf / d
    if qf.size and not np.abs(qf).max() < 2.0**62:  # also catches nan/inf
        return None
    y0 = np.rint(qf).astype(np.int64)
    # |X - y0·den| <= E + den·(2^9 + 1) < 2^63: the wrapped difference is the exact remainder.
    with np.errstate(over="ignore"):
        r = (xm - y0.view(_U64) * d.view(_U64)).view(np.int64)
    q = r // d
    rem = r - q * d  # 0 <= rem < den
    y = y0 + q
    twice = 2 * rem
    return y + ((twice > d) | ((twice == d) & ((y & 1) == 1)))
