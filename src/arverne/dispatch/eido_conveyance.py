"""EIDO conveyance (NENA-STA-024): the subscribe/notify messages.

A partner system opens a WebSocket and subscribes; Arverne, the notifier, then sends the
EIDO of each incident of the subscription when it changes. Every message is one JSON
object whose single key names it. Names, fields and status codes follow NENA's published
schema of these messages (``WebSocket-Subscribe-Notify``, ``schema/websocket.yaml``,
version 1.0.1):

- ``subscribe`` (``requestId``; for a new subscription ``requestType`` "EIDO" and
  ``requestSubType`` "single" with the ``incidentId`` (tracking id) of one incident, or
  "new" for every incident; optional ``requestAccepts``, ``expires``, ``minRate``,
  ``maxRate`` in seconds; ``subscriptionId`` alone renews that subscription) answered by
  ``subscribeResponse`` (``requestId``, ``statusCode``, ``statusText``,
  ``subscriptionId``, the granted ``expires``/``minRate``/``maxRate``);
- ``unsubscribe`` (``requestId``, ``subscriptionId``) answered by
  ``unsubscribeResponse`` (the same, with ``statusCode`` and ``statusText``);
- ``event`` (``subscriptionId``, ``transactionId``, ``notification``: a list of EIDO
  documents, empty for a keep-alive at ``minRate``) acknowledged by ``eventResponse``
  (``transactionId``, ``statusCode``, ``statusText``);
- ``terminate`` (``requestId`` made by the notifier, ``subscriptionId``) when the
  notifier ends a subscription (expired, credentials revoked), acknowledged by
  ``terminateResponse`` (``requestId``, ``subscriptionId``, ``statusCode``,
  ``statusText``);
- ``response`` (``requestId``, ``statusCode`` 501, ``statusText`` "Not implemented"):
  the answer to a request Arverne does not offer: a ``requestType`` other than EIDO, the
  ``requestSubType`` "resource", a ``qualFilter``, or a message type it does not know.

``subscribeResponse`` codes: 200 OK, 400 a missing or wrong field (named in
``statusText``), 404 an unknown incident (or one closed more than five minutes ago), 406
a ``requestAccepts`` that JSON does not satisfy, 481 an unknown subscription (also in
``unsubscribeResponse``), 503 a WebSocket already holding :data:`MAX_SUBSCRIPTIONS`.

Rules of the standard's text (NENA-STA-024.1a-2023, section 2.1.1, as a public
implementation's compliance table quotes them) applied here: one WebSocket holds several
subscriptions; a renewal may change nothing but ``expires``; a ``single`` subscription to
an incident closed less than five minutes ago is accepted, gets that incident's last
state once and no later notification; the socket is closed when its last subscription
ends. The WebSocket sub-protocol is :data:`SUBPROTOCOL` (section 2.1.3.1.2, as the same
implementation names it). The schema leaves the syntax of ``qualFilter`` to the
standard's text, which was not at hand: a filter is answered "Not implemented" rather
than guessed. This module is pure: the WebSocket route
(:mod:`arverne.web.routes.eido_ws`) does the input/output.
"""

from __future__ import annotations

import dataclasses
import json
import uuid
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from pydantic.alias_generators import to_camel

MIN_EXPIRES_S = 60
DEFAULT_EXPIRES_S = 3600
MAX_EXPIRES_S = 24 * 3600
MIN_MIN_RATE_S = 5
SUB_TYPES = ("single", "new")  # offered; the schema also names "resource"
KNOWN_SUB_TYPES = (*SUB_TYPES, "resource")
NOT_IMPLEMENTED = 501
NO_SUBSCRIPTION = 481  # SIP's "Call/Transaction Does Not Exist", as the schema uses it
UNAVAILABLE = 503
MAX_SUBSCRIPTIONS = 32  # per WebSocket
CLOSED_GRACE_S = 300  # a closed incident can still be subscribed to this long
SUBPROTOCOL = "emergency-ent1.0"

Message = dict[str, dict[str, Any]]


class ProtocolError(Exception):
    """A message that is not one object with a single known key (no answer is possible)."""


class _Body(BaseModel):
    # The standard's camelCase names on the wire (requestId, requestSubType...).
    model_config = ConfigDict(extra="ignore", str_strip_whitespace=True, alias_generator=to_camel)


