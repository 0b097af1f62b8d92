"""Autoregressive decoding one token at a time, keeping what each step did to the distribution.

Every sampling knob is applied by transformers' own warpers, in generate()'s order:
TemperatureLogitsWarper, then TopKLogitsWarper, then TopPLogitsWarper, each recording the
distribution it leaves behind. Greedy decoding (or temperature 0) ignores the knobs, as
generate() does. With the KV cache on, each step feeds only the new token; with it off, each
step recomputes the whole sequence: same tokens, different cost (Pope et al. 2022 discuss the
cache's memory; the formula is in `kv_cache_bytes`).

Stages recorded for the top candidates of each step (all as probabilities):
- raw: softmax of the model's logits;
- after_temperature: softmax of logits / T;
- after_top_k, after_top_p: the temperature distribution with the tokens each filter removed
  set to 0, NOT renormalised, so the removed mass is visible;
- final: the renormalised distribution actually sampled from (softmax of the warped scores).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

import numpy as np
import torch
from transformers import DynamicCache, EncoderDecoderCache, TemperatureLogitsWarper, TopKLogitsWarper, TopPLogitsWarper

from models.loading import LoadedModel, get_model
from models.tokenization import display_tokens
from models.trace import clean_text

STRATEGIES = ("greedy", "sample", "beam")
STAGES = ("raw", "after_temperature", "after_top_k", "after_top_p", "final")
CANDIDATES = 20
MAX_NEW_TOKENS = 64


@dataclass(frozen=True)
class Settings:
    strategy: str = "greedy"
    temperature: float = 1.0
    top_k: int = 0  # 0 = off
    top_p: float = 1.0  # 1 = off
    seed: int = 0
    max_new_tokens: int = 20
    num_beams: int = 1
    use_cache: bool = True

    @property
    def sampling(self) -> bool:
        return self.strategy == "sample" and self.temperature > 0


@dataclass(frozen=True)
class Step:
    token: str
    token_id: int
    prob: float  # probability the chosen token had in the final distribution
    logprob_sum: float  # cumulative log-probability of the generated tokens so far
    entropy: float  # entropy (nats) of the final distribution
    candidate_ids: np.ndarray  # (candidates,) int64, most probable under the raw distribution first
    candidate_tokens: tuple[str, ...]
    stages: np.ndarray  # (len(STAGES), candidates) float32
    kept: int  # how many tokens survive every filter
    attention: np.ndarray  # (layers, heads, keys) float32: the new token's self-attention row
    cross: np.ndarray | None  # (layers, heads, source) float32: its cross-attention row (encoder-decoders)
    seconds: float  # wall time of this step's forward pass
    cache_bytes: int  # size of the KV cache after this step (0 with the cache off)


@dataclass(frozen=True)
class Decoding:
    model_key: str
    family: str
    settings: Settings
    prompt_tokens: tuple[str, ...]
    token_ids: tuple[int, ...]  # the generated ids, end-of-sequence included when reached
    text: str
    steps: tuple[Step, ...]
    stopped: str  # "eos" or "length"


def check_settings(settings: Settings, family: str) -> Settings:
    """Refuse impossible knobs with a message that says what is allowed."""
    if family == "encoder":
        raise ValueError("An encoder (BERT) does not generate left to right; pick a decoder or an encoder-decoder.")
    if settings.strategy not in STRATEGIES:
        raise ValueError(f"Strategy must be one of {', '.join(STRATEGIES)}.")
    if settings.strategy == "beam":
        raise ValueError("Beam search is not available yet in step-by-step decoding; use greedy or sample.")
    values = {"temperature": settings.temperature, "top_p": settings.top_p}
    for name, value in values.items():
        if not isinstance(value, (int, float)) or not math.isfinite(value):
            raise ValueError(f"{name} must be a finite number.")
    if not 0 <= settings.temperature <= 10:
        raise ValueError("Temperature must be between 0 (greedy) and 10.")
    if not 0 < settings.top_p <= 1:
        raise ValueError("top_p must be above 0 and at most 1 (1 = off).")
    if not 0 <= int(settings.top_k) <= 100_000:
        raise ValueError("top_k must be 0 (off) or a positive number of tokens.")
    if not 1 <= int(settings.max_new_tokens) <= MAX_NEW_TOKENS:
        raise ValueError(f"max_new_tokens must be between 1 and {MAX_NEW_TOKENS}.")
    if not 0 <= int(settings.seed) < 2**63:
        raise ValueError("The seed must be a non-negative whole number.")
    return settings


def warp(scores: torch.Tensor, input_ids: torch.Tensor, settings: Settings) -> tuple[torch.Tensor, list[torch.Tensor]]:
    """(final scores, [probabilities after each stage]) for one row of logits, shape (1, vocab).

    The stages are raw, after temperature, after top-k, after top-p (the last two not
    renormalised); the final scores are what generate() samples from.
    """
    scores = scores.float()
    raw = torch.softmax(scores, -1)
    if not settings.sampling:
        return scores, [raw, raw, raw, raw]
    scores = TemperatureLogitsWarper(float(settings.temperature))(input_ids, scores)
    tempered = torch.softmax(scores, -1)
    if settings.top_k > 0:
        scores = TopKLogitsWarper(int(settings.top_k))(input_ids, scores)
    after_k = torch.where(torch.isfinite(scores), tempered, torch.zeros_like(tempered))
    if settings.top_p < 1.0:
        scores = TopPLogitsWarper(float(settings.top_p))(input_ids, scores)
    after_p = torch.where(torch.isfinite(scores), tempered, torch.zeros_like(tempered))
    return scores, [raw, tempered, after_k, after_p]


def _cache_bytes(cache) -> int:
    if cache is None:
        return 0
    caches = [cache.self_attention_cache, cache.cross_attention_cache] if isinstance(cache, EncoderDecoderCache) else [cache]
    total = 0
    for c in caches:
        for layer in c.layers:
            for t in (getattr(layer, "keys", None), getattr(layer, "values", None)):
                if isinstance(t, torch.Tensor):
                    total += t.numel() * t.element_size()
    return total


def _rows(attentions) -> np.ndarray:
    """Per-layer (1, heads, q, k) -> (layers, heads, k): the last query's row."""
    return torch.stack([a[0, :, -1, :] for a in attentions]).float().cpu().numpy()


