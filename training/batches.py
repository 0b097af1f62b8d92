"""Training batches for each family, drawn at random from the generated corpus.

The decoders' batches are `batch_size` examples drawn uniformly, padded to the longest. BERT's
and T5's are grouped by length within a padded-token budget (`grouped`; docs/decisions.md has
the measurements behind both choices).
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator

import torch

from models.objectives import EN_TO_ZH, ZH_TO_EN, span_corrupt
from training import build_tokenizers

MAX_LEN = 64


def tokenizer_texts(pairs, stories) -> list[str]:
    texts = [build_tokenizers.ASCII, ZH_TO_EN, EN_TO_ZH]
    for p in pairs:
        texts += [p.zh.text, p.en.text]
    for first, second in stories:
        texts += [first.zh.text, first.en.text, second.zh.text, second.en.text]
    return texts


def read_texts(family: str, pairs, stories) -> list[str]:
    """What a model of `family` reads in training, each sentence once, for its token counts: T5
    its sources with their task prefixes and its targets (the prefix's ':' is in every source,
    and rare in the sentences themselves); the others the sentences of the pairs and stories."""
    if family == "encoder-decoder":
        return [*_t5_sources(pairs, ZH_TO_EN, "zh"), *_t5_sources(pairs, EN_TO_ZH, "en"),
                *(p.zh.text for p in pairs), *(p.en.text for p in pairs)]
    return tokenizer_texts(pairs, stories)


def _t5_sources(pairs, prefix: str, lang: str) -> list[str]:
    # Prefix and sentence are tokenized together, exactly as a user's input will be.
    return [prefix + getattr(p, lang).text for p in pairs]


def _encode(tok, texts: list[str]) -> list[list[int]]:
    return tok(texts, add_special_tokens=False, truncation=True, max_length=MAX_LEN)["input_ids"]


def _pad(rows: list[list[int]], value: int) -> torch.Tensor:
    width = max(len(r) for r in rows)
    return torch.tensor([r + [value] * (width - len(r)) for r in rows])


def causal_batches(tok, pairs, stories, batch_size: int, rng: random.Random) -> Iterator[dict]:
    texts = [s.text for p in pairs for s in (p.zh, p.en)]
    texts += [s.text for f, n in stories for s in (f.zh, f.en, n.zh, n.en)]
    bos = [tok.bos_token_id] if tok("a")["input_ids"][0] == tok.bos_token_id else []
    rows = [bos + ids + [tok.eos_token_id] for ids in _encode(tok, texts)]
    while True:
        batch = [rows[rng.randrange(len(rows))] for _ in range(batch_size)]
        ids = _pad(batch, tok.pad_token_id)
        mask = _pad([[1] * len(r) for r in batch], 0)
        yield {"input_ids": ids, "attention_mask": mask, "labels": ids.masked_fill(mask == 0, -100)}


def bert_batches(tok, pairs, stories, batch_size: int, rng: random.Random, gen: torch.Generator,
                 tokens: int | None = None) -> Iterator[dict]:
    """Batches of single sentences (no NSP label, 40 %) or of sentence pairs (60 %).

    A batch of `batch_size` holds one kind only, so short single sentences are not padded to pair
    length; with `tokens`, examples of both kinds are grouped by length (`grouped`). Pairs are
    half IsNext (a story's two sentences), half NotNext: the first sentence followed by another
    story's second (mostly, as the held-out NSP test does) or by any other sentence.
    """
    singles = _encode(tok, [s.text for p in pairs for s in (p.zh, p.en)])
    firsts = {lang: _encode(tok, [getattr(f, lang).text for f, _ in stories]) for lang in ("zh", "en")}
    seconds = {lang: _encode(tok, [getattr(n, lang).text for _, n in stories]) for lang in ("zh", "en")}
    cls, sep = tok.cls_token_id, tok.sep_token_id

    def single() -> tuple:
        row = [cls, *singles[rng.randrange(len(singles))], sep]
        return row, [0] * len(row), -100

    def pair() -> tuple:
        lang = rng.choice(("zh", "en"))
        i = rng.randrange(len(stories))
        a = firsts[lang][i]
        kind = rng.random()
        if kind < 0.5:
            b, label = seconds[lang][i], 0
        elif kind < 0.85:
            j = (i + 1 + rng.randrange(len(stories) - 1)) % len(stories)
            b, label = seconds[lang][j], 1
        else:
            b, label = singles[rng.randrange(len(singles))], 1
        return [cls, *a, sep, *b, sep], [0] * (len(a) + 2) + [1] * (len(b) + 1), label

    def fixed():
        while True:
            draw = pair if rng.random() < 0.6 else single
            yield [draw() for _ in range(batch_size)]

    examples = fixed() if not tokens else budgeted(lambda: (pair if rng.random() < 0.6 else single)(),
                                                   batch_size, tokens, rng, parts=lambda e: (len(e[0]),))
    for batch in examples:
        rows, types, nsp = zip(*batch)
        ids = _pad(list(rows), tok.pad_token_id)
        attention = _pad([[1] * len(r) for r in rows], 0)
        inputs, labels = mask_tokens(tok, ids, attention, gen)
        yield {"input_ids": inputs, "attention_mask": attention, "token_type_ids": _pad(list(types), 0),
               "labels": labels, "next_sentence_label": torch.tensor(nsp)}


def mask_tokens(tok, ids: torch.Tensor, attention: torch.Tensor, gen: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """BERT's masking: 15 % of the non-special tokens are chosen as targets; of those 80 % become
    [MASK], 10 % a random token and 10 % stay. Returns (inputs, labels with -100 elsewhere).

    transformers' DataCollatorForLanguageModeling does the same with other random draws; this one
    is kept because the committed mini-bert was trained with it (docs/decisions.md)."""
    specials = torch.tensor(sorted(tok.all_special_ids))
    candidates = attention.bool() & ~torch.isin(ids, specials)
    chosen = (torch.rand(ids.shape, generator=gen) < 0.15) & candidates
    labels = ids.masked_fill(~chosen, -100)
    roll = torch.rand(ids.shape, generator=gen)
    inputs = ids.clone()
    inputs[chosen & (roll < 0.8)] = tok.mask_token_id
    random_tokens = torch.randint(len(specials), len(tok), ids.shape, generator=gen)
    swap = chosen & (roll >= 0.8) & (roll < 0.9)
    inputs[swap] = random_tokens[swap]
    return inputs, labels


def t5_batches(tok, pairs, stories, batch_size: int, rng: random.Random, tokens: int | None = None) -> Iterator[dict]:
    """Translation both ways (with task prefixes) and span corruption on single sentences:
    `batch_size` random examples, or with `tokens` examples grouped by length (`grouped`)."""
    zh = _encode(tok, [p.zh.text for p in pairs])
    en = _encode(tok, [p.en.text for p in pairs])
    zh_source = _encode(tok, _t5_sources(pairs, ZH_TO_EN, "zh"))
    en_source = _encode(tok, _t5_sources(pairs, EN_TO_ZH, "en"))
    eos = tok.eos_token_id
    sentinels = tok.convert_tokens_to_ids([f"<extra_id_{i}>" for i in range(build_tokenizers.T5_SENTINELS)])

    def draw() -> tuple:
        i = rng.randrange(len(pairs))
        kind = rng.random()
        if kind < 0.45:
            return zh_source[i] + [eos], en[i] + [eos]
        if kind < 0.9:
            return en_source[i] + [eos], zh[i] + [eos]
        return span_corrupt((zh if rng.random() < 0.5 else en)[i], sentinels, rng, eos)

    def batch(examples) -> dict:
        sources, targets = zip(*examples)
        return {"input_ids": _pad(list(sources), tok.pad_token_id),
                "attention_mask": _pad([[1] * len(s) for s in sources], 0),
                "labels": _pad(list(targets), -100)}

    if not tokens:
        while True:
            yield batch([draw() for _ in range(batch_size)])
    yield from map(batch, budgeted(draw, batch_size, tokens, rng, order=_coarse_source))


# Batches drawn at once and grouped by length when batches have a token budget.
POOL = 32


def _source_target(example: tuple) -> tuple[int, ...]:
    return len(example[0]), len(example[1])


def _coarse_source(example: tuple) -> tuple[int, int]:
    """Sources within 3 tokens of each other, then by target length: a third less target padding
    than sorting on the exact source length (measured, docs/decisions.md)."""
    return len(example[0]) // 3, len(example[1])


def budgeted(draw: Callable[[], tuple], batch_size: int, tokens: int, rng: random.Random,
             parts: Callable[[tuple], tuple[int, ...]] = _source_target,
             order: Callable[[tuple], tuple[int, ...]] | None = None) -> Iterator[list[tuple]]:
    """Endless lists of examples from `draw`, POOL batches' worth at a time, grouped by length."""
    while True:
        yield from grouped([draw() for _ in range(batch_size * POOL)], tokens, rng, parts, order)


def grouped(examples: list[tuple], tokens: int, rng: random.Random,
            parts: Callable[[tuple], tuple[int, ...]] = _source_target,
            order: Callable[[tuple], tuple[int, ...]] | None = None) -> list[list[tuple]]:
    """Examples cut into batches of similar lengths, in random order. `parts` gives an example's
    padded sequences' lengths ((source, target) by default); a batch pads each to its longest and
    holds at most `tokens` padded tokens in all. `order` sorts them (by default `parts`).

    A batch of long sentences holds fewer examples than one of short phrases, so every real token
    weighs about the same, as in a random batch, while padding falls from about half the tokens
    to a fifth (docs/decisions.md)."""
    examples = sorted(examples, key=order or parts)
    out: list[list[tuple]] = []
    group: list[tuple] = []
    longest: tuple[int, ...] = ()
    for example in examples:
        widths = tuple(map(max, zip(longest, parts(example)))) if group else parts(example)
        if group and (len(group) + 1) * sum(widths) > tokens:
            out.append(group)
            group, widths = [], parts(example)
        group.append(example)
        longest = widths
    out.append(group)
    rng.shuffle(out)
    return out


def batches(family: str, tok, pairs, stories, batch_size: int, seed: int, tokens: int | None = None) -> Iterator[dict]:
    """The family's training batches; `tokens` (BERT and T5) gives batches a padded-token budget
    instead of a fixed number of examples."""
    rng = random.Random(seed)
    if family == "encoder":
        return bert_batches(tok, pairs, stories, batch_size, rng, torch.Generator().manual_seed(seed), tokens)
    if family == "decoder":
        return causal_batches(tok, pairs, stories, batch_size, rng)
    return t5_batches(tok, pairs, stories, batch_size, rng, tokens)
