"""The agent's open workspace pops the caller when a real Asterisk call is connected to
them, and shows the draft once the call has ended: the whole service (AMI client, call
tracker, live state, ticket drafting) behind a real Chromium.

The agent is the queue member `agent-fast` of the test switch's `hotline-fast` queue (see
tests/switch/asterisk.py); the customer call is an Originate into the deploy dialplan.
"""

from __future__ import annotations

import asyncio
import re
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime

import pytest
from playwright.sync_api import Page, expect

from hotline.api.users import Role, UserStore
from hotline.core.settings import AmiSettings, CallbackSettings, RecordingSettings, Settings
from tests.switch.asterisk import Asterisk
from tests.switch.scenarios import Scenario, connect_manager, originate, quiet_switch
from tests.web.conftest import browser, open_signed_in, page  # noqa: F401  (fixtures)
from tests.web.world import PASSWORD, World

AGENT = "agent-fast"  # the member name of hotline-fast's member, answers after 3 s
POP = Scenario("pop", "13800000011", "郑十一", ("HOTLINE_QUEUE=hotline-fast", "__SIM_AGENT_TALK=6"))


@dataclass
class SwitchWorld(World):
    """The browser tests' running Hotline, following the test switch over AMI."""

    asterisk: Asterisk | None = None

    def settings(self) -> Settings:
        assert self.asterisk is not None
        a = self.asterisk
        return Settings(
            data_dir=self.data_dir,
            database_url=self.db_url,
            ami=AmiSettings(
                host="127.0.0.1",
                port=a.ami_port,
                username=a.ami_username,
                secret=a.ami_secret,
                ping_interval_s=1.0,
                ping_timeout_s=2.0,
                reconnect_min_s=0.2,
                reconnect_max_s=1.0,
            ),
            callback=CallbackSettings(enabled=False),
            recording=RecordingSettings(path_map={f"{a.inner_dir}/spool": str(a.spool_dir)}),
        )

    def add_agent(self, name: str, agent: str) -> None:
        async def work(sessions: object) -> None:
            users = UserStore(sessions)  # type: ignore[arg-type]
            await users.add(name, Role.AGENT, agent, datetime.now(UTC))
            await users.set_password(name, PASSWORD)

        self.run(work)


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory, asterisk: Asterisk) -> Iterator[World]:
    in_thread(lambda: asyncio.run(quiet_switch(asterisk)))
    w = SwitchWorld(tmp_path_factory.mktemp("switch-web"), asterisk=asterisk)
    w.seed()
    w.add_agent("fast", AGENT)
    w.start()
    yield w
    w.stop()


def in_thread(work: Callable[[], object], timeout: float = 60) -> None:
    """Run `work` in a thread of its own: Playwright's sync API (the browser fixture, set up
    first) keeps an asyncio loop running in the test's thread, so asyncio.run fails here."""
    failed: list[BaseException] = []

    def target() -> None:
        try:
            work()
        except BaseException as exc:  # handed to the test's thread
            failed.append(exc)

    thread = threading.Thread(target=target)
    thread.start()
    thread.join(timeout)
    if failed:
        raise failed[0]


def place_call(asterisk: Asterisk, scenario: Scenario) -> dict[str, str]:
    """Originate the customer's call from a login of the test's own (in a thread: the
    browser's sync API keeps a loop running in this one)."""
    out: list[dict[str, str]] = []

    async def go() -> None:
        manager = await connect_manager(asterisk)
        try:
            out.append(
                await originate(manager, scenario.originate(f"test-pop-{uuid.uuid4().hex[:8]}"))
            )
        finally:
            manager.close()

    thread = threading.Thread(target=lambda: asyncio.run(go()))
    thread.start()
    thread.join(60)
    assert out and out[0].get("Response") == "Success", f"the switch refused the call: {out}"
    return out[0]


def test_the_agents_open_page_pops_a_real_call_and_then_its_draft(
    page: Page,  # noqa: F811
    world: World,
    asterisk: Asterisk,
) -> None:
    open_signed_in(page, "fast", "/workspace")
    expect(page.get_by_role("status").filter(has_text="已连接，等待来电")).to_be_visible()

    started = time.monotonic()
    place_call(asterisk, POP)
    pop = page.get_by_role("region", name="来电弹屏")
    # the member answers about 3 s after the call joins the queue; the pop follows at once
    expect(pop.get_by_role("heading", name=f"来电 {POP.number}")).to_be_visible(timeout=15_000)
    popped_after = time.monotonic() - started
    expect(pop.get_by_text(POP.caller_name)).to_be_visible()
    expect(pop.get_by_role("heading", name="历史来电（0 次）")).to_be_visible()
    assert popped_after < 10, f"the caller popped {popped_after:.1f} s after the Originate"

    # the call ends after 6 s of talk: the draft ticket appears in the pop by itself
    draft = pop.get_by_role("link", name=re.compile(r"^打开工单 #\d+$"))
    expect(draft).to_be_visible(timeout=30_000)
    draft.click()
    expect(page.get_by_role("heading", name="核对并修改工单")).to_be_visible()
