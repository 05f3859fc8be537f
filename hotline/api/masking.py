"""Personal data in the API's answers. Rule: every JSON answer under /api/ leaves through
this middleware, which masks phone numbers, 户号, ID numbers and addresses (core/pii.py)
unless the signed-in user's role is one that sees them whole (security.whole_pii_roles).

The user is the one `auth.current_user` found for the request (it leaves it on
`request.state.user`); an answer given to nobody signed in (401) carries no records.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterable

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from hotline.core import pii


class MaskPersonalData:
    def __init__(self, app: ASGIApp, whole_roles: Iterable[str]) -> None:
        self.app = app
        self.whole_roles = frozenset(whole_roles)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith("/api/"):
            await self.app(scope, receive, send)
            return
        start: Message | None = None
        chunks: list[bytes] = []
        passing = False

        def masked() -> bool:
            user = scope.get("state", {}).get("user")
            return user is not None and not pii.sees_whole(user.role.value, self.whole_roles)

        async def buffered(message: Message) -> None:
            nonlocal start, passing
            if passing:
                await send(message)
                return
            if message["type"] == "http.response.start":
                headers = dict(message.get("headers", []))
                is_json = headers.get(b"content-type", b"").startswith(b"application/json")
                if not is_json or not masked():
                    passing = True
                    await send(message)
                    return
                start = message
                return
            if message["type"] == "http.response.body" and start is not None:
                chunks.append(message.get("body", b""))
                if message.get("more_body"):
                    return
                body = b"".join(chunks)
                with contextlib.suppress(ValueError):  # not JSON after all: as it was
                    tree = pii.mask_tree(json.loads(body))
                    body = json.dumps(tree, ensure_ascii=False, separators=(",", ":")).encode()
                fixed = [
                    (k, str(len(body)).encode() if k == b"content-length" else v)
                    for k, v in start.get("headers", [])
                ]
                await send({**start, "headers": fixed})
                await send({"type": "http.response.body", "body": body})
                return
            await send(message)

        await self.app(scope, receive, buffered)
