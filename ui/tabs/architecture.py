"""Architecture: two models' parts, parameter counts, block order and features, differences marked."""

from __future__ import annotations

import gradio as gr

from models import registry
from models.architecture import describe, differences
from ui.api import api_architecture
from ui.controls import RUNS, Page, model_menu
from ui.gpu import gpu
from ui.i18n import L, explain
from ui.validation import user_errors
from viz.architecture import architecture_figure, comparison_markdown, parts_table_markdown

ID, LABEL = "architecture", "Architecture"


@gpu
def run_architecture(left, right):
    with user_errors():
        a, b = describe(left), describe(right)
        rows = differences(a, b)
        marked = tuple(name for name, _, _, differs in rows if differs)
        return (comparison_markdown(a, b, rows), architecture_figure(a, marked), architecture_figure(b, marked),
                parts_table_markdown(a), parts_table_markdown(b), a.tree, b.tree)


def build(page: Page, tab: gr.Tab) -> None:
    explain("architecture")
    with gr.Row(elem_classes=["controls"]):
        left = model_menu("arch-left", value=registry.DEFAULTS["decoder"], label="Model A")
        right = model_menu("arch-right", value=registry.DEFAULTS["llama"], label="Model B")
        go = gr.Button(L("Compare"), variant="primary", elem_id="arch-run")
    table = gr.Markdown(elem_id="arch-diff")
    with gr.Row():
        fig_a = gr.Plot(label=L("Model A"), elem_id="arch-plot-a")
        fig_b = gr.Plot(label=L("Model B"), elem_id="arch-plot-b")
    with gr.Row(elem_id="arch-parts"):
        parts_a = gr.Markdown(elem_id="arch-parts-a")
        parts_b = gr.Markdown(elem_id="arch-parts-b")
    with gr.Accordion(L("Printed module trees"), open=False, elem_id="arch-trees"):
        with gr.Row():
            tree_a = gr.Code(language=None, label=L("Model A"), elem_id="arch-tree-a")
            tree_b = gr.Code(language=None, label=L("Model B"), elem_id="arch-tree-b")
    gr.on([go.click, tab.select, left.input, right.input], run_architecture, [left, right],
          [table, fig_a, fig_b, parts_a, parts_b, tree_a, tree_b], api_name="architecture_view",
          api_visibility="private", **RUNS)


def numbers(values: dict, text: str) -> dict:
    return {"a": api_architecture(values["arch-left"]), "b": api_architecture(values["arch-right"])}
