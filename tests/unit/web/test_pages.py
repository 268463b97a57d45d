"""Console pages through the app: languages, sign-in redirects, CSP, schema, missing assets."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from arverne.security.policy import Role
from arverne.web.console import render
from tests.data import login, make_user


def test_login_page_is_french_by_default_and_english_on_request(client: TestClient) -> None:
    page = client.get("/login")
    assert page.status_code == 200
    assert '<html lang="fr">' in page.text
    assert "Se connecter" in page.text
    csp = page.headers["content-security-policy"]
    assert "script-src 'self'" in csp
    assert "unsafe-inline" not in csp
    switched = client.get("/lang/en?next=/login", follow_redirects=False)
    assert switched.status_code == 303
    assert switched.headers["location"] == "/login"
    assert "Sign in" in client.get("/login").text


def test_language_switch_never_leaves_the_site(client: TestClient) -> None:
    answer = client.get("/lang/en?next=//evil.example/", follow_redirects=False)
    assert answer.headers["location"] == "/"


def test_pages_need_a_session(client: TestClient) -> None:
    for path in (
        "/console/dispatch",
        "/console/log",
        "/console/dashboard",
        "/console/officers",
        "/console/accounts",
        "/console/account",
    ):
        answer = client.get(path, follow_redirects=False)
        assert answer.status_code == 303, path
        assert answer.headers["location"].startswith("/login?next=")
    assert client.get("/", follow_redirects=False).headers["location"] == "/login"


def test_pages_follow_the_role(client: TestClient, session: Session) -> None:
    make_user(session, Role.DISPATCHER, username="disp")
    login(client, "disp")
    dispatch = client.get("/console/dispatch")
    assert dispatch.status_code == 200
    assert 'id="new-incident"' in dispatch.text
    assert client.get("/console/log").status_code == 200
    assert client.get("/console/log?print=1").status_code == 200
    assert client.get("/console/dashboard").status_code == 200
    # The officers list is a supervisor's and an administrator's (and a trainer's).
    assert client.get("/console/officers").status_code == 403
    assert "/console/officers" not in dispatch.text  # nor in the menu
    # So are the accounts (user:read), with no tools but the administrator's.
    assert client.get("/console/accounts").status_code == 403
    assert "/console/accounts" not in dispatch.text
    # One's own account is everyone's, from the user name in the top bar.
    assert 'href="/console/account"' in dispatch.text
    own = client.get("/console/account")
    assert own.status_code == 200
    assert 'id="password-form"' in own.text


def test_a_supervisor_reads_the_accounts_without_tools(
    client: TestClient, session: Session
) -> None:
    make_user(session, Role.SUPERVISOR, username="super")
    login(client, "super")
    page = client.get("/console/accounts")
    assert page.status_code == 200
    assert 'href="/console/accounts" aria-current="page"' in page.text
    assert 'id="account-new"' not in page.text  # user:manage only
    make_user(session, Role.ADMIN, username="adm")
    login(client, "adm")
    assert 'id="account-new"' in client.get("/console/accounts").text


def test_a_trainer_gets_a_clear_403(client: TestClient, session: Session) -> None:
    make_user(session, Role.TRAINER, username="trainer")
    login(client, "trainer")
    answer = client.get("/console/dispatch")
    assert answer.status_code == 403
    assert "Accès refusé" in answer.text


def test_console_stays_out_of_the_api_schema(client: TestClient) -> None:
    paths = client.get("/api/openapi.json").json()["paths"]
    assert not [p for p in paths if not p.startswith(("/api/", "/healthz", "/readyz"))]
    css = client.get("/static/css/console.css")
    assert css.status_code == 200
    assert "no-store" not in css.headers.get("cache-control", "")
    assert "content-security-policy" not in client.get("/api/docs").headers
    # API answers (personal data, live state) are kept by no browser or proxy.
    assert client.get("/api/openapi.json").headers["cache-control"] == "no-store"


def test_missing_vendor_files_are_reported(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(render, "VENDOR_FILES", ("vendor/not-built.js",))
    page = client.get("/login")
    assert page.status_code == 200
    assert "npm ci &amp;&amp; npm run vendor" in page.text


def test_fictional_data_is_announced_on_every_page(client: TestClient) -> None:
    assert "banner-demo" not in client.get("/login").text  # the default city is not a demo
    client.app.state.city.info = lambda: {"synthetic": True, "bbox": [0, 0, 1, 1]}  # type: ignore[attr-defined]
    page = client.get("/login")
    assert "banner-demo" in page.text
    assert "sont fictifs (données générées)" in page.text
