"""The words of the Architecture, Head patterns, Rank, Graph & flow, Masks, Order and Positions views
in the reader's language (issue 16, item 1), built from real runs of the embedded models: in 中文 no
English is left but the names a Chinese lecture keeps as they are, model text and tokens untouched;
in English every string is what it was; and both languages carry the same numbers."""

from __future__ import annotations

import re
from dataclasses import replace

import numpy as np
import pytest

from models import analysis, mechanisms
from models import trace as traces
from models.analysis import LABEL_HELP, LABELS
from models.architecture import describe
from models.results import Part
from ui.tabs import architecture as arch_tab
from ui.tabs import graph as graph_tab
from ui.tabs import masks as masks_tab
from ui.tabs import patterns as pat_tab
from ui.tabs import positions as pos_tab
from viz import architecture as arch_viz
from viz import patterns as pat_viz
from viz.style import plotly_text
from viz.tables import order_table_markdown, rank_summary_markdown
from viz.words import ZH, speaking
from tests.viz.words_check import fields, language_fixtures, strings, translated_texts

TEXT = "The cat sat on the mat because it was tired."
PAIRS = (("mini-gpt", "mini-llama"), ("mini-bert", "mini-t5"), ("mini-mixtral", "mini-gpt"))
# Names a Chinese ML lecture says as they are (and symbols of two letters or more).
KEPT = {"GELU", "SwiGLU", "GeGLU", "ReGLU", "ReLU", "tanh", "RoPE", "LayerNorm", "RMSNorm", "RMS", "softmax",
        "token", "CLS", "SEP", "MASK", "PAD", "BOS", "NSP", "MLM", "LM", "MoE", "top", "rollout", "flow", "float",
        "log", "det", "numpy", "matrix_rank"}
# Formulas, drawn as they are in either language.
FORMULAS = ("x + attn(norm(x)) + ffn(norm(x))", "p.numel()", "PE(p, 2i) = sin(p / 10000^(2i/64)), PE(p, 2i+1) = cos(…)")
# A hand-made architecture's values, for the phrases no embedded model has (GPT-NeoX's partial RoPE
# and parallel block, BART's per-stack widths, multi-query attention, a gated activation).
RARE = {
    "norm": "LayerNorm, T5LayerNorm (mean and variance)",
    "norm placement": "pre-norm (norm before each sublayer); parallel: attention and feed-forward both read the "
                      "block input, one add (x + attn(norm(x)) + ffn(norm(x)))",
    "positions": "learned absolute, RoPE (base 10000), partial: rotates 4 of each head's 16 dimensions (25%), the "
                 "rest carry no position, relative buckets (32, learned bias per head)",
    "activation": "gated gelu_fast",
    "attention": "multi-query (8 query heads share 1 key/value head)",
    "feed-forward": "dense (encoder width 48, decoder width 40)",
    "output heads": "none",
}
RARE_PARTS = (Part("encoder position embeddings", "embeddings", "", -1, 10),
              Part("decoder embedding norm", "embeddings", "", -1, 4),
              Part("MLM output layer (tied to the token embeddings)", "head", "", -1, 0),
              Part("other", "head", "", -1, 2))


def _rare(arch):
    features = tuple((name, RARE.get(name, value)) for name, value in arch.features)
    stacks = tuple(replace(s, parallel=True) for s in arch.stacks)
    return replace(arch, features=features, stacks=stacks, parts=arch.parts + RARE_PARTS,
                   parameters=arch.parameters + 16)


