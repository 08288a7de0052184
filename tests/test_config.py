from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from bot.config import ConfigError, Settings, load_settings

REQUIRED = {
    "DISCORD_TOKEN": "discord-secret-value",
    "CHASTER_API_TOKEN": "chaster-secret-value",
    "CHASTER_EXTENSION_SLUG": "my-extension",
}


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in Settings.model_fields:
        monkeypatch.delenv(name, raising=False)


def settings_with(monkeypatch: pytest.MonkeyPatch, **values: str) -> Settings:
    for name, value in {**REQUIRED, **values}.items():
        monkeypatch.setenv(name, value)
    return load_settings(env_file=None)


def test_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    settings = settings_with(monkeypatch)
    assert settings.CHASTER_API_URL == "https://api.chaster.app"
    assert settings.DISCORD_API_URL == "https://discord.com/api/v10"
    assert settings.DISCORD_GATEWAY_URL == "wss://gateway.discord.gg/"
    assert settings.DATABASE_PATH == Path("data/bot.sqlite3")
    assert settings.DISCORD_GUILD_ID is None
    assert settings.WEBHOOK_PORT is None
    assert settings.WEBHOOK_HOST == "0.0.0.0"
    assert settings.CHASTER_POLL_SECONDS == 300
    assert settings.LOG_LEVEL == "INFO"


def test_missing_required_settings_are_named() -> None:
    missing = "; ".join(f"{name} is missing" for name in REQUIRED)
    with pytest.raises(ConfigError, match=f"^invalid configuration: {missing}$") as caught:
        load_settings(env_file=None)
    assert "\n" not in str(caught.value)


def test_secrets_are_hidden(monkeypatch: pytest.MonkeyPatch) -> None:
    settings = settings_with(monkeypatch)
    shown = repr(settings) + str(settings) + settings.model_dump_json()
    assert "discord-secret-value" not in shown
    assert "chaster-secret-value" not in shown
    assert settings.DISCORD_TOKEN.get_secret_value() == "discord-secret-value"


def test_invalid_values_never_echo_secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    # Each bad setting is named with why it is wrong; pydantic words the integer error.
    expected = (
        r"^invalid configuration: "
        r"CHASTER_API_URL: must start with http:// or https://; "
        r"WEBHOOK_PORT: Input should be a valid integer[^;]*; "
        r"LOG_LEVEL: must be one of CRITICAL, ERROR, WARNING, INFO, DEBUG$"
    )
    with pytest.raises(ConfigError, match=expected) as caught:
        settings_with(
            monkeypatch,
            WEBHOOK_PORT="not-a-port-secret-value",
            LOG_LEVEL="loud",
            CHASTER_API_URL="ftp://example",
        )
    message = str(caught.value)
    assert "secret-value" not in message
    assert "loud" not in message and "ftp://example" not in message


def test_webhook_credentials_required_with_port(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(
        ConfigError,
        match=(
            r"^invalid configuration: "
            r"WEBHOOK_USERNAME and WEBHOOK_PASSWORD required when WEBHOOK_PORT is set$"
        ),
    ):
        settings_with(monkeypatch, WEBHOOK_PORT="8080")
    settings = settings_with(
        monkeypatch, WEBHOOK_PORT="8080", WEBHOOK_USERNAME="chaster", WEBHOOK_PASSWORD="pw-value"
    )
    assert settings.WEBHOOK_PORT == 8080
    assert "pw-value" not in repr(settings)


def test_empty_optional_values_mean_unset(monkeypatch: pytest.MonkeyPatch) -> None:
    settings = settings_with(
        monkeypatch, DISCORD_GUILD_ID="", WEBHOOK_PORT="", WEBHOOK_USERNAME="", WEBHOOK_PASSWORD=""
    )
    assert settings.DISCORD_GUILD_ID is None and settings.WEBHOOK_PORT is None


def test_blank_token_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(
        ConfigError, match=r"^invalid configuration: DISCORD_TOKEN: must not be empty$"
    ):
        settings_with(monkeypatch, DISCORD_TOKEN="   ")


def test_env_file_is_read(tmp_path: Path) -> None:
    env_file = tmp_path / ".env"
    env_file.write_text(
        "DISCORD_TOKEN=a\nCHASTER_API_TOKEN=b\nCHASTER_EXTENSION_SLUG=slug\nLOG_LEVEL=debug\n"
    )
    settings = load_settings(env_file=env_file)
    assert settings.CHASTER_EXTENSION_SLUG == "slug"
    assert settings.LOG_LEVEL == "DEBUG"


def test_python_m_bot_without_settings_exits_with_one_clear_line(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "bot"],
        cwd=tmp_path,
        env={"PATH": "/usr/bin:/bin", "DISCORD_TOKEN": "discord-secret-value"},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "CHASTER_API_TOKEN is missing" in lines[0]
    assert "CHASTER_EXTENSION_SLUG is missing" in lines[0]
    assert "DISCORD_TOKEN" not in lines[0]
    assert "Traceback" not in result.stderr
    assert "secret-value" not in result.stderr + result.stdout
