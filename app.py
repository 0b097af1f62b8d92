"""Transformer Triptych: BERT, GPT, T5 and LLaMA side by side, live, on real models.

Gradio layout and wiring only: handlers call models/ for the numbers and viz/ for the
figures. Run `python app.py` and open http://127.0.0.1:7860 (host and port follow
GRADIO_SERVER_NAME / GRADIO_SERVER_PORT, as on Hugging Face Spaces).
"""

from __future__ import annotations

import dataclasses
import hashlib
import html
import json
import logging
import math
import os
import re
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path

import gradio as gr
from gradio.i18n import I18nData

from models import analysis, concepts, registry
from models.architecture import architecture_to_json, describe, differences
from models.decoding import KV_CONFIGS, MAX_BEAMS, Settings, decode, decoding_to_json, fill_left_to_right, kv_config, kv_table
from models.limits import time_limit
from models.loading import available_devices, configure_threads, default_device, get_model, set_device
from models.trace import run_padded_batch, run_prefix_lm, run_trace, trace_to_json
from viz import concepts as concept_viz
from viz.architecture import architecture_figure, comparison_markdown, parts_table_markdown
from viz.export import write_exports
from viz.decoding import (alignment_figure, attention_row_figure, beam_tree_figure, cache_figure, kv_table_markdown,
                          mask_fill_html, stages_figure,
                          text_html)
from viz.graphs import importance_figure, token_graph, token_graph_figure
from viz.heatmap import attention_heatmap, mask_heatmap
from viz.overview import overview_figure, parse_pick
from viz.patterns import effective_rank_map, pattern_map, rank_map, spectrum_figure
from viz.tokens import outputs_html, tokens_html

log = logging.getLogger("triptych")

ASSETS = Path(__file__).parent / "assets"
EXAMPLE_TEXT = "The cat chases a mouse"
SHORT_SENTENCE = "I like eating apples"
MAX_INDEX = 127
KINDS = ("encoder", "decoder", "cross")
CONCURRENCY = 2
# Every event that runs a model shares one queue of CONCURRENCY workers (a per-event limit would
# let each of the many listeners run its own, oversubscribing the cores).
RUNS = dict(concurrency_id="model", concurrency_limit=CONCURRENCY)
THEME = gr.themes.Soft()
CSS = (ASSETS / "style.css").read_text(encoding="utf-8")
JS = (ASSETS / "app.js").read_text(encoding="utf-8")

# Every string on the page in English and Chinese through Gradio's i18n: the page follows the
# browser's language (or the language picked in the page). English is written in this file; the
# Chinese is in assets/i18n/zh.json, keyed by the English; the views' explanations are in
# assets/i18n/explanations.json.
I18N = gr.I18n(en={}, zh={})
ZH = json.loads((ASSETS / "i18n" / "zh.json").read_text(encoding="utf-8"))
EXPLANATIONS = json.loads((ASSETS / "i18n" / "explanations.json").read_text(encoding="utf-8"))
USED_TEXTS: set[str] = set()
# Gradio keeps each session's state (our traces, updated components) in memory, 10,000 sessions
# by default: ~1 MiB each here, so a public Space could grow by gigabytes. A lecture hall needs far
# fewer; the oldest sessions go first.
SESSIONS = max(10, int(os.environ.get("TRIPTYCH_SESSIONS", "500")))
# Requests waiting beyond the running ones; past this the page says "This application is currently
# busy. Please try again." (HTTP 503) at once instead of making the whole room wait minutes.
QUEUE_ENV = "TRIPTYCH_QUEUE_SIZE"
# Gradio 6's run history keeps every run's inputs and outputs (our figures) in the browser's
# localStorage and rewrites all of it after each run: measured here, the four Compare columns went
# from 0.46 s to 1.7 s per Run within 25 runs. A lecture hall's shared PCs should not keep them either.
# Gradio's own GRADIO_RUN_HISTORY=true turns it back on.
RUN_HISTORY = os.environ.get("GRADIO_RUN_HISTORY", "false").strip().lower() == "true"
LAUNCH = dict(css=CSS, theme=THEME, js=JS, i18n=I18N, state_session_capacity=SESSIONS, run_history=RUN_HISTORY)


MESSAGES = [(re.compile(m["pattern"], re.S), m["zh"])
            for m in json.loads((ASSETS / "i18n" / "messages.json").read_text(encoding="utf-8"))]


def bilingual(message: str) -> str:
    """A message for the room: the English, then its Chinese when assets/i18n/messages.json has
    it. Messages are built on the server, which does not know the reader's language."""
    for pattern, chinese in MESSAGES:
        match = pattern.fullmatch(message)
        if match:
            return f"{message}\n{chinese.format(*(g or '' for g in match.groups()))}"
    return message


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

# (slug, family, title, what to look for, default model)
COLUMNS = (
    ("bert", "encoder", "BERT · encoder", "Bidirectional: every token sees every other token. "
     "Put [MASK] in the text for its guesses, or 'A [SEP] B' for next-sentence prediction.", "mini-bert"),
    ("gpt", "decoder", "GPT · decoder", "Causal: a token sees only itself and earlier tokens.", "mini-gpt"),
    ("t5", "encoder-decoder", "T5 · encoder-decoder",
     "Bidirectional encoder, causal decoder, cross-attention from output to input.", "mini-t5"),
    ("llama", "decoder", "LLaMA · decoder",
     "Causal like GPT, with RoPE, RMSNorm, SwiGLU and grouped-query attention.", "mini-llama"),
)

@contextmanager
def user_errors():
    """Turn library errors into a readable message in the page, never a stack trace; and stop
    any request that runs past TRIPTYCH_REQUEST_SECONDS."""
    try:
        with time_limit():
            yield
    except gr.Error:
        raise
    except ValueError as err:
        raise gr.Error(bilingual(str(err)), title="Cannot do that · 无法执行") from None
    except Exception as err:
        log.exception("unexpected failure")
        raise gr.Error(bilingual(f"Something went wrong inside the model run ({type(err).__name__}). "
                                 "Try a shorter text or another model."), title="Internal error · 内部错误") from None


def _choices(family: str | None = None) -> list[tuple[str, str]]:
    return [(s.name, s.key) for s in registry.list_models(family)]


def _number(value, name: str, integer: bool = True):
    """A request's number, or a ValueError that names it: None, text, NaN and infinity are refused."""
    try:
        number = float(value)
    except (TypeError, ValueError, OverflowError):
        raise ValueError(f"{name} must be a number.") from None
    if not math.isfinite(number) or abs(number) > 2**53:
        raise ValueError(f"{name} must be a finite number.")
    return int(number) if integer else number


def _shown_kind(trace, kind: str) -> str:
    """The asked-for attention kind when the model has it, else its last (cross for T5)."""
    return kind if kind in trace.kinds else trace.kinds[-1]


def _kind_classes(kinds) -> list[str]:
    return ["kinds", *(f"has-{k}" for k in kinds)]


def _kinds(kinds, value: str, **props) -> dict:
    """An attention-kind radio showing the kinds this model has. Its choices stay all three (the
    page hides the others, style.css): Gradio checks a request's value against the session's
    choices, so narrowing them would refuse the next call that names another model's kind."""
    return gr.update(value=value, elem_classes=_kind_classes(kinds), **props)


def _bound(count: int, value: int) -> dict:
    """A layer or head slider's update for a model with `count` of them. A slider needs maximum >
    minimum, so a one-layer model keeps 0..1, fixed at 0 (the handlers clamp)."""
    return gr.update(maximum=max(count - 1, 1), value=value, interactive=count > 1)


def _clamp(value, top: int) -> int:
    try:
        return min(max(int(value), 0), top)
    except (TypeError, ValueError):
        raise ValueError("Layer and head must be whole numbers.") from None


# ---------------------------------------------------------------------------------------------
# Public JSON API


