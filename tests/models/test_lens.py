"""The logit lens against transformers itself: its last layer is the model's own output, and its
earlier layers are the head applied to the stream as an independent computation gives it."""

import numpy as np
import pytest
import torch

from models.lens import lens_to_json, logit_lens
from models.loading import get_model


def _softmax(logits: torch.Tensor, vocab: int) -> np.ndarray:
    return torch.softmax(logits[..., :vocab].double(), -1).numpy()


def _check_layer(result, layer: int, probs: np.ndarray) -> None:
    """Layer `layer` of the lens has the top tokens and probabilities of `probs` (positions, vocab)."""
    k = result.top_ids.shape[-1]
    # The k most probable tokens (ids compared by their probabilities: near-ties may swap).
    np.testing.assert_allclose(np.take_along_axis(probs, result.top_ids[layer], -1), result.top_probs[layer], atol=2e-5)
    np.testing.assert_allclose(result.top_probs[layer], -np.sort(-probs, -1)[:, :k], atol=2e-5)
    final = probs[np.arange(len(probs)), result.final_ids]
    np.testing.assert_allclose(result.final_prob[layer], final, atol=2e-5)
    # The rank, up to tokens whose probability ties the final one's within float32 rounding.
    above, tied = (probs > final[:, None] + 1e-6).sum(-1), (np.abs(probs - final[:, None]) <= 1e-6).sum(-1)
    assert ((above <= result.final_rank[layer]) & (result.final_rank[layer] < above + tied)).all()


@pytest.mark.parametrize("key, text", [("mini-gpt", "今天天气真好，"), ("mini-llama", "I like eating apples"),
                                       ("mini-mixtral", "我喜欢吃苹果")])
def test_decoder_lens_equals_the_model_at_the_last_layer_and_its_own_head_on_every_stream(key, text):
    loaded = get_model(key)
    model, vocab = loaded.model, len(loaded.tokenizer)
    result = logit_lens(key, text)
    ids = torch.tensor([loaded.tokenizer(text)["input_ids"]])
    with torch.inference_mode():
        out = model(input_ids=ids, output_hidden_states=True)
        own = _softmax(out.logits[0], vocab)
        _check_layer(result, -1, own)
        assert (result.final_ids == own.argmax(-1)).all() and (result.final_rank[-1] == 0).all()
        # The earlier streams as transformers reports them (the last one already normed), through
        # the final norm and the head, computed here by hand from the weights.
        norm = model.transformer.ln_f if hasattr(model, "transformer") else model.model.norm
        weight = model.get_output_embeddings().weight
        for layer in range(result.top_ids.shape[0] - 1):
            _check_layer(result, layer, _softmax(norm(out.hidden_states[layer][0]) @ weight.T, vocab))
    assert result.positions == tuple(range(ids.shape[1])) and result.head_scale == pytest.approx(1.0, abs=1e-5)


def test_t5_lens_reads_the_decoder_with_its_norm_and_rescale():
    loaded = get_model("mini-t5")
    model, tok = loaded.model, loaded.tokenizer
    text = "translate Chinese to English: 我喜欢机器学习"
    result = logit_lens("mini-t5", text)
    assert result.stack == "decoder" and result.tokens[2:6] == ("I", "▁love", "▁machine", "▁learning")
    enc = tok(text, return_tensors="pt")
    with torch.inference_mode():
        generated = model.generate(**enc, do_sample=False, max_new_tokens=32)
        out = model(**enc, decoder_input_ids=generated, output_hidden_states=True)
        _check_layer(result, -1, _softmax(out.logits[0], len(tok)))
        assert model.config.tie_word_embeddings
        assert result.head_scale == pytest.approx(model.config.d_model ** -0.5, rel=1e-4)
        first = model.decoder.final_layer_norm(model.shared(generated)[0]) * model.config.d_model ** -0.5
        _check_layer(result, 0, _softmax(first @ model.lm_head.weight.T, len(tok)))


def test_bert_lens_reads_its_masks_through_the_whole_mlm_head():
    loaded = get_model("mini-bert")
    model, tok = loaded.model, loaded.tokenizer
    text = "The cat [MASK] on the mat. I like [MASK] apples."
    result = logit_lens("mini-bert", text)
    ids = tok(text, return_tensors="pt")
    masks = tuple(int(i) for i in (ids["input_ids"][0] == tok.mask_token_id).nonzero()[:, 0])
    assert len(masks) == 2 and result.positions == masks and result.stack == "encoder"
    with torch.inference_mode():
        out = model(**ids)
        logits = out.prediction_logits if hasattr(out, "prediction_logits") else out.logits
        _check_layer(result, -1, _softmax(logits[0, list(masks)], len(tok)))
        embedded = model.bert.embeddings(input_ids=ids["input_ids"], token_type_ids=ids["token_type_ids"])
        _check_layer(result, 0, _softmax(model.cls.predictions(embedded)[0, list(masks)], len(tok)))
    without = logit_lens("mini-bert", "The cat sat on the mat.")
    assert without.positions == tuple(range(len(without.tokens)))


def test_lens_json_and_refusals():
    data = lens_to_json(logit_lens("mini-gpt", "I like eating apples", top_k=3))
    assert data["layers"] == len(data["top_ids"]) and len(data["top_ids"][0][0]) == 3
    assert data["final_rank"][-1] == [0] * len(data["positions"]) and data["notices"] == []
    for bad in (0, 21):
        with pytest.raises(ValueError, match="top_k must be between 1 and 20"):
            logit_lens("mini-gpt", "hello", top_k=bad)
