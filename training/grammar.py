"""The grammar behind the generated bilingual (Chinese / English) corpus: its templates and types.

The embedded models are trained on it, so what they learn is known: every sentence comes from
a template whose structure decides some words outright, and those positions are recorded. A
model that has learned the grammar must predict them; that is what training.evaluate measures.

Phenomena, each a template rendered in both languages from the same choices:
- agreement across an intervening phrase: "the keys to the cabinet are on the table"
  (copula number follows the head noun, not the nearer attractor; tense follows "yesterday");
- pronouns referring back: "Mary, who met John in the park, said that she ..." / "...说她...";
- forced function words: like -> eating, want -> to go, either ... or, not only ... but also,
  想 -> 去, 要么 ... 要么, 不但 ... 而且;
- word order that differs between the languages: time adverbs (sentence-final in English,
  after the subject in Chinese), 的-modifiers and relative clauses (after the noun in English,
  before it in Chinese), adjective phrases ("a very big dog" / "一只很大的狗");
- two-sentence stories whose second sentence refers back to the first (for next-sentence
  prediction).

The lecture examples are ordinary members: "我喜欢吃苹果", "我很喜欢吃苹果",
"我喜欢机器学习" <-> "I love machine learning", "今天天气真好，我想去公园散步",
"The cat chases a mouse", "I like eating apples".
"""

from __future__ import annotations

import bisect
import itertools
import random
from dataclasses import dataclass

from training.vocabulary import (ADJECTIVES, ANIMALS, EXTRA_LOCKABLE, FIELDS, FOODS, FURNITURE, LOCKABLE,
    NAMES, OBJECTS, OUTINGS, PEOPLE, PLACES, PRONOUNS, RC_VERBS, ROOMS, TIMES, VERBS, WEATHER, WEATHER_TIMES,
    ZIPF)


# ---------------------------------------------------------------------------------------------
# Sentences and their determined positions.


@dataclass(frozen=True)
class Sentence:
    text: str
    lang: str  # "en" or "zh"
    template: str
    determined: tuple[tuple[int, str, str], ...] = ()  # (character offset, word, phenomenon)


@dataclass(frozen=True)
class Pair:
    """One meaning in both languages."""

    zh: Sentence
    en: Sentence


class _Builder:
    """Joins words (English with spaces, Chinese without) and remembers marked positions."""

    def __init__(self, lang: str, template: str):
        self.lang, self.template = lang, template
        self.parts: list[str] = []
        self.marks: list[tuple[int, str, str]] = []
        self.length = 0

    def add(self, text: str, mark: str = "") -> _Builder:
        if not text:
            return self
        sep = " " if self.lang == "en" and self.parts and text not in (",",) else ""
        if mark:
            self.marks.append((self.length + len(sep), text.split(" ")[0], mark))
        self.parts.append(sep + text)
        self.length += len(sep) + len(text)
        return self

    def build(self) -> Sentence:
        text = "".join(self.parts)
        if self.lang == "en":
            text = text[0].upper() + text[1:]
        return Sentence(text, self.lang, self.template, tuple(self.marks))


@dataclass(frozen=True)
class NP:
    """A noun phrase in both languages, with what agreement and pronouns need."""

    en: str
    zh: str
    number: str  # "s" or "p"
    gender: str = ""  # "m", "f" or "" for people
    person: str = "3"
    head: str = ""  # English head noun, for reference in stories
    head_zh: str = ""


