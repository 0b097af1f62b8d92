"""What the embedded models do with sentences people type: the natural held-out measures.

The sentences (training/data/held_out.json) were written for this and are filtered out of the
training corpus. The measures are the ones a visitor notices first:
- unknown tokens ([UNK] / <unk>) and loose UTF-8 byte pieces in what the tokenizer makes;
- the encoder: each Chinese character and each one-piece English word masked in turn, the
  original among the model's top 5;
- the encoder-decoder: chrF of its greedy translations each way (Popovic 2015: character
  n-grams up to 6, whitespace removed, recall weighted by beta = 2, statistics summed over the
  corpus, precision and recall averaged over the orders, as sacrebleu's CHRF does);
- decoders: whether a greedy 12-token continuation of the first half of a sentence stays in its
  language, and how often a 24-token continuation repeats a token 4-gram (a loop).
"""

from __future__ import annotations

import re
from collections import Counter

import torch

from models.loading import LoadedModel
from models.objectives import EN_TO_ZH, ZH_TO_EN
from models.tokens import display_tokens
from training import lexicon

_CJK = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")
_LATIN = re.compile(r"[A-Za-z]")


def chrf(hypotheses: list[str], references: list[str], order: int = 6, beta: float = 2.0) -> float:
    """Corpus chrF in 0-100."""
    stats = [[0, 0, 0] for _ in range(order)]  # per order: hypothesis n-grams, reference n-grams, matches
    for hyp, ref in zip(hypotheses, references):
        hyp, ref = "".join(hyp.split()), "".join(ref.split())
        for n in range(1, order + 1):
            h = Counter(hyp[i:i + n] for i in range(len(hyp) - n + 1))
            r = Counter(ref[i:i + n] for i in range(len(ref) - n + 1))
            stats[n - 1][0] += sum(h.values())
            stats[n - 1][1] += sum(r.values())
            stats[n - 1][2] += sum((h & r).values())
    # Precision and recall are averaged over the orders both sides have, then combined.
    present = [(match / n_hyp, match / n_ref) for n_hyp, n_ref, match in stats if n_hyp and n_ref]
    if not present:
        return 0.0
    precision = sum(p for p, _ in present) / len(present)
    recall = sum(r for _, r in present) / len(present)
    if precision + recall == 0:
        return 0.0
    factor = beta ** 2
    return 100 * (1 + factor) * precision * recall / (factor * precision + recall)


def language(text: str) -> str:
    """'zh', 'en' or '' (no letters), by the majority of CJK characters against Latin letters."""
    zh, en = len(_CJK.findall(text)), len(_LATIN.findall(text))
    return "" if zh == en == 0 else ("zh" if zh >= en else "en")


def sentences() -> list[tuple[str, str]]:
    """(text, language) for both sides of every held-out pair."""
    return [(s, lang) for pair in lexicon.held_out() for s, lang in zip(pair, ("zh", "en"))]


def token_measures(loaded: LoadedModel) -> dict:
    """Share of tokens that are unknown, and share of Chinese-sentence tokens that are byte pieces."""
    tok = loaded.tokenizer
    special = set(tok.all_special_ids) - {tok.unk_token_id}
    unknown = total = pieces = zh_total = 0
    for text, lang in sentences():
        ids = [i for i in tok(text, add_special_tokens=False)["input_ids"] if i not in special]
        labels = display_tokens(tok, ids)
        total += len(ids)
        unknown += sum(i == tok.unk_token_id for i in ids)
        if lang == "zh":
            zh_total += len(ids)
            pieces += sum(bool(re.search(r"<[0-9A-F]{2}>", label)) for label in labels)
    return {"natural_unknown": unknown / max(1, total), "natural_zh_byte_pieces": pieces / max(1, zh_total),
            "natural_tokens": total}


def _is_word(label: str) -> bool:
    return bool(_CJK.fullmatch(label)) or bool(re.fullmatch(r"▁?[A-Za-z]+", label))


@torch.inference_mode()
def masked_top5(loaded: LoadedModel) -> dict:
    """Every Chinese character and every one-piece English word masked in turn: original in top 5?"""
    model, tok = loaded.model, loaded.tokenizer
    hits, cases = [], []
    for text, _ in sentences():
        ids = tok(text)["input_ids"]
        tokens = tok.convert_ids_to_tokens(ids)
        for i, token in enumerate(tokens):
            nxt = tokens[i + 1] if i + 1 < len(tokens) else ""
            if _is_word(token) and not nxt.startswith("##") and ids[i] != tok.unk_token_id:
                masked = list(ids)
                masked[i] = tok.mask_token_id
                cases.append((masked, i, ids[i]))
    for masked, i, target in cases:
        logits = model(input_ids=torch.tensor([masked])).prediction_logits[0, i]
        hits.append(target in logits.topk(5).indices.tolist())
    return {"natural_masked_top5": sum(hits) / max(1, len(hits)), "natural_masked_n": len(hits)}


def _first_half(text: str, lang: str) -> str:
    if lang == "zh":
        return text[: max(1, (len(text) + 1) // 2)]
    words = text.split()
    return " ".join(words[: max(1, (len(words) + 1) // 2)])


@torch.inference_mode()
def _greedy_ids(loaded: LoadedModel, prompt: str, new_tokens: int = 24) -> list[int]:
    """The greedy continuation's token ids (the first 12 of 24 are the 12-token continuation)."""
    model, tok = loaded.model, loaded.tokenizer
    enc = tok(prompt, return_tensors="pt")
    out = model.generate(**enc, do_sample=False, num_beams=1, max_new_tokens=new_tokens, min_new_tokens=0)
    return out[0, enc["input_ids"].shape[1]:].tolist()


def _loops(ids: list[int]) -> bool:
    grams = Counter(tuple(ids[i:i + 4]) for i in range(len(ids) - 3))
    return any(count > 1 for count in grams.values())


def continuation_measures(loaded: LoadedModel) -> dict:
    same, loops, examples = [], [], []
    for text, lang in sentences():
        prompt = _first_half(text, lang)
        ids = _greedy_ids(loaded, prompt)
        continuation = loaded.tokenizer.decode(ids[:12], skip_special_tokens=True)
        same.append(language(continuation) in ("", lang))
        loops.append(_loops(ids))
        if len(examples) < 4 and lang == ("zh" if len(examples) % 2 == 0 else "en"):
            examples.append(f"{prompt} -> {continuation}")
    return {"natural_same_language": sum(same) / len(same), "natural_loops": sum(loops) / len(loops),
            "natural_examples": examples}


def translation_measures(loaded: LoadedModel, translate) -> dict:
    pairs = lexicon.held_out()
    zh_en = translate(loaded, [ZH_TO_EN + zh for zh, _ in pairs])
    en_zh = translate(loaded, [EN_TO_ZH + en for _, en in pairs])
    return {"natural_chrf_zh_en": chrf(zh_en, [en for _, en in pairs]),
            "natural_chrf_en_zh": chrf(en_zh, [zh for zh, _ in pairs]),
            "natural_examples": [f"{pairs[0][0]} -> {zh_en[0]}", f"{pairs[4][1]} -> {en_zh[4]}"]}


def measures(loaded: LoadedModel, family: str, translate=None) -> dict:
    """Every natural measure that applies to the model's family."""
    result = token_measures(loaded)
    if family == "encoder":
        result.update(masked_top5(loaded))
    elif family == "decoder":
        result.update(continuation_measures(loaded))
    else:
        result.update(translation_measures(loaded, translate))
    return result
