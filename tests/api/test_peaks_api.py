"""GET /api/recordings/{id}/peaks: the same visibility as the recording, made lazily for a
recording archived before peaks existed, and a clear answer when there is no audio."""

from __future__ import annotations

from hotline.recording import peaks
from hotline.recording.store import Status
from tests.api.test_recordings_api import Api, api, opus  # noqa: F401 (fixtures)


def url(rid: int) -> str:
    return f"/api/recordings/{rid}/peaks"


async def test_peaks_of_a_two_channel_recording_made_on_first_request(api: Api) -> None:  # noqa: F811
    rid = await api.recording("1.1", agent="PJSIP/1001")
    rec = await api.store.get(rid)
    assert rec is not None and rec.path is not None
    beside = peaks.peaks_path(api.root / rec.path)
    assert not beside.exists()  # archived before peaks existed
    r = await api.get("wang", url(rid))
    assert r.status_code == 200 and r.headers["content-type"] == "application/json"
    body = r.json()
    assert body["duration"] == 3.0 or abs(body["duration"] - 3.0) < 0.1
    assert body["sample_rate"] == 8000 and len(body["channels"]) == 2
    assert len(body["channels"][0]) == 2 * 150  # 50 min/max pairs a second
    assert max(body["channels"][0]) > 0.5  # the sine wave
    assert beside.is_file()
    # not audio: nothing in the audit log
    assert not await api.store.audit_log(recording_id=rid)


async def test_an_agent_gets_only_their_own_and_no_audio_says_why(api: Api) -> None:  # noqa: F811
    theirs = await api.recording("1.2", agent="PJSIP/1002")
    assert (await api.get("wang", url(theirs))).status_code == 404
    assert (await api.get("zhao", url(theirs))).status_code == 200
    assert (await api.get("", url(theirs))).status_code == 401
    pending = await api.recording("1.3", status=Status.PENDING)
    r = await api.get("zhao", url(pending))
    assert r.status_code == 409 and r.json()["error"] == "recording_pending"
    failed = await api.recording("1.4", status=Status.FAILED, reason="文件不存在")
    r = await api.get("zhao", url(failed))
    assert r.status_code == 409 and "文件不存在" in r.json()["message"]
