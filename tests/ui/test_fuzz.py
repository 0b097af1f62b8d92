"""Hypothesis-driven bad input for every public endpoint, called as the server calls it: each
answer is a result or a clear gr.Error (never an internal error, never a crash).

The suite tries 50 fixed (derandomized) inputs per endpoint. `python -m benchmarks` runs this file
with TRIPTYCH_FUZZ_EXAMPLES (inputs per endpoint) and TRIPTYCH_FUZZ_RANDOM=1 (fresh random inputs)
and reads the counts from the JSON file named by TRIPTYCH_FUZZ_REPORT.
"""

import json
import inspect
import os
from collections import Counter

import gradio as gr
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ui import api

TRIED: dict[str, int] = {}
OUTCOMES: dict[str, Counter] = {}
EXAMPLES = int(os.environ.get("TRIPTYCH_FUZZ_EXAMPLES", "50"))

MODELS = st.sampled_from(["mini-bert", "mini-gpt", "mini-t5", "mini-llama", "mini-mixtral"]) | st.text(max_size=40) \
    | st.sampled_from(["", "../../etc/passwd", "/tmp", "openai-community/gpt2x", "gpt2; rm -rf /", None])
TEXTS = st.text(max_size=300) | st.text(min_size=2000, max_size=3000) \
    | st.sampled_from(["", "   ", "[MASK]", "[SEP]", "<script>alert(1)</script>", "\x00\x01", "🤖" * 50, None])
NUMBERS = st.floats(allow_nan=True, allow_infinity=True) | st.integers(min_value=-10**12, max_value=10**12) \
    | st.sampled_from([0, 1, -1, 2**63, float("nan"), "3", "x", None])
FUZZ = settings(max_examples=EXAMPLES, deadline=None, derandomize=os.environ.get("TRIPTYCH_FUZZ_RANDOM") != "1",
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])


def _call(name, *args):
    TRIED[name] = TRIED.get(name, 0) + 1
    outcomes = OUTCOMES.setdefault(name, Counter())
    fn = getattr(api, name)
    # Keyword-only arguments (an endpoint's later additions) take the last values by name.
    named = [p.name for p in inspect.signature(fn).parameters.values() if p.kind == inspect.Parameter.KEYWORD_ONLY]
    split = len(args) - len(named)
    try:
        result = fn(*args[:split], **dict(zip(named, args[split:])))
    except gr.Error as err:
        outcomes["internal error" if err.title == "Internal error · 内部错误" else "clear error"] += 1
        assert err.title != "Internal error · 内部错误", (name, args, err.message)
        assert err.message and len(err.message) < 2000
        return None
    outcomes["result"] += 1
    assert isinstance(result, (dict, list)), (name, type(result))
    return result


# Every public endpoint and what each of its arguments may be.
ENDPOINTS = {
    "api_attention_data": (MODELS, TEXTS, NUMBERS, st.sampled_from(["json", "float16", "float32", "npz", "", None])),
    "api_head_patterns": (MODELS, TEXTS),
    "api_attention_rank": (MODELS, TEXTS, NUMBERS),
    "api_attention_flow": (MODELS, TEXTS, NUMBERS, st.sampled_from(["", "encoder", "decoder", "cross", "x", None])),
    "api_mask_data": (TEXTS, TEXTS, NUMBERS),
    "api_decode": (MODELS, TEXTS, st.sampled_from(["greedy", "sample", "beam", "nucleus", "", None]),
                   NUMBERS, NUMBERS, NUMBERS, NUMBERS, NUMBERS, NUMBERS),
    "api_kv_cache": (MODELS, TEXTS, NUMBERS),
    "api_architecture": (MODELS,),
    "api_objectives": (MODELS, TEXTS, TEXTS, NUMBERS),
    "api_order_experiment": (MODELS, TEXTS, NUMBERS),
    "api_scaling": (MODELS, TEXTS, NUMBERS, NUMBERS),
    "api_moe_routing": (MODELS, TEXTS),
    "api_logit_lens": (MODELS, TEXTS, NUMBERS),
    "api_ablate": (MODELS, TEXTS, st.one_of(TEXTS, st.sampled_from(["0:0", "1:2, 0:1", "9:9", "0-1", ""]), NUMBERS),
                   st.sampled_from(["", "encoder", "decoder", "cross", None])),
    "api_attribution": (MODELS, TEXTS, st.one_of(TEXTS, st.sampled_from(["", "apples"])),
                        st.one_of(TEXTS, st.sampled_from(["", "bananas"])), NUMBERS),
    "api_attention_pair": (MODELS, TEXTS, TEXTS, st.one_of(MODELS, st.just("")), st.sampled_from(["", "encoder", "decoder", "cross", "x"]),
                           NUMBERS, NUMBERS),
    "api_qk_vectors": (MODELS, TEXTS, st.sampled_from(["", "encoder", "decoder", "cross", "x", None]), NUMBERS, NUMBERS,
                       NUMBERS),
}


@pytest.mark.parametrize("name", sorted(ENDPOINTS))
def test_endpoint(name):
    @FUZZ
    @given(st.tuples(*ENDPOINTS[name]))
    def fuzz(args):
        _call(name, *args)

    fuzz()


def test_report_how_many_inputs_were_tried():
    """Runs last in this file: every endpoint got its inputs."""
    endpoints = [fn.__name__ for fn in api.ENDPOINTS.values() if fn is not api.api_models]
    missing = [n for n in endpoints if TRIED.get(n, 0) < EXAMPLES]
    assert not missing, missing
    print(f"fuzzing: {sum(TRIED.values())} inputs over {len(TRIED)} endpoints")
    if os.environ.get("TRIPTYCH_FUZZ_REPORT"):
        with open(os.environ["TRIPTYCH_FUZZ_REPORT"], "w", encoding="utf-8") as out:
            json.dump({name: dict(OUTCOMES[name]) for name in sorted(OUTCOMES)}, out, indent=1)
