"""Transcript JSON: Vosk's own result shape per utterance, read back as it was written."""

from __future__ import annotations

import json

import pytest

from hotline.asr.transcript import (
    Channel,
    ChannelTranscript,
    Transcript,
    TranscriptFormatError,
    Utterance,
    Word,
    utterance_from_vosk,
)

VOSK_RESULT = {
    "result": [
        {"conf": 1.0, "end": 1.02, "start": 0.51, "word": "請問"},
        {"conf": 0.87, "end": 1.2, "start": 1.02, "word": "您"},
    ],
    "text": "請問 您",
}


def sample() -> Transcript:
    customer = utterance_from_vosk(VOSK_RESULT, Channel.CUSTOMER)
    agent = Utterance("再见", (Word("再见", 2.0, 2.4, 0.9),), "再见", 2.0, 2.4, Channel.AGENT)
    return Transcript(
        channels=(
            ChannelTranscript(Channel.CUSTOMER, (customer,)),
            ChannelTranscript(Channel.AGENT, (agent,)),
        ),
        model_id="vosk-model-small-cn-0.22",
        vosk_version="0.3.45",
        duration_s=3.0,
    )


def test_from_a_raw_vosk_result() -> None:
    u = utterance_from_vosk(VOSK_RESULT, Channel.CUSTOMER)
    assert u.text == "請問 您"
    assert u.normalized == "请问您"
    assert (u.start, u.end) == (0.51, 1.2)
    assert u.words[0] == Word("請問", 0.51, 1.02, 1.0)
    assert u.channel is Channel.CUSTOMER


def test_json_round_trip() -> None:
    t = sample()
    assert Transcript.from_json(t.to_json()) == t


def test_json_keeps_vosk_shape() -> None:
    data = json.loads(sample().to_json())
    assert data["model_id"] == "vosk-model-small-cn-0.22"
    assert data["vosk_version"] == "0.3.45"
    first = data["channels"][0]
    assert first["channel"] == "customer"
    utterance = first["utterances"][0]
    assert utterance["text"] == VOSK_RESULT["text"]
    assert utterance["result"] == [
        {"word": w["word"], "start": w["start"], "end": w["end"], "conf": w["conf"]}
        for w in VOSK_RESULT["result"]
    ]
    assert utterance["normalized"] == "请问您"
    assert "请问您" in sample().to_json()  # not \u-escaped


def test_accessors() -> None:
    t = sample()
    customer = t.channel("customer")
    assert customer is not None
    assert customer.text == "请问您"
    assert [w.word for w in customer.words] == ["請問", "您"]
    assert t.channel(Channel.MIXED) is None
    assert [u.channel for u in t.utterances] == [Channel.CUSTOMER, Channel.AGENT]


@pytest.mark.parametrize(
    "text",
    ["not json", "[]", '{"channels": []}', '{"format": 99, "channels": []}',
     '{"model_id": "m", "vosk_version": "v", "duration_s": 1, "channels": [{"channel": "x"}]}'],
)  # fmt: skip
def test_bad_json_is_a_format_error(text: str) -> None:
    with pytest.raises(TranscriptFormatError) as err:
        Transcript.from_json(text)
    assert "transcribe the recording again" in str(err.value)
