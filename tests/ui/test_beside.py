"""Text B beside text A (issue 19, item 5): every tab that reads the page's text shows its main
figure for text B too, drawn as that tab draws it for text B as its text; links, scenarios and
exports carry text B."""

import asyncio
import json
from pathlib import Path

import gradio as gr
import numpy as np
import pytest
from gradio.state_holder import SessionState

from ui import api, links
from ui.export import export_view
from ui.page import build_demo
from ui.tabs import IDS

TEXT_B = "I like eating"
# A's main figure, which B's shows for text B (by elem_id where the plot has one).
MAIN = {"att-b": "att-heatmap", "patterns-b": "pat-map", "rank-b": "rank-map-dec", "graph-b": "graph-plot",
        "lens-b": "lens-plot", "attribution-b": "attr-plot", "ablation-b": "abl-plot", "qk-b": "qk-products",
        "objectives-b": "obj-gpt-plot", "order-b": "order-enc-plot", "moe-b": "moe-plot",
        **{f"compare-{slug}-b": f"attn-{slug}" for slug in ("bert", "gpt", "t5", "llama")}}


@pytest.fixture(scope="module")
def demo():
    return build_demo()


def _tab_of(block) -> str | None:
    while block is not None:
        if isinstance(block, gr.Tab):
            return block.id
        block = block.parent
    return None


def _page_text(demo, elem_id: str):
    return next(b for b in demo.blocks.values() if getattr(b, "elem_id", None) == elem_id)


def _run(demo, fn, values):
    return asyncio.run(demo.process_api(fn, values, state=SessionState(demo)))["data"]


def _b_events(demo) -> list:
    return [f for f in demo.fns.values() if getattr(f.fn, "__name__", "") == "run_b"]


def test_every_tab_that_reads_the_text_shows_text_b(demo):
    text = _page_text(demo, "text")
    reading = {_tab_of(f.outputs[0]) for f in demo.fns.values() if text in f.inputs and f.outputs}
    beside = {_tab_of(f.outputs[-1]) for f in _b_events(demo)}
    # Side by side reads text B itself; every other tab that reads the text shows B beside A.
    assert reading - {None, "pair"} == beside
    assert beside == {"compare", "attention", "masks", "patterns", "rank", "graph", "lens", "attribution", "ablation",
                      "qk", "objectives", "order", "moe"}


def test_text_b_is_drawn_as_the_tab_draws_it_for_text_b_and_hidden_when_empty(demo):
    text = _page_text(demo, "text")
    checked = set()
    for fn in _b_events(demo):
        figure = fn.outputs[-1]
        if figure.elem_id in checked:
            continue
        checked.add(figure.elem_id)
        # A's view: the event with the same inputs (text B's box aside) that draws in the same tab.
        a_fn = next(f for f in demo.fns.values() if f.inputs == fn.inputs[1:] and f is not fn
                    and _tab_of(f.outputs[-1]) == _tab_of(figure))
        a_values = [TEXT_B if block is text else getattr(block, "value", None) for block in a_fn.inputs]
        a_answer = _run(demo, a_fn, a_values)
        values = [getattr(block, "value", None) for block in fn.inputs]
        values[0] = f"  {TEXT_B} "  # text B's box, first: spaces around it are not text
        *notes, b_figure = _run(demo, fn, values)
        assert b_figure["visible"] is True and b_figure["value"] is not None, figure.elem_id
        drawn = [answer for block, answer in zip(a_fn.outputs, a_answer) if isinstance(block, gr.Plot)]
        plots = [a.get("value", a) if isinstance(a, dict) and "__type__" in a else a for a in drawn]
        if figure.elem_id in MAIN:
            main = [a for block, a in zip([b for b in a_fn.outputs if isinstance(b, gr.Plot)], plots)
                    if block.elem_id == MAIN[figure.elem_id]]
            assert main and b_figure["value"] == main[0], figure.elem_id
        else:
            assert b_figure["value"] in plots, figure.elem_id
        if notes:
            assert notes[0]["visible"] and "side by side only" in notes[0]["value"]
        values[0] = "   "
        hidden = _run(demo, fn, values)
        assert all(update["visible"] is False for update in hidden), figure.elem_id
    assert len(checked) == 16  # four Compare columns and twelve other tabs


def test_a_link_and_a_scenario_set_text_b(demo):
    linked = links.linked_components(demo)
    ids = [c.elem_id for c in linked]
    marker, *updates = links.restore({"tab": "lens", "text-b": TEXT_B}, linked, IDS)
    assert updates[ids.index("text-b")]["value"] == TEXT_B and json.loads(marker)["tab"] == "lens"
    # A scenario is a whole view: it empties a text B left from before unless it sets one.
    plain = next(s for s in links.SCENARIOS if "text-b" not in s["params"])
    _, *updates = links.restore_scenario(plain["name"], linked, IDS)
    assert updates[ids.index("text-b")]["value"] == ""


def test_an_export_with_text_b_holds_both_halves(demo, tmp_path):
    linked = links.linked_components(demo)
    values = {c.elem_id: c.value for c in linked}
    values.update({"lens-model": "mini-gpt", "text": "The cat chases a", "text-b": TEXT_B})
    sides = {"lens"}
    paths = export_view("lens", linked, *[values[c.elem_id] for c in linked], sides=sides)
    data = json.loads(Path(paths[0]).read_text(encoding="utf-8"))
    assert data["a"]["tokens"] == api.api_logit_lens("mini-gpt", "The cat chases a")["tokens"]
    expected = api.api_logit_lens("mini-gpt", TEXT_B)
    assert data["b"]["tokens"] == expected["tokens"]
    np.testing.assert_allclose(data["b"]["final_prob"], expected["final_prob"], rtol=1e-6)
    # Without text B, or in a tab that does not show it, the export is one view's numbers.
    values["text-b"] = ""
    alone = json.loads(Path(export_view("lens", linked, *[values[c.elem_id] for c in linked], sides=sides)[0])
                       .read_text(encoding="utf-8"))
    assert "a" not in alone and alone["tokens"] == data["a"]["tokens"]


def test_the_pages_export_holds_text_b_in_the_tabs_that_show_it(demo):
    export = next(f for f in demo.fns.values() if f.api_name == "export_view")
    values = [getattr(block, "value", None) for block in export.inputs]
    ids = [getattr(block, "elem_id", None) for block in export.inputs]
    values[ids.index("text-b")] = TEXT_B
    for tab, halves in (("lens", True), ("decoding", False)):
        values[0] = tab  # the current-tab relay comes first
        files = _run(demo, export, values)[0]
        data = json.loads(Path(files[0]["path"]).read_text(encoding="utf-8"))
        assert ("b" in data) is halves, tab


def test_side_by_side_takes_the_pages_text_b_and_an_empty_one_means_the_same_text():
    same = api.api_attention_pair("mini-llama", "The cat chases a mouse", "", "mini-mixtral", "decoder", 1, 0)
    named = api.api_attention_pair("mini-llama", "The cat chases a mouse", "The cat chases a mouse", "mini-mixtral",
                                   "decoder", 1, 0)
    assert same == named and same["same_tokens"]


def test_an_error_in_text_b_says_it_is_text_bs(demo):
    fn = next(f for f in _b_events(demo) if f.outputs[-1].elem_id == "att-b")
    values = [getattr(block, "value", None) for block in fn.inputs]
    values[0] = "abc\ud800"  # a lone surrogate: refused with a message about the text
    with pytest.raises(gr.Error) as refused:
        _run(demo, fn, values)
    assert refused.value.message.startswith("Text B: ") and "position 3" in refused.value.message
