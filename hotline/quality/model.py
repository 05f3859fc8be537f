"""What scoring reads and what it returns, as plain frozen data. Rule: the JSON shapes of the
stable scoring interface (`hotline quality score FILE`) are read and written here only.

Input: `{"call_id": str, "agent_number": str|null, "ring_seconds": float|null,
"channels": {"agent": [UTT…], "customer": [UTT…]}}` where each UTT is one Vosk result as
Vosk returns it with `SetWords(True)`: `{"text": str, "result": [{"word", "start", "end",
"conf"}, …]}`; optional `"answered_s"`: when the recording starts before pickup (the queue
wait and the ringing recorded too), the second of the recording at which the agent picked
up (default 0: the recording starts at pickup). Output: `{"call_id", "score", "band",
"hits": [{"rule", "channel", "start", "end", "evidence", "conf", "deduction",
"needs_review"}]}`.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from hotline.asr.transcript import Channel, Transcript, Utterance, utterance_from_vosk
from hotline.core.errors import InvalidInput

AGENT = "agent"
CUSTOMER = "customer"


@dataclass(frozen=True, slots=True)
class CallInput:
    """One call to score: both sides' utterances in time order, and the call's metrics.
    `mixed` is True when both parties share one channel (a mono recording): the agent's
    side is then a guess, and every hit on it needs a human. `answered_s` is the second of
    the recording at which the agent picked up: the greeting is looked for after it."""

    call_id: str
    agent_number: str | None
    ring_seconds: float | None
    agent: tuple[Utterance, ...]
    customer: tuple[Utterance, ...]
    mixed: bool = False
    answered_s: float = 0.0

    @classmethod
    def from_dict(cls, data: Any) -> CallInput:
        """The scoring command's JSON; a clear InvalidInput for anything else."""
        if not isinstance(data, Mapping):
            raise InvalidInput("评分输入必须是 JSON 对象 (the input must be a JSON object)")
        call_id = data.get("call_id")
        if not isinstance(call_id, str) or not call_id:
            raise InvalidInput('缺少 call_id (the input needs "call_id": a non-empty string)')
        number = data.get("agent_number")
        if number is not None and not isinstance(number, str):
            raise InvalidInput('"agent_number" must be a string of digits or null, e.g. "1023"')
        ring = data.get("ring_seconds")
        if ring is not None and not _seconds(ring):
            raise InvalidInput(
                '响铃时长无效 ("ring_seconds" must be a number of seconds, 0 or more, or null)'
            )
        answered = data.get("answered_s", 0.0)
        if not _seconds(answered):
            raise InvalidInput(
                '接通时刻无效 ("answered_s" must be the second of the recording at which the'
                " agent picked up, 0 or more; leave it out when the recording starts at pickup)"
            )
        channels = data.get("channels")
        if not isinstance(channels, Mapping):
            raise InvalidInput(
                '缺少 channels (the input needs "channels": {"agent": [...], "customer": [...]})'
            )
        unknown = set(channels) - {AGENT, CUSTOMER}
        if unknown:
            raise InvalidInput(
                f'unknown channel(s) {sorted(unknown)}: channels are "agent" and "customer"'
            )
        sides = {}
        for side in (AGENT, CUSTOMER):
            utts = channels.get(side, [])
            if not isinstance(utts, list):
                raise InvalidInput(f'"channels.{side}" must be a list of Vosk results')
            try:
                parsed = [utterance_from_vosk(u, Channel(side)) for u in utts]
            except (KeyError, TypeError, ValueError, AttributeError) as exc:
                raise InvalidInput(
                    f'"channels.{side}" holds an utterance that is not a Vosk result '
                    f'({type(exc).__name__}: {exc}); each is {{"text": str, "result": '
                    '[{"word": str, "start": float, "end": float, "conf": float}, ...]}'
                ) from exc
            sides[side] = tuple(sorted(parsed, key=lambda u: (u.start, u.end)))
        return cls(
            call_id=call_id,
            agent_number=number,
            ring_seconds=None if ring is None else float(ring),
            agent=sides[AGENT],
            customer=sides[CUSTOMER],
            answered_s=float(answered),
        )

    @classmethod
    def from_transcript(
        cls,
        call_id: str,
        agent_number: str | None,
        ring_seconds: float | None,
        transcript: Transcript,
        answered_s: float = 0.0,
    ) -> CallInput:
        """A stored transcript; a mono (mixed) one is scored as the agent's side, marked."""
        agent = transcript.channel(Channel.AGENT)
        customer = transcript.channel(Channel.CUSTOMER)
        mixed = transcript.channel(Channel.MIXED)
        if agent is None and mixed is not None:
            return cls(
                call_id,
                agent_number,
                ring_seconds,
                mixed.utterances,
                (),
                mixed=True,
                answered_s=answered_s,
            )
        return cls(
            call_id,
            agent_number,
            ring_seconds,
            agent.utterances if agent else (),
            customer.utterances if customer else (),
            answered_s=answered_s,
        )


def _seconds(value: object) -> bool:
    """A JSON number of seconds: finite and not negative (true/false are not numbers)."""
    return (
        isinstance(value, int | float)
        and not isinstance(value, bool)
        and math.isfinite(value)
        and value >= 0
    )


@dataclass(frozen=True, slots=True)
class Hit:
    """One rule broken (or one phrase said), with its evidence."""

    rule: str  # the rule's stable id, e.g. "forbidden_phrase"
    channel: str  # "agent" or "customer" ("call" for call metrics such as answer_late)
    start: float  # seconds from the start of the recording
    end: float
    evidence: str  # the words heard (normalized), or the measured figure
    conf: float  # mean ASR confidence of the evidence words; 1.0 for call metrics
    deduction: float  # points taken off (0 while it needs review)
    needs_review: bool

    def to_dict(self) -> dict[str, Any]:
        return {
            "rule": self.rule,
            "channel": self.channel,
            "start": round(self.start, 2),
            "end": round(self.end, 2),
            "evidence": self.evidence,
            "conf": round(self.conf, 3),
            "deduction": self.deduction,
            "needs_review": self.needs_review,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Hit:
        return cls(
            rule=str(data["rule"]),
            channel=str(data["channel"]),
            start=float(data["start"]),
            end=float(data["end"]),
            evidence=str(data["evidence"]),
            conf=float(data["conf"]),
            deduction=float(data["deduction"]),
            needs_review=bool(data["needs_review"]),
        )


@dataclass(frozen=True, slots=True)
class Score:
    call_id: str
    score: float  # 0–100
    band: str  # the pack's band label, e.g. "优秀"
    hits: tuple[Hit, ...]
    instant_fail: bool = False  # a rule marked instant_fail was hit (score 0)
    pack: str = ""  # "<pack id>@<version>"

    def to_dict(self) -> dict[str, Any]:
        """The scoring command's output."""
        return {
            "call_id": self.call_id,
            "score": self.score,
            "band": self.band,
            "hits": [h.to_dict() for h in self.hits],
        }


def agent_number_from(pattern: str, *names: str | None) -> str | None:
    """The agent's number (工号) in the first name that holds one: the first group of
    `pattern` (a setting), e.g. 8001 in 'PJSIP/8001' or '8001号客服'."""
    compiled = re.compile(pattern)
    for name in names:
        found = compiled.search(name) if name else None
        if found:
            return found.group(1)
    return None
