"""The EIDO conveyance rules, without a socket: parsing, granted rates and expiry,
renewal, keep-alives, coalescing to maxRate."""

from __future__ import annotations

import pytest

from arverne.dispatch import eido_conveyance as conv


def _subscribe(**body: object) -> tuple[conv.Message, conv.Subscription | None]:
    full = {"requestId": "r", "requestType": "EIDO", **body}
    return conv.answer_subscribe(full, current=None, resolve=lambda _t: 7, now=100.0)


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
        current=sub, resolve=lambda _t: None, now=150.0,
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
    answer, left = conv.answer_unsubscribe({"requestId": "u", "subscriptionId": "x"}, current=sub)
    assert (answer["unsubscribeResponse"]["statusCode"], left) == (481, sub)
    answer, left = conv.answer_unsubscribe({"subscriptionId": "x"}, current=sub)
    assert answer["unsubscribeResponse"]["statusCode"] == 400
    assert "requestId" in answer["unsubscribeResponse"]["statusText"]
    assert sub is not None
    answer, left = conv.answer_unsubscribe(
        {"requestId": "u", "subscriptionId": sub.id}, current=sub
    )
    assert (answer["unsubscribeResponse"]["statusCode"], left) == (200, None)
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
        {"requestId": "r"}, current=None, resolve=lambda _t: None, now=0.0
    )
    assert (answer["subscribeResponse"]["statusCode"], sub) == (400, None)
    assert "requestType" in answer["subscribeResponse"]["statusText"]
    answer, sub = conv.answer_subscribe(
        {"requestId": "r", "subscriptionId": "gone"}, current=None, resolve=lambda _t: None,
        now=0.0,
    )  # fmt: skip
    assert answer["subscribeResponse"]["statusCode"] == 481


def test_accept_values() -> None:
    assert conv.accepts_json("application/emergency.eido+json;version=1, text/plain")
    assert conv.accepts_json("text/html, */*;q=0.8")
    assert not conv.accepts_json("application/xml")
    assert not conv.accepts_json("application/json;q=0, application/xml")  # q=0 refuses
