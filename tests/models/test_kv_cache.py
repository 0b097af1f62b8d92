"""The KV cache in two parts: an encoder-decoder's cache holds self-attention keys and values that
grow each step and cross-attention ones over the encoder output that do not (issue 17, item 6)."""

import pytest
import torch

from models import kv_cache
from models.decoding import Settings, decode
from models.loading import get_model
from viz import decoding as dviz

T5_PROMPT = "translate Chinese to English: 我喜欢机器学习"
GPT_PROMPT = "今天天气真好，"


def _tensor_bytes(cache) -> int:
    return sum(t.numel() * t.element_size() for layer in cache.layers for t in (layer.keys, layer.values))


def _generate_cache(key: str, prompt: str, new_tokens: int):
    """The cache transformers' own generate() ends with after `new_tokens` greedy tokens."""
    loaded = get_model(key)
    enc = loaded.tokenizer(prompt, return_tensors="pt")
    with torch.inference_mode():
        out = loaded.model.generate(**enc, max_new_tokens=new_tokens, do_sample=False, return_dict_in_generate=True)
    return out.past_key_values


def test_t5_cache_parts_equal_the_cache_generate_returns():
    result = decode("mini-t5", T5_PROMPT, Settings("greedy", max_new_tokens=6))
    steps = result.steps
    source = len(result.prompt_tokens)
    assert source == 14 and len(steps) == 6
    # Step n has fed the start token and n - 1 generated tokens, as generate() has after n new tokens.
    for n in (1, 4, 6):
        cache = _generate_cache("mini-t5", T5_PROMPT, n)
        assert steps[n - 1].self_cache_bytes == _tensor_bytes(cache.self_attention_cache)
        assert steps[n - 1].cross_cache_bytes == _tensor_bytes(cache.cross_attention_cache)
    # mini-t5: 2 decoder layers, 4 heads of 32 dimensions, float32 (4 bytes).
    assert kv_cache.kv_config(get_model("mini-t5")) == (2, 4, 32)
    assert [s.self_cache_bytes for s in steps] == [2 * 2 * 4 * 32 * n * 4 for n in range(1, 7)]
    assert steps[0].self_cache_bytes == 2_048 and steps[-1].self_cache_bytes == 12_288
    # The cross part is the encoder output's 14 tokens, computed at step 1 and fixed after.
    assert {s.cross_cache_bytes for s in steps} == {kv_cache.kv_cache_bytes(2, 4, 32, source, bits=32)} == {28_672}
    assert all(s.cache_bytes == s.self_cache_bytes + s.cross_cache_bytes for s in steps)
    assert steps[0].cache_bytes == 30_720 and steps[-1].cache_bytes == 40_960


def test_a_decoder_cache_has_no_cross_part():
    result = decode("mini-llama", GPT_PROMPT, Settings("greedy", max_new_tokens=4))
    cache = _generate_cache("mini-llama", GPT_PROMPT, 4)
    assert result.steps[-1].self_cache_bytes == _tensor_bytes(cache) == result.steps[-1].cache_bytes
    assert all(s.cross_cache_bytes == 0 for s in result.steps)
    off = decode("mini-t5", T5_PROMPT, Settings("greedy", max_new_tokens=2, use_cache=False))
    assert [(s.self_cache_bytes, s.cross_cache_bytes) for s in off.steps] == [(0, 0), (0, 0)]