def api_models() -> list[dict]:
    """Every model the app offers: key, display name, family and source."""
    return [
        {"key": s.key, "name": s.name, "family": s.family, "source": f"assets/models/{s.key}" if s.embedded else s.source}
        for s in registry.list_models()
    ]


def api_attention_data(model: str, text: str, layer: int = -1) -> dict:
    """Run a model once on a text: tokens, attentions [layer][head][query][key] (every layer, or
    only `layer` when it is 0 or more), masks, outputs."""
    with user_errors():
        layer = _number(layer, "layer")
        return trace_to_json(run_trace(model, text), None if layer < 0 else layer)


def api_head_patterns(model: str, text: str) -> dict:
    """Per self-attention kind, per layer/head: entropy, distance, sink, previous/diagonal/next, label."""
    with user_errors():
        trace = run_trace(model, text)
        return analysis.patterns_to_json(trace, analysis.trace_patterns(trace))


def api_attention_rank(model: str, text: str, tolerance: float = 1e-3) -> dict:
    """Per attention kind: rank and effective_rank [layer][head], singular_values [layer][head][i]."""
    with user_errors():
        trace = run_trace(model, text)
        return analysis.rank_to_json(trace, analysis.trace_rank(trace, _number(tolerance, "tolerance", False)))


def api_attention_flow(model: str, text: str, position: int = -1, kind: str = "") -> dict:
    """Rollout and attention-flow scores per input token for one query position (-1: the model's
    default, [CLS] for encoders and the last token for decoders) of one self-attention stack."""
    with user_errors():
        trace = run_trace(model, text)
        result = _importance(trace, _number(position, "position"), kind if isinstance(kind, str) else "")
        return analysis.importance_to_json(trace, result)


def _importance(trace, position, kind):
    kinds = analysis.self_attention_kinds(trace)
    kind = kind or kinds[0]
    if kind not in kinds:
        raise ValueError(f"{trace.model_name} has self-attention kinds {', '.join(kinds)}; not {kind!r}.")
    position = None if position is None or int(position) < 0 else int(position)
    return analysis.importance(trace.attention(kind), position)


# ---------------------------------------------------------------------------------------------
# Compare page: one column per family


def _head_view(trace, kind, layer, head):
    attn = trace.attention(kind)
    layer, head = _clamp(layer, attn.layers - 1), _clamp(head, attn.heads - 1)
    return (
        _bound(attn.layers, layer),
        _bound(attn.heads, head),
        mask_heatmap(attn),
        attention_heatmap(attn, layer, head),
    )


def run_column(model, text, kind, layer, head):
    with user_errors():
        trace = run_trace(model, text)
        kind = _shown_kind(trace, kind)
        tokens = tokens_html(trace.tokens, trace.special, label=trace.model_name, unfamiliar=trace.unfamiliar)
        kinds = _kinds(trace.kinds, kind, visible=len(trace.kinds) > 1)
        shown = dataclasses.replace(trace, notices=tuple(bilingual(n) for n in trace.notices))
        return (trace, tokens, outputs_html(shown), kinds, *_head_view(trace, kind, layer, head))


def view_column(trace, kind, layer, head):
    if trace is None:
        return gr.skip(), gr.skip(), gr.skip(), gr.skip()
    with user_errors():
        return _head_view(trace, kind, layer, head)


def _compare_column(slug, family, title, blurb, default, text, triggers) -> None:
    with gr.Column(min_width=320, elem_classes=["family-column"], elem_id=f"col-{slug}"):
        gr.Markdown(L(title), elem_classes=["column-title"])
        gr.Markdown(L(blurb))
        model = gr.Dropdown(_choices(family), value=default, label=L("Model"), allow_custom_value=True,
                            elem_id=f"model-{slug}", elem_classes=["column-controls"])
        # Every kind is a valid choice from the start: an API call or another model in this column
        # may ask for any; each run narrows the choices to the model's own.
        kind = gr.Radio(list(KINDS), value="cross" if family == "encoder-decoder" else family, label=L("Attention"),
                        visible=family == "encoder-decoder", elem_id=f"kind-{slug}",
                        elem_classes=_kind_classes(KINDS if family == "encoder-decoder" else (family,)))
        with gr.Row(elem_classes=["controls"]):
            # Wide bounds until the first run sets the model's own; the handlers clamp to them.
            layer = gr.Slider(0, MAX_INDEX, value=0, step=1, label=L("Layer"), elem_id=f"layer-{slug}")
            head = gr.Slider(0, MAX_INDEX, value=0, step=1, label=L("Head"), elem_id=f"head-{slug}")
        tokens = gr.HTML(elem_id=f"tokens-{slug}")
        outputs = gr.HTML(elem_id=f"outputs-{slug}")
        mask_plot = gr.Plot(label=L("Mask"), elem_id=f"mask-{slug}")
        attn_plot = gr.Plot(label=L("Attention"), elem_id=f"attn-{slug}")
        trace = gr.State(None)
    gr.on(
        triggers=[*triggers, model.input],
        fn=run_column,
        inputs=[model, text, kind, layer, head],
        outputs=[trace, tokens, outputs, kind, layer, head, mask_plot, attn_plot],
        api_name=f"compare_{slug}", **RUNS,
        api_description=f"Run the {title} column's model on the text: tokens, outputs, mask and attention figures.",
        trigger_mode="multiple",  # the page debounces typing; every pause must run
        show_progress="minimal",  # no overlay: the column stays clickable while it follows the typing
    )
    gr.on(
        triggers=[kind.input, layer.release, head.release],
        fn=view_column,
        inputs=[trace, kind, layer, head],
        outputs=[layer, head, mask_plot, attn_plot],
        api_name=f"view_{slug}",
        api_visibility="private",
    )


# ---------------------------------------------------------------------------------------------
# Attention tab: one model in depth, every head at once


def run_attention(model, text, kind, layer, head):
    with user_errors():
        trace = run_trace(model, text)
        kind = _shown_kind(trace, kind)
        kinds = _kinds(trace.kinds, kind)
        return (trace, kinds, *_head_view(trace, kind, layer, head))


def view_attention(trace, kind, layer, head):
    if trace is None:
        return gr.skip(), gr.skip(), gr.skip(), gr.skip()
    with user_errors():
        return _head_view(trace, kind, layer, head)


def draw_overview(trace, kind):
    """The all-heads overview of the run just shown. It follows the head view as its own step:
    it is most of the bytes (12 x 12 heads at 64 tokens: 3.4 MB of exact weights), so the chosen
    head appears first, and moving the layer or head sliders does not send it again."""
    if trace is None:
        return gr.skip()
    with user_errors():
        kind = _shown_kind(trace, kind)
        return overview_figure(trace.attention(kind), trace.model_name)


def pick_head(trace, kind, picked):
    """A click on the overview ("x|y" labels of the cell) opens that head."""
    if trace is None or not picked:
        return gr.skip(), gr.skip(), gr.skip(), gr.skip()
    with user_errors():
        x, _, y = str(picked).partition("|")
        layer, head = parse_pick(x, y)
        return _head_view(trace, kind, layer, head)


def _head_controls(prefix: str, model: str, kind: str) -> tuple:
    """Model, attention kind, layer and head: the knobs of a one-head view, ids `{prefix}-model` ...
    The sliders start wide; the first run sets the model's own bounds and the handlers clamp."""
    return (gr.Dropdown(_choices(), value=model, label=L("Model"), allow_custom_value=True, elem_id=f"{prefix}-model"),
            gr.Radio(list(KINDS), value=kind, label=L("Attention"), elem_id=f"{prefix}-kind",
                     elem_classes=_kind_classes((kind,))),
            gr.Slider(0, MAX_INDEX, value=0, step=1, label=L("Layer"), elem_id=f"{prefix}-layer"),
            gr.Slider(0, MAX_INDEX, value=0, step=1, label=L("Head"), elem_id=f"{prefix}-head"))


