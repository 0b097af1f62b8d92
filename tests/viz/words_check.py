"""Checks shared by the 中文 tests of the views: the same numbers and data in both languages."""

import re
import string

import numpy as np
import pytest


def numbers(text: str) -> list[str]:
    """The numbers a text shows, in order of value as text (an escaped apostrophe is no number)."""
    text = re.sub(r"&#?\w+;", " ", text)
    return sorted(re.findall(r"\d+(?:[.,]\d+)*", text))


def same(en, zh, path: str):
    """Every leaf but text equal in both figures; yields (path, English, Chinese) for the texts."""
    if isinstance(en, dict):
        assert en.keys() == zh.keys(), path
        for key in en:
            yield from same(en[key], zh[key], f"{path}.{key}")
    elif isinstance(en, str):
        assert isinstance(zh, str), path
        yield path, en, zh
    elif isinstance(en, np.ndarray) and en.dtype.kind not in "OUS":
        np.testing.assert_array_equal(en, zh, err_msg=path)
    elif isinstance(en, (list, tuple, np.ndarray)):
        assert len(en) == len(zh), path
        for i, (a, b) in enumerate(zip(en, zh)):
            yield from same(a, b, f"{path}[{i}]")
    else:
        assert en == zh or (en != en and zh != zh), (path, en, zh)


def strings(value) -> list[str]:
    """Every string in a nested list / tuple / array of Plotly data (none in numeric arrays)."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, np.ndarray) and value.dtype.kind not in "OUS":
        return []
    if isinstance(value, (list, tuple, np.ndarray)):
        return [s for item in value for s in strings(item)]
    return []


def language_fixtures(build):
    """Module-scoped `english` and `chinese` fixtures: every view, built once in each language."""
    return (pytest.fixture(scope="module", name="english")(lambda: build("en")),
            pytest.fixture(scope="module", name="chinese")(lambda: build("zh")))


def fields(text: str) -> list[str]:
    """The {} fields of a template, sorted."""
    return sorted(f for _, f, _, _ in string.Formatter().parse(text) if f is not None)


def translated_texts(english: dict, chinese: dict) -> int:
    """Asserts every view carries the same data and the same numbers in both languages; returns
    how many of its texts differ between them (translated)."""
    assert english.keys() == chinese.keys()
    count = 0
    for name in english:
        en, zh = english[name][0], chinese[name][0]
        pairs = [(name, en, zh)] if isinstance(en, str) else list(same(en.to_plotly_json(), zh.to_plotly_json(), name))
        for path, a, b in pairs:
            assert numbers(a) == numbers(b), (path, a, b)
            count += a != b
    return count
