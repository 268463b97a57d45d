"""A unit transporting someone says where to: kept on its assignment, written in the duty
log; without a destination (or with one for another status) the change is refused."""

from __future__ import annotations

from fastapi.testclient import TestClient

from tests.dispatch_data import GARE, new_incident, new_unit, set_status
from tests.integration.conftest import Cli


def test_transport_destination_is_required_kept_and_logged(
    client: TestClient, sup: dict[str, str]
) -> None:
    incident = new_incident(client, sup, "assault", at=GARE)["incident"]
    unit = new_unit(client, sup, "PS-31", at=GARE)
    sent = client.post(
        f"/api/v1/incidents/{incident['id']}/dispatch", json={"unit_ids": [unit["id"]]}, headers=sup
    )
    assert sent.status_code == 200, sent.text
    wrong = set_status(client, sup, unit["id"], "on_scene", destination="CHU Estaing")
    assert wrong.status_code == 422
    assert "destination" in wrong.text
    assert set_status(client, sup, unit["id"], "on_scene").status_code == 200
    missing = set_status(client, sup, unit["id"], "transporting")
    assert missing.status_code == 422
    assert "destination" in missing.text
    blank = set_status(client, sup, unit["id"], "transporting", destination="   ")
    assert blank.status_code == 422
    after_refusals = client.get(f"/api/v1/units/{unit['id']}", headers=sup).json()
    assert after_refusals["status"] == "on_scene"  # nothing was half-done

    moved = set_status(client, sup, unit["id"], "transporting", destination=" CHU Estaing ")
    assert moved.status_code == 200, moved.text
    assert moved.json()["status"] == "transporting"
    view = client.get(f"/api/v1/incidents/{incident['id']}", headers=sup).json()
    (assignment,) = view["assignments"]
    assert assignment["transport_to"] == "CHU Estaing"
    log = client.get("/api/v1/dutylog", params={"incident_id": incident["id"]}, headers=sup)
    line = [e for e in log.json() if e["kind"] == "unit_status"][-1]
    assert line["text"].endswith("transport vers CHU Estaing")
    assert line["data"]["destination"] == "CHU Estaing"
    assert set_status(client, sup, unit["id"], "at_station").status_code == 200


def test_transport_from_the_terminal(cli: Cli) -> None:
    assert cli("unit", "add", "PS-1", "--type", "car", "--station", "3.083,45.777")[0] == 0
    assert cli("unit", "status", "PS-1", "available")[0] == 0
    assert cli("incident", "create", "--type", "fight", "--at", "3.084,45.777")[0] == 0
    assert cli("incident", "dispatch", "1", "PS-1")[0] == 0
    assert cli("unit", "status", "PS-1", "on_scene")[0] == 0
    code, out = cli("unit", "status", "PS-1", "transporting")
    assert code == 2
    assert "destination" in out
    code, out = cli("unit", "status", "PS-1", "transporting", "--destination", "Commissariat")
    assert code == 0, out
    assert "transporting" in out