@torch.inference_mode()
def decode(key: str, prompt: str, settings: Settings, device: str | None = None) -> Decoding:
    """Generate up to max_new_tokens, one forward pass per step, recording every step."""
    prompt, _ = clean_text(prompt)
    loaded = get_model(key, device)
    settings = check_settings(settings, loaded.family)
    tok = loaded.tokenizer
    enc = tok(prompt, return_tensors="pt")
    prompt_ids = enc["input_ids"].to(loaded.device)
    if prompt_ids.shape[1] == 0:
        raise ValueError("The prompt gave no tokens for this model; type some words.")
    generator = torch.Generator(device="cpu").manual_seed(int(settings.seed))
    eos = loaded.model.generation_config.eos_token_id
    eos_ids = set(eos if isinstance(eos, list) else [eos])
    runner = _Seq2SeqRunner(loaded, prompt_ids, settings.use_cache) if loaded.family == "encoder-decoder" \
        else _DecoderRunner(loaded, prompt_ids, settings.use_cache)
    steps, generated, logprob_sum, stopped = [], [], 0.0, "length"
    for _ in range(int(settings.max_new_tokens)):
        started = time.perf_counter()
        logits, attention, cross = runner.forward()
        seconds = time.perf_counter() - started
        scores, stages = warp(logits, runner.sequence, settings)
        final = torch.softmax(scores, -1)
        if settings.sampling:
            chosen = int(torch.multinomial(final[0].cpu(), 1, generator=generator))
        else:
            chosen = int(torch.argmax(scores[0]))
        prob = float(final[0, chosen])
        logprob_sum += math.log(prob) if prob > 0 else float("-inf")
        plogp = torch.where(final > 0, final * torch.log(final), torch.zeros_like(final))
        top = torch.topk(stages[0][0], min(CANDIDATES, stages[0].shape[-1])).indices
        ids = top.tolist()
        table = np.stack([s[0, top].cpu().numpy() for s in stages] + [final[0, top].cpu().numpy()]).astype(np.float32)
        runner.append(chosen)
        steps.append(Step(
            token=display_tokens(tok, [chosen])[0], token_id=chosen, prob=prob, logprob_sum=logprob_sum,
            entropy=float(-plogp.sum()), candidate_ids=np.asarray(ids, np.int64),
            candidate_tokens=display_tokens(tok, ids), stages=table, kept=int(torch.isfinite(scores).sum()),
            attention=attention, cross=cross, seconds=seconds, cache_bytes=_cache_bytes(runner.cache),
        ))
        generated.append(chosen)
        if chosen in eos_ids:
            stopped = "eos"
            break
    return Decoding(loaded.spec.key, loaded.family, settings, display_tokens(tok, prompt_ids[0].tolist()),
                    tuple(generated), tok.decode(generated, skip_special_tokens=True), tuple(steps), stopped)