class Grammar:
    """All the templates. One instance per random stream; every choice goes through self.rng."""

    def __init__(self, seed: int = 0):
        self.rng = random.Random(seed)
        self._weights: dict[int, list[float]] = {}

    # -- choices -----------------------------------------------------------------------------

    def pick(self, items):
        """Zipf-distributed choice: like words in real text, earlier entries are more frequent."""
        n = len(items)
        if n not in self._weights:
            self._weights[n] = list(itertools.accumulate(1.0 / (k + 1) ** ZIPF for k in range(n)))
        return items[bisect.bisect(self._weights[n], self.rng.random() * self._weights[n][-1])]

    def chance(self, p: float) -> bool:
        return self.rng.random() < p

    def _adjective(self, kind: str, gradable: bool = False):
        """An adjective that fits the noun kind; gradable ones take very/很 (colours do not)."""
        fits = [a for a in ADJECTIVES if (a[3] == "any" or a[3] == kind
                or (a[3] == "being" and kind in ("person", "animal")))
                and not (gradable and a[1].endswith("色"))]
        return self.pick(fits)

    def noun_phrase(self, kind: str, det: str | None = None, number: str | None = None,
                    adjective: float = 0.3) -> NP:
        """'the cat' / '猫', 'a very big dog' / '一只很大的狗', 'the keys' / '那些钥匙'."""
        if kind == "person" and det is None and self.chance(0.5):
            en, zh, gender = self.pick(NAMES)
            return NP(en, zh, "s", gender, head=en, head_zh=zh)
        table = {"person": PEOPLE, "animal": ANIMALS, "object": OBJECTS}[kind]
        entry = self.pick(table)
        sing, plur, zh_noun, classifier = entry[:4]
        gender = entry[4] if kind == "person" else ""
        number = number or ("p" if self.chance(0.3) else "s")
        det = det or ("a" if number == "s" and self.chance(0.4) else "the")
        if number == "p":
            det = "the"
        adj_en = adj_zh = ""
        if self.chance(adjective):
            very = self.chance(0.3)
            a_en, a_zh, needs_de, _ = self._adjective(kind, gradable=very)
            if very:
                adj_en, adj_zh = f"very {a_en}", f"很{a_zh}的"
            else:
                adj_en, adj_zh = a_en, a_zh + ("的" if needs_de else "")
        noun_en = sing if number == "s" else plur
        if det == "a":
            article = indefinite_article(adj_en or noun_en)
            en = " ".join(x for x in (article, adj_en, noun_en) if x)
            zh = f"一{classifier}{adj_zh}{zh_noun}"
        elif number == "p":
            en = " ".join(x for x in ("the", adj_en, noun_en) if x)
            zh = f"那些{adj_zh}{zh_noun}"
        else:
            en = " ".join(x for x in ("the", adj_en, noun_en) if x)
            zh = f"{adj_zh}{zh_noun}"
        return NP(en, zh, number, gender, head=sing, head_zh=zh_noun)

    def subject(self, kinds=("person", "animal")) -> NP:
        if self.chance(0.3):
            en, zh, pn, gender = self.pick(PRONOUNS)
            return NP(en, zh, "s" if pn in ("1s", "3s") else "p", gender, person=pn[0], head=en, head_zh=zh)
        return self.noun_phrase(self.pick(kinds), det="the" if self.chance(0.8) else None)

    @staticmethod
    def verb_form(verb, subj: NP, tense: str) -> str:
        base, third, past = verb[:3]
        if tense == "past":
            return past
        if tense == "future":
            return f"will {base}"
        return third if subj.person == "3" and subj.number == "s" else base

    @staticmethod
    def be(subj: NP, tense: str) -> str:
        if tense == "past":
            return "was" if subj.number == "s" and subj.person in ("1", "3") else "were"
        if subj.person == "1" and subj.number == "s":
            return "am"
        return "is" if subj.number == "s" and subj.person == "3" else "are"

    # -- templates ---------------------------------------------------------------------------

    def transitive(self) -> Pair:
        """The cat chases a mouse (every day) / 猫（每天）追一只老鼠."""
        subj = self.subject()
        verb = self.pick(VERBS)
        kind = verb[4] if verb[4] != "any" else self.pick(["person", "animal", "object"])
        obj = self.noun_phrase(kind, det="a" if self.chance(0.5) else None)
        time = self.pick(TIMES) if self.chance(0.5) else None
        tense = time[2] if time else "present"
        zh_verb = verb[3] + ("了" if tense == "past" else "")
        if tense == "future":
            zh_verb = "会" + zh_verb
        en = _Builder("en", "transitive").add(subj.en).add(self.verb_form(verb, subj, tense)).add(obj.en)
        if time:
            en.add(time[0])
        zh = _Builder("zh", "transitive").add(subj.zh).add(time[1] if time else "").add(zh_verb).add(obj.zh)
        return Pair(zh.build(), en.build())

    def agreement(self) -> Pair:
        """The keys to the cabinet are on the table / 柜子的那些钥匙在桌子上."""
        past = self.chance(0.3)
        modifier = self.pick(["to", "prep", "relative"])
        number = "p" if self.chance(0.5) else "s"
        attractor_number = "s" if number == "p" else ("p" if self.chance(0.7) else "s")
        if modifier == "to":
            head = self.pick([o for o in OBJECTS if o[0] == "key"])
            lock_table = {o[0]: o for o in OBJECTS + EXTRA_LOCKABLE}
            lock = lock_table[self.pick(LOCKABLE)]
            att_en = f"the {lock[0] if attractor_number == 's' else lock[1]}"
            att_zh = lock[2] if attractor_number == "s" else f"那些{lock[2]}"
            mod_en, mod_zh = f"to {att_en}", f"{att_zh}的"
        else:
            head = self.pick(self.pick([ANIMALS, OBJECTS]))
            if modifier == "prep":
                prep_en, prep_zh = self.pick([("on", "上"), ("under", "下面"), ("near", "旁边"), ("behind", "后面")])
                f = self.pick(FURNITURE)
                att_en = f"the {f[0] if attractor_number == 's' else f[1]}"
                att_zh = f[2] if attractor_number == "s" else f"那些{f[2]}"
                mod_en, mod_zh = f"{prep_en} {att_en}", f"{att_zh}{prep_zh}的"
            else:
                agent = self.noun_phrase("person", det="the", number=attractor_number, adjective=0.0)
                if self.chance(0.5):
                    en_name, zh_name, _ = self.pick(NAMES)
                    agent = NP(en_name, zh_name, "s")
                rc_en, rc_zh = self.pick(RC_VERBS)
                mod_en, mod_zh = f"that {agent.en} {rc_en}", f"{agent.zh}{rc_zh}的"
        noun_en = head[0] if number == "s" else head[1]
        subj = NP(f"the {noun_en} {mod_en}", mod_zh + ("那些" if number == "p" else "") + head[2], number)
        if self.chance(0.5):
            f = self.pick(FURNITURE)
            prep_en, prep_zh = self.pick([("on", "上"), ("under", "下面"), ("near", "旁边"), ("behind", "后面")])
            pred_en, pred_zh = f"{prep_en} the {f[0]}", f"在{f[2]}{prep_zh}"
        else:
            a_en, a_zh, _, _ = self._adjective("animal" if head in ANIMALS else "object", gradable=True)
            pred_en, pred_zh = f"very {a_en}", f"很{a_zh}"
        en = _Builder("en", "agreement")
        zh = _Builder("zh", "agreement")
        if past:
            en.add("yesterday")
            zh.add("昨天")
        en.add(subj.en).add(self.be(subj, "past" if past else "present"), mark="agreement").add(pred_en)
        zh.add(subj.zh).add(pred_zh)
        return Pair(zh.build(), en.build())

    def pronoun(self) -> Pair:
        """Mary, who met John in the park, said that she ... / 在公园遇见约翰的玛丽说她..."""
        if self.chance(0.5):
            en_name, zh_name, gender = self.pick(NAMES)
            person = NP(en_name, zh_name, "s", gender)
        else:
            person = self.noun_phrase("person", det="the", number="s", adjective=0.2)
        pron_en, pron_zh = ("he", "他") if person.gender == "m" else ("she", "她")
        en = _Builder("en", "pronoun")
        zh = _Builder("zh", "pronoun")
        if self.chance(0.5):
            other = self.noun_phrase("person", det="the", adjective=0.0) if self.chance(0.5) else None
            while other is None or other.en == person.en:
                en_name, zh_name, _ = self.pick(NAMES)
                other = NP(en_name, zh_name, "s")
            place_en, place_zh = self.pick(ROOMS)
            en.add(f"{person.en}, who met {other.en} at the {place_en},")
            zh.add(f"在{place_zh}遇见{other.zh}的{person.zh}")
        else:
            en.add(person.en)
            zh.add(person.zh)
        en.add("said").add("that", mark="function").add(pron_en, mark="pronoun")
        zh.add("说").add(pron_zh, mark="pronoun")
        kind = self.pick(["adjective", "food", "future", "lost"])
        he = NP(pron_en, pron_zh, "s")
        if kind == "adjective":
            a_en, a_zh, _, _ = self._adjective("person", gradable=True)
            en.add(f"{self.be(he, 'present')} very {a_en}")
            zh.add(f"很{a_zh}")
        elif kind == "food":
            food_en, food_zh = self.pick(FOODS)
            en.add("likes").add("eating", mark="function").add(food_en)
            zh.add(f"喜欢吃{food_zh}")
        elif kind == "future":
            t_en, t_zh, _ = self.pick([t for t in TIMES if t[2] == "future"])
            en.add(f"would come {t_en}")
            zh.add(f"{t_zh}会来")
        else:
            obj = self.noun_phrase("object", det="the", adjective=0.0)
            en.add(f"lost {obj.en}")
            zh.add(f"丢了{obj.zh}")
        return Pair(zh.build(), en.build())

    def likes(self) -> Pair:
        """I like eating apples / 我喜欢吃苹果; I love machine learning / 我喜欢机器学习."""
        subj = self.subject(kinds=("person",))
        third = subj.person == "3" and subj.number == "s"
        en = _Builder("en", "likes").add(subj.en)
        zh = _Builder("zh", "likes").add(subj.zh)
        style = self.pick(["like", "like", "really", "love"])
        if style == "love":
            field_en, field_zh = self.pick(FIELDS)
            en.add("loves" if third else "love").add(field_en)
            zh.add("喜欢").add(field_zh)
        else:
            food_en, food_zh = self.pick(FOODS)
            if style == "really":
                en.add("really")
                zh.add("很")
            en.add("likes" if third else "like").add("eating", mark="function").add(food_en)
            zh.add("喜欢").add("吃", mark="function" if style == "really" else "").add(food_zh)
        return Pair(zh.build(), en.build())

    def outing(self) -> Pair:
        """The weather is really nice today, I want to go for a walk in the park / 今天天气真好，我想去公园散步."""
        weather_en, weather_zh = self.pick(WEATHER)
        time_en, time_zh = self.pick(WEATHER_TIMES)
        subj = self.subject(kinds=("person",)) if self.chance(0.4) else NP("I", "我", "s", person="1")
        third = subj.person == "3" and subj.number == "s"
        outing_en, outing_zh = self.pick(OUTINGS)
        place_en, place_zh = self.pick(PLACES)
        en = (_Builder("en", "outing").add(f"{weather_en} {time_en}").add(",").add(subj.en)
              .add("wants" if third else "want").add("to", mark="function").add("go", mark="function")
              .add(outing_en).add(place_en))
        zh = (_Builder("zh", "outing").add(f"{time_zh}{weather_zh}").add("，").add(subj.zh)
              .add("想").add("去", mark="function").add(place_zh).add(outing_zh))
        return Pair(zh.build(), en.build())

    def either(self) -> Pair:
        """Tom will buy either a book or a pen / 汤姆要么买一本书，要么买一支笔."""
        subj = self.subject(kinds=("person",))
        first = self.noun_phrase("object", det="a", number="s", adjective=0.3)
        second = first
        while second.head == first.head:
            second = self.noun_phrase("object", det="a", number="s", adjective=0.3)
        en = (_Builder("en", "either").add(subj.en).add("will buy either").add(first.en)
              .add("or", mark="function").add(second.en))
        zh = (_Builder("zh", "either").add(subj.zh).add("要么买").add(first.zh).add("，")
              .add("要么", mark="function").add("买").add(second.zh))
        return Pair(zh.build(), en.build())

    def not_only(self) -> Pair:
        """The girl is not only clever but also kind / 女孩不但很聪明，而且很善良."""
        kind = self.pick(["person", "animal"])
        subj = self.noun_phrase(kind, det="the", adjective=0.0) if self.chance(0.7) else self.subject(kinds=(kind,))
        a1 = self._adjective(kind, gradable=True)
        a2 = a1
        while a2 == a1:
            a2 = self._adjective(kind, gradable=True)
        en = (_Builder("en", "not_only").add(subj.en).add(self.be(subj, "present")).add("not only")
              .add(a1[0]).add("but", mark="function").add("also", mark="function").add(a2[0]))
        zh = (_Builder("zh", "not_only").add(subj.zh).add("不但").add(f"很{a1[1]}").add("，")
              .add("而且", mark="function").add(f"很{a2[1]}"))
        return Pair(zh.build(), en.build())

    TEMPLATES = ("transitive", "agreement", "pronoun", "likes", "outing", "either", "not_only")
    WEIGHTS = (3, 3, 3, 2, 1, 1, 1)

    def pair(self) -> Pair:
        name = self.rng.choices(self.TEMPLATES, weights=self.WEIGHTS)[0]
        return getattr(self, name)()

    def story(self) -> tuple[Pair, Pair]:
        """Two sentences, the second referring back to the first (pronoun and noun)."""
        en_name, zh_name, gender = self.pick(NAMES)
        pron_en, pron_zh = ("he", "他") if gender == "m" else ("she", "她")
        kind = self.pick(["bought", "found", "has"])
        if kind == "has":
            animal = self.pick(ANIMALS)
            a_en, a_zh, needs_de, _ = self._adjective("animal")
            art = indefinite_article(a_en)
            first = Pair(
                Sentence(f"{zh_name}有一{animal[3]}{a_zh}{'的' if needs_de else ''}{animal[2]}", "zh", "story"),
                Sentence(f"{en_name} has {art} {a_en} {animal[0]}", "en", "story"),
            )
            t_en, t_zh = self.pick([("every day", "每天"), ("every morning", "每天早上"), ("every evening", "每天晚上")])
            second = Pair(
                Sentence(f"{pron_zh}{t_zh}喂{animal[2]}", "zh", "story"),
                Sentence(f"{pron_en.capitalize()} feeds the {animal[0]} {t_en}", "en", "story"),
            )
            return first, second
        thing = self.pick(OBJECTS)
        art = indefinite_article(thing[0])
        if kind == "bought":
            first = Pair(Sentence(f"{zh_name}买了一{thing[3]}{thing[2]}", "zh", "story"),
                         Sentence(f"{en_name} bought {art} {thing[0]}", "en", "story"))
            f = self.pick(FURNITURE)
            second = Pair(Sentence(f"{pron_zh}把{thing[2]}放在{f[2]}上", "zh", "story"),
                          Sentence(f"{pron_en.capitalize()} put the {thing[0]} on the {f[0]}", "en", "story"))
        else:
            room_en, room_zh = self.pick(ROOMS)
            first = Pair(Sentence(f"{zh_name}在{room_zh}找到了一{thing[3]}{thing[2]}", "zh", "story"),
                         Sentence(f"{en_name} found {art} {thing[0]} at the {room_en}", "en", "story"))
            other_en, other_zh, _ = self.pick(NAMES)
            second = Pair(Sentence(f"{pron_zh}把{thing[2]}给了{other_zh}", "zh", "story"),
                          Sentence(f"{pron_en.capitalize()} gave the {thing[0]} to {other_en}", "en", "story"))
        return first, second


def indefinite_article(word: str) -> str:
    """"a" or "an" by the sound of the word, not its first letter (a useful, an honest)."""
    word = word.lower()
    if word.startswith(("use", "uni", "one")):
        return "a"
    if word.startswith(("hon", "hour")) or word[0] in "aeiou":
        return "an"
    return "a"
