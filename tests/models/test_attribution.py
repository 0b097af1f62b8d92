"""Input attribution: integrated gradients are complete (they sum to f(x) - f(baseline)), linear
in f (the contrastive scores are the difference of the two targets' scores), and f is the model's
own log-probability of the target, read where the page says."""

import numpy as np
import pytest
import torch

from models.attribution import attribute, attribution_to_json
from models.loading import get_model


# T5's feed-forward layers are ReLU: the path from the baseline has kinks, and the midpoint rule
# needs more points to reach 2 % (measured on mini-t5: gap 2.7 % at 64 steps, 0.9 % at 128,
# 0.14 % at 256). The smooth GELU / SiLU models reach it at 64.
@pytest.mark.parametrize("key, text, steps", [("mini-gpt", "我喜欢吃苹果，他喜欢吃", 64), ("mini-llama", "I like eating", 64),
                                              ("mini-bert", "The cat [MASK] on the mat.", 64),
                                              ("mini-t5", "translate Chinese to English: 我喜欢机器学习", 256)])
def test_integrated_gradients_are_complete(key, text, steps):
    result = attribute(key, text, steps=steps)
    total = result.value - result.baseline_value
    assert abs(total) > 0.5  # the baseline is far from the input: the check is not trivial
    assert abs(result.completeness_gap) <= 0.02 * abs(total)
    assert abs(float(result.integrated_gradients.astype(np.float64).sum()) - total) <= 0.02 * abs(total)
    assert result.gradient_x_input.shape == result.integrated_gradients.shape == (len(result.tokens),)
    assert not result.notices


def test_f_is_the_models_log_probability_of_its_own_prediction():
    loaded = get_model("mini-gpt")
    text = "我喜欢吃苹果，他喜欢吃"
    result = attribute("mini-gpt", text)
    ids = torch.tensor([loaded.tokenizer(text)["input_ids"]])
    with torch.inference_mode():
        logp = torch.log_softmax(loaded.model(input_ids=ids).logits[0, -1, :len(loaded.tokenizer)].float(), -1)
    assert result.target_id == int(logp.argmax()) and result.position == ids.shape[1] - 1
    assert result.value == pytest.approx(float(logp.max()), abs=1e-5)


def test_the_contrast_is_the_difference_of_the_two_targets():
    text = "I like eating"
    both = attribute("mini-llama", text, "apples", "bananas", steps=32)
    a, b = attribute("mini-llama", text, "apples", steps=32), attribute("mini-llama", text, "bananas", steps=32)
    assert both.value == pytest.approx(a.value - b.value, abs=1e-5)
    np.testing.assert_allclose(both.integrated_gradients, a.integrated_gradients - b.integrated_gradients, atol=1e-4)
    np.testing.assert_allclose(both.gradient_x_input, a.gradient_x_input - b.gradient_x_input, atol=1e-4)
    assert both.contrast is not None and attribution_to_json(both)["f"] == "log p(target) - log p(contrast)"


def test_refusals_and_notices():
    with pytest.raises(ValueError, match=r"put \[MASK\] in the text"):
        attribute("mini-bert", "The cat sat on the mat.")
    with pytest.raises(ValueError, match="steps must be between 4 and 256"):
        attribute("mini-gpt", "hello", steps=2)
    moe = attribute("mini-mixtral", "我喜欢吃", steps=16)
    if abs(moe.completeness_gap) > 0.05 * abs(moe.value - moe.baseline_value):
        assert moe.notices and "jumps" in moe.notices[0]
    with pytest.raises(ValueError, match="not valid Unicode"):
        attribute("mini-gpt", "I like eating", "", "\ud800")
    split = attribute("mini-gpt", "I like eating", "internationalisation")
    assert any("its first one is scored" in n for n in split.notices)


def test_a_model_loaded_inside_inference_mode_has_normal_weights_autograd_can_use():
    from models.loading import load
    from models.registry import REGISTRY

    with torch.inference_mode():  # as run_trace loads a model for the first request that needs it
        loaded = load(REGISTRY["mini-bert"])
    assert not any(p.is_inference() for p in loaded.model.parameters())
    assert not any(b.is_inference() for b in loaded.model.buffers())
