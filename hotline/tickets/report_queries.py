"""The ticket reports computed by the database. Rule: every figure of a period's report
and of its 考核 table is an aggregate the database computes (GROUP BY over the period's
tickets, by the indexed `created_at`); only grouped rows and the bounded list of escalated
complaints come back to Python, never the period's tickets. A month is 70,000 tickets of a
million-call hotline: the report reads them three times (grouped by unit with category,
source, satisfaction and complained unit; by agent with category and complained agent; by
topic), not once per figure, and sums the few thousand groups here. The figures mean what the pure
`reports.summarize` (their reference, tested against each other) says they mean.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Index, func, select, text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from hotline.core.periods import Period
from hotline.tickets.followup import UNREACHABLE_REASON
from hotline.tickets.model import (
    Category,
    ComplaintLevel,
    Satisfaction,
    Source,
    State,
    Validity,
)
from hotline.tickets.records import ticket_from_row
from hotline.tickets.reports import (
    HOT_TOPICS,
    AssessRow,
    CategoryRow,
    SourceRow,
    TicketReport,
    UnitRow,
)
from hotline.tickets.tables import TicketRow

MAX_ESCALATED = 500  # the 投诉升级 list of a report is capped: the counts are not
NO_FOLLOWUP_REASONS = ("客户不需要回访", "按规定该类工单无需回访")
T = TicketRow
# the 投诉升级 list: level-1/2 complaints of a period, found without reading the period
Index("ix_tickets_complaint_level_created_at", T.complaint_level, T.created_at)

N_ASSESS = 13  # the 考核 counts after the ticket count, in `_assess_counts` order


def _n(cond: ColumnElement[bool]) -> Any:
    return func.count().filter(cond)


def _rate(part: int, whole: int) -> float | None:
    return part / whole if whole else None


def _assess_counts() -> list[Any]:
    """Per group: dispatch due / late, contact due / late, done due / late, on the spot,
    to follow up, followed up, answered, pleased, judged complaints, valid ones."""
    pleased = (Satisfaction.SATISFIED.value, Satisfaction.BASICALLY.value)

    def late(step: str) -> ColumnElement[bool]:
        return T.overdue_steps.contains(step)

    return [
        _n(T.dispatch_by.is_not(None)),
        _n(T.dispatch_by.is_not(None) & late("dispatch")),
        _n(T.contact_by.is_not(None)),
        _n(T.contact_by.is_not(None) & late("contact")),
        _n(T.done_by.is_not(None)),
        _n(T.done_by.is_not(None) & late("done")),
        _n(T.on_spot.is_(True)),
        _n(
            T.replied_at.is_not(None)
            & T.on_spot.is_(False)
            & (T.close_reason.is_(None) | T.close_reason.not_in(NO_FOLLOWUP_REASONS))
        ),
        _n(
            T.followup_at.is_not(None)
            | T.satisfaction.is_not(None)
            | (T.close_reason == UNREACHABLE_REASON)
        ),
        _n(T.satisfaction.is_not(None)),
        _n(T.satisfaction.in_(pleased)),
        _n(T.complaint_validity.is_not(None)),
        _n(T.complaint_validity == Validity.VALID.value),
    ]


def _add(into: dict[Any, list[int]], key: Any, values: Sequence[Any]) -> None:
    have = into.setdefault(key, [0] * len(values))
    for i, v in enumerate(values):
        have[i] += int(v)


@dataclass
class _Folded:
    """The period's grouped rows summed up the ways the report and its 考核 need."""

    totals: list[int] = field(default_factory=lambda: [0] * 6)
    categories: dict[str | None, list[int]] = field(default_factory=dict)
    units: dict[str | None, list[int]] = field(default_factory=dict)
    sources: dict[str | None, list[int]] = field(default_factory=dict)
    answers: dict[str, int] = field(default_factory=dict)
    assess: dict[str | None, list[int]] = field(default_factory=dict)
    by_cat: dict[str | None, dict[str, int]] = field(default_factory=dict)
    against: dict[str | None, int] = field(default_factory=dict)


