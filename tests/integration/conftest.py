"""Fixtures shared by the integration tests."""

from __future__ import annotations

import pytest
from sqlalchemy.orm import Session

from arverne.config import Settings
from arverne.security.policy import Role
from tests.data import bearer, make_token, make_user


@pytest.fixture
def sup(session: Session, settings: Settings) -> dict[str, str]:
    """Headers of a supervisor who also dispatches."""
    return bearer(
        make_token(session, settings, make_user(session, Role.SUPERVISOR, Role.DISPATCHER))
    )
