"""Exact finite-precision arithmetic: fixed point and wide integers."""
