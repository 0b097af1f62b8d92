"""Measure what the embedded models learned, on held-out generated data: `python -m training.evaluate`.

Held-out data comes from the corpus generator with another seed, minus every sentence that
also occurs in the training set. The metrics:
- decoders: top-1 accuracy of the next-token prediction at the positions the grammar
  determines (agreement, pronouns, forced function words), and perplexity;
- the encoder: top-1 accuracy when one determined position at a time is masked, and
  next-sentence-prediction accuracy on balanced IsNext / NotNext pairs;
- the encoder-decoder: exact-match translation accuracy in each direction (greedy decoding).

And on natural sentences written for this purpose and kept out of training
(training/data/held_out.json, 33 pairs), what a person typing would notice:
- how many tokens the tokenizer cannot represent ([UNK] / <unk>) or splits into loose UTF-8 bytes;
- mini-bert: every Chinese character and every one-piece English word masked in turn, the
  original among the top 5;
- mini-t5: chrF (character 6-grams, beta 2; Popovic 2015, as sacrebleu computes it) of the
  translations each way;
- decoders: whether a greedy continuation of 12 tokens stays in the prompt's language, and how
  often a continuation repeats itself (a token 4-gram seen twice).
"""

from __future__ import annotations

import argparse
import functools
import json
import logging
import math
import random
from collections import defaultdict
from pathlib import Path

import torch

from models.loading import LoadedModel, load
from models.objectives import EN_TO_ZH, ZH_TO_EN
from models.registry import ASSETS, ModelSpec
from training import corpus, lexicon, natural
from training.grammar import Grammar, Pair, Sentence
from training.recipes import RECIPES

log = logging.getLogger(__name__)

HELD_OUT_SEED_OFFSET = 7919
LECTURE_TRANSLATION = (ZH_TO_EN + "我喜欢机器学习", "I love machine learning")

THRESHOLDS = {
    "decoder": {"determined_top1": 0.95, "natural_same_language": 0.97},
    "encoder": {"masked_top1": 0.90, "nsp_accuracy": 0.90, "natural_masked_top5": 0.50},
    "encoder-decoder": {"exact_zh_en": 0.90, "exact_en_zh": 0.90, "natural_chrf_zh_en": 50.0,
                        "natural_chrf_en_zh": 50.0},
}
# Upper bounds: share of natural-text tokens the vocabulary cannot represent.
CEILINGS = {
    "decoder": {"natural_zh_byte_pieces": 0.05},
    "encoder": {"natural_unknown": 0.01},
    "encoder-decoder": {"natural_unknown": 0.01},
}


@functools.lru_cache(maxsize=4)
def _training_texts(n_pairs: int, n_stories: int, seed: int, varied: bool) -> frozenset[str]:
    texts = set()
    for p in corpus.pairs(n_pairs, seed, varied):
        texts.update((p.zh.text, p.en.text))
    for first, second in corpus.stories(n_stories, seed):
        texts.update((first.zh.text, first.en.text, second.zh.text, second.en.text))
    return frozenset(texts)


def held_out_pairs(name: str, n: int, seed: int = 0) -> list[Pair]:
    """n generated pairs, from the generator of `name`'s training data but none of its sentences."""
    recipe = RECIPES[name]
    seen = _training_texts(recipe.pairs, recipe.stories, seed, recipe.varied)
    out: list[Pair] = []
    batch = 0
    while len(out) < n:
        for p in corpus.pairs(4 * n, seed + HELD_OUT_SEED_OFFSET + batch, recipe.varied):
            if p.zh.text not in seen and p.en.text not in seen:
                out.append(p)
        batch += 1
    return out[:n]


def held_out_stories(n: int, seed: int = 0):
    return corpus.stories(n, seed + HELD_OUT_SEED_OFFSET)


def load_folder(name: str, folder: Path | str) -> LoadedModel:
    spec = ModelSpec(name, name, RECIPES[name].family, str(folder), embedded=True)
    return load(spec, torch.device("cpu"))


def _chunks(items: list, size: int = 64):
    for i in range(0, len(items), size):
        yield items[i:i + size]


def _token_at(offsets, char: int) -> int | None:
    """Index of the token whose character span holds `char`."""
    for i, (start, end) in enumerate(offsets):
        if start <= char < end:
            return i
    return None


