"""Two `hotline serve` processes on one PostgreSQL and one real Asterisk 22: callers give up
in the queue, the leader (an advisory lock) calls each of them back, and the second
instance, started while those callbacks are still ringing, dials none of them again.

Counted on the switch's side (its own AMI events): one originated callback leg per
abandoned caller, each reaching the callback context once; the database agrees (one done
callback with one attempt per call).
"""

from __future__ import annotations

import asyncio
import json
import re
import subprocess
import time
from collections import Counter
from pathlib import Path

import pytest
from sqlalchemy import text

from hotline.core import db
from tests import instances
from tests.instances import Instance
from tests.switch.asterisk import Asterisk, free_port
from tests.switch.scenarios import Scenario, connect_manager, originate, quiet_switch

CALLERS = ("13900000001", "13900000002", "13900000003")
# the customer's phone for the callbacks rings 15 s before answering (tests/switch/asterisk.py)
CALLBACK_LEG = re.compile(r"^Local/(\d+)@sim-pstn-late-\w+;1$")


def serve(tmp: Path, name: str, db_url: str, asterisk: Asterisk) -> Instance:
    """One `hotline serve` process of its own (port, data dir, log) on the shared database
    and switch; callbacks as soon as a caller has given up, no quiet hours."""
    return instances.serve(
        tmp,
        name,
        free_port(),
        {
            "HOTLINE_DATABASE_URL": db_url,
            "HOTLINE_AMI__HOST": "127.0.0.1",
            "HOTLINE_AMI__PORT": str(asterisk.ami_port),
            "HOTLINE_AMI__USERNAME": asterisk.ami_username,
            "HOTLINE_AMI__SECRET": asterisk.ami_secret,
            "HOTLINE_AMI__PING_INTERVAL_S": "1",
            "HOTLINE_AMI__PING_TIMEOUT_S": "2",
            "HOTLINE_CALLBACK__DELAY_S": "0",
            "HOTLINE_CALLBACK__MIN_ABANDON_WAIT_S": "3",
            "HOTLINE_CALLBACK__RETRY_INTERVAL_MIN": "0.01",  # a failed try is re-dialled at once
            "HOTLINE_CALLBACK__QUIET_START": "00:00",
            "HOTLINE_CALLBACK__QUIET_END": "00:00",
            "HOTLINE_CALLBACK__CHANNEL_TEMPLATE": "Local/{number}@sim-pstn-late",
            "HOTLINE_CALLBACK__ORIGINATE_TIMEOUT_S": "40",
            "HOTLINE_RECORDING__PATH_MAP": json.dumps(
                {f"{asterisk.inner_dir}/spool": str(asterisk.spool_dir)}
            ),
        },
    )


async def up(instance: Instance) -> dict[str, object]:
    """Wait until the instance answers and is logged in to the switch."""
    async with asyncio.timeout(40):
        while True:
            state = await instances.health(instance[1])
            if state is not None and state["ami"] == "connected":
                return state
            assert instance[0].poll() is None, "the instance did not start (see its log)"
            await asyncio.sleep(0.3)


def abandoning(number: str) -> Scenario:
    """A customer who waits 5 s in the queue (nobody answers in 20 s) and hangs up."""
    return Scenario(
        f"abandon-{number}", number, "客户", ("HOTLINE_QUEUE=hotline-slow", "SIM_HANGUP_AFTER=5")
    )


@pytest.mark.postgres
async def test_two_instances_on_one_database_and_one_switch_call_each_caller_back_once(
    asterisk: Asterisk, tmp_path: Path, pg_url: str
) -> None:
    started = time.monotonic()
    await quiet_switch(asterisk)
    engine = db.make_engine(pg_url)
    await db.migrate(engine)
    seen: list[dict[str, str]] = []  # every AMI event of the test's own login
    pstn = await connect_manager(asterisk, seen)
    procs: list[Instance] = []

    def dialled() -> Counter[str]:
        """Callback legs the switch created (the Originate'd ;1 half), by number."""
        return Counter(
            m.group(1)
            for e in seen
            if e.get("Event") == "Newchannel" and (m := CALLBACK_LEG.match(e.get("Channel", "")))
        )

    def reached() -> Counter[str]:
        """Callback legs that the customer answered, in [hotline-callback], by callback id."""
        return Counter(
            e.get("CallbackId", "")
            for e in seen
            if e.get("Event") == "UserEvent" and e.get("UserEvent") == "HotlineCallbackReached"
        )

    async def rows(sql: str) -> list[tuple[object, ...]]:
        async with engine.connect() as conn:
            return [tuple(r) for r in (await conn.execute(text(sql))).all()]

    try:
        procs.append(serve(tmp_path, "a", db_url=pg_url, asterisk=asterisk))
        leaders = [(await up(procs[0]))["leader"]]

        # three customers give up in the queue; A calls each back: their phones ring 15 s
        for number in CALLERS:
            response = await originate(pstn, abandoning(number).originate(f"two-{number}"))
            assert response.get("Response") == "Success", response
        async with asyncio.timeout(40):
            while len(dialled()) < len(CALLERS):
                await asyncio.sleep(0.2)

        # B starts while they ring: it does not lead, so its start-up recovery does not
        # take A's callbacks in flight for a crash's and dial them again
        procs.append(serve(tmp_path, "b", db_url=pg_url, asterisk=asterisk))
        leaders.append((await up(procs[1]))["leader"])
        assert not reached(), "B came up after the callbacks were answered: the ring is too short"

        # each customer answers and reaches the callback context; every callback is done
        async with asyncio.timeout(40):
            while len(reached()) < len(CALLERS) or (
                await rows("SELECT count(*) FROM callbacks WHERE status = 'done'")
            ) != [(len(CALLERS),)]:
                await asyncio.sleep(0.3)
        await asyncio.sleep(3)  # a poll or two more of both instances
        leaders += [(await instances.health(port) or {}).get("leader") for _, port in procs]
        callbacks = await rows(
            "SELECT c.id, c.number, c.status, count(a.id) FROM callbacks c"
            " LEFT JOIN callback_attempts a ON a.callback_id = c.id GROUP BY c.id ORDER BY c.number"
        )
    finally:
        for p, _ in procs:
            p.terminate()
        for p, _ in procs:
            try:
                p.wait(10)
            except subprocess.TimeoutExpired:
                p.kill()
        pstn.close()
        await engine.dispose()
        await quiet_switch(asterisk)  # the called-back customers still wait in the queue
    legs, answered = dialled(), reached()
    print(
        f"| two serve processes, one database, one Asterisk 22 | {len(CALLERS)} abandoned |"
        f" legs dialled {dict(legs)} | reached {dict(answered)} | callbacks {callbacks} |"
        f" leaders {leaders} | {time.monotonic() - started:.0f} s |"
    )
    assert legs == Counter({n: 1 for n in CALLERS})  # the switch rang each customer once
    assert answered == Counter({str(cb[0]): 1 for cb in callbacks})
    assert [(cb[1], cb[2], cb[3]) for cb in callbacks] == [(n, "done", 1) for n in CALLERS]
    assert leaders == [True, False, True, False]  # A leads throughout, B never
