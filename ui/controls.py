"""Controls shared by the tabs: model menus, attention-kind radios, layer and head sliders.

Sliders start wide (MAX_INDEX) until the first run sets the model's own bounds; handlers clamp
to them, since a slider may still hold another model's range.
"""

from __future__ import annotations

from dataclasses import dataclass

import gradio as gr

from models import registry
from ui.i18n import L
from ui.validation import clamp
from viz.heatmap import attention_heatmap, mask_heatmap

MAX_INDEX = 127
KINDS = ("encoder", "decoder", "cross")
CONCURRENCY = 2
# Every event that runs a model shares one queue of CONCURRENCY workers (a per-event limit would
# let each of the many listeners run its own, oversubscribing the cores).
RUNS = dict(concurrency_id="model", concurrency_limit=CONCURRENCY)


def choices(*families: str) -> list[tuple[str, str]]:
    """(name, key) of every model of these families (all models when none is named)."""
    return [(s.name, s.key) for family in (families or (None,)) for s in registry.list_models(family)]


def model_menu(elem_id: str, *families: str, value: str | None = None, label: str = "Model", **props) -> gr.Dropdown:
    """A menu of the models of these families (all when none is named), starting at `value` or
    at the registry's default model of the first family."""
    return gr.Dropdown(choices(*families), value=value or registry.DEFAULTS[families[0]], label=L(label),
                       allow_custom_value=True, elem_id=elem_id, **props)


def shown_kind(trace, kind: str) -> str:
    """The asked-for attention kind when the model has it, else its last (cross for T5)."""
    return kind if kind in trace.kinds else trace.kinds[-1]


def kind_classes(kinds) -> list[str]:
    return ["kinds", *(f"has-{k}" for k in kinds)]


def kinds_update(kinds, value: str, **props) -> dict:
    """An attention-kind radio showing the kinds this model has. Its choices stay all three (the
    page hides the others, style.css): Gradio checks a request's value against the session's
    choices, so narrowing them would refuse the next call that names another model's kind."""
    return gr.update(value=value, elem_classes=kind_classes(kinds), **props)


def bound(count: int, value: int) -> dict:
    """A layer or head slider's update for a model with `count` of them. A slider needs maximum >
    minimum, so a one-layer model keeps 0..1, fixed at 0 (the handlers clamp)."""
    return gr.update(maximum=max(count - 1, 1), value=value, interactive=count > 1)


def index_slider(label: str, elem_id: str) -> gr.Slider:
    return gr.Slider(0, MAX_INDEX, value=0, step=1, label=L(label), elem_id=elem_id)


def head_controls(prefix: str, model: str, kind: str) -> tuple:
    """Model, attention kind, layer and head: the knobs of a one-head view, ids `{prefix}-model` ..."""
    return (model_menu(f"{prefix}-model", value=model),
            gr.Radio(list(KINDS), value=kind, label=L("Attention"), elem_id=f"{prefix}-kind",
                     elem_classes=kind_classes((kind,))),
            index_slider("Layer", f"{prefix}-layer"), index_slider("Head", f"{prefix}-head"))


def head_view(trace, kind: str, layer, head) -> tuple:
    """Layer and head slider updates, the mask and the chosen head's heatmap of one attention kind."""
    attn = trace.attention(kind)
    layer, head = clamp(layer, attn.layers - 1), clamp(head, attn.heads - 1)
    return bound(attn.layers, layer), bound(attn.heads, head), mask_heatmap(attn), attention_heatmap(attn, layer, head)


@dataclass(frozen=True)
class Page:
    """What every tab may wire to: the page's text box, its Run button, and one relay per
    Compare column that the page's script clicks when the typing settles."""
    text: gr.Textbox
    run: gr.Button
    settled: dict[str, gr.Button]
