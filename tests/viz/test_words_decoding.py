"""The Decoding tab's figures and tables in 中文 (issue 16, item 1): every word a person reads in
the page's language, the model's text as it is, the numbers the same as in English."""

from __future__ import annotations

import ast
import json
import re
import string
from collections import Counter
from html import escape
from html.parser import HTMLParser
from pathlib import Path

import gradio as gr
import numpy as np
import pytest

from models import registry
from models.decoding import Settings, decode, fill_left_to_right
from models.kv_cache import KV_CONFIGS, calculator_rows, kv_table
from ui.controls import Page
from ui.tabs import decoding as tab
from viz import decoding as dviz
from viz.style import plotly_text
from viz.words import ZH, speaking

ROOT = Path(__file__).resolve().parents[2]
SOURCES = (ROOT / "viz" / "decoding.py", ROOT / "ui" / "tabs" / "decoding.py")
CHINESE_FILE = ROOT / "assets" / "i18n" / "zh-decoding.json"
GPT_PROMPT = "今天天气真好，"
T5_PROMPT = "translate Chinese to English: 我喜欢机器学习"
# What a Chinese lecture writes as it is: names, symbols and units.
KEPT_AS_IS = {"token", "top-k", "top-p", "KV", "softmax", "BERT", "GPT", "T5", "LLaMA", "MASK", "ms", "KiB", "MiB",
              "GiB", "fp16", "int8", "int4"}
# A word of two letters or more ("top-k" and "fp16" are one); single letters are symbols (T, p, x, B).
WORD = re.compile(r"[A-Za-z][A-Za-z0-9]*(?:[-'][A-Za-z0-9]+)*")
NUMBER = re.compile(r"-?\d(?:[\d,]*\d)?(?:\.\d+)?")


@pytest.fixture(scope="module")
def runs():
    """Real decodings of the embedded models, every strategy, and the calculator's rows."""
    found = {}
    for model, prompt in (("mini-gpt", GPT_PROMPT), ("mini-t5", T5_PROMPT)):
        found[model, "greedy"] = decode(model, prompt, Settings("greedy", max_new_tokens=6))
        found[model, "sample"] = decode(model, prompt, Settings("sample", 0.9, 10, 0.8, seed=2, max_new_tokens=6))
        found[model, "beam"] = decode(model, prompt, Settings("beam", num_beams=3, max_new_tokens=6))
        found[model, "off"] = decode(model, prompt, Settings("greedy", max_new_tokens=6, use_cache=False))
    found["fills"] = fill_left_to_right("mini-bert", GPT_PROMPT, 4)
    found["rows"] = calculator_rows("mini-t5")  # holds an encoder-decoder: the cross-attention cells
    return found


def views(runs) -> dict:
    """Every figure, HTML and Markdown the Decoding tab draws, in the current language."""
    drawn = {}
    for model in ("mini-gpt", "mini-t5"):
        for strategy in ("greedy", "sample", "beam"):
            result = runs[model, strategy]
            for i in (0, len(result.steps) - 1):
                name = f"{model}/{strategy}/{i}"
                drawn[name + "/stages"] = dviz.stages_figure(result, i)
                drawn[name + "/self"] = dviz.attention_row_figure(result, i)
                drawn[name + "/text"] = dviz.text_html(result, i + 1)
                if result.family == "encoder-decoder":
                    drawn[name + "/cross"] = dviz.attention_row_figure(result, i, cross=True)
                    drawn[name + "/alignment"] = dviz.alignment_figure(result, i)
                if result.beams is not None:
                    drawn[name + "/tree"] = dviz.beam_tree_figure(result, i)
            if result.beams is not None:
                drawn[f"{model}/{strategy}/tree"] = dviz.beam_tree_figure(result)
        drawn[f"{model}/cache"] = dviz.cache_figure(runs[model, "greedy"], runs[model, "off"])
        drawn[f"{model}/summary"] = dviz.cache_summary_markdown(runs[model, "greedy"])
        drawn[f"{model}/off/text"] = dviz.text_html(runs[model, "off"], len(runs[model, "off"].steps))
    drawn["calculator"] = dviz.kv_table_markdown(runs["rows"])
    # Decoders only, and a precision without a short name of its own.
    drawn["calculator/2-bit"] = dviz.kv_table_markdown(kv_table(dict(KV_CONFIGS), bits=(16, 2)))
    drawn["contrast"] = dviz.mask_fill_html(runs["fills"], runs["mini-gpt", "greedy"])
    return drawn


