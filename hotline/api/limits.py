"""Limits on what a client may send. Rule: a request is measured before any work is done
for it: its body before it is read and before the token is checked, its times before a
query runs.

`BodyLimit` is an ASGI middleware, the outermost one: a declared Content-Length over the
limit is refused at once (413), and a body sent without one (chunked) is counted as it
streams in and refused the moment it passes the limit. `Since`, `Until` and `Moment` are
the query-time types every route uses: a year outside the hotline's range is a 422 with a
Chinese message, never an overflow deep in a query.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime
from typing import Annotated

from fastapi import Query
from pydantic import AfterValidator
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from hotline.core.errors import InvalidInput
from hotline.core.periods import check_year

TOO_LARGE = "body_too_large"


def _refusal(limit: int) -> bytes:
    return json.dumps(
        {
            "error": TOO_LARGE,
            "message": f"请求内容过大：超过上限 {limit} 字节，已拒绝。请缩小提交的内容后重试 "
            "(the request body is over the limit)",
        },
        ensure_ascii=False,
    ).encode()


class BodyLimit:
    """Refuse request bodies over `max_bytes` with 413, before the app reads them."""

    def __init__(
        self, app: ASGIApp, max_bytes: int, larger: Mapping[str, int] | None = None
    ) -> None:
        self.app = app
        self.max_bytes = max_bytes
        # paths that take files (a customer import) and their own, larger limit
        self.larger = dict(larger or {})

    async def _refuse(self, send: Send, limit: int) -> None:
        body = _refusal(limit)
        await send(
            {
                "type": "http.response.start",
                "status": 413,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                    (b"connection", b"close"),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.larger.get(scope["path"], self.max_bytes)
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > limit):
            await self._refuse(send, limit)
            return
        seen = 0
        over = False
        started = False

        async def counted() -> Message:
            nonlocal seen, over
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    over = True
                    # the app sees the end of an empty body; its answer is replaced below
                    return {"type": "http.request", "body": b"", "more_body": False}
            return message

        async def guarded(message: Message) -> None:
            nonlocal started
            if over:
                if not started:
                    started = True
                    await self._refuse(send, limit)
                return
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        await self.app(scope, counted, guarded)


def sane_time(value: datetime | None) -> datetime | None:
    """A time a hotline can hold (see core.periods.check_year), else InvalidInput's 422."""
    if value is not None:
        try:
            check_year(value)
        except InvalidInput as exc:
            raise ValueError(exc.message) from None
    return value


Since = Annotated[
    datetime | None,
    Query(description="from (ISO 8601; no zone = local time)"),
    AfterValidator(sane_time),
]
Until = Annotated[datetime | None, Query(description="until, exclusive"), AfterValidator(sane_time)]
SaneTime = Annotated[datetime, AfterValidator(sane_time)]
