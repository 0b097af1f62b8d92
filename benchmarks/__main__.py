"""Speed of the attention views, measured as ratios in one run: `python -m benchmarks`.

Writes docs/benchmarks.md. Each number is set against a reference measured in the same run on
the same machine, because absolute times on shared machines are noise:
- the Compare columns' handler (model run + every figure) at 32 tokens, against the bare
  forward pass of the same model on the same input;
- the all-heads overview of a 12 x 12 model at 64 tokens (one tiled heatmap), against the
  same data drawn as one subplot per head (plotly make_subplots), in build time, bytes, and
  time for headless Chromium to draw it (Plotly.newPlot, plotly.js from the plotly package);
- the same overview against BertViz's head_view and model_view (html returned);
- step-by-step decoding throughput against model.generate(), and with vs without the KV cache;
- cold start to first answer and resident memory in a fresh process;
- every public endpoint's latency through gradio_client on base-sized models at 16-512 tokens,
  against the bare forward pass (benchmarks/latency.py);
- the page in Chromium: Run pressed 30 times, with Gradio's run history on (its default) vs off;
- a bounded load test: 50 gradio_client sessions x 10 mixed requests x 3 rounds on loopback, and
  six rounds past the session capacity.
"""

from __future__ import annotations

import os
import platform
import time
from pathlib import Path

import numpy as np
import torch

from benchmarks.latency import timed

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

REPORT = Path(__file__).resolve().parent.parent / "docs" / "benchmarks.md"
TEXT_32 = ("The keys to the cabinet that the man found are on the table near the door and the cat sees them "
           "today while the old dog sleeps")
REPEATS = 15


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

        handler = timed(lambda: app.run_column(key, TEXT_32, "cross", 0, 0), REPEATS)
        reference = timed(bare, REPEATS)
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


def drawtimed(figures: dict[str, str], repeats: int = 3) -> dict[str, float] | None:
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
    t_tiled, t_sub = timed(tiled, 3), timed(subplots, 3)
    j_tiled, j_sub = tiled(), subplots()
    draw = drawtimed({"tiled": j_tiled, "subplots": j_sub})
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
    rows.append(f"| all-heads overview (ours) | {_p(t_ours, 50):.0f} | {b_ours:,} | | |")
    for name, fn in (("BertViz head_view", heads_html), ("BertViz model_view", model_html)):
        t, b = timed(fn, 5), len(fn())
        rows.append(f"| {name} | {_p(t, 50):.0f} | {b:,} | {_p(t_ours, 50) / _p(t, 50):.2f} | {b_ours / b:.2f} |")
    rows += ["", "Target: our bytes and build time at most half of BertViz's (ratio <= 0.50)."]
    return rows


def decoding_throughput() -> list[str]:
    """Tokens per second of the step-by-step decoder (every stage and attention row recorded)
    against generate() with the same settings, and with vs without the KV cache."""
    from models.decoding import Settings, decode
    from models.loading import get_model

    rows = ["| model | setting | ours (tok/s) | generate() (tok/s) | ours / generate | cache off / on (ours) |",
            "|---|---|---|---|---|---|"]
    for key, prompt in (("mini-gpt", "今天天气真好，"), ("mini-llama", "I like"),
                        ("mini-t5", "translate English to Chinese: The keys to the cabinet are on the table")):
        loaded = get_model(key)
        enc = {k: v for k, v in loaded.tokenizer(prompt, return_tensors="pt").items() if k in ("input_ids", "attention_mask")}
        for name, settings, kwargs in (
                ("greedy, 32 tokens", Settings("greedy", max_new_tokens=32), dict(do_sample=False)),
                ("beam 4, 32 tokens", Settings("beam", num_beams=4, max_new_tokens=32), dict(do_sample=False, num_beams=4))):
            count = len(decode(key, prompt, settings).token_ids)
            ours = timed(lambda: decode(key, prompt, settings), 5)
            off = timed(lambda: decode(key, prompt, Settings(settings.strategy, num_beams=settings.num_beams,
                                                             max_new_tokens=32, use_cache=False)), 5)

            def reference():
                with torch.inference_mode():
                    loaded.model.generate(**enc, max_new_tokens=32, **kwargs)

            theirs = timed(reference, 5)
            rate, ref_rate = count / (_p(ours, 50) / 1000), count / (_p(theirs, 50) / 1000)
            rows.append(f"| {key} | {name} ({count} generated) | {rate:.0f} | {ref_rate:.0f} | {rate / ref_rate:.2f} | "
                        f"{_p(ours, 50) / _p(off, 50):.2f} |")
    rows += ["", "Target: ours / generate >= 0.80. The last column is time with the cache / without it."]
    return rows


