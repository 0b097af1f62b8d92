"""The benchmark's own arithmetic: texts of a given token count, budgets and verdicts."""

import numpy as np
from transformers import AutoTokenizer

from benchmarks import latency
from models.registry import ASSETS


def test_text_of_gives_the_longest_prefix_within_the_count():
    tok = AutoTokenizer.from_pretrained(ASSETS / "mini-bert")
    for n in (16, 64, 256):
        text = latency.text_of(tok, n)
        count = len(tok(text)["input_ids"])
        longer = " ".join((latency.PASSAGE * 40).split()[:len(text.split()) + 1])
        assert count <= n < len(tok(longer)["input_ids"]) and count >= n - 8


def _row(endpoint, p50, passes, model="bert", tokens=64):
    return dict(model=model, tokens=tokens, endpoint=endpoint, p50=p50, p95=p50, passes=passes, note="",
                bare=[0.100, 0.100, 0.100], size=tokens, repeats=3)


def test_budget_is_two_bare_passes_per_needed_pass_plus_50_ms():
    rows = [_row("/compare_bert", 249, 1), _row("/attention_view", 251, 1), _row("/order_experiment", 849, 4),
            _row("/attention_data", 5000, None), _row("/compare_bert", 999, 1, tokens=512)]
    lines = latency.report(rows)
    assert lines[0].startswith("Target") and "Met by 2 of 3: missed by /attention_view 251 ms > 250 ms." in lines[0]
    table = [line.split(" | ") for line in lines if line.startswith("| bert-base")]
    assert [t[8] for t in table] == ["250", "250", "850", "nan", "250"]
    assert [t[9] for t in table] == ["yes", "no", "yes", "", "no"]
    assert table[3][3] == "raw data" and np.isclose(float(table[2][7]), 8.49)
    assert lines[2] == "At the longest input: bert-base at 512 tokens: 0 of 1 within budget (over: /compare_bert 999 ms > 250 ms)."


def test_the_longest_input_verdict_skips_refusals_by_design_and_counts_stopped_requests():
    refused = dict(_row("/scaling", float("nan"), 1, model="t5", tokens=511), note="T5 does not divide its scores")
    stopped = dict(_row("/attention_flow", float("nan"), 1, model="t5", tokens=511), note="This request ran longer than 30 s")
    lines = latency.report([_row("/compare_t5", 240, 1, model="t5", tokens=511), refused, stopped])
    assert lines[2] == "At the longest input: t5-base at 511 tokens: 1 of 2 within budget (over: /attention_flow (stopped))."


def test_rest_call_reads_the_answer_gradio_client_gets(live_url):
    from gradio_client import Client

    args = ("mini-gpt", "The cat chases a mouse", -1, "en", "float16")
    (answer,) = latency.rest_call(live_url, "/attention_data", args)
    expected = Client(live_url, verbose=False).predict(*args, api_name="/attention_data")
    assert answer == expected and answer["decoder"]["attentions"]["dtype"] == "float16"
