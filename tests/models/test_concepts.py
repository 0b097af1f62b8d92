"""Architecture and concept views: numbers read off the real models, checked against the models."""

import math

import numpy as np
import pytest
import torch

from models import architecture, mechanisms, objectives, positions
from models.loading import get_model

EMBEDDED = ["mini-bert", "mini-gpt", "mini-llama", "mini-t5", "mini-mixtral"]


@pytest.mark.parametrize("key", EMBEDDED)
def test_parameter_counts_add_up(key):
    arch = architecture.describe(key)
    model = get_model(key).model
    assert arch.parameters == sum(p.numel() for p in model.parameters())
    assert sum(p.parameters for p in arch.parts) == arch.parameters
    for stack in arch.stacks:
        blocks = model.get_submodule(stack.path)
        assert sum(n for _, n in stack.per_block) == sum(p.numel() for p in blocks[0].parameters())
        assert stack.blocks == len(blocks)
    assert "Linear" in arch.tree or "Conv1D" in arch.tree


def test_features_read_from_the_models():
    bert, gpt, llama, t5, moe = (architecture.describe(k) for k in EMBEDDED)
    assert bert.feature("norm placement").startswith("post") and gpt.feature("norm placement").startswith("pre")
    assert bert.stacks[0].flow == ("attention", "norm", "feed-forward", "norm")
    assert llama.stacks[0].flow == ("norm", "attention", "norm", "feed-forward")
    assert t5.stacks[1].flow == ("norm", "attention", "norm", "cross-attention", "norm", "feed-forward")
    assert moe.stacks[0].flow == ("norm", "attention", "norm", "router", "feed-forward")
    assert "LayerNorm" in gpt.feature("norm") and "RMS" in llama.feature("norm") and "RMS" in t5.feature("norm")
    assert gpt.feature("positions") == "learned absolute" and llama.feature("positions").startswith("RoPE")
    assert t5.feature("positions").startswith("relative buckets")
    assert gpt.feature("activation").startswith("GELU") and llama.feature("activation") == "SwiGLU"
    assert llama.feature("attention").startswith("grouped-query (4 query heads share 2")
    assert moe.feature("feed-forward").startswith("mixture of 8 experts, top-2")
    assert "NSP head" in bert.feature("output heads") and "segment embeddings" in [p.name for p in bert.parts]
    rows = architecture.differences(gpt, llama)
    differing = {name for name, _, _, differs in rows if differs}
    assert {"norm", "positions", "activation", "attention"} <= differing and "norm placement" not in differing


def test_architecture_graph_and_figure():
    from viz import architecture as aviz

    t5 = architecture.describe("mini-t5")
    graph = aviz.architecture_graph(t5)
    cross = [(a, b) for a, b, d in graph.edges(data=True) if d["kind"] == "cross"]
    assert cross and all(graph.nodes[b]["group"] == "cross-attention" and graph.nodes[a]["stack"] == "encoder"
                         for a, b in cross)
    residual = [e for e in graph.edges(data=True) if e[2]["kind"] == "residual"]
    assert len(residual) == 2 + 3  # encoder: attention, feed-forward; decoder: + cross-attention
    bert = aviz.architecture_graph(architecture.describe("mini-bert"))
    # Post-norm: the feed-forward's residual starts at the first LayerNorm, not at the first add.
    sources = [a for a, b, d in bert.edges(data=True) if d["kind"] == "residual"]
    assert [bert.nodes[s]["group"] for s in sources] == ["embeddings", "norm"]
    gpt = aviz.architecture_graph(architecture.describe("mini-gpt"))
    sources = [a for a, b, d in gpt.edges(data=True) if d["kind"] == "residual"]
    assert [gpt.nodes[s]["group"] for s in sources] == ["embeddings", "add"]
    fig = aviz.architecture_figure(t5, marked=("norm",))
    nodes = [t for t in fig.data if t.mode == "markers+text"][0]
    assert len(nodes.x) == graph.number_of_nodes()
    widths = dict(zip(nodes.text, nodes.marker.line.width))
    assert widths["T5LayerNorm"] == 4
    table = aviz.parts_table_markdown(t5)
    assert f"**{t5.parameters:,}**" in table


