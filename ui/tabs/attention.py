"""Attention: one model in depth, the chosen head beside its mask, then every head at once."""

from __future__ import annotations

import gradio as gr

from models import registry
from models import trace as traces
from models.limits import export_limit
from ui import kept
from ui.beside import Beside
from ui.controls import RUNS, Page, head_controls, head_view, kinds_update, shown_kind
from ui.gpu import gpu
from ui.i18n import L, explain
from ui.validation import clamp, user_errors
from viz.export import encoding_for
from viz.overview import overview_figure, parse_pick

ID, LABEL = "attention", "Attention"


@gpu
def run_attention(model, text, kind, layer, head):
    with user_errors():
        ref, trace = kept.run(model, text)
        kind = shown_kind(trace, kind)
        return (ref, kinds_update(trace.kinds, kind), *head_view(trace, kind, layer, head))


@gpu
def view_attention(ref, kind, layer, head):
    if not isinstance(ref, kept.Ref):
        return gr.skip(), gr.skip(), gr.skip(), gr.skip()
    with user_errors():
        return head_view(kept.TRACES.get(ref), kind, layer, head)


@gpu
def draw_overview(ref, kind, layer=None, head=None):
    """The all-heads overview of the run just shown. It follows the head view as its own step:
    it is most of the bytes (12 x 12 heads at 64 tokens: 3.4 MB of exact weights), so the chosen
    head appears first, and moving the layer or head sliders does not send it again: the page
    moves the chosen head's outline itself (assets/app.js). The public /attention_overview takes
    no layer or head, so its outline starts hidden and the page places it; the page's own steps
    pass them, and the outline is drawn in place from the start."""
    if not isinstance(ref, kept.Ref):
        return gr.skip()
    with user_errors():
        trace = kept.TRACES.get(ref)
        attn = trace.attention(shown_kind(trace, kind))
        if layer is not None and head is not None:
            layer, head = clamp(layer, attn.layers - 1), clamp(head, attn.heads - 1)
        return overview_figure(attn, trace.model_name, layer, head)


@gpu
def pick_head(ref, kind, picked):
    """A click on the overview ("x|y" labels of the cell) opens that head."""
    if not isinstance(ref, kept.Ref) or not picked:
        return gr.skip(), gr.skip(), gr.skip(), gr.skip()
    with user_errors():
        x, _, y = str(picked).partition("|")
        layer, head = parse_pick(x, y)
        return head_view(kept.TRACES.get(ref), kind, layer, head)


def build(page: Page, tab: gr.Tab) -> None:
    explain("attention")
    with gr.Row(elem_classes=["controls"]):
        model, kind, layer, head = head_controls("att", registry.DEFAULTS["encoder"], "encoder")
    with gr.Row():
        attn_plot = gr.Plot(label=L("Attention of the selected head"), elem_id="att-heatmap")
        mask_plot = gr.Plot(label=L("Mask"), elem_id="att-mask")
    side = Beside(page, ID, name="att", half=True)
    over = gr.Plot(label=L("All heads"), elem_id="overview")
    picked = gr.Textbox(elem_id="overview-pick", elem_classes=["relay"], show_label=False, container=False)
    open_pick = gr.Button("open", elem_id="overview-open", elem_classes=["relay"])
    trace = gr.State(None)  # a kept.Ref, not the trace (ui/kept.py)
    view = [trace, kind, layer, head]
    shown = [layer, head, mask_plot, attn_plot]
    inputs = [model, page.text, kind, layer, head]
    ran = gr.on([page.on_run(ID).click, model.input], run_attention, inputs,
                [trace, kind, *shown], api_name="attention_view", **RUNS,
                api_description="One model: the selected head's heatmap and its mask (then /attention_overview).")
    ran.then(draw_overview, [trace, kind], over, api_name="attention_overview",
             api_description="After /attention_view in the same session: the all-heads overview of that run, for the kind given.")
    moved = gr.on([layer.release, head.release], view_attention, view, shown, api_name="view_attention",
                  api_visibility="private")
    switched = kind.input(view_attention, view, shown, api_visibility="private")
    switched.then(draw_overview, view, over, api_visibility="private")
    opened = open_pick.click(pick_head, [trace, kind, picked], shown, api_name="pick_head", api_visibility="private")
    selected = tab.select(run_attention, inputs, [trace, kind, *shown], api_visibility="private", **RUNS)
    selected.then(draw_overview, view, over, api_visibility="private")
    # B's head is the one A's sliders show once A's view has clamped them.
    side.follow([ran, moved, switched, opened, selected], run_attention, inputs, pick=-1)


def numbers(values: dict, text: str) -> dict:
    """/attention_data's answer; packed float16 where its JSON lists would pass the export's limit."""
    trace = traces.run_trace(values["att-model"], text)
    weights = sum(a.attn.size for a in trace.attentions)
    return traces.trace_to_json(trace, encoding=encoding_for(weights, export_limit()))
