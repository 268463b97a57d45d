"""The offence reference: import (service, API, CLI), search, and the check on closure."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from arverne.config import Settings
from arverne.dispatch import offences
from arverne.dispatch.models import Incident, OffenceCode
from arverne.dispatch.offence_file import read_offence_file
from arverne.security.audit import SYSTEM
from arverne.security.models import AuditEntry
from arverne.security.policy import Role
from tests.data import bearer, make_token, make_user
from tests.dispatch_data import new_incident
from tests.integration.conftest import Cli

HEADER = (
    "Numéro NATINF;Nature de l'infraction;Qualification de l'infraction;Définie par;Réprimée par"
)
DAY = dt.date(2026, 10, 1)


def natinf(*rows: str) -> bytes:
    return "\r\n".join([HEADER, *rows, ""]).encode("cp1252")


FIRST = natinf(
    "7;Délit;RETRAIT DE LA PROVISION D'UN CHÈQUE;ART.L.163-2 C.M.F.;ART.L.163-2 AL.1 C.M.F.",
    "8;Délit;OPPOSITION AU PAIEMENT D'UN CHÈQUE;ART.L.163-2 C.M.F.;ART.L.163-6 C.M.F.",
    "180;Délit;USAGE ILLICITE DE STUPÉFIANTS;ART.L.3421-1 C.S.P.;ART.L.3421-1 C.S.P.",
)


def stored(session: Session) -> dict[str, OffenceCode]:
    session.expire_all()
    return {o.code: o for o in session.scalars(select(OffenceCode))}


def run_import(session: Session, data: bytes, **options: object) -> dict[str, object]:
    summary = offences.import_offences(
        session, SYSTEM, data, source="natinf.csv", as_of=options.pop("as_of", DAY), **options
    )
    session.commit()
    return summary


def test_quarterly_updates_add_change_retire_and_restore(session: Session) -> None:
    first = run_import(session, FIRST)
    assert (first["added"], first["changed"], first["layout"]) == (3, 0, "natinf")
    codes = stored(session)
    assert codes["7"].punished_by == "ART.L.163-2 AL.1 C.M.F."
    assert codes["7"].search_key == "7 retrait de la provision d'un cheque"

    # The next list: 8 is gone, 7's label changes, 9 appears. Without --retire-missing
    # the absent code stays in force and is only reported.
    second = natinf(
        "7;Délit;RETRAIT DE PROVISION D'UN CHÈQUE;ART.L.163-2 C.M.F.;ART.L.163-2 AL.1 C.M.F.",
        "9;Contravention de classe 4;STATIONNEMENT GÊNANT;ART.R.417-10 C.R.;ART.R.417-10 C.R.",
        "180;Délit;USAGE ILLICITE DE STUPÉFIANTS;ART.L.3421-1 C.S.P.;ART.L.3421-1 C.S.P.",
    )
    kept = run_import(session, second, as_of=dt.date(2027, 1, 1))
    assert (kept["added"], kept["changed"], kept["unchanged"], kept["retired"]) == (1, 1, 1, 0)
    assert kept["not_in_file"] == 1
    assert stored(session)["8"].valid_to is None
    examples = kept["examples"]
    assert isinstance(examples, dict)
    assert examples["changed"][0]["fields"]["label"][1] == "RETRAIT DE PROVISION D'UN CHÈQUE"

    retired = run_import(session, second, as_of=dt.date(2027, 1, 1), retire_missing=True)
    assert (retired["retired"], retired["changed"], retired["unchanged"]) == (1, 0, 3)
    codes = stored(session)
    assert codes["8"].valid_to == dt.date(2026, 12, 31)  # last day in force
    assert codes["7"].search_key == "7 retrait de provision d'un cheque"

    # 8 comes back in a later list: in force again.
    back = run_import(session, FIRST, as_of=dt.date(2027, 4, 1))
    assert (back["restored"], back["changed"], back["unchanged"]) == (1, 1, 1)  # 8; 7; 180
    assert stored(session)["8"].valid_to is None
    # A code still to come (valid_from after the list's date) is never retired.
    session.add(
        OffenceCode(code="500", label="A venir", category="Délit", valid_from=dt.date(2028, 1, 1))
    )
    session.commit()
    later = run_import(session, FIRST, as_of=dt.date(2027, 7, 1), retire_missing=True)
    assert later["examples"]["retired"] == ["9"]  # type: ignore[index]
    assert stored(session)["500"].valid_to is None

    actions = session.scalars(
        select(AuditEntry.action).where(AuditEntry.action == "offence_codes.import")
    ).all()
    assert len(actions) == 5


def test_a_bad_file_changes_nothing(session: Session) -> None:
    run_import(session, FIRST)
    before = {c: (o.label, o.valid_to) for c, o in stored(session).items()}
    bad = natinf(
        "7;Délit;NOUVEAU LIBELLÉ;;",
        "10;;SANS NATURE;;",
    )
    with pytest.raises(offences.OffenceImportError) as caught:
        run_import(session, bad, retire_missing=True)
    session.rollback()
    assert caught.value.details == [
        {"field": "line 3: category", "message": caught.value.problems[0].message}
    ]
    assert {c: (o.label, o.valid_to) for c, o in stored(session).items()} == before


def test_replacing_code_must_exist(session: Session) -> None:
    data = b"code,label,category,valid_to,replaced_by\nX1,Old,Delit,2025-01-01,X9\n"
    plan = offences.plan_import(session, read_offence_file(data), as_of=DAY)
    assert [(p.line, p.column) for p in plan.problems] == [(2, "replaced_by")]
    ok = b"code,label,category,valid_to,replaced_by\nX1,Old,Delit,2025-01-01,X2\nX2,New,Delit,,\n"
    assert run_import(session, ok)["added"] == 2
    assert stored(session)["X1"].replaced_by == "X2"


def test_thousands_of_codes_in_one_import(session: Session) -> None:
    rows = [f"{n};Délit;INFRACTION NUMÉRO {n};ART.{n};ART.{n}" for n in range(1, 2501)]
    seen: list[tuple[int, int]] = []
    summary = offences.import_offences(
        session,
        SYSTEM,
        natinf(*rows),
        source="big.csv",
        as_of=DAY,
        progress=lambda done, total: seen.append((done, total)),
    )
    session.commit()
    assert summary["added"] == 2500
    assert seen == [(1000, 2500), (2000, 2500), (2500, 2500)]
    assert session.scalar(select(func.count()).select_from(OffenceCode)) == 2500
    found = offences.search_offences(session, query="numero 250", on=DAY)
    # The code given first, then codes starting with it, then the others (numeric order).
    assert [o.code for o in found] == ["250", "2500", "1250", "2250"]


def _admin(session: Session, settings: Settings) -> dict[str, str]:
    return bearer(make_token(session, settings, make_user(session, Role.ADMIN)))


def test_import_and_search_over_http(
    client: TestClient, session: Session, settings: Settings, sup: dict[str, str]
) -> None:
    admin = _admin(session, settings)
    csv = {"Content-Type": "text/csv"}
    url = "/api/v1/offence-codes/import"
    assert client.post(url, content=FIRST, headers={**sup, **csv}).status_code == 403
    dry = client.post(f"{url}?dry_run=true", content=FIRST, headers={**admin, **csv})
    assert dry.status_code == 200, dry.text
    assert (dry.json()["added"], dry.json()["dry_run"]) == (3, True)
    assert client.get("/api/v1/offence-codes", headers=sup).json() == []

    bad = client.post(url, content=natinf("7;Délit;;;", "x y;Délit;A;;"), headers={**admin, **csv})
    assert bad.status_code == 422
    fields = [e["field"] for e in bad.json()["errors"]]
    assert fields == ["line 2: label", "line 3: code"]
    empty = client.post(url, content=b"", headers={**admin, **csv})
    assert empty.status_code == 422
    assert empty.json()["errors"][0]["field"] == "body"

    done = client.post(
        f"{url}?source=natinf-2026T4.csv&as_of=2026-10-01", content=FIRST, headers={**admin, **csv}
    )
    assert done.status_code == 200, done.text
    assert done.json()["added"] == 3
    assert len(done.json()["sha256"]) == 64

    found = client.get("/api/v1/offence-codes", params={"q": "cheque"}, headers=sup).json()
    assert [o["code"] for o in found] == ["7", "8"]  # accents and case ignored
    assert found[0]["defined_by"] == "ART.L.163-2 C.M.F."
    assert found[0]["in_force"] is True
    by_number = client.get("/api/v1/offence-codes", params={"q": "8"}, headers=sup).json()
    assert by_number[0]["code"] == "8"  # then 180, whose code contains 8
    assert [o["code"] for o in by_number] == ["8", "180"]
    one = client.get("/api/v1/offence-codes/180", headers=sup)
    assert one.json()["label"] == "USAGE ILLICITE DE STUPÉFIANTS"
    assert client.get("/api/v1/offence-codes/999", headers=sup).status_code == 404

    session.get(OffenceCode, "8").valid_to = dt.date(2020, 1, 1)  # type: ignore[union-attr]
    session.commit()
    in_force = client.get("/api/v1/offence-codes", params={"q": "cheque"}, headers=sup).json()
    assert [o["code"] for o in in_force] == ["7"]
    every = client.get(
        "/api/v1/offence-codes", params={"q": "cheque", "include_retired": True}, headers=sup
    ).json()
    assert [(o["code"], o["in_force"]) for o in every] == [("7", True), ("8", False)]
    then = client.get(
        "/api/v1/offence-codes", params={"q": "cheque", "on": "2019-06-01"}, headers=sup
    ).json()
    assert [o["code"] for o in then] == ["7", "8"]


def test_closure_takes_codes_in_force_on_the_day_of_the_call(
    client: TestClient, session: Session, sup: dict[str, str]
) -> None:
    today = dt.date.today()
    session.add_all(
        [
            OffenceCode(
                code="100",
                label="Ancienne",
                category="Délit",
                valid_to=today - dt.timedelta(days=5),
                replaced_by="101",
            ),
            OffenceCode(
                code="101",
                label="Nouvelle",
                category="Délit",
                valid_from=today - dt.timedelta(days=4),
            ),
            OffenceCode(
                code="102",
                label="Future",
                category="Délit",
                valid_from=today + dt.timedelta(days=30),
            ),
        ]
    )
    session.commit()
    iid = new_incident(client, sup, "noise")["incident"]["id"]
    url = f"/api/v1/incidents/{iid}/close"
    refused = client.post(
        url, json={"disposition": "arrest", "offence_codes": ["100", "102"]}, headers=sup
    )
    assert refused.status_code == 422
    detail = refused.json()["detail"]
    assert "100 was not in force" in detail
    assert "replaced by 101" in detail
    assert "102 was not in force" in detail
    assert "in force only from" in detail
    # An incident whose first call came before the change takes the old code.
    incident = session.get(Incident, iid)
    assert incident is not None
    incident.first_call_at = incident.first_call_at - dt.timedelta(days=10)
    session.commit()
    closed = client.post(url, json={"disposition": "arrest", "offence_codes": ["100"]}, headers=sup)
    assert closed.status_code == 200, closed.text
    assert closed.json()["offence_codes"] == ["100"]


def test_offences_from_the_terminal(cli: Cli, tmp_path: Path) -> None:
    good = tmp_path / "natinf.csv"
    good.write_bytes(FIRST)
    code, out = cli("offences", "import", str(good), "--dry-run")
    assert code == 0, out
    assert "dry run" in out
    code, out = cli("offences", "list")
    assert "no code found" in out
    code, out = cli("offences", "import", str(good), "--as-of", "2026-10-01")
    assert code == 0, out
    assert "added: 7, 8, 180" in out
    code, out = cli("offences", "list", "stupefiants")
    assert code == 0
    assert "180" in out
    assert "USAGE ILLICITE" in out
    code, out = cli("offences", "show", "7")
    assert "ART.L.163-2 AL.1 C.M.F." in out
    assert cli("offences", "show", "77")[0] == 2

    bad = tmp_path / "bad.csv"
    bad.write_bytes(natinf("7;Délit;;;"))
    code, out = cli("offences", "import", str(bad))
    assert code == 2
    assert "line" in out
    assert "label" in out
    assert "nothing was imported" in out
    assert cli("offences", "import", str(tmp_path / "missing.csv"))[0] == 2
    assert cli("offences", "import", str(good), "--as-of", "01/10/2026")[0] == 2

    code, out = cli("unit", "add", "PS-1", "--type", "car", "--station", "3.083,45.777")
    code, out = cli("incident", "create", "--type", "theft", "--at", "3.100,45.779")
    assert code == 0, out
    code, out = cli("incident", "close", "1", "--disposition", "arrest", "--offence", "999")
    assert code == 2
    assert "unknown codes ['999']" in out
    code, out = cli("incident", "close", "1", "--disposition", "arrest", "--offence", "180")
    assert code == 0, out
