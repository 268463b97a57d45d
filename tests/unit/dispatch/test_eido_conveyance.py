"""The EIDO conveyance rules, without a socket: parsing, granted rates and expiry,
renewal, keep-alives, coalescing to maxRate."""

from __future__ import annotations

import pytest

from arverne.dispatch import eido_conveyance as conv


def _subscribe(**body: object) -> tuple[conv.Message, conv.Subscription | None]:
    full = {"requestId": "r", "requestType": "EIDO", **body}
    return conv.answer_subscribe(
        full, subscriptions={}, resolve=lambda _t: conv.KnownIncident(7), now=100.0
    )


def test_parse_takes_one_object_with_one_key() -> None:
    assert conv.parse('{"subscribe": {"requestId": "r"}}') == ("subscribe", {"requestId": "r"})
    for bad in ("nope", "[]", '{"a": {}, "b": {}}', '{"subscribe": 3}'):
        with pytest.raises(conv.ProtocolError):
            conv.parse(bad)


def test_granted_values_are_clamped_and_named_as_the_standard() -> None:
    answer, sub = _subscribe(requestSubType="single", incidentId="urn:x", expires=5, minRate=1)
    body = answer["subscribeResponse"]
    assert sub is not None
    assert (body["statusCode"], body["expires"], body["minRate"]) == (200, conv.MIN_EXPIRES_S, 5)
    assert "maxRate" not in body  # not asked, not granted
    assert (sub.sub_type, sub.incident_id) == ("single", 7)
    _, shortest = _subscribe(expires=0)  # the shortest granted, not the default hour
    assert shortest is not None
    assert shortest.expires_s == conv.MIN_EXPIRES_S
    _, longest = _subscribe(expires=10**9)
    assert longest is not None
    assert longest.expires_s == conv.MAX_EXPIRES_S
    _, default = _subscribe()
    assert default is not None
    assert (default.sub_type, default.expires_s) == ("new", conv.DEFAULT_EXPIRES_S)


def test_renewal_keeps_the_subscription_alive() -> None:
    _, sub = _subscribe(expires=60)
    assert sub is not None
    assert not sub.expired(159.0)
    assert sub.expired(161.0)
    answer, same = conv.answer_subscribe(  # the schema needs no requestType to renew
        {"requestId": "r2", "subscriptionId": sub.id},
        subscriptions={sub.id: sub}, resolve=lambda _t: None, now=150.0,
    )  # fmt: skip
    assert same is sub
    assert answer["subscribeResponse"]["statusCode"] == 200
    assert not sub.expired(200.0)


def test_keep_alives_and_coalescing() -> None:
    _, sub = _subscribe(minRate=30, maxRate=10)
    assert sub is not None
    assert not sub.due_keep_alive(120.0)
    assert sub.due_keep_alive(130.0)
    assert not sub.may_send(105.0)  # 10 s between two notifications
    message = conv.event(sub, [], 112.0)
    assert message["event"]["notification"] == []
    assert message["event"]["subscriptionId"] == sub.id
    assert sub.may_send(122.0)
    assert not sub.may_send(121.0)
    assert sub.wants(123)  # "new": every incident


def test_unsubscribe_needs_the_subscription() -> None:
    _, sub = _subscribe()
    assert sub is not None
    held = {sub.id: sub}
    answer, ended = conv.answer_unsubscribe(
        {"requestId": "u", "subscriptionId": "x"}, subscriptions=held
    )
    assert (answer["unsubscribeResponse"]["statusCode"], ended) == (481, None)
    answer, ended = conv.answer_unsubscribe({"subscriptionId": "x"}, subscriptions=held)
    assert answer["unsubscribeResponse"]["statusCode"] == 400
    assert "requestId" in answer["unsubscribeResponse"]["statusText"]
    answer, ended = conv.answer_unsubscribe(
        {"requestId": "u", "subscriptionId": sub.id}, subscriptions=held
    )
    assert (answer["unsubscribeResponse"]["statusCode"], ended) == (200, sub)
    ended = conv.terminate(sub)["terminate"]
    assert set(ended) == {"requestId", "subscriptionId"}
    assert ended["subscriptionId"] == sub.id


@pytest.mark.parametrize(
    ("body", "kind", "code"),
    [
        ({"requestType": "SIP"}, "response", 501),
        ({"qualFilter": "type=fire"}, "response", 501),
        ({"requestSubType": "resource"}, "response", 501),
        ({"requestSubType": "single", "incidentId": "urn:x", "qualFilter": "f"},
         "subscribeResponse", 400),
        ({"requestSubType": "everything"}, "subscribeResponse", 400),
        ({"requestAccepts": "application/xml"}, "subscribeResponse", 406),
        ({"requestAccepts": "application/emergency.eido+json; version=1"},
         "subscribeResponse", 200),
        ({"requestAccepts": "text/html, */*;q=0.1"}, "subscribeResponse", 200),
    ],
)  # fmt: skip
def test_answers_use_the_schema_codes(body: dict[str, object], kind: str, code: int) -> None:
    """NENA's schema: 501 "Not implemented" is the ``response`` message (never a
    subscribeResponse code), 406 a media type, 400 a field."""
    answer, sub = _subscribe(**body)
    ((got, fields),) = answer.items()
    assert (got, fields["statusCode"], fields["requestId"]) == (kind, code, "r")
    assert (sub is not None) == (code == 200)
    if kind == "response":
        assert fields["statusText"] == "Not implemented"  # the schema's only text


