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
    answer, same = conv.answer_subscribe(
        {"requestId": "r2", "requestType": "EIDO", "subscriptionId": sub.id},
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
    assert (answer["unsubscribeResponse"]["statusCode"], left) == (404, sub)
    answer, left = conv.answer_unsubscribe({"subscriptionId": "x"}, current=sub)
    assert answer["unsubscribeResponse"]["statusCode"] == 400
    assert "requestId" in answer["unsubscribeResponse"]["statusText"]
    assert sub is not None
    answer, left = conv.answer_unsubscribe(
        {"requestId": "u", "subscriptionId": sub.id}, current=sub
    )
    assert (answer["unsubscribeResponse"]["statusCode"], left) == (200, None)
    assert conv.terminate(sub, "expired")["terminate"]["reason"] == "expired"
