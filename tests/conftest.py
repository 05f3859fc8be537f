"""Shared fixtures: a fresh database on SQLite and on the real PostgreSQL of this machine."""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import asyncpg
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from hotline.core import db

DATA = Path(__file__).resolve().parent / "data"
PG_DSN = os.environ.get("HOTLINE_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test")


async def _pg_execute(sql: str) -> None:
    try:
        conn = await asyncpg.connect(PG_DSN, timeout=5)
    except (OSError, asyncpg.PostgresError) as exc:
        pytest.fail(
            f"PostgreSQL at {PG_DSN} is not reachable ({exc}); start it "
            "(pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start) "
            "or point HOTLINE_TEST_PG at one"
        )
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


# HOTLINE_TEST_PG_PARTITIONED=1 (make test's second run): every PostgreSQL database of the
# tests is migrated and its large tables partitioned by month before the test starts, so
# the test's own migrate is a no-op and the code runs on the partitioned layout
PARTITIONED = os.environ.get("HOTLINE_TEST_PG_PARTITIONED") == "1"


async def _migrate_and_partition(url: str) -> None:
    from datetime import UTC, datetime
    from zoneinfo import ZoneInfo

    from hotline.api.partitioning import partition

    eng = db.make_engine(url)
    try:
        await db.migrate(eng)
        await partition(eng, ZoneInfo("Asia/Shanghai"), datetime.now(UTC), ahead=1)
    finally:
        await eng.dispose()


@pytest.fixture(scope="session")
def _pg_template() -> Iterator[str]:
    """In partitioned mode, one migrated and partitioned database the tests' databases are
    copied from (CREATE DATABASE … TEMPLATE: a file copy, not 20 migrations each)."""
    if not PARTITIONED:
        yield "template0"
        return
    name = f"hotline_test_tpl_{uuid.uuid4().hex[:10]}"
    asyncio.run(_pg_execute(f'CREATE DATABASE "{name}"'))
    base = PG_DSN.rsplit("/", 1)[0].replace("postgresql://", "postgresql+asyncpg://")
    asyncio.run(_migrate_and_partition(f"{base}/{name}"))
    yield name
    asyncio.run(_pg_execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture
def pg_url(request: pytest.FixtureRequest) -> Iterator[str]:
    """A new PostgreSQL database, dropped afterwards: empty, or migrated and partitioned
    when HOTLINE_TEST_PG_PARTITIONED=1."""
    name = f"hotline_test_{uuid.uuid4().hex[:10]}"
    if PARTITIONED:
        template = request.getfixturevalue("_pg_template")
        asyncio.run(_pg_execute(f'CREATE DATABASE "{name}" TEMPLATE "{template}"'))
    else:
        asyncio.run(_pg_execute(f'CREATE DATABASE "{name}"'))
    base = PG_DSN.rsplit("/", 1)[0].replace("postgresql://", "postgresql+asyncpg://")
    yield f"{base}/{name}"
    asyncio.run(_pg_execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """The same test on the embedded SQLite and on the real PostgreSQL."""
    if request.param == "sqlite":
        return f"sqlite+aiosqlite:///{tmp_path / 'hotline.db'}"
    url: str = request.getfixturevalue("pg_url")
    return url


@pytest.fixture
async def engine(db_url: str) -> AsyncIterator[AsyncEngine]:
    eng = db.make_engine(db_url)
    await db.migrate(eng)
    yield eng
    await eng.dispose()
