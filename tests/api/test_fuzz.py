"""API fuzzing (issue 13): schemathesis generates requests from the app's own OpenAPI
schema for every operation, sent as nobody and as each role, with a fixed budget (a few
examples per operation and role, well under a minute in all). Not one may answer 500, and
every answer the schema documents must match it. The number of cases run is printed.

The live stream (GET /api/live/events, SSE) is left out: it never ends by design, and
tests/api/test_live_api.py reads it.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import hypothesis
import schemathesis
from hypothesis import HealthCheck, Phase
from schemathesis.python import asgi
from schemathesis.specs.openapi.checks import response_schema_conformance

from hotline.api import app as app_module
from hotline.api.users import UserStore
from hotline.core import db
from hotline.core.roles import Role
from hotline.core.settings import Settings
from hotline.telephony.store import CallStore
from tests.factories import abandoned_call, answered_call

EXAMPLES = 4  # per operation and role: the fixed budget
ROLES = ("", "agent", "inspector", "supervisor", "admin")
SKIP = {("GET", "/api/live/events")}


async def _seed(settings: Settings) -> dict[str, str]:
    """Users of every role, with tokens, and a few calls, before the app starts."""
    engine = db.make_engine(settings.db_url)
    await db.migrate(engine)
    users = UserStore(db.session_factory(engine))
    now = datetime.now(UTC)
    tokens = {}
    for role in (Role.AGENT, Role.INSPECTOR, Role.SUPERVISOR, Role.ADMIN):
        await users.add(role.value, role, "PJSIP/1001" if role is Role.AGENT else None, now)
        tokens[role.value] = await users.issue_token(role.value, now)
    calls = CallStore(db.session_factory(engine), {})
    await calls.save([answered_call("1.1"), abandoned_call("1.3")])
    await engine.dispose()
    return tokens


def _fuzz(
    op: Any,
    client: Any,
    headers: dict[str, str],
    who: str,
    cases: Counter[str],
    failures: list[str],
) -> Any:
    """One operation as one role: EXAMPLES generated cases, each sent and checked."""

    @hypothesis.settings(
        max_examples=EXAMPLES,
        deadline=None,
        database=None,
        derandomize=True,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @hypothesis.given(case=op.as_strategy())
    def run(case: Any) -> None:
        cases[who] += 1
        where = f"{who} {case.method} {case.formatted_path}"
        try:
            response = case.call(session=client, headers=headers)
        except Exception as exc:  # the app raised: a 500 under a real server
            failures.append(f"{where}: raised {exc!r}"[:500])
            return
        if response.status_code >= 500 and response.status_code != 503:
            failures.append(f"{where}: {response.status_code} {response.text[:300]}")
            return
        try:  # 503 is a deliberate "the switch is not configured here", not a crash
            case.validate_response(response, checks=[response_schema_conformance])
        except (Exception, BaseExceptionGroup) as exc:  # collected, all reported at the end
            failures.append(f"{where}: {response.status_code} {str(exc)[:400]}")

    return run


def test_the_api_never_answers_500_nor_breaks_its_schema(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path)
    tokens = asyncio.run(_seed(settings))
    container = app_module.build(settings)
    app = app_module.create_app(container=container)
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    started = time.monotonic()
    cases: Counter[str] = Counter()
    failures: list[str] = []
    try:
        client = asgi.get_client(app)
        for result in schema.get_all_operations():
            op = result.ok()
            if (op.method.upper(), op.path) in SKIP:
                continue
            for who in ROLES:
                headers = {"Authorization": f"Bearer {tokens[who]}"} if who else {}

                _fuzz(op, client, headers, who or "anonymous", cases, failures)()
    finally:
        asgi.shutdown_lifespans()
    elapsed = time.monotonic() - started
    total = sum(cases.values())
    print(f"\nschemathesis: {total} cases in {elapsed:.1f} s, by role {dict(cases)}")
    assert not failures, "\n".join(failures[:30])
    assert total >= 5 * 60  # every operation was exercised as every role