def _fold_units(rows: Sequence[Any]) -> _Folded:
    """Rows of (unit, category, source, satisfaction, complained unit, count, closed,
    overdue, urgent, reopened, on the spot, valid complaints, *the 考核 counts)."""
    f = _Folded()
    for unit, cat, src, sat, party, *v in rows:
        k, cl, od, ur, ro, sp, valid = (int(x) for x in v[:7])
        _add(f.assess, unit, [k, *v[7:]])
        _add(f.categories, cat, [k, cl, od])
        _add(f.units, unit, [k, cl, od, k if cat == Category.COMPLAINT.value else 0])
        _add(f.sources, src, [k, cl])
        f.totals = [a + b for a, b in zip(f.totals, (k, cl, od, ur, ro, sp), strict=True)]
        cats = f.by_cat.setdefault(unit, {})
        cats[cat or "none"] = cats.get(cat or "none", 0) + k
        if sat is not None:
            f.answers[sat] = f.answers.get(sat, 0) + k
        if party is not None and valid:
            f.against[party] = f.against.get(party, 0) + valid
    return f


def _fold_agents(rows: Sequence[Any]) -> _Folded:
    """Rows of (agent, category, complained agent, count, valid complaints, *考核 counts)."""
    f = _Folded()
    for agent, cat, party, k, valid, *v in rows:
        _add(f.assess, agent, [k, *v])
        cats = f.by_cat.setdefault(agent, {})
        cats[cat or "none"] = cats.get(cat or "none", 0) + int(k)
        if party is not None and valid:
            f.against[party] = f.against.get(party, 0) + int(valid)
    return f


def _assess_rows(f: _Folded) -> list[AssessRow]:
    out = []
    for name in sorted(set(f.assess) | set(f.against), key=lambda x: (x is None, x or "")):
        v = f.assess.get(name, [0] * (1 + N_ASSESS))
        (total, d_all, d_late, c_all, c_late, f_all, f_late, spot, to_follow, followed,
         answered, happy, judged, valid) = v  # fmt: skip
        out.append(
            AssessRow(
                name=name,
                tickets=total,
                by_category=f.by_cat.get(name, {}),
                dispatch_on_time=_rate(d_all - d_late, d_all),
                contact_on_time=_rate(c_all - c_late, c_all),
                done_on_time=_rate(f_all - f_late, f_all),
                first_contact=_rate(spot, total),
                followup_rate=_rate(min(followed, to_follow), to_follow),
                satisfaction_rate=_rate(happy, answered),
                valid_complaint_rate=_rate(valid, judged),
                complaints_against=f.against.get(name, 0),
            )
        )
    return out


