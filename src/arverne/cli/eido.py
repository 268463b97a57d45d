"""``arverne eido export | import``: NENA EIDO documents from a terminal (``fetch`` and
``follow``, which take them from a partner, are in their own modules).

The commands call the same functions as ``GET /api/v1/incidents/{id}/eido`` and
``POST /api/v1/eido``, so the documents are the same and every import or read of
callers' identities is audited; the actor is the operating-system account
(``cli:<user>``). This system's agency is ``ARVERNE_AGENCY_ID``, else this machine's
fully qualified name.
"""

from __future__ import annotations

import json
import socket
from pathlib import Path
from typing import Annotated

import typer

from arverne.cli._common import cli_context, console, db_session, domain_errors, fail, load_settings
from arverne.config import Settings
from arverne.dispatch import dutylog, eido, service
from arverne.dispatch.city import CityModel
from arverne.dispatch.citypack import load_city
from arverne.dispatch.eido_schemas import EidoDocument
from arverne.dispatch.taxonomy import UNQUALIFIED
from arverne.security.policy import Role

app = typer.Typer(
    help="NENA EIDO: export an incident; import, fetch or follow another agency's incidents.",
    no_args_is_help=True,
)

# Whoever runs the CLI on the server administers it (as `arverne user` and `arverne audit`
# assume); the read of callers' identities is still refused without a reason, and audited.
CLI_ROLES = [Role.ADMIN.value]


def own_agency(settings: Settings) -> str:
    """This system's agency identifier: ``ARVERNE_AGENCY_ID``, else this machine's fully
    qualified name, else its host name ("localhost" names none)."""
    if settings.agency_id:
        return settings.agency_id
    for name in (socket.getfqdn(), socket.gethostname()):
        if name and not name.startswith("localhost"):
            return name
    return "arverne.invalid"


def _agency(settings: Settings, city: CityModel) -> eido.AgencyInfo:
    return eido.AgencyInfo(
        identifier=own_agency(settings),
        name=f"Arverne — {city.name}",
        zone=settings.zone,
    )


def _import_line(received: eido.Received) -> str:
    """The one line printed once an import is committed."""
    incident = received.incident
    head = f"{incident.number} {incident.type_code} — {incident.status}"
    if received.created and incident.type_code == UNQUALIFIED:
        return (
            f"{head}: imported; its nature is to be determined (the sender's type has no "
            f"Arverne equivalent): qualify it in the console or with "
            f"PATCH /api/v1/incidents/{incident.id}"
        )
    if received.created:
        return f"{head}: imported"
    return f"{head}: updated ({', '.join(received.changes) or 'no change'})"


@app.command("export")
def export(
    incident_id: Annotated[int, typer.Argument(min=1, help="The incident's id.")],
    out: Annotated[
        Path | None,
        typer.Option(
            "--out", "-o", dir_okay=False, help="Write to this file (default: standard output)."
        ),
    ] = None,
    personal: Annotated[
        bool, typer.Option("--personal", help="Include callers' names and phones (audited).")
    ] = False,
    reason: Annotated[
        str | None, typer.Option(help="Why callers' identities are needed (with --personal).")
    ] = None,
) -> None:
    """Write an incident as NENA EIDO JSON, the document of the web API.

    Callers' names and phones only with --personal and a --reason; that read is audited.
    \f

    Parameters
    ----------
    incident_id
        The incident to export.
    out
        The file to write; without it the JSON alone goes to standard output.
    personal
        Include callers' identities; needs ``--reason`` and is recorded in the audit log
        as ``call.read_personal``.
    reason
        Why the identities are needed (kept in the audit log).
    """
    if personal and not (reason and reason.strip()):
        raise fail("--personal needs --reason: say why you need the callers' identities")
    settings = load_settings()
    with domain_errors(), db_session(settings) as session:
        incident = service.get_incident(session, incident_id)
        if personal:
            service.read_callers(
                session, cli_context(), roles=CLI_ROLES, incident_id=incident.id,
                reason=reason, via="eido",
            )  # fmt: skip
        doc = eido.export_incident(
            incident,
            agency=_agency(settings, load_city(settings)),
            include_personal=personal,
            log=dutylog.list_log(session, incident_id=incident.id, kinds=eido.NOTE_KINDS),
        )
        text = json.dumps(
            doc.model_dump(mode="json", by_alias=True, exclude_none=True),
            ensure_ascii=False,
            indent=2,
        )
    # Written once the transaction (and its audit entry) is committed.
    if out is None:
        typer.echo(text)
        return
    try:
        out.write_text(text + "\n", encoding="utf-8")
    except OSError as exc:
        raise fail(f"cannot write {out}: {exc.strerror or exc}") from exc
    console.print(f"incident {incident_id} exported to {out}", highlight=False)


@app.command("import")
def import_(
    source: Annotated[
        str, typer.Argument(metavar="FILE", help="EIDO JSON file, or - for standard input.")
    ],
) -> None:
    """Import another agency's NENA EIDO JSON, as the web API does: the first message
    about an incident creates it, a later one updates it.

    Refused (exit code 2, nothing stored) naming the field that cannot be accepted, or
    when the message was already received or is older than the last one applied.
    \f

    Parameters
    ----------
    source
        The document's file, or ``-`` to read it from standard input.
    """
    try:
        raw = (
            typer.get_binary_stream("stdin").read() if source == "-" else Path(source).read_bytes()
        )
    except OSError as exc:
        raise fail(f"cannot read {source}: {exc.strerror or exc}") from exc
    console.print(import_document(raw), highlight=False)


def import_document(raw: bytes) -> str:
    """Import one EIDO document (JSON bytes) in one transaction, as ``POST /api/v1/eido``;
    the line to print. Refusals exit with code 2 naming the field or the conflict."""
    settings = load_settings()
    with domain_errors():
        doc = EidoDocument.model_validate_json(raw)
        with db_session(settings) as session:
            city = load_city(settings)
            received = eido.import_eido(
                session,
                cli_context(),
                settings,
                city,
                doc,
                own_agency=_agency(settings, city).identifier,
            )
            return _import_line(received)
