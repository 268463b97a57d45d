"""EIDO conveyance over a WebSocket (NENA-STA-024, messages as NENA's published schema
names them): subscribe to one incident or to all, receive its EIDO when it changes,
keep-alives, renewal, unsubscribe; bad requests answered with the schema's status codes
and a text naming the field; no token, no socket; audited."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, NamedTuple

import httpx
import pytest
import websockets
from fastapi.testclient import TestClient
from sqlalchemy import Engine, func, select, update
from starlette.websockets import WebSocketDisconnect

from arverne.dispatch import eido_conveyance as conv
from arverne.dispatch.models import Incident
from arverne.security.models import AuditEntry
from arverne.security.policy import Role
from arverne.store.session import make_engine, make_sessionmaker, session_scope
from arverne.store.types import utcnow
from arverne.web.app import create_app
from arverne.web.routes import eido_ws
from tests.conftest import make_settings, run_in_new_loop
from tests.data import bearer, make_token, make_user
from tests.dispatch_data import GARE, JAUDE, new_incident

URL = "/api/v1/eido/ws"


class Served(NamedTuple):
    """The app served on its own engine, and the headers of two accounts."""

    client: TestClient
    sup: dict[str, str]  # a supervisor who dispatches
    trainer: dict[str, str]  # an account without incident:read
    engine: Engine


@pytest.fixture
def served(migrated_database_url: str) -> Iterator[Served]:
    """The app on its own engine (every request, poll and socket on its own connection,
    as served) and a supervisor's token; the WebSocket and the writes run concurrently."""
    settings = make_settings(migrated_database_url)
    engine = make_engine(migrated_database_url)
    with session_scope(make_sessionmaker(engine)) as session:
        token = make_token(session, settings, make_user(session, Role.SUPERVISOR, Role.DISPATCHER))
        reader = make_token(session, settings, make_user(session, Role.TRAINER, username="form"))
    with TestClient(create_app(settings), base_url="https://testserver") as client:
        yield Served(client, bearer(token), bearer(reader), engine)
    engine.dispose()


def _tracking(client: TestClient, headers: dict[str, str], iid: int) -> str:
    doc = client.get(f"/api/v1/incidents/{iid}/eido", headers=headers).json()
    return str(doc["incidentComponent"]["incidentTrackingIdentifier"])


def _send(ws: Any, kind: str, **body: Any) -> None:
    ws.send_text(json.dumps({kind: body}))


def _receive(ws: Any, kind: str) -> dict[str, Any]:
    """The next message of ``kind`` (acknowledging events on the way)."""
    while True:
        ((got, body),) = json.loads(ws.receive_text()).items()
        if got == "event":
            _send(ws, "eventResponse", transactionId=body["transactionId"], statusCode=200,
                  statusText="OK")  # fmt: skip
        if got == kind:
            return dict(body)


def test_a_single_incident_is_notified_when_it_changes(served: Served) -> None:
    client, sup, _, engine = served
    incident = new_incident(client, sup, "noise", at=JAUDE)["incident"]
    other = new_incident(client, sup, "theft", at=GARE)["incident"]
    tracking = _tracking(client, sup, incident["id"])
    with client.websocket_connect(URL, headers=sup) as ws:
        _send(ws, "subscribe", requestId="r1", requestType="EIDO", requestSubType="single",
              incidentId=tracking, expires=600, minRate=30)  # fmt: skip
        answer = _receive(ws, "subscribeResponse")
        assert (answer["requestId"], answer["statusCode"], answer["statusText"]) == (
            "r1",
            200,
            "OK",
        )
        assert (answer["expires"], answer["minRate"]) == (600, 30)
        subscription = answer["subscriptionId"]
        first = _receive(ws, "event")  # the current state straight away
        assert first["subscriptionId"] == subscription
        (doc,) = first["notification"]
        assert doc["incidentComponent"]["incidentTrackingIdentifier"] == tracking
        assert not doc.get("personComponent")  # no caller identities

        changed = client.patch(
            f"/api/v1/incidents/{other['id']}", json={"priority": 1}, headers=sup
        )
        assert changed.status_code == 200  # another incident: not notified
        changed = client.patch(
            f"/api/v1/incidents/{incident['id']}", json={"priority": 1, "reason": "rixe"},
            headers=sup,
        )  # fmt: skip
        assert changed.status_code == 200
        update = _receive(ws, "event")
        (doc,) = update["notification"]
        assert doc["incidentComponent"]["incidentTrackingIdentifier"] == tracking
        assert doc["incidentComponent"]["incidentPriorityInternalText"] == "P1"

        _send(ws, "subscribe", requestId="r2", requestType="EIDO", subscriptionId=subscription)
        renewed = _receive(ws, "subscribeResponse")
        assert (renewed["statusCode"], renewed["subscriptionId"]) == (200, subscription)
        _send(ws, "unsubscribe", requestId="r3", subscriptionId=subscription)
        done = _receive(ws, "unsubscribeResponse")
        assert (done["requestId"], done["statusCode"]) == ("r3", 200)
        with pytest.raises(WebSocketDisconnect):
            ws.receive_text()
    with engine.connect() as conn:
        actions = conn.scalars(
            select(AuditEntry.action).where(AuditEntry.object_type == "eido_subscription")
        ).all()
    assert list(actions) == ["eido.subscribe", "eido.subscription_end"]


