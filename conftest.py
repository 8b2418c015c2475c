"""Test-session setup shared by every test and doctest."""

import os

# Loaded before pytest-xdist starts its workers, which inherit the setting: BLAS thread pools
# fighting over 2 cores inflate CPU time several-fold on the small matrices kparty uses.
for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(var, "1")
