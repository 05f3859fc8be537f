"""One leader among instances on one PostgreSQL (an advisory lock); on SQLite, one instance."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from hotline.core import db
from hotline.core.leader import Leadership


async def until(cond: object, timeout: float = 10.0) -> None:
    async with asyncio.timeout(timeout):
        while not cond():  # type: ignore[operator]
            await asyncio.sleep(0.02)


@pytest.mark.postgres
async def test_one_instance_leads_and_another_takes_over_when_it_is_gone(pg_url: str) -> None:
    first, second = db.make_engine(pg_url), db.make_engine(pg_url)
    a = Leadership(first, retry_s=0.1, check_s=0.1)
    b = Leadership(second, retry_s=0.1, check_s=0.1)
    ran: list[str] = []

    def work(name: str) -> object:
        async def run() -> None:
            ran.append(name)
            await asyncio.Event().wait()

        return run

    tasks = [asyncio.create_task(a.run())]
    await until(lambda: a.leading)
    tasks.append(asyncio.create_task(b.run()))
    tasks += [
        asyncio.create_task(a.while_leading(work("a"))),  # type: ignore[arg-type]
        asyncio.create_task(b.while_leading(work("b"))),  # type: ignore[arg-type]
    ]
    await asyncio.sleep(0.5)
    assert a.leading and not b.leading and ran == ["a"]  # the leader's work only
    tasks[0].cancel()  # the leading instance stops: its lock goes with its connection
    await asyncio.gather(tasks[0], return_exceptions=True)
    await until(lambda: b.leading)
    await until(lambda: ran == ["a", "b"])
    assert not a.leading
    for t in tasks:
        t.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    await first.dispose()
    await second.dispose()


async def test_on_sqlite_the_single_instance_leads(tmp_path: Path) -> None:
    engine = db.make_engine(f"sqlite+aiosqlite:///{tmp_path / 'h.db'}")
    lead = Leadership(engine)
    task = asyncio.create_task(lead.run())
    await until(lambda: lead.leading)
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    await engine.dispose()
