"""Customers, their numbers, the call links, identity checks and the file's audit trail in
the database. Rule: every write and every read of a full file leaves a `customer_audit` row
in the same transaction; a 户号 is unique (a second one is refused, never merged).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, delete, func, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from hotline.core.errors import Conflict, InvalidInput, NotFound
from hotline.customers.model import (
    CallLink,
    Customer,
    CustomerIn,
    IdentityCheck,
    LinkSource,
    account_key,
    phone_key,
)
from hotline.customers.tables import (
    CallLinkRow,
    CustomerAuditRow,
    CustomerRow,
    IdentityRow,
    PhoneRow,
)

MAX_LOOKUP = 50


@dataclass(frozen=True, slots=True)
class AuditEntry:
    id: int
    at: datetime
    actor: str
    action: str
    customer_id: int | None
    call_id: str | None
    detail: str | None


def _identity(row: IdentityRow) -> IdentityCheck:
    return IdentityCheck(
        row.id,
        row.call_id,
        row.customer_id,
        row.agent,
        row.at,
        row.passed,
        tuple(json.loads(row.confirmed)),
        row.note,
    )


def _missing(customer_id: int) -> NotFound:
    return NotFound(
        f"客户档案 #{customer_id} 不存在或已删除 (no customer {customer_id}); "
        "请按电话或户号重新查找",
        error_id="customer_missing",
    )


class CustomerStore:
    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions

    # --- reading --------------------------------------------------------------------------

    async def _fetch(self, where: ColumnElement[bool], limit: int = MAX_LOOKUP) -> list[Customer]:
        """Customers matching `where` with all their numbers, by 户号, in one statement."""
        c, p = CustomerRow, PhoneRow
        ids = select(c.id).where(where).order_by(c.account_no).limit(limit).scalar_subquery()
        stmt = (
            select(
                c.id,
                c.account_no,
                c.name,
                c.address,
                c.district,
                c.street,
                c.created_at,
                c.updated_at,
                p.number,
            )
            .outerjoin(p, p.customer_id == c.id)
            .where(c.id.in_(ids))
            .order_by(c.account_no, p.number)
        )
        found: dict[int, tuple[Any, list[str]]] = {}
        async with self._sessions() as session:
            for row in (await session.execute(stmt)).all():
                _, numbers = found.setdefault(row[0], (row, []))
                if row.number is not None:
                    numbers.append(row.number)
        return [
            Customer(r[0], r[1], r[2], r[3], tuple(n), r[4], r[5], r[6], r[7])
            for r, n in found.values()
        ]

    async def get(self, customer_id: int) -> Customer | None:
        found = await self._fetch(CustomerRow.id == customer_id)
        return found[0] if found else None

    async def require(self, customer_id: int) -> Customer:
        found = await self.get(customer_id)
        if found is None:
            raise _missing(customer_id)
        return found

    async def by_account(self, account_no: str) -> Customer | None:
        found = await self._fetch(CustomerRow.account_no == account_key(account_no))
        return found[0] if found else None

    async def by_accounts(self, accounts: Sequence[str]) -> list[Customer]:
        """Customers by 户号, in the order the numbers are given."""
        keys = [account_key(a) for a in accounts][:MAX_LOOKUP]
        if not keys:
            return []
        order = {k: i for i, k in enumerate(keys)}
        found = await self._fetch(CustomerRow.account_no.in_(keys))
        return sorted(found, key=lambda x: order[x.account_no])

    async def by_number(self, number: str) -> list[Customer]:
        """Every customer with this phone number (several may share one), by 户号."""
        key = phone_key(number)
        if not key:
            return []
        return await self._fetch(
            CustomerRow.id.in_(select(PhoneRow.customer_id).where(PhoneRow.number == key))
        )

    async def find(self, q: str, *, limit: int = 20) -> list[Customer]:
        """By 户号 or phone number (exact), else by a part of the name or address."""
        q = q.strip()
        if not q:
            raise InvalidInput("查询内容为空：请输入户号、电话、姓名或地址 (empty query)")
        exact = await self.by_accounts([q]) + await self.by_number(q)
        if exact:
            return list({c.id: c for c in exact}.values())[:limit]
        return await self._fetch(
            or_(
                CustomerRow.name.contains(q, autoescape=True),
                CustomerRow.address.contains(q, autoescape=True),
            ),
            limit,
        )

    async def count(self) -> int:
        async with self._sessions() as session:
            return int(await session.scalar(select(func.count()).select_from(CustomerRow)) or 0)

    # --- writing --------------------------------------------------------------------------

    def _audit(
        self,
        session: AsyncSession,
        actor: str,
        action: str,
        at: datetime,
        *,
        customer_id: int | None = None,
        call_id: str | None = None,
        detail: str | None = None,
    ) -> None:
        session.add(
            CustomerAuditRow(
                at=at,
                actor=actor,
                action=action,
                customer_id=customer_id,
                call_id=call_id,
                detail=detail,
            )
        )

    async def audit(
        self,
        actor: str,
        action: str,
        at: datetime,
        *,
        customer_id: int | None = None,
        call_id: str | None = None,
        detail: str | None = None,
    ) -> None:
        async with self._sessions() as session, session.begin():
            self._audit(
                session, actor, action, at, customer_id=customer_id, call_id=call_id, detail=detail
            )

    async def create(self, data: CustomerIn, *, actor: str, at: datetime) -> Customer:
        try:
            async with self._sessions() as session, session.begin():
                row = CustomerRow(
                    account_no=data.account_no,
                    name=data.name,
                    address=data.address,
                    district=data.district,
                    street=data.street,
                    created_at=at,
                    updated_at=at,
                )
                session.add(row)
                await session.flush()
                session.add_all(PhoneRow(customer_id=row.id, number=n) for n in data.phones)
                self._audit(session, actor, "create", at, customer_id=row.id)
                cid = row.id
        except IntegrityError as exc:
            raise self._duplicate(data.account_no) from exc
        return await self.require(cid)

    def _duplicate(self, account_no: str) -> Conflict:
        return Conflict(
            f"户号 {account_no} 已有档案，未重复建档 (this account number exists); "
            "请修改已有档案或核对户号",
            error_id="duplicate_account",
        )

    async def update(
        self, customer_id: int, data: CustomerIn, *, actor: str, at: datetime
    ) -> Customer:
        try:
            async with self._sessions() as session, session.begin():
                row = await session.get(CustomerRow, customer_id, with_for_update=True)
                if row is None:
                    raise _missing(customer_id)
                changed = [
                    f
                    for f in ("account_no", "name", "address", "district", "street")
                    if getattr(row, f) != getattr(data, f)
                ]
                for f in changed:
                    setattr(row, f, getattr(data, f))
                old = set(
                    await session.scalars(
                        select(PhoneRow.number).where(PhoneRow.customer_id == customer_id)
                    )
                )
                if old != set(data.phones):
                    changed.append("phones")
                    await session.execute(
                        delete(PhoneRow).where(
                            PhoneRow.customer_id == customer_id,
                            PhoneRow.number.not_in(list(data.phones)),
                        )
                    )
                    session.add_all(
                        PhoneRow(customer_id=customer_id, number=n)
                        for n in data.phones
                        if n not in old
                    )
                row.updated_at = at
                self._audit(
                    session, actor, "update", at, customer_id=customer_id, detail=",".join(changed)
                )
        except IntegrityError as exc:
            raise self._duplicate(data.account_no) from exc
        return await self.require(customer_id)

    async def delete(self, customer_id: int, *, actor: str, at: datetime) -> None:
        async with self._sessions() as session, session.begin():
            row = await session.get(CustomerRow, customer_id)
            if row is None:
                raise _missing(customer_id)
            await session.execute(delete(PhoneRow).where(PhoneRow.customer_id == customer_id))
            await session.execute(
                update(CallLinkRow)
                .where(CallLinkRow.customer_id == customer_id)
                .values(customer_id=None)
            )
            await session.delete(row)
            self._audit(
                session, actor, "delete", at, customer_id=customer_id, detail=row.account_no
            )

    # --- the customer of a call -------------------------------------------------------------

    async def link(self, call_id: str) -> CallLink | None:
        async with self._sessions() as session:
            row = await session.get(CallLinkRow, call_id)
            if row is None:
                return None
            return CallLink(
                row.call_id, row.customer_id, LinkSource(row.source), row.confirmed, row.by, row.at
            )

    async def set_link(
        self,
        call_id: str,
        customer_id: int | None,
        source: LinkSource,
        *,
        confirmed: bool,
        by: str | None,
        at: datetime,
    ) -> CallLink:
        """Link `call_id` to a customer (None: to no customer). A confirmed link is only
        replaced by another confirmed one (what the agent said stays)."""
        async with self._sessions() as session, session.begin():
            if customer_id is not None and await session.get(CustomerRow, customer_id) is None:
                raise _missing(customer_id)
            row = await session.get(CallLinkRow, call_id, with_for_update=True)
            if row is not None and row.confirmed and not confirmed:
                return CallLink(
                    row.call_id,
                    row.customer_id,
                    LinkSource(row.source),
                    row.confirmed,
                    row.by,
                    row.at,
                )
            if row is None:
                row = CallLinkRow(call_id=call_id)
                session.add(row)
            action = "link_confirm" if confirmed else "link_found"
            if row.customer_id is not None and row.customer_id != customer_id and confirmed:
                action = "link_correct"
            row.customer_id = customer_id
            row.source = source.value
            row.confirmed = confirmed
            row.by = by
            row.at = at
            self._audit(
                session,
                by or "system",
                action,
                at,
                customer_id=customer_id,
                call_id=call_id,
                detail=source.value,
            )
        return CallLink(call_id, customer_id, source, confirmed, by, at)

    async def calls_of(self, customer_id: int, *, limit: int = 50) -> list[str]:
        """The calls linked to this customer (found or confirmed), newest link first."""
        async with self._sessions() as session:
            return list(
                await session.scalars(
                    select(CallLinkRow.call_id)
                    .where(CallLinkRow.customer_id == customer_id)
                    .order_by(CallLinkRow.at.desc())
                    .limit(limit)
                )
            )

    # --- identity checks --------------------------------------------------------------------

    async def record_identity(
        self,
        call_id: str,
        customer_id: int,
        *,
        agent: str,
        at: datetime,
        passed: bool,
        confirmed: Sequence[str],
        note: str | None,
    ) -> IdentityCheck:
        async with self._sessions() as session, session.begin():
            if await session.get(CustomerRow, customer_id) is None:
                raise _missing(customer_id)
            row = IdentityRow(
                call_id=call_id,
                customer_id=customer_id,
                agent=agent,
                at=at,
                passed=passed,
                confirmed=json.dumps(list(confirmed)),
                note=note,
            )
            session.add(row)
            await session.flush()
            self._audit(
                session,
                agent,
                "identity_passed" if passed else "identity_failed",
                at,
                customer_id=customer_id,
                call_id=call_id,
                detail=",".join(confirmed) or None,
            )
            return _identity(row)

    async def identity_checks(self, call_id: str) -> list[IdentityCheck]:
        async with self._sessions() as session:
            rows = await session.scalars(
                select(IdentityRow).where(IdentityRow.call_id == call_id).order_by(IdentityRow.id)
            )
            return [_identity(r) for r in rows]

    async def audit_log(
        self,
        *,
        customer_id: int | None = None,
        call_id: str | None = None,
        limit: int = 100,
    ) -> list[AuditEntry]:
        stmt = select(CustomerAuditRow).order_by(CustomerAuditRow.id.desc()).limit(limit)
        if customer_id is not None:
            stmt = stmt.where(CustomerAuditRow.customer_id == customer_id)
        if call_id is not None:
            stmt = stmt.where(CustomerAuditRow.call_id == call_id)
        async with self._sessions() as session:
            return [
                AuditEntry(r.id, r.at, r.actor, r.action, r.customer_id, r.call_id, r.detail)
                for r in await session.scalars(stmt)
            ]
