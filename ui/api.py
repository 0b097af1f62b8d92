"""The JSON API: one function per endpoint, each validating its arguments and returning plain data.

Tabs' exports call these too, so a view's downloaded numbers are exactly what the API returns.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import get_type_hints

import gradio as gr

from models import ablation, analysis, attribution, lens, mechanisms, numeric, objectives, qk, registry
from models import trace as traces
from models.architecture import architecture_to_json, describe
from models.decoding import decode, decoding_to_json
from models.kv_cache import cache_runs, cache_to_json, calculator_rows
from models.masks import taxonomy, taxonomy_to_json
from ui.controls import RUNS
from ui.beside import text_b as second_text
from ui.gpu import gpu
from ui.i18n import in_language
from ui import validation
from ui.validation import number, settings, text_or_empty, user_errors
from viz.words import speaking

SHORT_SENTENCE = "I like eating apples"


def api_models() -> list[dict]:
    """Every model the app offers: key, display name, family and source."""
    return [
        {"key": s.key, "name": s.name, "family": s.family, "source": f"assets/models/{s.key}" if s.embedded else s.source}
        for s in registry.list_models()
    ]


@gpu
def api_attention_data(model: str, text: str, layer: int = -1, *, encoding: str = "json") -> dict:
    """Run a model once on a text: tokens, attentions [layer][head][query][key] (every layer, or
    only `layer` when it is 0 or more), masks, outputs. `encoding` "float16" or "float32" sends
    the weights as base64 bytes with dtype and shape instead of JSON lists."""
    with user_errors():
        numeric.check_encoding(encoding)
        layer = number(layer, "layer")
        return traces.trace_to_json(traces.run_trace(model, text), None if layer < 0 else layer, encoding)


@gpu
def api_head_patterns(model: str, text: str) -> dict:
    """Per self-attention kind, per layer/head: entropy, distance, sink, previous/diagonal/next, label."""
    with user_errors():
        trace = traces.run_trace(model, text)
        return analysis.patterns_to_json(trace, analysis.trace_patterns(trace))


@gpu
def api_attention_rank(model: str, text: str, tolerance: float = 1e-3, *, encoding: str = "json") -> dict:
    """Per attention kind: rank and effective_rank [layer][head], singular_values [layer][head][i]
    (as base64 bytes with dtype and shape when `encoding` is "float16" or "float32")."""
    with user_errors():
        numeric.check_encoding(encoding)
        tolerance = number(tolerance, "tolerance", False)
        trace = traces.run_trace(model, text)
        return analysis.rank_to_json(trace, analysis.trace_rank(trace, tolerance), encoding)


@gpu
def api_attention_flow(model: str, text: str, position: int = -1, kind: str = "") -> dict:
    """Rollout and attention-flow scores per input token for one query position (-1: the model's
    default, [CLS] for encoders and the last token for decoders) of one self-attention stack."""
    with user_errors():
        trace = traces.run_trace(model, text)
        result = analysis.importance_of(trace, number(position, "position"), text_or_empty(kind))
        return analysis.importance_to_json(trace, result)


@gpu
def api_mask_data(text: str, second: str = SHORT_SENTENCE, prefix: int = 2) -> dict:
    """The mask each architecture applies ([query][key], 1 = may attend) for this text:
    bidirectional with padding (a batch of two), causal, prefix-LM, and T5's three."""
    with user_errors():
        return taxonomy_to_json(taxonomy(text, second or SHORT_SENTENCE, number(prefix, "prefix")))


@gpu
def api_decode(model: str, prompt: str, strategy: str = "greedy", temperature: float = 1.0, top_k: int = 0,
               top_p: float = 1.0, seed: int = 0, max_new_tokens: int = 20, num_beams: int = 1) -> dict:
    """Generate step by step: text, token_ids and per step the chosen token, the top 20 candidates
    after every sampling stage, and two named sets of numbers: model_prob, model_logprob_sum and
    model_entropy for the model's own distribution (prob, logprob_sum, entropy are the same), and,
    when sampling, sample_prob, sample_logprob_sum and sample_entropy for the distribution the
    token was drawn from (after temperature, top-k, top-p; null for greedy and beam search)."""
    with user_errors():
        return decoding_to_json(decode(model, prompt, settings(strategy, temperature, top_k, top_p, seed,
                                                               max_new_tokens, num_beams)))


