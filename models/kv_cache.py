"""The KV cache sized and measured: its bytes for any configuration, one greedy decode with the
cache and one without, and the calculator for the embedded models beside published ones."""

from __future__ import annotations

from models import registry
from models.architecture import dims
from models.decoding import decode
from models.loading import LoadedModel, get_model
from models.results import Decoding, Settings


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
    size = dims(loaded.model.config)
    return size.cache_layers, size.kv_heads, size.head_dim


def kv_table(models: dict[str, tuple[int, int, int]], contexts=(8_192, 100_000), bits=(16, 8, 4)) -> list[dict]:
    """KV-cache bytes for one sequence of each context length, per model and precision."""
    return [
        {"model": name, "layers": layers, "kv_heads": kv_heads, "head_dim": head_dim, "context": context,
         "bits": b, "bytes": kv_cache_bytes(layers, kv_heads, head_dim, context, b)}
        for name, (layers, kv_heads, head_dim) in models.items() for context in contexts for b in bits
    ]


def cache_runs(model: str, prompt: str, max_new_tokens: int) -> tuple[Decoding, Decoding]:
    """The same greedy decode with the KV cache on, then off (the tokens must agree)."""
    runs = [decode(model, prompt, Settings("greedy", max_new_tokens=int(max_new_tokens), use_cache=cache))
            for cache in (True, False)]
    return runs[0], runs[1]


def calculator_rows(model: str) -> list[dict]:
    """Cache bytes per context length and precision: published models, the embedded decoders and `model`."""
    configs = dict(KV_CONFIGS)
    defaults = registry.DEFAULTS
    for key in dict.fromkeys([defaults["decoder"], defaults["llama"], defaults["encoder-decoder"], model]):
        configs[registry.resolve(key).name] = kv_config(get_model(key))
    return kv_table(configs)


def cache_to_json(on: Decoding, off: Decoding, rows: list[dict]) -> dict:
    return {"tokens_same": on.token_ids == off.token_ids,
            "with_cache": {"step_ms": [s.seconds * 1000 for s in on.steps], "cache_bytes": [s.cache_bytes for s in on.steps]},
            "without_cache": {"step_ms": [s.seconds * 1000 for s in off.steps]},
            "calculator": rows}
