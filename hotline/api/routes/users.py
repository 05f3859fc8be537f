"""Users and their tokens over HTTP, for admins. Rule: every change (disable, enable, role,
token issued or revoked) is audited with who, when and from where; a token is shown once,
when it is issued, and never listed.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Path
from pydantic import BaseModel, Field

from hotline.api.audit import Action as AuditAction
from hotline.api.deps import Admin, Audit, Users
from hotline.api.schemas import Out
from hotline.api.users import TokenInfo, User
from hotline.core.roles import Role

router = APIRouter(prefix="/api", tags=["users"])

Name = Annotated[str, Path(min_length=1, max_length=64, description="the user's name")]


class UserOut(Out):
    id: int
    name: str
    role: Role
    agent: str | None
    phone: str | None
    active: bool

    @classmethod
    def of(cls, u: User) -> UserOut:
        return cls(id=u.id, name=u.name, role=u.role, agent=u.agent, phone=u.phone, active=u.active)


class TokenOut(Out):
    id: int
    user: str
    label: str | None
    created_at: datetime
    expires_at: datetime | None
    revoked: bool
    usable: bool

    @classmethod
    def of(cls, t: TokenInfo, now: datetime) -> TokenOut:
        return cls(
            id=t.id,
            user=t.user,
            label=t.label,
            created_at=t.created_at,
            expires_at=t.expires_at,
            revoked=t.revoked,
            usable=t.usable(now),
        )


class IssuedOut(TokenOut):
    token: str = Field(description="the bearer token: shown this once, only its hash is kept")


class TokenIn(BaseModel):
    label: str | None = Field(None, max_length=64, description="what the token is for")


class RoleIn(BaseModel):
    role: Role
    agent: str | None = Field(None, max_length=128, description="for agents: member name")


@router.get("/users", response_model=list[UserOut])
async def list_users(_: Admin, users: Users) -> list[UserOut]:
    return [UserOut.of(u) for u in await users.all()]


@router.post("/users/{name}/disable", response_model=UserOut)
async def disable_user(admin: Admin, users: Users, audit: Audit, name: Name) -> UserOut:
    """停用: the user's tokens and browser sessions stop working and they cannot sign in."""
    u = await users.set_active(name, False)
    await audit(admin, AuditAction.USER_DISABLE, detail=f"user={name}")
    return UserOut.of(u)


@router.post("/users/{name}/enable", response_model=UserOut)
async def enable_user(admin: Admin, users: Users, audit: Audit, name: Name) -> UserOut:
    u = await users.set_active(name, True)
    await audit(admin, AuditAction.USER_ENABLE, detail=f"user={name}")
    return UserOut.of(u)


@router.put("/users/{name}/role", response_model=UserOut)
async def set_role(admin: Admin, users: Users, audit: Audit, name: Name, body: RoleIn) -> UserOut:
    before, _ = await users.status(name)
    u = await users.set_role(name, body.role, body.agent)
    await audit(
        admin, AuditAction.USER_ROLE, detail=f"user={name}; {before.role.value} -> {u.role.value}"
    )
    return UserOut.of(u)


@router.get("/users/{name}/tokens", response_model=list[TokenOut])
async def list_tokens(_: Admin, users: Users, name: Name) -> list[TokenOut]:
    now = datetime.now(UTC)
    return [TokenOut.of(t, now) for t in await users.tokens_of(name)]


@router.post("/users/{name}/tokens", response_model=IssuedOut, status_code=201)
async def issue_token(
    admin: Admin, users: Users, audit: Audit, name: Name, body: TokenIn
) -> IssuedOut:
    now = datetime.now(UTC)
    info, token = await users.issue(name, now, body.label)
    await audit(admin, AuditAction.TOKEN_ISSUE, detail=f"user={name}; token={info.id}")
    return IssuedOut(**TokenOut.of(info, now).model_dump(), token=token)


@router.post("/tokens/{token_id}/revoke", response_model=TokenOut)
async def revoke_token(admin: Admin, users: Users, audit: Audit, token_id: int) -> TokenOut:
    info = await users.revoke_token(token_id)
    await audit(admin, AuditAction.TOKEN_REVOKE, detail=f"user={info.user}; token={token_id}")
    return TokenOut.of(info, datetime.now(UTC))
