"""The course's concepts measured on the real models: training objectives on a typed sentence,
position information, what order does without positions, why scores are scaled, and how a
mixture-of-experts layer routes tokens.

- Objectives: BERT's masked LM and next-sentence prediction (Devlin et al. 2019), GPT's shifted
  next-token targets (Radford et al. 2018), T5's span corruption (Raffel et al. 2020).
- Positions: the sinusoidal encoding of Vaswani et al. 2017, learned absolute positions, RoPE
  (Su et al. 2021) through the model's own rotary module, T5's relative buckets.
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
import random
from dataclasses import dataclass

import numpy as np
import torch

from models.architecture import dims, rope_base
from models.loading import LoadedModel, get_model
from models.tokens import display_tokens
from models.trace import clean_text, max_tokens
from models.objectives import span_corrupt

MASK_RATE = 0.15


def _ids(loaded: LoadedModel, text: str, second: str | None = None) -> dict:
    text, _ = clean_text(text)
    enc = loaded.tokenizer(text, second, return_tensors="pt", truncation=True, max_length=min(max_tokens(), 128))
    if enc["input_ids"].shape[1] == 0:
        raise ValueError("The text gave no tokens for this model; type some words.")
    return {k: v.to(loaded.device) for k, v in enc.items() if k in ("input_ids", "attention_mask", "token_type_ids")}


def _need(loaded: LoadedModel, family: str, what: str) -> None:
    if loaded.family != family:
        raise ValueError(f"{what} needs {'an' if family[0] in 'ae' else 'a'} {family} model; "
                         f"{loaded.spec.key} is {'an' if loaded.family[0] in 'ae' else 'a'} {loaded.family}.")


# ---------------------------------------------------------------------------------------------
# Training objectives


@dataclass(frozen=True)
class MaskedLM:
    tokens: tuple[str, ...]  # the input as typed
    inputs: tuple[str, ...]  # after corruption: what the model reads
    action: tuple[str, ...]  # per token: "" (not chosen), "mask", "random" or "keep"
    predicted: tuple[str, ...]  # the model's top-1 at each chosen position, "" elsewhere
    prob_original: np.ndarray  # (tokens,) float32: probability given to the original token; nan if not chosen
    loss: np.ndarray  # (tokens,) float32: cross-entropy at chosen positions; nan elsewhere
    mean_loss: float  # mean over the chosen positions: BERT's masked-LM loss
    next_sentence: float | None  # P(IsNext) for the pair, when a second sentence was given
    seed: int


def masked_lm(key: str, text: str, second: str = "", seed: int = 0) -> MaskedLM:
    """BERT's corruption of a typed sentence, and what the model predicts back.

    As in BERT's original data pipeline, exactly max(1, round(15 % of the non-special tokens))
    are chosen; each becomes [MASK] with probability 0.8, a random token with 0.1, or stays."""
    loaded = get_model(key)
    _need(loaded, "encoder", "Masked language modelling")
    tok = loaded.tokenizer
    if tok.mask_token_id is None:
        raise ValueError(f"{key} has no [MASK] token.")
    enc = _ids(loaded, text, second.strip() or None)
    ids = enc["input_ids"][0].tolist()
    special = set(tok.all_special_ids)
    candidates = [i for i, t in enumerate(ids) if t not in special]
    if not candidates:
        raise ValueError("There is nothing to mask: the text has no ordinary tokens.")
    rng = np.random.default_rng(int(seed))
    count = max(1, round(MASK_RATE * len(candidates)))
    chosen = sorted(rng.choice(candidates, size=count, replace=False).tolist())
    ordinary = [i for i in range(len(tok)) if i not in special]
    action, corrupted = [""] * len(ids), list(ids)
    for i in chosen:
        roll = rng.random()
        if roll < 0.8:
            action[i], corrupted[i] = "mask", tok.mask_token_id
        elif roll < 0.9:
            action[i], corrupted[i] = "random", int(ordinary[rng.integers(len(ordinary))])
        else:
            action[i] = "keep"
    enc["input_ids"] = torch.tensor([corrupted], device=loaded.device)
    with torch.inference_mode():
        out = loaded.model(**enc)
    logits = out.logits if getattr(out, "logits", None) is not None else out.prediction_logits
    log_probs = torch.log_softmax(logits[0].float(), -1).cpu()
    loss = np.full(len(ids), np.nan, np.float32)
    prob = np.full(len(ids), np.nan, np.float32)
    predicted = [""] * len(ids)
    for i in chosen:
        loss[i] = -float(log_probs[i, ids[i]])
        prob[i] = math.exp(-loss[i])
        predicted[i] = display_tokens(tok, [int(log_probs[i].argmax())])[0]
    nsp = getattr(out, "seq_relationship_logits", None)
    next_sentence = None
    if nsp is not None and second.strip():
        next_sentence = float(torch.softmax(nsp[0].float(), -1)[0])  # label 0 = IsNext
    return MaskedLM(display_tokens(tok, ids), display_tokens(tok, corrupted), tuple(action), tuple(predicted), prob,
                    loss, float(np.nanmean(loss)), next_sentence, int(seed))


@dataclass(frozen=True)
class NextToken:
    tokens: tuple[str, ...]  # the whole input
    targets: tuple[str, ...]  # tokens[1:]: the target at position i is the token at i + 1
    predicted: tuple[str, ...]  # the model's top-1 at positions 0 .. n-2
    prob: np.ndarray  # (n - 1,) float32: probability of each target
    loss: np.ndarray  # (n - 1,) float32: -log prob
    mean_loss: float  # equals the model's own loss with labels = input_ids


def next_token(key: str, text: str) -> NextToken:
    """A causal LM's training signal on the typed text: each position predicts the next token."""
    loaded = get_model(key)
    _need(loaded, "decoder", "Next-token prediction")
    enc = _ids(loaded, text)
    enc.pop("token_type_ids", None)
    ids = enc["input_ids"][0].tolist()
    if len(ids) < 2:
        raise ValueError("Type at least two tokens: the first has no earlier token to predict it from.")
    with torch.inference_mode():
        out = loaded.model(**enc)
    log_probs = torch.log_softmax(out.logits[0, :-1].float(), -1).cpu()
    targets = torch.tensor(ids[1:])
    picked = log_probs.gather(1, targets[:, None])[:, 0].numpy().astype(np.float32)
    tok = loaded.tokenizer
    return NextToken(display_tokens(tok, ids), display_tokens(tok, ids[1:]),
                     display_tokens(tok, log_probs.argmax(-1).tolist()), np.exp(picked), -picked,
                     float(-picked.mean()))


