"""The words of the Objectives, Order & scaling, Experts and Positions figures and tables
(viz/concepts.py) in the reader's language (issue 16), built from real runs of the embedded models
through the tabs' own handlers: in 中文 no English is left but the names a Chinese lecture keeps,
tokens untouched; in English every string is what it was; both languages carry the same numbers."""

from __future__ import annotations

import copy
import re
from html import escape

import numpy as np
import pytest

from models import objectives
from ui.tabs import moe as moe_tab
from ui.tabs import objectives as obj_tab
from ui.tabs import order as order_tab
from ui.tabs import positions as pos_tab
from viz import concepts
from viz.style import plotly_text
from viz.words import ZH, speaking
from tests.viz.words_check import fields, language_fixtures, strings, translated_texts

TEXT = "The cat sat on the mat because it was tired."
SECOND = "It slept on the sofa."
MODELS = {"mini-bert", "mini-gpt", "mini-t5", "mini-mixtral", "mini-llama"}
# Names and symbols a Chinese ML lecture says as they are.
KEPT = {"token", "softmax", "sqrt", "d_k", "MoE", "RoPE", "NSP", "MLM", "BERT", "GPT", "T5", "LLaMA", "Mixtral",
        "CLS", "SEP", "MASK", "top", "log", "exp", "float", "nan", "id", "IsNext", "QK", "PE", "sin", "cos"}


def _build(language: str) -> dict:
    """name -> (figure, HTML or markdown; the model's words in it: tokens and model keys)."""
    out = {}
    with speaking(language):
        bert = objectives.masked_lm("mini-bert", TEXT, SECOND, 0)
        span = objectives.span_corruption("mini-t5", TEXT, 0)
        gpt = objectives.next_token("mini-gpt", TEXT)
        mlm, shifted, spans, span_plot = obj_tab.run_objectives(TEXT, SECOND, 0, "mini-bert", "mini-gpt", "mini-t5")
        words = set(bert.tokens) | set(bert.inputs) | set(bert.predicted)
        out["masked lm"] = (mlm, words)
        out["next token"] = (shifted, set(gpt.tokens) | set(gpt.targets) | set(gpt.predicted))
        out["span html"] = (spans, set(span.tokens) | set(span.inputs) | set(span.targets))
        out["span figure"] = (span_plot, set(span.targets) | set(span.predicted))
        table, enc, dec = order_tab.run_order(TEXT, 0, "mini-bert", "mini-gpt")
        out["order encoder"], out["order decoder"] = (enc, set()), (dec, set())
        for model in ("mini-bert", "mini-gpt"):
            fig, textbook = order_tab.run_scaling(model, TEXT, 1, 1)[:2]
            out[f"scaling {model}"] = (fig, set())
            out[f"textbook {model}"] = (textbook, set())
        for layer in (0, 1):
            out[f"moe {layer}"] = (moe_tab.run_moe("mini-mixtral", TEXT, layer)[0], set())
        for i, fig in enumerate(pos_tab.run_positions(64, 32, 1)):
            out[f"positions {i}"] = (fig, set())
    return out


english, chinese = language_fixtures(_build)


def _without(text: str, tokens: set[str]) -> str:
    """The text with the model's words cut out (longest first, so a token inside another stays whole)."""
    for token in sorted((plotly_text(tok) for tok in tokens if tok.strip()), key=len, reverse=True):
        text = text.replace(token, " ")
    return text


def _read(fig, tokens: set[str]) -> list[str]:
    """Titles, subplot titles, axis titles, legend names, colorbar titles, hover templates and texts."""
    layout = fig.layout.to_plotly_json()
    texts = [layout.get("title", {}).get("text", "")]
    texts += [axis.get("title", {}).get("text", "") for key, axis in layout.items() if key.startswith(("xaxis", "yaxis"))]
    texts += [note.get("text", "") for note in layout.get("annotations", ())]
    for trace in fig.data:
        texts.append(trace.name or "")
        if trace.type == "heatmap" and trace.colorbar.title.text:
            texts.append(trace.colorbar.title.text)
        texts.append(trace.hovertemplate or "")
        texts += [_without(s, tokens) for field in ("text", "hovertext") for s in strings(getattr(trace, field, None))]
        if trace.type == "bar" and trace.orientation == "h":
            texts += strings(trace.y)  # the experts' names
        if trace.type == "heatmap" and trace.y is not None and not tokens:
            texts += [s for s in strings(trace.y) if not re.match(r"\d+ ", s)]  # row names, not token labels
    return texts


def _html_words(html: str, tokens: set[str]) -> str:
    """The page's words of an HTML table or paragraph: the cells that hold a token are the model's."""
    kept = {escape(tok).strip() for tok in tokens}
    html = re.sub(r">([^<]*)<", lambda m: "><" if m.group(1).strip() in kept else m.group(0), html)
    return re.sub(r"<[^>]+>", " ", html)


