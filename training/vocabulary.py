"""The word lists of the generated grammar (training/grammar.py), in both languages.

Chinese nouns carry their classifier; English verbs their third-person and past forms. Each list
is drawn from with a Zipf distribution (ZIPF), so some words are frequent and some rare.
"""

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
