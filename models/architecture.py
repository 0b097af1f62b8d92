"""What a loaded model is made of, read from the model itself rather than from a drawing.

Every parameter is assigned to one part (token / position / segment embeddings, each block's
attention, cross-attention, feed-forward, router and norms, the final norm, the output heads),
so the parts' counts add up to `sum(p.numel())`. The order of the sublayers inside a block,
and with it pre-norm versus post-norm (Xiong et al. 2020, "On Layer Normalization in the
Transformer Architecture"), comes from running block 0 once with forward pre-hooks that note
which of its modules run in which order; the hooks keep names only and are removed at once.
The rest (norm type, positions, activation, attention sharing, experts) is read from the
modules and the config.
"""

from __future__ import annotations

import threading
from collections import Counter
from dataclasses import dataclass

import torch

from models.loading import LoadedModel, get_model
from models.results import Architecture, Part, Stack


def _is_norm(module: torch.nn.Module) -> bool:
    return "norm" in type(module).__name__.lower()


def _block_lists(model: torch.nn.Module) -> list[tuple[str, torch.nn.ModuleList]]:
    """ModuleLists of identical blocks that contain attention: the encoder/decoder stacks."""
    found = []
    for path, module in model.named_modules():
        if isinstance(module, torch.nn.ModuleList) and len(module) and len({type(m) for m in module}) == 1:
            if any("attention" in type(m).__name__.lower() for m in module[0].modules()):
                found.append((path, module))
    return found


def _stack_name(path: str, family: str) -> str:
    if family == "encoder-decoder":
        return "decoder" if "decoder" in path.split(".") else "encoder"
    return "encoder" if family == "encoder" else "decoder"


def _inner_kind(rel: str, owner: torch.nn.Module) -> str:
    """The group of a module (or parameter owner) at relative path `rel` inside a block."""
    low = rel.lower()
    if _is_norm(owner):
        return "norm"
    if "router" in type(owner).__name__.lower():
        return "router"
    if "encdecattention" in low or "crossattention" in low or "cross_attn" in low or "encoder_attn" in low:
        return "cross-attention"
    if "attn" in low or "attention" in low:
        return "attention"
    return "feed-forward"


def _outer_part(name: str, owner: torch.nn.Module, family: str) -> tuple[str, str]:
    """(part name, group) of a parameter outside the blocks."""
    low = name.lower()
    if "seq_relationship" in low:
        return "NSP head", "head"
    if "pooler" in low:
        return "pooler (feeds the NSP head)", "head"
    if "predictions" in low or "vocab_" in low:
        return "MLM head", "head"
    if "lm_head" in low:
        return "LM head", "head"
    if isinstance(owner, torch.nn.Embedding):
        if "token_type" in low:
            return "segment embeddings", "embeddings"
        if "position" in low or low.split(".")[-2:-1] == ["wpe"]:
            return "position embeddings", "embeddings"
        return "token embeddings", "embeddings"
    if _is_norm(owner):
        if "embeddings" in low:
            return "embedding norm", "embeddings"
        stack = _stack_name(name, family) + " " if family == "encoder-decoder" else ""
        return f"{stack}final norm", "norm"
    return "other", "head"


def _owner(model: torch.nn.Module, name: str) -> torch.nn.Module:
    return model.get_submodule(name.rsplit(".", 1)[0]) if "." in name else model


def count_parts(loaded: LoadedModel) -> tuple[Part, ...]:
    """Every parameter in exactly one part; parts in the order they first appear."""
    model, family = loaded.model, loaded.family
    lists = _block_lists(model)
    counts: Counter = Counter()
    order: dict[tuple, None] = {}
    for name, param in model.named_parameters():
        key = None
        for path, blocks in lists:
            if name.startswith(path + "."):
                index, rel = name[len(path) + 1:].split(".", 1)
                group = _inner_kind(rel, _owner(model, name))
                key = (group, group, _stack_name(path, family), int(index))
                break
        if key is None:
            part, group = _outer_part(name, _owner(model, name), family)
            key = (part, group, "", -1)
        counts[key] += param.numel()
        order.setdefault(key)
    parts = [Part(name, group, stack, block, counts[(name, group, stack, block)]) for name, group, stack, block in order]
    output, inputs = model.get_output_embeddings(), model.get_input_embeddings()
    if output is not None and inputs is not None and output.weight is inputs.weight:
        # Tied: the head reuses the token embeddings, so it adds no parameters of its own.
        head = "MLM output layer" if family == "encoder" else "LM head"
        parts.append(Part(f"{head} (tied to the token embeddings)", "head", "", -1, 0))
    return tuple(parts)


