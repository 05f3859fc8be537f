"""Tests of the 工单 core. `said()` builds a customer's utterance the way Vosk returns it."""

from __future__ import annotations

from hotline.asr.transcript import Channel, Utterance, utterance_from_vosk


def said(text: str, at: float = 0.0, channel: Channel = Channel.CUSTOMER) -> Utterance:
    """One utterance as Vosk's Chinese model writes it: words separated by spaces, each word
    0.4 s long and 0.1 s apart, starting `at` seconds into the recording."""
    words = [
        {"word": w, "start": at + i * 0.5, "end": at + i * 0.5 + 0.4, "conf": 0.93}
        for i, w in enumerate(text.split())
    ]
    return utterance_from_vosk({"text": text, "result": words}, channel)
