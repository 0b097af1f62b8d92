"""The figures' words in the reader's language (viz/words.py)."""

import ast
from pathlib import Path

from viz import words
from viz.words import LANGUAGE, language_of, speaking, t

ROOT = Path(__file__).resolve().parents[2]


def test_t_translates_inside_speaking_only_and_keeps_the_numbers_in_place():
    assert t("{allowed} of {cells} cells allowed", allowed=3, cells=4) == "3 of 4 cells allowed"
    with speaking("zh"):
        assert t("{allowed} of {cells} cells allowed", allowed=3, cells=4) == "4 个格子中允许 3 个"
        assert t("a sentence nobody translated") == "a sentence nobody translated"
        with speaking("en"):
            assert t("weight") == "weight"
        assert t("weight") == "权重"
    assert LANGUAGE.get() == "en" and t("weight") == "weight"
    # Braces of Plotly templates pass through when no field is given.
    assert t("%{y} weight") == "%{y} weight"


def test_language_codes():
    assert [language_of(v) for v in ("zh", "zh-CN", "ZH-tw", "中文", "en", "en-US", "", None, "fr")] == \
        ["zh", "zh", "zh", "zh", "en", "en", "en", "en", "en"]


def _literal_calls(name: str) -> list[tuple[str, int, str]]:
    found = []
    for path in [*sorted((ROOT / "viz").glob("*.py")), *sorted((ROOT / "ui").rglob("*.py"))]:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if (isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == name
                    and node.args and isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str)):
                found.append((path.relative_to(ROOT).as_posix(), node.lineno, node.args[0].value))
    return found


def test_every_figure_word_has_its_chinese_with_the_same_fields():
    import string

    calls = _literal_calls("t")
    assert len(calls) > 20
    missing = [c for c in calls if c[2] not in words.ZH]
    assert missing == []
    fields = lambda text: sorted(f for _, f, _, _ in string.Formatter().parse(text) if f is not None)  # noqa: E731
    assert [c for c in calls if fields(c[2]) != fields(words.ZH[c[2]])] == []


def test_embedded_model_names_are_written_in_chinese_and_other_names_kept():
    from viz.words import model_words

    assert model_words("Mini GPT-2 (embedded)") == "Mini GPT-2 (embedded)"
    with speaking("zh"):
        assert model_words("Mini GPT-2 (embedded)") == "Mini GPT-2（内置）"
        assert model_words("openai-community/gpt2") == "openai-community/gpt2"
