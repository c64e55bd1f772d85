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
emoji codes such as ``[捂脸]`` and runs such as 哈哈哈哈/？？？ collapsed;
digit runs read as ``#``). It is then scanned once for commerce *terms*: the
lexicon below is expanded into literals and compiled into one trie-shaped
regex, so a scan costs about a microsecond and a comment without any term —
most chit-chat — is rejected right there. Matching is leftmost-longest, and
exceptions are longer "stop" literals (多大了 is an age, not a size; 退网 is
not a refund). Each term carries an intent, a weight and flags: strong terms
(尺码, 快递, 优惠) need a question or a request; "standalone" terms (链接,
退款, 漏发, 太贵) are worth answering even said as a statement; weak terms (a
colour, 福袋, 想买) need a question *and* corroboration. Question markers
(吗/么 at a clause end, 不/没/嘛/吧 there, 多少/几/什么/怎么/哪/有没有/
能不能, A不A, "?"), request markers (求/要/给我/帮我/记得...), complaint
markers (还没/这么久/N天了/骗子) and negative context (platform chit-chat:
抖币/音浪/榜/票/级/age; banter about the host as merchandise) are weighed in.
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
)
_TRAD: Final[dict[int, int]] = {
    ord(_TRAD_PAIRS[i]): ord(_TRAD_PAIRS[i + 1]) for i in range(0, len(_TRAD_PAIRS), 2)
}

_EMOJI_CODE: Final = re.compile(r"\[[^\[\]]{1,8}\]")
_SPACES: Final = re.compile(r"\s+")
_WORD_GAP: Final = re.compile(r"(?<=[a-z0-9])\s+(?=[a-z0-9])")
# One pass: "哈哈哈哈" → "哈", "？？？" → "?", "链接链接链接" → "链接".
# Doubles are kept (天天快递, 看看, 谢谢).
_REPEAT: Final = re.compile(r"(.{1,4}?)\1{2,}")
_DIGITS: Final = re.compile(r"\d+(?:\.\d+)?")
_HAS_DIGIT: Final = re.compile(r"\d")
_TRAD_RE: Final = re.compile("[" + "".join(map(chr, _TRAD)) + "]")


def _prep(text: str) -> str:
    """Everything :func:`normalize` does except collapsing repeats (the fast path skips it)."""
    if text.isascii():
        return text.lower() if " " not in text else _SPACES.sub("", _WORD_GAP.sub(",", text.lower()))
    text = unicodedata.normalize("NFKC", text).lower()
    if _TRAD_RE.search(text) is not None:
        text = text.translate(_TRAD)
    if "[" in text:
        text = _EMOJI_CODE.sub(" ", text)
    if " " in text:
        text = _SPACES.sub("", _WORD_GAP.sub(",", text))
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

S, W, VW, HINT = 1.0, 0.5, 0.3, 0.2  # strong, weak, very weak, a hint
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
_ANA_PROP = "|".join(f"{a}不{a}" for a in "显浓香甜辣透暖冷闷勒扎滑亮")
_MODAL_TUI = "(能|可以|要|想|申请|怎么|给我|帮我|不给|不能|不)"
_NOT_REFUND = "(网|团|票|出|下|散|缩|役|休|群|步|回)"
_LINK = "(链接|连接|链结|练接|炼接|联接|lj)"

Entry = tuple[str, str, str, float, int]  # label, expansion, intent, weight, flags


def _t(meta: tuple[str, str, float, int], *parts: str) -> Entry:
    """An entry from (label, intent, weight, flags) and the parts of its expansion."""
    label, intent, weight, flags = meta
    return (label, "|".join(parts), intent, weight, flags)


