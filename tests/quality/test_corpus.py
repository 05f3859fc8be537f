"""The labelled call generator is what it claims: Vosk-shaped JSON of 3–5 minute calls, the
CER asked for, labels that agree with the staged cases and the true speech, and the same
calls for the same seed."""

from __future__ import annotations

import statistics

import pytest

from hotline.asr.transcript import normalize
from hotline.quality.model import CallInput
from tests.quality.corpus import (
    ABUSIVE,
    FORBIDDEN,
    INNOCENT,
    RULES,
    Call,
    generate,
    make_call,
    measured_cer,
    spoken_digits,
)


@pytest.fixture(scope="module")
def calls() -> list[Call]:
    return generate(120, seed=7)


def test_the_same_seed_gives_the_same_calls_and_another_seed_other_calls() -> None:
    a, b = make_call(11, 3), make_call(11, 3)
    assert a.data == b.data
    assert a.labels == b.labels
    assert make_call(12, 3).data != a.data


def test_every_call_is_a_vosk_shaped_three_to_five_minute_conversation(calls: list[Call]) -> None:
    for call in calls:
        parsed = CallInput.from_dict(call.data)
        utterances = len(parsed.agent) + len(parsed.customer)
        assert 15 <= utterances <= 72, (call.call_id, utterances)
        assert 170 <= call.truth[-1].end <= 330, (call.call_id, call.truth[-1].end)
        for side in ("agent", "customer"):
            for utt in call.data["channels"][side]:
                words = utt["result"]
                assert utt["text"] == " ".join(w["word"] for w in words)
                assert all(0 <= w["conf"] <= 1 and w["start"] <= w["end"] for w in words)
    durations = [c.truth[-1].end for c in calls]
    assert 180 <= statistics.median(durations) <= 300


@pytest.mark.parametrize(("target", "slack"), [(0.10, 0.03), (0.25, 0.035), (0.35, 0.05)])
def test_the_character_error_rate_is_near_the_one_asked_for(target: float, slack: float) -> None:
    cer = statistics.mean(measured_cer(c) for c in generate(40, seed=3, cer=target))
    assert abs(cer - target) <= slack, cer


def test_without_errors_the_recognizer_returns_what_was_said() -> None:
    for call in generate(10, seed=5, cer=0.0):
        assert measured_cer(call) < 0.01  # a traditional-script round trip may differ


def test_the_recognizer_makes_the_errors_chinese_asr_makes(calls: list[Call]) -> None:
    heard = [u["text"] for c in calls for u in c.data["channels"]["agent"]]
    said = [u.text for c in calls for u in c.truth if u.channel == "agent"]
    assert all(" " in h for h, s in zip(heard, said, strict=True) if len(s) > 6)
    joined = "".join(heard)
    assert "您" in "".join(said) and "你" in joined  # 您 -> 你
    assert any(w in joined for w in ("在见", "再建", "宰见"))  # 再见 misheard
    assert any(w in joined for w in ("清问", "情问"))  # 请问 misheard
    assert sum(h.replace(" ", "") != normalize(h) for h in heard) > 50  # traditional script
    assert sum("traditional_model" in c.labels.cases for c in calls) >= 5
    # corrupted words are less sure of themselves, though not always
    confs: dict[bool, list[float]] = {True: [], False: []}
    for call in calls:
        agent = [u for u in call.truth if u.channel == "agent"]
        for truth, utt in zip(agent, call.data["channels"]["agent"], strict=True):
            for w in utt["result"]:
                confs[normalize(w["word"]) not in truth.text].append(w["conf"])
    assert statistics.mean(confs[True]) < statistics.mean(confs[False]) - 0.1
    assert max(confs[True]) > 0.9


def test_labels_agree_with_the_staged_cases(calls: list[Call]) -> None:
    for call in calls:
        cases, fires = set(call.labels.cases), call.labels.fires
        number = call.data["agent_number"]
        if "greeting:none" in cases:
            assert "greeting_missing" in fires
        if "greeting:model" in cases:
            assert "greeting_missing" not in fires
            assert "greeting_agent_number" not in fires
        if "greeting:wrong_number" in cases or "greeting:no_number" in cases:
            assert ("greeting_agent_number" in fires) == (number is not None)
        if number is None:
            assert "greeting_agent_number" not in fires
        assert ("answer_late" in fires) == (call.data["ring_seconds"] > 15)
        assert ("silence_long" in fires) == ("dead_air" in cases)
        assert ("speech_rate_fast" in fires) == ("rate:fast" in cases)
        assert ("speech_rate_slow" in fires) == ("rate:slow" in cases)
        assert bool(call.labels.forbidden) == ("forbidden" in cases)
        assert bool(call.labels.abusive) == ("abusive" in cases)
        assert bool(call.labels.tolerated) == ("tolerated" in cases)
        if "closing:full" in cases or "closing:bye" in cases:
            assert "closing_missing" not in fires
        if "closing:none" in cases or "closing:check_then_more" in cases:
            assert "closing_missing" in fires
        if "rude_agent" in cases:
            assert call.labels.politeness_missing == ("请", "您", "再见")
        assert fires <= set(RULES)
        # cut-ins are 抢话, a 嗯 over the customer is not; one is allowed
        staged = next((int(c.split(":")[1]) for c in cases if c.startswith("interrupts:")), 0)
        assert call.labels.interrupts == staged
        assert ("interruption" in fires) == (call.labels.interrupts > 1)


def test_labels_are_read_off_the_true_speech(calls: list[Call]) -> None:
    for call in calls:
        agent = "".join(u.text for u in call.truth if u.channel == "agent")
        said = sum(agent.count(p) for p in FORBIDDEN)
        polite = agent.replace("你", "您")  # a rude agent says 你 in the innocent words too
        innocent = sum(
            polite.count(w) for p, words in INNOCENT.items() if p in FORBIDDEN for w in words
        )
        assert said == len(call.labels.forbidden) + len(call.labels.tolerated) + innocent
        for o in call.labels.forbidden:
            assert o.end - o.start < 12
        if call.data["agent_number"] and "greeting_agent_number" not in call.labels.fires:
            assert call.data["agent_number"] in spoken_digits(agent)
        if "customer_forbidden" in call.labels.cases:
            customer = "".join(u.text for u in call.truth if u.channel == "customer")
            assert any(p in customer for p in FORBIDDEN + ABUSIVE)
        if "scalding" in call.labels.cases:
            assert "滚烫" in agent  # and no abusive label unless an insult was staged (above)


def test_only_dead_air_leaves_more_than_fifteen_seconds_without_a_word(calls: list[Call]) -> None:
    for call in calls:
        words = sorted(
            (w["start"], w["end"])
            for side in call.data["channels"].values()
            for u in side
            for w in u["result"]
        )
        reach, longest = words[0][1], 0.0
        for start, end in words[1:]:
            longest = max(longest, start - reach)
            reach = max(reach, end)
        if "dead_air" in call.labels.cases:
            assert 20 <= longest <= 41
        else:
            assert longest < 12, (call.call_id, longest)


def test_the_corpus_mixes_every_case(calls: list[Call]) -> None:
    cases = [case for c in calls for case in c.labels.cases]
    for wanted in (
        "greeting:none",
        "greeting:wrong_number",
        "greeting:no_number",
        "closing:check_then_more",
        "rude_agent",
        "customer_forbidden",
        "tolerated",
        "dead_air",
        "late_answer",
        "rate:fast",
        "rate:slow",
        "interrupts:1",
        "interrupts:2",
        "backchannel",
        "agent_near_miss",
        "cut_goodbye",
    ):
        assert wanted in cases, wanted
