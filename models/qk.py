"""Query and key vectors of one head, as BertViz's neuron view shows them, for every family.

The vectors are read where the attention itself reads them: transformers passes every model's
queries and keys through its attention interface (AttentionInterface), after RoPE where the model
rotates them (LLaMA, Mixtral) and with T5's relative position bias as an argument. A copy of the
model is set to a recording implementation registered there (with eager attention's masks,
AttentionMaskInterface); it computes what the models' eager
attention computes (scores = q . k * scaling + bias + mask, softmax, weights . v, key/value heads
shared by query groups as repeat_kv does) and keeps this call's queries, keys, biases and masks.
The copy (its weights shared, not copied) gives the model's output (tested), and the shared
model is never changed.

RoPE (Su et al. 2021, "RoFormer"): a model that rotates its queries and keys is handed the
rotation as `position_embeddings` (cos, sin) by its blocks. The vectors before the rotation are
read by running the copy once more with every angle zero (cos 1, sin 0), so the picture does not
depend on how a family pairs its dimensions; the angles are atan2(sin, cos) of what it was handed.
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
    """The model's modules and config copied, its weights shared: a base-sized model's weights
    are copied in 0.6 s and doubled in memory on every request otherwise (0.07 s shared, measured
    on a 223 M-parameter T5). The copy only runs under inference mode, so sharing is safe."""
    tensors = [*model.parameters(), *model.buffers()]
    clone = copy.deepcopy(model, memo={id(t): t for t in tensors})
    clone.set_attn_implementation(RECORDER)
    return clone


ROTATION = "position_embeddings"  # the (cos, sin) pair transformers' RoPE blocks pass to attention


def _record_rotations(modules, seen: dict, unrotated: torch.nn.Module | None):
    """Pre-hooks on `modules`: each one handed a rotation keeps it in `seen` (by module id). The
    module `unrotated` gets angle zero instead; only it, so that every layer before it (and its
    own input) is what the model computes. Returns the hooks' handles."""
    def hook(module, args, kwargs):
        pair = kwargs.get(ROTATION)
        if not (isinstance(pair, tuple) and len(pair) == 2):
            return None
        seen[id(module)] = pair
        if module is unrotated:
            cos, sin = pair
            return args, {**kwargs, ROTATION: (torch.ones_like(cos), torch.zeros_like(sin))}
        return None
    return [m.register_forward_pre_hook(hook, with_kwargs=True) for m in modules]


def _recorded(clone, inputs: dict, unrotated: torch.nn.Module | None = None) -> tuple[list, dict]:
    """One call of the recording copy: its attention calls, and the rotations its modules were handed."""
    calls, rotations = [], {}
    handles = _record_rotations(list(clone.modules()), rotations, unrotated)
    token = _calls.set(calls)
    try:
        clone(**inputs)
    finally:
        _calls.reset(token)
        for handle in handles:
            handle.remove()
    return calls, rotations


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
    calls, rotations = _recorded(clone, {**enc, **extra})
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
    at = 1 if kind == "cross" else 0
    call = ordered[at]
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
    rotation = _rotation(clone, {**enc, **extra}, owners, call, rotations, (stack, layer, at), head, query,
                         call["scaling"])
    return QKVectors(loaded.spec.key, loaded.spec.name, kind, layer, head, query, display_tokens(tok, queries),
                     display_tokens(tok, keys_ids), q.numpy(), keys.numpy(), products.numpy(), call["scaling"],
                     None if bias is None else bias.numpy(), allowed.numpy().astype(bool), scores.numpy(),
                     weights.numpy().astype(np.float32), kinds, layers[-1] + 1, int(q_all.shape[0]), *rotation)


def _rotation(clone, inputs: dict, owners: dict, call: dict, rotations: dict, place: tuple, head: int, query: int,
              scaling: float) -> tuple:
    """RoPE's part of one head: (q before, keys before, the query's and keys' angles, the scores
    without the rotation), or five Nones for a model that does not rotate."""
    pair = rotations.get(id(call["module"]))
    if pair is None:
        return (None,) * 5
    calls, _ = _recorded(clone, inputs, unrotated=call["module"])
    stack, layer, at = place
    same = sorted(((owners[id(c["module"])][2], c) for c in calls if owners[id(c["module"])][:2] == (stack, layer)),
                  key=lambda item: item[0])
    plain = same[at][1]
    q0, k0 = plain["query"][0, head, query].float(), plain["keys"][0, head].float()
    cos, sin = (part[0].float() for part in pair)  # (positions, rotated dims)
    angles = torch.atan2(sin, cos)
    return (q0.numpy(), k0.numpy(), angles[query].numpy(), angles[: k0.shape[0]].numpy(),
            ((k0 @ q0) * scaling).numpy())


def kinds_of(family: str) -> tuple[str, ...]:
    return ("encoder", "decoder", "cross") if family == "encoder-decoder" else (family,)


def qk_to_json(r: QKVectors) -> dict:
    return {"model": r.model_key, "kind": r.kind, "layer": r.layer, "head": r.head, "query": r.query,
            "query_token": r.query_tokens[r.query], "key_tokens": list(r.key_tokens), "q": r.q.tolist(),
            "keys": r.keys.tolist(), "products": r.products.tolist(), "scaling": r.scaling,
            "bias": None if r.bias is None else r.bias.tolist(), "allowed": r.allowed.tolist(),
            "scores": r.scores.tolist(), "weights": r.weights.tolist(),
            "rope": None if r.q_before is None else {
                "q_before": r.q_before.tolist(), "keys_before": r.keys_before.tolist(),
                "query_angles": r.query_angles.tolist(), "key_angles": r.key_angles.tolist(),
                "scores_unrotated": r.scores_unrotated.tolist()}}