def test_masked_lm_corrupts_as_bert_did():
    result = objectives.masked_lm("mini-bert", "the keys to the cabinet are on the table", seed=3)
    chosen = [i for i, a in enumerate(result.action) if a]
    ordinary = len(result.tokens) - 2
    assert len(chosen) == max(1, round(0.15 * ordinary))
    for i, a in enumerate(result.action):
        if a == "mask":
            assert result.inputs[i] == "[MASK]"
        elif a == "keep" or not a:
            assert result.inputs[i] == result.tokens[i]
    assert np.isnan(result.loss[[i for i in range(len(result.tokens)) if i not in chosen]]).all()
    assert result.mean_loss == pytest.approx(float(np.nanmean(result.loss)))
    np.testing.assert_allclose(result.prob_original[chosen], np.exp(-result.loss[chosen]), rtol=1e-5)
    actions = {a for s in range(40) for a in objectives.masked_lm("mini-bert", "I like eating apples", seed=s).action}
    assert actions == {"", "mask", "random", "keep"}
    pair = objectives.masked_lm("mini-bert", "The cat chases a mouse.", "It runs fast.", seed=0)
    assert pair.next_sentence is not None and 0 <= pair.next_sentence <= 1


def test_next_token_loss_equals_the_models_loss():
    text = "今天天气真好，我想去公园散步"
    result = objectives.next_token("mini-gpt", text)
    loaded = get_model("mini-gpt")
    ids = loaded.tokenizer(text, return_tensors="pt")["input_ids"]
    with torch.inference_mode():
        loss = float(loaded.model(input_ids=ids, labels=ids).loss)
    assert result.mean_loss == pytest.approx(loss, rel=1e-5)
    assert result.targets == result.tokens[1:] and len(result.loss) == len(result.tokens) - 1


def test_span_corruption_and_its_loss():
    result = objectives.span_corruption("mini-t5", "I like eating apples and she likes bananas", seed=1)
    sentinels = [t for t in result.inputs if t.startswith("<extra_id_")]
    assert sentinels and [t for t in result.targets if t.startswith("<extra_id_")][:len(sentinels)] == sentinels
    kept = [t for t, d in zip(result.tokens, result.dropped) if not d]
    assert [t for t in result.inputs if not t.startswith("<extra_id_") and t != "</s>"] == kept
    spans = [t for t in result.targets if not t.startswith("<extra_id_") and t != "</s>"]
    assert spans == [t for t, d in zip(result.tokens, result.dropped) if d]
    assert result.mean_loss == pytest.approx(float(result.loss.mean()))


def test_sinusoidal_formula():
    pe = positions.sinusoidal(50, 16)
    p, i = 7, 3
    assert pe[p, 2 * i] == pytest.approx(math.sin(p / 10000 ** (2 * i / 16)), abs=1e-6)
    assert pe[p, 2 * i + 1] == pytest.approx(math.cos(p / 10000 ** (2 * i / 16)), abs=1e-6)
    sim = positions.cosine_similarity(pe)
    np.testing.assert_allclose(np.diag(sim), 1.0, atol=1e-6)
    # The dot product of two sinusoidal encodings depends on the offset only.
    dots = pe @ pe.T
    np.testing.assert_allclose(np.diag(dots, 3)[:-5], np.diag(dots, 3)[5:], atol=1e-4)
    with pytest.raises(ValueError):
        positions.sinusoidal(10, 7)


