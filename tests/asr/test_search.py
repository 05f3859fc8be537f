"""The transcript search at scale, on SQLite and PostgreSQL: the database's own index (GIN on
PostgreSQL, FTS5 on SQLite) narrows, a LIKE on the utterances confirms, pages follow each
other by cursor, and a transcript saved again is found as it now is."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine

from benchmarks.million_calls import load_url
from hotline.asr import search_index
from hotline.asr.store import TranscriptStatus, TranscriptStore
from hotline.asr.transcript import Channel
from hotline.core import db
from hotline.core.settings import Settings
from tests.asr.test_store import GAS, T0, WATER, World, texts, transcript


async def calls_saying(world: World, q: str, **filters: Any) -> list[str | None]:
    return [h.call_id for h in await world.search(q, **filters)]


async def test_a_phrase_whose_bigrams_are_said_apart_is_not_found(engine: AsyncEngine) -> None:
    world = World(engine)
    rid = await world.recording("1.1")
    # 燃气 and 气泄 are both said, but in two utterances: the index holds the transcript,
    # the LIKE on each utterance drops it
    apart = transcript(customer=[("燃气 表 坏 了", 1.0), ("空 气泄 了", 5.0)], agent=[])
    await world.store.save(rid, "1.1", apart, T0)
    assert await calls_saying(world, "燃气泄") == []
    assert await calls_saying(world, "燃氣錶") == ["1.1"]  # traditional, as typed
    assert await calls_saying(world, "气泄") == ["1.1"]
    assert await calls_saying(world, "泄") == ["1.1"]  # one character: no bigram to index


@pytest.fixture(params=["few", "many"])
def index_hits(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Both ways to a page: the index's hits sorted (few), or a newest-first walk (many,
    here whenever the index holds more than one hit)."""
    if request.param == "many":
        monkeypatch.setattr(search_index, "FEW", 1)
    return str(request.param)


async def test_a_phrase_whose_bigrams_are_said_apart_is_not_found_either_way(
    engine: AsyncEngine, index_hits: str
) -> None:
    world = World(engine)
    for n in range(3):
        rid = await world.recording(f"1.{n}", started=T0 + timedelta(minutes=n))
        apart = transcript(customer=[("燃气 表 坏 了", 1.0), ("空 气泄 了", 5.0)], agent=[])
        await world.store.save(rid, f"1.{n}", apart if n else GAS, T0)
    assert await calls_saying(world, "燃气泄") == ["1.0"]
    assert await calls_saying(world, "燃气") == ["1.2", "1.1", "1.0"]
    assert await calls_saying(world, "燃氣", agent="PJSIP/1001", limit=1, offset=1) == ["1.1"]


async def test_pages_follow_each_other_newest_first_with_nothing_repeated_or_lost(
    engine: AsyncEngine, index_hits: str
) -> None:
    world = World(engine)
    ids = []
    for n in range(7):  # two calls share a start time: the id breaks the tie
        started = T0 + timedelta(minutes=min(n, 5))
        rid = await world.recording(f"1.{n}", started=started)
        await world.store.save(rid, f"1.{n}", GAS if n != 3 else WATER, T0)
        ids.append(f"1.{n}")
    newest_first = ["1.6", "1.5", "1.4", "1.2", "1.1", "1.0"]  # 1.3 said nothing of gas
    assert await calls_saying(world, "燃气泄漏") == newest_first

    seen, cursor, pages = [], None, 0
    while True:
        page = await world.store.search("燃气泄漏", limit=4, cursor=cursor)
        seen += [h.call_id for h in page.items]
        pages += 1
        if page.next_cursor is None:
            break
        cursor = page.next_cursor
    assert seen == newest_first and pages == 2
    # the offset form gives the same order
    assert await calls_saying(world, "燃气泄漏", limit=4, offset=4) == newest_first[4:]
    # a page that ends exactly at the last hit says there is no next one
    last = await world.store.search("燃气泄漏", limit=6)
    assert len(last.items) == 6 and last.next_cursor is None


