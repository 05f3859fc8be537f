"""Personal data by role (issue 13): agents and inspectors get caller numbers, 户号 and
addresses masked in the API's answers, supervisors and admins whole (the default of
security.whole_pii_roles); exports follow the same setting; MQTT payloads are masked."""

from __future__ import annotations

import io
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import openpyxl
import pytest

from hotline.api import app as app_module
from hotline.core import pii
from hotline.core.bus import Message
from hotline.core.roles import Role
from hotline.core.settings import SecuritySettings, Settings
from tests.api.test_api import Api, api
from tests.api.test_tickets_api import drafted

__all__ = ["api"]


async def test_agents_and_inspectors_see_numbers_masked_supervisors_whole(api: Api) -> None:
    r = await api.get("wang", "/api/calls/1.1")
    assert r.status_code == 200 and r.json()["caller_number"] == "138****8000"
    r = await api.get("zhao", "/api/calls", number="13700137000")
    assert [c["caller_number"] for c in r.json()["items"]] == ["137****7000"]
    r = await api.get("chen", "/api/calls/1.1")
    assert r.json()["caller_number"] == "13800138000"
    assert r.headers["content-length"] == str(len(r.content))


async def test_a_ticket_shows_its_fields_masked_to_its_agent(api: Api) -> None:
    tid = await drafted(api)  # type: ignore[arg-type]
    t = await api.get("wang", f"/api/tickets/{tid}")
    whole = await api.get("chen", f"/api/tickets/{tid}")
    addresses = [f["value"] for f in t.json()["fields"] if f["kind"] == "address"]
    whole_addresses = [f["value"] for f in whole.json()["fields"] if f["kind"] == "address"]
    assert addresses and all(a.endswith("****") for a in addresses)
    assert whole_addresses and not any("****" in a for a in whole_addresses)
    assert t.json()["caller_number"] == "138****8000"
    assert whole.json()["caller_number"] == "13800138000"


@pytest.fixture
async def strict(tmp_path: Path) -> AsyncIterator[Api]:
    """An install where only admins see personal data whole."""
    settings = Settings(data_dir=tmp_path, security=SecuritySettings(whole_pii_roles=("admin",)))
    container = app_module.build(settings)
    app = app_module.create_app(container=container)
    await app_module.start(container)
    now = datetime.now(UTC)
    tokens = {}
    for name, role, agent in [("wang", Role.AGENT, "PJSIP/1001"), ("boss", Role.SUPERVISOR, None)]:
        await container.users.add(name, role, agent, now)
        tokens[name] = await container.users.issue_token(name, now)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://hotline"
    ) as client:
        yield Api(client, container, tokens)
    await app_module.stop(container)


async def test_the_setting_masks_the_slip_and_the_report_for_supervisors_too(strict: Api) -> None:
    tid = await drafted(strict)  # type: ignore[arg-type]
    await strict.container.tickets.act(tid, "confirm", actor="wang", role=Role.AGENT)
    await strict.container.tickets.act(
        tid, "dispatch", actor="boss", role=Role.SUPERVISOR, data={"unit": "抢修中心"}
    )
    r = await strict.get("boss", f"/api/tickets/{tid}/transfer-slip", format="xlsx")
    assert r.status_code == 200
    cells = [
        str(c.value)
        for row in openpyxl.load_workbook(io.BytesIO(r.content)).active.iter_rows()
        for c in row
        if c.value
    ]
    assert not [c for c in cells if "13800138000" in c]
    assert any("138****8000" in c for c in cells)
    r = await strict.get("boss", f"/api/tickets/{tid}")
    assert r.json()["caller_number"] == "138****8000"


class Broker:
    """Stands in for the MQTT publisher: keeps what it is handed."""

    def __init__(self) -> None:
        self.sent: list[Message] = []

    async def handle(self, message: Message) -> None:
        self.sent.append(message)


async def test_mqtt_payloads_leave_masked_unless_the_setting_says_whole() -> None:
    broker = Broker()
    event = Message("call/ended", {"call_id": "1.1", "caller_number": "13800138000"})
    await app_module.masked_for_mqtt(broker, ("supervisor", "admin"))(event)  # type: ignore[arg-type]
    assert broker.sent[-1].payload == {"call_id": "1.1", "caller_number": "138****8000"}
    assert event.payload["caller_number"] == "13800138000"  # the bus's own copy untouched
    whole = app_module.masked_for_mqtt(broker, ("mqtt",))  # type: ignore[arg-type]
    assert whole == broker.handle


async def test_sending_back_what_was_shown_masked_keeps_the_real_data(api: Api) -> None:
    tid = await drafted(api)  # type: ignore[arg-type]
    url = f"/api/tickets/{tid}"
    wang = {"Authorization": f"Bearer {api.tokens['wang']}"}
    shown = (await api.client.get(url, headers=wang)).json()
    before = (await api.get("chen", url)).json()
    body = {"fields": shown["fields"], "summary": shown["summary"], "topic": "燃气泄漏"}
    r = await api.client.patch(url, json=body, headers=wang)
    assert r.status_code == 200, r.text
    after = (await api.get("chen", url)).json()
    assert [f["value"] for f in after["fields"]] == [f["value"] for f in before["fields"]]
    assert after["summary"] == before["summary"] and after["topic"] == "燃气泄漏"
    assert pii.unmask("139****9000", ["13900139000"], pii.mask_phone) == "13900139000"
    assert pii.unmask("13700137000", ["13900139000"], pii.mask_phone) == "13700137000"
