"""The open-vocabulary half of the training corpus: a large bilingual lexicon and phrasebook.

training/corpus.py's grammar has a few hundred words, chosen so that some positions are
determined (agreement, pronouns, forced function words). What people type in a lecture uses
thousands. This module renders everyday sentence frames over the hand-written lexicon in
training/data/ (nouns with their measure words, verbs with the object kinds they take,
adjectives with the kinds they describe) and mixes in two hand-written phrasebooks (everyday
and classroom / AI-course sentences), every pair in both languages from the same choices.

Frames, each one meaning rendered in both languages:
- subject (pronoun, name, "my teacher", "the students") + tense from a time word + verb + object,
  progressive with 正在 / "is ...ing", negation with 不 / 没 / "do not";
- "The book is very interesting" / "这本书很有意思", negated, and comparisons
  "X is bigger than Y" / "X比Y大" (English "than" is determined);
- "There are three books on the table" / "桌子上有三本书";
- "My mother is a doctor" / "我的妈妈是医生", "X works in the hospital" / "X在医院工作";
- wants and abilities: "I want to buy a new phone" / "我想买一部新手机", "She can swim" / "她会游泳";
- questions: "Do you like tea?" / "你喜欢茶吗？", "Where is the station?" / "车站在哪里？".
training/varied.py adds frames that do not start with their subject (mini-t5's corpus only).

The lexicon and phrasebooks were written for this project (docs/decisions.md, the model cards);
the files are read once per process. training/data/held_out.json holds the natural sentences
that training.evaluate measures on; the corpus never contains them.
"""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass
from pathlib import Path

from training.grammar import Pair, Sentence, _Builder, indefinite_article
from training.vocabulary import NAMES

DATA = Path(__file__).resolve().parent / "data"

NUMBERS = [("two", "两"), ("three", "三"), ("four", "四"), ("five", "五"), ("six", "六"),
           ("seven", "七"), ("eight", "八"), ("nine", "九"), ("ten", "十")]

# (english, chinese, possessive english, possessive chinese, person-number)
SUBJECT_PRONOUNS = [("I", "我", "my", "我的", "1s"), ("you", "你", "your", "你的", "2"),
                    ("he", "他", "his", "他的", "3s"), ("she", "她", "her", "她的", "3s"),
                    ("we", "我们", "our", "我们的", "1p"), ("they", "他们", "their", "他们的", "3p")]

# (english, chinese, tense); "now" frames take the progressive.
TIME_WORDS = [("every day", "每天", "present"), ("every morning", "每天早上", "present"),
              ("every evening", "每天晚上", "present"), ("on weekends", "周末", "present"),
              ("often", "经常", "present"), ("usually", "通常", "present"), ("sometimes", "有时候", "present"),
              ("yesterday", "昨天", "past"), ("last week", "上周", "past"), ("last year", "去年", "past"),
              ("this morning", "今天早上", "past"), ("last night", "昨天晚上", "past"),
              ("tomorrow", "明天", "future"), ("next week", "下周", "future"), ("next year", "明年", "future"),
              ("tonight", "今天晚上", "future"), ("now", "现在", "progressive")]

FREQUENCY_ADVERBS = ("often", "usually", "sometimes")  # before the English verb, not at the end


@dataclass(frozen=True)
class Noun:
    en: str
    pl: str | None  # None: a mass noun
    zh: str
    cl: str
    kind: str
    gender: str = ""


@dataclass(frozen=True)
class Verb:
    en: str
    s: str
    past: str
    ing: str
    zh: str
    obj: tuple[str, ...]
    objects: tuple[str, ...] = ()


@dataclass(frozen=True)
class Adjective:
    en: str
    zh: str
    de: bool
    er: str | None
    fits: tuple[str, ...]
    grad: bool


@dataclass(frozen=True)
class Lexicon:
    nouns: tuple[Noun, ...]
    verbs: tuple[Verb, ...]
    adjectives: tuple[Adjective, ...]
    phrases: tuple[tuple[str, str], ...]  # (chinese, english)

    def of_kind(self, *kinds: str) -> tuple[Noun, ...]:
        return tuple(n for n in self.nouns if n.kind in kinds)