def test_a_subscription_to_all_gets_the_open_incidents_then_new_ones(served: Served) -> None:
    client, sup, _, _ = served
    before = new_incident(client, sup, "theft", at=JAUDE)["incident"]
    with client.websocket_connect(URL, headers=sup) as ws:
        _send(ws, "subscribe", requestId="a", requestType="EIDO", requestSubType="new")
        assert _receive(ws, "subscribeResponse")["statusCode"] == 200
        first = _receive(ws, "event")
        numbers = [d["incidentComponent"]["internalIncidentId"] for d in first["notification"]]
        assert before["number"] in numbers
        created = new_incident(client, sup, "fight", at=GARE)["incident"]
        later = _receive(ws, "event")
        numbers = [d["incidentComponent"]["internalIncidentId"] for d in later["notification"]]
        assert numbers == [created["number"]]


@pytest.mark.parametrize(
    ("body", "kind", "code", "words"),
    [
        ({"requestType": "EIDO"}, "subscribeResponse", 400, "requestId"),
        ({"requestId": "x"}, "subscribeResponse", 400, "requestType is required"),
        ({"requestId": "x", "requestType": "EIDO", "requestSubType": "single"},
         "subscribeResponse", 400, "incidentId"),
        ({"requestId": "x", "requestType": "EIDO", "requestSubType": "single",
          "incidentId": "urn:emergency:uid:incidentid:2026-999999:nowhere"},
         "subscribeResponse", 404, "unknown"),
        ({"requestId": "x", "requestType": "SIP"}, "response", 501, "Not implemented"),
        ({"requestId": "x", "requestType": "EIDO", "qualFilter": "type=fire"},
         "response", 501, "Not implemented"),
        ({"requestId": "x", "requestType": "EIDO", "requestSubType": "resource"},
         "response", 501, "Not implemented"),
        ({"requestId": "x", "requestType": "EIDO", "requestSubType": "single",
          "incidentId": "urn:x", "qualFilter": "type=fire"},
         "subscribeResponse", 400, "qualFilter must not"),
        ({"requestId": "x", "requestType": "EIDO", "requestAccepts": "application/xml"},
         "subscribeResponse", 406, "JSON"),
        ({"requestId": "x", "requestType": "EIDO", "requestSubType": "all"},
         "subscribeResponse", 400, "single, new, resource"),
        ({"requestId": "x", "subscriptionId": "nope"}, "subscribeResponse", 481, "not exist"),
    ],
)  # fmt: skip
def test_bad_subscriptions_are_answered_with_a_status(
    served: Served, body: dict[str, Any], kind: str, code: int, words: str
) -> None:
    client, sup, _, _ = served
    with client.websocket_connect(URL, headers=sup) as ws:
        ws.send_text(json.dumps({"subscribe": body}))
        answer = _receive(ws, kind)
        assert answer["statusCode"] == code
        assert words in answer["statusText"]
        assert answer.get("requestId") == body.get("requestId")
        _send(ws, "unsubscribe", requestId="u", subscriptionId="nope")
        assert _receive(ws, "unsubscribeResponse")["statusCode"] == 481
        _send(ws, "publish", requestId="p")  # a request this notifier does not offer
        assert _receive(ws, "response") == {
            "requestId": "p", "statusCode": 501, "statusText": "Not implemented"
        }  # fmt: skip
        ws.send_text("not json")  # a frame that is no message closes the socket
        with pytest.raises(WebSocketDisconnect) as closed:
            ws.receive_text()
        assert closed.value.code == 1007


