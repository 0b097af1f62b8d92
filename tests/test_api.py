"""The app launched for real on localhost and called through gradio_client."""

import numpy as np
import pytest
import torch
from gradio_client import Client
from transformers import AutoModelForCausalLM

from models.registry import REGISTRY


@pytest.fixture(scope="module")
def client(live_url):
    return Client(live_url, verbose=False)


def test_models_endpoint_lists_embedded_models_first(client):
    models = client.predict(api_name="/models")
    assert [m["key"] for m in models] == list(REGISTRY)
    assert models[0]["source"] == "assets/models/mini-bert"
    assert {m["family"] for m in models} == {"encoder", "decoder", "encoder-decoder"}
    assert {"key", "name", "family", "source"} <= set(models[0])


def test_attention_data_equals_transformers(client):
    data = client.predict("mini-gpt", "The cat chases a mouse", api_name="/attention_data")
    model = AutoModelForCausalLM.from_pretrained(
        REGISTRY["mini-gpt"].source, attn_implementation="eager", dtype=torch.float32
    ).eval()
    with torch.no_grad():
        out = model(input_ids=torch.tensor([data["token_ids"]]), output_attentions=True)
    expected = torch.stack([a[0] for a in out.attentions]).numpy()
    got = np.asarray(data["decoder"]["attentions"], dtype=np.float32)
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-6)
    mask = np.asarray(data["decoder"]["mask"])
    assert np.array_equal(mask, np.tril(np.ones_like(mask)))
    assert data["outputs"]["kind"] == "next_token" and len(data["outputs"]["next_token"]) == 5


def test_attention_data_for_an_encoder_decoder(client):
    data = client.predict("mini-t5", "translate Chinese to English: 我喜欢机器学习", api_name="/attention_data")
    t, s = len(data["decoder_tokens"]), len(data["tokens"])
    assert np.asarray(data["cross"]["attentions"]).shape[2:] == (t, s)
    assert np.asarray(data["encoder"]["attentions"]).shape[2:] == (s, s)
    assert data["outputs"]["kind"] == "generation"


@pytest.mark.parametrize(
    "model,text,message",
    [
        ("no-such-model", "hello", "Unknown model"),
        ("mini-gpt", "   ", "empty"),
        ("gpt2", "hello", "Could not load GPT-2 small"),
    ],
)
def test_bad_requests_get_a_clear_message(client, model, text, message):
    with pytest.raises(Exception) as err:
        client.predict(model, text, api_name="/attention_data")
    assert type(err.value).__name__ == "AppError"
    assert message in str(err.value)


def test_huge_text_comes_back_truncated(client):
    data = client.predict("mini-bert", "x" * 100_000, api_name="/attention_data")
    assert any("100,000" in n for n in data["notices"])


def test_compare_endpoint_returns_figures(client):
    layers, heads = client.predict("mini-llama", "I like eating apples", api_name="/attention_data")["decoder"]["shape"][:2]
    result = client.predict("mini-llama", "I like eating apples", "decoder", 1, 3, api_name="/compare_decoder")
    trace_html, outputs, kind, layer, head, mask_plot, attn_plot = result
    assert "Mini LLaMA" in trace_html and "Next token" in outputs
    assert kind["value"] == "decoder" and layer["value"] == 1 and head["value"] == 3
    assert layer["maximum"] == layers - 1 and head["maximum"] == heads - 1
    assert mask_plot["type"] == "plotly" and "layer 1" in attn_plot["plot"]


def test_ui_only_helpers_stay_out_of_the_api(client):
    api = client.view_api(print_info=False, return_format="dict")
    names = set(api["named_endpoints"])
    assert {"/models", "/attention_data", "/compare_encoder", "/compare_decoder", "/compare_encoder_decoder"} <= names
    assert not any(n.startswith("/view_") for n in names)


@pytest.mark.parametrize(
    "text", ["🤖🐱 cats 😀", "a\x00b\x07c", "مرحبا بالعالم", "<script>alert(1)</script>", "\u202eevil"]
)
def test_unusual_text_through_the_api(client, text):
    data = client.predict("mini-t5", text, api_name="/attention_data")
    assert data["tokens"] and all(data["tokens"])
    assert np.allclose(np.asarray(data["encoder"]["attentions"]).sum(-1), 1.0, atol=1e-5)


def test_a_failed_hub_load_leaves_the_embedded_models_working(client):
    with pytest.raises(Exception, match="Could not load"):
        client.predict("smollm2-135m", "hello", api_name="/attention_data")
    assert client.predict("mini-llama", "hello", api_name="/attention_data")["decoder"]["shape"][0] >= 2
