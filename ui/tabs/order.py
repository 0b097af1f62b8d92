"""Order & scaling: shuffle the tokens with positions removed (an encoder cannot tell, a causal
decoder can), and one head's scores through softmax with and without 1/sqrt(d_k)."""

from __future__ import annotations

import gradio as gr

from models import mechanisms
from ui.api import api_order_experiment, api_scaling
from ui.controls import Number, Page, RUNS, bound, index_slider, model_menu
from ui.beside import Beside
from ui.gpu import gpu
from ui.i18n import L, explain
from ui.validation import clamp, seed, user_errors
from viz import concepts as concept_viz
from viz.tables import order_table_markdown

ID, LABEL = "order", "Order & scaling"


@gpu
def run_order(text, seed_value, encoder, decoder):
    with user_errors():
        results = [mechanisms.order_experiment(m, text, seed(seed_value)) for m in (encoder, decoder)]
        return order_table_markdown(results), *(concept_viz.order_figure(r) for r in results)


@gpu
def run_scaling(model, text, layer, head):
    with user_errors():
        layers, heads = mechanisms.layers_heads(model)
        layer, head = clamp(layer, layers - 1), clamp(head, heads - 1)
        return (concept_viz.scaling_figure(mechanisms.scaling(model, text, layer, head)),
                concept_viz.textbook_markdown(mechanisms.textbook_scaling()), bound(layers, layer), bound(heads, head))


def build(page: Page, tab: gr.Tab) -> None:
    explain("order")
    with gr.Row(elem_classes=["controls"]):
        order_seed = Number(0, precision=0, label=L("Shuffle seed"), elem_id="order-seed")
        encoder = model_menu("order-enc", "encoder", label="Encoder")
        decoder = model_menu("order-dec", "decoder", label="Decoder")
        go = gr.Button(L("Shuffle and compare"), variant="primary", elem_id="order-run")
    table = gr.Markdown(elem_id="order-table")
    with gr.Row():
        enc_plot = gr.Plot(label=L("Encoder"), elem_id="order-enc-plot")
        dec_plot = gr.Plot(label=L("Decoder"), elem_id="order-dec-plot")
    side = Beside(page, ID)
    ran = page.on_run(ID)
    shuffled = gr.on([go.click, ran.click, tab.select, order_seed.submit], run_order,
                     [page.text, order_seed, encoder, decoder], [table, enc_plot, dec_plot], api_name="order_view",
                     api_visibility="private", **RUNS)
    side.follow([shuffled], run_order, [page.text, order_seed, encoder, decoder], pick=1)
    explain("scaling")
    with gr.Row(elem_classes=["controls"]):
        model = model_menu("scale-model", "encoder", "decoder")
        layer, head = index_slider("Layer", "scale-layer"), index_slider("Head", "scale-head")
    plot = gr.Plot(label=L("Scaled vs unscaled"), elem_id="scale-plot")
    textbook = gr.Markdown(elem_id="scale-textbook")
    gr.on([ran.click, tab.select, model.input, layer.release, head.release], run_scaling, [model, page.text, layer, head],
          [plot, textbook, layer, head], api_name="scaling_view", api_visibility="private", **RUNS)


def numbers(values: dict, text: str) -> dict:
    v = values
    return {"encoder": api_order_experiment(v["order-enc"], text, v["order-seed"]),
            "decoder": api_order_experiment(v["order-dec"], text, v["order-seed"]),
            "scaling": api_scaling(v["scale-model"], text, int(v["scale-layer"]), int(v["scale-head"]))}
