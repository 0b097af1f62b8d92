"""Query and key vectors against the model: softmax(q . k * scale + bias) over the allowed keys is
the model's own attention row for every family and kind, and the recording copy computes what the
model computes."""

import numpy as np
import pytest
import torch

from models.loading import get_model
from models.qk import qk_to_json, qk_vectors, recording_copy
from models.trace import run_trace

T5_TEXT = "translate Chinese to English: 我喜欢机器学习"


@pytest.mark.parametrize("key, text, kind", [("mini-gpt", "今天天气真好，", ""), ("mini-llama", "I like eating apples", ""),
                                             ("mini-bert", "The cat sat on the mat.", ""), ("mini-mixtral", "我喜欢吃苹果", ""),
                                             ("mini-t5", T5_TEXT, "encoder"), ("mini-t5", T5_TEXT, "decoder"),
                                             ("mini-t5", T5_TEXT, "cross")])
def test_scores_give_the_models_own_attention_row(key, text, kind):
    trace = run_trace(key, text)
    for layer, head, query in ((1, 2, -1), (0, 0, 1)):
        result = qk_vectors(key, text, kind, layer, head, query)
        row = trace.attention(result.kind).attn[layer, head, result.query]
        np.testing.assert_allclose(result.weights, row, atol=1e-6)
        np.testing.assert_allclose(result.products.sum(-1) * result.scaling
                                   + (result.bias if result.bias is not None else 0), result.scores, atol=1e-5)
        assert np.array_equal(result.allowed, trace.attention(result.kind).mask[result.query] > 0)
        assert (result.bias is not None) == (key == "mini-t5")
        assert result.scaling == (1.0 if key == "mini-t5" else pytest.approx(result.q.shape[0] ** -0.5))


def test_llama_keys_are_rotated_and_the_copy_equals_the_model():
    loaded = get_model("mini-llama")
    text = "I like eating apples"
    result = qk_vectors("mini-llama", text, "", 0, 0, -1)
    ids = torch.tensor([loaded.tokenizer(text)["input_ids"]])
    layer = loaded.model.model.layers[0].self_attn
    with torch.inference_mode():
        raw = layer.k_proj(loaded.model.model.layers[0].input_layernorm(loaded.model.model.embed_tokens(ids)))
        clone = recording_copy(loaded.model)
        np.testing.assert_allclose(clone(input_ids=ids).logits.numpy(), loaded.model(input_ids=ids).logits.numpy(),
                                   atol=1e-5)
    # The copy shares the weights (no second copy per request) and leaves the model's attention as it was.
    assert all(a is b for a, b in zip(clone.parameters(), loaded.model.parameters()))
    assert clone.config is not loaded.model.config
    assert loaded.model.config._attn_implementation == "eager" != clone.config._attn_implementation
    head_dim = result.keys.shape[1]
    unrotated = raw[0, :, :head_dim].numpy()  # key/value head 0 serves query head 0
    # Position 0 is not rotated (angle 0); later positions are, with their norms kept.
    np.testing.assert_allclose(result.keys[0], unrotated[0], atol=1e-5)
    assert not np.allclose(result.keys[-1], unrotated[-1], atol=1e-3)
    np.testing.assert_allclose(np.linalg.norm(result.keys, axis=1), np.linalg.norm(unrotated, axis=1), rtol=1e-5)


def test_qk_json_and_refusals():
    data = qk_to_json(qk_vectors("mini-gpt", "hello world", "", 0, 1, 0))
    assert data["query"] == 0 and len(data["keys"]) == len(data["key_tokens"]) == len(data["scores"])
    with pytest.raises(ValueError, match="Layer 9 does not exist"):
        qk_vectors("mini-gpt", "hello", "", 9, 0)
    with pytest.raises(ValueError, match="attention kinds"):
        qk_vectors("mini-gpt", "hello", "cross")
    with pytest.raises(ValueError, match="Position 50 does not exist"):
        qk_vectors("mini-gpt", "hello", "", 0, 0, 50)


def test_rope_before_and_after_the_rotation_agree_with_transformers_own_rotation():
    """The vectors before the rotation are the q_proj / k_proj outputs of the layer's real input;
    transformers' apply_rotary_pos_emb with the model's own angles turns them into the vectors the
    attention reads; the angles are position x frequency; shifting every position leaves the
    scores unchanged (RoPE sees only relative position)."""
    from transformers.models.llama.modeling_llama import apply_rotary_pos_emb

    loaded = get_model("mini-llama")
    text = "The cat chases a mouse in the garden"
    layer, head = 1, 1
    result = qk_vectors("mini-llama", text, "decoder", layer, head, -1)
    model = loaded.model.model
    ids = torch.tensor([loaded.tokenizer(text)["input_ids"]])
    attention = model.layers[layer].self_attn
    head_dim, groups = result.q.shape[0], model.config.num_attention_heads // model.config.num_key_value_heads
    with torch.inference_mode():
        hidden = loaded.model(input_ids=ids, output_hidden_states=True).hidden_states[layer]
        normed = model.layers[layer].input_layernorm(hidden)
        q0 = attention.q_proj(normed)[0].view(ids.shape[1], -1, head_dim)[:, head]
        k0 = attention.k_proj(normed)[0].view(ids.shape[1], -1, head_dim)[:, head // groups]
        positions = torch.arange(ids.shape[1])[None]
        cos, sin = model.rotary_emb(hidden, positions)
        q_rot, k_rot = apply_rotary_pos_emb(q0[None, None], k0[None, None], cos, sin)
        shifted = model.rotary_emb(hidden, positions + 3)
        q_far, k_far = apply_rotary_pos_emb(q0[None, None], k0[None, None], *shifted)
    np.testing.assert_allclose(result.q_before, q0[-1].numpy(), atol=1e-5)
    np.testing.assert_allclose(result.keys_before, k0.numpy(), atol=1e-5)
    np.testing.assert_allclose(result.q, q_rot[0, 0, -1].numpy(), atol=1e-5)
    np.testing.assert_allclose(result.keys, k_rot[0, 0].numpy(), atol=1e-5)
    frequencies = attention.config.rope_parameters["rope_theta"] ** (-np.arange(0, head_dim, 2) / head_dim)
    turned = np.angle(np.exp(1j * (ids.shape[1] - 1) * np.concatenate([frequencies, frequencies])))
    np.testing.assert_allclose(result.query_angles, turned, atol=1e-4)
    np.testing.assert_allclose(result.key_angles[0], 0, atol=1e-7)  # position 0 is not turned
    scale = result.scaling
    np.testing.assert_allclose(result.scores_unrotated, (k0 @ q0[-1]).numpy() * scale, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose((k_far[0, 0] @ q_far[0, 0, -1]).numpy() * scale, result.scores, rtol=1e-4, atol=1e-4)
    assert not np.allclose(result.scores, result.scores_unrotated, atol=1e-2)
    assert qk_to_json(result)["rope"]["q_before"] == pytest.approx(result.q_before.tolist())


def test_a_model_without_rope_has_no_rotation():
    result = qk_vectors("mini-gpt", "The cat chases a mouse")
    assert result.q_before is None and result.key_angles is None and qk_to_json(result)["rope"] is None