class _DecoderRunner:
    """Feeds a decoder its sequence: the new token only (cache on) or everything (cache off)."""

    def __init__(self, loaded: LoadedModel, prompt_ids: torch.Tensor, use_cache: bool):
        self.model = loaded.model
        self.sequence = prompt_ids
        self.cache = DynamicCache() if use_cache else None
        self._fed = 0

    def forward(self):
        if self.cache is not None:
            ids = self.sequence[:, self._fed:]
            out = self.model(input_ids=ids, past_key_values=self.cache, use_cache=True, output_attentions=True)
            self._fed = self.sequence.shape[1]
        else:
            out = self.model(input_ids=self.sequence, use_cache=False, output_attentions=True)
        return out.logits[:, -1, :], _rows(out.attentions), None

    def append(self, token: int) -> None:
        self.sequence = torch.cat([self.sequence, self.sequence.new_tensor([[token]])], dim=1)


class _Seq2SeqRunner(_DecoderRunner):
    """Encodes the input once; the decoder starts from decoder_start_token_id."""

    def __init__(self, loaded: LoadedModel, prompt_ids: torch.Tensor, use_cache: bool):
        model = loaded.model
        self.model = model
        self.encoder_out = model.get_encoder()(input_ids=prompt_ids)
        start = model.generation_config.decoder_start_token_id
        start = model.config.decoder_start_token_id if start is None else start
        self.sequence = prompt_ids.new_tensor([[start]])
        self.cache = EncoderDecoderCache(DynamicCache(), DynamicCache()) if use_cache else None
        self._fed = 0

    def forward(self):
        ids = self.sequence[:, self._fed:] if self.cache is not None else self.sequence
        out = self.model(encoder_outputs=self.encoder_out, decoder_input_ids=ids, past_key_values=self.cache,
                         use_cache=self.cache is not None, output_attentions=True)
        if self.cache is not None:
            self._fed = self.sequence.shape[1]
        return out.logits[:, -1, :], _rows(out.decoder_attentions), _rows(out.cross_attentions)


def decoding_to_json(result: Decoding) -> dict:
    """The public JSON of a decoding run (the `/decode` endpoint)."""
    steps = []
    for s in result.steps:
        candidates = [
            dict({"token": t, "token_id": int(i)}, **{stage: float(s.stages[k, c]) for k, stage in enumerate(
                ("raw_prob", "after_temperature", "after_top_k", "after_top_p", "final_prob"))})
            for c, (t, i) in enumerate(zip(s.candidate_tokens, s.candidate_ids))
        ]
        steps.append({
            "token": s.token, "token_id": s.token_id, "prob": s.prob,
            "logprob_sum": s.logprob_sum if math.isfinite(s.logprob_sum) else None,
            "entropy": s.entropy, "kept": s.kept, "candidates": candidates,
            "step_ms": round(s.seconds * 1000, 3), "cache_bytes": s.cache_bytes,
        })
    return {"model": result.model_key, "text": result.text, "token_ids": list(result.token_ids),
            "prompt_tokens": list(result.prompt_tokens), "stopped": result.stopped, "steps": steps}