class SubscribeBody(_Body):
    """The body of a ``subscribe`` message."""

    request_id: str = Field(min_length=1, max_length=200)
    request_type: str | None = Field(default=None, min_length=1, max_length=50)
    request_sub_type: str | None = Field(default=None, max_length=50)
    request_accepts: str | None = Field(default=None, max_length=200)
    incident_id: str | None = Field(default=None, max_length=300)
    subscription_id: str | None = Field(default=None, max_length=100)
    expires: int | None = Field(default=None, ge=0)
    min_rate: int | None = Field(default=None, ge=0)
    max_rate: int | None = Field(default=None, ge=0)
    qual_filter: str | None = None


class UnsubscribeBody(_Body):
    """The body of an ``unsubscribe`` message."""

    request_id: str = Field(min_length=1, max_length=200)
    subscription_id: str = Field(min_length=1, max_length=100)


@dataclasses.dataclass(frozen=True)
class KnownIncident:
    """An incident a ``single`` subscription names, as this system knows it."""

    id: int
    closed_for_s: float | None = None  # seconds since it was closed; None: open


@dataclasses.dataclass
class Subscription:
    """One subscription of a WebSocket: what it wants and when it ends (monotonic s)."""

    id: str
    sub_type: str  # "single" or "new"
    incident_id: int | None  # the incident of a "single" subscription
    expires_s: int
    min_rate_s: int | None
    max_rate_s: int | None
    renewed_at: float
    last_sent_at: float
    tracking: str | None = None  # the incidentId asked, for a "single" subscription
    final: bool = False  # a closed incident: its last state once, then nothing

    def wants(self, incident_id: int) -> bool:
        """Whether a change of ``incident_id`` is notified to this subscription."""
        if self.final:
            return False
        return self.sub_type == "new" or incident_id == self.incident_id

    def expired(self, now: float) -> bool:
        """Whether the subscription ended (not renewed in time)."""
        return now - self.renewed_at > self.expires_s

    def due_keep_alive(self, now: float) -> bool:
        """Whether an empty ``event`` is due (nothing sent for ``minRate`` seconds)."""
        return self.min_rate_s is not None and now - self.last_sent_at >= self.min_rate_s

    def may_send(self, now: float) -> bool:
        """Whether a notification may leave now (``maxRate``: seconds between two)."""
        return self.max_rate_s is None or now - self.last_sent_at >= self.max_rate_s


def choose_subprotocol(offered: Iterable[str]) -> str | None:
    """The WebSocket sub-protocol to confirm among those a subscriber ``offered``.

    :data:`SUBPROTOCOL` when offered, in the subscriber's spelling (some clients refuse
    a connection whose answer does not name a sub-protocol they asked for); ``None``
    otherwise: a subscriber that asks for none is served all the same.
    """
    return next((p for p in offered if p.strip().lower() == SUBPROTOCOL), None)


def parse(text: str) -> tuple[str, dict[str, Any]]:
    """The message type and body of one received text frame.

    Raises
    ------
    ProtocolError
        Not JSON, or not an object with exactly one key whose value is an object.
    """
    try:
        message = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ProtocolError(f"not JSON: {exc.msg}") from None
    if not isinstance(message, dict) or len(message) != 1:
        raise ProtocolError("send one JSON object with a single key naming the message")
    ((kind, body),) = message.items()
    if not isinstance(body, dict):
        raise ProtocolError(f"the body of {kind!r} must be an object")
    return kind, body


def _status(kind: str, code: int, text: str, **fields: Any) -> Message:
    body = {k: v for k, v in fields.items() if v is not None}
    return {kind: {**body, "statusCode": code, "statusText": text}}


def _field_error(exc: ValidationError) -> str:
    first = exc.errors()[0]
    return f"{'.'.join(str(p) for p in first['loc'])}: {first['msg']}"