# The label is what the UI shows ("spec · 尺码") and what groups questions
# into one card: variants of the same question share a label. ``expand``
# turns each expansion into literals; when two entries produce the same
# literal, the first one wins.
_LEXICON: Final[list[Entry]] = [
    # ---- exceptions ---------------------------------------------------------
    _t(
        ("", "", 0.0, STOP),
        "多大了|多大啦|多大岁|多大学|你多大|几岁了|ip地址|几点开播|几点下播|几点播|几点开始播",
        "怎么拍的|怎么拍视频|怎么拍照|什么时候到#|啥时候到#",
        "(穿|选|拍)(什么|啥|哪个)(都|也)",
        _MODAL_TUI + "退" + _NOT_REFUND,
        "(今天|明天|马上)(能|可以)?发(工资|红包)",
    ),
    # ---- negated requests ---------------------------------------------------
    _t(("-", "link_stock", KILL, 0), "(不要|不用|别|不需要|无需|甭)(上|发|给|要)?(链接|连接|福袋|券|优惠券)"),
    _t(("-", "price", -0.6, 0), "不贵|不便宜|没那么贵|没多贵"),
    # ---- price --------------------------------------------------------------
    _t(
        ("价格", "price", S, Q),
        "多少钱|多钱|几多钱|多少米|啥价|什么价|多少价|什么价位",
        "怎么卖|咋卖|卖多少|卖几|几折|打几折|贵不贵|一共多少|总共多少",
        "多少一(" + _UNITS[1:-1] + "|个)|(价格|价钱|价位)(多少|是多少|怎么样)",
        "(能|可以|能不能|再)便宜|便宜(多少|点|些|一点|吗|不)|优惠多少|减多少|几块一",
        "到手多少|到手价多少|(能|可以|再|能不能)少(点|一点|些)",
        "(拍|买)(#|两|三|几)?(件|个|份|单)?多少",
    ),
    _t(
        ("价格", "price", S, 0),
        "这个价|那个价|少点|少一点|抹零|零头|批发价|团购价|差价|保价|价保",
        "专属价|粉丝价|会员价|新人价|秒杀价|福利价|分期|花呗|白条|免息|信用卡",
    ),
    _t(("价格", "price", W, 0), "到手|一起拍|一起买"),
    _t(
        ("价格", "price", S, 0),
        "价格|价钱|价位|单价|原价|现价|到手价|活动价|直播价|特价|底价|最低价",
        "划算|折扣|打折|降价|改价|便宜|优惠|有惠|优会",
    ),
    _t(
        ("太贵", "price", S, SOLO | COMPLAINT),
        "太贵|好贵|更贵|贵了|这么贵|那么贵|有点贵|真贵|贵死|贵吗|贵啊",
        "涨价|不划算|没减",
    ),
    _t(("价格", "price", W, 0), "#(元|块|rmb)|¥#|(只需|只要|仅需|到手)#"),
    _t(("价格", "price", VW, WEAK), "几块|几块钱|一共|总共|合计"),
    # ---- promo --------------------------------------------------------------
    _t(
        ("优惠券", "promo", S, 0),
        "优惠券|券|[#元张个惠领]卷|满减|满#减|满多少|津贴|返现|折上折|免单",
        "优惠码|折扣码|新人价|新客|首单|拼单|团购",
    ),
    _t(
        ("买赠", "promo", S, SOLO),
        "买一送一|买" + _NUM + "送" + _NUM,
        "买" + _NUM + _UNIT_W + "(也|还|再|就)?送" + _NUM,
    ),
    _t(
        ("赠品", "promo", S, 0),
        "赠品|赠送|送什么|送啥|送不送|有送|能送|可以送|能不能送",
        "还送|也送|送吗|会送|送个|送两|第二件",
        "买" + _NUM + _UNITS + "?(也|还|再|就)?送",
    ),
    _t(("活动", "promo", S, 0), "活动|秒杀|福利|半价|抽奖|开奖|奖品|促销|关注送|关注有|送东西"),
    _t(
        ("福袋", "promo", S, Q),
        "福袋(在哪|什么时候|啥时候|几点|还有|怎么|是什么|里有什么|有什么)",
        "(发|来|开)(个|一个|一波)?福袋|(今天|明天|马上)(能|可以)?发福袋",
    ),
    _t(
        ("优惠券", "promo", S, Q),
        "[#元张个惠领]?(券|卷)(能|可以|怎么|咋)用|(能|可以)用(券|优惠券)|怎么用券",
    ),
    _t(("领取", "promo", S, Q), "怎么领|在哪领|哪里领|去哪领|怎么兑换|怎么参与|怎么抢"),
    _t(("福袋", "promo", W, 0), "红包雨|领取|兑换"),
    _t(("福袋", "promo", VW, WEAK), "福袋|红包|口令|聚划算|双十一|双#|抽到|中奖"),
    # ---- link / stock / ordering -------------------------------------------
    _t(
        ("链接", "link_stock", S, Q | SOLO),
        "(几号|哪个)" + _LINK + "|" + _LINK + "在哪",
        "(上|求|要|发|给)(个|一下|下)?" + _LINK + "|(几|多少)号(链接|宝贝)",
        "是几号|是哪个链接|(再|重新)?挂(一下|下|上|出来)|再挂|挂车|挂出来",
    ),
    _t(("链接", "link_stock", S, SOLO), _LINK + "|小黄车|黄车|购物车|橱窗"),
    _t(
        ("库存", "link_stock", S, Q),
        "还有吗|还有没有|有货吗|有现货吗|还上吗|还会上",
        "(什么|啥)时候(才)?(有|上|补|到货|返场)|几点(上|开抢|开卖|开拍|上架|上链接)",
        "(什么|啥)时候开(抢|卖|始卖)",
    ),
    _t(
        ("库存", "link_stock", S, 0),
        "库存|有货|没货|现货|缺货|补货|备货|断货|卖完|抢完|售罄",
        "上架|下架|限购|失效|还有货|有没有货|还能买|返场|再上|找不到|搜不到|没找到",
    ),
    _t(
        ("讲解", "link_stock", W, 0),
        "讲一下|讲讲|讲解|介绍一下|介绍下|过一下",
        "试穿一下|试一下|上身看看|上身试试|上身|试穿",
    ),
    _t(("讲解", "link_stock", VW, WEAK), _NUM + "号"),
    _t(("讲解", "link_stock", S, 0), _NUM + "号(宝贝|商品|产品)"),
    _t(
        ("怎么买", "link_stock", S, Q),
        "怎么买|咋买|在哪买|哪里买|去哪买|哪买|怎么下单",
        "怎么拍|咋拍|拍哪个|拍几号|买得到",
    ),
    _t(("怎么买", "link_stock", S, 0), "能买|可以买"),
    _t(
        ("下单", "link_stock", W, 0),
        "拍下|拍了|拍好了|已拍|下单|下了单|订单|订了|付款|付了款",
        "加购|再买|还要买|多买|数量|多少份",
    ),
    _t(("下单", "link_stock", VW, WEAK), "想买|要买|买个|几号"),
    # ---- spec ---------------------------------------------------------------
    _t(
        ("尺码", "spec", S, Q),
        "几码|什么码|多大码|多少码|啥码|哪个码|穿多大|穿几|几吗|尺吗|几个号|什么号|多大号|哪个号|几j",
        "(穿|选|拍)(什么|啥|哪个)(码|号|尺码)?",
    ),
    _t(
        ("尺码", "spec", S, 0),
        "码数|尺码|尺寸|选码|偏大|偏小|正码|大码|小码|码偏|#码",
        "(x|xx|xxx|xxxx|#x)?[sml]码|xl|xxl|xxxl|#xl",
        "穿(x|xx|xxx|#x)?[sml]|穿#码?",
    ),
    _t(
        ("大小", "spec", S, 0),
        "#米#|大小|多大|多长|多宽|多高|多重|多厚|规格|容量",
        "几斤|多少斤|几克|多少克|克数|多少毫升|几毫升|多少ml",
        "几升|多少升|几寸|多少寸|几瓦|多少瓦|几人|几个人用",
    ),
    _t(
        ("材质", "spec", S, 0),
        "材质|面料|什么料|啥料|纯棉|全棉|棉的|羊毛|羊绒|真丝|涤纶|含棉",
        "成分|配料|用料|真皮|什么做的|什么材料|啥材料|材料",
    ),
    _t(
        ("质量", "spec", S, 0),
        "质量|好用|好穿|好吃|耐用|起球|起毛|掉色|褪色|缩水|透气|保暖|防水",
        "显瘦|宽松|修身|弹力|加绒|加厚|舒服|扎人|闷脚",
        "正品|新鲜|保质期|生产日期|有效期|味道|口味|什么味|啥味|口感",
        "区别|不一样|哪个好|哪个更好|推荐哪|选哪",
        "什么牌子|啥牌子|哪个牌子|品牌|型号",
        "试色|上身效果|上脚|实拍|降噪|续航|待机|蓝牙|兼容|适配|功率|电池",
        "真空|无糖|含糖|热量|添加剂|防腐剂|新茶|新货|今年的|陈货|香味|气味|甜度|辣度",
        "产地|哪里产|厂家|国产|进口|纯银|镀金|电子版|纸质|精装|版本|结团|除臭|掉毛",
        "充电|快充|无线充|内存|屏幕|像素|摄像头|处理器|支持",
        "童装|男款|女款|男女|款式|几款|哪款|哪种|哪几种|几种",
        "色号|什么颜色|几个颜色|几种颜色|哪个颜色|颜色有|什么色|哪个色|几个色",
    ),
    _t(
        ("质量", "spec", W, 0),
        "(会|不会|很|太|偏|有点|是)?" + _ADJ + "(吗|么|嘛)",
        "(会|不会)" + _ADJ + "吧|" + _ADJ + "[的得](吗|嘛|么)",
        "(会不会|是不是|会)(太|很|偏|有点)" + _ADJ,
        _ADJ_ANA,
        _CTX + "(太|很|有点)?" + _ADJ_CTX + "(吗|么|嘛|不)?",
        "(" + _ANA_PROP + ")",
    ),
    _t(
        ("尺码", "spec", S, 0),
        "大一码|小一码|大一号|小一号|大一个码|小一个码",
        "(能|可以)穿|穿得下|穿不下",
    ),
    _t(
        ("数量", "spec", W, 0),
        _NUM + _UNIT_W + "|几[包张片支袋盒瓶粒罐]",
        "#(cm|厘米|公分|kg|公斤|斤|ml)",
    ),
    _t(("颜色", "spec", VW, WEAK), "颜色|[白黑红蓝绿粉紫灰黄棕咖卡米杏藏]色|纯白"),
    _t(("包装", "spec", VW, WEAK), "包装|盒子|带盖|带盖子|盖子"),
    _t(("身材", "spec", VW, WEAK), "身高|体重"),
    _t(("数量", "spec", VW, WEAK), _NUM + _UNIT_VW),
    _t(
        ("商品", "spec", VW, WEAK),
        "衣服|外套|裙子|裤子|鞋子|上衣|t恤|卫衣|毛衣|羽绒服|大衣|衬衫",
        "内衣|袜子|帽子|包包|面霜|口红|精华|面膜|粉底|洗面奶",
        "锅|杯子|保温杯|手机壳|耳机|充电宝|零食|茶叶",
    ),
    # ---- usage --------------------------------------------------------------
    _t(
        ("用法", "usage", S, Q),
        "怎么用|咋用|如何用|怎么使用|用法|使用方法|说明书",
        "怎么吃|咋吃|怎么洗|怎么穿|怎么搭|怎么泡|怎么煮|怎么做",
        "怎么装|怎么安装|怎么戴|怎么保存|怎么存",
        "能用吗|可以用吗|能吃吗|可以吃吗|能不能用|能不能吃",
        "一天几次|用多久|吃多久|能洗吗|可以洗吗|能机洗|可以机洗|多久用一次|多久敷一次",
        "用得来|会用吗|好操作|难操作|操作复杂|复杂吗|好不好用|好不好穿|好不好吃",
        "适合几岁|适合多大|几岁(能|可以)|(能|可以)(戴|带)着|戴着(洗澡|睡觉|游泳)",
    ),
    _t(("用法", "usage", S, 0), "(能|可以)(用|吃|洗|机洗|水洗|放冰箱)"),
    _t(("用法", "usage", VW, WEAK), "适合"),
    _t(
        ("用法", "usage", W, 0),
        "孕妇|宝宝能|小孩能|儿童能|老人能|过敏|刺激",
        "敏感肌|油皮|干皮|混油|混干|油性|干性|闷痘|长痘|爆痘",
        "保存|冷藏|冷冻|机洗|手洗|水洗|安装|取下",
    ),
    # ---- shipping -----------------------------------------------------------
    _t(
        ("发货", "shipping", S, Q),
        "发什么|发哪|(什么|啥)时候(能|可以)?(发|寄)",
        "几号(能)?(发|到)|几天(能)?(发|到)|多久(能)?(发|到|收)",
        "(能|可以)(今天)?发(货)?吗|发货了吗|发了吗|发了没|寄了吗",
    ),
    _t(
        ("到货", "shipping", S, Q),
        "能到|几天到|多久到|啥时候到|什么时候到|哪天到",
        "到了吗|到没|到了没|送到哪|到哪了|到哪里",
        "能收到|(什么|啥)时候(能)?收到|几天(能)?收到|多久(能)?收到|收到了吗",
    ),
    _t(
        ("到货", "shipping", S, SOLO | COMPLAINT),
        "还没到|还没发|还没寄|没发货|没收到|收不到|还不发|还不到",
        "派送了|显示派送|已签收|显示签收|丢件|丢了",
        "没更新|不更新|没动|不动了|卡住|滞留|拒收",
        "改地址|改下地址|修改地址|换地址|地址改|忘改|备注地址",
    ),
    # how long it has been: a complaint about whatever else the comment names
    _t(("到货", "shipping", W, SOLO | COMPLAINT), _NUM + "天了|等" + _NUM + "天|等了" + _NUM + "天"),
    _t(
        ("快递", "shipping", S, 0),
        "快递|快第|快地|物流|单号|运单|包裹|站点|驿站|自提|自取",
        "时效|加急|偏远|港澳台|揽收|揽件|在途|中转|派件|快递员|配送|到付|货到付款|冷链",
        "顺丰|圆通|中通|申通|韵达|百世|汇通|极兔|ems|邮政|德邦",
        "天天快递|京东快递|发京东|京东物流",
    ),
    _t(
        ("发货", "shipping", S, 0),
        "发货|发或|(今天|明天|后天|今日|马上)(能|可以)?发|寄|预售|现在拍",
        "(晚点|早点|先|一起|合并|分开)(发|寄)",
    ),
    _t(("运费", "shipping", S, 0), "运费|邮费|包邮|运费险|另外出|包油|邮飞|运飞"),
    _t(("到货", "shipping", W, 0), "收货|到货|送货|送到|签收|地址|这么久|那么久|多久"),
    # ---- after-sales --------------------------------------------------------
    _t(
        ("退换", "after_sales", S, SOLO),
        "退款|退货|退钱|退我|换货|退换|售后|七天无理由|退单",
        "取消订单|取消退|能取消|可以取消|不想要了|被取消|包赔|赔吗|包退",
        _MODAL_TUI + "退",
        "(能|可以)换(吗|么|不)|能不能换(货|码|一个|个码|颜色)",
        "换个?(码|尺码|颜色)|包换",
    ),
    _t(
        ("问题", "after_sales", S, SOLO | COMPLAINT),
        "漏发|少发|发少|错发|发错|补发|少了一|少了个|缺了|少一",
        "破损|坏了|烂了|碎了|碎的|是碎|破了|裂了|裂开|有裂|漏了",
        "变质|变味|过期|发霉|假货|质量问题|有问题",
        "不好用|用不了|不能用|坏的|破的|有破|有坏",
        "投诉|申诉|差评|骗子|骗人|欺骗|赔偿|客服(怎么|让|说|不|没)",
        "开胶|开线|脱线|掉漆|生锈|漏水|漏气|异味|色差|瑕疵|污渍|划痕",
        "断了|没反应|充不进|死机|就不行了|就没电|就不亮|就不转",
        "货不对板|不符|(味道|颜色|尺码|码|货|数量)不对|和图片不一样",
    ),
    _t(("问题", "after_sales", W, 0), "客服|定金|处理一下|处理下|核实"),
    _t(("保修", "after_sales", S, 0), "保修|维修|质保|三包|发票|开票|补偿|退运费"),
    _t(("问题", "after_sales", VW, WEAK), "怎么办|怎么处理"),
]

