"""The audit trail of the HTTP layer. Rule: whatever shows a conversation (audio,
transcript, search hit, score detail), hands out an export or a 投诉转接单, or changes a
user, a role, a token or a callback, writes one entry naming who, when and from where
before it answers; and the API only ever appends to the log (no route edits or deletes).

Entries go to the recordings' audit log (recording/store.py, table `audit_log`): actor,
action, the recording concerned if there is one, the client's address and a detail line
naming the subject (call, ticket, user, query).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum

from hotline.api.users import User
from hotline.recording.store import RecordingStore


class Action(StrEnum):
    """What was done; `play` and `download` are api/playback.py's own."""

    TRANSCRIPT = "transcript"
    SEARCH_HIT = "search_hit"
    SCORE_DETAIL = "score_detail"
    EXPORT = "export"
    SLIP = "transfer_slip"
    CALLBACK_CANCEL = "callback_cancel"
    CALLBACK_RETRIGGER = "callback_retrigger"
    USER_ADD = "user_add"
    USER_ROLE = "user_role"
    USER_DISABLE = "user_disable"
    USER_ENABLE = "user_enable"
    TOKEN_ISSUE = "token_issue"
    TOKEN_REVOKE = "token_revoke"
    PASSWORD_SET = "password_set"
    IDENTITY_CHECK = "identity_check"  # issue 16: the caller's identity check recorded
    CUSTOMER_ACCOUNT = "customer_account"  # issue 16: a customer's full file shown


@dataclass(frozen=True, slots=True)
class Auditor:
    """Writes the entries of one request: its client address is the "from where"."""

    store: RecordingStore
    remote: str | None

    async def __call__(
        self,
        actor: User | str,
        action: Action,
        *,
        recording_id: int | None = None,
        detail: str | None = None,
    ) -> None:
        await self.store.audit(
            actor=actor.name if isinstance(actor, User) else actor,
            action=action.value,
            recording_id=recording_id,
            at=datetime.now(UTC),
            remote=self.remote,
            detail=detail[:1000] if detail else None,
        )

    async def each(
        self, actor: User, action: Action, recording_ids: list[int], detail: str
    ) -> None:
        """One entry per recording shown (a page of search hits), written together."""
        await self.store.audit_all(
            [(actor.name, action.value, rid, self.remote, detail[:1000]) for rid in recording_ids],
            at=datetime.now(UTC),
        )
