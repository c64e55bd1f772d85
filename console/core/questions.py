"""High-value questions: which comments the room should answer, and how urgently.

Pure and synchronous (stdlib + msgspec only). Three layers:

* :class:`QuestionScorer` looks at the *text alone* and decides whether a
  comment asks something a selling room should answer (an explicit question, a
  request such as 上链接/求链接, or a shop-chat complaint about delivery or a
  refund), which purchase intent it has (price, promo, link_stock, spec, usage,
  shipping, after_sales) and a 0–1 text score. ``flag``/``intent`` never
  depend on who asks or what is on air: that is what ``changkong classify``
  prints. :meth:`QuestionScorer.score` then adjusts the score (never the flag)
  for context — fan-club and pay level, a viewer who already ordered, a
  first-time viewer, the product on air, how many asked.
* :class:`QuestionTracker` keeps the question queue: spam and floods are kept
  out and counted by reason; the same question asked by many viewers within a
  window becomes one :class:`QuestionCard` with a count and its latest askers.
  Memory is bounded (cards expire, at most ``max_cards``; per-user memory is
  an LRU).
* :func:`attach` wires a tracker to an :class:`~console.core.engine.Engine`:
  comments in, :class:`QuestionNote` out; product pin/unpin and orders feed
  the context.

How the text score is built. The text is normalised (NFKC, so full-width
forms become ASCII; lower case; common traditional characters → simplified;
emoji codes such as ``[捂脸]`` and spaces become clause breaks; runs such as
哈哈哈哈/？？？ collapsed; digit runs read as ``#``). It is then scanned once
for commerce *terms*: the lexicon below is expanded into literals (plus chat
spellings: 肿么/神马/木有/介个, 嘛 for 吗) and looked up leftmost-longest by
first character and a small trie per character, so a comment without any
term — most chit-chat — is rejected in about a microsecond. Exceptions are
longer "stop" literals (多大了 is an age, 在哪买的 asks where the host shopped,
支持主播 is cheering); question words inside them do not count.

Each term carries an intent, a weight and flags. Strong terms (尺码, 快递,
优惠) need a question or a request; "standalone" terms (链接, 退款, 漏发,
太贵) are worth answering even said as a statement; complaints (还没到, 少了,
裂了, 和图片不一样) count as asking; evaluative properties (显瘦, 好用,
防水) ask when questioned and praise when stated; weak terms (a colour, 福袋,
想买) need a question *and* corroboration. Beyond fixed words the lexicon
encodes how product questions are built: an attribute noun by its ending
(腰围/内径/含绒量 + 多少/多大), a property by its prefix (耐摔, 防雨, 抗皱,
易碎, 免熨), a variant (大一点的, 儿童款, 有没有黑色), a choice (直筒还是
阔腿), a use (能放洗碗机吗, 要放冰箱吗, 怎么下载). Product nouns by category
and pointing words (这款, 这件) are *anchors*: a topic made of anchors alone
counts only for an explicit question in words (a bare "?" is not enough) that
is not addressed to the host.

The question strength comes from question words (多少/几/什么/怎么/哪/
有没有/能不能, A不A), clause-final particles (吗/么; 不/没/嘛/吧/呢/呗
weaker) and "?"; requests (求/想要/帮我/麻烦你/记得...) and complaints
(还没/一直/N天了/说好的) raise it. Negative contexts lower the score:
platform chit-chat (抖币, 灯牌, levels, gifts, weather, the host's sales
figures), banter with the host as the merchandise, questions about the
host's own life and body (你多高, 你的狗是什么品种, 你平时穿多大), closing
words said without a question (退款收到了谢谢, 已签收), a done deed (链接我已经
分享了) and praise of a past purchase (买过 质量不错??).
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections import OrderedDict, deque
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Final, Literal

import msgspec

from console.core.events import Comment, Event, Order, Product, ProductInfo, User
from console.core.notes import Note

if TYPE_CHECKING:
    from console.core.engine import Engine

INTENTS: Final[tuple[str, ...]] = (
    "price",
    "promo",
    "link_stock",
    "spec",
    "usage",
    "shipping",
    "after_sales",
)

# Spam reasons, as counted in :attr:`QuestionTracker.excluded`.
SPAM_REPEAT: Final = "repeat"
SPAM_CONTACT: Final = "contact"
SPAM_URL: Final = "url"
SPAM_AD: Final = "ad"
SPAM_BANNED: Final = "banned"


# --------------------------------------------------------------------------
# configuration
# --------------------------------------------------------------------------


class QuestionConfig(msgspec.Struct, kw_only=True, frozen=True, forbid_unknown_fields=True):
    """Tuning knobs (the lead maps the ``questions:`` section of config.yaml here).

    ``extra_keywords`` maps an intent to more terms for it (strong terms: one
    of them plus a question flags the comment). ``product_keywords`` maps a
    product id to words that name it or its features: they count as a weak
    ``spec`` term everywhere and raise the score while that product is on air.
    ``banned_words`` keep a comment out of the queue (counted as ``banned``).
    """

    #: flag when the text score reaches this
    threshold: float = 0.5
    banned_words: list[str] = msgspec.field(default_factory=list)
    extra_keywords: dict[str, list[str]] = msgspec.field(default_factory=dict)
    product_keywords: dict[str, list[str]] = msgspec.field(default_factory=dict)
    #: seconds a card lives after its last ask
    window: float = 300.0
    #: at most this many live cards (the stalest is dropped first)
    max_cards: int = 200
    #: the same text from the same user within this many seconds is a repeat
    repeat_window: float = 60.0
    #: how many recent askers a card remembers
    max_askers: int = 5
    #: users remembered for repeat detection and "already ordered"
    max_users: int = 50_000
    #: keep comments with contact details / URLs / ads out of the queue
    block_contacts: bool = True


# --------------------------------------------------------------------------
# normalisation
# --------------------------------------------------------------------------

# Traditional (and a few variant) characters → simplified. Small on purpose:
# the characters that matter for commerce chat and question syntax.
_TRAD_PAIRS = (
    "運运費费碼码號号鏈链貨货發发幾几錢钱買买賣卖價价換换沒没嗎吗麼么麽么這这個个們们說说優优"
    "動动質质顏颜長长寬宽軟软樣样裡里裏里還还無无點点單单訂订郵邮遞递順顺豐丰聯联繫系處处"
    "問问題题請请謝谢給给讓让從从時时間间過过東东壞坏損损補补錯错貴贵減减滿满贈赠獎奖紅红"
    "車车購购庫库現现適适腳脚褲裤襪袜絨绒顯显種种會会夠够為为寶宝貝贝親亲愛爱關关備备註注"
    "試试鬆松緊紧輕轻淺浅黃黄綠绿藍蓝裝装條条雙双頭头膚肤濕湿溼湿紙纸張张話话歲岁級级幣币"
    "禮礼熱热涼凉劃划實实際际檢检驗验證证產产廠厂鋪铺員员務务門门開开閉闭鐘钟機机電电線线"
    "網网節节劵券兩两樂乐氣气應应該该麵面飯饭雞鸡魚鱼蝦虾蟲虫藥药醫医異异區区別别較较舊旧"
    "鮮鲜嚐尝嘗尝鹹咸觀观盤盘紀纪後后來来囉啰據据齊齐搶抢頁页連连結结圖图畫画廣广標标準准"
    "規规膠胶鏡镜錶表帶带蓋盖燈灯帳账戶户龍龙漲涨隻只罷罢"
    "絲丝紗纱綿绵纖纤維维羅罗鍋锅壺壶筆笔書书鑽钻銀银鍊链項项環环鐲镯飾饰護护潔洁淨净貓猫糧粮飼饲寵宠葉叶餅饼醬酱鴨鸭鵝鹅豬猪營营養养嬰婴兒儿腦脑螢萤聲声響响煙烟壓压積积彈弹澀涩專专櫃柜業业團团辦办誰谁爛烂賠赔償偿達达韻韵圓圆風风雲云華华聽听讀读寫写學学體体幫帮確确歡欢對对邊边衛卫襯衬圍围劇剧戲戏瓊琼麗丽鎖锁擺摆傳传綁绑縮缩計计"
)
_TRAD: Final[dict[int, int]] = {
    ord(_TRAD_PAIRS[i]): ord(_TRAD_PAIRS[i + 1]) for i in range(0, len(_TRAD_PAIRS), 2)
}

_EMOJI_CODE: Final = re.compile(r"\[[^\[\]]{1,8}\]")
_SPACES: Final = re.compile(r"\s+")
# One pass: "哈哈哈哈" → "哈", "？？？" → "?", "链接链接链接" → "链接".
# Doubles are kept (天天快递, 看看, 谢谢).
_REPEAT: Final = re.compile(r"(.{1,4}?)\1{2,}")
_DIGITS: Final = re.compile(r"\d+(?:\.\d+)?")
_HAS_DIGIT: Final = re.compile(r"\d")
_TRAD_RE: Final = re.compile("[" + "".join(map(chr, _TRAD)) + "]")


def _prep(text: str) -> str:
    """Everything :func:`normalize` does except collapsing repeats (the fast path skips it)."""
    if text.isascii():
        return text.lower() if " " not in text else _SPACES.sub(",", text.strip().lower())
    text = unicodedata.normalize("NFKC", text).lower()
    if _TRAD_RE.search(text) is not None:
        text = text.translate(_TRAD)
    if "[" in text:
        text = _EMOJI_CODE.sub(" ", text)
    if " " in text or "\t" in text:
        # a space in chat separates clauses: "鞋码标准吗 我平时39"
        text = _SPACES.sub(",", text.strip())
    return text


def normalize(text: str) -> str:
    """The form every matcher sees: compact, lower-case, simplified, de-repeated.

    Digits are kept (phone numbers, item ids); the lexicon scan reads digit
    runs as ``#``.
    """
    return _REPEAT.sub(r"\1", _prep(text))


def _digit_key(norm: str) -> str:
    return _DIGITS.sub("#", norm) if _HAS_DIGIT.search(norm) is not None else norm


# --------------------------------------------------------------------------
# lexicon
# --------------------------------------------------------------------------

# term flags
Q: Final = 1  # the term asks by itself (多少钱, 几码, 还有吗, 能到吗)
SOLO: Final = 2  # worth answering even said as a statement (链接, 退款, 太贵)
WEAK: Final = 4  # corroborates only (informational: the weight, below the 0.5 gate, does it)
COMPLAINT: Final = 8  # a complaint: counts as asking for shipping/after-sales/price
STOP: Final = 16  # an exception: consumes the text and means nothing
ANCHOR: Final = 32  # names a product (a noun, 这款/这件): commerce context, not a topic of its own
ADJ: Final = 64  # an evaluative property (显瘦, 好用): a statement of it is praise, not a question

S, W, VW, HINT = 1.0, 0.5, 0.3, 0.2  # strong, weak, very weak, a hint
P = 0.35  # a vague anchor (东西, 这款): with another anchor or a property it makes a topic
KILL = -1.5  # a negated request (不要链接): cancels the request

# Building blocks of the expansion syntax (see :func:`expand`).
_NUM = "[#一二两三四五六七八九十几半]"
_UNIT_W = "[包袋盒瓶箱罐斤克份]"  # packaging and weight: a commerce quantity
_UNIT_VW = "[支片张套件双条粒]"  # also everyday counting (一件事, 一张照片)
_UNITS = "(" + _UNIT_W[1:-1] + "|" + _UNIT_VW[1:-1] + ")"
_ADJ = "[厚薄软硬紧松透甜辣咸酸脆重沉长短扁宽窄粗细滑大小深浅亮暗弯]"
_ADJ_ANA = "|".join(f"{a}不{a}" for a in _ADJ[1:-1])  # 厚不厚
# properties that are chit-chat on their own (那边热吗) but not after 会/穿着/用着
_ADJ_CTX = "[冷热暖闷凉勒卡磨痒臭香浓淡吵响]"
_CTX = "(会|不会|会不会|穿着|穿上|穿起来|用着|用起来|吃起来|闻起来|戴着|盖着|睡着)"
# A-not-A of a property or ability: 显不显瘦, 浓不浓, 好不好用, 能不能穿
_ANA_PROP = "|".join(f"{a}不{a}" for a in "显浓香甜辣透闷勒扎滑亮臭腥油腻脆嫩酥糯苦涩沙硌磨挤夹掉")
_MODAL_TUI = "(能|可以|要|想|申请|怎么|咋|如何|给我|帮我|不给|不能|不)"
_NOT_REFUND = "(网|团|票|出|下|散|缩|役|休|群|步|回)"
_LINK = "(链接|连接|链结|连结|练接|炼接|联接|莲接|恋接|链jie|lj)"
# the measurable: 腰围多少, 内径多大, 含绒量多少, 裤长是多少
_HOWMUCH = "(是)?(多少|多大|多长|多宽|多高|多重|多厚|多粗|怎么样|咋样|如何)"
# a product attribute noun ends like this: 腰围, 内径, 袖长, 含量, 甜度, 克重, 页数
_ATTR_END = "[围径长宽高厚重量度温速率压]"
# verbs of using a product (能放洗碗机吗, 可以微波炉加热吗, 要放冰箱吗)
_USE_V = (
    "(加热|热|微波|蒸|煮|烤|炖|炒|冷冻|冷藏|冻|泡|机洗|水洗|手洗|干洗|烘干|晒|熨|连|插电|充电|托运|上飞机|"
    "上高铁|喂|涂|敷|抹|卷|折叠|叠|拆|剪|消毒|高温|放冰箱|放冷冻|放洗碗机|放微波炉|放烤箱|放多久|放几天|"
    "装开水|装热水|装水|装下|装得下|上电磁炉|上燃气灶|明火|测|榨|磨|"
    "(直接|单独|长期|天天|每天)(用|吃|喝|穿|戴|涂|喂|煮|泡|冲))"
)
# a property that is about the product only: 耐摔, 防水, 抗皱, 易碎, 免熨
_PROP_PRE = "(耐|防|抗|易|免|不易|容易)"
_PROP_ROOT = (
    "(摔|磨|脏|用|穿|洗|高温|晒|寒|热|抓|咬|刮|刮花|造|压|折|划|磕|烫|冻|腐|旧|水|滑|风|蓝光|漏|尘|霉|"
    "蛀|臭|紫外线|静电|脱|走光|透|皱|菌|氧化|老|过敏|碎|坏|掉|断|褪色|起球|掉色|变形|熨|打孔|安装|卷边|"
    "起毛|发黑|生锈|开胶|断裂|潮|晒黑|掉毛|粘|黏|挂丝|勾丝|钩丝|缩水|变色|发黄|串色|染色|雨|虫|蚊|火|盗|电|"
    "刺|割|爆|辐射|油|污|锈|沙|冻裂|泼水|溅|抖|震|噪|老化|褪|晕|脏污|窥|偷窥|指纹|反光|眩光)"
)

Entry = tuple[str, str, str, float, int]  # label, expansion, intent, weight, flags


def _t(meta: tuple[str, str, float, int], *parts: str) -> Entry:
    """An entry from (label, intent, weight, flags) and the parts of its expansion."""
    label, intent, weight, flags = meta
    return (label, "|".join(parts), intent, weight, flags)


# Product nouns by category: each is an anchor (commerce context for a
# question that names no attribute: 窗帘遮光吗, 牛肉干是真牛肉吗).
_PRODUCTS: Final = (
    # apparel
    "衣服|外套|裙子|连衣裙|半身裙|短裙|长裙|裤子|牛仔裤|阔腿裤|打底裤|西裤|短裤|休闲裤|运动裤|瑜伽裤|鲨鱼裤|"
    "上衣|t恤|卫衣|毛衣|针织衫|开衫|羽绒服|羽绒|棉服|棉袄|大衣|风衣|夹克|西装|马甲|衬衫|衬衣|吊带|背心|"
    "打底衫|睡衣|家居服|内衣|内裤|文胸|胸罩|袜子|丝袜|连裤袜|船袜|帽子|围巾|手套|泳衣|旗袍|汉服|校服|童装|"
    "套装|冲锋衣|毛呢|皮衣|皮草|羊绒衫|秋衣|秋裤|保暖衣|保暖内衣|polo衫|雪纺衫|防晒衣|裙裤|连体衣|"
    # shoes and bags
    "鞋子|鞋|凉鞋|拖鞋|运动鞋|跑鞋|板鞋|帆布鞋|皮鞋|高跟鞋|单鞋|靴子|靴|雪地靴|马丁靴|短靴|长靴|童鞋|"
    "棉鞋|老爹鞋|乐福鞋|鞋垫|包包|背包|书包|双肩包|斜挎包|手提包|托特包|腰包|行李箱|拉杆箱|墨镜|太阳镜|"
    "眼镜|眼镜框|镜框|镜片|腰带|皮带|发夹|发箍|头绳|发圈|抓夹|"
    # jewellery
    "项链|手链|手镯|镯子|戒指|耳环|耳钉|耳坠|耳夹|吊坠|胸针|脚链|珍珠|翡翠|和田玉|玉镯|黄金|金条|金豆|"
    "银饰|钻戒|水晶|琥珀|蜜蜡|手串|串珠|铂金|锁骨链|转运珠|"
    # beauty and personal care
    "面霜|乳液|水乳|爽肤水|化妆水|精华|精华液|精华水|面膜|眼霜|防晒|防晒霜|防晒乳|隔离|粉底|粉底液|气垫|"
    "bb霜|cc霜|遮瑕|散粉|粉饼|蜜粉|口红|唇釉|唇膏|唇泥|唇彩|眼影|眼影盘|眼线|眼线笔|睫毛膏|眉笔|腮红|"
    "高光|修容|卸妆|卸妆油|卸妆水|卸妆膏|洗面奶|洁面|洗发水|洗发露|护发素|发膜|沐浴露|身体乳|护手霜|香水|"
    "指甲油|牙膏|牙刷|电动牙刷|漱口水|精油|化妆品|护肤品|套盒|小样|喷雾|安瓶|冻干粉|次抛|原液|磨砂膏|"
    "剃须刀|美容仪|卷发棒|直板夹|吹风机|粉扑|化妆刷|美妆蛋|"
    # food
    "零食|坚果|核桃|腰果|开心果|瓜子|花生|巴旦木|碧根果|夏威夷果|红枣|枣|枸杞|牛肉干|猪肉脯|肉干|肉脯|"
    "鸭脖|鸭货|鸡爪|凤爪|辣条|薯片|饼干|蛋糕|面包|月饼|粽子|汤圆|饺子|馄饨|螺蛳粉|酸辣粉|方便面|泡面|"
    "挂面|米粉|米线|火锅底料|底料|调料|辣椒酱|酱油|蜂蜜|茶叶|绿茶|红茶|白茶|普洱|乌龙|铁观音|龙井|茶饼|"
    "茶砖|花茶|咖啡|挂耳|奶粉|牛奶|酸奶|奶酪|燕麦|麦片|藕粉|芝麻糊|豆浆|果汁|饮料|白酒|红酒|啤酒|黄酒|"
    "米酒|大米|小米|杂粮|面粉|食用油|橄榄油|腊肉|腊肠|香肠|火腿|咸鸭蛋|皮蛋|鸡蛋|鸭蛋|海苔|果冻|糖果|"
    "巧克力|软糖|阿胶|燕窝|海参|保健品|维生素|钙片|蛋白粉|益生菌|代餐|自热火锅|速食|榴莲干|芒果干|果干|"
    "酸菜|咸菜|榨菜|"
    # fresh produce
    "水果|橙子|橘子|砂糖橘|沃柑|苹果|梨|香蕉|芒果|榴莲|车厘子|樱桃|草莓|蓝莓|葡萄|提子|猕猴桃|奇异果|"
    "火龙果|柚子|西瓜|哈密瓜|荔枝|龙眼|桂圆|菠萝|凤梨|桃子|水蜜桃|李子|石榴|柠檬|百香果|椰子|牛油果|"
    "山竹|蔬菜|土豆|红薯|地瓜|玉米|山药|蘑菇|香菇|木耳|竹笋|海鲜|大虾|基围虾|小龙虾|虾仁|螃蟹|大闸蟹|"
    "帝王蟹|梭子蟹|三文鱼|带鱼|鲍鱼|扇贝|生蚝|海胆|鱿鱼|牛排|牛肉|羊肉|猪肉|排骨|土鸡|鸡肉|鸭肉|"
    # electronics and appliances
    "手机|平板|ipad|电脑|笔记本电脑|耳机|蓝牙耳机|音箱|音响|充电宝|充电器|充电头|数据线|手机壳|钢化膜|"
    "手环|手表|智能手表|相机|摄像头|投影仪|投影|路由器|键盘|鼠标|显示器|u盘|内存卡|硬盘|麦克风|声卡|"
    "补光灯|自拍杆|电视|冰箱|洗衣机|空调|风扇|电风扇|小风扇|取暖器|加湿器|净化器|除湿机|扫地机|"
    "扫地机器人|吸尘器|洗地机|电饭煲|电饭锅|压力锅|空气炸锅|微波炉|烤箱|破壁机|榨汁机|豆浆机|料理机|"
    "咖啡机|电水壶|热水壶|烧水壶|养生壶|电磁炉|按摩仪|筋膜枪|台灯|电热毯|暖风机|血压计|体重秤|电子秤|"
    "遥控器|电池|插座|排插|灯泡|游戏机|手柄|刷头|滤芯|电动车|头盔|"
    # home goods
    "锅|炒锅|不粘锅|砂锅|蒸锅|汤锅|平底锅|铁锅|奶锅|碗|盘子|筷子|勺子|菜刀|刀具|砧板|菜板|杯子|保温杯|"
    "水杯|马克杯|玻璃杯|水壶|保鲜盒|饭盒|便当盒|收纳盒|收纳箱|收纳袋|收纳柜|衣架|晾衣架|被子|被套|"
    "四件套|床单|床笠|枕头|枕套|枕芯|床垫|凉席|毯子|毛毯|蚊帐|窗帘|地毯|地垫|沙发|椅子|凳子|桌子|书桌|"
    "餐桌|柜子|鞋柜|书架|置物架|毛巾|浴巾|浴袍|纸巾|抽纸|卷纸|湿巾|棉柔巾|洗脸巾|洗衣液|洗衣凝珠|"
    "洗洁精|消毒液|清洁剂|垃圾袋|保鲜膜|花瓶|香薰|蜡烛|镜子|挂钩|雨伞|拖把|扫把|水龙头|花洒|马桶刷|"
    "茶(具|杯|盘|刀|针)|紫砂壶|口罩|暖宝宝|"
    # pets
    "猫粮|狗粮|猫砂|猫砂盆|冻干|猫罐头|狗罐头|罐头|主食罐|零食罐|猫条|狗绳|牵引绳|猫抓板|猫爬架|猫窝|"
    "狗窝|宠物|逗猫棒|驱虫药|尿垫|磨牙棒|猫包|航空箱|宠物粮|猫薄荷|"
    # books, toys, baby
    "书|绘本|课本|教材|练习册|字帖|小说|词典|字典|点读笔|文具|钢笔|本子|画册|玩具|积木|乐高|拼图|娃娃|"
    "毛绒玩具|盲盒|手办|模型|滑板车|自行车|童车|婴儿车|推车|奶瓶|纸尿裤|尿不湿|奶嘴|安全座椅|"
    # parts
    "拉链|纽扣|扣子|鞋带|鞋底|鞋面|内胆|滤网|出风口|把手|轮子|表带|表盘|镜腿|背带|肩带|领口|袖口|裤脚|"
    "瓶盖|盖子|吸管|刷毛|机身|底座|插头|充电口|"
    # more goods
    "花盆|绿植|多肉|种子|肥料|鱼竿|渔具|帐篷|睡袋|登山杖|瑜伽垫|跳绳|哑铃|球拍|羽毛球拍|篮球|足球|吉他|"
    "尤克里里|钢琴|电子琴|染发膏|染发剂|假发|发际线粉|梳子|镜子|剪刀|指甲刀|保温桶|暖水袋|热水袋|"
    "车载|行车记录仪|车衣|脚垫|雨刷|机油|轮胎|文胸|睡裙|雨衣|雨靴|拖鞋|鞋架|晾衣杆|床头柜|衣柜|茶几"
)
# vague names of the goods
_GOODS = "产品|商品|东西|宝贝|赠品|礼盒|套餐|配件|袋子|盒子|瓶子|包装|手提袋|礼品袋"
# pointing at the product: 这款/这件 (a strong anchor), 这个/那个 (everyday words, a hint)
_DEIXIS = (
    "(这|那|你这|你家这|你们这|你家|你们家)(款|件|双|条|套|瓶|盒|支|只|罐|袋|包|箱|本|副|顶|块|把|台|个包|种)"
    "|这玩意|这玩意儿|这东西|这个东西|这宝贝|你家的|你们家的|你们的"
)

# The label is what the UI shows ("spec · 尺码") and what groups questions
# into one card: variants of the same question share a label. ``expand``
# turns each expansion into literals; when two entries produce the same
# literal, the first one wins.
_LEXICON: Final[list[Entry]] = [
    # ---- exceptions ---------------------------------------------------------
    _t(
        ("", "", 0.0, STOP),
        "多大了|多大啦|多大岁|多大学|你多大|几岁了|ip地址|几点开播|几点下播|几点播|几点开始播",
        "怎么拍的|怎么拍视频|怎么拍照|什么时候到#|啥时候到#|怎么弄的|怎么画的|怎么化的|怎么剪的",
        "(穿|选|拍)(什么|啥|哪个)(都|也)",
        _MODAL_TUI + "退" + _NOT_REFUND,
        "(今天|明天|马上)(能|可以)?发(工资|红包)",
        # where the host bought their own things
        "(在)?(哪|哪里|哪儿)买的|(在)?(哪|哪里|哪儿)(买|入)的呀",
        # time and weather chit-chat that borrows 多久/发/寄/冷
        "多久没|好久没|多久不|多久没见|好久不见",
        "寄给你|给你寄|寄你|送你|给你买|给主播买|给你带|给你送",
        "读书|喝酒|喝茶|吃鸡|看书|看电视|看电影|快递小哥|快递员辛苦|发朋友圈|发自拍|发照片|发视频|发红包|红包雨",
        "这个梗|什么梗|啥梗|什么歌|啥歌|这首|哪首|名字",
        "支持主播|支持你|支持一下|支持支持|一直支持|永远支持|谢谢支持|感谢支持|支持国货|必须支持|都支持|支持一波",
        "上车了|上车上车|老司机|马上上车",
        "换(衣服|裤|鞋|发型|个发型|装|裤子)|我也想要|也想要|好想要|我也要|也想买|好想买|我也想买",
        "多少粉|多少赞|多少票|多少岁|几个月了|你上几年级",
        "稍等|我看一下|我看看|我找找|我查一下",
        "有没有(一起|同样|和我一样|跟我一样)|抢到了|抢到没|抢到票",
        "还有没有人|有没有人|还有人|有人吗|有人没|密码|验证码|号码|二维码|电视剧|电影|综艺|动漫",
        # 坏 as "very" (忙坏了, 吓坏了), defects that did not happen (没开胶, 还没坏)
        "(忙|累|吓|饿|乐|高兴|急|馋|笑|宠|惯|气|美)坏",
        "(没|都没|还没|也没)(开胶|起球|掉色|褪色|变形|开线|坏|掉毛|生锈|漏)",
        # the viewer's own pay day, a message sent to the wrong chat, a deal at last, putting it off
        "工资(还没|没|都没)?(发|到)|发工资|等工资|不是发给你|发错人|发错群|发错地方",
        "终于(抢到|收到|到了|买到|拿到|到货|等到)",
        "看看就好|只能看看|随便看看|先看看|看看而已|来看看|进来看看|过来看看|看看再说",
        "(了|一下|回家|到时候|下次|以后)再说",
        "不退了|不换了|不退货了|不用退了|不想退了|不换货了",
        "谢谢(你的|您的)?(处理|帮忙|安排)|感谢(你的|您的)?(处理|帮忙|安排)|辛苦(处理|帮忙)",
        "酒量|饭量|食量",
    ),
    # ---- what the viewer cannot afford is not a haggle ------------------------
    _t(("-", "price", KILL, 0), "(吃|买|养|用|穿|玩|消费|花|戴)不起"),
    # ---- negated requests, praise -------------------------------------------
    _t(("-", "link_stock", KILL, 0), "(不要|不用|别|不需要|无需|甭)(上|发|给|要)?(链接|连接|福袋|券|优惠券)"),
    _t(
        ("-", "price", -0.6, 0),
        "不贵|不便宜|没那么贵|没多贵|太便宜了|好便宜|真便宜|这么便宜|便宜死|超便宜|便宜好多|价格美丽|价格很美丽",
    ),
    # ---- price --------------------------------------------------------------
    _t(
        ("价格", "price", S, Q),
        "多少钱|多钱|几多钱|多少米|啥价|什么价|多少价|什么价位|啥价位|多少价位",
        "最低多少|最少多少|最便宜多少|最低价多少|怎么卖|咋卖|肿么卖|怎木卖|咋个卖|卖多少|卖几|几折|打几折|贵不贵|一共多少|总共多少|单买多少",
        "多少一(" + _UNITS[1:-1] + "|个|只|对|斤|盒)|(价格|价钱|价位)(多少|是多少|怎么样|一样|标错|不对)",
        "(能|可以|能不能|再)便宜|便宜(多少|点|些|一点|吗|不)|优惠多少|减多少|几块一",
        "到手多少|到手价多少|(能|可以|再|能不能)少(点|一点|些)",
        "(拍|买)(#|两|三|几)?(件|个|份|单)?多少|#(件|个|盒|瓶)多少|两件多少|一起多少",
        "是一(盒|瓶|箱|包|袋|斤|件|个|套)还是|价格包括|包括运费|含运费|含税",
        "还贵|更贵|怎么涨|怎么又涨|买贵了|退差价|补差价|价格不一样|的价和|价一样|同价|一个价|价格一样",
        "(再|能|可以)?让(点|一点|些|利)|再让|收费吗",
    ),
    _t(
        ("价格", "price", S, 0),
        "这个价|那个价|少点|少一点|抹零|零头|批发价|团购价|差价|保价|价保",
        "加钱|要加钱|另外加钱|额外收费|另收|另外收|要收费",
        "专属价|粉丝价|新人价|秒杀价|福利价|分期|花呗|白条|免息|信用卡",
    ),
    _t(("价格", "price", W, 0), "到手|一起拍|一起买|旗舰店|超市|别家|同款|实体店|又涨|涨了"),
    _t(("价格", "price", S, SOLO), "抹(个)?零|去(个|掉)?零头|零头(去|抹)掉|凑(个)?整|打个折|打折吧"),
    _t(("价格", "price", S, Q), "duoshaoqian|duoshao|jiage|dsq"),
    _t(("价格", "price", S, 0), "分期|免息|分#期|几期|月供|首付"),
    _t(("价格", "price", VW, Q), "怎么算|咋算"),
    _t(("价格", "price", W, 0), "还是#(吗|么|嘛)|还是#块|还是#元"),
    _t(
        ("价格", "price", S, 0),
        "价格|价钱|价位|单价|原价|现价|到手价|活动价|直播价|特价|底价|最低价",
        "划算|折扣|打折|降价|改价|便宜|优惠|有惠|优会",
    ),
    _t(
        ("太贵", "price", S, SOLO | COMPLAINT),
        "太贵|好贵|更贵|贵了|这么贵|那么贵|有点贵|小贵|真贵|贵死|贵吗|贵啊",
        "涨价|不划算|没减",
    ),
    _t(("价格", "price", W, 0), "#(元|块|rmb)|¥#|(只需|只要|仅需|到手)#"),
    _t(("价格", "price", VW, WEAK), "几块|几块钱|一共|总共|合计"),
    # ---- promo --------------------------------------------------------------
    _t(
        ("优惠券", "promo", S, 0),
        "优惠券|券|[#元张个惠领]卷|满减|满#减|满多少|津贴|返现|折上折|免单",
        "优惠码|折扣码|新人价|新客|首单|拼单|团购|好评返|晒图|新人券|店铺券|叠加",
    ),
    _t(
        ("买赠", "promo", S, SOLO),
        "买一送一|买" + _NUM + "送" + _NUM,
        "买" + _NUM + _UNIT_W + "(也|还|再|就)?送" + _NUM,
    ),
    _t(
        ("赠品", "promo", S, 0),
        "赠品|赠送|送什么|送啥|送不送|有送|能送|可以送|能不能送|送的是|送的什么|送几",
        "还送|也送|送吗|会送|送个|送两|第二件|小样送|送小样|送杯子",
        "买" + _NUM + _UNITS + "?(也|还|再|就)?送",
    ),
    _t(
        ("活动", "promo", S, 0),
        "活动|秒杀|福利|半价|抽奖|开奖|奖品|促销|关注送|关注有|送东西|有礼吗|有礼品|福袋发",
    ),
    _t(
        ("福袋", "promo", S, Q),
        "福袋(在哪|什么时候|啥时候|几点|还有|怎么|是什么|里有什么|有什么|里面|里)",
        "(发|来|开)(个|一个|一波)?福袋|(今天|明天|马上)(能|可以)?发福袋",
    ),
    _t(
        ("优惠券", "promo", S, Q),
        "[#元张个惠领]?(券|卷)(能|可以|怎么|咋)用|(能|可以)用(券|优惠券)|怎么用券|(券|卷)用不了|(券|卷)领不了",
    ),
    _t(
        ("领取", "promo", S, Q),
        "怎么领|在哪领|哪里领|去哪领|怎么兑换|怎么参与|怎么参加|怎么抢|怎么抽|怎么兑|兑奖",
    ),
    _t(("福袋", "promo", W, 0), "领取|兑换"),
    _t(
        ("福袋", "promo", S, Q),
        "有福袋|福袋吗|福袋呢|送福袋|福袋没|口令是|什么口令|啥口令|口令多少",
        "红包(几点|什么时候|啥时候|怎么|在哪|发不发)|发红包吗|有红包吗|有没有红包",
    ),
    _t(("返现", "promo", S, SOLO), "晒图返|好评返|返#|返一下|返给我|返款|还没返|没返"),
    _t(("福袋", "promo", VW, WEAK), "福袋|红包|口令|聚划算|双十一|双#|抽到|中奖"),
    # ---- link / stock / ordering -------------------------------------------
    _t(
        ("链接", "link_stock", S, Q | SOLO),
        "(几号|哪个)" + _LINK + "|" + _LINK + "(在哪|呢)",
        "(上|求|要|发|给)(个|一下|下)?" + _LINK + "|(几|多少)号(链接|宝贝)",
        "是几号|是哪个链接|(再|重新)?挂(一下|下|上|出来)|再挂|挂车|挂出来",
        "(上|挂)(个|一下|下)车|快上车|上小黄车|#号是哪|#号是什么|#号是啥",
        "下一个(是|上)(什么|啥|哪)|下个(是|上)(什么|啥)|接下来(上|是)(什么|啥)|还上什么|等会上什么",
    ),
    _t(("链接", "link_stock", S, SOLO), _LINK + "|小黄车|黄车|购物车|橱窗"),
    _t(
        ("库存", "link_stock", S, Q),
        "还有吗|还有没有|有货吗|有现货吗|还上吗|还会上|还会再上|还有没|还有多少(单|件|套|双|库存|货)|"
        "(还)?剩(多少|几)(单|件|套|双|个)|还有几(单|件|套|双)",
        "(什么|啥)时候(才)?(有|上|补|到货|返场)|几点(上|开抢|开卖|开拍|上架|上链接)",
        "(什么|啥)时候开(抢|卖|始卖)|(会|能)补(货|吗)|还补吗|还会补|上新|出新款|有新款|新品",
        "再来一(单|波|批|轮)|再上一(波|批|点|些)|加一单|补一单|(加|多上|再上)(点|一点|些)库存|多放点",
    ),
    _t(
        ("库存", "link_stock", S, 0),
        "库存|有货|没货|现货|缺货|补货|备货|断货|卖完|抢完|售罄|无货",
        "上架|下架|限购|失效|还有货|有没有货|还能买|返场|再上|找不到|搜不到|没找到",
        "显示无货|显示缺货|显示售罄|显示已售罄|库存不足|显示没货|"
        "抢光|已抢光|还能拍|帮我留|给我留|留一(件|个|双|套|份)|(没有|没)(我的|我要的)(码|尺码|颜色)|我的码|"
        "抢不到|秒没|加购",
    ),
    _t(
        ("库存", "link_stock", S, SOLO),
        "拍不了|拍不上|买不了|下不了单|下单不了|付不了款|加不了购|不能购买|无法购买|不支持销售|拍不到|提交不了",
    ),
    _t(("库存", "link_stock", W, 0), "刚还有|刚刚还有|刚才还有|刚才还在|刚刚还在|快上|赶紧上|快点上"),
    _t(("库存", "link_stock", S, SOLO), "别憋|不要憋|憋什么|憋单"),
    _t(
        ("库存", "link_stock", S, Q),
        "#(米|寸|码|cm|斤|升|l|ml|g|克|号|岁|段)的(有吗|还有吗|有没有|有么)",
        "卖的(啥|什么)|卖(啥|什么)呢|在卖(啥|什么)|今天卖(啥|什么)|在几号|是几号链接",
    ),
    _t(("库存", "link_stock", VW, WEAK | Q), "没了吗|没了么|没了嘛"),
    _t(
        ("讲解", "link_stock", W, 0),
        "讲一下|讲讲|讲解|介绍一下|介绍下|过一下|讲下",
        "试穿一下|试一下|上身看看|上身试试|试穿|再给看看|给看看|给我们看看|再展示",
    ),
    _t(("讲解", "link_stock", VW, WEAK), _NUM + "号"),
    _t(("讲解", "link_stock", S, 0), _NUM + "号(宝贝|商品|产品)"),
    _t(
        ("怎么买", "link_stock", S, Q),
        "怎么买|咋买|在哪买|哪里买|去哪买|哪买|怎么下单",
        "怎么拍|咋拍|拍哪个|拍几号|买得到|能单买|单独买|可以单买|只买一",
    ),
    _t(("怎么买", "link_stock", S, 0), "能买|可以买"),
    _t(
        ("下单", "link_stock", W, 0),
        "拍下|拍了|拍好了|已拍|下单|下了单|订单|订了|付款|付了款",
        "再买|还要买|多买|数量|多少份|改数量|改一下数量",
    ),
    _t(("下单", "link_stock", VW, WEAK), "想买|要买|买个|几号"),
    # ---- spec ---------------------------------------------------------------
    _t(
        ("尺码", "spec", S, Q),
        "几码|什么码|多大码|多少码|啥码|哪个码|穿多大|穿几|几吗|尺吗|几个号|什么号|多大号|哪个号|几j",
        "(穿|选|拍)(什么|啥|哪个)(码|号|尺码)?|(穿|选|拍|买)多大(的|码|号)?|买(哪个|什么|几)码",
        "码(偏|标准|正)(吗|不|么)|偏码(吗|不|么)",
    ),
    _t(
        ("尺码", "spec", S, 0),
        "码数|尺码|尺寸|选码|偏大|偏小|正码|大码|小码|码偏|#码|鞋码|偏码|半码|加大码|均码|标准码",
        "(x|xx|xxx|xxxx|#x)?[sml]码|xl|xxl|xxxl|#xl",
        "穿(x|xx|xxx|#x)?[sml]|穿#码?|穿#的",
        "腰围|胸围|臀围|肩宽|袖长|衣长|裤长|裙长|内长|脚长|脚宽|头围|手围|筒围|跟高|鞋跟|版型",
        "直筒|阔腿|高腰|低腰|长款|短款|中长款|宽松|修身|紧身|oversize",
    ),
    _t(
        ("大小", "spec", S, 0),
        "#米#|大小|多大|多长|多宽|多高|多重|多厚|规格|容量|尺寸",
        "几斤|多少斤|几克|多少克|克数|多少毫升|几毫升|多少ml|克重|净重|毛重|重量|厚度|长度|宽度|高度",
        "几升|多少升|几寸|多少寸|几瓦|多少瓦|几人|几个人用|承重|内径|直径|果径|口径|链长|几两|几房|几段",
        "几(公分|厘米|cm|米|毫米|mm|毫升|ml|升|斤|克|g|寸|码|层|页|岁的|个月的)",
        "(页|克|片|粒|层|张|支|根|颗)数" + _HOWMUCH,
        "多少(片|张|粒|颗|根|支|包|袋|个装|页|层|克|斤|毫升|瓦|匹|公斤)|几(匹|公斤|千克|p)的?|"
        "多少度|几度的|度数|几[abcdefghijklmnopqrstuvwxyz]的?|#[abcdefghijklmnopqrstuvwxyz]还是",
        "(儿童|童|男|女|大人|成人|宝宝|婴儿|老人|学生|情侣|亲子|中老年|大码|小码|加长|加大|加厚|加绒|薄|厚|"
        "长|短|新|老|经典|基础|升级|豪华|标准|简约|夏|冬|春秋|男士|女士)款",
        # the measurable, whatever it is: 筒围多少, 含绒量多少, 防晒指数多少
        _ATTR_END + _HOWMUCH,
        "指数" + _HOWMUCH + "|含量" + _HOWMUCH,
        _ADJ + "一?点的|" + _ADJ + "一?点儿的|(大|小)一?号的|(大|小)一?些的",
    ),
    _t(
        ("材质", "spec", S, 0),
        "材质|面料|什么料|啥料|纯棉|全棉|棉的|羊毛|羊绒|真丝|涤纶|含棉|棉麻|亚麻|桑蚕丝|雪纺|莫代尔|天丝|冰丝",
        "成分|配料|用料|真皮|什么做的|什么材料|啥材料|材料|啥做的|什么肉|什么皮|什么钢|什么木|什么材质|啥材质",
        "含绒量|充绒量|绒子|鸭绒|鹅绒|牛皮|羊皮|头层|人造革|帆布|硅胶|塑料|不锈钢|铸铁|铝合金|陶瓷|实木",
        "乳胶|记忆棉|海绵|#银|纯银|足金|千足金|k金|#k|#k金|镀金|包金|合金|钛钢|黄铜|淡水|海水|锆石|莫桑石|银针",
        "内衬|里衬|夹层|涂层|钢圈|衬里",
    ),
    _t(
        ("质量", "spec", S, 0),
        "质量|正品|保质期|生产日期|有效期|味道|口味|什么味|啥味|口感|手感|质感|脚感|做工",
        "区别|不一样|哪个好|哪个更好|推荐哪|选哪|差在哪|差别|对比|比起来|有什么不同|啥不一样",
        "什么牌子|啥牌子|哪个牌子|品牌|型号|什么品种|啥品种|品种|等级|年份|配方",
        "试色|上身效果|上脚|实拍|降噪|续航|待机|蓝牙|兼容|适配|功率|电池",
        "真空|无糖|含糖|热量|添加剂|防腐剂|新茶|新货|今年的|陈货|香味|气味|甜度|辣度",
        "产地|哪里产|厂家|国产|进口|纯银|镀金|电子版|纸质|精装|平装|版本|结团|除臭|掉毛",
        "快充|无线充|内存|像素|摄像头|处理器|国行|港版|全新|翻新|二手|官翻|原装|接口|type-c|typec|usb",
        "档位|几档|噪音|静音|吸力|转速|电压|插头|充电头|遥控|定时|分辨率|防水等级|ip#|nfc|#g|wifi",
        "支持(快充|闪充|无线|#g|nfc|蓝牙|wifi|防水|鸿蒙|苹果|安卓|华为|小米|type-c|typec|usb|内存卡|tf卡|扩展"
        "|投屏|语音|app|连手机|ios|定制|刻字)|支不支持",
        "童装|男款|女款|男女款|男女同款|款式|几款|哪款|哪种|哪几种|几种|新款|老款|旧款|去年的款|今年的款",
        "色号|什么颜色|几个颜色|几种颜色|哪个颜色|颜色有|什么色|哪个色|几个色|别的颜色|其他颜色|别的色",
        "(有没有|有|没有)[白黑红蓝绿粉紫灰黄棕咖卡米杏藏]色|[白黑红蓝绿粉紫灰黄棕咖卡米杏藏]色(有|有没有|有吗|的有)",
        "拼音|注音|彩图|插图|纸张|印刷|字体|页数|几本|全套|音频|最新版|中英|双语",
        "证书|鉴定|检测报告|检测|质检|发黑|调节|活口|延长链",
        "能效|跑多远|能跑多|什么馅|啥馅|馅料|几种馅|保冷|保鲜|刻字|定制|印字|印logo",
        "种水|水头|冰种|糯种|有棉|纹裂|圈口|手围|[abc]货|天然翡翠|包含|包括|含不含|包不包|国标|新国标|标准|"
        "添加|零基础|学得会|能学会|好学|难学|几年的|年份|礼盒装|礼品装|袋装|罐装|瓶装|桶装|箱装|"
        "哪里生产|在哪生产|哪生产|哪产|什么地方产|通用|互通|假一赔|假一罚|保真|包真|正品保证|"
        "中文说明|中文版|中文界面|有中文|(这|那)(件|款|个|条|双|套|种)叫(什么|啥)",
        "(能|可以|能不能|可不可以)调(节|长短|大小|松紧|高低|角度)?|无香|无香型|无味|无香精|什么茶|啥茶|"
        "帮我选|帮忙选|帮我挑|帮忙挑|推荐一个|推荐一款",
        "谷物|无谷|适口性|肉含量|主食罐|零食罐|幼猫|成猫|幼犬|成犬|大型犬|小型犬",
        "新米|明前|雨前|现做|现摘|现杀|现炒|现烤|手工|纯手工|散养|野生|养殖|有机食品|有机的|是有机|无添加|独立包装|"
        "散装|盒装|"
        "真空包装",
        "干嘛用|干什么用|有什么用|有啥用|什么用|做什么用|用来干嘛|用来做什么|是什么东西|是啥东西|有什么功能",
        "效果|功效|作用|性价比|值得买|值得入|值不值|值吗|能入|可以入|推荐吗",
        "一套包括|包括哪些|包含哪些|里面有什么|里面有啥|都有什么|都有啥",
        "是一对|是一只|一对还是|单只|几件套|几个装|几支装|几片装|几包装",
        "(带|含|配|附)(不带|不含)?(充电头|充电器|数据线|电池|盖子|说明书|手提袋|袋子|盒子|礼盒|吸管|刷头|"
        "滤芯|遥控|支架|配件|耳堵|链子|证书|发票)|带不带|配不配|有没有配",
    ),
    _t(
        # evaluative properties: a question about them is a spec question, a
        # statement of them is praise (质量不错, 好用)
        ("质量", "spec", S, ADJ),
        "好用|好吃|好穿|好洗|好打理|好清洗|好清理|难洗|难打理|好收纳|好安装|好组装|好拆|好养|好种|好剥|"
        "耐用|实用|结实|牢固|起球|起毛|掉色|褪色|缩水|透气|保暖|防水|防滑|防晒指数",
        "显瘦|显胖|显白|显黑|显高|显矮|显腿长|遮肉|遮胯|显壮|宽松|弹力|弹性|加绒|加厚|舒服|扎人|闷脚|磨脚",
        "夹脚|挤脚|打脚|硌脚|掉跟|变形|起皱|透光|遮光|隔热|隔音|防霉|防潮|防蛀|甲醛|异味|塑料味|锋利",
        "新鲜|控油|保湿|补水|美白|提亮|祛痘|淡斑|祛斑|抗老|抗衰|去屑|防脱|止痒|持妆|定妆|卡粉|浮粉|搓泥",
        "假白|拔干|闷痘|致痘|刺激|温和|清爽|油腻|黏腻|起皮|晕染|脱妆|掉妆|沾杯|显色|滋润|乳化|留香|持久",
        "流油|起沙|入味|筋道|有嚼劲|多汁|水分|个头|分量|份量|甜不甜|酸不酸|脆不脆|糯不糯|沙不沙|面不面",
        _PROP_PRE + _PROP_ROOT,
    ),
    _t(
        ("质量", "spec", W, 0),
        "(会|不会|很|太|偏|有点|是)?" + _ADJ + "(吗|么|嘛)",
        "(会|不会)" + _ADJ + "吧|" + _ADJ + "[的得](吗|嘛|么)",
        "(会不会|是不是|会)(太|很|偏|有点)" + _ADJ,
        _ADJ_ANA,
        _CTX + "(太|很|有点)?" + _ADJ_CTX + "(吗|么|嘛|不)?",
        "(" + _ANA_PROP + ")",
        "(臭|腥|油|腻|苦|涩|酥|糯|嫩|柴|潮|扎|闷|勒|晃|吵|响|亮|暗|黏|粘|滑|烫|冰|凉|硌|沉)(吗|么|嘛|不)",
        "是(纯|正品|正版|正装|原装|原味|原厂|原版|国行|国产|国货|进口|天然|野生|手工|全新|全棉|实木|实心)",
        "是(真|新|活|现)(皮|丝|金|银|牛肉|羊肉|货|品|款|鲜|做|摘|杀|炒|的吗|的么|的嘛)",
        "(能|可以)(看|看看|看下|看一下)(细节|背面|侧面|里面|内里|实物|做工|材质|面料|包装|上身|效果|底部|内部|"
        "尺寸|大小|颜色|logo|标签|吊牌|成分|配料|生产日期|日期)",
        "展示|细节|特写|近一点|近点|拉近|背面|侧面|反面|内里|实物|拆开|打开看看|上身|试色|试戴|试用|演示",
    ),
    _t(
        ("尺码", "spec", S, 0),
        "大一码|小一码|大一号|小一号|大一个码|小一个码",
        "(能|可以)穿|穿得下|穿不下|能穿吗|可以穿吗|穿着(显|会)",
    ),
    _t(
        ("数量", "spec", W, 0),
        _NUM + _UNIT_W + "|几[包张片支袋盒瓶粒罐本]",
        "#(cm|厘米|公分|kg|公斤|斤|ml|mm|毫米|升|l|g|克|寸|瓦|w|mah|毫安)",
    ),
    _t(("质量", "spec", W, 0), "屏幕|屏幕多大"),
    _t(
        ("口味", "spec", W, 0),
        "原味|香辣|麻辣|五香|蒜香|酱香|奶香|咸蛋黄|抹茶|芝士|黑椒|孜然|椒盐|甜辣|微辣|中辣|特辣|不辣|无辣",
    ),
    _t(("质量", "spec", VW, WEAK), "热不热|冷不冷|凉不凉|暖不暖|暖和吗|烫不烫|冰不冰"),
    _t(("颜色", "spec", VW, WEAK), "颜色|[白黑红蓝绿粉紫灰黄棕咖卡米杏藏]色|纯白|花色|图案"),
    _t(("包装", "spec", VW, WEAK), "包装|盒子|带盖|带盖子|盖子"),
    _t(("配件", "spec", W, 0), "带(盆|土|盒子|电池|充电器|说明书|包装盒|配件|滤芯|刷头|赠品|支架)"),
    _t(("质量", "spec", S, 0), "防(猫|狗|宠物)抓|防抓"),
    _t(("用法", "usage", W, 0), "接线|布线|走线|包安装|上门安装|自己接|自己装"),
    _t(
        ("用法", "usage", S, Q),
        "(男|女)(的|生|士|孩|人)?(能|可以)(用|穿|戴|吃|喝)|能养|好养|难养|怎么养|养得活|过安检",
        "(去|在)(哪|哪里|哪儿)(看|听|学|上课)|怎么看课|课在哪",
        "怎么(煎|炸|焖|卤|拌|腌|涮|录入|配对|录指纹)|(煎|炸|焖|炖|炒)(几|多少|多久)",
    ),
    _t(("型号", "spec", S, Q), "能装吗|能装不|装得上吗|装得上不|适配吗|兼容吗|通用吗|适不适配|能不能装"),
    _t(("身材", "spec", VW, WEAK), "身高|体重|胖|瘦|个子|腿粗|大腿|胸大|肩宽|脚背|脚宽|脚肥|腰粗|小肚子"),
    _t(("数量", "spec", VW, WEAK), _NUM + _UNIT_VW),
    # a named product is a topic, but only for an explicit question (see QuestionScorer.analyze)
    _t(("商品", "spec", W, ANCHOR), _PRODUCTS),
    _t(("商品", "spec", P, ANCHOR), _GOODS, _DEIXIS),
    _t(("商品", "spec", HINT, ANCHOR), "这个|那个|这种|那种|这些|这是|那是|它"),
    _t(("商品", "spec", HINT, ANCHOR | Q), "怎么样|咋样|如何|好不好|行不行|可以吗|能行吗|合适吗|适合吗"),
    # ---- usage --------------------------------------------------------------
    _t(
        ("用法", "usage", S, Q),
        "怎么用|咋用|如何用|怎么使用|用法|使用方法|说明书|如何使用|使用说明",
        "怎么吃|咋吃|怎么洗|怎么穿|怎么搭|怎么泡|怎么煮|怎么做|怎么喝|怎么冲|怎么涂|怎么敷|怎么抹",
        "怎么装|怎么安装|怎么戴|怎么保存|怎么存|怎么加热|怎么弄|咋弄|怎么开|怎么关|怎么调|怎么拆|怎么清洗",
        "怎么保养|怎么喂|怎么充|怎么连|怎么搭配|怎么折|怎么收|怎么放|怎么储存|怎么熨|怎么蒸|怎么烤|怎么解冻",
        "能用吗|可以用吗|能吃吗|可以吃吗|能不能用|能不能吃|能喝吗|可以喝吗|能戴吗",
        "一天几次|用多久|吃多久|能洗吗|可以洗吗|能机洗|可以机洗|多久用一次|多久敷一次|多久换",
        "用得来|会用吗|好操作|难操作|操作复杂|复杂吗|好不好用|好不好穿|好不好吃|难不难",
        "适合几岁|适合多大|几岁(能|可以)|(能|可以)(戴|带)着|戴着(洗澡|睡觉|游泳)",
        "(能|可以|能不能|可不可以)" + _USE_V,
        "(要|需要|得|用不用|需不需要|要不要)(放冰箱|冷藏|冷冻|加热|熨|插电|安装|组装|解冻|消毒|保养|自己装|"
        "另外买|单独买|洗了再|先洗)",
        "(喂|挤|涂|抹|倒|冲|泡|煮|蒸|烤|加热)(多少|多久|几)|(用|吃|喝|放)(多少|几)(克|次|勺|粒|片|包|袋|天|分钟|ml|毫升|量)",
        "一次(用|吃|喝|放|挤|涂|抹|倒|喂)|一天(用|吃|喝|喂)(几|多少)",
        "注意什么|注意事项|先用|后用|使用顺序|用的顺序|不会用|不会弄|怎么操作|如何操作",
        "怎么(下载|注册|激活|绑定|连接|设置|打开|关闭|拆|装|组装|拼|折|收|挂|贴|切|剥|吃法|做法|处理|浇|养|"
        "种|打理|清理|去除|去掉|除|消毒|存放|搭|系|绑|调|充电|配对|开机|关机|启动|使用|兑)",
        "怎么换(电池|滤芯|刷头|表带|芯|头|壳|膜|砂|水|内胆|灯泡)",
        "(需要|要不要|用不用|要)(洗茶|醒茶|醒|浸泡|焯水|解冻|充电|激活|开光|磨合|预热|开锅|泡开)",
        "第一次(泡|用|洗|穿|喝|吃|充电|使用|开)",
        "预约|要排队|需要排队|排队吗|人多吗|能带(小孩|孩子|宠物|狗|老人)|换粮|过渡|看得懂|能看懂|听得懂|"
        "几年级(看|用|读|学|能|适合|合适)",
        "(需要|要|用不用|要不要)(工具|另外买|另外配|单独买|自己买|打孔|钻孔|电池)",
    ),
    _t(
        ("用法", "usage", S, 0),
        "(能|可以)(用|吃|洗|机洗|水洗|放冰箱)",
        "送人|送礼|送长辈|送老人|送男朋友|送女朋友|送妈妈|送爸爸|送朋友|送老师|送孩子|当礼物",
        "(跑步|爬山|徒步|健身|游泳|上班|通勤|户外|露营|开车|骑车|办公|学习|打游戏|做饭|煲汤|新手|学生)"
        "(能|可以|穿|用|合适|行)",
    ),
    _t(("用法", "usage", W, 0), "看不懂|弄不好"),
    _t(("用法", "usage", VW, WEAK), "适合"),
    _t(
        ("用法", "usage", W, 0),
        "孕妇|孕期|哺乳期|宝宝能|小孩能|儿童能|老人能|过敏|刺激|糖尿病|高血压|血压高|三高|减肥|备孕|月子",
        "敏感肌|油皮|干皮|混油|混干|油性|干性|闷痘|长痘|爆痘|痘痘肌|头皮敏感",
        "保存|冷藏|冷冻|机洗|手洗|水洗|干洗|安装|取下|冰箱|微波炉|洗碗机|电磁炉|燃气灶|明火|烤箱|加热",
    ),
    _t(("用法", "usage", VW, WEAK), "男生|女生|男士|女士|男的能|女的能|老人|小孩|儿童|宝宝|孩子|学生党|新手"),
    # ---- shipping -----------------------------------------------------------
    _t(
        ("发货", "shipping", S, Q),
        "发什么|发哪|(什么|啥|神马)时候?(能|可以)?(发|寄)|啥时发|几时发|时候发火",
        "几号(能)?(发|到)|几天(能)?(发|到)|多久(能)?(发|到|收)",
        "(能|可以)(今天)?发(货)?吗|发货了吗|发了吗|发了没|寄了吗|发不发|寄不寄|能寄吗|能发吗",
        "(当天|当日|次日|隔天|今天|明天)(能|可以)?发(吗|不|货吗)|(能|可以)(当天|当日|次日|隔天)发",
    ),
    _t(("发货", "shipping", W, 0), "来得及|赶得上|赶不上|着急用|急用|等着用|上门"),
    _t(
        ("到货", "shipping", S, Q),
        "能到|几天到|多久到|啥时候到|什么时候到|哪天到|到得了|到的了|到不了|能不能到",
        "到了吗|到没|到了没|送到哪|到哪了|到哪里|到哪儿",
        "能收到|(什么|啥)时候(能)?收到|几天(能)?收到|多久(能)?收到|收到了吗",
    ),
    _t(
        ("到货", "shipping", S, SOLO | COMPLAINT),
        "还没到|还没发|还没寄|没发货|没收到|收不到|还不发|还不到|没动静|没物流|没有物流",
        "显示派送|丢件|丢了|被别人签|别人签|被签收|被人拿|没有我的件|没我的件|找不到我的|拦截|被退回",
        "没更新|不更新|没动|不动了|一直不动|滞留|拒收|一直在中转|待揽收|待发货|显示异常|物流异常",
        "改地址|改下地址|修改地址|换地址|地址改|忘改|备注地址|地址填错|地址写错|地址错了|改(个|一下)?收货",
        "改(个|一下)?电话|改成公司|改(个|一下)?收件|催(一下|下)?(发货|快递|物流|单)|催发货|催一下",
        "送错|送到别人|送到隔壁|投错|放错|寄丢|送到邻居|送到别的|查不到|查不了|查询不到",
        "找不到地址|找不到人|送不到|不到我们|我们这不到|这边不到|不派送|不配送|自己去拿|自己去取|让我自己拿",
    ),
    _t(
        ("到货", "shipping", W, COMPLAINT),
        "打不通|联系不上|不接电话|不送上门|不送货|没通知|不通知|没打电话|不打电话",
    ),
    _t(
        ("到货", "shipping", W, 0),
        "显示签收|已签收|派送了|放门口|门口|快递柜|丰巢|一直显示|异常|物流卡住|快递卡住|卡住不动|卡在",
    ),
    # how long it has been: a complaint about whatever else the comment names
    _t(
        ("到货", "shipping", W, SOLO | COMPLAINT),
        _NUM + "天了|等" + _NUM + "天|等了" + _NUM + "天|快一(个)?(礼拜|星期|周)|一个(礼拜|星期)了",
    ),
    _t(
        ("快递", "shipping", S, 0),
        "快递|快第|快地|物流|单号|运单|包裹|站点|驿站|自提|自取",
        "时效|加急|偏远|港澳台|揽收|揽件|在途|中转|派件|快递员|配送|到付|货到付款|冷链|送货上门",
        "仓库|贺卡|写卡片|留言卡|代写",
        "顺丰|圆通|中通|申通|韵达|百世|汇通|极兔|ems|邮政|德邦|京东快递|发京东|京东物流|天天快递",
    ),
    _t(
        ("快递", "shipping", VW, WEAK),
        "新疆|西藏|青海|内蒙|海南|香港|澳门|台湾|国外|海外|乡下|村里|农村|县城|镇上",
    ),
    _t(
        ("发货", "shipping", S, 0),
        "哪里发货|从哪发|哪发货|发货地",
        "发货|发或|(今天|明天|后天|今日|马上)(能|可以)?发|寄|预售|现在拍",
        "(晚点|早点|先|一起|合并|分开|晚几天|过几天)(发|寄)|合并发货",
    ),
    _t(("运费", "shipping", S, 0), "运费|邮费|包邮|运费险|另外出|包油|邮飞|运飞"),
    _t(("发货", "shipping", S, Q), "发吗|寄吗|发不发货|fahuo"),
    _t(("到货", "shipping", W, 0), "放(门卫|门口|快递柜|驿站|物业|传达室)"),
    _t(
        ("发货", "shipping", S, SOLO),
        "先别发|别发了|暂时别发|暂时不要发|晚点再发|(下周|下周一|过几天|过两天|月底|周末|月初)(再)?发",
        "延迟发货|推迟发货|别急着发|(电话|手机号|号码|收件人|名字|姓名|门牌号)(写|填)错",
        "改一下地址|改个地址|地址改一下|地址要改|修改一下地址|换个地址|(别|不要|不用)打电话",
    ),
    _t(("到货", "shipping", W, 0), "收货|到货|送货|送到|签收|地址|这么久|那么久|多久|路上|化掉|化了"),
    # ---- after-sales --------------------------------------------------------
    _t(
        ("退换", "after_sales", S, SOLO),
        "退款|退货|退钱|退我|换货|退换|售后|七天无理由|7天无理由|无理由|退单",
        "取消订单|取消退|能取消|可以取消|不想要了|被取消|包赔|赔吗|包退|赔不|怎么赔",
        _MODAL_TUI + "退",
        "(能|可以)换(吗|么|不)|能不能换(货|码|一个|个码|颜色)",
        "换个?(码|尺码|颜色)|包换|换个新|换新的|换一个新|给我换一个|重发|重新发|补一个|补给我|退差价",
        "退货地址|寄回|退回去|退回来|退运费|要专票|要发票|要开票|要收据",
    ),
    _t(("退换", "after_sales", W, 0), "换成|换小|换大|刚买(一周|一个月|几天|#天|没几天)"),
    _t(
        ("问题", "after_sales", S, SOLO | COMPLAINT),
        "(起球|掉色|褪色|变形|坏|烂|破|缩水|开胶|皱|脏|碎|掉毛)成这样",
        "包活|包成活|死了(咋办|怎么办|包赔|包换|包退|能赔|赔吗)|死苗|烂根|到了就死|到了死了",
        "(用|吃|涂|擦|抹|戴|穿|喝)了?(就|后)?过敏|坏掉了|(左耳|右耳|左边|右边|一边|耳机|音箱|音响)(没|没有)声(音)?",
        "(颜色|大小|长短|尺码|两只|两个)不一样|一只深一只浅|不是一对|叶子(全|都)?(黄|枯|掉)了|蔫了|到了(就)?(死|蔫)",
    ),
    _t(
        ("问题", "after_sales", S, SOLO | COMPLAINT),
        "漏发|少发|发少|错发|发错|补发|少了一|少了个|缺了|少一|少了#|少了[两三几]|只到了|只收到|拿错|寄错|发成",
        "破损|坏了|烂了|碎了|碎的|是碎|破了|裂了|裂开|有裂|漏了|漏液|瘪了|压扁|压坏|变形了|洒了|撒了|都干了",
        "变质|变味|过期|发霉|假货|质量问题|有问题|生虫|有虫|长毛|异物|有线头|破洞|有洞|个洞|污渍|怪味|臭了",
        "日期是去年|生产日期是去年|去年生产|去年的货|临期|快过期",
        "拧不紧|关不紧|盖不紧|一直漏|老是漏|会漏|碎成|成渣|碎渣|是空的|空盒|空包|"
        "个口子|有口子|裂口|缺口|磕了|磕坏|磕掉|凹了|凹进去|鼓包|泡水了|都泡了|被泡|泡坏|受潮|发潮|融化|脏了|"
        "(盒|箱|包装|快递|里面|东西)(子)?(都)?湿|(有股|一股)(味|怪|臭|霉|烟|塑料|酸|馊)|霉味|烟味|臭味|"
        "一只大一只小|一大一小|大小不一|一边没声|一边不响|只退了|退了一半|少退|多扣|扣了我|乱扣",
        "(味道|颜色|尺码|大小|数量|重量|型号|款式|图案|花色)(好像|有点|也)?不(太)?对",
        "(关|拧|盖|扣|拉|合|插|装|塞|充|连|打|按|推|转|调|升|降|折|卷|收|拆|洗|擦|刷|穿|戴)不(严|紧|上|进|开|动|"
        "掉|下去|干净|起来|出来|进去|了电)",
        "(走时|测的|测得|显示|称的|量的|定位|计步|温度)(也|都)?不准|误差(很|太)?大|有缝|缝隙大|漏光|坏点|亮点|"
        "蔫了|化了|染了|串色|把别的|夹生|糊了|哈喇|放久了|不新鲜|有个坑|有坑|一个坑|有头发|头发丝|虫子|一道裂|有裂纹|裂纹|掉涂层|涂层掉|"
        "重复扣|扣了两次|多扣钱|扣钱了|钱扣了|付款失败|支付失败",
        "不好用|用不了|不能用|坏的|破的|有破|有坏|是旧的|收到旧的|使用痕迹|被用过|别人用过|被拆过|退回来的",
        "投诉|申诉|差评|骗子|骗人|欺骗|赔偿|客服(怎么|让|说|不|没)",
        "开胶|开线|脱线|掉漆|生锈|漏水|漏气|异味|色差|瑕疵|污渍|划痕|差好多|不一致",
        "断了|没反应|充不进|死机|就不行了|就没电|就不亮|就不转|不通电|不制冷|不加热|不出水|不亮了|不转了",
        "连不上|打不开|关不上|开不了机|装不上|装不进|插不进|按不出|按不动|失灵|报错|漏电|发烫|异响",
        "货不对板|不符|(味道|颜色|尺码|码|货|数量)不对|和图片不一样|跟图片不一样|不是我买的|不是我要的",
        "过敏了|起疹子|红肿|烂脸|拉肚子|吃了就吐|吃了吐|吃完吐|质量(这么|太|也太|好|真)差",
        "退款(到账|没到|处理|拒绝|驳回|被拒)|处理中|没人处理|不处理|客服(不|没|一直不|都不)回",
    ),
    _t(("问题", "after_sales", W, 0), "客服|定金|处理一下|处理下|核实|通过一下|审核"),
    _t(("问题", "after_sales", VW, WEAK), "说好的|承诺的|答应的|答应我的"),
    _t(
        ("保修", "after_sales", S, 0),
        "保修|维修|质保|三包|发票|开票|专票|普票|电子发票|抬头|税号|补偿|退运费|保修卡|延保|收据|凭证|理赔",
    ),
    _t(("问题", "after_sales", VW, WEAK), "怎么办|怎么处理|咋办|怎么回事|是不是坏了|是不是过期"),
]

# Constructions that overlap terms, matched on the normalised text in a pass of
# their own (real regexes). Each frame is tried only when its trigger is in the
# text: one search for all the triggers tells which frames are worth a pass.
Frame = tuple[str, str, str, float, int, str]  # label, pattern, intent, weight, flags, trigger
_NOT_END = "[^,.!?，。]"
# 还是 between two options (直筒还是阔腿), not the adverb (还是那么, 还是个, 还是不)
_OR = (
    "还是(?!个|那么|这么|很|挺|太|不|没|要|会|在|有点|有些|一样|老样子|"
    + "算了|觉得|喜欢|想|得|比较|蛮|这样|那样)"
)
_FRAMES: Final[list[Frame]] = [
    (
        "尺码",
        r"(?<![a-z])(?:x{0,4}[sml]|\d{2,3})码?还是(?:x{0,4}[sml]|\d{2,3})(?![a-z])",
        "spec",
        S,
        Q,
        r"还是",
    ),
    ("尺码", r"(?:身高|体重)\d*" + _NOT_END + r"{0,6}(?:穿|码)", "spec", S, 0, r"身高|体重"),
    ("尺码", "还有" + _NOT_END + "{0,4}(?:码|色|款)", "spec", S, 0, r"还有"),
    ("数量", "[一每][箱盒包袋套件份]" + _NOT_END + "{0,3}几", "spec", W, 0, r"几"),
    ("款式", "没有" + _NOT_END + "{1,6}的(?:吗|嘛|么)", "spec", VW, WEAK, r"没有"),
    ("款式", "(?:给我|要|来)" + _NOT_END + "{1,6}的吧", "spec", VW, WEAK, r"的吧"),
    ("质量", "(?:有|是)" + _NOT_END + "{0,4}的(?:吗|嘛|么)", "spec", HINT, WEAK, r"的[吗嘛么]"),
    # a choice between two variants: 是鸭绒还是鹅绒, 直筒还是阔腿的, 散装还是盒装
    (
        "款式",
        r"是" + _NOT_END + r"{1,6}" + _OR + "|" + _NOT_END + _OR + _NOT_END + r"{1,6}的",
        "spec",
        W,
        0,
        r"还是",
    ),
    (
        "款式",
        r"(?P<same>" + _NOT_END + r")" + _OR + _NOT_END + r"{0,4}(?P=same)(?![^,.!?])",
        "spec",
        W,
        0,
        r"还是",
    ),
    ("品牌", r"是[a-z]{2,}的?(?:吗|嘛|么)", "spec", S, 0, "是[abcdefghijklmnopqrstuvwxyz]"),
    # sizing from the body: 我160 110, 43的脚, 腰二尺四
    (
        "尺码",
        r"\d{2,3}(?:斤|kg|cm)?,?\d{2,3}(?:斤|kg)?,?(?:x{0,3}[sml]|\d{2})?码?的?(?:穿|选|拍|买|行|可以|合适|够|能穿)",
        "spec",
        S,
        0,
        "#",
    ),
    ("福袋", "618|双11", "promo", VW, WEAK, r"618|双11"),
    # 隔壁才79: a cheaper price elsewhere is a haggle
    (
        "价格",
        "(?:别家|隔壁|别人家|旗舰店|超市|外面|实体店|官网)" + _NOT_END + r"{0,6}才\d",
        "price",
        S,
        SOLO,
        "才",
    ),
    # 套餐含机票吗: what the price includes
    ("配件", "(?:含不含|包不包含|包含|含)" + _NOT_END + "{1,5}(?:吗|么|嘛|不)", "spec", S, Q, "含"),
    # 报课送资料吗: asking what comes free
    (
        "赠品",
        "(?:报|买|拍|下单|订)"
        + _NOT_END
        + "{0,3}送(?!人|礼|长辈|老人|女朋友|男朋友|对象|老婆|老公|妈|爸|朋友|孩子|领导|客户|闺蜜|同事|给)"
        + _NOT_END
        + "{1,6}(?:吗|么|嘛)",
        "promo",
        S,
        Q,
        "送",
    ),
    (
        "问题",
        "(?:用|(?:穿|戴|洗|吃|开|装|泡|充|放)(?:了|过)?)"
        + _NOT_END
        + "{0,6}就(?:坏|不亮|不转|没反应|没电|掉|不通电|不响|裂|断|开胶|开线|脱|变形|褪|起球|破|漏|烂|臭|化)|"
        + "用(?:了)?"
        + _NOT_END
        + "{0,5}就不行",
        "after_sales",
        S,
        SOLO | COMPLAINT,
        r"就",
    ),
    (
        "问题",
        "(?:收到|实物|到货|到手|到了|拿到)"
        + _NOT_END
        + "{0,12}(?:不(?:一样|对|符)|是坏|是破|是旧|是小|是大|少了|过期|是空|错了|发错|坏了|破了|烂了|漏了"
        + "|是漏|漏的)",
        "after_sales",
        S,
        SOLO | COMPLAINT,
        r"收到|实物|到货|到手|到了|拿到",
    ),
    ("问题", r"买的是" + _NOT_END + r"{1,10}收到的?是", "after_sales", S, SOLO | COMPLAINT, r"买的是"),
    (
        "问题",
        r"(?:实际|实物|称了|量了|到手)" + _NOT_END + r"{0,6}(?:才|只有|不到|少了)\d",
        "after_sales",
        S,
        SOLO | COMPLAINT,
        r"实际|实物|称了|量了|到手",
    ),
    (
        "问题",
        "(?:跟|和|与)(?:图片|图|直播间|直播|描述|详情|宣传|页面|视频|样品|说明书|介绍|你说的|主播说的|上次|之前)"
        + _NOT_END
        + "{0,6}(?:不一样|不一致|不符|差|不同)",
        "after_sales",
        S,
        SOLO | COMPLAINT,
        "[跟和与]",
    ),
]


def expand(spec: str, limit: int = 50_000) -> list[str]:
    """All literals of a tiny pattern language: ``a|b``, ``(…)``, ``[abc]``, ``x?``.

    ``\\`` escapes the next character. No ranges, no repeats: the point is a
    finite set of literals for the trie.
    """
    pos = 0

    def alt() -> list[str]:
        nonlocal pos
        out = seq()
        while pos < len(spec) and spec[pos] == "|":
            pos += 1
            out = out + seq()
        return out

    def seq() -> list[str]:
        nonlocal pos
        out = [""]
        while pos < len(spec) and spec[pos] not in "|)":
            ch = spec[pos]
            pos += 1
            if ch == "(":
                opts = alt()
                if pos >= len(spec) or spec[pos] != ")":
                    raise ValueError(f"unbalanced ( in {spec!r}")
                pos += 1
            elif ch == "[":
                end = spec.index("]", pos)
                opts = list(spec[pos:end])
                pos = end + 1
            elif ch == "\\":
                opts = [spec[pos]]
                pos += 1
            else:
                opts = [ch]
            if pos < len(spec) and spec[pos] == "?":
                pos += 1
                opts = [*opts, ""]
            out = [a + b for a in out for b in opts]
            if len(out) > limit:
                raise ValueError(f"{spec[:30]!r}… expands to more than {limit} literals")
        return out

    result = alt()
    if pos != len(spec):
        raise ValueError(f"unbalanced ) in {spec!r}")
    return [s for s in dict.fromkeys(result) if s]


class _Node(dict[str, "_Node"]):
    """A trie node: next character → node; the key ``""`` marks the end of a word."""


def trie_regex(words: Iterable[str]) -> re.Pattern[str]:
    """One regex matching any of ``words``, leftmost-longest, shaped as a trie.

    A flat alternation tries every word at every position; the trie tries one
    branch per distinct next character, which keeps a scan near a microsecond.
    """
    root = _Node()
    for word in words:
        node = root
        for ch in word:
            node = node.setdefault(ch, _Node())
        node[""] = _Node()

    def emit(node: _Node) -> str:
        alts = [re.escape(ch) + emit(child) for ch, child in sorted(node.items()) if ch]
        if not alts:
            return ""
        body = alts[0] if len(alts) == 1 else "(?:" + "|".join(alts) + ")"
        if "" in node:  # greedy optional: the longer word wins
            body = "(?:" + body + ")?"
        return body

    if "" in root:  # the empty word: everything is optional
        return re.compile(emit(root))
    # the root's branches stay bare, each led by its literal, so a search skips ahead in C
    top = [re.escape(ch) + emit(child) for ch, child in sorted(root.items())]
    return re.compile("|".join(top) or "(?!)")


Meta = tuple[str, str, float, int]  # label, intent, weight, flags

# Spelling variants every literal also matches: chat writes 怎么 as 肿么/怎木,
# 什么 as 神马/啥子, 没有 as 木有, 这个 as 介个, and 吗 as 嘛. Expanded when the
# lexicon is compiled, so they cost nothing per comment.
_VARIANTS: Final = (
    ("怎么", ("肿么", "怎木")),
    ("什么", ("神马", "啥子", "甚么")),
    ("没有", ("木有", "莫有")),
    ("这个", ("介个", "这各")),
)


def _variants(literal: str) -> list[str]:
    out: list[str] = []
    for old, news in _VARIANTS:
        if old in literal:
            out.extend(literal.replace(old, new) for new in news)
    if literal.endswith("吗") and len(literal) > 2:
        out.append(literal[:-1] + "嘛")
    return out


# The characters that start the most words in everyday chat (and many literals).
_FREQUENT_CHARS: Final = (
    "的一是不了在人有我这个们来上大到说要就会可也你对能那得下过发后用道"
    "多么去都没看天还好吗吧呢啊想买钱号少什几点给"
)


class Lexicon:
    """Literal → meta, and a scanner finding them leftmost-longest, non-overlapping.

    The scan looks for the next character that starts some literal (one
    character class, searched in C), then matches the rest of the literals
    starting with that character (a trie-shaped regex per first character,
    compiled the first time that character turns up). That keeps a comment
    without any term — most chit-chat — near a microsecond, however large the
    lexicon grows, and building a lexicon nearly free.
    """

    __slots__ = ("_first", "_rest", "_tails", "table")

    def __init__(self, table: dict[str, Meta], base: Lexicon | None = None) -> None:
        self.table = table
        tails: dict[str, list[str]] = {}
        for literal in table:
            tails.setdefault(literal[0], []).append(literal[1:])
        self._tails = {ch: frozenset(rest) for ch, rest in tails.items()}
        self._rest: dict[str, re.Pattern[str]] = {}
        if base is not None:
            # an extended lexicon shares the compiled sub-tries where nothing was added
            for ch, pattern in base._rest.items():
                if self._tails.get(ch) == base._tails[ch]:
                    self._rest[ch] = pattern
        # A frequent character (我, 的, 是) starts some literal, yet is rarely
        # followed by a second character any literal allows: checking that
        # second character inside the regex saves most of the hops that fail.
        seconds: dict[str, set[str]] = {}
        for literal in table:
            seconds.setdefault(literal[0], set()).add(literal[1:2])
        guarded = [ch for ch in _FREQUENT_CHARS if ch in seconds and "" not in seconds[ch]]
        plain = "".join(re.escape(ch) for ch in sorted(seconds) if ch not in guarded)
        branches = [f"[{plain}]"] if plain else []
        for ch in guarded:
            branches.append(re.escape(ch) + "(?=[" + "".join(map(re.escape, sorted(seconds[ch]))) + "])")
        self._first = re.compile("|".join(branches) or "(?!)")

    def _compile(self, ch: str) -> re.Pattern[str]:
        tails = self._tails[ch]
        pattern = self._rest[ch] = trie_regex(tails) if any(tails) else re.compile("")
        return pattern

    def extended(self, extra: dict[str, Meta]) -> Lexicon:
        """This lexicon plus ``extra`` (which wins where both have a literal)."""
        return Lexicon({**self.table, **extra}, base=self)

    def scan(self, text: str) -> list[str]:
        """The literals in ``text``, left to right (the longest at each start)."""
        out: list[str] = []
        first = self._first.search
        rest = self._rest
        pos = 0
        while (m := first(text, pos)) is not None:
            start = m.start()
            pattern = rest.get(text[start])
            if pattern is None:
                pattern = self._compile(text[start])
            tail = pattern.match(text, start + 1)
            if tail is None:
                pos = start + 1
            else:
                pos = tail.end()
                out.append(text[start:pos])
        return out


def _compile(entries: Iterable[Entry]) -> Lexicon:
    table: dict[str, Meta] = {}
    for label, spec, intent, weight, flags in entries:
        for literal in expand(spec):
            table.setdefault(literal, (label, intent, weight, flags))
    for literal, meta in list(table.items()):
        for variant in _variants(literal):
            table.setdefault(variant, meta)
    return Lexicon(table)


_COMPILED: list[Lexicon] = []


def _compiled() -> Lexicon:
    """The built-in lexicon, compiled once per process (a fraction of a second)."""
    if not _COMPILED:
        _COMPILED.append(_compile(_LEXICON))
    return _COMPILED[0]


class _Frames:
    """The frames, and one scan for their triggers that tells which to try.

    A trigger is a small literal pattern (``收到|到货``, ``的[吗嘛么]``); ``#``
    stands for any digit. Frames whose trigger is absent cost nothing.
    """

    __slots__ = ("_by_trigger", "_digits", "_frames", "_gate")

    def __init__(self, entries: Iterable[Frame]) -> None:
        self._frames: list[tuple[re.Pattern[str], Meta]] = []
        by_trigger: dict[str, set[int]] = {}
        digits: set[int] = set()
        for i, (label, pattern, intent, weight, flags, trigger) in enumerate(entries):
            self._frames.append((re.compile(pattern), (label, intent, weight, flags)))
            for literal in expand(trigger):
                if literal == "#":
                    digits.add(i)
                else:
                    by_trigger.setdefault(literal, set()).add(i)
        self._by_trigger = {t: frozenset(frames) for t, frames in by_trigger.items()}
        self._digits = frozenset(digits)
        self._gate = trie_regex(by_trigger)

    def find(self, text: str, has_digit: bool) -> list[tuple[str, Meta]]:
        """Every frame's matches in ``text``, frame by frame."""
        todo: set[int] = set(self._digits) if has_digit else set()
        by_trigger = self._by_trigger
        for trigger in self._gate.findall(text):
            todo.update(by_trigger[trigger])
        if not todo:
            return []
        out: list[tuple[str, Meta]] = []
        for i in sorted(todo):
            pattern, meta = self._frames[i]
            out.extend((m.group(), meta) for m in pattern.finditer(text))
        return out


