"""Platform settings, read from ``ARVERNE_*`` environment variables.

Nothing is read at import time: call :func:`get_settings` (cached) or build a
:class:`Settings` yourself, as the tests do.
"""

from __future__ import annotations

import datetime as dt
import functools
import secrets
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, StringConstraints, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEV_SECRET_KEY = "dev-insecure-secret-change-me"  # noqa: S105 - a known placeholder, refused outside development
_PLACEHOLDER_SECRETS = frozenset({"", DEV_SECRET_KEY, "changeme", "change-me", "secret"})
MIN_SECRET_LENGTH = 32


class Environment(StrEnum):
    """Where the platform runs; only ``development`` and ``test`` accept placeholder secrets."""

    DEVELOPMENT = "development"
    TEST = "test"
    STAGING = "staging"
    PRODUCTION = "production"


class Settings(BaseSettings):
    """All runtime settings of the platform.

    Every field can be set with an environment variable named ``ARVERNE_`` plus the
    field name in upper case (``ARVERNE_DATABASE_URL``, ``ARVERNE_SECRET_KEY`` ...),
    or in a ``.env`` file in the working directory.
    """

    model_config = SettingsConfigDict(
        env_prefix="ARVERNE_", env_file=".env", env_file_encoding="utf-8", extra="ignore"
    )

    env: Environment = Environment.DEVELOPMENT
    database_url: str = "sqlite:///var/arverne.db"
    secret_key: str = DEV_SECRET_KEY
    time_zone: str = "Europe/Paris"
    city_pack: Path | None = None
    log_level: str = "INFO"
    require_mfa: bool = False

    session_idle_minutes: Annotated[int, Field(ge=1, le=24 * 60)] = 30
    session_max_hours: Annotated[int, Field(ge=1, le=72)] = 12
    cookie_secure: bool = True
    lockout_threshold: Annotated[int, Field(ge=1, le=100)] = 5
    lockout_minutes: Annotated[int, Field(ge=1, le=24 * 60)] = 10
    api_token_days: Annotated[int, Field(ge=1, le=3650)] = 90
    # A server process reuses a resolved session or token for this long (0: never). A
    # revocation, password change, role change or account deactivation takes effect at
    # once in the process that made it, and within this delay in the others.
    auth_cache_seconds: Annotated[float, Field(ge=0, le=60)] = 5.0
    sql_echo: bool = False

    # City extent used when no city pack is loaded (min_lon, min_lat, max_lon, max_lat).
    city_bbox: tuple[float, float, float, float] = (3.05, 45.75, 3.15, 45.81)

    # Dispatch
    response_targets: str | None = None  # JSON such as {"P1": 600, "P2": 1200}
    response_plans: str | None = None  # JSON such as {"fight": 3}: units per incident type
    duplicate_radius_m: Annotated[float, Field(gt=0, le=5000)] = 150.0
    duplicate_window_minutes: Annotated[int, Field(gt=0, le=24 * 60)] = 20
    # A closed or cancelled incident may be reopened this long after it ended; later, the
    # event gets a new incident (linked to the old one).
    reopen_window_hours: Annotated[float, Field(gt=0, le=24 * 30)] = 24.0
    # Status checks of committed units: minutes per status before the dispatcher must call
    # the crew, as JSON overriding the defaults {"dispatched": 3, "en_route": 15,
    # "on_scene": 20, "transporting": 30}; 0 turns a status's timer off, and
    # "unavailable" may be given too.
    status_check_minutes: str | None = None
    # A crew terminal that lost the network sends its status changes late, with the time
    # the crew made them; a change older than this is refused (the crew tells the control
    # room by radio) rather than rewriting that much of the unit's history. 0: no late
    # status changes. Notes are taken whatever their age.
    late_report_minutes: Annotated[int, Field(ge=0, le=24 * 60)] = 30
    position_retention_days: Annotated[int, Field(ge=1, le=3650)] = 61
    event_retention_days: Annotated[int, Field(ge=1, le=365)] = 7
    # Retention purges run this often while serving (0 disables the schedule).
    purge_interval_hours: Annotated[float, Field(ge=0, le=24 * 7)] = 6.0
    # This system's agency in EIDO documents (a domain name such as
    # "police.clermont-ferrand.fr"); unset: the host name the API is reached by (web) or
    # this machine's name (CLI).
    agency_id: (
        Annotated[str, StringConstraints(min_length=3, max_length=200, pattern=r"^[A-Za-z0-9.-]+$")]
        | None
    ) = None

    # Demo live shift (``arverne demo`` turns it on): simulated calls and units.
    demo_live: bool = False
    demo_speed: Annotated[float, Field(gt=0, le=600)] = 5.0
    demo_rate_per_hour: Annotated[float, Field(ge=0, le=10_000)] = 12.0
    demo_auto_dispatch_s: Annotated[float, Field(ge=0, le=3600)] = 45.0

    # Web console: default language (users may switch), and an optional raster tile URL
    # such as "https://tiles.example.org/{z}/{x}/{y}.png" (none: the city pack's own map).
    console_language: Literal["fr", "en"] = "fr"
    console_tile_url: str | None = None
    console_tile_attribution: str = ""

    @field_validator("console_tile_url")
    @classmethod
    def _tile_url(cls, value: str | None) -> str | None:
        if not value:
            return None
        if not value.startswith(("https://", "http://", "/")) or "{z}" not in value:
            msg = (
                f"ARVERNE_CONSOLE_TILE_URL={value!r} must be an http(s) or site-relative URL "
                "template with {z}, {x} and {y}, e.g. 'https://tiles.example.org/{z}/{x}/{y}.png'"
            )
            raise ValueError(msg)
        return value

    @field_validator("time_zone")
    @classmethod
    def _known_time_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            msg = f"ARVERNE_TIME_ZONE={value!r} is not an IANA time zone; use e.g. 'Europe/Paris'"
            raise ValueError(msg) from exc
        return value

    @field_validator("log_level")
    @classmethod
    def _known_log_level(cls, value: str) -> str:
        level = value.upper()
        if level not in {"DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"}:
            msg = f"ARVERNE_LOG_LEVEL={value!r} is unknown; use DEBUG, INFO, WARNING or ERROR"
            raise ValueError(msg)
        return level

    @field_validator("database_url")
    @classmethod
    def _supported_database(cls, value: str) -> str:
        if not value.startswith(("sqlite:", "postgresql:", "postgresql+psycopg:")):
            msg = (
                f"ARVERNE_DATABASE_URL={value!r} is not supported; use "
                "'sqlite:///path/to/arverne.db' or 'postgresql+psycopg://user@host/dbname'"
            )
            raise ValueError(msg)
        return value

    @model_validator(mode="after")
    def _refuse_placeholder_secret(self) -> Settings:
        if self.env in (Environment.DEVELOPMENT, Environment.TEST):
            return self
        if self.secret_key in _PLACEHOLDER_SECRETS or len(self.secret_key) < MIN_SECRET_LENGTH:
            msg = (
                f"ARVERNE_SECRET_KEY is missing, a placeholder or shorter than {MIN_SECRET_LENGTH} "
                f"characters, which is refused when ARVERNE_ENV={self.env.value}. Set it to a "
                'random value, for example: export ARVERNE_SECRET_KEY="$(python3 -c '
                "'import secrets; print(secrets.token_urlsafe(48))')\""
            )
            raise ValueError(msg)
        return self

    @property
    def zone(self) -> ZoneInfo:
        """The city's time zone, for display."""
        return ZoneInfo(self.time_zone)

    def today(self) -> dt.date:
        """Today's date in the city."""
        return dt.datetime.now(self.zone).date()

    @property
    def is_sqlite(self) -> bool:
        """Whether the store is the embedded SQLite file."""
        return self.database_url.startswith("sqlite:")


@functools.lru_cache(maxsize=1)
def get_settings() -> Settings:
    """Return the process-wide settings, read once from the environment."""
    return Settings()


def generate_secret_key() -> str:
    """Return a fresh random secret suitable for ``ARVERNE_SECRET_KEY``."""
    return secrets.token_urlsafe(48)
