"""Positions: sinusoidal encodings, learned position embeddings, RoPE's rotations, T5's buckets."""

from __future__ import annotations

import gradio as gr

from models import positions
from models.registry import DEFAULTS
from ui.controls import Page, RUNS, Slider
from ui.gpu import gpu
from ui.i18n import L, explain
from ui.validation import clamp, user_errors
from viz import concepts as concept_viz
from viz.words import t

ID, LABEL = "positions", "Positions"
BERT, GPT, LLAMA, T5 = (DEFAULTS[k] for k in ("encoder", "decoder", "llama", "encoder-decoder"))


def _sizes(dim, count) -> tuple[int, int]:
    """(positions, an even sinusoid dimension) within the sliders' ranges."""
    d = clamp(dim, 1024)
    return clamp(count, 512), d - d % 2


@gpu
def run_positions(dim, count, head):
    with user_errors():
        n, d = _sizes(dim, count)
        pe = positions.sinusoidal(n, d)
        learned = {k: positions.learned_positions(k, n) for k in (BERT, GPT)}
        formula = f"PE(p, 2i) = sin(p / 10000^(2i/{d})), PE(p, 2i+1) = cos(…)"
        return (concept_viz.encoding_figure(pe, positions.cosine_similarity(pe), t("sinusoidal: {}", formula)),
                *(concept_viz.encoding_figure(v, positions.cosine_similarity(v),
                                              t("{}: learned position embeddings", k)) for k, v in learned.items()),
                concept_viz.rope_figure(positions.rope(LLAMA, min(n, 64))),
                concept_viz.buckets_figure(positions.relative_buckets(T5, min(n, 64)), clamp(head, 63)))


def build(page: Page, tab: gr.Tab) -> None:
    explain("positions")
    with gr.Row(elem_classes=["controls"]):
        dim = Slider(8, 512, value=128, step=2, label=L("Sinusoid dimension d"), elem_id="pos-dim")
        count = Slider(8, 128, value=64, step=1, label=L("Positions"), elem_id="pos-count")
        head = Slider(0, 15, value=0, step=1, label=L("T5 head"), elem_id="pos-head")
    plots = [gr.Plot(label=L(label), elem_id=f"pos-{slug}") for slug, label in (
        ("sinusoid", "Sinusoidal"), ("bert", "mini-bert learned"), ("gpt", "mini-gpt learned"),
        ("rope", "RoPE"), ("buckets", "T5 relative buckets"))]
    gr.on([tab.select, dim.release, count.release, head.release], run_positions, [dim, count, head], plots,
          api_name="positions_view", api_visibility="private", **RUNS)


def numbers(values: dict, text: str) -> dict:
    n, d = _sizes(values["pos-dim"], values["pos-count"])
    rope = positions.rope(LLAMA, min(n, 64))
    buckets = positions.relative_buckets(T5, min(n, 64))
    return {"sinusoidal": positions.sinusoidal(n, d), "learned_bert": positions.learned_positions(BERT, n),
            "learned_gpt": positions.learned_positions(GPT, n), "rope_angles": rope.angles,
            "rope_scores": rope.scores, "t5_buckets": buckets.buckets, "t5_bias": buckets.bias}
