"""The subscriber side of EIDO conveyance speaks NENA's schema: a renewal names only the
subscription, a ``terminate`` is answered with its ``requestId`` and ``subscriptionId``,
a "Not implemented" ``response`` ends the command."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import websockets

from arverne.cli import eido_follow
from tests.conftest import run_in_new_loop


class _Socket:
    """A partner that answers the subscription, then sends ``then``."""

    def __init__(self, *then: dict[str, Any]) -> None:
        self.inbox = [{"subscribeResponse": {"requestId": "r", "statusCode": 200,
                                             "statusText": "OK", "subscriptionId": "s1",
                                             "expires": 3600}}, *then]  # fmt: skip
        self.sent: list[dict[str, Any]] = []

    async def send(self, text: str) -> None:
        self.sent.append(json.loads(text))

    async def recv(self) -> str:
        if not self.inbox:
            await asyncio.sleep(3600)
        return json.dumps(self.inbox.pop(0))

    async def close(self) -> None:
        return None


def _session_raises(ws: _Socket) -> BaseException | None:
    """Run one subscriber session against ``ws`` on a fresh loop; what it raised."""

    async def scenario() -> BaseException | None:
        try:
            await eido_follow._session(ws, None, None, 3600, None)  # type: ignore[arg-type]
        except Exception as exc:  # returned to the test, which checks it
            return exc
        return None

    return run_in_new_loop(scenario)


def test_renewal_names_the_subscription_only() -> None:
    renewal = eido_follow._subscribe_message(None, 600, "s1")["subscribe"]
    assert set(renewal) == {"requestId", "subscriptionId", "expires"}
    new = eido_follow._subscribe_message("urn:x", 600, None)["subscribe"]
    assert (new["requestType"], new["requestSubType"], new["incidentId"]) == (
        "EIDO",
        "single",
        "urn:x",
    )


def test_a_terminate_is_answered_as_the_schema_says() -> None:
    ws = _Socket({"terminate": {"requestId": "t9", "subscriptionId": "s1"}})
    assert isinstance(_session_raises(ws), websockets.ConnectionClosedOK)
    assert ws.sent[-1] == {
        "terminateResponse": {
            "requestId": "t9",
            "subscriptionId": "s1",
            "statusCode": 200,
            "statusText": "OK",
        }
    }


def test_not_implemented_ends_the_command() -> None:
    ws = _Socket()
    refusal = {"requestId": "r", "statusCode": 501, "statusText": "Not implemented"}
    ws.inbox = [{"response": refusal}]
    raised = _session_raises(ws)
    assert isinstance(raised, eido_follow.SubscriptionRefusedError)
    assert str(raised) == "501 Not implemented"
