"""Reports made as jobs. Rule: a report over a large range never holds a request: it is a
row here (who asked for what, its progress, its file) and one job of the `report` stage;
the request answers at once with the job's address, the job writes the file under the
archive root (streamed, never whole in memory) and the row says when it is ready.

Why files under the archive root and not the database: a year's workbook can be megabytes,
the archive root is already the storage every worker and every `serve` of an installation
share (recordings live there), a file is streamed to the browser from disk, and cleaning up
is deleting a folder's old files with their rows (`purge`, on every new job) instead of
bloating a table. Jobs and files older than `KEEP` go.
"""

from __future__ import annotations

import contextlib
import json
import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from pathlib import Path
from typing import Any

from sqlalchemy import Index, Integer, String, Text, delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import Mapped, mapped_column

from hotline.core.db import Base, UtcDateTime
from hotline.core.errors import NotFound
from hotline.core.jobs import JobQueue, PermanentError, describe, is_waiting

log = logging.getLogger(__name__)

REPORT = "report"  # the job stage (and queue) that makes reports
REPORT_VERSION = 1
KEEP = timedelta(hours=24)  # a finished report's file is kept this long for its download
FOLDER = "reports"  # under the archive root


class ReportState(StrEnum):
    PENDING = "pending"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"


STATE_LABELS = {
    ReportState.PENDING: "排队中",
    ReportState.RUNNING: "生成中",
    ReportState.DONE: "已完成",
    ReportState.FAILED: "失败",
}