@gpu
def api_kv_cache(model: str, prompt: str, max_new_tokens: int = 20) -> dict:
    """Greedy decoding with the KV cache on and off: per-step milliseconds and cache bytes (in
    total, and as self_cache_bytes and cross_cache_bytes: an encoder-decoder's cache also holds
    cross-attention keys and values of the encoder output, fixed across steps), the tokens (the
    same both ways), and the cache calculator for real configurations (bytes = self_bytes +
    cross_bytes)."""
    with user_errors():
        on, off = cache_runs(model, prompt, number(max_new_tokens, "max_new_tokens"))
        return cache_to_json(on, off, calculator_rows(model))


@gpu
def api_architecture(model: str) -> dict:
    """A model's parts with parameter counts (adding up to sum(p.numel())), the order of the
    sublayers in a block, and its features: norm, norm placement, positions, activation, attention."""
    with user_errors():
        return architecture_to_json(describe(model))


@gpu
def api_objectives(model: str, text: str, second: str = "", seed: int = 0) -> dict:
    """The model's own training objective on the text: BERT's masking (and NSP with a second
    sentence), GPT's shifted next-token targets with per-token loss, or T5's span corruption."""
    with user_errors():
        return objectives.objective_to_json(objectives.objective(model, text, second or "", validation.seed(seed)))


@gpu
def api_order_experiment(model: str, text: str, seed: int = 0) -> dict:
    """Shuffle the tokens, remove positions (all position ids 0), undo the shuffle on the outputs and
    report the largest difference: ~0 for a bidirectional encoder, large for a causal decoder."""
    with user_errors():
        return mechanisms.order_to_json(mechanisms.order_experiment(model, text, validation.seed(seed)))


@gpu
def api_scaling(model: str, text: str, layer: int = 0, head: int = 0, *, encoding: str = "json") -> dict:
    """One head's scores through softmax with and without 1/sqrt(d_k): weights, entropy, max weight
    (the three matrices as base64 bytes with dtype and shape when `encoding` is "float16" or "float32")."""
    with user_errors():
        numeric.check_encoding(encoding)
        result = mechanisms.scaling(model, text, number(layer, "layer"), number(head, "head"))
        return mechanisms.scaling_to_json(result, encoding)


@gpu
def api_moe_routing(model: str, text: str) -> dict:
    """Per layer and token: the router's probabilities over the experts, the top-k chosen, their
    mixing weights, and how many tokens each expert processed."""
    with user_errors():
        return mechanisms.routing_to_json(mechanisms.moe_routing(model, text))


@gpu
def api_logit_lens(model: str, text: str, top_k: int = 5) -> dict:
    """The model's own output head read at every layer (0: the embeddings) and position of the
    stack that feeds it (decoders, T5's decoder; BERT at its [MASK]s, else every position): the
    top_k tokens with probabilities, and the final prediction's rank and probability per layer."""
    with user_errors():
        return lens.lens_to_json(lens.logit_lens(model, text, number(top_k, "top_k")))


@gpu
def api_ablate(model: str, text: str, heads: str = "", kind: str = "") -> dict:
    """Switch off attention heads ("layer:head, ...") of one self-attention stack (kind; "" the
    first) and compare the prediction at the last position (BERT: the first [MASK]; T5: the first
    output token) and the greedy text with all heads on; `single_head_drop` [layer][head] is how much
    the prediction's probability falls with that head alone off."""
    with user_errors():
        return ablation.ablation_to_json(ablation.ablate(model, text, text_or_empty(heads), text_or_empty(kind)))


@gpu
def api_attribution(model: str, text: str, target: str = "", contrast: str = "", steps: int = 64) -> dict:
    """How much each input token matters for the target token (its text; "" the model's own
    prediction) at the last position (BERT: the first [MASK]; T5: the first output token, over the
    source): gradient x input and integrated gradients from the padding-token baseline in `steps`
    midpoint steps; with `contrast`, f = log p(target) - log p(contrast)."""
    with user_errors():
        return attribution.attribution_to_json(attribution.attribute(
            model, text, text_or_empty(target), text_or_empty(contrast), number(steps, "steps")))


