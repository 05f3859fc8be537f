"""The recording archive over HTTP: search, Range playback, WAV, downloads, the audit log,
retention and legal hold, each with the roles that may use them."""

from __future__ import annotations

import asyncio
import subprocess
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from typer.testing import CliRunner

from hotline.api import app as app_module
from hotline.api.cli import app as cli
from hotline.core.roles import Role
from hotline.core.settings import Settings
from hotline.recording.policy import RetentionPolicy
from hotline.recording.store import RecordingStore, Status
from tests.factories import answered_call

STARTED = datetime(2024, 11, 23, 2, 0, tzinfo=UTC)  # 10:00 in Shanghai
POLICY = RetentionPolicy()


@pytest.fixture(scope="session")
def opus(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    """Three seconds of a real two-channel 8 kHz call, as the archiver stores it."""
    work = tmp_path_factory.mktemp("audio")
    wav, ogg = work / "x.wav", work / "x.ogg"
    subprocess.run(
        ["sox", "-n", "-r", "8000", "-c", "2", str(wav), "synth", "3", "sine", "440"], check=True
    )
    subprocess.run(
        ["ffmpeg", "-loglevel", "error", "-y", "-i", str(wav), "-c:a", "libopus", str(ogg)],
        check=True,
    )
    return ogg.read_bytes()


@dataclass
class Api:
    client: httpx.AsyncClient
    container: app_module.Container
    tokens: dict[str, str]
    opus: bytes

    @property
    def store(self) -> RecordingStore:
        return self.container.recordings

    @property
    def root(self) -> Path:
        return self.container.archive_root

    async def get(
        self, who: str, url: str, headers: dict[str, str] | None = None, **params: Any
    ) -> httpx.Response:
        return await self.client.get(
            url, params=params or None, headers={**self._auth(who), **(headers or {})}
        )

    async def head(self, who: str, url: str) -> httpx.Response:
        return await self.client.head(url, headers=self._auth(who))

    async def put(self, who: str, url: str, body: dict[str, Any]) -> httpx.Response:
        return await self.client.put(url, json=body, headers=self._auth(who))

    async def post(self, who: str, url: str, **params: Any) -> httpx.Response:
        return await self.client.post(url, params=params or None, headers=self._auth(who))

    def _auth(self, who: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[who]}"} if who else {}

    async def recording(
        self,
        call_id: str,
        *,
        agent: str = "PJSIP/1001",
        number: str = "13800138000",
        started: datetime = STARTED,
        duration_s: float = 3.0,
        status: Status = Status.ARCHIVED,
        path: str | None = None,
        reason: str | None = None,
    ) -> int:
        r = await self.store.add(
            call_id=call_id,
            sources={"mixed": f"/var/spool/asterisk/monitor/{call_id}.wav"},
            started_at=started,
            caller_number=number,
            agent=agent,
            queue="hotline",
            retain_until=POLICY.retain_until(started, False),
            now=started,
        )
        assert r is not None
        if status is not Status.ARCHIVED:
            await self.store.update(r.id, status=status, reason=reason)
            return r.id
        rel = path or f"{started:%Y/%m/%d}/{call_id}-0123abcd.ogg"
        if path is None:
            (self.root / rel).parent.mkdir(parents=True, exist_ok=True)
            (self.root / rel).write_bytes(self.opus)
        await self.store.update(
            r.id,
            status=Status.ARCHIVED,
            path=rel,
            codec="opus",
            sample_rate=8000,
            channels=2,
            duration_s=duration_s,
            size_bytes=len(self.opus),
            sha256=f"{r.id:064x}",
            archived_at=started,
        )
        return r.id


@pytest.fixture
async def api(db_url: str, tmp_path: Path, opus: bytes) -> AsyncIterator[Api]:
    settings = Settings(data_dir=tmp_path, database_url=db_url)
    container = app_module.build(settings)
    app = app_module.create_app(container=container)
    await app_module.start(container)
    now = datetime.now(UTC)
    tokens = {}
    for name, role, agent in [
        ("wang", Role.AGENT, "PJSIP/1001"),
        ("li", Role.AGENT, "PJSIP/1002"),
        ("zhao", Role.INSPECTOR, None),
        ("chen", Role.SUPERVISOR, None),
        ("admin", Role.ADMIN, None),
    ]:
        await container.users.add(name, role, agent, now)
        tokens[name] = await container.users.issue_token(name, now)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://hotline") as client:
        yield Api(client, container, tokens, opus)
    await app_module.stop(container)


def audio(rid: int) -> str:
    return f"/api/recordings/{rid}/audio"


async def test_an_agent_finds_only_their_own_recordings_an_inspector_all(api: Api) -> None:
    mine = await api.recording("1.1", agent="PJSIP/1001", duration_s=30)
    theirs = await api.recording("1.2", agent="PJSIP/1002", number="13700137000", duration_s=300)
    r = await api.get("wang", "/api/recordings")
    assert r.status_code == 200 and [i["id"] for i in r.json()["items"]] == [mine]
    assert "path" not in r.json()["items"][0]  # ids, never where files lie
    r = await api.get("wang", "/api/recordings", agent="PJSIP/1002")
    assert r.json()["total"] == 0
    assert (await api.get("wang", f"/api/recordings/{theirs}")).status_code == 404
    assert (await api.get("wang", "/api/calls/1.2/recording")).status_code == 404
    r = await api.get("wang", "/api/calls/1.1/recording")
    assert r.status_code == 200 and r.json()["id"] == mine

    r = await api.get("zhao", "/api/recordings")
    assert r.json()["total"] == 2
    r = await api.get("zhao", "/api/recordings", number="1370")
    assert [i["id"] for i in r.json()["items"]] == [theirs]
    r = await api.get("zhao", "/api/recordings", min_duration_s=60)
    assert [i["id"] for i in r.json()["items"]] == [theirs]
    r = await api.get("zhao", "/api/recordings", call_id="1.1", status="archived", queue="hotline")
    assert [i["id"] for i in r.json()["items"]] == [mine]
    # times without a zone are Shanghai time: the calls started at 10:00 there
    r = await api.get(
        "zhao", "/api/recordings", since="2024-11-23T10:00:00", until="2024-11-23T10:00:01"
    )
    assert r.json()["total"] == 2
    r = await api.get("zhao", "/api/recordings", since="2024-11-23T10:00:01")
    assert r.json()["total"] == 0
    r = await api.get("zhao", "/api/recordings", limit=1, offset=1)
    assert r.json()["total"] == 2 and len(r.json()["items"]) == 1
    r = await api.get(
        "zhao", "/api/recordings", since="2024-11-24T00:00:00", until="2024-11-23T00:00:00"
    )
    assert r.status_code == 422 and "must be before" in r.json()["message"]
    assert (await api.get("", "/api/recordings")).status_code == 401


async def test_range_requests_seek_like_a_browser_player(api: Api) -> None:
    rid = await api.recording("1.1")
    size = len(api.opus)

    r = await api.get("wang", audio(rid))
    assert r.status_code == 200 and r.content == api.opus
    assert r.headers["content-type"] == "audio/ogg"
    assert r.headers["accept-ranges"] == "bytes"
    assert r.headers["content-length"] == str(size)
    assert "private" in r.headers["cache-control"]

    r = await api.get("wang", audio(rid), headers={"Range": "bytes=0-99"})
    assert r.status_code == 206 and len(r.content) == 100 and r.content == api.opus[:100]
    assert r.headers["content-range"] == f"bytes 0-99/{size}"
    assert r.headers["content-length"] == "100"

    r = await api.get("wang", audio(rid), headers={"Range": "bytes=100-"})
    assert r.status_code == 206 and r.content == api.opus[100:]
    assert r.headers["content-range"] == f"bytes 100-{size - 1}/{size}"

    r = await api.get("wang", audio(rid), headers={"Range": "bytes=-50"})
    assert r.status_code == 206 and r.content == api.opus[-50:]
    assert r.headers["content-range"] == f"bytes {size - 50}-{size - 1}/{size}"

    r = await api.get("wang", audio(rid), headers={"Range": f"bytes={size}-"})
    assert r.status_code == 416 and r.headers["content-range"] == f"bytes */{size}"

    r = await api.get("wang", audio(rid), headers={"Range": "bytes=0-9,20-29"})
    assert r.status_code == 206 and r.headers["content-type"].startswith("multipart/byteranges")

    r = await api.head("wang", audio(rid))
    assert r.status_code == 200 and r.headers["content-length"] == str(size) and r.content == b""

    # one audit entry per request that sent audio: not for the 416, not for HEAD
    r = await api.get("admin", "/api/audit", recording_id=rid)
    entries = r.json()["items"]
    assert [e["action"] for e in entries] == ["play"] * 5
    assert {e["actor"] for e in entries} == {"wang"} and {e["remote"] for e in entries} == {
        "127.0.0.1"
    }
    details = [e["detail"] for e in reversed(entries)]
    assert details[0] == "format=ogg; range=whole file"
    assert details[1] == f"format=ogg; range=bytes 0-99/{size}"
    assert details[4] == "format=ogg; range=bytes=0-9,20-29 (multipart)"

    # the records officer pages the audit log by cursor: each entry once, newest first
    walked, cursor = [], None
    while True:
        page = (
            await api.get(
                "admin",
                "/api/audit",
                recording_id=rid,
                limit=2,
                **({"cursor": cursor} if cursor else {}),
            )
        ).json()
        walked += [e["id"] for e in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert walked == [e["id"] for e in entries]


async def test_no_audio_leaves_without_its_audit_entry(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    rid = await api.recording("1.1")

    async def broken(**_: Any) -> None:
        raise ConnectionError("database gone")

    monkeypatch.setattr(api.store, "audit", broken)
    with pytest.raises(ConnectionError):
        await api.get("zhao", audio(rid))


async def test_wav_on_request_is_decoded_once_and_seekable(api: Api) -> None:
    rid = await api.recording("1.1")
    r = await api.get("zhao", audio(rid), format="wav")
    assert r.status_code == 200 and r.headers["content-type"] == "audio/wav"
    assert r.content[:4] == b"RIFF" and r.content[8:12] == b"WAVE"
    assert len(r.content) > 3 * 8000 * 2 * 2  # 3 s, 8 kHz, 16 bit, two channels
    (cached,) = (api.root / ".cache" / "wav").iterdir()
    made = cached.stat().st_mtime_ns
    r = await api.get("zhao", audio(rid), headers={"Range": "bytes=0-11"}, format="wav")
    assert r.status_code == 206 and r.content[:4] == b"RIFF"
    assert r.headers["content-range"].endswith(f"/{cached.stat().st_size}")
    assert cached.stat().st_mtime_ns == made  # reused, not converted again
    r = await api.get("admin", "/api/audit", recording_id=rid)
    assert [e["detail"].split(";")[0] for e in r.json()["items"]] == ["format=wav"] * 2
    assert (await api.get("zhao", audio(rid), format="mp4")).status_code == 422


async def test_a_download_has_a_chinese_safe_file_name_and_is_audited(api: Api) -> None:
    rid = await api.recording("1.1")
    r = await api.get("chen", audio(rid), download=1)
    assert r.status_code == 200 and r.content == api.opus
    disposition = r.headers["content-disposition"]
    stem = f"20241123-100000-13800138000-{rid}.ogg"
    assert disposition.startswith(f'attachment; filename="recording-{stem}"; ')
    assert disposition.endswith(f"filename*=UTF-8''%E9%80%9A%E8%AF%9D%E5%BD%95%E9%9F%B3-{stem}")
    (entry,) = (await api.get("admin", "/api/audit", action="download")).json()["items"]
    assert entry["actor"] == "chen" and entry["recording_id"] == rid


async def test_the_audit_log_is_for_admins_only(api: Api) -> None:
    rid = await api.recording("1.1")
    await api.get("wang", audio(rid))
    for who in ("wang", "zhao", "chen"):
        r = await api.get(who, "/api/audit")
        assert r.status_code == 403 and "admin" in r.json()["message"]
    r = await api.get("admin", "/api/audit", actor="wang", action="play")
    assert len(r.json()["items"]) == 1
    r = await api.get("admin", "/api/audit", actor="zhao")
    assert r.json()["items"] == []
    r = await api.get("admin", "/api/audit", since="2999-01-01T00:00:00")
    assert r.json()["items"] == []


async def test_an_agent_cannot_hear_a_colleagues_call(api: Api) -> None:
    rid = await api.recording("1.2", agent="PJSIP/1002")
    r = await api.get("wang", audio(rid))
    assert r.status_code == 404
    assert (await api.get("li", audio(rid))).status_code == 200
    r = await api.get("admin", "/api/audit", recording_id=rid)
    assert [e["actor"] for e in r.json()["items"]] == ["li"]


async def test_an_agent_known_by_interface_hears_the_call_they_answered(api: Api) -> None:
    # the archiver names the agent by member name; wang is configured by interface
    rid = await api.recording("1.3", agent="8001号客服")
    await api.container.calls.save(
        [answered_call("1.3", agent="PJSIP/1001", agent_member="8001号客服")]
    )
    assert (await api.get("wang", audio(rid))).status_code == 200
    r = await api.get("wang", "/api/recordings")
    assert [i["call_id"] for i in r.json()["items"]] == ["1.3"]
    assert (await api.get("li", audio(rid))).status_code == 404


@pytest.mark.parametrize("path", ["../../../etc/passwd", "/etc/passwd", "2024/../../outside.ogg"])
async def test_a_row_whose_path_leaves_the_archive_is_refused(api: Api, path: str) -> None:
    (api.root.parent / "outside.ogg").write_bytes(b"secret")
    rid = await api.recording("1.1", path=path)
    r = await api.get("zhao", audio(rid))
    assert r.status_code == 409 and r.json()["error"] == "archive_path_refused"
    assert "归档目录" in r.json()["message"]
    assert (await api.get("admin", "/api/audit")).json()["items"] == []


async def test_a_symlink_out_of_the_archive_is_refused(api: Api) -> None:
    (api.root.parent / "outside.ogg").write_bytes(b"secret")
    rid = await api.recording("1.1", path="2024/11/23/link.ogg")
    (api.root / "2024/11/23").mkdir(parents=True)
    (api.root / "2024/11/23/link.ogg").symlink_to(api.root.parent / "outside.ogg")
    r = await api.get("zhao", audio(rid))
    assert r.status_code == 409 and r.json()["error"] == "archive_path_refused"


async def test_audio_not_yet_archived_says_why(api: Api) -> None:
    pending = await api.recording("1.1", status=Status.PENDING)
    failed = await api.recording("1.2", status=Status.FAILED, reason="录音文件为空 (empty file)")
    r = await api.get("zhao", audio(pending))
    assert r.status_code == 409 and r.json()["error"] == "recording_pending"
    assert r.json()["message"].startswith("录音尚未归档")
    r = await api.get("zhao", audio(failed))
    assert r.status_code == 409 and "录音文件为空 (empty file)" in r.json()["message"]
    gone = await api.recording("1.3")
    (api.root / f"{STARTED:%Y/%m/%d}/1.3-0123abcd.ogg").unlink()
    r = await api.get("zhao", audio(gone))
    assert r.status_code == 503 and r.json()["error"] == "archive_file_missing"
    assert (await api.get("admin", "/api/audit")).json()["items"] == []
    assert (await api.get("zhao", audio(999))).status_code == 404


async def test_admins_hold_mark_and_purge_others_may_not(api: Api) -> None:
    held = await api.recording("1.1")
    old = await api.recording("1.2")
    new = await api.recording("1.3", started=datetime.now(UTC) - timedelta(days=1))

    body = {"hold": True, "reason": "（2025）京0105民初123号"}
    for who in ("wang", "zhao", "chen"):
        assert (await api.put(who, f"/api/recordings/{held}/hold", body)).status_code == 403
    r = await api.put("admin", f"/api/recordings/{held}/hold", {"hold": True})
    assert r.status_code == 422 and "reason" in r.json()["message"]
    r = await api.put("admin", f"/api/recordings/{held}/hold", body)
    assert r.status_code == 200 and r.json()["legal_hold"] is True
    assert r.json()["hold_reason"] == body["reason"]

    assert (
        await api.put("chen", f"/api/recordings/{new}/important", {"important": True})
    ).status_code == 403
    r = await api.put("admin", f"/api/recordings/{new}/important", {"important": True})
    assert r.status_code == 200 and r.json()["important"] is True
    assert datetime.fromisoformat(r.json()["retain_until"]) > datetime.now(UTC) + timedelta(
        days=3600
    )
    r = await api.put("admin", f"/api/recordings/{new}/retention", {"until": "2030-01-01T08:00:00"})
    assert r.status_code == 200
    assert datetime.fromisoformat(r.json()["retain_until"]) == datetime(
        2030, 1, 1, 0, 0, tzinfo=UTC
    )
    r = await api.put("admin", "/api/recordings/999/retention", {"until": "2030-01-01T08:00:00"})
    assert r.status_code == 404

    assert (await api.post("chen", "/api/recordings/purge")).status_code == 403
    r = await api.post("admin", "/api/recordings/purge")  # a dry run unless asked
    assert r.status_code == 200 and r.json()["dry_run"] is True
    assert [i["recording_id"] for i in r.json()["items"]] == [old]
    assert "超过保存期限" in r.json()["items"][0]["why"]
    assert (await api.get("zhao", audio(old))).status_code == 200

    r = await api.post("admin", "/api/recordings/purge", dry_run="false")
    assert r.json()["dry_run"] is False and r.json()["count"] == 1
    r = await api.get("zhao", audio(old))
    assert r.status_code == 409 and r.json()["error"] == "recording_purged"
    assert (await api.get("zhao", audio(held))).status_code == 200
    r = await api.get("zhao", f"/api/recordings/{old}")
    assert r.json()["status"] == "purged"
    (entry,) = (await api.get("admin", "/api/audit", action="purge")).json()["items"]
    assert entry["actor"] == "admin" and entry["recording_id"] == old
    actions = {e["action"] for e in (await api.get("admin", "/api/audit")).json()["items"]}
    assert {"hold", "important", "retention", "purge", "play"} <= actions


async def test_a_supervisor_retries_a_failed_recording(api: Api) -> None:
    failed = await api.recording("1.1", status=Status.FAILED, reason="解码失败")
    archived = await api.recording("1.2")
    for who in ("wang", "zhao"):
        assert (await api.post(who, f"/api/recordings/{failed}/retry")).status_code == 403
    r = await api.post("chen", f"/api/recordings/{failed}/retry")
    assert r.status_code == 200
    assert (
        r.json()["status"] == "pending" and r.json()["attempts"] == 0 and r.json()["reason"] is None
    )
    r = await api.post("chen", f"/api/recordings/{archived}/retry")
    assert r.status_code == 409 and r.json()["error"] == "not_failed"


def test_the_cli_purges_with_and_without_dry_run(tmp_path: Path, opus: bytes) -> None:
    settings = Settings(data_dir=tmp_path)

    async def setup() -> None:
        container = app_module.build(settings)
        await app_module.start(container)
        try:
            api = Api(None, container, {}, opus)  # type: ignore[arg-type]
            await api.recording("1.1")
            held = await api.recording("1.2")
            await container.recordings.update(held, legal_hold=True, hold_reason="诉讼")
        finally:
            await app_module.stop(container)

    asyncio.run(setup())
    file = settings.archive_root / f"{STARTED:%Y/%m/%d}/1.1-0123abcd.ogg"
    runner = CliRunner()
    env = {"HOTLINE_DATA_DIR": str(tmp_path)}
    r = runner.invoke(cli, ["recordings", "purge", "--dry-run"], env=env)
    assert r.exit_code == 0, r.output
    assert "would delete" in r.output and "1.1-0123abcd.ogg" in r.output
    assert "超过保存期限 (retention ended 2025-11-23)" in r.output
    assert [line.split("\t")[1] for line in r.output.splitlines() if line[0] == "#"] == ["1.1"]
    assert file.is_file()
    r = runner.invoke(cli, ["recordings", "purge"], env=env)
    assert r.exit_code == 0, r.output
    assert "已删除 deleted" in r.output and "purged 1 recording(s)" in r.output
    assert not file.exists()
    r = runner.invoke(cli, ["recordings", "purge"], env=env)
    assert r.exit_code == 0 and "purged 0" in r.output