def _read(name: str):
    path = DATA / name
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else []


def _unique(rows, *keys):
    """Keep the first row for every value of each key: the lexicon stays one-to-one."""
    seen = {k: set() for k in keys}
    out = []
    for row in rows:
        values = [row[k] for k in keys]
        if any(v in seen[k] for k, v in zip(keys, values)):
            continue
        for k, v in zip(keys, values):
            seen[k].add(v)
        out.append(row)
    return out


@functools.lru_cache(maxsize=1)
def lexicon() -> Lexicon:
    nouns = tuple(Noun(r["en"], r.get("pl"), r["zh"], r.get("cl") or "个", r["kind"], r.get("gender", ""))
                  for r in _unique(_read("nouns.json"), "en", "zh"))
    verbs = tuple(Verb(r["en"], r["s"], r["past"], r["ing"], r["zh"], tuple(r.get("obj") or ()),
                       tuple(r.get("objects") or ()))
                  for r in _unique(_read("verbs.json"), "en", "zh"))
    adjectives = tuple(Adjective(r["en"], r["zh"], bool(r.get("de")), r.get("er"), tuple(r.get("fits") or ()),
                                 bool(r.get("grad", True)))
                       for r in _unique(_read("adjectives.json"), "en", "zh"))
    phrases = []
    for name in ("phrases_everyday.json", "phrases_course.json", "phrases_characters.json"):
        phrases += [(zh.strip(), en.strip()) for zh, en in _read(name) if zh.strip() and en.strip()]
    return Lexicon(nouns, verbs, adjectives, tuple(phrases))


def held_out() -> tuple[tuple[str, str], ...]:
    """The natural sentences kept out of training, as (chinese, english)."""
    return tuple((zh, en) for zh, en in _read("held_out.json"))


