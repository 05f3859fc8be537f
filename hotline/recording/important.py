"""重要的资料长期保存. Rule: a call whose ticket is a complaint or an emergency keeps its
recording for the long period; the change is audited as done by the system."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime

from hotline.core.bus import Message
from hotline.recording import retention
from hotline.recording.policy import RetentionPolicy
from hotline.recording.store import RecordingStore, Status

IMPORTANT_CATEGORIES = frozenset({"complaint", "emergency"})


def keep_recordings_of(
    recordings: RecordingStore, policy: RetentionPolicy
) -> Callable[[Message], Awaitable[None]]:
    """A bus subscriber for "ticket/" messages: once a call's ticket is a complaint or an
    emergency, its recording is important."""

    async def on_ticket(message: Message) -> None:
        p = message.payload
        if p.get("category") not in IMPORTANT_CATEGORIES or not p.get("call_id"):
            return
        rec = await recordings.by_call(str(p["call_id"]))
        if rec is not None and not rec.important and rec.status is not Status.PURGED:
            await retention.set_important(
                recordings, rec.id, True, "system", datetime.now(UTC), policy
            )

    return on_ticket
