import collections
import hashlib

import pytest

from training import corpus, grammar, lexicon, varied, vocabulary

LECTURE_ZH = ["我喜欢吃苹果", "我很喜欢吃苹果", "我喜欢机器学习", "今天天气真好，我想去公园散步"]
LECTURE_EN = ["I love machine learning", "The cat chases a mouse", "I like eating apples"]


@pytest.fixture(scope="module")
def sample():
    return corpus.pairs(20_000, seed=0)


def test_same_seed_same_corpus_other_seed_other_corpus():
    assert corpus.pairs(200, seed=5) == corpus.pairs(200, seed=5)
    assert corpus.pairs(200, seed=5) != corpus.pairs(200, seed=6)
    assert corpus.stories(50, seed=5) == corpus.stories(50, seed=5)


@pytest.mark.parametrize("is_varied, digest", [
    (False, "a8a38249055f99794964ae2894371e23a4e5be6d9c2041e8d6696bd0e861164f"),
    (True, "3e6623d3d9e6960b5d8d40dcc35804a21dc4c237183556f49375ee902d768e71"),
])
def test_the_corpus_of_the_committed_checkpoints_is_unchanged(is_varied, digest):
    """mini-bert, mini-gpt, mini-llama and mini-mixtral were trained on corpus.pairs(varied=False),
    mini-t5 on varied=True: a change to what either draws makes those checkpoints irreproducible
    until they are retrained (then take the new digest). The first was taken before the varied
    frames were added (docs/decisions.md)."""
    text = "\n".join(f"{p.zh.text}\t{p.en.text}" for p in corpus.pairs(5000, seed=0, varied=is_varied))
    assert hashlib.sha256(text.encode()).hexdigest() == digest


def test_lexicon_has_thousands_of_words_per_language():
    size = corpus.lexicon_size()
    assert size["en"] >= 3000 and size["zh"] >= 2000


@pytest.mark.parametrize("is_varied", [False, True])  # the corpus of every checkpoint, of mini-t5
def test_lecture_examples_are_ordinary_members(is_varied):
    big = corpus.pairs(300_000, seed=0, varied=is_varied)
    zh = {p.zh.text for p in big}
    en = {p.en.text for p in big}
    assert all(s in zh for s in LECTURE_ZH)
    assert all(s in en for s in LECTURE_EN)
    pairs = {p.zh.text: p.en.text for p in big}
    assert pairs["我喜欢机器学习"] == "I love machine learning"
    assert pairs["我喜欢吃苹果"] == "I like eating apples"


@pytest.fixture(scope="module")
def varied_sample():
    return corpus.pairs(20_000, seed=0, varied=True)


@pytest.mark.parametrize("name", ["sample", "varied_sample"])
def test_translation_is_one_to_one(name, request):
    forward, backward = collections.defaultdict(set), collections.defaultdict(set)
    for p in request.getfixturevalue(name):
        forward[p.zh.text].add(p.en.text)
        backward[p.en.text].add(p.zh.text)
    assert all(len(v) == 1 for v in forward.values())
    assert all(len(v) == 1 for v in backward.values())


def test_every_template_and_both_languages_occur(sample):
    templates = collections.Counter(p.en.template for p in sample)
    assert set(templates) == set(grammar.Grammar.TEMPLATES) | set(lexicon.OpenGrammar.FRAMES)
    assert all(p.zh.lang == "zh" and p.en.lang == "en" for p in sample[:100])


def test_varied_corpus_adds_its_frames_and_draws_the_rest_as_before(sample, varied_sample):
    templates = collections.Counter(p.en.template for p in varied_sample)
    added = set(varied.VariedGrammar.ADDED)
    assert set(templates) == set(grammar.Grammar.TEMPLATES) | set(lexicon.OpenGrammar.FRAMES) | added
    share = sum(templates[t] for t in added) / len(varied_sample)
    assert 0.1 < share < 0.2, share
    # The grammar's pairs (drawn from the same stream until an open pair is asked for) are the
    # same kinds of sentences at the same rate: only the open half changed.
    grammar_share = sum(templates[t] for t in grammar.Grammar.TEMPLATES) / len(varied_sample)
    base_share = sum(1 for p in sample if p.en.template in grammar.Grammar.TEMPLATES) / len(sample)
    assert abs(grammar_share - base_share) < 0.02


def test_determined_marks_point_at_their_words(sample):
    marks = 0
    for p in sample:
        for s in (p.zh, p.en):
            for offset, word, _ in s.determined:
                assert s.text[offset:].lower().startswith(word.lower()), (s.text, offset, word)
                marks += 1
    assert marks > len(sample) // 2  # about half the pairs come from the marking grammar


def test_agreement_follows_the_head_noun_not_the_attractor(sample):
    checked = 0
    for p in sample:
        if p.en.template != "agreement":
            continue
        offset, verb, phenomenon = p.en.determined[0]
        assert phenomenon == "agreement"
        words = p.en.text.lower().split()
        head = words[2] if words[0] == "yesterday" else words[1]
        plural = head in {o[1] for o in vocabulary.OBJECTS + vocabulary.ANIMALS} and head not in {o[0] for o in vocabulary.OBJECTS + vocabulary.ANIMALS}
        assert verb == {(False, False): "is", (True, False): "are", (False, True): "was", (True, True): "were"}[
            (plural, words[0] == "yesterday")], p.en.text
        checked += 1
    assert checked > 1000


def test_pronouns_agree_with_their_antecedent(sample):
    genders = {n[0]: n[2] for n in vocabulary.NAMES} | {p[0]: p[4] for p in vocabulary.PEOPLE}
    for p in sample:
        if p.en.template != "pronoun":
            continue
        words = p.en.text.replace(",", "").split()
        antecedent = next(w for w in words if w in genders)  # the first person named
        pronoun = [w for _, w, k in p.en.determined if k == "pronoun"][0]
        assert pronoun == {"m": "he", "f": "she"}[genders[antecedent]], p.en.text
        zh_pronoun = [w for _, w, k in p.zh.determined if k == "pronoun"][0]
        assert zh_pronoun == {"he": "他", "she": "她"}[pronoun]


def test_word_order_differs_for_time_adverbs(sample):
    moved = [p for p in sample if p.en.template == "transitive" and p.en.text.endswith("every day")]
    assert moved and all("每天" in p.zh.text and not p.zh.text.endswith("每天") for p in moved)


@pytest.mark.parametrize("word, article", [("useful", "a"), ("umbrella", "an"), ("honest", "an"),
                                           ("horse", "a"), ("elephant", "an"), ("very old", "a")])
def test_indefinite_article_follows_the_sound(word, article):
    assert grammar.indefinite_article(word) == article


def test_generated_english_uses_the_right_article(sample):
    import re

    stories = [s.en.text for pair in corpus.stories(2000, seed=0) for s in pair]
    checked = 0
    for text in [p.en.text for p in sample] + stories:
        for article, word in re.findall(r"(?<![\w'])(an?) (\w+)", text.lower()):  # not Xi'an
            assert article == grammar.indefinite_article(word), text
            checked += 1
    assert checked > 1000
