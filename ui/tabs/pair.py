"""Side by side: one head on text A (the page's text) and text B (the page's second box), or one
text on two models; their difference where both sides have the same tokens."""

from __future__ import annotations

import gradio as gr

from models import analysis, registry
from models import trace as traces
from ui.api import api_attention_pair
from ui.beside import text_b as second_text
from ui.controls import RUNS, Page, Radio, bound, index_slider, kind_choices, kind_classes, kinds_update, model_menu, shown
from ui.gpu import gpu
from ui.i18n import L, explain
from ui.validation import clamp, text_or_empty, user_errors
from viz.heatmap import attention_heatmap, difference_heatmap
from viz.words import t

ID, LABEL = "pair", "Side by side"


def difference_view(a, b, kind: str, layer: int, head: int, width: int | None = None):
    """One head on two runs: (AttentionPair, the A − B figure or None, the note saying which)."""
    result = analysis.attention_pair(a, b, kind, layer, head)
    if result.difference is None:
        return result, None, t(result.why_not)
    where = t("layer {layer} · head {head}", layer=layer, head=head)
    size = {} if width is None else {"width": width}
    return result, difference_heatmap(a.attention(kind), result.difference, f"A − B · {where}", **size), t("Same tokens on both sides: A − B below, red where A attends more.")


@gpu
def run_pair(model, text, text_b, model_b, kind, layer, head):
    with user_errors():
        a = traces.run_trace(model, text)
        b = traces.run_trace(text_or_empty(model_b) or model, second_text(text_b) or text)
        shared = [k for k in a.kinds if k in b.kinds]
        if not shared:
            raise ValueError(f"Side A ({a.model_name}) and side B ({b.model_name}) share no attention kind to compare.")
        kind = kind if kind in shared else shared[-1]
        layers = min(a.attention(kind).layers, b.attention(kind).layers)
        heads = min(a.attention(kind).heads, b.attention(kind).heads)
        layer, head = clamp(layer, layers - 1), clamp(head, heads - 1)
        result, diff, note = difference_view(a, b, kind, layer, head, width=760)
        where = t("layer {layer} · head {head}", layer=layer, head=head)
        left = attention_heatmap(a.attention(kind), layer, head, title=f"A · {result.a_model} · {where}", width=760)
        right = attention_heatmap(b.attention(kind), layer, head, title=f"B · {result.b_model} · {where}", width=760)
        return (kinds_update(shared, kind), bound(layers, layer), bound(heads, head), left, right, shown(diff), note)


def build(page: Page, tab: gr.Tab) -> None:
    explain("pair")
    with gr.Row(elem_classes=["controls"]):
        model = model_menu("pair-model", value=registry.DEFAULTS["decoder"], label="Model A")
        # One text on two models by default (text B empty): GPT's and LLaMA's tokens differ, so side by side.
        model_b = model_menu("pair-model-b", value=registry.DEFAULTS["llama"], label="Model B")
    with gr.Row(elem_classes=["controls"]):
        kind = Radio(kind_choices(), value="decoder", label=L("Attention"), elem_id="pair-kind",
                     elem_classes=kind_classes(("decoder",)))
        layer, head = index_slider("Layer", "pair-layer"), index_slider("Head", "pair-head")
        go = gr.Button(L("Compare A and B"), variant="primary", elem_id="pair-run")
    note = gr.Markdown(elem_id="pair-note")
    with gr.Row():
        left = gr.Plot(label=L("Text A"), elem_id="pair-a")
        right = gr.Plot(label=L("Text B"), elem_id="pair-b")
    diff = gr.Plot(label=L("A − B"), elem_id="pair-diff", visible=False)
    # Text B is the page's (beside the text box); empty, side B is the page's text on model B.
    gr.on([go.click, page.on_run(ID).click, tab.select, model.input, model_b.input, kind.input,
           layer.release, head.release], run_pair, [model, page.text, page.text_b, model_b, kind, layer, head],
          [kind, layer, head, left, right, diff, note], api_name="pair_view", **RUNS, api_visibility="private")


def numbers(values: dict, text: str) -> dict:
    return api_attention_pair(values["pair-model"], text, values.get("text-b") or "", values["pair-model-b"],
                              values["pair-kind"], values["pair-layer"], values["pair-head"])
