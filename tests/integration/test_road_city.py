"""Dispatch on a real city pack: geocoded intake, road ETAs, map layers, refusals."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from arverne.dispatch.citypack import RoadCity, load_city
from arverne.errors import InvalidInputError
from tests.conftest import make_settings
from tests.dispatch_data import new_unit
from tests.unit.geo.town import grid_lonlat


@pytest.fixture(scope="module")
def town_pack(small_city_pack: Path) -> Path:
    return small_city_pack


def test_intake_by_address_is_geocoded_snapped_and_named(
    town_client: TestClient, sup: dict[str, str]
) -> None:
    response = town_client.post(
        "/api/v1/incidents", json={"type_code": "theft", "address": "3 r. blatin"}, headers=sup
    )
    assert response.status_code == 201, response.text
    incident = response.json()["incident"]
    assert incident["street"] == "Rue Blatin"
    assert "Blatin" in incident["address"]
    assert incident["district"] in {"Ouest", "Est"}
    assert incident["snap_distance_m"] < 30


def test_unknown_and_outside_addresses_are_refused(
    town_client: TestClient, sup: dict[str, str]
) -> None:
    unknown = town_client.post(
        "/api/v1/incidents",
        json={"type_code": "theft", "address": "Rue Inexistante Zzz"},
        headers=sup,
    )
    assert unknown.status_code == 422
    assert unknown.json()["errors"][0]["field"] == "address"
    outside = town_client.post(
        "/api/v1/incidents", json={"type_code": "theft", "lon": 3.2, "lat": 45.9}, headers=sup
    )
    assert outside.status_code == 422
    assert "outside" in outside.json()["detail"]


def test_recommendation_uses_road_travel_times(
    town_client: TestClient, sup: dict[str, str]
) -> None:
    near = new_unit(town_client, sup, "T-1", at=grid_lonlat(0, 1))
    far = new_unit(town_client, sup, "T-2", at=grid_lonlat(4, 4))
    lon, lat = grid_lonlat(0, 0.5)
    iid = town_client.post(
        "/api/v1/incidents", json={"type_code": "theft", "lon": lon, "lat": lat}, headers=sup
    ).json()["incident"]["id"]
    rec = town_client.get(f"/api/v1/incidents/{iid}/recommendations", headers=sup).json()
    assert rec["method"] == "road_network"
    assert [c["unit_id"] for c in rec["candidates"]] == [near["id"], far["id"]]
    assert "by road" in rec["candidates"][0]["why"]
    # Half a 100 m block along Rue Blatin for the near unit; the far one drives around.
    assert rec["candidates"][0]["distance_m"] == pytest.approx(50, abs=6)
    assert rec["candidates"][1]["distance_m"] > 700


def test_geo_endpoints_for_the_console(town_client: TestClient, sup: dict[str, str]) -> None:
    info = town_client.get("/api/v1/geo/info", headers=sup).json()
    assert info["method"] == "road_network"
    found = town_client.get(
        "/api/v1/geo/geocode", params={"q": "place de jaude"}, headers=sup
    ).json()
    assert found["candidates"][0]["label"].startswith("Place de Jaude")
    none = town_client.get("/api/v1/geo/geocode", params={"q": "qwxyz"}, headers=sup).json()
    assert none["candidates"] == []
    assert none["hint"]
    lon, lat = grid_lonlat(0, 2.5)
    place = town_client.get("/api/v1/geo/reverse", params={"lon": lon, "lat": lat}, headers=sup)
    assert place.json()["street"] == "Rue Blatin"
    answer = town_client.get("/api/v1/geo/streets", headers={**sup, "Accept-Encoding": "gzip"})
    assert answer.headers["content-encoding"] == "gzip"  # megabytes for a real city
    streets = answer.json()
    names = {f["properties"]["name"] for f in streets["features"]}
    assert {"Rue Blatin", "Avenue Julien"} <= names
    etag = answer.headers["etag"]
    again = town_client.get("/api/v1/geo/streets", headers={**sup, "If-None-Match": etag})
    assert (again.status_code, again.content) == (304, b"")  # the browser keeps its copy
    plain = town_client.get("/api/v1/geo/streets", headers={**sup, "Accept-Encoding": "identity"})
    assert "content-encoding" not in plain.headers
    assert plain.json() == streets
    districts = town_client.get("/api/v1/geo/districts", headers=sup).json()
    assert {f["properties"]["name"] for f in districts["features"]} >= {"Ouest", "Est"}
    assert town_client.get("/api/v1/geo/info").status_code == 401


def test_load_city_from_settings(town_pack: Path, tmp_path: Path, database_url: str) -> None:
    city = load_city(make_settings(database_url, city_pack=town_pack))
    assert isinstance(city, RoadCity)
    broken = tmp_path / "broken"
    broken.mkdir()
    with pytest.raises(InvalidInputError, match="ARVERNE_CITY_PACK"):
        load_city(make_settings(database_url, city_pack=broken))
