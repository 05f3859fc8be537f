"""Settings: loaded once, in the composition root, from the environment and a TOML file.

Every setting has an embedded default (SQLite under ./data, no broker, AMI off), so
`hotline serve` runs with none. Environment variables are `HOTLINE_<NAME>`, nested ones
`HOTLINE_<SECTION>__<NAME>` (e.g. `HOTLINE_AMI__HOST`); a TOML file named by
`HOTLINE_CONFIG` is read too, with the environment taking precedence.
"""

from __future__ import annotations

import os
from datetime import time, timedelta
from pathlib import Path

from pydantic import BaseModel, Field, field_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from hotline.core.errors import InvalidInput

# Q.850 causes that mean the line broke rather than someone hanging up on purpose.
DEFAULT_ABNORMAL_CAUSES = (27, 34, 38, 41, 42, 44, 47, 102, 127)


class AmiSettings(BaseModel):
    host: str | None = Field(None, description="Asterisk host; unset = AMI disabled")
    port: int = 5038
    username: str = "hotline"
    secret: str = ""
    ping_interval_s: float = 10.0
    ping_timeout_s: float = 5.0
    reconnect_min_s: float = 1.0
    reconnect_max_s: float = 60.0
    end_unknown_after_s: float = 4 * 3600.0


PLACEHOLDER_AMI_SECRETS = frozenset({"change-me-hotline", "change-me", "changeme"})


def refuse_placeholder_secret(settings: Settings) -> None:
    """The shipped sample secret is public: refuse to connect to a switch with it."""
    ami = settings.ami
    if ami.host and ami.secret.strip().lower() in PLACEHOLDER_AMI_SECRETS:
        raise InvalidInput(
            "AMI 密码仍是示例值 change-me-hotline，任何人都能用它控制交换机：请在 Asterisk 的 "
            "manager.conf 中为 hotline 用户设置新的 secret，并把同一个值设为 "
            "HOTLINE_AMI__SECRET（或配置文件 [ami] secret） "
            "(the AMI secret is the shipped placeholder; set a new one in manager.conf and "
            "HOTLINE_AMI__SECRET)",
            error_id="placeholder_ami_secret",
        )


class MqttSettings(BaseModel):
    host: str | None = Field(None, description="MQTT broker host; unset = no real-time events")
    port: int = 1883
    username: str | None = None
    password: str | None = None
    topic_prefix: str = "hotline"
    client_id: str = "hotline"


class RuleSettings(BaseModel):
    ring_period_s: float = Field(5.0, gt=0, description="one ring: 1 s on + 4 s off")
    max_rings: int = Field(3, ge=1, description="answer within this many rings")
    abnormal_causes: tuple[int, ...] = DEFAULT_ABNORMAL_CAUSES


class CallbackSettings(BaseModel):
    enabled: bool = True
    min_abandon_wait_s: float = 10.0
    include_no_agent: bool = True
    delay_s: float = 60.0
    max_attempts: int = Field(3, ge=1)
    retry_interval_min: float = 10.0
    quiet_start: time = time(21, 0)
    quiet_end: time = time(8, 0)
    connect_to: str = Field("agent", pattern="^(agent|queue)$")
    context: str = "hotline-callback"
    channel_template: str = Field(
        "Local/{number}@hotline-outbound",
        description="channel that rings the customer; {number} is the customer's number",
    )
    caller_id: str = "客服热线 <95000>"
    originate_timeout_s: float = 45.0
    extension: str = Field("s", min_length=1, description="extension in `context` dialled")


class RecordingSettings(BaseModel):
    path_map: dict[str, str] = Field(
        default_factory=dict,
        description="switch path prefix -> local path prefix, e.g. "
        '{"/var/spool/asterisk/monitor": "/mnt/pbx-monitor"}',
    )
    archive_dir: Path | None = Field(None, description="archive root; unset = data_dir/archive")
    codec: str = Field("opus", pattern="^(opus|mp3|flac|wav)$")
    bitrate_kbps: int = Field(16, ge=6, le=256, description="for lossy codecs, whole file")
    workers: int = Field(0, ge=0, description="parallel transcodes; 0 = number of cores")
    settle_s: float = Field(2.0, ge=0, description="a file unchanged this long is finished")
    wait_for_file_s: float = Field(120.0, ge=0, description="give up on a missing file after")
    delete_source: bool = Field(False, description="remove the switch's file once verified")
    retention_days: int = Field(365, ge=1, description="资料保存一年")
    important_retention_days: int = Field(3650, ge=1, description="重要的资料长期保存")
    purge_interval_h: float = Field(24.0, gt=0, description="scheduled retention purge")
    max_attempts: int = Field(5, ge=1, description="tries for transient errors")