def model_text(runs) -> list[str]:
    """The model's text and the models' names, as drawn (raw, and escaped for Plotly or HTML):
    never translated, so taken out before looking for English."""
    found = set(registry.resolve(key).name for key in ("mini-gpt", "mini-t5", "mini-llama", "mini-bert"))
    found |= set(KV_CONFIGS) | {r["model"] for r in runs["rows"]}
    found |= {ZH.get(name, name) for name in found}  # the embedded models' names as a Chinese page writes them
    for key, result in runs.items():
        if key in ("fills", "rows"):
            continue
        found |= set(result.prompt_tokens) | {"".join(result.prompt_tokens)}
        for s in result.steps:
            found |= {s.token, *s.candidate_tokens}
        if result.beams is not None:
            found |= {n.token for n in result.beams.nodes}
    for f in runs["fills"]:
        found |= {f.token, *(c for c, _ in f.candidates)}
    found = {x for x in found if x.strip()}
    return sorted(found | {plotly_text(x) for x in found} | {escape(x) for x in found}, key=len, reverse=True)


class _Readable(HTMLParser):
    """The text a reader sees outside translate="no", and every title (a hover's words)."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.stack, self.text, self.titles, self.notices = [], [], [], []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        notice = "notice" in (attrs.get("class") or "").split()
        quiet = attrs.get("translate") == "no" or notice or bool(self.stack and self.stack[-1][0])
        self.stack.append((quiet, notice))
        if attrs.get("title"):
            self.titles.append(attrs["title"])

    def handle_endtag(self, tag):
        if self.stack:
            self.stack.pop()

    def handle_data(self, data):
        if self.stack and self.stack[-1][1]:
            self.notices.append(data)
        elif not (self.stack and self.stack[-1][0]):
            self.text.append(data)


def _plotly_words(text: str) -> str:
    """A Plotly string without its %{...} fields and tags (the words of <extra> are kept)."""
    return re.sub(r"<[^>]*>", " ", re.sub(r"%\{[^}]*\}", " ", text or ""))


def readable(view) -> list[str]:
    """The strings of a figure or a page fragment that a reader sees as the page's words; tick
    labels are left out, as they are the tokens (and L0 H1, layer and head)."""
    if isinstance(view, str):
        if "<" not in view:
            return [view]  # Markdown
        parser = _Readable()
        parser.feed(view)
        return parser.text + parser.titles
    layout = view.layout
    found = [layout.title.text]
    for axis in ("xaxis", "yaxis", "yaxis2"):
        if axis in layout and layout[axis].title is not None:
            found.append(layout[axis].title.text)
    found += [a.text for a in layout.annotations or ()]
    for trace in view.data:
        found.append(trace.name)
        found.append(_plotly_words(trace.hovertemplate))
        colorbar = getattr(trace, "colorbar", None)
        if colorbar is not None and colorbar.title is not None:
            found.append(colorbar.title.text)
        for many in ("hovertext", "text"):
            value = getattr(trace, many, None)
            if value is not None:
                found += [_plotly_words(v) for v in np.atleast_1d(np.asarray(value, dtype=object)).tolist()]
    return [_plotly_words(x) for x in found if x]


def _without(text: str, hidden: list[str]) -> str:
    """`text` without the model's text; a token is taken out only where it is no part of a longer word."""
    for token in hidden:
        text = re.sub(rf"(?<![A-Za-z]){re.escape(token)}(?![A-Za-z])", " ", text)
    return text


def english_words(texts: list[str], hidden: list[str]) -> list[str]:
    return [w for text in texts for w in WORD.findall(_without(text, hidden))
            if sum(c.isalpha() for c in w) >= 2 and w not in KEPT_AS_IS]