def _probe_inputs(loaded: LoadedModel) -> dict:
    ids = torch.tensor([[5, 6, 7, 8]], device=loaded.device).clamp(max=loaded.model.config.vocab_size - 1)
    if loaded.family == "encoder-decoder":
        return {"input_ids": ids, "decoder_input_ids": ids[:, :2]}
    return {"input_ids": ids}


@torch.inference_mode()
def block_flow(loaded: LoadedModel) -> dict[str, tuple[str, ...]]:
    """Per stack, the kinds of block 0's parameter-holding modules in the order they run,
    repeats merged: ("norm", "attention", "norm", "feed-forward") for a pre-norm block."""
    model, family = loaded.model, loaded.family
    calls: dict[str, list[str]] = {}
    handles = []
    # The model is shared: another request may run it while the hooks are on. Only this
    # thread's probe is recorded.
    probe = threading.get_ident()

    def note(stack: str, kind: str) -> None:
        if threading.get_ident() == probe:
            calls[stack].append(kind)

    try:
        for path, blocks in _block_lists(model):
            stack = _stack_name(path, family)
            calls[stack] = []
            for rel, module in blocks[0].named_modules():
                if rel and any(True for _ in module.parameters(recurse=False)):
                    kind = _inner_kind(rel, module)
                    handles.append(module.register_forward_pre_hook(
                        lambda _m, _a, _s=stack, _k=kind: note(_s, _k)))
        model(**_probe_inputs(loaded))
    finally:
        for handle in handles:
            handle.remove()
    return {stack: tuple(k for i, k in enumerate(kinds) if i == 0 or k != kinds[i - 1]) for stack, kinds in calls.items()}


def _config_value(config, *names, default=None):
    for name in names:
        value = getattr(config, name, None)
        if value is not None:
            return value
    return default


@dataclass(frozen=True)
class Dims:
    """A config's sizes, whatever each model family calls them."""
    layers: int  # blocks of the first (or only) stack
    cache_layers: int  # blocks whose keys and values a decoding cache holds (T5: the decoder's)
    heads: int
    kv_heads: int
    head_dim: int
    width: int