class ReportJobRow(Base):
    __tablename__ = "report_jobs"
    __table_args__ = (
        Index("ix_report_jobs_owner_kind", "owner", "kind"),
        Index("ix_report_jobs_created_at", "created_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    kind: Mapped[str] = mapped_column(String(32))
    params: Mapped[str] = mapped_column(Text)  # JSON, keys sorted
    owner: Mapped[str] = mapped_column(String(64))
    title: Mapped[str] = mapped_column(String(200))  # the download's name, in Chinese
    state: Mapped[str] = mapped_column(String(16))
    done: Mapped[int] = mapped_column(Integer, default=0)
    total: Mapped[int] = mapped_column(Integer, default=0)
    path: Mapped[str | None] = mapped_column(String(300))  # under the archive root
    error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UtcDateTime)


@dataclass(frozen=True, slots=True)
class ReportJob:
    id: int
    kind: str
    params: dict[str, Any]
    owner: str
    title: str
    state: ReportState
    done: int
    total: int
    path: str | None
    error: str | None
    created_at: datetime
    finished_at: datetime | None

    @property
    def percent(self) -> int:
        if self.state is ReportState.DONE:
            return 100
        return int(100 * self.done / self.total) if self.total else 0

    @property
    def label(self) -> str:
        return STATE_LABELS[self.state]


Progress = Callable[[int, int], Awaitable[None]]
"""`(done, total)`: how far a report has come, in steps or rows."""

Builder = Callable[[Mapping[str, Any], Path, Progress], Awaitable[None]]
"""Makes one kind of report from its parameters into the file at the path."""


def _job(r: ReportJobRow) -> ReportJob:
    return ReportJob(
        id=r.id,
        kind=r.kind,
        params=json.loads(r.params),
        owner=r.owner,
        title=r.title,
        state=ReportState(r.state),
        done=r.done,
        total=r.total,
        path=r.path,
        error=r.error,
        created_at=r.created_at,
        finished_at=r.finished_at,
    )


class ReportJobs:
    """The report jobs' rows and files; `run` is the `report` stage's handler."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        root: Path,
        jobs: JobQueue,
        builders: Mapping[str, Builder] | None = None,
        *,
        clock: Callable[[], datetime],
    ) -> None:
        self._sessions = sessions
        self.jobs = jobs
        self.root = root
        self.builders: dict[str, Builder] = dict(builders or {})
        self.clock = clock

    def file(self, job: ReportJob) -> Path:
        """The finished report's file (NotFound when it is not ready or was cleaned up)."""
        path = self.root / job.path if job.path else None
        if job.state is not ReportState.DONE or path is None or not path.is_file():
            raise NotFound(
                f"报表任务 {job.id} 的文件尚未生成或已过期清理 (no file for report job {job.id}): "
                "请等待任务完成，或重新生成报表"
            )
        return path

    async def start(
        self, kind: str, params: Mapping[str, Any], owner: str, title: str
    ) -> ReportJob:
        """A job making this report, queued; the owner's same report already pending or
        running is returned instead of a second one."""
        job, new = await self._create(kind, params, owner, title)
        if new:
            await self.jobs.defer(REPORT, str(job.id), version=REPORT_VERSION)
        return job

    async def _create(
        self, kind: str, params: Mapping[str, Any], owner: str, title: str
    ) -> tuple[ReportJob, bool]:
        await self.purge()
        text = json.dumps(params, sort_keys=True, ensure_ascii=False)
        async with self._sessions() as s, s.begin():
            same = (
                await s.scalars(
                    select(ReportJobRow)
                    .where(
                        ReportJobRow.owner == owner,
                        ReportJobRow.kind == kind,
                        ReportJobRow.params == text,
                        ReportJobRow.state.in_([ReportState.PENDING, ReportState.RUNNING]),
                    )
                    .order_by(ReportJobRow.id.desc())
                    .limit(1)
                )
            ).first()
            if same is not None:
                return _job(same), False
            row = ReportJobRow(
                kind=kind,
                params=text,
                owner=owner,
                title=title,
                state=ReportState.PENDING.value,
                done=0,
                total=0,
                created_at=self.clock(),
            )
            s.add(row)
            await s.flush()
            return _job(row), True

    async def get(self, job_id: int, owner: str) -> ReportJob:
        """The owner's job (another user's is not found: its file is for its owner)."""
        async with self._sessions() as s:
            row = await s.get(ReportJobRow, job_id)
        if row is None or row.owner != owner:
            raise NotFound(
                f"没有编号为 {job_id} 的报表任务 (no report job {job_id}): "
                "它可能已过期清理（保留 24 小时），请重新生成报表"
            )
        return _job(row)

    async def _set(self, job_id: int, **values: Any) -> None:
        async with self._sessions() as s, s.begin():
            await s.execute(update(ReportJobRow).where(ReportJobRow.id == job_id).values(**values))

    async def run(self, key: str) -> bool:
        """The `report` stage: build the job's file, recording progress; a failure is
        recorded on the job in words a supervisor reads (the database away: wait)."""
        async with self._sessions() as s:
            row = await s.get(ReportJobRow, int(key))
        if row is None:
            return False  # purged before it ran
        job = _job(row)
        if job.state is ReportState.DONE:
            return True
        build = self.builders.get(job.kind)
        if build is None:
            raise PermanentError(f"未知的报表种类 {job.kind} (unknown report kind)")
        await self._set(job.id, state=ReportState.RUNNING.value, done=0, error=None)
        folder = self.root / FOLDER
        folder.mkdir(parents=True, exist_ok=True)
        suffix = ".xlsx" if job.params.get("format") == "xlsx" else ".json"
        final = folder / f"{job.id}{suffix}"
        part = final.with_suffix(suffix + ".part")

        async def progress(done: int, total: int) -> None:
            await self._set(job.id, done=done, total=total)

        try:
            await build(job.params, part, progress)
            part.replace(final)
        except Exception as exc:
            part.unlink(missing_ok=True)
            if is_waiting(exc):
                await self._set(job.id, state=ReportState.PENDING.value)
                raise
            log.exception("report job %s (%s) failed", job.id, job.kind)
            reason = f"生成报表失败，请稍后重新生成；如仍失败请联系管理员 ({describe(exc)})"
            await self._set(
                job.id, state=ReportState.FAILED.value, error=reason, finished_at=self.clock()
            )
            raise PermanentError(reason) from exc
        await self._set(
            job.id,
            state=ReportState.DONE.value,
            path=str(final.relative_to(self.root)),
            finished_at=self.clock(),
        )
        return True

    async def purge(self) -> int:
        """Jobs older than `KEEP` go with their files."""
        cutoff = self.clock() - KEEP
        async with self._sessions() as s, s.begin():
            old = (
                await s.execute(
                    select(ReportJobRow.id, ReportJobRow.path).where(
                        ReportJobRow.created_at < cutoff
                    )
                )
            ).all()
            if old:
                await s.execute(delete(ReportJobRow).where(ReportJobRow.created_at < cutoff))
        for _, path in old:
            if path:
                with contextlib.suppress(OSError):
                    (self.root / path).unlink(missing_ok=True)
        return len(old)
