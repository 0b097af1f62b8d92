"""The traces the page's views redraw from, kept on the server in one bounded cache.

A session's gr.State holds a small reference (model, text and a key), never the trace itself:
Gradio keeps every session's state in memory, and a trace is up to megabytes of attention. When
the cache has let a trace go, the reference runs the model again (runs are deterministic, so the
view is the same). Issue 17, item 3.
"""

from __future__ import annotations

import threading
import uuid
from collections import OrderedDict
from dataclasses import dataclass

from models import trace as traces
from models.data import Trace
from models.limits import setting

KEPT_ENV, KEPT = "TRIPTYCH_TRACES_KEPT", 32


@dataclass(frozen=True)
class Ref:
    """What a session keeps of a run: enough to find it again, or to redo it."""
    key: str
    model: str
    text: str


class Kept:
    """A least-recently-used store of traces, shared by all sessions."""

    def __init__(self, size: int | None = None):
        self.size = max(1, int(size or setting(KEPT_ENV, KEPT)))
        self._traces: OrderedDict[str, Trace] = OrderedDict()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._traces)

    def _put(self, key: str, trace: Trace) -> None:
        with self._lock:
            self._traces[key] = trace
            while len(self._traces) > self.size:
                self._traces.popitem(last=False)

    def keep(self, model: str, text: str, trace: Trace) -> Ref:
        ref = Ref(uuid.uuid4().hex, model, text)
        self._put(ref.key, trace)
        return ref

    def trace(self, ref: Ref) -> Trace:
        with self._lock:
            found = self._traces.get(ref.key)
            if found is not None:
                self._traces.move_to_end(ref.key)
                return found
        trace = traces.run_trace(ref.model, ref.text)
        self._put(ref.key, trace)
        return trace


TRACES = Kept()


def run(model: str, text: str) -> tuple[Ref, Trace]:
    """Run a model on a text and keep the trace: the reference goes to the session's state."""
    trace = traces.run_trace(model, text)
    return TRACES.keep(model, text, trace), trace
