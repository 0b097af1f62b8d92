"""Query and key vectors: one head, one query token, every key; the score before softmax as
q . k times the scale, plus T5's bias, for every family and for cross-attention."""

from __future__ import annotations

import gradio as gr

from models import qk, registry
from models.architecture import dims
from models.loading import get_model
from ui.api import api_qk_vectors
from ui.controls import RUNS, Number, Page, bound, head_controls, kinds_update, shown
from ui.beside import Beside
from ui.gpu import gpu
from ui.i18n import L, explain
from ui.validation import clamp, number, user_errors
from viz.lens import qk_figures, rope_figure

ID, LABEL = "qk", "Query & key"


@gpu
def run_qk(model, text, kind, layer, head, query):
    with user_errors():
        # A kind the model lacks (another model was picked) falls back to its last: cross for T5.
        loaded = get_model(model)
        kinds = qk.kinds_of(loaded.family)
        kind = kind if kind in kinds else kinds[-1]
        size = dims(loaded.model.config)
        layers = size.cache_layers if kind in ("decoder", "cross") else size.layers
        layer, head = clamp(layer, layers - 1), clamp(head, size.heads - 1)
        result = qk.qk_vectors(model, text, kind, layer, head, number(query, "query"))
        products, scores = qk_figures(result)
        return (kinds_update(kinds, kind), bound(result.layers, layer), bound(result.heads, head), products, scores,
                shown(rope_figure(result)))


def build(page: Page, tab: gr.Tab) -> None:
    explain("qk")
    with gr.Row(elem_classes=["controls"]):
        model, kind, layer, head = head_controls("qk", registry.DEFAULTS["decoder"], "decoder")
        query = Number(-1, precision=0, label=L("Query position (-1: the last)"), elem_id="qk-query")
        go = gr.Button(L("Show the vectors"), variant="primary", elem_id="qk-run")
    products = gr.Plot(label=L("q × k, dimension by dimension"), elem_id="qk-products")
    side = Beside(page, ID)
    scores = gr.Plot(label=L("Scores before softmax"), elem_id="qk-scores")
    rope = gr.Plot(label=L("RoPE: the rotation"), elem_id="qk-rope", visible=False)
    ran = gr.on([go.click, page.on_run(ID).click, tab.select, model.input, kind.input, layer.release, head.release,
                 query.submit], run_qk, [model, page.text, kind, layer, head, query], [kind, layer, head, products, scores, rope],
                api_name="qk_view", **RUNS, api_visibility="private")
    side.follow([ran], run_qk, [model, page.text, kind, layer, head, query], pick=3)


def numbers(values: dict, text: str) -> dict:
    return api_qk_vectors(values["qk-model"], text, values["qk-kind"], values["qk-layer"], values["qk-head"],
                          values["qk-query"])
