"""Deep links and scenarios: a link's query (or a scenario's parameters) puts every control back.

A link carries the value of each control with an elem_id, `tab`, `lang` and `lecture`. Values
are coerced to the control's type; what cannot be is skipped with a warning, never an error.
"""

from __future__ import annotations

import json
import time

import gradio as gr

from ui.controls import english
from ui.export import EXAMPLE_TEXT_ZH
from ui.i18n import ASSETS, request_language, toast
from viz.words import language_of

SCENARIOS = json.loads((ASSETS / "scenarios.json").read_text(encoding="utf-8"))
LINKABLE = (gr.Slider, gr.Dropdown, gr.Radio, gr.Checkbox, gr.Number, gr.Textbox)
# Relays that are not view state, and the page-wide menus.
UNLINKED = ("overview-pick", "current-tab", "restored", "scenario", "device")
PAGE_PARAMS = ("tab", "lang", "lecture")


def linked_components(demo: gr.Blocks) -> list:
    """The controls a link can carry: every input with an elem_id, except UNLINKED."""
    return [b for b in demo.blocks.values() if isinstance(b, LINKABLE) and b.elem_id and b.elem_id not in UNLINKED]


def coerce(component, raw: str):
    """A link's text as the component's value; ValueError when it cannot be one."""
    raw = str(raw)
    if isinstance(component, gr.Checkbox):
        return raw.strip().lower() in ("1", "true", "yes", "on")
    if isinstance(component, (gr.Slider, gr.Number)):
        value = float(raw)
        if not value == value or abs(value) > 1e9:
            raise ValueError(raw)
        if isinstance(component, gr.Slider):
            value = min(max(value, component.minimum), component.maximum)
            return int(round(value)) if float(component.step).is_integer() else value
        return int(round(value)) if component.precision == 0 else value
    if isinstance(component, (gr.Dropdown, gr.Radio)):
        choices = [(english(c[0]), c[1]) if isinstance(c, (tuple, list)) else (str(c), c) for c in component.choices]
        for label, value in choices:
            if raw in (str(value), label):
                return value
        if isinstance(component, gr.Dropdown) and component.allow_custom_value and len(raw) <= 200:
            return raw  # a model key or Hub id: the handlers check it like any request
        raise ValueError(raw)  # a radio's choices are fixed (the kind radios hold all three kinds)
    return raw[:4000]


def restore(params: dict, components: list, tabs: tuple[str, ...]) -> list:
    """Updates that put the page in the state `params` describes: [marker, *components].
    Unknown or malformed parameters are skipped with a warning."""
    by_id = {c.elem_id: c for c in components}
    skipped, updates = [], []
    for component in components:
        if component.elem_id not in params:
            updates.append(gr.update())
            continue
        try:
            updates.append(gr.update(value=coerce(component, params[component.elem_id])))
        except (TypeError, ValueError):
            skipped.append(component.elem_id)
            updates.append(gr.update())
    skipped += [k for k in params if k not in by_id and k not in PAGE_PARAMS]
    if skipped:
        gr.Warning(toast(f"Ignored link parameters: {', '.join(sorted(skipped))[:300]}"))
    tab = params.get("tab") if params.get("tab") in tabs else None
    # The page's script sees the marker change and clicks the tab, which runs its view.
    marker = json.dumps({"tab": tab or tabs[0], "step": "dec-index" in params, "nonce": time.time()})
    return [marker, *updates]


def restore_link(request: gr.Request, components: list, tabs: tuple[str, ...]) -> list:
    params = dict(request.query_params) if request is not None else {}
    # A page shown in Chinese opens on the Chinese example, unless its link names a text.
    if "text" not in params and language_of(params.get("lang") or request_language(request)) == "zh":
        params["text"] = EXAMPLE_TEXT_ZH
    return restore(params, components, tabs)


def restore_scenario(name: str, components: list, tabs: tuple[str, ...]) -> list:
    for scenario in SCENARIOS:
        if scenario["name"] == name:
            # A scenario is a whole view: a text B left from before would add a second one.
            return restore({"text-b": "", **{k: str(v) for k, v in scenario["params"].items()}}, components, tabs)
    raise gr.Error(toast("Pick a scenario from the list."))
