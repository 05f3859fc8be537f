"""Fields and a summary from the customer's own words. Rule: every value extracted carries the
words it came from and where they are in the recording; Chinese numerals become digits
(幺=1, 两=2, 洞/零/〇=0) before matching, and dates and times are resolved against the
moment of the call in Asia/Shanghai, never against the machine's clock.

Values: phones and accounts as digits; a date as `YYYY-MM-DD`; a time as
`YYYY-MM-DDTHH:MM:SS+08:00`; a date with only a part of the day (后天上午) as an ISO 8601
interval `start/end`.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import cn2an

from hotline.asr.transcript import Channel, Utterance, normalize
from hotline.tickets.model import Evidence, Field, FieldKind

SHANGHAI = ZoneInfo("Asia/Shanghai")

# --- where words are: normalized text positions -> word times ---------------------------------


def customer_side(utterances: Sequence[Utterance]) -> tuple[Utterance, ...]:
    """The customer's utterances: the agent's channel, if passed, is left out."""
    return tuple(u for u in utterances if u.channel is not Channel.AGENT)


def span_evidence(u: Utterance, start: int, end: int, text: str | None = None) -> Evidence:
    """Evidence for `u.normalized[start:end]`, timed by the words it lies in (the whole
    utterance when the words cannot be aligned with the normalized text)."""
    owners = _char_owners(u)
    said = text if text is not None else u.normalized[start:end]
    if owners is None or start >= end:
        return Evidence(said, u.start, u.end)
    inside = [w for w in owners[start:end] if w is not None]
    if not inside:
        return Evidence(said, u.start, u.end)
    return Evidence(said, u.words[min(inside)].start, u.words[max(inside)].end)


def _char_owners(u: Utterance) -> list[int | None] | None:
    """For each character of u.normalized, the index of the word it came from."""
    if not u.words:
        return None
    owners_flat: list[int] = []
    chars: list[str] = []
    for i, w in enumerate(u.words):
        piece = normalize(w.word).replace(" ", "")
        chars.extend(piece)
        owners_flat.extend([i] * len(piece))
    k = 0
    owners: list[int | None] = []
    for ch in u.normalized:
        if ch == " ":
            owners.append(None)
            continue
        if k >= len(chars):
            return None
        owners.append(owners_flat[k])
        k += 1
    return owners if k == len(chars) else None


# --- Chinese numerals -> digits, keeping a map back to the original text -----------------------

_DIGIT = {"零": "0", "〇": "0", "洞": "0", "幺": "1", "一": "1", "两": "2", "二": "2", "三": "3",
          "四": "4", "五": "5", "六": "6", "七": "7", "八": "8", "九": "9"}  # fmt: skip
_DIGIT_CHARS = "".join(_DIGIT) + "0123456789"
_NUM_RUN = re.compile(rf"[{_DIGIT_CHARS}十百千万]+")
_COUNTED = re.compile(r"点|号|月|日|栋|幢|单元|室|楼|层|时|分|年")


def to_digits(text: str) -> tuple[str, list[int]]:
    """`text` with Chinese numbers as digits, and for each output character the index of the
    input character it stands for. Digit strings (幺三八…) are read digit by digit; numbers
    with 十/百/千/万 by value (二十五 -> 25); a short number only before a counter (三点,
    五号楼) so that words such as 统一 stay as they are."""
    out: list[str] = []
    origin: list[int] = []
    pos = 0
    for m in _NUM_RUN.finditer(text):
        start = m.start()
        if text[max(0, start - 1) : start] in {"周", "期", "拜"}:  # 周一, 星期三, 礼拜天
            start += 1
        out.extend(text[pos:start])
        origin.extend(range(pos, start))
        run = text[start : m.end()]
        converted = _number(run, text, m.end()) if run else run
        if len(converted) == len(run):
            out.extend(converted)
            origin.extend(range(start, m.end()))
        else:  # a value of another length: its digits stand for the whole number
            out.extend(converted)
            origin.extend([start] * (len(converted) - 1) + [m.end() - 1])
        pos = m.end()
    out.extend(text[pos:])
    origin.extend(range(pos, len(text)))
    keep = [  # digit groups said apart (6222 0012) are one number
        i
        for i, c in enumerate(out)
        if not (c == " " and 0 < i < len(out) - 1 and out[i - 1].isdigit() and out[i + 1].isdigit())
    ]
    return "".join(out[i] for i in keep), [origin[i] for i in keep]


def _number(run: str, text: str, end: int) -> str:
    if any(c in "十百千万" for c in run):
        if run[0] == "万":
            return run
        try:
            return str(int(cn2an.cn2an(run, "smart")))
        except (ValueError, KeyError, TypeError):
            return run
    if len(run) >= 3 or _COUNTED.match(text, end) or run.isascii():
        return "".join(_DIGIT.get(c, c) for c in run)
    return run


# --- patterns on the converted text -----------------------------------------------------------

_ACCOUNT = re.compile(
    r"(?:户号|用户号|用户编号|客户号|客户编号|账号|帐号|账户|卡号|缴费号|表号)"
    r"(?:是|为|:|：|号码是|号是)?\s*(\d{5,20})(?!\d)"
)
_MOBILE = re.compile(r"(?<!\d)1[3-9]\d{9}(?!\d)")
_LANDLINE = re.compile(r"(?<!\d)(0\d{2,3})[- ]?(\d{7,8})(?!\d)")

_PLACE_NAME = r"[^\W_我你您他她的了在是住有就吗呢啊吧嗯喂说要请到从和跟那这个叫给]"
_SUFFIX = (
    r"(?:省|自治区|市|区|县|镇|乡|街道|大道|大街|路|街|巷|弄|胡同|小区|花园|家园|公寓|新村|村|"
    r"号院|号楼|号|栋|幢|座|单元|层|楼|室)"
)
_ADDRESS = re.compile(rf"(?:{_PLACE_NAME}{{1,10}}?{_SUFFIX}){{2,}}(?:\d{{2,5}}(?:室|房)?)?")
_ADDRESS_START = re.compile(rf"{_PLACE_NAME}{{1,10}}?{_SUFFIX}")

_PERIODS: dict[str, tuple[int, int]] = {
    "凌晨": (0, 6), "早上": (6, 9), "早晨": (6, 9), "上午": (8, 12), "中午": (11, 13),
    "下午": (12, 18), "傍晚": (17, 19), "晚上": (18, 23), "夜里": (21, 24),
}  # fmt: skip
_REL_DAYS = {"今天": 0, "今儿": 0, "明天": 1, "明儿": 1, "后天": 2, "大后天": 3,
             "昨天": -1, "前天": -2}  # fmt: skip
_WEEKDAY = {"一": 0, "二": 1, "三": 2, "四": 3, "五": 4, "六": 5, "日": 6, "天": 6,
            "1": 0, "2": 1, "3": 2, "4": 3, "5": 4, "6": 5, "7": 6}  # fmt: skip
_PERIOD = "|".join(_PERIODS)
_DATE = (
    r"(?P<rel>大后天|今天|今儿|明天|明儿|后天|昨天|前天)"
    r"|(?P<wk>下个?|这个?|本)?(?:周|星期|礼拜)(?P<wd>[一二三四五六日天1-7])"
    r"|(?:(?P<y>\d{4})年)?(?P<m>\d{1,2})月(?P<d>\d{1,2})(?:号|日)"
    r"|(?P<dd>\d{1,2})(?:号|日)(?=\s*(?:" + _PERIOD + r"|\d{1,2}点|之前|以前|前|那天))"
)
_CLOCK = r"(?P<h{n}>\d{{1,2}})[点时](?:(?P<half{n}>半)|(?P<q{n}>一刻)|(?P<mi{n}>\d{{1,2}})分?)?"
_WHEN = re.compile(
    rf"(?:{_DATE})\s*(?P<p>{_PERIOD})?(?:{_CLOCK.format(n='')})?"
    rf"|(?P<p2>{_PERIOD})?{_CLOCK.format(n='2')}"
)


def extract(utterances: Sequence[Utterance], now: datetime) -> tuple[Field, ...]:
    """Phone numbers, account numbers, addresses, dates and times the customer said, in the
    order said, each once (the first mention is kept as evidence)."""
    local_now = (now if now.tzinfo else now.replace(tzinfo=SHANGHAI)).astimezone(SHANGHAI)
    fields: list[Field] = []
    seen: set[tuple[FieldKind, str]] = set()
    for u in customer_side(utterances):
        text, origin = to_digits(u.normalized)
        for s, e, kind, value in _found(text, local_now):
            if (kind, value) not in seen:
                seen.add((kind, value))
                fields.append(Field(kind, value, span_evidence(u, origin[s], origin[e - 1] + 1)))
    return tuple(fields)


def _found(text: str, now: datetime) -> list[tuple[int, int, FieldKind, str]]:
    """(start, end, kind, value) in `text` (digits already), in text order; where two kinds
    overlap the first found wins: accounts, phones, dates and times, addresses."""
    found: list[tuple[int, int, FieldKind, str]] = []

    def add(kind: FieldKind, value: str, s: int, e: int) -> None:
        if not any(s < te and ts < e for ts, te, _, _ in found):
            found.append((s, e, kind, value))

    for m in _ACCOUNT.finditer(text):
        add(FieldKind.ACCOUNT, m.group(1), m.start(), m.end())
    for m in _MOBILE.finditer(text):
        add(FieldKind.PHONE, m.group(), m.start(), m.end())
    for m in _LANDLINE.finditer(text):
        add(FieldKind.PHONE, m.group(1) + m.group(2), m.start(), m.end())
    for m in _WHEN.finditer(text):
        value = None if _loose_hour(m, text) else _resolve(m, now)
        if value is not None:
            add(FieldKind.DATETIME, value, m.start(), m.end())
    for m in _ADDRESS.finditer(text):
        if any(c.isdigit() for c in m.group()) or len(m.group()) >= 5:  # not 马路口
            add(FieldKind.ADDRESS, m.group(), m.start(), m.end())
    return sorted(found)


_DEGREE = frozenset("快慢早晚好大小多少有轻重再高低")
_CLOCK_AFTER = re.compile(r"钟|左右|前后|以前|之前|以后|之后|前|后|到|至|多|过来|来|上门")


def _loose_hour(m: re.Match[str], text: str) -> bool:
    """A bare 一点 (快一点, 有一点) is not a time: a bare hour needs 钟, 左右, 之前 … after it,
    and no 快/慢/早/晚/有 … before it."""
    g = m.groupdict()
    if not g["h2"] or g["p2"] or g["half2"] or g["q2"] or g["mi2"]:
        return False
    before = text[m.start() - 1 : m.start()] if m.start() else ""
    return before in _DEGREE or _CLOCK_AFTER.match(text, m.end()) is None


def _resolve(m: re.Match[str], now: datetime) -> str | None:
    """The ISO 8601 value of one date/time mention, or None when it names no real day."""
    g = m.groupdict()
    today = now.date()
    day: date | None = None
    try:
        if g["rel"]:
            day = today + timedelta(days=_REL_DAYS[g["rel"]])
        elif g["wd"]:
            target = _WEEKDAY[g["wd"]]
            monday = today - timedelta(days=today.weekday())
            if g["wk"] and g["wk"].startswith("下"):
                day = monday + timedelta(days=7 + target)
            elif g["wk"]:
                day = monday + timedelta(days=target)
            else:  # 周五: the coming one (today when it is today)
                day = today + timedelta(days=(target - today.weekday()) % 7)
        elif g["m"]:
            month, dd = int(g["m"]), int(g["d"])
            if g["y"]:
                day = date(int(g["y"]), month, dd)
            else:
                day = _nearest([date(today.year + k, month, dd) for k in (-1, 0, 1)], today)
        elif g["dd"]:
            dd = int(g["dd"])
            months = [_month(today, k) for k in (-1, 0, 1)]
            cands = [date(y, mo, dd) for y, mo in months if _valid(y, mo, dd)]
            day = _nearest(cands, today) if cands else None
    except ValueError:
        return None
    period = g.get("p") or g.get("p2")
    hour_s = g.get("h") or g.get("h2")
    if hour_s is None:
        if day is None:
            return None
        if period:
            lo, hi = _PERIODS[period]
            start = datetime.combine(day, time(lo), tzinfo=SHANGHAI)
            return f"{start.isoformat()}/{(start + timedelta(hours=hi - lo)).isoformat()}"
        return day.isoformat()
    hour = int(hour_s)
    minute = 30 if (g.get("half") or g.get("half2")) else 15 if (g.get("q") or g.get("q2")) else 0
    mi = g.get("mi") or g.get("mi2")
    if mi:
        minute = int(mi)
    afternoon = period in {"下午", "傍晚", "晚上", "夜里"} and hour < 12
    # 中午一点; 三点 without a part of the day, in a service call, is an afternoon hour
    if afternoon or (period == "中午" and hour < 6) or (period is None and 1 <= hour <= 6):
        hour += 12
    if not (0 <= hour <= 24 and 0 <= minute < 60) or (hour == 24 and minute):
        return None
    when = datetime.combine(day or today, time(0), tzinfo=SHANGHAI)
    return (when + timedelta(hours=hour, minutes=minute)).isoformat()


def _month(today: date, k: int) -> tuple[int, int]:
    index = today.year * 12 + today.month - 1 + k
    return index // 12, index % 12 + 1


def _valid(y: int, mo: int, d: int) -> bool:
    try:
        date(y, mo, d)
    except ValueError:
        return False
    return True


def _nearest(candidates: list[date], today: date) -> date:
    return min(candidates, key=lambda d: abs((d - today).days))


# --- the summary -------------------------------------------------------------------------------

_FILLER = re.compile(r"^(?:喂|你好|您好|嗯|啊|哦|噢|呃|哎|唉|诶|那个)+")
_ONLY_FILLER = frozenset({"好", "好的", "对", "对的", "是", "是的", "行", "可以", "谢谢", "没有"})
_BOUNDARY = "。！？；，,.!?;"


def summarize(utterances: Sequence[Utterance], max_chars: int = 120) -> tuple[str, Evidence | None]:
    """The customer's request in their own words: the first substantive utterances (greetings
    and fillers such as 喂/你好/嗯 skipped), joined and trimmed at a sentence boundary."""
    parts: list[str] = []
    used: list[Utterance] = []
    for u in customer_side(utterances):
        said = _FILLER.sub("", u.normalized).strip(" " + _BOUNDARY)
        if len(said) < 2 or said in _ONLY_FILLER:
            continue
        candidate = "，".join([*parts, said])
        if len(candidate) > max_chars:
            if not parts:
                parts.append(_trim(said, max_chars))
                used.append(u)
            break
        parts.append(said)
        used.append(u)
        if len(candidate) >= max_chars * 2 // 3:
            break
    if not parts:
        return "", None
    text = "，".join(parts)
    return text, Evidence(text, used[0].start, used[-1].end)


def _trim(text: str, max_chars: int) -> str:
    cut = max((text.rfind(c, 0, max_chars) for c in _BOUNDARY), default=-1)
    return text[:cut] if cut > 0 else text[: max_chars - 1] + "…"