def cold_start_and_memory() -> list[str]:
    """A fresh process: import, build the page, start the server, answer one request; then the
    resident memory with the five embedded models loaded."""
    import subprocess
    import sys

    code = (
        "import time; t0 = time.perf_counter()\n"
        "import socket, app\n"
        "from gradio_client import Client\n"
        "s = socket.socket(); s.bind(('127.0.0.1', 0)); port = s.getsockname()[1]; s.close()\n"
        "demo = app.build_demo(); demo.launch(server_name='127.0.0.1', server_port=port, prevent_thread_lock=True,"
        " quiet=True, **app.LAUNCH)\n"
        "t1 = time.perf_counter()\n"
        "Client(f'http://127.0.0.1:{port}/', verbose=False).predict('mini-gpt', 'hello', api_name='/attention_data')\n"
        "t2 = time.perf_counter()\n"
        "from benchmarks.load import resident_mib; r0 = resident_mib()\n"
        "from models.loading import get_model\n"
        "[get_model(k) for k in ('mini-bert', 'mini-gpt', 'mini-llama', 'mini-t5', 'mini-mixtral')]\n"
        "print('RESULT', t1 - t0, t2 - t0, r0, resident_mib(), flush=True); demo.close()\n"
    )
    root = Path(__file__).resolve().parent.parent
    out = subprocess.run([sys.executable, "-c", code], cwd=root, capture_output=True, text=True, timeout=300,
                         env={**os.environ, "GRADIO_ANALYTICS_ENABLED": "False", "HF_HUB_OFFLINE": "1"})
    result = next(line for line in out.stdout.splitlines() if line.startswith("RESULT"))
    started, answered, rss_one, rss_all = (float(x) for x in result.split()[1:])
    return [
        "| fresh process | value |", "|---|---|",
        f"| import + build + server up | {started:.1f} s |",
        f"| ... + first answer (/attention_data, mini-gpt) | {answered:.1f} s |",
        f"| resident memory after the first answer | {rss_one:.0f} MiB |",
        f"| resident memory with all five embedded models loaded | {rss_all:.0f} MiB |",
    ]


def page_runs(runs: int = 30) -> list[str]:
    """Chromium presses Run `runs` times on the Compare page (four columns, embedded models): time
    until every column is drawn, with Gradio's run history on (its default) and off (ours)."""
    import shutil

    from playwright.sync_api import sync_playwright

    from benchmarks.load import serve

    chromium = shutil.which("chromium") or "/usr/bin/chromium"
    if not Path(chromium).exists():
        return ["Chromium is not installed; skipped."]
    idle = "document.querySelectorAll(\"[data-testid='status-tracker']:not(.hide)\").length === 0"
    drawn = ("document.querySelectorAll('#col-bert .js-plotly-plot, #col-gpt .js-plotly-plot, #col-t5 .js-plotly-plot, "
             "#col-llama .js-plotly-plot').length >= 8")
    results = {}
    for history in ("true", "false"):
        with serve(GRADIO_RUN_HISTORY=history) as (url, _), sync_playwright() as p:
            browser = p.chromium.launch(executable_path=chromium, args=["--no-sandbox", "--disable-gpu",
                                                                       "--disable-dev-shm-usage"])
            page = browser.new_page(viewport={"width": 1600, "height": 1200})
            page.goto(url)
            page.wait_for_function(drawn, timeout=120_000)
            times = []
            for _ in range(runs):
                page.wait_for_function(idle, timeout=60_000)
                start = page.evaluate("performance.now()")
                page.locator("#run").click()
                page.wait_for_timeout(50)
                page.wait_for_function(idle, timeout=60_000, polling=5)
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


def load_test() -> list[str]:
    """50 gradio_client sessions x 10 mixed requests, three rounds, against the app in its own
    process; then, with the session capacity at 50, six rounds of 50 new sessions each."""
    from benchmarks.load import MIXED, run_load, resident_mib, serve

    sessions = os.environ.get("TRIPTYCH_SESSIONS", "500")
    with serve() as (url, pid):
        before = resident_mib(pid)
        rounds = run_load(url, sessions=50, requests=10, rounds=3, server_pid=pid)
    rows = [f"Mixed requests cycling through {len(MIXED)} endpoints ({', '.join(sorted({m[0] for m in MIXED}))}), "
            f"server (`python app.py`) in its own process; its RSS before: {before:.0f} MiB. It keeps {sessions} "
            "sessions' state (TRIPTYCH_SESSIONS); every client is a new session.", "",
            *_load_rows(rounds)]
    with serve(TRIPTYCH_SESSIONS="50") as (url, pid):
        before = resident_mib(pid)
        capped = run_load(url, sessions=50, requests=10, rounds=6, server_pid=pid)
    rows += ["", f"Past the session capacity: the same server with TRIPTYCH_SESSIONS=50, six rounds of 50 new "
             f"sessions (300 sessions in all); RSS before: {before:.0f} MiB.", "", *_load_rows(capped)]
    return rows