async def test_an_agent_sees_only_their_own_calls_in_the_search(engine: AsyncEngine) -> None:
    world = World(engine)
    mine = await world.recording("1.1", agent="PJSIP/1001")
    theirs = await world.recording("1.2", agent="PJSIP/1002", started=T0 + timedelta(hours=1))
    await world.store.save(mine, "1.1", GAS, T0)
    await world.store.save(theirs, "1.2", GAS, T0)
    assert await calls_saying(world, "燃气", only_agent="PJSIP/1001") == ["1.1"]
    assert await calls_saying(world, "燃气") == ["1.2", "1.1"]


async def test_a_transcript_saved_again_is_found_as_it_now_is(engine: AsyncEngine) -> None:
    world = World(engine)
    rid = await world.recording("1.1")
    await world.store.mark(rid, "1.1", TranscriptStatus.FAILED, T0, reason="坏文件")
    await world.store.save(rid, "1.1", GAS, T0)
    # a new pipeline version transcribes the call again, and hears something else
    v2 = TranscriptStore(world.sessions, "2")
    await v2.save(rid, "1.1", WATER, T0 + timedelta(days=1))
    assert texts((await v2.search("停水")).items) == [("1.1", ["我家停水了"])]
    assert (await v2.search("燃气")).items == []  # the old version's words do not leak
    assert texts((await v2.search("您好")).items) == [("1.1", ["您好请问有什么可以帮您"])]
    assert await calls_saying(world, "燃气") == ["1.1"]  # version 1 keeps its own
    # removed with its recording: nothing left in the index
    await world.store.delete(rid)
    assert (await v2.search("停水")).items == [] and await world.indexed() == 0


async def test_the_database_searches_its_own_index(db_url: str) -> None:
    """A rare word in a small generated hotline: the plan reads the GIN index (PostgreSQL)
    or the FTS5 table (SQLite), not every transcript."""
    loaded = await load_url(db_url, 2_000, 30.0, progress=lambda _: None)
    engine = db.make_engine(db_url)
    statements: list[tuple[str, Any]] = []

    def capture(conn, cursor, statement, parameters, context, executemany):  # type: ignore[no-untyped-def]
        statements.append((statement, parameters))

    try:
        store = TranscriptStore(db.session_factory(engine), str(Settings().asr.pipeline_version))
        event.listen(engine.sync_engine, "before_cursor_execute", capture)
        found = await store.search("壁挂炉")  # 0.1 % of the transcripts
        event.remove(engine.sync_engine, "before_cursor_execute", capture)
        assert all("壁挂炉" in m.text for h in found.items for m in h.matches)
        statement, parameters = next(s for s in statements if "ORDER BY" in s[0])
        async with engine.connect() as conn:
            if engine.dialect.name == "sqlite":
                explain = f"EXPLAIN QUERY PLAN {statement}"
            else:
                # a few hundred narrow rows fit in a handful of pages, which PostgreSQL reads
                # whole; at a million calls it picks the index by itself (benchmark notes)
                await conn.exec_driver_sql("SET enable_seqscan = off")
                explain = f"EXPLAIN {statement}"
            plan = "\n".join(
                str(row[-1]) for row in await conn.exec_driver_sql(explain, parameters)
            )
        if engine.dialect.name == "sqlite":
            assert "VIRTUAL TABLE INDEX" in plan and "transcript_fts" in plan, plan
        else:
            assert "Bitmap Index Scan on ix_transcript_search_grams" in plan, plan
        assert loaded.counts["transcripts"] > 100
    finally:
        await engine.dispose()


async def test_a_long_call_says_a_word_many_times_and_shows_twenty(engine: AsyncEngine) -> None:
    world = World(engine)
    rid = await world.recording("1.1")
    long = transcript(customer=[(f"燃气 第 {n} 次", float(n)) for n in range(30)], agent=[])
    await world.store.save(rid, "1.1", long, T0)
    (hit,) = await world.search("燃气")
    assert len(hit.matches) == 20 and hit.matches[0].start_s == 0.0
    assert all(m.channel == Channel.CUSTOMER.value for m in hit.matches)