class AsrSettings(BaseModel):
    model_dir: Path | None = Field(
        None, description="unpacked Vosk model (am/, conf/, graph/); unset = no transcription"
    )
    workers: int = Field(0, ge=0, description="recognizer threads; 0 = number of cores")
    pipeline_version: int = Field(1, ge=1, description="bump to transcribe everything again")


class QualitySettings(BaseModel):
    pack: Path | None = Field(None, description="rule pack YAML; unset = the default zh-CN pack")
    sample_percent: float = Field(
        5.0, ge=0, le=100, description="抽查: share of each agent's calls per period sampled"
    )
    agent_number_pattern: str = Field(
        r"(\d+)(?!.*\d)",
        description="regex whose first group is the agent's number (工号) in the queue member "
        "name or interface, e.g. 8001 in 'PJSIP/8001'",
    )


class TicketSettings(BaseModel):
    pack: Path | None = Field(
        None, description="classification pack YAML; unset = the default zh-CN pack"
    )
    calendar_files: tuple[Path, ...] = Field(
        (), description="official holiday schedules for years chinese-calendar does not know"
    )
    policy: Path | None = Field(
        None,
        description="the hotline's 管理办法 as a ticket policy file (hotline/tickets/policies/); "
        "when set, its numbers replace the dispatch/complaint/回访 numbers below",
    )
    dispatch_min: float = Field(20.0, gt=0, description="派发 within, minutes")
    dispatch_urgent_min: float = Field(5.0, gt=0, description="repairs and complaints, minutes")
    repair_contact_h: float = Field(2.0, gt=0, description="repairs: contact within, hours")
    repair_done_workdays: int = Field(3, ge=1)
    service_contact_workdays: int = Field(1, ge=1)
    service_done_workdays: int = Field(7, ge=1)
    complaint_hours: dict[int, float] = Field(
        default_factory=lambda: {3: 3.0, 2: 24.0, 1: 48.0},
        description="complaint level -> hours to finish (3 轻度, 2 一般, 1 重大)",
    )
    report_done_workdays: int = Field(5, ge=1, description="举报/意见/建议")
    reply_workdays: int = Field(1, ge=1, description="reply after the unit's answer")
    level2_complainants: int = Field(5, ge=2, description="different callers, same issue")
    level2_window_days: int = Field(30, ge=1)
    level1_repeats: int = Field(5, ge=2, description="one caller, same event")
    followup_delay_h: float = Field(2.0, ge=0, description="回访 after the reply")
    followup_attempts: int = Field(3, ge=1)
    followup_interval_h: float = Field(2.0, ge=0)
    followup_quiet_start: time = time(21, 0)
    followup_quiet_end: time = time(8, 0)
    followup_context: str = "hotline-followup"
    overdue_check_s: float = Field(60.0, gt=0, description="how often deadlines are checked")


class LiveSettings(BaseModel):
    """The live agent/queue state (issue 12)."""

    wrapup_s: float = Field(0.0, ge=0, description="话后整理 after a queue call, seconds")
    wrapup_by_queue: dict[str, float] = Field(
        default_factory=dict, description="per queue (queues.conf wrapuptime); AMI lacks it"
    )
    heartbeat_s: float = Field(15.0, gt=0, description="SSE keep-alive comment interval")
    # -- supervision (branch supervision): pause reasons, spy calls ----------------------
    pause_reasons: tuple[str, ...] = Field(
        ("小休", "用餐", "培训", "话后整理"),
        description='示忙原因 agents choose from; env: a JSON list, e.g. \'["小休", "用餐"]\'',
    )
    spy_context: str = Field("hotline-spy", description="dialplan context running ChanSpy")
    spy_ring_s: float = Field(20.0, gt=0, description="how long a supervisor's phone rings")
    spy_caller_id: str = Field("监听 <hotline-spy>", description="caller id of spy calls")


class SurveySettings(BaseModel):
    """The post-call survey (来电满意度评价) the dialplan runs after the agent hangs up."""

    off_queues: tuple[str, ...] = Field(
        (),
        description="queues without a survey (also HOTLINE_SURVEY_OFF in the dialplan); "
        "env: a JSON list, e.g. '[\"vip\"]'",
    )
    unsatisfied: str = Field(
        "list",
        pattern="^(list|ticket)$",
        description="a 不满意 goes to the supervisor's list (list), or also opens a level-3 "
        "complaint ticket (ticket)",
    )


class WebSettings(BaseModel):
    idle_minutes: float = Field(
        30.0, gt=0, description="a browser session unused this long is signed out"
    )


