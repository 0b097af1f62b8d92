"""Run a model once on a text and keep what the views need, as plain numpy data.

A Trace holds the tokens, every attention tensor the model has (encoder self-attention,
decoder self-attention, cross-attention), the mask that was applied to each, and the model's
own answer: top-k fills for each [MASK] (encoder), the next-token distribution (decoder), or
the greedy output text (encoder-decoder). Nothing in a Trace refers to torch, so viz/ and the
API can use it freely and gr.State can copy it.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import torch

from models import familiarity
from models.data import AttentionSet, Candidate, Prediction, Trace
from models.limits import setting
from models.loading import LoadedModel, get_model
from models.model_io import model_inputs, next_sentence_prob, vocab_logits
from models.numeric import check_encoding, jsonable, packed
from models.tokens import display_tokens

MAX_CHARS_ENV = "TRIPTYCH_MAX_CHARS"
MAX_TOKENS_ENV = "TRIPTYCH_MAX_TOKENS"
MAX_NUMBERS_ENV = "TRIPTYCH_MAX_NUMBERS"
MAX_BINARY_ENV = "TRIPTYCH_MAX_BINARY_MB"
MAX_NEW_TOKENS = 32


def max_chars() -> int:
    return setting(MAX_CHARS_ENV, 2000)


def max_tokens() -> int:
    return setting(MAX_TOKENS_ENV, 128, minimum=2)


def max_numbers() -> int:
    """The most attention weights one JSON answer may carry (default 4,000,000: every layer of a
    base-sized model, 12 x 12 heads, at 128 tokens is 2.4 M, about 30 MB of JSON)."""
    return setting(MAX_NUMBERS_ENV, 4_000_000)


def max_binary_bytes() -> int:
    """The most bytes of weights one base64 answer may carry (default 80 MB: every layer of a
    12 x 12 model at 512 tokens in float16 is 75.5 MB, about 101 MB of base64)."""
    return setting(MAX_BINARY_ENV, 80) * 2**20


def clean_text(text: object) -> tuple[str, tuple[str, ...]]:
    """Refuse empty input, cut overly long input, and say so."""
    if not isinstance(text, str):
        raise ValueError("The text must be a string.")
    if not text.strip():
        raise ValueError("Type some text first: the input is empty.")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as err:
        # A lone UTF-16 surrogate: no keyboard types one, and no tokenizer can read it.
        raise ValueError(f"The text holds a character that is not valid Unicode at position {err.start}; "
                         "remove it and try again.") from None
    limit = max_chars()
    if len(text) > limit:
        return text[:limit], (f"Input cut to its first {limit:,} of {len(text):,} characters.",)
    return text, ()


def _stack(attentions) -> np.ndarray:
    """Per-layer (1, heads, q, k) tensors -> one (layers, heads, q, k) float32 array."""
    if not attentions:
        raise RuntimeError("The model returned no attention weights (is eager attention on?).")
    return torch.stack([a[0] for a in attentions]).float().cpu().numpy()


def _causal(n: int, window: int | None = None) -> np.ndarray:
    mask = np.tril(np.ones((n, n), dtype=np.float32))
    if window:
        mask = mask * np.triu(np.ones((n, n), dtype=np.float32), -(window - 1))
    return mask


def _sliding_window(config) -> int | None:
    window = getattr(config, "sliding_window", None)
    if window and getattr(config, "use_sliding_window", True):
        return int(window)
    return None


def position_limit(loaded: LoadedModel) -> int:
    cfg = loaded.model.config
    limits = [max_tokens()]
    for name in ("max_position_embeddings", "n_positions"):
        value = getattr(cfg, name, None)
        if isinstance(value, int) and value > 0:
            limits.append(value)
    return min(limits)


def _split_pair(loaded: LoadedModel, text: str) -> tuple[str, str | None]:
    """"first [SEP] second" -> a sentence pair for encoders, as BERT's NSP reads it."""
    sep = loaded.tokenizer.sep_token
    if loaded.family != "encoder" or not sep or sep not in text:
        return text, None
    first, second = text.split(sep, 1)
    second = second.replace(sep, " ").strip()
    if not first.strip() or not second:
        return text, None
    return first.strip(), second


