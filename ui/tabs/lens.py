"""Logit lens: the model's own output head read at every layer, to see when its prediction forms."""

from __future__ import annotations

import gradio as gr

from models import lens
from ui.api import api_logit_lens
from ui.controls import RUNS, Page, model_menu
from ui.beside import Beside
from ui.gpu import gpu
from ui.i18n import L, explain
from ui.validation import user_errors, warn
from viz.lens import lens_figure

ID, LABEL = "lens", "Logit lens"


@gpu
def run_lens(model, text):
    with user_errors():
        result = lens.logit_lens(model, text)
        warn(result.notices)
        return lens_figure(result)


def build(page: Page, tab: gr.Tab) -> None:
    explain("lens")
    with gr.Row(elem_classes=["controls"]):
        model = model_menu("lens-model", "decoder", "encoder-decoder", "encoder")
        go = gr.Button(L("Read every layer"), variant="primary", elem_id="lens-run")
    plot = gr.Plot(label=L("Logit lens"), elem_id="lens-plot")
    side = Beside(page, ID)
    ran = gr.on([go.click, page.on_run(ID).click, model.input, tab.select], run_lens, [model, page.text], plot,
                api_name="lens_view", **RUNS, api_visibility="private")
    side.follow([ran], run_lens, [model, page.text], pick=None)


def numbers(values: dict, text: str) -> dict:
    return api_logit_lens(values["lens-model"], text)
