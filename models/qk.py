"""Query and key vectors of one head, as BertViz's neuron view shows them, for every family.

The vectors are read where the attention itself reads them: transformers passes every model's
queries and keys through its attention interface (AttentionInterface), after RoPE where the model
rotates them (LLaMA, Mixtral) and with T5's relative position bias as an argument. A copy of the
model is set to a recording implementation registered there (with eager attention's masks,
AttentionMaskInterface); it computes what the models' eager
attention computes (scores = q . k * scaling + bias + mask, softmax, weights . v, key/value heads
shared by query groups as repeat_kv does) and keeps this call's queries, keys, biases and masks.
The copy's output equals the model's (tested), and the shared model is never changed.
"""

from __future__ import annotations

import copy
from contextvars import ContextVar

import numpy as np
import torch
from transformers import AttentionInterface
from transformers.masking_utils import ALL_MASK_ATTENTION_FUNCTIONS, AttentionMaskInterface

from models import architecture
from models.loading import get_model
from models.results import QKVectors
from models.tokens import display_tokens
from models.trace import MAX_NEW_TOKENS, _encode, clean_text, position_limit

RECORDER = "triptych_record"
_calls: ContextVar[list | None] = ContextVar("triptych_qk_calls", default=None)


def _recording_attention(module, query, key, value, attention_mask, scaling=None, dropout=0.0, position_bias=None,
                         **kwargs):
    groups = query.shape[1] // key.shape[1]
    keys = key.repeat_interleave(groups, dim=1) if groups > 1 else key
    values = value.repeat_interleave(groups, dim=1) if groups > 1 else value
    scaling = query.shape[-1] ** -0.5 if scaling is None else scaling
    scores = torch.matmul(query, keys.transpose(-1, -2)) * scaling
    if position_bias is not None:
        scores = scores + position_bias
    mask = attention_mask[..., :keys.shape[-2]] if attention_mask is not None else None
    calls = _calls.get()
    if calls is not None:
        calls.append(dict(module=module, query=query, keys=keys, scaling=float(scaling), bias=position_bias, mask=mask))
    if mask is not None:
        scores = scores + mask
    weights = torch.softmax(scores, dim=-1, dtype=torch.float32).to(query.dtype)
    weights = torch.nn.functional.dropout(weights, p=dropout, training=module.training)
    return torch.matmul(weights, values).transpose(1, 2).contiguous(), weights


AttentionInterface.register(RECORDER, _recording_attention)
# The masks eager attention gets (additive, 4-D); without an entry the recorder would get none.
AttentionMaskInterface.register(RECORDER, ALL_MASK_ATTENTION_FUNCTIONS["eager"])


def recording_copy(model: torch.nn.Module) -> torch.nn.Module:
    clone = copy.deepcopy(model)
    clone.set_attn_implementation(RECORDER)
    return clone


def _kinds(clone, family: str) -> dict[int, tuple[str, int]]:
    """id(attention module) -> (kind, layer), from which block calls it and in which order."""
    found = {}
    for path, blocks in architecture._block_lists(clone):
        stack = architecture._stack_name(path, family)
        for layer, block in enumerate(blocks):
            owners = [m for m in block.modules() if m is not block]
            found.update({id(m): (stack, layer, i) for i, m in enumerate(owners)})
    return found