def _build(language: str) -> dict:
    """name -> (figure or markdown, names in it, tokens in it), every view of these files. Names
    (of models, classes, model keys, a shuffled text) are model text wherever they stand; a token
    is model text where it is the whole text (a token may be "on", which "position" contains)."""
    out = {}
    with speaking(language):
        for a, b in PAIRS:
            left, right = describe(a), describe(b)
            names = {left.model_name, right.model_name, left.model_class, right.model_class}
            for arch in (left, right):
                names |= set(arch.feature("norm").split(" (")[0].split(", "))
            table, fig_a, fig_b, parts_a, parts_b, _, _ = arch_tab.run_architecture(a, b)
            for key, view in (("diff", table), ("fig-a", fig_a), ("fig-b", fig_b), ("parts-a", parts_a),
                              ("parts-b", parts_b)):
                out[f"architecture {a} {b} {key}"] = (view, names, set())
        base = describe("mini-llama")
        rare = _rare(base)
        names = {base.model_name, base.model_class, "LlamaRMSNorm", "T5LayerNorm", "gelu_fast"}
        rows = [(name, dict(base.features)[name], value, value != dict(base.features)[name])
                for name, value in rare.features]
        out["architecture rare diff"] = (arch_viz.comparison_markdown(base, rare, rows), names, set())
        out["architecture rare fig"] = (arch_viz.architecture_figure(rare, tuple(RARE)), names, set())
        out["architecture rare parts"] = (arch_viz.parts_table_markdown(rare), names, set())
        for model in ("mini-bert", "mini-gpt", "mini-t5"):
            name = traces.run_trace(model, TEXT).model_name
            for i, fig in enumerate(pat_tab.run_patterns(model, TEXT)):
                fig = fig.get("value") if isinstance(fig, dict) else fig  # the second plot's update
                if fig is not None:
                    out[f"patterns {model} {i}"] = (fig, {name}, set())
        for model, kind, layer, head, threshold in (("mini-gpt", "decoder", 1, 1, 0.1), ("mini-bert", "encoder", 0, 2, 0.05)):
            trace = traces.run_trace(model, TEXT)
            tokens = {plotly_text(tok) for tok in trace.tokens}
            result = graph_tab.run_graph(model, TEXT, kind, layer, head, threshold, -1)
            out[f"graph {model}"] = (result[3], set(), tokens)
            out[f"flow {model}"] = (result[4], {trace.model_name}, tokens)
        reports = []
        for model in ("mini-bert", "mini-gpt"):
            trace = traces.run_trace(model, TEXT)
            attn = trace.attention(analysis.self_attention_kinds(trace)[0])
            reports.append((trace.model_name, analysis.attention_rank(attn, 1e-3)))
        names = {name for name, _ in reports}
        for name, report in reports:
            out[f"rank {name}"] = (pat_viz.rank_map(report, name), names, set())
            out[f"effective rank {name}"] = (pat_viz.effective_rank_map(report, name), names, set())
        out["spectrum"] = (pat_viz.spectrum_figure(reports, 1, 1), names, set())
        out["rank summary"] = (rank_summary_markdown(reports), names, set())
        for i, fig in enumerate(masks_tab.run_masks(TEXT, "", 2, 1, 1)[1:-2]):
            out[f"masks {i}"] = (fig, set(), _ticks(fig))
        results = [mechanisms.order_experiment(m, TEXT, 0) for m in ("mini-bert", "mini-gpt")]
        shuffled = {" ".join(r.shuffled) for r in results}
        out["order"] = (order_table_markdown(results), shuffled | {"mini-bert", "mini-gpt"}, set())
        # Sinusoidal and the two learned tables: their titles are written here, the rest in viz/concepts.py.
        for i, fig in enumerate(pos_tab.run_positions(64, 32, 0)[:3]):
            out[f"positions {i}"] = (fig, {"mini-bert", "mini-gpt"}, set())
    return out


english, chinese = language_fixtures(_build)


def _ticks(fig) -> set[str]:
    """The token labels of a figure's axes: model text."""
    layout = fig.layout.to_plotly_json()
    return {str(tick) for key, axis in layout.items() if key.startswith(("xaxis", "yaxis"))
            for tick in axis.get("ticktext", ()) or ()}


def _read(fig, tokens: set[str]) -> list[str]:
    """Every text of a figure that a person reads: titles, axis and colorbar titles, legend
    entries, hover templates and texts, annotations, cell and node texts, the hover's data words;
    but the tokens."""
    layout = fig.layout.to_plotly_json()
    title = layout.get("title", {})
    texts = [title.get("text", ""), title.get("subtitle", {}).get("text", "")]
    texts += [axis.get("title", {}).get("text", "") for key, axis in layout.items() if key.startswith(("xaxis", "yaxis"))]
    texts += [note.get("text", "") for note in layout.get("annotations", ())]
    for trace in fig.data:
        if trace.type != "heatmap" and trace.showlegend is not False:
            texts.append(trace.name or "")
        if trace.type == "heatmap" and trace.showscale is not False and trace.colorbar.title.text:
            texts.append(trace.colorbar.title.text)
        texts.append(trace.hovertemplate or "")
        for field in ("text", "hovertext", "customdata"):
            texts += [s for s in strings(getattr(trace, field, None)) if s not in tokens]
    return texts


def _english_left(text: str, names: set[str]) -> list[str]:
    names = names | {ZH.get(name, name) for name in names}  # the embedded models' names in Chinese
    for name in sorted(names, key=len, reverse=True):
        text = text.replace(name, " ")
    for formula in FORMULAS:
        text = text.replace(formula, " ")
    text = re.sub(r"%\{[^}]*\}", " ", text)  # Plotly's fields
    text = re.sub(r"<[^>]+>", " ", text)
    text = re.sub(r"σ\w*", " ", text)
    text = re.sub(r"\d+(?:\.\d+)?(?:e[+-]?\d+)?", " ", text)
    return [w for w in re.findall(r"[A-Za-z][A-Za-z_]*", text) if len(w) > 1 and w not in KEPT]


