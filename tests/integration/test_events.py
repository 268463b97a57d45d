"""Live events: SSE frames, permission filtering, Last-Event-ID replay, several processes."""

from __future__ import annotations

import json
import threading
import time

import httpx
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from arverne.config import Settings
from arverne.security.policy import Role
from tests.data import bearer, make_token, make_user
from tests.dispatch_data import JAUDE, new_incident


def _frames(text: str) -> list[dict[str, str]]:
    frames = []
    for block in text.split("\n\n"):
        fields: dict[str, str] = {}
        for line in block.splitlines():
            if line.startswith(":") or ":" not in line:
                continue
            key, _, value = line.partition(":")
            fields[key] = value.strip()
        if fields:
            frames.append(fields)
    return frames


def _replay(client: TestClient, headers: dict[str, str], last: int) -> list[dict[str, str]]:
    response = client.get(
        "/api/v1/events",
        params={"max_seconds": 0},
        headers={**headers, "Last-Event-ID": str(last)},
    )
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/event-stream")
    return [f for f in _frames(response.text) if "id" in f and f["event"].startswith("incident")]


def test_replay_from_last_event_id_misses_nothing(
    client: TestClient, session: Session, settings: Settings
) -> None:
    headers = bearer(make_token(session, settings, make_user(session, Role.DISPATCHER)))
    start = _replay(client, headers, 0)
    last = int(start[-1]["id"]) if start else 0
    first = new_incident(client, headers, "theft")["incident"]
    events = _replay(client, headers, last)
    assert [e["event"] for e in events] == ["incident.created"]
    assert json.loads(events[0]["data"])["id"] == first["id"]
    second = new_incident(client, headers, "noise")["incident"]
    later = _replay(client, headers, int(events[0]["id"]))
    assert [json.loads(e["data"])["id"] for e in later] == [second["id"]]
    ids = [int(e["id"]) for e in _replay(client, headers, last)]
    assert ids == sorted(ids)
    assert len(ids) == 2


def test_events_are_filtered_by_permission(
    client: TestClient, session: Session, settings: Settings
) -> None:
    dispatcher = bearer(make_token(session, settings, make_user(session, Role.DISPATCHER)))
    trainer = bearer(make_token(session, settings, make_user(session, Role.TRAINER)))
    new_incident(client, dispatcher, "theft")
    assert any(e["event"] == "incident.created" for e in _replay(client, dispatcher, 0))
    assert not any(e["event"].startswith("incident") for e in _replay(client, trainer, 0))


def test_bad_last_event_id_is_refused(
    client: TestClient, session: Session, settings: Settings
) -> None:
    headers = bearer(make_token(session, settings, make_user(session, Role.DISPATCHER)))
    response = client.get(
        "/api/v1/events", params={"max_seconds": 0}, headers={**headers, "Last-Event-ID": "abc"}
    )
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "Last-Event-ID"


# -- two real server processes on one database -------------------------------------------


def _listen(url: str, headers: dict[str, str], seen: list[dict[str, str]], stop: float) -> None:
    with (
        httpx.Client(timeout=10) as http,
        http.stream(
            "GET", f"{url}/api/v1/events", params={"max_seconds": stop}, headers=headers
        ) as r,
    ):
        buffer = ""
        for chunk in r.iter_text():
            buffer += chunk
            while "\n\n" in buffer:
                block, buffer = buffer.split("\n\n", 1)
                seen.extend(f for f in _frames(block + "\n\n") if "id" in f)


def test_events_reach_clients_of_another_process(two_servers: tuple[str, str, str]) -> None:
    writer, reader, token = two_servers
    headers = bearer(token)
    seen: list[dict[str, str]] = []
    listener = threading.Thread(target=_listen, args=(reader, headers, seen, 6.0))
    listener.start()
    time.sleep(1.0)  # let the stream open
    body = {"type_code": "theft", "lon": JAUDE[0], "lat": JAUDE[1]}
    sent = time.monotonic()
    created = httpx.post(f"{writer}/api/v1/incidents", json=body, headers=headers, timeout=10)
    assert created.status_code == 201, created.text
    iid = created.json()["incident"]["id"]
    while time.monotonic() - sent < 5 and not any(e["event"] == "incident.created" for e in seen):
        time.sleep(0.05)
    got = [e for e in seen if e["event"] == "incident.created"]
    assert got, "the other process never delivered the event"
    assert json.loads(got[0]["data"])["id"] == iid
    listener.join(timeout=15)

    # While disconnected, another incident: reconnecting with Last-Event-ID replays it.
    missed = httpx.post(f"{writer}/api/v1/incidents", json=body, headers=headers, timeout=10)
    replay = httpx.get(
        f"{reader}/api/v1/events",
        params={"max_seconds": 0},
        headers={**headers, "Last-Event-ID": got[0]["id"]},
        timeout=10,
    )
    ids = [json.loads(f["data"]).get("id") for f in _frames(replay.text) if "id" in f]
    assert missed.json()["incident"]["id"] in ids
