"""Transformer Triptych: BERT, GPT, T5 and LLaMA side by side, live, on real models.

Gradio layout and wiring only: handlers call models/ for the numbers and viz/ for the
figures. Run `python app.py` and open http://127.0.0.1:7860 (host and port follow
GRADIO_SERVER_NAME / GRADIO_SERVER_PORT, as on Hugging Face Spaces).
"""

from __future__ import annotations

import html
import logging
from contextlib import contextmanager
from pathlib import Path

import gradio as gr

from models import analysis, concepts, registry
from models.architecture import architecture_to_json, describe, differences
from models.decoding import KV_CONFIGS, MAX_BEAMS, Settings, decode, decoding_to_json, fill_left_to_right, kv_config, kv_table
from models.loading import configure_threads, get_model
from models.trace import run_padded_batch, run_prefix_lm, run_trace, trace_to_json
from viz import concepts as concept_viz
from viz.architecture import architecture_figure, comparison_markdown, parts_table_markdown
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
CONCURRENCY = 2
# Every event that runs a model shares one queue of CONCURRENCY workers (a per-event limit would
# let each of the many listeners run its own, oversubscribing the cores).
RUNS = dict(concurrency_id="model", concurrency_limit=CONCURRENCY)
THEME = gr.themes.Soft()
CSS = (ASSETS / "style.css").read_text(encoding="utf-8")
JS = (ASSETS / "app.js").read_text(encoding="utf-8")

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

RANK_NOTE = (
    "**Why a causal attention matrix is full rank.** It is lower triangular (a token never attends "
    "ahead), and softmax gives every allowed key a weight above 0, so every diagonal entry is "
    "positive; the determinant of a triangular matrix is the product of its diagonal, hence non-zero: "
    "rank n in exact arithmetic. **Where numerical rank still falls below n:** when a head puts almost "
    "nothing on the token itself (a previous-token or sink head), the diagonal holds tiny weights and the "
    "smallest singular values fall below the tolerance. A bidirectional matrix has no such guarantee: "
    "rows that all look at the same few tokens are nearly equal, and its rank drops."
)


@contextmanager
def user_errors():
    """Turn library errors into a readable message in the page, never a stack trace."""
    try:
        yield
    except gr.Error:
        raise
    except ValueError as err:
        raise gr.Error(str(err), title="Cannot do that") from None
    except Exception as err:
        log.exception("unexpected failure")
        raise gr.Error(f"Something went wrong inside the model run ({type(err).__name__}). "
                       "Try a shorter text or another model.", title="Internal error") from None


def _choices(family: str | None = None) -> list[tuple[str, str]]:
    return [(s.name, s.key) for s in registry.list_models(family)]


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


def api_attention_data(model: str, text: str) -> dict:
    """Run a model once on a text: tokens, attentions [layer][head][query][key], masks, outputs."""
    with user_errors():
        return trace_to_json(run_trace(model, text))


def api_head_patterns(model: str, text: str) -> dict:
    """Per self-attention kind, per layer/head: entropy, distance, sink, previous/diagonal/next, label."""
    with user_errors():
        trace = run_trace(model, text)
        return analysis.patterns_to_json(trace, analysis.trace_patterns(trace))


def api_attention_rank(model: str, text: str, tolerance: float = 1e-3) -> dict:
    """Per attention kind: rank and effective_rank [layer][head], singular_values [layer][head][i]."""
    with user_errors():
        trace = run_trace(model, text)
        return analysis.rank_to_json(trace, analysis.trace_rank(trace, tolerance))


def api_attention_flow(model: str, text: str, position: int = -1, kind: str = "") -> dict:
    """Rollout and attention-flow scores per input token for one query position (-1: the model's
    default, [CLS] for encoders and the last token for decoders) of one self-attention stack."""
    with user_errors():
        trace = run_trace(model, text)
        result = _importance(trace, position, kind)
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
        gr.Slider(maximum=attn.layers - 1, value=layer),
        gr.Slider(maximum=attn.heads - 1, value=head),
        mask_heatmap(attn),
        attention_heatmap(attn, layer, head),
    )


def run_column(model, text, kind, layer, head):
    with user_errors():
        trace = run_trace(model, text)
        kind = kind if kind in trace.kinds else trace.kinds[-1]
        tokens = tokens_html(trace.tokens, trace.special, label=trace.model_name)
        kinds = gr.Radio(choices=list(trace.kinds), value=kind, visible=len(trace.kinds) > 1)
        return (trace, tokens, outputs_html(trace), kinds, *_head_view(trace, kind, layer, head))


