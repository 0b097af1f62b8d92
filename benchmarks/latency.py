"""Server latency of the public endpoints on base-sized models, against the bare forward pass.

Random-initialised models shaped like bert-base-uncased, gpt2 and t5-base (models.tiny.build_base)
are saved to a temporary folder and served by `python app.py` in its own process, with local
folders allowed and the token limit raised to 512. Each endpoint is called through gradio_client
on loopback, one request at a time, at about 16, 64, 256 and 512 tokens. The reference is the
same model loaded by plain transformers (its default attention kernel, no attention weights
returned) run on the same input in this process with the server's thread count: one forward
pass, or for T5 the greedy generate() of 32 tokens that the views also need. /attention_rank and
/scaling send their matrices packed as float32 (`encoding`), /attention_data as float16 through
Gradio's REST API (see rest_call).
"""

from __future__ import annotations

import json
import logging
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

log = logging.getLogger(__name__)

SIZES = (16, 64, 256, 512)
REPEATS = {16: 7, 64: 7, 256: 3, 512: 2}  # timed calls after one warm-up call, per endpoint and size
QUICK_REPEATS = {16: 3, 64: 3, 256: 1, 512: 1}  # `python -m benchmarks --quick`: one model in a few minutes
PASSAGE = ("The keys to the cabinet that the man found are on the table near the door, and the cat sees them "
           "while the old dog sleeps in the sun. She said that he would come tomorrow with his sister. ")
KIND = {"bert": "encoder", "gpt": "decoder", "t5": "cross"}
# (endpoint, its arguments, forward passes its work needs; None: the raw weights (as packed float16,
# or drawn as the all-heads overview), whose cost is their size: reported, not budgeted; keyword
# arguments). Large matrices travel packed (numeric.ENCODINGS): /scaling's three 512 x 512 matrices
# are 17 MB as JSON lists.
ENDPOINTS = (
    ("/compare_{name}", lambda folder, text, name: (folder, text, KIND[name], 0, 0), 1, {}),
    ("/attention_view", lambda folder, text, name: (folder, text, KIND[name], 0, 0), 1, {}),
    ("/attention_overview", lambda folder, text, name: (KIND[name],), None, {}),  # of the run /attention_view made
    ("/head_patterns", lambda folder, text, name: (folder, text), 1, {}),
    ("/attention_rank", lambda folder, text, name: (folder, text, 1e-3), 1, {"encoding": "float32"}),
    ("/attention_flow", lambda folder, text, name: (folder, text, -1, ""), 1, {}),
    ("/objectives", lambda folder, text, name: (folder, text, "", 0), 1, {}),
    ("/order_experiment", lambda folder, text, name: (folder, text, 0), 4, {}),  # 2 orders x with/without positions
    ("/scaling", lambda folder, text, name: (folder, text, 0, 0), 1, {"encoding": "float32"}),
    # Positional, language included: called through Gradio's REST API (rest_call), see there.
    ("/attention_data", lambda folder, text, name: (folder, text, -1, "en", "float16"), None, {"rest": True}),
)
TARGET = "bert"
TARGET_TOKENS = 64


def text_of(tokenizer, tokens: int) -> str:
    """The longest prefix of the passage (repeated) that the tokenizer turns into at most
    `tokens` tokens, special tokens included."""
    words = (PASSAGE * 40).split()
    low, high = 1, len(words)
    while low < high:
        mid = (low + high + 1) // 2
        if len(tokenizer(" ".join(words[:mid]))["input_ids"]) <= tokens:
            low = mid
        else:
            high = mid - 1
    return " ".join(words[:low])


def ms(values: list[float], q: float) -> float:
    """The q-th percentile of times in seconds, in milliseconds."""
    return float(np.percentile(values, q)) * 1000


def timed(fn, repeats: int) -> list[float]:
    """Seconds of `repeats` calls of fn, after one warm-up call."""
    fn()
    out = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        out.append(time.perf_counter() - start)
    return out


def _bare(folder: str, name: str):
    from transformers import AutoModelForCausalLM, AutoModelForMaskedLM, AutoModelForSeq2SeqLM, AutoTokenizer

    cls = {"bert": AutoModelForMaskedLM, "gpt": AutoModelForCausalLM, "t5": AutoModelForSeq2SeqLM}[name]
    model = cls.from_pretrained(folder, dtype=torch.float32).eval()
    tokenizer = AutoTokenizer.from_pretrained(folder)

    def run(text: str):
        enc = {k: v for k, v in tokenizer(text, return_tensors="pt").items() if k in ("input_ids", "attention_mask")}
        with torch.inference_mode():
            if name == "t5":
                model.generate(**enc, do_sample=False, max_new_tokens=32)
            else:
                model(**enc)

    return model, tokenizer, run