# The regexes below lead every alternative with a literal character: then
# ``re`` skips to the next possible first character in C instead of trying
# each alternative at each position, which makes a search several times
# faster. A shape that would lead with a group or a class is spelled out per
# word with :func:`_each`, and a look-behind moves after the literal it guards
# (``几(?<![这那]几)`` for ``(?<![这那])几``).


def _each(words: str, rest: str = "", *, not_after: str = "") -> str:
    """``w1rest|w2rest|…`` for ``(?:w1|w2|…)rest``, each optionally not after ``not_after``."""
    return "|".join(w + (f"(?<!{not_after}{w})" if not_after else "") + rest for w in words.split("|"))


# Questions: clause-final particles are checked separately.
_QWORDS: Final = re.compile(
    r"多少|几(?<![好前这那十]几)(?![十百千万乎])|什么(?!都)|神马|啥(?<!没啥)(?!都)|怎么(?!也|都)|肿么|咋|哪|如何|谁|"
    r"多[久大长高重厚宽粗深远]|能不能|可不可以|行不行|好不好|有没有|有木有|木有|是不是|会不会|要不要|"
    r"是否|能否|为啥|干嘛|干啥|怎样|请问|问一下|问下|想问|是吗|对吗|是嘛|对吧|是吧|是指|意思|不是有|吗"
)
# A-not-A (好不好, 有没有) with any A: no literal to lead with, so tried only when 不/没 is there
_A_NOT_A: Final = re.compile(r"(.)[不没]\1")
_REQUEST: Final = re.compile(
    r"求|想要|我要|要个|要一|还要|给我(?!妹|妈|爸|哥|姐|弟|老公|老婆|女儿|儿子|[^,]{0,2}了)|"
    r"帮我(?!妹|妈|爸|哥|姐|弟|老公|老婆|女儿|儿子|[^,]{0,2}了)|帮忙|"
    r"麻烦(?:你|您|帮|给|亲|一下|下|看|查|处理|改|发|尽快|快|备注)|记得|希望|安排|上个|上一下|快上|赶紧|来个|来一|"
    r"发个|发一下|发下|给个|给一|给大家|能不能|请(?<!申请)(?!问)|备注|申请(?!了)|处理|讲一下|讲讲|介绍一下|试一下|试穿|"
    r"展示|看下|看一下|看看|催(?:一下|下|快递|发货|物流|单|催)|帮我催|给我催|补发|重发|可否|能否|讲下|说下|说一下|讲一讲|介绍介绍|发我|发给我|告诉我"
)
_COMPLAIN: Final = re.compile(
    r"还没|怎么还|太慢|这么慢|好慢|超慢|慢死|这么久|那么久|等了|骗|坑|差评|投诉|失望|醉了|到底|搞什么|"
    r"怎么回事|什么情况|不提醒|不回|没人回|天了(?<=[\d一二两三四五六七八九十几半]天了)|一直|老是|总是|到现在|"
    r"为什么还|为啥还|凭什么|说好|答应|承诺|天才|才到|才送到|才发|又和上次|又是这样|反复"
)
# Negative context: platform chit-chat (gifts, ranks, levels, age, weather)
# that borrows commerce words, and banter with the host as the merchandise or
# the viewer buying the host's things.
_NEG_WORDS: Final = (
    "抖币|音浪|钻石|礼物|打赏|火箭|嘉年华|小心心|灯牌|亲密度|开会员|会员等级|会员几级|抖音会员|榜|升级|未成年|充值|封号|限流|连麦|pk|"
    "人气票|投票|打票|刷票|上票|票数|总票|多少票|票了|唱歌|唱首|唱一首|点歌|守护|舰长|贵族|弹幕|禁言|房管|"
    "回放|美颜|滤镜|开播|下播|卡了|卡成|黑屏|掉线|闪退|发不了|听不到|听不见|"
    "直播间(卡|黑|闪|没声|打不开|进不去)|(wifi|网络|网|信号)(连不上|不好|卡|断|差)|"
    "天气|气温|下雨|下雪|(那边|那里|你们那)(热|冷|凉)|"
    "多大了|多大啦|几岁了|多少岁|年龄|年纪|(你|主播|美女|姐姐)的?(身高|体重)|"
    "播多久|播到几点|播几个小时|级别|谁送|"
    "(把|挂)(这个|那个)?(美女|主播|你|姐姐|小姐姐|老婆|老公|自己|他|她)|主播多少钱|(把|要把)(主播|你)买|"
    "你(要|想|也|会|去|还|可以|能)?买|我的钱|(借|给)(我)?(点)?钱|福利姬|没(多少)|"
    "房租|房价|房子|油价|工资(多少|高|低)|多少工资|一平|菜市场|菜价|"
    "(花了|花)多少钱|多少钱买的|买的多少钱|(主播|你)的?(背景|装修|沙发|家具|房子|车)|"
    "寄给你|给你寄|寄你的|送你的|给你买的|给主播(寄|买|送)|脑子|脑袋|记性|"
    "卖(了)?多少(单|件|个|钱了)|(一天|一个月|一年)(能)?(卖|发|赚)|发多少快递|赚多少|收入|"
    # the viewer's own day, gifts between people, the stream itself
    "打卡|第几天|几天假|明信片|新鲜感|你猜|谁懂|断了一下|卡了一下|画面|"
    "(男朋友|女朋友|老公|老婆|闺蜜|朋友|妈妈|爸爸|我妈|我爸)送的|"
    # indifference, a message meant for someone else
    "无所谓|不是发给你|发错人|发错群|"
    # the host as the goods: 拍下主播, 主播带回家, 陪聊
    "(拍下|拍个|送个|买个|买下|抱走|领走|娶)主播|主播(带回家|回家|我要了)|带回家|主播的链接|上主播|主播下的|"
    "陪聊|陪睡|陪玩|一斤的主播|主播一斤"
)
_NEG: Final = (
    trie_regex(expand(_NEG_WORDS)),
    re.compile(
        "|".join(
            (
                r"级(?<=[\d一二两三四五六七八九十]级)(?!能效|能耗|防水|果|品|棉|茶)",
                r"多少(?<!防水多少)(?<!能效多少)级|几(?<!防水几)(?<!能效几)级",
                r"票(?<=[\d一二两三四五六七八九十百千万几]票)|听不清(?!吗)",
                _each("你|主播|美女|小朋友|爷爷|奶奶|宝宝|老婆", r"[^,]{0,2}多大"),
                _each("主播|美女|老婆|老公|你", "(?:本人)?(?:多少钱|怎么卖|卖吗|卖不卖)", not_after="[这那]"),
                _each("谢谢|感谢", r"[^,]{0,6}的(?:墨镜|啤酒|玫瑰|跑车|火箭|小心心|嘉年华|花)"),
                _each("今天|外面|现在|那边|你们那", r"[^,]{0,2}(?:多少度|几度)"),
                _each("看|蹲|追|关注", r"了[\d一二两三四五六七八九十几]+天"),
                "再说(?![一下遍说清])",  # 试穿了再说: put off, not asked
                # the platform's membership, not a shop's (年卡会员, 会员价)
                "会员(?<!年卡会员)(?<!月卡会员)(?<!店铺会员)(?<!门店会员)(?!价|日|卡|专享|折扣)",
            )
        )
    ),
)
# Questions about the host's (or a viewer's) own life, body and habits: they
# use 多高/什么品种/穿多大 too, but nobody sells the answer.
_FAMILY_BODY = (
    "(?:男朋友|女朋友|对象|老公|老婆|孩子|儿子|女儿|宝宝|闺女|爸|妈|哥|姐|弟|妹|家人|猫|狗|头发|眉毛|牙|"
    "眼睛|脸|皮肤|身材|腿|脚|腰|个子|嗓子|名字|生日|星座|老家|房子|车|工资|收入|发型|指甲)"
)
_HABIT = (
    "(?:平时|自己|本人|最近|今天|昨天|现在|刚才|刚刚|还|也|都|又|经常|一般|每天|一天|不|没|要|会|能|直播){0,2}"
    "(?:会不会|能不能|想|要不要|喜欢|爱|在|去|是不是|是|吃|喝|睡|住|读|学|结婚|谈|打算|几岁|为什么|为啥|多高|"
    "多重|多少斤|几斤|平时|来得及|来|穿|戴|用的|用什么|用过|买过|化妆|做的|直播|播|减肥|身上的)"
)
_PERSONAL: Final = re.compile(
    "|".join(
        (
            "你(?!们)[^,]{0,3}" + _FAMILY_BODY,
            _each("你|主播", "的?(?:睫毛|鼻子|嘴唇|双眼皮|酒窝|手指|耳朵|声音|嗓音|美甲|纹身)"),
            "主播[^,]{0,3}" + _FAMILY_BODY,
            "你(?!们)" + _HABIT,
            _each("主播|姐姐|哥哥|老师|美女|帅哥", _HABIT),
            r"你[^,]{1,4}了(?:吗|没|么)|你[^,]{0,6}怎么[^,]{1,2}的",
        )
    )
)
# Closing a conversation: thanks, ok, solved. Said without a question, the
# commerce words in it (退款收到了, 已签收) need no answer.
# someone addressed: the host, a viewer, the shop (what _PERSONAL, _YOU and _SHOP_YOU look for)
_ADDRESS: Final = re.compile(r"[你您]|主播|姐|哥|老师|美女|帅")
# Viewers asking each other (楼上穿多大码, 有人买过吗, 用过的姐妹说说): the room may
# answer, but nobody asked it.
_AMONG_VIEWERS: Final = re.compile(
    "|".join(
        (
            "楼上|楼下",
            _each("有没有|有木有|有人|谁", "[^,]{0,3}(?:买|用|穿|吃|戴|试|养|喝)过"),
            _each("买|用|穿|吃|戴|养|喝", "过的(?:姐妹|家人|朋友|宝宝|宝子|人|友友|亲|说|来|吗|出来)"),
            "懂[^,]{1,4}的(?:说说|来|姐妹|家人|朋友|出来)",
            _each("姐妹们|家人们|宝子们|大家", "(?:觉得|说说|帮我看看|帮忙看看)"),
            # 谁买谁后悔, 怎么养都不死: said about the goods, asked of nobody
            _each("谁买|谁用|谁吃|谁穿", "谁"),
            "怎么[^,]{1,2}都(?:不|没)",  # not 怎么都不回 (why does nobody answer)
            # a price compared for fun: 买个壳比手机还贵
            "比(?!旗舰店|超市|别家|实体店|官网|外面|隔壁|去年|昨天|上次)[^,]{1,8}还(?:贵|便宜)",
            _each("谁有|大家", "[^,]{0,6}(?:哪个|什么牌|啥牌|分享|推荐)"),
            _each("姐妹们|家人们|宝子们", "[^,]{0,6}(?:你们|值得|值不值|推荐)"),
        )
    )
)
# The viewer's own mishap at home (我家猫把沙发挠烂了, 家里空调坏了): no order in it.
_OWN_MISHAP: Final = re.compile(r"(?:我家|家里|我的)[^,]{0,8}(?:坏了|烂了|碎了|破了|坏掉)")
_BOUGHT: Final = re.compile(r"收到|买的|买了|到货|刚买|你们|你家|客服|退|换|用了|拍的|下单|订单")
# Said as a joke: laughter, a sly emoji code (read from the raw text: the
# codes are gone from the normalised one).
# Laughter is everywhere in chat and costs a little; a joke said as one costs more.
_LAUGH: Final = re.compile(r"哈哈|hhh|笑死", re.I)
_JOKE: Final = re.compile(r"开玩笑|开个玩笑|逗你|\[(?:坏笑|偷笑|奸笑|doge|狗头|吃瓜|滑稽|阴险)\]", re.I)
# Settled: the buyer closes the matter (先这样, 不用管了, 钱退回来了, 完好无损);
# with no question in words, the commerce words in it need no answer.
_SETTLED: Final = re.compile(
    r"先这样|不用管了|不用了|没事了|撤销了|撤回了|完好无损|再找你|有问题再|已经好了|解决了|"
    r"钱退回来了|钱退了|钱到了|退款到了|到账了|收到退款|再想想|我想想|考虑一下|考虑考虑|我点了|点进去了|自己再看看|"
    r"我再看看|自己看看|纠结"
)
# The parcel is there: 已经拿到了, 收到货了, 终于到了.
_ARRIVED: Final = re.compile(r"终于|已经(?:拿到|收到|到了|签收|取了)|拿到了|收到了|收到货了|取到了|取了")
_ELSEWHERE: Final = re.compile(r"别家|别的店|其他店|别人家的|别的地方买|在别处")
_YOU: Final = re.compile(r"你(?!们|家|这|那)|主播")
_SHOP_YOU: Final = re.compile(
    _each("你们家|你们|你家|您家", "(?!的?(?:狗|猫|孩子|宝宝|儿子|女儿|老公|老婆|人|里|住|在|那边|装修))")
    + r"|你这(?!么|样)|你那(?:个|款|件|种)"
)
_CLOSURE: Final = re.compile(
    r"谢谢|感谢|多谢|辛苦|麻烦你了|麻烦了|知道了|明白了|没事了|不用了|解决了|好评|点赞|收到了|改好了|已经好了|那行|行吧|"
    r"那好吧|那算了|算了|凑合|那等等|等等吧|再等等|那就等|拿到了|"
    # at the start of a clause only
    + _each("好的|好滴|好嘞|好吧|嗯嗯|哦哦|ok", not_after="[^,.!?]")
)
# Having bought it before, or praising it: a statement, even with a "?".
_EXPERIENCE: Final = re.compile(
    r"买过|用过|吃过|穿过|戴过|回购|之前买|上次|以前|从来|每次|一直买|一直用|在用|第.次买|已经用|"
    r"用了[^,]{0,4}(?:了|个月|年|天|次)"
)
_PRAISE: Final = re.compile(
    r"不错|很好|挺好|真好|超好|好好|太好|满意|喜欢|推荐|还行|还可以|棒|赞|良心|实惠|一般般|没毛病|放心|"
    r"绝了|绝绝子|yyds|爱了|真香|太方便|真方便|很方便|"
    + _each("很|挺|真|超|太|好|蛮", "(?:好用|好吃|好看|好穿|舒服|划算|值|香|甜|软|便宜)")
)
# Done already: 我已经拍了, 链接我已经分享了 — nothing to answer about it.
_DONE: Final = re.compile(
    r"已经|已(?:拍|付|下单|买|签收|收到|申请|领)|我拍了|我买了|我下单了|拍好了|下好单|收藏了"
)
_DONE_INTENTS: Final = frozenset({"link_stock", "promo", "price"})
_PRICE_Q: Final = re.compile(r"多少钱|多钱|什么价|啥价")
_POLITE_START: Final = ("亲", "你好", "您好", "请问", "在吗", "老板", "客服")
_ITEM_ID: Final = re.compile(r"\d{9,13}")
# What may follow a clause-final particle: vocatives, interjections, laughs.
_TRAILERS = (
    "小姐姐|姐姐|小哥哥|哥哥|宝宝|宝贝|亲亲|家人们|主播|老板|美女|帅哥|老师|姐妹们|姐妹|姐|哥|亲|"
    "哈|呀|啊|哦|喔|呢|嘿|嘻|额|捏|吖|诶|~|!|.|。|，|,|…"
)
_TRAIL: Final = re.compile("(?:" + "|".join(map(re.escape, _TRAILERS.split("|"))) + ")+$")
# a clause can only have a trailer when it ends with one of these
_TRAIL_LAST: Final = frozenset(w[-1] for w in _TRAILERS.split("|"))
_CLAUSE_SPLIT: Final = re.compile(r"[,.!;~，。！；、…\s]+")
_COMPLAINABLE: Final = frozenset({"shipping", "after_sales", "price"})
# intents a viewer asks the seller about, whoever "you" is
_SELLER: Final = frozenset({"price", "promo", "link_stock", "shipping", "after_sales"})
_END_STRONG: Final = frozenset("吗么?")
_END_MID: Final = frozenset("不没嘛")
_NOT_MA: Final = ("什么", "怎么", "这么", "那么", "多么", "要么", "干么")

