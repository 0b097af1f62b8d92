"""What the browser pays: the all-heads overview against one subplot per head and against
BertViz (build time, bytes, Chromium draw time), the page's Run with run history on and off, and
Run after typing: requests sent and time to draw."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import torch

from benchmarks.latency import ms, timed

IDLE = "document.querySelectorAll(\"[data-testid='status-tracker']:not(.hide)\").length === 0"
COLUMNS_DRAWN = ("document.querySelectorAll('#col-bert .js-plotly-plot, #col-gpt .js-plotly-plot, "
                 "#col-t5 .js-plotly-plot, #col-llama .js-plotly-plot').length >= 8")


def _chromium() -> str | None:
    import shutil

    path = shutil.which("chromium") or "/usr/bin/chromium"
    return path if Path(path).exists() else None


def _launch(p, chromium: str):
    return p.chromium.launch(executable_path=chromium, args=["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"])


def _compare_page(p, chromium: str):
    """(browser, page): headless Chromium with one page at the size the browser tests use."""
    browser = _launch(p, chromium)
    return browser, browser.new_page(viewport={"width": 1600, "height": 1200})


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


def drawtimed(figures: dict[str, str], repeats: int = 3) -> dict[str, float] | None:
    """Median ms for headless Chromium to draw each figure JSON, or None without Chromium."""
    import plotly
    from playwright.sync_api import sync_playwright

    chromium = _chromium()
    if chromium is None:
        return None
    plotly_js = Path(plotly.__file__).parent / "package_data" / "plotly.min.js"
    out = {}
    with sync_playwright() as p:
        browser = _launch(p, chromium)
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
    t_tiled, t_sub = timed(tiled, 3), timed(subplots, 3)
    j_tiled, j_sub = tiled(), subplots()
    draw = drawtimed({"tiled": j_tiled, "subplots": j_sub})
    d_tiled = f"{draw['tiled']:.0f}" if draw else "n/a"
    d_sub = f"{draw['subplots']:.0f}" if draw else "n/a"
    d_ratio = f"{draw['tiled'] / draw['subplots']:.2f}" if draw else "n/a"
    return [
        "| 12 x 12 heads, 64 tokens | build + serialise p50 (ms) | bytes sent | Chromium draw, median (ms) |",
        "|---|---|---|---|",
        f"| one tiled heatmap (ours) | {ms(t_tiled, 50):.0f} | {len(j_tiled):,} | {d_tiled} |",
        f"| one subplot per head | {ms(t_sub, 50):.0f} | {len(j_sub):,} | {d_sub} |",
        f"| ratio | {ms(t_tiled, 50) / ms(t_sub, 50):.2f} | {len(j_tiled) / len(j_sub):.2f} | {d_ratio} |",
    ]


def bertviz_cost() -> list[str]:
    """Our overview against BertViz's head_view and model_view (html returned) on the same data."""
    try:
        from bertviz import head_view, model_view
    except ImportError:
        return ["BertViz is not installed (`pip install -r requirements-bench.txt`); comparison skipped."]
    from models.data import AttentionSet
    from viz.overview import overview_figure

    rng = np.random.default_rng(0)
    n, layers, heads = 64, 12, 12
    scores = rng.normal(size=(layers, heads, n, n))
    attn = (np.exp(scores) / np.exp(scores).sum(-1, keepdims=True)).astype(np.float32)
    tokens = [f"t{i}" for i in range(n)]
    data = AttentionSet("encoder", attn, np.ones((n, n), np.float32), tuple(tokens), tuple(tokens))
    per_layer = tuple(torch.from_numpy(attn[i][None]) for i in range(layers))

    def ours():
        return overview_figure(data).to_json()

    def heads_html():
        return head_view(per_layer, tokens, html_action="return").data

    def model_html():
        return model_view(per_layer, tokens, html_action="return").data

    rows = ["| 12 x 12 heads, 64 tokens | build p50 (ms) | bytes | our build / theirs | our bytes / theirs |",
            "|---|---|---|---|---|"]
    t_ours, b_ours = timed(ours, 5), len(ours())
    rows.append(f"| all-heads overview (ours) | {ms(t_ours, 50):.0f} | {b_ours:,} | | |")
    for name, fn in (("BertViz head_view", heads_html), ("BertViz model_view", model_html)):
        t, b = timed(fn, 5), len(fn())
        rows.append(f"| {name} | {ms(t, 50):.0f} | {b:,} | {ms(t_ours, 50) / ms(t, 50):.2f} | {b_ours / b:.2f} |")
    rows += ["", "Target: our bytes and build time at most half of BertViz's (ratio <= 0.50)."]
    return rows