def _attention_tab(text, run, tab) -> None:
    explain("attention")
    with gr.Row(elem_classes=["controls"]):
        model, kind, layer, head = _head_controls("att", "mini-bert", "encoder")
    with gr.Row():
        attn_plot = gr.Plot(label=L("Attention of the selected head"), elem_id="att-heatmap")
        mask_plot = gr.Plot(label=L("Mask"), elem_id="att-mask")
    over = gr.Plot(label=L("All heads"), elem_id="overview")
    picked = gr.Textbox(elem_id="overview-pick", elem_classes=["relay"], show_label=False, container=False)
    open_pick = gr.Button("open", elem_id="overview-open", elem_classes=["relay"])
    trace = gr.State(None)
    gr.on([run.click, text.submit, model.input], run_attention, [model, text, kind, layer, head],
          [trace, kind, layer, head, mask_plot, attn_plot], api_name="attention_view", **RUNS,
          api_description="One model: the selected head's heatmap and its mask (then /attention_overview).").then(
        draw_overview, [trace, kind], over, api_name="attention_overview",
        api_description="After /attention_view in the same session: the all-heads overview of that run, for the kind given.")
    gr.on([layer.release, head.release], view_attention, [trace, kind, layer, head],
          [layer, head, mask_plot, attn_plot], api_name="view_attention", api_visibility="private")
    kind.input(view_attention, [trace, kind, layer, head], [layer, head, mask_plot, attn_plot],
               api_visibility="private").then(draw_overview, [trace, kind], over, api_visibility="private")
    open_pick.click(pick_head, [trace, kind, picked], [layer, head, mask_plot, attn_plot],
                 api_name="pick_head", api_visibility="private")
    tab.select(run_attention, [model, text, kind, layer, head], [trace, kind, layer, head, mask_plot, attn_plot],
               api_visibility="private", **RUNS).then(draw_overview, [trace, kind], over, api_visibility="private")


# ---------------------------------------------------------------------------------------------
# Masks tab: the taxonomy of masks beside the attention they produce


def _mask_schemes(text, second, prefix) -> tuple[int, int, list[tuple[str, str, object, str]]]:
    """(prefix used, causal length, [(scheme, model key, attention set, title)]): the masking
    taxonomy, each scheme run on its embedded model."""
    batch = run_padded_batch("mini-bert", [text, second or SHORT_SENTENCE])
    causal = run_trace("mini-gpt", text)
    n = len(causal.tokens)
    prefix = min(max(int(prefix), 0), n)
    prefix_lm = run_prefix_lm("mini-gpt", text, prefix)
    t5 = run_trace("mini-t5", text)
    return prefix, n, [
        ("bidirectional_padded", "mini-bert", batch[0].attentions[0], "bidirectional, batch row 1"),
        ("bidirectional_padded", "mini-bert", batch[1].attentions[0], "bidirectional, batch row 2 ([PAD] keys masked)"),
        ("causal", "mini-gpt", causal.attentions[0], "causal decoder"),
        ("prefix_lm", "mini-gpt", prefix_lm.attentions[0], f"prefix decoder, prefix of {prefix} tokens"),
        ("encoder", "mini-t5", t5.attention("encoder"), "encoder-decoder: encoder, full"),
        ("decoder", "mini-t5", t5.attention("decoder"), "encoder-decoder: decoder, causal"),
        ("cross", "mini-t5", t5.attention("cross"), "encoder-decoder: cross, full"),
    ]


def run_masks(text, second, prefix, layer, head):
    with user_errors():
        prefix, n, schemes = _mask_schemes(text, second, prefix)
        figures = []
        for _, _, attn, title in schemes:
            lay, hd = _clamp(layer, attn.layers - 1), _clamp(head, attn.heads - 1)
            figures += [mask_heatmap(attn, f"mask · {title}"), attention_heatmap(attn, lay, hd, f"attention L{lay} H{hd} · {title}")]
        return (gr.Slider(maximum=n, value=prefix), *figures)


def api_mask_data(text: str, second: str = SHORT_SENTENCE, prefix: int = 2) -> dict:
    """The mask each architecture applies ([query][key], 1 = may attend) for this text:
    bidirectional with padding (a batch of two), causal, prefix-LM, and T5's three."""
    with user_errors():
        prefix, _, schemes = _mask_schemes(text, second, _number(prefix, "prefix"))
        result: dict = {"bidirectional_padded": [], "encoder_decoder": {}}
        for scheme, model, a, _ in schemes:
            entry = {"model": model, "query_tokens": list(a.query_tokens), "key_tokens": list(a.key_tokens),
                     "mask": a.mask.astype(int).tolist()}
            if scheme == "bidirectional_padded":
                result[scheme].append(entry)
            elif model == "mini-t5":
                result["encoder_decoder"][scheme] = entry
            else:
                result[scheme] = dict(entry, prefix=prefix) if scheme == "prefix_lm" else entry
        return result


def _masks_tab(text, tab) -> None:
    explain("masks")
    with gr.Row(elem_classes=["controls"]):
        second = gr.Textbox(SHORT_SENTENCE, label=L("Second sentence of BERT's batch (the shorter one gets [PAD])"),
                            elem_id="mask-second")
        prefix = gr.Slider(0, MAX_INDEX, value=2, step=1, label=L("Prefix length (prefix decoder)"), elem_id="mask-prefix")
        layer = gr.Slider(0, MAX_INDEX, value=0, step=1, label=L("Layer"), elem_id="mask-layer")
        head = gr.Slider(0, MAX_INDEX, value=0, step=1, label=L("Head"), elem_id="mask-head")
        show = gr.Button(L("Show masks"), variant="primary", elem_id="mask-run")
    plots = []
    with gr.Column(elem_id="masks-plots"):
        for title in ("BERT, row 1", "BERT, row 2 (padded)", "GPT, causal", "GPT, prefix-LM", "T5 encoder",
                      "T5 decoder", "T5 cross"):
            with gr.Row():
                plots.append(gr.Plot(label=f"{title}: mask"))
                plots.append(gr.Plot(label=f"{title}: attention"))
    gr.on([show.click, tab.select, prefix.release, layer.release, head.release, second.submit], run_masks,
          [text, second, prefix, layer, head], [prefix, *plots], api_name="masks_view", **RUNS,
          api_description="Mask and attention figures of the four masking schemes for the text.")


# ---------------------------------------------------------------------------------------------
# Head patterns, rank, graphs


def run_patterns(model, text):
    with user_errors():
        trace = run_trace(model, text)
        maps = [pattern_map(p, trace.model_name) for p in analysis.trace_patterns(trace).values()]
        return maps[0], (maps[1] if len(maps) > 1 else None)


def run_rank(enc_model, dec_model, text, exponent, layer, head):
    with user_errors():
        tolerance = 10.0 ** float(exponent)
        reports = []
        for key in (enc_model, dec_model):
            trace = run_trace(key, text)
            attn = trace.attention(analysis.self_attention_kinds(trace)[0])
            reports.append((trace.model_name, analysis.attention_rank(attn, tolerance)))
        (enc_name, enc), (dec_name, dec) = reports
        summary = _rank_summary(reports)
        layers = max(enc.rank.shape[0], dec.rank.shape[0]) - 1
        heads = max(enc.rank.shape[1], dec.rank.shape[1]) - 1
        layer, head = _clamp(layer, layers), _clamp(head, heads)
        return (rank_map(enc, enc_name), rank_map(dec, dec_name), effective_rank_map(enc, enc_name),
                effective_rank_map(dec, dec_name), spectrum_figure(reports, layer, head), summary,
                _bound(layers + 1, layer), _bound(heads + 1, head))


def _rank_summary(reports) -> str:
    lines = []
    for name, r in reports:
        n = min(r.shape)
        full = int((r.rank == n).sum())
        lines.append(f"- **{name}** ({r.kind}, n = {n}): {full} of {r.rank.size} heads full rank at tolerance "
                     f"{r.tolerance:.0e}; mean effective rank {r.effective_rank.mean():.1f}; smallest diagonal "
                     f"weight {r.min_diagonal.min():.1e}.")
    return "\n".join(lines)


