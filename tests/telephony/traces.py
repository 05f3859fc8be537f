"""Helpers to replay the real AMI captures of tests/data/ami (origins and licences in its
README) through the tracker."""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from hotline.telephony.events import AmiEvent, MalformedFrame, parse
from hotline.telephony.frames import Frame, parse_block, read_stream
from hotline.telephony.model import CallEvent, CallEventKind, CallRecord, RingRule
from hotline.telephony.tracker import CallTracker

TRACES = Path(__file__).resolve().parents[1] / "data" / "ami"
SHAPES = "verbara/queue-shapes-asterisk-22.9.0"
RELOAD = "verbara/queue-reload-asterisk-22.9.0"
BASE = datetime(
    2026, 3, 2, 8, 0, tzinfo=UTC
)  # received_at of frame 0 when frames carry no Timestamp
STEP = timedelta(milliseconds=100)
# Q.850 causes a hotline treats as a line drop (断线): no circuit, network/temporary failure…
ABNORMAL = frozenset({27, 34, 38, 41, 42, 44})


def load_frames(name: str) -> list[Frame]:
    """Frames of a `.raw` / `.ami` capture (CRLF framing, banner optional)."""
    _, frames = read_stream((TRACES / name).read_bytes())
    return frames


def load_yaml_frames(name: str) -> list[Frame]:
    """Frames of a panoramisk fixture (LF line endings, blank-line separated)."""
    text = (TRACES / name).read_text(encoding="utf-8")
    return [f for block in text.split("\n\n") for f in parse_block(block)]


def expected(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((TRACES / f"{name}.expected.json").read_text())
    return data


def received_at(index: int) -> datetime:
    return BASE + index * STEP


def to_events(frames: Iterable[Frame], first_index: int = 0) -> list[tuple[int, AmiEvent]]:
    """(frame index, event) for every frame the tracker uses; malformed ones are skipped."""
    out: list[tuple[int, AmiEvent]] = []
    for i, frame in enumerate(frames, start=first_index):
        try:
            event = parse(frame, received_at(i))
        except MalformedFrame:
            continue
        if event is not None:
            out.append((i, event))
    return out


def tracker(rule: RingRule | None = None) -> CallTracker:
    return CallTracker(rule or RingRule(), ABNORMAL)


def replay(
    t: CallTracker, frames: list[Frame], start: int = 0, stop: int | None = None
) -> list[CallEvent]:
    """Feed frames[start:stop] (indexes as in the capture) and return every CallEvent."""
    out: list[CallEvent] = []
    for _, event in to_events(frames[start:stop], first_index=start):
        out += t.feed(event)
    return out


def ended(events: Iterable[CallEvent]) -> dict[str, CallRecord]:
    """The final record per call_id; fails on a call ENDED twice."""
    records: dict[str, CallRecord] = {}
    for e in events:
        if e.kind is CallEventKind.ENDED:
            assert e.record.call_id not in records, f"{e.record.call_id} ended twice"
            records[e.record.call_id] = e.record
    return records


def epoch(value: str) -> datetime:
    return datetime.fromtimestamp(float(value), UTC)
