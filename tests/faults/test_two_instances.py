"""Two `hotline serve` processes on one PostgreSQL and one switch (a small AMI server in
the test): one leads (an advisory lock), and each callback is dialled once, not twice."""

from __future__ import annotations

import asyncio
import re
import subprocess
from collections import Counter
from datetime import UTC, datetime, time, timedelta
from pathlib import Path

import pytest

from hotline.api import app as app_module
from hotline.core import db
from hotline.core.settings import CallbackSettings, Settings
from tests import instances
from tests.factories import abandoned_call
from tests.faults.proxy import free_port
from tests.instances import Instance
from tests.telephony.fake_ami import FakeAmi


def serve(tmp: Path, name: str, db_url: str, switch: FakeAmi) -> Instance:
    return instances.serve(
        tmp,
        name,
        free_port(),
        {
            "HOTLINE_DATABASE_URL": db_url,
            "HOTLINE_AMI__HOST": "127.0.0.1",
            "HOTLINE_AMI__PORT": str(switch.port),
            "HOTLINE_AMI__USERNAME": switch.username,
            "HOTLINE_AMI__SECRET": switch.secret,
            "HOTLINE_CALLBACK__DELAY_S": "0",
            "HOTLINE_CALLBACK__RETRY_INTERVAL_MIN": "0.01",  # a failed try is re-dialled at once
            "HOTLINE_CALLBACK__QUIET_START": "00:00",
            "HOTLINE_CALLBACK__QUIET_END": "00:00",
        },
    )


@pytest.mark.postgres
async def test_two_instances_on_one_database_dial_each_callback_once(
    tmp_path: Path, pg_url: str
) -> None:
    switch = FakeAmi(originate_outcome="hold")  # customers ringing: no answer yet
    await switch.start()
    engine = db.make_engine(pg_url)
    await db.migrate(engine)
    await engine.dispose()
    procs: list[Instance] = []

    async def up(instance: Instance) -> dict[str, object]:
        async with asyncio.timeout(40):
            while True:
                state = await instances.health(instance[1])
                if state is not None and state["ami"] == "connected":
                    return state
                assert instance[0].poll() is None, "the instance did not start"
                await asyncio.sleep(0.3)

    try:
        procs.append(serve(tmp_path, "a", pg_url, switch))
        assert (await up(procs[0]))["leader"] is True

        # six abandoned calls are scheduled for a callback, due now; A dials them
        no_quiet = CallbackSettings(delay_s=0, quiet_start=time(0), quiet_end=time(0))
        c = app_module.build(
            Settings(data_dir=tmp_path / "c", database_url=pg_url, callback=no_quiet)
        )
        ended = datetime.now(UTC) - timedelta(minutes=1)
        for n in range(6):
            call = abandoned_call(f"twice-{n}", at=ended, caller_number=f"1380013800{n}")
            assert await c.callbacks.on_call_ended(call) is not None
        await c.engine.dispose()
        async with asyncio.timeout(30):
            while switch.count("Originate") < 6:
                await asyncio.sleep(0.2)

        # B starts while A's six callbacks are in flight (customers ringing): it does not
        # lead, so its start-up recovery does not take them for a crash's and re-dial them
        procs.append(serve(tmp_path, "b", pg_url, switch))
        assert (await up(procs[1]))["leader"] is False
        await asyncio.sleep(5)  # a few polls of both instances
        assert (await instances.health(procs[0][1]) or {})["leader"] is True
    finally:
        for p, _ in procs:
            p.terminate()
        for p, _ in procs:
            try:
                p.wait(10)
            except subprocess.TimeoutExpired:
                p.kill()
        await switch.close()
    dialled = Counter(
        m.group(1)
        for a in switch.actions
        if a.get("Action") == "Originate"
        and (m := re.match(r"hotline-cb-(\d+)-", a.get("ActionID") or ""))
    )
    print(
        f"| two serve processes, one database, one switch | 6 callbacks | dialled {dict(dialled)} |"
    )
    assert len(dialled) == 6 and set(dialled.values()) == {1}
