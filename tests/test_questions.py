"""The question scorer, the tracker and the engine hook.

Every example here is invented for the test; the labelled evaluation file is
only read by path (see ``test_dev_set_quality``).
"""

from __future__ import annotations

import importlib.util
import json
import random
import sys
from pathlib import Path
from types import ModuleType

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from console.core.clock import ManualClock
from console.core.engine import Engine
from console.core.events import Comment, Order, OrderInfo, Product, ProductInfo, User
from console.core.notes import encode_note
from console.core.questions import (
    SPAM_AD,
    SPAM_BANNED,
    SPAM_CONTACT,
    SPAM_REPEAT,
    SPAM_URL,
    STOP,
    Meta,
    QuestionConfig,
    QuestionNote,
    QuestionScorer,
    QuestionTracker,
    analyze,
    attach,
    expand,
    normalize,
    trie_regex,
)

ROOT = Path(__file__).resolve().parents[1]
DEV_SET = ROOT.parent / "shared" / "data" / "questions-dev.tsv"


# ---------------------------------------------------------------- intents


@pytest.mark.parametrize(
    ("text", "intent"),
    [
        # price
        ("这个卫衣多少钱", "price"),
        ("到手价是多少啊", "price"),
        ("两件一起能便宜点吗", "price"),
        ("昨天才99今天怎么涨价了", "price"),
        # promo
        ("福袋几点开", "promo"),
        ("优惠券在哪里领", "promo"),
        ("拍两件有赠品吗", "promo"),
        ("今天有没有满减活动", "promo"),
        # link / stock
        ("几号链接", "link_stock"),
        ("上链接上链接", "link_stock"),
        ("姐妹们链接在哪", "link_stock"),
        ("米色的还有货吗", "link_stock"),
        ("啥时候补货", "link_stock"),
        # spec
        ("160斤穿什么码", "spec"),
        ("这件大衣是羊毛的吗", "spec"),
        ("面料起球吗", "spec"),
        ("一盒有几片", "spec"),
        ("厚不厚", "spec"),
        ("这两款有什么区别", "spec"),
        # usage
        ("这个精华怎么用", "usage"),
        ("孕妇可以用吗", "usage"),
        ("能机洗吗", "usage"),
        ("这套绘本适合几岁的宝宝", "usage"),
        # shipping
        ("一般发什么快递", "shipping"),
        ("偏远地区包邮吗", "shipping"),
        ("下单后几天能到", "shipping"),
        ("拍了五天了还没发货", "shipping"),
        ("麻烦帮我改一下地址", "shipping"),
        # after-sales
        ("收到的碗碎了一个怎么办", "after_sales"),
        ("尺码不合适能退吗", "after_sales"),
        ("少发了一个配件", "after_sales"),
        ("申请退款好几天了没人处理", "after_sales"),
        ("到手发现和图片上颜色不一样", "after_sales"),
    ],
)
def test_intents(text: str, intent: str) -> None:
    a = analyze(text)
    assert a.flag, (text, a)
    assert a.intent == intent, (text, a)
    assert 0.5 <= a.score <= 1.0


@pytest.mark.parametrize(
    "text",
    [
        # the hard negatives of the issue, and more in the same spirit
        "没多少",
        "借点钱",
        "请问主播多少岁了",
        "大哥们20级要多少抖币",
        "还差多少票",
        "你今年多大了",
        "我钱包空了[捂脸]",
        "每天赚几块钱而已",
        "榜一多少音浪了",
        "能把主播挂小黄车吗哈哈",
        "主播本人多少钱",
        "你要买车吗",
        "这首歌叫什么",
        "主播今晚几点下播",
        "主播明天几点开播呀",
        "今天穿得真好看",
        # commerce words in statements
        "我已经拍了",
        "上次买的很好用",
        "优惠券领到了谢谢",
        "快递小哥辛苦了",
        "我福袋又没抢到",
        "这件衣服颜色真好看",
        "好评好评",
        # negation: not a request
        "不要链接了直接讲",
        "不贵不贵",
        # chit-chat questions with no purchase topic
        "你那边下雨了吗",
        "你吃饭了没",
        "[捂脸][捂脸]",
        "",
        "   ",
    ],
)
def test_not_questions(text: str) -> None:
    a = analyze(text)
    assert not a.flag, (text, a)


@pytest.mark.parametrize(
    "text",
    [
        "有链接不姐姐",  # 不 before a vocative
        "你这凉鞋几码的，看着挺小",
        "链接呢",
        "尺码",  # a bare term is a question in chat
        "包邮？",
        "求返场",
        "给大家来个福袋吧",
        "6号宝贝讲一下",
    ],
)
def test_implicit_questions_and_requests(text: str) -> None:
    assert analyze(text).flag, text


