"""Retention and legal hold: what a purge deletes, keeps, and writes down."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from hotline.core import db
from hotline.core.errors import Conflict, InvalidInput
from hotline.recording import retention
from hotline.recording.policy import RetentionPolicy
from hotline.recording.store import Recording, RecordingStore, Status

STARTED = datetime(2024, 11, 23, 2, 0, tzinfo=UTC)  # 10:00 in Shanghai
NOW = datetime(2026, 1, 10, 2, 0, tzinfo=UTC)  # more than a year later
POLICY = RetentionPolicy()


@pytest.fixture
def store(engine: AsyncEngine) -> RecordingStore:
    return RecordingStore(db.session_factory(engine))


@pytest.fixture
def root(tmp_path: Path) -> Path:
    path = tmp_path / "archive"
    path.mkdir()
    return path


async def archived(
    store: RecordingStore,
    root: Path,
    call_id: str,
    *,
    started: datetime = STARTED,
    important: bool = False,
    path: str | None = None,
) -> Recording:
    r = await store.add(
        call_id=call_id,
        sources={"mixed": f"/var/spool/asterisk/monitor/{call_id}.wav"},
        started_at=started,
        caller_number="13800138000",
        agent="PJSIP/1001",
        queue="hotline",
        retain_until=POLICY.retain_until(started, important),
        now=started,
        important=important,
    )
    assert r is not None
    rel = path or f"2024/11/23/{call_id}-0123abcd.ogg"
    if path is None:
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_bytes(b"OggS not really opus")
    await store.update(
        r.id, status=Status.ARCHIVED, path=rel, codec="opus", sha256="ab" * 32, archived_at=started
    )
    got = await store.get(r.id)
    assert got is not None
    return got


async def test_a_held_recording_past_its_date_survives_an_unheld_one_is_purged(
    store: RecordingStore, root: Path
) -> None:
    held = await archived(store, root, "1.1")
    gone = await archived(store, root, "1.2")
    await retention.set_hold(store, held.id, True, "（2025）京0105民初123号", "admin", NOW)

    items = await retention.purge(store, root, now=NOW, dry_run=False)

    assert [i.recording_id for i in items] == [gone.id]
    assert items[0].file == "deleted" and not items[0].dry_run
    assert (root / str(held.path)).is_file()
    assert not (root / str(gone.path)).exists()
    row = await store.get(gone.id)
    assert row is not None and row.status is Status.PURGED  # the row stays as the record
    still = await store.get(held.id)
    assert still is not None and still.status is Status.ARCHIVED and still.legal_hold
    assert still.hold_reason == "（2025）京0105民初123号"
    # a second purge finds nothing: the held one is never touched
    assert await retention.purge(store, root, now=NOW + timedelta(days=3650), dry_run=False) == []


async def test_every_deletion_is_audited_with_what_when_and_why(
    store: RecordingStore, root: Path
) -> None:
    r = await archived(store, root, "1.1")
    await retention.purge(store, root, now=NOW, dry_run=False)
    (entry,) = await store.audit_log(action="purge")
    assert entry.actor == "retention" and entry.recording_id == r.id and entry.at == NOW
    assert entry.detail is not None
    assert str(r.path) in entry.detail  # what
    assert "retain_until 2025-11-23T02:00:00+00:00" in entry.detail  # until when
    assert "超过保存期限 (retention ended 2025-11-23)" in entry.detail  # why


async def test_a_dry_run_lists_the_same_and_deletes_nothing(
    store: RecordingStore, root: Path
) -> None:
    a = await archived(store, root, "1.1")
    b = await archived(store, root, "1.2")
    listed = await retention.purge(store, root, now=NOW, dry_run=True)
    assert sorted(i.recording_id for i in listed) == [a.id, b.id]
    assert all(i.dry_run and i.file == "deleted" and "超过保存期限" in i.why for i in listed)
    assert (root / str(a.path)).is_file() and (root / str(b.path)).is_file()
    for r in (a, b):
        row = await store.get(r.id)
        assert row is not None and row.status is Status.ARCHIVED
    assert await store.audit_log() == []
    done = await retention.purge(store, root, now=NOW, dry_run=False, actor="zhang")
    assert sorted(i.recording_id for i in done) == sorted(i.recording_id for i in listed)
    assert {e.actor for e in await store.audit_log(action="purge")} == {"zhang"}


async def test_important_calls_are_kept_ten_years_and_unmarking_restores_one(
    store: RecordingStore, root: Path
) -> None:
    r = await archived(store, root, "1.1")
    marked = await retention.set_important(store, r.id, True, "admin", NOW, POLICY)
    assert marked.important and marked.retain_until == STARTED + timedelta(days=3650)
    assert await retention.purge(store, root, now=NOW, dry_run=False) == []
    assert (
        await retention.purge(store, root, now=STARTED + timedelta(days=3649), dry_run=True) == []
    )
    (due,) = await retention.purge(store, root, now=STARTED + timedelta(days=3650), dry_run=True)
    assert "重要录音长期保存期" in due.why

    unmarked = await retention.set_important(store, r.id, False, "admin", NOW, POLICY)
    assert unmarked.retain_until == STARTED + timedelta(days=365)
    assert [i.recording_id for i in await retention.purge(store, root, now=NOW, dry_run=False)] == [
        r.id
    ]
    actions = [(e.action, e.actor) for e in await store.audit_log(recording_id=r.id)]
    assert actions == [("purge", "retention"), ("unimportant", "admin"), ("important", "admin")]


async def test_a_missing_file_is_no_error_and_said_so(store: RecordingStore, root: Path) -> None:
    r = await archived(store, root, "1.1")
    (root / str(r.path)).unlink()
    (item,) = await retention.purge(store, root, now=NOW, dry_run=False)
    assert item.file == "missing"
    row = await store.get(r.id)
    assert row is not None and row.status is Status.PURGED
    (entry,) = await store.audit_log(action="purge")
    assert entry.detail is not None and "file already missing" in entry.detail


async def test_a_failed_recording_past_its_date_is_purged_without_a_file(
    store: RecordingStore, root: Path
) -> None:
    r = await archived(store, root, "1.1")
    await store.update(r.id, status=Status.FAILED, path=None, reason="不是音频文件")
    (item,) = await retention.purge(store, root, now=NOW, dry_run=False)
    assert item.file == "none"


async def test_a_row_whose_path_leaves_the_archive_is_not_followed(
    store: RecordingStore, root: Path
) -> None:
    outside = root.parent / "secret.txt"
    outside.write_text("keep me")
    r = await archived(store, root, "1.1", path="../secret.txt")
    (item,) = await retention.purge(store, root, now=NOW, dry_run=False)
    assert item.file == "refused"
    assert outside.read_text() == "keep me"
    row = await store.get(r.id)
    assert row is not None and row.status is Status.ARCHIVED
    assert [e.action for e in await store.audit_log()] == ["purge_failed"]


async def test_the_cached_wav_goes_with_the_recording(store: RecordingStore, root: Path) -> None:
    r = await archived(store, root, "1.1")
    cache = retention.wav_cache(root, r)
    cache.parent.mkdir(parents=True)
    cache.write_bytes(b"RIFF")
    await retention.purge(store, root, now=NOW, dry_run=False)
    assert not cache.exists()


async def test_holds_and_deadlines_are_changed_with_a_reason_and_audited(
    store: RecordingStore, root: Path
) -> None:
    r = await archived(store, root, "1.1", started=NOW - timedelta(days=10))
    with pytest.raises(InvalidInput, match="reason"):
        await retention.set_hold(store, r.id, True, "  ", "admin", NOW)
    with pytest.raises(InvalidInput):
        await retention.set_retention(store, r.id, datetime(2026, 1, 1), "admin", NOW)
    shortened = await retention.set_retention(store, r.id, NOW - timedelta(days=1), "admin", NOW)
    assert shortened.retain_until == NOW - timedelta(days=1)
    await retention.set_hold(store, r.id, True, "投诉调查", "admin", NOW)
    assert await retention.purge(store, root, now=NOW, dry_run=True) == []
    released = await retention.set_hold(store, r.id, False, None, "admin", NOW)
    assert not released.legal_hold and released.hold_reason is None
    (item,) = await retention.purge(store, root, now=NOW, dry_run=False, actor="admin")
    assert item.recording_id == r.id
    actions = [e.action for e in await store.audit_log(recording_id=r.id)]
    assert actions == ["purge", "release", "hold", "retention"]
    with pytest.raises(Conflict, match="purged"):
        await retention.set_hold(store, r.id, True, "太晚了", "admin", NOW)


async def test_a_failed_or_pending_recording_is_retried_and_nothing_else(
    store: RecordingStore, root: Path
) -> None:
    r = await archived(store, root, "1.1")
    with pytest.raises(Conflict, match="only failed or pending"):
        await retention.retry(store, r.id, "chen", NOW)
    await store.update(r.id, status=Status.FAILED, reason="文件为空", attempts=5)
    again = await retention.retry(store, r.id, "chen", NOW)
    assert again.status is Status.PENDING and again.attempts == 0
    assert again.reason is None and again.next_attempt_at == NOW
    assert [e.action for e in await store.audit_log(recording_id=r.id)] == ["retry"]
    await store.update(r.id, attempts=3, reason="磁盘已满")  # stuck pending: accepted too
    again = await retention.retry(store, r.id, "chen", NOW)
    assert again.status is Status.PENDING and again.attempts == 0
    assert [e.action for e in await store.audit_log(recording_id=r.id)] == ["retry", "retry"]


async def test_a_legal_hold_set_while_a_purge_runs_is_never_missed(
    engine: AsyncEngine, root: Path
) -> None:
    """The hold lands after the purge has read the row as due, just before it takes it:
    the purge sees it (it takes the row in one statement that re-checks the hold)."""

    class HoldArrivesMidPurge(RecordingStore):
        async def claim_purge(self, recording_id: int, now: datetime) -> bool:
            await retention.set_hold(
                self, recording_id, True, "（2026）京0105民初123号", "liu", now
            )
            return await super().claim_purge(recording_id, now)

    store = HoldArrivesMidPurge(db.session_factory(engine))
    r = await archived(store, root, "1.1")
    done = await retention.purge(store, root, now=NOW, dry_run=False)
    assert done == []
    kept = await store.get(r.id)
    assert kept is not None and kept.status is Status.ARCHIVED and kept.legal_hold
    assert (root / (kept.path or "")).is_file()


async def test_a_hold_after_the_purge_took_the_row_is_refused_not_lost(
    engine: AsyncEngine, root: Path
) -> None:
    class PurgeWinsTheRace(RecordingStore):
        async def update_unless_purged(self, recording_id: int, **values: object) -> bool:
            await retention.purge(self, root, now=NOW, dry_run=False)  # it ran first
            return await super().update_unless_purged(recording_id, **values)

    store = PurgeWinsTheRace(db.session_factory(engine))
    r = await archived(store, root, "1.2")
    with pytest.raises(Conflict, match="已按保存期限清除"):
        await retention.set_hold(store, r.id, True, "案件123", "liu", NOW)
    gone = await store.get(r.id)
    assert gone is not None and gone.status is Status.PURGED and not gone.legal_hold