def _determined(sentences: list[Sentence], tok, add_special: bool = True):
    """(token ids, [(token index, phenomenon)]) for every sentence with determined positions."""
    rows = []
    for s in sentences:
        if not s.determined:
            continue
        enc = tok(s.text, add_special_tokens=add_special, return_offsets_mapping=True)
        positions = []
        for char, _, phenomenon in s.determined:
            index = _token_at(enc["offset_mapping"], char)
            if index is not None and index > 0:
                positions.append((index, phenomenon))
        rows.append((enc["input_ids"], positions))
    return rows


def _accuracy(hits: dict[str, list[bool]], prefix: str) -> dict:
    every = [h for values in hits.values() for h in values]
    result = {prefix: sum(every) / max(1, len(every)), f"{prefix}_n": len(every)}
    for phenomenon, values in sorted(hits.items()):
        result[f"{prefix}_{phenomenon}"] = sum(values) / len(values)
    return result


@torch.inference_mode()
def causal_metrics(loaded: LoadedModel, sentences: list[Sentence]) -> dict:
    model, tok = loaded.model, loaded.tokenizer
    hits: dict[str, list[bool]] = defaultdict(list)
    for chunk in _chunks(_determined(sentences, tok)):
        width = max(len(ids) for ids, _ in chunk)
        ids = torch.tensor([ids + [tok.pad_token_id] * (width - len(ids)) for ids, _ in chunk])
        mask = torch.tensor([[1] * len(ids) + [0] * (width - len(ids)) for ids, _ in chunk])
        predicted = model(input_ids=ids, attention_mask=mask).logits.argmax(-1)
        for row, (token_ids, positions) in enumerate(chunk):
            for index, phenomenon in positions:
                hits[phenomenon].append(int(predicted[row, index - 1]) == token_ids[index])
    result = _accuracy(hits, "determined_top1")
    result["perplexity"] = perplexity(loaded, [s.text for s in sentences])
    return result


@torch.inference_mode()
def perplexity(loaded: LoadedModel, texts: list[str]) -> float:
    """exp of the mean next-token loss over every token, end-of-text included."""
    model, tok = loaded.model, loaded.tokenizer
    total, count = 0.0, 0
    for chunk in _chunks(texts):
        rows = [tok(t)["input_ids"] + [tok.eos_token_id] for t in chunk]
        width = max(len(r) for r in rows)
        ids = torch.tensor([r + [tok.pad_token_id] * (width - len(r)) for r in rows])
        mask = torch.tensor([[1] * len(r) + [0] * (width - len(r)) for r in rows])
        logits = model(input_ids=ids, attention_mask=mask).logits[:, :-1]
        targets = ids[:, 1:].masked_fill(mask[:, 1:] == 0, -100)
        loss = torch.nn.functional.cross_entropy(logits.transpose(1, 2), targets, ignore_index=-100, reduction="sum")
        total += float(loss)
        count += int((targets != -100).sum())
    return math.exp(total / count)


@torch.inference_mode()
def masked_metrics(loaded: LoadedModel, sentences: list[Sentence], stories) -> dict:
    model, tok = loaded.model, loaded.tokenizer
    cases = []
    for ids, positions in _determined(sentences, tok):
        for index, phenomenon in positions:
            masked = list(ids)
            masked[index] = tok.mask_token_id
            cases.append((masked, index, ids[index], phenomenon))
    hits: dict[str, list[bool]] = defaultdict(list)
    for chunk in _chunks(cases):
        width = max(len(c[0]) for c in chunk)
        ids = torch.tensor([c[0] + [tok.pad_token_id] * (width - len(c[0])) for c in chunk])
        mask = (ids != tok.pad_token_id).long()
        logits = model(input_ids=ids, attention_mask=mask).prediction_logits
        for row, (_, index, target, phenomenon) in enumerate(chunk):
            hits[phenomenon].append(int(logits[row, index].argmax()) == target)
    result = _accuracy(hits, "masked_top1")
    result["nsp_accuracy"] = nsp_accuracy(loaded, stories)
    return result


@torch.inference_mode()
def nsp_accuracy(loaded: LoadedModel, stories, seed: int = 0) -> float:
    """Balanced: each story once with its real second sentence, once with another story's."""
    model, tok = loaded.model, loaded.tokenizer
    rng = random.Random(seed)
    cases = []
    for i, (first, second) in enumerate(stories):
        lang = "zh" if i % 2 else "en"
        other = stories[(i + 1 + rng.randrange(len(stories) - 1)) % len(stories)][1]
        cases.append((getattr(first, lang).text, getattr(second, lang).text, 0))
        cases.append((getattr(first, lang).text, getattr(other, lang).text, 1))
    correct = 0
    for chunk in _chunks(cases):
        enc = tok([c[0] for c in chunk], [c[1] for c in chunk], padding=True, return_tensors="pt")
        logits = model(**enc).seq_relationship_logits
        correct += sum(int(p) == c[2] for p, c in zip(logits.argmax(-1), chunk))
    return correct / len(cases)


