"""Every string on the page in English and 中文 through Gradio's i18n.

The page follows the browser's language (or the one picked in the page). English is written in
the tab modules; the Chinese is in assets/i18n/zh.json keyed by the English, the views'
explanations in assets/i18n/explanations.json, and the server's messages (toasts and notices
carry both languages, for a room that reads either) in assets/i18n/messages.json.

Figures and tables are drawn on the server, so the page's language travels with every request: the
page's script keeps it in the `triptych-lang` cookie (Accept-Language when there is none), every
page event runs inside viz.words.speaking(that language), and the API takes it as an optional
`language` argument (ui/api.py).
"""

from __future__ import annotations

import hashlib
import html
import inspect
import json
import re
from collections.abc import Callable
from pathlib import Path

import gradio as gr
from gradio.i18n import I18nData

from viz.words import ZH, language_of, speaking

ASSETS = Path(__file__).resolve().parent.parent / "assets"
I18N = gr.I18n(en={}, zh={})
EXPLANATIONS = json.loads((ASSETS / "i18n" / "explanations.json").read_text(encoding="utf-8"))
# Every English string the page used, so a test can check each has its Chinese.
USED_TEXTS: set[str] = set()
MESSAGES = [(re.compile(m["pattern"], re.S), m["zh"])
            for m in json.loads((ASSETS / "i18n" / "messages.json").read_text(encoding="utf-8"))]


def bilingual(message: str) -> str:
    """A message for the room: the English, then its Chinese when assets/i18n/messages.json has it."""
    chinese = in_language(message, "zh")
    return message if chinese == message else f"{message}\n{chinese}"


def in_language(message: str, language: str) -> str:
    """A server message in one language: its Chinese from assets/i18n/messages.json for "zh" (the
    English when there is none), else the English."""
    if language_of(language) == "zh":
        for pattern, chinese in MESSAGES:
            match = pattern.fullmatch(message)
            if match:
                return chinese.format(*(g or '' for g in match.groups()))
    return message


def toast(message: str) -> str:
    """A message for a toast (gr.Error, gr.Warning, gr.Info) in both languages, as text: Gradio
    renders a toast's message as HTML, and messages carry what requests sent (link parameters,
    model names), so a crafted link could otherwise draw links or images on this page."""
    return html.escape(bilingual(message), quote=False)


def L(text: str) -> I18nData:
    """A UI string in the page's language."""
    key = "ui_" + hashlib.sha1(text.encode("utf-8")).hexdigest()[:12]
    I18N.translations["en"][key] = text
    I18N.translations["zh"][key] = ZH.get(text, text)
    USED_TEXTS.add(text)
    return I18N(key)


def explain(view: str) -> gr.Markdown:
    """Two or three sentences and the key formula beside a view, in both languages."""
    key = f"explain_{view}"
    for language in ("en", "zh"):
        I18N.translations[language][key] = EXPLANATIONS[view][language]
    return gr.Markdown(I18N(key), elem_id=f"explain-{view}", elem_classes=["explain"])


LANG_COOKIE = "triptych-lang"


def request_language(request: gr.Request | None) -> str:
    """The language the page is shown in: its cookie, else the browser's Accept-Language."""
    if request is None:
        return "en"
    cookies = getattr(request, "cookies", None) or {}
    chosen = cookies.get(LANG_COOKIE) or (getattr(request, "headers", None) or {}).get("accept-language", "")
    return language_of(chosen)


def speaks(fn: Callable) -> Callable:
    """An event handler that draws in the language of the page that sent the request. Gradio
    passes the request to a first parameter annotated gr.Request, and the inputs after it."""
    def run(request: gr.Request, *args):
        with speaking(request_language(request)):
            return fn(*args)
    run.__name__ = getattr(fn, "__name__", "handler")
    run.__doc__ = fn.__doc__
    return run


def speak_in_every_event(demo: gr.Blocks, skip: set) -> None:
    """Every page event of `demo` draws in its page's language (`skip`: handlers that take the
    language themselves, as the API's endpoints do)."""
    for block_fn in demo.fns.values():
        fn = block_fn.fn
        if fn is None or fn in skip:
            continue
        if any(p.annotation in (gr.Request, "gr.Request") for p in inspect.signature(fn).parameters.values()):
            continue  # it reads the request itself (the deep-link restore)
        block_fn.fn = speaks(fn)