# a choice between options (直筒还是阔腿), for the question strength
_CHOICE: Final = re.compile(_OR)
# what the frames may find in a comment without any term: a choice, a brand
_SLOW: Final = re.compile(r"还是|是[a-z]{2,}|才\d|送|含")


def _question_strength(norm: str) -> tuple[float, bool]:
    """How much the text asks (0–1), and whether it says so in words.

    A bare "?" asks (1.0) but is not *explicit*: "质量不错??" is praise.
    """
    asks = _QWORDS.search(norm) is not None or (
        ("不" in norm or "没" in norm) and _A_NOT_A.search(norm) is not None
    )
    best = 0.9 if asks else 0.0
    explicit = best > 0.0
    for clause in _CLAUSE_SPLIT.split(norm):
        if not clause:
            continue
        core = (_TRAIL.sub("", clause) or clause) if clause[-1] in _TRAIL_LAST else clause
        last = core[-1]
        if last in _END_STRONG:
            if last == "么" and core.endswith(_NOT_MA):
                continue
            if last == "?":
                best = 1.0
                continue
            return 1.0, True
        if (
            last in _END_MID
            or core.endswith(("没有", "了没", "是吧", "对吧", "是嘛"))
            or _CHOICE.search(core, 1)
        ):
            best = max(best, 0.8)
            explicit = True
        elif last == "吧":
            best = max(best, 0.8 if "不会" in core or "没有" in core else 0.6)
            explicit = True
        elif clause[len(core) : len(core) + 1] == "呢" or last == "呗":
            best = max(best, 0.6)  # 赠品呢, 发一个呗
            explicit = True
        elif "吧" in core:
            best = max(best, 0.5)
            explicit = True
    return best, explicit