def test_traditional_fullwidth_emoji_repeats() -> None:
    assert analyze("運費多少").intent == "shipping"
    assert analyze("幾號鏈接").intent == "link_stock"
    assert analyze("這個顏色還有貨嗎").flag
    assert analyze("ＸＬ碼有貨嗎？").flag
    assert analyze("多少钱[捂脸][捂脸]").intent == "price"
    assert analyze("包邮吗？？？？？").flag
    assert analyze("哈哈哈哈哈哈哈链接呢").flag
    assert not analyze("哈哈哈哈哈哈哈哈哈").flag
    # normalisation itself
    assert normalize("ＸＬ碼？？？") == "xl码?"
    assert normalize("哈哈哈哈哈好") == "哈好"
    assert normalize("[捂脸]運費") == "运费"
    assert normalize("天天快递") == "天天快递"  # doubles stay
    assert normalize("165 120斤") == "165,120斤"  # numbers do not run together


def test_typos_and_slang() -> None:
    assert analyze("上连接").intent == "link_stock"
    assert analyze("神马时候发货").intent == "shipping"
    assert analyze("有木有优惠").flag
    assert analyze("领了10元卷能用吗").intent == "promo"


def test_text_decision_ignores_context() -> None:
    scorer = QuestionScorer()
    a = scorer.analyze("这件外套多少钱")
    vip = User(id="u1", name="大客户", fan_level=20, pay_level=40, is_new=True)
    pin = ProductInfo(id="p1", event="pin", title="羊毛外套")
    s = scorer.score(a, vip, ordered=True, on_air=pin, asked_by=30)
    assert s.analysis.flag == a.flag and s.analysis.intent == a.intent
    assert 0.0 <= s.score <= 1.0


def test_context_raises_the_score() -> None:
    scorer = QuestionScorer()
    a = scorer.analyze("身高165穿什么码")
    plain = scorer.score(a).score
    fan = scorer.score(a, User(id="u", fan_level=12))
    assert fan.score > plain
    assert "fan lv 12" in fan.reasons
    coat = ProductInfo(id="c1", event="pin", title="双面羊绒大衣")
    snack = ProductInfo(id="s1", event="pin", title="香辣牛肉干")
    on_coat = scorer.score(a, on_air=coat)
    on_snack = scorer.score(a, on_air=snack)
    assert on_coat.score > on_snack.score >= plain
    assert any(r.startswith("on air") for r in on_coat.reasons)
    ordered = scorer.score(scorer.analyze("什么时候发货"), ordered=True)
    assert "ordered" in ordered.reasons
    assert scorer.score(a, asked_by=7).score > plain
    reasons = scorer.score(a, User(id="u", fan_level=12), asked_by=7).reasons
    assert reasons[:2] == ("spec", "尺码")
    assert " · ".join(reasons) == "spec · 尺码 · fan lv 12 · asked by 7"


def test_config_threshold_and_keywords() -> None:
    strict = QuestionScorer(QuestionConfig(threshold=0.95))
    assert not strict.analyze("一般发什么快递").flag
    assert analyze("一般发什么快递").flag
    # a product's own word counts once configured
    plain = QuestionScorer()
    tuned = QuestionScorer(QuestionConfig(extra_keywords={"spec": ["针脚"]}))
    assert not plain.analyze("针脚密吗").flag or plain.analyze("针脚密吗").intent != "spec"
    assert tuned.analyze("针脚密吗").intent == "spec"
    with pytest.raises(ValueError, match="unknown intent"):
        QuestionScorer(QuestionConfig(extra_keywords={"weather": ["下雨"]}))
    pk = QuestionScorer(QuestionConfig(product_keywords={"p9": ["真丝睡衣"]}))
    a = pk.analyze("真丝睡衣几码")
    on = pk.score(a, on_air=ProductInfo(id="p9", event="pin", title="睡衣"))
    off = pk.score(a, on_air=ProductInfo(id="p8", event="pin", title="保温杯"))
    assert on.score > off.score


# ---------------------------------------------------------------- generalisation


@pytest.mark.parametrize(
    ("text", "intent"),
    [
        # attributes named by their form, not a fixed word list
        ("这条连衣裙胸围多少", "spec"),
        ("保温壶内径多大", "spec"),
        ("羽绒被充绒量是多少", "spec"),
        ("登山鞋耐磨吗", "spec"),
        ("这个伞防风不", "spec"),
        ("有没有薄一点的", "spec"),
        ("有亲子款吗", "spec"),
        ("是鹅绒还是鸭绒的", "spec"),
        ("是ykk拉链吗", "spec"),
        ("空气炸锅几升的", "spec"),
        ("支持无线充吗", "spec"),
        # a named product and an explicit question
        ("投影仪白天看得清吗", "spec"),
        ("猫砂盆有盖子吗", "spec"),
        ("这款台灯护眼吗", "spec"),
        # uses
        ("砂锅能上电磁炉吗", "usage"),
        ("开封以后要放冰箱吗", "usage"),
        ("扫地机器人怎么设置", "usage"),
        ("买来送长辈合适吗", "usage"),
        # shop chat: statements that need the seller
        ("热水袋收到就是漏的", "after_sales"),
        ("榨汁机用了两次就不转了", "after_sales"),
        ("实物和详情页颜色不一样", "after_sales"),
        ("坚果礼盒到了但是少了一罐", "after_sales"),
        ("退款只退了一半", "after_sales"),
        ("单号查不到", "shipping"),
        ("快递被送到隔壁小区了", "shipping"),
        ("下单一个礼拜了还没动静", "shipping"),
        ("能给我留一件吗 晚上发工资", "link_stock"),
        ("最低多少能卖", "price"),
        ("洗碗机能开专票吗", "after_sales"),
    ],
)
def test_generalises_across_categories(text: str, intent: str) -> None:
    a = analyze(text)
    assert a.flag, (text, a)
    assert a.intent == intent, (text, a)