@dataclass(frozen=True)
class SpanCorruption:
    tokens: tuple[str, ...]  # the sentence's tokens (no end token)
    dropped: np.ndarray  # (tokens,) bool: removed into a span
    inputs: tuple[str, ...]  # encoder input: kept tokens, a sentinel per span, the end token
    targets: tuple[str, ...]  # decoder target: each sentinel followed by its span, then the end
    predicted: tuple[str, ...]  # teacher-forced top-1 per target position
    loss: np.ndarray  # (targets,) float32 cross-entropy per target token
    mean_loss: float  # equals the model's own loss with these labels


def _sentinels(tok) -> list[int]:
    found = []
    for i in range(100):
        token_id = tok.convert_tokens_to_ids(f"<extra_id_{i}>")
        if token_id is None or token_id == tok.unk_token_id:
            break
        found.append(token_id)
    return found


def span_corruption(key: str, text: str, seed: int = 0) -> SpanCorruption:
    """T5's pretraining objective on the typed sentence: spans out, sentinels in, spans as target."""
    loaded = get_model(key)
    _need(loaded, "encoder-decoder", "Span corruption")
    tok = loaded.tokenizer
    sentinels = _sentinels(tok)
    if not sentinels:
        raise ValueError(f"{key}'s tokenizer has no <extra_id_N> sentinel tokens.")
    ids = [i for i in _ids(loaded, text)["input_ids"][0].tolist() if i != tok.eos_token_id]
    if not ids:
        raise ValueError("The text gave no tokens for this model; type some words.")
    source, target = span_corrupt(ids, sentinels, random.Random(int(seed)), tok.eos_token_id)
    dropped = np.zeros(len(ids), bool)
    spans, current = {}, None
    for t in target:
        if t in sentinels:
            current = t
            spans[t] = 0
        elif current is not None and t != tok.eos_token_id:
            spans[current] += 1
    position = 0
    for t in source:
        if t in spans:
            dropped[position:position + spans[t]] = True
            position += spans[t]
        elif t != tok.eos_token_id:
            position += 1
    inputs = torch.tensor([source], device=loaded.device)
    labels = torch.tensor([target], device=loaded.device)
    with torch.inference_mode():
        out = loaded.model(input_ids=inputs, labels=labels)
    log_probs = torch.log_softmax(out.logits[0].float(), -1).cpu()
    picked = log_probs.gather(1, torch.tensor(target)[:, None])[:, 0].numpy().astype(np.float32)
    return SpanCorruption(display_tokens(tok, ids), dropped, display_tokens(tok, source), display_tokens(tok, target),
                          display_tokens(tok, log_probs.argmax(-1).tolist()), -picked, float(-picked.mean()))


