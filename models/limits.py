"""Per-request limits: a deadline that long loops check between steps.

A forward pass cannot be interrupted, but every request is made of bounded pieces (at most
TRIPTYCH_MAX_TOKENS tokens, 64 new tokens, 8 beams), so checking the clock between them stops a
request within one piece of its limit. The limit is TRIPTYCH_REQUEST_SECONDS (default 30).
Also the size one export may reach (TRIPTYCH_EXPORT_MB), read by the export and by the tabs that
choose how their numbers travel.
"""

from __future__ import annotations

import os
import time
from contextlib import contextmanager
from contextvars import ContextVar

REQUEST_SECONDS_ENV = "TRIPTYCH_REQUEST_SECONDS"
# One export's files: its JSON plus its packed arrays. 80 MB, as TRIPTYCH_MAX_BINARY_MB, so an
# export carries what one packed API answer can (every layer of a 12 x 12 model at 512 tokens).
EXPORT_MB_ENV, EXPORT_MB = "TRIPTYCH_EXPORT_MB", 80

_deadline: ContextVar[tuple[float, float] | None] = ContextVar("triptych_deadline", default=None)


class RequestTooLong(ValueError):
    """The request ran past its time limit and was stopped."""


def setting(name: str, default: float, minimum: float = 1, kind=int):
    """A number from the environment, at least `minimum`; the default when unset or unreadable."""
    try:
        return max(kind(minimum), kind(os.environ.get(name, default)))
    except ValueError:
        return kind(default)


def flag(name: str) -> bool:
    """A switch from the environment: on for 1, true, yes or on (any case), off otherwise."""
    return os.environ.get(name, "").strip().lower() in ("1", "true", "yes", "on")


def export_limit() -> int:
    """Bytes one export may hold: its JSON and packed arrays (its CSV is about as large as the
    JSON, its NPZ smaller than the arrays)."""
    return setting(EXPORT_MB_ENV, EXPORT_MB) * 2**20


def request_seconds() -> float:
    try:
        value = float(os.environ.get(REQUEST_SECONDS_ENV, "30"))
    except ValueError:
        value = 30.0
    return value if value > 0 else 30.0


@contextmanager
def time_limit(seconds: float | None = None):
    """Everything inside must finish within `seconds` (default: the configured limit)."""
    seconds = request_seconds() if seconds is None else float(seconds)
    token = _deadline.set((time.monotonic() + seconds, seconds))
    try:
        yield
    finally:
        _deadline.reset(token)


def check_time() -> None:
    """Raise RequestTooLong when the current request is past its deadline."""
    limit = _deadline.get()
    if limit is not None and time.monotonic() > limit[0]:
        raise RequestTooLong(f"This request ran longer than {limit[1]:g} s and was stopped; "
                             "ask for fewer tokens, fewer beams or a shorter text.")
