"""Ranking details of recommendations: no route, equal travel times, preemption's cost."""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np
from fastapi.testclient import TestClient
from numpy.typing import NDArray
from sqlalchemy.orm import Session

from arverne.dispatch import recommend, service
from arverne.dispatch.city import StraightLineCity, Travel
from arverne.dispatch.plans import parse_plans
from tests.dispatch_data import GARE, JAUDE, NORD, new_incident, new_unit

BBOX = (2.9, 45.7, 3.3, 45.9)


@dataclasses.dataclass
class CutOffNorth(StraightLineCity):
    """Straight lines, except that nothing north of ``cut_lat`` reaches the incident."""

    cut_lat: float = 45.79

    def travel(
        self, origins: NDArray[np.float64], target: tuple[float, float], *, walking: Any
    ) -> Travel:
        """The straight-line estimate, infinite from beyond the cut."""
        travel = super().travel(origins, target, walking=walking)
        cut = origins[:, 1] > self.cut_lat
        return Travel(
            eta_s=np.where(cut, np.inf, travel.eta_s),
            distance_m=np.where(cut, np.inf, travel.distance_m),
            method=travel.method,
        )


def _recommend(session: Session, incident_id: int, **kwargs: Any) -> Any:
    incident = service.get_incident(session, incident_id, related=False)
    return recommend.recommend(
        session=session,
        city=kwargs.pop("city", StraightLineCity(name="test", bbox=BBOX)),
        incident=incident,
        plans=parse_plans(None),
        **kwargs,
    ).model_dump()


def test_units_with_no_route_are_left_out_after_those_without_a_position(
    client: TestClient, sup: dict[str, str], session: Session
) -> None:
    new_unit(client, sup, "PS-1", at=JAUDE)
    new_unit(client, sup, "PS-2", at=NORD)  # beyond the cut
    nowhere = client.post(
        "/api/v1/units", json={"call_sign": "PS-3", "unit_type": "car"}, headers=sup
    ).json()
    assert client.post(
        f"/api/v1/units/{nowhere['id']}/status", json={"status": "available"}, headers=sup
    ).is_success
    iid = new_incident(client, sup, "theft", at=GARE)["incident"]["id"]

    rec = _recommend(session, iid, city=CutOffNorth(name="test", bbox=BBOX))

    assert [c["call_sign"] for c in rec["candidates"]] == ["PS-1"]
    assert [(e["call_sign"], e["reason"]) for e in rec["excluded"]] == [
        ("PS-3", "no known position"),
        ("PS-2", "no route to the incident"),
    ]
    assert rec["plan"]["proposed_call_signs"] == ["PS-1"]


def test_equal_travel_times_rank_by_call_sign_and_preemption_must_save_a_minute(
    client: TestClient, sup: dict[str, str], session: Session
) -> None:
    for call_sign in ("PS-9", "PS-10"):  # side by side, 1.3 km from the incident
        new_unit(client, sup, call_sign, at=JAUDE)
    busy = new_unit(client, sup, "PS-20", at=GARE)  # on the incident's doorstep...
    low = new_incident(client, sup, "noise", at=GARE)["incident"]["id"]  # ...on a P3
    sent = client.post(
        f"/api/v1/incidents/{low}/dispatch", json={"unit_ids": [busy["id"]]}, headers=sup
    )
    assert sent.status_code == 200, sent.text
    urgent = new_incident(client, sup, "fight", at=GARE)["incident"]["id"]  # P1

    rec = _recommend(session, urgent)

    ranked = [(c["call_sign"], c["preemptable"]) for c in rec["candidates"]]
    # PS-20 is about 0 s away against some 200 s for the free ones: worth taking.
    assert ranked == [("PS-20", True), ("PS-10", False), ("PS-9", False)]
    assert rec["candidates"][1]["eta_s"] == rec["candidates"][2]["eta_s"]
    assert rec["plan"]["units"] == 2  # a fight: two crews, never a preempted one
    assert rec["plan"]["proposed_call_signs"] == ["PS-10", "PS-9"]
    # Free units closer than the preemption penalty: the busy crew comes after them.
    fast = StraightLineCity(name="fast", bbox=BBOX, drive_speed_mps=1000.0)
    quick = _recommend(session, urgent, city=fast)  # every ETA now under a few seconds
    assert [c["call_sign"] for c in quick["candidates"]] == ["PS-10", "PS-9", "PS-20"]
    assert _recommend(session, urgent, limit=1)["candidates"][0]["call_sign"] == "PS-20"


def test_a_unit_s_own_capabilities_count_with_its_type_s_in_one_read_for_several_incidents(
    client: TestClient, sup: dict[str, str], session: Session
) -> None:
    new_unit(client, sup, "PS-30", at=JAUDE, capabilities=["firearms"])  # an armed crew
    new_unit(client, sup, "PS-31", at=JAUDE, capabilities=["dog", "firearms"])
    new_unit(client, sup, "PS-32", at=JAUDE)  # a car: transport only
    new_unit(client, sup, "K9-33", unit_type="dog", at=NORD)
    armed = new_incident(client, sup, "armed_person", at=GARE)["incident"]["id"]  # firearms
    drugs = new_incident(client, sup, "drug_dealing", at=GARE)["incident"]["id"]  # a dog
    theft = new_incident(client, sup, "theft", at=GARE)["incident"]["id"]  # anyone

    found = recommend.incidents_to_rank(session, [theft, armed, drugs, 10**9])
    assert sorted(found) == sorted([armed, drugs, theft])  # an unknown id is left out
    answers = recommend.recommend_many(
        session=session,
        city=StraightLineCity(name="test", bbox=BBOX),
        asked=[(found[armed], 10), (found[drugs], 10), (found[theft], 2)],
        plans=parse_plans(None),
    )

    offered = [sorted(c.call_sign for c in answer.candidates) for answer in answers]
    assert offered == [["PS-30", "PS-31"], ["K9-33", "PS-31"], ["PS-30", "PS-31"]]
    left_out = [{e["call_sign"]: e["reason"] for e in answer.excluded} for answer in answers]
    assert left_out == [
        {"PS-32": "lacks firearms", "K9-33": "lacks firearms"},
        {"PS-30": "lacks dog", "PS-32": "lacks dog"},
        {},
    ]
    # The same answers as asked one by one.
    for incident_id, limit, answer in zip((armed, drugs, theft), (10, 10, 2), answers, strict=True):
        assert _recommend(session, incident_id, limit=limit) == answer.model_dump()


def test_capabilities_read_as_json_text_decode_to_sets() -> None:
    assert recommend._capabilities('["dog", "firearms"]') == {"dog", "firearms"}
    assert recommend._capabilities("[]") == recommend._capabilities("null") == frozenset()
    assert recommend._capabilities(None) == frozenset()
