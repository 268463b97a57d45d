"""Links between related incidents that stay separate: both sides see each other, the
link has a reason, removing it keeps it (marked removed); logged, audited, and bad or
duplicate links are refused, also when two requests race."""

from __future__ import annotations

import threading
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from arverne.config import Settings
from arverne.dispatch import flows
from arverne.dispatch.citypack import load_city
from arverne.dispatch.links import link_incidents
from arverne.dispatch.models import IncidentLink
from arverne.dispatch.schemas import IncidentIn, LinkIn
from arverne.errors import ConflictError
from arverne.security.models import AuditEntry
from arverne.security.policy import Role
from arverne.store.session import make_engine, make_sessionmaker, session_scope
from tests.conftest import make_settings
from tests.data import TEST_CTX, bearer, make_token, make_user
from tests.dispatch_data import GARE, JAUDE, new_incident
from tests.integration.conftest import Cli


def _link(
    client: TestClient, headers: dict[str, str], source: int, other: int, **extra: Any
) -> Any:
    body = {"other": other, "reason": "la voiture en fuite du vol", **extra}
    return client.post(f"/api/v1/incidents/{source}/links", json=body, headers=headers)


def test_both_incidents_see_the_link_until_it_is_removed(
    client: TestClient, sup: dict[str, str], session: Session
) -> None:
    robbery = new_incident(client, sup, "robbery", at=JAUDE)["incident"]
    crash = new_incident(client, sup, "traffic_damage", at=GARE)["incident"]
    answer = _link(client, sup, robbery["id"], crash["id"])
    assert answer.status_code == 201, answer.text
    seen = answer.json()
    assert (seen["incident_id"], seen["number"], seen["type_code"]) == (
        crash["id"], crash["number"], "traffic_damage"
    )  # fmt: skip
    assert seen["reason"] == "la voiture en fuite du vol"
    from_crash = client.get(f"/api/v1/incidents/{crash['id']}/links", headers=sup).json()
    assert [link["incident_id"] for link in from_crash] == [robbery["id"]]
    # Both stay separate: nothing of one moves to the other.
    for incident in (robbery, crash):
        again = client.get(f"/api/v1/incidents/{incident['id']}", headers=sup).json()
        assert (again["status"], len(again["calls"])) == ("queued", 1)

    kinds = {
        (e["incident_id"], e["kind"]) for e in client.get("/api/v1/dutylog", headers=sup).json()
    }
    assert {(robbery["id"], "incident_linked"), (crash["id"], "incident_linked")} <= kinds
    entry = session.scalars(select(AuditEntry).where(AuditEntry.action == "incident.link")).one()
    assert (entry.object_id, entry.details, entry.reason) == (
        str(robbery["id"]), {"other": crash["id"]}, "la voiture en fuite du vol"
    )  # fmt: skip

    # A closed incident stays linked, and can be linked (a repeat victim's earlier case).
    closed = client.post(
        f"/api/v1/incidents/{crash['id']}/close", json={"disposition": "report_taken"}, headers=sup
    )
    assert closed.status_code == 200
    (link,) = client.get(f"/api/v1/incidents/{robbery['id']}/links", headers=sup).json()
    assert link["status"] == "closed"

    removed = client.post(
        f"/api/v1/incidents/{crash['id']}/links/{robbery['id']}/remove",
        json={"reason": "erreur : autre véhicule"},
        headers=sup,
    )
    assert removed.status_code == 200, removed.text
    for incident in (robbery, crash):
        url = f"/api/v1/incidents/{incident['id']}/links"
        assert client.get(url, headers=sup).json() == []
        (kept,) = client.get(url, params={"removed": "true"}, headers=sup).json()
        assert kept["removed_reason"] == "erreur : autre véhicule"
        assert kept["removed_at"] is not None
    # Linking again after a removal is a new link.
    assert _link(client, sup, crash["id"], robbery["id"]).status_code == 201
    assert session.scalar(select(func.count()).select_from(IncidentLink)) == 2