def test_no_socket_without_a_token_that_may_read_incidents(served: Served) -> None:
    client, _, trainer, _ = served
    for headers in ({}, {"Authorization": "Bearer nope"}):
        with (
            pytest.raises(WebSocketDisconnect) as refused,
            client.websocket_connect(URL, headers=headers) as ws,
        ):
            ws.receive_text()
        assert refused.value.code == 1008
    with pytest.raises(WebSocketDisconnect), client.websocket_connect(URL, headers=trainer) as ws:
        ws.receive_text()


CLI = [sys.executable, "-m", "arverne.cli"]


def _take_call(server: str, token: str, type_code: str, at: tuple[float, float]) -> Any:
    """Intake a call on a served process; return the answer's incident."""
    made = httpx.post(
        f"{server}/api/v1/incidents",
        json={"type_code": type_code, "lon": at[0], "lat": at[1]},
        headers=bearer(token),
        timeout=10,
    )
    assert made.status_code == 201, made.text
    return made.json()["incident"]


def _follower_env(database: Path, **extra: str) -> dict[str, str]:
    """The environment of a second Arverne on its own migrated SQLite ``database``."""
    env = {**os.environ, "ARVERNE_DATABASE_URL": f"sqlite:///{database}", **extra}
    subprocess.run([*CLI, "db", "upgrade"], env=env, check=True, capture_output=True)  # noqa: S603
    return env


def test_a_change_made_through_another_server_process_is_notified(
    two_servers: tuple[str, str, str],
) -> None:
    """A partner connected to one process hears of an incident taken by another."""
    writer, reader, token = two_servers

    async def scenario() -> dict[str, Any]:
        url = reader.replace("http://", "ws://") + URL
        async with websockets.connect(url, additional_headers=bearer(token)) as ws:
            await ws.send(json.dumps({"subscribe": {"requestId": "p", "requestType": "EIDO"}}))
            answers = [json.loads(await ws.recv()) for _ in range(2)]  # response, first event
            assert answers[0]["subscribeResponse"]["statusCode"] == 200
            body = {"type_code": "theft", "lon": JAUDE[0], "lat": JAUDE[1]}
            async with httpx.AsyncClient() as http:
                made = await http.post(
                    f"{writer}/api/v1/incidents", json=body, headers=bearer(token), timeout=10
                )
            assert made.status_code == 201, made.text
            message = json.loads(await asyncio.wait_for(ws.recv(), timeout=10))
            message["number"] = made.json()["incident"]["number"]
            return message

    message = run_in_new_loop(scenario)  # some tests leave a loop running in this thread
    (doc,) = message["event"]["notification"]
    assert doc["incidentComponent"]["internalIncidentId"] == message["number"]


