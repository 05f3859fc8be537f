"""The call service: one ordered consumer of the AMI queue. Rule: no event is ever dropped.

It feeds frames to the pure tracker, saves every call the batch touched in one
transaction (retrying while the database is away: the queue just grows), then publishes
what happened and hands finished calls to the callback service. Followers (the live
agent/queue state) get the same parsed events, listings and link drops, in the same order,
and commit their batch before the calls' (an agent's ringing before the call's).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from sqlalchemy.exc import SQLAlchemyError

from hotline.core.bus import Bus, Message
from hotline.core.jobs import is_waiting
from hotline.telephony import events
from hotline.telephony.ami import LinkDown, LinkUp, Resync
from hotline.telephony.frames import Frame
from hotline.telephony.model import CallEvent, CallEventKind, CallRecord
from hotline.telephony.store import CallStore
from hotline.telephony.tracker import CallTracker

log = logging.getLogger(__name__)

QueueItem = tuple[datetime, Frame] | LinkUp | LinkDown | Resync


def summary(record: CallRecord) -> dict[str, Any]:
    """The JSON payload of a call event (MQTT, bus)."""
    return {
        "call_id": record.call_id,
        "direction": record.direction.value,
        "caller_number": record.caller_number,
        "caller_name": record.caller_name,
        "dialled": record.dialled,
        "queue": record.queue,
        "agent_member": record.agent_member,
        "agent_interface": record.agent_interface,
        "entered_at": record.entered_at,
        "answered_at": record.answered_at,
        "ended_at": record.ended_at,
        "ring_seconds": record.ring_seconds,
        "rings": record.rings,
        "within_rule": record.within_rule,
        "wait_seconds": record.wait_seconds,
        "talk_seconds": record.talk_seconds,
        "hangup_by": record.hangup_by.value if record.hangup_by else None,
        "hangup_cause": record.hangup_cause,
        "outcome": record.outcome.value,
        "recording_file": record.recording_file,
        "callback_id": record.callback_id,
    }


class Follower(Protocol):
    """Fed by the call consumer besides the tracker, e.g. the live agent/queue state."""

    def feed(self, event: events.AmiEvent) -> None: ...

    def resync(self, listing: Sequence[events.AmiEvent], at: datetime) -> None: ...

    def link_down(self, at: datetime) -> None: ...

    async def commit(self) -> None: ...


@dataclass(slots=True)
class Counters:
    frames: int = 0
    skipped: int = 0
    malformed: int = 0
    saved: int = 0
    db_retries: int = 0


class CallService:
    def __init__(
        self,
        tracker: CallTracker,
        store: CallStore,
        bus: Bus,
        *,
        end_unknown_after: timedelta,
        on_ended: Sequence[Callable[[CallRecord], Awaitable[object]]] = (),
        on_event: Sequence[Callable[[CallEvent], Awaitable[object]]] = (),
        batch: int = 1000,
        linger_s: float = 0.05,
        followers: Sequence[Follower] = (),
    ) -> None:
        self.tracker = tracker
        self.store = store
        self.bus = bus
        self.end_unknown_after = end_unknown_after
        self.on_ended = tuple(on_ended)  # after-call work: callbacks, archiving, ...
        self.on_event = tuple(on_event)  # every stored call event: callback legs' progress
        self.batch = batch  # at most this many AMI items per transaction
        self.linger_s = linger_s  # and at most this late: a burst is saved in one go
        self.counters = Counters()
        self.followers = list(followers)
        self._last_expiry = datetime.now(UTC)

    async def restore(self) -> int:
        """Reload the calls that were in progress when the service last stopped."""
        records = await self.store.load_open()
        self.tracker.restore(records)
        if records:
            log.info("restored %d call(s) in progress from the database", len(records))
        return len(records)

    async def run(self, queue: asyncio.Queue[QueueItem]) -> None:
        while True:
            try:
                first = await asyncio.wait_for(queue.get(), timeout=30.0)
            except TimeoutError:
                await self._commit_followers()
                await self._commit(self._expire())
                continue
            items = [first]
            deadline = asyncio.get_running_loop().time() + self.linger_s
            while len(items) < self.batch:
                if not queue.empty():
                    items.append(queue.get_nowait())
                    continue
                wait = deadline - asyncio.get_running_loop().time()
                if wait <= 0:
                    break
                try:
                    items.append(await asyncio.wait_for(queue.get(), wait))
                except TimeoutError:
                    break
            produced = [e for item in items for e in self.handle(item)]
            produced.extend(self._expire())
            await self._commit_followers()
            await self._commit(produced)
            for _ in items:
                queue.task_done()

    def handle(self, item: QueueItem) -> list[CallEvent]:
        """Feed one queue item to the tracker (pure apart from counters and logs)."""
        if isinstance(item, LinkUp):
            return []
        if isinstance(item, LinkDown):
            self.tracker.link_down(item.at)
            self._follow(lambda f: f.link_down(item.at))
            return []
        if isinstance(item, Resync):
            listing = [e for f in item.frames if (e := self._parse(f, item.at)) is not None]
            self._follow(lambda f: f.resync(listing, item.at))
            return self.tracker.resync(listing, item.at)
        received_at, frame = item
        self.counters.frames += 1
        event = self._parse(frame, received_at)
        if event is None:
            return []
        if self.followers:
            self._follow(lambda f: f.feed(event))
        return self.tracker.feed(event)

    def _follow(self, step: Callable[[Follower], object]) -> None:
        for follower in self.followers:
            try:
                step(follower)
            except Exception:  # a follower's bug must not stop the calls
                log.exception("follower %s failed", type(follower).__name__)

    async def _commit_followers(self) -> None:
        for follower in self.followers:
            try:
                await follower.commit()
            except Exception:
                log.exception("follower %s failed to commit", type(follower).__name__)

    def _parse(self, frame: Frame, at: datetime) -> events.AmiEvent | None:
        try:
            event = events.parse(frame, at)
        except events.MalformedFrame as exc:
            self.counters.malformed += 1
            log.warning("skipped a malformed AMI frame (%s): %r", exc, frame.headers[:6])
            return None
        except Exception:
            self.counters.malformed += 1
            log.exception("skipped an AMI frame that could not be parsed: %r", frame.headers[:6])
            return None
        if event is None:
            self.counters.skipped += 1
        return event

    def _expire(self) -> list[CallEvent]:
        now = datetime.now(UTC)
        if now - self._last_expiry < timedelta(seconds=30):
            return []
        self._last_expiry = now
        return self.tracker.expire(now, self.end_unknown_after)

    async def _commit(self, produced: list[CallEvent]) -> None:
        if not produced:
            return
        gone = {e.record.call_id for e in produced if e.kind is CallEventKind.DISCARDED}
        kept = [e.record for e in produced if e.record.call_id not in gone]
        await self._write(lambda: self.store.save(kept, delete=gone), len(produced))
        for event in produced:
            if event.record.call_id in gone:
                continue
            await self.bus.publish(
                Message(f"call/{event.kind.value}", summary(event.record), event.at)
            )
            for follow in self.on_event:
                try:
                    await follow(event)
                except Exception:
                    log.exception("call event work failed for call %s", event.record.call_id)
            if event.kind is CallEventKind.ENDED:
                await self.after_call(event.record)

    async def ended(self, record: CallRecord) -> None:
        """Store a call that ended and run its after-call work, as the consumer does for
        the calls it follows (e.g. a call replayed from a switch's CDR)."""
        await self._write(lambda: self.store.save([record], delete=set()), 1)
        await self.after_call(record)

    async def after_call(self, record: CallRecord) -> None:
        """The work after a stored call ended (its recording, callback, ticket), each hook
        in turn (see `_after_call`)."""
        for hook in self.on_ended:
            await self._after_call(hook, record)

    async def _after_call(
        self, hook: Callable[[CallRecord], Awaitable[object]], record: CallRecord
    ) -> None:
        """Run one after-call hook (its recording, callback, ticket): while the database is
        away it is tried again (a call's work is never dropped for an outage); another
        error is logged and the next hook runs."""
        delay = 0.5
        while True:
            try:
                await hook(record)
                return
            except Exception as exc:
                if not is_waiting(exc):
                    log.exception("after-call work failed for call %s", record.call_id)
                    return
                self.counters.db_retries += 1
                log.error(
                    "after-call work for call %s waits for the database: %s", record.call_id, exc
                )
                await asyncio.sleep(delay)
                delay = min(delay * 2, 30.0)

    async def _write(self, work: Callable[[], Awaitable[None]], count: int) -> None:
        delay = 0.5
        while True:
            try:
                await work()
                self.counters.saved += count
                return
            except (SQLAlchemyError, OSError) as exc:  # the database is away (a lost or
                # refused connection, a pool timeout, any database error): hold the batch
                self.counters.db_retries += 1
                log.error("database unavailable, retrying in %.1f s: %s", delay, exc)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 30.0)
