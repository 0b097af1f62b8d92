"""Each step's numbers under sampling: the model's own distribution and the one the token was
drawn from, named apart (issue 17, item 8), and temperatures too small to divide by (item 2)."""

import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch

from models import decoding, sampling
from models.decoding import Settings, decode
from models.loading import get_model
from models.numeric import entropy
from viz import decoding as dviz

GPT_PROMPT = "今天天气真好，"
ROOT = Path(__file__).resolve().parents[2]


def _generate_distributions(key, prompt, n, seed, **knobs):
    """transformers' own sampled run: its tokens, and per step the softmax of the raw logits (the
    model's distribution) and of the processed scores (the distribution it sampled from)."""
    loaded = get_model(key)
    enc = loaded.tokenizer(prompt, return_tensors="pt")
    torch.manual_seed(seed)
    with torch.inference_mode():
        out = loaded.model.generate(**enc, do_sample=True, max_new_tokens=n, output_scores=True, output_logits=True,
                                    return_dict_in_generate=True, **knobs)
    tokens = out.sequences[0, enc["input_ids"].shape[1]:].tolist()
    model = [torch.softmax(l[0].float(), -1) for l in out.logits]
    sampled = [torch.softmax(s[0].float(), -1) for s in out.scores]
    return tokens, model, sampled


def test_top_k_1_reports_the_models_own_probability():
    greedy = decode("mini-gpt", GPT_PROMPT, Settings("greedy", max_new_tokens=5))
    top1 = decode("mini-gpt", GPT_PROMPT, Settings("sample", 1.0, 1, 1.0, seed=0, max_new_tokens=5))
    assert top1.token_ids == greedy.token_ids
    # The model's own numbers are greedy's, token for token (before the fix: 1.0, 0 and -0.0).
    assert [s.prob for s in top1.steps] == [s.prob for s in greedy.steps]
    assert [s.logprob_sum for s in top1.steps] == [s.logprob_sum for s in greedy.steps]
    assert [s.entropy for s in top1.steps] == [s.entropy for s in greedy.steps]
    probs = [s.model_prob for s in top1.steps]
    assert probs == pytest.approx([0.7037, 0.9755, 0.9987, 0.2171, 0.9954], abs=1e-4)
    assert top1.steps[-1].model_logprob_sum == pytest.approx(sum(math.log(p) for p in probs)) == pytest.approx(-1.9093,
                                                                                                                abs=1e-4)
    # The distribution sampled from is one-hot: probability 1, log-probability 0, entropy +0.
    assert [s.sample_prob for s in top1.steps] == [1.0] * 5
    assert [s.sample_logprob_sum for s in top1.steps] == [0.0] * 5
    assert all(s.sample_entropy == 0.0 and math.copysign(1.0, s.sample_entropy) == 1.0 for s in top1.steps)
    # Greedy samples nothing: no sampled-from numbers.
    assert all(s.sample_prob is s.sample_logprob_sum is s.sample_entropy is None for s in greedy.steps)
    # transformers' generate() gives the same: raw logits for the model, processed scores for the sampler.
    tokens, model, sampled = _generate_distributions("mini-gpt", GPT_PROMPT, 5, 0, top_k=1)
    assert tokens == list(top1.token_ids)
    assert probs == pytest.approx([float(m[t]) for m, t in zip(model, tokens)], abs=1e-6)
    assert [float(s[t]) for s, t in zip(sampled, tokens)] == [1.0] * 5


@pytest.mark.parametrize("key, prompt", [("mini-gpt", GPT_PROMPT), ("mini-llama", "I like eating")])
def test_both_distributions_equal_generates(key, prompt):
    result = decode(key, prompt, Settings("sample", 1.5, 20, 0.9, seed=7, max_new_tokens=8))
    tokens, model, sampled = _generate_distributions(key, prompt, 8, 7, temperature=1.5, top_k=20, top_p=0.9)
    assert list(result.token_ids) == tokens
    model_sum = sample_sum = 0.0
    for s, m, q, t in zip(result.steps, model, sampled, tokens):
        assert s.model_prob == pytest.approx(float(m[t]), abs=1e-6)
        assert s.sample_prob == pytest.approx(float(q[t]), abs=1e-6)
        assert s.model_entropy == pytest.approx(float(entropy(m.numpy())), abs=1e-5)
        assert s.sample_entropy == pytest.approx(float(entropy(q.numpy())), abs=1e-5)
        model_sum += math.log(s.model_prob)
        sample_sum += math.log(s.sample_prob)
        assert s.model_logprob_sum == pytest.approx(model_sum) and s.sample_logprob_sum == pytest.approx(sample_sum)
    # Temperature 1.5 flattens, top-k and top-p then cut the tail: the two really differ.
    assert any(abs(s.model_prob - s.sample_prob) > 0.01 for s in result.steps)


