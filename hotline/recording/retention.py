"""Retention and legal hold of archived recordings. Rule: nothing on legal hold is ever
deleted, and every deletion and every change of a retention deadline leaves an audit entry
saying what, when, why and by whom.

A purge deletes the archived file (and its cached WAV and waveform peaks), keeps the row
as the record of it (status `purged`) and writes one audit entry per recording. A dry run
lists the same recordings with the same reasons and touches nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from hotline.core.errors import Conflict, InvalidInput, NotFound
from hotline.recording import peaks
from hotline.recording.policy import RetentionPolicy, inside
from hotline.recording.store import Recording, RecordingStore, Status

log = logging.getLogger(__name__)

ACTOR = "retention"  # the actor of scheduled purges in the audit log
BATCH = 500
_SHA256 = re.compile(r"[0-9a-f]{64}")


@dataclass(frozen=True, slots=True)
class PurgeItem:
    recording_id: int
    call_id: str | None
    path: str | None  # relative to the archive root, as the row had it
    retain_until: datetime
    important: bool
    file: str  # deleted, missing (already gone), none (never archived), refused, error
    why: str  # for people, Chinese first
    dry_run: bool


def wav_cache(root: Path, recording: Recording) -> Path:
    """Where the WAV made on request of this recording is cached: keyed by the archived
    file's sha256 (by id when a row has no usable hash)."""
    sha = recording.sha256 or ""
    key = sha if _SHA256.fullmatch(sha) else f"id-{recording.id}"
    return root / ".cache" / "wav" / f"{key}.wav"


def _local_day(at: datetime, timezone: str) -> str:
    return f"{at.astimezone(ZoneInfo(timezone)):%Y-%m-%d}"


def _why(r: Recording, timezone: str) -> str:
    kind = "重要录音长期保存期" if r.important else "保存期限"
    day = _local_day(r.retain_until, timezone)
    return f"超过{kind} (retention ended {day})"


def _file_state(root: Path, r: Recording, *, delete: bool) -> str:
    """What happens (or would happen) to the archived file: deleted, missing, none, refused
    (its path leaves the archive), error (could not delete). Deleting also removes the
    cached WAV."""
    if not r.path:
        return "none"
    try:
        full = inside(root, r.path)
    except InvalidInput:
        return "refused"
    if not delete:
        return "deleted" if full.exists() else "missing"
    try:
        full.unlink()
        state = "deleted"
    except FileNotFoundError:
        log.warning("recording %s: archived file %s was already missing", r.id, full)
        state = "missing"
    except OSError as exc:
        log.error("recording %s: could not delete %s: %s", r.id, full, exc)
        return "error"
    with contextlib.suppress(FileNotFoundError):
        wav_cache(root, r).unlink()
    peaks.remove(full)
    return state


async def _all_expired(store: RecordingStore, now: datetime) -> list[Recording]:
    limit = BATCH
    while True:
        found = await store.expired(now, limit=limit)
        if len(found) < limit:
            return found
        limit *= 2


def _detail(item: PurgeItem) -> str:
    what = {
        "deleted": f"已删除文件 deleted {item.path}",
        "missing": f"文件已不存在 file already missing: {item.path}",
        "none": "无归档文件 no archived file",
        "error": f"删除失败，下次重试 could not delete, tried again next time: {item.path}",
        "refused": f"路径不在归档目录内，未删除 outside the archive, kept: {item.path!r}",
    }[item.file]
    return f"{what}; retain_until {item.retain_until.isoformat()}; {item.why}"


async def purge(
    store: RecordingStore,
    root: Path,
    *,
    now: datetime,
    dry_run: bool,
    actor: str = ACTOR,
    timezone: str = "Asia/Shanghai",
    on_purged: Callable[[int], Awaitable[object]] | None = None,
) -> list[PurgeItem]:
    """Purge every recording past its retention deadline that is not on legal hold.
    `on_purged(recording_id)` removes what later stages derived from it (transcripts)."""
    items: list[PurgeItem] = []
    if dry_run:
        return [
            _item(r, _file_state(root, r, delete=False), timezone, dry_run=True)
            for r in await _all_expired(store, now)
        ]
    seen: set[int] = set()
    while True:
        batch = [r for r in await store.expired(now, limit=BATCH) if r.id not in seen]
        if not batch:
            return items
        for listed in batch:
            seen.add(listed.id)
            # a hold or a new deadline may have been set since the listing
            fresh = await store.get(listed.id)
            if fresh is None:
                continue
            r = fresh
            if r.legal_hold or r.retain_until > now or r.status is Status.PURGED:
                continue
            if _file_state(root, r, delete=False) == "refused":
                item = _item(r, "refused", timezone, dry_run=False)
            elif not await store.claim_purge(r.id, now):
                continue  # a hold (or a new deadline) came first: the file stays
            else:
                item = _item(r, _file_state(root, r, delete=True), timezone, dry_run=False)
            items.append(item)
            if item.file in ("refused", "error"):
                log.error("recording %s (%s): not purged", r.id, item.file)
                if item.file == "error":  # claimed, but the file is still there
                    await store.update(r.id, status=r.status)
                action = "purge_failed"
            else:
                if on_purged is not None:
                    await on_purged(r.id)
                action = "purge"
            await store.audit(
                actor=actor, action=action, recording_id=r.id, at=now, detail=_detail(item)
            )


