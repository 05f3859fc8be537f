"""Authentication (bearer token or browser session) and role checks. Rule: 401 for
who-are-you, 403 for not-you, and one `current_user` for the API and the pages alike.

A request with a bearer token is judged by the token alone, as it always was. Without one,
the `hotline_session` cookie of a signed-in browser is accepted; a state-changing request
made with it must carry the session's CSRF token (header `X-CSRF-Token` or form field
`csrf_token`), or it is refused with 403.
"""

from __future__ import annotations

import secrets
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Annotated

from fastapi import Depends, HTTPException, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from hotline.api.sessions import COOKIE, SessionStore, WebSession
from hotline.api.users import User, UserStore
from hotline.core.roles import Role

bearer = HTTPBearer(auto_error=False, description="a token from `hotline tokens create NAME`")

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
CSRF_HEADER = "X-CSRF-Token"
CSRF_FIELD = "csrf_token"


def session_store(request: Request) -> SessionStore | None:
    """The browser session store, when the web workspace is installed on this app."""
    store: SessionStore | None = getattr(request.app.state, "web_sessions", None)
    return store


async def _csrf_ok(request: Request, session: WebSession) -> bool:
    sent = request.headers.get(CSRF_HEADER)
    if sent is None:
        content_type = request.headers.get("content-type", "")
        if content_type.startswith(("application/x-www-form-urlencoded", "multipart/form-data")):
            value = (await request.form()).get(CSRF_FIELD)
            sent = value if isinstance(value, str) else None
    return sent is not None and secrets.compare_digest(sent, session.csrf_token)


async def _session_user(request: Request) -> User | None:
    """The user of the request's session cookie, or None; raises for expired or CSRF."""
    store = session_store(request)
    cookie = request.cookies.get(COOKIE)
    if store is None or not cookie:
        return None
    found = await store.find(cookie, datetime.now(UTC))
    if found.session is None:
        if found.expired:
            raise HTTPException(
                401,
                detail={
                    "error": "session_expired",
                    "message": "登录已超时，请重新登录 (the session was idle too long; "
                    "sign in again)",
                },
            )
        return None
    if request.method not in SAFE_METHODS and not await _csrf_ok(request, found.session):
        raise HTTPException(
            403,
            detail={
                "error": "csrf_failed",
                "message": "安全校验未通过：请求缺少或带有错误的防伪令牌，已拒绝。"
                "请刷新页面后重试。 (the CSRF token of this session is missing or wrong; "
                "reload the page)",
            },
        )
    request.state.web_session = found.session
    return found.session.user


async def current_user(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> User:
    if credentials is None:
        user = await _session_user(request)
        if user is not None:
            request.state.user = user
            return user
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise HTTPException(
            401,
            detail={
                "error": "unauthenticated",
                "message": "未登录 (send 'Authorization: Bearer <token>'; "
                "an admin creates tokens with `hotline tokens create NAME`)",
            },
            headers={"WWW-Authenticate": "Bearer"},
        )
    users: UserStore = request.app.state.container.users
    user = await users.by_token(credentials.credentials)
    if user is None:
        raise HTTPException(
            401,
            detail={
                "error": "invalid_token",
                "message": "令牌无效、已过期或已吊销，或该用户已停用 (this token is unknown, "
                "expired or revoked, or its user is disabled): ask an admin for a new one",
            },
            headers={"WWW-Authenticate": "Bearer"},
        )
    request.state.user = user  # for api/masking.py: whose eyes the answer is for
    return user


def require(role: Role) -> Callable[[User], Awaitable[User]]:
    async def check(user: Annotated[User, Depends(current_user)]) -> User:
        if not user.at_least(role):
            raise HTTPException(
                403,
                detail={
                    "error": "forbidden",
                    "message": f"权限不足 (this needs the role {role.value} or higher; "
                    f"you are {user.name}, {user.role.value}): ask a {role.value}",
                },
            )
        return user

    return check


AnyUser = Annotated[User, Depends(current_user)]
Agent = Annotated[User, Depends(require(Role.AGENT))]  # every user: the lowest role
Inspector = Annotated[User, Depends(require(Role.INSPECTOR))]
Supervisor = Annotated[User, Depends(require(Role.SUPERVISOR))]
Admin = Annotated[User, Depends(require(Role.ADMIN))]
