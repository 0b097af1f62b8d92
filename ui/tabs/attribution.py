"""Input attribution: which input tokens make one output token likely (gradient x input,
integrated gradients), optionally against another token."""

from __future__ import annotations

import gradio as gr

from models import attribution
from ui.api import api_attribution
from ui.controls import RUNS, Page, Slider, model_menu
from ui.beside import Beside
from ui.gpu import gpu
from ui.i18n import L, explain
from ui.validation import text_or_empty, user_errors, warn
from viz.lens import attribution_figure
from viz.tables import attribution_markdown

ID, LABEL = "attribution", "Attribution"


@gpu
def run_attribution(model, text, target, contrast, steps):
    with user_errors():
        result = attribution.attribute(model, text, text_or_empty(target), text_or_empty(contrast), int(steps))
        warn(result.notices)
        return attribution_markdown(result), attribution_figure(result)


def build(page: Page, tab: gr.Tab) -> None:
    explain("attribution")
    with gr.Row(elem_classes=["controls"]):
        model = model_menu("attr-model", "decoder", "encoder-decoder", "encoder")
        target = gr.Textbox("", label=L("Target token (empty: the model's prediction)"), elem_id="attr-target")
        contrast = gr.Textbox("", label=L("...and not this token (optional)"), elem_id="attr-contrast")
        steps = Slider(8, 128, value=64, step=8, label=L("Integration steps"), elem_id="attr-steps")
        go = gr.Button(L("Attribute"), variant="primary", elem_id="attr-run")
    plot = gr.Plot(label=L("Attribution"), elem_id="attr-plot")
    side = Beside(page, ID)
    summary = gr.Markdown(elem_id="attr-summary")
    ran = gr.on([go.click, page.on_run(ID).click, model.input, target.submit, contrast.submit, steps.release, tab.select],
                run_attribution, [model, page.text, target, contrast, steps], [summary, plot], api_name="attribution_view", **RUNS,
                api_visibility="private")
    side.follow([ran], run_attribution, [model, page.text, target, contrast, steps], pick=1)


def numbers(values: dict, text: str) -> dict:
    return api_attribution(values["attr-model"], text, values["attr-target"], values["attr-contrast"],
                           values["attr-steps"])
