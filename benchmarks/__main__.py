"""Speed of the attention views, measured as ratios in one run: `python -m benchmarks`.

Writes docs/benchmarks.md. Each number is set against a reference measured in the same run on
the same machine, because absolute times on shared machines are noise:
- the Compare columns' handler (model run + every figure) at 32 tokens, against the bare
  forward pass of the same model on the same input;
- the all-heads overview of a 12 x 12 model at 64 tokens (one tiled heatmap), against the
  same data drawn as one subplot per head (plotly make_subplots), in build time, bytes, and
  time for headless Chromium to draw it (Plotly.newPlot, plotly.js from the plotly package);
- one head's heatmap and mask at 16-512 tokens against its weights as JSON lists, and their
  Chromium draw time; the overview at 64 and 512 tokens, drawn;
- the same overview against BertViz's head_view and model_view (html returned);
- step-by-step decoding throughput against model.generate(), and with vs without the KV cache;
- the Decoding tab's Step at step 50 of a gpt2-shaped model with the run kept vs decoded again;
- cold start to first answer and resident memory in a fresh process;
- every public endpoint's latency through gradio_client on base-sized models at 16-512 tokens,
  against the bare forward pass (benchmarks/latency.py), and its growth as a log-log figure
  (docs/cost-growth.png);
- the page in Chromium: Run pressed 30 times, with Gradio's run history on (its default) vs off;
  and a sentence typed before each Run: requests sent and time to draw, against the four API calls;
- a bounded load test: 50 gradio_client sessions x 10 mixed requests x 3 rounds on loopback, and
  six rounds past the session capacity.

`python -m benchmarks --quick [bert|gpt|t5]` measures only the endpoint latency and its figure, for
one model (default bert) with fewer repeats, in a few minutes; it writes docs/benchmarks-quick.md
and docs/cost-growth-quick.png and leaves the full report alone.
"""

from __future__ import annotations

import os
import platform
import time
from pathlib import Path

import torch

from benchmarks.drawing import bertviz_cost, heatmap_cost, overview_cost, overview_growth, page_runs, typed_runs
from benchmarks.latency import ms, timed

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

DOCS = Path(__file__).resolve().parent.parent / "docs"
REPORT = DOCS / "benchmarks.md"
FIGURE = DOCS / "cost-growth.png"
QUICK_REPORT = DOCS / "benchmarks-quick.md"
QUICK_FIGURE = DOCS / "cost-growth-quick.png"
TEXT_32 = ("The keys to the cabinet that the man found are on the table near the door and the cat sees them "
           "today while the old dog sleeps")
REPEATS = 15


def compare_latency() -> list[str]:
    from models.loading import get_model
    from ui.tabs.compare import COLUMNS, run_column
    from models.trace import run_trace

    rows = ["| column | tokens | handler p50 (ms) | p95 (ms) | bare forward p50 (ms) | ratio | budget: 5 x forward + 10 ms "
            "| within |", "|---|---|---|---|---|---|---|---|"]
    for slug, _, _, _, key in COLUMNS:
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

        handler = timed(lambda: run_column(key, TEXT_32, "cross", 0, 0), REPEATS)
        reference = timed(bare, REPEATS)
        budget = 5 * ms(reference, 50) + 10
        rows.append(f"| {slug} ({key}) | {n} | {ms(handler, 50):.1f} | {ms(handler, 95):.1f} | "
                    f"{ms(reference, 50):.1f} | {ms(handler, 50) / ms(reference, 50):.1f}x | {budget:.1f} | "
                    f"{'yes' if ms(handler, 50) <= budget else 'no'} |")
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
            rate, ref_rate = count / (ms(ours, 50) / 1000), count / (ms(theirs, 50) / 1000)
            rows.append(f"| {key} | {name} ({count} generated) | {rate:.0f} | {ref_rate:.0f} | {rate / ref_rate:.2f} | "
                        f"{ms(ours, 50) / ms(off, 50):.2f} |")
    rows += ["", "Target: ours / generate >= 0.80. The last column is time with the cache / without it."]
    return rows