def _item(r: Recording, file: str, timezone: str, *, dry_run: bool) -> PurgeItem:
    return PurgeItem(
        recording_id=r.id,
        call_id=r.call_id,
        path=r.path,
        retain_until=r.retain_until,
        important=r.important,
        file=file,
        why=_why(r, timezone),
        dry_run=dry_run,
    )


async def purge_forever(
    store: RecordingStore,
    root: Path,
    *,
    interval_s: float,
    timezone: str,
    clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    first_after_s: float = 60.0,
    on_purged: Callable[[int], Awaitable[object]] | None = None,
) -> None:
    """The scheduled purge: shortly after start, then every `interval_s`."""
    await asyncio.sleep(first_after_s)
    while True:
        try:
            done = await purge(
                store, root, now=clock(), dry_run=False, timezone=timezone, on_purged=on_purged
            )
            if done:
                log.info("retention: purged %d recording(s)", len(done))
        except Exception:  # a database outage must not end the schedule
            log.exception("retention: purge failed; trying again in %.0f s", interval_s)
        await asyncio.sleep(interval_s)


async def _live(store: RecordingStore, recording_id: int) -> Recording:
    r = await store.get(recording_id)
    if r is None:
        raise NotFound(f"没有编号为 {recording_id} 的录音 (no recording {recording_id})")
    if r.status is Status.PURGED:
        raise Conflict(
            f"录音 {recording_id} 已按保存期限清除，无法再修改 "
            f"(recording {recording_id} was purged; its audio is gone)",
            error_id="recording_purged",
        )
    return r


async def set_hold(
    store: RecordingStore,
    recording_id: int,
    hold: bool,
    reason: str | None,
    actor: str,
    now: datetime,
) -> Recording:
    """Put a recording on legal hold (a reason is required) or release it."""
    reason = (reason or "").strip() or None
    if hold and reason is None:
        raise InvalidInput(
            "设置法律保全需要填写原因 (a legal hold needs a reason, e.g. the case number)"
        )
    r = await _live(store, recording_id)
    if not await store.update_unless_purged(
        recording_id, legal_hold=hold, hold_reason=reason if hold else None
    ):
        await _live(store, recording_id)  # purged meanwhile: says so
    await store.audit(
        actor=actor,
        action="hold" if hold else "release",
        recording_id=recording_id,
        at=now,
        detail=f"法律保全 legal hold {r.legal_hold} -> {hold}"
        + (f"; reason: {reason}" if reason else ""),
    )
    return await _live(store, recording_id)


async def set_important(
    store: RecordingStore,
    recording_id: int,
    important: bool,
    actor: str,
    now: datetime,
    policy: RetentionPolicy,
) -> Recording:
    """Mark or unmark a recording as important; its deadline is recomputed from the start
    of the call with the long (or the default) retention."""
    r = await _live(store, recording_id)
    until = policy.retain_until(r.started_at, important)
    await store.update(recording_id, important=important, retain_until=until)
    await store.audit(
        actor=actor,
        action="important" if important else "unimportant",
        recording_id=recording_id,
        at=now,
        detail=f"重要 important {r.important} -> {important}; "
        f"retain_until {r.retain_until.isoformat()} -> {until.isoformat()}",
    )
    return await _live(store, recording_id)


async def set_retention(
    store: RecordingStore, recording_id: int, until: datetime, actor: str, now: datetime
) -> Recording:
    """Set a recording's retention deadline by hand."""
    if until.tzinfo is None:
        raise InvalidInput("保存期限需要带时区 (the deadline needs a time zone)")
    r = await _live(store, recording_id)
    await store.update(recording_id, retain_until=until)
    await store.audit(
        actor=actor,
        action="retention",
        recording_id=recording_id,
        at=now,
        detail=f"retain_until {r.retain_until.isoformat()} -> {until.astimezone(UTC).isoformat()}",
    )
    return await _live(store, recording_id)


async def retry(store: RecordingStore, recording_id: int, actor: str, now: datetime) -> Recording:
    """Send a failed or pending (stuck, waiting) recording back to the archiver: pending,
    attempts 0, due now."""
    r = await store.get(recording_id)
    if r is None:
        raise NotFound(f"没有编号为 {recording_id} 的录音 (no recording {recording_id})")
    if r.status not in (Status.FAILED, Status.PENDING):
        raise Conflict(
            f"只有失败或待归档的录音可以重试，录音 {recording_id} 的状态是 {r.status.value} "
            f"(only failed or pending recordings can be retried; this one is {r.status.value})",
            error_id="not_failed",
        )
    await store.update(
        recording_id, status=Status.PENDING, attempts=0, next_attempt_at=now, reason=None
    )
    await store.audit(
        actor=actor,
        action="retry",
        recording_id=recording_id,
        at=now,
        detail=f"{r.status.value} -> pending; was: {r.reason}",
    )
    return await _live(store, recording_id)