class OpenGrammar:
    """Frames over the large lexicon. Takes the corpus' Grammar for its Zipf choices and builder."""

    FRAMES = ("action", "describe", "compare", "there_is", "identity", "wants", "question", "phrase")
    WEIGHTS = (6, 3, 2, 2, 2, 3, 2, 6)

    def __init__(self, grammar):
        self.g = grammar
        # Uniform, not Zipf: with a thousand nouns a Zipf tail would leave most of them too rare to learn.
        self.pick = grammar.rng.choice
        self.lex = lexicon()
        by_en = {n.en: n for n in self.lex.nouns}
        self._objects_for = {
            v.en: tuple(by_en[o] for o in v.objects if o in by_en) or self.lex.of_kind(*v.obj)
            for v in self.lex.verbs
        }
        self.transitive = tuple(v for v in self.lex.verbs if self._objects_for[v.en])
        self.intransitive = tuple(v for v in self.lex.verbs if not v.obj and not v.objects)
        self.people = self.lex.of_kind("person")
        self.places = self.lex.of_kind("place")
        self.things = self.lex.of_kind("object", "food", "drink", "animal", "vehicle", "plant", "tech", "abstract")
        self.countable = tuple(n for n in self.lex.of_kind("object", "food", "animal", "vehicle", "plant") if n.pl)

    # -- pieces ------------------------------------------------------------------------------

    def _adjective_for(self, noun: Noun, gradable: bool = False, comparable: bool = False):
        fits = [a for a in self.lex.adjectives if noun.kind in a.fits and (a.grad or not gradable)
                and (a.er or not comparable)]
        return self.pick(fits) if fits else None

    def noun_phrase(self, noun: Noun, det: str = "", number: str = "s", adjective: float = 0.3,
                    owner=None) -> tuple[str, str, str]:
        """(english, chinese, number): 'a new phone' / '一部新手机', 'my books' / '我的书'."""
        mass = noun.pl is None
        if mass:
            number = "s"
        adj_en = adj_zh = ""
        a = self._adjective_for(noun) if self.g.chance(adjective) else None
        if a:
            if a.grad and self.g.chance(0.3):
                adj_en, adj_zh = f"very {a.en}", f"很{a.zh}的"
            else:
                adj_en, adj_zh = a.en, a.zh + ("的" if a.de else "")
        head_en = noun.pl if number == "p" else noun.en
        words_en = " ".join(x for x in (adj_en, head_en) if x)
        if owner is not None:
            return f"{owner[0]} {words_en}", f"{owner[1]}{adj_zh}{noun.zh}", number
        if det == "a" and not mass and number == "s":
            return f"{indefinite_article(words_en)} {words_en}", f"一{noun.cl}{adj_zh}{noun.zh}", number
        if det == "this":
            en_det = "these" if number == "p" else "this"
            zh_det = "这些" if number == "p" else f"这{noun.cl}"
            return f"{en_det} {words_en}", f"{zh_det}{adj_zh}{noun.zh}", number
        if det == "number" and not mass:
            n_en, n_zh = self.pick(NUMBERS)
            return f"{n_en} {' '.join(x for x in (adj_en, noun.pl) if x)}", f"{n_zh}{noun.cl}{adj_zh}{noun.zh}", "p"
        if number == "p" and noun.kind == "person":
            return f"the {words_en}", f"{adj_zh}{noun.zh}们", number
        if number == "p":
            return f"the {words_en}", f"那些{adj_zh}{noun.zh}", number
        return f"the {words_en}", f"{adj_zh}{noun.zh}", number

    def subject(self):
        """(english, chinese, person, number)."""
        roll = self.g.rng.random()
        if roll < 0.35:
            en, zh, _, _, pn = self.pick(SUBJECT_PRONOUNS)
            # "you" agrees as a plural: you are, you do.
            return en, zh, pn[0], "s" if pn in ("1s", "3s") else "p"
        if roll < 0.5:
            en, zh, _ = self.pick(NAMES)
            return en, zh, "3", "s"
        noun = self.pick(self.people)
        if roll < 0.7:
            _, _, pos_en, pos_zh, _ = self.pick(SUBJECT_PRONOUNS)
            en, zh, number = self.noun_phrase(noun, owner=(pos_en, pos_zh), adjective=0.1)
            return en, zh, "3", number
        number = "p" if self.g.chance(0.35) else "s"
        en, zh, number = self.noun_phrase(noun, number=number, adjective=0.2)
        return en, zh, "3", number

    @staticmethod
    def _third(person: str, number: str) -> bool:
        return person == "3" and number == "s"

    def _be(self, person: str, number: str, tense: str = "present") -> str:
        if tense == "past":
            return "was" if number == "s" and person in ("1", "3") else "were"
        if person == "1" and number == "s":
            return "am"
        return "is" if self._third(person, number) else "are"

    def _object(self, verb: Verb):
        noun = self.pick(self._objects_for[verb.en])
        roll = self.g.rng.random()
        if noun.kind == "person" and roll < 0.3:
            en, zh, _ = self.pick(NAMES)
            return en, zh
        if roll < 0.35:
            det = "a"
        elif roll < 0.5:
            det = "this"
        elif roll < 0.62:
            _, _, pos_en, pos_zh, _ = self.pick(SUBJECT_PRONOUNS)
            return self.noun_phrase(noun, owner=(pos_en, pos_zh))[:2]
        elif roll < 0.7 and noun.pl:
            det = "number"
        else:
            det = "the"
        number = "p" if det == "the" and noun.pl and self.g.chance(0.25) else "s"
        return self.noun_phrase(noun, det=det, number=number)[:2]

    # -- frames ------------------------------------------------------------------------------

    @staticmethod
    def _builders(frame: str):
        return _Builder("en", frame), _Builder("zh", frame)

    def action(self, fronted: tuple | None = None):
        """'My teacher bought a new computer yesterday' / '我的老师昨天买了一台新电脑'; `fronted` times
        go before the subject in both: 'Today we learn it' / '今天我们学习它' (training/varied.py)."""
        s_en, s_zh, person, number = self.subject()
        transitive = self.g.chance(0.8) or not self.intransitive
        verb = self.pick(self.transitive if transitive else self.intransitive)
        if fronted:
            time = self.pick(fronted)
        else:
            time = self.pick(TIME_WORDS) if self.g.chance(0.55) else None
        tense = time[2] if time else ("progressive" if self.g.chance(0.2) else "present")
        negative = tense != "progressive" and self.g.chance(0.15)
        third = self._third(person, number)
        if tense == "past":
            v_en = f"did not {verb.en}" if negative else verb.past
            v_zh = f"没{verb.zh}" if negative else f"{verb.zh}了"
        elif tense == "future":
            v_en = f"will not {verb.en}" if negative else f"will {verb.en}"
            v_zh = f"不会{verb.zh}" if negative else f"会{verb.zh}"
        elif tense == "progressive":
            v_en = f"{self._be(person, number)} {verb.ing}"
            v_zh = f"正在{verb.zh}"
        else:
            v_en = (f"{'does' if third else 'do'} not {verb.en}" if negative
                    else verb.s if third else verb.en)
            v_zh = f"不{verb.zh}" if negative else verb.zh
        before = time is not None and time[0] in FREQUENCY_ADVERBS and not negative
        en, zh = self._builders("fronted" if fronted else "action")
        if fronted:
            en.add(time[0])
            zh.add(time[1])
        en.add(s_en).add(time[0] if before else "").add(v_en)
        zh.add(s_zh).add(time[1] if time and not fronted else "").add(v_zh)
        if transitive:
            o_en, o_zh = self._object(verb)
            en.add(o_en)
            zh.add(o_zh)
        if time and not before and not fronted:
            en.add(time[0])
        return en.build(), zh.build()

    def describe(self):
        """'This book is very interesting' / '这本书很有意思'; negated as 不太 / 'not very'."""
        noun = self.pick(self.things + self.people + self.places)
        a = self._adjective_for(noun, gradable=True)
        if a is None:
            return self.action()
        det = self.pick(["this", "the", "the", "my"])
        number = "p" if noun.pl and self.g.chance(0.25) else "s"
        if det == "my":
            _, _, pos_en, pos_zh, _ = self.pick(SUBJECT_PRONOUNS)
            n_en, n_zh, number = self.noun_phrase(noun, owner=(pos_en, pos_zh), number=number, adjective=0.0)
        else:
            n_en, n_zh, number = self.noun_phrase(noun, det=det, number=number, adjective=0.0)
        return self._graded("describe", n_en, n_zh, "is" if number == "s" else "are", a)

    def _graded(self, frame: str, n_en: str, n_zh: str, be: str, a: Adjective):
        """'<n> is very / really / not very <a>' / '<n>很 / 真 / 不太<a>'."""
        en, zh = self._builders(frame)
        style = self.g.rng.random()
        degree = ("not very", "不太") if style < 0.15 else ("really", "真") if style < 0.3 else ("very", "很")
        en.add(n_en).add(f"{be} {degree[0]} {a.en}")
        zh.add(n_zh).add(f"{degree[1]}{a.zh}")
        return en.build(), zh.build()

    def compare(self):
        """'The elephant is bigger than the horse' / '大象比马大'."""
        kind_pool = self.pick([self.lex.of_kind("animal"), self.lex.of_kind("vehicle"),
                                 self.lex.of_kind("object"), self.people, self.places])
        first = self.pick(kind_pool)
        a = self._adjective_for(first, comparable=True)
        others = [n for n in kind_pool if n != first and a and n.kind in a.fits]
        if a is None or not others:
            return self.describe()
        second = self.pick(others)
        f_en, f_zh, _ = self.noun_phrase(first, det="the", adjective=0.0)
        s_en, s_zh, _ = self.noun_phrase(second, det="the", adjective=0.0)
        en, zh = self._builders("compare")
        en.add(f_en).add(f"is {a.er}").add("than", mark="function").add(s_en)
        zh.add(f_zh).add("比").add(s_zh).add(a.zh)
        return en.build(), zh.build()

    def there_is(self):
        """'There are three books on the table' / '桌子上有三本书'."""
        thing = self.pick(self.countable)
        container = self.pick(self.places + tuple(n for n in self.lex.of_kind("object")
                                                   if n.en in ("table", "desk", "box", "bag", "bed", "shelf", "sofa")))
        det = self.pick(["a", "number", "a"])
        t_en, t_zh, number = self.noun_phrase(thing, det=det)
        on_en, on_zh = ("in", "里") if container.kind == "place" else ("on", "上")
        en, zh = self._builders("there_is")
        en.add("there").add("are" if number == "p" else "is").add(t_en).add(f"{on_en} the {container.en}")
        zh.add(f"{container.zh}{on_zh}有").add(t_zh)
        return en.build(), zh.build()

    def identity(self):
        """'My mother is a doctor' / '我的妈妈是医生'; 'He works at the hospital' / '他在医院工作'."""
        s_en, s_zh, person, number = self.subject()
        if number == "p":
            return self.action()
        en, zh = self._builders("identity")
        if self.g.chance(0.5):
            job = self.pick(self.people)
            en.add(s_en).add(self._be(person, number)).add(f"{indefinite_article(job.en)} {job.en}")
            zh.add(s_zh).add("是").add(f"一{job.cl if job.cl in ('位', '名', '个') else '个'}{job.zh}")
        else:
            place = self.pick(self.places)
            verb = self.pick([("works", "work", "工作"), ("studies", "study", "学习"), ("lives", "live", "住"),
                                ("waits", "wait", "等")])
            en.add(s_en).add(verb[0] if self._third(person, number) else verb[1]).add(f"in the {place.en}")
            zh.add(s_zh).add(f"在{place.zh}{verb[2]}")
        return en.build(), zh.build()

    def wants(self):
        """'I want to buy a new phone' / '我想买一部新手机'; 'She can swim' / '她会游泳'."""
        s_en, s_zh, person, number = self.subject()
        third = self._third(person, number)
        modal = self.pick([("want to", "wants to", "想"), ("can", "can", "会"), ("need to", "needs to", "需要"),
                             ("like to", "likes to", "喜欢"), ("should", "should", "应该")])
        verb = self.pick(self.transitive)
        en, zh = self._builders("wants")
        en.add(s_en).add(modal[1] if third else modal[0]).add(verb.en)
        zh.add(s_zh).add(modal[2]).add(verb.zh)
        o_en, o_zh = self._object(verb)
        en.add(o_en)
        zh.add(o_zh)
        return en.build(), zh.build()

    def question(self):
        """'Do you like tea?' / '你喜欢茶吗？'; 'Where is the station?' / '车站在哪里？'."""
        en, zh = self._builders("question")
        roll = self.g.rng.random()
        if roll < 0.4:
            verb = self.pick(self.transitive)
            o_en, o_zh = self._object(verb)
            who = self.pick([("you", "你", "do"), ("they", "他们", "do"), ("he", "他", "does"), ("she", "她", "does")])
            en.add(f"{who[2]} {who[0]} {verb.en}").add(o_en + "?")
            zh.add(f"{who[1]}{verb.zh}").add(o_zh + "吗？")
        elif roll < 0.7:
            noun = self.pick(self.countable + self.places)
            n_en, n_zh, number = self.noun_phrase(noun, det="the", adjective=0.1)
            en.add(f"where {'are' if number == 'p' else 'is'}").add(n_en + "?")
            zh.add(n_zh).add("在哪里？")
        else:
            noun = self.pick(self.things)
            a = self._adjective_for(noun, gradable=True)
            if a is None:
                return self.question()
            n_en, n_zh, number = self.noun_phrase(noun, det="this", adjective=0.0)
            en.add(f"{'are' if number == 'p' else 'is'}").add(n_en).add(f"{a.en}?")
            zh.add(n_zh).add(f"{a.zh}吗？")
        return en.build(), zh.build()

    def phrase(self):
        zh, en = self.g.rng.choice(self.lex.phrases) if self.lex.phrases else ("你好", "Hello")
        return Sentence(en, "en", "phrase"), Sentence(zh, "zh", "phrase")

    def pair(self):
        if not self.lex.nouns:
            return None
        frame = self.g.rng.choices(self.FRAMES, weights=self.WEIGHTS)[0]
        en, zh = getattr(self, frame)()
        return Pair(zh, en)
