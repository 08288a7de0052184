"""Settings, read from the environment and an optional `.env` file."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any, Self

from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

LOG_LEVELS = ("CRITICAL", "ERROR", "WARNING", "INFO", "DEBUG")


class Settings(BaseSettings):
    """Every setting the bot reads. Field names are the environment variable names."""

    model_config = SettingsConfigDict(
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
        case_sensitive=True,
        # Secrets must never be echoed back in a validation error.
        hide_input_in_errors=True,
    )

    DISCORD_TOKEN: SecretStr = Field(description="Bot token from the Discord developer portal.")
    CHASTER_API_TOKEN: SecretStr = Field(
        description="Chaster developer token of the application that owns the extension."
    )
    CHASTER_EXTENSION_SLUG: str = Field(
        min_length=1, description="Slug of your Chaster extension (sessions are searched by it)."
    )
    CHASTER_API_URL: str = Field(
        default="https://api.chaster.app", description="Base URL of the Chaster API."
    )
    DISCORD_API_URL: str = Field(
        default="https://discord.com/api/v10",
        description="Discord REST base URL with the API version (for a proxy or a test fake).",
    )
    DISCORD_GATEWAY_URL: str = Field(
        default="wss://gateway.discord.gg/",
        description="Discord gateway URL (for a proxy or a test fake).",
    )
    DATABASE_PATH: Path = Field(
        default=Path("data/bot.sqlite3"), description="SQLite database file; created if missing."
    )
    DISCORD_GUILD_ID: int | None = Field(
        default=None,
        description="Sync slash commands to this server only (instant); empty = global commands.",
    )
    WEBHOOK_PORT: int | None = Field(
        default=None,
        ge=1,
        le=65535,
        description="Port for Chaster webhooks and /healthz; empty = no web server.",
    )
    WEBHOOK_HOST: str = Field(default="0.0.0.0", description="Address the web server binds to.")  # noqa: S104
    WEBHOOK_USERNAME: str | None = Field(
        default=None, description="HTTP Basic user Chaster must send (required with WEBHOOK_PORT)."
    )
    WEBHOOK_PASSWORD: SecretStr | None = Field(
        default=None,
        description="HTTP Basic password Chaster must send (required with WEBHOOK_PORT).",
    )
    CHASTER_APP_ORIGIN: str = Field(
        default="https://chaster.app",
        description=(
            "Origin of Chaster's web app, the only site allowed to show the extension's pages"
            " in a frame (several: separated by spaces)."
        ),
    )
    CHASTER_POLL_SECONDS: int = Field(
        default=300,
        ge=1,
        description="How often linked sessions are re-read from Chaster, in seconds.",
    )
    CHASTER_FRESH_SECONDS: float = Field(
        default=30,
        ge=0,
        description="How old a Chaster state /task status may show before it reads again.",
    )
    CHASTER_PROOF_KIND: str = Field(
        default="photo",
        pattern=r"^[a-z0-9_-]{1,40}$",
        description=(
            "Key of the verification kind declared for the extension in Chaster's developer"
            " interface, used for photo proof reviews."
        ),
    )
    LOG_LEVEL: str = Field(default="INFO", description="CRITICAL, ERROR, WARNING, INFO or DEBUG.")

    @field_validator("DISCORD_TOKEN", "CHASTER_API_TOKEN")
    @classmethod
    def _not_blank(cls, value: SecretStr) -> SecretStr:
        if not value.get_secret_value().strip():
            raise ValueError("must not be empty")
        return value

    @field_validator("CHASTER_API_URL", "DISCORD_API_URL")
    @classmethod
    def _http_url(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError("must start with http:// or https://")
        return value.rstrip("/")

    @field_validator("CHASTER_APP_ORIGIN")
    @classmethod
    def _origins(cls, value: str) -> str:
        origins = value.split()
        if not origins:
            raise ValueError("must name at least one origin")
        for origin in origins:
            scheme, sep, rest = origin.partition("://")
            if scheme not in ("http", "https") or not sep or not rest or "/" in rest:
                raise ValueError("each origin must look like https://chaster.app (no path)")
        return " ".join(origins)

    @property
    def chaster_app_origins(self) -> tuple[str, ...]:
        return tuple(self.CHASTER_APP_ORIGIN.split())

    @field_validator("DISCORD_GATEWAY_URL")
    @classmethod
    def _ws_url(cls, value: str) -> str:
        if not value.startswith(("ws://", "wss://")):
            raise ValueError("must start with ws:// or wss://")
        return value

    @field_validator("LOG_LEVEL")
    @classmethod
    def _log_level(cls, value: str) -> str:
        level = value.strip().upper()
        if level not in LOG_LEVELS:
            raise ValueError(f"must be one of {', '.join(LOG_LEVELS)}")
        return level

    @field_validator(
        "DISCORD_GUILD_ID", "WEBHOOK_PORT", "WEBHOOK_USERNAME", "WEBHOOK_PASSWORD", mode="before"
    )
    @classmethod
    def _empty_is_unset(cls, value: Any) -> Any:
        # `.env.example` lists optional settings as `NAME=`; an empty value means "not set".
        if isinstance(value, str) and not value.strip():
            return None
        return value

    @model_validator(mode="after")
    def _webhook_credentials(self) -> Self:
        if self.WEBHOOK_PORT is not None:
            missing = [
                name
                for name, value in (
                    ("WEBHOOK_USERNAME", self.WEBHOOK_USERNAME),
                    ("WEBHOOK_PASSWORD", self.WEBHOOK_PASSWORD),
                )
                if value is None
                or not str(value.get_secret_value() if isinstance(value, SecretStr) else value)
            ]
            if missing:
                raise ValueError(f"{' and '.join(missing)} required when WEBHOOK_PORT is set")
        return self

    @property
    def log_level(self) -> int:
        """The stdlib logging level."""
        return logging.getLevelNamesMapping()[self.LOG_LEVEL]


class ConfigError(Exception):
    """Settings are missing or invalid; the message names them and never holds a value."""


def describe_validation_error(error: ValidationError) -> str:
    """One line naming each bad setting and why, without ever quoting its value."""
    problems: list[str] = []
    for item in error.errors(include_input=False, include_url=False):
        name = ".".join(str(part) for part in item["loc"])
        if item["type"] == "missing":
            problems.append(f"{name} is missing")
        elif name:
            problems.append(f"{name}: {_reason(item['msg'])}")
        else:
            problems.append(_reason(item["msg"]))
    return "invalid configuration: " + "; ".join(problems)


def _reason(message: str) -> str:
    return message.removeprefix("Value error, ")


def load_settings(env_file: str | Path | None = ".env") -> Settings:
    """Read the settings or raise ConfigError with a one-line, secret-free explanation."""
    try:
        return Settings(_env_file=env_file)
    except ValidationError as error:
        raise ConfigError(describe_validation_error(error)) from None