def test_bad_links_are_refused_and_change_nothing(client: TestClient, sup: dict[str, str]) -> None:
    first = new_incident(client, sup, "theft", at=JAUDE)["incident"]
    second = new_incident(client, sup, "theft", at=GARE)["incident"]
    itself = _link(client, sup, first["id"], first["id"])
    assert itself.status_code == 422
    assert "other" in itself.text
    assert _link(client, sup, first["id"], 999_999).status_code == 404
    no_reason = _link(client, sup, first["id"], second["id"], reason=" ")
    assert no_reason.status_code == 422
    assert "reason" in no_reason.text
    not_linked = client.post(
        f"/api/v1/incidents/{first['id']}/links/{second['id']}/remove",
        json={"reason": "x"},
        headers=sup,
    )
    assert not_linked.status_code == 404
    assert client.get(f"/api/v1/incidents/{first['id']}/links", headers=sup).json() == []
    assert _link(client, sup, first["id"], second["id"]).status_code == 201
    twice = _link(client, sup, second["id"], first["id"])  # the other way round: same pair
    assert twice.status_code == 409
    assert "already linked" in twice.text
    assert len(client.get(f"/api/v1/incidents/{first['id']}/links", headers=sup).json()) == 1


def test_an_analyst_may_read_links_but_not_make_them(
    client: TestClient, session: Session, settings: Settings, sup: dict[str, str]
) -> None:
    analyst = bearer(make_token(session, settings, make_user(session, Role.ANALYST)))
    a = new_incident(client, sup, "theft", at=JAUDE)["incident"]
    b = new_incident(client, sup, "theft", at=GARE)["incident"]
    assert _link(client, analyst, a["id"], b["id"]).status_code == 403
    assert client.get(f"/api/v1/incidents/{a['id']}/links", headers=analyst).status_code == 200


def test_racing_links_of_one_pair_make_one_link(migrated_database_url: str) -> None:
    settings = make_settings(migrated_database_url)
    engine = make_engine(migrated_database_url)
    factory = make_sessionmaker(engine)
    city = load_city(settings)
    ids = []
    for lon, lat in (JAUDE, GARE):
        with session_scope(factory) as session:
            made = flows.intake(
                session=session, ctx=TEST_CTX, settings=settings, city=city,
                incident_in=IncidentIn(type_code="theft", lon=lon, lat=lat),
            )  # fmt: skip
            ids.append(made.incident.id)
    a, b = {"id": ids[0]}, {"id": ids[1]}
    outcomes: list[str] = []
    start = threading.Barrier(8)

    def worker(k: int) -> None:
        source, other = (a["id"], b["id"]) if k % 2 else (b["id"], a["id"])
        start.wait()
        try:
            with session_scope(factory) as session:
                link_incidents(
                    session=session, ctx=TEST_CTX, settings=settings, incident_id=source,
                    link_in=LinkIn(other=other, reason=f"course {k}"),
                )  # fmt: skip
            outcomes.append("linked")
        except ConflictError:
            outcomes.append("refused")

    threads = [threading.Thread(target=worker, args=(k,)) for k in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert sorted(outcomes) == ["linked"] + ["refused"] * 7
    with session_scope(factory) as session:
        assert session.scalar(select(func.count()).select_from(IncidentLink)) == 1
    engine.dispose()


def test_links_from_the_terminal(cli: Cli) -> None:
    for at in ("3.083,45.777", "3.084,45.777"):
        assert cli("incident", "create", "--type", "theft", "--at", at)[0] == 0
    code, out = cli("incident", "link", "1", "--to", "2", "--reason", "même auteur")
    assert code == 0, out
    code, out = cli("incident", "show", "2")
    assert "même auteur" in out
    assert "-000001 (theft, queued)" in out
    code, out = cli("incident", "link", "1", "--to", "1", "--reason", "x")
    assert code == 2
    assert "other" in out
    code, out = cli("incident", "unlink", "2", "--from", "1", "--reason", "erreur")
    assert code == 0, out
    code, out = cli("incident", "show", "2")
    assert "même auteur" not in out
