"""Decoding: autoregressive generation one token at a time (greedy, sampling with temperature,
top-k and top-p, beam search), the KV cache measured, and why BERT cannot generate."""

from __future__ import annotations

import dataclasses

import gradio as gr

from models import registry
from models.decoding import MAX_BEAMS, decode, fill_left_to_right
from models.kv_cache import cache_runs, calculator_rows
from ui import kept
from ui.api import api_decode
from ui.controls import Number, Page, RUNS, Radio, Slider, model_menu, shown
from ui.gpu import gpu
from ui.i18n import L, bilingual, explain
from ui.validation import greedy, settings, user_errors
from viz.decoding import (alignment_figure, attention_row_figure, beam_tree_figure, cache_figure, cache_summary_markdown,
                          kv_table_markdown, mask_fill_html, stages_figure, text_html)

ID, LABEL = "decoding", "Decoding"


@gpu
def run_kv(model, prompt, max_new):
    with user_errors():
        on, off = cache_runs(model, prompt, max_new)
        return cache_figure(on, off), cache_summary_markdown(on) + "\n\n" + kv_table_markdown(calculator_rows(model))


@gpu
def run_contrast(prompt, max_new):
    with user_errors():
        fills = fill_left_to_right(registry.DEFAULTS["encoder"], prompt, int(max_new))
        return mask_fill_html(fills, decode(registry.DEFAULTS["decoder"], prompt, greedy(max_new)))


def _views(result, index):
    if result is None:
        return index, "", *(shown(None) for _ in range(5))
    last = len(result.steps) - 1
    index = min(max(int(index), 0), last)
    seq2seq = result.family == "encoder-decoder"
    cross = attention_row_figure(result, index, cross=True) if seq2seq else None
    alignment = alignment_figure(result, index) if seq2seq else None
    # The winner's last token ends the search's story: show the whole tree there.
    tree = None if result.beams is None else beam_tree_figure(result, None if index == last else index)
    figures = (stages_figure(result, index), attention_row_figure(result, index), cross, alignment, tree)
    return (index, text_html(result, index + 1), *(shown(f) for f in figures))


@gpu
def decode_move(action, model, prompt, strategy, temperature, top_k, top_p, seed, max_new, num_beams, use_cache,
                result, index):
    """Step / Back / Run to end / a changed knob: decode with the current knobs, show one step."""
    with user_errors():
        if action == "reset":
            return None, *_views(None, 0)
        beams = int(num_beams) if strategy == "beam" else 1
        knobs = settings(strategy, temperature, top_k, top_p, seed, max_new, beams, use_cache)
        started = isinstance(result, kept.Ref)
        # Unchanged knobs step through the kept run: no forward pass per Step or Back.
        ref, run = kept.decoding(result, model, prompt, knobs)
        run = dataclasses.replace(run, notices=tuple(bilingual(n) for n in run.notices))
        if action == "end":
            index = len(run.steps) - 1
        elif not started and action != "goto":
            index = 0
        else:
            index = {"step": int(index) + 1, "back": int(index) - 1}.get(action, int(index or 0))
        return ref, *_views(run, index)


def build(page: Page, tab: gr.Tab) -> None:
    explain("decoding")
    with gr.Row(elem_classes=["controls"]):
        model = model_menu("dec-model", "decoder", "encoder-decoder")
        prompt = gr.Textbox("今天天气真好，", label=L("Prompt (for T5: its input text)"), scale=3, elem_id="dec-prompt")
    with gr.Row(elem_classes=["controls"]):
        # Named in the page's language; the values stay the API's and the links' strategy names.
        strategy = Radio([(L(name), name) for name in ("greedy", "sample", "beam")], value="sample", label=L("Strategy"),
                         elem_id="dec-strategy")
        temperature = Slider(0, 3, value=1.0, step=0.05, label=L("Temperature (0 = greedy)"), elem_id="dec-temperature")
        top_k = Slider(0, 100, value=0, step=1, label=L("Top-k (0 = off)"), elem_id="dec-topk")
        top_p = Slider(0.05, 1, value=1.0, step=0.05, label=L("Top-p (1 = off)"), elem_id="dec-topp")
        seed = Number(0, precision=0, label=L("Seed"), elem_id="dec-seed")
        max_new = Slider(1, 64, value=20, step=1, label=L("Max new tokens"), elem_id="dec-max")
        num_beams = Slider(2, MAX_BEAMS, value=4, step=1, label=L("Beams (beam strategy)"), elem_id="dec-beams")
        use_cache = gr.Checkbox(True, label=L("KV cache"), elem_id="dec-cache")
    with gr.Row():
        buttons = {name: gr.Button(L(label), elem_id=f"dec-{name}", variant="primary" if name == "step" else "secondary")
                   for name, label in (("step", "Step"), ("end", "Run to end"), ("back", "Back"), ("reset", "Reset"))}
    text = gr.HTML(elem_id="dec-text")
    # Under sampling the token has two probabilities; the text under the tokens gives both, named.
    gr.Markdown(L("**The model's own distribution** is the softmax of its logits, before any knob: its probability, log-probability so far and entropy. **The distribution sampled from** is what temperature, top-k and top-p leave, renormalised (sampling only): with top-k = 1 it gives the chosen token probability 1 whatever the model thought."),
                elem_id="dec-numbers-legend")
    # Shown once a step has a figure for them (ui.controls.shown).
    stages = gr.Plot(label=L("The distribution at this step"), elem_id="dec-stages", visible=False)
    with gr.Row():
        row = gr.Plot(label=L("The new token's self-attention"), elem_id="dec-attention", visible=False)
        cross = gr.Plot(label=L("Its cross-attention (encoder-decoders)"), elem_id="dec-cross", visible=False)
    alignment = gr.Plot(label=L("Alignment so far (encoder-decoders)"), elem_id="dec-alignment", visible=False)
    tree = gr.Plot(label=L("Beam search: every hypothesis, pruned ones grey, the winner red"), elem_id="dec-beams-tree",
                   visible=False)
    result = gr.State(None)  # a kept.Ref, not the decoding (ui/kept.py)
    # The step shown, in the page (not a State) so that a deep link can carry and restore it.
    index = Number(0, precision=0, elem_id="dec-index", elem_classes=["relay"], show_label=False, container=False)
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
        kv_plot = gr.Plot(label=L("Per-step time and cache size: self-attention, plus cross-attention for encoder-decoders"),
                          elem_id="kv-plot")
        kv_table = gr.Markdown(elem_id="kv-table")
        kv_go.click(run_kv, [model, prompt, max_new], [kv_plot, kv_table], api_name="kv_view",
                    api_visibility="private", **RUNS)
    with gr.Accordion(L("Why not generate with BERT?"), open=False):
        gr.Markdown(L("BERT fills a [MASK] from both sides. Asked to continue a text it gets a [MASK] with only [SEP] to its right, again and again; GPT was trained for exactly this."))
        contrast_go = gr.Button(L("Continue the prompt with BERT and with GPT"), elem_id="contrast-run")
        contrast = gr.HTML(elem_id="contrast")
        contrast_go.click(run_contrast, [prompt, max_new], contrast, api_name="contrast_view",
                          api_visibility="private", **RUNS)


def numbers(values: dict, text: str) -> dict:
    v = values
    beams = int(v["dec-beams"]) if v["dec-strategy"] == "beam" else 1
    return api_decode(v["dec-model"], v["dec-prompt"], v["dec-strategy"], v["dec-temperature"], v["dec-topk"],
                      v["dec-topp"], v["dec-seed"], v["dec-max"], beams)
