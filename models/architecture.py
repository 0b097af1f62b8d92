"""What a loaded model is made of, read from the model itself rather than from a drawing.

Every parameter is assigned to one part (token / position / segment embeddings, each block's
attention, cross-attention, feed-forward, router and norms, the final norm, the output heads),
so the parts' counts add up to `sum(p.numel())`. One run on four tokens, with forward pre-hooks
on block 0's modules (removed at once), gives the order of the sublayers and with it pre-norm
versus post-norm (Xiong et al. 2020, "On Layer Normalization in the Transformer Architecture"),
whether the feed-forward reads the block input (a parallel block: GPT-J, GPT-NeoX), its width
(what its output projection reads), the activation module it calls, and which norms outside the
blocks run before them (embedding norms). Config names differ by class (DistilBERT's
`hidden_dim`, BART's `encoder_ffn_dim`), so they are only a fallback. Norm type, RoPE and the
share of each head it rotates, attention sharing and experts are read from modules and config.
"""

from __future__ import annotations

import threading
from collections import Counter
from dataclasses import dataclass

import torch
from transformers.activations import ACT2CLS

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


def _outer_part(name: str, owner: torch.nn.Module, family: str, early: dict[str, bool]) -> tuple[str, str]:
    """(part name, group) of a parameter outside the blocks; `early` tells, per norm module that
    ran, whether it ran before its stack's blocks."""
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
            # BART's encoder and decoder each learn their own; T5-style shared tables have no stack.
            own = next((f"{s} " for s in ("encoder", "decoder") if s in low.split(".")), "") \
                if family == "encoder-decoder" else ""
            return f"{own}position embeddings", "embeddings"
        return "token embeddings", "embeddings"
    if _is_norm(owner):
        stack = _stack_name(name, family) + " " if family == "encoder-decoder" else ""
        # Where it runs decides, not its name: BART's `layernorm_embedding` sits beside the blocks
        # but normalises the embeddings. The name is the guess only for a norm the probe never ran.
        before = early.get(name.rsplit(".", 1)[0], "embedding" in low)
        return (f"{stack}embedding norm", "embeddings") if before else (f"{stack}final norm", "norm")
    return "other", "head"


def _owner(model: torch.nn.Module, name: str) -> torch.nn.Module:
    return model.get_submodule(name.rsplit(".", 1)[0]) if "." in name else model


def count_parts(loaded: LoadedModel, early_norms: dict[str, bool] | None = None) -> tuple[Part, ...]:
    """Every parameter in exactly one part; parts in the order they first appear. `early_norms`
    is `probe(loaded).early_norms`, run here when not given."""
    model, family = loaded.model, loaded.family
    early = probe(loaded).early_norms if early_norms is None else early_norms
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
            part, group = _outer_part(name, _owner(model, name), family, early)
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


# transformers' activation modules by class, each under the first name ACT2FN gives it.
_ACTIVATIONS: dict[type, str] = {}
for _name, _cls in ACT2CLS.items():
    _ACTIVATIONS.setdefault(_cls[0] if isinstance(_cls, tuple) else _cls, _name)


def _activation_name(module: torch.nn.Module) -> str | None:
    if isinstance(module, torch.nn.GELU):  # torch's own, as some classes use it directly
        return "gelu_pytorch_tanh" if module.approximate == "tanh" else "gelu"
    return _ACTIVATIONS.get(type(module))


@dataclass(frozen=True)
class Probe:
    """What one run of the model shows about its blocks (see the module docstring)."""
    flows: dict[str, tuple[str, ...]]  # per stack, block 0's kinds in run order, repeats merged
    parallel: dict[str, bool]  # per stack: the feed-forward reads the block input, not attention's output
    ffn_width: dict[str, int]  # per stack: the last dense feed-forward projection's input width
    activation: str | None  # ACT2FN name of the first activation module a feed-forward ran
    early_norms: dict[str, bool]  # norm outside the blocks -> it ran before its stack's first block


def _first_tensor(args: tuple, kwargs: dict) -> torch.Tensor | None:
    for value in (*args, *kwargs.values()):
        if isinstance(value, torch.Tensor):
            # A copy: a later in-place update must not change what this module read.
            return value.detach().clone()
    return None


def _same(a: torch.Tensor | None, b: torch.Tensor | None) -> bool:
    # torch.equal compares across dtypes (zeros == long zeros), so the dtype is checked first.
    return a is not None and b is not None and a.shape == b.shape and a.dtype == b.dtype and torch.equal(a, b)


