"""The archiver: a call's recording from the switch's spool into the archive. Rule: only a
verified file reaches its final name, and only a row marked archived points to one.

Steps per recording: wait until the switch has finished the files, choose stereo
(customer left, agent right) when both legs decode, else the mixed file; transcode to
`<root>/.partial/…`, probe the result, hash it, fsync, rename into place, mark the row
archived; only then, if asked, delete the switch's files. One call processes one
recording once and leaves the row saying how it went: archived; failed (bad input, with a
reason); or still pending: not written yet (no attempt), transient trouble (an attempt,
with a reason; on the last try the row fails) or a full disk (an alert). When to look
again is not the archiver's business: the archive job (hotline.recording.stage) is retried
by the job queue, the one retry scheduler.
"""

from __future__ import annotations

import asyncio
import errno
import hashlib
import logging
import os
import shutil
import socket
import time
import uuid
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Protocol

from hotline.core.bus import Bus, Message
from hotline.recording import audio
from hotline.recording.audio import AudioError, AudioInfo, DiskFull
from hotline.recording.policy import RetentionPolicy, archive_path, inside, sources_for
from hotline.recording.store import Layout, Recording, RecordingStore, Status
from hotline.telephony.model import CallRecord
from hotline.telephony.paths import map_path

log = logging.getLogger(__name__)

PARTIAL_DIR = ".partial"
STALE_PARTIAL_S = 24 * 3600.0  # a half-written file untouched this long has no owner
_PERMANENT_ERRNOS = {errno.EACCES, errno.EPERM, errno.EISDIR, errno.ENOTDIR, errno.ELOOP}


class AudioTools(Protocol):
    async def probe(self, path: Path) -> AudioInfo: ...

    async def transcode(
        self, sources: Mapping[str, Path], dest: Path, *, codec: str, bitrate_kbps: int
    ) -> None: ...


class Ffmpeg:
    """The real `AudioTools`: hotline.recording.audio."""

    async def probe(self, path: Path) -> AudioInfo:
        return await audio.probe(path)

    async def transcode(
        self, sources: Mapping[str, Path], dest: Path, *, codec: str, bitrate_kbps: int
    ) -> None:
        await audio.transcode(sources, dest, codec=codec, bitrate_kbps=bitrate_kbps)


class _NotYet(Exception):
    """The switch has not written the file yet, or its recording folder is away (an NFS
    mount dropped): look again soon, it is no attempt."""

    def __init__(self, reason: str | None = None) -> None:
        super().__init__(reason)
        self.reason = reason


def sha256_file(path: Path, *, fsync: bool = False) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while block := f.read(1 << 20):
            digest.update(block)
        if fsync:
            os.fsync(f.fileno())
    return digest.hexdigest()


def _utcnow() -> datetime:
    return datetime.now(UTC)