def dims(config) -> Dims:
    width = int(_config_value(config, "hidden_size", "n_embd", "d_model", default=0))
    heads = int(_config_value(config, "num_attention_heads", "n_head", "num_heads", default=1))
    layers = int(_config_value(config, "num_hidden_layers", "n_layer", "num_layers", default=0))
    return Dims(layers, int(_config_value(config, "num_decoder_layers", default=layers)), heads,
                int(_config_value(config, "num_key_value_heads", default=heads) or heads),
                int(_config_value(config, "head_dim", "d_kv", default=0) or width // heads), width)


def _features(loaded: LoadedModel, parts: tuple[Part, ...], stacks: list[Stack]) -> tuple:
    model, config = loaded.model, loaded.model.config
    names = [n for n, _ in model.named_parameters()]
    modules = list(model.named_modules())
    norms = {type(m).__name__ for _, m in modules if _is_norm(m)}
    rms = any(_is_norm(m) and getattr(m, "bias", None) is None and not hasattr(m, "bias_param")
              for _, m in modules)
    norm = ", ".join(sorted(norms)) + (" (RMS: no mean, no bias)" if rms else " (mean and variance)")
    first = stacks[0].flow if stacks else ()
    placement = "pre-norm (norm before each sublayer)" if first and first[0] == "norm" else \
        "post-norm (norm after each residual add)"
    positions = []
    if any(p.name == "position embeddings" for p in parts):
        positions.append("learned absolute")
    if any("rotary" in type(m).__name__.lower() for _, m in modules):
        positions.append(f"RoPE (base {rope_base(config):g})")
    if any("relative_attention_bias" in n for n in names):
        buckets = _config_value(config, "relative_attention_num_buckets", default=32)
        positions.append(f"relative buckets ({buckets}, learned bias per head)")
    act = str(_config_value(config, "hidden_act", "activation_function", "dense_act_fn", default="?"))
    gated = any(k in n for n in names for k in ("gate_proj", "wi_0", "gate_up_proj"))
    if gated:
        act = {"silu": "SwiGLU", "swish": "SwiGLU", "gelu": "GeGLU", "gelu_new": "GeGLU", "relu": "ReGLU"}.get(act, f"gated {act}")
    else:
        act = {"gelu": "GELU", "gelu_new": "GELU (tanh)", "relu": "ReLU"}.get(act, act)
    size = dims(config)
    heads, kv = size.heads, size.kv_heads
    if kv == heads:
        attention = f"multi-head ({heads} heads)"
    elif kv == 1:
        attention = f"multi-query ({heads} query heads share 1 key/value head)"
    else:
        attention = f"grouped-query ({heads} query heads share {kv} key/value heads)"
    experts = _config_value(config, "num_local_experts", "num_experts")
    if experts:
        ffn = f"mixture of {experts} experts, top-{_config_value(config, 'num_experts_per_tok', default=2)} per token"
    else:
        ffn = f"dense (width {_config_value(config, 'intermediate_size', 'n_inner', 'd_ff', default=4 * size.width)})"
    layers = ", ".join(f"{s.name} {s.blocks}" for s in stacks)
    heads_out = ", ".join(p.name for p in parts if p.group == "head") or "none"
    return (
        ("family", loaded.family),
        ("class", type(model).__name__),
        ("parameters", f"{sum(p.parameters for p in parts):,}"),
        ("layers", layers),
        ("width", str(size.width)),
        ("vocabulary", f"{config.vocab_size:,}"),
        ("norm", norm),
        ("norm placement", placement),
        ("positions", ", ".join(positions) or "none"),
        ("activation", act),
        ("attention", attention),
        ("feed-forward", ffn),
        ("output heads", heads_out),
    )


def rope_base(config) -> float:
    """RoPE's base (theta): a config attribute in older configs, inside rope_parameters in newer ones."""
    if getattr(config, "rope_theta", None):
        return float(config.rope_theta)
    params = getattr(config, "rope_parameters", None) or {}
    return float(params.get("rope_theta", 10000.0)) if isinstance(params, dict) else 10000.0


def describe(key: str, device: str | None = None) -> Architecture:
    """The architecture of model `key`: parts with parameter counts, block flow, features, module tree."""
    loaded = get_model(key, device)
    parts = count_parts(loaded)
    flows = block_flow(loaded)
    stacks = []
    for path, blocks in _block_lists(loaded.model):
        name = _stack_name(path, loaded.family)
        per_block = tuple((p.group, p.parameters) for p in parts if p.stack == name and p.block == 0)
        stacks.append(Stack(name, path, len(blocks), flows.get(name, ()), per_block))
    total = sum(p.numel() for p in loaded.model.parameters())
    return Architecture(loaded.spec.key, loaded.spec.name, loaded.family, type(loaded.model).__name__, total, parts,
                        tuple(stacks), _features(loaded, parts, stacks), str(loaded.model))


def differences(a: Architecture, b: Architecture) -> list[tuple[str, str, str, bool]]:
    """(feature, value in a, value in b, differs) for every feature row."""
    left, right = dict(a.features), dict(b.features)
    return [(name, left.get(name, ""), right.get(name, ""), left.get(name) != right.get(name)) for name in left]


def architecture_to_json(arch: Architecture) -> dict:
    return {
        "model": arch.model_key, "family": arch.family, "class": arch.model_class, "parameters": arch.parameters,
        "parts": [{"name": p.name, "group": p.group, "stack": p.stack, "block": p.block, "parameters": p.parameters}
                  for p in arch.parts],
        "stacks": [{"name": s.name, "module": s.path, "blocks": s.blocks, "flow": list(s.flow),
                    "per_block": dict(s.per_block)} for s in arch.stacks],
        "features": dict(arch.features),
    }