def _is_parallel(events: list[tuple[str, torch.nn.Module, torch.Tensor | None]]) -> bool:
    """The feed-forward branch (its first module, or the norm just before it) reads a tensor that
    existed before the attention ran: the block input or the attention's own normalised input."""
    kinds = [kind for kind, _, _ in events]
    if "attention" not in kinds:
        return False
    first = kinds.index("attention")
    ffn = next((i for i in range(first, len(kinds)) if kinds[i] in ("router", "feed-forward")), None)
    if ffn is None:
        return False
    before = [x for _, _, x in events[:first + 1]]
    branch = [events[ffn][2]] + ([events[ffn - 1][2]] if kinds[ffn - 1] == "norm" else [])
    return any(_same(x, y) for x in branch for y in before)


def _ffn_width(events: list[tuple[str, torch.nn.Module, torch.Tensor | None]]) -> int | None:
    """The width of the hidden feed-forward layer: what the last dense (2-D weight) feed-forward
    projection reads. Experts holding 3-D weights are left out: they have no single layer."""
    for kind, module, x in reversed(events):
        weight = getattr(module, "weight", None)
        if kind == "feed-forward" and isinstance(weight, torch.Tensor) and weight.dim() == 2 and x is not None \
                and x.is_floating_point():
            return int(x.shape[-1])
    return None


@torch.inference_mode()
def probe(loaded: LoadedModel) -> Probe:
    """Run the model once on four tokens with pre-hooks on block 0 of each stack and on the norms
    outside the blocks; the hooks are removed before it returns."""
    model, family = loaded.model, loaded.family
    lists = _block_lists(model)
    events: dict[str, list] = {_stack_name(path, family): [] for path, _ in lists}
    activations: list[str] = []
    early: dict[str, bool] = {}
    handles = []
    # The model is shared: another request may run it while the hooks are on. Only this
    # thread's probe is recorded.
    me = threading.get_ident()

    def on_call(action):
        def hook(_m, args, kwargs):
            if threading.get_ident() == me:
                action(args, kwargs)
        return hook

    try:
        for path, blocks in lists:
            stack = _stack_name(path, family)
            for rel, module in blocks[0].named_modules():
                if not rel:
                    continue
                kind = _inner_kind(rel, module)
                # The lambdas' defaults bind this iteration's values, not the loop variables.
                if any(True for _ in module.parameters(recurse=False)):
                    action = lambda a, k, s=stack, kd=kind, m=module: events[s].append((kd, m, _first_tensor(a, k)))
                elif kind == "feed-forward" and (name := _activation_name(module)):
                    action = lambda a, k, n=name: activations.append(n)
                else:
                    continue
                handles.append(module.register_forward_pre_hook(on_call(action), with_kwargs=True))
        inside = tuple(path + "." for path, _ in lists)
        only = next(iter(events), "")
        for path, module in model.named_modules():
            if _is_norm(module) and not path.startswith(inside):
                stack = _stack_name(path, family) if family == "encoder-decoder" else only
                action = lambda a, k, p=path, s=stack: early.setdefault(p, not events.get(s))
                handles.append(module.register_forward_pre_hook(on_call(action), with_kwargs=True))
        model(**_probe_inputs(loaded))
    finally:
        for handle in handles:
            handle.remove()
    flows = {}
    for stack, seen in events.items():
        kinds = [kind for kind, _, _ in seen]
        flows[stack] = tuple(k for i, k in enumerate(kinds) if i == 0 or k != kinds[i - 1])
    widths = {stack: w for stack, seen in events.items() if (w := _ffn_width(seen)) is not None}
    return Probe(flows, {stack: _is_parallel(seen) for stack, seen in events.items()}, widths,
                 activations[0] if activations else None, early)


def block_flow(loaded: LoadedModel) -> dict[str, tuple[str, ...]]:
    """Per stack, the kinds of block 0's parameter-holding modules in the order they run,
    repeats merged: ("norm", "attention", "norm", "feed-forward") for a pre-norm block."""
    return probe(loaded).flows


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


def _rope(modules: list, config, head_dim: int) -> str | None:
    """RoPE with its base, and the share of each head it rotates where that is not all of it:
    the rotary module's frequencies are what the attention uses (one per pair of dimensions)."""
    rotary = [m for _, m in modules if "rotary" in type(m).__name__.lower()]
    if not rotary:
        return None
    text = f"RoPE (base {rope_base(config):g})"
    freqs = getattr(rotary[0], "inv_freq", None)
    turned = 2 * freqs.numel() if isinstance(freqs, torch.Tensor) else head_dim
    if 0 < turned < head_dim:
        text += (f", partial: rotates {turned} of each head's {head_dim} dimensions ({turned / head_dim:.0%}),"
                 " the rest carry no position")
    return text