# Spam: URLs, contact details, ads (the group name is the reason).
_SPAM: Final = re.compile(
    r"(?P<url>https?://|www\.|\.(?:com|cn|net|top|xyz|vip|cc)(?![a-z]))|"
    r"(?P<contact>微信|威信|薇信|v信|vx|wx|加v|加微|\+v|扣扣|qq|企鹅号|私聊我|私信我|加我|(?<!\d)1[3-9]\d{9}(?!\d))|"
    r"(?P<ad>代理|兼职|刷单|日赚|日结|招募|引流|涨粉|互粉|互关|接广告|看我主页|进群|加群|群号)"
)


# --------------------------------------------------------------------------
# results
# --------------------------------------------------------------------------


class Analysis(msgspec.Struct, frozen=True, gc=False):
    """What the text alone says about one comment."""

    flag: bool
    intent: str | None
    score: float
    #: labels of the matched terms for ``intent``, the strongest first (``("尺码", "数量")``)
    terms: tuple[str, ...] = ()
    #: normalised text
    norm: str = ""

    @property
    def key(self) -> str:
        """Grouping key: the intent and its strongest term, so variants share a card.

        几号链接 / 链接在哪 / 求链接 all give ``link_stock:链接``.
        """
        if self.intent is None:
            return self.norm
        return self.intent + ":" + (self.terms[0] if self.terms else "")


