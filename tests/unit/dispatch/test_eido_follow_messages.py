"""The subscriber side of EIDO conveyance speaks NENA's schema: a renewal names only the
subscription, a ``terminate`` is answered with its ``requestId`` and ``subscriptionId``,
a "Not implemented" ``response`` ends the command."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
import websockets

from arverne.cli import eido_follow


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
    with pytest.raises(websockets.ConnectionClosedOK):
        asyncio.run(eido_follow._session(ws, None, None, 3600, None))  # type: ignore[arg-type]
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
    with pytest.raises(eido_follow.SubscriptionRefusedError, match="501 Not implemented"):
        asyncio.run(eido_follow._session(ws, None, None, 3600, None))  # type: ignore[arg-type]
