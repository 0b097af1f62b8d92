"""Graph & flow: one head as a token graph, and rollout and attention flow to one query position."""

from __future__ import annotations

import gradio as gr

from models import analysis, registry
from models import trace as traces
from ui.api import api_attention_flow
from ui.controls import Number, Page, RUNS, Slider, bound, head_controls, kinds_update
from ui.beside import Beside
from ui.gpu import gpu
from ui.i18n import L, explain
from ui.validation import clamp, user_errors, warn
from viz.graphs import importance_figure, token_graph, token_graph_figure

ID, LABEL = "graph", "Graph & flow"


@gpu
def run_graph(model, text, kind, layer, head, threshold, position):
    with user_errors():
        trace = traces.run_trace(model, text)
        kinds = analysis.self_attention_kinds(trace)
        kind = kind if kind in kinds else kinds[0]
        attn = trace.attention(kind)
        layer, head = clamp(layer, attn.layers - 1), clamp(head, attn.heads - 1)
        graph = token_graph(attn, layer, head, threshold)
        result = analysis.importance_of(trace, position, kind)
        warn(result.notices)
        return (kinds_update(kinds, kind), bound(attn.layers, layer), bound(attn.heads, head),
                token_graph_figure(graph), importance_figure(result, trace.model_name))


def build(page: Page, tab: gr.Tab) -> None:
    explain("graph")
    with gr.Row(elem_classes=["controls"]):
        model, kind, layer, head = head_controls("graph", registry.DEFAULTS["decoder"], "decoder")
        threshold = Slider(0, 1, value=0.1, step=0.01, label=L("Edge threshold"), elem_id="graph-threshold")
        position = Number(-1, precision=0, label=L("Query position (-1: [CLS] / last token)"), elem_id="graph-position")
        go = gr.Button(L("Draw"), variant="primary", elem_id="graph-run")
    graph = gr.Plot(label=L("Token graph"), elem_id="graph-plot")
    side = Beside(page, ID)
    importance = gr.Plot(label=L("Rollout and flow"), elem_id="flow-plot")
    ran = gr.on([go.click, page.on_run(ID).click, tab.select, model.input, kind.input, layer.release, head.release, threshold.release, position.submit],
                run_graph, [model, page.text, kind, layer, head, threshold, position],
                [kind, layer, head, graph, importance], api_name="graph_view", **RUNS, api_visibility="private")
    side.follow([ran], run_graph, [model, page.text, kind, layer, head, threshold, position], pick=3)


def numbers(values: dict, text: str) -> dict:
    # As the view does: a kind the model lacks (a link that picked another model first) gives its first.
    kinds = analysis.self_attention_kinds(traces.run_trace(values["graph-model"], text))
    kind = values["graph-kind"] if values["graph-kind"] in kinds else kinds[0]
    return api_attention_flow(values["graph-model"], text, int(values["graph-position"]), kind)