def _activation(found: Probe, config, names: list[str]) -> str:
    # The module a feed-forward actually called; the config names differ by class (DistilBERT
    # says `activation`), so they are the fallback for a class that calls a function instead.
    act = found.activation or str(_config_value(
        config, "hidden_act", "activation_function", "dense_act_fn", "activation", default="?"))
    if any(k in n for n in names for k in ("gate_proj", "wi_0", "gate_up_proj")):
        return {"silu": "SwiGLU", "swish": "SwiGLU", "gelu": "GeGLU", "gelu_new": "GeGLU",
                "gelu_pytorch_tanh": "GeGLU", "relu": "ReGLU"}.get(act, f"gated {act}")
    return {"gelu": "GELU", "gelu_new": "GELU (tanh)", "gelu_pytorch_tanh": "GELU (tanh)", "relu": "ReLU"}.get(act, act)


def _feed_forward(found: Probe, config, stacks: list[Stack], width: int) -> str:
    experts = _config_value(config, "num_local_experts", "num_experts")
    if experts:
        return f"mixture of {experts} experts, top-{_config_value(config, 'num_experts_per_tok', default=2)} per token"
    widths = {s.name: found.ffn_width[s.name] for s in stacks if s.name in found.ffn_width}
    if not widths:
        return f"dense (width {_config_value(config, 'intermediate_size', 'n_inner', 'd_ff', default=4 * width)})"
    if len(set(widths.values())) == 1:
        return f"dense (width {next(iter(widths.values()))})"
    return "dense (" + ", ".join(f"{name} width {w}" for name, w in widths.items()) + ")"


def _features(loaded: LoadedModel, parts: tuple[Part, ...], stacks: list[Stack], found: Probe) -> tuple:
    model, config = loaded.model, loaded.model.config
    names = [n for n, _ in model.named_parameters()]
    modules = list(model.named_modules())
    size = dims(config)
    norms = {type(m).__name__ for _, m in modules if _is_norm(m)}
    rms = any(_is_norm(m) and getattr(m, "bias", None) is None and not hasattr(m, "bias_param")
              for _, m in modules)
    norm = ", ".join(sorted(norms)) + (" (RMS: no mean, no bias)" if rms else " (mean and variance)")
    first = stacks[0].flow if stacks else ()
    placement = "pre-norm (norm before each sublayer)" if first and first[0] == "norm" else \
        "post-norm (norm after each residual add)"
    if any(s.parallel for s in stacks):
        placement += "; parallel: attention and feed-forward both read the block input, one add" \
                     " (x + attn(norm(x)) + ffn(norm(x)))"
    positions = []
    if any(p.name.endswith("position embeddings") for p in parts):
        positions.append("learned absolute")
    rope = _rope(modules, config, size.head_dim)
    if rope:
        positions.append(rope)
    if any("relative_attention_bias" in n for n in names):
        buckets = _config_value(config, "relative_attention_num_buckets", default=32)
        positions.append(f"relative buckets ({buckets}, learned bias per head)")
    heads, kv = size.heads, size.kv_heads
    if kv == heads:
        attention = f"multi-head ({heads} heads)"
    elif kv == 1:
        attention = f"multi-query ({heads} query heads share 1 key/value head)"
    else:
        attention = f"grouped-query ({heads} query heads share {kv} key/value heads)"
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
        ("activation", _activation(found, config, names)),
        ("attention", attention),
        ("feed-forward", _feed_forward(found, config, stacks, size.width)),
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
    return describe_loaded(get_model(key, device))


def describe_loaded(loaded: LoadedModel) -> Architecture:
    """`describe` for a model already loaded (or built in memory, as the tests do)."""
    found = probe(loaded)
    parts = count_parts(loaded, found.early_norms)
    stacks = []
    for path, blocks in _block_lists(loaded.model):
        name = _stack_name(path, loaded.family)
        per_block = tuple((p.group, p.parameters) for p in parts if p.stack == name and p.block == 0)
        stacks.append(Stack(name, path, len(blocks), found.flows.get(name, ()), per_block,
                            found.parallel.get(name, False)))
    total = sum(p.numel() for p in loaded.model.parameters())
    return Architecture(loaded.spec.key, loaded.spec.name, loaded.family, type(loaded.model).__name__, total, parts,
                        tuple(stacks), _features(loaded, parts, stacks, found), str(loaded.model))


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
                    "per_block": dict(s.per_block), "parallel": s.parallel} for s in arch.stacks],
        "features": dict(arch.features),
    }
