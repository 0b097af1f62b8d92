"""Controls shared by the tabs: model menus, attention-kind radios, sliders and number boxes.

Index sliders (layer, head, prefix) start wide (MAX_INDEX) until a run sets the model's own
bounds; handlers clamp to the range of the model a request names, since a slider (and an API
client's session) may still hold another model's range. Every slider and number box of the page
is one of the classes below: a value they cannot read is refused in both languages before a
handler runs, never as Gradio's wordless "Error".
"""

from __future__ import annotations

from dataclasses import dataclass, field

import gradio as gr

from models import registry
from ui.i18n import I18N, L
from viz.words import ZH
from ui.validation import clamp, number, refuse
from viz.heatmap import attention_heatmap, mask_heatmap

MAX_INDEX = 127
KINDS = ("encoder", "decoder", "cross")
CONCURRENCY = 2
# Every event that runs a model shares one queue of CONCURRENCY workers (a per-event limit would
# let each of the many listeners run its own, oversubscribing the cores).
RUNS = dict(concurrency_id="model", concurrency_limit=CONCURRENCY)


def choices(*families: str) -> list[tuple]:
    """(name in the page's language, key) of every model of these families (all when none is named)."""
    return [(L(s.name) if s.name in ZH else s.name, s.key)  # a Hub model's name is its name in any language
            for family in (families or (None,)) for s in registry.list_models(family)]


def kind_choices() -> list[tuple]:
    """The attention kinds as (name in the page's language, kind)."""
    return [(L(kind), kind) for kind in KINDS]


def model_menu(elem_id: str, *families: str, value: str | None = None, label: str = "Model", **props) -> gr.Dropdown:
    """A menu of the models of these families (all when none is named), starting at `value` or
    at the registry's default model of the first family. In a row of controls it keeps the width
    of the longest embedded model's name ("Mini Mixtral MoE (embedded)") instead of an equal share."""
    props.setdefault("min_width", 290)
    return Dropdown(choices(*families), value=value or registry.DEFAULTS[families[0]], label=L(label),
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


def shown(figure) -> dict:
    """A plot's update: the figure, and the plot shown only when there is one (no empty boxes
    for views a model does not have, such as cross-attention for GPT)."""
    return gr.update(value=figure, visible=figure is not None)


def english(label) -> str:
    """The English of a label made with L(), for messages (which carry both languages)."""
    return I18N.translations["en"].get(getattr(label, "key", ""), str(label or "value"))


def _read(component, payload, bounded: bool):
    """A slider's or number box's request value through the one validator (ui/validation.py):
    a number within the control's range, or, unbounded, any finite number."""
    name = english(component.label)
    try:
        value = number(payload, name, integer=False)
        if bounded and not (component.minimum or 0) <= value <= component.maximum:
            raise ValueError(f"{name} must be between {component.minimum:g} and {component.maximum:g}.")
    except ValueError as err:
        raise refuse(str(err)) from None
    return gr.Number.round_to_precision(value, component.precision)


class Slider(gr.Slider):
    """gr.Slider whose out-of-range or non-numeric values are refused with a message in both languages."""

    is_template = True  # drawn by the parent's frontend (Gradio's convention for template components)

    def preprocess(self, payload):
        return _read(self, payload, bounded=True)


class IndexSlider(gr.Slider):
    """A layer, head or prefix slider: its value is not checked against the session's current
    maximum, which the previous run set for another model; the handler clamps to the model the
    request names (issue 17, item 1)."""

    is_template = True  # drawn by the parent's frontend (Gradio's convention for template components)

    def preprocess(self, payload):
        return _read(self, payload, bounded=False)


class Number(gr.Number):
    """gr.Number (seeds, positions) refusing a value that is no finite number in both languages;
    what the number means is checked by its handler (ui/validation.py)."""

    is_template = True  # drawn by the parent's frontend (Gradio's convention for template components)

    def preprocess(self, payload):
        return _read(self, payload, bounded=False)


def _choice(component, payload):
    name = english(component.label)
    values = [value for _, value in component.choices]
    if getattr(component, "allow_custom_value", False):
        if payload is None or isinstance(payload, str):
            return payload
        raise refuse(f"{name} must be a name, as text.")
    if isinstance(payload, (str, int, float)) and payload in values:
        return payload
    raise refuse(f"{name} must be one of: {', '.join(map(str, values))}.")


class Radio(gr.Radio):
    """gr.Radio refusing a value outside its choices in both languages."""

    is_template = True  # drawn by the parent's frontend (Gradio's convention for template components)

    def preprocess(self, payload):
        return _choice(self, payload)


class Dropdown(gr.Dropdown):
    """gr.Dropdown (model menus take any name, which the registry then checks) refusing what is no
    name or choice, in both languages."""

    is_template = True  # drawn by the parent's frontend (Gradio's convention for template components)

    def preprocess(self, payload):
        return _choice(self, payload)


class Examples(gr.Dataset):
    """The example sentences under the text box; a click answers the sentence, and an index that
    is not one of them is refused in words."""

    is_template = True  # drawn by the parent's frontend (Gradio's convention for template components)

    def preprocess(self, payload):
        if isinstance(payload, bool) or not isinstance(payload, int) or not 0 <= payload < len(self.raw_samples):
            raise refuse("Pick one of the examples.")
        return payload


def index_slider(label: str, elem_id: str) -> gr.Slider:
    return IndexSlider(0, MAX_INDEX, value=0, step=1, label=L(label), elem_id=elem_id)


def head_controls(prefix: str, model: str, kind: str) -> tuple:
    """Model, attention kind, layer and head: the knobs of a one-head view, ids `{prefix}-model` ..."""
    return (model_menu(f"{prefix}-model", value=model),
            Radio(kind_choices(), value=kind, label=L("Attention"), elem_id=f"{prefix}-kind",
                     elem_classes=kind_classes((kind,))),
            index_slider("Layer", f"{prefix}-layer"), index_slider("Head", f"{prefix}-head"))


def head_view(trace, kind: str, layer, head) -> tuple:
    """Layer and head slider updates, the mask and the chosen head's heatmap of one attention kind."""
    attn = trace.attention(kind)
    layer, head = clamp(layer, attn.layers - 1), clamp(head, attn.heads - 1)
    return bound(attn.layers, layer), bound(attn.heads, head), mask_heatmap(attn), attention_heatmap(attn, layer, head)


@dataclass(frozen=True)
class Page:
    """What every tab may wire to: the page's text box, one relay per Compare column that the
    page's script clicks when the typing settles, and a relay per tab that it clicks on Run or
    Enter while that tab is shown (a hidden tab computes nothing; it runs when it is opened).
    text_b is the optional second text that views show beside the first (ui/beside.py)."""
    text: gr.Textbox
    settled: dict[str, gr.Button]
    text_b: gr.Textbox | None = None
    runs: dict[str, str] = field(default_factory=dict)  # tab id -> the elem_id of its Run relay
    sides: set[str] = field(default_factory=set)  # the tabs that show text B beside A

    def on_run(self, tab_id: str) -> gr.Button:
        """The trigger of a tab's views on Run and Enter; the script learns its id from runs."""
        relay = gr.Button("run", elem_id=f"ran-{tab_id}", elem_classes=["relay"])
        self.runs[tab_id] = relay.elem_id
        return relay
