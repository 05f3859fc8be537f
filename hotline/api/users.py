"""Users, roles, bearer tokens and passwords. Rule: a token is stored only as its SHA-256,
a password only as its argon2 hash; a token works only while it is not revoked, not past
its expiry and its user is not disabled.

Roles, from least to most: agent (their own calls only), inspector, supervisor, admin.
An agent user names the queue member they are on the switch (member name or interface);
any user may name their own phone (a dial string, e.g. PJSIP/9001): a supervisor's listen,
whisper and barge calls ring it.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import Boolean, ForeignKey, Integer, String, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import Mapped, mapped_column

from hotline.api import passwords
from hotline.core.db import Base, UtcDateTime
from hotline.core.errors import Conflict, InvalidInput, NotFound
from hotline.core.roles import PEOPLE
from hotline.core.roles import Role as Role  # re-exported: users have one of its roles


class UserRow(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    role: Mapped[str] = mapped_column(String(16))
    agent: Mapped[str | None] = mapped_column(String(128))
    phone: Mapped[str | None] = mapped_column(String(128))  # own endpoint, for spy calls
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    password_hash: Mapped[str | None] = mapped_column(String(255))
    units: Mapped[str | None] = mapped_column(String(512))  # role unit: its units, "、"-joined


class TokenRow(Base):
    __tablename__ = "tokens"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    token_sha256: Mapped[str] = mapped_column(String(64), unique=True)
    label: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    revoked: Mapped[bool] = mapped_column(Boolean, default=False)
    expires_at: Mapped[datetime | None] = mapped_column(UtcDateTime)  # None: never


@dataclass(frozen=True, slots=True)
class User:
    id: int
    name: str
    role: Role
    agent: str | None
    phone: str | None = None  # the user's own phone (dial string), where spy calls ring
    active: bool = True  # False: disabled, refused everywhere
    units: tuple[str, ...] = ()  # role unit: the responsible units this 联络员 acts for

    def at_least(self, role: Role) -> bool:
        return self.role.at_least(role)


@dataclass(frozen=True, slots=True)
class TokenInfo:
    """A token as its owner's admin sees it: never the token itself."""

    id: int
    user: str
    label: str | None
    created_at: datetime
    expires_at: datetime | None
    revoked: bool

    def usable(self, now: datetime) -> bool:
        return not self.revoked and (self.expires_at is None or now < self.expires_at)


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _token(row: TokenRow, user: str) -> TokenInfo:
    return TokenInfo(row.id, user, row.label, row.created_at, row.expires_at, row.revoked)


def _no_user(name: str) -> NotFound:
    return NotFound(
        f"没有名为 {name!r} 的用户 (no user named {name!r}): check the name with "
        "`hotline users list` or create it with `hotline users add`"
    )


def _user(row: UserRow) -> User:
    units = tuple(u for u in (row.units or "").split("、") if u)
    return User(row.id, row.name, Role(row.role), row.agent, row.phone, bool(row.active), units)


user_of = _user