@pytest.mark.parametrize(
    "text",
    [
        # cheering is not a spec question (支持 used to be a strong term)
        "支持主播",
        "支持支持",
        "永远支持你",
        "支持一下 加油",
        # praise of a past purchase, even with question marks
        "买过 质量不错",
        "买过 质量不错??",
        "质量不错??",
        "上次买的面霜很好用",
        # questions about the host's own life and body
        "主播你多高啊",
        "你平时穿多大码的鞋",
        "你家狗是什么品种",
        "你用的什么手机直播",
        # platform talk, gifts, weather, the host's business
        "21级需要多少抖币",
        "谁送的墨镜 感谢",
        "你们那边冷不冷",
        "今天外面多少度",
        "一个月能卖多少单",
        "直播间打不开了",
        # closing a conversation, done deeds
        "退款收到了 谢谢亲",
        "已签收 辛苦了",
        "链接我已经发给闺蜜了",
        # everyday words that contain commerce words
        "两口子又吵架了",
        "今天还是那么困",
        "我家娃有没有机会上台",
        "主播怎么又换衣服了",
        "一起看电视吗",
    ],
)
def test_hard_negatives(text: str) -> None:
    a = analyze(text)
    assert not a.flag, (text, a)


@pytest.mark.parametrize(
    "text",
    [
        # viewers asking each other, not the room
        "楼下的宝子买的什么颜色",
        "有谁用过这个洗脸巾吗",
        "吃过的家人说说咸不咸",
        "懂羊绒的姐妹来说一下",
        # what the viewer cannot afford is not a haggle
        "太贵了吧 真买不起",
        # 坏 meaning "very", a defect that did not happen
        "今天真是累坏了",
        "鞋子穿了半年都没开胶",
        # the viewer's own pay day, putting it off, a message for someone else
        "工资还没发呢",
        "等我试穿了再说",
        "抱歉发错人了",
        # the parcel is already there
        "等了好几天快递终于到了",
        # no matter how: said about the goods, asked of nobody
        "这锅怎么刷都不粘",
        # a reply to another viewer, a matter settled
        "@阿花 你那双多少码",
        "谢谢客服 补发的已经收到了",
    ],
)
def test_statements_and_asides_are_not_flagged(text: str) -> None:
    assert not analyze(text).flag, analyze(text)


@pytest.mark.parametrize(
    ("text", "intent"),
    [
        ("一直下单不了", "link_stock"),
        ("拍不上啊一直转圈", "link_stock"),
        ("下周再发吧 这几天出差", "shipping"),
        ("收货电话填错了", "shipping"),
        ("围巾洗一次就掉毛了", "after_sales"),
        ("多肉到了烂根了 包活吗", "after_sales"),
        ("20款的车能装不", "spec"),
        ("黑色没了？", "link_stock"),
        ("能发新疆吗", "shipping"),
        ("收到的围巾上有个小洞", "after_sales"),
        # the size the host wears is a sizing reference, not her private life
        ("主播多高多重 穿的什么码", "spec"),
    ],
)
def test_statements_that_need_the_seller(text: str, intent: str) -> None:
    a = analyze(text)
    assert a.flag and a.intent == intent, a


def test_memo_returns_the_same_analysis_and_stays_bounded() -> None:
    scorer = QuestionScorer(memo=4)
    first = scorer.analyze("几号链接")
    assert scorer.analyze("几号链接") is first  # a repeat is one lookup
    for i in range(10):
        scorer.analyze(f"第{i}条")
    assert len(scorer._memo) <= 4
    assert scorer.analyze("几号链接") == first  # recomputed after eviction, same answer
    assert QuestionScorer(memo=0).analyze("几号链接") == first


def test_support_is_only_a_spec_term_with_a_feature() -> None:
    assert analyze("支持快充吗").intent == "spec"
    assert analyze("支持快充吗").flag
    assert analyze("这款支不支持nfc").flag
    assert not analyze("一直支持主播").flag


def test_a_product_named_needs_an_explicit_question() -> None:
    assert analyze("这个保温杯能装热水吗").flag
    assert not analyze("保温杯??").flag  # names a product, asks nothing in words
    assert not analyze("买个新耳机吧").flag  # a suggestion, not a question
    assert analyze("耳机有没有麦").flag


def test_spelling_variants() -> None:
    assert analyze("肿么卖").intent == "price"
    assert analyze("介个多少钱").intent == "price"
    assert analyze("有木有赠品").intent == "promo"
    assert analyze("能机洗嘛").intent == "usage"
    assert analyze("莲接发一下").intent == "link_stock"