def view_column(trace, kind, layer, head):
    if trace is None:
        return gr.skip(), gr.skip(), gr.skip(), gr.skip()
    with user_errors():
        return _head_view(trace, kind, layer, head)


def _compare_column(slug, family, title, blurb, default, text, triggers) -> None:
    with gr.Column(min_width=320, elem_classes=["family-column"], elem_id=f"col-{slug}"):
        gr.Markdown(f"### {title}\n{blurb}")
        model = gr.Dropdown(_choices(family), value=default, label="Model", elem_id=f"model-{slug}")
        kinds = ["encoder", "decoder", "cross"] if family == "encoder-decoder" else [family]
        kind = gr.Radio(kinds, value=kinds[-1], label="Attention", visible=len(kinds) > 1, elem_id=f"kind-{slug}")
        with gr.Row():
            # Wide bounds until the first run sets the model's own; the handlers clamp to them.
            layer = gr.Slider(0, MAX_INDEX, value=0, step=1, label="Layer", elem_id=f"layer-{slug}")
            head = gr.Slider(0, MAX_INDEX, value=0, step=1, label="Head", elem_id=f"head-{slug}")
        tokens = gr.HTML(elem_id=f"tokens-{slug}")
        outputs = gr.HTML(elem_id=f"outputs-{slug}")
        mask_plot = gr.Plot(label="Mask", elem_id=f"mask-{slug}")
        attn_plot = gr.Plot(label="Attention", elem_id=f"attn-{slug}")
        trace = gr.State(None)
    gr.on(
        triggers=[*triggers, model.change],
        fn=run_column,
        inputs=[model, text, kind, layer, head],
        outputs=[trace, tokens, outputs, kind, layer, head, mask_plot, attn_plot],
        api_name=f"compare_{slug}", **RUNS,
        api_description=f"Run the {title} column's model on the text: tokens, outputs, mask and attention figures.",
        trigger_mode="always_last",
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
        kind = kind if kind in trace.kinds else trace.kinds[-1]
        kinds = gr.Radio(choices=list(trace.kinds), value=kind)
        return (trace, kinds, *_head_view(trace, kind, layer, head), overview_figure(trace.attention(kind), trace.model_name))


def view_attention(trace, kind, layer, head):
    if trace is None:
        return gr.skip(), gr.skip(), gr.skip(), gr.skip(), gr.skip()
    with user_errors():
        return (*_head_view(trace, kind, layer, head), overview_figure(trace.attention(kind), trace.model_name))


def pick_head(trace, kind, picked):
    """A click on the overview ("x|y" labels of the cell) opens that head."""
    if trace is None or not picked:
        return gr.skip(), gr.skip(), gr.skip(), gr.skip()
    with user_errors():
        x, _, y = str(picked).partition("|")
        layer, head = parse_pick(x, y)
        return _head_view(trace, kind, layer, head)


def _attention_tab(text, run, tab) -> None:
    with gr.Row():
        model = gr.Dropdown(_choices(), value="mini-bert", label="Model", allow_custom_value=True, elem_id="att-model")
        kind = gr.Radio(["encoder"], value="encoder", label="Attention", elem_id="att-kind")
        layer = gr.Slider(0, MAX_INDEX, value=0, step=1, label="Layer", elem_id="att-layer")
        head = gr.Slider(0, MAX_INDEX, value=0, step=1, label="Head", elem_id="att-head")
    with gr.Row():
        attn_plot = gr.Plot(label="Attention of the selected head", elem_id="att-heatmap")
        mask_plot = gr.Plot(label="Mask", elem_id="att-mask")
    gr.Markdown("**All heads at once.** Rows of tiles are layers, columns heads. Click a tile to open that head above.")
    over = gr.Plot(label="All heads", elem_id="overview")
    picked = gr.Textbox(elem_id="overview-pick", elem_classes=["relay"], show_label=False, container=False)
    open_pick = gr.Button("open", elem_id="overview-open", elem_classes=["relay"])
    trace = gr.State(None)
    gr.on([run.click, text.submit, model.change], run_attention, [model, text, kind, layer, head],
          [trace, kind, layer, head, mask_plot, attn_plot, over], api_name="attention_view", **RUNS,
          api_description="One model: the selected head's heatmap, its mask and the all-heads overview.")
    gr.on([kind.input, layer.release, head.release], view_attention, [trace, kind, layer, head],
          [layer, head, mask_plot, attn_plot, over], api_name="view_attention", api_visibility="private")
    open_pick.click(pick_head, [trace, kind, picked], [layer, head, mask_plot, attn_plot],
                 api_name="pick_head", api_visibility="private")
    tab.select(run_attention, [model, text, kind, layer, head], [trace, kind, layer, head, mask_plot, attn_plot, over],
               api_visibility="private", **RUNS)


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
        prefix, _, schemes = _mask_schemes(text, second, prefix)
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
    gr.Markdown(
        "Three ways to mask, one text: the **causal decoder** (GPT, LLaMA), the **prefix decoder** (a "
        "non-causal prefix, a causal continuation; shown on the causal mini-gpt, which never trained with it) "
        "and the **encoder-decoder** (T5), plus BERT's **bidirectional** mask with padding in a batch of two."
    )
    with gr.Row():
        second = gr.Textbox(SHORT_SENTENCE, label="Second sentence of BERT's batch (the shorter one gets [PAD])",
                            elem_id="mask-second")
        prefix = gr.Slider(0, MAX_INDEX, value=2, step=1, label="Prefix length (prefix decoder)", elem_id="mask-prefix")
        layer = gr.Slider(0, MAX_INDEX, value=0, step=1, label="Layer", elem_id="mask-layer")
        head = gr.Slider(0, MAX_INDEX, value=0, step=1, label="Head", elem_id="mask-head")
        show = gr.Button("Show masks", variant="primary", elem_id="mask-run")
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
                gr.Slider(maximum=layers, value=layer), gr.Slider(maximum=heads, value=head))


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
        return (gr.Radio(choices=list(kinds), value=kind), gr.Slider(maximum=attn.layers - 1, value=layer),
                gr.Slider(maximum=attn.heads - 1, value=head), token_graph_figure(graph),
                importance_figure(result, trace.model_name))


