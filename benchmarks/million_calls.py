"""A big hotline in a fresh database, fast: N calls over D days (60 queues, 750 agents) with
their callbacks, recordings, transcripts (with utterances), quality scores (with hits) and
tickets in every state with their history, written with COPY on PostgreSQL and executemany
on SQLite. Rule: every JSON column is written by the product's own code, so the pages read
what the service itself would have stored.

One call, its transcript, its score and its ticket are first put in through the real stores
(the templates); their JSON is then reused for every clone, with the searchable columns
(times, agents, queues, numbers, outcomes, scores, states) varied per row. Transcripts come
from a few templates (what the customer called about: 燃气表 most often, 燃气泄漏 in 5 %, a
rare 壁挂炉 in 0.1 %) and carry their search index entry (`transcript_search`, and on SQLite
a `transcript_fts` row), so the search is measured for real. Not loaded: audit entries.

Used by benchmarks/web_pages.py and benchmarks/big_hotline.py;
`python benchmarks/million_calls.py --calls 20000 [--url sqlite+aiosqlite:///big.db]` fills
a database and keeps it (prints its URL). tests/benchmarks/test_generator.py runs it small
on both databases, so its rows keep matching the schema.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import sqlite3
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Protocol

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import asyncpg  # type: ignore[import-untyped]  # noqa: E402

from hotline.asr.search_index import index_grams  # noqa: E402
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


# -- where the rows go: COPY on PostgreSQL, executemany on SQLite -----------------------------


class Sink(Protocol):
    async def fetch(self, sql: str) -> list[dict[str, Any]]: ...
    async def execute(self, sql: str) -> None: ...
    async def columns(self, table: str) -> list[str]: ...
    async def write(self, table: str, cols: list[str], rows: list[Any]) -> None: ...
    async def close(self) -> None: ...


def _ordered(cols: list[str], rows: list[Any]) -> tuple[list[str], list[tuple[Any, ...]]]:
    """Rows given as dicts are written to the columns they name, rows given as tuples to
    the first columns (the others take their defaults: a new NOT NULL column with none
    makes the load fail, as it should)."""
    if rows and isinstance(rows[0], dict):
        named = [c for c in cols if c in rows[0]]
        return named, [tuple(r[c] for c in named) for r in rows]
    if rows and len(rows[0]) < len(cols):  # columns added since the tuple was laid out
        return cols[: len(rows[0])], rows
    return cols, rows


class PgSink:
    def __init__(self, conn: asyncpg.Connection) -> None:
        self.conn = conn

    async def fetch(self, sql: str) -> list[dict[str, Any]]:
        return [dict(r) for r in await self.conn.fetch(sql)]

    async def execute(self, sql: str) -> None:
        await self.conn.execute(sql)

    async def columns(self, table: str) -> list[str]:
        rows = await self.conn.fetch(
            "SELECT column_name FROM information_schema.columns WHERE table_name = $1"
            " AND table_schema = current_schema() ORDER BY ordinal_position",
            table,
        )
        return [r["column_name"] for r in rows]

    async def write(self, table: str, cols: list[str], rows: list[Any]) -> None:
        named, records = _ordered(cols, rows)
        await self.conn.copy_records_to_table(table, records=records, columns=named)

    async def close(self) -> None:
        await self.conn.close()


def _sqlite_value(value: Any) -> Any:
    """As SQLAlchemy stores it on SQLite: naive UTC text with microseconds."""
    if isinstance(value, datetime):
        if value.tzinfo is not None:
            value = value.astimezone(UTC).replace(tzinfo=None)
        return value.strftime("%Y-%m-%d %H:%M:%S.%f")
    return value


class SqliteSink:
    def __init__(self, path: str) -> None:
        self.conn = sqlite3.connect(path)
        self.conn.row_factory = sqlite3.Row
        self.conn.execute("PRAGMA synchronous=OFF")

    async def fetch(self, sql: str) -> list[dict[str, Any]]:
        return [dict(r) for r in self.conn.execute(sql)]

    async def execute(self, sql: str) -> None:
        self.conn.execute(sql)
        self.conn.commit()

    async def columns(self, table: str) -> list[str]:
        return [r["name"] for r in self.conn.execute(f"PRAGMA table_info({table})")]

    async def write(self, table: str, cols: list[str], rows: list[Any]) -> None:
        named, records = _ordered(cols, rows)
        marks = ", ".join("?" for _ in named)
        self.conn.executemany(
            f"INSERT INTO {table} ({', '.join(named)}) VALUES ({marks})",
            ([_sqlite_value(v) for v in row] for row in records),
        )
        self.conn.commit()

    async def close(self) -> None:
        self.conn.close()


async def open_sink(url: str) -> Sink:
    """`url` is a SQLAlchemy URL (postgresql+asyncpg://… or sqlite+aiosqlite:///path)."""
    if url.startswith("sqlite"):
        return SqliteSink(url.split("///", 1)[-1])
    return PgSink(await asyncpg.connect(url.replace("postgresql+asyncpg", "postgresql")))


# -- the templates, through the real stores -------------------------------------------------


CALLED_ABOUT = (  # (share of transcripts, the customer's first words)
    (0.649, "我 家 燃气 表 坏 了 请 派 人 来 修"),
    (0.30, "我 家 停水 了 什么 时候 来 水"),
    (0.05, "我 闻到 燃气 泄漏 的 味道 很 浓"),
    (0.001, "我 家 的 壁挂炉 打 不着 火"),
)


async def _templates(url: str, at: datetime) -> dict[str, Any]:
    engine = db.make_engine(url)
    await db.migrate(engine)
    sessions = db.session_factory(engine)
    settings = Settings()
    transcripts = TranscriptStore(sessions, str(settings.asr.pipeline_version))
    customer = [
        said(CALLED_ABOUT[0][1], 2.0, Channel.CUSTOMER),
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
    sink = await open_sink(url)
    try:
        cols = ["id", "call_id", "status", "attempts", "sources", "created_at", "started_at"]
        cols += ["retain_until", "important", "legal_hold"]
        await sink.write(
            "recordings",
            cols,
            [
                (k + 1, f"tmpl{k or ''}", "archived", 0, "{}", at, at, at, False, False)
                for k in range(len(CALLED_ABOUT))
            ],
        )
    finally:
        await sink.close()
    await transcripts.save(1, "tmpl", transcript, at)
    for k, (_, words) in enumerate(CALLED_ABOUT[1:], start=2):
        other = two_channel_transcript(
            [said(words, 2.0, Channel.CUSTOMER), *customer[1:]], agent, 45.0
        )
        await transcripts.save(k, f"tmpl{k - 1}", other, at)
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
    sink = await open_sink(url)
    try:
        out: dict[str, Any] = {}
        for table in ("quality_scores", "tickets"):
            out[table] = (await sink.fetch(f"SELECT * FROM {table}"))[0]
        utterances = await sink.fetch(
            "SELECT * FROM transcript_utterances ORDER BY transcript_id, utterance_no"
        )
        sqlite = isinstance(sink, SqliteSink)
        out["transcripts"] = [
            (
                share,
                tr,
                us := [u for u in utterances if u["transcript_id"] == tr["id"]],
                index_grams([u["compact"] for u in us], "sqlite" if sqlite else "postgresql"),
            )
            for share, tr in zip(
                (s for s, _ in CALLED_ABOUT),
                await sink.fetch("SELECT * FROM transcripts ORDER BY recording_id"),
                strict=True,
            )
        ]
        out["hits"] = await sink.fetch("SELECT * FROM quality_hits ORDER BY id")
        out["ticket_events"] = await sink.fetch("SELECT * FROM ticket_events ORDER BY id")
        if sqlite:
            await sink.execute("DELETE FROM transcript_fts")
        for table in (
            "transcript_search",
            "transcript_utterances",
            "quality_history",
            "quality_hits",
            "quality_scores",
            "transcripts",
            "ticket_events",
            "tickets",
            "recordings",
        ):
            await sink.execute(f"DELETE FROM {table}")
    finally:
        await sink.close()
    return out


def _called_about(templates: list[Any], r: float) -> Any:
    """The transcript template whose share of the unit interval holds `r`."""
    for template in templates:
        r -= template[0]
        if r < 0:
            return template
    return templates[0]


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
    callback_id: int = 0
    event_id: int = 0
    sample: tuple[str, int] | None = None
    sqlite: bool = False

    def chunk(self, start: int, stop: int, now: datetime) -> dict[str, list[tuple[Any, ...]]]:
        rows: dict[str, list[tuple[Any, ...]]] = {
            k: [] for k in ("calls", "callbacks", "recordings", "transcripts", "utterances")
        }
        rows["fts"], rows["search"] = [], []
        for k in ("scores", "hits", "tickets", "ticket_events"):
            rows[k] = []
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
            callback = None if outcome is Outcome.ANSWERED else self._callback(rows, record, now)
            rows["calls"].append(_call_row(record, callback))
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

    def _callback(self, rows: dict[str, list[Any]], c: CallRecord, now: datetime) -> int | None:
        """断线回呼: abandoned after 10 s or more, no agent, or dropped mid-call."""
        if c.outcome is Outcome.ABANDONED and (c.wait_seconds or 0.0) < 10.0:
            return None
        self.callback_id += 1
        ended = c.ended_at or c.entered_at
        r = self.rng.random()
        if now - ended < timedelta(minutes=30):
            status, tries = "scheduled", 0
        else:
            status, tries = (
                ("done", 1) if r < 0.7 else ("exhausted", 3) if r < 0.9 else ("cancelled", 0)
            )
        last = ended + timedelta(minutes=1 + 10 * (tries - 1)) if tries else None
        rows["callbacks"].append(
            {
                "id": self.callback_id,
                "call_id": c.call_id,
                "number": c.caller_number or "",
                "reason": {Outcome.ABANDONED: "abandoned", Outcome.NO_AGENT: "no_agent"}.get(
                    c.outcome, "dropped"
                ),
                "connect_kind": "agent" if c.agent_interface else "queue",
                "connect_target": c.agent_interface or c.queue,
                "status": status,
                "attempts_made": tries,
                "next_attempt_at": ended + timedelta(minutes=1) if status == "scheduled" else None,
                "last_attempt_at": last,
                "last_result": {"done": "客户已接通", "exhausted": "客户未接听"}.get(status),
                "created_at": ended,
                "updated_at": last or ended,
                "updated_by": "zhao" if status == "cancelled" else None,
            }
        )
        return self.callback_id

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
        _, tr, utterances, grams = _called_about(t["transcripts"], rng.random())
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
        sqlite = self.sqlite
        rows["search"].append(
            (rid, rid, tr["pipeline_version"], c.entered_at, None if sqlite else grams)
        )
        if sqlite:
            rows["fts"].append((rid, " ".join(grams)))
        for u in utterances:
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
                1,  # version (the ETag of the review)
                True,  # latest: one pack, so each call's only row is its newest
            )
        )
        pending = 0  # pending_review: the score's pending needs-review hits
        for h in hits:
            self.hit_id += 1
            needs = rng.random() < 0.3
            verdict = "pending" if not final else rng.choice(("confirmed", "overturned"))
            pending += needs and verdict == "pending"
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
        rows["scores"][-1] += (pending,)

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
                # 0014_ticket_policy: the watch's next deadline, source, 即时办结, 回访
                # wishes, the complaint's judgement, verification, the unit's contact
                None if closed or overdue else done_by if dispatched else dispatch_by,
                "phone",
                None,
                False,
                False,
                None,
                None,
                None,
                None,
                None,
                None,
                None,
                None,
                None,
                None,
                None,
            )
        )
        self._history(rows, self.ticket_id, state, created, c.agent_interface)

    def _history(
        self,
        rows: dict[str, list[Any]],
        ticket: int,
        state: str,
        created: datetime,
        agent: str | None,
    ) -> None:
        """The template's own draft and refine entries, then one step per state reached."""
        for e in self.t["ticket_events"]:
            self.event_id += 1
            rows["ticket_events"].append(
                {**e, "id": self.event_id, "ticket_id": ticket, "at": created}
            )
        reached = STATE_PATH.index(state)
        for k, (action, before, after, role, minutes) in enumerate(TRANSITIONS[:reached]):
            self.event_id += 1
            rows["ticket_events"].append(
                {
                    "id": self.event_id,
                    "ticket_id": ticket,
                    "at": created + timedelta(minutes=minutes + k),
                    "actor": agent or "system" if role == "agent" else "维修中心",
                    "role": role,
                    "action": action,
                    "from_state": before,
                    "to_state": after,
                    "reason": None,
                    "detail": "{}",
                }
            )


