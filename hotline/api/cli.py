"""The `hotline` command. Rule: every failure prints what went wrong and what to do, no trace."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from pydantic import ValidationError

from hotline.api.users import UserStore
from hotline.core import db
from hotline.core.errors import HotlineError
from hotline.core.roles import Role
from hotline.core.settings import Settings
from hotline.recording import retention
from hotline.recording.importer import ImportReport
from hotline.recording.store import RecordingStore

app = typer.Typer(help="Hotline 客服热线 backend", no_args_is_help=True)
users_app = typer.Typer(help="users and their roles", no_args_is_help=True)
tokens_app = typer.Typer(help="bearer tokens for the HTTP API", no_args_is_help=True)
app.add_typer(users_app, name="users")
app.add_typer(tokens_app, name="tokens")
recordings_app = typer.Typer(help="the recording archive (录音档案)", no_args_is_help=True)
app.add_typer(recordings_app, name="recordings")

T = TypeVar("T")


def _settings() -> Settings:
    try:
        return Settings()
    except (ValidationError, FileNotFoundError, ValueError) as exc:
        typer.echo(f"error: the settings are not valid:\n{exc}", err=True)
        raise typer.Exit(2) from None


def _with_users(work: Callable[[UserStore], Awaitable[T]]) -> T:
    settings = _settings()

    async def run() -> T:
        engine = db.make_engine(settings.db_url)
        try:
            await db.migrate(engine)
            return await work(UserStore(db.session_factory(engine), settings.token_ttl))
        finally:
            await engine.dispose()

    try:
        return asyncio.run(run())
    except HotlineError as exc:
        typer.echo(f"error: {exc.message}", err=True)
        raise typer.Exit(1) from None


async def _cli_audit(users: UserStore, action: str, detail: str) -> None:
    """A user, role or token change made here, in the audit log: actor `cli:<login>`."""
    import getpass

    from hotline.api.audit import Action, Auditor

    await Auditor(RecordingStore(users.sessions), "local")(
        f"cli:{getpass.getuser()}"[:64], Action(action), detail=detail
    )


def _with_recordings(work: Callable[[RecordingStore, Settings], Awaitable[T]]) -> T:
    """Run `work` with the recording store of the configured database (migrated first)."""
    settings = _settings()

    async def run() -> T:
        engine = db.make_engine(settings.db_url)
        try:
            await db.migrate(engine)
            return await work(RecordingStore(db.session_factory(engine)), settings)
        finally:
            await engine.dispose()

    try:
        return asyncio.run(run())
    except HotlineError as exc:
        typer.echo(f"error: {exc.message}", err=True)
        raise typer.Exit(1) from None


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="listen address (HOTLINE_HTTP_HOST)")] = None,
    port: Annotated[int | None, typer.Option(help="listen port (HOTLINE_HTTP_PORT)")] = None,
) -> None:
    """Start the service: HTTP API, AMI client, callbacks, MQTT."""
    import uvicorn

    from hotline.api.app import create_app

    settings = _settings()
    logging.basicConfig(
        level=settings.log_level.upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    logging.getLogger(__name__).info(
        "database: %s",
        settings.db_url.split("@")[-1] if "@" in settings.db_url else settings.db_url,
    )
    try:
        service = create_app(settings)
    except HotlineError as exc:  # e.g. the placeholder AMI secret
        typer.echo(f"error: {exc.message}", err=True)
        raise typer.Exit(1) from None
    uvicorn.run(
        service,
        host=host or settings.http_host,
        port=port or settings.http_port,
        log_level=settings.log_level.lower(),
    )


@app.command()
def migrate() -> None:
    """Bring the database schema up to date (serve does this on start too)."""
    settings = _settings()

    async def run() -> None:
        engine = db.make_engine(settings.db_url)
        try:
            await db.migrate(engine)
        finally:
            await engine.dispose()

    asyncio.run(run())
    typer.echo("database is up to date")


@app.command("partition")
def partition(
    ahead: Annotated[int, typer.Option(help="months to create ahead of this one")] = 3,
    retain_months: Annotated[
        int | None,
        typer.Option(help="drop whole months that ended more than this many months ago"),
    ] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="with --retain-months: list, drop nothing")
    ] = False,
) -> None:
    """PostgreSQL: partition the large tables by month (once), create the months ahead
    (idempotent: run it monthly), drop old months (never one still under a hold)."""
    from zoneinfo import ZoneInfo

    from hotline.api.partitioning import partition as run_partition

    settings = _settings()

    async def run() -> list[Any]:
        engine = db.make_engine(settings.db_url)
        try:
            await db.migrate(engine)
            return await run_partition(
                engine,
                ZoneInfo(settings.timezone),
                datetime.now(UTC),
                ahead=ahead,
                retain_months=retain_months,
                dry_run=dry_run,
            )
        finally:
            await engine.dispose()

    try:
        reports = asyncio.run(run())
    except HotlineError as exc:
        typer.echo(f"error: {exc.message}", err=True)
        raise typer.Exit(1) from None
    for r in reports:
        done = (
            "已分区 already partitioned"
            if r.converted_rows is None
            else (f"转换 converted {r.converted_rows} rows")
        )
        typer.echo(f"{r.table}: {done}; new partitions: {', '.join(r.created) or '-'}")
        for d in r.dropped:
            verb = "将删除 would drop" if dry_run else "已删除 dropped"
            why = f"保留 kept: {d.held} 行 rows, {r.held}" if d.held else verb
            typer.echo(f"  {d.partition}\t{d.rows} rows\t{why}")


@app.command("settings")
def show_settings() -> None:
    """Print the effective settings (secrets masked)."""
    from sqlalchemy.engine import make_url

    data = _settings().model_dump(mode="json")
    for section, key in (("ami", "secret"), ("mqtt", "password"), ("security", "sample_key")):
        if data[section].get(key):
            data[section][key] = "***"
    if data.get("database_url"):
        data["database_url"] = make_url(data["database_url"]).render_as_string(hide_password=True)
    typer.echo(json.dumps(data, ensure_ascii=False, indent=2))


def _read_password(from_stdin: bool) -> str:
    """A new password: the first line of stdin, or typed twice at a hidden prompt."""
    import sys

    if from_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = typer.prompt("新密码 new password", hide_input=True, confirmation_prompt=True)
    if not password:
        typer.echo("error: empty password: give one (at least 8 characters)", err=True)
        raise typer.Exit(2)
    return password


PasswordStdin = Annotated[
    bool, typer.Option("--password-stdin", help="read the password from the first line of stdin")
]


@users_app.command("add")
def users_add(
    name: str,
    role: Annotated[Role, typer.Option(help="unit, agent, inspector, supervisor or admin")],
    agent: Annotated[
        str | None,
        typer.Option(help="for agents: the queue member name or interface, e.g. PJSIP/1001"),
    ] = None,
    phone: Annotated[
        str | None,
        typer.Option(
            help="the user's own phone, where listen/whisper/barge calls ring (PJSIP/9001)"
        ),
    ] = None,
    password_stdin: PasswordStdin = False,
    unit: Annotated[
        list[str] | None,
        typer.Option(help="for unit users: a responsible unit they act for (repeat for more)"),
    ] = None,
) -> None:
    """Create a user and print a first token for them (and set their browser password with
    --password-stdin)."""
    password = _read_password(True) if password_stdin else None

    async def work(users: UserStore) -> str:
        now = datetime.now(UTC)
        await users.add(name, role, agent, now, phone=phone, units=tuple(unit or ()))
        await _cli_audit(users, "user_add", f"user={name}; role={role.value}")
        if password is not None:
            await users.set_password(name, password)
            await _cli_audit(users, "password_set", f"user={name}")
        info, token = await users.issue(name, now, label="first")
        await _cli_audit(users, "token_issue", f"user={name}; token={info.id}")
        return token

    token = _with_users(work)
    typer.echo(f"user {name} ({role.value}) created; token (shown once):\n{token}")
    if password is not None:
        typer.echo(f"password set: {name} can sign in at / in a browser")


@users_app.command("passwd")
def users_passwd(name: str, password_stdin: PasswordStdin = False) -> None:
    """Set or reset a user's password for signing in with a browser; signs them out
    everywhere."""
    from datetime import timedelta

    from hotline.api.sessions import SessionStore

    password = _read_password(password_stdin)
    idle = timedelta(minutes=_settings().web.idle_minutes)

    async def work(users: UserStore) -> int:
        user = await users.set_password(name, password)
        await _cli_audit(users, "password_set", f"user={name}")
        return await SessionStore(users.sessions, idle).close_all(user.id)

    closed = _with_users(work)
    typer.echo(f"password of {name} set; {closed} browser session(s) signed out")


@users_app.command("phone")
def users_phone(
    name: str,
    phone: Annotated[
        str, typer.Argument(help="dial string of their phone, e.g. PJSIP/9001; '' clears")
    ],
) -> None:
    """Set the phone a user's listen, whisper and barge calls ring (监听/耳语/强插)."""
    user = _with_users(lambda users: users.set_phone(name, phone or None))
    typer.echo(f"user {user.name}: phone {user.phone or '(none)'}")


