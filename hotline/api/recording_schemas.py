"""Request and response shapes of the recording archive API. Rule: the API names recordings
by id, never where their files lie (only an admin's purge report says which file went)."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

from hotline.api.schemas import Out


class RecordingOut(Out):
    id: int
    call_id: str | None
    status: str
    reason: str | None
    attempts: int
    next_attempt_at: datetime | None
    layout: str | None
    codec: str | None
    sample_rate: int | None
    channels: int | None
    duration_s: float | None
    size_bytes: int | None
    sha256: str | None
    created_at: datetime
    archived_at: datetime | None
    started_at: datetime
    caller_number: str | None
    agent: str | None
    queue: str | None
    retain_until: datetime
    important: bool
    legal_hold: bool
    hold_reason: str | None


class RecordingPage(BaseModel):
    items: list[RecordingOut]
    total: int  # counted up to offset + 10,000: see total_capped
    offset: int
    limit: int
    total_capped: bool = False  # true: there are at least `total` recordings
    next_cursor: str | None = None  # pass as ?cursor= for the next page; None: last page


class AuditOut(Out):
    id: int
    at: datetime
    actor: str
    action: str
    recording_id: int | None
    remote: str | None
    detail: str | None


class AuditPage(BaseModel):
    items: list[AuditOut]
    offset: int
    limit: int
    next_cursor: str | None = None  # a full page: pass as `cursor` for the next one


class HoldIn(BaseModel):
    hold: bool
    reason: str | None = Field(
        None, max_length=500, description="required when setting a hold, e.g. the case number"
    )


class ImportantIn(BaseModel):
    important: bool


class RetentionIn(BaseModel):
    until: datetime = Field(description="new deadline (ISO 8601; no zone = local time)")


class PurgeItemOut(Out):
    recording_id: int
    call_id: str | None
    path: str | None
    retain_until: datetime
    important: bool
    file: str
    why: str


class PurgeReport(BaseModel):
    dry_run: bool
    count: int
    items: list[PurgeItemOut]
