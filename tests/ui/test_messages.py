"""Every message the library raises as ValueError has its Chinese in assets/i18n/messages.json.

A static scan: each `raise ValueError(...)` in models/, viz/ and ui/ whose message is a string
literal, an f-string or a "+" concatenation must translate: as it is when it has no fields; with
fields, either rendered with every field as "7" or, where a pattern wants other values there
(a list, "a"/"an", a word), as some entry's "example" of the site's shape (its literal text
escaped, every field `.*`), so such a site needs a real example in messages.json.
"""

from __future__ import annotations

import ast
import json
import re
from pathlib import Path

from ui.i18n import in_language

ROOT = Path(__file__).resolve().parents[2]
ENTRIES = json.loads((ROOT / "assets" / "i18n" / "messages.json").read_text(encoding="utf-8"))
FIELD = object()  # a value only known when the code runs


def _parts(node: ast.expr) -> list:
    """The message as literal strings and FIELDs."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return [node.value]
    if isinstance(node, ast.JoinedStr):
        return [v.value if isinstance(v, ast.Constant) else FIELD for v in node.values]
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
        return _parts(node.left) + _parts(node.right)
    return [FIELD]


def raised_messages() -> list[tuple[str, int, list]]:
    """(file, line, parts) of every ValueError raised with a message that has literal text."""
    found = []
    for folder in ("models", "viz", "ui"):
        for path in sorted((ROOT / folder).rglob("*.py")):
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if (isinstance(node, ast.Raise) and isinstance(node.exc, ast.Call) and node.exc.args
                        and getattr(node.exc.func, "id", "") == "ValueError"):
                    parts = _parts(node.exc.args[0])
                    if any(p is not FIELD and p.strip() for p in parts):  # not a value passed through
                        found.append((str(path.relative_to(ROOT)), node.lineno, parts))
    return found


def _translates(message: str) -> bool:
    return in_language(message, "zh") != message


def test_the_scan_finds_the_library_messages():
    sites = raised_messages()
    assert len(sites) > 50
    files = {path.split("/")[0] for path, _, _ in sites}
    assert files == {"models", "viz", "ui"}


def test_every_raised_value_error_has_chinese():
    examples = [entry["example"] for entry in ENTRIES]
    missing = []
    for path, line, parts in raised_messages():
        if FIELD not in parts:
            if not _translates("".join(parts)):
                missing.append(f"{path}:{line}: {''.join(parts)}")
            continue
        if _translates("".join("7" if p is FIELD else p for p in parts)):
            continue
        shape = re.compile("".join(".*" if p is FIELD else re.escape(p) for p in parts), re.S)
        if not any(shape.fullmatch(example) and _translates(example) for example in examples):
            missing.append(f"{path}:{line}: {''.join('{}' if p is FIELD else p for p in parts)}")
    assert not missing, "messages without Chinese (add an entry with a real example):\n" + "\n".join(missing)


def test_every_entry_translates_its_own_example():
    patterns = [re.compile(entry["pattern"], re.S) for entry in ENTRIES]
    for index, entry in enumerate(ENTRIES):
        assert set(entry) == {"pattern", "example", "zh"}, entry
        assert patterns[index].fullmatch(entry["example"]), entry["pattern"]
        # The first entry that matches is the one that translates, so it must be this one.
        first = next(i for i, p in enumerate(patterns) if p.fullmatch(entry["example"]))
        assert first == index, (entry["example"], ENTRIES[first]["pattern"])
        chinese = in_language(entry["example"], "zh")
        assert any("\u4e00" <= ch <= "\u9fff" for ch in chinese), entry["example"]
        assert not re.search(r"\{\d+\}", chinese), chinese
        # Every {n} in the Chinese is a group of the pattern.
        used = {int(n) for n in re.findall(r"\{(\d+)\}", entry["zh"])}
        assert all(n < patterns[index].groups for n in used), entry["zh"]


def test_messages_the_library_really_raises_come_out_in_chinese():
    from models import analysis, positions, trace

    t5 = trace.run_trace("mini-t5", "hello world")
    for call in (lambda: analysis.importance_of(t5, 0, "cross"), lambda: t5.attention("nope"),
                 lambda: analysis.head_patterns(t5.attention("cross")),
                 lambda: positions.rope("mini-gpt"), lambda: positions.sinusoidal(0, 3),
                 lambda: trace.run_prefix_lm("mini-bert", "hello", 1)):
        try:
            call()
        except ValueError as err:
            assert _translates(str(err)), str(err)
        else:
            raise AssertionError("no ValueError")