@torch.inference_mode()
def translate(loaded: LoadedModel, sources: list[str], max_new_tokens: int = 64) -> list[str]:
    model, tok = loaded.model, loaded.tokenizer
    outputs = []
    for chunk in _chunks(sources):
        enc = tok(chunk, padding=True, return_tensors="pt")
        generated = model.generate(**enc, do_sample=False, num_beams=1, max_new_tokens=max_new_tokens)
        outputs += tok.batch_decode(generated, skip_special_tokens=True)
    return outputs


def translation_metrics(loaded: LoadedModel, pairs: list[Pair]) -> dict:
    """Exact match each way, on the grammar's templates (the bar, as before this corpus grew) and
    separately on the open-vocabulary frames (reported: a thousand-noun lexicon, no bar yet)."""
    zh_en = translate(loaded, [ZH_TO_EN + p.zh.text for p in pairs])
    en_zh = translate(loaded, [EN_TO_ZH + p.en.text for p in pairs])
    lecture = translate(loaded, [LECTURE_TRANSLATION[0]])[0]
    result = {}
    for prefix, keep in (("", lambda p: p.en.template in Grammar.TEMPLATES),
                         ("open_", lambda p: p.en.template not in Grammar.TEMPLATES)):
        rows = [(a, b, p) for a, b, p in zip(zh_en, en_zh, pairs) if keep(p)]
        result[f"{prefix}exact_zh_en"] = sum(a == p.en.text for a, _, p in rows) / max(1, len(rows))
        result[f"{prefix}exact_en_zh"] = sum(b == p.zh.text for _, b, p in rows) / max(1, len(rows))
        result[f"{prefix}translation_n"] = len(rows)
    result["lecture_example"] = lecture
    return result


