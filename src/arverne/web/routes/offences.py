"""The offence reference (NATINF-like): search it, read a code, import the official list."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi import Path as PathParam

from arverne.dispatch import offences
from arverne.dispatch.models import OffenceCode
from arverne.errors import InvalidInputError, NotFoundError
from arverne.security.principal import Principal
from arverne.web.deps import AuditCtx, SessionDep, SettingsDep, require
from arverne.web.routing import TransactionalRoute

router = APIRouter(route_class=TransactionalRoute, prefix="/api/v1", tags=["offences"])
MAX_FILE_BYTES = 32 * 1024 * 1024  # the official list is about 4 MB


@router.get("/offence-codes", summary="Search the offence reference (NATINF-like)")
def search(
    session: SessionDep,
    settings: SettingsDep,
    _: Principal = require("incident:read"),
    q: Annotated[
        str | None,
        Query(max_length=200, description="Words in the code or label; case and accents ignored."),
    ] = None,
    on: Annotated[
        dt.date | None, Query(description="Only codes in force that day (default: today).")
    ] = None,
    include_retired: Annotated[
        bool, Query(description="Also codes no longer (or not yet) in force.")
    ] = False,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> list[dict[str, Any]]:
    """The codes that may be recorded when closing an incident: an exact code first, then
    codes starting with the query, then the others whose label has every word."""
    day = on or settings.today()
    found = offences.search_offences(
        session, query=q, on=None if include_retired else day, limit=limit, offset=offset
    )
    return [offences.offence_dict(o, on=day) for o in found]


@router.get("/offence-codes/{code}", summary="One offence code, retired or not")
def read(
    code: Annotated[str, PathParam(max_length=16)],
    session: SessionDep,
    settings: SettingsDep,
    _: Principal = require("incident:read"),
) -> dict[str, Any]:
    """The code with its label, articles, validity and replacement."""
    offence = session.get(OffenceCode, code)
    if offence is None:
        raise NotFoundError("offence code", code)
    return offences.offence_dict(offence, on=settings.today())


async def _file(request: Request) -> bytes:
    """The request body (read on the event loop), refused past :data:`MAX_FILE_BYTES`
    or when empty."""
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_FILE_BYTES:
            raise InvalidInputError("body", f"larger than {MAX_FILE_BYTES // 2**20} MB")
        chunks.append(chunk)
    data = b"".join(chunks)
    if not data.strip():
        raise InvalidInputError("body", "is empty; send the CSV file as the request body")
    return data


@router.post(
    "/offence-codes/import",
    summary="Import the offence reference from a CSV file (the NATINF list or Arverne's layout)",
    openapi_extra={
        "requestBody": {"required": True, "content": {"text/csv": {"schema": {"type": "string"}}}}
    },
)
def import_file(
    data: Annotated[bytes, Depends(_file)],
    session: SessionDep,
    settings: SettingsDep,
    ctx: AuditCtx,
    _: Principal = require("reference:manage"),
    source: Annotated[
        str, Query(max_length=200, description="Name of the file, kept in the audit log.")
    ] = "upload.csv",
    as_of: Annotated[
        dt.date | None, Query(description="Date of the list (default: today).")
    ] = None,
    retire_missing: Annotated[
        bool, Query(description="Retire the codes in force that the file does not list.")
    ] = False,
    dry_run: Annotated[bool, Query(description="Report what would change; write nothing.")] = False,
) -> dict[str, Any]:
    """Add, update, retire and restore codes in one transaction; a file with any bad row
    is refused with every problem listed (422) and changes nothing. Codes are never
    deleted. The body is the file itself (``Content-Type: text/csv``)."""
    return offences.import_offences(
        session,
        ctx,
        data,
        source=source,
        as_of=as_of or settings.today(),
        retire_missing=retire_missing,
        dry_run=dry_run,
    )