def answer_subscribe(
    body: dict[str, Any],
    *,
    subscriptions: Mapping[str, Subscription],
    resolve: Callable[[str], KnownIncident | None],
    now: float,
) -> tuple[Message, Subscription | None]:
    """The ``subscribeResponse`` to a ``subscribe`` body, and the subscription it makes
    or renews (``None``: refused).

    Parameters
    ----------
    body
        The received body.
    subscriptions
        The WebSocket's subscriptions, by id (a renewal names one; a new one is added).
    resolve
        Incident tracking id -> this system's incident (``None``: unknown here).
    now
        Monotonic time in seconds.
    """
    request_id = body.get("requestId") if isinstance(body.get("requestId"), str) else None
    try:
        req = SubscribeBody.model_validate(body)
    except ValidationError as exc:
        return _status("subscribeResponse", 400, _field_error(exc), requestId=request_id), None
    answer = {"requestId": req.request_id}
    if req.subscription_id:  # a renewal
        current = subscriptions.get(req.subscription_id)
        if current is None:
            return _status(
                "subscribeResponse", NO_SUBSCRIPTION, "subscription does not exist", **answer,
                subscriptionId=req.subscription_id,
            ), None  # fmt: skip
        changed = _renewal_change(req, current)
        if changed:
            return _status(
                "subscribeResponse", 400,
                f"a renewal may change only expires, not {changed}: subscribe anew for that",
                **answer, subscriptionId=current.id,
            ), None  # fmt: skip
        if req.expires is not None:
            current.expires_s = _expires(req.expires)
        current.renewed_at = now
        return _status("subscribeResponse", 200, "OK", **answer, **_granted(current)), current
    refused = _refusal(req)
    if refused is not None:
        return refused, None
    if len(subscriptions) >= MAX_SUBSCRIPTIONS:
        return _status(
            "subscribeResponse", UNAVAILABLE,
            f"this WebSocket already holds {MAX_SUBSCRIPTIONS} subscriptions: "
            "unsubscribe one first, or open another WebSocket",
            **answer,
        ), None  # fmt: skip
    sub_type = (req.request_sub_type or "new").lower()
    known = None
    if sub_type == "single":
        if not req.incident_id:
            return _status(
                "subscribeResponse", 400, "incidentId is required with requestSubType single",
                **answer,
            ), None  # fmt: skip
        known = resolve(req.incident_id)
        if known is None:
            return _status(
                "subscribeResponse", 404, f"incident {req.incident_id} is unknown here", **answer
            ), None
        if known.closed_for_s is not None and known.closed_for_s > CLOSED_GRACE_S:
            return _status(
                "subscribeResponse", 404,
                f"incident {req.incident_id} was closed {known.closed_for_s / 60:.0f} min ago; "
                f"a closed incident can be subscribed to for {CLOSED_GRACE_S // 60} min after "
                "its closure: fetch its last state from the EIDO retrieval service",
                **answer,
            ), None  # fmt: skip
    subscription = Subscription(
        id=str(uuid.uuid4()),
        sub_type=sub_type,
        incident_id=known.id if known else None,
        expires_s=_expires(req.expires),
        min_rate_s=_min_rate(req.min_rate),
        max_rate_s=req.max_rate or None,
        renewed_at=now,
        last_sent_at=now,
        tracking=req.incident_id if known else None,
        final=known is not None and known.closed_for_s is not None,
    )
    return _status("subscribeResponse", 200, "OK", **answer, **_granted(subscription)), subscription


def _expires(asked: int | None) -> int:
    if asked is None:
        return DEFAULT_EXPIRES_S
    return min(max(asked, MIN_EXPIRES_S), MAX_EXPIRES_S)  # 0 is the shortest


def _min_rate(asked: int | None) -> int | None:
    return max(asked, MIN_MIN_RATE_S) if asked else None


def _renewal_change(req: SubscribeBody, sub: Subscription) -> str | None:
    """The first field of a renewal that would change ``sub`` other than ``expires``
    (``None``: the renewal repeats the subscription's values or leaves them out)."""
    changes = {
        "requestType": req.request_type is not None and req.request_type.upper() != "EIDO",
        "requestSubType": req.request_sub_type is not None
        and req.request_sub_type.lower() != sub.sub_type,
        "incidentId": req.incident_id is not None and req.incident_id != sub.tracking,
        "qualFilter": bool(req.qual_filter),
        "minRate": req.min_rate is not None and _min_rate(req.min_rate) != sub.min_rate_s,
        "maxRate": req.max_rate is not None and (req.max_rate or None) != sub.max_rate_s,
    }
    return next((name for name, changed in changes.items() if changed), None)


