"""The three families' pretraining objectives: the definitions training uses, and each objective
run on a typed sentence by the real model.

- BERT's masked LM and next-sentence prediction (Devlin et al. 2019).
- GPT's shifted next-token targets (Radford et al. 2018).
- T5's span corruption and its task prefixes (Raffel et al. 2020, section 3.1.4); training/
  builds its batches with the same `span_corrupt` the view shows.
"""

from __future__ import annotations

import math
import random

import numpy as np
import torch

from models.loading import LoadedModel, get_model
from models.model_io import next_sentence_prob, vocab_logits
from models.numeric import jsonable
from models.results import MaskedLM, NextToken, SpanCorruption
from models.tokens import display_tokens
from models.trace import encode_text

ZH_TO_EN = "translate Chinese to English: "
EN_TO_ZH = "translate English to Chinese: "
MASK_RATE = 0.15


def span_corrupt(ids: list[int], sentinels: list[int], rng: random.Random, eos: int) -> tuple[list[int], list[int]]:
    """T5's span corruption: drop ~15 % of tokens in spans (mean length 3), mark each with a sentinel."""
    n = len(ids)
    n_noise = max(1, round(n * 0.15))
    n_spans = max(1, min(len(sentinels), round(n_noise / 3)))
    starts = sorted(rng.sample(range(n), min(n, n_spans)))
    inputs, targets, pos, k = [], [], 0, 0
    for start in starts:
        if start < pos:
            continue
        length = max(1, min(n - start, round(n_noise / n_spans)))
        inputs += ids[pos:start] + [sentinels[k]]
        targets += [sentinels[k]] + ids[start:start + length]
        pos, k = start + length, k + 1
    inputs += ids[pos:] + [eos]
    targets += [sentinels[k]] + [eos] if k < len(sentinels) else [eos]
    return inputs, targets


def _need(loaded: LoadedModel, family: str, what: str) -> None:
    if loaded.family != family:
        raise ValueError(f"{what} needs {'an' if family[0] in 'ae' else 'a'} {family} model; "
                         f"{loaded.spec.key} is {'an' if loaded.family[0] in 'ae' else 'a'} {loaded.family}.")


def _target_log_probs(logits: torch.Tensor, targets: list[int]) -> tuple[torch.Tensor, np.ndarray]:
    """(log-probabilities (positions, vocab) on the CPU, float32 log-probability of each target)."""
    log_probs = torch.log_softmax(logits.float(), -1).cpu()
    picked = log_probs.gather(1, torch.tensor(targets)[:, None])[:, 0].numpy().astype(np.float32)
    return log_probs, picked


def masked_lm(key: str, text: str, second: str = "", seed: int = 0) -> MaskedLM:
    """BERT's corruption of a typed sentence, and what the model predicts back.

    As in BERT's original data pipeline, exactly max(1, round(15 % of the non-special tokens))
    are chosen; each becomes [MASK] with probability 0.8, a random token with 0.1, or stays."""
    loaded = get_model(key)
    _need(loaded, "encoder", "Masked language modelling")
    tok = loaded.tokenizer
    if tok.mask_token_id is None:
        raise ValueError(f"{key} has no [MASK] token.")
    if not isinstance(second, str):
        raise ValueError("The second sentence must be a string (or empty).")
    enc = encode_text(loaded, text, second.strip() or None)
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
    log_probs = torch.log_softmax(vocab_logits(out)[0].float(), -1).cpu()
    loss = np.full(len(ids), np.nan, np.float32)
    prob = np.full(len(ids), np.nan, np.float32)
    predicted = [""] * len(ids)
    for i in chosen:
        loss[i] = -float(log_probs[i, ids[i]])
        prob[i] = math.exp(-loss[i])
        predicted[i] = display_tokens(tok, [int(log_probs[i].argmax())])[0]
    next_sentence = next_sentence_prob(out) if second.strip() else None
    return MaskedLM(display_tokens(tok, ids), display_tokens(tok, corrupted), tuple(action), tuple(predicted), prob,
                    loss, float(np.nanmean(loss)), next_sentence, int(seed))


def next_token(key: str, text: str) -> NextToken:
    """A causal LM's training signal on the typed text: each position predicts the next token."""
    loaded = get_model(key)
    _need(loaded, "decoder", "Next-token prediction")
    enc = encode_text(loaded, text)
    enc.pop("token_type_ids", None)
    ids = enc["input_ids"][0].tolist()
    if len(ids) < 2:
        raise ValueError("Type at least two tokens: the first has no earlier token to predict it from.")
    with torch.inference_mode():
        out = loaded.model(**enc)
    log_probs, picked = _target_log_probs(out.logits[0, :-1], ids[1:])
    tok = loaded.tokenizer
    return NextToken(display_tokens(tok, ids), display_tokens(tok, ids[1:]),
                     display_tokens(tok, log_probs.argmax(-1).tolist()), np.exp(picked), -picked,
                     float(-picked.mean()))


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
    ids = [i for i in encode_text(loaded, text)["input_ids"][0].tolist() if i != tok.eos_token_id]
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
    log_probs, picked = _target_log_probs(out.logits[0], target)
    return SpanCorruption(display_tokens(tok, ids), dropped, display_tokens(tok, source), display_tokens(tok, target),
                          display_tokens(tok, log_probs.argmax(-1).tolist()), -picked, float(-picked.mean()))


def objective(key: str, text: str, second: str = "", seed: int = 0):
    """The model family's own pretraining objective on the text."""
    family = get_model(key).family
    if family == "encoder":
        return masked_lm(key, text, second, seed)
    if family == "decoder":
        return next_token(key, text)
    return span_corruption(key, text, seed)


def objective_to_json(result) -> dict:
    if isinstance(result, MaskedLM):
        return {"objective": "masked_lm", "tokens": list(result.tokens), "inputs": list(result.inputs),
                "action": list(result.action), "predicted": list(result.predicted),
                "prob_original": jsonable(result.prob_original), "loss": jsonable(result.loss),
                "mean_loss": result.mean_loss, "next_sentence": result.next_sentence, "seed": result.seed}
    if isinstance(result, NextToken):
        return {"objective": "next_token", "tokens": list(result.tokens), "targets": list(result.targets),
                "predicted": list(result.predicted), "prob": jsonable(result.prob), "loss": jsonable(result.loss),
                "mean_loss": result.mean_loss}
    return {"objective": "span_corruption", "tokens": list(result.tokens), "dropped": result.dropped.tolist(),
            "inputs": list(result.inputs), "targets": list(result.targets), "predicted": list(result.predicted),
            "loss": jsonable(result.loss), "mean_loss": result.mean_loss}