# Constructions that overlap terms, matched on the normalised text in a pass of
# their own (real regexes; every start position is tried).
_NOT_END = "[^,.!?，。]"
_FRAMES: Final[list[Entry]] = [
    ("尺码", r"(?<![a-z])(?:x{0,4}[sml]|\d{2,3})码?还是(?:x{0,4}[sml]|\d{2,3})(?![a-z])", "spec", S, Q),
    ("尺码", r"(?:身高|体重)\d*" + _NOT_END + r"{0,6}(?:穿|码)", "spec", S, 0),
    ("尺码", "还有" + _NOT_END + "{0,4}(?:码|色|款)", "spec", S, 0),
    ("数量", "[一每][箱盒包袋套件份]" + _NOT_END + "{0,3}几", "spec", W, 0),
    ("款式", "没有" + _NOT_END + "{1,6}的(?:吗|嘛|么)", "spec", VW, WEAK),
    ("款式", "(?:给我|要|来)" + _NOT_END + "{1,6}的吧", "spec", VW, WEAK),
    ("质量", "(?:有|是)" + _NOT_END + "{0,4}的(?:吗|嘛|么)", "spec", HINT, WEAK),
    ("福袋", "618|双11", "promo", VW, WEAK),
    (
        "问题",
        "用(?:了)?" + _NOT_END + "{0,5}就(?:不行|坏|不亮|不转|没反应|没电|掉)",
        "after_sales",
        S,
        SOLO | COMPLAINT,
    ),
    (
        "问题",
        "(?:收到|实物|到货|到手)" + _NOT_END + "{0,12}不(?:一样|对|符)",
        "after_sales",
        S,
        SOLO | COMPLAINT,
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

    return re.compile(emit(root) or "(?!)")


Meta = tuple[str, str, float, int]  # label, intent, weight, flags


def _compile(
    entries: Iterable[Entry],
) -> tuple[re.Pattern[str], dict[str, Meta]]:
    table: dict[str, Meta] = {}
    for label, spec, intent, weight, flags in entries:
        for literal in expand(spec):
            table.setdefault(literal, (label, intent, weight, flags))
    return trie_regex(table), table


_COMPILED: list[tuple[re.Pattern[str], dict[str, Meta]]] = []


def _compiled() -> tuple[re.Pattern[str], dict[str, Meta]]:
    """The built-in lexicon, compiled once per process (about 0.1 s)."""
    if not _COMPILED:
        _COMPILED.append(_compile(_LEXICON))
    return _COMPILED[0]


def _compile_frames(
    entries: Iterable[Entry],
) -> tuple[re.Pattern[str], list[Meta]]:
    parts: list[str] = []
    meta: list[Meta] = []
    for i, (label, pattern, intent, weight, flags) in enumerate(entries):
        parts.append(f"(?=(?P<f{i}>{pattern}))")
        meta.append((label, intent, weight, flags))
    return re.compile("|".join(parts)), meta


# Questions: clause-final particles are checked separately.
_QWORDS: Final = re.compile(
    r"多少|(?<![好前这那十])几(?![十百千万乎])|什么(?!都)|神马|(?<!没)啥(?!都)|怎么(?!也|都)|肿么|咋|哪|如何|谁|"
    r"多久|多大|多长|多高|多重|能不能|可不可以|行不行|好不好|有没有|有木有|木有|是不是|会不会|要不要|"
    r"是否|能否|为啥|怎样|请问|问一下|问下|想问|是吗|对吗|是嘛|对吧|是吧|是指|意思|不是有|[\?]|吗|"
    r"(.)[不没]\1"
)
_REQUEST: Final = re.compile(
    r"求|想要|我要|要个|要一|还要|给我|帮我|帮忙|麻烦|记得|希望|安排|上个|上一下|快上|赶紧|来个|来一|"
    r"发个|发一下|发下|给个|给一|给大家|能不能|可以|请(?!问)|备注|申请|处理|讲一下|讲讲|介绍一下|试一下|试穿"
)
_COMPLAIN: Final = re.compile(
    r"还没|怎么还|太慢|这么慢|好慢|超慢|慢死|这么久|那么久|等了|骗|坑|差评|投诉|失望|醉了|到底|搞什么|"
    r"怎么回事|什么情况|不提醒|不回|没人回|[\d一二两三四五六七八九十几半]+天了"
)
# Negative context: platform chit-chat (gifts, ranks, levels, age) that
# borrows commerce words, and banter with the host as the merchandise or the
# viewer buying the host's things.
_NEG: Final = re.compile(
    r"抖币|音浪|钻石|礼物|打赏|火箭|嘉年华|小心心|灯牌|亲密度|会员|榜|[\d一二两三四五六七八九十]+级|升级|"
    r"未成年|充值|封号|限流|连麦|pk|(?<!发)票|唱歌|唱首|唱一首|点歌|"
    r"(?:你|主播|美女|小朋友|爷爷|奶奶|宝宝|老婆)多大|多大了|多大啦|几岁了|多少岁|年龄|年纪|"
    r"(?:把|挂)(?:这个|那个)?(?:美女|主播|你|姐姐|小姐姐|老婆|自己|他|她)|"
    r"(?<![这那])(?:主播|美女|老婆|你)(?:本人)?(?:多少钱|怎么卖|卖吗|卖不卖)|"
    r"你(?:要|想|也|会|去|还|可以|能)?买|你(?:身高|体重)|我的钱|(?:借|给)(?:我)?(?:点)?钱"
)
_POLITE_START: Final = ("亲", "你好", "您好", "请问", "在吗", "老板", "客服")
_ITEM_ID: Final = re.compile(r"\d{9,13}")
# What may follow a clause-final particle: vocatives, interjections, laughs.
_TRAIL: Final = re.compile(
    r"(?:小姐姐|姐姐|小哥哥|哥哥|宝宝|宝贝|亲亲|家人们|主播|老板|美女|帅哥|老师|姐妹|姐|哥|亲|"
    r"哈|呀|啊|哦|喔|呢|嘿|嘻|额|捏|吖|诶|~|!|\.|。|，|,|…)+$"
)
_CLAUSE_SPLIT: Final = re.compile(r"[,.!;~，。！；、…\s]+")
_COMPLAINABLE: Final = frozenset({"shipping", "after_sales", "price"})
_END_STRONG: Final = frozenset("吗么?")
_END_MID: Final = frozenset("不没嘛")
_NOT_MA: Final = ("什么", "怎么", "这么", "那么", "多么", "要么", "干么")
# Frames are only worth a pass when one of these is in the text.
_FRAME_GATE: Final = re.compile(r"还|身高|体重|几|的[吗嘛么吧]|618|双11|不[一对符]|就")


def _question_strength(norm: str) -> float:
    """0–1: how much the text asks, from question words and clause-final particles."""
    best = 0.9 if _QWORDS.search(norm) is not None else 0.0
    for clause in _CLAUSE_SPLIT.split(norm):
        if not clause:
            continue
        core = _TRAIL.sub("", clause) or clause
        last = core[-1]
        if last in _END_STRONG:
            if last == "么" and core.endswith(_NOT_MA):
                continue
            return 1.0
        if last in _END_MID or core.endswith(("没有", "了没", "是吧", "对吧", "是嘛")) or "还是" in core[1:]:
            best = max(best, 0.8)
        elif last == "吧":
            best = max(best, 0.8 if "不会" in core or "没有" in core else 0.6)
        elif "吧" in core:
            best = max(best, 0.5)
    return best


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

    def __init__(self, config: QuestionConfig | None = None) -> None:
        self.config = config = config or QuestionConfig()
        self.threshold = config.threshold
        self._terms, self._table = _compiled()
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
            self._table = {**self._table, **extra}
            self._terms = trie_regex(self._table)
        self._frames, self._frame_meta = _compile_frames(_FRAMES)
        self._product_re: dict[str, re.Pattern[str]] = {}
        for pid, words in config.product_keywords.items():
            norm_words = sorted({normalize(w) for w in words} - {""}, key=len, reverse=True)
            if norm_words:
                self._product_re[pid] = re.compile("|".join(map(re.escape, norm_words)))

    # -- text only --

    def analyze(self, text: str) -> Analysis:
        """Flag, intent and text score of one comment. Never looks at context."""
        norm = _prep(text)
        found = self._terms.findall(_digit_key(norm))
        if not found and "还是" not in norm:
            # the fast path: no commerce term at all
            return Analysis(False, None, 0.0, (), norm) if norm else _NOTHING
        collapsed = _REPEAT.sub(r"\1", norm)
        if collapsed != norm:
            norm = collapsed
            found = self._terms.findall(_digit_key(norm))
        table = self._table
        weights: dict[str, float] = {}
        last_pos: dict[str, int] = {}
        labels: dict[str, list[str]] = {}
        strongest: dict[str, float] = {}
        solo: set[str] = set()
        inherent_q = complains = False
        complaint: set[str] = set()  # intents named by a strong complaint
        covered = n_terms = 0
        kill = 0.0
        matches: list[tuple[str, Meta]] = [(t, table[t]) for t in dict.fromkeys(found)]
        if _FRAME_GATE.search(norm) is not None:
            frame_meta = self._frame_meta
            for m in self._frames.finditer(norm):
                group = m.lastgroup
                if group is not None:
                    matches.append((m.group(group), frame_meta[int(group[1:])]))
        for pos, (term, (label, intent, weight, flags)) in enumerate(matches):
            if weight <= 0:
                kill += weight
                continue
            n_terms += 1
            covered += len(term)
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
            intent = max(weights, key=lambda k: (weights[k] + 0.5 * (k in complaint), k in solo, last_pos[k]))
            # Substance: the intent's own terms, plus half of what the others add.
            topic = min(1.0, weights[intent] + 0.5 * (sum(weights.values()) - weights[intent]))

        # How much does the comment ask?
        ask = 1.0 if inherent_q or "吗" in norm or "?" in norm else _question_strength(norm)
        if ask < 0.9 and _REQUEST.search(norm) is not None:
            ask = 0.9
        if ask < 0.8 and intent in _COMPLAINABLE and (complains or _COMPLAIN.search(norm) is not None):
            ask = 0.8
        if ask < 0.7 and topic >= 1.0 and len(norm) <= 5 and covered * 2 >= len(norm):
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
        if _NEG.search(norm) is not None:
            raw -= 0.6
        elif _ITEM_ID.search(norm) is not None:
            raw += 0.05
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
        return Scored(analysis, round(min(1.0, base + bonus), 3), tuple(reasons))


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
        card.score = round(min(1.0, card.best + min(0.2, 0.05 * math.log2(card.count))), 3)
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