def run_graph(model, text, kind, layer, head, threshold, position):
    with user_errors():
        trace = run_trace(model, text)
        kinds = analysis.self_attention_kinds(trace)
        kind = kind if kind in kinds else kinds[0]
        attn = trace.attention(kind)
        layer, head = _clamp(layer, attn.layers - 1), _clamp(head, attn.heads - 1)
        graph = token_graph(attn, layer, head, threshold)
        result = _importance(trace, position, kind)
        return (_kinds(kinds, kind), _bound(attn.layers, layer),
                _bound(attn.heads, head), token_graph_figure(graph),
                importance_figure(result, trace.model_name))


def _analysis_tabs(text) -> None:
    with gr.Tab(L("Head patterns"), id="patterns", elem_id="tab-patterns") as p_tab:
        explain("patterns")
        with gr.Row(elem_classes=["controls"]):
            p_model = gr.Dropdown(_choices(), value="mini-bert", label=L("Model"), allow_custom_value=True,
                                  elem_id="pat-model")
            p_go = gr.Button(L("Label the heads"), variant="primary", elem_id="pat-run")
        with gr.Row():
            p_first = gr.Plot(label=L("Head patterns"), elem_id="pat-map")
            p_second = gr.Plot(label=L("Head patterns (decoder of an encoder-decoder)"), elem_id="pat-map2")
        gr.on([p_go.click, p_model.input, p_tab.select], run_patterns, [p_model, text], [p_first, p_second],
              api_name="patterns_view", **RUNS, api_visibility="private")
    with gr.Tab(L("Rank"), id="rank", elem_id="tab-rank") as r_tab:
        explain("rank")
        with gr.Row(elem_classes=["controls"]):
            r_enc = gr.Dropdown(_choices("encoder") + _choices("encoder-decoder"), value="mini-bert",
                                label=L("Bidirectional model"), allow_custom_value=True, elem_id="rank-enc")
            r_dec = gr.Dropdown(_choices("decoder"), value="mini-gpt", label=L("Causal model"),
                                allow_custom_value=True, elem_id="rank-dec")
            r_tol = gr.Slider(-10, -1, value=-3, step=0.5, label=L("Tolerance (log10, relative to σ1)"), elem_id="rank-tol")
            r_layer = gr.Slider(0, MAX_INDEX, value=0, step=1, label=L("Layer (spectrum)"), elem_id="rank-layer")
            r_head = gr.Slider(0, MAX_INDEX, value=0, step=1, label=L("Head (spectrum)"), elem_id="rank-head")
            r_go = gr.Button(L("Compute rank"), variant="primary", elem_id="rank-run")
        r_summary = gr.Markdown(elem_id="rank-summary")
        with gr.Row():
            r_map_enc = gr.Plot(label=L("Rank, bidirectional"), elem_id="rank-map-enc")
            r_map_dec = gr.Plot(label=L("Rank, causal"), elem_id="rank-map-dec")
        with gr.Row():
            r_eff_enc = gr.Plot(label=L("Effective rank, bidirectional"), elem_id="rank-eff-enc")
            r_eff_dec = gr.Plot(label=L("Effective rank, causal"), elem_id="rank-eff-dec")
        r_spec = gr.Plot(label=L("Singular values of one head"), elem_id="rank-spectrum")
        gr.on([r_go.click, r_tab.select, r_tol.release, r_layer.release, r_head.release, r_enc.input, r_dec.input], run_rank,
              [r_enc, r_dec, text, r_tol, r_layer, r_head],
              [r_map_enc, r_map_dec, r_eff_enc, r_eff_dec, r_spec, r_summary, r_layer, r_head], api_name="rank_view", **RUNS,
              api_visibility="private")
    with gr.Tab(L("Graph & flow"), id="graph", elem_id="tab-graph") as g_tab:
        explain("graph")
        with gr.Row(elem_classes=["controls"]):
            g_model, g_kind, g_layer, g_head = _head_controls("graph", "mini-gpt", "decoder")
            g_thr = gr.Slider(0, 1, value=0.1, step=0.01, label=L("Edge threshold"), elem_id="graph-threshold")
            g_pos = gr.Number(-1, precision=0, label=L("Query position (-1: [CLS] / last token)"), elem_id="graph-position")
            g_go = gr.Button(L("Draw"), variant="primary", elem_id="graph-run")
        g_graph = gr.Plot(label=L("Token graph"), elem_id="graph-plot")
        g_importance = gr.Plot(label=L("Rollout and flow"), elem_id="flow-plot")
        gr.on([g_go.click, g_tab.select, g_model.input, g_kind.input, g_layer.release, g_head.release, g_thr.release, g_pos.submit],
              run_graph, [g_model, text, g_kind, g_layer, g_head, g_thr, g_pos],
              [g_kind, g_layer, g_head, g_graph, g_importance], api_name="graph_view", **RUNS, api_visibility="private")


# ---------------------------------------------------------------------------------------------
# Decoding lab


def _settings(strategy, temperature, top_k, top_p, seed, max_new_tokens, num_beams=1, use_cache=True) -> Settings:
    try:
        settings = Settings(str(strategy), float(temperature), int(top_k), float(top_p), int(seed),
                            int(max_new_tokens), int(num_beams), bool(use_cache))
    except (TypeError, ValueError, OverflowError):
        raise ValueError("Temperature, top-k, top-p, seed, max new tokens and beams must be numbers.") from None
    if settings.num_beams > 1 and settings.strategy != "beam":
        raise ValueError("More than one beam needs the beam strategy.")
    return settings


def api_decode(model: str, prompt: str, strategy: str = "greedy", temperature: float = 1.0, top_k: int = 0,
               top_p: float = 1.0, seed: int = 0, max_new_tokens: int = 20, num_beams: int = 1) -> dict:
    """Generate step by step: text, token_ids and per step the chosen token, its probability, the
    cumulative log-probability, the entropy and the top 20 candidates after every sampling stage."""
    with user_errors():
        settings = _settings(strategy, temperature, top_k, top_p, seed, max_new_tokens, num_beams)
        return decoding_to_json(decode(model, prompt, settings))


def _kv_rows(model: str) -> list[dict]:
    configs = dict(KV_CONFIGS)
    for key in dict.fromkeys(["mini-gpt", "mini-llama", "mini-t5", model]):
        configs[registry.resolve(key).name] = kv_config(get_model(key))
    return kv_table(configs)


def _greedy(max_new_tokens, use_cache: bool = True) -> Settings:
    return _settings("greedy", 1.0, 0, 1.0, 0, max_new_tokens, use_cache=use_cache)


def _cache_runs(model, prompt, max_new_tokens):
    """The same greedy decode with the KV cache on, then off."""
    return (decode(model, prompt, _greedy(max_new_tokens, True)), decode(model, prompt, _greedy(max_new_tokens, False)))


def api_kv_cache(model: str, prompt: str, max_new_tokens: int = 20) -> dict:
    """Greedy decoding with the KV cache on and off: per-step milliseconds and cache bytes, the
    tokens (the same both ways), and the cache calculator for real configurations."""
    with user_errors():
        on, off = _cache_runs(model, prompt, _number(max_new_tokens, "max_new_tokens"))
        return {"tokens_same": on.token_ids == off.token_ids,
                "with_cache": {"step_ms": [s.seconds * 1000 for s in on.steps], "cache_bytes": [s.cache_bytes for s in on.steps]},
                "without_cache": {"step_ms": [s.seconds * 1000 for s in off.steps]},
                "calculator": _kv_rows(model)}


def run_kv(model, prompt, max_new):
    with user_errors():
        return cache_figure(*_cache_runs(model, prompt, max_new)), kv_table_markdown(_kv_rows(model))


