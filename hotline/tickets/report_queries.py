"""The ticket reports computed by the database. Rule: every figure of a period's report
and of its 考核 table is an aggregate the database computes (GROUP BY over the period's
tickets, by the indexed `created_at`); only grouped rows and the bounded list of escalated
complaints come back to Python, never the period's tickets. The figures mean what the pure
`reports.summarize` (their reference, tested against each other) says they mean.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, case, func, select
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


def _n(cond: ColumnElement[bool]) -> Any:
    return func.coalesce(func.sum(case((cond, 1), else_=0)), 0)


def _rate(part: int, whole: int) -> float | None:
    return part / whole if whole else None


class TicketReports:
    """A mixin of `TicketStore`, which holds the session factory."""

    _sessions: async_sessionmaker[AsyncSession]

    @staticmethod
    def _in(period: Period) -> list[ColumnElement[bool]]:
        return [
            T.state != State.DRAFT.value,
            T.created_at >= period.start_utc,
            T.created_at < period.end_utc,
        ]

    async def period_report(self, period: Period, now: datetime) -> TicketReport:
        where = self._in(period)
        closed = T.state == State.CLOSED.value
        async with self._sessions() as s:
            totals = (
                await s.execute(
                    select(
                        func.count(),
                        _n(closed),
                        _n(T.overdue.is_(True)),
                        _n(T.urgent.is_(True)),
                        _n(T.reopened > 0),
                        _n(T.on_spot.is_(True)),
                    ).where(*where)
                )
            ).one()
            cats = (
                await s.execute(
                    select(T.category, func.count(), _n(closed), _n(T.overdue.is_(True)))
                    .where(*where)
                    .group_by(T.category)
                )
            ).all()
            units = (
                await s.execute(
                    select(
                        T.unit,
                        func.count(),
                        _n(closed),
                        _n(T.overdue.is_(True)),
                        _n(T.category == Category.COMPLAINT.value),
                    )
                    .where(*where)
                    .group_by(T.unit)
                )
            ).all()
            n = func.count()
            topics = (
                await s.execute(
                    select(T.topic, n)
                    .where(*where, T.topic.is_not(None))
                    .group_by(T.topic)
                    .order_by(n.desc(), T.topic)
                    .limit(HOT_TOPICS)
                )
            ).all()
            answers = dict(
                (
                    await s.execute(
                        select(T.satisfaction, func.count())
                        .where(*where, T.satisfaction.is_not(None))
                        .group_by(T.satisfaction)
                    )
                ).all()
            )
            sources = (
                await s.execute(
                    select(T.source, func.count(), _n(closed)).where(*where).group_by(T.source)
                )
            ).all()
            levels = (ComplaintLevel.MAJOR.value, ComplaintLevel.GENERAL.value)
            escalated = (
                await s.scalars(
                    select(T)
                    .where(*where, T.complaint_level.in_(levels))
                    .order_by(T.complaint_level, T.created_at, T.id)
                    .limit(MAX_ESCALATED)
                )
            ).all()
        order = {c.value: i for i, c in enumerate(Category)}
        by_category = tuple(
            CategoryRow(Category(c) if c else None, int(k), int(cl), int(od))
            for c, k, cl, od in sorted(cats, key=lambda r: order.get(r[0], len(order)))
        )
        by_unit = tuple(
            sorted(
                (UnitRow(u, int(k), int(cl), int(od), int(cp)) for u, k, cl, od, cp in units),
                key=lambda r: (-r.created, r.unit is None, r.unit or ""),
            )
        )
        src_order = {x.value: i for i, x in enumerate(Source)}
        by_source = tuple(
            SourceRow(Source(x or Source.PHONE.value), int(k), int(cl))
            for x, k, cl in sorted(sources, key=lambda r: src_order.get(r[0], 99))
        )
        created, n_closed, overdue, urgent, reopened, on_spot = (int(v) for v in totals)
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
            escalated=tuple(ticket_from_row(r) for r in escalated),
            satisfaction=tuple((x, int(answers.get(x.value, 0))) for x in Satisfaction),
            reopened=reopened,
            on_spot=on_spot,
            by_source=by_source,
        )

    async def assessment(self, period: Period, by: str) -> list[AssessRow]:
        """The 考核 table by `unit` or by `agent`: one aggregate query for the figures,
        one by category, one for the valid complaints naming each party."""
        if by not in ("unit", "agent"):
            raise ValueError(by)
        key = T.unit if by == "unit" else T.agent
        party = T.complained_unit if by == "unit" else T.complained_agent
        where = self._in(period)
        pleased = (Satisfaction.SATISFIED.value, Satisfaction.BASICALLY.value)

        def late(step: str) -> ColumnElement[bool]:
            return T.overdue_steps.contains(step)

        async with self._sessions() as s:
            rows = (
                await s.execute(
                    select(
                        key,
                        func.count(),
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
                            & (
                                T.close_reason.is_(None)
                                | T.close_reason.not_in(NO_FOLLOWUP_REASONS)
                            )
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
                    )
                    .where(*where)
                    .group_by(key)
                )
            ).all()
            cats = (
                await s.execute(
                    select(key, T.category, func.count()).where(*where).group_by(key, T.category)
                )
            ).all()
            against = dict(
                (
                    await s.execute(
                        select(party, func.count())
                        .where(
                            *where,
                            party.is_not(None),
                            T.complaint_validity == Validity.VALID.value,
                        )
                        .group_by(party)
                    )
                ).all()
            )
        by_cat: dict[str | None, dict[str, int]] = {}
        for name, cat, k in cats:
            by_cat.setdefault(name, {})[cat or "none"] = int(k)
        out = []
        names = {r[0] for r in rows} | set(against)
        found = {r[0]: r for r in rows}
        for name in sorted(names, key=lambda x: (x is None, x or "")):
            r = found.get(name)
            v: Sequence[int] = [int(x) for x in r[1:]] if r else [0] * 14
            (total, d_all, d_late, c_all, c_late, f_all, f_late, spot, to_follow, followed,
             answered, happy, judged, valid) = v  # fmt: skip
            out.append(
                AssessRow(
                    name=name,
                    tickets=total,
                    by_category=by_cat.get(name, {}),
                    dispatch_on_time=_rate(d_all - d_late, d_all),
                    contact_on_time=_rate(c_all - c_late, c_all),
                    done_on_time=_rate(f_all - f_late, f_all),
                    first_contact=_rate(spot, total),
                    followup_rate=_rate(min(followed, to_follow), to_follow),
                    satisfaction_rate=_rate(happy, answered),
                    valid_complaint_rate=_rate(valid, judged),
                    complaints_against=int(against.get(name, 0)),
                )
            )
        return out
