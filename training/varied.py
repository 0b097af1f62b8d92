"""Open frames whose sentences do not start with their subject, as typed text often does.

The frames of training/lexicon.py always begin with a pronoun, a name or "the / my ...". People
type "Today we learn ...", "Neural networks are ...", "Please close the door", "Can you ...?",
and mini-t5 translated exactly those worst (docs/decisions.md). VariedGrammar adds four frames,
each one meaning rendered in both languages from the same choices:
- a fronted time: "Today we learn the method" / "今天我们学习方法";
- a kind in general as the subject, bare in both languages: "Neural networks are very useful" /
  "神经网络很有用";
- a request: "Please close the door" / "请关上门", "Let us ... together" / "我们一起...吧";
- a modal question: "Can you open the window?" / "你能打开窗户吗？", "Will they ... tomorrow?" /
  "他们明天会...吗？", "Should we ...?" / "我们应该...吗？".

Only corpora that ask for them draw these (`corpus.pairs(varied=True)`, `Recipe.varied`): the
other checkpoints' corpus stays the one they were trained on.
"""

from __future__ import annotations

from training.lexicon import FREQUENCY_ADVERBS, SUBJECT_PRONOUNS, TIME_WORDS, OpenGrammar

# Times that start a sentence in both languages, with "today", which the sentence-final times
# leave out.
FRONTED_TIMES = [t for t in TIME_WORDS if t[0] not in FREQUENCY_ADVERBS] + [
    ("today", "今天", "present"), ("today", "今天", "past"), ("this afternoon", "今天下午", "future")]


class VariedGrammar(OpenGrammar):
    ADDED = ("fronted", "generic", "request", "modal_question")
    FRAMES = OpenGrammar.FRAMES + ADDED
    WEIGHTS = OpenGrammar.WEIGHTS + (3, 2, 2, 2)  # 14 % of all pairs

    def fronted(self):
        return self.action(fronted=FRONTED_TIMES)

    def generic(self):
        noun = self.pick(self.things + self.places)
        a = self._adjective_for(noun, gradable=True)
        if a is None:
            return self.describe()
        n_en, be = (noun.en, "is") if noun.pl is None else (noun.pl, "are")
        return self._graded("generic", n_en, noun.zh, be, a)

    def request(self):
        verb = self.pick(self.transitive)
        o_en, o_zh = self._object(verb)
        en, zh = self._builders("request")
        roll = self.g.rng.random()
        if roll < 0.5:
            en.add(f"please {verb.en}").add(o_en)
            zh.add(f"请{verb.zh}").add(o_zh)
        elif roll < 0.75:
            en.add(f"let us {verb.en}").add(o_en)
            zh.add(f"我们{verb.zh}").add(o_zh + "吧")
        else:
            en.add(f"let us {verb.en}").add(o_en).add("together")
            zh.add(f"我们一起{verb.zh}").add(o_zh + "吧")
        return en.build(), zh.build()

    def modal_question(self):
        verb = self.pick(self.transitive)
        who = self.pick(SUBJECT_PRONOUNS)
        o_en, o_zh = self._object(verb)
        en, zh = self._builders("modal_question")
        roll = self.g.rng.random()
        if roll < 0.4:
            en.add(f"can {who[0]} {verb.en}").add(o_en + "?")
            zh.add(f"{who[1]}能{verb.zh}").add(o_zh + "吗？")
        elif roll < 0.75:
            time = self.pick([t for t in FRONTED_TIMES if t[2] == "future"])
            en.add(f"will {who[0]} {verb.en}").add(o_en).add(time[0] + "?")
            zh.add(f"{who[1]}{time[1]}会{verb.zh}").add(o_zh + "吗？")
        else:
            en.add(f"should {who[0]} {verb.en}").add(o_en + "?")
            zh.add(f"{who[1]}应该{verb.zh}").add(o_zh + "吗？")
        return en.build(), zh.build()