def _load_rows(rounds: list[dict]) -> list[str]:
    rows = ["| round | requests | answered | errors | p50 (s) | p95 (s) | max (s) | wall (s) | server RSS after (MiB) |",
            "|---|---|---|---|---|---|---|---|---|"]
    for r in rounds:
        errors = sum(r["errors"].values())
        rows.append(f"| {r['round']} | {r['requests']} | {r['answered']} | {errors} | {r['p50_s']:.2f} | "
                    f"{r['p95_s']:.2f} | {r['max_s']:.2f} | {r['wall_s']:.1f} | {r['rss_mib']:.0f} |")
        for kind, count in r["errors"].items():
            rows.append(f"|  | {count} x {kind} | | | | | | | |")
    return rows


def fuzz_section(examples: int = 200) -> list[str]:
    """Fresh random bad input for every public endpoint (tests/test_fuzz.py, `examples` each)."""
    import json
    import subprocess
    import sys
    import tempfile

    root = Path(__file__).resolve().parent.parent
    with tempfile.TemporaryDirectory() as tmp:
        report = Path(tmp) / "fuzz.json"
        started = time.perf_counter()
        run = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests/test_fuzz.py"],
                             cwd=root, capture_output=True, text=True, timeout=3600,
                             env={**os.environ, "TRIPTYCH_FUZZ_EXAMPLES": str(examples), "TRIPTYCH_FUZZ_RANDOM": "1",
                                  "TRIPTYCH_FUZZ_REPORT": str(report), "HF_HUB_OFFLINE": "1"})
        wall = time.perf_counter() - started
        counts = json.loads(report.read_text(encoding="utf-8")) if report.exists() else {}
    verdict = run.stdout.strip().splitlines()[-1] if run.stdout.strip() else f"pytest exited {run.returncode}"
    rows = [f"Arbitrary Unicode, 2-3k character texts, None, NaN, +-inf, +-1e12 and text for numbers, unknown and "
            f"malicious model names: {examples} fresh random inputs per endpoint, called as the server calls it "
            f"({wall:.0f} s; pytest: {verdict}).", "",
            "| endpoint | inputs | results | clear errors | internal errors |", "|---|---|---|---|---|"]
    for name, outcome in counts.items():
        rows.append(f"| /{name.removeprefix('api_')} | {sum(outcome.values())} | {outcome.get('result', 0)} | "
                    f"{outcome.get('clear error', 0)} | {outcome.get('internal error', 0)} |")
    failures = [line.strip() for line in run.stdout.splitlines() if line.startswith("FAILED")]
    if failures:  # the counts are written by the last test, which fails too when an endpoint stopped early
        rows = rows[:2] + ["Failed, so the table is incomplete: " + "; ".join(f[:120] for f in failures), ""] + rows[2:]
    total = {k: sum(c.get(k, 0) for c in counts.values()) for k in ("result", "clear error", "internal error")}
    rows.append(f"| all | {sum(total.values())} | {total['result']} | {total['clear error']} | {total['internal error']} |")
    return rows


def latency_section() -> list[str]:
    from benchmarks import latency

    doc = latency.__doc__.split("\n\n", 1)[1].replace("\n", " ").strip()
    return [doc, "", *latency.report(latency.measure())]


def main() -> None:
    import logging

    from models.loading import configure_threads

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    for noisy in ("httpx", "gradio_client", "transformers", "huggingface_hub"):
        logging.getLogger(noisy).setLevel(logging.WARNING)

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
        "## Overview against BertViz",
        "",
        *bertviz_cost(),
        "",
        "## Decoding throughput",
        "",
        *decoding_throughput(),
        "",
        "## Cold start and memory",
        "",
        *cold_start_and_memory(),
        "",
        "## Endpoint latency on base-sized models",
        "",
        *latency_section(),
        "",
        "## The page over a lecture: Run pressed 30 times",
        "",
        *page_runs(),
        "",
        "## Bad input",
        "",
        *fuzz_section(),
        "",
        "## Load: 50 sessions x 10 requests x 3 rounds (loopback)",
        "",
        *load_test(),
        "",
    ]
    REPORT.write_text("\n".join(lines), encoding="utf-8")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
