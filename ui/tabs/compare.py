"""Compare: one column per family on the same text, each with its tokens, outputs, mask and one head."""

from __future__ import annotations

import dataclasses

import gradio as gr

from models import registry
from ui import kept
from ui.api import api_attention_data
from ui.beside import Beside
from ui.controls import (KINDS, Page, RUNS, Radio, head_view, index_slider, kind_choices, kind_classes, kinds_update,
                         model_menu, shown_kind)
from ui.gpu import gpu
from ui.i18n import L, bilingual, explain
from ui.validation import user_errors
from viz.tokens import outputs_html, tokens_html

ID, LABEL = "compare", "Compare"

# (slug, family, title, what to look for, default model)
COLUMNS = (
    ("bert", "encoder", "BERT · encoder", "Bidirectional: every token sees every other token. "
     "Put [MASK] in the text for its guesses, or 'A [SEP] B' for next-sentence prediction.", registry.DEFAULTS["encoder"]),
    ("gpt", "decoder", "GPT · decoder", "Causal: a token sees only itself and earlier tokens.", registry.DEFAULTS["decoder"]),
    ("t5", "encoder-decoder", "T5 · encoder-decoder",
     "Bidirectional encoder, causal decoder, cross-attention from output to input.", registry.DEFAULTS["encoder-decoder"]),
    ("llama", "decoder", "LLaMA · decoder",
     "Causal like GPT, with RoPE, RMSNorm, SwiGLU and grouped-query attention.", registry.DEFAULTS["llama"]),
)
SLUGS = tuple(slug for slug, *_ in COLUMNS)


@gpu
def run_column(model, text, kind, layer, head):
    with user_errors():
        ref, trace = kept.run(model, text)
        kind = shown_kind(trace, kind)
        tokens = tokens_html(trace.tokens, trace.special, label=trace.model_name, unfamiliar=trace.unfamiliar)
        kinds = kinds_update(trace.kinds, kind, visible=len(trace.kinds) > 1)
        shown = dataclasses.replace(trace, notices=tuple(bilingual(n) for n in trace.notices))
        return (ref, tokens, outputs_html(shown), kinds, *head_view(trace, kind, layer, head))


@gpu
def view_column(ref, kind, layer, head):
    if not isinstance(ref, kept.Ref):
        return gr.skip(), gr.skip(), gr.skip(), gr.skip()
    with user_errors():
        return head_view(kept.TRACES.get(ref), kind, layer, head)


def _column(slug, family, title, blurb, default, page: Page) -> None:
    with gr.Column(min_width=250, elem_classes=["family-column"], elem_id=f"col-{slug}"):
        gr.Markdown(L(title), elem_classes=["column-title"])
        gr.Markdown(L(blurb), elem_classes=["blurb"])
        model = model_menu(f"model-{slug}", family, value=default, elem_classes=["column-controls"])
        # Every kind is a valid choice: an API call or another model in this column may ask for any.
        kind = Radio(kind_choices(), value="cross" if family == "encoder-decoder" else family, label=L("Attention"),
                        visible=family == "encoder-decoder", elem_id=f"kind-{slug}",
                        elem_classes=kind_classes(KINDS if family == "encoder-decoder" else (family,)))
        with gr.Row(elem_classes=["controls"]):
            layer, head = index_slider("Layer", f"layer-{slug}"), index_slider("Head", f"head-{slug}")
        tokens = gr.HTML(elem_id=f"tokens-{slug}")
        outputs = gr.HTML(elem_id=f"outputs-{slug}")
        mask_plot = gr.Plot(label=L("Mask"), elem_id=f"mask-{slug}")
        attn_plot = gr.Plot(label=L("Attention"), elem_id=f"attn-{slug}")
        side = Beside(page, ID, name=f"compare-{slug}", note=False)
        trace = gr.State(None)  # a kept.Ref, not the trace (ui/kept.py)
    inputs = [model, page.text, kind, layer, head]
    ran = gr.on(
        triggers=[page.settled[slug].click, model.input],
        fn=run_column,
        inputs=inputs,
        outputs=[trace, tokens, outputs, kind, layer, head, mask_plot, attn_plot],
        api_name=f"compare_{slug}", **RUNS,
        api_description=f"Run the {title} column's model on the text: tokens, outputs, mask and attention figures.",
        trigger_mode="multiple",  # the page debounces typing; every pause must run
        show_progress="minimal",  # no overlay: the column stays clickable while it follows the typing
    )
    moved = gr.on(
        triggers=[kind.input, layer.release, head.release],
        fn=view_column,
        inputs=[trace, kind, layer, head],
        outputs=[layer, head, mask_plot, attn_plot],
        api_name=f"view_{slug}",
        api_visibility="private",
    )
    side.follow([ran, moved], run_column, inputs, pick=-1)


def build(page: Page, tab: gr.Tab) -> None:
    explain("compare")
    with gr.Row(equal_height=False):
        for column in COLUMNS:
            _column(*column, page)


def numbers(values: dict, text: str) -> dict:
    return {slug: api_attention_data(values[f"model-{slug}"], text) for slug in SLUGS}