@torch.inference_mode()
def qk_vectors(key: str, text: str, kind: str = "", layer: int = 0, head: int = 0, query: int = -1) -> QKVectors:
    text, _ = clean_text(text)
    loaded = get_model(key)
    model, tok = loaded.model, loaded.tokenizer
    enc = _encode(loaded, text, position_limit(loaded), [])
    if loaded.family != "encoder":
        enc.pop("token_type_ids", None)
    extra = {}
    ids = enc["input_ids"][0].tolist()
    dec_ids = ids
    if loaded.family == "encoder-decoder":
        generated = model.generate(**enc, do_sample=False, num_beams=1, max_new_tokens=MAX_NEW_TOKENS, min_new_tokens=0)
        extra["decoder_input_ids"] = generated
        dec_ids = generated[0].tolist()
    kinds = kinds_of(loaded.family)
    kind = kind or kinds[-1]
    if kind not in kinds:
        raise ValueError(f"{loaded.spec.name} has attention kinds {', '.join(kinds)}; not {kind!r}.")
    clone = recording_copy(model)
    owners = _kinds(clone, loaded.family)
    calls: list = []
    token = _calls.set(calls)
    try:
        clone(**enc, **extra)
    finally:
        _calls.reset(token)
    # Per (stack, layer), the attention calls in the order the block makes them: self, then cross.
    by_place: dict[tuple[str, int], list] = {}
    for call in calls:
        stack, at, order = owners[id(call["module"])]
        by_place.setdefault((stack, at), []).append((order, call))
    stack = "decoder" if kind == "cross" else kind
    layers = sorted(at for s, at in by_place if s == stack)
    if not layers:
        raise RuntimeError(f"{loaded.spec.name}'s {kind} attention did not pass through the attention interface.")
    layer, head = int(layer), int(head)
    if not 0 <= layer <= layers[-1]:
        raise ValueError(f"Layer {layer} does not exist: this model has layers 0 to {layers[-1]}.")
    ordered = [c for _, c in sorted(by_place[(stack, layer)], key=lambda pair: pair[0])]
    call = ordered[1] if kind == "cross" else ordered[0]
    q_all, k_all = call["query"][0], call["keys"][0]  # (heads, queries, dim), (heads, keys, dim)
    if not 0 <= head < q_all.shape[0]:
        raise ValueError(f"Head {head} does not exist: this model has heads 0 to {q_all.shape[0] - 1}.")
    queries = dec_ids if kind in ("decoder", "cross") else ids
    keys_ids = ids if kind in ("encoder", "cross") else dec_ids
    query = int(query)
    query = len(queries) - 1 if query < 0 else query
    if not 0 <= query < len(queries):
        raise ValueError(f"Position {query} does not exist: the text has positions 0 to {len(queries) - 1}.")
    q = q_all[head, query].float()
    keys = k_all[head].float()
    products = q[None, :] * keys
    bias = call["bias"][0, head, query].float() if call["bias"] is not None else None
    scores = products.sum(-1) * call["scaling"] + (bias if bias is not None else 0)
    mask = call["mask"]
    allowed = (mask[0, 0 if mask.shape[1] == 1 else head, query if mask.shape[2] > 1 else 0] == 0) if mask is not None \
        else torch.ones(len(keys_ids), dtype=torch.bool)
    if bias is not None and loaded.family == "encoder-decoder":
        # T5 folds its mask into the bias: a masked key's bias is the dtype's minimum.
        allowed = allowed & (bias > torch.finfo(bias.dtype).min / 2)
        bias = torch.where(allowed, bias, torch.zeros_like(bias))
        scores = products.sum(-1) * call["scaling"] + bias
    weights = torch.softmax(torch.where(allowed, scores, torch.full_like(scores, -torch.inf)), -1)
    return QKVectors(loaded.spec.key, loaded.spec.name, kind, layer, head, query, display_tokens(tok, queries),
                     display_tokens(tok, keys_ids), q.numpy(), keys.numpy(), products.numpy(), call["scaling"],
                     None if bias is None else bias.numpy(), allowed.numpy().astype(bool), scores.numpy(),
                     weights.numpy().astype(np.float32), kinds, layers[-1] + 1, int(q_all.shape[0]))


def kinds_of(family: str) -> tuple[str, ...]:
    return ("encoder", "decoder", "cross") if family == "encoder-decoder" else (family,)


def qk_to_json(r: QKVectors) -> dict:
    return {"model": r.model_key, "kind": r.kind, "layer": r.layer, "head": r.head, "query": r.query,
            "query_token": r.query_tokens[r.query], "key_tokens": list(r.key_tokens), "q": r.q.tolist(),
            "keys": r.keys.tolist(), "products": r.products.tolist(), "scaling": r.scaling,
            "bias": None if r.bias is None else r.bias.tolist(), "allowed": r.allowed.tolist(),
            "scores": r.scores.tolist(), "weights": r.weights.tolist()}
