"""A report made as a job (issue 17): its row says who asked, how far it has come and where
its file is; a failure is told in words a supervisor reads; the same report asked twice
while it runs is one job; a day later the job and its file are gone."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from hotline.core import db
from hotline.core.errors import NotFound
from hotline.core.jobs import JobState, PermanentError, SqlJobQueue
from hotline.core.report_jobs import REPORT, Progress, ReportJobs, ReportState


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


async def counting(params: Mapping[str, Any], path: Path, progress: Progress) -> None:
    for i in range(params["rows"]):
        await progress(i, params["rows"])
    path.write_text(f"{params['rows']} rows")


async def broken(params: Mapping[str, Any], path: Path, progress: Progress) -> None:
    await progress(1, 3)
    path.write_text("half")
    raise ZeroDivisionError("division by zero")


@pytest.fixture
def clock() -> Clock:
    return Clock(datetime(2026, 12, 1, 9, tzinfo=UTC))


@pytest.fixture
def reports(engine: AsyncEngine, tmp_path: Path, clock: Clock) -> ReportJobs:
    sessions = db.session_factory(engine)
    queue = SqlJobQueue(sessions)
    return ReportJobs(sessions, tmp_path, queue, {"count": counting, "broken": broken}, clock=clock)


async def test_a_report_job_is_queued_once_runs_to_its_file_and_is_its_owners(
    reports: ReportJobs, tmp_path: Path
) -> None:
    job = await reports.start("count", {"rows": 3, "format": "json"}, "boss", "年报.json")
    again = await reports.start("count", {"format": "json", "rows": 3}, "boss", "年报.json")
    assert again.id == job.id and job.state is ReportState.PENDING  # asked twice: one job
    (queued,) = await reports.jobs.status(stage=REPORT)
    assert queued.key == str(job.id) and queued.state is JobState.PENDING
    with pytest.raises(NotFound, match="请等待任务完成"):
        reports.file(job)

    assert await reports.run(str(job.id))
    done = await reports.get(job.id, "boss")
    assert (done.state, done.done, done.total, done.percent) == (ReportState.DONE, 2, 3, 100)
    assert reports.file(done).read_text() == "3 rows"
    assert reports.file(done).parent == tmp_path / "reports"
    with pytest.raises(NotFound, match="没有编号为"):
        await reports.get(job.id, "another-supervisor")  # the file is for its owner
    later = await reports.start("count", {"rows": 3, "format": "json"}, "boss", "年报.json")
    assert later.id != job.id  # done: asking again makes it anew


async def test_a_failed_report_says_so_in_chinese_and_leaves_no_half_file(
    reports: ReportJobs, tmp_path: Path
) -> None:
    job = await reports.start("broken", {"format": "xlsx"}, "boss", "年报.xlsx")
    with pytest.raises(PermanentError):
        await reports.run(str(job.id))
    failed = await reports.get(job.id, "boss")
    assert failed.state is ReportState.FAILED and failed.label == "失败"
    assert failed.error is not None and failed.error.startswith("生成报表失败，请稍后重新生成")
    assert list((tmp_path / "reports").iterdir()) == []


async def test_a_day_later_the_job_and_its_file_are_gone(reports: ReportJobs, clock: Clock) -> None:
    job = await reports.start("count", {"rows": 1, "format": "json"}, "boss", "季报.json")
    await reports.run(str(job.id))
    path = reports.file(await reports.get(job.id, "boss"))
    clock.now += timedelta(hours=25)
    await reports.start("count", {"rows": 2, "format": "json"}, "zhao", "季报.json")
    assert not path.exists()  # a new job (anyone's) clears out the day-old ones
    with pytest.raises(NotFound):
        await reports.get(job.id, "boss")