@users_app.command("list")
def users_list() -> None:
    """List users, roles and whether they are active (停用 = disabled)."""
    for u in _with_users(lambda users: users.all()):
        who = u.agent or "、".join(u.units)
        typer.echo(f"{u.name}\t{u.role.value}\t{who}\t{'' if u.active else '停用'}")


def _set_active(name: str, active: bool) -> None:
    async def work(users: UserStore) -> None:
        await users.set_active(name, active)
        await _cli_audit(users, "user_enable" if active else "user_disable", f"user={name}")

    _with_users(work)


@users_app.command("disable")
def users_disable(name: str) -> None:
    """Disable a user: their tokens and browser sessions stop working, sign-in is refused."""
    _set_active(name, False)
    typer.echo(f"user {name} disabled (停用)")


@users_app.command("enable")
def users_enable(name: str) -> None:
    """Enable a disabled user again."""
    _set_active(name, True)
    typer.echo(f"user {name} enabled")


@users_app.command("role")
def users_role(
    name: str,
    role: Annotated[Role, typer.Argument(help="agent, inspector, supervisor or admin")],
    agent: Annotated[str | None, typer.Option(help="for agents: the member name")] = None,
) -> None:
    """Give a user another role."""

    async def work(users: UserStore) -> str:
        before, _ = await users.status(name)
        u = await users.set_role(name, role, agent)
        await _cli_audit(users, "user_role", f"user={name}; {before.role.value} -> {role.value}")
        return u.role.value

    typer.echo(f"user {name}: role {_with_users(work)}")


