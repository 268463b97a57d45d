"""Text normalisation, speed parsing and CRS choice."""

from __future__ import annotations

import pytest

from arverne.geo.crs import LAMBERT_93, Projector, choose_metric_crs, utm_epsg
from arverne.geo.network import drive_directions, is_drivable, is_walkable
from arverne.geo.speeds import (
    check_emergency_factor,
    default_speed_kmh,
    drive_speed_kmh,
    emergency_travel_time_s,
    parse_maxspeed,
)
from arverne.geo.text import normalize, split_street


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Bd Côte-Blatin", "boulevard cote blatin"),
        ("PL. DE JAUDE", "place de jaude"),
        ("12, r. Blatin", "12 rue blatin"),
        ("Av. des États-Unis", "avenue des etats unis"),
        ("St-Esprit", "saint esprit"),
        ("Rue de l'Œuvre", "rue de l oeuvre"),
    ],
)
def test_normalize_folds_case_accents_and_abbreviations(text: str, expected: str) -> None:
    assert normalize(text) == expected


def test_split_street_separates_type_and_drops_articles() -> None:
    assert split_street("rue de la rotonde") == ("rue", "rotonde")
    assert split_street("jaude") == ("", "jaude")
    assert split_street("rond point de la paix") == ("rond", "paix")


@pytest.mark.parametrize(
    ("value", "kmh"),
    [
        ("50", 50.0),
        ("30 mph", 30 * 1.609344),
        ("50 km/h", 50.0),
        ("FR:urban", 50.0),
        ("FR:zone30", 30.0),
        ("DE:zone:30", 30.0),
        ("50;30", 30.0),
        ("walk", 6.0),
        ("none", None),
        ("signals", None),
        ("fast", None),
        ("900", None),
        (None, None),
    ],
)
def test_parse_maxspeed(value: str | None, kmh: float | None) -> None:
    result = parse_maxspeed(value)
    if kmh is None:
        assert result is None
    else:
        assert result == pytest.approx(kmh)


def test_drive_speed_prefers_directional_then_tag_then_class_default() -> None:
    tags = {"highway": "primary", "maxspeed": "50", "maxspeed:backward": "30"}
    assert drive_speed_kmh(tags, forward=True) == 50.0
    assert drive_speed_kmh(tags, forward=False) == 30.0
    assert drive_speed_kmh({"highway": "residential"}) == default_speed_kmh("residential")
    assert drive_speed_kmh({"highway": "residential", "zone:maxspeed": "FR:30"}) == 30.0
    assert default_speed_kmh("no-such-class") == 30.0


def test_oneway_rules() -> None:
    assert drive_directions({"highway": "residential", "oneway": "yes"}) == (True, False)
    assert drive_directions({"highway": "residential", "oneway": "-1"}) == (False, True)
    assert drive_directions({"highway": "residential"}) == (True, True)
    assert drive_directions({"highway": "primary", "junction": "roundabout"}) == (True, False)
    assert drive_directions({"highway": "motorway"}) == (True, False)
    assert drive_directions({"highway": "motorway", "oneway": "no"}) == (True, True)


def test_drivable_and_walkable_classes() -> None:
    assert is_drivable({"highway": "residential"})
    assert not is_drivable({"highway": "footway"})
    assert not is_drivable({"highway": "residential", "access": "private"})
    assert not is_drivable({"highway": "service", "service": "parking_aisle"})
    assert is_walkable({"highway": "footway"})
    assert not is_walkable({"highway": "motorway"})
    assert not is_walkable({"highway": "footway", "foot": "no"})
    assert is_walkable({"highway": "cycleway", "foot": "designated"})
    assert not is_walkable({"highway": "cycleway"})


def test_emergency_factor_divides_times_and_is_validated() -> None:
    assert emergency_travel_time_s([130.0], 1.3).tolist() == pytest.approx([100.0])
    with pytest.raises(ValueError, match="emergency_factor"):
        check_emergency_factor(5.0)


@pytest.mark.parametrize(
    ("lon", "lat", "epsg"),
    [
        (3.08, 45.77, LAMBERT_93),  # Clermont-Ferrand
        (9.15, 42.15, LAMBERT_93),  # Corsica
        (7.42, 43.74, 32632),  # Monaco is not France
        (24.94, 60.17, 32635),  # Helsinki
        (-58.4, -34.6, 32721),  # Buenos Aires, southern hemisphere
        (5.3, 60.4, 32632),  # Bergen: the Norway exception
    ],
)
def test_metric_crs_choice(lon: float, lat: float, epsg: int) -> None:
    assert choose_metric_crs(lon, lat) == epsg


def test_utm_rejects_polar_points_and_projector_round_trips() -> None:
    with pytest.raises(ValueError, match="UTM"):
        utm_epsg(0.0, 89.0)
    projector = Projector(LAMBERT_93)
    x, y = projector.to_metric([3.08], [45.77])
    lon, lat = projector.to_lonlat(x, y)
    assert lon[0] == pytest.approx(3.08, abs=1e-9)
    assert lat[0] == pytest.approx(45.77, abs=1e-9)
