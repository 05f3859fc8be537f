"""Supervised background loops. Rule: no loop dies silently: one that raises (or returns
while the service runs) is logged with its cause and started again after a backoff
(doubling, capped), and its state is there for the health and readiness checks.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

log = logging.getLogger(__name__)

LoopFactory = Callable[[], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class LoopState:
    name: str
    running: bool  # the loop is up (False between a death and its restart)
    restarts: int  # deaths so far
    last_error: str | None  # the cause of the last death, for people who may see it
    up_since: float | None  # time.time() of the current run


class _Loop:
    def __init__(self, name: str, factory: LoopFactory) -> None:
        self.name = name
        self.factory = factory
        self.running = False
        self.restarts = 0
        self.last_error: str | None = None
        self.up_since: float | None = None
        self.task: asyncio.Task[None] | None = None


class Loops:
    """Starts named loops and keeps them running until `stop`."""

    def __init__(self, *, backoff_s: float = 1.0, max_backoff_s: float = 60.0) -> None:
        self.backoff_s = backoff_s
        self.max_backoff_s = max_backoff_s
        self._loops: dict[str, _Loop] = {}
        self._stopping = False

    def start(self, name: str, factory: LoopFactory) -> asyncio.Task[None]:
        """Run `factory()` as loop `name`, again after a backoff whenever it ends."""
        if name in self._loops:
            raise ValueError(f"a loop named {name!r} is already running")
        loop = _Loop(name, factory)
        self._loops[name] = loop
        loop.task = asyncio.create_task(self._keep(loop), name=name)
        return loop.task

    def states(self) -> list[LoopState]:
        return [
            LoopState(lp.name, lp.running, lp.restarts, lp.last_error, lp.up_since)
            for lp in self._loops.values()
        ]

    def task(self, name: str) -> asyncio.Task[None] | None:
        loop = self._loops.get(name)
        return loop.task if loop is not None else None

    def tasks(self) -> list[asyncio.Task[None]]:
        return [lp.task for lp in self._loops.values() if lp.task is not None]

    async def _keep(self, loop: _Loop) -> None:
        delay = self.backoff_s
        while not self._stopping:
            loop.running, loop.up_since = True, time.time()
            started = time.monotonic()
            try:
                await loop.factory()
            except asyncio.CancelledError:
                loop.running = False
                raise
            except Exception as exc:
                cause = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
                log.exception("loop %s died (%s); restarting in %.1f s", loop.name, cause, delay)
            else:
                if self._stopping:
                    break
                cause = "ended by itself"
                log.error("loop %s %s; restarting in %.1f s", loop.name, cause, delay)
            loop.running, loop.up_since = False, None
            loop.restarts += 1
            loop.last_error = cause[:500]
            if time.monotonic() - started > 10 * self.max_backoff_s:
                delay = self.backoff_s  # it ran well for a long while: start over
            await asyncio.sleep(delay)
            delay = min(self.max_backoff_s, delay * 2)
        loop.running = False

    def stopping(self) -> None:
        """Loops that end from now on are not restarted."""
        self._stopping = True

    async def stop(self) -> None:
        """Cancel every loop and wait for them."""
        self._stopping = True
        tasks = self.tasks()
        for t in tasks:
            t.cancel()
        for t in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await t
        self._loops.clear()


async def every(interval_s: float, work: Callable[[], Awaitable[object]], what: str) -> None:
    """A loop that runs `work` every `interval_s`; one failed run is logged, not fatal."""
    while True:
        try:
            await work()
        except Exception:
            log.exception("%s failed; again in %.0f s", what, interval_s)
        await asyncio.sleep(interval_s)
