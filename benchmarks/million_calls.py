"""A big hotline in a fresh PostgreSQL database, fast: N calls over D days (60 queues,
750 agents) with their recordings, transcripts (with utterances), quality scores (with hits)
and tickets, written with COPY. Rule: every JSON column is written by the product's own
code, so the pages read what the service itself would have stored.

One call, its transcript, its score and its ticket are first put in through the real stores
(the templates); their JSON is then reused for every clone, with the searchable columns
(times, agents, queues, numbers, outcomes, scores, states) varied per row. Not loaded: the
transcript search's bigram rows (`transcript_grams`), ticket histories, audit entries.

Used by benchmarks/web_pages.py; `python benchmarks/million_calls.py --calls 20000` fills
a database and keeps it (prints its URL).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import asyncpg  # type: ignore[import-untyped]  # noqa: E402

from hotline.asr.store import TranscriptStore  # noqa: E402
from hotline.asr.transcript import Channel  # noqa: E402
from hotline.core import db  # noqa: E402
from hotline.core.settings import Settings  # noqa: E402
from hotline.quality.model import CallInput, agent_number_from  # noqa: E402
from hotline.quality.pack import load_pack  # noqa: E402
from hotline.quality.review import rules_from_pack  # noqa: E402
from hotline.quality.scoring import score_call  # noqa: E402
from hotline.quality.store import QualityStore  # noqa: E402
from hotline.telephony.model import (  # noqa: E402
    AgentAttempt,
    AttemptResult,
    CallRecord,
    HangupBy,
    Outcome,
    QueueVisit,
    RingRule,
)
from hotline.telephony.store import record_to_json  # noqa: E402
from hotline.tickets.model import Category  # noqa: E402
from hotline.tickets.store import TicketStore  # noqa: E402
from tests.web.review_seed import said, two_channel_transcript  # noqa: E402

PG = "postgresql://postgres@127.0.0.1:5432"
AGENTS, QUEUES = 750, 60
CHUNK = 20_000
RULE = RingRule()
OPEN_STATES = ("draft", "accepted", "dispatched", "in_progress", "replied", "follow_up")
CATEGORIES = [c.value for c in Category]
BANDS = ((90.0, "优秀"), (80.0, "良好"), (60.0, "合格"), (0.0, "不合格"))


def iface(i: int) -> str:
    return f"PJSIP/{1000 + i}"


def member(i: int) -> str:
    return f"客服{1000 + i}"


def queue_name(q: int) -> str:
    return f"热线{q:02d}"


@dataclass(frozen=True, slots=True)
class Loaded:
    url: str  # SQLAlchemy URL
    name: str
    calls: int
    first_at: datetime
    last_at: datetime
    counts: dict[str, int]
    sample_call: str  # an answered call with recording, transcript, score and ticket
    sample_agent: int  # its agent's index


async def create_database(prefix: str = "hotline_bench") -> str:
    name = f"{prefix}_{uuid.uuid4().hex[:8]}"
    conn = await asyncpg.connect(f"{PG}/postgres")
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    return name


async def drop_database(name: str) -> None:
    conn = await asyncpg.connect(f"{PG}/postgres")
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await conn.close()


# -- the templates, through the real stores -------------------------------------------------


async def _templates(url: str, at: datetime) -> dict[str, Any]:
    engine = db.make_engine(url)
    await db.migrate(engine)
    sessions = db.session_factory(engine)
    settings = Settings()
    customer = [
        said("我 家 燃气 表 坏 了 请 派 人 来 修", 2.0, Channel.CUSTOMER),
        said("地址 是 幸福 路 十二 号", 20.0, Channel.CUSTOMER),
    ]
    agent = [
        said(
            "您好 我 是 客服 中心 一零零一 号 客服 代表 请问 有 什么 可以 帮 到 您",
            0.5,
            Channel.AGENT,
        ),
        said("我 不 知道 你 自己 先 查 清楚", 10.0, Channel.AGENT),
        said("请问 您 还有 其他 问题 吗 再见", 40.0, Channel.AGENT),
    ]
    transcript = two_channel_transcript(customer, agent, 45.0)
    # the transcript's recording row first (a plain row: the clones replace it)
    conn = await asyncpg.connect(url.replace("postgresql+asyncpg", "postgresql"))
    try:
        await conn.execute(
            "INSERT INTO recordings (id, call_id, status, attempts, sources, created_at,"
            " started_at, retain_until, important, legal_hold) VALUES"
            " (1, 'tmpl', 'archived', 0, '{}', $1, $1, $1, false, false)",
            at,
        )
    finally:
        await conn.close()
    await TranscriptStore(sessions, str(settings.asr.pipeline_version)).save(
        1, "tmpl", transcript, at
    )
    pack = load_pack(settings.quality.pack)
    result = score_call(
        CallInput.from_transcript(
            "tmpl",
            agent_number_from(settings.quality.agent_number_pattern, member(1), iface(1)),
            4.0,
            transcript,
            0.0,
        ),
        pack,
        ring=RingRule(settings.rules.ring_period_s, settings.rules.max_rings),
    )
    await QualityStore(sessions, rules_from_pack(pack)).save_score(
        call_id="tmpl",
        recording_id=1,
        agent=iface(1),
        queue=queue_name(1),
        call_started_at=at,
        ring_seconds=4.0,
        within_rule=True,
        score=result,
        now=at,
    )
    tickets = TicketStore(sessions)
    draft, _ = await tickets.draft_for_call(
        call_id="tmpl",
        caller_number="13800138000",
        agent=iface(1),
        recording_id=1,
        created_at=at,
        now=at,
    )
    await tickets.refine(
        draft.id,
        now=at,
        category=Category.REPAIR,
        summary="燃气表故障，请派人维修（幸福路十二号）",
        topic="燃气表故障",
        unit="维修中心",
    )
    await engine.dispose()
    conn = await asyncpg.connect(url.replace("postgresql+asyncpg", "postgresql"))
    try:
        out: dict[str, Any] = {}
        for table in ("transcripts", "quality_scores", "tickets"):
            out[table] = dict(await conn.fetchrow(f"SELECT * FROM {table}"))
        out["utterances"] = [
            dict(r)
            for r in await conn.fetch("SELECT * FROM transcript_utterances ORDER BY utterance_no")
        ]
        out["hits"] = [dict(r) for r in await conn.fetch("SELECT * FROM quality_hits ORDER BY id")]
        for table in (
            "transcript_grams",
            "transcript_utterances",
            "quality_history",
            "quality_hits",
            "quality_scores",
            "transcripts",
            "ticket_events",
            "tickets",
            "recordings",
        ):
            await conn.execute(f"DELETE FROM {table}")
    finally:
        await conn.close()
    return out


# -- the rows ---------------------------------------------------------------------------------


@dataclass
class _Gen:
    n: int
    first_at: datetime
    span_s: float
    rng: random.Random
    t: dict[str, Any]
    numbers: list[str]
    rec_id: int = 0
    score_id: int = 0
    hit_id: int = 0
    ticket_id: int = 0
    sample: tuple[str, int] | None = None

    def chunk(self, start: int, stop: int, now: datetime) -> dict[str, list[tuple[Any, ...]]]:
        rows: dict[str, list[tuple[Any, ...]]] = {
            k: [] for k in ("calls", "recordings", "transcripts", "utterances", "scores", "hits")
        }
        rows["tickets"] = []
        rng = self.rng
        for i in range(start, stop):
            at = self.first_at + timedelta(seconds=self.span_s * i / self.n + rng.random())
            at = at.replace(microsecond=(at.microsecond // 1000) * 1000)
            call_id = f"{int(at.timestamp())}.{i}"
            q = rng.randrange(QUEUES)
            a = (q * 12 + rng.randrange(25)) % AGENTS  # about 25 agents serve each queue
            number = rng.choice(self.numbers)
            r = rng.random()
            outcome = (
                Outcome.ANSWERED
                if r < 0.80
                else Outcome.ABANDONED
                if r < 0.92
                else Outcome.NO_AGENT
                if r < 0.96
                else Outcome.DROPPED
            )
            record = self._record(call_id, at, queue_name(q), a, number, outcome)
            rows["calls"].append(_call_row(record))
            if outcome in (Outcome.ANSWERED, Outcome.DROPPED):
                self._recorded(rows, record, a, now)
        return rows

    def _record(
        self, call_id: str, at: datetime, queue: str, a: int, number: str, outcome: Outcome
    ) -> CallRecord:
        rng = self.rng
        joined = at + timedelta(seconds=3)
        trunk = f"PJSIP/trunk-{rng.randrange(16**8):08x}"
        if outcome in (Outcome.ANSWERED, Outcome.DROPPED):
            ring = round(min(rng.expovariate(1 / 7.0), 90.0) + 0.5, 3)
            answered = joined + timedelta(seconds=ring)
            talk = round(rng.uniform(30, 600), 3)
            leg = f"{iface(a)}-{rng.randrange(16**8):08x}"
            return CallRecord(
                call_id=call_id,
                linkedid=call_id,
                caller_uniqueid=call_id,
                caller_channel=trunk,
                entered_at=at,
                caller_number=number,
                caller_name=None,
                dialled="95598",
                queue=queue,
                visits=(QueueVisit(queue, joined, 1, answered, "connect", int(ring)),),
                attempts=(
                    AgentAttempt(queue, member(a), iface(a), leg, joined, AttemptResult.ANSWERED),
                ),
                agent_member=member(a),
                agent_interface=iface(a),
                agent_channel=leg,
                queue_joined_at=joined,
                ring_started_at=joined,
                answered_at=answered,
                ended_at=answered + timedelta(seconds=talk),
                ring_seconds=ring,
                rings=RULE.rings(ring),
                within_rule=RULE.within(ring),
                wait_seconds=ring,
                talk_seconds=talk,
                hangup_by=HangupBy.CALLER if outcome is Outcome.ANSWERED else HangupBy.UNKNOWN,
                hangup_cause=16 if outcome is Outcome.ANSWERED else 38,
                hangup_cause_text="Normal Clearing"
                if outcome is Outcome.ANSWERED
                else "Network out of order",
                outcome=outcome,
                recording_file=f"/var/spool/asterisk/monitor/{call_id}.wav",
            )
        wait = round(rng.uniform(5, 120), 3)
        left = joined + timedelta(seconds=wait)
        result = "abandon" if outcome is Outcome.ABANDONED else "timeout"
        return CallRecord(
            call_id=call_id,
            linkedid=call_id,
            caller_uniqueid=call_id,
            caller_channel=trunk,
            entered_at=at,
            caller_number=number,
            dialled="95598",
            queue=queue,
            visits=(QueueVisit(queue, joined, 1, left, result, int(wait)),),
            queue_joined_at=joined,
            ended_at=left,
            wait_seconds=wait,
            hangup_by=HangupBy.CALLER if outcome is Outcome.ABANDONED else HangupBy.SYSTEM,
            hangup_cause=16,
            outcome=outcome,
        )

    def _recorded(
        self, rows: dict[str, list[tuple[Any, ...]]], c: CallRecord, a: int, now: datetime
    ) -> None:
        rng = self.rng
        self.rec_id += 1
        rid = self.rec_id
        assert c.answered_at is not None and c.ended_at is not None
        dur = (c.ended_at - c.answered_at).total_seconds()
        r = rng.random()
        status = "archived" if r < 0.98 else "failed" if r < 0.99 else "pending"
        done = status == "archived"
        rows["recordings"].append(
            (
                rid,
                c.call_id,
                status,
                "交换机录音文件不存在" if status == "failed" else None,
                0 if done else 1,
                None,
                json.dumps({"mixed": c.recording_file}),
                "mixed" if done else None,
                f"{c.entered_at:%Y/%m/%d}/{c.call_id}.ogg" if done else None,
                "opus" if done else None,
                8000 if done else None,
                1 if done else None,
                dur if done else None,
                int(dur * 2000) if done else None,
                f"{rid:064x}" if done else None,
                None,
                c.ended_at,
                c.ended_at + timedelta(seconds=30) if done else None,
                c.entered_at,
                c.caller_number,
                c.agent_interface,
                c.queue,
                c.entered_at + timedelta(days=365),
                rng.random() < 0.01,
                rng.random() < 0.002,
                None,
            )
        )
        if done and rng.random() < 0.25:  # transcribed and scored
            self._scored(rows, c, a, rid, dur, now)
        if rng.random() < 0.15:
            self._ticket(rows, c, rid, now)
        if (
            self.sample is None
            and done
            and rows["scores"]
            and rows["tickets"]
            and rows["scores"][-1][1] == c.call_id
            and rows["tickets"][-1][1] == c.call_id
        ):
            self.sample = (c.call_id, a)

    def _scored(
        self,
        rows: dict[str, list[tuple[Any, ...]]],
        c: CallRecord,
        a: int,
        rid: int,
        dur: float,
        now: datetime,
    ) -> None:
        rng, t = self.rng, self.t
        tr = t["transcripts"]
        done_at = c.ended_at + timedelta(minutes=2) if c.ended_at else now
        rows["transcripts"].append(
            (
                rid,
                rid,
                c.call_id,
                tr["pipeline_version"],
                "done",
                None,
                tr["model_id"],
                tr["vosk_version"],
                dur,
                tr["transcript"],
                done_at,
                done_at,
            )
        )
        for u in t["utterances"]:
            rows["utterances"].append(
                (
                    rid,
                    u["utterance_no"],
                    u["channel"],
                    u["start_s"],
                    u["end_s"],
                    u["text"],
                    u["compact"],
                )
            )
        self.score_id += 1
        sid = self.score_id
        hits = t["hits"][: rng.choice((0, 0, 1, 1, 2, 3))]
        score = max(0.0, 100.0 - sum(rng.choice((0.0, 2.0, 5.0, 10.0, 20.0)) for _ in hits))
        if rng.random() < 0.05:
            score = round(rng.uniform(30, 60), 1)
        band = next(label for floor, label in BANDS if score >= floor)
        old = (now - c.entered_at) > timedelta(days=7)
        final = old and rng.random() < 0.7
        s = t["quality_scores"]
        rows["scores"].append(
            (
                sid,
                c.call_id,
                s["pack"],
                rid,
                c.agent_interface,
                c.queue,
                c.entered_at,
                c.ring_seconds,
                c.within_rule,
                score,
                band,
                False,
                score,
                band,
                "finalised" if final else "open",
                score if final else None,
                "zhao" if final else None,
                done_at + timedelta(days=2) if final else None,
                done_at,
                done_at,
            )
        )
        for h in hits:
            self.hit_id += 1
            needs = rng.random() < 0.3
            verdict = "pending" if not final else rng.choice(("confirmed", "overturned"))
            rows["hits"].append(
                (
                    self.hit_id,
                    sid,
                    h["rule"],
                    h["channel"],
                    h["start_s"],
                    h["end_s"],
                    h["evidence"],
                    h["conf"],
                    h["deduction"],
                    h["points"],
                    needs,
                    h["instant_fail"],
                    verdict,
                    "zhao" if final else None,
                    done_at + timedelta(days=2) if final else None,
                    None,
                )
            )

    def _ticket(
        self, rows: dict[str, list[tuple[Any, ...]]], c: CallRecord, rid: int, now: datetime
    ) -> None:
        rng, k = self.rng, self.t["tickets"]
        self.ticket_id += 1
        created = c.ended_at or c.entered_at
        age = now - created
        closed = age > timedelta(days=3) and rng.random() < 0.7
        state = "closed" if closed else rng.choice(OPEN_STATES)
        category = rng.choice(CATEGORIES)
        dispatch_by = created + timedelta(minutes=20)
        done_by = created + timedelta(days=3)
        overdue = not closed and now > done_by
        dispatched = state not in ("draft", "accepted")
        rows["tickets"].append(
            (
                self.ticket_id,
                c.call_id,
                c.call_id,
                rid,
                c.caller_number,
                c.agent_interface,
                state,
                category,
                category == "emergency",
                None,
                k["unit"],
                k["summary"],
                k["topic"],
                k["fields"],
                k["evidence"],
                k["confidence"],
                False,
                None,
                False,
                None,
                dispatch_by,
                None,
                done_by,
                None,
                created,
                created + timedelta(minutes=5),
                created + timedelta(minutes=10) if dispatched else None,
                None,
                None,
                None,
                created + timedelta(days=2) if closed else None,
                overdue,
                "done" if overdue else "",
                "satisfied" if closed else None,
                0,
                None,
                None,
                1,
            )
        )


def _call_row(r: CallRecord) -> tuple[Any, ...]:
    return (
        r.call_id,
        r.linkedid,
        r.direction.value,
        r.caller_number,
        r.caller_name,
        r.dialled,
        r.queue,
        r.agent_member,
        r.agent_interface,
        r.entered_at,
        r.answered_at,
        r.ended_at,
        r.ring_seconds,
        r.rings,
        r.within_rule,
        r.wait_seconds,
        r.talk_seconds,
        r.hangup_by.value if r.hangup_by else None,
        r.hangup_cause,
        r.outcome.value,
        r.recording_file,
        r.recording_file,
        None,
        record_to_json(r),
    )


TABLES = {  # generator key -> table (in COPY order: parents first)
    "calls": "calls",
    "recordings": "recordings",
    "transcripts": "transcripts",
    "utterances": "transcript_utterances",
    "scores": "quality_scores",
    "hits": "quality_hits",
    "tickets": "tickets",
}


async def _columns(conn: asyncpg.Connection, table: str) -> list[str]:
    rows = await conn.fetch(
        "SELECT column_name FROM information_schema.columns WHERE table_name = $1"
        " ORDER BY ordinal_position",
        table,
    )
    return [r["column_name"] for r in rows]


def _chunks(n: int) -> Iterator[tuple[int, int]]:
    for start in range(0, n, CHUNK):
        yield start, min(n, start + CHUNK)


async def load(
    name: str, calls: int, days: float, progress: Callable[[str], None] = print
) -> Loaded:
    """Fill the (migrated on the way) database `name` with `calls` calls over `days`."""
    url = f"{PG.replace('postgresql', 'postgresql+asyncpg')}/{name}"
    now = datetime.now(UTC).replace(microsecond=0)
    first = now - timedelta(days=days)
    t = await _templates(url, first)
    rng = random.Random(11)
    numbers = [f"1{rng.choice('3578')}{rng.randrange(10**9):09d}" for _ in range(calls // 3 + 1)]
    gen = _Gen(calls, first, days * 86400 - 3600, rng, t, numbers)
    conn = await asyncpg.connect(f"{PG}/{name}")
    counts = dict.fromkeys(TABLES, 0)
    t0 = time.perf_counter()
    try:
        cols = {key: await _columns(conn, table) for key, table in TABLES.items()}
        pending: asyncio.Task[dict[str, list[tuple[Any, ...]]]] | None = None
        spans = list(_chunks(calls))
        for k, (start, stop) in enumerate(spans):
            rows = await pending if pending else gen.chunk(start, stop, now)
            nxt = spans[k + 1] if k + 1 < len(spans) else None
            pending = (
                asyncio.create_task(asyncio.to_thread(gen.chunk, nxt[0], nxt[1], now))
                if nxt
                else None
            )
            for key, table in TABLES.items():
                if rows[key]:
                    await conn.copy_records_to_table(table, records=rows[key], columns=cols[key])
                    counts[key] += len(rows[key])
            if (k + 1) % 10 == 0 or stop == calls:
                progress(f"  {stop:,} calls loaded ({time.perf_counter() - t0:.0f} s)")
        for table, seq_col in (
            ("recordings", "id"),
            ("transcripts", "id"),
            ("quality_scores", "id"),
            ("quality_hits", "id"),
            ("tickets", "id"),
        ):
            await conn.execute(
                f"SELECT setval(pg_get_serial_sequence('{table}', '{seq_col}'),"
                f" (SELECT coalesce(max({seq_col}), 1) FROM {table}))"
            )
        progress("  ANALYZE …")
        await conn.execute("ANALYZE")
    finally:
        await conn.close()
    assert gen.sample is not None
    return Loaded(url, name, calls, first, now, counts, gen.sample[0], gen.sample[1])


async def _main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=20_000)
    parser.add_argument("--days", type=float, default=50.0)
    args = parser.parse_args()
    name = await create_database()
    loaded = await load(name, args.calls, args.days)
    print(f"{loaded.url}: {loaded.counts}")


if __name__ == "__main__":
    asyncio.run(_main())