def decoding_steps(step: int = 50) -> list[str]:
    """The Decoding tab's Step at step `step` of a gpt2-shaped model (random weights, greedy,
    64 new tokens): with the run kept in the session (ours: the first Step decodes to the end, each
    later Step shows a kept step, no forward pass) against re-running the decode up to that step on
    every click (before issue 18), and against one bare forward pass at that length."""
    import tempfile

    from transformers import AutoModelForCausalLM, AutoTokenizer

    from models.decoding import Settings, decode
    from models.registry import ALLOW_ANY_ENV
    from training.tiny import build_base
    from ui.tabs.decoding import decode_move

    prompt, new = "The keys to the cabinet are on the table", 64
    knobs = ("greedy", 1.0, 0, 1.0, 0, new, 1, True)
    previous = os.environ.get(ALLOW_ANY_ENV)
    os.environ[ALLOW_ANY_ENV] = "1"
    try:
        with tempfile.TemporaryDirectory() as root:
            folder = build_base("gpt", Path(root) / "gpt-base")
            first = timed(lambda: decode_move("step", folder, prompt, *knobs, None, 0), 3)
            ref = decode_move("step", folder, prompt, *knobs, None, 0)[0]
            kept = timed(lambda: decode_move("step", folder, prompt, *knobs, ref, step - 1), 5)
            again = timed(lambda: decode(folder, prompt, Settings("greedy", max_new_tokens=step)), 3)
            model = AutoModelForCausalLM.from_pretrained(folder, dtype=torch.float32).eval()
            ids = AutoTokenizer.from_pretrained(folder)(prompt, return_tensors="pt")["input_ids"]
            ids = torch.cat([ids, torch.zeros((1, step), dtype=ids.dtype)], 1)

            def forward():
                with torch.inference_mode():
                    model(input_ids=ids, attention_mask=torch.ones_like(ids))

            bare = timed(forward, 5)
    finally:
        if previous is None:
            os.environ.pop(ALLOW_ANY_ENV, None)
        else:
            os.environ[ALLOW_ANY_ENV] = previous
    rows = [f"| gpt2-shaped, greedy, {new} new tokens | p50 (ms) | / one forward pass at {ids.shape[1]} tokens |",
            "|---|---|---|"]
    for name, times in ((f"Step at step {step}, run kept (ours)", kept),
                        (f"Step at step {step}, decode re-run to it (before)", again),
                        (f"first Step: decodes all {new} tokens, keeps them", first),
                        (f"one forward pass, {ids.shape[1]} tokens", bare)):
        rows.append(f"| {name} | {ms(times, 50):.1f} | {ms(times, 50) / ms(bare, 50):.2f} |")
    rows.append(f"| ratio: kept / re-run | {ms(kept, 50) / ms(again, 50):.3f} | |")
    return rows + ["", f"A kept Step runs no forward pass: it draws step {step}'s figures from the kept run. Any "
                   "changed knob (model, prompt, strategy, temperature, top-k, top-p, seed, beams, cache) decodes anew."]


