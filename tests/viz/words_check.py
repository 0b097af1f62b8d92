"""Checks shared by the 中文 tests of the views: the same numbers and data in both languages."""

import re

import numpy as np


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
