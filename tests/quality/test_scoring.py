"""Scoring a call: the scenarios a quality inspector lives through. Calls are built the way
Vosk returns them (words separated by spaces, each with start/end/conf); the agent speaks
at 120 characters a minute unless a scenario says otherwise."""

from __future__ import annotations

from typing import Any

import pytest

from hotline.core.errors import InvalidInput
from hotline.quality.model import CallInput, Score
from hotline.quality.pack import load_pack
from hotline.quality.scoring import score_call, score_json
from hotline.telephony.model import RingRule

PACK = load_pack()
RING = RingRule()  # the settings default: 3 rings of 5 s
GREETING = "您好 燃气 客服 中心 幺零 两三 号 为您 服务 请问 有 什么 可以 帮您"
CLOSING = "请问 您 还有 其他 问题 吗"
GOODBYE = "感谢 您的 来电 再见"


def said(text: str, start: float, conf: float = 0.95, per_char: float = 0.5) -> dict[str, Any]:
    """One Vosk result: the words of `text` (space separated) from `start`, in sequence."""
    words, t = [], start
    for word in text.split():
        length = per_char * len(word)
        words.append({"word": word, "start": t, "end": round(t + length, 2), "conf": conf})
        t = round(t + length + 0.1, 2)
    return {"text": text, "result": words}


def call(
    agent: list[dict[str, Any]],
    customer: list[dict[str, Any]] | None = None,
    *,
    number: str | None = "1023",
    ring: float | None = 4.0,
) -> dict[str, Any]:
    return {
        "call_id": "call-1",
        "agent_number": number,
        "ring_seconds": ring,
        "channels": {"agent": agent, "customer": customer or []},
    }


def model_call(*middle: dict[str, Any]) -> dict[str, Any]:
    """A model agent: greeting with number, service, the check, goodbye."""
    agent = [
        said(GREETING, 0.5),
        said("好的 请您 稍等 我 帮您 查询 一下", 17.0),
        *middle,
        said("已经 帮您 登记 了 维修 人员 两 小时 内 联系 您", 40.0),
        said(CLOSING, 60.0),
        said(GOODBYE, 68.0),
    ]
    customer = [
        said("你好 我家 燃气 没气 了", 12.0),
        said("好的 谢谢", 35.0),
        said("没有 了", 65.0),
    ]
    return call(agent, customer)


def score(data: dict[str, Any]) -> Score:
    return score_call(CallInput.from_dict(data), PACK, ring=RING)


def hits(result: Score, rule: str) -> list[Any]:
    return [h for h in result.hits if h.rule == rule]


def test_a_model_agents_call_scores_100() -> None:
    result = score(model_call())
    assert result.hits == ()
    assert (result.score, result.band, result.instant_fail) == (100.0, "优秀", False)
    assert result.pack == "zh-CN-default@2"


def test_the_agent_saying_wo_ye_mei_banfa_twice_gets_two_hits_with_their_times() -> None:
    result = score(model_call(said("这个 我 也 没 办法", 25.0), said("我也 没 办法 啊", 31.0)))
    found = hits(result, "forbidden_phrase")
    assert [(h.start, h.end, h.evidence, h.deduction) for h in found] == [
        (26.1, 28.9, "我也没办法", 15.0),
        (31.0, 33.7, "我也没办法", 15.0),
    ]
    assert result.score == 70.0 and result.band == "合格"


def test_a_greeting_heard_with_ni_for_nin_passes() -> None:
    data = model_call()
    data["channels"]["agent"][0] = said("你好 燃气 客服 中心 请问 有 什么 可以 帮 你", 0.5)
    result = score(data)
    assert hits(result, "greeting_missing") == []
    assert [h.evidence for h in hits(result, "greeting_agent_number")] == ["未听到工号「1023」"]


def test_an_opening_without_greeting_is_a_hit_with_what_was_heard() -> None:
    data = model_call()
    data["channels"]["agent"][0] = said("喂 你 说", 2.0)
    (hit,) = hits(score(data), "greeting_missing")
    assert (hit.evidence, hit.start, hit.deduction, hit.needs_review) == (
        "喂你说",
        2.0,
        10.0,
        False,
    )

    data["channels"]["agent"].pop(0)  # the agent said nothing in the first 15 s
    (hit,) = hits(score(data), "greeting_missing")
    assert hit.evidence == "（开场无应答）"


