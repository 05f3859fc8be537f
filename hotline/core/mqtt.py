"""MQTT publisher (aiomqtt). Rule: the broker being down never slows or breaks a call.

Messages wait in a bounded in-memory queue; one task connects, reconnects with backoff
and publishes them at QoS 1 as JSON under `<prefix>/<topic>`. When the queue is full the
oldest message is dropped with a warning.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections import deque
from typing import Any

import aiomqtt

from hotline.core.bus import Message

log = logging.getLogger(__name__)


def encode(message: Message) -> bytes:
    body = {"topic": message.topic, "at": message.at.isoformat(), **message.payload}
    return json.dumps(body, ensure_ascii=False, default=str).encode()


class MqttPublisher:
    def __init__(
        self,
        host: str,
        port: int = 1883,
        *,
        prefix: str = "hotline",
        client_id: str = "hotline",
        username: str | None = None,
        password: str | None = None,
        max_pending: int = 10_000,
    ) -> None:
        self._args: dict[str, Any] = dict(
            hostname=host, port=port, identifier=client_id, username=username, password=password
        )
        self._prefix = prefix.rstrip("/")
        self._pending: deque[Message] = deque()
        self._max_pending = max_pending
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self.connected = False

    async def handle(self, message: Message) -> None:
        """Bus subscriber: queue the message for the broker; never waits for it."""
        if len(self._pending) >= self._max_pending:
            dropped = self._pending.popleft()
            log.warning("MQTT backlog full: dropped %s", dropped.topic)
        self._pending.append(message)
        self._wake.set()

    def start(self) -> None:
        self._task = asyncio.create_task(self.run(), name="mqtt-publisher")

    async def drain(self, drain_s: float = 2.0) -> None:
        """Give the queued messages `drain_s` to reach a connected broker."""
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(drain_s):
                while self._pending and self.connected:
                    await asyncio.sleep(0.02)

    async def stop(self, drain_s: float = 2.0) -> None:
        await self.drain(drain_s)
        if self._task is None:
            return
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task
        self._task = None

    async def run(self) -> None:
        """Connect, publish, reconnect with backoff: forever (a loop to supervise)."""
        delay = 1.0
        while True:
            try:
                async with aiomqtt.Client(**self._args) as client:
                    self.connected = True
                    log.info("MQTT connected to %s:%s", self._args["hostname"], self._args["port"])
                    delay = 1.0
                    while True:
                        while self._pending:
                            message = self._pending[0]
                            await client.publish(
                                f"{self._prefix}/{message.topic}", encode(message), qos=1
                            )
                            self._pending.popleft()
                        self._wake.clear()
                        await self._wake.wait()
            except (aiomqtt.MqttError, OSError) as exc:
                self.connected = False
                log.warning(
                    "MQTT broker %s:%s unreachable (%s); retrying in %.0f s",
                    self._args["hostname"],
                    self._args["port"],
                    exc,
                    delay,
                )
                await asyncio.sleep(delay)
                delay = min(delay * 2, 60.0)
            finally:
                self.connected = False