class ArchiveService:
    def __init__(
        self,
        store: RecordingStore,
        bus: Bus,
        *,
        instance: str = "local",
        root: Path,
        path_map: dict[str, str],
        codec: str = "opus",
        bitrate_kbps: int = 16,
        workers: int = 0,
        settle_s: float = 2.0,
        wait_for_file_s: float = 120.0,
        delete_source: bool = False,
        max_attempts: int = 5,
        retention: RetentionPolicy,
        timezone: str = "Asia/Shanghai",
        clock: Callable[[], datetime] = _utcnow,
        audio_tools: AudioTools | None = None,
        alert_every_s: float = 60.0,
    ) -> None:
        self.store = store
        self.bus = bus
        self.instance = instance
        self.root = root
        self.timezone = timezone
        self._path_map = path_map
        self._codec = codec
        self._bitrate = bitrate_kbps
        self.workers = workers or os.cpu_count() or 1
        self._settle_s = settle_s
        self._wait_for_file_s = wait_for_file_s
        self._delete_source = delete_source
        self._max_attempts = max_attempts
        self._retention = retention
        self._clock = clock
        self._audio: AudioTools = audio_tools or Ffmpeg()
        self._alert_every_s = alert_every_s
        self._last_alert: float | None = None
        self._in_flight: set[int] = set()

    def now(self) -> datetime:
        return self._clock()

    # --- new recordings --------------------------------------------------------------------

    async def on_call_ended(self, record: CallRecord) -> Recording | None:
        """A pending recording for this call's MixMonitor files; None without a recording
        (or when the call already has one)."""
        local = map_path(record.recording_file, self._path_map)
        if not local:
            return None
        now = self._clock()
        rec = await self.store.add(
            call_id=record.call_id,
            sources=sources_for(local),
            started_at=record.entered_at,
            caller_number=record.caller_number,
            agent=record.agent_member,
            queue=record.queue,
            retain_until=self._retention.retain_until(record.entered_at, False),
            now=now,
        )
        return rec

    async def add_file(
        self,
        path: Path,
        *,
        started_at: datetime,
        caller_number: str | None,
        agent: str | None,
        queue: str | None,
        call_id: str | None = None,
        important: bool = False,
    ) -> Recording | None:
        """A pending recording for an existing file (the importer); None when a file with
        the same content was imported before."""
        sha = await asyncio.to_thread(sha256_file, path)
        rec = await self.store.add(
            call_id=call_id,
            sources={"mixed": str(path.resolve())},
            started_at=started_at,
            caller_number=caller_number,
            agent=agent,
            queue=queue,
            retain_until=self._retention.retain_until(started_at, important),
            now=self._clock(),
            source_sha256=sha,
            important=important,
        )
        return rec

    # --- the work --------------------------------------------------------------------------

    @property
    def partial_dir(self) -> Path:
        """This instance's own folder for half-written files (`.partial/<instance>`)."""
        return self.root / PARTIAL_DIR / self.instance

    async def recover(self) -> int:
        """Remove half-written files a crash left behind: only those of instances that are
        gone (same host, process not alive; or untouched for a day), never another live
        instance's. Returns how many files were removed."""
        partial = self.root / PARTIAL_DIR
        removed = 0
        if partial.is_dir():
            for p in partial.iterdir():
                if p.is_file() and p.name.endswith(".partial"):  # before per-instance folders
                    if time.time() - p.stat().st_mtime > STALE_PARTIAL_S:
                        p.unlink(missing_ok=True)
                        removed += 1
                elif p.is_dir() and p.name != self.instance and _gone(p):
                    removed += sum(1 for f in p.iterdir() if f.is_file())
                    shutil.rmtree(p, ignore_errors=True)
        if removed:
            log.warning("removed %d unfinished archive file(s) from %s", removed, partial)
        return removed

    async def process_all(
        self,
        recordings: Iterable[Recording],
        on_done: Callable[[Recording], None] | None = None,
    ) -> list[Recording]:
        """Process these recordings, `workers` at a time (the importer's way in)."""
        gate = asyncio.Semaphore(self.workers)

        async def one(rec: Recording) -> Recording:
            async with gate:
                result = await self.process_safely(rec)
            if on_done:
                on_done(result)
            return result

        return list(await asyncio.gather(*(one(r) for r in recordings)))

    async def process_safely(self, rec: Recording, *, last_try: bool | None = None) -> Recording:
        """`process`, but a bug or a database hiccup is a transient error of this recording
        (recorded on its row), never an exception in the caller's loop."""
        if rec.id in self._in_flight:
            return rec
        self._in_flight.add(rec.id)
        try:
            return await self.process(rec, last_try=last_try)
        except Exception as exc:
            log.exception("archiving recording %d failed unexpectedly", rec.id)
            try:
                return await self._transient(
                    rec, f"内部错误 (internal error: {exc!r})", self._last(rec, last_try)
                )
            except Exception:
                log.exception("cannot record the failure of recording %d", rec.id)
                return rec
        finally:
            self._in_flight.discard(rec.id)

    async def process(self, rec: Recording, *, last_try: bool | None = None) -> Recording:
        """Try to archive one recording once; returns its row as it stands afterwards (see
        the module). `last_try`: a transient error fails the row; None: when this is the
        row's `max_attempts`-th attempt (the importer's way; a job passes its own)."""
        partial = self.partial_dir / f"{rec.id}-{uuid.uuid4().hex[:8]}.partial"
        last = self._last(rec, last_try)
        try:
            return await self._archive(rec, partial)
        except _NotYet as exc:  # not written yet: no attempt, the row stays pending
            if exc.reason and exc.reason != rec.reason:
                await self.store.update(rec.id, reason=exc.reason)
        except DiskFull as exc:
            await self._disk_full(rec, exc.message)
        except AudioError as exc:
            if exc.transient:
                return await self._transient(rec, exc.message, last)
            return await self._fail(rec, exc.message)
        except OSError as exc:
            if exc.errno == errno.ENOSPC:
                await self._disk_full(rec, f"磁盘已满 (disk full: {exc})")
            elif exc.errno in _PERMANENT_ERRNOS:
                return await self._fail(rec, f"无法读写录音文件 (file access refused: {exc})")
            else:
                return await self._transient(rec, f"文件读写出错 (I/O error: {exc})", last)
        finally:
            partial.unlink(missing_ok=True)
        current = await self.store.get(rec.id)
        assert current is not None
        return current

    def _last(self, rec: Recording, last_try: bool | None) -> bool:
        return rec.attempts + 1 >= self._max_attempts if last_try is None else last_try

    async def _archive(self, rec: Recording, partial: Path) -> Recording:
        present = await self._present_sources(rec)
        await self._settle(present)
        chosen, layout, info, note = await self._choose(present)
        partial.parent.mkdir(parents=True, exist_ok=True)
        _check_room(partial.parent)
        await self._audio.transcode(chosen, partial, codec=self._codec, bitrate_kbps=self._bitrate)
        try:
            out = await self._audio.probe(partial)
        except AudioError:
            _check_room(partial.parent)  # an encoder may end "well" with nothing written
            raise
        tolerance = max(0.5, 0.02 * info.duration_s)
        if abs(out.duration_s - info.duration_s) > tolerance:
            raise AudioError(
                f"转码结果校验失败 (verification failed: {out.duration_s:.2f} s archived, "
                f"{info.duration_s:.2f} s recorded)",
                transient=True,
            )
        sha = await asyncio.to_thread(sha256_file, partial, fsync=True)
        size = partial.stat().st_size
        name = rec.call_id or Path(next(iter(chosen.values()))).stem
        relative = archive_path(rec.started_at, name, sha, self._codec, self.timezone)
        final = inside(self.root, relative)
        final.parent.mkdir(parents=True, exist_ok=True)
        os.replace(partial, final)
        await asyncio.to_thread(_fsync_dir, final.parent)
        now = self._clock()
        await self.store.update(
            rec.id,
            status=Status.ARCHIVED,
            reason=note,
            layout=layout,
            path=relative,
            codec=self._codec,
            sample_rate=out.sample_rate,
            channels=out.channels,
            duration_s=round(out.duration_s, 3),
            size_bytes=size,
            sha256=sha,
            archived_at=now,
            next_attempt_at=None,
        )
        if self._delete_source:
            used = set(chosen.values())
            if layout == Layout.STEREO and "mixed" in present:
                used.add(present["mixed"])  # both parties are in the stereo file
            for p in used:
                p.unlink(missing_ok=True)
        await self.bus.publish(
            Message(
                "recording/archived",
                {
                    "id": rec.id,
                    "call_id": rec.call_id,
                    "path": relative,
                    "layout": layout.value,
                    "duration_s": round(out.duration_s, 3),
                    "sha256": sha,
                },
            )
        )
        archived = await self.store.get(rec.id)
        assert archived is not None
        return archived

    async def _present_sources(self, rec: Recording) -> dict[str, Path]:
        present = {k: Path(v) for k, v in rec.sources.items() if Path(v).is_file()}
        if present:
            return present
        folders = {Path(v).parent for v in rec.sources.values()}
        if folders and not any(f.is_dir() for f in folders):
            shown = ", ".join(sorted(str(f) for f in folders))
            raise _NotYet(
                f"交换机录音目录不可用，等待恢复 (the switch's recording folder {shown} is "
                "missing: a dropped mount? waiting for it)"
            )
        waited = (self._clock() - rec.created_at).total_seconds()
        if waited < self._wait_for_file_s:
            raise _NotYet()
        shown = rec.sources.get("mixed") or next(iter(rec.sources.values()), "?")
        raise AudioError(f"录音文件不存在 (file not found: {shown})")

    async def _settle(self, files: dict[str, Path]) -> None:
        """Return once no file has changed for settle_s (at once for files older than that)."""

        def snapshot() -> list[tuple[int, int]]:
            stats = [p.stat() for p in files.values()]
            return [(s.st_size, s.st_mtime_ns) for s in stats]

        before = snapshot()
        newest = max(m for _, m in before) / 1e9
        if time.time() - newest >= self._settle_s:
            return
        waited = 0.0
        while waited < max(self._wait_for_file_s, self._settle_s):
            await asyncio.sleep(self._settle_s)
            waited += self._settle_s
            after = snapshot()
            if after == before:
                return
            before = after
        raise AudioError("录音文件仍在写入 (the switch is still writing the file)", transient=True)

    async def _choose(
        self, present: dict[str, Path]
    ) -> tuple[dict[str, Path], Layout, AudioInfo, str | None]:
        """Stereo when both legs decode, else the mixed file (or the one leg there is)."""
        leg_error: AudioError | None = None
        if "customer" in present and "agent" in present:
            try:
                cust, agent = await asyncio.gather(
                    self._audio.probe(present["customer"]), self._audio.probe(present["agent"])
                )
                longer = cust if cust.duration_s >= agent.duration_s else agent
                legs = {"customer": present["customer"], "agent": present["agent"]}
                return legs, Layout.STEREO, longer, None
            except AudioError as exc:
                if exc.transient or "mixed" not in present:
                    raise
                leg_error = exc
        if "mixed" in present:
            info = await self._audio.probe(present["mixed"])
            note = None
            if leg_error is not None:
                note = f"双方分轨不可用，已存混音 (legs unusable, mixed kept: {leg_error.message})"
            return {"mixed": present["mixed"]}, Layout.MIXED, info, note
        role, path = next(iter(present.items()))
        info = await self._audio.probe(path)
        who = "客户" if role == "customer" else "坐席"
        return {"mixed": path}, Layout.MIXED, info, f"只有{who}一方的录音 (only the {role} leg)"

    # --- outcomes --------------------------------------------------------------------------

    async def _transient(self, rec: Recording, reason: str, last: bool) -> Recording:
        """One more attempt on the row, with its reason; the last one fails the row."""
        attempts = rec.attempts + 1
        if last:
            return await self._fail(rec, reason, attempts)
        await self.store.update(rec.id, attempts=attempts, reason=reason)
        log.warning("recording %d: %s (attempt %d)", rec.id, reason, attempts)
        current = await self.store.get(rec.id)
        assert current is not None
        return current

    async def _fail(self, rec: Recording, reason: str, attempts: int | None = None) -> Recording:
        await self.store.update(
            rec.id,
            status=Status.FAILED,
            reason=reason,
            attempts=attempts if attempts is not None else rec.attempts + 1,
            next_attempt_at=None,
        )
        log.warning("recording %d failed: %s", rec.id, reason)
        await self.bus.publish(
            Message(
                "recording/failed",
                {"id": rec.id, "call_id": rec.call_id, "reason": reason, "sources": rec.sources},
            )
        )
        failed = await self.store.get(rec.id)
        assert failed is not None
        return failed

    async def _disk_full(self, rec: Recording, reason: str) -> None:
        """Keep the source and the row pending (no attempt); alert (at most once a minute)."""
        await self.store.update(rec.id, reason=reason)
        now = time.monotonic()
        if self._last_alert is None or now - self._last_alert >= self._alert_every_s:
            self._last_alert = now
            log.error("archive disk full at %s: %s", self.root, reason)
            await self.bus.publish(
                Message(
                    "alert/disk_full",
                    {
                        "message": f"录音归档磁盘已满，录音暂存于交换机，空出空间后自动继续 "
                        f"(archive disk full at {self.root}; recordings stay on the switch "
                        "and archiving resumes when space is freed)",
                        "root": str(self.root),
                        "recording_id": rec.id,
                        "detail": reason,
                    },
                )
            )


MIN_ROOM_BYTES = 1024 * 1024  # less free space than this on the archive disk is "full"


def _check_room(folder: Path) -> None:
    """DiskFull when the archive disk has (next to) no room left."""
    try:
        free = shutil.disk_usage(folder).free
    except OSError:
        return
    if free < MIN_ROOM_BYTES:
        raise DiskFull(f"磁盘已满 (disk full: {free} bytes free on the archive disk)")


def _gone(folder: Path) -> bool:
    """Whether the instance that owns this `.partial/<host>-<pid>-<rand>` folder is gone."""
    host, _, rest = folder.name.rpartition("-")[0].rpartition("-")
    pid = int(rest) if rest.isdigit() else None
    if host == socket.gethostname() and pid is not None:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        except PermissionError:
            pass
    try:
        return time.time() - folder.stat().st_mtime > STALE_PARTIAL_S
    except FileNotFoundError:
        return False


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
