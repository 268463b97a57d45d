"""Every API route, every role: 401 anonymous, 403 without the permission, else allowed."""

from __future__ import annotations

import re
from typing import Any

import pytest
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from arverne.config import Settings
from arverne.dispatch.crew import ANY_UNIT
from arverne.security.policy import Role, is_allowed
from arverne.web.app import ROUTERS
from arverne.web.deps import Require, current_principal
from tests.data import bearer, make_token, make_user

PUBLIC = {("/healthz", "GET"), ("/readyz", "GET"), ("/api/v1/auth/login", "POST")}
# Routes where a caller without 'unit:status_any' acts only for a unit they crew
# (dispatch.crew.authorize): the test users crew none, so those roles get 403 there.
# Valid bodies, so that the crew rule (checked after validation) is what answers.
CREW_BODIES: dict[str, dict[str, Any]] = {
    "status": {"status": "available"},
    "check": {"outcome": "ok"},
    "positions": {"lon": 3.083, "lat": 45.777},
    "distress": {},
    "initiative": {"type_code": "theft"},
}
CREW_SCOPED = {(f"/api/v1/units/{{unit_id}}/{action}", "POST") for action in CREW_BODIES}
# Streams end at once with max_seconds=0 instead of staying open.
QUERY = {"/api/v1/events": {"max_seconds": 0}}


def _dependency_calls(dependant: Any) -> list[Any]:
    calls = []
    for dep in dependant.dependencies:
        calls.append(dep.call)
        calls.extend(_dependency_calls(dep))
    return calls


def _routes() -> list[tuple[str, str, str | None, bool]]:
    """(path, method, permission, needs_login) for every route of every router."""
    found = []
    for router in ROUTERS:
        for route in router.routes:
            assert isinstance(route, APIRoute)
            calls = _dependency_calls(route.dependant)
            perms = [c.permission for c in calls if isinstance(c, Require)]
            assert len(perms) <= 1, f"{route.path} declares several permissions"
            needs_login = bool(perms) or current_principal in calls
            for method in sorted(route.methods):  # path_format: "{badge}", not "{badge:path}"
                found.append((route.path_format, method, perms[0] if perms else None, needs_login))
    return found


ROUTES = _routes()


def _concrete(path: str) -> str:
    # An id that matches nothing, so allowed calls cannot revoke the tokens under test.
    return re.sub(r"\{[^}]+\}", "999999", path)


def test_route_list_covers_the_whole_api(client: TestClient) -> None:
    schema = client.get("/api/openapi.json").json()
    documented = {(path, method.upper()) for path, ops in schema["paths"].items() for method in ops}
    assert documented == {(path, method) for path, method, _, _ in ROUTES}


def test_every_route_is_protected_or_deliberately_public() -> None:
    for path, method, _, needs_login in ROUTES:
        assert needs_login or (path, method) in PUBLIC, f"{method} {path} has no access rule"


@pytest.mark.parametrize(("path", "method"), [(p, m) for p, m, _, login in ROUTES if login])
def test_anonymous_gets_401(client: TestClient, path: str, method: str) -> None:
    response = client.request(method, _concrete(path), json={}, params=QUERY.get(path))
    assert response.status_code == 401, response.text
    assert response.json()["status"] == 401


def test_each_role_gets_what_the_policy_says(
    client: TestClient, session: Session, settings: Settings
) -> None:
    tokens = {role: make_token(session, settings, make_user(session, role)) for role in Role}
    checked = 0
    for path, method, permission, needs_login in ROUTES:
        if not needs_login:
            continue
        for role, token in tokens.items():
            body = CREW_BODIES[path.rsplit("/", 1)[1]] if (path, method) in CREW_SCOPED else {}
            response = client.request(
                method, _concrete(path), json=body, params=QUERY.get(path), headers=bearer(token)
            )
            allowed = permission is None or is_allowed([role], permission)
            if allowed and (path, method) in CREW_SCOPED and not is_allowed([role], ANY_UNIT):
                assert response.status_code == 403, f"{role} got {response.status_code} on {path}"
                assert "crew" in response.json()["detail"] or "unit:status" in response.text
            elif allowed:
                assert response.status_code not in (401, 403), (
                    f"{role} refused on {method} {path}: {response.text}"
                )
            else:
                assert response.status_code == 403, f"{role} got {response.status_code} on {path}"
            checked += 1
    assert checked >= len(Role) * 10
