"""The error base class. Rule: every error a user can cause says what was wrong and what to do.

Domain errors know nothing about HTTP; api/ maps each kind to a status code and keeps
`error_id` stable so clients can rely on it.
"""

from __future__ import annotations


class HotlineError(Exception):
    """Base of our errors. `error_id` is stable; the message is for people."""

    error_id = "hotline_error"

    def __init__(self, message: str, *, error_id: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        if error_id:
            self.error_id = error_id


class NotFound(HotlineError):
    error_id = "not_found"


class InvalidInput(HotlineError):
    error_id = "invalid_input"


class Conflict(HotlineError):
    error_id = "conflict"


class NotAllowed(HotlineError):
    """Allowed for the role, but not for this person on this thing (separation of duties:
    their own appeal, a complaint against them, their own ticket's satisfaction)."""

    error_id = "not_allowed"


class VersionConflict(Conflict):
    """An edit or decision made on a version that is no longer the current one: someone else
    changed it in between (compare-and-set failed). Nothing was changed."""

    error_id = "version_conflict"

    def __init__(self, what: str, current: int | None = None) -> None:
        super().__init__(
            f"{what}已被他人修改，你的更改未保存：请刷新后查看最新内容再重试 ({what} changed "
            "since you loaded it; nothing was saved: reload and try again)"
        )
        self.current = current


class Unavailable(HotlineError):
    """A service we depend on (switch, database, broker) cannot be reached right now."""

    error_id = "unavailable"