def test_a_new_subscription_needs_a_request_type_and_a_renewal_a_known_id() -> None:
    answer, sub = conv.answer_subscribe(
        {"requestId": "r"}, subscriptions={}, resolve=lambda _t: None, now=0.0
    )
    assert (answer["subscribeResponse"]["statusCode"], sub) == (400, None)
    assert "requestType" in answer["subscribeResponse"]["statusText"]
    answer, sub = conv.answer_subscribe(
        {"requestId": "r", "subscriptionId": "gone"}, subscriptions={}, resolve=lambda _t: None,
        now=0.0,
    )  # fmt: skip
    assert answer["subscribeResponse"]["statusCode"] == 481


def test_accept_values() -> None:
    assert conv.accepts_json("application/emergency.eido+json;version=1, text/plain")
    assert conv.accepts_json("text/html, */*;q=0.8")
    assert not conv.accepts_json("application/xml")
    assert not conv.accepts_json("application/json;q=0, application/xml")  # q=0 refuses


def _renew(sub: conv.Subscription, **body: object) -> tuple[conv.Message, conv.Subscription | None]:
    full = {"requestId": "n", "subscriptionId": sub.id, **body}
    return conv.answer_subscribe(
        full, subscriptions={sub.id: sub}, resolve=lambda _t: None, now=150.0
    )


def test_a_renewal_changes_only_the_expiry() -> None:
    """NENA-STA-024: only changes of the expiration are accepted in a renewal; one that
    repeats the subscription's values (as some subscribers send) is a renewal."""
    _, sub = _subscribe(requestSubType="single", incidentId="urn:x", expires=600, minRate=2)
    assert sub is not None
    assert (sub.tracking, sub.min_rate_s) == ("urn:x", conv.MIN_MIN_RATE_S)
    answer, renewed = _renew(sub, requestType="eido", requestSubType="Single",
                             incidentId="urn:x", minRate=2, expires=120)  # fmt: skip
    assert answer["subscribeResponse"]["statusCode"] == 200
    assert renewed is sub
    assert (answer["subscribeResponse"]["expires"], sub.expires_s) == (120, 120)
    assert not sub.expired(260.0)
    assert sub.expired(271.0)  # 120 s from the renewal at 150
    _, renewed = _renew(sub)  # no expires: the granted one stays
    assert renewed is sub
    assert sub.expires_s == 120
    for change, field in (
        ({"requestSubType": "new"}, "requestSubType"),
        ({"incidentId": "urn:y"}, "incidentId"),
        ({"minRate": 30}, "minRate"),
        ({"maxRate": 10}, "maxRate"),
        ({"qualFilter": "f"}, "qualFilter"),
        ({"requestType": "SIP"}, "requestType"),
    ):
        answer, refused = _renew(sub, **change)
        body = answer["subscribeResponse"]
        assert (body["statusCode"], refused) == (400, None), change
        assert f"not {field}" in body["statusText"]
        assert body["subscriptionId"] == sub.id
    assert (sub.sub_type, sub.tracking, sub.min_rate_s, sub.expires_s) == (
        "single",
        "urn:x",
        5,
        120,
    )


def test_a_websocket_holds_several_subscriptions_up_to_a_limit() -> None:
    held: dict[str, conv.Subscription] = {}
    for n in range(conv.MAX_SUBSCRIPTIONS):
        answer, sub = conv.answer_subscribe(
            {"requestId": str(n), "requestType": "EIDO"}, subscriptions=held,
            resolve=lambda _t: None, now=0.0,
        )  # fmt: skip
        assert sub is not None
        assert sub.id not in held  # a new one each time, the others kept
        held[sub.id] = sub
    answer, sub = conv.answer_subscribe(
        {"requestId": "one more", "requestType": "EIDO"}, subscriptions=held,
        resolve=lambda _t: None, now=0.0,
    )  # fmt: skip
    body = answer["subscribeResponse"]
    assert (body["statusCode"], sub) == (conv.UNAVAILABLE, None)
    assert "unsubscribe one first" in body["statusText"]
    answer, renewed = conv.answer_subscribe(  # renewing is still possible when full
        {"requestId": "r", "subscriptionId": next(iter(held))}, subscriptions=held,
        resolve=lambda _t: None, now=1.0,
    )  # fmt: skip
    assert answer["subscribeResponse"]["statusCode"] == 200
    assert renewed is held[next(iter(held))]


def test_a_closed_incident_is_followed_for_five_minutes_after_its_closure() -> None:
    def single(closed_for: float | None) -> tuple[conv.Message, conv.Subscription | None]:
        return conv.answer_subscribe(
            {"requestId": "c", "requestType": "EIDO", "requestSubType": "single",
             "incidentId": "urn:x"},
            subscriptions={}, resolve=lambda _t: conv.KnownIncident(9, closed_for), now=0.0,
        )  # fmt: skip

    _, open_one = single(None)
    assert open_one is not None
    assert (open_one.final, open_one.wants(9)) == (False, True)
    _, recent = single(299.0)
    assert recent is not None
    assert recent.incident_id == 9
    assert (recent.final, recent.wants(9)) == (True, False)  # its last state only, once
    answer, old = single(301.0)
    body = answer["subscribeResponse"]
    assert (body["statusCode"], old) == (404, None)
    assert "closed 5 min ago" in body["statusText"]
    assert "retrieval service" in body["statusText"]


def test_the_subprotocol_is_confirmed_when_offered() -> None:
    assert conv.choose_subprotocol(["chat", "emergency-ent1.0"]) == "emergency-ent1.0"
    assert conv.choose_subprotocol(["Emergency-Ent1.0"]) == "Emergency-Ent1.0"
    assert conv.choose_subprotocol(["chat"]) is None
    assert conv.choose_subprotocol([]) is None