def test_a_different_agent_number_is_a_hit() -> None:
    data = model_call()
    data["agent_number"] = "1024"
    (hit,) = hits(score(data), "greeting_agent_number")
    assert hit.evidence == "未听到工号「1024」（听到「1023」）"
    data["agent_number"] = None
    assert hits(score(data), "greeting_agent_number") == []


def test_zai_jian_in_traditional_characters_counts_as_goodbye() -> None:
    data = model_call()
    data["channels"]["agent"][-2] = said("好的", 60.0)
    data["channels"]["agent"][-1] = said("在 見", 68.0)
    result = score(data)
    assert hits(result, "closing_missing") == []
    assert hits(result, "politeness") == []


def test_a_call_ending_without_check_or_goodbye_misses_its_closing() -> None:
    data = model_call()
    data["channels"]["agent"][-2:] = [said("好的 就 这样", 60.0)]
    (closing,) = hits(score(data), "closing_missing")
    assert (closing.evidence, closing.deduction) == (
        "已经帮您登记了维修人员两小时内联系您 好的就这样",
        10.0,
    )
    politeness = [h.evidence for h in hits(score(data), "politeness")]
    assert politeness == ["缺少「再见」"]


def test_a_low_confidence_forbidden_phrase_needs_review_and_deducts_nothing() -> None:
    result = score(model_call(said("我 不 知道", 25.0, conf=0.4)))
    (hit,) = hits(result, "forbidden_phrase")
    assert (hit.evidence, hit.needs_review, hit.deduction) == ("我不知道", True, 0.0)
    assert hit.conf == pytest.approx(0.4)
    assert result.score == 100.0


def test_abuse_fails_the_call_outright() -> None:
    result = score(model_call(said("你 神经病 啊", 25.0)))
    (hit,) = hits(result, "abusive_language")
    assert hit.evidence == "神经病"
    assert (result.score, result.band, result.instant_fail) == (0.0, "不合格", True)


def test_a_missing_nin_is_a_deduction_but_ni_in_a_polite_phrase_only_needs_review() -> None:
    agent = [
        said("你好 燃气 客服 中心 幺零 两三 号 请问 有 什么 可以 帮 你", 0.5),
        said("好的 请 稍等", 17.0),
        said("还有 其他 问题 吗 再见", 60.0),
    ]
    (hit,) = hits(score(call(agent)), "politeness")
    assert hit.needs_review and hit.deduction == 0.0
    assert hit.evidence.startswith("缺少「您」（听到「你好」")

    agent[0] = said("喂 燃气 客服 中心 幺零 两三 号 有 啥 事", 0.5)
    (hit,) = hits(score(call(agent)), "politeness")
    assert (hit.evidence, hit.needs_review, hit.deduction) == ("缺少「您」", False, 5.0)


def test_speech_rate_outside_the_band_is_a_hit() -> None:
    fast = model_call()
    for utt in fast["channels"]["agent"]:
        utt.update(said(utt["text"], utt["result"][0]["start"], per_char=0.25))
    (hit,) = hits(score(fast), "speech_rate_fast")
    assert hit.evidence.startswith("语速 2")  # well over 180 characters a minute
    slow = model_call()
    for utt in slow["channels"]["agent"]:
        utt.update(said(utt["text"], utt["result"][0]["start"], per_char=1.0))
    assert hits(score(slow), "speech_rate_slow") and not hits(score(slow), "speech_rate_fast")


def test_a_long_silence_on_both_channels_is_a_call_hit() -> None:
    data = model_call()
    data["channels"]["agent"][2] = said("已经 帮您 登记 了", 58.0)  # nobody speaks 37.1 → 58.0
    (hit,) = hits(score(data), "silence_long")
    assert (hit.channel, hit.start, hit.end, hit.evidence, hit.conf) == (
        "call", 37.1, 58.0, "静默 20.9 秒", 1.0,
    )  # fmt: skip


def test_answering_after_the_third_ring_is_late() -> None:
    data = model_call()
    data["ring_seconds"] = 18.2
    (hit,) = hits(score(data), "answer_late")
    assert (hit.channel, hit.evidence, hit.conf, hit.deduction) == (
        "call", "响铃 4 声 (18.2 秒)", 1.0, 10.0,
    )  # fmt: skip


