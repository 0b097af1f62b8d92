"""Position information, computed and read off the real models.

The sinusoidal encoding of Vaswani et al. 2017, learned absolute positions (BERT, GPT), RoPE
(Su et al. 2021) through the model's own rotary module, and T5's relative buckets with the
bias its encoder learned for them.
"""

from __future__ import annotations

import numpy as np
import torch

from models.architecture import dims, rope_base
from models.loading import get_model
from models.results import RelativeBuckets, Rope


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
