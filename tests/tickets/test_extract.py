"""extract() and summarize(): the customer's numbers, address, times and request."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from hotline.asr.transcript import Channel
from hotline.tickets.extract import extract, summarize, to_digits
from hotline.tickets.model import FieldKind
from tests.tickets import said

SH = ZoneInfo("Asia/Shanghai")
NOW = datetime(2026, 11, 23, 10, 0, tzinfo=SH)  # a Monday


def values(words: str, now: datetime = NOW) -> list[tuple[FieldKind, str]]:
    return [(f.kind, f.value) for f in extract([said(words)], now)]


@pytest.mark.parametrize(
    ("text", "digits"),
    [
        ("幺三八幺二三四五六七八", "13812345678"),
        ("幺八六洞洞两三四五六七", "18600234567"),
        ("零五七一八八八八〇〇〇〇", "057188880000"),
        ("十一月二十五号", "11月25号"),
        ("三点半", "3点半"),
        ("五号楼一百零八室", "5号楼108室"),
        ("统一路", "统一路"),  # a word, not a number
        ("下周一十点", "下周一10点"),  # the weekday stays a weekday
    ],
)
def test_chinese_numerals_become_digits(text: str, digits: str) -> None:
    assert to_digits(text)[0] == digits


def test_a_mobile_number_said_digit_by_digit() -> None:
    fields = extract([said("喂"), said("我 的 电话 是 幺三八 幺二三四 五六七八", at=3.0)], NOW)
    assert len(fields) == 1
    phone = fields[0]
    assert (phone.kind, phone.value) == (FieldKind.PHONE, "13812345678")
    assert phone.evidence.text == "幺三八幺二三四五六七八"
    assert phone.evidence.start == pytest.approx(5.0)
    assert phone.evidence.end == pytest.approx(6.4)


def test_a_landline_with_area_code() -> None:
    assert values("座机 是 零五七一 八八八八 一二三四") == [(FieldKind.PHONE, "057188881234")]
    assert values("电话 021-62345678") == [(FieldKind.PHONE, "02162345678")]


def test_account_numbers_after_their_words() -> None:
    assert values("我 的 户号 是 一二三四五六七八") == [(FieldKind.ACCOUNT, "12345678")]
    assert values("卡号 6222 0012 3456") == [(FieldKind.ACCOUNT, "622200123456")]
    # a 户号 that looks like a mobile is still the 户号
    assert values("户号 幺三九 八七六五 四三二幺") == [(FieldKind.ACCOUNT, "13987654321")]


def test_an_address_with_building_unit_and_room() -> None:
    fields = extract([said("我 家 住在 阳光 小区 三 栋 二 单元 五零一", at=1.0)], NOW)
    assert [(f.kind, f.value) for f in fields] == [(FieldKind.ADDRESS, "阳光小区3栋2单元501")]
    assert fields[0].evidence.text == "阳光小区三栋二单元五零一"
    assert fields[0].evidence.start == pytest.approx(2.5)


def test_a_street_address() -> None:
    assert values("地址 是 杭州市 西湖区 文三路 一百零八 号") == [
        (FieldKind.ADDRESS, "杭州市西湖区文三路108号")
    ]


@pytest.mark.parametrize(
    ("words", "value"),
    [
        ("明天 下午 三点 来 修 吧", "2026-11-24T15:00:00+08:00"),
        ("十一月 二十五号", "2026-11-25"),
        ("后天 上午 家里 有人", "2026-11-25T08:00:00+08:00/2026-11-25T12:00:00+08:00"),
        ("周五 可以 吗", "2026-11-27"),
        ("下 周一 三点半 之前", "2026-11-30T15:30:00+08:00"),
        ("星期三 晚上 七点", "2026-11-25T19:00:00+08:00"),
        ("一月 五号 以后", "2027-01-05"),  # the nearest 1月5号 is next year's
        ("十一月 二十 号 就 停气 了", "2026-11-20"),  # and a past day stays in this year
        ("两点 左右", "2026-11-23T14:00:00+08:00"),
    ],
)
def test_dates_and_times_resolve_against_the_call(words: str, value: str) -> None:
    assert values(words) == [(FieldKind.DATETIME, value)]


def test_the_call_time_is_read_in_shanghai() -> None:
    late_utc = datetime(2026, 11, 23, 17, 0, tzinfo=UTC)  # already Tuesday 01:00 in Shanghai
    assert values("明天 上午 九点", late_utc) == [(FieldKind.DATETIME, "2026-11-25T09:00:00+08:00")]


def test_a_little_is_not_one_oclock() -> None:
    assert values("有 一点 煤气味 快 一点 来") == []


def test_several_fields_in_one_call_in_the_order_said() -> None:
    call = [
        said("喂 你好"),
        said("我 家 燃气表 坏 了 户号 是 八八六六五五四四", at=2.0),
        said("地址 是 幸福路 十二 号 三 单元 四零二", at=7.0),
        said("明天 上午 九点 有人 电话 幺三八 幺二三四 五六七八", at=12.0),
        said("电话 幺三八 幺二三四 五六七八", at=18.0),  # said twice: kept once
    ]
    fields = extract(call, NOW)
    assert [(f.kind, f.value) for f in fields] == [
        (FieldKind.ACCOUNT, "88665544"),
        (FieldKind.ADDRESS, "幸福路12号3单元402"),
        (FieldKind.DATETIME, "2026-11-24T09:00:00+08:00"),
        (FieldKind.PHONE, "13812345678"),
    ]
    assert fields[-1].evidence.start is not None and fields[-1].evidence.start < 18.0


def test_the_agents_words_are_not_extracted() -> None:
    agent = said("您 的 电话 是 幺三八 幺二三四 五六七八 吗", channel=Channel.AGENT)
    assert extract([agent], NOW) == ()


def test_the_summary_is_the_customers_own_first_words() -> None:
    call = [
        said("喂"),
        said("你好"),
        said("嗯 我 家里 停气 了 从 早上 开始", at=3.0),
        said("好的", at=8.0),
        said("什么 时候 能 来 修", at=10.0),
    ]
    text, evidence = summarize(call)
    assert text == "我家里停气了从早上开始，什么时候能来修"
    assert evidence is not None
    assert evidence.start == 3.0 and evidence.end == pytest.approx(12.4)


def test_a_long_request_is_trimmed_at_a_sentence_boundary() -> None:
    call = [said("我 家 停气 了"), said("楼上 楼下 都 没有 气 " * 8, at=3.0)]
    text, _ = summarize(call, max_chars=20)
    assert text == "我家停气了"
    long_one = [said("我 家 停气 了 ， 已经 三 个 小时 了 ， 孩子 还 等着 吃饭 呢 你们 快点")]
    text, _ = summarize(long_one, max_chars=16)
    assert text == "我家停气了，已经三个小时了"


def test_no_summary_from_greetings_alone() -> None:
    assert summarize([said("喂"), said("你好"), said("嗯")]) == ("", None)
