"""Experts (MoE): which experts the router sends each token to, layer by layer (Mixtral)."""

from __future__ import annotations

import gradio as gr

from models import mechanisms, registry
from ui.api import api_moe_routing
from ui.controls import RUNS, Page, bound, index_slider, model_menu
from ui.beside import Beside
from ui.gpu import gpu
from ui.i18n import L, explain
from ui.validation import clamp, user_errors
from viz import concepts as concept_viz

ID, LABEL = "moe", "Experts (MoE)"


@gpu
def run_moe(model, text, layer):
    with user_errors():
        result = mechanisms.moe_routing(model, text)
        layer = clamp(layer, result.probs.shape[0] - 1)
        return concept_viz.routing_figure(result, layer), bound(result.probs.shape[0], layer)


def build(page: Page, tab: gr.Tab) -> None:
    explain("moe")
    with gr.Row(elem_classes=["controls"]):
        model = model_menu("moe-model", "decoder", value=registry.DEFAULTS["moe"], label="MoE model")
        layer = index_slider("Layer", "moe-layer")
    plot = gr.Plot(label=L("Routing"), elem_id="moe-plot")
    side = Beside(page, ID)
    ran = gr.on([page.on_run(ID).click, tab.select, model.input, layer.release], run_moe, [model, page.text, layer], [plot, layer],
                api_name="moe_view", api_visibility="private", **RUNS)
    side.follow([ran], run_moe, [model, page.text, layer], pick=0)


def numbers(values: dict, text: str) -> dict:
    return api_moe_routing(values["moe-model"], text)