_NOTHING: Final = Analysis(False, None, 0.0)


class Scored(msgspec.Struct, frozen=True, gc=False):
    """A text analysis with the score adjusted for who asks and what is on air."""

    analysis: Analysis
    score: float
    reasons: tuple[str, ...]


# --------------------------------------------------------------------------
# the scorer
# --------------------------------------------------------------------------

_APPAREL: Final = re.compile(
    r"衣|裙|裤|外套|羽绒|卫衣|t恤|衬衫|鞋|靴|袜|文胸|旗袍|西装|夹克|毛衣|针织|马甲|大衣|睡衣|泳衣"
)
_FOOD: Final = re.compile(r"枣|核桃|零食|茶|肉|干|坚果|饼|面|米|糕|酱|果|奶|酒|粽|虾|蟹|鱼|蛋")
_SIZE_LABELS: Final = frozenset({"尺码", "大小", "材质", "质量"})
_FOOD_LABELS: Final = frozenset({"质量", "用法", "大小"})


class QuestionScorer:
    """Text → :class:`Analysis` (text only), and context → adjusted score."""

    def __init__(self, config: QuestionConfig | None = None, *, memo: int = 8192) -> None:
        """``memo``: how many distinct texts to remember (0: none). Floods repeat
        themselves (上链接 ×200), so a repeat costs one dict lookup."""
        self.config = config = config or QuestionConfig()
        self._memo: dict[str, Analysis] = {}
        self._memo_size = memo
        self.threshold = config.threshold
        self._lex = _compiled()
        extra: dict[str, Meta] = {}
        for intent, words in config.extra_keywords.items():
            if intent not in INTENTS:
                raise ValueError(f"unknown intent {intent!r} in extra_keywords")
            for word in words:
                if w := normalize(word):
                    extra[_DIGITS.sub("#", w)] = (w, intent, S, 0)
        for words in config.product_keywords.values():
            for word in words:
                if w := normalize(word):
                    extra.setdefault(_DIGITS.sub("#", w), ("商品", "spec", W, WEAK))
        if extra:
            self._lex = self._lex.extended(extra)
        self._frames = _Frames(_FRAMES)
        self._product_re: dict[str, re.Pattern[str]] = {}
        for pid, words in config.product_keywords.items():
            norm_words = sorted({normalize(w) for w in words} - {""}, key=len, reverse=True)
            if norm_words:
                self._product_re[pid] = re.compile("|".join(map(re.escape, norm_words)))

    # -- text only --

    def analyze(self, text: str) -> Analysis:
        """Flag, intent and text score of one comment. Never looks at context."""
        memo = self._memo
        found = memo.get(text)
        if found is None:
            found = self._analyze(text)
            if self._memo_size:
                if len(memo) >= self._memo_size:
                    memo.clear()  # cheaper than LRU bookkeeping; a flood refills it at once
                memo[text] = found
        return found

    def _analyze(self, text: str) -> Analysis:
        norm = _prep(text)
        lex = self._lex
        keyed = _digit_key(norm)
        found = lex.scan(keyed)
        if not found and _SLOW.search(norm) is None:
            # the fast path: no commerce term at all
            return Analysis(False, None, 0.0, (), norm) if norm else _NOTHING
        # three of a unit (哈哈哈, 链接链接链接) repeat at least two characters
        collapsed = _REPEAT.sub(r"\1", norm) if len(norm) - len(set(norm)) >= 2 else norm
        if collapsed != norm:
            norm = collapsed
            keyed = _digit_key(norm)
            found = lex.scan(keyed)
        table = lex.table
        weights: dict[str, float] = {}
        last_pos: dict[str, int] = {}
        labels: dict[str, list[str]] = {}
        strongest: dict[str, float] = {}
        solo: set[str] = set()
        plain: set[str] = set()  # intents with a strong term that is neither an anchor nor evaluative
        named: set[str] = set()  # intents with a term that is not an anchor
        inherent_q = complains = False
        complaint: set[str] = set()  # intents named by a strong complaint
        covered = n_terms = 0
        kill = 0.0
        matches: list[tuple[str, Meta]] = [(t, table[t]) for t in dict.fromkeys(found)]
        matches.extend(self._frames.find(norm, keyed is not norm))
        if "钱" in norm or "价" in norm:
            # 5号多少钱: a longer term may have taken 多少 before 钱
            pm = _PRICE_Q.search(norm)
            if pm is not None and all(meta[1] != "price" for _, meta in matches):
                matches.append((pm.group(), ("价格", "price", S, Q)))
        qtext = norm  # the text questions are read from: without the exceptions (在哪买的, 多大了)
        for pos, (term, (label, intent, weight, flags)) in enumerate(matches):
            if weight <= 0:
                kill += weight
                if flags & STOP:
                    qtext = qtext.replace(term, ",")
                continue
            if not flags & ANCHOR:
                named.add(intent)
                n_terms += 1
                covered += len(term)
                if weight >= S and not flags & ADJ:
                    plain.add(intent)
            weights[intent] = weights.get(intent, 0.0) + weight
            last_pos[intent] = pos
            lab = labels.setdefault(intent, [])
            if label not in lab:
                # the strongest term's label first; weak ones only as a last resort
                best = strongest.get(intent, 0.0)
                if weight > best:
                    strongest[intent] = weight
                    lab.insert(0, label)
                    if best < W:
                        del lab[1:]
                elif weight >= W:
                    lab.append(label)
            if flags:
                if flags & Q:
                    inherent_q = True
                if flags & SOLO:
                    solo.add(intent)
                if flags & COMPLAINT:
                    complains = True
                    if weight >= S:
                        complaint.add(intent)
        if not weights:
            return Analysis(False, None, 0.0, (), norm)
        if len(weights) == 1:
            intent = next(iter(weights))
            topic = min(1.0, weights[intent])
        else:
            # a complaint names the problem; other terms only describe it
            # a named topic beats one made of anchors only (讲讲那个保温杯 asks for the 讲解)
            intent = max(
                weights,
                key=lambda k: (k in named, weights[k] + 1.0 * (k in complaint), k in solo, last_pos[k]),
            )
            # Substance: the intent's own terms, plus half of what the others add.
            topic = min(1.0, weights[intent] + 0.5 * (sum(weights.values()) - weights[intent]))

        # How much does the comment ask?
        ask, explicit = _question_strength(qtext)
        # asked in words (a question word, 吗, ?) rather than by a term that asks by itself
        worded = ask >= 0.9 or "吗" in qtext or "?" in qtext
        if inherent_q or "吗" in qtext:
            ask, explicit = 1.0, True
        elif "?" in qtext:
            ask = 1.0
        praise = experience = False
        if not explicit:
            praise = _PRAISE.search(norm) is not None
            experience = _EXPERIENCE.search(norm) is not None
        if (intent not in named and (ask < 0.8 or not explicit)) or praise or experience:
            # 买过 质量不错?? is praise, not a question; 耳机?? / 买个新耳机吧 name a product, ask nothing
            ask = 0.0
        if ask < 0.9 and not praise and _REQUEST.search(qtext) is not None:
            ask = 0.9
        if ask < 0.8 and intent in _COMPLAINABLE and (complains or _COMPLAIN.search(norm) is not None):
            ask = 0.8
        if ask < 0.7 and intent in plain and n_terms == 1 and len(norm) <= 5 and covered * 3 >= len(norm) * 2:
            ask = 0.7  # a bare "尺码" / "包邮" / "链接" is a question in chat
        # Weak topics need both a question and enough substance.
        raw = 0.4 * topic + (0.45 * ask * min(1.0, topic / 0.5) if topic >= 0.5 else 0.0)
        if intent in solo:
            raw += 0.15
        if n_terms >= 3:
            raw += 0.05
        if norm.startswith(_POLITE_START) or norm.endswith("亲"):
            raw += 0.05
        if kill:
            raw += 0.3 * kill
        if _NEG[0].search(norm) is not None or _NEG[1].search(norm) is not None:
            raw -= 0.6
        elif keyed is not norm and _ITEM_ID.search(norm) is not None:
            raw += 0.05
        if (
            _ADDRESS.search(norm) is not None and _SHOP_YOU.search(norm) is None
        ):  # 你这拖鞋: "you" is the shop
            about_goods = intent in _SELLER and (strongest[intent] >= S or complains)
            if not about_goods and _PERSONAL.search(norm) is not None:
                raw -= 0.45  # 你多高啊, 你的狗是什么品种: the host's life, not the goods
            elif intent not in named and _YOU.search(norm) is not None:
                raw -= 0.45  # 你囤了几箱橙子: a product named in a question to the host
        if _AMONG_VIEWERS.search(norm) is not None:
            raw -= 0.6  # 楼上穿多大码, 有人买过吗
        if intent == "after_sales" and _OWN_MISHAP.search(norm) is not None and _BOUGHT.search(norm) is None:
            raw -= 0.45  # 家里空调刚好坏了: a story, not a complaint to the shop
        if not worded and _SETTLED.search(norm) is not None:
            raw -= 0.6  # 退款申请我撤销了, 那没事了
        if intent == "shipping" and not explicit and _ARRIVED.search(norm) is not None:
            raw -= 0.45  # 快递已经拿到了, 终于到了: the wait is over
        if intent == "after_sales" and _ELSEWHERE.search(norm) is not None:
            raw -= 0.45  # 在别家买的锅坏了: another shop's problem
        if ask < 0.8 and _CLOSURE.search(norm) is not None:
            raw -= 0.3  # 退款收到了谢谢
        if not explicit and ask < 0.8:
            if intent in _DONE_INTENTS and _DONE.search(norm) is not None:
                raw -= 0.25  # 链接我已经分享给我妹了
            if intent not in _COMPLAINABLE and experience:
                raw -= 0.3  # 买过 质量不错 (in shop chat 上次 often opens a complaint)
        if _JOKE.search(text) is not None:
            raw -= 0.45  # 包邮吗 我要了[坏笑]
        elif _LAUGH.search(text) is not None:
            raw -= 0.25  # 主播打几折哈哈哈 (这个多少钱啊哈哈 still asks)
        score = round(min(1.0, max(0.0, raw)), 3)
        return Analysis(score >= self.threshold, intent, score, tuple(labels[intent][:3]), norm)

    # -- with context --

    def score(
        self,
        analysis: Analysis,
        user: User | None = None,
        *,
        ordered: bool = False,
        on_air: ProductInfo | None = None,
        asked_by: int = 1,
    ) -> Scored:
        """Adjust the text score for who asks, what is on air and how many ask.

        The flag is not touched; the score stays in 0–1. Reasons start with the
        intent and its terms, then the context that raised the score.
        """
        reasons: list[str] = []
        if analysis.intent is not None:
            reasons.append(analysis.intent)
            reasons.extend(analysis.terms)
        base = analysis.score * 0.8
        bonus = 0.0
        if user is not None:
            if user.fan_level > 0:
                bonus += min(0.12, 0.01 * user.fan_level)
                reasons.append(f"fan lv {user.fan_level}")
            if user.pay_level > 0:
                bonus += min(0.08, 0.002 * user.pay_level)
                if user.pay_level >= 10:
                    reasons.append(f"pay lv {user.pay_level}")
            if user.is_new:
                bonus += 0.05
                reasons.append("new viewer")
        if ordered:
            bonus += 0.1 if analysis.intent in ("shipping", "after_sales") else 0.05
            reasons.append("ordered")
        if on_air is not None and analysis.intent in ("spec", "price", "link_stock", "usage", "promo"):
            title = normalize(on_air.title)
            hit = 0.03
            pr = self._product_re.get(on_air.id)
            if pr is not None and pr.search(analysis.norm) is not None:
                hit = 0.12
            elif (title and _shares_bigram(title, analysis.norm)) or (
                analysis.intent == "spec"
                and (
                    (_APPAREL.search(title) is not None and _SIZE_LABELS.intersection(analysis.terms))
                    or (_FOOD.search(title) is not None and _FOOD_LABELS.intersection(analysis.terms))
                )
            ):
                hit = 0.1
            bonus += hit
            if hit >= 0.1:
                reasons.append(f"on air: {on_air.title or on_air.id}")
        if asked_by > 1:
            bonus += min(0.2, 0.05 * math.log2(asked_by))
            reasons.append(f"asked by {asked_by}")
        return Scored(analysis, round(_soft_cap(base + bonus), 4), tuple(reasons))