class UserStore:
    def __init__(
        self, sessions: async_sessionmaker[AsyncSession], token_ttl: timedelta | None = None
    ) -> None:
        self._sessions = sessions
        self.token_ttl = token_ttl  # a new token's lifetime; None: never expires

    @property
    def sessions(self) -> async_sessionmaker[AsyncSession]:
        return self._sessions

    async def add(
        self,
        name: str,
        role: Role,
        agent: str | None,
        now: datetime,
        phone: str | None = None,
        units: tuple[str, ...] = (),
    ) -> User:
        if role not in PEOPLE:
            raise InvalidInput(
                f"角色 {role.value} 属于系统自身，不能分配给用户 (the role {role.value!r} is the "
                "service itself, not a person's; give agent, inspector, supervisor or admin)"
            )
        if role is Role.AGENT and not agent:
            raise InvalidInput(
                f"agent user {name!r} needs --agent: the queue member name or interface "
                "they answer as on the switch (e.g. 'PJSIP/1001')"
            )
        names = tuple(dict.fromkeys(u.strip() for u in units if u.strip()))
        if role is Role.UNIT and not names:
            raise InvalidInput(
                f"承办单位用户 {name!r} 须指定所属单位 (unit user {name!r} needs --unit: the "
                "responsible unit(s) they act for, e.g. --unit 抢修中心)"
            )
        if any("、" in u for u in names):
            raise InvalidInput("单位名称不能含「、」 (a unit name cannot contain 、)")
        row = UserRow(
            name=name,
            role=role.value,
            agent=agent,
            phone=phone,
            active=True,
            created_at=now,
            units="、".join(names) or None,
        )
        try:
            async with self._sessions() as session, session.begin():
                session.add(row)
        except IntegrityError:
            raise Conflict(f"user {name!r} exists already; pick another name") from None
        return _user(row)

    async def set_phone(self, name: str, phone: str | None) -> User:
        """Name (or clear, None) the user's own phone: the dial string spy calls ring."""
        async with self._sessions() as session, session.begin():
            row = await session.scalar(select(UserRow).where(UserRow.name == name))
            if row is None:
                raise NotFound(f"no user named {name!r}; create it first with `hotline users add`")
            row.phone = phone or None
            return _user(row)

    async def issue_token(self, name: str, now: datetime, label: str | None = None) -> str:
        return (await self.issue(name, now, label))[1]

    async def issue(
        self, name: str, now: datetime, label: str | None = None
    ) -> tuple[TokenInfo, str]:
        """A new token for `name`, expiring after `token_ttl`: its record and the token
        (shown once; only its hash is kept)."""
        token = secrets.token_urlsafe(32)
        expires = now + self.token_ttl if self.token_ttl else None
        async with self._sessions() as session, session.begin():
            row = await session.scalar(select(UserRow).where(UserRow.name == name))
            if row is None:
                raise _no_user(name)
            if not row.active:
                raise Conflict(
                    f"用户 {name} 已停用，不能发放令牌 (user {name!r} is disabled): "
                    f"enable it first with `hotline users enable {name}`"
                )
            t = TokenRow(
                user_id=row.id,
                token_sha256=_hash(token),
                label=label,
                created_at=now,
                expires_at=expires,
                revoked=False,
            )
            session.add(t)
            await session.flush()
            return _token(t, name), token

    async def tokens_of(self, name: str) -> list[TokenInfo]:
        """Every token of `name`, newest first (revoked and expired ones too)."""
        async with self._sessions() as session:
            uid = await session.scalar(select(UserRow.id).where(UserRow.name == name))
            if uid is None:
                raise _no_user(name)
            rows = await session.scalars(
                select(TokenRow).where(TokenRow.user_id == uid).order_by(TokenRow.id.desc())
            )
            return [_token(r, name) for r in rows]

    async def revoke_token(self, token_id: int) -> TokenInfo:
        """Revoke one token by its id (as `tokens_of` lists it); again is harmless."""
        async with self._sessions() as session, session.begin():
            found = (
                await session.execute(
                    select(TokenRow, UserRow.name)
                    .join(UserRow, UserRow.id == TokenRow.user_id)
                    .where(TokenRow.id == token_id)
                )
            ).first()
            if found is None:
                raise NotFound(
                    f"没有编号为 {token_id} 的令牌 (no token {token_id}): list a user's tokens "
                    "with `hotline tokens list NAME`"
                )
            row, user = found
            row.revoked = True
            return _token(row, user)

    async def set_active(self, name: str, active: bool) -> User:
        """Enable or disable `name`: a disabled user's tokens and sessions stop working and
        they cannot sign in, until enabled again."""
        async with self._sessions() as session, session.begin():
            row = await session.scalar(select(UserRow).where(UserRow.name == name))
            if row is None:
                raise _no_user(name)
            row.active = active
            return _user(row)

    async def set_role(self, name: str, role: Role, agent: str | None = None) -> User:
        """Give `name` another role (an agent needs the member name they answer as)."""
        if role not in PEOPLE:
            raise InvalidInput(
                f"角色 {role.value} 属于系统自身，不能分配给用户 (give agent, inspector, "
                "supervisor or admin)"
            )
        async with self._sessions() as session, session.begin():
            row = await session.scalar(select(UserRow).where(UserRow.name == name))
            if row is None:
                raise _no_user(name)
            if role is Role.AGENT and not (agent or row.agent):
                raise InvalidInput(
                    f"坐席角色需要指定分机 (user {name!r} as an agent needs --agent: the queue "
                    "member name or interface, e.g. PJSIP/1001)"
                )
            if role is Role.UNIT and not row.units:
                raise InvalidInput(
                    f"承办单位角色需要所属单位 (user {name!r} has no units: add a unit user "
                    "with `hotline users add … --role unit --unit 单位`)"
                )
            row.role = role.value
            if agent:
                row.agent = agent
            return _user(row)

    async def status(self, name: str) -> tuple[User, bool]:
        """The user and whether they are active."""
        async with self._sessions() as session:
            row = await session.scalar(select(UserRow).where(UserRow.name == name))
            if row is None:
                raise _no_user(name)
            return _user(row), row.active

    async def revoke_tokens(self, name: str) -> int:
        async with self._sessions() as session, session.begin():
            uid = await session.scalar(select(UserRow.id).where(UserRow.name == name))
            if uid is None:
                raise NotFound(f"no user named {name!r}")
            result = await session.execute(
                update(TokenRow).where(TokenRow.user_id == uid).values(revoked=True)
            )
            return int(result.rowcount)  # type: ignore[attr-defined]

    async def by_token(self, token: str, now: datetime | None = None) -> User | None:
        """The active user of a live token (not revoked, not expired), else None."""
        now = now or datetime.now(UTC)
        async with self._sessions() as session:
            row = await session.scalar(
                select(UserRow)
                .join(TokenRow, TokenRow.user_id == UserRow.id)
                .where(
                    TokenRow.token_sha256 == _hash(token),
                    TokenRow.revoked.is_(False),
                    or_(TokenRow.expires_at.is_(None), TokenRow.expires_at > now),
                    UserRow.active.is_(True),
                )
            )
            return _user(row) if row else None

    async def all(self) -> list[User]:
        async with self._sessions() as session:
            return [_user(r) for r in await session.scalars(select(UserRow).order_by(UserRow.id))]

    async def set_password(self, name: str, password: str) -> User:
        """Store the argon2 hash of `password` as `name`'s password (replacing any)."""
        hashed = passwords.hash_password(password)
        async with self._sessions() as session, session.begin():
            row = await session.scalar(select(UserRow).where(UserRow.name == name))
            if row is None:
                raise NotFound(f"no user named {name!r}; create it first with `hotline users add`")
            row.password_hash = hashed
            return _user(row)

    async def by_password(self, name: str, password: str) -> User | None:
        """The active user `name` if `password` is theirs, else None (same cost either way)."""
        async with self._sessions() as session:
            row = await session.scalar(
                select(UserRow).where(UserRow.name == name, UserRow.active.is_(True))
            )
        stored = row.password_hash if row is not None else None
        ok = passwords.verify_password(stored or passwords.DUMMY_HASH, password)
        if row is None or stored is None or not ok:
            return None
        if passwords.needs_rehash(stored):
            async with self._sessions() as session, session.begin():
                await session.execute(
                    update(UserRow)
                    .where(UserRow.id == row.id)
                    .values(password_hash=passwords.hash_password(password))
                )
        return _user(row)
