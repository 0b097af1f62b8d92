"""The KV cache sized and measured: its bytes for any configuration, greedy decodes with the
cache and without, and the calculator for the embedded models beside published ones.

A decoder's cache holds its self-attention keys and values, one entry per token so far. An
encoder-decoder's also holds cross-attention keys and values: the decoder's projections of the
encoder output, computed once at the first step and fixed while the output grows, so they
scale with the input (source) length, not with the steps:
cross = 2 x decoder layers x KV heads x head dim x source tokens x bytes per value.
"""

from __future__ import annotations

import dataclasses
import statistics

from models import registry
from models.architecture import dims
from models.decoding import decode
from models.loading import LoadedModel, get_model
from models.results import Decoding, Settings

# Timed decodes per mode: one run's step times swing by more than the cache saves on a busy machine.
RUNS = 3


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


def kv_table(models: dict[str, tuple[int, int, int]], contexts=(8_192, 100_000), bits=(16, 8, 4),
             encoder_decoders=frozenset(), source_tokens: int | None = None) -> list[dict]:
    """KV-cache bytes for one sequence of each context length, per model and precision.

    `bytes` is the whole cache: `self_bytes` (self-attention, `context` tokens) plus, for the
    models named in `encoder_decoders`, `cross_bytes` (cross-attention over `source_tokens`
    input tokens; by default as many as the context, a text translated into one as long). The
    cross-attention of these models has as many heads, of the same size, as their self-attention.
    """
    rows = []
    for name, (layers, kv_heads, head_dim) in models.items():
        for context in contexts:
            source = (context if source_tokens is None else int(source_tokens)) if name in encoder_decoders else 0
            for b in bits:
                own = kv_cache_bytes(layers, kv_heads, head_dim, context, b)
                cross = kv_cache_bytes(layers, kv_heads, head_dim, source, b)
                rows.append({"model": name, "layers": layers, "kv_heads": kv_heads, "head_dim": head_dim,
                             "context": context, "bits": b, "bytes": own + cross, "self_bytes": own,
                             "cross_bytes": cross, "source_tokens": source})
    return rows


def cache_runs(model: str, prompt: str, max_new_tokens: int) -> tuple[Decoding, Decoding]:
    """The same greedy decode with the KV cache on and off (the tokens must agree), each step's
    time the median of RUNS decodes.

    One untimed decode comes first, because the first run pays for allocations and thread start-up
    that would land on whichever mode ran first; the timed runs then alternate on, off, on, ... so
    that a slow spell of the machine hits both modes alike. Step 1 is the prefill: with or without
    the cache it reads the whole prompt (for T5, it also fills the cross-attention cache)."""
    modes = {cache: Settings("greedy", max_new_tokens=int(max_new_tokens), use_cache=cache) for cache in (True, False)}
    decode(model, prompt, modes[True])
    timed = {True: [], False: []}
    for _ in range(RUNS):
        for cache, settings in modes.items():
            timed[cache].append(decode(model, prompt, settings))
    return _median_steps(timed[True]), _median_steps(timed[False])


def _median_steps(runs: list[Decoding]) -> Decoding:
    """The first run, each step's seconds replaced by the median over the runs (greedy: same steps)."""
    times = tuple(tuple(s.seconds for s in run.steps) for run in runs)
    steps = tuple(dataclasses.replace(s, seconds=statistics.median(t[i] for t in times if i < len(t)))
                  for i, s in enumerate(runs[0].steps))
    return dataclasses.replace(runs[0], steps=steps, runs=len(runs), run_seconds=times)


def calculator_rows(model: str) -> list[dict]:
    """Cache bytes per context length and precision: published models, the embedded decoders and `model`."""
    configs, crossing = dict(KV_CONFIGS), set()
    defaults = registry.DEFAULTS
    for key in dict.fromkeys([defaults["decoder"], defaults["llama"], defaults["encoder-decoder"], model]):
        loaded, name = get_model(key), registry.resolve(key).name
        configs[name] = kv_config(loaded)
        if loaded.family == "encoder-decoder":
            crossing.add(name)
    return kv_table(configs, encoder_decoders=frozenset(crossing))


def cache_to_json(on: Decoding, off: Decoding, rows: list[dict]) -> dict:
    """`cache_bytes` per step is the whole cache, `self_cache_bytes` + `cross_cache_bytes`;
    `step_ms` the median over `runs` decodes, `step_ms_runs` every run's (runs x steps)."""
    return {"tokens_same": on.token_ids == off.token_ids, "runs": on.runs,
            "with_cache": {"step_ms": [s.seconds * 1000 for s in on.steps], "cache_bytes": [s.cache_bytes for s in on.steps],
                           "self_cache_bytes": [s.self_cache_bytes for s in on.steps],
                           "cross_cache_bytes": [s.cross_cache_bytes for s in on.steps],
                           "source_tokens": len(on.prompt_tokens) if on.family == "encoder-decoder" else 0,
                           "step_ms_runs": _milliseconds(on.run_seconds)},
            "without_cache": {"step_ms": [s.seconds * 1000 for s in off.steps], "step_ms_runs": _milliseconds(off.run_seconds)},
            "calculator": rows}


def _milliseconds(runs: tuple[tuple[float, ...], ...]) -> list[list[float]]:
    return [[seconds * 1000 for seconds in run] for run in runs]
