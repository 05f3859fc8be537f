"""Versions over HTTP: ETag out, If-Match in. Rule: a response about something that can be
edited names its version in `ETag`; an edit or decision sent with `If-Match` is applied only
to that version, and on any other is a 409 carrying the current state (nothing changed).

Without If-Match a change is still compare-and-set against the version the server read
(two concurrent writers never both win), but it is not checked against what the client saw.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, Header, HTTPException, Response
from fastapi.encoders import jsonable_encoder

from hotline.core.errors import Conflict, InvalidInput

_TAG = re.compile(r'^\s*(?:W/)?"?(\d{1,9})"?\s*$')


def etag(version: int) -> str:
    return f'"{version}"'


def parse_if_match(value: str | None) -> int | None:
    """The version an If-Match names: `"3"`, `W/"3"` or `3`; `*` or none: any version."""
    if value is None or value.strip() in ("", "*"):
        return None
    found = _TAG.match(value)
    if found is None:
        raise InvalidInput(
            f'If-Match 格式有误：{value[:40]!r}，请填写上次读取时响应头 ETag 的值，例如 "3" '
            "(If-Match must be the ETag of the version you read)"
        )
    return int(found[1])


@dataclass(slots=True)
class Versioned:
    """What a versioned route needs: the version the client expects, and where its
    response's ETag goes."""

    expected: int | None
    response: Response | None = None

    def tag(self, version: int) -> None:
        if self.response is not None:
            self.response.headers["ETag"] = etag(version)


def versioned(
    response: Response,
    if_match: Annotated[
        str | None,
        Header(
            alias="If-Match",
            max_length=64,
            description='the ETag of the version you read, e.g. "3": a 409 if it changed since',
        ),
    ] = None,
) -> Versioned:
    return Versioned(parse_if_match(if_match), response)


# `v: IfMatch = None` on a route; callers that are not HTTP (the pages) pass nothing
IfMatch = Annotated[Versioned | None, Depends(versioned)]


def expected(v: Versioned | None) -> int | None:
    return v.expected if v is not None else None


def conflict(exc: Conflict, current: Any, version: int) -> HTTPException:
    """The 409 of a lost race: the error, what to do, and the current state with its ETag."""
    return HTTPException(
        409,
        detail={
            "error": exc.error_id,
            "message": exc.message,
            "current_version": version,
            "current": jsonable_encoder(current),
        },
        headers={"ETag": etag(version)},
    )
