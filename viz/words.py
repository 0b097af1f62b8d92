"""The words of figures and tables in the reader's language.

English is written where the figure is drawn, wrapped in t(); the Chinese comes from
assets/i18n/zh.json, keyed by the English (a key may hold {} fields, filled after translation, so
that the numbers keep their place in either language). The reader's language is set for each
request by the page (ui/i18n.py) or by the API's `language` argument; with none, English.
"""

from __future__ import annotations

import json
from contextlib import contextmanager
from contextvars import ContextVar
from pathlib import Path

LANGUAGES = ("en", "zh")
LANGUAGE: ContextVar[str] = ContextVar("language", default="en")
I18N_DIR = Path(__file__).resolve().parent.parent / "assets" / "i18n"
# zh.json holds the page's labels and the figures' words; zh-*.json more of the same, kept apart by view.
ZH: dict[str, str] = {key: value for path in sorted(I18N_DIR.glob("zh*.json"))
                      for key, value in json.loads(path.read_text(encoding="utf-8")).items()}
# Every English string a figure or table used, so a test can check that each has its Chinese.
USED: set[str] = set()


def language_of(value: object) -> str:
    """A language code from what a request or a person sent ("zh-CN", "中文", None, ...)."""
    text = str(value or "").strip().lower()
    return "zh" if text.startswith("zh") or text.startswith("中") else "en"


def t(english: str, *fields: object, **named: object) -> str:
    """`english` in the reader's language, its {} fields filled with `fields` / `named`."""
    USED.add(english)
    text = ZH.get(english, english) if LANGUAGE.get() == "zh" else english
    return text.format(*fields, **named) if fields or named else text


def model_words(name: str) -> str:
    """A model's display name in the reader's language: the embedded models' names have their
    Chinese; any other name (a Hub id, a folder) is model text and stays as it is."""
    return ZH.get(name, name) if LANGUAGE.get() == "zh" else name


@contextmanager
def speaking(language: str):
    """Draw in `language` ("en" or "zh") for the duration of the block."""
    token = LANGUAGE.set(language_of(language))
    try:
        yield
    finally:
        LANGUAGE.reset(token)
