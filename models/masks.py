"""The masking taxonomy on one text: each scheme run on the embedded model that uses it.

Bidirectional with padding (BERT, a batch of two sentences), causal (GPT), prefix-LM (GPT under
a prefix mask; Raffel et al. 2020, Wang et al. 2022) and the encoder-decoder's three (T5's
full encoder, causal decoder and full cross-attention).
"""

from __future__ import annotations

from dataclasses import dataclass

from models import trace as traces
from models.data import AttentionSet
from models.registry import DEFAULTS


@dataclass(frozen=True)
class Scheme:
    name: str  # bidirectional_padded, causal, prefix_lm, encoder, decoder or cross
    model: str  # the embedded model it ran on
    attention: AttentionSet
    title: str


@dataclass(frozen=True)
class Taxonomy:
    prefix: int  # the prefix length used (clamped to the text)
    length: int  # the causal decoder's token count: the prefix slider's range
    schemes: tuple[Scheme, ...]


def taxonomy(text: str, second: str, prefix: int) -> Taxonomy:
    bert, gpt, t5 = DEFAULTS["encoder"], DEFAULTS["decoder"], DEFAULTS["encoder-decoder"]
    batch = traces.run_padded_batch(bert, [text, second])
    causal = traces.run_trace(gpt, text)
    n = len(causal.tokens)
    prefix = min(max(int(prefix), 0), n)
    prefix_lm = traces.run_prefix_lm(gpt, text, prefix)
    seq2seq = traces.run_trace(t5, text)
    return Taxonomy(prefix, n, (
        Scheme("bidirectional_padded", bert, batch[0].attentions[0], "bidirectional, batch row 1"),
        Scheme("bidirectional_padded", bert, batch[1].attentions[0], "bidirectional, batch row 2 ([PAD] keys masked)"),
        Scheme("causal", gpt, causal.attentions[0], "causal decoder"),
        Scheme("prefix_lm", gpt, prefix_lm.attentions[0], f"prefix decoder, prefix of {prefix} tokens"),
        Scheme("encoder", t5, seq2seq.attention("encoder"), "encoder-decoder: encoder, full"),
        Scheme("decoder", t5, seq2seq.attention("decoder"), "encoder-decoder: decoder, causal"),
        Scheme("cross", t5, seq2seq.attention("cross"), "encoder-decoder: cross, full"),
    ))


def taxonomy_to_json(result: Taxonomy) -> dict:
    """Each scheme's mask ([query][key], 1 = may attend) with its tokens."""
    out: dict = {"bidirectional_padded": [], "encoder_decoder": {}}
    for s in result.schemes:
        a = s.attention
        entry = {"model": s.model, "query_tokens": list(a.query_tokens), "key_tokens": list(a.key_tokens),
                 "mask": a.mask.astype(int).tolist()}
        if s.name == "bidirectional_padded":
            out[s.name].append(entry)
        elif s.name in ("encoder", "decoder", "cross"):
            out["encoder_decoder"][s.name] = entry
        else:
            out[s.name] = dict(entry, prefix=result.prefix) if s.name == "prefix_lm" else entry
    return out
