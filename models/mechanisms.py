"""Three mechanisms measured on the real models: what order does without positions, why scores
are scaled, and how a mixture-of-experts layer routes tokens.

- Order: with every position id set to 0, self-attention without a mask is permutation-
  equivariant, so a bidirectional encoder's outputs for shuffled tokens are the same vectors
  permuted; a causal mask breaks that symmetry, so a decoder still "knows" order.
- Scaling: scores QK^T are recovered from the model's attention A up to a constant per row
  (softmax ignores such constants): sqrt(d_k) log A. Softmax of those unscaled scores shows
  the saturation that the 1/sqrt(d_k) of Vaswani et al. avoids.
- Routing: a Mixtral-style layer sends each token to its router's top-k experts (Jiang et al.
  2024; Shazeer et al. 2017), while every attention head works on every token.
"""

from __future__ import annotations

import inspect
import math

import numpy as np
import torch

from models.architecture import dims
from models.loading import LoadedModel, get_model
from models.numeric import encoded, entropy, jsonable, softmax
from models.results import OrderResult, Routing, Scaling
from models.tokens import display_tokens
from models.trace import encode_text, run_trace


# The T5 family's mechanisms (relative position biases, no 1/sqrt(d_k)); other encoder-decoders
# such as BART have learned positions and scale their scores.
T5_TYPES = ("t5", "mt5", "umt5", "longt5")


def _is_t5(loaded: LoadedModel) -> bool:
    return getattr(loaded.model.config, "model_type", "") in T5_TYPES


def _hidden(loaded: LoadedModel, ids: list[int], without_positions: bool) -> np.ndarray:
    inputs = {"input_ids": torch.tensor([ids], device=loaded.device)}
    if without_positions:
        inputs["position_ids"] = torch.zeros_like(inputs["input_ids"])
    with torch.inference_mode():
        out = loaded.model(**inputs, output_hidden_states=True)
    return out.hidden_states[-1][0].float().cpu().numpy()


def order_experiment(key: str, text: str, seed: int = 0) -> OrderResult:
    """Shuffle the ordinary tokens (specials stay put), run both orders, undo the shuffle on the
    outputs and compare, once with every position id set to 0 and once with real positions."""
    loaded = get_model(key)
    if _is_t5(loaded):
        raise ValueError("T5 keeps positions inside attention as relative biases; compare an encoder "
                         "(mini-bert) with a decoder (mini-gpt, mini-llama).")
    if "position_ids" not in inspect.signature(loaded.model.forward).parameters:
        raise ValueError(f"{key} does not accept position ids, so its positions cannot be switched off.")
    enc = encode_text(loaded, text)
    ids = enc["input_ids"][0].tolist()
    special = set(loaded.tokenizer.all_special_ids)
    movable = [i for i, t in enumerate(ids) if t not in special]
    if len(set(ids[i] for i in movable)) < 2:
        raise ValueError("Type at least two different tokens to shuffle.")
    rng = np.random.default_rng(int(seed))
    order = list(movable)
    while [ids[i] for i in order] == [ids[i] for i in movable]:
        order = rng.permutation(movable).tolist()
    permutation = np.arange(len(ids))
    permutation[movable] = order
    shuffled = [ids[p] for p in permutation]
    diffs = []
    for without in (True, False):
        original = _hidden(loaded, ids, without)
        moved = _hidden(loaded, shuffled, without)
        back = np.empty_like(moved)
        back[permutation] = moved  # row i of the shuffled run belongs to original token permutation[i]
        diffs.append(np.abs(back - original).max(axis=1).astype(np.float32))
    tok = loaded.tokenizer
    return OrderResult(loaded.spec.key, loaded.family, display_tokens(tok, ids), permutation,
                       display_tokens(tok, shuffled), diffs[0], diffs[1], float(diffs[0].max()), float(diffs[1].max()))


def layers_heads(key: str) -> tuple[int, int]:
    """(layers, heads) of a model's first self-attention stack."""
    size = dims(get_model(key).model.config)
    return size.layers, size.heads


def scaling(key: str, text: str, layer: int = 0, head: int = 0) -> Scaling:
    """One head's scores on the typed text, through softmax with and without 1/sqrt(d_k)."""
    loaded = get_model(key)
    if _is_t5(loaded):
        raise ValueError("T5 does not divide its scores by sqrt(d_k) (its initialisation absorbs the factor); "
                         "pick BERT, GPT or LLaMA.")
    trace = run_trace(key, text)
    attn = trace.attentions[0]
    layers, heads = attn.attn.shape[:2]
    if not (0 <= int(layer) < layers and 0 <= int(head) < heads):
        raise ValueError(f"Layer must be 0..{layers - 1} and head 0..{heads - 1}.")
    a = attn.attn[int(layer), int(head)].astype(np.float64)
    d_k = dims(loaded.model.config).head_dim
    with np.errstate(divide="ignore"):
        log_a = np.where((attn.mask > 0) & (a > 0), np.log(a), -np.inf)
    scores = math.sqrt(d_k) * (log_a - log_a.max(axis=1, keepdims=True))
    unscaled = softmax(scores)
    scaled = a.astype(np.float32)
    return Scaling(trace.tokens, int(layer), int(head), d_k, scores.astype(np.float32), scaled, unscaled,
                   entropy(scaled), entropy(unscaled), scaled.max(1), unscaled.max(1))


