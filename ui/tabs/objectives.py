"""Objectives: each family's training objective on the typed text (BERT's masking and NSP,
GPT's shifted next-token targets, T5's span corruption), with the model's own losses."""

from __future__ import annotations

import gradio as gr

from models import objectives
from ui.api import api_objectives
from ui.controls import Number, Page, RUNS, model_menu
from ui.beside import Beside
from ui.gpu import gpu
from ui.i18n import L, explain
from ui.validation import seed, user_errors
from viz import concepts as concept_viz

ID, LABEL = "objectives", "Objectives"
MODELS = ("obj-bert", "obj-gpt", "obj-t5")


@gpu
def run_objectives(text, second, seed_value, bert, gpt, t5):
    with user_errors():
        chosen = seed(seed_value)
        span = objectives.span_corruption(t5, text, chosen)
        return (concept_viz.masked_lm_html(objectives.masked_lm(bert, text, second or "", chosen)),
                concept_viz.next_token_figure(objectives.next_token(gpt, text)),
                concept_viz.span_html(span), concept_viz.span_figure(span))


def build(page: Page, tab: gr.Tab) -> None:
    explain("objectives")
    with gr.Row(elem_classes=["controls"]):
        second = gr.Textbox("", label=L("Second sentence (BERT's NSP; optional)"), elem_id="obj-second")
        seed_box = Number(0, precision=0, label=L("Seed"), elem_id="obj-seed")
        bert = model_menu("obj-bert", "encoder", label="Encoder")
        gpt = model_menu("obj-gpt", "decoder", label="Decoder")
        t5 = model_menu("obj-t5", "encoder-decoder", label="Encoder-decoder")
    masked = gr.HTML(elem_id="obj-mlm")
    shifted = gr.Plot(label=L("GPT: next-token loss"), elem_id="obj-gpt-plot")
    side = Beside(page, ID)
    spans = gr.HTML(elem_id="obj-span")
    span_plot = gr.Plot(label=L("T5: span-corruption loss"), elem_id="obj-span-plot")
    # The page's Run runs this view (no second Run button here).
    ran = gr.on([page.on_run(ID).click, tab.select, seed_box.submit, second.submit], run_objectives,
                [page.text, second, seed_box, bert, gpt, t5], [masked, shifted, spans, span_plot],
                api_name="objectives_view", api_visibility="private", **RUNS)
    side.follow([ran], run_objectives, [page.text, second, seed_box, bert, gpt, t5], pick=1)


def numbers(values: dict, text: str) -> dict:
    return {key: api_objectives(values[key], text, values["obj-second"] or "", values["obj-seed"]) for key in MODELS}