def test_learned_positions_rope_and_buckets():
    gpt = positions.learned_positions("mini-gpt", 40)
    assert gpt.shape == (40, get_model("mini-gpt").model.config.n_embd)
    np.testing.assert_array_equal(gpt, get_model("mini-gpt").model.transformer.wpe.weight[:40].detach().numpy())
    with pytest.raises(ValueError, match="RoPE"):
        positions.learned_positions("mini-llama")
    rope = positions.rope("mini-llama", 24)
    # RoPE makes the score depend on m - n only: constant along every diagonal.
    for offset in (-5, 0, 7):
        diagonal = np.diag(rope.scores, offset)
        np.testing.assert_allclose(diagonal, diagonal[0], atol=1e-4)
    assert rope.angles[1, 0] == pytest.approx(1.0, abs=1e-5)  # the fastest pair turns 1 radian per position
    buckets = positions.relative_buckets("mini-t5", 40)
    assert buckets.buckets[5, 5] == 0 and buckets.buckets[5, 6] != buckets.buckets[6, 5]
    assert (buckets.causal_buckets[np.triu_indices(40, 1)] == 0).all()  # the decoder sees no future offsets
    bias = buckets.bias
    weight = get_model("mini-t5").model.encoder.block[0].layer[0].SelfAttention.relative_attention_bias.weight
    np.testing.assert_allclose(bias[:, 3, 10], weight[buckets.buckets[3, 10]].detach().numpy(), rtol=1e-6)


@pytest.mark.parametrize("key", ["mini-bert", "mini-gpt", "mini-llama"])
def test_order_experiment(key):
    result = mechanisms.order_experiment(key, "the keys to the cabinet are on the table", seed=0)
    assert sorted(result.permutation.tolist()) == list(range(len(result.tokens)))
    assert [result.tokens[p] for p in result.permutation] == list(result.shuffled)
    if key == "mini-bert":
        assert result.max_without_positions < 1e-5  # permutation-equivariant
        assert result.max_with_positions > 1e-2  # positions make order matter
    else:
        assert result.max_without_positions > 1e-2  # causal attention carries order without positions


def test_order_experiment_refuses_t5():
    with pytest.raises(ValueError, match="relative"):
        mechanisms.order_experiment("mini-t5", "I like eating apples")