def _encode(loaded: LoadedModel, text: str, limit: int, notices: list[str]):
    tok = loaded.tokenizer
    first, second = _split_pair(loaded, text)
    full = tok(first, second, add_special_tokens=True)["input_ids"]
    enc = tok(first, second, return_tensors="pt", truncation=True, max_length=limit)
    if len(full) > limit:
        notices.append(f"Input cut to its first {limit} of {len(full)} tokens.")
    ids = enc["input_ids"]
    if ids.shape[1] == 0:
        raise ValueError("The text gave no tokens for this model; type some words.")
    return model_inputs(enc, loaded.device)


def encode_text(loaded: LoadedModel, text: str, second: str | None = None) -> dict:
    """The model inputs of a typed text, or of a sentence pair with `second`, cut to
    max_tokens() tokens and to 128 at most; refused when the text gives no tokens."""
    text, _ = clean_text(text)
    if second is not None:
        # Cut like the first: the tokenizer would otherwise read all of a 20 MB second sentence.
        second, _ = clean_text(second)
    enc = loaded.tokenizer(text, second, return_tensors="pt", truncation=True, max_length=min(max_tokens(), 128))
    if enc["input_ids"].shape[1] == 0:
        raise ValueError("The text gave no tokens for this model; type some words.")
    return model_inputs(enc, loaded.device)


def _top_k(loaded: LoadedModel, logits: torch.Tensor, k: int) -> tuple[Candidate, ...]:
    probs = torch.softmax(logits.float(), dim=-1)
    values, ids = probs.topk(min(k, probs.shape[-1]))
    ids = ids.tolist()
    labels = display_tokens(loaded.tokenizer, ids)
    return tuple(Candidate(label, i, float(p)) for label, i, p in zip(labels, ids, values.tolist()))


def _special(loaded: LoadedModel, ids: list[int]) -> np.ndarray:
    special = set(loaded.tokenizer.all_special_ids)
    return np.array([i in special for i in ids], dtype=bool)


def _common(loaded: LoadedModel, ids: list[int], text: str | None = None,
            notices: list[str] | None = None) -> dict:
    """The Trace fields every run fills the same way: the model and the input tokens, and (given
    the text) which of them the model cannot really read, said in `notices`."""
    common = dict(model_key=loaded.spec.key, model_name=loaded.spec.name, family=loaded.family,
                  tokens=display_tokens(loaded.tokenizer, ids), token_ids=np.asarray(ids, dtype=np.int64),
                  special=_special(loaded, ids))
    if text is not None:
        found = familiarity.assess(loaded.tokenizer, ids, loaded.token_counts, *_split_pair(loaded, text))
        common["familiarity"] = found
        if notices is not None:
            notices.extend(familiarity.notices(loaded.spec.name, found))
    return common


@torch.inference_mode()
def run_trace(key: str, text: str, *, top_k: int = 5, max_new_tokens: int = MAX_NEW_TOKENS,
              device: str | None = None) -> Trace:
    """Run model `key` once on `text` and return everything the views show."""
    text, cut = clean_text(text)
    if not 1 <= int(top_k) <= 50:
        raise ValueError("top_k must be between 1 and 50.")
    loaded = get_model(key, device)
    notices = list(cut)
    enc = _encode(loaded, text, position_limit(loaded), notices)
    ids = enc["input_ids"][0].tolist()
    valid = enc["attention_mask"][0].float().cpu().numpy() if "attention_mask" in enc else np.ones(len(ids), np.float32)
    common = _common(loaded, ids, text, notices)
    if loaded.family == "encoder":
        return _trace_encoder(loaded, enc, valid, top_k, common, notices)
    if loaded.family == "decoder":
        return _trace_decoder(loaded, enc, valid, top_k, common, notices)
    return _trace_seq2seq(loaded, enc, valid, max_new_tokens, common, notices)