def test_every_word_of_the_decoding_views_is_chinese(runs):
    hidden = model_text(runs)
    with speaking("zh"):
        chinese = views(runs)
    with speaking("en"):
        english = views(runs)
    for name, view in chinese.items():
        assert not english_words(readable(view), hidden), (name, english_words(readable(view), hidden))
        # The check is not vacuous: the same strings in English do read as English.
        assert english_words(readable(english[name]), hidden), name
        assert any(re.search(r"[\u4e00-\u9fff]", x) for x in readable(view)), name


def test_the_model_text_is_marked_and_notices_stay_as_the_tab_gives_them(runs):
    with speaking("zh"):
        html = dviz.text_html(runs["mini-t5", "greedy"], 3)
        contrast = dviz.mask_fill_html(runs["fills"], runs["mini-gpt", "greedy"])
    result = runs["mini-t5", "greedy"]
    assert f'translate="no">{escape(result.steps[2].token)}</span>' in html
    assert '<span class="prompt" style="color:#555" translate="no">' in html
    assert f'<span translate="no">{escape(GPT_PROMPT)}</span>' in contrast
    # An emoji T5 has no token for: the run carries a notice, and the text shows it.
    unknown = decode("mini-t5", T5_PROMPT + " 🤖", Settings("greedy", max_new_tokens=2))
    assert unknown.notices
    with speaking("zh"):
        html = dviz.text_html(unknown, 1)
    parser = _Readable()
    parser.feed(html)
    # Server notices carry both languages once the tab has them (ui.i18n.bilingual), as toasts do.
    assert "".join(parser.notices) == "".join(f"⚠ {n}" for n in unknown.notices)


def _arrays(fig) -> list:
    keys = ("x", "y", "z", "customdata")
    return [[None if getattr(tr, k, None) is None else np.asarray(getattr(tr, k), dtype=object).tolist() for k in keys]
            for tr in fig.data]


def _ticks(fig) -> list:
    return [fig.layout[a].ticktext for a in ("xaxis", "yaxis") if a in fig.layout]


def test_chinese_views_carry_the_same_numbers_and_english_is_unchanged(runs):
    hidden = model_text(runs)
    with speaking("zh"):
        chinese = views(runs)
    english = views(runs)  # no language asked for: English
    with speaking("en"):
        asked = views(runs)
    for name, view in english.items():
        if isinstance(view, str):
            assert asked[name] == view, name
        else:
            assert asked[name].to_json() == view.to_json(), name
            assert _arrays(chinese[name]) == _arrays(view), name
            assert _ticks(chinese[name]) == _ticks(view), name
        en_numbers = Counter(n for x in readable(view) for n in NUMBER.findall(_without(x, hidden)))
        zh_numbers = Counter(n for x in readable(chinese[name]) for n in NUMBER.findall(_without(x, hidden)))
        assert zh_numbers == en_numbers, (name, zh_numbers - en_numbers, en_numbers - zh_numbers)