def test_json_and_page_name_both_distributions():
    top1 = decode("mini-gpt", GPT_PROMPT, Settings("sample", 1.0, 1, 1.0, max_new_tokens=4))
    step = decoding.decoding_to_json(top1)["steps"][3]
    assert step["model_prob"] == step["prob"] == pytest.approx(0.2171, abs=1e-4)
    assert step["model_logprob_sum"] == step["logprob_sum"] == pytest.approx(-1.9047, abs=1e-4)
    assert step["model_entropy"] == step["entropy"] == pytest.approx(2.5550, abs=1e-4)
    assert (step["sample_prob"], step["sample_logprob_sum"], step["sample_entropy"]) == (1.0, 0.0, 0.0)
    beam = decoding.decoding_to_json(decode("mini-gpt", GPT_PROMPT, Settings("beam", num_beams=2, max_new_tokens=3)))
    assert all(s["sample_prob"] is None and s["model_prob"] == s["prob"] for s in beam["steps"])
    html = dviz.text_html(top1, 4)
    assert "the model's own distribution: log-probability so far -1.905, entropy 2.555 nats" in html
    assert ("the distribution sampled from (after temperature, top-k, top-p): log-probability so far 0.000, "
            "entropy 0.000 nats") in html
    assert 'title="step 4: model p = 0.2171 · sampled from p = 1.0000"' in html
    assert "-0.000" not in html
    title = dviz.stages_figure(top1, 3).layout.title.text
    assert "model p = 0.217 · sampled from p = 1.000" in title
    greedy = dviz.text_html(decode("mini-gpt", GPT_PROMPT, Settings("greedy", max_new_tokens=4)), 4)
    assert "model's own distribution" in greedy and "sampled from" not in greedy


def test_entropy_and_numbers_never_read_minus_zero():
    one_hot = np.array([0.0, 1.0, 0.0], np.float32)
    assert math.copysign(1.0, float(entropy(one_hot))) == 1.0
    assert entropy(np.array([[0.5, 0.5], [1.0, 0.0]], np.float32)).tolist() == pytest.approx([math.log(2), 0.0])
    assert dviz.fixed(-0.0) == dviz.fixed(-1e-9) == "0.000" and dviz.fixed(-0.0126) == "-0.013"


def test_a_temperature_too_small_to_divide_by_is_refused():
    from ui import i18n

    for tiny in (1e-300, 5e-324, 1e-7):
        with pytest.raises(ValueError, match="too close to 0") as err:
            decode("mini-gpt", GPT_PROMPT, Settings("sample", tiny, max_new_tokens=2))
        assert "\n" in i18n.bilingual(str(err.value))  # messages.json carries its Chinese
    # The smallest allowed temperature is computable, and as sharp as greedy decoding.
    sharp = decode("mini-gpt", GPT_PROMPT, Settings("sample", sampling.MIN_TEMPERATURE, max_new_tokens=5))
    assert sharp.token_ids == decode("mini-gpt", GPT_PROMPT, Settings("greedy", max_new_tokens=5)).token_ids
    assert all(s.sample_prob == pytest.approx(1.0) and s.sample_entropy < 1e-6 for s in sharp.steps)
    # Logits huge enough to overflow even there are stopped before torch.multinomial sees NaN.
    ids = torch.zeros(1, 1, dtype=torch.long)
    with pytest.raises(ValueError, match="overflow") as err:
        sampling.warp(torch.tensor([[1e35, 0.0, -1e35]]), ids, Settings("sample", 1e-5))
    assert "\n" in i18n.bilingual(str(err.value))
    # Through the API and the page's Step button: a clear error in both languages, not "Internal error".
    import gradio as gr

    from ui import api
    from ui.tabs import decoding as tab

    with pytest.raises(gr.Error, match="too close to 0") as err:
        api.api_decode("mini-gpt", GPT_PROMPT, "sample", 1e-300, 0, 1.0, 0, 3, 1)
    assert err.value.title == "Cannot do that · 无法执行" and "温度" in err.value.message
    with pytest.raises(gr.Error, match="too close to 0"):
        tab.decode_move("step", "mini-gpt", GPT_PROMPT, "sample", 1e-300, 0, 1.0, 0, 3, 2, True, None, 0)
    patterns = [m["pattern"] for m in json.loads((ROOT / "assets/i18n/messages.json").read_text(encoding="utf-8"))]
    assert sum("too close to 0" in p or "overflow;" in p for p in patterns) == 2