def _key_mask(valid: np.ndarray) -> np.ndarray:
    """Bidirectional attention with padding: every query may attend every real (non-pad) key."""
    return np.ones((len(valid), 1), np.float32) * valid[None, :].astype(np.float32)


def _trace_encoder(loaded, enc, valid, top_k, common, notices) -> Trace:
    out = loaded.model(**enc, output_attentions=True)
    logits = vocab_logits(out)
    tokens = common["tokens"]
    mask_id = loaded.tokenizer.mask_token_id
    positions = [i for i, t in enumerate(common["token_ids"]) if mask_id is not None and t == mask_id]
    if not positions:
        notices.append(f"Add {loaded.tokenizer.mask_token or '[MASK]'} to the text to see what the model fills in.")
    predictions = tuple(Prediction(i, _top_k(loaded, logits[0, i], top_k)) for i in positions)
    pair = "token_type_ids" in enc and int(enc["token_type_ids"].max()) == 1
    next_sentence = next_sentence_prob(out) if pair else None
    attn = AttentionSet("encoder", _stack(out.attentions), _key_mask(valid), tokens, tokens)
    return Trace(**common, attentions=(attn,), predictions=predictions, next_sentence=next_sentence,
                 notices=tuple(notices))


def _trace_decoder(loaded, enc, valid, top_k, common, notices) -> Trace:
    enc.pop("token_type_ids", None)
    out = loaded.model(**enc, output_attentions=True)
    tokens = common["tokens"]
    n = len(tokens)
    mask = _causal(n, _sliding_window(loaded.model.config)) * valid[None, :]
    attn = AttentionSet("decoder", _stack(out.attentions), mask, tokens, tokens)
    prediction = Prediction(n - 1, _top_k(loaded, out.logits[0, -1], top_k))
    return Trace(**common, attentions=(attn,), predictions=(prediction,), notices=tuple(notices))


def _trace_seq2seq(loaded, enc, valid, max_new_tokens, common, notices) -> Trace:
    enc.pop("token_type_ids", None)
    if not 1 <= int(max_new_tokens) <= 256:
        raise ValueError("max_new_tokens must be between 1 and 256.")
    generated = loaded.model.generate(
        **enc, do_sample=False, num_beams=1, max_new_tokens=int(max_new_tokens),
        min_new_tokens=0,
    )
    out = loaded.model(**enc, decoder_input_ids=generated, output_attentions=True)
    tok = loaded.tokenizer
    dec_ids = generated[0].tolist()
    dec_tokens = display_tokens(tok, dec_ids)
    enc_tokens = common["tokens"]
    t, s = len(dec_tokens), len(enc_tokens)
    attentions = (
        AttentionSet("encoder", _stack(out.encoder_attentions), _key_mask(valid), enc_tokens, enc_tokens),
        AttentionSet("decoder", _stack(out.decoder_attentions), _causal(t), dec_tokens, dec_tokens),
        AttentionSet("cross", _stack(out.cross_attentions), np.ones((t, 1), np.float32) * valid[None, :s], dec_tokens, enc_tokens),
    )
    text = tok.decode(dec_ids, skip_special_tokens=True)
    if dec_ids[-1] != loaded.model.generation_config.eos_token_id and len(dec_ids) - 1 >= max_new_tokens:
        notices.append(f"Output stopped at {max_new_tokens} new tokens before an end-of-sequence token.")
    return Trace(**common, attentions=attentions, output_text=text, decoder_tokens=dec_tokens, notices=tuple(notices))


