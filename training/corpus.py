"""The generated bilingual corpus the embedded models are trained on: sentence pairs and stories.

Pairs mix the grammar's templates (training/grammar.py, whose determined positions
training.evaluate measures) with the open-vocabulary frames and phrasebooks of
training/lexicon.py; `python -m training.corpus` prints a sample.
"""

from __future__ import annotations

import argparse

from training.grammar import Grammar, Pair, Sentence
from training.vocabulary import (ADJECTIVES, ANIMALS, EXTRA_LOCKABLE, FIELDS, FOODS, NAMES, OBJECTS, OUTINGS,
    PEOPLE, ROOMS, TIMES, VERBS)


# Share of pairs drawn from the open-vocabulary frames and phrasebooks of training/lexicon.py
# (the rest come from this grammar, whose determined positions the evaluation measures).
OPEN_SHARE = 0.55
# Share of statements given a final full stop (。 / .), as typed text often has one.
PUNCTUATED = 0.2


def _punctuate(pair: Pair) -> Pair:
    if pair.en.text.endswith(("?", "!")) or pair.zh.text.endswith(("？", "！")):
        return pair
    return Pair(Sentence(pair.zh.text + "。", "zh", pair.zh.template, pair.zh.determined),
                Sentence(pair.en.text + ".", "en", pair.en.template, pair.en.determined))


def pairs(n: int, seed: int = 0, varied: bool = False) -> list[Pair]:
    """n parallel sentence pairs, the same for the same seed.

    One-to-one across the whole list (a sentence always has the same translation), and never a
    sentence of the held-out natural set that `python -m training.evaluate` measures. `varied`
    adds the open frames whose sentences do not start with their subject (training/varied.py).
    """
    # Imported here: training.lexicon builds on the grammar this module imports.
    from training import lexicon
    from training.varied import VariedGrammar

    grammar = Grammar(seed)
    open_grammar = (VariedGrammar if varied else lexicon.OpenGrammar)(grammar)
    held = {s for pair in lexicon.held_out() for s in pair}
    zh_of: dict[str, str] = {}
    en_of: dict[str, str] = {}
    out: list[Pair] = []
    while len(out) < n:
        pair = open_grammar.pair() if grammar.chance(OPEN_SHARE) else None
        pair = pair or grammar.pair()
        if grammar.chance(PUNCTUATED):
            pair = _punctuate(pair)
        zh, en = pair.zh.text, pair.en.text
        if zh.rstrip("。") in held or en.rstrip(".") in held or zh_of.get(en, zh) != zh or en_of.get(zh, en) != en:
            continue
        zh_of[en], en_of[zh] = zh, en
        out.append(pair)
    return out


def stories(n: int, seed: int = 0) -> list[tuple[Pair, Pair]]:
    grammar = Grammar(seed + 1_000_003)
    return [grammar.story() for _ in range(n)]


def sentences(n: int, seed: int = 0) -> list[Sentence]:
    """Monolingual sentences in both languages (two per pair, plus story sentences)."""
    out = []
    for p in pairs(n, seed):
        out += [p.zh, p.en]
    for first, second in stories(max(1, n // 8), seed):
        out += [first.zh, first.en, second.zh, second.en]
    return out


def lexicon_size() -> dict[str, int]:
    """Distinct words in each language's lexicon, this grammar's and training/lexicon.py's
    (English inflected forms counted once each)."""
    en: set[str] = set()
    zh: set[str] = set()
    rows = [(n[:1], n[1]) for n in NAMES]
    rows += [(r[:2], r[2]) for r in PEOPLE + ANIMALS + OBJECTS + EXTRA_LOCKABLE]
    rows += [((e,), z) for e, z in FOODS + FIELDS + ROOMS + OUTINGS]
    rows += [(v[:3], v[3]) for v in VERBS]
    rows += [((a[0],), a[1]) for a in ADJECTIVES]
    rows += [((t[0],), t[1]) for t in TIMES]
    from training import lexicon

    lex = lexicon.lexicon()
    rows += [((n.en, n.pl or n.en), n.zh) for n in lex.nouns]
    rows += [((v.en, v.s, v.past, v.ing), v.zh) for v in lex.verbs]
    rows += [((a.en,), a.zh) for a in lex.adjectives]
    for english, chinese in rows:
        en.update(english)
        zh.add(chinese)
    return {"en": len(en), "zh": len(zh)}


def main() -> None:
    parser = argparse.ArgumentParser(description="Print sentences from the generated corpus.")
    parser.add_argument("-n", type=int, default=10)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    for p in pairs(args.n, args.seed):
        print(f"{p.zh.text}\t{p.en.text}")
    for first, second in stories(max(1, args.n // 4), args.seed):
        print(f"{first.zh.text}。{second.zh.text}\t{first.en.text}. {second.en.text}")
    print(lexicon_size())


if __name__ == "__main__":
    main()
