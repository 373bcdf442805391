"""Thread limits shared by the benchmarks."""
from __future__ import annotations

import os


def limit_blas_threads(n: int) -> None:
    """BLAS libraries read their thread count once, when loaded: call this before importing
    numpy, torch or faiss."""
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[var] = str(n)
