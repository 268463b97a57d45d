"""``arverne eido follow``: the subscriber side of EIDO conveyance (NENA-STA-024).

Follows another agency's incidents over its WebSocket and imports each EIDO it sends
through the same path as ``POST /api/v1/eido``: the first document about an incident
creates it here, later ones update it, repeated or older ones are skipped. The
subscription is renewed before it expires, every ``event`` is acknowledged (status 200,
or 400 naming the documents refused), and a dropped connection is reopened with
back-off, then subscribed again. The WebSocket sub-protocol of the standard is offered;
a partner that confirms none is followed all the same. Messages:
:mod:`arverne.dispatch.eido_conveyance`.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from typing import Annotated, Any

import anyio
import typer
import websockets
from pydantic import ValidationError
from sqlalchemy.orm import Session, sessionmaker

from arverne.cli._common import (
    cli_context,
    console,
    engine_for,
    fail,
    load_settings,
    require_migrated,
)
from arverne.cli.eido import own_agency
from arverne.config import Settings
from arverne.dispatch import eido
from arverne.dispatch import eido_conveyance as conv
from arverne.dispatch.city import CityModel
from arverne.dispatch.citypack import load_city
from arverne.dispatch.eido_schemas import EidoDocument
from arverne.errors import ConflictError, InvalidInputError
from arverne.store.session import make_sessionmaker, session_scope

RENEW_AT = 0.8  # of the granted ``expires``
# What a notifier answers to a subscribe: its response, or "Not implemented" (501).
_ANSWERS = ("subscribeResponse", "response")


class SubscriptionRefusedError(Exception):
    """The partner answered the subscription with a status other than 200."""


class _Importer:
    """Imports documents into this system's database, one transaction each."""

    def __init__(self, settings: Settings, factory: sessionmaker[Session], city: CityModel):
        self.settings, self.factory, self.city = settings, factory, city
        self.agency = own_agency(settings)
        self.seen = 0  # documents received

    def __call__(self, raw: dict[str, Any]) -> tuple[bool, str]:
        """Import one document: (accepted, the line to print)."""
        self.seen += 1
        try:
            doc = EidoDocument.model_validate(raw)
            with session_scope(self.factory) as session:
                received = eido.import_eido(
                    session, cli_context(), self.settings, self.city, doc, own_agency=self.agency
                )
                number, created = received.incident.number, received.created
                changes = ", ".join(received.changes) or "no change"
        except ConflictError as exc:
            return True, f"skipped: {exc}"  # already received, or older: nothing to do
        except InvalidInputError as exc:
            return False, f"refused: {exc}"
        except ValidationError as exc:
            first = exc.errors()[0]
            return False, f"refused: {'.'.join(map(str, first['loc']))}: {first['msg']}"
        return True, f"{number} imported" if created else f"{number} updated ({changes})"


def _subscribe_message(incident: str | None, expires: int, renew: str | None) -> conv.Message:
    body: dict[str, Any] = {"requestId": str(uuid.uuid4())}
    if renew:  # the subscription alone names what is renewed
        body["subscriptionId"] = renew
    elif incident:
        body.update(requestType="EIDO", requestSubType="single", incidentId=incident)
    else:
        body.update(requestType="EIDO", requestSubType="new")
    body["expires"] = expires
    return {"subscribe": body}


async def follow(
    url: str,
    token: str,
    importer: _Importer,
    *,
    incident: str | None,
    expires: int,
    seconds: float | None,
) -> int:
    """Follow the partner until ``seconds`` have passed (or forever); documents seen.

    A connection that cannot be opened, or drops, is retried with back-off; a refused
    handshake (a bad token: 403) or subscription ends the command.
    """
    loop = asyncio.get_running_loop()
    stop = loop.time() + seconds if seconds else None
    headers = {"Authorization": f"Bearer {token}"}

    async def run() -> None:
        async for ws in websockets.connect(
            url,
            additional_headers=headers,
            open_timeout=10,
            subprotocols=[websockets.Subprotocol(conv.SUBPROTOCOL)],  # served without, too
        ):
            try:
                await _session(ws, importer, incident, expires, stop)
                await ws.close()
                return
            except websockets.ConnectionClosed:
                console.print("[yellow]connection lost: reconnecting[/]")

    try:  # the deadline also covers a partner that cannot be reached
        async with asyncio.timeout(seconds + 2 if seconds else None):
            await run()
    except TimeoutError:
        pass
    return importer.seen