STATE_PATH = ("draft", "accepted", "dispatched", "in_progress", "replied", "follow_up", "closed")
TRANSITIONS = (  # action, from, to, role, minutes after the call
    ("confirm", "draft", "accepted", "agent", 5),
    ("dispatch", "accepted", "dispatched", "agent", 10),
    ("start", "dispatched", "in_progress", "unit", 60),
    ("reply", "in_progress", "replied", "unit", 1440),
    ("follow_up", "replied", "follow_up", "agent", 1600),
    ("close", "follow_up", "closed", "agent", 1620),
)


def _call_row(r: CallRecord, callback_id: int | None = None) -> tuple[Any, ...]:
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
        callback_id,
        record_to_json(r),
    )


TABLES = {  # generator key -> table (in COPY order: parents first)
    "calls": "calls",
    "callbacks": "callbacks",
    "recordings": "recordings",
    "transcripts": "transcripts",
    "utterances": "transcript_utterances",
    "search": "transcript_search",
    "fts": "transcript_fts",  # SQLite's search index (PostgreSQL's is transcripts.grams)
    "scores": "quality_scores",
    "hits": "quality_hits",
    "tickets": "tickets",
    "ticket_events": "ticket_events",
}


def _chunks(n: int) -> Iterator[tuple[int, int]]:
    for start in range(0, n, CHUNK):
        yield start, min(n, start + CHUNK)


