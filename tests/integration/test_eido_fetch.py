"""`arverne eido fetch`: a second Arverne takes one incident on demand from a partner's
EIDO Retrieval Service (a served process), by the dereference URI or by the service's
base URL and the tracking id; the partner's refusals end it with exit code 2."""

from __future__ import annotations

import subprocess
from pathlib import Path

import httpx
from sqlalchemy import select

from arverne.dispatch.models import Incident
from arverne.store.session import make_engine
from tests.data import bearer
from tests.dispatch_data import JAUDE
from tests.integration.test_eido_ws import CLI, _follower_env, _take_call

BASE = "/api/v1/IncidentData/v1"


def test_an_incident_is_fetched_then_fetched_again_after_a_change(
    two_servers: tuple[str, str, str], tmp_path: Path
) -> None:
    partner, _, token = two_servers
    incident = _take_call(partner, token, "noise", JAUDE)
    exported = httpx.get(
        f"{partner}/api/v1/incidents/{incident['id']}/eido", headers=bearer(token), timeout=10
    )
    tracking = exported.json()["incidentComponent"]["incidentTrackingIdentifier"]
    reference = httpx.get(f"{partner}{BASE}/references/{tracking}", headers=bearer(token))
    assert reference.status_code == 200, reference.text
    env = _follower_env(tmp_path / "here.db", ARVERNE_AGENCY_ID="police.ici.example")

    def fetch(*args: str, **extra: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(  # noqa: S603 - our own CLI
            [*CLI, "eido", "fetch", *args], env={**env, **extra}, capture_output=True,
            text=True, timeout=60, check=False,
        )  # fmt: skip

    first = fetch(reference.text, "--token", token)
    assert first.returncode == 0, first.stdout + first.stderr
    assert "imported" in first.stdout
    raised = httpx.patch(
        f"{partner}/api/v1/incidents/{incident['id']}",
        json={"priority": 1, "reason": "rixe"},
        headers=bearer(token),
        timeout=10,
    )
    assert raised.status_code == 200, raised.text
    again = fetch(partner + BASE, "--incident", tracking, ARVERNE_PARTNER_TOKEN=token)
    assert again.returncode == 0, again.stdout + again.stderr
    assert "updated (priorité)" in again.stdout

    nowhere = "urn:emergency:uid:incidentid:9-9:x"
    unknown = fetch(partner + BASE, "--incident", nowhere, "--token", token)
    assert unknown.returncode == 2
    assert "404" in unknown.stderr
    assert nowhere in unknown.stderr
    wrong = fetch(reference.text, "--token", "nope")
    assert wrong.returncode == 2
    assert "401" in wrong.stderr
    not_http = fetch("ftp://partner.example/x")
    assert (not_http.returncode, "http(s)" in not_http.stderr) == (2, True)

    engine = make_engine(env["ARVERNE_DATABASE_URL"])
    with engine.connect() as conn:
        rows = conn.execute(select(Incident.type_code, Incident.priority)).all()
    engine.dispose()
    assert [tuple(r) for r in rows] == [("noise", 1)]  # one incident, updated