@tokens_app.command("create")
def tokens_create(
    name: str, label: Annotated[str | None, typer.Option(help="what the token is for")] = None
) -> None:
    """Issue another token for a user (printed once; only its hash is stored); it expires
    after security.token_days."""

    async def work(users: UserStore) -> str:
        info, token = await users.issue(name, datetime.now(UTC), label)
        await _cli_audit(users, "token_issue", f"user={name}; token={info.id}")
        return token

    typer.echo(_with_users(work))


@tokens_app.command("list")
def tokens_list(name: str) -> None:
    """A user's tokens: id, label, created, expires, state (never the token itself)."""
    now = datetime.now(UTC)
    for t in _with_users(lambda users: users.tokens_of(name)):
        state = "revoked" if t.revoked else "ok" if t.usable(now) else "expired"
        expires = t.expires_at.isoformat(timespec="seconds") if t.expires_at else "never"
        created = t.created_at.isoformat(timespec="seconds")
        typer.echo(f"{t.id}\t{t.label or ''}\t{created}\t{expires}\t{state}")


@tokens_app.command("revoke")
def tokens_revoke(
    name: Annotated[str | None, typer.Argument(help="revoke every token of this user")] = None,
    token_id: Annotated[
        int | None, typer.Option("--id", help="revoke only this token (see `tokens list`)")
    ] = None,
) -> None:
    """Revoke one token (--id) or every token of a user."""
    if (name is None) == (token_id is None):
        typer.echo("error: give a user NAME (all their tokens) or --id N (one token)", err=True)
        raise typer.Exit(2)

    async def work(users: UserStore) -> str:
        if token_id is not None:
            info = await users.revoke_token(token_id)
            await _cli_audit(users, "token_revoke", f"user={info.user}; token={token_id}")
            return f"revoked token {token_id} of {info.user}"
        assert name is not None
        n = await users.revoke_tokens(name)
        await _cli_audit(users, "token_revoke", f"user={name}; all ({n})")
        return f"revoked {n} token(s) of {name}"

    typer.echo(_with_users(work))