def _soft_cap(x: float) -> float:
    """``x`` up to 0.9, then approaching 1 without reaching it.

    A plain ``min(1, x)`` makes every strong card 1.00 in a busy room, and the
    queue falls back to recency; this keeps the order among them.
    """
    if x <= 0.9:
        return max(0.0, x)
    return 0.9 + 0.1 * (1.0 - math.exp((0.9 - x) / 0.1))


def _shares_bigram(title: str, text: str) -> bool:
    for i in range(len(title) - 1):
        bg = title[i : i + 2]
        if bg.isdigit():
            continue
        if bg in text:
            return True
    return False


_default: QuestionScorer | None = None


def analyze(text: str) -> Analysis:
    """Text-only analysis with the default configuration."""
    global _default  # noqa: PLW0603
    if _default is None:
        _default = QuestionScorer()
    return _default.analyze(text)


# --------------------------------------------------------------------------
# spam
# --------------------------------------------------------------------------


def spam_reason(norm: str, banned: re.Pattern[str] | None, block_contacts: bool = True) -> str | None:
    """Why a (normalised) comment must stay out of the queue, or None."""
    if banned is not None and banned.search(norm) is not None:
        return SPAM_BANNED
    if block_contacts:
        m = _SPAM.search(norm)
        if m is not None:
            return m.lastgroup
    return None


