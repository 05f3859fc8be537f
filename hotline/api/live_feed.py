"""Live changes to open Server-Sent-Event streams. Rule: a slow client never slows the bus:
each stream has a bounded queue, and one that falls behind is cut (its browser reconnects
and starts again from a fresh snapshot).

Each change is encoded once for all the streams that get the same payload (every
supervisor), and a stream writes what has queued up in one chunk: encoding per stream
was what limited 50 supervisors' pages (benchmarks/live_state.py).

What a user sees: supervisors and admins everything; anyone else their own member's state
(an agent user names the member or the interface, as for their calls), the call events of
calls offered to them (ringing, answered: the workspace pops the caller) and, for their
queues, the waiting counts without the callers' numbers.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from fastapi.encoders import jsonable_encoder

from hotline.api.users import Role, User
from hotline.core.bus import Message
from hotline.telephony.live import LiveSnapshot
from hotline.telephony.live_service import (
    AGENT_STATE,
    LINK,
    QUEUE_CHANGED,
    agent_payload,
    queue_payload,
    snapshot_payload,
)

RETRY_MS = 3000
_COUNTS = (
    "queue",
    "waiting_count",
    "longest_waiting_since",
    "longest_wait_seconds",
    "agents_logged_in",
    "agents_available",
)
_CUT = object()  # put on a queue that overflowed: the stream ends


def _queue_counts(p: dict[str, Any]) -> dict[str, Any]:
    """What an agent may see of a queue: counts, no callers."""
    return {k: p[k] for k in _COUNTS if k in p}


@dataclass(slots=True)
class View:
    """What one user may see of the live stream; learns the agent's calls and queues as
    its own `agent/state` messages pass."""

    user: User
    calls: set[str] = field(default_factory=set)
    queues: set[str] = field(default_factory=set)

    @property
    def everything(self) -> bool:
        return self.user.at_least(Role.SUPERVISOR)

    def mine(self, payload: dict[str, Any]) -> bool:
        agent = self.user.agent
        return agent is not None and agent in (payload.get("interface"), payload.get("member"))

    def __call__(self, m: Message) -> dict[str, Any] | None:
        """The payload this user gets for `m`, or None."""
        if self.everything:
            return m.payload
        p = m.payload
        if m.topic == AGENT_STATE:
            if not self.mine(p):
                return None
            offers = [*p.get("ringing", ()), *p.get("calls", ())]
            self.calls.update(o["call_id"] for o in offers if o.get("call_id"))
            self.queues = {q["queue"] for q in p.get("queues", ())}
            return p
        if m.topic.startswith("call/"):
            call_id = p.get("call_id")
            agent = self.user.agent
            answered = agent is not None and agent in (
                p.get("agent_member"),
                p.get("agent_interface"),
            )
            offered = call_id in self.calls
            if m.topic in ("call/ended", "call/discarded"):
                self.calls.discard(call_id)
            return p if answered or offered else None
        if m.topic == QUEUE_CHANGED and p.get("queue") in self.queues:
            return _queue_counts(p)
        if m.topic == LINK:
            return p
        return None  # callers joining / leaving: numbers are for supervisors

    def snapshot(self, snap: LiveSnapshot, now: datetime) -> dict[str, Any]:
        if self.everything:
            return snapshot_payload(snap, now)
        agents = [agent_payload(a) for a in snap.agents if a.is_agent(self.user.agent)]
        for a in agents:  # learn what is already offered / connected
            self(Message(AGENT_STATE, a, now))
        queues = [_queue_counts(queue_payload(q, now)) for q in snap.queues]
        return {
            "at": now,
            "link_up": snap.link_up,
            "agents": agents,
            "queues": [q for q in queues if q["queue"] in self.queues],
        }


@dataclass(eq=False, slots=True)
class _Client:
    view: View
    queue: asyncio.Queue[str | object]  # SSE event texts, then _CUT when cut


class LiveFeed:
    """Subscribed to the whole bus once; fans each message out to the open streams.

    The backlog holds shared texts (a pointer each), so it is deep enough for the burst of
    one consumer batch (up to 1,000 AMI frames, a few changes each) published at once."""

    def __init__(self, backlog: int = 10_000) -> None:
        self.backlog = backlog
        self.seq = 0
        self._clients: set[_Client] = set()
        self.cut = 0  # streams ended for falling behind

    @property
    def clients(self) -> int:
        return len(self._clients)

    async def handle(self, m: Message) -> None:
        self.seq += 1
        texts: dict[int, tuple[dict[str, Any], str]] = {}  # payload kept: its id stays its
        for client in list(self._clients):
            payload = client.view(m)
            if payload is None:
                continue
            done = texts.get(id(payload))
            if done is None:
                done = texts[id(payload)] = (payload, sse(self.seq, m.topic, payload))
            try:
                client.queue.put_nowait(done[1])
            except asyncio.QueueFull:
                self._clients.discard(client)
                self.cut += 1
                client.queue.get_nowait()  # make room for the end mark
                client.queue.put_nowait(_CUT)

    def open(self, view: View) -> _Client:
        client = _Client(view, asyncio.Queue(self.backlog))
        self._clients.add(client)
        return client

    def close(self, client: _Client) -> None:
        self._clients.discard(client)


def sse(event_id: int | None, event: str, data: Any) -> str:
    text = json.dumps(jsonable_encoder(data), ensure_ascii=False, separators=(",", ":"))
    head = f"id: {event_id}\n" if event_id is not None else ""
    return f"{head}event: {event}\ndata: {text}\n\n"


async def stream(
    feed: LiveFeed,
    view: View,
    snapshot: Callable[[], LiveSnapshot],
    now: Callable[[], datetime],
    disconnected: Callable[[], Awaitable[bool]],
    heartbeat_s: float = 15.0,
) -> AsyncIterator[str]:
    """The text of one SSE stream: a retry hint, the user's snapshot, then the changes they
    may see, with a comment every `heartbeat_s` so proxies keep the connection open."""
    client = feed.open(view)
    try:
        yield f"retry: {RETRY_MS}\n\n"
        yield sse(feed.seq, "snapshot", view.snapshot(snapshot(), now()))
        while True:
            try:
                item = await asyncio.wait_for(client.queue.get(), heartbeat_s)
            except TimeoutError:
                if await disconnected():
                    return
                yield ": keepalive\n\n"
                continue
            chunk: list[str] = []
            while isinstance(item, str):  # and whatever queued up meanwhile: one write
                chunk.append(item)
                item = client.queue.get_nowait() if not client.queue.empty() else None
            if chunk:
                yield "".join(chunk)
            if item is _CUT:
                return
    finally:
        feed.close(client)
