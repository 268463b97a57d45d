"""``arverne eido export | import`` on a real migrated database."""

from __future__ import annotations

import copy
import datetime as dt
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, func, select
from typer.testing import CliRunner, Result

from arverne.cli import app
from arverne.dispatch import flows
from arverne.dispatch.citypack import load_city
from arverne.dispatch.models import Call, DutyLogEntry, Incident
from arverne.dispatch.schemas import CallIn, IncidentIn
from arverne.security.audit import AuditContext
from arverne.security.models import AuditEntry
from arverne.store.session import make_sessionmaker, session_scope
from tests.conftest import make_settings
from tests.integration.test_eido import _as_foreign

OURS = "police.arverne.example"

Run = Callable[..., Result]
THEFT = ("--type", "theft", "--at", "3.0830,45.7772", "--description", "Vol à l'arraché")


@pytest.fixture
def run(migrated_database_url: str) -> Run:
    """Run ``arverne ARGS...`` with a fixed agency; the result keeps stdout apart."""
    runner = CliRunner()
    env = {
        "ARVERNE_DATABASE_URL": migrated_database_url,
        "ARVERNE_AGENCY_ID": OURS,
        "COLUMNS": "200",
    }

    def invoke(*args: str, stdin: str | None = None) -> Result:
        return runner.invoke(app, list(args), env=env, input=stdin)

    return invoke


def _create(run: Run) -> int:
    result = run("incident", "create", *THEFT)
    assert result.exit_code == 0, result.output
    return 1  # the first incident of a fresh database


def _export(run: Run, iid: int, *extra: str) -> dict[str, Any]:
    result = run("eido", "export", str(iid), *extra)
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)  # type: ignore[no-any-return]


def _counts(engine: Engine) -> tuple[int | None, ...]:
    with engine.connect() as conn:
        return tuple(
            conn.scalar(select(func.count()).select_from(model))
            for model in (Incident, Call, DutyLogEntry)
        )


def test_export_to_a_file_and_to_stdout(run: Run, tmp_path: Path) -> None:
    iid = _create(run)
    target = tmp_path / "incident.json"
    result = run("eido", "export", str(iid), "--out", str(target))
    assert result.exit_code == 0, result.output
    assert str(target) in result.output
    written = json.loads(target.read_text(encoding="utf-8"))
    inc = written["incidentComponent"]
    assert inc["incidentTypeInternalCode"] == "theft"
    assert inc["incidentTrackingIdentifier"].endswith(f":{OURS}")
    assert written["sendingSystemIdentifier"] == OURS
    assert "Vol à l'arraché" in target.read_text(encoding="utf-8")  # not \u-escaped
    printed = _export(run, iid)  # stdout holds the JSON and nothing else
    assert printed["incidentComponent"] == inc
    assert not printed.get("personComponent")


def test_export_of_a_missing_incident_exits_2(run: Run) -> None:
    result = run("eido", "export", "999")
    assert result.exit_code == 2
    assert "incident 999 does not exist" in result.output


def test_personal_needs_a_reason_and_is_audited(
    run: Run, real_engine: Engine, migrated_database_url: str
) -> None:
    settings = make_settings(migrated_database_url)
    with session_scope(make_sessionmaker(real_engine)) as session:
        iid = flows.intake(
            session=session,
            ctx=AuditContext(actor="test"),
            settings=settings,
            city=load_city(settings),
            incident_in=IncidentIn(
                type_code="theft",
                lon=3.0830,
                lat=45.7772,
                call=CallIn(caller_name="A. Témoin", caller_phone="0600000000"),
            ),
        ).incident.id

    refused = run("eido", "export", str(iid), "--personal")
    assert refused.exit_code == 2
    assert "--reason" in refused.output
    assert "A. Témoin" not in refused.output
    plain = run("eido", "export", str(iid))
    assert plain.exit_code == 0, plain.output
    assert "A. Témoin" not in plain.stdout
    assert "0600000000" not in plain.stdout

    doc = _export(run, iid, "--personal", "--reason", "enquête 123")
    (person,) = doc["personComponent"]
    assert person["ncPersonComponent"]["name"] == [{"personFullName": [{"value": "A. Témoin"}]}]
    assert "0600000000" in json.dumps(doc)
    with session_scope(make_sessionmaker(real_engine)) as session:
        reads = session.scalars(
            select(AuditEntry).where(
                AuditEntry.action == "call.read_personal", AuditEntry.object_id == str(iid)
            )
        ).all()
        assert [(r.reason, r.actor[:4], r.details) for r in reads] == [
            ("enquête 123", "cli:", {"via": "eido"})
        ]