def run_contrast(prompt, max_new):
    with user_errors():
        fills = fill_left_to_right("mini-bert", prompt, int(max_new))
        gpt = decode("mini-gpt", prompt, _greedy(max_new))
        return mask_fill_html(fills, gpt)


def _decode_views(result, index):
    if result is None:
        return index, "", None, None, None, None, None
    last = len(result.steps) - 1
    index = min(max(int(index), 0), last)
    seq2seq = result.family == "encoder-decoder"
    cross = attention_row_figure(result, index, cross=True) if seq2seq else None
    alignment = alignment_figure(result, index) if seq2seq else None
    # The winner's last token ends the search's story: show the whole tree there.
    tree = None if result.beams is None else beam_tree_figure(result, None if index == last else index)
    return (index, text_html(result, index + 1), stages_figure(result, index), attention_row_figure(result, index),
            cross, alignment, tree)


def decode_move(action, model, prompt, strategy, temperature, top_k, top_p, seed, max_new, num_beams, use_cache,
                result, index):
    """Step / Back / Run to end / a changed knob: decode with the current knobs, show one step."""
    with user_errors():
        if action == "reset":
            return None, *_decode_views(None, 0)
        beams = int(num_beams) if strategy == "beam" else 1
        settings = _settings(strategy, temperature, top_k, top_p, seed, max_new, beams, use_cache)
        fresh = decode(model, prompt, settings)
        fresh = dataclasses.replace(fresh, notices=tuple(bilingual(n) for n in fresh.notices))
        if action == "end":
            index = len(fresh.steps) - 1
        elif result is None and action != "goto":
            index = 0
        else:
            index = {"step": int(index) + 1, "back": int(index) - 1}.get(action, int(index or 0))
        return fresh, *_decode_views(fresh, index)


def _decoding_tab() -> None:
    explain("decoding")
    choices = _choices("decoder") + _choices("encoder-decoder")
    with gr.Row(elem_classes=["controls"]):
        model = gr.Dropdown(choices, value="mini-gpt", label=L("Model"), allow_custom_value=True, elem_id="dec-model")
        prompt = gr.Textbox("今天天气真好，", label=L("Prompt (for T5: its input text)"), scale=3, elem_id="dec-prompt")
    with gr.Row(elem_classes=["controls"]):
        strategy = gr.Radio(["greedy", "sample", "beam"], value="sample", label=L("Strategy"), elem_id="dec-strategy")
        temperature = gr.Slider(0, 3, value=1.0, step=0.05, label=L("Temperature (0 = greedy)"), elem_id="dec-temperature")
        top_k = gr.Slider(0, 100, value=0, step=1, label=L("Top-k (0 = off)"), elem_id="dec-topk")
        top_p = gr.Slider(0.05, 1, value=1.0, step=0.05, label=L("Top-p (1 = off)"), elem_id="dec-topp")
        seed = gr.Number(0, precision=0, label=L("Seed"), elem_id="dec-seed")
        max_new = gr.Slider(1, 64, value=20, step=1, label=L("Max new tokens"), elem_id="dec-max")
        num_beams = gr.Slider(2, MAX_BEAMS, value=4, step=1, label=L("Beams (beam strategy)"), elem_id="dec-beams")
        use_cache = gr.Checkbox(True, label=L("KV cache"), elem_id="dec-cache")
    with gr.Row():
        buttons = {name: gr.Button(L(label), elem_id=f"dec-{name}", variant="primary" if name == "step" else "secondary")
                   for name, label in (("step", "Step"), ("end", "Run to end"), ("back", "Back"), ("reset", "Reset"))}
    text = gr.HTML(elem_id="dec-text")
    stages = gr.Plot(label=L("The distribution at this step"), elem_id="dec-stages")
    with gr.Row():
        row = gr.Plot(label=L("The new token's self-attention"), elem_id="dec-attention")
        cross = gr.Plot(label=L("Its cross-attention (encoder-decoders)"), elem_id="dec-cross")
    alignment = gr.Plot(label=L("Alignment so far (encoder-decoders)"), elem_id="dec-alignment")
    tree = gr.Plot(label=L("Beam search: every hypothesis, pruned ones grey, the winner red"), elem_id="dec-beams-tree")
    result = gr.State(None)
    # The step shown, in the page (not a State) so that a deep link can carry and restore it.
    index = gr.Number(0, precision=0, elem_id="dec-index", elem_classes=["relay"], show_label=False, container=False)
    buttons["goto"] = gr.Button("goto", elem_id="dec-goto", elem_classes=["relay"])
    knobs = [model, prompt, strategy, temperature, top_k, top_p, seed, max_new, num_beams, use_cache]
    outputs = [result, index, text, stages, row, cross, alignment, tree]
    for name, button in buttons.items():
        button.click(lambda *args, _n=name: decode_move(_n, *args), [*knobs, result, index], outputs,
                     api_name=f"decode_{name}", api_visibility="private", **RUNS)
    gr.on([strategy.input, temperature.release, top_k.release, top_p.release, seed.submit, num_beams.release,
           use_cache.input],
          lambda *args: decode_move("redo", *args) if args[-2] is not None else (gr.skip(),) * len(outputs),
          [*knobs, result, index], outputs, api_name="decode_knob", api_visibility="private", **RUNS)
    with gr.Accordion(L("KV cache: time and memory"), open=False):
        kv_go = gr.Button(L("Measure with and without the cache"), elem_id="kv-run")
        kv_plot = gr.Plot(label=L("Per-step time and cache size"), elem_id="kv-plot")
        kv_table_md = gr.Markdown(elem_id="kv-table")
        kv_go.click(run_kv, [model, prompt, max_new], [kv_plot, kv_table_md], api_name="kv_view",
                    api_visibility="private", **RUNS)
    with gr.Accordion(L("Why not generate with BERT?"), open=False):
        gr.Markdown(L("BERT fills a [MASK] from both sides. Asked to continue a text it gets a [MASK] with only [SEP] to its right, again and again; GPT was trained for exactly this."))
        contrast_go = gr.Button(L("Continue the prompt with BERT and with GPT"), elem_id="contrast-run")
        contrast = gr.HTML(elem_id="contrast")
        contrast_go.click(run_contrast, [prompt, max_new], contrast, api_name="contrast_view",
                          api_visibility="private", **RUNS)


# ---------------------------------------------------------------------------------------------
# Architecture and concepts


def api_architecture(model: str) -> dict:
    """A model's parts with parameter counts (adding up to sum(p.numel())), the order of the
    sublayers in a block, and its features: norm, norm placement, positions, activation, attention."""
    with user_errors():
        return architecture_to_json(describe(model))


def run_architecture(left, right):
    with user_errors():
        a, b = describe(left), describe(right)
        rows = differences(a, b)
        marked = tuple(name for name, _, _, differs in rows if differs)
        return (comparison_markdown(a, b, rows), architecture_figure(a, marked), architecture_figure(b, marked),
                parts_table_markdown(a), parts_table_markdown(b), a.tree, b.tree)


def _architecture_tab() -> None:
    explain("architecture")
    with gr.Row(elem_classes=["controls"]):
        left = gr.Dropdown(_choices(), value="mini-gpt", label=L("Model A"), allow_custom_value=True, elem_id="arch-left")
        right = gr.Dropdown(_choices(), value="mini-llama", label=L("Model B"), allow_custom_value=True, elem_id="arch-right")
        go = gr.Button(L("Compare"), variant="primary", elem_id="arch-run")
    table = gr.Markdown(elem_id="arch-diff")
    with gr.Row():
        fig_a = gr.Plot(label=L("Model A"), elem_id="arch-plot-a")
        fig_b = gr.Plot(label=L("Model B"), elem_id="arch-plot-b")
    with gr.Row():
        parts_a = gr.Markdown(elem_id="arch-parts-a")
        parts_b = gr.Markdown(elem_id="arch-parts-b")
    with gr.Accordion(L("Printed module trees"), open=False):
        with gr.Row():
            tree_a = gr.Code(language=None, label=L("Model A"), elem_id="arch-tree-a")
            tree_b = gr.Code(language=None, label=L("Model B"), elem_id="arch-tree-b")
    return left, right, go, [table, fig_a, fig_b, parts_a, parts_b, tree_a, tree_b]