def test_a_mixed_recording_puts_every_agent_hit_up_for_review() -> None:
    data = CallInput.from_dict(model_call(said("我 也 没 办法", 25.0)))
    mixed = CallInput(
        data.call_id, data.agent_number, 18.2, data.agent + data.customer, (), mixed=True
    )
    result = score_call(mixed, PACK, ring=RING)
    assert all(h.needs_review for h in result.hits if h.channel == "agent")
    assert [h.rule for h in result.hits if not h.needs_review] == ["answer_late"]
    assert result.score == 90.0


def test_score_json_reads_the_call_and_writes_the_stable_shape() -> None:
    out = score_json(model_call(said("我 也 没 办法", 25.0)), PACK, ring=RING)
    assert out["call_id"] == "call-1" and out["score"] == 85.0 and out["band"] == "良好"
    assert out["hits"] == [
        {
            "rule": "forbidden_phrase",
            "channel": "agent",
            "start": 25.0,
            "end": 27.8,
            "evidence": "我也没办法",
            "conf": 0.95,
            "deduction": 15.0,
            "needs_review": False,
        }
    ]
    with pytest.raises(InvalidInput, match="call_id"):
        score_json({"channels": {}}, PACK, ring=RING)


def test_a_pause_inside_one_long_utterance_is_silence_only_if_nobody_else_speaks() -> None:
    data = model_call()
    long_one = said("好的 请您 稍等", 17.0)
    long_one["result"].append({"word": "一下", "start": 38.0, "end": 39.0, "conf": 0.9})
    long_one["text"] += " 一下"
    data["channels"]["agent"][1] = long_one  # 20.2 → 38.0 without a word from the agent
    data["channels"]["customer"][1] = said("好的 谢谢", 26.0)  # but the customer speaks
    assert hits(score(data), "silence_long") == []
    data["channels"]["customer"][1] = said("好的 谢谢", 46.0)
    (hit,) = hits(score(data), "silence_long")
    assert (hit.start, hit.end, hit.evidence) == (20.2, 38.0, "静默 17.8 秒")


def test_garbled_abuse_is_a_review_hit_without_deduction_or_instant_fail() -> None:
    result = score(model_call(said("你 子 病 啊", 25.0)))  # 你脑子有病啊 with 脑 and 有 lost
    (hit,) = hits(result, "abusive_language")
    assert (hit.needs_review, hit.deduction) == (True, 0.0)
    assert hit.evidence.startswith("你子病") and "待复核" in hit.evidence
    assert (result.score, result.instant_fail) == (100.0, False)


def test_clear_abuse_heard_within_the_strict_tolerance_still_fails_the_call() -> None:
    result = score(model_call(said("你 脑子 有病 啊", 25.0)))
    (hit,) = hits(result, "abusive_language")
    assert (hit.evidence, hit.needs_review, hit.deduction) == ("脑子有病", False, 100.0)
    assert (result.score, result.band, result.instant_fail) == (0.0, "不合格", True)


def test_a_garbled_forbidden_phrase_is_reviewed_not_deducted() -> None:
    result = score(model_call(said("这个 不 明 我们 管", 25.0)))  # 归 heard as 明
    (hit,) = hits(result, "forbidden_phrase")
    assert (hit.needs_review, hit.deduction) == (True, 0.0)
    assert result.score == 100.0


def shifted(data: dict[str, Any], by: float) -> dict[str, Any]:
    """The same call in a recording that began `by` seconds before pickup."""

    def move(utt: dict[str, Any]) -> dict[str, Any]:
        words = [{**w, "start": w["start"] + by, "end": w["end"] + by} for w in utt["result"]]
        return {**utt, "result": words}

    channels = {side: [move(u) for u in utts] for side, utts in data["channels"].items()}
    return {**data, "channels": channels, "answered_s": by}


def test_a_caller_who_waited_in_the_queue_is_greeted_after_pickup_not_docked() -> None:
    # the recording starts as the call enters: 25 s of queue and ringing come first, and
    # the customer says 「喂」 into the ringback
    data = shifted(model_call(), 25.0)
    data["channels"]["customer"].insert(0, said("喂", 2.0))
    result = score(data)
    assert result.hits == () and result.score == 100.0

    # without the pickup time the greeting falls outside its window
    data.pop("answered_s")
    late = {h.rule for h in score(data).hits}
    assert {"greeting_missing", "greeting_agent_number", "silence_long"} <= late