def _refusal(req: SubscribeBody) -> Message | None:
    """Why a new subscription cannot be made (``None``: it can), checked in this order:
    a missing or wrong field (400), a request not offered (501), a media type (406)."""
    answer = {"requestId": req.request_id}
    if not req.request_type:
        return _status(
            "subscribeResponse", 400, "requestType is required for a new subscription (EIDO)",
            **answer,
        )  # fmt: skip
    sub_type = (req.request_sub_type or "new").lower()
    if req.request_type.upper() == "EIDO" and sub_type not in KNOWN_SUB_TYPES:
        return _status(
            "subscribeResponse", 400,
            f"requestSubType must be one of {', '.join(KNOWN_SUB_TYPES)}", **answer,
        )  # fmt: skip
    if req.qual_filter and req.incident_id:
        return _status(
            "subscribeResponse", 400, "qualFilter must not be given with an incidentId", **answer
        )
    if req.request_type.upper() != "EIDO" or req.qual_filter or sub_type not in SUB_TYPES:
        return not_implemented(req.request_id)
    if req.request_accepts and not accepts_json(req.request_accepts):
        return _status(
            "subscribeResponse", 406,
            f"EIDO documents are sent as JSON; requestAccepts {req.request_accepts!r} "
            "does not accept application/json",
            **answer,
        )  # fmt: skip
    return None


def media_ranges(media_types: str) -> set[str]:
    """The media ranges an ``Accept``-style value admits (lower case; ``q=0`` refuses)."""
    admitted = set()
    for part in media_types.split(","):
        media, *params = (p.strip().lower() for p in part.split(";"))
        if media and not any(p.replace(" ", "") in ("q=0", "q=0.0", "q=0.00") for p in params):
            admitted.add(media)
    return admitted


def accepts_json(media_types: str) -> bool:
    """Whether a ``requestAccepts`` (or HTTP ``Accept``) value admits a JSON document:
    ``application/json``, a ``+json`` type such as an EIDO media type, or a wildcard."""
    return any(
        media in ("*/*", "application/*", "application/json") or media.endswith("+json")
        for media in media_ranges(media_types)
    )


def not_implemented(request_id: str | None) -> Message:
    """The ``response`` to a request Arverne does not offer (the schema's only words)."""
    return _status("response", NOT_IMPLEMENTED, "Not implemented", requestId=request_id)


def _granted(sub: Subscription) -> dict[str, Any]:
    return {
        "subscriptionId": sub.id,
        "expires": sub.expires_s,
        "minRate": sub.min_rate_s,
        "maxRate": sub.max_rate_s,
    }


def answer_unsubscribe(
    body: dict[str, Any], *, subscriptions: Mapping[str, Subscription]
) -> tuple[Message, Subscription | None]:
    """The ``unsubscribeResponse`` to an ``unsubscribe`` body, and the subscription it
    ends (``None``: none)."""
    try:
        req = UnsubscribeBody.model_validate(body)
    except ValidationError as exc:
        request_id = body.get("requestId") if isinstance(body.get("requestId"), str) else None
        return _status("unsubscribeResponse", 400, _field_error(exc), requestId=request_id), None
    answer = {"requestId": req.request_id, "subscriptionId": req.subscription_id}
    ending = subscriptions.get(req.subscription_id)
    if ending is None:
        return _status(
            "unsubscribeResponse", NO_SUBSCRIPTION, "subscription does not exist", **answer
        ), None
    return _status("unsubscribeResponse", 200, "OK", **answer), ending


def event(sub: Subscription, documents: list[dict[str, Any]], now: float) -> Message:
    """An ``event`` carrying ``documents`` (none: a keep-alive); notes the time sent."""
    sub.last_sent_at = now
    return {
        "event": {
            "subscriptionId": sub.id,
            "transactionId": str(uuid.uuid4()),
            "notification": documents,
        }
    }


def terminate(sub: Subscription) -> Message:
    """A ``terminate`` message ending ``sub`` (the notifier's side), with a new
    ``requestId`` that the subscriber's ``terminateResponse`` repeats. The schema gives
    the message no reason: the route audits it."""
    return {"terminate": {"requestId": str(uuid.uuid4()), "subscriptionId": sub.id}}
