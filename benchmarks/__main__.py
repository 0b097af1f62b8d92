"""Speed of the attention views, measured as ratios in one run: `python -m benchmarks`.

Writes docs/benchmarks.md. Each number is set against a reference measured in the same run on
the same machine, because absolute times on shared machines are noise:
- the Compare columns' handler (model run + every figure) at 32 tokens, against the bare
  forward pass of the same model on the same input;
- the all-heads overview of a 12 x 12 model at 64 tokens (one tiled heatmap), against the
  same data drawn as one subplot per head (plotly make_subplots), in build time, bytes, and
  time for headless Chromium to draw it (Plotly.newPlot, plotly.js from the plotly package).
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


def _figures():
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

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
        fig.update_layout(height=1100, width=1400)
        return fig.to_json()

    return tiled, subplots


def draw_times(figures: dict[str, str], repeats: int = 3) -> dict[str, float] | None:
    """Median ms for headless Chromium to draw each figure JSON, or None without Chromium."""
    import shutil

    import plotly
    from playwright.sync_api import sync_playwright

    chromium = shutil.which("chromium") or "/usr/bin/chromium"
    if not Path(chromium).exists():
        return None
    plotly_js = Path(plotly.__file__).parent / "package_data" / "plotly.min.js"
    out = {}
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, args=["--no-sandbox", "--disable-gpu",
                                                                   "--disable-dev-shm-usage"])
        page = browser.new_page(viewport={"width": 1500, "height": 1200})
        page.set_content('<div id="plot" style="width:1400px;height:1100px"></div>')
        page.add_script_tag(path=str(plotly_js))
        for name, figure in figures.items():
            times = []
            for _ in range(repeats):
                times.append(page.evaluate("""async (json) => {
                    const fig = JSON.parse(json);
                    Plotly.purge('plot');
                    const start = performance.now();
                    await Plotly.newPlot('plot', fig.data, fig.layout);
                    await new Promise(requestAnimationFrame);
                    return performance.now() - start;
                }""", figure))
            out[name] = float(np.median(times))
        browser.close()
    return out


def overview_cost() -> list[str]:
    tiled, subplots = _figures()
    t_tiled, t_sub = _times(tiled, 3), _times(subplots, 3)
    j_tiled, j_sub = tiled(), subplots()
    draw = draw_times({"tiled": j_tiled, "subplots": j_sub})
    d_tiled = f"{draw['tiled']:.0f}" if draw else "n/a"
    d_sub = f"{draw['subplots']:.0f}" if draw else "n/a"
    d_ratio = f"{draw['tiled'] / draw['subplots']:.2f}" if draw else "n/a"
    return [
        "| 12 x 12 heads, 64 tokens | build + serialise p50 (ms) | bytes sent | Chromium draw, median (ms) |",
        "|---|---|---|---|",
        f"| one tiled heatmap (ours) | {_p(t_tiled, 50):.0f} | {len(j_tiled):,} | {d_tiled} |",
        f"| one subplot per head | {_p(t_sub, 50):.0f} | {len(j_sub):,} | {d_sub} |",
        f"| ratio | {_p(t_tiled, 50) / _p(t_sub, 50):.2f} | {len(j_tiled) / len(j_sub):.2f} | {d_ratio} |",
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
