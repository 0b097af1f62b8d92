"""The runs the page's views redraw from (traces, decodings), kept on the server in bounded stores.

A session's gr.State holds a small reference (model, text, settings and a key), never the run
itself: Gradio keeps every session's state in memory, and a trace or a decoding is up to megabytes
of attention. When a store has let a run go, the reference runs the model again (runs are
deterministic, seeded sampling included, so the view is the same). Issue 17, item 3; it also lets
the Decoding tab step through a kept run instead of decoding again on every click (issue 18).
"""

from __future__ import annotations

import threading
import uuid
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from models import trace as traces
from models.decoding import decode
from models.limits import setting
from models.results import Settings

KEPT_ENV, KEPT = "TRIPTYCH_TRACES_KEPT", 32


@dataclass(frozen=True)
class Ref:
    """What a session keeps of a run: enough to find it again, or to redo it."""
    key: str
    model: str
    text: str
    settings: Settings | None = None  # decoding knobs; None for a trace

    def same_run(self, model: str, text: str, settings: Settings | None = None) -> bool:
        return (self.model, self.text, self.settings) == (model, text, settings)


class Kept:
    """A least-recently-used store of runs, shared by all sessions; `redo` runs a let-go one again."""

    def __init__(self, redo: Callable[[Ref], Any], size: int | None = None):
        self.redo = redo
        self.size = max(1, int(size or setting(KEPT_ENV, KEPT)))
        self._runs: OrderedDict[str, Any] = OrderedDict()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._runs)

    def _put(self, key: str, run: Any) -> None:
        with self._lock:
            self._runs[key] = run
            while len(self._runs) > self.size:
                self._runs.popitem(last=False)

    def keep(self, model: str, text: str, run: Any, settings: Settings | None = None) -> Ref:
        ref = Ref(uuid.uuid4().hex, model, text, settings)
        self._put(ref.key, run)
        return ref

    def get(self, ref: Ref) -> Any:
        with self._lock:
            found = self._runs.get(ref.key)
            if found is not None:
                self._runs.move_to_end(ref.key)
                return found
        run = self.redo(ref)
        self._put(ref.key, run)
        return run


TRACES = Kept(lambda ref: traces.run_trace(ref.model, ref.text))
DECODINGS = Kept(lambda ref: decode(ref.model, ref.text, ref.settings))


def run(model: str, text: str):
    """Run a model on a text and keep the trace: the reference goes to the session's state."""
    trace = traces.run_trace(model, text)
    return TRACES.keep(model, text, trace), trace


def decoding(ref: Ref | None, model: str, prompt: str, settings: Settings):
    """The session's decoding when its knobs are unchanged (no forward pass), else a new one, kept."""
    if isinstance(ref, Ref) and ref.same_run(model, prompt, settings):
        return ref, DECODINGS.get(ref)
    result = decode(model, prompt, settings)
    return DECODINGS.keep(model, prompt, result, settings), result
