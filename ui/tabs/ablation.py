"""Head ablation: switch heads off and see what the prediction loses; every head ranked by one
ablation each."""

from __future__ import annotations

import gradio as gr

from models import ablation
from ui.api import api_ablate
from ui.controls import RUNS, Dropdown, Page, model_menu
from ui.beside import Beside
from ui.gpu import gpu
from ui.i18n import L, explain
from ui.validation import text_or_empty, user_errors, warn
from viz.lens import ablation_figure
from viz.tables import ablation_markdown

ID, LABEL = "ablation", "Head ablation"


@gpu
def run_ablation(model, text, heads, kind):
    with user_errors():
        result = ablation.ablate(model, text, text_or_empty(heads), text_or_empty(kind))
        warn(result.notices)
        return ablation_markdown(result), ablation_figure(result)


def build(page: Page, tab: gr.Tab) -> None:
    explain("ablation")
    with gr.Row(elem_classes=["controls"]):
        model = model_menu("abl-model", "decoder", "encoder-decoder", "encoder")
        heads = gr.Textbox("0:0, 1:1", label=L("Heads to switch off (layer:head, ...)"), elem_id="abl-heads")
        kind = Dropdown([(L("first stack"), ""), (L("encoder"), "encoder"), (L("decoder"), "decoder")], value="",
                           label=L("Stack (T5 has two)"), elem_id="abl-kind")
        go = gr.Button(L("Switch them off"), variant="primary", elem_id="abl-run")
    # The ranking first: the figure is what a room looks at, the table is read up close.
    plot = gr.Plot(label=L("Every head, one at a time"), elem_id="abl-plot")
    side = Beside(page, ID)
    table = gr.Markdown(elem_id="abl-table")
    ran = gr.on([go.click, page.on_run(ID).click, model.input, heads.submit, kind.input, tab.select], run_ablation,
                [model, page.text, heads, kind], [table, plot], api_name="ablation_view", **RUNS, api_visibility="private")
    side.follow([ran], run_ablation, [model, page.text, heads, kind], pick=1)


def numbers(values: dict, text: str) -> dict:
    return api_ablate(values["abl-model"], text, values["abl-heads"], values["abl-kind"])
