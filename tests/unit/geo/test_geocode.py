"""Geocoding: addresses, streets, landmarks, intersections, unknowns, reverse."""

from __future__ import annotations

from pathlib import Path

import pytest
import shapely

from arverne.geo.geocode import Geocoder
from arverne.geo.location import locate
from arverne.geo.pack import CityPack, build_pack, load_pack
from tests.unit.geo.town import OsmXml, grid_lonlat, node_id


def _near(lonlat: tuple[float, float], row: float, col: float, metres: float) -> bool:
    lon, lat = grid_lonlat(row, col)
    return shapely.Point(lonlat).distance(shapely.Point(lon, lat)) * 111_000 < metres


@pytest.mark.parametrize(
    "query",
    ["3 rue Blatin", "3 RUE BLATIN", "3, r. Blatin", "3 rue blatn", "3 Rue Blatin, 63000 Clermont"],
)
def test_house_numbers_are_found_whatever_the_spelling(geocoder: Geocoder, query: str) -> None:
    result = geocoder.geocode(query)
    best = result[0]
    assert best.kind == "address"
    assert best.label == "3 Rue Blatin"
    assert best.housenumber == "3"
    assert _near((best.lon, best.lat), -0.1, 0.75, 5)
    if query in ("3 rue Blatin", "3 RUE BLATIN", "3, r. Blatin"):
        assert best.confidence == 1.0
    else:
        assert 0.8 <= best.confidence < 1.0 or "clermont" in query.lower()


def test_suffix_and_number_after_street(geocoder: Geocoder) -> None:
    best = geocoder.geocode("12 bis av. des Etats Unis")[0]
    assert best.label == "12 bis Avenue des États-Unis"
    assert best.confidence == 1.0
    plain = geocoder.geocode("12 avenue des états-unis")[0]
    assert plain.housenumber == "12 bis"
    assert plain.confidence < 1.0
    assert plain.note
    trailing = geocoder.geocode("Rue Blatin 5")[0]
    assert trailing.label == "5 Rue Blatin"


def test_missing_house_number_is_interpolated_with_lower_confidence(geocoder: Geocoder) -> None:
    best = geocoder.geocode("4 rue blatin")[0]
    assert best.confidence == 1.0
    missing = geocoder.geocode("5 bis rue blatin")[0]
    assert missing.confidence < 1.0
    assert "not found" in (missing.note or "")
    beyond = geocoder.geocode("99 rue blatin")[0]
    assert beyond.confidence <= 0.5
    assert "nearest known number" in (beyond.note or "")


@pytest.mark.parametrize(
    ("query", "label"),
    [
        ("Bd Cote Blatin", "Boulevard Côte-Blatin"),
        ("boulevard côte-blatin", "Boulevard Côte-Blatin"),
        ("r. st esprit", "Rue Saint-Esprit"),
        ("rue de la rotnde", "Rue de la Rotonde"),
        ("avenue des etats unis", "Avenue des États-Unis"),
    ],
)
def test_streets_with_abbreviations_accents_and_typos(
    geocoder: Geocoder, query: str, label: str
) -> None:
    best = geocoder.geocode(query)[0]
    assert best.kind == "street"
    assert best.label == label
    assert best.confidence >= 0.8


@pytest.mark.parametrize(
    ("query", "label"),
    [
        ("gare", "Gare de Clermont-Ferrand"),
        ("commissariat", "Hôtel de police"),
        ("Place de Jaude", "Place de Jaude"),
        ("pl. de jaude", "Place de Jaude"),
        ("chu gabriel montpied", "CHU Gabriel-Montpied"),
        ("hopital", "CHU Gabriel-Montpied"),
    ],
)
def test_landmarks_by_name_or_kind(geocoder: Geocoder, query: str, label: str) -> None:
    best = geocoder.geocode(query)[0]
    assert best.kind == "landmark"
    assert best.label == label


@pytest.mark.parametrize(
    "query",
    [
        "angle rue Blatin et rue Gonod",
        "à l'angle de la r. blatin et de la rue gonod",
        "rue Blatin / rue Gonod",
        "carrefour rue blatin x rue gonod",
    ],
)
def test_intersections(geocoder: Geocoder, query: str) -> None:
    result = geocoder.geocode(query)
    assert len(result) == 1
    best = result[0]
    assert best.kind == "intersection"
    assert best.label == "Rue Blatin / Rue Gonod"
    assert _near((best.lon, best.lat), 0, 1, 3)


