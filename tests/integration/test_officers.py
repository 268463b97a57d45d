"""Renaming an officer (a marriage, a typo) and changing their rank: through the API and
the CLI; crew lists show the new name at once; the audit log records which fields
changed; bad input names the field and changes nothing."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from arverne.config import Settings
from arverne.dispatch.models import Event
from arverne.people import service as people
from arverne.people.schemas import OfficerIn
from arverne.security.models import AuditEntry
from arverne.security.policy import Role
from tests.data import TEST_CTX, bearer, make_token, make_user
from tests.dispatch_data import new_unit
from tests.integration.conftest import Cli


def test_an_administrator_renames_an_officer_and_crew_lists_follow(
    client: TestClient, sup: dict[str, str], session: Session, settings: Settings
) -> None:
    admin = bearer(make_token(session, settings, make_user(session, Role.ADMIN)))
    people.create_officer(
        session, TEST_CTX, OfficerIn(badge="R-1", first_name="Lea", last_name="Martin")
    )
    session.commit()
    unit = new_unit(client, sup, "PS-R1")
    put = client.put(f"/api/v1/units/{unit['id']}/crew", json={"badges": ["R-1"]}, headers=sup)
    assert put.status_code == 200, put.text
    before = session.scalar(select(Event.id).order_by(Event.id.desc()).limit(1)) or 0

    renamed = client.patch(
        "/api/v1/officers/R-1",
        json={"first_name": "Léa", "last_name": "Dubois-Martin", "rank": "brigadier"},
        headers=admin,
    )
    assert renamed.status_code == 200, renamed.text
    body = renamed.json()
    assert (body["name"], body["rank"], body["units"]) == (
        "Léa Dubois-Martin",
        "brigadier",
        ["PS-R1"],
    )
    assert client.get(f"/api/v1/units/{unit['id']}", headers=sup).json()["crew"] == [
        "Léa Dubois-Martin"
    ]
    session.expire_all()
    published = session.scalars(
        select(Event).where(Event.id > before, Event.kind == "unit.updated")
    ).all()
    assert [e.payload["crew"] for e in published] == [["Léa Dubois-Martin"]]
    entry = session.scalars(select(AuditEntry).where(AuditEntry.action == "officer.update")).one()
    assert entry.details == {"fields": ["first_name", "last_name", "rank"]}  # not the values

    cleared = client.patch("/api/v1/officers/R-1", json={"rank": None}, headers=admin)
    assert cleared.json()["rank"] is None
    for bad, field in (
        ({"first_name": None}, "body.first_name"),
        ({"last_name": " "}, "body.last_name"),
    ):
        refused = client.patch("/api/v1/officers/R-1", json=bad, headers=admin)
        assert refused.status_code == 422, refused.text
        assert refused.json()["errors"][0]["field"] == field
    assert client.patch("/api/v1/officers/R-1", json={"rank": "x"}, headers=sup).status_code == 403
    assert client.get(f"/api/v1/units/{unit['id']}", headers=sup).json()["crew"] == [
        "Léa Dubois-Martin"
    ]


def test_officer_update_from_the_command_line(cli: Cli) -> None:
    assert cli("officer", "add", "R-2", "--first-name", "Jean", "--last-name", "Dupond")[0] == 0
    code, out = cli("officer", "update", "R-2", "--last-name", "Dupont", "--rank", "gardien")
    assert code == 0, out
    assert "officer R-2: Jean Dupont, gardien" in out
    code, out = cli("officer", "update", "R-2", "--clear-rank")
    assert code == 0, out
    assert out.strip().endswith("officer R-2: Jean Dupont")
    code, out = cli("officer", "update", "R-2")
    assert code == 2
    assert "nothing to change" in out
    code, out = cli("officer", "update", "R-2", "--first-name", " ")
    assert code == 2
    assert "first_name" in out
    assert cli("officer", "update", "R-9", "--rank", "x")[0] == 2


def test_an_officer_is_created_linked_to_an_account_or_not_at_all(
    client: TestClient, session: Session, settings: Settings
) -> None:
    admin = bearer(make_token(session, settings, make_user(session, Role.ADMIN)))
    account = make_user(session, Role.OFFICER)
    session.commit()
    body = {"badge": "R-3", "first_name": "Ana", "last_name": "Riom", "username": "nobody"}
    refused = client.post("/api/v1/officers", json=body, headers=admin)
    assert refused.status_code == 422
    assert refused.json()["errors"][0]["field"] == "username"
    assert (
        client.patch("/api/v1/officers/R-3", json={"rank": "x"}, headers=admin).status_code == 404
    )
    made = client.post(
        "/api/v1/officers", json={**body, "username": account.username}, headers=admin
    )
    assert made.status_code == 201, made.text
    assert (made.json()["badge"], made.json()["username"]) == ("R-3", account.username)


def test_a_badge_with_a_slash_is_reachable(
    client: TestClient, session: Session, settings: Settings
) -> None:
    admin = bearer(make_token(session, settings, make_user(session, Role.ADMIN)))
    body = {"badge": "PM/12", "first_name": "Paul", "last_name": "Sancy"}
    assert client.post("/api/v1/officers", json=body, headers=admin).status_code == 201
    renamed = client.patch("/api/v1/officers/PM%2F12", json={"rank": "chef"}, headers=admin)
    assert renamed.status_code == 200, renamed.text
    assert (renamed.json()["badge"], renamed.json()["rank"]) == ("PM/12", "chef")