@torch.inference_mode()
def run_padded_batch(key: str, texts: list[str], *, device: str | None = None) -> tuple[Trace, ...]:
    """Encoders: a batch of sentences padded to the longest, one Trace per row.

    Each row's mask is the one BERT applies: every query may attend every real key, never a
    [PAD] key, so the shorter sentence's attention to its padding is exactly 0.
    """
    loaded = get_model(key, device)
    if loaded.family != "encoder":
        raise ValueError(f"{loaded.spec.name} is a {loaded.family}; a padded batch is shown for encoders.")
    if not 1 <= len(texts) <= 8:
        raise ValueError("Give between 1 and 8 sentences for a batch.")
    texts = [clean_text(t)[0] for t in texts]
    enc = loaded.tokenizer(texts, padding=True, truncation=True, max_length=position_limit(loaded), return_tensors="pt")
    enc = model_inputs(enc, loaded.device)
    out = loaded.model(**enc, output_attentions=True)
    stacked = torch.stack(out.attentions, dim=1).float().cpu().numpy()  # (batch, layers, heads, q, k)
    traces = []
    for row in range(len(texts)):
        row_ids = enc["input_ids"][row].tolist()
        valid = enc["attention_mask"][row].float().cpu().numpy()
        padding = int((valid == 0).sum())
        notices = [f"{padding} [PAD] token(s) make this row as long as the longest."] if padding else []
        common = _common(loaded, row_ids[: len(row_ids) - padding], texts[row], notices)
        common["tokens"] = display_tokens(loaded.tokenizer, row_ids)
        common.update(token_ids=np.asarray(row_ids, dtype=np.int64), special=_special(loaded, row_ids))
        common["familiarity"] = dataclasses.replace(
            common["familiarity"], flags=np.concatenate([common["familiarity"].flags, np.zeros(padding, bool)]))
        tokens = common["tokens"]
        attn = AttentionSet("encoder", stacked[row], _key_mask(valid), tokens, tokens)
        traces.append(Trace(**common, attentions=(attn,), notices=tuple(notices)))
    return tuple(traces)


def prefix_lm_mask(n: int, prefix: int) -> np.ndarray:
    """(n, n) 1/0: the first `prefix` tokens attend to each other both ways, the rest causally."""
    mask = _causal(n)
    mask[:prefix, :prefix] = 1.0
    return mask


@torch.inference_mode()
def run_prefix_lm(key: str, text: str, prefix: int, *, device: str | None = None) -> Trace:
    """A decoder run under a prefix-LM mask (non-causal prefix, causal continuation), the
    middle of the causal-decoder / prefix-decoder / encoder-decoder taxonomy (Raffel et al.
    2020; Wang et al. 2022). Our decoders were trained causally: this shows what the mask
    lets through, not a trained prefix-LM."""
    text, cut = clean_text(text)
    loaded = get_model(key, device)
    if loaded.family != "decoder":
        raise ValueError(f"{loaded.spec.name} is a {loaded.family}; the prefix-LM mask is applied to decoders.")
    notices = list(cut)
    enc = _encode(loaded, text, position_limit(loaded), notices)
    ids = enc["input_ids"][0].tolist()
    n = len(ids)
    prefix = int(prefix)
    if not 0 <= prefix <= n:
        raise ValueError(f"The prefix must be between 0 and {n} tokens for this text.")
    mask = prefix_lm_mask(n, prefix)
    additive = torch.zeros(1, 1, n, n, device=loaded.device)
    additive[0, 0][torch.from_numpy(mask == 0).to(loaded.device)] = torch.finfo(torch.float32).min
    out = loaded.model(input_ids=enc["input_ids"], attention_mask=additive, output_attentions=True)
    common = _common(loaded, ids, text, notices)
    attn = AttentionSet("decoder", _stack(out.attentions), mask, common["tokens"], common["tokens"])
    return Trace(**common, attentions=(attn,), notices=tuple(notices))


