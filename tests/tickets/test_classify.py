"""classify(): what the customer asks for, from realistic utterances with ASR noise."""

from __future__ import annotations

from pathlib import Path

import pytest

from hotline.asr.transcript import Channel
from hotline.core.errors import InvalidInput
from hotline.tickets.classify import ClassifyPack, classify, classify_all, load_pack, urgent_hit
from hotline.tickets.model import Category
from tests.tickets import said


@pytest.fixture(scope="module")
def pack() -> ClassifyPack:
    return load_pack()


@pytest.mark.parametrize(
    ("words", "category", "topic", "unit"),
    [
        ("我 想 问 一下 这个月 燃气费 怎么 这么 高", Category.CONSULT, "燃气费", "营业厅"),
        ("帮 我 查询 一下 上个月 的 账单", Category.CONSULT, "账单查询", "营业厅"),
        ("家里 停气 了 一直 没 来气", Category.REPAIR, "停气", "抢修中心"),
        ("我 家 燃气灶 打不着 火 了 麻烦 来 修 一下", Category.REPAIR, "燃气设施故障", "抢修中心"),
        ("我 家 水表 不 转 了", Category.REPAIR, "表具故障", "计量所"),
        ("我们 小区 停水 了", Category.REPAIR, "停水", "抢修中心"),
        ("楼上 水压 低 洗澡 都 不行", Category.REPAIR, "水压低", "抢修中心"),
        ("新 房子 想 申请 报装 燃气 开户", Category.SERVICE, "报装", "营业厅"),
        ("我 想 预约 一下 入户 安检", Category.SERVICE, "安检", "安检所"),
        ("厨房 装修 要 移 表 改管道", Category.SERVICE, "拆改", "营业厅"),
        ("我 要 投诉 你们 的 抄表员 态度 很 差", Category.COMPLAINT, "服务态度", "客户服务部"),
        ("我 要 举报 楼下 饭店 偷气", Category.REPORT, "窃气", "稽查部"),
        ("建议 你们 周末 营业厅 也 开门", Category.SUGGESTION, None, "客户服务部"),
        ("我 要 表扬 你们 的 维修 师傅 服务 很 好 特别 负责", Category.PRAISE, None, "客户服务部"),
    ],
)
def test_each_category_of_the_regulations(
    pack: ClassifyPack, words: str, category: Category, topic: str | None, unit: str
) -> None:
    c = classify([said("喂 你好"), said(words, at=2.0)], pack)
    assert (c.category, c.topic, c.unit) == (category, topic, unit)
    assert not c.urgent
    assert c.confidence >= 0.5
    assert c.evidence and all(e.start is not None and e.start >= 2.0 for e in c.evidence)


@pytest.mark.parametrize(
    "words",
    [
        "我 家 厨房 有 很 大 的 煤气味",
        "我 家 厨房 有 很 大 的 煤汽 味",  # ASR: 汽 for 气
        "燃氣 洩漏 了 快 來 人",  # traditional characters
        "燃 气 泄 漏",  # one character a word
        "是不是 漏气 了 一直 有 嘶嘶 响",  # a question is still an alarm
        "不停 地 漏气",
    ],
)
def test_a_gas_leak_is_an_urgent_emergency(pack: ClassifyPack, words: str) -> None:
    c = classify([said(words)], pack)
    assert c.category is Category.EMERGENCY
    assert c.urgent
    assert (c.topic, c.unit) == ("燃气泄漏", "抢修中心")


def test_an_emergency_wins_over_stronger_other_evidence(pack: ClassifyPack) -> None:
    c = classify(
        [
            said("我 要 投诉 你们 上次 维修 的 师傅 态度 很 差 不满意"),
            said("现在 厨房 又 有 煤气味 了", at=6.0),
        ],
        pack,
    )
    assert c.category is Category.EMERGENCY and c.urgent
    assert any(e.text == "煤气味" and e.start == pytest.approx(8.0) for e in c.evidence)


def test_a_negated_smell_is_not_a_leak(pack: ClassifyPack) -> None:
    c = classify([said("我 没有 闻到 煤气味 就是 燃气灶 打不着 火")], pack)
    assert c.category is Category.REPAIR
    assert not c.urgent  # 打不着火 is not 着火
    assert c.topic == "燃气设施故障"
    assert urgent_hit("没有 闻到 煤气味", pack) is None


