"""The Decoding tab's text is the text the tokenizer decodes, not the token labels joined, and the
KV-cache chart's times are medians of alternated runs after a warm-up."""

import re
import statistics
from html import escape

import pytest

from models import kv_cache
from models.decoding import Settings, decode, decoding_to_json, text_pieces
from models.loading import get_model
from models.tokens import display_tokens
from viz import decoding as dviz

GPT_PROMPT = "今天天气真好，"
T5_PROMPT = "translate Chinese to English: 我喜欢机器学习"
# Characters outside every embedded tokenizer's hanzi: spelled as loose bytes.
RARE = "龘"


def _decoded_div(html: str) -> str:
    return re.search(r'<div class="decoded"[^>]*>(.*?)</div>', html).group(1)


def test_gpt_step_texts_add_up_to_the_decoded_output():
    result = decode("mini-gpt", GPT_PROMPT, Settings("greedy", max_new_tokens=12))
    tok = get_model("mini-gpt").tokenizer
    joined = "".join(result.step_text)
    assert len(result.step_text) == len(result.steps)
    assert joined == tok.decode(list(result.token_ids), skip_special_tokens=True) == result.text
    assert "".join(result.prompt_text) == GPT_PROMPT
    shown = _decoded_div(dviz.text_html(result, len(result.steps)))
    assert re.sub(r"<[^>]+>", "", shown) == escape(GPT_PROMPT + joined)


def test_byte_level_pieces_wait_for_the_whole_character():
    tok = get_model("mini-gpt").tokenizer
    ids = tok("今天" + RARE + "好")["input_ids"]
    start = len(tok("今天")["input_ids"])
    pieces = text_pieces(tok, ids, start)
    assert len(ids) - start > 2  # the rare character is more than one byte token
    assert pieces[-1] == "好" and "".join(pieces) == RARE + "好"
    assert [p for p in pieces if p] == [RARE, "好"]
    assert "".join(pieces) == tok.decode(ids[start:], skip_special_tokens=True)


def test_t5_text_has_no_piece_marks_and_no_end_token():
    result = decode("mini-t5", T5_PROMPT, Settings("greedy", max_new_tokens=20))
    tok = get_model("mini-t5").tokenizer
    joined = "".join(result.step_text)
    assert result.stopped == "eos" and result.steps[-1].token == "</s>" and result.step_text[-1] == ""
    assert "▁" not in joined and "</s>" not in joined
    assert joined == tok.decode(list(result.token_ids), skip_special_tokens=True) == result.text
    shown = _decoded_div(dviz.text_html(result, len(result.steps)))
    assert "▁" not in shown and "&lt;/s&gt;" not in shown
    assert "".join(result.prompt_text) == T5_PROMPT
    # The labels stay for the token chips.
    html = dviz.text_html(result, len(result.steps))
    assert f'translate="no">{result.steps[1].token}</span>' in html and "&lt;/s&gt;</span>" in html


def test_llama_byte_fallback_character_appears_once_whole():
    tok = get_model("mini-llama").tokenizer
    ids = tok("人工智能" + RARE)["input_ids"]
    assert display_tokens(tok, ids[-3:]) == ("<E9>", "<BE>", "<98>")
    # As a decoder's new tokens: decoded after the prompt, the bytes add "" until the character is whole.
    assert text_pieces(tok, ids, len(ids) - 3) == ("", "", RARE)
    result = decode("mini-llama", "人工智能" + RARE, Settings("greedy", max_new_tokens=3))
    assert result.prompt_text[-3:] == ("", "", RARE)
    html = dviz.text_html(result, len(result.steps))
    shown = _decoded_div(html)
    assert shown.count(RARE) == 1 and "&lt;E9&gt;" not in shown
    # Still framed as unfamiliar in the text, and spelled as bytes among the chips.
    assert f'<span class="unfamiliar" style="{dviz.UNFAMILIAR_STYLE}">{RARE}</span>' in shown
    assert "&lt;E9&gt;</span>" in html


def test_decode_json_carries_each_steps_text():
    result = decode("mini-t5", T5_PROMPT, Settings("greedy", max_new_tokens=6))
    steps = decoding_to_json(result)["steps"]
    assert [s["text"] for s in steps] == list(result.step_text)
    assert [s["token"] for s in steps] == [s.token for s in result.steps]


def test_cache_runs_warm_up_then_alternate(monkeypatch):
    order = []

    def recording(model, prompt, settings):
        order.append(settings.use_cache)
        return decode(model, prompt, settings)

    monkeypatch.setattr(kv_cache, "decode", recording)
    kv_cache.cache_runs("mini-gpt", GPT_PROMPT, 2)
    assert order == [True] + [True, False] * kv_cache.RUNS


@pytest.mark.parametrize("key, prompt", [("mini-gpt", GPT_PROMPT), ("mini-t5", T5_PROMPT)])
def test_cache_times_are_medians_of_several_runs(key, prompt):
    on, off = kv_cache.cache_runs(key, prompt, 4)
    for result in (on, off):
        assert result.runs == kv_cache.RUNS == 3
        assert len(result.run_seconds) == 3 and all(len(run) == len(result.steps) for run in result.run_seconds)
        assert [s.seconds for s in result.steps] == [statistics.median(times) for times in zip(*result.run_seconds)]
    data = kv_cache.cache_to_json(on, off, [])
    assert data["tokens_same"] and data["runs"] == 3
    assert len(data["with_cache"]["step_ms_runs"]) == len(data["without_cache"]["step_ms_runs"]) == 3
    fig = dviz.cache_figure(on, off)
    for line in fig.data[:2]:
        # Step 1 is named as the prefill, the others carry no note; the method is in the hover.
        assert "prefill" in line.hovertext[0] and not any(line.hovertext[1:])
        assert "median of 3 runs" in line.hovertemplate and "warm-up" in line.hovertemplate
    cross = "cross-attention cache" in fig.data[0].hovertext[0]
    assert cross == (key == "mini-t5")
