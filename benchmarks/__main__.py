"""Speed of the attention views, measured as ratios in one run: `python -m benchmarks`.

Writes docs/benchmarks.md. Each number is set against a reference measured in the same run on
the same machine, because absolute times on shared machines are noise:
- the Compare columns' handler (model run + every figure) at 32 tokens, against the bare
  forward pass of the same model on the same input;
- the all-heads overview of a 12 x 12 model at 64 tokens (one tiled heatmap), against the
  same data drawn as one subplot per head (plotly make_subplots), in build time and bytes.
"""

from __future__ import annotations

import os
import platform
import statistics
import time
from pathlib import Path

import numpy as np
import torch

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

REPORT = Path(__file__).resolve().parent.parent / "docs" / "benchmarks.md"
TEXT_32 = ("The keys to the cabinet that the man found are on the table near the door and the cat sees them "
           "today while the old dog sleeps")
REPEATS = 15


def _times(fn, repeats: int = REPEATS) -> list[float]:
    fn()
    out = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        out.append(time.perf_counter() - start)
    return out


def _p(values: list[float], q: float) -> float:
    return float(np.percentile(values, q)) * 1000


def compare_latency() -> list[str]:
    import app
    from models.loading import get_model
    from models.trace import run_trace

    rows = ["| column | tokens | handler p50 (ms) | p95 (ms) | bare forward p50 (ms) | ratio |", "|---|---|---|---|---|---|"]
    for slug, _, _, _, key in app.COLUMNS:
        loaded = get_model(key)
        n = len(run_trace(key, TEXT_32).tokens)
        enc = loaded.tokenizer(TEXT_32, return_tensors="pt")
        enc = {k: v for k, v in enc.items() if k in ("input_ids", "attention_mask")}

        def bare():
            with torch.inference_mode():
                if loaded.family == "encoder-decoder":
                    loaded.model.generate(**enc, do_sample=False, max_new_tokens=32)
                else:
                    loaded.model(**enc)

        handler = _times(lambda: app.run_column(key, TEXT_32, "cross", 0, 0))
        reference = _times(bare)
        rows.append(f"| {slug} ({key}) | {n} | {_p(handler, 50):.1f} | {_p(handler, 95):.1f} | "
                    f"{_p(reference, 50):.1f} | {_p(handler, 50) / _p(reference, 50):.1f}x |")
    return rows


def overview_cost() -> list[str]:
    from plotly.subplots import make_subplots
    import plotly.graph_objects as go

    from models.data import AttentionSet
    from viz.overview import overview_figure

    rng = np.random.default_rng(0)
    n, layers, heads = 64, 12, 12
    scores = rng.normal(size=(layers, heads, n, n))
    attn = np.exp(scores) / np.exp(scores).sum(-1, keepdims=True)
    tokens = tuple(f"t{i}" for i in range(n))
    data = AttentionSet("encoder", attn.astype(np.float32), np.ones((n, n), np.float32), tokens, tokens)

    def tiled():
        return overview_figure(data).to_json()

    def subplots():
        fig = make_subplots(rows=layers, cols=heads)
        for layer in range(layers):
            for head in range(heads):
                fig.add_trace(go.Heatmap(z=data.attn[layer, head], showscale=False), row=layer + 1, col=head + 1)
        return fig.to_json()

    t_tiled, t_sub = _times(tiled, 3), _times(subplots, 3)
    b_tiled, b_sub = len(tiled()), len(subplots())
    return [
        "| 12 x 12 heads, 64 tokens | build + serialise p50 (ms) | bytes sent |",
        "|---|---|---|",
        f"| one tiled heatmap (ours) | {_p(t_tiled, 50):.0f} | {b_tiled:,} |",
        f"| one subplot per head | {_p(t_sub, 50):.0f} | {b_sub:,} |",
        f"| ratio | {_p(t_tiled, 50) / _p(t_sub, 50):.2f} | {b_tiled / b_sub:.2f} |",
    ]


def main() -> None:
    from models.loading import configure_threads

    threads = configure_threads(2)
    lines = [
        "# Benchmarks",
        "",
        f"Written by `python -m benchmarks` on {platform.machine()} with {os.cpu_count()} CPUs, torch "
        f"{torch.__version__}, {threads} torch thread(s) per request as the app runs. Ratios against a reference "
        "measured in the same run; absolute times vary with the machine.",
        "",
        "## Compare columns at ~32 tokens (target: server time under 300 ms)",
        "",
        "The handler runs the model once with attention output, builds the tokens, outputs, mask and",
        "heatmap figures. The reference is the bare forward pass (T5: greedy generate(), which the",
        "column also needs).",
        "",
        *compare_latency(),
        "",
        "## All-heads overview",
        "",
        *overview_cost(),
        "",
    ]
    REPORT.write_text("\n".join(lines), encoding="utf-8")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