def test_lexicon_scan_and_extension() -> None:
    from console.core.questions import Lexicon

    meta = ("l", "spec", 1.0, 0)
    lex = Lexicon({"多少": meta, "多少钱": meta, "钱": meta, "码": meta})
    assert lex.scan("这个多少钱几码") == ["多少钱", "码"]
    assert lex.scan("没有") == []
    wider = lex.extended({"钱包": meta})
    assert wider.scan("钱包多少钱") == ["钱包", "多少钱"]
    assert lex.scan("钱包") == ["钱"]  # the base is untouched
    assert Lexicon({}).scan("多少钱") == []


@pytest.mark.parametrize(
    ("text", "intent"),
    [
        ("这款抱枕吸汗吗", "spec"),  # a yes/no question about the thing on show, no term for it
        ("我家狗能吃这个吗", "usage"),
        ("白色会不会显脏", "spec"),
        ("羊毛的会不会扎", "spec"),
        ("我下单的是蓝色 寄来的是粉色", "after_sales"),  # the wrong item
        ("有13mini的膜吗", "link_stock"),  # a model in stock
        ("付款失败 怎么回事", "link_stock"),  # cannot pay is cannot buy
        ("优惠券领不到", "promo"),
        ("福袋是什么呀", "promo"),
        ("手机号填错了 尾号应该是3", "shipping"),  # holds the exception 号码
        ("寄来的是黑色 我买的白色", "after_sales"),  # the wrong item, the other way round
        ("不要放丰巢 直接送上门", "shipping"),
        ("到广州一般要几天", "shipping"),
        ("积分可以抵现金吗", "promo"),
        ("会员价是多少", "price"),
        ("汤里吃出一根头发", "after_sales"),
        ("这个杯子会发黄吗", "spec"),
        ("灰色的没了吗", "link_stock"),
        ("鞋跟有点脱胶 才穿一周", "after_sales"),
        ("寄到的螃蟹死了好几个", "after_sales"),
        ("直播间说99 怎么这里是129", "price"),
        ("麻烦开发票 公司报销", "after_sales"),
        ("这个虾几头的", "spec"),
        ("一米二的床垫有吗", "link_stock"),
        ("要下单才能抽福袋吗", "promo"),
        ("米白和燕麦色哪个更显白", "spec"),
        ("蓝牙耳机支持安卓吗", "spec"),
        ("驱动在哪下载", "usage"),
        ("平底锅用了三次就粘锅了", "after_sales"),
        ("人不在家 先别派送", "shipping"),
        ("昨天还是199今天怎么239了", "price"),
        ("说好送的小样呢", "promo"),
        ("手机开机一直重启", "after_sales"),
        ("要开专票 税号我发你", "after_sales"),
        ("下午拍几点能发", "shipping"),
        ("玩游戏卡不卡", "spec"),
    ],
)
def test_round_four_asks_are_flagged(text: str, intent: str) -> None:
    a = analyze(text)
    assert a.flag, a
    assert a.intent == intent


@pytest.mark.parametrize(
    "text",
    [
        "一点没压坏 包装很用心",  # a defect that did not happen
        "饼干很酥 一点都没有哈喇味",
        "外盒压扁了一点 里面没事",  # reported, and fine
        "你们客服几点下班呀",  # the agent, not a problem
        "客服小哥吃饭了没",
        "这个是上次唱的那个吗",  # identity with something remembered, not the goods
        "这个人怎么老刷屏",
        "村里年轻人多吗",  # people in general, not a venue
        "主播讲讲你当年的故事",  # the host's story, not the product
        "直播能养活自己吗",
        "我再研究研究成分表",  # reading it, not asking for it
        "广东的老乡有吗",  # looking for fellow viewers
        "这价格真的没谁了",  # praise of the price
        "主播能连个麦吗",  # co-streaming is the platform
        "不用开发票 谢谢",
        "拍了三箱 给我爸妈寄回家",  # sending it home is not a return
        "这是在云南还是贵州",  # where the stream is, not a choice of goods
        "以旧换新这个活动挺好的",
        "主播没声音了?",  # the stream, not a product
    ],
)
def test_round_four_non_asks_are_not_flagged(text: str) -> None:
    assert not analyze(text).flag, analyze(text)


