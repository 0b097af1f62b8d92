"""Architecture labels read from what the module tree holds and runs, on classes whose configs
name things differently: random-weight DistilBERT, BART, GPT-NeoX, Qwen2 and Mistral, built
in memory from their config classes (nothing is downloaded)."""

import pytest
import torch
from transformers import (BartConfig, BartForConditionalGeneration, DistilBertConfig, DistilBertForMaskedLM,
                          GPTNeoXConfig, GPTNeoXForCausalLM, MistralConfig, MistralForCausalLM, Qwen2Config,
                          Qwen2ForCausalLM)

from models import architecture
from models.loading import LoadedModel, family_of
from models.registry import ModelSpec
from viz.architecture import architecture_figure, architecture_graph

# Feed-forward widths that are not 4 x the model width, so a 4 x width fallback cannot pass.
SMALL = {"vocab_size": 97, "max_position_embeddings": 64}


def _build(name: str, model_class, config) -> LoadedModel:
    torch.manual_seed(0)
    model = model_class(config).eval()
    model.set_attn_implementation("eager")
    model.config.architectures = [model_class.__name__]  # as save_pretrained records it
    family = family_of(model.config)
    return LoadedModel(ModelSpec(name, name, family, "(in memory)"), family, model, None, torch.device("cpu"))


def distilbert(**extra) -> LoadedModel:
    config = DistilBertConfig(dim=32, n_layers=2, n_heads=4, hidden_dim=72, **SMALL, **extra)
    return _build("distilbert", DistilBertForMaskedLM, config)


def bart(**extra) -> LoadedModel:
    sizes = {"encoder_ffn_dim": 48, "decoder_ffn_dim": 40, **extra}
    config = BartConfig(d_model=32, encoder_layers=2, decoder_layers=2, encoder_attention_heads=4,
                        decoder_attention_heads=4, **sizes, **SMALL)
    return _build("bart", BartForConditionalGeneration, config)


def neox(**extra) -> LoadedModel:
    config = GPTNeoXConfig(hidden_size=64, num_hidden_layers=2, num_attention_heads=4, intermediate_size=80,
                           **SMALL, **extra)
    return _build("gpt-neox", GPTNeoXForCausalLM, config)


def qwen2() -> LoadedModel:
    config = Qwen2Config(hidden_size=32, num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2,
                         intermediate_size=72, **SMALL)
    return _build("qwen2", Qwen2ForCausalLM, config)


def mistral() -> LoadedModel:
    config = MistralConfig(hidden_size=32, num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2,
                           intermediate_size=56, **SMALL)
    return _build("mistral", MistralForCausalLM, config)


BUILDERS = {"distilbert": distilbert, "bart": bart, "gpt-neox": neox, "qwen2": qwen2, "mistral": mistral}


@pytest.mark.parametrize("name", sorted(BUILDERS))
def test_parameter_counts_still_add_up(name):
    loaded = BUILDERS[name]()
    arch = architecture.describe_loaded(loaded)
    model = loaded.model
    assert arch.parameters == sum(p.numel() for p in model.parameters()) == sum(p.parameters for p in arch.parts)
    for stack in arch.stacks:
        blocks = model.get_submodule(stack.path)
        assert stack.blocks == len(blocks)
        assert sum(n for _, n in stack.per_block) == sum(p.numel() for p in blocks[0].parameters())
    graph = architecture_graph(arch)
    # Every parameter outside the blocks is drawn once: embeddings (per column), final norms, heads.
    outside = sum(d["parameters"] for n, d in graph.nodes(data=True) if ":" not in n.split(":", 1)[1]
                  or n.startswith("head:"))
    assert outside == sum(p.parameters for p in arch.parts if p.block < 0)


def test_distilbert_feed_forward_and_activation_come_from_its_modules():
    loaded = distilbert()
    arch = architecture.describe_loaded(loaded)
    ffn = loaded.model.distilbert.transformer.layer[0].ffn
    assert ffn.lin1.out_features == ffn.lin2.in_features == loaded.model.config.hidden_dim == 72
    assert arch.feature("feed-forward") == "dense (width 72)"  # was "dense (width 128)": 4 x dim
    assert arch.feature("activation") == "GELU"  # was "?": DistilBERT's config says `activation`
    assert architecture.probe(loaded).activation == "gelu"
    relu = distilbert(activation="relu")
    assert architecture.probe(relu).activation == "relu"
    assert architecture.describe_loaded(relu).feature("activation") == "ReLU"
    assert arch.stacks[0].flow == ("attention", "norm", "feed-forward", "norm") and not arch.stacks[0].parallel
    assert [p.name for p in arch.parts if p.group == "embeddings"] == [
        "token embeddings", "position embeddings", "embedding norm"]
    assert not any("final norm" in p.name for p in arch.parts)