def test_import_creates_once(run: Run, tmp_path: Path, real_engine: Engine) -> None:
    iid = _create(run)
    source = tmp_path / "foreign.json"
    source.write_text(json.dumps(_as_foreign(_export(run, iid))), encoding="utf-8")

    result = run("eido", "import", str(source))
    assert result.exit_code == 0, result.output
    assert "imported" in result.output
    assert "theft" in result.output
    assert "queued" in result.output
    listed = run("incident", "list")
    assert listed.output.count("theft") == 2, listed.output
    before = _counts(real_engine)

    again = run("eido", "import", str(source))
    assert again.exit_code == 2
    assert "already received (incident 2)" in again.output
    # Our own export sent back is one of our incidents, refused too.
    own = run("eido", "import", "-", stdin=json.dumps(_export(run, iid)))
    assert own.exit_code == 2
    assert "incident of this system" in own.output
    assert _counts(real_engine) == before


def test_a_later_message_updates_the_imported_incident(run: Run, tmp_path: Path) -> None:
    doc = _as_foreign(_export(run, _create(run)), suffix="3")
    assert run("eido", "import", "-", stdin=json.dumps(doc)).exit_code == 0
    later = copy.deepcopy(doc)
    later["eidoMessageIdentifier"] = "urn:uuid:00000000-0000-4000-8000-0000000000a3"
    sent = dt.datetime.fromisoformat(doc["lastUpdateTimeStamp"]) + dt.timedelta(minutes=5)
    later["lastUpdateTimeStamp"] = sent.isoformat()
    later["incidentComponent"]["incidentPriorityInternalText"] = "P1"
    later["incidentComponent"]["incidentCommonPriorityNumber"] = 9
    result = run("eido", "import", "-", stdin=json.dumps(later))
    assert result.exit_code == 0, result.output
    assert "updated (priorité)" in result.output
    shown = run("incident", "show", "2")
    assert "P1" in shown.output
    # The same state sent again under another id is older than what was applied: refused.
    stale = copy.deepcopy(doc)
    stale["eidoMessageIdentifier"] = "urn:uuid:00000000-0000-4000-8000-0000000000b3"
    refused = run("eido", "import", "-", stdin=json.dumps(stale))
    assert refused.exit_code == 2
    assert "older state is not applied" in refused.output


def test_import_from_stdin(run: Run) -> None:
    doc = _as_foreign(_export(run, _create(run)), suffix="2")
    result = run("eido", "import", "-", stdin=json.dumps(doc))
    assert result.exit_code == 0, result.output
    assert "imported" in result.output
    # A type without Arverne equivalent: taken all the same, to be qualified.
    unknown = _as_foreign(doc, suffix="3")
    unknown["incidentComponent"]["incidentTypeInternalCode"] = "ZZ-LOCAL"
    unknown["incidentComponent"]["incidentTypeCommonRegistryText"] = "SpaceInvasion"
    result = run("eido", "import", "-", stdin=json.dumps(unknown))
    assert result.exit_code == 0, result.output
    assert "to_qualify" in result.output
    assert "qualify it" in result.output


def test_bad_documents_exit_2_naming_the_field(
    run: Run, tmp_path: Path, real_engine: Engine
) -> None:
    doc = _as_foreign(_export(run, _create(run)))
    before = _counts(real_engine)

    broken = tmp_path / "broken.json"
    broken.write_text(json.dumps(doc)[:-20], encoding="utf-8")
    result = run("eido", "import", str(broken))
    assert result.exit_code == 2
    assert "Invalid JSON" in result.output

    unplaced = copy.deepcopy(doc)
    unplaced["locationComponent"][0]["locationByValue"] = "<presence><oops"
    result = run("eido", "import", "-", stdin=json.dumps(unplaced))
    assert result.exit_code == 2
    assert "locationComponent[0].locationByValue" in result.output

    missing = copy.deepcopy(doc)  # no tracking id: neither in the component nor as root $id
    del missing["incidentComponent"]["incidentTrackingIdentifier"]
    missing.pop("$id", None)
    result = run("eido", "import", "-", stdin=json.dumps(missing))
    assert result.exit_code == 2
    assert "incidentComponent.incidentTrackingIdentifier" in result.output

    result = run("eido", "import", str(tmp_path / "nowhere.json"))
    assert result.exit_code == 2
    assert "cannot read" in result.output
    assert _counts(real_engine) == before