def page_runs(runs: int = 30) -> list[str]:
    """Chromium presses Run `runs` times on the Compare page (four columns, embedded models): time
    until every column is drawn, with Gradio's run history on (its default) and off (ours)."""
    from playwright.sync_api import sync_playwright

    from benchmarks.load import serve

    chromium = _chromium()
    if chromium is None:
        return ["Chromium is not installed; skipped."]
    results = {}
    for history in ("true", "false"):
        with serve(GRADIO_RUN_HISTORY=history) as (url, _), sync_playwright() as p:
            browser, page = _compare_page(p, chromium)
            page.goto(url)
            page.wait_for_function(COLUMNS_DRAWN, timeout=120_000)
            times = []
            for _ in range(runs):
                page.wait_for_function(IDLE, timeout=60_000)
                start = page.evaluate("performance.now()")
                page.locator("#run").click()
                page.wait_for_timeout(50)
                page.wait_for_function(IDLE, timeout=60_000, polling=5)
                times.append(page.evaluate("performance.now()") - start)
            browser.close()
        results[history] = times
    on, off = results["true"], results["false"]
    first, last = slice(0, 5), slice(runs - 5, runs)
    return [
        f"Run pressed {runs} times; median ms until every view it started is drawn (the four columns and the Attention "
        "tab's run).", "",
        f"| Gradio run history | runs 1-5 | runs {runs - 4}-{runs} |", "|---|---|---|",
        f"| on (Gradio's default) | {np.median(on[first]):.0f} | {np.median(on[last]):.0f} |",
        f"| off (this app) | {np.median(off[first]):.0f} | {np.median(off[last]):.0f} |",
        f"| ratio off / on | {np.median(off[first]) / np.median(on[first]):.2f} | "
        f"{np.median(off[last]) / np.median(on[last]):.2f} |",
    ]


# Sentences typed before each Run, as a lecturer types one after another.
TYPED = ("The students read the book", "My mother is a doctor", "The cat chases a mouse", "I like eating apples",
         "The weather is nice today", "We learn the attention mechanism", "The dog sleeps near the door",
         "This model can translate sentences", "She reads a new book every week", "The keys are on the table")
COLUMNS = (("bert", "mini-bert", "encoder"), ("gpt", "mini-gpt", "decoder"), ("t5", "mini-t5", "cross"),
           ("llama", "mini-llama", "decoder"))


def typed_runs() -> list[str]:
    """Chromium types a sentence into the Compare page and presses Run at once, for each of TYPED:
    the requests the page sends (Gradio queue joins) and the time until every column is drawn,
    against the same four column calls sent at once through gradio_client (the reference: what
    the server needs, plus transport)."""
    import json
    from concurrent.futures import ThreadPoolExecutor

    from gradio_client import Client
    from playwright.sync_api import sync_playwright

    from benchmarks.load import serve

    chromium = _chromium()
    if chromium is None:
        return ["Chromium is not installed; skipped."]
    joins, page_ms, api_ms = [], [], []
    with serve() as (url, _), sync_playwright() as p:
        client = Client(url, verbose=False)
        browser, page = _compare_page(p, chromium)
        sent = []
        page.on("request", lambda r: "/queue/join" in r.url and sent.append(json.loads(r.post_data or "{}")))
        page.goto(url)
        page.wait_for_function(COLUMNS_DRAWN, timeout=120_000)
        page.wait_for_function(IDLE, timeout=60_000)
        with ThreadPoolExecutor(len(COLUMNS)) as pool:
            for text in TYPED:
                page.wait_for_timeout(500)  # the previous run's requests have all been sent
                sent.clear()
                start = page.evaluate("performance.now()")
                page.locator("#text textarea").fill(text)
                page.locator("#run").click()
                page.wait_for_timeout(50)
                page.wait_for_function(IDLE, timeout=60_000, polling=5)
                page_ms.append(page.evaluate("performance.now()") - start)
                page.wait_for_timeout(500)  # a typing timer that was not cancelled would fire by now
                joins.append(len(sent))
                began = time.perf_counter()
                list(pool.map(lambda c: client.predict(c[1], text, c[2], 0, 0, api_name=f"/compare_{c[0]}"), COLUMNS))
                api_ms.append((time.perf_counter() - began) * 1000)
        browser.close()
    page_p50, api_p50 = float(np.median(page_ms)), float(np.median(api_ms))
    return [
        f"Type a sentence, press Run at once; {len(TYPED)} sentences, Compare tab (four columns, embedded models). "
        "Reference: the same four column calls sent at once through gradio_client.", "",
        "| requests per Run (min / max) | page: ms until drawn (p50) | reference: four API calls (p50 ms) | ratio |",
        "|---|---|---|---|",
        f"| {min(joins)} / {max(joins)} | {page_p50:.0f} | {api_p50:.0f} | {page_p50 / api_p50:.2f} |", "",
        "Before issue 16 the same action sent 10 requests for the four columns (the typing timer fired too, and the "
        "hidden Attention tab ran) and took 3.3-5.9 s to draw, against 0.14-0.35 s for one column's call.",
    ]