def test_an_expired_subscription_is_terminated(
    served: Served, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each subscription ends on its own; the socket closes when the last one has."""
    monkeypatch.setattr(conv, "MIN_EXPIRES_S", 1)
    client, sup, _, engine = served
    with client.websocket_connect(URL, headers=sup) as ws:
        _send(ws, "subscribe", requestId="e", requestType="EIDO", expires=1)
        answer = _receive(ws, "subscribeResponse")
        assert answer["expires"] == 1
        _send(ws, "subscribe", requestId="f", requestType="EIDO", expires=3)
        longer = _receive(ws, "subscribeResponse")["subscriptionId"]
        ended = _receive(ws, "terminate")
        assert ended["subscriptionId"] == answer["subscriptionId"]
        assert ended["requestId"]  # the notifier's, for the subscriber's terminateResponse
        _send(ws, "subscribe", requestId="g", subscriptionId=longer)  # the socket still serves
        assert _receive(ws, "subscribeResponse")["statusCode"] == 200
        assert _receive(ws, "terminate")["subscriptionId"] == longer
        with pytest.raises(WebSocketDisconnect) as closed:
            ws.receive_text()
        assert closed.value.code == 1000
    with engine.connect() as conn:
        details = conn.scalars(
            select(AuditEntry.details).where(AuditEntry.action == "eido.subscription_end")
        ).all()
    assert [d["detail"] for d in details] == ["expired", "expired"]


def test_one_socket_holds_several_subscriptions(served: Served) -> None:
    """NENA-STA-024: a WebSocket handles several subscriptions; each gets its own
    events; unsubscribing one leaves the others; the last one closes the socket."""
    client, sup, _, engine = served
    first = new_incident(client, sup, "noise", at=JAUDE)["incident"]
    second = new_incident(client, sup, "theft", at=GARE)["incident"]
    trackings = [_tracking(client, sup, i["id"]) for i in (first, second)]
    offered = {**sup}  # the test client writes the offer into the headers it is given
    with client.websocket_connect(URL, headers=offered, subprotocols=["emergency-ent1.0"]) as ws:
        assert ws.accepted_subprotocol == "emergency-ent1.0"
        subs = []
        for n, tracking in enumerate(trackings):
            _send(ws, "subscribe", requestId=f"s{n}", requestType="EIDO",
                  requestSubType="single", incidentId=tracking)  # fmt: skip
            answer = _receive(ws, "subscribeResponse")
            assert (answer["requestId"], answer["statusCode"]) == (f"s{n}", 200)
            subs.append(answer["subscriptionId"])
            assert _receive(ws, "event")["subscriptionId"] == subs[-1]
        assert subs[0] != subs[1]
        for incident, sub, tracking in zip(
            (second, first), reversed(subs), reversed(trackings), strict=True
        ):
            changed = client.patch(f"/api/v1/incidents/{incident['id']}",
                                   json={"priority": 1, "reason": "rixe"}, headers=sup)  # fmt: skip
            assert changed.status_code == 200, changed.text
            update = _receive(ws, "event")
            assert update["subscriptionId"] == sub
            (doc,) = update["notification"]
            assert doc["incidentComponent"]["incidentTrackingIdentifier"] == tracking
        _send(ws, "unsubscribe", requestId="u0", subscriptionId=subs[0])
        assert _receive(ws, "unsubscribeResponse")["statusCode"] == 200
        client.patch(f"/api/v1/incidents/{second['id']}", json={"priority": 2, "reason": "calme"},
                     headers=sup)  # fmt: skip
        assert _receive(ws, "event")["subscriptionId"] == subs[1]  # the other one lives on
        _send(ws, "unsubscribe", requestId="u1", subscriptionId=subs[1])
        assert _receive(ws, "unsubscribeResponse")["statusCode"] == 200
        with pytest.raises(WebSocketDisconnect):
            ws.receive_text()
    with engine.connect() as conn:
        rows = conn.execute(
            select(AuditEntry.action, AuditEntry.object_id)
            .where(AuditEntry.object_type == "eido_subscription")
            .order_by(AuditEntry.seq)
        ).all()
    assert [tuple(r) for r in rows] == [
        ("eido.subscribe", subs[0]),
        ("eido.subscribe", subs[1]),
        ("eido.subscription_end", subs[0]),
        ("eido.subscription_end", subs[1]),
    ]
    with client.websocket_connect(URL, headers=sup) as ws:  # no sub-protocol asked: served
        assert ws.accepted_subprotocol is None
        _send(ws, "subscribe", requestId="x", requestType="eido", padding="x" * 65_000)
        assert _receive(ws, "subscribeResponse")["statusCode"] == 200  # 64 KiB accepted


def test_a_closed_incident_gets_its_last_state_once(
    served: Served, monkeypatch: pytest.MonkeyPatch
) -> None:
    """NENA-STA-024: a single subscription to an incident closed less than five minutes
    ago gets its last state and no later notification; later than that, 404."""
    monkeypatch.setattr(conv, "MIN_MIN_RATE_S", 1)
    client, sup, _, engine = served
    incident = new_incident(client, sup, "noise", at=JAUDE)["incident"]
    tracking = _tracking(client, sup, incident["id"])
    closed = client.post(f"/api/v1/incidents/{incident['id']}/close",
                         json={"disposition": "advice_given"}, headers=sup)  # fmt: skip
    assert closed.status_code == 200, closed.text
    with client.websocket_connect(URL, headers=sup) as ws:
        _send(ws, "subscribe", requestId="c", requestType="EIDO", requestSubType="single",
              incidentId=tracking, minRate=1)  # fmt: skip
        assert _receive(ws, "subscribeResponse")["statusCode"] == 200
        (doc,) = _receive(ws, "event")["notification"]
        assert doc["incidentComponent"]["incidentTrackingIdentifier"] == tracking
        assert doc["incidentComponent"].get("incidentClosureTimeStamp")
        reopened = client.post(f"/api/v1/incidents/{incident['id']}/reopen",
                               json={"reason": "l'appelant rappelle"}, headers=sup)  # fmt: skip
        assert reopened.status_code == 200, reopened.text
        assert _receive(ws, "event")["notification"] == []  # a keep-alive, not the reopening
        closed = client.post(f"/api/v1/incidents/{incident['id']}/close",
                             json={"disposition": "advice_given"}, headers=sup)  # fmt: skip
        assert closed.status_code == 200, closed.text
    with engine.begin() as conn:
        conn.execute(
            update(Incident)
            .where(Incident.id == incident["id"])
            .values(closed_at=utcnow() - dt.timedelta(minutes=6))
        )
    with client.websocket_connect(URL, headers=sup) as ws:
        _send(ws, "subscribe", requestId="d", requestType="EIDO", requestSubType="single",
              incidentId=tracking)  # fmt: skip
        answer = _receive(ws, "subscribeResponse")
        assert (answer["statusCode"], "subscriptionId" in answer) == (404, False)
        assert "closed 6 min ago" in answer["statusText"]


def test_another_arverne_follows_the_incidents_and_imports_them(
    two_servers: tuple[str, str, str], tmp_path: Path
) -> None:
    """`arverne eido follow` (the subscriber side) on a second database: the partner's
    incidents arrive, a correction there becomes an update here."""
    writer, reader, token = two_servers
    first = _take_call(writer, token, "noise", JAUDE)
    env = _follower_env(
        tmp_path / "follower.db",
        ARVERNE_AGENCY_ID="police.suivi.example",
        ARVERNE_PARTNER_TOKEN=token,
        COLUMNS="200",
    )
    url = reader.replace("http://", "ws://") + URL
    follower = subprocess.Popen(  # noqa: S603 - our own CLI
        [*CLI, "eido", "follow", url, "--seconds", "20"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    # Wait until subscribed and the open incident imported (however slow the start is),
    # so the next changes reach the follower well inside its 20 s.
    engine = make_engine(env["ARVERNE_DATABASE_URL"])
    for _ in range(150):
        with engine.connect() as conn:
            if conn.execute(select(func.count()).select_from(Incident)).scalar():
                break
        time.sleep(0.1)
    engine.dispose()
    _take_call(writer, token, "theft", GARE)
    raised = httpx.patch(
        f"{writer}/api/v1/incidents/{first['id']}",
        json={"priority": 1, "reason": "rixe"},
        headers=bearer(token),
        timeout=10,
    )
    assert raised.status_code == 200, raised.text
    out, _ = follower.communicate(timeout=30)
    assert follower.returncode == 0, out
    assert "subscribed" in out
    assert out.count("imported") == 2, out
    assert "updated (priorité)" in out, out
    engine = make_engine(env["ARVERNE_DATABASE_URL"])
    with engine.connect() as conn:
        rows = conn.execute(select(Incident.type_code, Incident.priority).order_by(Incident.id))
        assert [tuple(r) for r in rows] == [("noise", 1), ("theft", 3)]
    engine.dispose()


def test_follow_refused_or_unreachable_exits_cleanly(
    two_servers: tuple[str, str, str], tmp_path: Path
) -> None:
    _, reader, _ = two_servers
    env = _follower_env(tmp_path / "f.db")

    def follow(url: str, token: str, seconds: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(  # noqa: S603 - our own CLI
            [*CLI, "eido", "follow", url, "--token", token, "--seconds", seconds],
            env=env, capture_output=True, text=True, timeout=60, check=False,
        )  # fmt: skip

    refused = follow(reader.replace("http://", "ws://") + URL, "wrong", "5")
    assert refused.returncode == 2, refused.stdout + refused.stderr
    assert "cannot follow" in refused.stderr
    assert "403" in refused.stderr
    # Nobody listens there: retried with back-off until --seconds, nothing imported.
    unreachable = follow("ws://127.0.0.1:9/api/v1/eido/ws", "t", "1")
    assert unreachable.returncode == 0, unreachable.stdout + unreachable.stderr
    assert "0 document(s) received" in unreachable.stdout


def test_a_revoked_token_ends_the_subscription(
    served: Served, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(eido_ws, "CREDENTIALS_CHECK_S", 0.5)
    client, sup, _, engine = served
    tokens = client.get("/api/v1/auth/tokens", headers=sup).json()
    with client.websocket_connect(URL, headers=sup) as ws:
        _send(ws, "subscribe", requestId="t", requestType="EIDO")
        assert _receive(ws, "subscribeResponse")["statusCode"] == 200
        for token in tokens:
            gone = client.delete(f"/api/v1/auth/tokens/{token['id']}", headers=sup)
            assert gone.status_code == 204, gone.text
        ended = _receive(ws, "terminate")
        assert set(ended) == {"requestId", "subscriptionId"}  # the schema's fields
        with pytest.raises(WebSocketDisconnect) as closed:
            ws.receive_text()
        assert closed.value.code == 1008
    with engine.connect() as conn:
        details = conn.scalars(
            select(AuditEntry.details).where(AuditEntry.action == "eido.subscription_end")
        ).all()
    assert [d["detail"] for d in details] == ["credentials revoked"]
