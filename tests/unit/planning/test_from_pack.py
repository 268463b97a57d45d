"""Simulation zones from a city pack: road travel times, districts, call weights."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from arverne.geo.pack import build_pack, load_pack
from arverne.planning import PlanningInputError
from arverne.planning.from_pack import city_from_pack
from tests.unit.geo.town import districts_geojson, write_town_osm


def test_zones_follow_the_streets(tmp_path: Path) -> None:
    districts = tmp_path / "d.geojson"
    districts.write_text(json.dumps(districts_geojson()), encoding="utf-8")
    pack = load_pack(
        build_pack(
            write_town_osm(tmp_path / "t.osm"),
            name="T",
            out_dir=tmp_path / "p",
            districts=districts,
        )
    )
    city = city_from_pack(pack, zones=6, turnout_s=60.0)
    assert city.n_zones == 6
    assert np.isfinite(city.travel_s).all()
    assert np.allclose(np.diag(city.travel_s), 60.0)  # own zone: turnout only
    assert (city.travel_s >= 60.0).all()
    # Zones farther apart take longer to reach (road times follow distance).
    assert city.xy_m is not None
    gap = np.linalg.norm(city.xy_m[:, None, :] - city.xy_m[None, :, :], axis=2)
    assert np.corrcoef(gap.ravel(), city.travel_s.ravel())[0, 1] > 0.5
    assert city.weights.sum() == pytest.approx(1.0)
    assert set(city.district_names) <= {"Ouest", "Est", "outside"}
    assert set(city.district.tolist()) <= set(range(len(city.district_names)))
    with pytest.raises(PlanningInputError):
        city_from_pack(pack, zones=10_000)
