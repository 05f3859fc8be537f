"""Post-call survey results. Rule: one row per call whose survey was offered, written when
the call ends, with the agent and queue that took the call; a 不满意 is announced once,
when its row is written (`alert/survey_unsatisfied`).

The figures (参评率 / 满意率) are counted in `hotline.telephony.survey`; this module only
counts rows per key and result.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from sqlalchemy import ColumnElement, String, func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import Mapped, mapped_column

from hotline.core.bus import Bus, Message
from hotline.core.db import Base, UtcDateTime
from hotline.telephony.model import CallRecord, SurveyResult
from hotline.telephony.survey import ALERT_TOPIC, LABELS, SurveyRates, rates

GroupBy = Literal["agent", "queue", "all"]


class SurveyRow(Base):
    __tablename__ = "call_surveys"

    call_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    offered_at: Mapped[datetime] = mapped_column(UtcDateTime, index=True)
    result: Mapped[str] = mapped_column(String(16), index=True)  # SurveyResult
    queue: Mapped[str | None] = mapped_column(String(128), index=True)
    agent_member: Mapped[str | None] = mapped_column(String(128), index=True)
    agent_interface: Mapped[str | None] = mapped_column(String(128))
    caller_number: Mapped[str | None] = mapped_column(String(64))
    ended_at: Mapped[datetime | None] = mapped_column(UtcDateTime)


@dataclass(frozen=True, slots=True)
class Survey:
    call_id: str
    offered_at: datetime
    result: SurveyResult
    queue: str | None
    agent_member: str | None
    agent_interface: str | None
    caller_number: str | None
    ended_at: datetime | None

    @property
    def label(self) -> str:
        return LABELS[self.result]


def _survey(r: SurveyRow) -> Survey:
    return Survey(
        r.call_id,
        r.offered_at,
        SurveyResult(r.result),
        r.queue,
        r.agent_member,
        r.agent_interface,
        r.caller_number,
        r.ended_at,
    )


def survey_of(record: CallRecord) -> Survey | None:
    """The survey row of an ended call, None when no survey was offered on it."""
    if record.survey_result is None:
        return None
    return Survey(
        record.call_id,
        record.survey_offered_at or record.ended_at or record.entered_at,
        record.survey_result,
        record.queue,
        record.agent_member,
        record.agent_interface,
        record.caller_number,
        record.ended_at,
    )


class SurveyStore:
    def __init__(self, sessions: async_sessionmaker[AsyncSession], bus: Bus | None = None):
        self._sessions = sessions
        self._bus = bus

    async def on_call_ended(self, record: CallRecord) -> Survey | None:
        """After-call hook: keep the survey of an ended call; raise the alert on 不满意."""
        survey = survey_of(record)
        if survey is None:
            return None
        async with self._sessions.begin() as session:
            new = await session.get(SurveyRow, survey.call_id) is None
            await session.merge(SurveyRow(**{f: getattr(survey, f) for f in _FIELDS}))
        if new and survey.result is SurveyResult.UNSATISFIED and self._bus is not None:
            await self._bus.publish(Message(ALERT_TOPIC, alert_payload(survey)))
        return survey

    async def get(self, call_id: str) -> Survey | None:
        async with self._sessions() as session:
            row = await session.get(SurveyRow, call_id)
            return _survey(row) if row else None

    async def find(
        self,
        *,
        since: datetime | None = None,
        until: datetime | None = None,
        result: SurveyResult | None = None,
        agent: str | None = None,
        queue: str | None = None,
        limit: int = 200,
    ) -> list[Survey]:
        """Surveys newest first; `agent` names the member or the interface."""
        q = select(SurveyRow).where(*_where(since, until, queue))
        if result is not None:
            q = q.where(SurveyRow.result == result.value)
        if agent is not None:
            q = q.where((SurveyRow.agent_member == agent) | (SurveyRow.agent_interface == agent))
        q = q.order_by(SurveyRow.offered_at.desc()).limit(limit)
        async with self._sessions() as session:
            return [_survey(r) for r in (await session.scalars(q)).all()]

    async def rates(
        self, since: datetime, until: datetime, by: GroupBy, queue: str | None = None
    ) -> list[SurveyRates]:
        """参评率 / 满意率 per agent (member name), queue, or for all, of surveys offered
        in [since, until)."""
        key = {"agent": SurveyRow.agent_member, "queue": SurveyRow.queue}.get(by)
        keys = () if key is None else (key,)
        q = select(*keys, SurveyRow.result, func.count()).where(*_where(since, until, queue))
        q = q.group_by(*keys, SurveyRow.result)
        async with self._sessions() as session:
            rows = (await session.execute(q)).all()
        counts = [
            (None, SurveyResult(r[0]), r[1]) if key is None else (r[0], SurveyResult(r[1]), r[2])
            for r in rows
        ]
        return rates(counts) or ([SurveyRates(None)] if by == "all" else [])


_FIELDS = [c.name for c in SurveyRow.__table__.columns]


def _where(
    since: datetime | None, until: datetime | None, queue: str | None
) -> list[ColumnElement[bool]]:
    out: list[ColumnElement[bool]] = []
    if since is not None:
        out.append(SurveyRow.offered_at >= since)
    if until is not None:
        out.append(SurveyRow.offered_at < until)
    if queue is not None:
        out.append(SurveyRow.queue == queue)
    return out


def alert_payload(s: Survey) -> dict[str, object]:
    """The payload of `alert/survey_unsatisfied` (MQTT, the pages' alert stream)."""
    return {
        "call_id": s.call_id,
        "result": s.result.value,
        "label": s.label,
        "queue": s.queue,
        "agent_member": s.agent_member,
        "agent_interface": s.agent_interface,
        "caller_number": s.caller_number,
        "offered_at": s.offered_at,
        "message": f"来电 {s.caller_number or '未知号码'} 对坐席 "
        f"{s.agent_member or s.agent_interface or '未知'} 的服务评价为不满意，请班长回访处理",
    }
