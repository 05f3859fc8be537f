"""The shipped packs, one per regulation: a call spoken exactly as the regulation prescribes
scores 100 under its pack, and every 忌语 the pack lists is caught (or sent to review) when
heard through the labelled corpus's recogniser noise."""

from __future__ import annotations

from typing import Any

import pytest

from hotline.asr.transcript import normalize
from hotline.quality.model import CallInput, Score
from hotline.quality.pack import Pack, load_pack, shipped_packs
from hotline.quality.scoring import score_call
from hotline.telephony.model import RingRule
from tests.quality.corpus import heard
from tests.quality.test_scoring import said

RING = RingRule()
NUMBER = "1023"  # said 幺零两三

# each regulation's call, word for word: greeting (with the 工号), the service, the closing
PRESCRIBED: dict[str, list[str]] = {
    "zh-CN": [
        "您好 我是 燃气 客服 中心 幺零 两三 号 客服 代表 请问 有 什么 可以 帮 到 您",
        "好的 请您 稍等 我 帮您 查询 一下",
        "已经 帮您 登记 了 维修 人员 两 小时 内 联系 您",
        "请问 您 还有 其他 问题 吗",
        "感谢 您的 来电 再见",
    ],
    "transport-group": [
        "您好 交通 集团 客服 热线 幺零 两三 号 请问 有 什么 可以 帮 您",
        "对不起 让 您 久等 了 请 您 说 一下 线路 和 时间",
        "好的 谢谢 您 的 反映 我们 会 转 给 车队 核实",
        "请问 您 还有 其他 问题 吗",
        "感谢 您的 来电 再见",
    ],
    "highway": [
        "您好 幺零 两三 号 为您 服务",
        "请 您 说 一下 车辆 所在 的 位置",
        "好的 救援 车辆 已经 出发 请 您 在 安全 地带 等候",
        "请问 还有 什么 可以 帮 您",
        "感谢 您的 来电 再见",
    ],
    "bank": [
        "您好 幺零 两三 号 客服 代表 很 高兴 为您 服务 请问 有 什么 可以 帮 您",
        "请 您 提供 一下 卡号 后 四位",
        "谢谢 已经 为 您 办理 了 临时 挂失",
        "请问 还有 其他 可以 帮 您 的 吗",
        "感谢 您的 来电 再见",
    ],
    "wuhan-gas": [
        "您好 武汉 燃气 幺零 两三 号 为您 服务 请问 有 什么 可以 帮 您",
        "请 您 提供 一下 户号",
        "您的 诉求 已经 登记 工作 人员 会 在 两 小时 内 联系 您",
        "请问 您 还有 其他 诉求 吗",
        "感谢 您的 来电 再见",
    ],
}
CUSTOMER = ("喂 你好 我 有 个 问题", "好的 知道 了", "好 谢谢", "没有 了")


def conversation(agent_lines: list[str]) -> dict[str, Any]:
    """The agent's lines, each answered by the customer, one after another, no overlap."""
    agent, customer, t = [], [], 0.5
    for i, line in enumerate(agent_lines):
        utt = said(line, t)
        agent.append(utt)
        t = utt["result"][-1]["end"] + 0.6
        if i < len(CUSTOMER):
            reply = said(CUSTOMER[i], t)
            customer.append(reply)
            t = reply["result"][-1]["end"] + 0.6
    return {
        "call_id": "prescribed",
        "agent_number": NUMBER,
        "ring_seconds": 6.0,
        "channels": {"agent": agent, "customer": customer},
    }


def score(data: dict[str, Any], pack: Pack) -> Score:
    return score_call(CallInput.from_dict(data), pack, ring=RING)


def test_five_packs_ship_one_per_regulation() -> None:
    assert shipped_packs() == ("zh-CN", "bank", "highway", "transport-group", "wuhan-gas")
    assert set(PRESCRIBED) == set(shipped_packs())
    regulations = {load_pack(name).config.regulation for name in shipped_packs()}
    assert len(regulations) == 5 and all(regulations)


@pytest.mark.parametrize("name", sorted(PRESCRIBED))
def test_a_call_spoken_as_the_regulation_prescribes_scores_100(name: str) -> None:
    result = score(conversation(PRESCRIBED[name]), load_pack(name))
    assert [(h.rule, h.evidence) for h in result.hits] == []
    assert result.score == 100.0


def test_the_highways_own_greeting_loses_points_only_under_a_pack_that_does_not_know_it() -> None:
    call = conversation(PRESCRIBED["highway"])
    assert {h.rule for h in score(call, load_pack("zh-CN")).hits} == {"greeting_missing"}
    assert score(call, load_pack("highway")).score == 100.0
    # its 工号 must still be the agent's own
    wrong = {**call, "agent_number": "1024"}
    assert [h.rule for h in score(wrong, load_pack("highway")).hits] == ["greeting_agent_number"]