async def load(
    name: str, calls: int, days: float, progress: Callable[[str], None] = print
) -> Loaded:
    """Fill the (migrated on the way) PostgreSQL database `name`."""
    url = f"{PG.replace('postgresql', 'postgresql+asyncpg')}/{name}"
    return await load_url(url, calls, days, progress)


SEQUENCES = ("callbacks", "recordings", "transcripts", "quality_scores", "quality_hits")
SEQUENCES += ("tickets", "ticket_events")


async def load_url(
    url: str, calls: int, days: float, progress: Callable[[str], None] = print, seed: int = 11
) -> Loaded:
    """Fill the (migrated on the way) database at the SQLAlchemy `url` with `calls` calls
    over `days` days ending now."""
    now = datetime.now(UTC).replace(microsecond=0)
    first = now - timedelta(days=days)
    t = await _templates(url, first)
    rng = random.Random(seed)
    numbers = [f"1{rng.choice('3578')}{rng.randrange(10**9):09d}" for _ in range(calls // 3 + 1)]
    gen = _Gen(calls, first, days * 86400 - 3600, rng, t, numbers)
    sink = await open_sink(url)
    gen.sqlite = isinstance(sink, SqliteSink)
    counts = dict.fromkeys(TABLES, 0)
    t0 = time.perf_counter()
    try:
        cols = {key: await sink.columns(table) for key, table in TABLES.items()}
        cols["fts"] = ["rowid", "grams"]
        pending: asyncio.Task[dict[str, list[Any]]] | None = None
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
                    await sink.write(table, cols[key], rows[key])
                    counts[key] += len(rows[key])
            if (k + 1) % 10 == 0 or stop == calls:
                progress(f"  {stop:,} calls loaded ({time.perf_counter() - t0:.0f} s)")
        if isinstance(sink, PgSink):
            for table in SEQUENCES:
                await sink.execute(
                    f"SELECT setval(pg_get_serial_sequence('{table}', 'id'),"
                    f" (SELECT coalesce(max(id), 1) FROM {table}))"
                )
        # VACUUM too on PostgreSQL: a served database is vacuumed by autovacuum, and its
        # visibility map is what lets the lists read their keys from an index alone
        # (a deep offset: 0.19 s right after COPY, 0.03 s once vacuumed, at 1,000,000 calls)
        analyze = "VACUUM ANALYZE" if isinstance(sink, PgSink) else "ANALYZE"
        progress(f"  {analyze} …")
        await sink.execute(analyze)
    finally:
        await sink.close()
    assert gen.sample is not None
    return Loaded(url, url.rsplit("/", 1)[-1], calls, first, now, counts, *gen.sample)


async def _main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=20_000)
    parser.add_argument("--days", type=float, default=50.0)
    parser.add_argument(
        "--url", help="a migrated or empty database (default: a new PostgreSQL one)"
    )
    args = parser.parse_args()
    if args.url:
        loaded = await load_url(args.url, args.calls, args.days)
    else:
        loaded = await load(await create_database(), args.calls, args.days)
    print(f"{loaded.url}: {loaded.counts}")


if __name__ == "__main__":
    asyncio.run(_main())
