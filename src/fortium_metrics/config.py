"""Settings: one object, read once at start-up from FORTIUM_* environment variables and CLI flags.

Every field is documented by its `description`; `fortium-metrics config show` prints them all with
secrets masked. A bad value fails at start-up with the variable's name (see `load_settings`).
"""
from __future__ import annotations

import ipaddress
import os
import secrets
from enum import Enum
from pathlib import Path
from typing import Any

from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from .environment import ENV_PREFIX, default_data_dir
from .errors import ConfigError


class Mode(str, Enum):
    local = "local"
    production = "production"


def _default_data_dir() -> Path:
    return Path(default_data_dir())


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, extra="ignore", frozen=True)

    mode: Mode = Field(
        Mode.local,
        description="`local`: zero-config (SQLite file, generated secret key). "
        "`production`: every secret must be given explicitly.",
    )
    data_dir: Path = Field(
        default_factory=_default_data_dir,
        description="Where the embedded SQLite file, the generated secret key and spools live.",
    )
    database_url: str | None = Field(
        None,
        description="SQLAlchemy URL the service connects with, e.g. "
        "postgresql+psycopg://fortium_app@db/fortium. Default: sqlite file in data_dir. "
        "On PostgreSQL this must be the non-owner application role (RLS applies to it).",
    )
    admin_database_url: str | None = Field(
        None,
        description="The schema owner's URL: `db upgrade|downgrade`, and on PostgreSQL the CLI's operator "
        "commands across organisations (`org create|list|rename|delete`, `demo`). Default: database_url.",
    )
    app_db_role: str = Field(
        "fortium_app",
        description="PostgreSQL role the migrations create and grant to; the service connects as it.",
    )
    secret_key: SecretStr | None = Field(
        None,
        description="Signing key for tokens. Required in production mode; generated once and kept "
        "in data_dir/secret_key in local mode.",
    )
    redis_url: str | None = Field(
        None, description="Optional Redis URL for shared rate limits and live-update fan-out."
    )
    max_body_bytes: int = Field(
        10 * 1024 * 1024, ge=1024,
        description="Largest HTTP request body accepted (bytes), counted while reading; more is a 413. "
        "Also the most a compressed (gzip, deflate) OTLP body may inflate to.",
    )
    rate_limit: str = Field(
        "6000/minute",
        description="Requests per organisation on the REST API and MCP, a moving window such as 6000/minute "
        "or 50/second; `off` disables it. Shared through Redis when redis_url is set.",
    )
    ingest_writers: int = Field(
        2, ge=1, le=16,
        description="Concurrent ingestion transactions per process on PostgreSQL: while one commits, the "
        "next batch is already being written. SQLite always uses one (it has a single write lock).",
    )
    ws_max_per_user: int = Field(
        10, ge=1, le=1000,
        description="Live-update WebSocket connections (/ws) one person or key may hold per process; the next "
        "is closed with code 4429.")
    ws_queue_messages: int = Field(
        256, ge=8, le=100_000,
        description="Live messages waiting for one WebSocket client; a client that falls this far behind "
        "(it does not read) is closed with code 4008, the others are not slowed.")
    ws_heartbeat_seconds: float = Field(
        25.0, gt=0, le=3600, description="How often /ws sends a heartbeat, so clients notice a dead connection.")
    host: str = Field("127.0.0.1", description="Address `serve` binds to.")
    port: int = Field(8765, ge=1, le=65535, description="Port `serve` listens on.")
    log_level: str = Field("info", description="debug | info | warning | error")
    partition_months_ahead: int = Field(
        3, ge=1, le=24, description="Monthly partitions kept ready ahead of today (PostgreSQL)."
    )
    rollup_retention_days: int = Field(
        1095, ge=1, le=36500,
        description="Days of analytics rollups kept (per organisation, never fewer than its data_retention_days): "
        "long-range charts outlive the raw events they were summed from.")
    retention_interval_seconds: int = Field(
        86400, ge=1, le=7 * 86400,
        description="How often the scheduler in `serve` runs the retention job; with several processes it still "
        "runs once per interval (the job lease).")
    log_format: str = Field(
        "text", description="`text` (uvicorn's lines) or `json`: one JSON object per line with the request id "
        "and organisation id, never a credential.")
    metrics_token: SecretStr | None = Field(
        None, description="Bearer token GET /metrics requires. Unset: /metrics answers only clients connecting "
        "from the machine itself (127.0.0.1, ::1); set it when Prometheus scrapes from elsewhere.")
    api_url: str | None = Field(
        None, description="Remote server for forwarder clients (stdio MCP, hook, import upload)."
    )
    api_key: SecretStr | None = Field(None, description="API key used with api_url.")
    previous_secret_keys: list[SecretStr] = Field(
        default_factory=list,
        description="Earlier secret keys (JSON list) still accepted to verify access tokens while "
        "they expire: rotate by moving the old FORTIUM_SECRET_KEY here.",
    )
    jwt_issuer: str = Field("fortium-metrics", description="`iss` of issued access tokens, checked on use.")
    jwt_audience: str = Field("fortium-metrics", description="`aud` of issued access tokens, checked on use.")
    access_token_minutes: int = Field(15, ge=1, le=1440, description="Lifetime of an access token.")
    refresh_token_days: int = Field(30, ge=1, le=365, description="Lifetime of a refresh token (it rotates on use).")
    login_failures_per_account_client: str = Field(
        "5/15minutes", description="Failed sign-ins allowed per e-mail address from one client address; then that "
        "client is refused for this e-mail for the window (other clients are not).")
    login_failures_per_account: str = Field(
        "100/15minutes", description="Failed sign-ins allowed per e-mail address over all clients; past it only "
        "clients that have not failed for this e-mail may try (the owner still signs in).")
    login_failures_per_client: str = Field(
        "30/15minutes", description="Failed sign-ins allowed per client address, whatever the e-mail.")
    trusted_proxies: str = Field(
        "", description="Comma-separated IP addresses or networks (CIDR) of reverse proxies whose X-Forwarded-For "
        "and X-Forwarded-Proto headers are believed. Default: none, so the client address is the peer's and a "
        "client cannot pick its own address (sign-in throttling counts per address).")
    cookie_secure: bool | None = Field(
        None, description="Mark browser cookies Secure. Default: on in production mode, off in local mode "
        "(plain http://127.0.0.1).")
    public_url: str | None = Field(
        None, description="The URL people reach the service at (SSO redirect URIs); default http://HOST:PORT.")
    # Invitations by e-mail (mailer.py). Without smtp_host, inviting shows the link to copy instead.
    smtp_host: str | None = Field(None, description="SMTP server that sends invitation e-mails; unset: no e-mail, "
                                  "the administrator copies the invitation link from the page.")
    smtp_port: int = Field(587, ge=1, le=65535, description="SMTP port (587 with STARTTLS, 465 with TLS, 25 plain).")
    smtp_security: str = Field("starttls", description="starttls | tls | none: how the SMTP connection is encrypted.")
    smtp_username: str | None = Field(None, description="SMTP user name, when the server asks for one.")
    smtp_password: SecretStr | None = Field(None, description="SMTP password for smtp_username.")
    smtp_from: str = Field("fortium-metrics <no-reply@localhost>", description="The From: of invitation e-mails.")
    smtp_timeout_seconds: float = Field(10.0, gt=0, le=120, description="How long to wait for the SMTP server.")
    invitation_days: int = Field(7, ge=1, le=90, description="How long an invitation link works.")

    @field_validator("log_level")
    @classmethod
    def _level(cls, value: str) -> str:
        value = value.lower()
        if value not in {"debug", "info", "warning", "error"}:
            raise ValueError("must be one of debug, info, warning, error")
        return value

    @field_validator("log_format")
    @classmethod
    def _log_format(cls, value: str) -> str:
        value = value.lower()
        if value not in {"text", "json"}:
            raise ValueError("must be text or json")
        return value

    @field_validator("rate_limit")
    @classmethod
    def _rate_limit(cls, value: str) -> str:
        value = value.strip().lower()
        if value in {"", "off", "none", "0"}:
            return "off"
        from limits import parse as parse_rate_limit  # here: `hook` starts without it

        try:
            parse_rate_limit(value)
        except ValueError:
            raise ValueError("must look like 1200/minute or 50/second, or be 'off'") from None
        return value

    @field_validator("login_failures_per_account_client", "login_failures_per_account", "login_failures_per_client")
    @classmethod
    def _login_limit(cls, value: str) -> str:
        from limits import parse as parse_rate_limit  # here: `hook` starts without it

        try:
            parse_rate_limit(value)
        except ValueError:
            raise ValueError("must look like 5/15minutes") from None
        return value

    @field_validator("trusted_proxies")
    @classmethod
    def _proxies(cls, value: str) -> str:
        networks = []
        for item in filter(None, (part.strip() for part in value.split(","))):
            try:
                networks.append(str(ipaddress.ip_network(item, strict=False)))
            except ValueError:
                raise ValueError(f"{item!r} is not an IP address or network such as 10.0.0.0/8") from None
        return ",".join(networks)

    @field_validator("smtp_security")
    @classmethod
    def _smtp_security(cls, value: str) -> str:
        value = value.strip().lower()
        if value not in {"starttls", "tls", "none"}:
            raise ValueError("must be one of starttls, tls, none")
        return value

    @field_validator("database_url", "admin_database_url")
    @classmethod
    def _url(cls, value: str | None) -> str | None:
        if value is None:
            return None
        if not value.startswith(("sqlite", "postgresql")):
            raise ValueError("must be a sqlite:// or postgresql:// URL")
        return value

    # -- derived values -----------------------------------------------------------------
    @property
    def effective_database_url(self) -> str:
        return self.database_url or f"sqlite+aiosqlite:///{self.data_dir / 'fortium.db'}"

    @property
    def effective_admin_database_url(self) -> str:
        return self.admin_database_url or self.effective_database_url

    @property
    def effective_public_url(self) -> str:
        """Where people reach the service (links in e-mails, when no request says better)."""
        return (self.public_url or f"http://{self.host}:{self.port}").rstrip("/")

    @property
    def is_sqlite(self) -> bool:
        return self.effective_database_url.startswith("sqlite")


