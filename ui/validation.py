"""The one validator of request values: every number a request carries passes through here.

Library code raises ValueError with an actionable message; user_errors turns it into a page
message in both languages (never a stack trace) and stops a request that runs too long.
"""

from __future__ import annotations

import logging
import math
from contextlib import contextmanager

import gradio as gr

from models.results import Settings
from models.limits import time_limit
from ui.i18n import toast

log = logging.getLogger("triptych")

SEED_LIMIT = 2**32  # numpy's and transformers' seeds: 0 .. 2**32 - 1


REFUSED = "Cannot do that · 无法执行"


def refuse(message: str) -> gr.Error:
    """The page's refusal of a request: the message in both languages, as text. A refusal is an
    answer, not a fault: the server log gets one line, not Gradio's traceback."""
    log.info("refused: %s", message.splitlines()[0][:200] if message else "")
    return gr.Error(toast(message), title=REFUSED, print_exception=False)


@contextmanager
def user_errors():
    """Library errors as a readable message in the page; requests past TRIPTYCH_REQUEST_SECONDS stopped."""
    try:
        with time_limit():
            yield
    except gr.Error:
        raise
    except ValueError as err:
        raise refuse(str(err)) from None
    except Exception as err:
        log.exception("unexpected failure")
        raise gr.Error(toast(f"Something went wrong inside the model run ({type(err).__name__}). "
                                 "Try a shorter text or another model."), title="Internal error · 内部错误") from None


def number(value, name: str, integer: bool = True):
    """A request's number, or a ValueError that names it: None, text, NaN and infinity are refused."""
    try:
        found = float(value)
    except (TypeError, ValueError, OverflowError):
        raise ValueError(f"{name} must be a number.") from None
    if not math.isfinite(found) or abs(found) > 2**53:
        raise ValueError(f"{name} must be a finite number.")
    return int(found) if integer else found


def text_or_empty(value) -> str:
    """An optional text argument: what a request sent when it is a string, else "" (the default)."""
    return value if isinstance(value, str) else ""


def warn(notices) -> None:
    """Each notice of a result as a warning toast on the page, in both languages."""
    for notice in notices:
        gr.Warning(toast(notice))


def seed(value) -> int:
    try:
        found = int(value)
    except (TypeError, ValueError, OverflowError):
        raise ValueError("The seed must be a whole number.") from None
    if not 0 <= found < SEED_LIMIT:
        raise ValueError(f"The seed must be between 0 and {SEED_LIMIT - 1}.")
    return found


def clamp(value, top: int) -> int:
    """A layer or head index from a slider, kept inside 0..top (sliders may hold another model's range)."""
    try:
        return min(max(int(value), 0), top)
    except (TypeError, ValueError):
        raise ValueError("Layer and head must be whole numbers.") from None


def settings(strategy, temperature, top_k, top_p, seed_value, max_new_tokens, num_beams=1, use_cache=True) -> Settings:
    """Decoding knobs as Settings; the ranges are checked by models.decoding.check_settings."""
    try:
        found = Settings(str(strategy), float(temperature), int(top_k), float(top_p), int(seed_value),
                         int(max_new_tokens), int(num_beams), bool(use_cache))
    except (TypeError, ValueError, OverflowError):
        raise ValueError("Temperature, top-k, top-p, seed, max new tokens and beams must be numbers.") from None
    if found.num_beams > 1 and found.strategy != "beam":
        raise ValueError("More than one beam needs the beam strategy.")
    return found


def greedy(max_new_tokens, use_cache: bool = True) -> Settings:
    return settings("greedy", 1.0, 0, 1.0, 0, max_new_tokens, use_cache=use_cache)
