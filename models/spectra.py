"""Singular values of many attention matrices at once, exact and using every core numpy's BLAS has.

Rank (models/analysis.py) needs the SVD of every head: 144 matrices of 512 x 512 for a
base-sized model at 512 tokens, the costliest step of any view. No torch here (viz/ imports
analysis).
"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from functools import cache

import numpy as np
from threadpoolctl import threadpool_info, threadpool_limits

# Below this many weights in the stack (16 heads of 256 x 256) one call is as fast.
_SPLIT_SVD = 2**20
# threadpool_limits sets the BLAS thread count for the whole process and restores what it found:
# two requests overlapping would restore each other's setting, so one split SVD runs at a time.
_BLAS_LIMIT = threading.Lock()


@cache
def _blas_threads() -> int:
    return max([info["num_threads"] for info in threadpool_info() if info["user_api"] == "blas"], default=1)


def singular_values(a: np.ndarray) -> np.ndarray:
    """(..., min(m, n)) singular values in float64, descending, of a stack of matrices (..., m, n).

    LAPACK's SVD of one attention matrix gains little from BLAS threads (its bidiagonalisation
    is matrix-vector work), so a large stack is split into as many parts as numpy's BLAS has
    threads, each part on its own thread with one BLAS thread: the same cores, about twice as
    fast on two (48 matrices of 512 x 512: 1.74 -> 0.92 s), and the same bits (each matrix goes
    through the same LAPACK call)."""
    flat = a.reshape(-1, *a.shape[-2:])
    workers = min(len(flat), _blas_threads())
    if workers < 2 or a.size < _SPLIT_SVD:
        return np.linalg.svd(a.astype(np.float64), compute_uv=False)
    # Each part is widened to float64 on its own thread: no float64 copy of the whole stack.
    with _BLAS_LIMIT, threadpool_limits(1, user_api="blas"), ThreadPoolExecutor(workers) as pool:
        parts = list(pool.map(lambda part: np.linalg.svd(part.astype(np.float64), compute_uv=False),
                              np.array_split(flat, workers)))
    return np.concatenate(parts).reshape(*a.shape[:-2], -1)