def test_the_transport_groups_ten_characters_are_each_required() -> None:
    pack = load_pack("transport-group")
    lines = [
        line.replace("对不起 ", "").replace("谢谢 ", "").replace("感谢 您的 来电 ", "")
        for line in PRESCRIBED["transport-group"]
    ]
    missing = [h.evidence for h in score(conversation(lines), pack).hits if h.rule == "politeness"]
    assert missing == ["缺少「谢谢」", "缺少「对不起」"]
    # the gas company's 三要 does not ask for them
    assert not [
        h for h in score(conversation(lines), load_pack("zh-CN")).hits if h.rule == "politeness"
    ]


def _chunks(phrase: str) -> list[str]:
    """A phrase cut into words of two characters, as a recogniser's lexicon might."""
    chars = "".join(c for c in normalize(phrase) if c.isalnum())
    return [chars[i : i + 2] for i in range(0, len(chars), 2)]


RENDITIONS = 20
CER = 0.25  # the labelled corpus's error rate


def caught(pack: Pack, phrase: str, seed: int, cer: float) -> bool:
    """The phrase said by the agent inside a line, heard by the corpus's recogniser: a
    forbidden_phrase hit (deducted or for review) on it."""
    line = heard(["好", "的", *_chunks(phrase), "啊"], f"{pack.label}/{phrase}/{seed}", cer)
    data = {"call_id": "x", "agent_number": None, "ring_seconds": 1.0,
            "channels": {"agent": [line], "customer": []}}  # fmt: skip
    return any(h.rule == "forbidden_phrase" for h in score(data, pack).hits)


@pytest.mark.parametrize("name", sorted(PRESCRIBED))
def test_each_forbidden_phrase_of_the_pack_is_caught_through_recogniser_noise(name: str) -> None:
    pack = load_pack(name)
    assert pack.rules.forbidden_phrase is not None
    phrases = [p.text for p in pack.rules.forbidden_phrase.phrases]
    rates = {}
    for phrase in phrases:
        assert caught(pack, phrase, 0, 0.0), phrase  # heard as said: always
        rates[phrase] = sum(caught(pack, phrase, k, CER) for k in range(RENDITIONS)) / RENDITIONS
    # the recogniser's bursts (up to 60 % of an utterance) garble some renditions past
    # recognition (我者知道, 急什, 不懂吗): each phrase is still caught in at least half, and
    # the pack's list as a whole in more than 85 % (the corpus's recall is per occurrence)
    assert min(rates.values()) >= 0.5, {p: r for p, r in rates.items() if r < 0.5}
    assert sum(rates.values()) / len(rates) >= 0.85, rates


def test_the_packs_together_list_at_least_32_forbidden_phrases_each_its_own() -> None:
    lists = {}
    for name in shipped_packs():
        rule = load_pack(name).rules.forbidden_phrase
        assert rule is not None
        lists[name] = frozenset(p.text for p in rule.phrases)
    union = frozenset().union(*lists.values())
    assert len(union) >= 32
    assert lists["zh-CN"] == union  # the default catches every 忌语 any regulation lists
    others = [lists[n] for n in shipped_packs() if n != "zh-CN"]
    assert len(set(others)) == len(others)  # each regulation its own list


# the 服务忌语 as the seed regulations and the common hotline lists write them
SEED_FORBIDDEN = (
    "我不知道", "这不关我的事", "有意见找领导去", "你问我，我问谁", "不行就是不行，这是规定",
    "我也没办法", "你自己先查清楚", "你到底想怎么样", "不是告诉你了吗", "你听清楚了没有",
    "我们就是这样规定的", "你去投诉吧", "现在才说，早干什么去了", "没看我正忙着吗", "急什么",
    "这个我不管", "谁告诉你的找谁去", "我就这态度", "你怎么这么啰嗦", "听不懂吗",
    "下班了明天再来", "这是电脑算的不会错", "不清楚", "没有办法", "自己看", "打错了",
    "你找别人吧", "快点说", "有完没完", "这事不归我们管", "我说了你也不懂", "着什么急",
    "下班了明天再打", "这个我管不了", "你找别人去", "爱找谁找谁", "你听不懂吗",
)  # fmt: skip


@pytest.mark.parametrize("phrase", SEED_FORBIDDEN)
def test_every_seed_forbidden_phrase_is_caught_by_the_default_pack(phrase: str) -> None:
    line = heard(["这个", *_chunks(phrase), "啊"], "clean", 0.0)
    data = {"call_id": "x", "agent_number": None, "ring_seconds": 1.0,
            "channels": {"agent": [line], "customer": []}}  # fmt: skip
    (hit,) = [h for h in score(data, load_pack()).hits if h.rule == "forbidden_phrase"]
    # deducted, or (a phrase with innocent uses) put up for review
    assert hit.deduction == 15.0 or (hit.needs_review and "待复核" in hit.evidence)
