"""A transcript as plain frozen data, and the normalization of Vosk's text. Rule: pure;
the JSON keeps Vosk's own result shape per utterance (`text`, `result` with `word`,
`start`, `end`, `conf`) so what the recognizer said can always be read back as it was.

Times are seconds from the start of the recording, per channel.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from opencc import OpenCC

from hotline.core.errors import HotlineError

FORMAT = 1


class Channel(StrEnum):
    CUSTOMER = "customer"  # left channel of a two-party recording
    AGENT = "agent"  # right channel
    MIXED = "mixed"  # a mono recording: both parties on one channel


class TranscriptFormatError(HotlineError):
    error_id = "transcript_format"


@dataclass(frozen=True, slots=True)
class Word:
    word: str
    start: float
    end: float
    conf: float

    def to_dict(self) -> dict[str, Any]:
        return {"word": self.word, "start": self.start, "end": self.end, "conf": self.conf}


@dataclass(frozen=True, slots=True)
class Utterance:
    text: str  # as Vosk returned it (Chinese: words separated by spaces)
    words: tuple[Word, ...]
    normalized: str  # normalize(text)
    start: float
    end: float
    channel: Channel

    def to_dict(self) -> dict[str, Any]:
        """Vosk's result shape plus our fields; the channel is the enclosing one's."""
        return {
            "text": self.text,
            "result": [w.to_dict() for w in self.words],
            "normalized": self.normalized,
            "start": self.start,
            "end": self.end,
        }


@dataclass(frozen=True, slots=True)
class ChannelTranscript:
    channel: Channel
    utterances: tuple[Utterance, ...]

    @property
    def words(self) -> tuple[Word, ...]:
        return tuple(w for u in self.utterances for w in u.words)

    @property
    def text(self) -> str:
        """The normalized utterances joined, for reading and search."""
        return "\n".join(u.normalized for u in self.utterances)


@dataclass(frozen=True, slots=True)
class Transcript:
    channels: tuple[ChannelTranscript, ...]
    model_id: str
    vosk_version: str
    duration_s: float

    def channel(self, channel: Channel | str) -> ChannelTranscript | None:
        return next((c for c in self.channels if c.channel == channel), None)

    @property
    def utterances(self) -> tuple[Utterance, ...]:
        """All channels' utterances in time order (customer before agent on a tie)."""
        every = [u for c in self.channels for u in c.utterances]
        return tuple(sorted(every, key=lambda u: (u.start, u.end)))

    def to_dict(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "model_id": self.model_id,
            "vosk_version": self.vosk_version,
            "duration_s": self.duration_s,
            "channels": [
                {"channel": c.channel.value, "utterances": [u.to_dict() for u in c.utterances]}
                for c in self.channels
            ],
        }

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), ensure_ascii=False)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Transcript:
        try:
            if data.get("format", FORMAT) != FORMAT:
                raise ValueError(f"format {data.get('format')!r}, this version reads {FORMAT}")
            return cls(
                channels=tuple(_channel_from(c) for c in data["channels"]),
                model_id=str(data["model_id"]),
                vosk_version=str(data["vosk_version"]),
                duration_s=float(data["duration_s"]),
            )
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise TranscriptFormatError(
                f"转写结果格式错误 (not a transcript: {type(exc).__name__}: {exc}); "
                "it was not written by hotline.asr or was damaged: transcribe the recording again"
            ) from exc

    @classmethod
    def from_json(cls, text: str | bytes) -> Transcript:
        try:
            data = json.loads(text)
        except ValueError as exc:
            raise TranscriptFormatError(
                f"转写结果不是 JSON (transcript is not JSON: {exc}); transcribe the recording again"
            ) from exc
        if not isinstance(data, dict):
            raise TranscriptFormatError(
                "转写结果格式错误 (transcript JSON is not an object); "
                "transcribe the recording again"
            )
        return cls.from_dict(data)


def _channel_from(data: Mapping[str, Any]) -> ChannelTranscript:
    channel = Channel(data["channel"])
    utterances = tuple(utterance_from_vosk(u, channel) for u in data["utterances"])
    return ChannelTranscript(channel, utterances)


def utterance_from_vosk(data: Mapping[str, Any], channel: Channel) -> Utterance:
    """An utterance from Vosk's result shape; `normalized`, `start`, `end` are computed when
    absent (a raw Vosk result) and read back when present (our JSON)."""
    words = tuple(
        Word(str(w["word"]), float(w["start"]), float(w["end"]), float(w["conf"]))
        for w in data.get("result", ())
    )
    text = str(data["text"])
    normalized = data.get("normalized")
    start = data.get("start", words[0].start if words else 0.0)
    end = data.get("end", words[-1].end if words else 0.0)
    return Utterance(
        text=text,
        words=words,
        normalized=normalize(text) if normalized is None else str(normalized),
        start=float(start),
        end=float(end),
        channel=channel,
    )


# --- normalization ---------------------------------------------------------------------------

# Han ideographs and the CJK punctuation/fullwidth forms written with them: no space is
# kept next to these. Between two other tokens (Latin, digits, Hangul, ...) the space stays.
_CJK = (
    "\u2e80-\u2fdf"  # radicals
    "\u3000-\u303f"  # CJK symbols and punctuation
    "\u3100-\u312f\u31a0-\u31bf"  # bopomofo
    "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"  # ideographs, compatibility ideographs
    "\ufe30-\ufe4f\uff00-\uffef"  # CJK compatibility forms, fullwidth forms
    "\U00020000-\U0003134f"  # ideographs, extensions B-H
)
_SPACE_NEXT_TO_CJK = re.compile(rf"(?<=[{_CJK}])\s+|\s+(?=[{_CJK}])")
_SPACES = re.compile(r"\s+")
_converters = threading.local()


def _t2s(text: str) -> str:
    converter = getattr(_converters, "t2s", None)
    if converter is None:
        converter = _converters.t2s = OpenCC("t2s")
    result: str = converter.convert(text)
    return result


def normalize(text: str) -> str:
    """Vosk's text for reading and search: no spaces next to Chinese characters (Vosk puts
    one between words), one space between other tokens ("ID 12345"), traditional characters
    converted to simplified (OpenCC t2s, phrase-aware), stripped."""
    joined = _SPACE_NEXT_TO_CJK.sub("", _SPACES.sub(" ", text.strip()))
    return _t2s(joined).strip() if joined else ""