@recordings_app.command("import")
def recordings_import(
    directory: Annotated[Path, typer.Argument(help="the folder of an existing archive")],
    pattern: Annotated[
        str | None,
        typer.Option(
            help="file names relative to DIR, e.g. "
            "'{date:%Y%m%d}/{caller}_{agent}_{time:%H%M%S}.wav' "
            "(fields: date, time, caller, agent, queue, call_id)"
        ),
    ] = None,
    csv: Annotated[
        Path | None,
        typer.Option(help="metadata CSV: file,started_at,caller_number,agent,queue,call_id"),
    ] = None,
) -> None:
    """Import an existing archive: resumable, files already imported (same hash) skipped.
    The original files are never deleted."""
    from hotline.api.app import make_archiver
    from hotline.core.bus import Bus
    from hotline.recording.importer import import_dir

    async def work(store: RecordingStore, settings: Settings) -> ImportReport:
        archiver = make_archiver(settings, store, Bus(), delete_source=False)
        with typer.progressbar(length=0, label="导入录音 importing") as bar:

            def progress(done: int, total: int) -> None:
                bar.length = total
                bar.update(done - bar.pos)

            return await import_dir(
                archiver, directory, pattern=pattern, csv_path=csv, progress=progress
            )

    report = _with_recordings(work)
    typer.echo(
        f"{report.total} file(s): {report.imported} imported, {report.resumed} resumed, "
        f"{report.skipped} already there, {report.failed} failed, {report.pending} pending, "
        f"{report.ignored} not matching"
    )
    for name, reason in report.failures:
        typer.echo(f"  failed: {name}: {reason}", err=True)
    if report.failed:
        raise typer.Exit(1)


@recordings_app.command("purge")
def recordings_purge(
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="only list what would be deleted, delete nothing")
    ] = False,
) -> None:
    """Delete recordings past their retention deadline (never those on legal hold)."""

    async def work(store: RecordingStore, settings: Settings) -> list[retention.PurgeItem]:
        from hotline.asr.store import TranscriptStore

        transcripts = TranscriptStore(store.sessions, str(settings.asr.pipeline_version))
        return await retention.purge(
            store,
            settings.archive_root,
            now=datetime.now(UTC),
            dry_run=dry_run,
            timezone=settings.timezone,
            on_purged=transcripts.delete,
        )

    items = _with_recordings(work)
    verb = {
        "deleted": "将删除 would delete" if dry_run else "已删除 deleted",
        "missing": "文件已不存在 file already missing",
        "none": "无归档文件 no archived file",
        "refused": "路径不在归档目录内，跳过 path outside the archive, skipped",
        "error": "删除失败 could not delete",
    }
    for i in items:
        where = i.path or "-"
        typer.echo(f"#{i.recording_id}\t{i.call_id or '-'}\t{verb[i.file]}: {where}\t{i.why}")
    purged = sum(i.file not in ("refused", "error") for i in items)
    if dry_run:
        typer.echo(f"dry run: {purged} recording(s) would be purged (试运行，未删除任何文件)")
    else:
        typer.echo(f"purged {purged} recording(s) (已清除 {purged} 条录音)")
    if purged != len(items):
        typer.echo(f"{len(items) - purged} could not be purged; see above", err=True)
        raise typer.Exit(1)