async def _session(
    ws: Any, importer: _Importer, incident: str | None, expires: int, stop: float | None
) -> None:
    """One connection: subscribe, then import events and renew until ``stop``."""
    loop = asyncio.get_running_loop()
    await ws.send(json.dumps(_subscribe_message(incident, expires, None)))
    subscription, granted = await _accepted(ws)
    console.print(f"subscribed ({subscription}, renewed every {granted * RENEW_AT:.0f} s)")
    renew_at = loop.time() + granted * RENEW_AT
    while stop is None or loop.time() < stop:
        wait = min(renew_at, stop or renew_at) - loop.time()
        try:
            text = await asyncio.wait_for(ws.recv(), timeout=max(wait, 0.05))
        except TimeoutError:
            if loop.time() >= renew_at:
                await ws.send(json.dumps(_subscribe_message(None, expires, subscription)))
                renew_at = loop.time() + granted * RENEW_AT
            continue
        try:
            kind, body = conv.parse(text)
        except conv.ProtocolError as exc:
            console.print(f"[yellow]ignored a frame of the partner: {exc}[/]")
            continue
        if kind == "event":
            await _event(ws, importer, body)
        elif kind in _ANSWERS and body.get("statusCode") != 200:
            raise SubscriptionRefusedError(f"{body.get('statusCode')} {body.get('statusText')}")
        elif kind == "terminate":
            answer = {k: body.get(k) for k in ("requestId", "subscriptionId")}
            await ws.send(
                json.dumps({"terminateResponse": {**answer, "statusCode": 200, "statusText": "OK"}})
            )
            console.print("[yellow]subscription ended by the partner[/]")
            await ws.close()
            raise websockets.ConnectionClosedOK(None, None)


async def _accepted(ws: Any) -> tuple[str, int]:
    while True:
        kind, body = conv.parse(await asyncio.wait_for(ws.recv(), timeout=30))
        if kind not in _ANSWERS:
            continue
        if body.get("statusCode") != 200:
            raise SubscriptionRefusedError(f"{body.get('statusCode')} {body.get('statusText')}")
        return str(body["subscriptionId"]), int(body.get("expires") or 3600)


async def _event(ws: Any, importer: _Importer, body: dict[str, Any]) -> None:
    documents = body.get("notification") or []
    refused = []
    for raw in documents:
        accepted, line = await anyio.to_thread.run_sync(importer, raw)
        console.print(("" if accepted else "[red]") + line, highlight=False)
        if not accepted:
            tracking = (raw.get("incidentComponent") or {}).get("incidentTrackingIdentifier")
            refused.append(f"{tracking}: {line}")
    status = (400, "; ".join(refused)[:500]) if refused else (200, "OK")
    answer = {"transactionId": body.get("transactionId"), "statusCode": status[0]}
    await ws.send(json.dumps({"eventResponse": {**answer, "statusText": status[1]}}))


def follow_command(
    url: Annotated[str, typer.Argument(help="The partner's WebSocket, wss://.../eido/ws.")],
    token: Annotated[
        str,
        typer.Option(
            envvar="ARVERNE_PARTNER_TOKEN",
            help="The partner's API token (better from ARVERNE_PARTNER_TOKEN).",
        ),
    ],
    incident: Annotated[
        str | None, typer.Option(help="Follow this incident (tracking id) only.")
    ] = None,
    expires: Annotated[
        int,
        typer.Option(
            min=conv.MIN_EXPIRES_S,
            max=conv.MAX_EXPIRES_S,
            help="Subscription length asked, in seconds (renewed at 80 %).",
        ),
    ] = 3600,
    seconds: Annotated[
        float | None, typer.Option(min=1, help="Stop after this long (default: never).")
    ] = None,
) -> None:
    """Follow another agency's incidents over its EIDO WebSocket and import them here."""
    settings = load_settings()
    engine = engine_for(settings)
    try:
        require_migrated(engine)
        importer = _Importer(settings, make_sessionmaker(engine), load_city(settings))
        seen = asyncio.run(
            follow(url, token, importer, incident=incident, expires=expires, seconds=seconds)
        )
    except SubscriptionRefusedError as exc:
        raise fail(f"the partner refused the subscription: {exc}") from exc
    except (OSError, websockets.InvalidHandshake, websockets.InvalidURI) as exc:
        raise fail(f"cannot follow {url}: {exc}") from exc
    finally:
        engine.dispose()
    console.print(f"{seen} document(s) received")