def test_streets_that_do_not_meet_give_a_hint(geocoder: Geocoder) -> None:
    result = geocoder.geocode("angle rue Blatin et rue Saint-Esprit")
    assert len(result) == 0
    assert result.hint is not None
    assert "do not meet" in result.hint


@pytest.mark.parametrize("query", ["12 rue Inconnue du Nowhere", "zzzz qqqq", "   "])
def test_unknown_addresses_return_nothing_with_a_hint(geocoder: Geocoder, query: str) -> None:
    result = geocoder.geocode(query)
    assert list(result) == []
    assert result.hint


def test_hint_suggests_close_spellings(geocoder: Geocoder) -> None:
    result = geocoder.geocode("12 rue Blotinx Gonadd")
    assert not result
    assert result.hint is not None


def test_candidates_are_ranked_by_confidence(geocoder: Geocoder) -> None:
    result = geocoder.geocode("blatin", limit=5)
    confidences = [c.confidence for c in result]
    assert confidences == sorted(confidences, reverse=True)
    assert result[0].label == "Rue Blatin"
    typo = geocoder.geocode("rue blatn", limit=5)
    assert typo[0].label == "Rue Blatin"
    assert typo[0].confidence > max([c.confidence for c in typo[1:]], default=0.0)
    with pytest.raises(ValueError, match="limit"):
        geocoder.geocode("blatin", limit=0)


def test_reverse_geocoding_gives_street_number_and_distance(geocoder: Geocoder) -> None:
    lon, lat = grid_lonlat(-0.05, 0.75)  # 5 m south of Rue Blatin, near number 3
    found = geocoder.reverse(lon, lat)
    assert found.street == "Rue Blatin"
    assert found.housenumber_label == "3 Rue Blatin"
    assert found.distance_m == pytest.approx(5.0, rel=0.1)
    assert not found.far
    assert not found.outside
    far = geocoder.reverse(*grid_lonlat(20, 20))
    assert far.far
    assert far.outside
    assert far.distance_m > 1000


def test_locate_names_street_district_and_snap_distance(town: CityPack) -> None:
    west = locate(town, *grid_lonlat(0.1, 0.75))
    assert west.street == "Rue Blatin"
    assert west.housenumber_label == "4 Rue Blatin"
    assert west.district == "Ouest"
    assert west.snap_distance_m == pytest.approx(10.0, rel=0.05)
    assert west.on_network
    assert not west.outside
    east = locate(town, *grid_lonlat(3, 3.5))
    assert east.street == "Avenue des États-Unis"
    assert east.district == "Est"
    lost = locate(town, *grid_lonlat(40, 40))
    assert not lost.on_network
    assert lost.outside
    assert lost.snap_distance_m > 1000
    assert lost.district is None


def test_street_names_containing_et_are_not_crossings(tmp_path: Path) -> None:
    osm = OsmXml()
    for col in range(3):
        for row in range(2):
            osm.node(*grid_lonlat(row, col), osm_id=node_id(row, col))
    osm.way(
        [node_id(0, c) for c in range(3)],
        {"highway": "residential", "name": "Rue Pierre et Marie Curie"},
    )
    osm.way([node_id(1, c) for c in range(3)], {"highway": "residential", "name": "Rue Pierre"})
    for col in range(3):
        # "Rue Marie Curie" does cross "Rue Pierre": only the whole-name check helps.
        name = "Rue Marie Curie" if col == 0 else f"Rue Marie {col}"
        osm.way([node_id(0, col), node_id(1, col)], {"highway": "residential", "name": name})
    pack = load_pack(
        build_pack(osm.write(tmp_path / "curie.osm"), name="Curie", out_dir=tmp_path / "p")
    )
    geocoder = Geocoder(pack)
    best = geocoder.geocode("rue Pierre et Marie Curie")[0]
    assert best.kind == "street"
    assert best.label == "Rue Pierre et Marie Curie"
    crossing = geocoder.geocode("angle rue Pierre et rue Marie 2")[0]
    assert crossing.kind == "intersection"
    assert crossing.label == "Rue Pierre / Rue Marie 2"