def test_a_greeting_missing_after_a_queue_wait_is_placed_at_the_pickup() -> None:
    data = shifted(call([said("嗯 什么 事", 3.0), said(CLOSING, 20.0), said(GOODBYE, 25.0)]), 30.0)
    (hit,) = hits(score(data), "greeting_missing")
    assert hit.start == pytest.approx(33.0) and hit.evidence == "嗯什么事"


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("ring_seconds", float("nan")),
        ("ring_seconds", -1),
        ("ring_seconds", float("inf")),
        ("answered_s", -3),
        ("answered_s", "12"),
        ("answered_s", True),
    ],
)
def test_impossible_seconds_are_refused_with_the_field_named(field: str, value: Any) -> None:
    with pytest.raises(InvalidInput, match=field):
        CallInput.from_dict({**model_call(), field: value})


def test_cutting_in_on_the_customer_twice_is_an_interruption_once_is_allowed() -> None:
    data = model_call()
    # the customer explains from 20 s to 30.5 s; the agent starts at 27 s and talks over it
    data["channels"]["customer"].insert(
        1, said("我家 燃气 表 上个月 还 好好 的 这个月 就 不走 了", 20.0)
    )
    data["channels"]["agent"][1] = said("好的 请您 稍等 我 帮您 查询 一下", 27.0)
    assert hits(score(data), "interruption") == []  # one is tolerated (max_per_call: 1)
    data["channels"]["customer"].append(
        said("还有 一个 事 我 家 楼下 也 有 味道 你们 一起 看看", 44.0)
    )
    data["channels"]["agent"].insert(3, said("好的 我 一起 登记", 48.0))
    (hit,) = hits(score(data), "interruption")
    assert (hit.channel, hit.start, hit.deduction) == ("agent", 27.0, 5.0)
    assert hit.evidence.startswith(
        "抢话 2 次（允许 1 次，客户仍在说话时坐席开口、同时说话超过 1 秒）：27.0–30.5 秒、48.0–"
    )


def test_a_short_backchannel_or_a_quick_turn_over_the_customer_is_no_interruption() -> None:
    data = model_call()
    data["channels"]["customer"].insert(
        1, said("我家 燃气 表 上个月 还 好好 的 这个月 就 不走 了", 20.0)
    )
    data["channels"]["agent"].insert(1, said("嗯", 24.0))  # 0.5 s over the customer
    data["channels"]["agent"].insert(2, said("对", 26.0))
    data["channels"]["agent"][3] = said("好的 请您 稍等 我 帮您 查询 一下", 30.0)  # 0.4 s early
    assert hits(score(data), "interruption") == []
    # a mono recording cannot tell who spoke when: not judged
    parsed = CallInput.from_dict(data)
    mono = CallInput(parsed.call_id, "1023", 4.0, parsed.agent + parsed.customer, (), mixed=True)
    assert [h for h in score_call(mono, PACK, ring=RING).hits if h.rule == "interruption"] == []


def test_speech_rate_is_judged_on_a_short_call_once_the_agent_spoke_ten_seconds() -> None:
    line = "您好 燃气 客服 中心 请问 有 什么 可以 帮您 好的 请您 稍等 我 帮您 查询 一下 户号"
    quick = said(line, 0.5, per_char=0.3)  # 32 characters in 11.2 s
    (hit,) = hits(score(call([quick])), "speech_rate_fast")
    assert hit.evidence == "语速 171 字/分钟（标准 120±30；32 字，说话 11.2 秒）"
    too_short = said("您好 燃气 客服 中心 请问 有 什么 可以", 0.5, per_char=0.3)
    assert hits(score(call([too_short])), "speech_rate_fast") == []  # 5.2 s: not judged


def test_a_rate_inside_the_band_around_120_passes_and_outside_it_is_a_hit() -> None:
    def at(per_char: float) -> dict[str, Any]:
        data = model_call()
        for utt in data["channels"]["agent"]:
            utt.update(said(utt["text"], utt["result"][0]["start"], per_char=per_char))
        return data

    assert not {"speech_rate_fast", "speech_rate_slow"} & {h.rule for h in score(at(0.45)).hits}
    (fast,) = hits(score(at(0.33)), "speech_rate_fast")  # once 180 passed: now a hit
    assert "字/分钟（标准 120±30" in fast.evidence
    (slow,) = hits(score(at(0.62)), "speech_rate_slow")  # once 80 passed: now a hit
    assert slow.deduction == 5.0