def measure(models: tuple[str, ...] = tuple(KIND), repeats: dict[int, int] = REPEATS) -> list[dict]:
    """One row per (model, size, endpoint): p50/p95 ms of the endpoint and of the bare forward;
    `models` among bert, gpt, t5, `repeats` timed calls per size."""
    from gradio_client import Client

    from benchmarks.load import serve
    from training.tiny import build_base

    rows = []
    with tempfile.TemporaryDirectory() as root:
        folders = {name: build_base(name, Path(root) / f"{name}-base") for name in models}
        with serve(TRIPTYCH_ALLOW_ANY_MODEL="1", TRIPTYCH_MAX_TOKENS="512", TRIPTYCH_MAX_CHARS="20000",
                   TRIPTYCH_CACHE_SIZE="9") as (url, _):
            client = Client(url, verbose=False)
            for name, folder in folders.items():
                model, tokenizer, bare = _bare(folder, name)
                for size in SIZES:
                    text = text_of(tokenizer, size)
                    count = len(tokenizer(text)["input_ids"])
                    log.info("latency: %s-base at %d tokens", name, count)
                    reference = timed(lambda: bare(text), repeats[size])
                    for endpoint, args, passes, options in ENDPOINTS:
                        rows.append(_endpoint_row(client, endpoint.format(name=name), args(folder, text, name), options,
                                                  repeats[size], dict(model=name, tokens=count, bare=reference,
                                                                      passes=passes, size=size, repeats=repeats[size])))
                del model
    return rows


def rest_call(url: str, api: str, data: tuple):
    """One call through Gradio's REST API (POST /gradio_api/call/..., then its event stream), the
    answer read whole. For large answers: gradio_client 2.7.2's stream reader appends each chunk
    to a buffer and searches the buffer from its start for the message's end, so its time grows with
    the square of the answer's size (~90 s of client CPU for the 101 MB float16 answer of
    bert-base at 512 tokens, which the server sends in ~2 s)."""
    import httpx

    name = api.strip("/")
    event = httpx.post(f"{url}gradio_api/call/{name}", json={"data": list(data)}, timeout=None).json()["event_id"]
    with httpx.stream("GET", f"{url}gradio_api/call/{name}/{event}", timeout=None) as response:
        body = response.read().decode("utf-8")
    kind, _, payload = body.partition("\ndata: ")
    if kind != "event: complete":
        raise RuntimeError(payload.strip()[:200] or kind)
    return json.loads(payload)


def _endpoint_row(client, api, args, options, repeats, row) -> dict:
    options = dict(options)
    if options.pop("rest", False):
        note, call = "REST API, read whole (rest_call)", lambda: rest_call(client.src.rstrip("/") + "/", api, args)
    else:
        note, call = ", ".join(f"{k}={v}" for k, v in options.items()), lambda: client.predict(*args, **options, api_name=api)
    answers = []
    try:
        times = timed(lambda: answers.append(call()), repeats)
    except Exception as err:  # the app refused (by design, or a size or time limit): report its message
        message = str(err).splitlines()[0]
        return {**row, "endpoint": api, "p50": float("nan"), "p95": float("nan"), "note": message[:110]}
    notices = answers[-1].get("notices") if isinstance(answers[-1], dict) else None
    if notices:  # e.g. /attention_flow past its work limit: what the answer says it left out
        note = "; ".join(filter(None, [note, notices[0][:110]]))
    return {**row, "endpoint": api, "p50": ms(times, 50), "p95": ms(times, 95), "note": note}