class DeskSettings(BaseModel):
    """The agent's desk (issue 16): customer file, identity check, knowledge, notices."""

    identity_details: tuple[str, ...] = Field(
        ("name", "address", "account_no", "phone"),
        description="reserved details that count in an identity check (核实身份): name, "
        "address, account_no, phone, id_last4",
    )
    identity_required: int = Field(2, ge=1, description="how many of them must match")
    import_batch: int = Field(2000, ge=1, description="rows per transaction of an import")
    suggest_limit: int = Field(5, ge=1, le=50, description="articles suggested during a call")


class SecuritySettings(BaseModel):
    """Issue 13: limits, tokens, personal data, the 抽查 key."""

    max_body_bytes: int = Field(
        1_048_576, ge=1024, description="request bodies over this are refused (413) unread"
    )
    token_days: float = Field(
        90.0, ge=0, description="a new API token expires after this many days; 0 = never"
    )
    whole_pii_roles: tuple[str, ...] = Field(
        ("supervisor", "admin"),
        description="roles that see phone numbers, 户号, ID numbers and addresses whole; "
        "the others see them masked (138****1234)",
    )
    sample_key: str = Field(
        "",
        description="secret key of the 抽查 sample (keyed hash); unset = one generated at "
        "install in data_dir/sample.key",
    )
    anonymise_after_years: float = Field(
        0.0,
        ge=0,
        description="tickets, call rows and quality evidence older than this lose their "
        "personal data (numbers, 户号, addresses, ID numbers); 0 = keep",
    )


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="HOTLINE_", env_nested_delimiter="__", extra="ignore"
    )

    data_dir: Path = Path("data")
    database_url: str | None = Field(
        None, description="SQLAlchemy async URL; unset = SQLite file in data_dir"
    )
    http_host: str = "127.0.0.1"
    http_port: int = 8080
    log_level: str = "INFO"
    timezone: str = Field("Asia/Shanghai", description="the hotline's local time zone")
    jobs_concurrency: int = Field(
        0, ge=0, description="pipeline jobs run at once by this process; 0 = 2 x cores"
    )
    jobs_wait_backoff_min: float = Field(
        1.0,
        gt=0,
        description="a waiting job (input not ready, disk full, database away) "
        "looks again after this, then after as long as it has waited",
    )
    jobs_wait_max_backoff_min: float = Field(15.0, gt=0, description="longest wait between looks")
    jobs_wait_limit_h: float = Field(
        72.0, gt=0, description="a job that has waited this long is parked (retry it by hand)"
    )
    jobs_lease_s: float = Field(
        60.0, gt=0, description="a running job whose worker is silent this long is taken back"
    )
    jobs_poll_s: float | None = Field(
        None,
        gt=0,
        description="how often an idle worker looks for jobs; unset = 1 s "
        "(SQLite) / 5 s (PostgreSQL, which also wakes workers at once with NOTIFY)",
    )
    jobs_sweep_min: float = Field(
        5.0, gt=0, description="re-queue pending recordings with no live job this often"
    )
    ami: AmiSettings = AmiSettings()
    mqtt: MqttSettings = MqttSettings()
    rules: RuleSettings = RuleSettings()
    callback: CallbackSettings = CallbackSettings()
    recording: RecordingSettings = RecordingSettings()
    asr: AsrSettings = AsrSettings()
    quality: QualitySettings = QualitySettings()
    tickets: TicketSettings = TicketSettings()
    live: LiveSettings = LiveSettings()
    survey: SurveySettings = SurveySettings()
    web: WebSettings = WebSettings()
    desk: DeskSettings = DeskSettings()
    security: SecuritySettings = SecuritySettings()

    @field_validator("database_url")
    @classmethod
    def _async_driver(cls, v: str | None) -> str | None:
        if v and v.startswith(("postgres://", "postgresql://")):
            return "postgresql+asyncpg://" + v.split("://", 1)[1]
        return v

    @property
    def token_ttl(self) -> timedelta | None:
        """How long a new API token lives (None: forever)."""
        days = self.security.token_days
        return timedelta(days=days) if days else None

    @property
    def archive_root(self) -> Path:
        return self.recording.archive_dir or self.data_dir / "archive"

    @property
    def db_url(self) -> str:
        return self.database_url or f"sqlite+aiosqlite:///{self.data_dir / 'hotline.db'}"

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        config = os.environ.get("HOTLINE_CONFIG")
        if config:
            if not Path(config).is_file():
                raise FileNotFoundError(
                    f"HOTLINE_CONFIG points to {config!r}, which is not a file: "
                    "fix the path or unset HOTLINE_CONFIG"
                )
            sources.append(TomlConfigSettingsSource(settings_cls, toml_file=config))
        return tuple(sources)