def test_bart_widths_per_stack_and_its_embedding_norms():
    loaded = bart()
    arch = architecture.describe_loaded(loaded)
    model = loaded.model.model
    assert model.encoder.layers[0].fc2.in_features == 48 and model.decoder.layers[0].fc2.in_features == 40
    assert arch.feature("feed-forward") == "dense (encoder width 48, decoder width 40)"  # was "dense (width 128)"
    assert architecture.describe_loaded(bart(decoder_ffn_dim=48)).feature("feed-forward") == "dense (width 48)"
    assert arch.feature("activation") == "GELU"
    # layernorm_embedding normalises the embeddings before block 0: not a final norm (BART has none).
    norms = {p.name: (p.group, p.parameters) for p in arch.parts if "norm" in p.name and p.block < 0}
    assert norms == {"encoder embedding norm": ("embeddings", 64), "decoder embedding norm": ("embeddings", 64)}
    assert architecture.probe(loaded).early_norms == {
        "model.encoder.layernorm_embedding": True, "model.decoder.layernorm_embedding": True}
    positions = {p.name: p.parameters for p in arch.parts if "position" in p.name}
    assert positions == {"encoder position embeddings": model.encoder.embed_positions.weight.numel(),
                         "decoder position embeddings": model.decoder.embed_positions.weight.numel()}
    assert arch.feature("positions") == "learned absolute"
    assert arch.feature("norm placement").startswith("post-norm")
    assert [s.flow for s in arch.stacks] == [("attention", "norm", "feed-forward", "norm"),
                                             ("attention", "norm", "cross-attention", "norm", "feed-forward", "norm")]
    graph = architecture_graph(arch)
    assert not any(n.endswith("final-norm") for n in graph)
    assert graph.nodes["decoder:embeddings"]["label"] == \
        "token embeddings (shared by both stacks) + decoder position embeddings"


def test_gpt_neox_parallel_block_and_partial_rope():
    loaded = neox()
    assert loaded.model.gpt_neox.layers[0].use_parallel_residual
    arch = architecture.describe_loaded(loaded)
    stack = arch.stacks[0]
    assert stack.parallel and stack.flow == ("norm", "attention", "norm", "feed-forward")
    assert arch.feature("norm placement").startswith("pre-norm (norm before each sublayer); parallel:")
    assert architecture.architecture_to_json(arch)["stacks"][0]["parallel"] is True
    head_dim = 64 // 4
    assert loaded.model.gpt_neox.layers[0].attention.rotary_ndims == head_dim // 4
    assert arch.feature("positions") == ("RoPE (base 10000), partial: rotates 4 of each head's 16 dimensions (25%),"
                                         " the rest carry no position")
    assert "rotates 8 of each head's 16 dimensions (50%)" in architecture.describe_loaded(
        neox(rotary_pct=0.5)).feature("positions")
    assert arch.feature("feed-forward") == "dense (width 80)" and arch.feature("activation") == "GELU"
    # The graph: the feed-forward branch starts from the block input (through its own norm), and
    # the attention's output and the feed-forward's meet at the block's one add.
    graph = architecture_graph(arch)
    kinds = {(a, b): d["kind"] for a, b, d in graph.edges(data=True)}
    assert kinds[("decoder:embeddings", "decoder:2:norm")] == "parallel"
    assert kinds[("decoder:1:attention", "decoder:3:add")] == "join"
    assert ("decoder:1:attention", "decoder:2:norm") not in kinds
    assert [n for n, d in graph.nodes(data=True) if d["group"] == "add"] == ["decoder:3:add"]
    assert kinds[("decoder:embeddings", "decoder:3:add")] == "residual"
    names = [t.name for t in architecture_figure(arch).data]
    assert "block input → feed-forward branch (parallel)" in names


def test_gpt_neox_sequential_when_the_block_is_not_parallel():
    arch = architecture.describe_loaded(neox(use_parallel_residual=False))
    assert not arch.stacks[0].parallel and "parallel" not in arch.feature("norm placement")
    kinds = {(a, b): d["kind"] for a, b, d in architecture_graph(arch).edges(data=True)}
    assert "parallel" not in kinds.values() and kinds[("decoder:1:attention", "decoder:1:add")] == "flow"


@pytest.mark.parametrize("name, width", [("qwen2", 72), ("mistral", 56)])
def test_qwen2_and_mistral(name, width):
    loaded = BUILDERS[name]()
    arch = architecture.describe_loaded(loaded)
    assert loaded.model.model.layers[0].mlp.down_proj.in_features == width
    assert arch.feature("feed-forward") == f"dense (width {width})"
    assert arch.feature("activation") == "SwiGLU" and architecture.probe(loaded).activation == "silu"
    assert arch.feature("attention") == "grouped-query (4 query heads share 2 key/value heads)"
    assert arch.feature("positions") == "RoPE (base 10000)"  # all of each head rotated: no "partial"
    assert arch.feature("norm placement") == "pre-norm (norm before each sublayer)" and not arch.stacks[0].parallel
    assert "RMS" in arch.feature("norm")
    assert [(p.name, p.group, p.parameters) for p in arch.parts if "norm" in p.name and p.block < 0] == [
        ("final norm", "norm", 32)]


@pytest.mark.parametrize("key, width", [("mini-bert", 768), ("mini-gpt", 768), ("mini-llama", 576),
                                        ("mini-t5", 384)])
def test_embedded_models_keep_their_labels(key, width):
    arch = architecture.describe(key)
    assert arch.feature("feed-forward") == f"dense (width {width})"
    assert not any(s.parallel for s in arch.stacks) and "partial" not in arch.feature("positions")
