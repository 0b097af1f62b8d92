"""The one GPU decorator: every handler that runs a model says so with @gpu.

On a ZeroGPU Space (the `spaces` package present) a model call must run inside spaces.GPU,
which lends it a GPU for the call; anywhere else the function is returned unchanged. Library
functions are never wrapped, so GPU calls never nest.
"""

from __future__ import annotations

from collections.abc import Callable

try:
    import spaces
except ImportError:
    spaces = None


def gpu(fn: Callable) -> Callable:
    return fn if spaces is None else spaces.GPU(fn)
