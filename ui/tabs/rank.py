"""Rank: the rank and effective rank of every head's attention matrix, bidirectional beside causal."""

from __future__ import annotations

import gradio as gr

from models import analysis
from models import trace as traces
from ui.api import api_attention_rank
from ui.controls import Page, RUNS, Slider, bound, index_slider, model_menu
from ui.beside import Beside
from ui.gpu import gpu
from ui.i18n import L, explain
from ui.validation import clamp, user_errors
from viz.patterns import effective_rank_map, rank_map, spectrum_figure
from viz.tables import rank_lesson_markdown

ID, LABEL = "rank", "Rank"


@gpu
def run_rank(enc_model, dec_model, text, exponent, layer, head):
    with user_errors():
        tolerance = 10.0 ** float(exponent)
        reports = []
        for key in (enc_model, dec_model):
            trace = traces.run_trace(key, text)
            attn = trace.attention(analysis.self_attention_kinds(trace)[0])
            reports.append((trace.model_name, analysis.attention_rank(attn, tolerance)))
        (enc_name, enc), (dec_name, dec) = reports
        layers = max(enc.rank.shape[0], dec.rank.shape[0]) - 1
        heads = max(enc.rank.shape[1], dec.rank.shape[1]) - 1
        layer, head = clamp(layer, layers), clamp(head, heads)
        return (rank_map(enc, enc_name), rank_map(dec, dec_name), effective_rank_map(enc, enc_name),
                effective_rank_map(dec, dec_name), spectrum_figure(reports, layer, head),
                rank_lesson_markdown(reports), bound(layers + 1, layer), bound(heads + 1, head))


def build(page: Page, tab: gr.Tab) -> None:
    explain("rank")
    with gr.Row(elem_classes=["controls"]):
        enc = model_menu("rank-enc", "encoder", "encoder-decoder", label="Bidirectional model")
        dec = model_menu("rank-dec", "decoder", label="Causal model")
        # 1e-6 is about numpy's own default at these lengths, n x float32 eps: the weights' rounding.
        tol = Slider(-10, -1, value=-6, step=0.5, label=L("Tolerance (log10, relative to σ1)"), elem_id="rank-tol")
        layer, head = index_slider("Layer (spectrum)", "rank-layer"), index_slider("Head (spectrum)", "rank-head")
        go = gr.Button(L("Compute rank"), variant="primary", elem_id="rank-run")
    summary = gr.Markdown(elem_id="rank-summary")
    with gr.Row(elem_id="rank-maps"):
        map_enc = gr.Plot(label=L("Rank, bidirectional"), elem_id="rank-map-enc")
        map_dec = gr.Plot(label=L("Rank, causal"), elem_id="rank-map-dec")
    with gr.Row(elem_id="rank-effs"):
        eff_enc = gr.Plot(label=L("Effective rank, bidirectional"), elem_id="rank-eff-enc")
        eff_dec = gr.Plot(label=L("Effective rank, causal"), elem_id="rank-eff-dec")
    spectrum = gr.Plot(label=L("Singular values of one head"), elem_id="rank-spectrum")
    side = Beside(page, ID)
    ran = gr.on([go.click, page.on_run(ID).click, tab.select, tol.release, layer.release, head.release, enc.input, dec.input], run_rank,
                [enc, dec, page.text, tol, layer, head], [map_enc, map_dec, eff_enc, eff_dec, spectrum, summary, layer, head],
                api_name="rank_view", **RUNS, api_visibility="private")
    side.follow([ran], run_rank, [enc, dec, page.text, tol, layer, head], pick=1)


def numbers(values: dict, text: str) -> dict:
    tolerance = 10 ** float(values["rank-tol"])
    return {"bidirectional": api_attention_rank(values["rank-enc"], text, tolerance),
            "causal": api_attention_rank(values["rank-dec"], text, tolerance)}