@gpu
def api_qk_vectors(model: str, text: str, kind: str = "", layer: int = 0, head: int = 0, query: int = -1) -> dict:
    """One head's query vector at one position (-1: the last) and every key vector, as the
    attention reads them (after RoPE; T5 with its relative position bias; cross-attention too):
    q * k per dimension (`products`), `scores` = q . k * `scaling` + `bias`, `allowed`, `weights`."""
    with user_errors():
        return qk.qk_to_json(qk.qk_vectors(model, text, text_or_empty(kind), number(layer, "layer"),
                                           number(head, "head"), number(query, "query")))


@gpu
def api_attention_pair(model: str, text: str, text_b: str, model_b: str = "", kind: str = "", layer: int = 0,
                       head: int = 0) -> dict:
    """One head on two texts (text on `model`, text_b on `model_b`; "" = the same text or model):
    both weight matrices, and A - B when both sides have the same tokens (else null, and why)."""
    with user_errors():
        layer, head = number(layer, "layer"), number(head, "head")
        a = traces.run_trace(model, text)
        b = traces.run_trace(text_or_empty(model_b) or model, second_text(text_b) or text)
        chosen = text_or_empty(kind) or a.kinds[-1]
        return analysis.pair_to_json(analysis.attention_pair(a, b, chosen, layer, head))


ENDPOINTS = {
    "models": api_models, "attention_data": api_attention_data, "head_patterns": api_head_patterns,
    "attention_rank": api_attention_rank, "attention_flow": api_attention_flow, "mask_data": api_mask_data,
    "decode": api_decode, "kv_cache": api_kv_cache, "architecture": api_architecture,
    "objectives": api_objectives, "order_experiment": api_order_experiment, "scaling": api_scaling,
    "moe_routing": api_moe_routing, "logit_lens": api_logit_lens, "ablate": api_ablate,
    "attribution": api_attribution, "qk_vectors": api_qk_vectors,
    "attention_pair": api_attention_pair,
}


def with_language(fn: Callable) -> Callable:
    """An endpoint with an optional argument `language` ("en", the default, or "zh") after fn's
    positional ones: the language of the text its answer carries (notices), the numbers being the
    same in both. fn's keyword-only arguments come after it, so adding one to an endpoint never
    moves `language` for clients that pass it by position."""
    signature = inspect.signature(fn)
    positional = [p for p in signature.parameters.values() if p.kind != inspect.Parameter.KEYWORD_ONLY]
    keywords = [p for p in signature.parameters.values() if p.kind == inspect.Parameter.KEYWORD_ONLY]
    count = len(positional)

    def endpoint(*args):
        # Gradio passes every argument, the defaults filled in; a shorter call has no language.
        language = args[count] if len(args) > count else "en"
        chosen = dict(zip((p.name for p in keywords), args[count + 1:]))
        with speaking(language):
            answer = fn(*args[:count], **chosen)
        if isinstance(answer, dict) and "notices" in answer:
            answer = {**answer, "notices": [in_language(n, language) for n in answer["notices"]]}
        return answer
    endpoint.__signature__ = signature.replace(parameters=[
        *positional,
        inspect.Parameter("language", inspect.Parameter.POSITIONAL_OR_KEYWORD, default="en", annotation=str),
        *(p.replace(kind=inspect.Parameter.POSITIONAL_OR_KEYWORD) for p in keywords)])
    endpoint.__annotations__ = {**get_type_hints(fn), "language": str}
    endpoint.__name__, endpoint.__doc__ = fn.__name__, fn.__doc__
    return endpoint


def register() -> set:
    """Every endpoint under its name, inside the Blocks being built; returns their handlers (they
    take the language as an argument, not from the page)."""
    handlers = set()
    for name, fn in ENDPOINTS.items():
        # /models answers names only: no language to choose, and its plain call stays `{"data": []}`.
        handler = fn if fn is api_models else with_language(fn)
        handlers.add(handler)
        # /models runs no model and answers at once, outside the queue: a full queue never refuses it.
        gr.api(handler, api_name=name, **(dict(queue=False) if fn is api_models else RUNS))
    return handlers
