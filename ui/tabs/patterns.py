"""Head patterns: every head labelled (previous token, diagonal, first token, broad, ...)."""

from __future__ import annotations

import gradio as gr

from models import analysis, registry
from models import trace as traces
from ui.api import api_head_patterns
from ui.controls import RUNS, Page, model_menu, shown
from ui.beside import Beside
from ui.gpu import gpu
from ui.i18n import L, explain
from ui.validation import user_errors
from viz.patterns import pattern_map

ID, LABEL = "patterns", "Head patterns"


@gpu
def run_patterns(model, text):
    with user_errors():
        trace = traces.run_trace(model, text)
        maps = [pattern_map(p, trace.model_name) for p in analysis.trace_patterns(trace).values()]
        return maps[0], shown(maps[1] if len(maps) > 1 else None)


def build(page: Page, tab: gr.Tab) -> None:
    explain("patterns")
    with gr.Row(elem_classes=["controls"]):
        model = model_menu("pat-model", value=registry.DEFAULTS["encoder"])
        go = gr.Button(L("Label the heads"), variant="primary", elem_id="pat-run")
    with gr.Row():
        first = gr.Plot(label=L("Head patterns"), elem_id="pat-map")
        second = gr.Plot(label=L("Head patterns (decoder of an encoder-decoder)"), elem_id="pat-map2", visible=False)
    side = Beside(page, ID)
    ran = gr.on([go.click, page.on_run(ID).click, model.input, tab.select], run_patterns, [model, page.text], [first, second],
                api_name="patterns_view", **RUNS, api_visibility="private")
    side.follow([ran], run_patterns, [model, page.text], pick=0)


def numbers(values: dict, text: str) -> dict:
    return api_head_patterns(values["pat-model"], text)