def _masked_softmax(scores: np.ndarray, mask: np.ndarray) -> np.ndarray:
    scores = np.where(mask, scores, -np.inf)
    e = np.exp(scores - scores.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def test_scaling_matches_softmax_of_the_models_own_scores():
    text = "I like eating apples and she likes bananas"
    layer, head = 1, 2
    result = mechanisms.scaling("mini-gpt", text, layer=layer, head=head)
    # The reference: this head's queries and keys as GPT-2's own c_attn projection makes them.
    loaded = get_model("mini-gpt")
    seen = {}
    attention = loaded.model.transformer.h[layer].attn
    handle = attention.c_attn.register_forward_hook(lambda m, args, out: seen.update(qkv=out))
    try:
        ids = loaded.tokenizer(text, return_tensors="pt")["input_ids"]
        with torch.inference_mode():
            loaded.model(input_ids=ids)
    finally:
        handle.remove()
    width, d_k = attention.embed_dim, attention.head_dim
    qkv = seen["qkv"][0].double().numpy()
    q = qkv[:, head * d_k:(head + 1) * d_k]
    k = qkv[:, width + head * d_k:width + (head + 1) * d_k]
    raw = q @ k.T
    causal = np.tril(np.ones(raw.shape, bool))
    assert result.d_k == d_k
    np.testing.assert_allclose(result.scaled, _masked_softmax(raw / math.sqrt(d_k), causal), atol=1e-6)
    np.testing.assert_allclose(result.unscaled, _masked_softmax(raw, causal), atol=1e-5)
    shifted = np.where(causal, raw, -np.inf)
    shifted = shifted - shifted.max(axis=1, keepdims=True)
    finite = np.isfinite(result.scores)
    np.testing.assert_allclose(result.scores[finite], shifted[finite], atol=1e-4)
    assert np.all(np.triu(result.unscaled, 1) == 0)
    np.testing.assert_allclose(result.unscaled.sum(1), 1.0, atol=1e-5)
    assert result.entropy_unscaled.mean() < result.entropy_scaled.mean()
    assert result.max_unscaled.mean() > result.max_scaled.mean()
    with pytest.raises(ValueError, match="sqrt"):
        mechanisms.scaling("mini-t5", text)


def test_textbook_scaling_numbers():
    numbers = mechanisms.textbook_scaling()
    assert numbers["naive_float32"] == [None, None, None]  # exp(100) overflows float32
    assert numbers["stable"] == pytest.approx([0.2447, 0.6652, 0.0900], abs=1e-4)
    assert numbers["scaled"] == pytest.approx(list(np.exp(np.array([100, 101, 99]) / 8) / np.exp(np.array([100, 101, 99]) / 8).sum()), abs=1e-6)
    assert numbers["dot_std"] == pytest.approx(8.0, rel=0.05) and numbers["scaled_dot_std"] == pytest.approx(1.0, rel=0.05)


def test_moe_routing_is_the_routers_top_k():
    text = "我喜欢吃苹果 and I like eating apples"
    result = mechanisms.moe_routing("mini-mixtral", text)
    layers, tokens, experts = result.probs.shape
    np.testing.assert_allclose(result.probs.sum(-1), 1.0, atol=1e-5)
    expected = np.argsort(-result.probs, axis=-1, kind="stable")[..., :result.top_k]
    np.testing.assert_array_equal(np.sort(result.chosen, -1), np.sort(expected, -1))
    np.testing.assert_allclose(result.weights.sum(-1), 1.0, atol=1e-5)
    assert (result.load.sum(-1) == tokens * result.top_k).all()
    # The chosen experts are the ones the model's own router picks on the hidden state it receives.
    model = get_model("mini-mixtral").model
    seen = {}
    handle = model.model.layers[1].mlp.gate.register_forward_hook(lambda m, args, out: seen.update(idx=out[2]))
    try:
        ids = get_model("mini-mixtral").tokenizer(text, return_tensors="pt")["input_ids"]
        with torch.inference_mode():
            model(input_ids=ids)
    finally:
        handle.remove()
    np.testing.assert_array_equal(np.sort(seen["idx"].numpy(), -1), np.sort(result.chosen[1], -1))
    assert result.attention.shape[2] == tokens
    with pytest.raises(ValueError, match="mixture-of-experts"):
        mechanisms.moe_routing("mini-gpt", text)


def test_concept_figures_carry_the_numbers():
    from viz import concepts as cviz

    routing = mechanisms.moe_routing("mini-mixtral", "I like eating apples")
    fig = cviz.routing_figure(routing, 2)
    z = np.asarray(fig.data[0].z, dtype=float)
    assert (~np.isnan(z)).sum(0).tolist() == [routing.top_k] * len(routing.tokens)
    assert list(fig.data[2].x) == routing.load[2].tolist()
    order = mechanisms.order_experiment("mini-bert", "I like eating apples", seed=1)
    bars = cviz.order_figure(order)
    np.testing.assert_allclose(bars.data[1].y, order.diff_with_positions)
    scaling = mechanisms.scaling("mini-bert", "I like eating apples", 0, 1)
    heat = cviz.scaling_figure(scaling)
    np.testing.assert_array_equal(np.asarray(heat.data[1].z), scaling.unscaled)
    html = cviz.masked_lm_html(objectives.masked_lm("mini-bert", "<b>bold</b> apples", seed=0))
    assert "<b>bold" not in html and "&lt;" in html
    table = cviz.textbook_markdown(mechanisms.textbook_scaling())
    assert "overflow" in table and "0.665" in table


def test_block_flow_ignores_other_requests_running_the_same_model():
    import threading

    loaded = get_model("mini-gpt")
    stop = threading.Event()

    def busy():
        ids = torch.tensor([[5, 6, 7, 8, 9, 10]])
        while not stop.is_set():
            with torch.inference_mode():
                loaded.model(input_ids=ids)

    other = threading.Thread(target=busy)
    other.start()
    try:
        flows = [architecture.block_flow(loaded)["decoder"] for _ in range(20)]
    finally:
        stop.set()
        other.join()
    assert set(flows) == {("norm", "attention", "norm", "feed-forward")}


def test_the_rope_legend_sits_under_the_plots_clear_of_the_colour_bar():
    from viz.concepts import rope_figure

    fig = rope_figure(positions.rope("mini-llama", 24))
    colorbar_x = [tr.colorbar.x for tr in fig.data if tr.type == "heatmap"]
    assert fig.layout.legend.orientation == "h" and fig.layout.legend.y < 0
    assert fig.layout.legend.yanchor == "top" and all(x is None or x > 1 for x in colorbar_x)