def _error_text(error: ValidationError) -> str:
    lines = []
    for item in error.errors():
        name = ENV_PREFIX + "_".join(str(p) for p in item["loc"]).upper()
        lines.append(f"{name}: {item['msg']} (got {item.get('input')!r})")
    return "invalid configuration:\n  " + "\n  ".join(lines)


def load_settings(**overrides: Any) -> Settings:
    """Build Settings from the environment plus explicit overrides (CLI flags), then settle the key."""
    overrides = {k: v for k, v in overrides.items() if v is not None}
    try:
        settings = Settings(**overrides)
    except ValidationError as error:
        raise ConfigError(_error_text(error)) from None
    return _with_secret_key(settings)


def _with_secret_key(settings: Settings) -> Settings:
    if settings.secret_key is not None:
        if len(settings.secret_key.get_secret_value()) < 32:
            raise ConfigError("FORTIUM_SECRET_KEY: must be at least 32 characters")
        return settings
    if settings.mode is Mode.production:
        raise ConfigError("FORTIUM_SECRET_KEY: required in production mode (FORTIUM_MODE=production)")
    key_file = settings.data_dir / "secret_key"
    if not key_file.exists():
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        # O_EXCL: two processes starting at once must not both write different keys.
        try:
            fd = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as handle:
                handle.write(secrets.token_urlsafe(48))
        except FileExistsError:
            pass
    return settings.model_copy(update={"secret_key": SecretStr(key_file.read_text().strip())})


def describe(settings: Settings) -> list[tuple[str, str, str]]:
    """(variable, effective value with secrets masked, description) for `config show`."""
    rows = []
    for name, field in Settings.model_fields.items():
        value = getattr(settings, name)
        if isinstance(value, SecretStr):
            shown = "********" if value.get_secret_value() else ""
        elif isinstance(value, list) and all(isinstance(v, SecretStr) for v in value):
            shown = f"[{len(value)} masked]" if value else ""
        elif name.endswith("url") and value and "@" in str(value):
            shown = _mask_url_password(str(value))
        else:
            shown = "" if value is None else str(value.value if isinstance(value, Enum) else value)
        rows.append((ENV_PREFIX + name.upper(), shown, field.description or ""))
    rows.append(("(effective database)", _mask_url_password(settings.effective_database_url), ""))
    return rows


def _mask_url_password(url: str) -> str:
    from sqlalchemy.engine import make_url

    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:  # not a URL SQLAlchemy understands: show it unchanged, it has no password
        return url