HEAT_SIZES = (16, 64, 256, 512)


def _causal_head(n: int, rng):
    from models.data import AttentionSet

    scores = rng.normal(size=(1, 1, n, n)) + np.triu(np.full((n, n), -np.inf), 1)
    attn = np.exp(scores - scores.max(-1, keepdims=True))
    attn = (attn / attn.sum(-1, keepdims=True)).astype(np.float32)
    tokens = tuple(f"t{i}" for i in range(n))
    return AttentionSet("decoder", attn, np.tril(np.ones((n, n), np.float32)), tokens, tokens)


def heatmap_cost() -> list[str]:
    """One head's heatmap and its mask (what a Compare column and the Attention tab draw) as the
    input grows: build + serialise time and bytes against the same head's weights as the API's
    JSON lists, and Chromium's draw time of each (target for the head: under 0.5 s at 512 tokens).
    Past viz.heatmap.PAGE_MAX_CELLS the page draws blocks; the last row draws 512 tokens cell by
    cell, as the page did before."""
    import json
    from unittest import mock

    from models.trace import significant
    from viz import heatmap

    rng = np.random.default_rng(0)
    rows, figures = [], {}
    cases = [(n, f"{n}", None) for n in HEAT_SIZES] + [(512, "512, every cell (before)", 10**6)]
    for n, label, limit in cases:
        data = _causal_head(n, rng)

        def figures_json():
            with mock.patch.object(heatmap, "PAGE_MAX_CELLS", limit or heatmap.PAGE_MAX_CELLS):
                return heatmap.attention_heatmap(data, 0, 0).to_json(), heatmap.mask_heatmap(data).to_json()

        def numbers_json():
            return json.dumps(significant(data.attn[0, 0]).tolist())

        drawn, numbers = timed(figures_json, 3), timed(numbers_json, 3)
        head, mask = figures_json()
        figures[f"{label} head"], figures[f"{label} mask"] = head, mask
        rows.append((label, ms(drawn, 50), len(head) + len(mask), ms(numbers, 50), len(numbers_json())))
    draw = drawtimed(figures)
    lines = ["| tokens | head + mask: build + serialise p50 (ms) | bytes | the head's weights as JSON lists (ms) | bytes "
             "| ratio (time) | Chromium draw of the head, median (ms) | of the mask (ms) |",
             "|---|---|---|---|---|---|---|---|"]
    for label, t_fig, b_fig, t_num, b_num in rows:
        head_ms, mask_ms = ((f"{draw[f'{label} head']:.0f}", f"{draw[f'{label} mask']:.0f}") if draw else ("n/a", "n/a"))
        lines.append(f"| {label} | {t_fig:.0f} | {b_fig:,} | {t_num:.0f} | {b_num:,} | {t_fig / t_num:.2f} | {head_ms} "
                     f"| {mask_ms} |")
    return lines


def overview_growth() -> list[str]:
    """The all-heads overview (12 x 12 heads) at 64 and 512 tokens: build + serialise, bytes and
    Chromium's draw (target under 1 s at 512 tokens). Past 64 tokens a tile shows blocks."""
    from models.data import AttentionSet
    from viz.overview import overview_figure

    rng = np.random.default_rng(1)
    rows, figures = [], {}
    for n in (64, 512):
        scores = rng.normal(size=(12, 12, n, n)).astype(np.float32)
        attn = np.exp(scores - scores.max(-1, keepdims=True))
        attn /= attn.sum(-1, keepdims=True)
        tokens = tuple(f"t{i}" for i in range(n))
        data = AttentionSet("encoder", attn, np.ones((n, n), np.float32), tokens, tokens)
        built = timed(lambda: overview_figure(data).to_json(), 3)
        figures[n] = overview_figure(data).to_json()
        rows.append((n, ms(built, 50), len(figures[n])))
    draw = drawtimed(figures)
    lines = ["| 12 x 12 heads | build + serialise p50 (ms) | bytes | Chromium draw, median (ms) |", "|---|---|---|---|"]
    for n, built_ms, size in rows:
        lines.append(f"| {n} tokens | {built_ms:.0f} | {size:,} | {f'{draw[n]:.0f}' if draw else 'n/a'} |")
    return lines
