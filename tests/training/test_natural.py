"""The natural held-out measures: chrF as sacrebleu computes it, the language test, and the
held-out sentences kept out of the training corpus."""

import collections
import random

import pytest
import sacrebleu

from training import corpus, grammar, lexicon, natural, varied


def _noisy(text: str, rng: random.Random) -> str:
    chars = list(text)
    for _ in range(rng.randrange(0, 4)):
        if chars:
            chars[rng.randrange(len(chars))] = rng.choice("abc我你的 ")
    return "".join(chars)


@pytest.mark.parametrize("seed", range(5))
def test_chrf_equals_sacrebleu(seed):
    rng = random.Random(seed)
    refs = [zh if rng.random() < 0.5 else en for zh, en in lexicon.held_out()]
    hyps = [_noisy(r, rng) for r in refs]
    assert natural.chrf(hyps, refs) == pytest.approx(sacrebleu.corpus_chrf(hyps, [refs]).score, abs=1e-9)


def test_chrf_edges():
    assert natural.chrf(["I love you"], ["I love you"]) == pytest.approx(100.0)
    assert natural.chrf(["xyz"], ["abc"]) == 0.0
    assert natural.chrf(["a"], ["abcdefgh"]) == pytest.approx(sacrebleu.corpus_chrf(["a"], [["abcdefgh"]]).score)


def test_language_by_majority_of_letters():
    assert natural.language("我喜欢 AI") == "zh"
    assert natural.language("I like 猫 very much") == "en"
    assert natural.language("123 !?") == ""


def test_held_out_set_is_33_pairs_one_to_one():
    pairs = lexicon.held_out()
    assert len(pairs) == 33
    assert len({zh for zh, _ in pairs}) == len({en for _, en in pairs}) == 33
    assert ("人工智能正在改变世界", "Artificial intelligence is changing the world") in pairs


def test_held_out_sentences_never_reach_the_corpus(monkeypatch):
    generated = corpus.pairs(3000, seed=3)
    zh, en = generated[0].zh.text.rstrip("。"), generated[1].en.text.rstrip(".")
    monkeypatch.setattr(lexicon, "held_out", lambda: ((zh, "-"), ("-", en)))
    again = corpus.pairs(3000, seed=3)
    texts = {s.text.rstrip("。.") for p in again for s in (p.zh, p.en)}
    assert zh not in texts and en not in texts


def test_real_held_out_set_is_not_in_the_training_corpus():
    held = {s for pair in lexicon.held_out() for s in pair}
    texts = {s.text.rstrip("。.") for p in corpus.pairs(20_000, seed=0) for s in (p.zh, p.en)}
    assert not held & texts


def test_open_frames_render_every_frame_in_both_languages():
    base = grammar.Grammar(4)
    frames = lexicon.OpenGrammar(base)
    seen = set()
    for _ in range(3000):
        pair = frames.pair()
        seen.add(pair.en.template)
        assert pair.zh.lang == "zh" and pair.en.lang == "en"
        assert natural.language(pair.zh.text) in ("zh", "") and natural.language(pair.en.text) == "en", pair
    assert seen == set(lexicon.OpenGrammar.FRAMES)


def test_varied_frames_do_not_start_with_their_subject():
    frames = varied.VariedGrammar(grammar.Grammar(5))
    seen = collections.defaultdict(list)
    for _ in range(6000):
        pair = frames.pair()
        seen[pair.en.template].append(pair)
    assert set(seen) == set(lexicon.OpenGrammar.FRAMES) | set(varied.VariedGrammar.ADDED)
    times = {en: zh for en, zh, _ in varied.FRONTED_TIMES}
    for p in seen["fronted"]:
        time = next(t for t in sorted(times, key=len, reverse=True) if p.en.text.lower().startswith(t))
        assert p.zh.text.startswith(times[time]), p
    for p in seen["generic"]:
        assert p.en.text.split()[0].lower() not in ("the", "a", "an", "this", "these", "my"), p
        assert " is " in p.en.text or " are " in p.en.text, p
        assert p.zh.text[0] not in "这那一我你他她", p
    assert {p.en.text.split()[0] for p in seen["request"]} == {"Please", "Let"}
    assert all(p.en.text.endswith("?") and p.zh.text.endswith("吗？") for p in seen["modal_question"])
    for p in seen["request"]:
        assert p.zh.text.startswith("请") == p.en.text.startswith("Please"), p
        assert p.zh.text.endswith("吧") == p.en.text.startswith("Let"), p


def test_lexicon_is_large_and_one_to_one():
    lex = lexicon.lexicon()
    assert len(lex.nouns) >= 900 and len(lex.verbs) >= 250 and len(lex.adjectives) >= 200
    assert len(lex.phrases) >= 3000
    for rows in (lex.nouns, lex.verbs, lex.adjectives):
        assert len({r.en for r in rows}) == len({r.zh for r in rows}) == len(rows)
    course = {"人工智能", "模型", "注意力", "编码器", "解码器", "数据", "神经网络"}
    assert course <= {n.zh for n in lex.nouns}
