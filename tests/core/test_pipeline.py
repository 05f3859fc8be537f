"""The spine: the table decides what follows a stage; handlers only say whether it may."""

from __future__ import annotations

from typing import Any

import pytest

from hotline.core.jobs import JobState, JobStatus
from hotline.core.pipeline import Pipeline, Stage


class FakeQueue:
    def __init__(self) -> None:
        self.deferred: list[tuple[str, str, int]] = []
        self.parked: list[JobStatus] = []
        self.retried: list[int] = []

    async def defer(self, stage: str, key: str, *, version: int, run_after: Any = None) -> bool:
        self.deferred.append((stage, key, version))
        return True

    async def status(self, *args: Any, **kwargs: Any) -> list[JobStatus]:
        return self.parked

    async def retry(self, job_id: int) -> bool:
        self.retried.append(job_id)
        return True


async def yes(key: str) -> bool:
    return True


async def no(key: str) -> bool:
    return False


def table(first: Any = yes, retry: Any = None) -> list[Stage]:
    return [
        Stage("archive", first, feeds=("transcribe",), retry=retry),
        Stage("transcribe", yes, feeds=("score", "ticket"), version=3),
        Stage("score", yes, version=3),
        Stage("ticket", yes, version=3),
    ]


async def test_a_stage_that_succeeds_feeds_the_next_ones_at_their_version() -> None:
    q = FakeQueue()
    handlers = Pipeline(table(), q).handlers()  # type: ignore[arg-type]
    assert list(handlers) == ["archive", "transcribe", "score", "ticket"]
    await handlers["archive"]("7")
    await handlers["transcribe"]("7")
    await handlers["score"]("7")
    assert q.deferred == [("transcribe", "7", 3), ("score", "7", 3), ("ticket", "7", 3)]


async def test_nothing_follows_a_stage_that_says_so_and_skipped_stages_wait() -> None:
    q = FakeQueue()
    p = Pipeline(table(first=no), q)  # type: ignore[arg-type]
    await p.handlers()["archive"]("7")
    assert q.deferred == []
    assert "transcribe" not in p.handlers(without=["transcribe"])
    assert await p.start("archive", "8") and q.deferred == [("archive", "8", 1)]


def test_the_table_is_checked() -> None:
    with pytest.raises(ValueError, match="named twice"):
        Pipeline([Stage("a", yes), Stage("a", yes)], FakeQueue())  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="not in the table"):
        Pipeline([Stage("a", yes, feeds=("b",))], FakeQueue())  # type: ignore[arg-type]


async def test_a_parked_job_is_retried_through_its_stage_when_it_has_a_way() -> None:
    q = FakeQueue()
    seen: list[tuple[str, str]] = []

    async def own(key: str, actor: str) -> bool:
        seen.append((key, actor))
        return key == "7"

    p = Pipeline(table(retry=own), q)  # type: ignore[arg-type]
    job = JobStatus(1, "archive", "7", 1, JobState.FAILED, "x", 5, None, None, None)
    other = JobStatus(2, "archive", "8", 1, JobState.FAILED, "x", 5, None, None, None)
    q.parked = [job, other]
    assert await p.retry_job(1, "chen") and q.retried == []  # the stage did it
    assert await p.retry_job(2, "chen") and q.retried == [2]  # the stage left it to the queue
    assert seen == [("7", "chen"), ("8", "chen")]
    q.parked = []
    await p.retry_job(3, "chen")
    assert q.retried == [2, 3]  # not parked: the queue says so
