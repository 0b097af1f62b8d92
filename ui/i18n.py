"""Every string on the page in English and 中文 through Gradio's i18n.

The page follows the browser's language (or the one picked in the page). English is written in
the tab modules; the Chinese is in assets/i18n/zh.json keyed by the English, the views'
explanations in assets/i18n/explanations.json, and the server's messages (which are built
without knowing the reader's language, so carry both) in assets/i18n/messages.json.
"""

from __future__ import annotations

import hashlib
import html
import json
import re
from pathlib import Path

import gradio as gr
from gradio.i18n import I18nData

ASSETS = Path(__file__).resolve().parent.parent / "assets"
I18N = gr.I18n(en={}, zh={})
ZH = json.loads((ASSETS / "i18n" / "zh.json").read_text(encoding="utf-8"))
EXPLANATIONS = json.loads((ASSETS / "i18n" / "explanations.json").read_text(encoding="utf-8"))
# Every English string the page used, so a test can check each has its Chinese.
USED_TEXTS: set[str] = set()
MESSAGES = [(re.compile(m["pattern"], re.S), m["zh"])
            for m in json.loads((ASSETS / "i18n" / "messages.json").read_text(encoding="utf-8"))]


def bilingual(message: str) -> str:
    """A message for the room: the English, then its Chinese when assets/i18n/messages.json has it."""
    for pattern, chinese in MESSAGES:
        match = pattern.fullmatch(message)
        if match:
            return f"{message}\n{chinese.format(*(g or '' for g in match.groups()))}"
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