def evaluate(name: str, folder: Path | str | None = None, n: int = 1000, seed: int = 0) -> dict:
    """Every metric of one model on n held-out pairs (and n/2 stories for NSP)."""
    loaded = load_folder(name, folder or ASSETS / name)
    pairs = held_out_pairs(name, n, seed)
    family = RECIPES[name].family
    if family == "decoder":
        result = causal_metrics(loaded, [s for p in pairs for s in (p.zh, p.en)])
    elif family == "encoder":
        result = masked_metrics(loaded, [s for p in pairs for s in (p.zh, p.en)],
                                held_out_stories(max(50, n // 2), seed))
    else:
        result = translation_metrics(loaded, pairs)
    return result | natural.measures(loaded, family, translate)


# Bars the committed checkpoints do not reach yet, with what they reach (docs/decisions.md). The
# tests require every other bar and require these to be still short, so this list stays true.
SHORTFALLS = {
    ("mini-t5", "natural_chrf_en_zh"): "33 of 50",
}


def meets_thresholds(name: str, metrics: dict) -> dict[str, bool]:
    family = RECIPES[name].family
    ok = {key: metrics[key] >= bound for key, bound in THRESHOLDS[family].items()}
    ok.update({key: metrics[key] <= bound for key, bound in CEILINGS[family].items()})
    return ok


def bound_text(family: str, key: str) -> str:
    if key in THRESHOLDS[family]:
        return f">= {THRESHOLDS[family][key]:g}"
    if key in CEILINGS[family]:
        return f"<= {CEILINGS[family][key]:g}"
    return ""


def _format(value) -> str:
    if isinstance(value, float):
        return f"{value:.4f}" if value <= 1 else f"{value:.3f}"
    return str(value)


def _lexicon_line() -> str:
    lex = lexicon.lexicon()
    return (f"{len(lex.nouns):,} nouns, {len(lex.verbs):,} verbs and {len(lex.adjectives):,} adjectives, "
            f"and {len(lex.phrases):,} pairs of hand-written phrasebooks")


def write_card(folder: Path, summary: dict, n: int = 1000) -> dict:
    """Evaluate a freshly trained checkpoint and write its model card (README.md)."""
    metrics = evaluate(summary["name"], folder, n=n, seed=summary["seed"])
    render_card(folder, summary, metrics, n)
    return metrics


def render_card(folder: Path, summary: dict, metrics: dict, n: int = 1000) -> None:
    """metrics.json and the model card (README.md) from a training summary and its metrics."""
    name = summary["name"]
    recipe = RECIPES[name]
    (folder / "metrics.json").write_text(json.dumps(metrics, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    size = sum(f.stat().st_size for f in folder.iterdir() if f.is_file())
    tokens = summary.get("batch_tokens")
    batch = (f"batches grouped by length, at most {tokens:,} padded tokens each" if tokens
             else f"batch {summary['batch_size']}")
    lines = [
        f"# {name}",
        "",
        f"A small {summary['class']} trained from scratch by this project "
        f"(`python -m training.train --model {name}`), for showing attention live.",
        "",
        "## Data",
        f"{recipe.pairs:,} generated Chinese/English sentence pairs and {recipe.stories:,} two-sentence "
        f"stories (seed {summary['seed']}), all written for this project and released with it under "
        "its MIT licence; nothing is downloaded:",
        "- `training/corpus.py`, a grammar whose structure determines some words: agreement across "
        "phrases and relative clauses, pronouns, forced function words, time expressions, "
        "的-modifiers, adjective phrases (about 45 % of the pairs);",
        "- `training/lexicon.py` over `training/data/`: everyday frames (actions in four tenses, "
        "negation, descriptions, comparisons, there is, identity, wants and abilities, questions"
        + ("; for this model also sentences that start with a time, a generic subject, a request or "
           "a modal question" if recipe.varied else "") + ") "
        f"over a hand-written lexicon of {_lexicon_line()} (everyday, classroom and AI-course "
        "sentences, and sentences using the rarer common hanzi); about 55 % of the pairs.",
        "- The tokenizer holds the 3,755 level-1 characters of GB 2312 (enumerated with Python's "
        "codec) as single tokens; `token_counts.json` records how often each token occurred in "
        "training, so the app can say which input tokens the model rarely or never saw.",
        "",
        "What it does not know: it is a few million parameters trained for minutes on generated "
        "and phrasebook sentences, not a model of the language at large. Outside its lexicon and "
        "frames its fills, continuations and translations are often wrong; the app marks the "
        "tokens it rarely saw.",
        "",
        "## Model",
        f"- parameters: {summary['parameters']:,}; stored in float16 ({size / 1e6:.1f} MB in this folder)",
        f"- training: {summary['steps']:,} steps of {batch}, "
        f"{summary['train_seconds'] / 60:.1f} minutes with {summary['torch_threads']} torch thread(s)"
        f"{' (other work running at the same time on the 2 cores)' if summary['torch_threads'] == 1 else ''}; "
        f"final training loss {summary['final_loss']}",
        "",
        f"## Metrics (held-out generated data, {n:,} pairs; natural_*: the "
        f"{len(natural.sentences())} hand-written held-out sentences of training/data/held_out.json)",
        "",
        "| metric | value | required |",
        "|---|---|---|",
    ]
    for key, value in metrics.items():
        if not isinstance(value, list):
            lines.append(f"| {key} | {_format(value)} | {bound_text(recipe.family, key)} |")
    examples = [e for key, v in metrics.items() if isinstance(v, list) for e in v]
    if examples:
        lines += ["", "Examples (greedy):", ""] + [f"- `{e}`" for e in examples]
    (folder / "README.md").write_text("\n".join(lines) + "\n", encoding="utf-8")


def main() -> None:
    parser = argparse.ArgumentParser(description="Metrics of the committed embedded checkpoints.")
    parser.add_argument("--model", choices=[*RECIPES, "all"], default="all")
    parser.add_argument("-n", type=int, default=1000, help="held-out pairs per model")
    parser.add_argument("--folder", type=Path, default=None, help="where the checkpoints are (default assets/models)")
    parser.add_argument("--cards", action="store_true",
                        help="also rewrite each model card (README.md, metrics.json) from its training.json")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    names = list(RECIPES) if args.model == "all" else [args.model]
    print(f"{'model':<12} {'metric':<28} {'value':>10}  required")
    for name in names:
        folder = (args.folder / name) if args.folder else ASSETS / name
        if args.cards:
            metrics = write_card(folder, json.loads((folder / "training.json").read_text(encoding="utf-8")), n=args.n)
        else:
            metrics = evaluate(name, folder, n=args.n)
        ok = meets_thresholds(name, metrics)
        for key, value in metrics.items():
            if isinstance(value, list):
                continue
            bound = bound_text(RECIPES[name].family, key)
            mark = f"{bound} {'ok' if ok[key] else 'FAIL'}" if bound else ""
            print(f"{name:<12} {key:<28} {_format(value):>10}  {mark}")


if __name__ == "__main__":
    main()