def test_calculator_rows_split_self_and_cross_attention():
    rows = kv_cache.calculator_rows("mini-t5")
    t5 = {(r["context"], r["bits"]): r for r in rows if r["model"] == "Mini T5 (embedded)"}
    row = t5[(8_192, 16)]
    assert row["self_bytes"] == 2 * 2 * 4 * 32 * 8_192 * 2 == 8 * 2**20
    assert row["source_tokens"] == 8_192 and row["cross_bytes"] == row["self_bytes"]
    assert row["bytes"] == row["self_bytes"] + row["cross_bytes"] == 16 * 2**20
    llama = [r for r in rows if r["model"] == "Llama-3.1-8B" and r["context"] == 8_192 and r["bits"] == 16][0]
    assert (llama["bytes"], llama["self_bytes"], llama["cross_bytes"], llama["source_tokens"]) == (2**30, 2**30, 0, 0)
    # A given source length: T5 reading 14 input tokens, the cross part no longer grows with the context.
    short = kv_cache.kv_table({"t5": (2, 4, 32)}, contexts=(10, 1_000), bits=(32,), encoder_decoders={"t5"},
                              source_tokens=14)
    assert [r["cross_bytes"] for r in short] == [28_672, 28_672]
    assert [r["self_bytes"] for r in short] == [2 * 2 * 4 * 32 * 10 * 4, 2 * 2 * 4 * 32 * 1_000 * 4]
    table = dviz.kv_table_markdown(rows)
    assert "| Mini T5 (embedded) (2, 4, 32) | 8,192 | 16.00 MiB = 8.00 MiB self + 8.00 MiB cross |" in table
    assert "| Llama-3.1-8B (32, 8, 128) | 8,192 | 1.00 GiB | 512.00 MiB | 256.00 MiB |" in table
    assert "cross-attention cache" in table
    assert "cross" not in dviz.kv_table_markdown(kv_cache.kv_table({"Llama-3.1-8B": kv_cache.KV_CONFIGS["Llama-3.1-8B"]}))


def test_live_figure_and_json_name_both_parts():
    on, off = kv_cache.cache_runs("mini-t5", T5_PROMPT, 6)
    fig = dviz.cache_figure(on, off)
    bars = [t for t in fig.data if t.type == "bar"]
    assert [b.name.split(" (")[0] for b in bars] == ["self-attention cache", "cross-attention cache"]
    assert list(bars[0].y) == [s.self_cache_bytes / 1024 for s in on.steps] == [2.0, 4.0, 6.0, 8.0, 10.0, 12.0]
    assert list(bars[1].y) == [28.0] * 6 and fig.layout.barmode == "stack"
    assert "14 tokens" in bars[1].name
    summary = dviz.cache_summary_markdown(on)
    assert "2,048 B of self-attention" in summary and "28,672 B of cross-attention" in summary
    assert "after step 6, 12,288 B self-attention and 28,672 B cross-attention" in summary
    html = dviz.text_html(on, 1)
    assert "KV cache 30,720 B = 2,048 B self-attention + 28,672 B cross-attention" in html
    data = kv_cache.cache_to_json(on, off, [])["with_cache"]
    assert data["self_cache_bytes"] == [2_048 * n for n in range(1, 7)] and data["cross_cache_bytes"] == [28_672] * 6
    assert data["cache_bytes"] == [a + b for a, b in zip(data["self_cache_bytes"], data["cross_cache_bytes"])]
    assert data["source_tokens"] == 14
    gpt_on, gpt_off = kv_cache.cache_runs("mini-gpt", GPT_PROMPT, 3)
    gpt = dviz.cache_figure(gpt_on, gpt_off)
    assert [t.name.split(" (")[0] for t in gpt.data if t.type == "bar"] == ["self-attention cache"]
    assert "no cross-attention cache" in dviz.cache_summary_markdown(gpt_on)
    assert "(self-attention)" in dviz.text_html(gpt_on, 2)


@pytest.mark.parametrize("key, prompt", [("mini-t5", T5_PROMPT), ("mini-gpt", GPT_PROMPT)])
def test_beam_search_cache_parts_add_up(key, prompt):
    result = decode(key, prompt, Settings("beam", num_beams=3, max_new_tokens=4))
    assert all(s.cache_bytes == s.self_cache_bytes + s.cross_cache_bytes > 0 for s in result.steps)
    # Three beams: three rows of the encoder output's keys and values.
    expected = kv_cache.kv_cache_bytes(2, 4, 32, len(result.prompt_tokens), bits=32, batch=3) if key == "mini-t5" else 0
    assert {s.cross_cache_bytes for s in result.steps} == {expected}
