"""Outage and service notices (停气 / 停水 / 施工 通知). Rule: a notice is in force from its
start to its expected recovery unless withdrawn, so it expires by itself and no row is ever
deleted (the history); one is published only with an end time after its start and an area
that covers at least one customer of the file (or with that warning accepted).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from sqlalchemy import Integer, String, Text, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import Mapped, mapped_column

from hotline.core.db import Base, UtcDateTime
from hotline.core.errors import Conflict, InvalidInput, NotFound
from hotline.customers.model import account_key
from hotline.customers.view import count_in_area, customer_in_area


class NoticeKind(StrEnum):
    GAS = "gas"  # 停气
    WATER = "water"  # 停水
    WORKS = "works"  # 施工
    SERVICE = "service"  # 其他服务通知


KIND_LABELS = {"gas": "停气", "water": "停水", "works": "施工", "service": "服务通知"}


class NoticeState(StrEnum):
    SCHEDULED = "scheduled"
    IN_FORCE = "in_force"
    EXPIRED = "expired"
    WITHDRAWN = "withdrawn"


@dataclass(frozen=True, slots=True)
class Area:
    districts: tuple[str, ...] = ()
    streets: tuple[str, ...] = ()
    accounts: tuple[str, ...] = ()

    @classmethod
    def make(
        cls, districts: Sequence[str], streets: Sequence[str], accounts: Sequence[str]
    ) -> Area:
        def clean(xs: Sequence[str]) -> tuple[str, ...]:
            return tuple(dict.fromkeys(x.strip() for x in xs if x.strip()))

        return cls(clean(districts), clean(streets), tuple(account_key(a) for a in clean(accounts)))

    @property
    def empty(self) -> bool:
        return not (self.districts or self.streets or self.accounts)

    def covers(
        self, *, district: str | None, street: str | None, address: str, account_no: str
    ) -> bool:
        """Whether a customer is in the area (the same test as customers.view.in_area)."""
        return (
            (district is not None and district in self.districts)
            or any(d in address for d in self.districts)
            or (street is not None and street in self.streets)
            or any(s in address for s in self.streets)
            or account_key(account_no) in self.accounts
        )


@dataclass(frozen=True, slots=True)
class NoticeIn:
    kind: NoticeKind
    title: str
    wording: str  # what agents must say (口径)
    area: Area
    starts_at: datetime
    ends_at: datetime | None  # the expected recovery

    def check(self, now: datetime) -> None:
        if self.ends_at is None:
            raise InvalidInput(
                "通知缺少预计恢复时间：请填写结束时间，过期后通知自动失效 (ends_at is required)",
                error_id="notice_without_end",
            )
        if self.ends_at <= self.starts_at:
            raise InvalidInput("预计恢复时间必须晚于开始时间 (ends_at must be after starts_at)")
        if self.ends_at <= now:
            raise InvalidInput("预计恢复时间已过：无需发布已结束的通知 (ends_at is in the past)")
        if not self.title.strip() or not self.wording.strip():
            raise InvalidInput("请填写通知标题和坐席答复口径 (title and wording are required)")
        if self.area.empty:
            raise InvalidInput(
                "请填写影响范围：区县、街道或户号至少一项 (the affected area is empty)",
                error_id="notice_without_area",
            )


@dataclass(frozen=True, slots=True)
class Notice:
    id: int
    kind: NoticeKind
    title: str
    wording: str
    area: Area
    affected: int  # customers of the file in the area when published
    starts_at: datetime
    ends_at: datetime
    published_by: str
    published_at: datetime
    withdrawn_by: str | None
    withdrawn_at: datetime | None
    warnings: tuple[str, ...] = field(default=())

    def state(self, now: datetime) -> NoticeState:
        if self.withdrawn_at is not None and self.withdrawn_at <= now:
            return NoticeState.WITHDRAWN
        if now < self.starts_at:
            return NoticeState.SCHEDULED
        return NoticeState.IN_FORCE if now < self.ends_at else NoticeState.EXPIRED


class NoticeRow(Base):
    __tablename__ = "notices"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    kind: Mapped[str] = mapped_column(String(16))
    title: Mapped[str] = mapped_column(String(200))
    wording: Mapped[str] = mapped_column(Text)
    districts: Mapped[str] = mapped_column(Text)  # JSON lists
    streets: Mapped[str] = mapped_column(Text)
    accounts: Mapped[str] = mapped_column(Text)
    affected: Mapped[int] = mapped_column(Integer)
    starts_at: Mapped[datetime] = mapped_column(UtcDateTime, index=True)
    ends_at: Mapped[datetime] = mapped_column(UtcDateTime, index=True)
    published_by: Mapped[str] = mapped_column(String(64))
    published_at: Mapped[datetime] = mapped_column(UtcDateTime)
    withdrawn_by: Mapped[str | None] = mapped_column(String(64))
    withdrawn_at: Mapped[datetime | None] = mapped_column(UtcDateTime)


def _notice(r: NoticeRow, warnings: tuple[str, ...] = ()) -> Notice:
    return Notice(
        r.id,
        NoticeKind(r.kind),
        r.title,
        r.wording,
        Area(
            tuple(json.loads(r.districts)),
            tuple(json.loads(r.streets)),
            tuple(json.loads(r.accounts)),
        ),
        r.affected,
        r.starts_at,
        r.ends_at,
        r.published_by,
        r.published_at,
        r.withdrawn_by,
        r.withdrawn_at,
        warnings,
    )


def _missing(notice_id: int) -> NotFound:
    return NotFound(f"通知 #{notice_id} 不存在 (no notice {notice_id})", error_id="notice_missing")


class NoticeBoard:
    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions

    async def publish(
        self, data: NoticeIn, *, actor: str, now: datetime, allow_no_customers: bool = False
    ) -> Notice:
        """Publish a notice; an area covering no customer of the file is refused unless
        `allow_no_customers` (then the notice carries the warning)."""
        data.check(now)
        assert data.ends_at is not None
        a = data.area
        async with self._sessions() as session, session.begin():
            affected = int(
                await session.scalar(count_in_area(a.districts, a.streets, a.accounts)) or 0
            )
            warnings: tuple[str, ...] = ()
            if not affected:
                message = "影响范围内没有任何客户档案：请核对区县、街道名称或户号是否与客户档案一致"
                if not allow_no_customers:
                    raise InvalidInput(
                        f"{message}；确认无误仍要发布，请勾选「范围内暂无客户也发布」 "
                        "(the area matches no customer)",
                        error_id="notice_area_matches_nobody",
                    )
                warnings = (message,)
            row = NoticeRow(
                kind=data.kind.value,
                title=data.title.strip()[:200],
                wording=data.wording.strip(),
                districts=json.dumps(list(a.districts), ensure_ascii=False),
                streets=json.dumps(list(a.streets), ensure_ascii=False),
                accounts=json.dumps(list(a.accounts), ensure_ascii=False),
                affected=affected,
                starts_at=data.starts_at,
                ends_at=data.ends_at,
                published_by=actor,
                published_at=now,
            )
            session.add(row)
            await session.flush()
            return _notice(row, warnings)

    async def withdraw(self, notice_id: int, *, actor: str, now: datetime) -> Notice:
        async with self._sessions() as session, session.begin():
            row = await session.get(NoticeRow, notice_id, with_for_update=True)
            if row is None:
                raise _missing(notice_id)
            if row.withdrawn_at is not None:
                raise Conflict(f"通知 #{notice_id} 已撤销 (already withdrawn)")
            row.withdrawn_by = actor
            row.withdrawn_at = now
            return _notice(row)

    async def get(self, notice_id: int) -> Notice:
        async with self._sessions() as session:
            row = await session.get(NoticeRow, notice_id)
            if row is None:
                raise _missing(notice_id)
            return _notice(row)

    async def in_force(self, now: datetime) -> list[Notice]:
        async with self._sessions() as session:
            rows = await session.scalars(
                select(NoticeRow)
                .where(
                    NoticeRow.starts_at <= now,
                    NoticeRow.ends_at > now,
                    NoticeRow.withdrawn_at.is_(None),
                )
                .order_by(NoticeRow.starts_at.desc(), NoticeRow.id.desc())
            )
            return [_notice(r) for r in rows]

    async def history(self, *, limit: int = 100, offset: int = 0) -> list[Notice]:
        async with self._sessions() as session:
            rows = await session.scalars(
                select(NoticeRow).order_by(NoticeRow.id.desc()).offset(offset).limit(limit)
            )
            return [_notice(r) for r in rows]

    async def for_customer(self, customer_id: int, now: datetime) -> list[Notice]:
        """The notices in force whose area covers this customer."""
        found: list[Notice] = []
        async with self._sessions() as session:
            for n in await self.in_force(now):
                a = n.area
                stmt = customer_in_area(customer_id, a.districts, a.streets, a.accounts)
                if await session.scalar(stmt) is not None:
                    found.append(n)
        return found