def test_a_goodbye_the_recogniser_cut_at_the_end_of_the_channel_counts_as_said() -> None:
    data = model_call()
    data["channels"]["agent"][-2] = said("好的", 60.0)
    data["channels"]["agent"][-1] = said("感谢 您的 来电 再", 68.0)  # 见 lost as the channel ends
    result = score(data)
    assert hits(result, "politeness") == [] and hits(result, "closing_missing") == []

    # only at the very end: a 再 before more words is not a cut goodbye
    data["channels"]["agent"][-1] = said("感谢 您的 来电 再 联系", 68.0)
    assert [h.evidence for h in hits(score(data), "politeness")] == ["缺少「再见」"]

    # a pack that wants the whole word says so
    strict = load_pack_with(lambda raw: raw["matching"].update(cut_words_at_end=[]))
    data["channels"]["agent"][-1] = said("感谢 您的 来电 再", 68.0)
    result = score_call(CallInput.from_dict(data), strict, ring=RING)
    assert [h.evidence for h in hits(result, "politeness")] == ["缺少「再见」"]
    assert hits(result, "closing_missing")


def load_pack_with(edit: Any) -> Any:
    import yaml

    from hotline.quality.pack import default_pack_path, pack_from_dict

    raw = yaml.safe_load(default_pack_path().read_text(encoding="utf-8"))
    edit(raw)
    return pack_from_dict(raw)


def test_the_ring_limit_is_the_settings_one_not_the_packs() -> None:
    data = model_call()
    data["ring_seconds"] = 18.2  # 4 rings of 5 s
    assert hits(score(data), "answer_late")
    four_rings = RingRule(period_s=5.0, max_rings=4)
    assert hits(score_call(CallInput.from_dict(data), PACK, ring=four_rings), "answer_late") == []
    long_rings = RingRule(period_s=6.5, max_rings=3)  # a switch with a longer ring cadence
    assert hits(score_call(CallInput.from_dict(data), PACK, ring=long_rings), "answer_late") == []


def test_a_phrase_with_innocent_uses_goes_to_review_and_its_innocent_form_is_no_hit() -> None:
    (hit,) = hits(score(model_call(said("你 打错 了", 25.0))), "forbidden_phrase")
    assert (hit.needs_review, hit.deduction) == (True, 0.0)
    assert hit.evidence == "打错了（「打错了」也可能是正常说法，待复核）"
    asking = model_call(said("您 是不是 打错 了 这里 是 燃气 客服 热线", 25.0))
    assert hits(score(asking), "forbidden_phrase") == []
    if_you = model_call(said("如果 您 不 清楚 户号 报 地址 也 可以", 25.0))
    assert hits(score(if_you), "forbidden_phrase") == []


def test_near_misses_that_mean_the_opposite_do_not_fire() -> None:
    for line in (
        "我 知道 了 马上 给 您 登记",
        "这个 问题 归 我们 管 您 放心",
        "我们 有 办法 解决 您 放心",
        "晚上 下班 了 明天 也 可以 打 这个 电话",
        "如果 对 结果 不 满意 您 可以 去 投诉",
        "不 着急 您 慢慢 说",
    ):
        assert hits(score(model_call(said(line, 25.0))), "forbidden_phrase") == [], line


def test_speaking_in_the_customers_pause_is_no_interruption_talking_over_words_is() -> None:
    from hotline.quality.scoring import interruptions

    customer = said("我家 燃气 表 上个月 还 好好 的", 20.0)
    customer["result"].append({"word": "对吧", "start": 28.0, "end": 28.6, "conf": 0.9})
    customer["text"] += " 对吧"  # words until 26.6 s, a pause, then 对吧 at 28 s
    pause = CallInput.from_dict(
        call([said("好的 我 帮您 查 一下 上个月 的 读数", 26.8)], [customer])
    )
    assert interruptions(pause.agent, pause.customer, 1.0) == []  # 0.6 s of 对吧 under it
    early = CallInput.from_dict(
        call([said("好的 我 帮您 查 一下 上个月 的 读数", 23.0)], [customer])
    )
    assert interruptions(early.agent, early.customer, 1.0) == [(23.0, 28.6)]
