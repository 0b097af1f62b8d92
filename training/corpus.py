"""A seedable bilingual (Chinese / English) corpus generated from a small grammar.

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

import argparse
import bisect
import itertools
import random
from dataclasses import dataclass

# ---------------------------------------------------------------------------------------------
# Lexicon. Chinese nouns carry their classifier; English verbs their 3rd-person and past forms.

# (english, chinese, gender)
NAMES = [
    ("John", "约翰", "m"), ("Mary", "玛丽", "f"), ("Tom", "汤姆", "m"), ("Lucy", "露西", "f"),
    ("David", "大卫", "m"), ("Anna", "安娜", "f"), ("Peter", "彼得", "m"), ("Lily", "莉莉", "f"),
    ("Jack", "杰克", "m"), ("Emma", "艾玛", "f"), ("Mike", "迈克", "m"), ("Sarah", "莎拉", "f"),
    ("Paul", "保罗", "m"), ("Linda", "琳达", "f"), ("Bob", "鲍勃", "m"), ("Alice", "爱丽丝", "f"),
    ("Sam", "山姆", "m"), ("Kate", "凯特", "f"), ("Leo", "里奥", "m"), ("Nina", "妮娜", "f"),
    ("Xiaoming", "小明", "m"), ("Xiaohong", "小红", "f"), ("Lei", "李雷", "m"), ("Meimei", "韩梅梅", "f"),
]

# (singular, plural, chinese, classifier, gender)
PEOPLE = [
    ("boy", "boys", "男孩", "个", "m"), ("girl", "girls", "女孩", "个", "f"),
    ("man", "men", "男人", "个", "m"), ("woman", "women", "女人", "个", "f"),
    ("king", "kings", "国王", "个", "m"), ("queen", "queens", "王后", "个", "f"),
    ("father", "fathers", "父亲", "个", "m"), ("mother", "mothers", "母亲", "个", "f"),
    ("brother", "brothers", "哥哥", "个", "m"), ("sister", "sisters", "姐姐", "个", "f"),
    ("uncle", "uncles", "叔叔", "个", "m"), ("aunt", "aunts", "阿姨", "个", "f"),
    ("grandfather", "grandfathers", "爷爷", "个", "m"), ("grandmother", "grandmothers", "奶奶", "个", "f"),
    ("prince", "princes", "王子", "个", "m"), ("princess", "princesses", "公主", "个", "f"),
    ("son", "sons", "儿子", "个", "m"), ("daughter", "daughters", "女儿", "个", "f"),
]

ANIMALS = [
    ("cat", "cats", "猫", "只"), ("mouse", "mice", "老鼠", "只"), ("dog", "dogs", "狗", "只"),
    ("bird", "birds", "鸟", "只"), ("horse", "horses", "马", "匹"), ("rabbit", "rabbits", "兔子", "只"),
    ("fox", "foxes", "狐狸", "只"), ("tiger", "tigers", "老虎", "只"), ("duck", "ducks", "鸭子", "只"),
    ("monkey", "monkeys", "猴子", "只"), ("panda", "pandas", "熊猫", "只"), ("cow", "cows", "牛", "头"),
    ("goat", "goats", "山羊", "只"), ("pig", "pigs", "猪", "头"), ("frog", "frogs", "青蛙", "只"),
    ("snake", "snakes", "蛇", "条"), ("bear", "bears", "熊", "只"), ("lion", "lions", "狮子", "只"),
    ("elephant", "elephants", "大象", "头"), ("wolf", "wolves", "狼", "只"),
    ("turtle", "turtles", "乌龟", "只"), ("goose", "geese", "鹅", "只"), ("camel", "camels", "骆驼", "头"),
    ("giraffe", "giraffes", "长颈鹿", "只"), ("kangaroo", "kangaroos", "袋鼠", "只"), ("zebra", "zebras", "斑马", "匹"),
    ("squirrel", "squirrels", "松鼠", "只"), ("parrot", "parrots", "鹦鹉", "只"),
]

OBJECTS = [
    ("key", "keys", "钥匙", "把"), ("book", "books", "书", "本"), ("table", "tables", "桌子", "张"),
    ("cabinet", "cabinets", "柜子", "个"), ("box", "boxes", "盒子", "个"), ("cup", "cups", "杯子", "个"),
    ("pen", "pens", "笔", "支"), ("letter", "letters", "信", "封"), ("phone", "phones", "手机", "部"),
    ("car", "cars", "车", "辆"), ("chair", "chairs", "椅子", "把"), ("door", "doors", "门", "扇"),
    ("window", "windows", "窗户", "扇"), ("bag", "bags", "包", "个"), ("picture", "pictures", "画", "幅"),
    ("ball", "balls", "球", "个"), ("hat", "hats", "帽子", "顶"), ("coat", "coats", "外套", "件"),
    ("shoe", "shoes", "鞋", "只"), ("clock", "clocks", "钟", "个"), ("lamp", "lamps", "灯", "盏"),
    ("bed", "beds", "床", "张"), ("map", "maps", "地图", "张"), ("bottle", "bottles", "瓶子", "个"),
    ("umbrella", "umbrellas", "雨伞", "把"), ("bike", "bikes", "自行车", "辆"), ("computer", "computers", "电脑", "台"),
    ("camera", "cameras", "相机", "台"), ("basket", "baskets", "篮子", "个"), ("shirt", "shirts", "衬衫", "件"),
    ("plate", "plates", "盘子", "个"), ("bowl", "bowls", "碗", "个"), ("knife", "knives", "刀", "把"),
    ("spoon", "spoons", "勺子", "把"), ("toy", "toys", "玩具", "个"), ("desk", "desks", "书桌", "张"),
    ("sofa", "sofas", "沙发", "个"), ("mirror", "mirrors", "镜子", "面"), ("watch", "watches", "手表", "块"),
    ("ticket", "tickets", "票", "张"), ("notebook", "notebooks", "笔记本", "本"), ("guitar", "guitars", "吉他", "把"),
    ("candle", "candles", "蜡烛", "支"), ("pillow", "pillows", "枕头", "个"), ("wallet", "wallets", "钱包", "个"),
    ("kite", "kites", "风筝", "个"), ("blanket", "blankets", "毯子", "条"), ("towel", "towels", "毛巾", "条"),
    ("scarf", "scarves", "围巾", "条"), ("newspaper", "newspapers", "报纸", "份"), ("pencil", "pencils", "铅笔", "支"),
    ("boat", "boats", "船", "条"), ("piano", "pianos", "钢琴", "架"), ("vase", "vases", "花瓶", "个"),
]

# Things with a lock, for "the keys to the cabinet".
LOCKABLE = ["cabinet", "door", "car", "box", "house", "room", "garden", "office"]
EXTRA_LOCKABLE = [("house", "houses", "房子", "座"), ("room", "rooms", "房间", "个"),
                  ("garden", "gardens", "花园", "个"), ("office", "offices", "办公室", "个")]

# Surfaces a thing can lie on or near: (singular, plural, chinese)
FURNITURE = [("table", "tables", "桌子"), ("chair", "chairs", "椅子"), ("bed", "beds", "床"),
             ("desk", "desks", "书桌"), ("sofa", "sofas", "沙发"), ("box", "boxes", "盒子"),
             ("cabinet", "cabinets", "柜子"), ("shelf", "shelves", "架子")]

# (english plural or mass noun, chinese)
FOODS = [
    ("apples", "苹果"), ("bananas", "香蕉"), ("oranges", "橙子"), ("bread", "面包"), ("rice", "米饭"),
    ("noodles", "面条"), ("cake", "蛋糕"), ("grapes", "葡萄"), ("pears", "梨"), ("peaches", "桃子"),
    ("cookies", "饼干"), ("dumplings", "饺子"), ("eggs", "鸡蛋"), ("fish", "鱼肉"), ("chicken", "鸡肉"),
    ("strawberries", "草莓"), ("watermelon", "西瓜"), ("ice cream", "冰淇淋"), ("chocolate", "巧克力"),
    ("tomatoes", "西红柿"), ("potatoes", "土豆"), ("carrots", "胡萝卜"), ("soup", "汤"), ("cheese", "奶酪"),
    ("mangoes", "芒果"), ("lemons", "柠檬"), ("cherries", "樱桃"), ("pizza", "披萨"), ("sandwiches", "三明治"),
    ("beef", "牛肉"), ("tofu", "豆腐"), ("corn", "玉米"),
]

FIELDS = [
    ("machine learning", "机器学习"), ("music", "音乐"), ("math", "数学"), ("history", "历史"),
    ("physics", "物理"), ("art", "艺术"), ("football", "足球"), ("chess", "象棋"), ("poetry", "诗歌"),
    ("chemistry", "化学"), ("biology", "生物"), ("geography", "地理"), ("painting", "绘画"),
    ("dancing", "跳舞"), ("basketball", "篮球"), ("linguistics", "语言学"), ("statistics", "统计学"),
    ("deep learning", "深度学习"), ("computer science", "计算机科学"), ("philosophy", "哲学"),
    ("economics", "经济学"), ("astronomy", "天文学"), ("tennis", "网球"), ("swimming", "游泳"),
    ("photography", "摄影"), ("calligraphy", "书法"), ("literature", "文学"), ("cooking", "烹饪"),
]

# (english place with its preposition, chinese place)
PLACES = [
    ("in the park", "公园"), ("in the garden", "花园"), ("at the beach", "海边"), ("by the river", "河边"),
    ("in the forest", "森林"), ("on the playground", "操场"), ("at the lake", "湖边"), ("in the city", "城里"),
    ("on the mountain", "山上"), ("at the library", "图书馆"), ("in the village", "村子里"), ("at the zoo", "动物园"),
]

# Rooms and buildings where things are found: (english noun, chinese)
ROOMS = [("kitchen", "厨房"), ("school", "学校"), ("library", "图书馆"), ("market", "市场"),
         ("park", "公园"), ("garden", "花园"), ("office", "办公室"), ("classroom", "教室"),
         ("station", "车站"), ("hospital", "医院"), ("museum", "博物馆"), ("shop", "商店"),
         ("bank", "银行"), ("restaurant", "饭店"), ("airport", "机场"), ("hotel", "酒店"),
         ("cinema", "电影院"), ("bakery", "面包店")]

# (base, 3rd person singular, past, chinese, object kinds)
VERBS = [
    ("chase", "chases", "chased", "追", "animal"), ("see", "sees", "saw", "看见", "any"),
    ("find", "finds", "found", "找到", "object"), ("buy", "buys", "bought", "买", "object"),
    ("open", "opens", "opened", "打开", "object"), ("wash", "washes", "washed", "洗", "object"),
    ("draw", "draws", "drew", "画", "any"), ("feed", "feeds", "fed", "喂", "animal"),
    ("catch", "catches", "caught", "抓住", "animal"), ("follow", "follows", "followed", "跟着", "any"),
    ("help", "helps", "helped", "帮助", "person"), ("meet", "meets", "met", "遇见", "person"),
    ("need", "needs", "needed", "需要", "object"), ("lose", "loses", "lost", "丢", "object"),
    ("hold", "holds", "held", "拿着", "object"), ("sell", "sells", "sold", "卖", "object"),
    ("borrow", "borrows", "borrowed", "借", "object"), ("fix", "fixes", "fixed", "修理", "object"),
    ("move", "moves", "moved", "搬", "object"), ("throw", "throws", "threw", "扔", "object"),
    ("push", "pushes", "pushed", "推", "object"), ("pull", "pulls", "pulled", "拉", "object"),
    ("kick", "kicks", "kicked", "踢", "object"), ("hug", "hugs", "hugged", "拥抱", "person"),
    ("visit", "visits", "visited", "拜访", "person"), ("call", "calls", "called", "叫", "person"),
    ("watch", "watches", "watched", "看着", "any"), ("carry", "carries", "carried", "搬着", "object"),
    ("like", "likes", "liked", "喜欢", "none"),
]
VERBS = [v for v in VERBS if v[4] != "none"]  # "like" is kept for "like eating" only

# Verbs for relative clauses: "the keys that John lost" / "约翰丢的钥匙"
RC_VERBS = [("lost", "丢"), ("found", "找到"), ("bought", "买"), ("saw", "看见"), ("washed", "洗"),
            ("moved", "搬"), ("sold", "卖"), ("borrowed", "借"), ("fixed", "修理"), ("opened", "打开")]

# (english, chinese, needs 的 before a noun, noun kinds it fits)
ADJECTIVES = [
    ("big", "大", False, "any"), ("small", "小", False, "any"), ("new", "新", False, "object"),
    ("old", "旧", False, "object"), ("red", "红色", True, "object"), ("blue", "蓝色", True, "object"),
    ("green", "绿色", True, "object"), ("white", "白色", True, "object"), ("black", "黑色", True, "object"),
    ("yellow", "黄色", True, "object"), ("clean", "干净", True, "object"), ("dirty", "脏", True, "any"),
    ("heavy", "重", True, "object"), ("beautiful", "漂亮", True, "any"), ("cute", "可爱", True, "animal"),
    ("clever", "聪明", True, "being"), ("happy", "快乐", True, "being"), ("tall", "高", True, "being"),
    ("young", "年轻", True, "person"), ("kind", "善良", True, "person"), ("brave", "勇敢", True, "being"),
    ("lazy", "懒", True, "being"), ("fat", "胖", True, "being"), ("thin", "瘦", True, "being"),
    ("strong", "强壮", True, "being"), ("quiet", "安静", True, "being"), ("funny", "有趣", True, "any"),
    ("expensive", "贵", True, "object"), ("cheap", "便宜", True, "object"), ("soft", "软", True, "object"),
    ("hungry", "饿", True, "being"), ("busy", "忙", True, "person"), ("famous", "有名", True, "being"),
    ("friendly", "友好", True, "being"), ("gentle", "温柔", True, "being"), ("smart", "机灵", True, "being"),
    ("honest", "诚实", True, "person"), ("polite", "礼貌", True, "person"), ("shy", "害羞", True, "being"),
    ("angry", "生气", True, "being"), ("tired", "累", True, "being"), ("wet", "湿", True, "object"),
    ("modern", "现代", True, "object"), ("useful", "有用", True, "object"),
]

# Time expressions: (english, chinese, tense)
TIMES = [
    ("every day", "每天", "present"), ("every morning", "每天早上", "present"),
    ("every evening", "每天晚上", "present"), ("on weekends", "周末", "present"),
    ("yesterday", "昨天", "past"), ("last week", "上周", "past"), ("this morning", "今天早上", "past"),
    ("last night", "昨天晚上", "past"), ("tomorrow", "明天", "future"), ("next week", "下周", "future"),
    ("tonight", "今天晚上", "future"),
]

# Pronoun subjects: (english, chinese, person-number, gender)
PRONOUNS = [("I", "我", "1s", ""), ("you", "你", "2", ""), ("he", "他", "3s", "m"), ("she", "她", "3s", "f"),
            ("we", "我们", "1p", ""), ("they", "他们", "3p", "")]

# Weather clauses and walks, for "今天天气真好，我想去公园散步".
WEATHER = [("the weather is really nice", "天气真好"), ("the sun is shining", "阳光很好"),
           ("it is very warm", "天气很暖和"), ("the sky is very clear", "天空很晴朗")]
WEATHER_TIMES = [("today", "今天"), ("this morning", "今天早上"), ("this afternoon", "今天下午"),
                 ("this evening", "今天晚上")]
OUTINGS = [("for a walk", "散步"), ("running", "跑步"), ("swimming", "游泳"), ("cycling", "骑车"),
           ("for a picnic", "野餐"), ("fishing", "钓鱼"), ("drawing", "画画"), ("reading", "看书")]

# Exponent of the Zipf distribution over each word list (1.0 would be Zipf's law proper; a
# little flatter keeps rare words frequent enough to learn).
ZIPF = 0.8

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


def pairs(n: int, seed: int = 0) -> list[Pair]:
    """n parallel sentence pairs, the same for the same seed.

    One-to-one across the whole list (a sentence always has the same translation), and never a
    sentence of the held-out natural set that `python -m training.evaluate` measures.
    """
    # Imported here: models.lexicon builds on this module's types.
    from training import lexicon

    grammar = Grammar(seed)
    open_grammar = lexicon.OpenGrammar(grammar)
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
