"""Which instance leads. Rule: work that must happen once across instances (callbacks, 回访,
the deadline watch, the retention purge) runs only while this instance holds the leader
lock: a PostgreSQL session advisory lock on a connection of its own. On SQLite a single
instance is the leader. A lost connection is a lost lock: the leader's loops stop at once
and the lock is tried for again.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import uuid
from collections.abc import Awaitable, Callable

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

log = logging.getLogger(__name__)

LEADER_LOCK = 0x686F746C696E65 + 16  # pg advisory lock id (see jobs_procrastinate for its kin)


def instance_name() -> str:
    """This instance's name: host, pid and a random part (tmp files, MQTT client id)."""
    return f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:6]}"


class Leadership:
    def __init__(self, engine: AsyncEngine, *, retry_s: float = 5.0, check_s: float = 5.0) -> None:
        self._engine = engine
        self._pg = engine.dialect.name == "postgresql"
        self.retry_s = retry_s
        self.check_s = check_s
        self._leading = asyncio.Event()
        self._lost = asyncio.Event()

    @property
    def leading(self) -> bool:
        return self._leading.is_set()

    async def run(self) -> None:
        """Hold the lock for as long as possible; on SQLite simply lead."""
        if not self._pg:
            self._gain()
            await asyncio.Event().wait()
        while True:
            try:
                async with self._engine.connect() as conn:
                    try:
                        if await self._try_lock(conn):
                            self._gain()
                            await self._hold(conn)
                    finally:
                        self._lose()
                        # never back to the pool: the session (and a lock it holds) ends here
                        with contextlib.suppress(Exception):
                            await asyncio.shield(conn.invalidate())
            except asyncio.CancelledError:
                self._lose()
                raise
            except Exception as exc:
                log.warning("leader: lock connection lost (%s)", type(exc).__name__)
                self._lose()
            await asyncio.sleep(self.retry_s)

    async def _try_lock(self, conn: AsyncConnection) -> bool:
        got = await conn.scalar(text("SELECT pg_try_advisory_lock(:k)"), {"k": LEADER_LOCK})
        await conn.commit()
        return bool(got)

    async def _hold(self, conn: AsyncConnection) -> None:
        """Keep the session alive; return (or raise) when it is gone."""
        while True:
            await asyncio.sleep(self.check_s)
            async with asyncio.timeout(max(self.check_s, 5.0)):
                await conn.scalar(text("SELECT 1"))
                await conn.commit()

    def _gain(self) -> None:
        if not self._leading.is_set():
            log.info("leader: this instance leads (callbacks, 回访, deadlines, purge)")
        self._lost.clear()
        self._leading.set()

    def _lose(self) -> None:
        if self._leading.is_set():
            log.warning("leader: lost the leader lock; leader-only loops stop")
        self._leading.clear()
        self._lost.set()

    async def while_leading(self, work: Callable[[], Awaitable[None]]) -> None:
        """Run `work()` while this instance leads: wait to lead, run, stop it when the lead
        is lost, wait again. Returns only if `work` returns while leading."""
        while True:
            await self._leading.wait()
            task = asyncio.ensure_future(work())
            lost = asyncio.ensure_future(self._lost.wait())
            try:
                await asyncio.wait({task, lost}, return_when=asyncio.FIRST_COMPLETED)
            finally:
                lost.cancel()
                if not task.done():
                    task.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await task
            if task.done() and not task.cancelled():
                task.result()  # its error, or its end, goes to the loop supervisor
                return