def test_english_reads_as_before(runs):
    t5 = runs["mini-t5", "greedy"]
    cache = dviz.cache_figure(t5, runs["mini-t5", "off"])
    assert cache.layout.title.text == ("the KV cache trades memory for time, measured on this run · cache bars: "
                                       "self-attention + cross-attention, stacked")
    assert [d.name for d in cache.data] == [
        "step time, KV cache on", "step time, cache off (recompute everything)",
        "self-attention cache (KiB): the output's own tokens, grows each step",
        f"cross-attention cache (KiB): the encoder output's {len(t5.prompt_tokens)} tokens, fixed"]
    assert cache.data[2].hovertemplate == "step %{x}: self-attention %{y:.2f} KiB<extra></extra>"
    assert (cache.layout.xaxis.title.text, cache.layout.yaxis.title.text) == ("step", "ms per step")
    stages = dviz.stages_figure(runs["mini-gpt", "sample"], 0)
    assert [d.name for d in stages.data] == list(dviz.STAGE_LABELS)
    assert stages.data[0].hovertemplate == "%{customdata}<br>raw softmax: %{y:.4f}<extra></extra>"
    step = runs["mini-gpt", "sample"].steps[0]
    assert stages.layout.title.text == (f"step 1: chose {plotly_text(step.token)}, model p = {step.prob:.3f} · "
                                        f"sampled from p = {step.sample_prob:.3f} · T = 0.9, top-k = 10, top-p = 0.8")
    alignment = dviz.alignment_figure(t5, 2)
    assert alignment.data[0].hovertemplate == "output %{y} → input %{x}<br>mean weight %{z:.4f}<extra></extra>"
    assert alignment.layout.title.text == "alignment after 3 step(s): cross-attention, mean of all layers and heads"
    row = dviz.attention_row_figure(t5, 1, cross=True)
    assert row.layout.title.text == (f"step 2 ({plotly_text(t5.steps[1].token)}): its cross-attention to the input, "
                                     "every layer and head")
    assert row.data[0].hovertemplate == "%{y} → %{x}<br>weight %{z:.4f}<extra></extra>"
    beam = runs["mini-gpt", "beam"]
    tree = dviz.beam_tree_figure(beam)
    assert tree.layout.title.text == (f"beam search, 3 beams, {beam.beams.kept_per_step} continuations kept per step"
                                      f" · winner {beam.beams.nodes[beam.beams.winner].final_score:.3f} (red)")
    assert {d.name for d in tree.data if d.mode == "markers+text"} == {"root", "running", "finished", "pruned"}
    html = dviz.text_html(t5, len(t5.steps))
    assert re.search(r"<div>step \d+ of \d+ · <span class='model-numbers'>the model's own distribution: "
                     r"log-probability so far -?\d+\.\d{3}, entropy \d+\.\d{3} nats</span> · step \d+\.\d ms · "
                     r"KV cache [\d,]+ B = [\d,]+ B self-attention \+ [\d,]+ B cross-attention \(encoder output\)"
                     r" · stopped at end-of-sequence</div>", html)
    table = dviz.kv_table_markdown(runs["rows"]).splitlines()
    assert table[0] == "KV cache = 2 (keys and values) x layers x KV heads x head dim x tokens x bytes per value"
    assert "| model (layers, KV heads, head dim) | context | fp16 | int8 | int4 |" in table
    assert dviz.cache_summary_markdown(runs["mini-gpt", "greedy"]).startswith(
        "Measured on this run: the self-attention cache held ")
    assert "<b>BERT, filling a trailing [MASK]:</b>" in dviz.mask_fill_html(runs["fills"], runs["mini-gpt", "greedy"])


def _calls(path: Path, names=("t", "L")):
    """(function, first argument, parents) of every call to one of `names` in a source file."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    parents = {child: node for node in ast.walk(tree) for child in ast.iter_child_nodes(node)}
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in names and node.args:
            yield node.func.id, node.args[0], parents, tree


def _strings(node, parents, tree) -> list[str]:
    """The English strings an argument can be: a literal, either side of a conditional, or the
    literals a loop variable runs over (a tuple written there or a module-level one)."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return [node.value]
    if isinstance(node, ast.IfExp):
        return _strings(node.body, parents, tree) + _strings(node.orelse, parents, tree)
    if isinstance(node, ast.Name):
        up = parents.get(node)
        while up is not None:
            loops = up.generators if isinstance(up, (ast.ListComp, ast.GeneratorExp, ast.DictComp, ast.SetComp)) \
                else [up] if isinstance(up, ast.For) else []
            for loop in loops:
                names = [loop.target] if isinstance(loop.target, ast.Name) else list(getattr(loop.target, "elts", []))
                where = [i for i, n in enumerate(names) if isinstance(n, ast.Name) and n.id == node.id]
                if where:
                    return _iterated(loop.iter, where[0], isinstance(loop.target, ast.Tuple), tree)
            up = parents.get(up)
    raise AssertionError(f"cannot tell which English {ast.unparse(node)} holds; give t() a literal")


def _iterated(iterable, index: int, unpack: bool, tree) -> list[str]:
    if isinstance(iterable, ast.Name):
        iterable = next(stmt.value for stmt in tree.body if isinstance(stmt, ast.Assign)
                        and any(getattr(x, "id", None) == iterable.id for x in stmt.targets))
    value = ast.literal_eval(iterable)
    return [item[index] if unpack else item for item in value]