class TicketReports:
    """A mixin of `TicketStore`, which holds the session factory. A report reads the
    period three times (by unit, by agent, by topic: each grouped in the database, the
    groups summed here) and the escalated complaints by their own index."""

    _sessions: async_sessionmaker[AsyncSession]

    @staticmethod
    def _in(period: Period) -> list[ColumnElement[bool]]:
        return [
            T.state != State.DRAFT.value,
            T.created_at >= period.start_utc,
            T.created_at < period.end_utc,
        ]

    async def _rows(self, query: Any) -> Sequence[Any]:
        async with self._sessions() as s, s.begin():
            if s.get_bind().dialect.name == "postgresql":
                # the three queries run side by side, each in one process (the cores go
                # to them rather than to parallel workers of one), each hashing its groups
                # in memory: a month's 6,000 agent groups need about 6 MB, and under the
                # default 4 MB the planner sorts 70,000 wide rows and spills them to disk
                # instead (EXPLAIN ANALYZE at a million calls: 250 ms -> 170 ms)
                await s.execute(text("SET LOCAL work_mem = '32MB'"))
                await s.execute(text("SET LOCAL max_parallel_workers_per_gather = 0"))
            return (await s.execute(query)).all()

    def _by_unit(self, period: Period) -> Any:
        keys = (T.unit, T.category, T.source, T.satisfaction, T.complained_unit)
        valid = T.complaint_validity == Validity.VALID.value
        return (
            select(
                *keys,
                func.count(),
                _n(T.state == State.CLOSED.value),
                _n(T.overdue.is_(True)),
                _n(T.urgent.is_(True)),
                _n(T.reopened > 0),
                _n(T.on_spot.is_(True)),
                _n(valid),
                *_assess_counts(),
            )
            .where(*self._in(period))
            .group_by(*keys)
        )

    def _by_agent(self, period: Period) -> Any:
        keys = (T.agent, T.category, T.complained_agent)
        valid = T.complaint_validity == Validity.VALID.value
        return (
            select(*keys, func.count(), _n(valid), *_assess_counts())
            .where(*self._in(period))
            .group_by(*keys)
        )

    def _topics(self, period: Period) -> Any:
        n = func.count()
        return (
            select(T.topic, n)
            .where(*self._in(period), T.topic.is_not(None))
            .group_by(T.topic)
            .order_by(n.desc(), T.topic)
            .limit(HOT_TOPICS)
        )

    async def _escalated(self, period: Period) -> tuple[Any, ...]:
        levels = (ComplaintLevel.MAJOR.value, ComplaintLevel.GENERAL.value)
        async with self._sessions() as s:
            rows = (
                await s.scalars(
                    select(T)
                    .where(*self._in(period), T.complaint_level.in_(levels))
                    .order_by(T.complaint_level, T.created_at, T.id)
                    .limit(MAX_ESCALATED)
                )
            ).all()
        return tuple(ticket_from_row(r) for r in rows)

    async def ticket_report(
        self, period: Period, now: datetime
    ) -> tuple[TicketReport, list[AssessRow], list[AssessRow]]:
        """The period's report and its 考核 tables by unit and by agent, the queries
        running side by side."""
        units, agents, topics, escalated = await asyncio.gather(
            self._rows(self._by_unit(period)),
            self._rows(self._by_agent(period)),
            self._rows(self._topics(period)),
            self._escalated(period),
        )
        # summing a month's thousands of groups takes tens of ms: not on the event loop
        return await asyncio.to_thread(_assemble, period, now, units, agents, topics, escalated)

    async def period_report(self, period: Period, now: datetime) -> TicketReport:
        units, topics, escalated = await asyncio.gather(
            self._rows(self._by_unit(period)),
            self._rows(self._topics(period)),
            self._escalated(period),
        )
        return _report(period, now, _fold_units(units), topics, escalated)

    async def assessment(self, period: Period, by: str) -> list[AssessRow]:
        """The 考核 table by `unit` or by `agent`."""
        if by == "unit":
            return _assess_rows(_fold_units(await self._rows(self._by_unit(period))))
        if by == "agent":
            return _assess_rows(_fold_agents(await self._rows(self._by_agent(period))))
        raise ValueError(by)


def _assemble(
    period: Period,
    now: datetime,
    units: Sequence[Any],
    agents: Sequence[Any],
    topics: Sequence[Any],
    escalated: tuple[Any, ...],
) -> tuple[TicketReport, list[AssessRow], list[AssessRow]]:
    by_unit = _fold_units(units)
    report = _report(period, now, by_unit, topics, escalated)
    return report, _assess_rows(by_unit), _assess_rows(_fold_agents(agents))


def _report(
    period: Period,
    now: datetime,
    f: _Folded,
    topics: Sequence[Any],
    escalated: tuple[Any, ...],
) -> TicketReport:
    order = {c.value: i for i, c in enumerate(Category)}
    by_category = tuple(
        CategoryRow(Category(c) if c else None, k, cl, od)
        for c, (k, cl, od) in sorted(f.categories.items(), key=lambda r: order.get(r[0] or "", 99))
    )
    by_unit = tuple(
        sorted(
            (UnitRow(u, k, cl, od, cp) for u, (k, cl, od, cp) in f.units.items()),
            key=lambda r: (-r.created, r.unit is None, r.unit or ""),
        )
    )
    sources: dict[str, list[int]] = {}
    for x, v in f.sources.items():  # a ticket from before sources were kept: by phone
        _add(sources, x or Source.PHONE.value, v)
    src_order = {x.value: i for i, x in enumerate(Source)}
    by_source = tuple(
        SourceRow(Source(x), k, cl)
        for x, (k, cl) in sorted(sources.items(), key=lambda r: src_order.get(r[0], 99))
    )
    created, n_closed, overdue, urgent, reopened, on_spot = f.totals
    return TicketReport(
        period=period,
        generated_at=now,
        created=created,
        closed=n_closed,
        open=created - n_closed,
        overdue=overdue,
        urgent=urgent,
        by_category=by_category,
        by_unit=by_unit,
        hot_topics=tuple((str(t), int(k)) for t, k in topics),
        escalated=escalated,
        satisfaction=tuple((x, f.answers.get(x.value, 0)) for x in Satisfaction),
        reopened=reopened,
        on_spot=on_spot,
        by_source=by_source,
    )