@pytest.mark.parametrize(
    ("text", "intent"),
    [
        ("发西藏不", "shipping"),  # a remote region asked with a bare 不
        ("福袋开奖了没", "promo"),
        ("红包雨什么时候", "promo"),
        ("小样能免费领吗", "promo"),
        ("店铺券用不了 一直转圈", "promo"),  # the longer 店铺券 no longer hides the complaint
        ("领了券下单没抵扣", "promo"),
        ("点付款说下单失败", "link_stock"),
        ("这款还会再出吗", "link_stock"),
        ("今天几点截单呀", "shipping"),
        ("师傅什么时候上门", "shipping"),
        ("那黄色的呢", "spec"),  # a follow-up on another variant
        ("那xl呢", "spec"),
        ("那L呢", "spec"),  # no term at all: the follow-up alone asks
        ("那110的呢", "spec"),
        ("能给我换一个新的吗", "after_sales"),
        ("用了三天就不充电了", "after_sales"),
        ("能不能指定日期送", "shipping"),
        ("台灯有没有频闪", "spec"),
        ("是变频的吗", "spec"),
        ("会员还有折扣吗", "price"),
        ("新一级和旧一级差在哪", "spec"),  # an energy grade, not a fan-club level
        ("冰箱冷藏不凉", "after_sales"),
        ("收到侧面有个凹坑", "after_sales"),
    ],
)
def test_round_five_asks_are_flagged(text: str, intent: str) -> None:
    a = analyze(text)
    assert a.flag, a
    assert a.intent == intent


@pytest.mark.parametrize(
    "text",
    [
        "这路也太烂了",  # the road on a trucker's stream
        "今天大潮吗 晚上去赶海",
        "柴油现在多少一升",  # fuel, not a price of the goods
        "钱包瘪了[捂脸]",
        "信用卡还没还呢",
        "不好意思 发错了",  # a stray message
        "免费领取流量卡 看头像",  # an ad, not a promo question
        "安装师傅很专业",
        "那你呢",  # a follow-up, but not about a variant
        "能不能换首歌",  # the host's song, not an exchange
        "能不能换个背景",
    ],
)
def test_round_five_non_asks_are_not_flagged(text: str) -> None:
    assert not analyze(text).flag, analyze(text)


@pytest.mark.parametrize(
    ("text", "intent"),
    [
        # where a thing seen on stream was bought asks for it (v2 guide); where the
        # viewer or others bought theirs does not
        ("雨靴哪买的", "link_stock"),
        ("主播这外套在哪买的 我也想要", "link_stock"),
        ("姐姐你背后那个小夜灯好好看 哪买的", "link_stock"),
        ("你在哪买的", None),
        ("同事都问我耳机哪买的", None),
        ("楼上在哪买的", None),
        # bare shop-chat asks
        ("胶带切割器咋装", "usage"),
        ("我家三口人够用吗", "spec"),
        ("几色的", "spec"),
        ("M会不会小", "spec"),
        ("笔芯是0.5还是0.38", "spec"),
        ("批号是多少的", "spec"),
        ("能冷泡吗", "usage"),
        ("兑多少水", "usage"),
        ("早晚都要用吗", "usage"),
        ("有没有试吃装", "link_stock"),
        ("现在买和618买差多少", "price"),
        ("显示不满足使用条件 可是我满了199啊", "promo"),
        ("笔尖有点刮纸 正常吗", "after_sales"),
        ("收纳箱比我想的小好多", "after_sales"),
        ("你们尽快处理啊", "after_sales"),
        # a price claimed to the seller with its figure is a haggle or a complaint
        ("店铺券就3块啊", "promo"),
        ("我同事买说每盒45元", "price"),
        ("两件一起付款89元多呀", "price"),
        ("中了个福袋 100抖币 哈哈", None),
        ("借我200块 下月还", None),
        # the show, the world and the other viewers
        ("现在手机都好贵", None),
        ("今天多少斤了", None),
        ("对面好多大哥", None),
        ("稳住 别拉断了", None),
        ("捡漏了哈哈", None),
        ("海水冷不冷", None),
        ("湖南的有吗", None),
        ("有人一起拼单吗", None),
        ("背景音乐是白噪音吗", None),
        ("划痕都看不出来", None),
        ("前50名牌子会变颜色吗", None),  # the fan badge
        ("这个牌子的质量好吗", "spec"),
        ("喝几泡了", None),
        ("用完再来买", None),
    ],
)
def test_round_six(text: str, intent: str | None) -> None:
    a = analyze(text)
    assert a.flag is (intent is not None), a
    if intent is not None:
        assert a.intent == intent


def test_an_exception_wins_over_a_term_that_overlaps_it() -> None:
    from console.core.questions import Lexicon

    term, stop = ("发货", "shipping", 1.0, 0), ("", "", 0.0, STOP)
    lex = Lexicon({"下周发": term, "发工资": stop, "再来": term, "工资单": term})
    # leftmost-longest alone would keep 下周发 and lose the exception
    assert lex.scan("下周发工资再来买") == ["发工资", "再来"]
    assert lex.scan("下周发货") == ["下周发"]
    assert lex.scan("发工资单") == ["发工资"]  # so does a term that overlaps its end
    # a term that holds the whole exception is the longer reading
    held = Lexicon({"号码": stop, "电话号码填错": term})
    assert held.scan("电话号码填错了") == ["电话号码填错"]
    assert held.scan("号码多少") == ["号码"]
    # through the scorer: the pay day, not a delivery date
    assert not analyze("下周发工资再来买").flag
    assert analyze("下周发货吗").flag


# ---------------------------------------------------------------- building blocks