def _english_left(text: str) -> list[str]:
    for model in sorted(MODELS, key=len, reverse=True):
        text = text.replace(model, " ")
    text = re.sub(r"%\{[^}]*\}", " ", text)  # Plotly's fields
    text = re.sub(r"<[^>]+>", " ", text)
    text = re.sub(r"\d+(?:\.\d+)?(?:e[+-]?\d+)?", " ", text)
    return [w for w in re.findall(r"[A-Za-z][A-Za-z_]*", text) if len(w) > 1 and w not in KEPT]


def test_no_english_is_left_in_chinese(chinese):
    left = {}
    for name, (view, tokens) in chinese.items():
        if name.startswith("positions") and name[-1] in "012":
            # The sinusoidal and learned titles are the tab's (tests/viz/test_words_views.py), the formula a formula.
            view = copy.deepcopy(view)
            view.layout.title.text = ""
        texts = [_html_words(view, tokens)] if isinstance(view, str) else _read(view, tokens)
        words = sorted({w for text in texts for w in _english_left(text)})
        if words:
            left[name] = words
    assert left == {}


def test_both_languages_carry_the_same_numbers(english, chinese):
    assert translated_texts(english, chinese) > 100


def test_the_english_is_what_it_was(english):
    enc, dec = english["order encoder"][0], english["order decoder"][0]
    assert re.fullmatch(r"mini-bert: max diff \d\.\de[+-]\d\d → the same vectors, permuted", enc.layout.title.text)
    assert re.fullmatch(r"mini-gpt: max diff \d\.\de[+-]\d\d → different vectors", dec.layout.title.text)
    assert [t.name for t in enc.data] == ["positions removed (all ids 0)", "with the model's positions"]
    assert enc.layout.yaxis.title.text == "max |h_shuffled − h|"
    moe = english["moe 1"][0]
    assert moe.layout.title.text == "mini-mixtral, layer 1: sparse experts vs dense heads"
    assert moe.data[0].hovertemplate == \
        "%{x} → %{y}<br>mixing weight %{z:.3f}<br>router p %{customdata:.3f}<extra></extra>"
    assert moe.data[1].hovertemplate == "%{x}, %{y}: active<br>attention entropy %{customdata:.2f}<extra></extra>"
    assert list(moe.data[0].y[:2]) == ["expert 0", "expert 1"] and moe.data[1].y[0] == "head 0"
    assert moe.layout.annotations[1].text == "attention heads: all work on every token"
    mlm = english["masked lm"][0]
    assert '<th style="text-align:left;padding:3px 6px">model reads</th>' in mlm
    assert re.search(r"<p>\d+ of \d+ tokens chosen \(seed 0\); masked-LM loss over the chosen positions: "
                     r"<b>\d+\.\d{3}</b></p><p>Next-sentence prediction: P\(IsNext\) = <b>\d\.\d{3}</b></p></div>$", mlm)
    assert "<div><b>encoder input:</b> " in english["span html"][0]
    gpt = english["next token"][0]
    assert re.fullmatch(r"next-token targets: loss per position \(mean \d+\.\d{3}\); green = top-1 right",
                        gpt.layout.title.text)
    assert re.fullmatch(r"reads ….+ → target .+<br>top-1 .+<br>p\(target\) \d\.\d{3}", gpt.data[0].hovertext[0])
    scaling = english["scaling mini-bert"][0]
    assert scaling.layout.annotations[0].text == "softmax(QKᵀ/√48): the model"
    assert re.fullmatch(r"layer 1, head 1: mean entropy \d\.\d\d nats scaled vs \d\.\d\d unscaled; "
                        r"mean max weight \d\.\d\d vs \d\.\d\d", scaling.layout.title.text)
    textbook = english["textbook mini-bert"][0].splitlines()
    assert textbook[1] == "|---|---|" and textbook[3].startswith("| stable: subtract the max first | [")
    assert textbook[-1].startswith("Random q, k with unit-variance entries in ")
    rope, buckets = english["positions 3"][0], english["positions 4"][0]
    assert rope.layout.title.text.startswith("RoPE (base ") and rope.layout.xaxis.title.text == "position"
    assert buckets.layout.title.text.startswith("T5 relative positions: ")
    assert buckets.layout.annotations[2].text == "learned bias, head 1"


def test_every_word_concepts_translates_by_value_has_its_chinese():
    """Its t() literals are checked with every other one (tests/viz/test_words.py)."""
    # What viz/concepts.py translates by value: the masked-LM table's row names and actions.
    by_value = ["typed", "model reads", "chosen as", "prediction", "p(original)", "loss",
                *(w for w in concepts.ACTION_WORDS.values() if not w.startswith("[MASK]"))]
    assert [w for w in by_value if w not in ZH] == []