def textbook_scaling(scores=(100.0, 101.0, 99.0), d_k: int = 64, samples: int = 10_000, seed: int = 0) -> dict:
    """The textbook numbers: softmax of [100, 101, 99] computed naively in float32 (exp overflows),
    stably (max subtracted), after dividing by sqrt(d_k); and the spread of q.k for random unit-
    variance vectors, sqrt(d_k) before scaling and 1 after."""
    x = np.asarray(scores, np.float32)
    with np.errstate(over="ignore", invalid="ignore"):
        naive = np.exp(x) / np.exp(x).sum()
    rng = np.random.default_rng(int(seed))
    q, k = rng.standard_normal((samples, d_k)), rng.standard_normal((samples, d_k))
    dots = (q * k).sum(1)
    return {
        "scores": x.tolist(), "d_k": int(d_k),
        "naive_float32": jsonable(naive),
        "stable": softmax(x).tolist(),
        "scaled": softmax(x / math.sqrt(d_k)).tolist(),
        "dot_std": float(dots.std()), "scaled_dot_std": float((dots / math.sqrt(d_k)).std()),
    }


def moe_routing(key: str, text: str) -> Routing:
    """Which experts each token is sent to, in every layer, beside the same run's attention."""
    loaded = get_model(key)
    config = loaded.model.config
    experts = getattr(config, "num_local_experts", None) or getattr(config, "num_experts", None)
    if not experts:
        raise ValueError(f"{key} has no mixture-of-experts layers; pick mini-mixtral.")
    top_k = int(getattr(config, "num_experts_per_tok", 2))
    enc = encode_text(loaded, text)
    enc.pop("token_type_ids", None)
    with torch.inference_mode():
        out = loaded.model(**enc, output_router_logits=True, output_attentions=True)
    logits = torch.stack([r.reshape(-1, experts) for r in out.router_logits]).float()  # (layers, tokens, experts)
    probs = torch.softmax(logits, -1)
    top = torch.topk(probs, top_k, dim=-1)
    weights = top.values / top.values.sum(-1, keepdim=True)
    load = torch.nn.functional.one_hot(top.indices, experts).sum(dim=(1, 2))
    attention = torch.stack([a[0] for a in out.attentions]).float()
    ids = enc["input_ids"][0].tolist()
    return Routing(loaded.spec.key, display_tokens(loaded.tokenizer, ids), int(experts), top_k,
                   probs.cpu().numpy(), top.indices.cpu().numpy(), weights.cpu().numpy().astype(np.float32),
                   load.cpu().numpy(), attention.cpu().numpy())


def order_to_json(result: OrderResult) -> dict:
    return {"model": result.model_key, "family": result.family, "tokens": list(result.tokens),
            "permutation": result.permutation.tolist(), "shuffled": list(result.shuffled),
            "diff_without_positions": jsonable(result.diff_without_positions),
            "diff_with_positions": jsonable(result.diff_with_positions),
            "max_without_positions": result.max_without_positions, "max_with_positions": result.max_with_positions,
            "equivariant": result.max_without_positions < 1e-5}


def scaling_to_json(result: Scaling, encoding: str = "json") -> dict:
    """The public form; `encoding` (numeric.ENCODINGS) for the three (query, key) matrices."""
    return {"tokens": list(result.tokens), "layer": result.layer, "head": result.head, "d_k": result.d_k,
            "encoding": encoding, "scores": encoded(result.scores, encoding),
            "scaled": encoded(result.scaled, encoding), "unscaled": encoded(result.unscaled, encoding),
            "entropy_scaled": jsonable(result.entropy_scaled), "entropy_unscaled": jsonable(result.entropy_unscaled),
            "max_scaled": jsonable(result.max_scaled), "max_unscaled": jsonable(result.max_unscaled)}


def routing_to_json(result: Routing) -> dict:
    return {"model": result.model_key, "tokens": list(result.tokens), "experts": result.experts, "top_k": result.top_k,
            "router_probs": jsonable(result.probs), "chosen": result.chosen.tolist(), "weights": jsonable(result.weights),
            "load": result.load.tolist()}