def test_expand() -> None:
    assert sorted(expand("ab|c(d|e)f?")) == ["ab", "cd", "cdf", "ce", "cef"]
    assert sorted(expand("[xy]z")) == ["xz", "yz"]
    assert expand(r"a\?") == ["a?"]
    with pytest.raises(ValueError):
        expand("(ab")
    with pytest.raises(ValueError):
        expand("ab)")
    # regex syntax the tiny language lacks is refused, not read as literals
    for spec in ("到[^,]要", "到.{0,4}要", "a+", "a*"):
        with pytest.raises(ValueError):
            expand(spec)


def test_trie_is_leftmost_longest() -> None:
    rx = trie_regex(["多少", "多少钱", "钱", "少钱包"])
    assert rx.findall("这个多少钱") == ["多少钱"]
    assert rx.findall("多少") == ["多少"]
    assert trie_regex([]).findall("anything") == []


def _naive_leftmost_longest(words: set[str], text: str) -> list[tuple[int, str]]:
    out, pos, longest = [], 0, max(map(len, words))
    while pos < len(text):
        for n in range(min(longest, len(text) - pos), 0, -1):
            if text[pos : pos + n] in words:
                out.append((pos, text[pos : pos + n]))
                pos += n
                break
        else:
            pos += 1
    return out


def _naive_scan(table: dict[str, Meta], text: str) -> list[str]:
    """Exceptions first, leftmost-longest, unless a longer term holds one whole;
    then the terms that do not touch them."""
    stops = {w for w, meta in table.items() if meta[3] & STOP}
    longest = max(map(len, table))
    held = [
        (i, n)
        for i in range(len(text))
        for n in range(1, min(longest, len(text) - i) + 1)
        if text[i : i + n] in table and text[i : i + n] not in stops
    ]
    kept = [
        (pos, word)
        for pos, word in _naive_leftmost_longest(stops, text)
        if not any(i <= pos and pos + len(word) <= i + n and n > len(word) for i, n in held)
    ]
    masked = list(text)
    for pos, word in kept:
        masked[pos : pos + len(word)] = "\0" * len(word)
    terms = _naive_leftmost_longest(set(table) - stops, "".join(masked))
    return [word for _, word in sorted(kept + terms)]


_PIECES = [
    *"我的是要有哈不,",
    "链接",
    "多少钱",
    "几号",
    "尺码",
    "我要",
    "的吗",
    "退款",
    "没有",
    "发工资",
    "下周",
    "哪买的",
    "多大了",
]


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(_PIECES), max_size=12).map("".join))
def test_lexicon_scan_equals_a_naive_scan(text: str) -> None:
    # the automaton reports every literal; picking among them must match the
    # plain definition, exceptions included
    lex = QuestionScorer()._lex
    assert lex.scan(text) == _naive_scan(lex.table, text)


_ASK_PIECES = [*_PIECES, "这个", "主播", "吗", "?", "亲", "谢谢", "12345678901", "穿", "好看", "衣服", "不要"]


@settings(max_examples=400, deadline=None)
@given(st.lists(st.sampled_from(_ASK_PIECES), max_size=10).map("".join))
def test_the_weak_topic_shortcut_never_changes_a_flag(text: str) -> None:
    # below the shortcut's reach (threshold 0.3) every comment takes the full path
    full = QuestionScorer(QuestionConfig(threshold=0.3), memo=0).analyze(text)
    assert QuestionScorer(memo=0).analyze(text).flag == (full.score >= 0.5)


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=60))
def test_never_raises_and_stays_in_range(text: str) -> None:
    a = analyze(text)
    assert 0.0 <= a.score <= 1.0
    assert a.flag == (a.score >= 0.5)
    assert (a.intent is None) or a.intent in {
        "price",
        "promo",
        "link_stock",
        "spec",
        "usage",
        "shipping",
        "after_sales",
    }
    assert analyze(text) == a  # deterministic


# ---------------------------------------------------------------- tracker


def _chatter(rng: random.Random, n: int) -> list[str]:
    parts = ["主播", "今天", "好看", "哈哈", "来了", "晚上好", "666", "加油", "我也是", "真的假的"]
    return ["".join(rng.sample(parts, 3)) for _ in range(n)]


def test_flood_becomes_one_card_updated_in_place() -> None:
    rng = random.Random(3)
    tracker = QuestionTracker()
    question = "几号链接啊"
    texts = _chatter(rng, 1800) + [question] * 200
    rng.shuffle(texts)
    hits = []
    for i, text in enumerate(texts):
        hit = tracker.observe(f"e{i}", text, 1000.0 + i * 0.05, User(id=f"u{i}", name=f"观众{i}"))
        if hit is not None and hit.card.key == "link_stock:链接":
            hits.append(hit)
    cards = [c for c in tracker.cards.values() if c.intent == "link_stock"]
    assert len(cards) == 1
    card = cards[0]
    assert card.count == 200 and card.users == 200
    assert all(h.card is card for h in hits)  # the same object, updated in place
    assert [h.card.count for h in hits][-1] == 200
    last_asker = max(i for i, t in enumerate(texts) if t == question)
    assert len(card.askers) == 5 and card.askers[-1] == f"观众{last_asker}"
    assert card.last_event_id == f"e{last_asker}"
    # the flood raised the card's priority above a single ask
    assert card.score > hits[0].scored.score * 0.99
    assert tracker.queue()[0] is card