def cold_start_and_memory() -> list[str]:
    """A fresh process: import, build the page, start the server, answer one request; then the
    resident memory with the five embedded models loaded."""
    import subprocess
    import sys

    code = (
        "import time; t0 = time.perf_counter()\n"
        "import socket\nfrom ui.page import build_demo, launch_settings\n"
        "from gradio_client import Client\n"
        "s = socket.socket(); s.bind(('127.0.0.1', 0)); port = s.getsockname()[1]; s.close()\n"
        "demo = build_demo(); demo.launch(server_name='127.0.0.1', server_port=port, prevent_thread_lock=True,"
        " quiet=True, **launch_settings())\n"
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


def load_test() -> list[str]:
    """50 gradio_client sessions x 10 mixed requests, three rounds, against the app in its own
    process; then, with the session capacity at 50, six rounds of 50 new sessions each."""
    from benchmarks.load import MIXED, run_load, resident_mib, serve
    from ui.page import SESSIONS, SESSIONS_ENV

    sessions = os.environ.get(SESSIONS_ENV, str(SESSIONS))
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
    rows += ["", *heavy_rounds(sessions)]
    return rows


def heavy_rounds(sessions: str) -> list[str]:
    """Issue 17, item 3: sessions that keep a run (Attention and Compare), six rounds of 50 new ones
    at the default session capacity, then RSS after 10 s idle."""
    from benchmarks.load import HEAVY as heavy, run_load, resident_mib, serve

    with serve() as (url, pid):
        before = resident_mib(pid)
        heavy_rounds = run_load(url, sessions=50, requests=len(heavy), rounds=6, server_pid=pid, in_order=True)
        time.sleep(10)
        idle = resident_mib(pid)
    return [f"Sessions that keep a run: each new session sends {', '.join(name for name, _ in heavy)} on a "
            f"{len(heavy[0][1][1].split())}-word text (mini-bert), six rounds of 50 new sessions (300 in all) against "
            f"the default capacity of {sessions} sessions; RSS before: {before:.0f} MiB, after 10 s idle: {idle:.0f} MiB.",
            "", *_load_rows(heavy_rounds)]


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
    """Fresh random bad input for every public endpoint (tests/ui/test_fuzz.py, `examples` each)."""
    import json
    import subprocess
    import sys
    import tempfile

    root = Path(__file__).resolve().parent.parent
    with tempfile.TemporaryDirectory() as tmp:
        report = Path(tmp) / "fuzz.json"
        started = time.perf_counter()
        run = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests/ui/test_fuzz.py"],
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


def latency_section(figure: Path, **options) -> list[str]:
    from benchmarks import latency

    doc = latency.__doc__.split("\n\n", 1)[1].replace("\n", " ").strip()
    rows = latency.measure(**options)
    latency.figure(rows, figure)
    return [doc, "", *latency.report(rows), "", "### Cost growth", "",
            "Each endpoint whose work is one forward pass, p50 against tokens on log-log axes; the thick line is the "
            "bare forward pass, the dotted line the budget. An endpoint stopped by the time limit has no point there.",
            "", f"![cost growth]({figure.name})"]


def header(command: str, threads: int) -> list[str]:
    return ["# Benchmarks", "",
            f"Written by `{command}` on {platform.machine()} with {os.cpu_count()} CPUs, torch {torch.__version__}, "
            f"{threads} torch thread(s) per request as the app runs. Ratios against a reference measured in the same "
            "run; absolute times vary with the machine.", ""]


def quick(model: str, threads: int) -> list[str]:
    from benchmarks.latency import KIND, QUICK_REPEATS

    if model not in KIND:
        raise SystemExit(f"--quick takes one of {', '.join(KIND)}, not {model!r}.")
    return [*header(f"python -m benchmarks --quick {model}", threads),
            "## Endpoint latency on a base-sized model (quick mode)", "",
            *latency_section(QUICK_FIGURE, models=(model,), repeats=QUICK_REPEATS), ""]


def main() -> None:
    import argparse
    import logging

    from models.loading import configure_threads

    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", nargs="?", const="bert", metavar="MODEL",
                        help="only the endpoint latency and its figure for one model (bert, gpt or t5; default bert)")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    for noisy in ("httpx", "gradio_client", "transformers", "huggingface_hub"):
        logging.getLogger(noisy).setLevel(logging.WARNING)

    threads = configure_threads(2)
    if args.quick:
        lines = quick(args.quick, threads)
        QUICK_REPORT.write_text("\n".join(lines), encoding="utf-8")
        print("\n".join(lines))
        return
    lines = [
        *header("python -m benchmarks", threads),
        "## Compare columns at ~32 tokens (targets: server time under 300 ms; 5 x the forward pass + 10 ms)",
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
        "As the input grows (each tile at most 64 x 64 cells: blocks past 64 tokens):",
        "",
        *overview_growth(),
        "",
        "## One head as the input grows",
        "",
        "A causal head and its mask, as a Compare column and the Attention tab draw them. The hover reads each "
        "token from the category axes, so the weights travel as base64 float32 and no string is sent per cell; "
        "past 256 positions a side the page draws blocks, each the largest allowed weight (viz/heatmap.py; the "
        "API keeps every weight). Target: the head drawn in under 0.5 s at 512 tokens; the overview (above) in "
        "under 1 s.",
        "",
        *heatmap_cost(),
        "",
        "## Overview against BertViz",
        "",
        *bertviz_cost(),
        "",
        "## Decoding throughput",
        "",
        *decoding_throughput(),
        "",
        "## Decoding: a Step late in a long run",
        "",
        *decoding_steps(),
        "",
        "## Cold start and memory",
        "",
        *cold_start_and_memory(),
        "",
        "## Endpoint latency on base-sized models",
        "",
        *latency_section(FIGURE),
        "",
        "## The page over a lecture: Run pressed 30 times",
        "",
        *page_runs(),
        "",
        "## Typing, then Run: one request per column",
        "",
        *typed_runs(),
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
