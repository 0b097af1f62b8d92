"""Sessions keep references, the server keeps a bounded number of traces (ui/kept.py)."""

import numpy as np

from ui import kept


def test_the_store_is_bounded_and_a_let_go_trace_is_run_again_the_same():
    store = kept.Kept(size=2)
    refs = []
    for text in ("the cat", "a dog barks", "birds sing"):
        ref, trace = kept.run("mini-gpt", text)
        refs.append((store.keep(ref.model, ref.text, trace), trace))
    assert len(store) == 2
    (first, original), (second, kept_trace) = refs[0], refs[1]
    assert store.trace(second) is kept_trace
    again = store.trace(first)  # let go: run again, deterministic
    assert again is not original and again.tokens == original.tokens
    np.testing.assert_array_equal(again.attention("decoder").attn, original.attention("decoder").attn)
    assert len(store) == 2


def test_a_reference_is_small():
    import pickle

    ref, trace = kept.run("mini-bert", "The cat chases a mouse " * 5)
    assert len(pickle.dumps(ref)) < 500 < len(pickle.dumps(trace))