def api_objectives(model: str, text: str, second: str = "", seed: int = 0) -> dict:
    """The model's own training objective on the text: BERT's masking (and NSP with a second
    sentence), GPT's shifted next-token targets with per-token loss, or T5's span corruption."""
    with user_errors():
        return concepts.objective_to_json(concepts.objective(model, text, second or "", _seed(seed)))


def _seed(value) -> int:
    try:
        seed = int(value)
    except (TypeError, ValueError, OverflowError):
        raise ValueError("The seed must be a whole number.") from None
    if not 0 <= seed < 2**32:
        raise ValueError("The seed must be between 0 and 4294967295.")
    return seed


def run_objectives(text, second, seed, bert, gpt, t5):
    with user_errors():
        seed = _seed(seed)
        span = concepts.span_corruption(t5, text, seed)
        return (concept_viz.masked_lm_html(concepts.masked_lm(bert, text, second or "", seed)),
                concept_viz.next_token_figure(concepts.next_token(gpt, text)),
                concept_viz.span_html(span), concept_viz.span_figure(span))


def run_positions(dim, positions, head):
    with user_errors():
        n, d = _clamp(positions, 512), _clamp(dim, 1024)
        pe = concepts.sinusoidal(n, d - d % 2)
        learned = {k: concepts.learned_positions(k, n) for k in ("mini-bert", "mini-gpt")}
        return (concept_viz.encoding_figure(pe, concepts.cosine_similarity(pe),
                                            f"sinusoidal: PE(p, 2i) = sin(p / 10000^(2i/{d})), PE(p, 2i+1) = cos(…)"),
                *(concept_viz.encoding_figure(v, concepts.cosine_similarity(v), f"{k}: learned position embeddings")
                  for k, v in learned.items()),
                concept_viz.rope_figure(concepts.rope("mini-llama", min(n, 64))),
                concept_viz.buckets_figure(concepts.relative_buckets("mini-t5", min(n, 64)), _clamp(head, 63)))


def api_order_experiment(model: str, text: str, seed: int = 0) -> dict:
    """Shuffle the tokens, remove positions (all position ids 0), undo the shuffle on the outputs and
    report the largest difference: ~0 for a bidirectional encoder, large for a causal decoder."""
    with user_errors():
        return concepts.order_to_json(concepts.order_experiment(model, text, _seed(seed)))


def run_order(text, seed, encoder, decoder):
    with user_errors():
        results = [concepts.order_experiment(m, text, _seed(seed)) for m in (encoder, decoder)]
        lines = ["| model | shuffled | max difference, positions removed | with positions |", "|---|---|---|---|"]
        for r in results:
            lines.append(f"| {r.model_key} ({r.family}) | {html.escape(' '.join(r.shuffled))} | "
                         f"**{r.max_without_positions:.2e}** | {r.max_with_positions:.2e} |")
        return "\n".join(lines), *(concept_viz.order_figure(r) for r in results)


def api_scaling(model: str, text: str, layer: int = 0, head: int = 0) -> dict:
    """One head's scores through softmax with and without 1/sqrt(d_k): weights, entropy, max weight."""
    with user_errors():
        return concepts.scaling_to_json(concepts.scaling(model, text, _number(layer, "layer"), _number(head, "head")))


def run_scaling(model, text, layer, head):
    with user_errors():
        layers, heads = concepts.layers_heads(model)
        layer, head = _clamp(layer, layers - 1), _clamp(head, heads - 1)
        return (concept_viz.scaling_figure(concepts.scaling(model, text, layer, head)),
                concept_viz.textbook_markdown(concepts.textbook_scaling()),
                _bound(layers, layer), _bound(heads, head))


def api_moe_routing(model: str, text: str) -> dict:
    """Per layer and token: the router's probabilities over the experts, the top-k chosen, their
    mixing weights, and how many tokens each expert processed."""
    with user_errors():
        return concepts.routing_to_json(concepts.moe_routing(model, text))


def run_moe(model, text, layer):
    with user_errors():
        result = concepts.moe_routing(model, text)
        layer = _clamp(layer, result.probs.shape[0] - 1)
        return concept_viz.routing_figure(result, layer), _bound(result.probs.shape[0], layer)


def _concept_tabs(text) -> None:
    with gr.Tab(L("Architecture"), id="architecture", elem_id="tab-architecture") as tab:
        left, right, go, outputs = _architecture_tab()
        gr.on([go.click, tab.select, left.input, right.input], run_architecture, [left, right], outputs,
              api_name="architecture_view", api_visibility="private", **RUNS)
    with gr.Tab(L("Objectives"), id="objectives", elem_id="tab-objectives") as tab:
        explain("objectives")
        with gr.Row(elem_classes=["controls"]):
            second = gr.Textbox("", label=L("Second sentence (BERT's NSP; optional)"), elem_id="obj-second")
            seed = gr.Number(0, precision=0, label=L("Seed"), elem_id="obj-seed")
            bert = gr.Dropdown(_choices("encoder"), value="mini-bert", label=L("Encoder"), allow_custom_value=True,
                               elem_id="obj-bert")
            gpt = gr.Dropdown(_choices("decoder"), value="mini-gpt", label=L("Decoder"), allow_custom_value=True,
                              elem_id="obj-gpt")
            t5 = gr.Dropdown(_choices("encoder-decoder"), value="mini-t5", label=L("Encoder-decoder"),
                             allow_custom_value=True, elem_id="obj-t5")
            go = gr.Button(L("Run"), variant="primary", elem_id="obj-run")
        masked = gr.HTML(elem_id="obj-mlm")
        shifted = gr.Plot(label=L("GPT: next-token loss"), elem_id="obj-gpt-plot")
        spans = gr.HTML(elem_id="obj-span")
        span_plot = gr.Plot(label=L("T5: span-corruption loss"), elem_id="obj-span-plot")
        gr.on([go.click, tab.select, seed.submit, second.submit], run_objectives, [text, second, seed, bert, gpt, t5],
              [masked, shifted, spans, span_plot], api_name="objectives_view", api_visibility="private", **RUNS)
    with gr.Tab(L("Positions"), id="positions", elem_id="tab-positions") as tab:
        explain("positions")
        with gr.Row(elem_classes=["controls"]):
            dim = gr.Slider(8, 512, value=128, step=2, label=L("Sinusoid dimension d"), elem_id="pos-dim")
            count = gr.Slider(8, 128, value=64, step=1, label=L("Positions"), elem_id="pos-count")
            head = gr.Slider(0, 15, value=0, step=1, label=L("T5 head"), elem_id="pos-head")
        plots = [gr.Plot(label=L(label), elem_id=f"pos-{slug}") for slug, label in (
            ("sinusoid", "Sinusoidal"), ("bert", "mini-bert learned"), ("gpt", "mini-gpt learned"),
            ("rope", "RoPE"), ("buckets", "T5 relative buckets"))]
        gr.on([tab.select, dim.release, count.release, head.release], run_positions, [dim, count, head], plots,
              api_name="positions_view", api_visibility="private", **RUNS)
    with gr.Tab(L("Order & scaling"), id="order", elem_id="tab-order") as tab:
        explain("order")
        with gr.Row(elem_classes=["controls"]):
            o_seed = gr.Number(0, precision=0, label=L("Shuffle seed"), elem_id="order-seed")
            o_enc = gr.Dropdown(_choices("encoder"), value="mini-bert", label=L("Encoder"), allow_custom_value=True,
                                elem_id="order-enc")
            o_dec = gr.Dropdown(_choices("decoder"), value="mini-gpt", label=L("Decoder"), allow_custom_value=True,
                                elem_id="order-dec")
            o_go = gr.Button(L("Shuffle and compare"), variant="primary", elem_id="order-run")
        o_table = gr.Markdown(elem_id="order-table")
        with gr.Row():
            o_enc_plot = gr.Plot(label=L("Encoder"), elem_id="order-enc-plot")
            o_dec_plot = gr.Plot(label=L("Decoder"), elem_id="order-dec-plot")
        gr.on([o_go.click, tab.select, o_seed.submit], run_order, [text, o_seed, o_enc, o_dec],
              [o_table, o_enc_plot, o_dec_plot], api_name="order_view", api_visibility="private", **RUNS)
        explain("scaling")
        with gr.Row(elem_classes=["controls"]):
            s_model = gr.Dropdown(_choices("encoder") + _choices("decoder"), value="mini-bert", label=L("Model"),
                                  allow_custom_value=True, elem_id="scale-model")
            s_layer = gr.Slider(0, MAX_INDEX, value=0, step=1, label=L("Layer"), elem_id="scale-layer")
            s_head = gr.Slider(0, MAX_INDEX, value=0, step=1, label=L("Head"), elem_id="scale-head")
        s_plot = gr.Plot(label=L("Scaled vs unscaled"), elem_id="scale-plot")
        s_text = gr.Markdown(elem_id="scale-textbook")
        gr.on([tab.select, s_model.input, s_layer.release, s_head.release], run_scaling,
              [s_model, text, s_layer, s_head], [s_plot, s_text, s_layer, s_head], api_name="scaling_view", api_visibility="private",
              **RUNS)
    with gr.Tab(L("Experts (MoE)"), id="moe", elem_id="tab-moe") as tab:
        explain("moe")
        with gr.Row(elem_classes=["controls"]):
            m_model = gr.Dropdown(_choices("decoder"), value="mini-mixtral", label=L("MoE model"),
                                  allow_custom_value=True, elem_id="moe-model")
            m_layer = gr.Slider(0, MAX_INDEX, value=0, step=1, label=L("Layer"), elem_id="moe-layer")
        m_plot = gr.Plot(label=L("Routing"), elem_id="moe-plot")
        gr.on([tab.select, m_model.input, m_layer.release], run_moe, [m_model, text, m_layer], [m_plot, m_layer],
              api_name="moe_view", api_visibility="private", **RUNS)


