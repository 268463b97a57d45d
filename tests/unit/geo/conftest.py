"""Fixtures of the geo tests: the test town and a random grid, built once per session."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from arverne.geo.geocode import Geocoder
from arverne.geo.pack import CityPack, build_pack, load_pack
from tests.unit.geo.town import districts_geojson, write_grid_osm, write_town_osm


@pytest.fixture(scope="session")
def town_osm(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_town_osm(tmp_path_factory.mktemp("town") / "town.osm")


@pytest.fixture(scope="session")
def town_pack_dir(tmp_path_factory: pytest.TempPathFactory, town_osm: Path) -> Path:
    work = tmp_path_factory.mktemp("town-pack")
    districts = work / "districts.geojson"
    districts.write_text(json.dumps(districts_geojson()), encoding="utf-8")
    return build_pack(town_osm, name="Testville", out_dir=work / "pack", districts=districts)


@pytest.fixture(scope="session")
def town(town_pack_dir: Path) -> CityPack:
    return load_pack(town_pack_dir)


@pytest.fixture(scope="session")
def geocoder(town: CityPack) -> Geocoder:
    return Geocoder(town)


@pytest.fixture(scope="session")
def grid(tmp_path_factory: pytest.TempPathFactory) -> CityPack:
    work = tmp_path_factory.mktemp("grid")
    source = write_grid_osm(work / "grid.osm", size=20, seed=3)
    return load_pack(build_pack(source, name="Grid", out_dir=work / "pack"))