# ---------------------------------------------------------------------------------------------
# Positions


def sinusoidal(positions: int, dim: int, base: float = 10000.0) -> np.ndarray:
    """(positions, dim): PE(p, 2i) = sin(p / base^(2i/dim)), PE(p, 2i+1) = cos(p / base^(2i/dim))."""
    if not 1 <= positions <= 4096 or not 2 <= dim <= 4096 or dim % 2:
        raise ValueError("Positions must be 1..4096 and the dimension an even number 2..4096.")
    p = np.arange(positions, dtype=np.float64)[:, None]
    i = np.arange(dim // 2, dtype=np.float64)[None, :]
    angle = p / base ** (2 * i / dim)
    pe = np.empty((positions, dim), np.float64)
    pe[:, 0::2], pe[:, 1::2] = np.sin(angle), np.cos(angle)
    return pe.astype(np.float32)


def cosine_similarity(vectors: np.ndarray) -> np.ndarray:
    """(n, n) cosine similarity between the rows."""
    unit = vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)
    return (unit @ unit.T).astype(np.float32)


def learned_positions(key: str, positions: int = 64) -> np.ndarray:
    """(positions, width) float32: a model's learned absolute position embeddings."""
    loaded = get_model(key)
    for name, param in loaded.model.named_parameters():
        if name.endswith(("position_embeddings.weight", "wpe.weight")):
            return param.detach()[:positions].float().cpu().numpy()
    raise ValueError(f"{key} has no learned absolute position embeddings (it uses RoPE or relative positions).")


@dataclass(frozen=True)
class Rope:
    base: float
    head_dim: int
    angles: np.ndarray  # (positions, head_dim // 2) float32: rotation angle of each pair at each position
    scores: np.ndarray  # (positions, positions) float32: <R_m q, R_n k> for one fixed q and k