# --------------------------------------------------------------------------
# grouping
# --------------------------------------------------------------------------


class QuestionCard(msgspec.Struct, kw_only=True, gc=False):
    """One question in the queue, however many viewers asked it."""

    key: str
    intent: str
    terms: tuple[str, ...]
    #: the first asker's text (cleaned), as the card's title
    text: str
    first_ts: float
    last_ts: float
    count: int = 0
    users: int = 0
    #: latest askers' names, newest last
    askers: list[str] = msgspec.field(default_factory=list)
    last_event_id: str = ""
    #: best per-ask score seen, and the card's priority (flood-raised)
    best: float = 0.0
    score: float = 0.0
    reasons: tuple[str, ...] = ()


class QuestionNote(Note, kw_only=True):
    """A flagged comment, and the card it was grouped into (one per flagged comment).

    ``group`` identifies the card: the UI updates the card in place, showing
    ``count`` ("几号链接 ×23"), ``askers`` and ``reasons`` joined with " · ".
    """

    kind: Literal["question"] = "question"
    event_id: str
    user_id: str = ""
    user: str = ""
    text: str
    score: float
    intent: str
    reasons: list[str]
    group: str
    group_text: str
    count: int
    askers: list[str]


class ClosedQuestion(msgspec.Struct, kw_only=True, frozen=True, gc=False):
    """A card the 场控 took out of the queue, as the post-show report lists it."""

    key: str
    state: Literal["answered", "dismissed"]
    #: when the 场控 decided (the engine's clock)
    t: float
    intent: str
    text: str
    count: int
    users: int
    score: float
    first_ts: float
    last_ts: float


