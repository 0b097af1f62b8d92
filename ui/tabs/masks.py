"""Masks: the masking taxonomy beside the attention each mask produces, on the same text."""

from __future__ import annotations

import gradio as gr

from models.masks import taxonomy
from ui.api import SHORT_SENTENCE, api_mask_data
from ui.controls import IndexSlider, MAX_INDEX, Page, RUNS, bound, index_slider
from ui.beside import Beside
from ui.gpu import gpu
from ui.i18n import L, explain
from ui.validation import clamp, user_errors
from viz.heatmap import attention_heatmap, mask_heatmap
from viz.words import t

ID, LABEL = "masks", "Masks"
ROWS = ("BERT, row 1", "BERT, row 2 (padded)", "GPT, causal", "GPT, prefix-LM", "T5 encoder", "T5 decoder", "T5 cross")


def _title(scheme, prefix: int) -> str:
    """A scheme's title (models.masks writes it in English) in the reader's language."""
    if scheme.name == "prefix_lm":
        return t("prefix decoder, prefix of {} tokens", prefix)
    return t(scheme.title)


@gpu
def run_masks(text, second, prefix, layer, head):
    with user_errors():
        result = taxonomy(text, second or SHORT_SENTENCE, prefix)
        figures, layers, heads = [], 1, 1
        for scheme in result.schemes:
            attn = scheme.attention
            lay, hd = clamp(layer, attn.layers - 1), clamp(head, attn.heads - 1)
            layers, heads = max(layers, attn.layers), max(heads, attn.heads)
            title = _title(scheme, result.prefix)
            figures += [mask_heatmap(attn, t("mask · {}", title)),
                        attention_heatmap(attn, lay, hd, t("attention L{} H{} · {}", lay, hd, title))]
        # The sliders reach the largest model's last layer and head; smaller ones show their last.
        return (gr.update(maximum=max(result.length, 1), value=result.prefix), *figures,
                bound(layers, clamp(layer, layers - 1)), bound(heads, clamp(head, heads - 1)))


def build(page: Page, tab: gr.Tab) -> None:
    explain("masks")
    with gr.Row(elem_classes=["controls"]):
        second = gr.Textbox(SHORT_SENTENCE, label=L("Second sentence of BERT's batch (the shorter one gets [PAD])"),
                            elem_id="mask-second")
        prefix = IndexSlider(0, MAX_INDEX, value=2, step=1, label=L("Prefix length (prefix decoder)"), elem_id="mask-prefix")
        layer, head = index_slider("Layer", "mask-layer"), index_slider("Head", "mask-head")
        show = gr.Button(L("Show masks"), variant="primary", elem_id="mask-run")
    plots = []
    with gr.Column(elem_id="masks-plots"):
        for title in ROWS:
            with gr.Row():
                plots.append(gr.Plot(label=L(f"{title}: mask")))
                plots.append(gr.Plot(label=L(f"{title}: attention")))
    side = Beside(page, ID)
    ran = gr.on([show.click, page.on_run(ID).click, tab.select, prefix.release, layer.release, head.release, second.submit], run_masks,
                [page.text, second, prefix, layer, head], [prefix, *plots, layer, head], api_name="masks_view", **RUNS,
                api_description="Mask and attention figures of the four masking schemes for the text.")
    side.follow([ran], run_masks, [page.text, second, prefix, layer, head], pick=2)


def numbers(values: dict, text: str) -> dict:
    return api_mask_data(text, values["mask-second"], int(values["mask-prefix"]))