# ---------------------------------------------------------------------------------------------
# Deep links, scenarios, device, export

SCENARIOS = json.loads((ASSETS / "scenarios.json").read_text(encoding="utf-8"))
TABS = ("compare", "attention", "masks", "patterns", "rank", "graph", "decoding", "architecture", "objectives",
        "positions", "order", "moe")
LINKABLE = (gr.Slider, gr.Dropdown, gr.Radio, gr.Checkbox, gr.Number, gr.Textbox)


def linked_components(demo: gr.Blocks) -> list:
    """The controls a link can carry: every input with an elem_id, except relays that are not
    view state and the page-wide scenario and device menus."""
    return [b for b in demo.blocks.values() if isinstance(b, LINKABLE) and b.elem_id
            and b.elem_id not in ("overview-pick", "current-tab", "restored", "scenario", "device")]


def _coerce(component, raw: str):
    """A link's text as the component's value; ValueError when it cannot be one."""
    raw = str(raw)
    if isinstance(component, gr.Checkbox):
        return raw.strip().lower() in ("1", "true", "yes", "on")
    if isinstance(component, (gr.Slider, gr.Number)):
        value = float(raw)
        if not value == value or abs(value) > 1e9:
            raise ValueError(raw)
        if isinstance(component, gr.Slider):
            value = min(max(value, component.minimum), component.maximum)
            return int(round(value)) if float(component.step).is_integer() else value
        return int(round(value)) if component.precision == 0 else value
    if isinstance(component, (gr.Dropdown, gr.Radio)):
        choices = [(str(c[0]), c[1]) if isinstance(c, (tuple, list)) else (str(c), c) for c in component.choices]
        for label, value in choices:
            if raw in (str(value), label):
                return value
        if isinstance(component, gr.Dropdown) and component.allow_custom_value and len(raw) <= 200:
            return raw  # a model key or Hub id: the handlers check it like any request
        if isinstance(component, gr.Radio) and raw.replace("-", "").isalnum() and len(raw) <= 32:
            return raw  # a choice the handlers set at run time (e.g. T5's "cross")
        raise ValueError(raw)
    return raw[:4000]


def restore(params: dict, components: list) -> list:
    """Updates that put the page in the state `params` describes (a link's query or a scenario):
    [marker, *components]. Unknown or malformed parameters are skipped with a warning."""
    by_id = {c.elem_id: c for c in components}
    skipped, updates = [], []
    for component in components:
        if component.elem_id not in params:
            updates.append(gr.update())
            continue
        try:
            value = _coerce(component, params[component.elem_id])
            if isinstance(component, gr.Radio) and value not in [c[1] for c in component.choices]:
                # A choice the handlers add at run time (T5's "cross"); Gradio checks values against choices.
                choices = [c[1] for c in component.choices] + [value]
                updates.append(gr.update(choices=choices, value=value))
            else:
                updates.append(gr.update(value=value))
        except (TypeError, ValueError):
            skipped.append(component.elem_id)
            updates.append(gr.update())
    skipped += [k for k in params if k not in by_id and k not in ("tab", "lang", "lecture")]
    if skipped:
        gr.Warning(bilingual(f"Ignored link parameters: {', '.join(sorted(skipped))[:300]}"))
    tab = params.get("tab") if params.get("tab") in TABS else None
    # The page's script sees the marker change and clicks the tab, which runs its view.
    marker = json.dumps({"tab": tab or "compare", "step": "dec-index" in params, "nonce": time.time()})
    return [marker, *updates]


def restore_link(request: gr.Request, components: list) -> list:
    params = dict(request.query_params) if request is not None else {}
    return restore(params, components)


def restore_scenario(name: str, components: list) -> list:
    for scenario in SCENARIOS:
        if scenario["name"] == name:
            return restore({k: str(v) for k, v in scenario["params"].items()}, components)
    raise gr.Error(bilingual("Pick a scenario from the list."))


def choose_device(name: str) -> None:
    with user_errors():
        set_device(name)
    gr.Info(bilingual(f"Models now run on {name}."))


def export_view(tab: str, components: list, *values) -> list[str]:
    """The numbers behind the current view, as JSON, CSV and NPZ files."""
    with user_errors():
        v = {c.elem_id: value for c, value in zip(components, values)}
        data = _view_numbers(tab if tab in TABS else "compare", v)
        folder = Path(tempfile.mkdtemp(prefix="triptych-"))
        return [str(p) for p in write_exports(data, folder, f"triptych-{tab}")]