class Hit(msgspec.Struct, frozen=True, gc=False):
    """What :meth:`QuestionTracker.observe` found for a flagged comment."""

    card: QuestionCard
    scored: Scored


_MAX_CARD_USERS: Final = 2_000  # distinct askers remembered per card (the count goes on)
#: seconds after "answered" during which asking the same question again joins nothing
ANSWER_QUIET: Final = 60.0
#: triage decisions kept for the report (the counters go on)
MAX_CLOSED: Final = 1_000


class QuestionTracker:
    """The question queue: scoring, spam filter, grouping, bounded memory.

    Feed it comments in time order (:meth:`observe`, or :meth:`handle` for any
    engine event). Spam — the same text again from the same user within
    ``repeat_window``, contact details, URLs, ads, banned words — is counted in
    :attr:`excluded` by reason and never reaches a card. A flagged comment
    joins the live card with the same :attr:`Analysis.key` or opens one;
    :meth:`queue` lists the cards by priority. Cards expire ``window`` seconds
    after their last ask; at most ``max_cards`` live (the stalest goes first).

    Triage: the 场控 takes a card out with :meth:`answer` or :meth:`dismiss`;
    both are counted (:attr:`answered`, :attr:`dismissed`, :attr:`closed`) for
    the post-show report. :attr:`version` changes whenever :meth:`queue` would
    (a view polls it to skip redrawing an unchanged queue).
    """

    def __init__(self, config: QuestionConfig | None = None, scorer: QuestionScorer | None = None) -> None:
        self.config = config = config or (scorer.config if scorer else QuestionConfig())
        self.scorer = scorer or QuestionScorer(config)
        words = [normalize(w) for w in config.banned_words if w.strip()]
        self._banned = (
            re.compile("|".join(map(re.escape, sorted(words, key=len, reverse=True)))) if words else None
        )
        self.cards: OrderedDict[str, QuestionCard] = OrderedDict()
        self._card_users: dict[str, set[str]] = {}
        self._last_text: OrderedDict[str, tuple[str, float]] = OrderedDict()
        self._ordered: OrderedDict[str, None] = OrderedDict()
        self.on_air: ProductInfo | None = None
        #: spam kept out of the queue, by reason
        self.excluded: dict[str, int] = {}
        self.seen = 0
        self.flagged = 0
        self.expired = 0
        #: bumped on every change to the cards (new ask, expiry, triage)
        self.version = 0
        #: cards the 场控 marked answered / dismissed, since the start
        self.answered = 0
        self.dismissed = 0
        #: flagged asks absorbed because their question was just answered or dismissed
        self.absorbed = 0
        #: the latest triage decisions, oldest first
        self.closed: deque[ClosedQuestion] = deque(maxlen=MAX_CLOSED)
        # card key -> time until which asking it again is absorbed
        self._quiet: OrderedDict[str, float] = OrderedDict()

    # -- context --

    def on_product(self, product: ProductInfo) -> None:
        if product.event == "pin":
            self.on_air = product
        elif product.event == "unpin" and self.on_air is not None and self.on_air.id == product.id:
            self.on_air = None

    def mark_ordered(self, user_id: str) -> None:
        od = self._ordered
        od[user_id] = None
        od.move_to_end(user_id)
        if len(od) > self.config.max_users:
            od.popitem(last=False)

    def has_ordered(self, user_id: str) -> bool:
        return user_id in self._ordered

    # -- input --

    def observe(self, event_id: str, text: str, ts: float, user: User | None = None) -> Hit | None:
        """Score one comment; a :class:`Hit` when it is a question for the queue."""
        self.seen += 1
        self.expire(ts)
        analysis = self.scorer.analyze(text)
        norm = analysis.norm
        reason = spam_reason(norm, self._banned, self.config.block_contacts) if norm else None
        if reason is None and user is not None and norm:
            reason = self._repeat(user.id, norm, ts)
        if reason is not None:
            self.excluded[reason] = self.excluded.get(reason, 0) + 1
            return None
        if not analysis.flag or analysis.intent is None:
            return None
        self.flagged += 1
        key = analysis.key
        if self._quiet:
            until = self._quiet.get(key)
            if until is not None:
                if ts < until:
                    self.absorbed += 1
                    return None
                del self._quiet[key]
        self.version += 1
        card = self.cards.get(key)
        if card is None:
            card = QuestionCard(
                key=key,
                intent=analysis.intent,
                terms=analysis.terms,
                text=text.strip(),
                first_ts=ts,
                last_ts=ts,
            )
            self.cards[key] = card
            self._card_users[key] = set()
            if len(self.cards) > self.config.max_cards:
                old, _ = self.cards.popitem(last=False)
                self._card_users.pop(old, None)
                self.expired += 1
        else:
            self.cards.move_to_end(key)
        card.count += 1
        card.last_ts = max(card.last_ts, ts)
        card.last_event_id = event_id
        users = self._card_users[key]
        uid = user.id if user is not None else ""
        if not uid:
            card.users += 1  # anonymous: every ask counts as a new asker
        elif uid not in users:
            if len(users) < _MAX_CARD_USERS:
                users.add(uid)
            card.users += 1
        name = (user.name or user.id) if user is not None else ""
        if name:
            askers = card.askers
            if name in askers:
                askers.remove(name)
            askers.append(name)
            if len(askers) > self.config.max_askers:
                del askers[0]
        scored = self.scorer.score(
            analysis,
            user,
            ordered=bool(uid) and uid in self._ordered,
            on_air=self.on_air,
            asked_by=card.users,
        )
        card.best = max(card.best, scored.score)
        # more asks keep raising the priority (×200 above ×50), never past 1
        card.score = round(_soft_cap(card.best + 0.05 * math.log2(card.count)), 4)
        card.reasons = scored.reasons
        return Hit(card, scored)

    def _repeat(self, user_id: str, norm: str, ts: float) -> str | None:
        last = self._last_text
        prev = last.get(user_id)
        last[user_id] = (norm, ts)
        last.move_to_end(user_id)
        if len(last) > self.config.max_users:
            last.popitem(last=False)
        if prev is not None and prev[0] == norm and ts - prev[1] <= self.config.repeat_window:
            return SPAM_REPEAT
        return None

    def expire(self, now: float) -> None:
        """Drop the cards nobody asked within ``window`` seconds."""
        horizon = now - self.config.window
        cards = self.cards
        while cards:
            key, card = next(iter(cards.items()))
            if card.last_ts >= horizon:
                break
            cards.popitem(last=False)
            self._card_users.pop(key, None)
            self.expired += 1
            self.version += 1

    def queue(self) -> list[QuestionCard]:
        """Live cards, highest priority first (ties: most recent first)."""
        return sorted(self.cards.values(), key=lambda c: (-c.score, -c.last_ts))

    # -- triage (the 场控's decisions) --

    def answer(self, key: str, now: float, *, quiet: float = ANSWER_QUIET) -> ClosedQuestion | None:
        """The host answered card ``key``: it leaves the queue. None when no such card.

        Viewers keep typing the question for a while after the answer (chat
        lags, and many typed before they heard it), so asks of the same
        question within ``quiet`` seconds are absorbed (:attr:`absorbed`)
        instead of reopening the card at once; after that a new ask opens a
        new card, since new viewers arrive and ask again.
        """
        return self._close(key, now, "answered", quiet)

    def dismiss(self, key: str, now: float, *, quiet: float | None = None) -> ClosedQuestion | None:
        """Card ``key`` is not worth answering: it leaves the queue. None when no such card.

        Asking it again stays out of the queue for ``quiet`` seconds (default:
        the card ``window``), so a flood of one unwanted question does not
        come straight back.
        """
        return self._close(key, now, "dismissed", self.config.window if quiet is None else quiet)

    def _close(
        self, key: str, now: float, state: Literal["answered", "dismissed"], quiet: float
    ) -> ClosedQuestion | None:
        card = self.cards.pop(key, None)
        if card is None:
            return None
        self._card_users.pop(key, None)
        if state == "answered":
            self.answered += 1
        else:
            self.dismissed += 1
        closed = ClosedQuestion(
            key=key,
            state=state,
            t=now,
            intent=card.intent,
            text=card.text,
            count=card.count,
            users=card.users,
            score=card.score,
            first_ts=card.first_ts,
            last_ts=card.last_ts,
        )
        self.closed.append(closed)
        if quiet > 0:
            self._quiet[key] = now + quiet
            self._quiet.move_to_end(key)
            while len(self._quiet) > self.config.max_cards:
                self._quiet.popitem(last=False)
        self.version += 1
        return closed

    # -- engine --

    def note(self, hit: Hit, event: Comment) -> QuestionNote:
        card = hit.card
        user = event.user
        return QuestionNote(
            t=event.ts,
            event_id=event.id,
            user_id=user.id if user else "",
            user=(user.name or user.id) if user else "",
            text=event.text,
            score=hit.scored.score,
            intent=card.intent,
            reasons=list(hit.scored.reasons),
            group=card.key,
            group_text=card.text,
            count=card.count,
            askers=list(card.askers),
        )

    def handle(self, event: Event) -> QuestionNote | None:
        """Feed any engine event; a note when it was a flagged comment."""
        if isinstance(event, Comment):
            hit = self.observe(event.id, event.text, event.ts, event.user)
            return None if hit is None else self.note(hit, event)
        if isinstance(event, Product):
            self.on_product(event.product)
        elif isinstance(event, Order) and event.user is not None and event.order.status != "refunded":
            self.mark_ordered(event.user.id)
        return None


def attach(engine: Engine, config: QuestionConfig | None = None) -> QuestionTracker:
    """Register a tracker on ``engine``: each flagged comment emits a :class:`QuestionNote`."""
    tracker = QuestionTracker(config)
    emit: Callable[[Note], None] = engine.emit

    def hook(event: Event) -> None:
        note = tracker.handle(event)
        if note is not None:
            emit(note)

    engine.on_event(hook)
    return tracker
