"""Small factories for tests: users with roles, API tokens, signed-in clients."""

from __future__ import annotations

import itertools

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from arverne.config import Settings
from arverne.security import auth, service
from arverne.security.audit import AuditContext
from arverne.security.models import User
from arverne.security.policy import Role
from arverne.security.schemas import UserCreate

PASSWORD = "correct horse battery"
TEST_CTX = AuditContext(actor="test", request_id="test")
_counter = itertools.count(1)


def make_user(
    session: Session, *roles: Role | str, username: str | None = None, password: str = PASSWORD
) -> User:
    """Create and flush a user with ``roles`` (default: dispatcher)."""
    role_list = [Role(r) for r in roles] or [Role.DISPATCHER]
    name = username or f"user{next(_counter)}"
    user = service.create(
        session=session,
        ctx=TEST_CTX,
        user_in=UserCreate(
            username=name,
            full_name=f"Test {name}",
            email=None,
            password=password,
            roles=role_list,
        ),
    )
    session.commit()
    return user


def make_token(session: Session, settings: Settings, user: User) -> str:
    """Create an API token for ``user`` and return its secret."""
    _, secret = auth.create_api_token(
        session=session, settings=settings, ctx=TEST_CTX, user=user, name="test"
    )
    session.commit()
    return secret


def bearer(token: str) -> dict[str, str]:
    """Authorization header for ``token``."""
    return {"Authorization": f"Bearer {token}"}


def login(client: TestClient, username: str, password: str = PASSWORD, **extra: str) -> str:
    """Sign ``client`` in with a session cookie; return the CSRF token."""
    response = client.post(
        "/api/v1/auth/login", json={"username": username, "password": password, **extra}
    )
    assert response.status_code == 200, response.text
    csrf: str = response.json()["csrf_token"]
    return csrf