@app.command("worker")
def jobs_worker(
    concurrency: Annotated[int, typer.Option(min=1, help="jobs run at once in this process")] = 2,
    stages: Annotated[
        str | None,
        typer.Option(help="comma-separated stages to run, e.g. archive,transcribe (default: all)"),
    ] = None,
) -> None:
    """Run pipeline jobs (archive, transcribe, ...). On PostgreSQL start any number of these,
    on any host; on SQLite `serve` runs them itself. Ctrl-C lets running jobs finish."""
    from hotline.api.app import build
    from hotline.api.stages import active_handlers
    from hotline.core.jobs_worker import select_stages, serve_jobs

    settings = _settings()
    logging.basicConfig(
        level=settings.log_level.upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )

    async def run() -> None:
        c = build(settings)
        try:
            await db.migrate(c.engine)
            handlers = select_stages(active_handlers(c), stages)
            await serve_jobs(c.jobs, handlers, concurrency=concurrency)
        finally:
            await c.engine.dispose()

    try:
        asyncio.run(run())
    except HotlineError as exc:
        typer.echo(f"error: {exc.message}", err=True)
        raise typer.Exit(1) from None


@app.command()
def transcribe(
    file: Annotated[
        Path, typer.Argument(help="a recording (Ogg Opus, WAV, ...): stereo = customer left")
    ],
    model: Annotated[
        Path | None,
        typer.Option(help="Vosk model directory (default: HOTLINE_ASR__MODEL_DIR)"),
    ] = None,
) -> None:
    """Transcribe one file offline and print the transcript JSON: per channel, Vosk's own
    result per utterance (text, result with word/start/end/conf) plus the normalized text.
    Needs no database."""
    from hotline.asr.transcribe import transcribe_file
    from hotline.asr.vosk import ModelError, VoskEngine

    try:
        engine = VoskEngine(model if model is not None else _settings().asr.model_dir)
        transcript = transcribe_file(engine, file)
    except ModelError as exc:
        typer.echo(f"error: {exc.message}", err=True)
        raise typer.Exit(2) from None
    except HotlineError as exc:
        typer.echo(f"error: {exc.message}", err=True)
        raise typer.Exit(1) from None
    typer.echo(json.dumps(transcript.to_dict(), ensure_ascii=False, indent=2))


jobs_app = typer.Typer(help="pipeline jobs (archive, transcribe, …)", no_args_is_help=True)
app.add_typer(jobs_app, name="jobs")


def _with_container(work: Callable[[Any], Awaitable[T]]) -> T:
    """Run `work` with a built (not started) container on a migrated database."""
    from hotline.api.app import build

    settings = _settings()

    async def run() -> T:
        c = build(settings)
        try:
            await db.migrate(c.engine)
            return await work(c)
        finally:
            await c.jobs.close()
            await c.engine.dispose()

    try:
        return asyncio.run(run())
    except HotlineError as exc:
        typer.echo(f"error: {exc.message}", err=True)
        raise typer.Exit(1) from None


@jobs_app.command("list")
def jobs_list(
    state: Annotated[
        str | None, typer.Option(help="pending, running, done or failed (parked)")
    ] = None,
    stage: Annotated[str | None, typer.Option(help="archive, transcribe, …")] = None,
    limit: Annotated[int, typer.Option(min=1)] = 50,
) -> None:
    """The newest jobs, with their state and, for parked ones, why."""
    from hotline.core.jobs import JobState

    wanted = JobState(state) if state else None
    jobs = _with_container(lambda c: c.jobs.status(stage, state=wanted, limit=limit))
    for j in jobs:
        why = f"  {j.reason}" if j.reason else ""
        typer.echo(f"{j.id}\t{j.stage}\t{j.key}\t{j.state.value}\t{j.attempts}{why}")