def rope(key: str, positions: int = 32, seed: int = 0) -> Rope:
    """RoPE through the model's own rotary module: the angle of every dimension pair, and the
    score of one query and key placed at every pair of positions, which depends only on m - n."""
    loaded = get_model(key)
    model = loaded.model
    rotary = next((m for m in model.modules() if "rotary" in type(m).__name__.lower()), None)
    if rotary is None:
        raise ValueError(f"{key} does not use rotary position embeddings; try mini-llama.")
    from transformers.models.llama.modeling_llama import apply_rotary_pos_emb

    config = model.config
    head_dim = dims(config).head_dim
    gen = torch.Generator().manual_seed(int(seed))
    q = torch.randn(1, 1, 1, head_dim, generator=gen).expand(1, 1, positions, head_dim)
    k = torch.randn(1, 1, 1, head_dim, generator=gen).expand(1, 1, positions, head_dim)
    pos = torch.arange(positions)[None, :]
    with torch.inference_mode():
        cos, sin = rotary(q.to(loaded.device), pos.to(loaded.device))
        rq, rk = apply_rotary_pos_emb(q.to(loaded.device), k.to(loaded.device), cos, sin)
    scores = (rq[0, 0] @ rk[0, 0].T).float().cpu().numpy()
    # The first half of cos's last axis holds one angle per pair (transformers rotates halves).
    angles = torch.atan2(sin[0, :, : head_dim // 2], cos[0, :, : head_dim // 2]).float().cpu().numpy()
    return Rope(rope_base(config), head_dim, np.unwrap(angles, axis=0).astype(np.float32), scores.astype(np.float32))


@dataclass(frozen=True)
class RelativeBuckets:
    buckets: np.ndarray  # (positions, positions) int: bucket of key - query, bidirectional (encoder)
    causal_buckets: np.ndarray  # (positions, positions) int: the decoder's one-sided buckets
    bias: np.ndarray  # (heads, positions, positions) float32: the encoder's learned bias per head
    num_buckets: int
    max_distance: int


def relative_buckets(key: str, positions: int = 32) -> RelativeBuckets:
    """T5's relative positions: bucket of each offset (exact when small, logarithmic when far),
    and the learned bias the encoder adds to every score, per head, from the model's own code."""
    loaded = get_model(key)
    attention = next((m for m in loaded.model.modules() if getattr(m, "has_relative_attention_bias", False)), None)
    if attention is None:
        raise ValueError(f"{key} has no relative position buckets; try mini-t5.")
    config = loaded.model.config
    relative = torch.arange(positions)[None, :] - torch.arange(positions)[:, None]
    bucket = type(attention)._relative_position_bucket
    n, distance = config.relative_attention_num_buckets, config.relative_attention_max_distance
    with torch.inference_mode():
        both = bucket(relative, bidirectional=True, num_buckets=n, max_distance=distance)
        causal = bucket(relative, bidirectional=False, num_buckets=n, max_distance=distance)
        bias = attention.compute_bias(positions, positions, device=loaded.device)[0].float().cpu().numpy()
    return RelativeBuckets(both.numpy(), causal.numpy(), bias.astype(np.float32), n, distance)


# ---------------------------------------------------------------------------------------------
# Order without positions


@dataclass(frozen=True)
class OrderResult:
    model_key: str
    family: str
    tokens: tuple[str, ...]
    permutation: np.ndarray  # (tokens,) int: shuffled position i holds original token permutation[i]
    shuffled: tuple[str, ...]
    diff_without_positions: np.ndarray  # (tokens,) float32: max |h_shuffled - h| per original token, positions all 0
    diff_with_positions: np.ndarray  # (tokens,) float32: the same with the model's positions
    max_without_positions: float
    max_with_positions: float


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
    if loaded.family == "encoder-decoder":
        raise ValueError("T5 keeps positions inside attention as relative biases; compare an encoder "
                         "(mini-bert) with a decoder (mini-gpt, mini-llama).")
    if "position_ids" not in inspect.signature(loaded.model.forward).parameters:
        raise ValueError(f"{key} does not accept position ids, so its positions cannot be switched off.")
    enc = _ids(loaded, text)
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


# ---------------------------------------------------------------------------------------------
# Scaling


@dataclass(frozen=True)
class Scaling:
    tokens: tuple[str, ...]
    layer: int
    head: int
    d_k: int
    scores: np.ndarray  # (q, k) float32: QK^T with each row shifted to max 0; -inf where masked
    scaled: np.ndarray  # (q, k) float32: softmax(QK^T / sqrt(d_k)), the model's own attention
    unscaled: np.ndarray  # (q, k) float32: softmax(QK^T)
    entropy_scaled: np.ndarray  # (q,) float32, nats
    entropy_unscaled: np.ndarray  # (q,) float32
    max_scaled: np.ndarray  # (q,) float32: largest weight per row
    max_unscaled: np.ndarray  # (q,) float32


def _entropy(p: np.ndarray) -> np.ndarray:
    safe = np.where(p > 0, p, 1.0)
    return (-(p * np.log(safe)).sum(-1)).astype(np.float32)


def _softmax(x: np.ndarray) -> np.ndarray:
    top = np.max(np.where(np.isfinite(x), x, -np.inf), axis=-1, keepdims=True)
    e = np.exp(x - top)
    return (e / e.sum(-1, keepdims=True)).astype(np.float32)


def layers_heads(key: str) -> tuple[int, int]:
    """(layers, heads) of a model's first self-attention stack."""
    size = dims(get_model(key).model.config)
    return size.layers, size.heads


def scaling(key: str, text: str, layer: int = 0, head: int = 0) -> Scaling:
    """One head's scores on the typed text, through softmax with and without 1/sqrt(d_k)."""
    from models.trace import run_trace

    loaded = get_model(key)
    if loaded.family == "encoder-decoder":
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
    unscaled = _softmax(scores)
    scaled = a.astype(np.float32)
    return Scaling(trace.tokens, int(layer), int(head), d_k, scores.astype(np.float32), scaled, unscaled,
                   _entropy(scaled), _entropy(unscaled), scaled.max(1), unscaled.max(1))


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
        "naive_float32": [None if not np.isfinite(v) else float(v) for v in naive],
        "stable": _softmax(x).tolist(),
        "scaled": _softmax(x / math.sqrt(d_k)).tolist(),
        "dot_std": float(dots.std()), "scaled_dot_std": float((dots / math.sqrt(d_k)).std()),
    }


# ---------------------------------------------------------------------------------------------
# Mixture of experts


@dataclass(frozen=True)
class Routing:
    model_key: str
    tokens: tuple[str, ...]
    experts: int
    top_k: int
    probs: np.ndarray  # (layers, tokens, experts) float32: softmax of the router's logits
    chosen: np.ndarray  # (layers, tokens, top_k) int64: experts used, most probable first
    weights: np.ndarray  # (layers, tokens, top_k) float32: their mixing weights (chosen probs renormalised)
    load: np.ndarray  # (layers, experts) int64: how many tokens each expert processed
    attention: np.ndarray  # (layers, heads, query, key) float32: the same run's self-attention


def moe_routing(key: str, text: str) -> Routing:
    """Which experts each token is sent to, in every layer, beside the same run's attention."""
    loaded = get_model(key)
    config = loaded.model.config
    experts = getattr(config, "num_local_experts", None) or getattr(config, "num_experts", None)
    if not experts:
        raise ValueError(f"{key} has no mixture-of-experts layers; pick mini-mixtral.")
    top_k = int(getattr(config, "num_experts_per_tok", 2))
    enc = _ids(loaded, text)
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


# ---------------------------------------------------------------------------------------------
# JSON for the public API


def _floats(values: np.ndarray) -> list:
    """Nested lists of floats, NaN as None (JSON has no NaN)."""
    return np.where(np.isnan(values), None, values.astype(object)).tolist() if values.dtype.kind == "f" else values.tolist()


def objective_to_json(result) -> dict:
    if isinstance(result, MaskedLM):
        return {"objective": "masked_lm", "tokens": list(result.tokens), "inputs": list(result.inputs),
                "action": list(result.action), "predicted": list(result.predicted),
                "prob_original": _floats(result.prob_original), "loss": _floats(result.loss),
                "mean_loss": result.mean_loss, "next_sentence": result.next_sentence, "seed": result.seed}
    if isinstance(result, NextToken):
        return {"objective": "next_token", "tokens": list(result.tokens), "targets": list(result.targets),
                "predicted": list(result.predicted), "prob": _floats(result.prob), "loss": _floats(result.loss),
                "mean_loss": result.mean_loss}
    return {"objective": "span_corruption", "tokens": list(result.tokens), "dropped": result.dropped.tolist(),
            "inputs": list(result.inputs), "targets": list(result.targets), "predicted": list(result.predicted),
            "loss": _floats(result.loss), "mean_loss": result.mean_loss}


def objective(key: str, text: str, second: str = "", seed: int = 0):
    """The model family's own pretraining objective on the text."""
    family = get_model(key).family
    if family == "encoder":
        return masked_lm(key, text, second, seed)
    if family == "decoder":
        return next_token(key, text)
    return span_corruption(key, text, seed)


def order_to_json(result: OrderResult) -> dict:
    return {"model": result.model_key, "family": result.family, "tokens": list(result.tokens),
            "permutation": result.permutation.tolist(), "shuffled": list(result.shuffled),
            "diff_without_positions": _floats(result.diff_without_positions),
            "diff_with_positions": _floats(result.diff_with_positions),
            "max_without_positions": result.max_without_positions, "max_with_positions": result.max_with_positions,
            "equivariant": result.max_without_positions < 1e-5}


def scaling_to_json(result: Scaling) -> dict:
    return {"tokens": list(result.tokens), "layer": result.layer, "head": result.head, "d_k": result.d_k,
            "scores": np.where(np.isfinite(result.scores), result.scores.astype(object), None).tolist(),
            "scaled": _floats(result.scaled), "unscaled": _floats(result.unscaled),
            "entropy_scaled": _floats(result.entropy_scaled), "entropy_unscaled": _floats(result.entropy_unscaled),
            "max_scaled": _floats(result.max_scaled), "max_unscaled": _floats(result.max_unscaled)}


def routing_to_json(result: Routing) -> dict:
    return {"model": result.model_key, "tokens": list(result.tokens), "experts": result.experts, "top_k": result.top_k,
            "router_probs": _floats(result.probs), "chosen": result.chosen.tolist(), "weights": _floats(result.weights),
            "load": result.load.tolist()}
