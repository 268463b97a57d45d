"""``arverne eido fetch``: take one incident from a partner's EIDO Retrieval Service.

The on-demand side of NENA-STA-024: a partner gives a dereference URI (from its
Dereference Factory, ``GET …/references/{incidentID}``), or its service's base URL and
an incident tracking id; the command fetches the incident's current EIDO and imports it
here as ``POST /api/v1/eido`` would (the first document creates the incident, a later
one updates it). Arverne serves the same service: :mod:`arverne.web.routes.eido_retrieval`.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Annotated
from urllib.parse import urlsplit

import typer

from arverne.cli._common import console, fail
from arverne.cli.eido import import_document
from arverne.dispatch.eido_export import tracking_segment

TIMEOUT_S = 15.0
MAX_BYTES = 5 * 1024 * 1024  # an EIDO is kilobytes; refuse to read more than this


def retrieval_uri(url: str, incident: str | None) -> str:
    """The URI to fetch: ``url`` itself (a dereference URI), or, with ``incident``, that
    incident below the retrieval service whose base URL ``url`` is."""
    if urlsplit(url).scheme not in ("http", "https"):
        raise fail(f"{url!r} is not an http(s) URL: give the partner's dereference URI")
    if incident is None:
        return url
    return f"{url.rstrip('/')}/incidents/{tracking_segment(incident)}"


def _refusal(exc: urllib.error.HTTPError) -> str:
    """The partner's refusal in one line: status, and the problem's detail if any."""
    try:
        body = json.loads(exc.read(10_000) or b"{}")
    except ValueError:
        body = {}
    detail = body.get("detail") if isinstance(body, dict) else None
    return f"{exc.code} {detail or exc.reason}"


def download(uri: str, token: str | None) -> bytes:
    """The document at ``uri`` (``Accept: application/json``, with the partner's token)."""
    headers = {"Accept": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    request = urllib.request.Request(uri, headers=headers)  # noqa: S310 - scheme checked
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT_S) as answer:  # noqa: S310
            raw: bytes = answer.read(MAX_BYTES + 1)
    except urllib.error.HTTPError as exc:
        raise fail(f"the partner refused {uri}: {_refusal(exc)}") from exc
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise fail(f"cannot fetch {uri}: {reason}") from exc
    if len(raw) > MAX_BYTES:
        raise fail(f"{uri} sent more than {MAX_BYTES // (1024 * 1024)} MB: not an EIDO")
    return raw


def fetch_command(
    url: Annotated[
        str,
        typer.Argument(
            help="The partner's dereference URI, or with --incident its retrieval "
            "service's base URL (…/IncidentData/v1)."
        ),
    ],
    incident: Annotated[
        str | None,
        typer.Option(help="The incident's tracking id, when URL is the service's base URL."),
    ] = None,
    token: Annotated[
        str | None,
        typer.Option(
            envvar="ARVERNE_PARTNER_TOKEN",
            help="The partner's API token (better from ARVERNE_PARTNER_TOKEN).",
        ),
    ] = None,
) -> None:
    """Fetch one incident from another agency's EIDO Retrieval Service and import it here.

    Refused (exit code 2, nothing stored) when the partner refuses or cannot be reached,
    naming its answer, or when the document cannot be imported, naming the field.
    """
    uri = retrieval_uri(url, incident)
    console.print(import_document(download(uri, token)), highlight=False)