def _analysis_tabs(text) -> None:
    with gr.Tab("Head patterns", id="patterns") as p_tab:
        gr.Markdown("Every head labelled by what it does: hover a cell for entropy, distance, sink share and "
                    "the previous/diagonal/next scores that decided the label.")
        with gr.Row():
            p_model = gr.Dropdown(_choices(), value="mini-bert", label="Model", allow_custom_value=True,
                                  elem_id="pat-model")
            p_go = gr.Button("Label the heads", variant="primary", elem_id="pat-run")
        with gr.Row():
            p_first = gr.Plot(label="Head patterns", elem_id="pat-map")
            p_second = gr.Plot(label="Head patterns (decoder of an encoder-decoder)", elem_id="pat-map2")
        gr.on([p_go.click, p_model.change, p_tab.select], run_patterns, [p_model, text], [p_first, p_second],
              api_name="patterns_view", **RUNS, api_visibility="private")
    with gr.Tab("Rank", id="rank") as r_tab:
        gr.Markdown(RANK_NOTE)
        with gr.Row():
            r_enc = gr.Dropdown(_choices("encoder") + _choices("encoder-decoder"), value="mini-bert",
                                label="Bidirectional model", allow_custom_value=True, elem_id="rank-enc")
            r_dec = gr.Dropdown(_choices("decoder"), value="mini-gpt", label="Causal model",
                                allow_custom_value=True, elem_id="rank-dec")
            r_tol = gr.Slider(-10, -1, value=-3, step=0.5, label="Tolerance (log10, relative to σ1)", elem_id="rank-tol")
            r_layer = gr.Slider(0, MAX_INDEX, value=0, step=1, label="Layer (spectrum)", elem_id="rank-layer")
            r_head = gr.Slider(0, MAX_INDEX, value=0, step=1, label="Head (spectrum)", elem_id="rank-head")
            r_go = gr.Button("Compute rank", variant="primary", elem_id="rank-run")
        r_summary = gr.Markdown(elem_id="rank-summary")
        with gr.Row():
            r_map_enc = gr.Plot(label="Rank, bidirectional", elem_id="rank-map-enc")
            r_map_dec = gr.Plot(label="Rank, causal", elem_id="rank-map-dec")
        with gr.Row():
            r_eff_enc = gr.Plot(label="Effective rank, bidirectional", elem_id="rank-eff-enc")
            r_eff_dec = gr.Plot(label="Effective rank, causal", elem_id="rank-eff-dec")
        r_spec = gr.Plot(label="Singular values of one head", elem_id="rank-spectrum")
        gr.on([r_go.click, r_tab.select, r_tol.release, r_layer.release, r_head.release, r_enc.change, r_dec.change], run_rank,
              [r_enc, r_dec, text, r_tol, r_layer, r_head],
              [r_map_enc, r_map_dec, r_eff_enc, r_eff_dec, r_spec, r_summary, r_layer, r_head], api_name="rank_view", **RUNS,
              api_visibility="private")
    with gr.Tab("Graph & flow", id="graph") as g_tab:
        gr.Markdown("One head as a graph of tokens (edges above the threshold; arcs above the line point back to "
                    "earlier tokens, below it forward), and which input tokens matter for one position through "
                    "all layers: **rollout** multiplies the layers' attention, **flow** is the maximum flow "
                    "through the layered attention graph (Abnar and Zuidema 2020).")
        with gr.Row():
            g_model = gr.Dropdown(_choices(), value="mini-gpt", label="Model", allow_custom_value=True, elem_id="graph-model")
            g_kind = gr.Radio(["decoder"], value="decoder", label="Attention", elem_id="graph-kind")
            g_layer = gr.Slider(0, MAX_INDEX, value=0, step=1, label="Layer", elem_id="graph-layer")
            g_head = gr.Slider(0, MAX_INDEX, value=0, step=1, label="Head", elem_id="graph-head")
            g_thr = gr.Slider(0, 1, value=0.1, step=0.01, label="Edge threshold", elem_id="graph-threshold")
            g_pos = gr.Number(-1, precision=0, label="Query position (-1: [CLS] / last token)", elem_id="graph-position")
            g_go = gr.Button("Draw", variant="primary", elem_id="graph-run")
        g_graph = gr.Plot(label="Token graph", elem_id="graph-plot")
        g_importance = gr.Plot(label="Rollout and flow", elem_id="flow-plot")
        gr.on([g_go.click, g_tab.select, g_model.change, g_kind.input, g_layer.release, g_head.release, g_thr.release, g_pos.submit],
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
        on, off = _cache_runs(model, prompt, max_new_tokens)
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
        if action == "end":
            index = len(fresh.steps) - 1
        elif result is None:
            index = 0
        else:
            index = {"step": index + 1, "back": index - 1}.get(action, index)
        return fresh, *_decode_views(fresh, index)


def _decoding_tab() -> None:
    gr.Markdown("Step through generation one token at a time. Each step shows the top candidates after each "
                "sampling stage, in generate()'s order (temperature, top-k, top-p), the chosen token starred; "
                "change a knob and the same step is recomputed.")
    choices = _choices("decoder") + _choices("encoder-decoder")
    with gr.Row():
        model = gr.Dropdown(choices, value="mini-gpt", label="Model", allow_custom_value=True, elem_id="dec-model")
        prompt = gr.Textbox("今天天气真好，", label="Prompt (for T5: its input text)", scale=3, elem_id="dec-prompt")
    with gr.Row():
        strategy = gr.Radio(["greedy", "sample", "beam"], value="sample", label="Strategy", elem_id="dec-strategy")
        temperature = gr.Slider(0, 3, value=1.0, step=0.05, label="Temperature (0 = greedy)", elem_id="dec-temperature")
        top_k = gr.Slider(0, 100, value=0, step=1, label="Top-k (0 = off)", elem_id="dec-topk")
        top_p = gr.Slider(0.05, 1, value=1.0, step=0.05, label="Top-p (1 = off)", elem_id="dec-topp")
        seed = gr.Number(0, precision=0, label="Seed", elem_id="dec-seed")
        max_new = gr.Slider(1, 64, value=20, step=1, label="Max new tokens", elem_id="dec-max")
        num_beams = gr.Slider(2, MAX_BEAMS, value=4, step=1, label="Beams (beam strategy)", elem_id="dec-beams")
        use_cache = gr.Checkbox(True, label="KV cache", elem_id="dec-cache")
    with gr.Row():
        buttons = {name: gr.Button(label, elem_id=f"dec-{name}", variant="primary" if name == "step" else "secondary")
                   for name, label in (("step", "Step"), ("end", "Run to end"), ("back", "Back"), ("reset", "Reset"))}
    text = gr.HTML(elem_id="dec-text")
    stages = gr.Plot(label="The distribution at this step", elem_id="dec-stages")
    with gr.Row():
        row = gr.Plot(label="The new token's self-attention", elem_id="dec-attention")
        cross = gr.Plot(label="Its cross-attention (encoder-decoders)", elem_id="dec-cross")
    alignment = gr.Plot(label="Alignment so far (encoder-decoders)", elem_id="dec-alignment")
    tree = gr.Plot(label="Beam search: every hypothesis, pruned ones grey, the winner red", elem_id="dec-beams-tree")
    result, index = gr.State(None), gr.State(0)
    knobs = [model, prompt, strategy, temperature, top_k, top_p, seed, max_new, num_beams, use_cache]
    outputs = [result, index, text, stages, row, cross, alignment, tree]
    for name, button in buttons.items():
        button.click(lambda *args, _n=name: decode_move(_n, *args), [*knobs, result, index], outputs,
                     api_name=f"decode_{name}", api_visibility="private", **RUNS)
    gr.on([strategy.input, temperature.release, top_k.release, top_p.release, seed.submit, num_beams.release,
           use_cache.input],
          lambda *args: decode_move("redo", *args) if args[-2] is not None else (gr.skip(),) * len(outputs),
          [*knobs, result, index], outputs, api_name="decode_knob", api_visibility="private", **RUNS)
    with gr.Accordion("KV cache: time and memory", open=False):
        kv_go = gr.Button("Measure with and without the cache", elem_id="kv-run")
        kv_plot = gr.Plot(label="Per-step time and cache size", elem_id="kv-plot")
        kv_table_md = gr.Markdown(elem_id="kv-table")
        kv_go.click(run_kv, [model, prompt, max_new], [kv_plot, kv_table_md], api_name="kv_view",
                    api_visibility="private", **RUNS)
    with gr.Accordion("Why not generate with BERT?", open=False):
        gr.Markdown("BERT fills a [MASK] from both sides. Asked to continue a text it gets a [MASK] with only [SEP] "
                    "to its right, again and again; GPT was trained for exactly this.")
        contrast_go = gr.Button("Continue the prompt with BERT and with GPT", elem_id="contrast-run")
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
    gr.Markdown("Each model's real modules: embeddings, one block drawn in full in the order the model runs its "
                "sublayers (⊕ = residual add, dashed = residual path, × N = repeats), final norm and heads. "
                "Rows that differ between the two models are marked ≠, and their parts outlined in red.")
    with gr.Row():
        left = gr.Dropdown(_choices(), value="mini-gpt", label="Model A", allow_custom_value=True, elem_id="arch-left")
        right = gr.Dropdown(_choices(), value="mini-llama", label="Model B", allow_custom_value=True, elem_id="arch-right")
        go = gr.Button("Compare", variant="primary", elem_id="arch-run")
    table = gr.Markdown(elem_id="arch-diff")
    with gr.Row():
        fig_a = gr.Plot(label="Model A", elem_id="arch-plot-a")
        fig_b = gr.Plot(label="Model B", elem_id="arch-plot-b")
    with gr.Row():
        parts_a = gr.Markdown(elem_id="arch-parts-a")
        parts_b = gr.Markdown(elem_id="arch-parts-b")
    with gr.Accordion("Printed module trees", open=False):
        with gr.Row():
            tree_a = gr.Code(language=None, label="Model A", elem_id="arch-tree-a")
            tree_b = gr.Code(language=None, label="Model B", elem_id="arch-tree-b")
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
        return concepts.scaling_to_json(concepts.scaling(model, text, layer, head))


def run_scaling(model, text, layer, head):
    with user_errors():
        layers, heads = concepts.layers_heads(model)
        layer, head = _clamp(layer, layers - 1), _clamp(head, heads - 1)
        return (concept_viz.scaling_figure(concepts.scaling(model, text, layer, head)),
                concept_viz.textbook_markdown(concepts.textbook_scaling()),
                gr.update(maximum=layers - 1, value=layer), gr.update(maximum=heads - 1, value=head))


def api_moe_routing(model: str, text: str) -> dict:
    """Per layer and token: the router's probabilities over the experts, the top-k chosen, their
    mixing weights, and how many tokens each expert processed."""
    with user_errors():
        return concepts.routing_to_json(concepts.moe_routing(model, text))


def run_moe(model, text, layer):
    with user_errors():
        result = concepts.moe_routing(model, text)
        layer = _clamp(layer, result.probs.shape[0] - 1)
        return concept_viz.routing_figure(result, layer), gr.update(maximum=result.probs.shape[0] - 1, value=layer)


def _concept_tabs(text) -> None:
    with gr.Tab("Architecture", id="architecture") as tab:
        left, right, go, outputs = _architecture_tab()
        gr.on([go.click, tab.select, left.change, right.change], run_architecture, [left, right], outputs,
              api_name="architecture_view", api_visibility="private", **RUNS)
    with gr.Tab("Objectives", id="objectives") as tab:
        gr.Markdown("How each family is trained, on your text: **BERT** hides 15 % of the tokens (80 % become "
                    "[MASK], 10 % a random token, 10 % stay) and predicts them back, plus next-sentence prediction "
                    "on a pair; **GPT** predicts every next token (targets = input shifted by one); **T5** removes "
                    "spans, marks each with a sentinel and generates the spans.")
        with gr.Row():
            second = gr.Textbox("", label="Second sentence (BERT's NSP; optional)", elem_id="obj-second")
            seed = gr.Number(0, precision=0, label="Seed", elem_id="obj-seed")
            bert = gr.Dropdown(_choices("encoder"), value="mini-bert", label="Encoder", allow_custom_value=True,
                               elem_id="obj-bert")
            gpt = gr.Dropdown(_choices("decoder"), value="mini-gpt", label="Decoder", allow_custom_value=True,
                              elem_id="obj-gpt")
            t5 = gr.Dropdown(_choices("encoder-decoder"), value="mini-t5", label="Encoder-decoder",
                             allow_custom_value=True, elem_id="obj-t5")
            go = gr.Button("Run", variant="primary", elem_id="obj-run")
        masked = gr.HTML(elem_id="obj-mlm")
        shifted = gr.Plot(label="GPT: next-token loss", elem_id="obj-gpt-plot")
        spans = gr.HTML(elem_id="obj-span")
        span_plot = gr.Plot(label="T5: span-corruption loss", elem_id="obj-span-plot")
        gr.on([go.click, tab.select, seed.submit, second.submit], run_objectives, [text, second, seed, bert, gpt, t5],
              [masked, shifted, spans, span_plot], api_name="objectives_view", api_visibility="private", **RUNS)
    with gr.Tab("Positions", id="positions") as tab:
        gr.Markdown("Attention by itself ignores order; positions put it back. The sinusoidal encoding, the "
                    "learned position embeddings of the embedded BERT and GPT (similar positions, similar "
                    "vectors), RoPE's rotations in mini-llama (the score depends only on the offset), and T5's "
                    "relative buckets with the bias each head learned.")
        with gr.Row():
            dim = gr.Slider(8, 512, value=128, step=2, label="Sinusoid dimension d", elem_id="pos-dim")
            count = gr.Slider(8, 128, value=64, step=1, label="Positions", elem_id="pos-count")
            head = gr.Slider(0, 15, value=0, step=1, label="T5 head", elem_id="pos-head")
        plots = [gr.Plot(label=label, elem_id=f"pos-{slug}") for slug, label in (
            ("sinusoid", "Sinusoidal"), ("bert", "mini-bert learned"), ("gpt", "mini-gpt learned"),
            ("rope", "RoPE"), ("buckets", "T5 relative buckets"))]
        gr.on([tab.select, dim.release, count.release, head.release], run_positions, [dim, count, head], plots,
              api_name="positions_view", api_visibility="private", **RUNS)
    with gr.Tab("Order & scaling", id="order") as tab:
        gr.Markdown("**Order experiment.** Shuffle the tokens and remove positions (every position id 0). Undo the "
                    "shuffle on the outputs: a bidirectional encoder gives the *same vectors permuted* "
                    "(permutation-equivariant), a causal decoder does not: its mask carries order by itself.")
        with gr.Row():
            o_seed = gr.Number(0, precision=0, label="Shuffle seed", elem_id="order-seed")
            o_enc = gr.Dropdown(_choices("encoder"), value="mini-bert", label="Encoder", allow_custom_value=True,
                                elem_id="order-enc")
            o_dec = gr.Dropdown(_choices("decoder"), value="mini-gpt", label="Decoder", allow_custom_value=True,
                                elem_id="order-dec")
            o_go = gr.Button("Shuffle and compare", variant="primary", elem_id="order-run")
        o_table = gr.Markdown(elem_id="order-table")
        with gr.Row():
            o_enc_plot = gr.Plot(label="Encoder", elem_id="order-enc-plot")
            o_dec_plot = gr.Plot(label="Decoder", elem_id="order-dec-plot")
        gr.on([o_go.click, tab.select, o_seed.submit], run_order, [text, o_seed, o_enc, o_dec],
              [o_table, o_enc_plot, o_dec_plot], api_name="order_view", api_visibility="private", **RUNS)
        gr.Markdown("**Why divide by √d_k.** The model's scores for one head (recovered from its attention up to "
                    "a constant per row, which softmax ignores) through softmax with and without the 1/√d_k: "
                    "unscaled, the weights saturate towards one token and the entropy collapses.")
        with gr.Row():
            s_model = gr.Dropdown(_choices("encoder") + _choices("decoder"), value="mini-bert", label="Model",
                                  allow_custom_value=True, elem_id="scale-model")
            s_layer = gr.Slider(0, MAX_INDEX, value=0, step=1, label="Layer", elem_id="scale-layer")
            s_head = gr.Slider(0, MAX_INDEX, value=0, step=1, label="Head", elem_id="scale-head")
        s_plot = gr.Plot(label="Scaled vs unscaled", elem_id="scale-plot")
        s_text = gr.Markdown(elem_id="scale-textbook")
        gr.on([tab.select, s_model.change, s_layer.release, s_head.release], run_scaling,
              [s_model, text, s_layer, s_head], [s_plot, s_text, s_layer, s_head], api_name="scaling_view", api_visibility="private",
              **RUNS)
    with gr.Tab("Experts (MoE)", id="moe") as tab:
        gr.Markdown("A mixture-of-experts layer sends each token to only **2 of 8** feed-forward experts, chosen by "
                    "a router; attention is dense: **every head** works on every token. Hover for the router's "
                    "probabilities.")
        with gr.Row():
            m_model = gr.Dropdown(_choices("decoder"), value="mini-mixtral", label="MoE model",
                                  allow_custom_value=True, elem_id="moe-model")
            m_layer = gr.Slider(0, MAX_INDEX, value=0, step=1, label="Layer", elem_id="moe-layer")
        m_plot = gr.Plot(label="Routing", elem_id="moe-plot")
        gr.on([tab.select, m_model.change, m_layer.release], run_moe, [m_model, text, m_layer], [m_plot, m_layer],
              api_name="moe_view", api_visibility="private", **RUNS)


# ---------------------------------------------------------------------------------------------


def build_demo() -> gr.Blocks:
    with gr.Blocks(title="Transformer Triptych") as demo:
        gr.Markdown(
            "# Transformer Triptych\n"
            "One sentence, four Transformers, live: the mask each one applies and the attention it "
            "produces. Hover a cell for its exact weight."
        )
        with gr.Row():
            text = gr.Textbox(EXAMPLE_TEXT, label="Text", scale=5, elem_id="text")
            run = gr.Button("Run", variant="primary", scale=1, elem_id="run")
            # Clicked by assets/app.js 300 ms after the last keystroke: the debounced "as you type".
            settled = gr.Button("settled", elem_id="text-settled", elem_classes=["relay"])
        gr.Examples(
            [["The cat chases a mouse"], ["I like eating [MASK] apples"], ["我喜欢吃苹果"],
             ["translate Chinese to English: 我喜欢机器学习"], ["小明买了一个杯子 [SEP] 他把杯子放在桌子上"],
             ["The keys to the cabinet are on the table"]],
            inputs=[text],
        )
        with gr.Tabs():
            with gr.Tab("Compare", id="compare"):
                with gr.Row(equal_height=False):
                    for slug, family, title, blurb, default in COLUMNS:
                        _compare_column(slug, family, title, blurb, default, text,
                                        [run.click, settled.click, text.submit, demo.load])
            with gr.Tab("Attention", id="attention") as attention_tab:
                _attention_tab(text, run, attention_tab)
            with gr.Tab("Masks", id="masks") as masks_tab:
                _masks_tab(text, masks_tab)
            _analysis_tabs(text)
            with gr.Tab("Decoding", id="decoding"):
                _decoding_tab()
            _concept_tabs(text)
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
    demo.queue(default_concurrency_limit=CONCURRENCY, max_size=64)
    configure_threads(CONCURRENCY)
    return demo


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    build_demo().launch(css=CSS, theme=THEME, js=JS)


if __name__ == "__main__":
    main()