def test_a_clause_break_ends_the_negation(pack: ClassifyPack) -> None:
    c = classify([said("不 通知 就 停气 了")], pack)
    assert c.topic == "停气"


def test_urgent_words_mark_any_category(pack: ClassifyPack) -> None:
    c = classify([said("热水器 坏 了 老人 晕倒 了 很 急")], pack)
    assert c.category is Category.REPAIR
    assert c.urgent
    assert {"晕倒", "很急"} <= {e.text for e in c.evidence}


def test_nothing_recognised_is_a_consultation_with_low_confidence(pack: ClassifyPack) -> None:
    c = classify([said("喂"), said("今天 天气 不错 啊")], pack)
    assert c.category is Category.CONSULT
    assert c.confidence == pytest.approx(0.2)
    assert (c.topic, c.unit, c.evidence) == (None, None, ())


def test_the_agents_words_do_not_count(pack: ClassifyPack) -> None:
    agent = said("请问 是 燃气 泄漏 吗", channel=Channel.AGENT)
    c = classify([agent, said("不是 我 想 查询 账单", at=3.0)], pack)
    assert c.category is Category.CONSULT and not c.urgent


def test_live_alert_on_one_utterance(pack: ClassifyPack) -> None:
    hit = urgent_hit("楼道 里 好像 燃氣 洩漏 了", pack)
    assert hit is not None and hit.text == "燃气泄漏"
    assert urgent_hit("厨房 着火 了", pack) is not None
    assert urgent_hit("我 想 交 燃气费", pack) is None


def test_one_call_for_several_units_gives_one_classification_per_unit(
    pack: ClassifyPack,
) -> None:
    call = [
        said("喂 你好"),
        said("我 家 停气 了 一直 不来气", at=2.0),
        said("还有 燃气表 不 走 了", at=6.0),
        said("另外 我 的 燃气费 账单 好像 算 错 了", at=9.0),
    ]
    all_ = classify_all(call, pack)
    assert all_[0] == classify(call, pack)
    assert sorted(c.unit or "" for c in all_) == ["抢修中心", "营业厅", "计量所"]
    by_unit = {c.unit: c for c in all_}
    assert (by_unit["营业厅"].category, by_unit["营业厅"].topic) == (Category.CONSULT, "燃气费")
    assert by_unit["计量所"].topic == "表具故障"
    assert by_unit["抢修中心"].topic == "停气"
    assert all(e.start is not None and e.start >= 9.0 for e in by_unit["营业厅"].evidence)


def test_one_unit_one_classification(pack: ClassifyPack) -> None:
    call = [said("我 家 停气 了"), said("什么 时候 能 来 修 啊 停气 好 几 个 小时 了", at=3.0)]
    assert len(classify_all(call, pack)) == 1


def test_a_pack_error_names_the_file_and_the_field(tmp_path: Path) -> None:
    bad = tmp_path / "my-pack.yaml"
    bad.write_text(
        "categories:\n  repair: {unit: 抢修中心, cues: {报修: 3}}\n"
        "topics:\n  停气: {category: outage, unit: 抢修中心, keywords: {停气: 3}}\n",
        encoding="utf-8",
    )
    with pytest.raises(InvalidInput) as err:
        load_pack(bad)
    assert "my-pack.yaml" in err.value.message and "topics.停气.category" in err.value.message


def test_a_keyword_in_two_places_is_refused(tmp_path: Path) -> None:
    bad = tmp_path / "dup.yaml"
    bad.write_text(
        "categories:\n  repair: {unit: 抢修中心, cues: {停气: 3}}\n"
        "topics:\n  停气: {category: repair, unit: 抢修中心, keywords: {停气: 3}}\n",
        encoding="utf-8",
    )
    with pytest.raises(InvalidInput, match="停气"):
        load_pack(bad)


def test_a_site_pack_with_its_own_words(tmp_path: Path) -> None:
    own = tmp_path / "water.yaml"
    own.write_text(
        "synonyms: {自来水: [自来谁]}\n"
        "categories:\n  repair: {unit: 供水抢修, cues: {报修: 3}}\n"
        "topics:\n  水质: {category: repair, unit: 水质中心, keywords: {自来水发黄: 4}}\n",
        encoding="utf-8",
    )
    c = classify([said("自来谁 发黄 了")], load_pack(own))
    assert (c.category, c.topic, c.unit) == (Category.REPAIR, "水质", "水质中心")
