"""Text B beside text A in every tab that reads the page's text (issue 19, item 5).

The page has a second text box, "Text B". A tab puts a `Beside` where text B's figure should
appear and names the handler and the output that draw its main figure. After each of A's
events the same handler runs again with text B in place of the page's text, and B's figure is
shown under A's, as wide as A's. The step is started in the
page (a script step after A's, no request): only when text B is given, or B's figure is still
shown and must go, is B's relay clicked. So with text B empty a view is still one request.
Text B travels in links as `text-b` and in exports as the "b" half.

A − B is drawn only where cell (i, j) is the same query and key on both sides: one head, the
same tokens. Two texts on one model never have that (the same tokens would be the same text),
so these views are side by side only; the difference lives in the Side by side tab, where one
text runs on two models that share a tokenizer.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import gradio as gr

from ui.controls import shown
from ui.i18n import L
from ui.validation import text_or_empty
from viz.words import t

ONLY_BESIDE = ("Text B's view is below A's, side by side only: two texts have different tokens, so their cells are "
               "different pairs of tokens. For A − B of one head, run one text on two models in Side by side.")


def text_b(value) -> str:
    """Text B as a request sent it: "" when it is missing, not a string, or only spaces."""
    return text_or_empty(value).strip()


def answer_of(updates: list):
    """A handler's answer: Gradio takes a list as the value of a single output, so one update alone."""
    return updates if len(updates) > 1 else updates[0]


class Beside:
    """Text B's place in one view: B's figure, and a note saying what can be compared (off in
    the Compare columns, where four notes would repeat each other)."""

    def __init__(self, page, tab_id: str, name: str | None = None, note: bool = True, half: bool = False):
        """`half`: for a main figure that takes half the row (Attention's head beside its mask),
        B's figure takes the same half, under A's, with the note in the other half."""
        self.page = page
        self.enabled = page.text_b is not None
        if not self.enabled:
            return
        name = name or tab_id
        page.sides.add(tab_id)
        def figure():
            return gr.Plot(label=L("Text B"), visible=False, elem_id=f"{name}-b")

        def notes():
            return [gr.Markdown(visible=False, elem_id=f"{name}-b-note", elem_classes=["beside-note"])] if note else []

        if half:
            with gr.Row():
                self.figure, self.notes = figure(), notes()
        else:
            self.notes, self.figure = notes(), figure()

    def follow(self, events: Sequence, handler: Callable, inputs: list, pick: int | None = None) -> None:
        """After each of A's `events` (dependencies), run `handler` on `inputs` with text B in
        place of the page's text and show output `pick` of its answer (the whole answer if None)."""
        if not self.enabled:
            return
        at = inputs.index(self.page.text)

        def run_b(second, *values):
            second = text_b(second)
            if not second:
                return answer_of([gr.update(visible=False)] * (len(self.notes) + 1))
            b_values = [*values[:at], second, *values[at + 1:]]
            try:
                answer = handler(*b_values)
            except gr.Error as error:
                # The handler's words are about "the text"; the toast must say it is B's.
                raise gr.Error(t("Text B: {message}", message=error.message), title=error.title) from None
            figure = answer if pick is None else answer[pick]
            if isinstance(figure, dict):  # a handler's update ({"value": ..., "visible": ...})
                figure = figure.get("value")
            return answer_of([*(gr.update(value=t(ONLY_BESIDE), visible=True) for _ in self.notes), shown(figure)])

        relay = gr.Button("text B", elem_id=f"{self.figure.elem_id}-run", elem_classes=["relay"])
        relay.click(run_b, [self.page.text_b, *inputs], [*self.notes, self.figure], api_visibility="private",
                    show_progress="minimal")
        figure = self.figure.elem_id
        press = ("() => { const box = document.querySelector('#text-b textarea, #text-b input');"
                 f" const drawn = document.querySelector('#{figure} .js-plotly-plot');"
                 f" if ((box && box.value.trim()) || drawn) document.getElementById('{relay.elem_id}')?.click(); }}")
        for event in events:
            event.then(None, None, None, js=press, api_visibility="private")
