"""The in-process event bus. Rule: publishing never blocks or fails the publisher.

Stages talk through it (call ended -> recording archived -> ...). A subscriber that raises
is logged and the others still get the message.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Message:
    topic: str  # e.g. "call/answered", "callback/scheduled"
    payload: dict[str, Any]
    at: datetime = field(default_factory=lambda: datetime.now(UTC))


Handler = Callable[[Message], Awaitable[None]]


class Bus:
    def __init__(self) -> None:
        self._handlers: list[tuple[str, Handler]] = []

    def subscribe(self, prefix: str, handler: Handler) -> None:
        """`handler` gets every message whose topic starts with `prefix` ("" = all)."""
        self._handlers.append((prefix, handler))

    async def publish(self, message: Message) -> None:
        for prefix, handler in self._handlers:
            if message.topic.startswith(prefix):
                try:
                    await handler(message)
                except Exception:
                    log.exception("bus subscriber failed on %s", message.topic)