def _view_numbers(tab: str, v: dict) -> dict:
    text = v.get("text") or EXAMPLE_TEXT
    if tab == "compare":
        return {slug: api_attention_data(v[f"model-{slug}"], text) for slug, *_ in COLUMNS}
    if tab == "attention":
        return api_attention_data(v["att-model"], text)
    if tab == "masks":
        return api_mask_data(text, v["mask-second"], int(v["mask-prefix"]))
    if tab == "patterns":
        return api_head_patterns(v["pat-model"], text)
    if tab == "rank":
        tolerance = 10 ** float(v["rank-tol"])
        return {"bidirectional": api_attention_rank(v["rank-enc"], text, tolerance),
                "causal": api_attention_rank(v["rank-dec"], text, tolerance)}
    if tab == "graph":
        return api_attention_flow(v["graph-model"], text, int(v["graph-position"]), v["graph-kind"] or "")
    if tab == "decoding":
        beams = int(v["dec-beams"]) if v["dec-strategy"] == "beam" else 1
        return api_decode(v["dec-model"], v["dec-prompt"], v["dec-strategy"], v["dec-temperature"], v["dec-topk"],
                          v["dec-topp"], v["dec-seed"], v["dec-max"], beams)
    if tab == "architecture":
        return {"a": api_architecture(v["arch-left"]), "b": api_architecture(v["arch-right"])}
    if tab == "objectives":
        return {key: api_objectives(v[key], text, v["obj-second"] or "", v["obj-seed"])
                for key in ("obj-bert", "obj-gpt", "obj-t5")}
    if tab == "positions":
        n, d = int(v["pos-count"]), int(v["pos-dim"]) // 2 * 2
        rope = concepts.rope("mini-llama", min(n, 64))
        buckets = concepts.relative_buckets("mini-t5", min(n, 64))
        return {"sinusoidal": concepts.sinusoidal(n, d), "learned_bert": concepts.learned_positions("mini-bert", n),
                "learned_gpt": concepts.learned_positions("mini-gpt", n), "rope_angles": rope.angles,
                "rope_scores": rope.scores, "t5_buckets": buckets.buckets, "t5_bias": buckets.bias}
    if tab == "order":
        return {"encoder": api_order_experiment(v["order-enc"], text, v["order-seed"]),
                "decoder": api_order_experiment(v["order-dec"], text, v["order-seed"]),
                "scaling": api_scaling(v["scale-model"], text, int(v["scale-layer"]), int(v["scale-head"]))}
    return api_moe_routing(v["moe-model"], text)


def _toolbar() -> tuple:
    """Lecture mode, language and copy-link are handled in the page (assets/app.js); the
    scenario and device go to the server."""
    with gr.Row(elem_id="toolbar"):
        with gr.Column(scale=4, min_width=420):
            gr.HTML('<div class="toolbar-buttons">'
                    '<button id="lecture-toggle" class="tb-btn" type="button">Lecture mode · 讲课模式</button>'
                    '<button id="controls-toggle" class="tb-btn" type="button">Controls · 控件</button>'
                    '<button class="tb-btn lang-btn" data-lang="en" type="button">English</button>'
                    '<button class="tb-btn lang-btn" data-lang="zh" type="button">中文</button>'
                    '<button id="copy-link" class="tb-btn" type="button">Copy link · 复制链接</button></div>',
                    elem_id="toolbar-buttons")
        scenario = gr.Dropdown([s["name"] for s in SCENARIOS], value=None, label=L("Scenario"), scale=4,
                               elem_id="scenario")
        device = gr.Dropdown(available_devices(), value=str(default_device()), label=L("Device"), scale=1,
                             elem_id="device")
    return scenario, device


# ---------------------------------------------------------------------------------------------


def _on_gpu(fn):
    """On a ZeroGPU Space (the `spaces` package present) a model call must run inside
    spaces.GPU, which then lends it a GPU; without the package nothing changes."""
    try:
        import spaces
    except ImportError:
        return fn
    return spaces.GPU(fn)


# Every handler that runs a model; the views built from their results do not.
GPU_HANDLERS = [name for name in list(globals()) if name.startswith(("run_", "api_")) and name != "api_models"]
GPU_HANDLERS += ["decode_move", "export_view"]
for _name in GPU_HANDLERS:
    globals()[_name] = _on_gpu(globals()[_name])


def build_demo() -> gr.Blocks:
    with gr.Blocks(title="Transformer Triptych") as demo:
        explain("intro")
        scenario, device = _toolbar()
        with gr.Row():
            text = gr.Textbox(EXAMPLE_TEXT, label=L("Text"), scale=5, elem_id="text")
            run = gr.Button(L("Run"), variant="primary", scale=1, elem_id="run")
            # One relay per Compare column, all clicked by assets/app.js on Run, Enter and 300 ms after
            # the last keystroke. Gradio's page runs the listeners of ONE trigger one after another,
            # waiting for each to finish; four triggers run side by side (two at a time here).
            settled = {slug: gr.Button("settled", elem_id=f"text-settled-{slug}", elem_classes=["relay"])
                       for slug, *_ in COLUMNS}
        gr.Examples(
            [["The cat chases a mouse"], ["I like eating [MASK] apples"], ["我喜欢吃苹果"],
             ["translate Chinese to English: 我喜欢机器学习"], ["小明买了一个杯子 [SEP] 他把杯子放在桌子上"],
             ["The keys to the cabinet are on the table"]],
            inputs=[text],
        )
        with gr.Tabs(elem_id="tabs"):
            with gr.Tab(L("Compare"), id="compare", elem_id="tab-compare"):
                explain("compare")
                with gr.Row(equal_height=False):
                    for slug, family, title, blurb, default in COLUMNS:
                        _compare_column(slug, family, title, blurb, default, text, [settled[slug].click])
            with gr.Tab(L("Attention"), id="attention", elem_id="tab-attention") as attention_tab:
                _attention_tab(text, run, attention_tab)
            with gr.Tab(L("Masks"), id="masks", elem_id="tab-masks") as masks_tab:
                _masks_tab(text, masks_tab)
            _analysis_tabs(text)
            with gr.Tab(L("Decoding"), id="decoding", elem_id="tab-decoding"):
                _decoding_tab()
            _concept_tabs(text)
        current_tab = gr.Textbox("compare", elem_id="current-tab", elem_classes=["relay"], show_label=False,
                                 container=False)
        marker = gr.Textbox("", elem_id="restored", elem_classes=["relay"], show_label=False, container=False)
        with gr.Accordion(L("Download this view's numbers"), open=False, elem_id="export"):
            export_go = gr.Button(L("Download this view's numbers"), elem_id="export-run")
            export_files = gr.File(label=L("Files"), file_count="multiple", elem_id="export-files")
        linked = linked_components(demo)
        # Gradio translates a tab's label when the tab is first shown; the page relabels the
        # others itself when the language is switched, from these.
        tab_labels = {b.elem_id: {lang: I18N.translations[lang][b.label.key] for lang in ("en", "zh")}
                      for b in demo.blocks.values() if isinstance(b, gr.Tab) and isinstance(b.label, I18nData)}
        gr.HTML(f'<div id="linked-ids" data-ids="{html.escape(json.dumps([c.elem_id for c in linked]))}" '
                f'data-tabs="{html.escape(json.dumps(tab_labels, ensure_ascii=False))}"></div>', elem_classes=["relay"])

        def restore_page(request: gr.Request):
            return restore_link(request, linked)

        demo.load(restore_page, None, [marker, *linked], api_name="restore_link", api_visibility="private")
        scenario.input(lambda name: restore_scenario(name, linked), scenario, [marker, *linked],
                       api_name="scenario", api_visibility="private")
        device.input(choose_device, device, None, api_name="device", api_visibility="private")
        export_go.click(lambda tab, *values: export_view(tab, linked, *values), [current_tab, *linked],
                        export_files, api_name="export_view", api_visibility="private", **RUNS)
        gr.api(api_models, api_name="models")
        gr.api(api_attention_data, api_name="attention_data", **RUNS)
        gr.api(api_head_patterns, api_name="head_patterns", **RUNS)
        gr.api(api_attention_rank, api_name="attention_rank", **RUNS)
        gr.api(api_attention_flow, api_name="attention_flow", **RUNS)
        gr.api(api_mask_data, api_name="mask_data", **RUNS)
        gr.api(api_decode, api_name="decode", **RUNS)
        gr.api(api_kv_cache, api_name="kv_cache", **RUNS)
        gr.api(api_architecture, api_name="architecture", **RUNS)
        gr.api(api_objectives, api_name="objectives", **RUNS)
        gr.api(api_order_experiment, api_name="order_experiment", **RUNS)
        gr.api(api_scaling, api_name="scaling", **RUNS)
        gr.api(api_moe_routing, api_name="moe_routing", **RUNS)
    demo.queue(default_concurrency_limit=CONCURRENCY, max_size=max(1, int(os.environ.get(QUEUE_ENV, "64"))))
    configure_threads(CONCURRENCY)
    return demo


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    build_demo().launch(**LAUNCH)


if __name__ == "__main__":
    main()
