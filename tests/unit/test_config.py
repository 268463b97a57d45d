"""Settings: environment variables, validation, refusal of placeholder secrets."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from arverne.config import DEV_SECRET_KEY, Environment, Settings


def test_defaults_are_the_embedded_demo() -> None:
    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    assert settings.database_url.startswith("sqlite:///")
    assert settings.time_zone == "Europe/Paris"
    assert settings.is_sqlite


def test_reads_arverne_environment_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ARVERNE_TIME_ZONE", "America/Chicago")
    monkeypatch.setenv("ARVERNE_LOG_LEVEL", "debug")
    monkeypatch.setenv("ARVERNE_REQUIRE_MFA", "true")
    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    assert settings.time_zone == "America/Chicago"
    assert settings.log_level == "DEBUG"
    assert settings.require_mfa


@pytest.mark.parametrize("secret", ["", DEV_SECRET_KEY, "too-short"])
def test_production_refuses_placeholder_secret(secret: str) -> None:
    with pytest.raises(ValidationError, match="ARVERNE_SECRET_KEY") as info:
        Settings(env=Environment.PRODUCTION, secret_key=secret, _env_file=None)  # type: ignore[call-arg]
    assert "secrets.token_urlsafe" in str(info.value)


def test_production_accepts_a_real_secret() -> None:
    settings = Settings(env=Environment.PRODUCTION, secret_key="x" * 48, _env_file=None)  # type: ignore[call-arg]
    assert settings.env is Environment.PRODUCTION


def test_unknown_time_zone_and_database_are_explained() -> None:
    with pytest.raises(ValidationError, match="IANA time zone"):
        Settings(time_zone="Mars/Olympus", _env_file=None)  # type: ignore[call-arg]
    with pytest.raises(ValidationError, match="postgresql"):
        Settings(database_url="mysql://x", _env_file=None)  # type: ignore[call-arg]