def report(rows: list[dict]) -> list[str]:
    """The table, and the verdict on the target: endpoints behind the views, bert-base at 64
    tokens, p50 at most 2 x (the bare forward passes their work needs) + 50 ms."""
    counts = {r["size"]: r["repeats"] for r in rows}
    lines = [f"Timed calls per endpoint after one warm-up: {', '.join(f'{n} at {s}' for s, n in counts.items())} tokens "
             "(p95 of so few is close to the maximum).", "",
             "| model | tokens | endpoint | forward passes | p50 (ms) | p95 (ms) | bare forward p50 (ms) | "
             "p50 / bare | budget (ms) | within | note |", "|---|---|---|---|---|---|---|---|---|---|---|"]
    verdicts = []
    for r in rows:
        bare = ms(r["bare"], 50)
        passes = r["passes"]
        budget = 2 * passes * bare + 50 if passes is not None else float("nan")
        within = "" if passes is None else ("yes" if r["p50"] <= budget else "no")
        if r["model"] == TARGET and abs(r["tokens"] - TARGET_TOKENS) <= 4 and passes is not None:
            verdicts.append((r["endpoint"], r["p50"], budget, within == "yes"))
        lines.append(f"| {r['model']}-base | {r['tokens']} | {r['endpoint']} | "
                     f"{'raw data' if passes is None else passes} | {r['p50']:.0f} | {r['p95']:.0f} | {bare:.0f} | "
                     f"{r['p50'] / bare:.2f} | {budget:.0f} | {within} | {r['note']} |")
    tab = {r["endpoint"]: r["p50"] for r in rows
           if r["model"] == TARGET and abs(r["tokens"] - TARGET_TOKENS) <= 4}
    met = sum(v[3] for v in verdicts)
    missed = [f"{e} {p:.0f} ms > {b:.0f} ms" for e, p, b, ok in verdicts if not ok]
    summary = (f"Target (bert-base at {TARGET_TOKENS} tokens, every endpoint behind a view): p50 at most 2 x the bare "
               f"forward passes its work needs + 50 ms. Met by {met} of {len(verdicts)}"
               + (": missed by " + ", ".join(missed) + "." if missed else ".")
               + f" The Attention tab is /attention_view, then /attention_overview (every head's weights, drawn): "
               f"{tab.get('/attention_view', float('nan')):.0f} + {tab.get('/attention_overview', float('nan')):.0f} ms.")
    longest = []
    for name in dict.fromkeys(r["model"] for r in rows):
        top = max(r["tokens"] for r in rows if r["model"] == name)
        # An endpoint that refuses this family by design (T5 on /scaling) is no verdict; one stopped
        # by the time limit is over budget.
        judged = [(r["endpoint"], r["p50"], 2 * r["passes"] * ms(r["bare"], 50) + 50) for r in rows
                  if r["model"] == name and r["tokens"] == top and r["passes"] is not None
                  and (np.isfinite(r["p50"]) or "ran longer" in r["note"])]
        over = [f"{e} {p:.0f} ms > {b:.0f} ms" if np.isfinite(p) else f"{e} (stopped)" for e, p, b in judged
                if not p <= b]
        longest.append(f"{name}-base at {top} tokens: {len(judged) - len(over)} of {len(judged)} within budget"
                       + (" (over: " + ", ".join(over) + ")" if over else "") + ".")
    return [summary, "", "At the longest input: " + " ".join(longest), "", *lines]



def figure(rows: list[dict], path: Path) -> None:
    """Cost growth, log-log: each budgeted endpoint's p50 against tokens, one panel per model, with
    the bare forward pass and the budget (2 x forward passes + 50 ms) as reference lines. Written
    with matplotlib (a benchmark-only dependency) as a PNG for docs/benchmarks.md."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import NullFormatter

    models = list(dict.fromkeys(r["model"] for r in rows))
    fig, axes = plt.subplots(1, len(models), figsize=(max(7.5, 5.2 * len(models)), 5), squeeze=False, sharey=True)
    for ax, name in zip(axes[0], models):
        mine = [r for r in rows if r["model"] == name]
        tokens = sorted({r["tokens"] for r in mine})
        bare = [ms(next(r for r in mine if r["tokens"] == t)["bare"], 50) for t in tokens]
        ax.plot(tokens, bare, color="black", linewidth=2.5, label="bare forward pass")
        ax.plot(tokens, [2 * b + 50 for b in bare], color="black", linestyle=":", label="budget: 2 x forward + 50 ms")
        for endpoint in dict.fromkeys(r["endpoint"] for r in mine if r["passes"] == 1):
            points = [(r["tokens"], r["p50"]) for r in mine if r["endpoint"] == endpoint and np.isfinite(r["p50"])]
            if points:  # each panel's Compare column under one name, so the legend has one colour for it
                label = "/compare_<column>" if endpoint.startswith("/compare_") else endpoint
                ax.plot(*zip(*points), marker="o", markersize=3.5, linewidth=1.2, label=label)
        ax.set(xscale="log", yscale="log", title=f"{name}-base", xlabel="tokens")
        ax.set_xticks(tokens, [str(t) for t in tokens])
        ax.xaxis.set_minor_formatter(NullFormatter())
        ax.grid(True, which="both", alpha=0.3)
    axes[0][0].set_ylabel("p50 (ms), log scale")
    by_label = {label: handle for ax in axes[0] for handle, label in zip(*ax.get_legend_handles_labels())}
    fig.legend(list(by_label.values()), list(by_label), loc="lower center", ncol=3, fontsize=8, frameon=False)
    fig.tight_layout(rect=(0, 0.2, 1, 1))
    fig.savefig(path, dpi=110)
    plt.close(fig)