def significant(values: np.ndarray, digits: int = 7) -> np.ndarray:
    """Round to `digits` significant digits (float32 carries about 7), as float64 whose shortest
    repr is that short: the JSON is ~12 bytes per number instead of the ~21 of a float32's
    float64 expansion (0.1 as float32 prints 0.10000000149011612)."""
    x = values.astype(np.float64)
    size = np.abs(x)
    exponent = np.floor(np.log10(np.where(size > 0, size, 1.0)))
    scale = 10.0 ** (digits - 1 - exponent)
    return np.round(x * scale) / scale


def trace_to_json(trace: Trace, layer: int | None = None, encoding: str = "json") -> dict:
    """The public JSON form of a trace: nested lists, masks as 1/0, weights to 7 significant digits;
    with `encoding` "float16" or "float32" the weights and masks are `packed` instead.

    `layer` keeps one layer of every attention kind (None: all). An answer holding more than
    TRIPTYCH_MAX_NUMBERS weights as JSON, or TRIPTYCH_MAX_BINARY_MB of packed bytes, is refused,
    naming the way to ask for less.
    """
    check_encoding(encoding)
    chosen = []
    for a in trace.attentions:
        if layer is not None and not 0 <= layer < a.layers:
            raise ValueError(f"{trace.model_name}'s {a.kind} attention has layers 0 to {a.layers - 1}; "
                             f"layer {layer} does not exist (-1 asks for all of them).")
        chosen.append(list(range(a.layers)) if layer is None else [layer])
    numbers = sum(a.attn[idx].size for a, idx in zip(trace.attentions, chosen))
    if encoding != "json":
        size, limit = numbers * np.dtype(encoding).itemsize, max_binary_bytes()
        if size > limit:
            raise ValueError(f"This answer would hold {size:,} bytes of {encoding} weights, more than the limit of "
                             f"{limit // 2**20:,} MB ({MAX_BINARY_ENV}); ask for float16, one layer (layer=0 to "
                             f"{trace.attentions[0].layers - 1}) or a shorter text.")
    elif numbers > max_numbers():
        raise ValueError(f"This answer would hold {numbers:,} attention weights, more than the limit of "
                         f"{max_numbers():,} ({MAX_NUMBERS_ENV}); ask for one layer (layer=0 to "
                         f"{trace.attentions[0].layers - 1}) or a shorter text.")
    result = {
        "model": trace.model_key,
        "family": trace.family,
        "tokens": list(trace.tokens),
        "token_ids": trace.token_ids.tolist(),
        "special": trace.special.tolist(),
        "encoding": encoding,
    }
    if trace.decoder_tokens:
        result["decoder_tokens"] = list(trace.decoder_tokens)
    for a, idx in zip(trace.attentions, chosen):
        attn = a.attn[idx]
        result[a.kind] = {
            "shape": list(attn.shape),
            "layers": idx,
            "attentions": significant(attn).tolist() if encoding == "json" else packed(attn, encoding),
            "mask": a.mask.astype(np.int8).tolist() if encoding == "json" else packed(a.mask, "uint8"),
        }
    result["outputs"] = _outputs_json(trace)
    result["notices"] = list(trace.notices)
    if trace.familiarity is not None:
        result["unfamiliar"] = familiarity.to_json(trace.familiarity)
    return result


def _outputs_json(trace: Trace) -> dict:
    preds = [
        {
            "position": p.position,
            "top_k": [
                {"token": c.token, "id": c.token_id, "prob": jsonable(c.prob)}
                for c in p.candidates
            ],
        }
        for p in trace.predictions
    ]
    if trace.family == "encoder":
        return {"kind": "masked", "masks": preds, "next_sentence": trace.next_sentence}
    if trace.family == "decoder":
        return {"kind": "next_token", "next_token": preds[0]["top_k"] if preds else []}
    return {"kind": "generation", "text": trace.output_text, "tokens": list(trace.decoder_tokens)}
