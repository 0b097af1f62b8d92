"""Transformer Triptych: an encoder, a decoder and an encoder-decoder side by side, live.

Gradio layout and wiring only: handlers call models/ for the numbers and viz/ for the
figures. Run `python app.py` and open http://127.0.0.1:7860 (host and port follow
GRADIO_SERVER_NAME / GRADIO_SERVER_PORT, as on Hugging Face Spaces).
"""

from __future__ import annotations

import logging
from contextlib import contextmanager
from pathlib import Path

import gradio as gr

from models import registry
from models.trace import run_trace, trace_to_json
from viz.heatmap import attention_heatmap, mask_heatmap
from viz.tokens import outputs_html, tokens_html

log = logging.getLogger("triptych")

EXAMPLE_TEXT = "The cat chases a mouse"
MAX_INDEX = 127
THEME = gr.themes.Soft()
CSS = (Path(__file__).parent / "assets" / "style.css").read_text(encoding="utf-8")

COLUMNS = (
    ("encoder", "Encoder (BERT-style)", "Bidirectional: every token sees every other token."),
    ("decoder", "Decoder (GPT / LLaMA-style)", "Causal: a token sees only itself and earlier tokens."),
    ("encoder-decoder", "Encoder-decoder (T5-style)",
     "Bidirectional encoder, causal decoder, and cross-attention from decoder to encoder."),
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


def _view(trace, kind, layer, head):
    attn = trace.attention(kind)
    layer = min(max(int(layer), 0), attn.layers - 1)
    head = min(max(int(head), 0), attn.heads - 1)
    return (
        gr.Slider(maximum=attn.layers - 1, value=layer),
        gr.Slider(maximum=attn.heads - 1, value=head),
        mask_heatmap(attn),
        attention_heatmap(attn, layer, head),
    )


def run_column(model, text, kind, layer, head):
    with user_errors():
        trace = run_trace(model, text)
        kind = kind if kind in trace.kinds else trace.kinds[0]
        tokens = tokens_html(trace.tokens, trace.special, label=trace.model_name)
        kinds = gr.Radio(choices=list(trace.kinds), value=kind, visible=len(trace.kinds) > 1)
        return (trace, tokens, outputs_html(trace), kinds, *_view(trace, kind, layer, head))


def view_column(trace, kind, layer, head):
    if trace is None:
        return gr.skip(), gr.skip(), gr.skip(), gr.skip()
    with user_errors():
        return _view(trace, kind, layer, head)


def _column(family: str, title: str, blurb: str, text: gr.Textbox, triggers: list) -> None:
    slug = family.replace("-", "_")
    choices = [(s.name, s.key) for s in registry.list_models(family)]
    with gr.Column(min_width=360, elem_classes=["family-column"], elem_id=f"col-{slug}"):
        gr.Markdown(f"### {title}\n{blurb}")
        model = gr.Dropdown(choices, value=registry.DEFAULTS[family], label="Model", elem_id=f"model-{slug}")
        kinds = ["encoder", "decoder", "cross"] if family == "encoder-decoder" else [family]
        kind = gr.Radio(kinds, value=kinds[-1], label="Attention", visible=len(kinds) > 1, elem_id=f"kind-{slug}")
        with gr.Row():
            # Wide bounds until the first run sets the model's own; the API validates against them.
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
        api_name=f"compare_{slug}",
        api_description=f"Run the {family} model on the text; returns its tokens, outputs, mask and attention figures.",
    )
    gr.on(
        triggers=[kind.input, layer.release, head.release],
        fn=view_column,
        inputs=[trace, kind, layer, head],
        outputs=[layer, head, mask_plot, attn_plot],
        api_name=f"view_{slug}",
        api_visibility="private",
    )


def build_demo() -> gr.Blocks:
    with gr.Blocks(title="Transformer Triptych") as demo:
        gr.Markdown(
            "# Transformer Triptych\n"
            "One sentence, three Transformer families, live: see the mask each one applies and "
            "the attention it produces. Hover a cell for its exact weight. Put `[MASK]` in the "
            "text to see the encoder fill it in."
        )
        with gr.Tab("Compare", id="compare"):
            with gr.Row():
                text = gr.Textbox(EXAMPLE_TEXT, label="Text", scale=5, elem_id="text")
                run = gr.Button("Run", variant="primary", scale=1, elem_id="run")
            gr.Examples(
                [["The cat chases a mouse"], ["I like eating [MASK] apples"], ["我喜欢吃苹果"],
                 ["translate Chinese to English: 我喜欢机器学习"]],
                inputs=[text],
            )
            with gr.Row(equal_height=False):
                for family, title, blurb in COLUMNS:
                    _column(family, title, blurb, text, [run.click, text.submit, demo.load])
        gr.api(api_models, api_name="models")
        gr.api(api_attention_data, api_name="attention_data")
    demo.queue(default_concurrency_limit=2, max_size=64)
    return demo


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    build_demo().launch(css=CSS, theme=THEME)


if __name__ == "__main__":
    main()
