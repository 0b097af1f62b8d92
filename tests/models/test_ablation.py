"""Head ablation against independent computations: no head off is the plain run; heads off by
the hooks equal the same heads cut out of a copy of the model's weights (the output projection's
input columns set to zero), which is what switching a head off means."""

import copy

import numpy as np
import pytest
import torch

from models import ablation, architecture
from models.loading import get_model

CASES = [("mini-gpt", "今天天气真好，", "decoder", "attn.c_proj"), ("mini-llama", "I like eating", "decoder", "self_attn.o_proj"),
         ("mini-bert", "The cat [MASK] on the mat.", "encoder", "attention.output.dense"),
         ("mini-t5", "translate Chinese to English: 我喜欢机器学习", "encoder", "SelfAttention.o"),
         ("mini-t5", "translate Chinese to English: 我喜欢机器学习", "decoder", "SelfAttention.o")]


@pytest.mark.parametrize("key, text, kind, suffix", CASES)
def test_the_output_projection_is_found_by_what_it_reads(key, text, kind, suffix):
    loaded = get_model(key)
    names = {id(m): n for n, m in loaded.model.named_modules()}
    found = [names[id(m)] for m in ablation.out_projections(loaded, kind)]
    assert all(name.endswith(suffix) for name in found) and len(set(found)) == len(found)
    if key == "mini-t5":
        assert all(("decoder." in name) == (kind == "decoder") for name in found)


def _cut(model, projection_name: str, heads: list[int], count: int):
    """A copy of the model with those heads' columns of the output projection zeroed."""
    clone = copy.deepcopy(model)
    module = clone.get_submodule(projection_name)
    weight = module.weight.data
    # nn.Linear keeps (out, in); GPT-2's Conv1D keeps (in, out).
    width = (weight.shape[0] if type(module).__name__ == "Conv1D" else weight.shape[1]) // count
    for h in heads:
        if type(module).__name__ == "Conv1D":
            weight[h * width:(h + 1) * width, :] = 0
        else:
            weight[:, h * width:(h + 1) * width] = 0
    return clone


@pytest.mark.parametrize("key, text, kind, suffix", CASES)
def test_heads_off_equal_the_same_heads_cut_from_the_weights(key, text, kind, suffix):
    loaded = get_model(key)
    model, tok = loaded.model, loaded.tokenizer
    count = architecture.dims(model.config).heads
    result = ablation.ablate(key, text, "1:0, 1:2, 0:1", kind, rank_heads=False)
    assert result.heads_off == ((0, 1), (1, 0), (1, 2))
    names = {id(m): n for n, m in model.named_modules()}
    projections = [names[id(m)] for m in ablation.out_projections(loaded, kind)]
    clone = _cut(_cut(model, projections[1], [0, 2], count), projections[0], [1], count)
    enc = {k: v for k, v in tok(text, return_tensors="pt").items() if k in ("input_ids", "attention_mask", "token_type_ids")}
    if loaded.family != "encoder":
        enc.pop("token_type_ids", None)
    extra = {"decoder_input_ids": torch.tensor([[model.generation_config.decoder_start_token_id]])} \
        if loaded.family == "encoder-decoder" else {}
    with torch.inference_mode():
        plain, cut = (m(**enc, **extra) for m in (model, clone))
        logits = [getattr(o, "logits", None) if getattr(o, "logits", None) is not None else o.prediction_logits
                  for o in (plain, cut)]
    vocab = len(tok)
    own, gone = (torch.softmax(x[0, result.position, :vocab].double(), -1).numpy() for x in logits)
    np.testing.assert_allclose(result.base_probs, own[result.base_ids], atol=1e-5)
    np.testing.assert_allclose(result.ablated_probs, gone[result.ablated_ids], atol=1e-5)
    assert np.all(np.diff(result.ablated_probs) <= 0) and result.kl >= 0


def test_no_head_off_is_the_plain_run_and_the_ranking_is_one_ablation_per_head():
    result = ablation.ablate("mini-gpt", "I like eating apples and", "")
    assert result.heads_off == () and result.kl == 0 and result.base_text == result.ablated_text
    np.testing.assert_array_equal(result.base_probs, result.ablated_probs)
    loaded = get_model("mini-gpt")
    layers, heads = len(ablation.out_projections(loaded, "decoder")), architecture.dims(loaded.model.config).heads
    assert result.single_drop.shape == (layers, heads)
    one = ablation.ablate("mini-gpt", "I like eating apples and", "2:3", rank_heads=False)
    assert result.single_drop[2, 3] == pytest.approx(one.prediction_prob[0] - one.prediction_prob[1], abs=1e-6)


@pytest.mark.parametrize("heads, message", [("0-1", "layer:head"), ("9:0", "Head 9:0 does not exist"),
                                            ([("a", 1)], "layer:head")])
def test_bad_heads_are_refused(heads, message):
    with pytest.raises(ValueError, match=message):
        ablation.ablate("mini-gpt", "hello", heads)


def test_bert_needs_a_mask_and_kinds_are_checked():
    with pytest.raises(ValueError, match=r"put \[MASK\] in the text"):
        ablation.ablate("mini-bert", "The cat sat on the mat.", "0:0")
    with pytest.raises(ValueError, match="self-attention kinds"):
        ablation.ablate("mini-gpt", "hello", "0:0", "cross")


def test_a_text_that_fills_the_position_table_is_compared_without_a_continuation():
    result = ablation.ablate("mini-gpt", "x" * 300, "0:0", rank_heads=False)
    assert result.base_text == result.ablated_text == "" and "no greedy continuation" in result.notices[-1]