def kv_cache_bytes(layers: int, kv_heads: int, head_dim: int, tokens: int, bits: int = 16, batch: int = 1) -> int:
    """Keys and values of every layer: 2 x layers x kv_heads x head_dim x tokens x batch x bytes."""
    return 2 * layers * kv_heads * head_dim * tokens * batch * bits // 8


# Published configurations (config.json of each model): layers, key/value heads, head dimension.
KV_CONFIGS = {
    "Llama-3.1-8B": (32, 8, 128),
    "Qwen2.5-7B": (28, 4, 128),
}


def kv_config(loaded: LoadedModel) -> tuple[int, int, int]:
    """(layers, key/value heads, head dim) of a loaded decoder or encoder-decoder's self-attention."""
    cfg = loaded.model.config
    # The cache holds the decoder's layers: T5's num_decoder_layers, a decoder's num_hidden_layers.
    layers = getattr(cfg, "num_decoder_layers", None) or cfg.num_hidden_layers
    heads = getattr(cfg, "num_attention_heads", None) or getattr(cfg, "num_heads", None) or cfg.n_head
    kv_heads = getattr(cfg, "num_key_value_heads", None) or heads
    head_dim = getattr(cfg, "head_dim", None) or getattr(cfg, "d_kv", None) or cfg.hidden_size // heads
    return int(layers), int(kv_heads), int(head_dim)


def kv_table(models: dict[str, tuple[int, int, int]], contexts=(8_192, 100_000), bits=(16, 8, 4)) -> list[dict]:
    """KV-cache bytes for one sequence of each context length, per model and precision."""
    return [
        {"model": name, "layers": layers, "kv_heads": kv_heads, "head_dim": head_dim, "context": context,
         "bits": b, "bytes": kv_cache_bytes(layers, kv_heads, head_dim, context, b)}
        for name, (layers, kv_heads, head_dim) in models.items() for context in contexts for b in bits
    ]


@dataclass(frozen=True)
class MaskFill:
    token: str
    token_id: int
    prob: float
    candidates: tuple[tuple[str, float], ...]  # top 5 fills of the trailing [MASK]


@torch.inference_mode()
def fill_left_to_right(key: str, prompt: str, max_new_tokens: int = 10, device: str | None = None) -> tuple[MaskFill, ...]:
    """Make an encoder "generate": append [MASK] before the final [SEP], take its most likely
    fill, append that, repeat. The encoder was trained to fill gaps with context on both sides;
    here the right side is only [SEP], which is why this goes badly."""
    prompt, _ = clean_text(prompt)
    loaded = get_model(key, device)
    tok = loaded.tokenizer
    if loaded.family != "encoder" or tok.mask_token_id is None:
        raise ValueError("Filling a trailing [MASK] needs an encoder with a mask token (a BERT).")
    if not 1 <= int(max_new_tokens) <= MAX_NEW_TOKENS:
        raise ValueError(f"max_new_tokens must be between 1 and {MAX_NEW_TOKENS}.")
    ids = tok(prompt)["input_ids"][:-1]  # without the final [SEP]
    fills = []
    for _ in range(int(max_new_tokens)):
        row = torch.tensor([ids + [tok.mask_token_id, tok.sep_token_id]], device=loaded.device)
        out = loaded.model(input_ids=row)
        logits = out.logits if getattr(out, "logits", None) is not None else out.prediction_logits
        probs = torch.softmax(logits[0, -2].float(), -1)
        top = torch.topk(probs, 5)
        labels = display_tokens(tok, top.indices.tolist())
        chosen = int(top.indices[0])
        fills.append(MaskFill(labels[0], chosen, float(top.values[0]),
                              tuple(zip(labels, (float(v) for v in top.values)))))
        ids.append(chosen)
    return tuple(fills)
