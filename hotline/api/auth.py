"""Bearer-token authentication and role checks. Rule: 401 for who-are-you, 403 for not-you."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated

from fastapi import Depends, HTTPException, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from hotline.api.users import User, UserStore
from hotline.core.roles import Role

bearer = HTTPBearer(auto_error=False, description="a token from `hotline tokens create NAME`")


async def current_user(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> User:
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
                "message": "令牌无效或已吊销 (this token is unknown or revoked; "
                "ask an admin for a new one)",
            },
            headers={"WWW-Authenticate": "Bearer"},
        )
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