def test_no_english_is_left_in_chinese(chinese):
    left = {}
    for name, (view, names, tokens) in chinese.items():
        if name.startswith("positions"):
            # Only the title is written here; the rest of these figures is viz/concepts.py's.
            view = view.layout.title.text
        texts = [view] if isinstance(view, str) else _read(view, tokens)
        words = [w for text in texts for w in _english_left(text, names)]
        if words:
            left[name] = sorted(set(words))
    assert left == {}


def test_both_languages_carry_the_same_numbers(english, chinese):
    assert translated_texts(english, chinese) > 200


def test_the_english_is_what_it_was(english):
    gpt_llama = english["architecture mini-gpt mini-llama diff"][0].splitlines()
    assert gpt_llama[:2] == ["| | Mini GPT-2 (embedded) | Mini LLaMA (embedded) |", "|---|---|---|"]
    assert "| norm placement | pre-norm (norm before each sublayer) | pre-norm (norm before each sublayer) |" in gpt_llama
    assert "| **≠ attention** | multi-head (4 heads) | grouped-query (4 query heads share 2 key/value heads) |" in gpt_llama
    assert "| **≠ positions** | learned absolute | RoPE (base 10000) |" in gpt_llama
    assert "| output heads | LM head (tied to the token embeddings) | LM head (tied to the token embeddings) |" in gpt_llama
    assert "| **≠ layers** | encoder 4 | encoder 2, decoder 2 |" in english["architecture mini-bert mini-t5 diff"][0]
    assert "| **≠ class** | `GPT2LMHeadModel` | `LlamaForCausalLM` |" in gpt_llama
    assert "| **≠ feed-forward** | mixture of 8 experts, top-2 per token | dense (width 768) |" in \
        english["architecture mini-mixtral mini-gpt diff"][0]
    parts = english["architecture mini-bert mini-t5 parts-b"][0].splitlines()
    assert parts[0] == "| part | where | parameters | share |"
    assert "| encoder final norm | outside the blocks | 128 | 0.0% |" in parts
    assert "| cross-attention | decoder blocks | 131,072 | 7.2% |" in parts
    assert parts[-1] == "| **total** (= sum of `p.numel()`) | | **1,812,224** | 100% |"
    # Every feature value and part name of every model, hand-made ones included, passes unchanged.
    for arch in [describe(key) for key in ("mini-bert", "mini-gpt", "mini-llama", "mini-t5", "mini-mixtral")] + \
            [_rare(describe("mini-llama"))]:
        assert [arch_viz.feature_words(n, v) for n, v in arch.features] == [v for _, v in arch.features]
        assert [arch_viz.part_words(p.name) for p in arch.parts] == [p.name for p in arch.parts]
    rare = english["architecture rare fig"][0]
    assert [t.name for t in rare.data[:-1]] == [
        "data flow", "residual path", "encoder output → cross-attention", "block input → feed-forward branch (parallel)",
        "attention output → the one add (parallel)"]
    assert rare.layout.annotations[0].text == "<b>× 4</b> decoder blocks"
    fig = english["architecture mini-bert mini-t5 fig-b"][0]
    assert fig.layout.title.text == "Mini T5 (embedded): T5ForConditionalGeneration, 1,812,224 parameters"
    assert "cross-attention<br>(queries: decoder, keys/values: encoder)" in fig.data[-1].text
    assert "token embeddings (shared by both stacks)" in fig.data[-1].text
    assert fig.data[-1].hovertext[0] == "input tokens<br>input<br>0 parameters"
    heads = english["patterns mini-bert 0"][0]
    assert heads.data[0].hovertemplate == (
        "layer %{y} · head %{x}: <b>%{customdata[0]}</b> (score %{customdata[2]:.3f})<br>%{customdata[1]}"
        "<br>entropy %{customdata[3]:.3f} · distance %{customdata[4]:.2f} tokens"
        "<br>first/special share %{customdata[5]:.3f} · top column %{customdata[6]:.3f}"
        "<br>previous %{customdata[7]:.3f} · diagonal %{customdata[8]:.3f} · next %{customdata[9]:.3f}"
        "<br>own segment %{customdata[10]:.3f} (-1: one segment only)<extra></extra>")
    assert heads.layout.title.text == "Mini BERT (embedded) · head patterns, encoder self-attention"
    assert {t.name for t in heads.data[1:]} <= {f"{k}: {LABEL_HELP[k]}" for k in LABELS}
    assert set(np.asarray(heads.data[0].text).ravel()) <= set(pat_viz.SHORT.values())
    rank = english["rank Mini GPT-2 (embedded)"][0]
    assert rank.data[0].hovertemplate.startswith(
        "layer %{y} · head %{x}<br>rank %{customdata[0]:.0f} of 12 (tolerance 0.001 x largest)<br>effective rank "
        "%{customdata[1]:.2f}<br>smallest diagonal weight %{customdata[2]:.2e}<br>smallest singular value "
        "%{customdata[3]:.2e}<br>")
    assert rank.layout.title.text == "Mini GPT-2 (embedded) · numerical rank, decoder self-attention (n = 12)"
    effective = english["effective rank Mini GPT-2 (embedded)"][0]
    assert effective.data[0].hovertemplate == "layer %{y} · head %{x}<br>effective rank %{z:.3f} of 12<extra></extra>"
    spectrum = english["spectrum"][0]
    assert spectrum.layout.title.text == "singular values of layer 1, head 1"
    assert spectrum.data[1].name == "Mini BERT (embedded) tolerance 0.001 x σ1"
    assert re.fullmatch(r"Mini GPT-2 \(embedded\) L1 H1: rank \d+ of 12", spectrum.data[2].name)
    assert re.fullmatch(r"- \*\*Mini BERT \(embedded\)\*\* \(encoder, n = 15\): \d+ of 16 heads full rank at tolerance "
                        r"1e-03; mean effective rank \d+\.\d; smallest diagonal weight \d\.\de-\d\d\.",
                        english["rank summary"][0].splitlines()[0])
    graph = english["graph mini-gpt"][0]
    assert re.fullmatch(r"token graph, decoder self-attention · layer 1 · head 1: \d+ edges with weight ≥ 0.1",
                        graph.layout.title.text)
    assert {t.name for t in graph.data if t.showlegend} == {"to an earlier token"}
    assert graph.data[-1].hovertemplate == \
        "position %{x}: %{customdata[0]}<br>attends to itself %{customdata[1]:.4f}<extra></extra>"
    flow = english["flow mini-gpt"][0]
    assert [t.name for t in flow.data] == ["attention rollout", "attention flow (max flow, normalised)"]
    assert flow.data[1].hovertemplate == "%{x}<br>flow %{y:.4f} (max flow %{customdata:.4f})<extra></extra>"
    assert flow.layout.title.text == "Mini GPT-2 (embedded) · which input tokens reach position 11 (.) through every layer"
    assert english["order"][0].splitlines()[0] == "| model | shuffled | max difference, positions removed | with positions |"
    assert english["order"][0].splitlines()[2].startswith("| mini-bert (encoder) | <span translate='no'>[CLS] ")
    assert [english[f"positions {i}"][0].layout.title.text for i in range(3)] == [
        "sinusoidal: PE(p, 2i) = sin(p / 10000^(2i/64)), PE(p, 2i+1) = cos(…)",
        "mini-bert: learned position embeddings", "mini-gpt: learned position embeddings"]