def _english_keys() -> dict[str, set[str]]:
    found = {"t": set(), "L": set()}
    for path in SOURCES:
        for name, arg, parents, tree in _calls(path):
            found[name] |= set(_strings(arg, parents, tree))
    return found


def test_every_string_given_to_t_has_its_chinese_with_the_same_fields():
    keys = _english_keys()
    assert set(dviz.STAGE_LABELS) | set(dviz.BEAM_COLORS) | {"greedy", "sample", "beam"} <= keys["t"] | keys["L"]
    for english in sorted(keys["t"] | keys["L"]):
        assert english in ZH, f"no Chinese for {english!r}"
        fields = sorted((f, spec) for _, f, spec, _ in string.Formatter().parse(english) if f is not None)
        chinese = sorted((f, spec) for _, f, spec, _ in string.Formatter().parse(ZH[english]) if f is not None)
        assert chinese == fields, english
        if fields:  # filled like the page fills it: both languages take the same fields
            named = {f: 1 for f, _ in fields if f}
            unnamed = [1] * sum(1 for f, _ in fields if not f)
            assert ZH[english].format(*unnamed, **named)


def test_the_chinese_file_is_tidy_and_holds_only_this_tab():
    text = CHINESE_FILE.read_text(encoding="utf-8")
    entries = json.loads(text)
    assert text == json.dumps(entries, indent=2, ensure_ascii=False) + "\n"
    keys = _english_keys()
    assert set(entries) <= keys["t"] | keys["L"], set(entries) - keys["t"] - keys["L"]
    assert all(re.search(r"[\u4e00-\u9fff\u3000-\u303f\uff00-\uffef]", v) for v in entries.values())


def _tab_blocks():
    with gr.Blocks() as demo:
        with gr.Tab("Decoding") as decoding:
            tab.build(Page(text=gr.Textbox(), settled={}), decoding)
    return {b.elem_id: b for b in demo.blocks.values() if getattr(b, "elem_id", None)}


def test_the_strategy_radio_names_its_choices_and_keeps_their_values():
    from ui.i18n import I18N
    from ui.links import coerce

    radio = _tab_blocks()["dec-strategy"]
    assert [value for _, value in radio.choices] == ["greedy", "sample", "beam"] and radio.value == "sample"
    labels = {value: label.key for label, value in radio.choices}
    assert {v: I18N.translations["zh"][k] for v, k in labels.items()} == {"greedy": "贪心", "sample": "采样",
                                                                        "beam": "束搜索"}
    assert {v: I18N.translations["en"][k] for v, k in labels.items()} == {v: v for v in labels}
    # A deep link and a request name the strategy by its value, in either language's page.
    assert [coerce(radio, v) for v in ("greedy", "sample", "beam")] == ["greedy", "sample", "beam"]
    assert radio.preprocess("beam") == "beam"
    with pytest.raises(gr.Error):
        radio.preprocess("贪心")


def test_the_tab_handlers_answer_in_the_page_language():
    knobs = ("mini-t5", T5_PROMPT, "beam", 1.0, 0, 1.0, 0, 4, 2, True)
    with speaking("zh"):
        _, index, text, *plots = tab.decode_move("end", *knobs, None, 0)
        stages, row, cross, alignment, tree = (p["value"] for p in plots)
        plot, table = tab.run_kv("mini-t5", T5_PROMPT, 3)
        contrast = tab.run_contrast(GPT_PROMPT, 3)
    assert "共" in text and "束搜索" in stages.layout.title.text and "束搜索" in tree.layout.title.text
    assert "对齐" in alignment.layout.title.text and "交叉注意力" in cross.layout.title.text
    assert table.startswith("本次运行实测") and "| 模型（层数，KV 头数，头维度） |" in table
    assert "KV 缓存" in plot.layout.title.text and "BERT 反复填充末尾的 [MASK]" in contrast
    english = tab.decode_move("end", *knobs, None, 0)
    assert english[1] == index and "beam search" in english[3]["value"].layout.title.text