def test_bigger_floods_rank_higher_and_scores_never_saturate() -> None:
    """Two strong questions both flooding: ×200 stays above ×50 even when ×50 is newer."""
    tracker = QuestionTracker()
    t = 1000.0
    for i in range(200):
        tracker.observe(f"a{i}", "几号链接", t, User(id=f"a{i}", name=f"甲{i}", fan_level=20))
        t += 0.01
    for i in range(50):
        tracker.observe(f"b{i}", "什么时候发货", t, User(id=f"b{i}", name=f"乙{i}", fan_level=20))
        t += 0.01
    big, small = tracker.cards["link_stock:链接"], tracker.cards["shipping:发货"]
    assert small.last_ts > big.last_ts
    assert small.score < big.score < 1.0
    assert tracker.queue()[:2] == [big, small]


def test_variants_share_a_card_and_latest_askers_are_kept() -> None:
    tracker = QuestionTracker()
    for i, text in enumerate(["几号链接", "链接在哪", "求链接！！", "上链接", "链接呢"]):
        tracker.observe(str(i), text, 10.0 + i, User(id=f"u{i}", name=f"n{i}"))
    (card,) = tracker.cards.values()
    assert card.count == 5
    assert card.askers == ["n0", "n1", "n2", "n3", "n4"]
    tracker.observe("5", "链接链接", 20.0, User(id="u9", name="n9"))
    assert card.askers == ["n1", "n2", "n3", "n4", "n9"]


def test_cards_expire_and_are_bounded() -> None:
    tracker = QuestionTracker(QuestionConfig(window=60.0, max_cards=3))
    tracker.observe("a", "一般发什么快递", 0.0)
    tracker.observe("b", "多少钱", 10.0)
    assert len(tracker.cards) == 2
    tracker.observe("c", "有赠品吗", 65.0)  # the first card is now older than the window
    assert set(tracker.cards) == {"price:价格", "promo:赠品"}
    tracker.observe("d", "几号链接", 66.0)
    tracker.observe("e", "怎么用", 67.0)
    assert len(tracker.cards) == 3
    assert "price:价格" not in tracker.cards  # the stalest went first
    for i in range(2000):
        tracker.observe(f"x{i}", f"{i}号链接", 70.0 + i * 0.01, User(id=f"v{i}"))
    assert len(tracker.cards) <= 3
    assert len(tracker._last_text) <= tracker.config.max_users


def test_spam_is_kept_out_and_counted() -> None:
    tracker = QuestionTracker(QuestionConfig(banned_words=["垃圾货"]))
    u = User(id="spammer", name="s")
    assert tracker.observe("1", "多少钱", 1.0, u) is not None
    assert tracker.observe("2", "多少钱", 2.0, u) is None  # same text, same user
    assert tracker.observe("3", "多少钱", 200.0, u) is not None  # after the repeat window
    assert tracker.observe("4", "多少钱", 201.0, User(id="other")) is not None  # others may ask
    assert tracker.observe("5", "加微信abc123领优惠券", 3.0) is None
    assert tracker.observe("6", "链接在这 http://x.cn/a", 4.0) is None
    assert tracker.observe("7", "打13912345678问运费", 5.0) is None
    assert tracker.observe("8", "招代理日结包邮吗", 6.0) is None
    assert tracker.observe("9", "这垃圾货多少钱", 7.0) is None
    assert tracker.excluded == {
        SPAM_REPEAT: 1,
        SPAM_CONTACT: 2,
        SPAM_URL: 1,
        SPAM_AD: 1,
        SPAM_BANNED: 1,
    }
    assert tracker.cards["price:价格"].count == 3
    # contacts can be allowed
    lax = QuestionTracker(QuestionConfig(block_contacts=False))
    assert lax.observe("1", "微信付款可以吗", 1.0) is not None


def test_product_and_order_context_in_tracker() -> None:
    tracker = QuestionTracker()
    tracker.handle(Product(id="p", ts=1.0, product=ProductInfo(id="c9", event="pin", title="加绒卫衣")))
    assert tracker.on_air is not None and tracker.on_air.id == "c9"
    tracker.handle(Order(id="o", ts=2.0, user=User(id="buyer"), order=OrderInfo(id="o1")))
    assert tracker.has_ordered("buyer")
    hit = tracker.observe("q", "什么时候发货", 3.0, User(id="buyer", name="买家"))
    assert hit is not None and "ordered" in hit.scored.reasons
    size = tracker.observe("s", "偏大还是偏小", 4.0, User(id="x"))
    assert size is not None and any(r.startswith("on air") for r in size.scored.reasons)
    tracker.handle(Product(id="p2", ts=5.0, product=ProductInfo(id="c9", event="unpin")))
    assert tracker.on_air is None


