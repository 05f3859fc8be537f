"""Settings come from the environment and a TOML file; bad ones say what to fix."""

from __future__ import annotations

from datetime import time
from pathlib import Path

import pytest

from hotline.core.settings import Settings


def test_no_settings_means_embedded_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("HOTLINE_CONFIG", raising=False)
    s = Settings()
    assert s.db_url.startswith("sqlite+aiosqlite:///") and s.db_url.endswith("hotline.db")
    assert s.ami.host is None and s.mqtt.host is None
    assert (s.rules.ring_period_s, s.rules.max_rings) == (5.0, 3)
    assert (s.callback.quiet_start, s.callback.quiet_end) == (time(21), time(8))


def test_environment_overrides_the_config_file(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    config = tmp_path / "hotline.toml"
    config.write_text(
        'database_url = "postgresql://hotline@db/hotline"\n'
        '[ami]\nhost = "10.0.0.5"\nsecret = "s3"\n'
        '[callback]\nquiet_start = "22:00:00"\n'
        '[recording]\npath_map = {"/var/spool/asterisk/monitor" = "/mnt/pbx"}\n',
        encoding="utf-8",
    )
    monkeypatch.setenv("HOTLINE_CONFIG", str(config))
    monkeypatch.setenv("HOTLINE_AMI__HOST", "pbx.local")
    monkeypatch.setenv("HOTLINE_RULES__MAX_RINGS", "4")
    s = Settings()
    assert s.ami.host == "pbx.local" and s.ami.secret == "s3"
    assert s.rules.max_rings == 4
    assert s.callback.quiet_start == time(22)
    assert s.db_url == "postgresql+asyncpg://hotline@db/hotline"
    assert s.recording.path_map == {"/var/spool/asterisk/monitor": "/mnt/pbx"}


def test_a_missing_config_file_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOTLINE_CONFIG", "/nonexistent/hotline.toml")
    with pytest.raises(FileNotFoundError, match=r"/nonexistent/hotline\.toml"):
        Settings()


def test_the_sample_deploy_config_is_valid(monkeypatch: pytest.MonkeyPatch) -> None:
    sample = Path(__file__).resolve().parents[2] / "deploy" / "hotline.toml"
    monkeypatch.setenv("HOTLINE_CONFIG", str(sample))
    s = Settings()
    assert s.ami.host == "127.0.0.1" and s.callback.channel_template.endswith("hotline-outbound")


def test_the_placeholder_ami_secret_is_refused_at_start() -> None:
    from typer.testing import CliRunner

    from hotline.api.cli import app as cli
    from hotline.core.errors import InvalidInput
    from hotline.core.settings import refuse_placeholder_secret

    shipped = Settings(ami={"host": "10.0.0.2", "secret": "change-me-hotline"})
    with pytest.raises(InvalidInput, match="HOTLINE_AMI__SECRET") as refused:
        refuse_placeholder_secret(shipped)
    assert "示例值" in refused.value.message and "manager.conf" in refused.value.message
    refuse_placeholder_secret(Settings(ami={"host": "10.0.0.2", "secret": "s3cr3t-of-ours"}))
    refuse_placeholder_secret(Settings(ami={"secret": "change-me-hotline"}))  # AMI off
    env = {"HOTLINE_AMI__HOST": "127.0.0.1", "HOTLINE_AMI__SECRET": "change-me-hotline"}
    r = CliRunner().invoke(cli, ["serve"], env=env)
    assert r.exit_code == 1 and "AMI 密码仍是示例值" in r.output
