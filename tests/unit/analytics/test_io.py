"""Import: column mapping, validation report, CRS checks, categories, person fields."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from arverne.analytics.categories import (
    DEFAULT_MAPPING,
    TAXONOMY,
    load_mapping,
    map_categories,
    write_mapping,
)
from arverne.analytics.errors import (
    CategoryMappingError,
    ColumnNotFoundError,
    CoordinateError,
    DateParseError,
    FieldNotAllowedError,
    PersonFieldError,
)
from arverne.analytics.io import (
    ColumnMapping,
    import_incidents,
    read_events,
    read_table,
    write_events,
)
from arverne.analytics.schema import is_person_field, require_model_fields

LONLAT = ColumnMapping(
    time="when",
    time_format="%d/%m/%Y %H:%M",
    timezone="Europe/Paris",
    lon="lon",
    lat="lat",
    category="type",
)


def _raw(n: int = 40, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    times = pd.Timestamp("2024-03-01") + pd.to_timedelta(rng.uniform(0, 60, n), unit="D")
    return pd.DataFrame(
        {
            "when": times.strftime("%d/%m/%Y %H:%M"),
            "lon": (3.08 + rng.normal(0, 0.01, n)).round(6).astype(str),
            "lat": (45.78 + rng.normal(0, 0.01, n)).round(6).astype(str),
            "type": rng.choice(["BURGLARY", "THEFT", "Robbery"], n),
        }
    )


def test_import_lists_every_rejected_row_with_its_reason() -> None:
    raw = _raw()
    raw.loc[3, "when"] = "31/02/2024 10:00"  # no such day
    raw.loc[5, "lon"] = ""  # missing
    raw.loc[6, ["lon", "lat"]] = ["0", "0"]
    raw.loc[8, "type"] = "ALIEN ABDUCTION"
    raw.loc[9, ["lon", "lat"]] = ["2.35", "48.86"]  # Paris, 350 km away
    raw.loc[11, "type"] = None
    result = import_incidents(raw, mapping=LONLAT, source="test.csv")
    report = result.report
    rejected = {r["row"]: r["reason"] for r in report.rejected}
    assert rejected == {
        3: "unparseable date",
        5: "missing coordinates",
        6: "invalid coordinates (0, 0)",
        8: "unknown category",
        9: "far outside the study area (> 60 km)",
        11: "missing category",
    }
    assert report.n_accepted == len(result.events) == 34
    assert report.n_input == report.n_accepted + len(report.rejected)
    assert next(r for r in report.rejected if r["row"] == 3)["value"] == "31/02/2024 10:00"
    assert report.to_dict()["reasons"]["unknown category"] == 1
    events = result.events
    assert list(events.columns) == ["time", "x", "y", "category", "source_category"]
    assert str(events["time"].dt.tz) == "UTC"
    assert events["time"].is_monotonic_increasing
    assert result.crs == "EPSG:32631"  # UTM zone of Clermont-Ferrand
    assert set(events["category"]) <= {"burglary", "theft", "robbery"}


def test_times_are_read_in_the_city_zone_and_stored_in_utc() -> None:
    raw = _raw(3)
    raw["when"] = ["01/07/2024 12:00", "01/01/2024 12:00", "02/01/2024 00:30"]
    events = import_incidents(raw, mapping=LONLAT).events
    assert events["time"].dt.strftime("%H:%M").tolist() == ["11:00", "23:30", "10:00"]


def test_whole_file_problems_name_the_fix() -> None:
    raw = _raw()
    with pytest.raises(ColumnNotFoundError, match=r"'date'.*available columns are when"):
        import_incidents(raw, mapping=ColumnMapping(time="date", lon="lon", lat="lat"))
    with pytest.raises(DateParseError, match="--time-format"):
        import_incidents(
            raw, mapping=ColumnMapping(time="when", time_format="%Y-%m-%d", lon="lon", lat="lat")
        )
    projected = raw.assign(x=raw["lon"], y=raw["lat"])
    with pytest.raises(CoordinateError, match="another CRS"):
        import_incidents(
            projected,
            mapping=ColumnMapping(
                time="when", time_format="%d/%m/%Y %H:%M", x="x", y="y", crs="EPSG:2154"
            ),
        )
    with pytest.raises(CoordinateError, match="--crs"):
        import_incidents(raw, mapping=ColumnMapping(time="when", x="lon", y="lat"))


def test_person_fields_are_refused() -> None:
    raw = _raw().assign(suspect_name="x", victim_age="40")
    mapping = ColumnMapping(
        time="when",
        time_format="%d/%m/%Y %H:%M",
        lon="lon",
        lat="lat",
        place_attributes={"suspect_name": "premise"},
    )
    with pytest.raises(PersonFieldError, match="suspect_name"):
        import_incidents(raw, mapping=mapping)
    # Unmapped person columns never reach the clean table.
    events = import_incidents(raw, mapping=LONLAT).events
    assert not {"suspect_name", "victim_age"} & set(events.columns)
    for name in (
        "Arrest",
        "victim race",
        "suspectAge",
        "first name",
        "person_id",
        "ethnicity",
        "Sex",
        "offender",
    ):
        assert is_person_field(name), name
    for name in ("primary_type", "LSOA name", "Crime ID", "district", "location_description"):
        assert not is_person_field(name), name
    with pytest.raises(PersonFieldError):
        require_model_fields(["time", "x", "y", "victim_age"])
    with pytest.raises(FieldNotAllowedError, match="income"):
        require_model_fields(["time", "x", "y", "income"])


def test_date_parts_numeric_times_and_projected_input() -> None:
    frame = pd.DataFrame(
        {
            "Y": ["2019", "2019"],
            "M": ["1", "2"],
            "D": ["5", "6"],
            "H": ["3", "x"],
            "x": ["700000", "700100"],
            "y": ["6520000", "6520100"],
        }
    )
    parts = ColumnMapping(
        date_parts={"year": "Y", "month": "M", "day": "D", "hour": "H"},
        x="x",
        y="y",
        crs="EPSG:2154",
    )
    result = import_incidents(frame, mapping=parts)
    assert result.crs == "EPSG:2154"  # a metric input CRS is kept
    assert result.report.rejected == [{"row": 1, "reason": "unparseable date", "value": ""}]
    days = pd.DataFrame({"t": ["3286.5"], "x": ["700000"], "y": ["6520000"]})
    numeric = ColumnMapping(
        time="t", time_unit="D", time_origin="2010-01-02", x="x", y="y", crs="EPSG:2154"
    )
    stamp = import_incidents(days, mapping=numeric).events["time"].iloc[0]
    assert stamp == pd.Timestamp("2019-01-01 12:00", tz="UTC")


def test_read_csv_geojson_parquet(tmp_path: Path) -> None:
    raw = _raw(5)
    csv = tmp_path / "in.csv.gz"
    raw.to_csv(csv, index=False)
    assert read_table(csv).equals(raw)
    features = [
        {
            "type": "Feature",
            "geometry": {"type": "Point", "coordinates": [float(r.lon), float(r.lat)]},
            "properties": {"when": r.when, "type": r.type},
        }
        for r in raw.itertuples()
    ]
    geo = tmp_path / "in.geojson"
    geo.write_text(json.dumps({"type": "FeatureCollection", "features": features}))
    mapping = ColumnMapping(
        time="when",
        time_format="%d/%m/%Y %H:%M",
        lon="geometry_lon",
        lat="geometry_lat",
        category="type",
    )
    from_geo = import_incidents(read_table(geo), mapping=mapping)
    assert from_geo.report.n_accepted == 5
    out = write_events(tmp_path / "events.parquet", from_geo.events, crs=from_geo.crs)
    back, crs = read_events(out)
    assert crs == from_geo.crs
    assert np.allclose(back["x"], from_geo.events["x"])
    with pytest.raises(FileNotFoundError, match="no such file"):
        read_table(tmp_path / "missing.csv")


def test_category_mapping_file_round_trip(tmp_path: Path) -> None:
    file = write_mapping(tmp_path / "map.json")
    mapping = load_mapping(file)
    assert mapping["theft"] == "theft"
    assert mapping["narcotics"] == "drugs"
    assert len(mapping) == len({k.casefold() for k in DEFAULT_MAPPING})
    edited = json.loads(file.read_text()) | {"VOL À LA TIRE": "theft"}
    file.write_text(json.dumps(edited))
    values = pd.Series([" vol à la tire ", "THEFT", "violence", "unheard of", None])
    mapped = map_categories(values, mapping=load_mapping(file))
    assert mapped.tolist()[:3] == ["theft", "theft", "violence"]
    assert mapped.isna().tolist()[3:] == [True, True]
    assert map_categories(values, unknown="other").tolist()[3] == "other"
    file.write_text(json.dumps({"THEFT": "larceny"}))
    with pytest.raises(CategoryMappingError, match="larceny"):
        load_mapping(file)
    assert "drugs" in TAXONOMY