# ---------------------------------------------------------------- engine


def test_engine_publishes_question_notes() -> None:
    engine = Engine(ManualClock(1000.0))
    tracker = attach(engine, QuestionConfig())
    sub = engine.bus.subscribe("questions", accepts=[QuestionNote])
    engine.ingest(Product(id="p", ts=1000.0, product=ProductInfo(id="k1", event="pin", title="儿童雪地靴")))
    engine.ingest(Order(id="o", ts=1000.5, user=User(id="u1"), order=OrderInfo(id="ord1")))
    events = [
        Comment(id="c1", ts=1001.0, text="主播晚上好", user=User(id="u0", name="甲")),
        Comment(id="c2", ts=1002.0, text="童鞋最小多少码", user=User(id="u1", name="乙", fan_level=12)),
        Comment(id="c3", ts=1003.0, text="雪地靴几码的啊", user=User(id="u2", name="丙")),
        Comment(id="c4", ts=1004.0, text="加v看更多款", user=User(id="u3", name="丁")),
        Comment(id="c5", ts=1005.0, text="什么时候发货", user=User(id="u1", name="乙")),
    ]
    for event in events:
        engine.ingest(event)
    notes = sub.drain()
    assert [n.event_id for n in notes] == ["c2", "c3", "c5"]
    first, second, third = notes
    assert first.kind == "question" and first.intent == "spec" and first.count == 1
    assert second.group == first.group and second.count == 2
    assert second.askers == ["乙", "丙"]
    assert "fan lv 12" in first.reasons and "ordered" in first.reasons
    assert any(r.startswith("on air") for r in first.reasons)
    assert third.intent == "shipping" and third.count == 1
    assert tracker.excluded == {SPAM_CONTACT: 1}
    # flat JSON, t and kind first
    raw = encode_note(first)
    assert raw.startswith(b'{"t":1002.0,"kind":"question"')
    assert json.loads(raw)["group"] == "spec:尺码"
    # duplicates are dropped by the engine before the hook
    engine.ingest(events[1])
    assert sub.drain() == []


# ---------------------------------------------------------------- regression guard on the dev set


def _load_eval() -> ModuleType:
    spec = importlib.util.spec_from_file_location("eval_questions", ROOT / "scripts" / "eval_questions.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


@pytest.mark.skipif(not DEV_SET.exists(), reason="labelled dev set not present")
def test_dev_set_quality() -> None:
    ev = _load_eval()
    res = ev.evaluate(ev.read_rows(DEV_SET), QuestionScorer())
    assert res.precision >= 0.90, res.precision
    assert res.recall >= 0.85, res.recall


WRITTEN_SET = ROOT / "tests" / "data" / "questions-written.tsv"


def test_written_set_quality() -> None:
    """A regression guard on 12,600 written comments (see tests/data/README.md):
    the rules were tuned on most of them, so this says nothing about unseen
    comments, only that a change did not quietly undo earlier fixes."""
    ev = _load_eval()
    res = ev.evaluate(ev.read_rows(WRITTEN_SET), QuestionScorer())
    assert res.precision >= 0.92, res.precision
    assert res.recall >= 0.95, res.recall


def test_eval_script_on_a_tiny_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    f = tmp_path / "tiny.tsv"
    f.write_text(
        "id\ttext\thv\tintent\tsure\n"
        "a\t这个多少钱\t1\tprice\ty\n"
        "b\t主播好美\t0\t-\ty\n"
        "c\t发货了吗\t1\tshipping\tn\n"
        "d\t在吗\t1\tlink_stock\ty\n",
        encoding="utf-8",
    )
    ev = _load_eval()
    assert ev.main([str(f), "--errors"]) == 0
    out = capsys.readouterr().out
    assert "precision 1.000  recall 0.667" in out
    assert "false-positive rate 0.000" in out
    assert "sure=y" in out
    assert "FN d" in out


def test_the_show_scripts_products_teach_the_scorer_their_names(tmp_path: Path) -> None:
    from console.config import Config
    from console.core.show import product_keywords
    from console.session import build_session
    from console.showfile import load_show

    path = tmp_path / "plants.yaml"
    path.write_text(
        "title: 绿植专场\n"
        "segments:\n"
        "  - title: 1号 龟背竹\n"
        "    duration: '10:00'\n"
        "    product: {link: 1, id: p-monstera, title: 龟背竹 大号（带盆）, keywords: [龟背]}\n",
        encoding="utf-8",
    )
    script = load_show(path)
    assert product_keywords(script) == {"p-monstera": ["龟背", "龟背竹", "大号", "带盆"]}
    question = "龟背竹能放卧室吗"
    bare = build_session(Config(), ManualClock(0.0))
    assert not bare.questions.scorer.analyze(question).flag  # an unknown plant: no topic
    taught = build_session(Config(), ManualClock(0.0), script=script)
    analysis = taught.questions.scorer.analyze(question)
    assert analysis.flag and analysis.intent == "spec"
    assert not taught.questions.scorer.analyze("我家龟背竹长得好").flag  # a name alone asks nothing