def test_mask_titles_are_the_schemes_own_in_english(english):
    from models.masks import taxonomy

    schemes = taxonomy(TEXT, masks_tab.SHORT_SENTENCE, 2).schemes
    titles = [english[f"masks {i}"][0].layout.title.text for i in range(2 * len(schemes))]
    assert titles[0::2] == [f"mask · {s.title}" for s in schemes]
    assert titles[1::2] == [f"attention L1 H1 · {s.title}" for s in schemes]


# The t() literals of these files are checked with every other one (tests/viz/test_words.py).


def test_every_word_that_comes_from_the_models_has_its_chinese():
    """What these views translate by value (labels, part names, feature phrases, scheme titles)."""
    from models.masks import taxonomy

    values = [*LABELS, *LABEL_HELP.values(), *pat_viz.SHORT.values(), *(words for _, words in arch_viz.PHRASES),
              ", ", "none", "encoder", "decoder", "encoder-decoder", "cross", "input", "add"]
    parts = list(RARE_PARTS)
    for key in ("mini-bert", "mini-gpt", "mini-llama", "mini-t5", "mini-mixtral"):
        arch = describe(key)
        values += [name for name, _ in arch.features] + [arch.family]
        parts += arch.parts
    values += [p.group for p in parts]
    values += [re.sub(r"^(encoder|decoder) | \(tied to the token embeddings\)$", "", p.name) for p in parts]
    values += [s.title for s in taxonomy(TEXT, masks_tab.SHORT_SENTENCE, 2).schemes if s.name != "prefix_lm"]
    assert sorted({v for v in values if v not in ZH}) == []
    assert [w for _, w in arch_viz.PHRASES if fields(w) != fields(ZH[w])] == []
