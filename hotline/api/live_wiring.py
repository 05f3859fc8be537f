"""Wires the live agent/queue state into a built app. Rule: one call from the composition
root; the live service follows the one AMI consumer (the call service) and is started and
stopped with the app, after and before the rest."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime

from fastapi import FastAPI, Request
from fastapi.responses import StreamingResponse
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from hotline.api.live_feed import LiveFeed, View, stream
from hotline.core.bus import Bus
from hotline.core.settings import Settings
from hotline.telephony.live import LiveState
from hotline.telephony.live_service import LiveService
from hotline.telephony.live_store import LiveStore
from hotline.telephony.model import RingRule
from hotline.telephony.service import CallService


@dataclass(frozen=True, slots=True)
class Live:
    service: LiveService
    feed: LiveFeed
    heartbeat_s: float
    timezone: str

    def events(self, request: Request, view: View) -> StreamingResponse:
        """The Server-Sent Events response of one open page or client, as `view` sees it."""
        body = stream(
            self.feed,
            view,
            self.service.snapshot,
            lambda: datetime.now(UTC),
            request.is_disconnected,
            self.heartbeat_s,
        )
        headers = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
        return StreamingResponse(body, media_type="text/event-stream", headers=headers)


def attach_live(
    app: FastAPI,
    settings: Settings,
    sessions: async_sessionmaker[AsyncSession],
    bus: Bus,
    calls: CallService,
) -> Live:
    """Build the live service, hook it to the call consumer and the bus, and run it with
    the app's lifespan; the routes find it as `app.state.live`."""
    rules, conf = settings.rules, settings.live
    state = LiveState(
        RingRule(rules.ring_period_s, rules.max_rings),
        settings.timezone,
        wrapup_s=conf.wrapup_s,
        wrapup_by_queue=conf.wrapup_by_queue,
    )
    service = LiveService(state, LiveStore(sessions), bus, calls=calls.store)
    calls.followers.append(service)
    feed = LiveFeed()
    bus.subscribe("", feed.handle)
    live = Live(service, feed, conf.heartbeat_s, settings.timezone)
    app.state.live = live
    inner = app.router.lifespan_context

    @contextlib.asynccontextmanager
    async def lifespan(a: FastAPI) -> AsyncIterator[None]:
        async with inner(a):
            await service.start()
            try:
                yield
            finally:
                await service.stop()

    app.router.lifespan_context = lifespan
    return live
