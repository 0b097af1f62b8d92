"""Sessions keep references, the server keeps a bounded number of runs (ui/kept.py)."""

import pickle
import re

import numpy as np

from models import decoding as decoding_module
from ui import kept
from ui.tabs import decoding as tab
from ui.validation import settings


def test_the_store_is_bounded_and_a_let_go_trace_is_run_again_the_same():
    store = kept.Kept(kept.TRACES.redo, size=2)
    refs = []
    for text in ("the cat", "a dog barks", "birds sing"):
        ref, trace = kept.run("mini-gpt", text)
        refs.append((store.keep(ref.model, ref.text, trace), trace))
    assert len(store) == 2
    (first, original), (second, kept_trace) = refs[0], refs[1]
    assert store.get(second) is kept_trace
    again = store.get(first)  # let go: run again, deterministic
    assert again is not original and again.tokens == original.tokens
    np.testing.assert_array_equal(again.attention("decoder").attn, original.attention("decoder").attn)
    assert len(store) == 2


def test_a_reference_is_small():
    ref, trace = kept.run("mini-bert", "The cat chases a mouse " * 5)
    assert len(pickle.dumps(ref)) < 500 < len(pickle.dumps(trace))


KNOBS = ("mini-gpt", "今天天气真好，", "sample", 0.9, 20, 0.95, 3, 8, 2, True)
SETTINGS = settings("sample", 0.9, 20, 0.95, 3, 8, 1, True)  # beams count for the beam strategy only


def _counting(monkeypatch):
    calls = []
    real = decoding_module.decode

    def counted(*args, **kwargs):
        calls.append(args[:2])
        return real(*args, **kwargs)
    monkeypatch.setattr(kept, "decode", counted)
    return calls


def test_decoding_state_is_a_reference_and_steps_reuse_the_kept_run(monkeypatch):
    calls = _counting(monkeypatch)
    state, index, *views = tab.decode_move("step", *KNOBS, None, 0)
    assert isinstance(state, kept.Ref) and index == 0 and len(calls) == 1
    full = kept.DECODINGS.get(state)
    assert len(pickle.dumps(state)) < 600 < len(pickle.dumps(full))
    for expected in (1, 2, 3):
        state2, index, *_ = tab.decode_move("step", *KNOBS, state, index)
        assert state2 == state and index == expected
    state2, index, *_ = tab.decode_move("back", *KNOBS, state, index)
    assert index == 2 and len(calls) == 1  # stepping and going back ran no model
    end_state, index, *_ = tab.decode_move("end", *KNOBS, state, index)
    assert index == len(full.steps) - 1 and len(calls) == 1
    # A changed knob decodes afresh: a new reference and one more run.
    changed = (*KNOBS[:6], 4, *KNOBS[7:])
    new_state, index, *_ = tab.decode_move("redo", *changed, state, 2)
    assert new_state != state and new_state.settings.seed == 4 and len(calls) == 2 and index == 2


def test_a_let_go_decoding_is_decoded_again_the_same(monkeypatch):
    state, _, *views = tab.decode_move("step", *KNOBS, None, 0)
    first = kept.DECODINGS.get(state)
    monkeypatch.setattr(kept, "DECODINGS", kept.Kept(kept.DECODINGS.redo, size=1))
    again = kept.DECODINGS.get(state)  # not in this (new) store: seeded sampling is run again
    assert again is not first and [s.token_id for s in again.steps] == [s.token_id for s in first.steps]
    assert again.settings == SETTINGS


def test_the_kept_view_equals_a_fresh_decode():
    state, index, text, *figures = tab.decode_move("step", *KNOBS, None, 0)
    for _ in range(3):
        state, index, text, *figures = tab.decode_move("step", *KNOBS, state, index)
    fresh = decoding_module.decode(KNOBS[0], KNOBS[1], SETTINGS)
    _, fresh_text, *fresh_figures = tab._views(fresh, index)
    timing = re.compile(r"step [0-9.]+ ms")  # the one thing two runs do not share
    assert timing.sub("", text) == timing.sub("", fresh_text)
    assert figures[0]["value"].to_json() == fresh_figures[0]["value"].to_json()
