"""Transcripts in the database and the Chinese search over them, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncEngine

from hotline.asr.search_index import SearchRow, bigrams
from hotline.asr.store import (
    SearchHit,
    TranscriptRow,
    TranscriptStatus,
    TranscriptStore,
    UtteranceRow,
    search_key,
)
from hotline.asr.transcript import Channel, ChannelTranscript, Transcript, Utterance, Word
from hotline.core import db
from hotline.core.errors import InvalidInput
from hotline.recording import retention
from hotline.recording.store import RecordingStore, Status
from hotline.telephony.store import CallStore
from tests.factories import answered_call, pending_recording

T0 = datetime(2024, 11, 23, 2, 0, tzinfo=UTC)


def utterance(text: str, start: float, channel: Channel) -> Utterance:
    """As Vosk gives Chinese: words separated by spaces."""
    words = text.split()
    step = 0.3
    ws = tuple(
        Word(w, round(start + i * step, 3), round(start + (i + 1) * step, 3), 1.0)
        for i, w in enumerate(words)
    )
    return Utterance(
        text=text,
        words=ws,
        normalized="".join(words),
        start=ws[0].start,
        end=ws[-1].end,
        channel=channel,
    )


def transcript(customer: list[tuple[str, float]], agent: list[tuple[str, float]]) -> Transcript:
    return Transcript(
        channels=(
            ChannelTranscript(
                Channel.CUSTOMER, tuple(utterance(t, s, Channel.CUSTOMER) for t, s in customer)
            ),
            ChannelTranscript(
                Channel.AGENT, tuple(utterance(t, s, Channel.AGENT) for t, s in agent)
            ),
        ),
        model_id="vosk-model-small-cn-0.22",
        vosk_version="0.3.45",
        duration_s=60.0,
    )


GAS = transcript(
    customer=[("我 家 燃气 泄漏 了", 5.2), ("好 的 谢谢", 30.0)],
    agent=[("您好 请问 有 什么 可以 帮 您", 1.0), ("请 您 马上 离开 房间", 8.4)],
)
WATER = transcript(
    customer=[("我 家 停水 了", 4.0)],
    agent=[("您好 请问 有 什么 可以 帮 您", 0.8)],
)


class World:
    def __init__(self, engine: AsyncEngine) -> None:
        self.sessions = db.session_factory(engine)
        self.recordings = RecordingStore(self.sessions)
        self.store = TranscriptStore(self.sessions, "1")

    async def recording(
        self, call_id: str, agent: str = "PJSIP/1001", started: datetime = T0
    ) -> int:
        return (await pending_recording(self.recordings, call_id, agent=agent, at=started)).id

    async def count(self, table: type[TranscriptRow | UtteranceRow]) -> int:
        async with self.sessions() as s:
            return int(await s.scalar(select(func.count()).select_from(table)) or 0)

    async def search(self, q: str, **filters: Any) -> list[SearchHit]:
        return (await self.store.search(q, **filters)).items

    async def indexed(self) -> int:
        """Transcripts with an entry in the search index."""
        async with self.sessions() as s:
            n = int(await s.scalar(select(func.count()).select_from(SearchRow)) or 0)
            if s.get_bind().dialect.name == "sqlite":
                fts = await s.scalar(text("SELECT count(*) FROM transcript_fts"))
                assert fts == n, "the FTS5 table and transcript_search disagree"
            return n


@pytest.fixture
async def world(engine: AsyncEngine) -> World:
    return World(engine)


def texts(hits: list) -> list[tuple[str | None, list[str]]]:  # type: ignore[type-arg]
    return [(h.call_id, [m.text for m in h.matches]) for h in hits]


async def test_saving_twice_keeps_one_row_and_one_index(world: World) -> None:
    rid = await world.recording("1.1")
    first, written = await world.store.save(rid, "1.1", GAS, T0)
    assert written and first.status is TranscriptStatus.DONE
    again, written = await world.store.save(rid, "1.1", WATER, T0 + timedelta(hours=1))
    assert not written and again.id == first.id and again.transcript == GAS
    assert await world.count(TranscriptRow) == 1
    assert await world.count(UtteranceRow) == 4
    assert await world.indexed() == 1
    # a done transcript is final for its version: a late failure does not overwrite it
    kept = await world.store.mark(rid, "1.1", TranscriptStatus.FAILED, T0, reason="x")
    assert kept.status is TranscriptStatus.DONE and kept.reason is None
    got = await world.store.get(rid)
    assert got is not None and got.transcript == GAS and got.model_id == GAS.model_id
    # another pipeline version is another row
    _, written = await world.store.save(rid, "1.1", WATER, T0, version="2")
    assert written and await world.count(TranscriptRow) == 2
    assert (await world.store.get(rid, "2")).transcript == WATER  # type: ignore[union-attr]


async def test_statuses_before_done_are_replaced_by_done(world: World) -> None:
    rid = await world.recording("1.1")
    r = await world.store.mark(rid, "1.1", TranscriptStatus.NO_MODEL, T0, reason="未配置")
    assert r.status is TranscriptStatus.NO_MODEL and r.transcript is None
    r = await world.store.mark(rid, "1.1", TranscriptStatus.FAILED, T0, reason="坏文件")
    assert r.status is TranscriptStatus.FAILED and r.reason == "坏文件"
    assert await world.search("燃气") == []
    r, written = await world.store.save(rid, "1.1", GAS, T0)
    assert written and r.status is TranscriptStatus.DONE and r.reason is None
    assert await world.count(TranscriptRow) == 1
    assert await world.store.counts() == {"done": 1}


async def test_chinese_search_finds_words_inside_sentences(world: World) -> None:
    gas = await world.recording("1.1", started=T0)
    water = await world.recording("1.2", started=T0 + timedelta(hours=1))
    await world.store.save(gas, "1.1", GAS, T0)
    await world.store.save(water, "1.2", WATER, T0)

    for q in ("燃气", "泄漏", "燃气泄漏", "燃氣", "燃氣洩漏", "燃 气"):
        hits = await world.search(q)
        assert texts(hits) == [("1.1", ["我家燃气泄漏了"])], q
        m = hits[0].matches[0]
        assert m.channel == "customer" and m.start_s == 5.2 and m.end_s == pytest.approx(6.7)
    hits = await world.search("有什么可以")
    assert texts(hits) == [("1.2", ["您好请问有什么可以帮您"]), ("1.1", ["您好请问有什么可以帮您"])]
    assert hits[1].matches[0].channel == "agent" and hits[1].matches[0].start_s == 1.0
    assert await world.search("电费") == []
    # all the bigrams of 气泄漏 are in "泄漏 ... 燃气" only out of order: no false match
    assert await world.search("漏燃") == []
    # one character: no bigram, a LIKE
    assert texts(await world.search("水")) == [("1.2", ["我家停水了"])]
    # several matches in one call, in time order
    assert texts(await world.search("您")) == [
        ("1.2", ["您好请问有什么可以帮您"]),
        ("1.1", ["您好请问有什么可以帮您", "请您马上离开房间"]),
    ]


async def test_search_filters_time_agent_and_paging(world: World) -> None:
    a = await world.recording("1.1", agent="PJSIP/1001", started=T0)
    b = await world.recording("1.2", agent="PJSIP/1002", started=T0 + timedelta(days=1))
    await world.store.save(a, "1.1", GAS, T0)
    await world.store.save(b, "1.2", WATER, T0)
    q = "您好"
    assert [h.call_id for h in await world.search(q)] == ["1.2", "1.1"]
    assert [h.call_id for h in await world.search(q, since=T0 + timedelta(hours=1))] == ["1.2"]
    assert [h.call_id for h in await world.search(q, until=T0 + timedelta(hours=1))] == ["1.1"]
    assert [h.call_id for h in await world.search(q, agent="PJSIP/1002")] == ["1.2"]
    assert [h.call_id for h in await world.search(q, only_agent="PJSIP/1001")] == ["1.1"]
    assert await world.search(q, only_agent="nobody") == []
    assert [h.call_id for h in await world.search(q, limit=1, offset=1)] == ["1.1"]
    # another pipeline version is not searched
    assert await world.search(q, version="2") == []


async def test_an_agent_known_by_member_name_finds_calls_they_answered(world: World) -> None:
    calls = CallStore(world.sessions)
    await calls.save([answered_call("1.3", agent="PJSIP/1003")])
    rid = await world.recording("1.3", agent="Agent Li")
    await world.store.save(rid, "1.3", GAS, T0)
    assert [h.call_id for h in await world.search("燃气", only_agent="PJSIP/1003")] == ["1.3"]


async def test_queries_that_match_nothing_or_are_not_queries(world: World) -> None:
    rid = await world.recording("1.1")
    await world.store.save(rid, "1.1", GAS, T0)
    with pytest.raises(InvalidInput, match="为空"):
        await world.search("  ")
    with pytest.raises(InvalidInput, match="过长"):
        await world.search("燃" * 101)
    assert await world.search("100%") == []  # LIKE wildcards are plain characters
    assert await world.search("_") == []


def test_the_search_key_is_normalized_like_the_text() -> None:
    assert search_key(" 燃氣 洩漏 ") == "燃气泄漏"
    assert search_key("ID 12345") == "id12345"
    assert bigrams("燃气泄漏") == {"燃气", "气泄", "泄漏"}
    assert bigrams("燃") == set()


async def test_deleting_a_recordings_transcripts_removes_the_index(world: World) -> None:
    rid = await world.recording("1.1")
    await world.store.save(rid, "1.1", GAS, T0)
    await world.store.save(rid, "1.1", GAS, T0, version="2")
    assert await world.store.delete(rid) == 2
    assert await world.indexed() == 0 and await world.count(UtteranceRow) == 0
    assert await world.store.get(rid) is None


async def test_a_purged_recording_takes_its_transcript_with_it(
    world: World, tmp_path: Path
) -> None:
    """Retention covers what was said, not only the audio: 资料保存一年 applies to both."""
    old = await world.recording("1.1", started=T0 - timedelta(days=400))
    kept = await world.recording("1.2")
    await world.store.save(old, "1.1", GAS, T0)
    await world.store.save(kept, "1.2", WATER, T0)
    await world.recordings.update(old, status=Status.ARCHIVED)
    done = await retention.purge(
        world.recordings, tmp_path, now=T0, dry_run=False, on_purged=world.store.delete
    )
    assert [i.recording_id for i in done] == [old]
    assert await world.store.get(old) is None and await world.store.get(kept) is not None
    assert texts(await world.search("燃气")) == []
