"""A running Hotline for browser tests: real data put in through the stores, then the real
app served by uvicorn on a free port in a background thread.

Also used by `python -m tests.web.screenshots` to draw the README's screenshots.
"""

from __future__ import annotations

import asyncio
import socket
import subprocess
import threading
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import uvicorn

from hotline.api import app as app_module
from hotline.api.users import Role, UserStore
from hotline.asr.store import TranscriptStore
from hotline.core import db
from hotline.core.settings import SecuritySettings, Settings
from hotline.recording.policy import RetentionPolicy
from hotline.recording.store import RecordingStore, Status
from hotline.telephony.store import CallStore
from tests.asr.test_store import GAS
from tests.factories import abandoned_call, answered_call

PASSWORD = "correct-horse-9"
STARTED = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=1)
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--autoplay-policy=no-user-gesture-required",
    "--mute-audio",
]

# name, role, agent, what they are in the journeys
USERS = [
    ("wang", Role.AGENT, "PJSIP/1001"),
    ("li", Role.AGENT, "PJSIP/1002"),
    ("zhao", Role.INSPECTOR, None),
    ("chen", Role.SUPERVISOR, None),
    ("liu", Role.ADMIN, None),  # records staff
]


@dataclass
class World:
    data_dir: Path
    base_url: str = ""
    recordings: dict[str, int] = field(default_factory=dict)
    _server: uvicorn.Server | None = None
    _thread: threading.Thread | None = None
    _loop: asyncio.AbstractEventLoop | None = None
    app: Any = None

    @property
    def db_url(self) -> str:
        return f"sqlite+aiosqlite:///{self.data_dir / 'hotline.db'}"

    def settings(self) -> Settings:
        # a fixed 抽查 key, so the sampled calls the pages show are the same every run
        return Settings(
            data_dir=self.data_dir,
            database_url=self.db_url,
            security=SecuritySettings(sample_key="hotline"),
        )

    def run(self, work: object) -> object:
        """Run `work(sessions)` against the database from the test's thread."""

        async def go() -> object:
            engine = db.make_engine(self.db_url)
            try:
                return await work(db.session_factory(engine))  # type: ignore[operator]
            finally:
                await engine.dispose()

        # in a thread of its own: Playwright's sync API keeps a loop running in this one
        out: list[object] = []
        errors: list[BaseException] = []

        def target() -> None:
            try:
                out.append(asyncio.run(go()))
            except BaseException as exc:
                errors.append(exc)

        thread = threading.Thread(target=target)
        thread.start()
        thread.join()
        if errors:
            raise errors[0]
        return out[0]

    def seed(self) -> None:
        audio = _call_audio(self.data_dir / "src")
        settings = self.settings()

        async def work(sessions: object) -> None:
            engine = db.make_engine(self.db_url)
            await db.migrate(engine)
            await engine.dispose()
            s = sessions
            users = UserStore(s)  # type: ignore[arg-type]
            now = datetime.now(UTC)
            for name, role, agent in USERS:
                await users.add(name, role, agent, now)
                await users.set_password(name, PASSWORD)
            calls = CallStore(s)  # type: ignore[arg-type]
            await calls.save(
                [
                    answered_call("1.1", number="13800138000", agent="PJSIP/1001", at=STARTED),
                    answered_call(
                        "1.2",
                        number="13900139000",
                        agent="PJSIP/1002",
                        ring_s=22.0,
                        at=STARTED + timedelta(minutes=5),
                    ),
                    answered_call(
                        "1.3",
                        number="13700137000",
                        agent="PJSIP/1001",
                        at=STARTED + timedelta(minutes=10),
                    ),
                    abandoned_call("1.4", at=STARTED + timedelta(minutes=15)),
                ]
            )
            store = RecordingStore(s)  # type: ignore[arg-type]
            policy = RetentionPolicy()
            for call_id, number, agent in (
                ("1.1", "13800138000", "PJSIP/1001"),
                ("1.2", "13900139000", "PJSIP/1002"),
                ("1.3", "13700137000", "PJSIP/1001"),
            ):
                r = await store.add(
                    call_id=call_id,
                    sources={"mixed": f"/var/spool/asterisk/monitor/{call_id}.wav"},
                    started_at=STARTED,
                    caller_number=number,
                    agent=agent,
                    queue="hotline",
                    retain_until=policy.retain_until(STARTED, False),
                    now=STARTED,
                )
                assert r is not None
                self.recordings[call_id] = r.id
            for call_id in ("1.1", "1.2"):
                rid = self.recordings[call_id]
                rel = f"{STARTED:%Y/%m/%d}/{call_id}.ogg"
                dest = settings.archive_root / rel
                dest.parent.mkdir(parents=True, exist_ok=True)
                dest.write_bytes(audio.read_bytes())
                await store.update(
                    rid,
                    status=Status.ARCHIVED,
                    path=rel,
                    codec="opus",
                    sample_rate=8000,
                    channels=2,
                    duration_s=6.0,
                    size_bytes=dest.stat().st_size,
                    sha256=f"{rid:064x}",
                    archived_at=STARTED,
                )
            # 1.3 stays as the switch left it: failed, so its page says why
            await store.update(
                self.recordings["1.3"], status=Status.FAILED, reason="交换机录音文件不存在"
            )
            transcripts = TranscriptStore(s, "1")  # type: ignore[arg-type]
            await transcripts.save(self.recordings["1.1"], "1.1", GAS, STARTED)

        self.run(work)

    def start(self) -> None:
        app = self.app = app_module.create_app(self.settings())
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning")
        server = self._server = uvicorn.Server(config)

        async def serve() -> None:  # keeps the loop, for `on_server`
            self._loop = asyncio.get_running_loop()
            await server.serve()

        self._thread = threading.Thread(
            target=lambda: asyncio.run(serve()), name="hotline-web", daemon=True
        )
        self._thread.start()
        deadline = time.monotonic() + 30
        while not self._server.started:
            if time.monotonic() > deadline or not self._thread.is_alive():
                raise RuntimeError("the Hotline server did not start within 30 s")
            time.sleep(0.05)
        self.base_url = f"http://127.0.0.1:{port}"

    def on_server(self, work: Callable[[Any], Awaitable[object]]) -> object:
        """Run `work(app)` on the running server's own event loop (its bus, its live
        service) and wait for it, as the switch's events would arrive there."""
        assert self._loop is not None, "start() the world first"
        return asyncio.run_coroutine_threadsafe(work(self.app), self._loop).result(15)

    def stop(self) -> None:
        if self._server is not None and self._thread is not None:
            self._server.should_exit = True
            self._thread.join(timeout=30)

    def expire_sessions(self, name: str) -> None:
        """Make every browser session of `name` idle for longer than the limit."""
        from sqlalchemy import select, update

        from hotline.api.sessions import WebSessionRow
        from hotline.api.users import UserRow

        async def work(sessions: object) -> None:
            async with sessions() as s, s.begin():  # type: ignore[operator]
                uid = (await s.execute(select(UserRow.id).where(UserRow.name == name))).scalar_one()
                await s.execute(
                    update(WebSessionRow)
                    .where(WebSessionRow.user_id == uid)
                    .values(last_seen=datetime.now(UTC) - timedelta(days=1))
                )

        self.run(work)


def _call_audio(work: Path) -> Path:
    """Six seconds of a two-channel 8 kHz call in Ogg Opus, as the archiver stores it."""
    work.mkdir(parents=True, exist_ok=True)
    wav, ogg = work / "call.wav", work / "call.ogg"
    subprocess.run(
        [
            "sox",
            "-n",
            "-r",
            "8000",
            "-c",
            "2",
            str(wav),
            "synth",
            "6",
            "sine",
            "440",
            "sine",
            "660",
        ],
        check=True,
    )
    subprocess.run(
        ["ffmpeg", "-loglevel", "error", "-y", "-i", str(wav), "-c:a", "libopus", str(ogg)],
        check=True,
    )
    return ogg