@jobs_app.command("stats")
def jobs_stats() -> None:
    """Queue depth per stage and state, and jobs done in the last hour."""
    stats = _with_container(lambda c: c.jobs.stats())
    typer.echo(json.dumps(stats, ensure_ascii=False, indent=2, default=str))


@jobs_app.command("retry")
def jobs_retry(
    job_id: Annotated[int | None, typer.Argument(help="one job; unset = all that match")] = None,
    stage: Annotated[str | None, typer.Option(help="archive, transcribe, …; unset = all")] = None,
    state: Annotated[
        str, typer.Option(help="failed (parked: fresh attempts) or pending (waiting: run now)")
    ] = "failed",
) -> None:
    """Put a parked (failed) job back in the queue, an archive job's recording too; without
    a JOB_ID, every job of --stage in --state (e.g. after an outage was fixed)."""
    from hotline.api.stages import retry_job, retry_jobs
    from hotline.core.jobs import JobState

    if job_id is None:
        try:
            wanted = JobState(state)
        except ValueError:
            typer.echo(f"error: state must be failed or pending, not {state!r}", err=True)
            raise typer.Exit(2) from None

        async def bulk(c: Any) -> int:
            return await retry_jobs(c, "cli", stage=stage, state=wanted)

        n = _with_container(bulk)
        typer.echo(f"{n} job(s) queued again")
        return

    async def work(c: Any) -> bool:
        return await retry_job(c, job_id, "cli")

    if not _with_container(work):
        typer.echo(f"error: job {job_id} is not failed (only parked jobs can be retried)", err=True)
        raise typer.Exit(1)
    typer.echo(f"job {job_id} queued again")


quality_app = typer.Typer(help="quality scoring (质检)", no_args_is_help=True)
app.add_typer(quality_app, name="quality")


@quality_app.command("score")
def quality_score(
    file: Annotated[
        Path,
        typer.Argument(
            help='a call as JSON: {"call_id", "agent_number", "ring_seconds", '
            '"channels": {"agent": [Vosk results], "customer": [...]}}; - reads stdin'
        ),
    ],
    pack: Annotated[
        Path | None,
        typer.Option(
            help="rule pack: a shipped one's name (zh-CN, transport-group, highway, bank, "
            "wuhan-gas) or a YAML file (default: HOTLINE_QUALITY__PACK, else zh-CN)"
        ),
    ] = None,
) -> None:
    """Score one call against the rule pack and print {"call_id", "score", "band", "hits"}.
    Needs no database: the same scoring the pipeline runs after each transcript."""
    import sys

    from hotline.quality.pack import load_pack
    from hotline.quality.scoring import score_json
    from hotline.telephony.model import RingRule

    try:
        raw = sys.stdin.read() if str(file) == "-" else file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        typer.echo(f"error: cannot read {file} ({exc}): give a UTF-8 JSON file", err=True)
        raise typer.Exit(2) from None
    try:
        data = json.loads(raw)
    except ValueError as exc:
        typer.echo(
            f"error: {file} is not JSON ({exc}): see `hotline quality score --help`", err=True
        )
        raise typer.Exit(2) from None
    try:
        settings = _settings()
        rules = load_pack(pack if pack is not None else settings.quality.pack)
        ring = RingRule(settings.rules.ring_period_s, settings.rules.max_rings)
        result = score_json(data, rules, ring=ring)
    except HotlineError as exc:
        typer.echo(f"error: {exc.message}", err=True)
        raise typer.Exit(1) from None
    typer.echo(json.dumps(result, ensure_ascii=False, indent=2))


def main() -> None:
    app()
