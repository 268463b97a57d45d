"""Offline geocoder on a city pack: addresses, streets, landmarks and intersections.

Queries are normalised (case, accents, punctuation, abbreviations: see
:mod:`arverne.geo.text`) and matched with rapidfuzz, so "12 r. blatin", "12 Rue Blatin"
and "12 rue blattin" find the same house. Forms understood:

* ``"12 rue Blatin"``, ``"12 bis, Rue Blatin, 63000 Clermont-Ferrand"``,
  ``"Mannerheimintie 12"`` (number after the street);
* a street or square alone (``"avenue des États-Unis"``);
* a landmark by name or kind (``"gare"``, ``"stade"``, ``"Place de Jaude"``);
* an intersection: ``"angle rue X et rue Y"``, ``"rue X / rue Y"``, ``"rue X x rue Y"``,
  found where the two streets share a graph node.

It never guesses with confidence: an unknown address returns no candidate and a hint
(with close spellings, when any); a house number missing on a known street returns the
street's interpolated or nearest number with a lower confidence and a note.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import overload

import numpy as np
import shapely
from rapidfuzz import fuzz, process

from arverne.geo.geocode_crossing import near_point, shared_points
from arverne.geo.geocode_index import StreetEntry, build_streets
from arverne.geo.pack import CityPack
from arverne.geo.text import ARTICLES, normalize, split_street

STREET_MIN_SCORE = 80.0
LANDMARK_MIN_SCORE = 80.0
SUGGEST_MIN_SCORE = 55.0
TYPE_MISMATCH_PENALTY = 15.0
UNTYPED_PENALTY = 8.0
REVERSE_MAX_M = 150.0
KIND_OTHER_MAX_SCORE = 90.0
KIND_WORDS: dict[str, str] = {
    "gare": "station", "station": "station", "stade": "stadium", "hopital": "hospital",
    "chu": "hospital", "urgences": "hospital", "commissariat": "police", "police": "police",
    "hotel de police": "police", "mairie": "townhall", "hotel de ville": "townhall",
    "ecole": "school", "college": "school", "lycee": "school", "universite": "university",
    "fac": "university", "campus": "university", "bar": "bar", "pub": "pub",
    "boite de nuit": "nightclub", "discotheque": "nightclub", "theatre": "theatre",
    "parc": "park", "jardin": "park", "cathedrale": "place_of_worship",
    "eglise": "place_of_worship", "caserne": "fire_station", "pompiers": "fire_station",
    "tram": "tram_stop", "arret de tram": "tram_stop", "arret de bus": "bus_stop",
    "arret": "bus_stop", "musee": "museum", "cinema": "cinema",
}  # fmt: skip
_NUMBER_FIRST = re.compile(r"^(\d{1,5})\s*(bis|ter|quater|[a-h])?\s+(\D.*)$", re.IGNORECASE)
_NUMBER_LAST = re.compile(r"^(\D.*?)\s+(\d{1,5})\s*(bis|ter|quater|[a-h])?$", re.IGNORECASE)
_CROSSING_PREFIX = re.compile(
    r"^\s*(?:(?:a\s+)?l\s*'?\s*angle|angle|au\s+coin|coin|carrefour|croisement|intersection)"
    r"(?:\s+(?:de\s+la|de\s+l|des|du|de))?\s+",
)
_CROSSING_SPLIT = re.compile(r"\s+(?:et|x|angle)\s+|\s*[/&]\s*|\s+and\s+")
_POSTCODE = re.compile(r"\b\d{5}\b")


@dataclass(frozen=True)
class Candidate:
    """One geocoding answer (WGS84)."""

    label: str
    kind: str
    lon: float
    lat: float
    confidence: float
    street: str | None = None
    housenumber: str | None = None
    note: str | None = None


@dataclass(frozen=True)
class GeocodeResult(Sequence[Candidate]):
    """Ranked candidates (best first) and, when there is none, a hint for the user."""

    candidates: tuple[Candidate, ...]
    hint: str | None = None

    @overload
    def __getitem__(self, index: int) -> Candidate: ...
    @overload
    def __getitem__(self, index: slice) -> Sequence[Candidate]: ...
    def __getitem__(self, index: int | slice) -> Candidate | Sequence[Candidate]:
        return self.candidates[index]

    def __len__(self) -> int:
        return len(self.candidates)

    def __iter__(self) -> Iterator[Candidate]:
        return iter(self.candidates)


@dataclass(frozen=True)
class ReverseResult:
    """The street (and house number) nearest to a point."""

    street: str | None
    housenumber_label: str | None
    distance_m: float
    lon: float
    lat: float
    far: bool
    outside: bool

    @property
    def label(self) -> str:
        """Human text: "12 Rue Blatin", "Rue Blatin" or "unknown location"."""
        return self.housenumber_label or self.street or "unknown location"


class Geocoder:
    """Geocode text and reverse-geocode points on one city pack.

    Parameters
    ----------
    pack
        A loaded city pack. Building the indexes takes well under a second for 40,000
        addresses.
    """

    def __init__(self, pack: CityPack) -> None:
        self.pack = pack
        self.streets = build_streets(pack)
        self._street_list: list[StreetEntry] = list(self.streets.values())
        self._rests = [s.rest for s in self._street_list]
        self._full = [s.key for s in self._street_list]
        landmarks = pack.landmarks
        self._landmark_keys = [str(k) for k in landmarks["key"]]
        self._landmark_bare = [_without_articles(k) for k in self._landmark_keys]
        self._landmark_kinds = landmarks["kind"].to_numpy().astype(str)
        self._reverse = pack.reverse_index()
        city = normalize(pack.name.split("(")[0])
        cities: list[str] = (
            [str(c) for c in pack.addresses["city"].unique()] if "city" in pack.addresses else []
        )
        self._city_words = set(city.split()) | {
            w for c in cities for w in normalize(str(c)).split()
        }

    # -- public API -----------------------------------------------------------------

    def geocode(self, query: str, *, limit: int = 5) -> GeocodeResult:
        """Find the places a free-text query may mean.

        Parameters
        ----------
        query
            An address, street, landmark or intersection (see the module docstring).
        limit
            Largest number of candidates returned.

        Returns
        -------
        GeocodeResult
            Candidates sorted by confidence (0..1); empty with a ``hint`` when nothing
            matches well enough.
        """
        if limit < 1:
            raise ValueError(f"limit={limit} must be at least 1")
        main = self._main_part(query)
        if not main:
            return GeocodeResult((), "the query is empty; type an address, a street or a place")
        crossing = self._crossing(main, limit)
        if crossing is not None:
            return crossing
        number = _NUMBER_FIRST.match(main) or None
        if number is not None:
            suffix = (number.group(2) or "").lower()
            return self._address(number.group(1), suffix, number.group(3), limit)
        trailing = _NUMBER_LAST.match(main)
        if trailing is not None and self._match_streets(trailing.group(1), 1):
            suffix = (trailing.group(3) or "").lower()
            return self._address(trailing.group(2), suffix, trailing.group(1), limit)
        return self._places(main, limit)

    def reverse(
        self, lon: float, lat: float, *, max_distance_m: float = REVERSE_MAX_M
    ) -> ReverseResult:
        """Name the street (and house number) nearest to a WGS84 point.

        Parameters
        ----------
        lon, lat
            The point.
        max_distance_m
            Beyond this distance to the nearest named street the result is flagged
            ``far`` (the name is still given, but should not be trusted).

        Returns
        -------
        ReverseResult
            ``outside`` is True when the point is outside the city's boundary.
        """
        x, y = self.pack.projector.to_metric(lon, lat)
        fx, fy = float(x), float(y)
        outside = not bool(self.pack.boundary_metric.contains(shapely.Point(fx, fy)))
        nearest = self._reverse.nearest_street(fx, fy)
        if nearest is None:
            return ReverseResult(None, None, float("inf"), lon, lat, True, outside)
        street, distance, sx, sy = nearest
        address = self._reverse.nearest_address(fx, fy, street, max_m=min(100.0, max_distance_m))
        slon, slat = self.pack.projector.to_lonlat(sx, sy)
        return ReverseResult(
            street,
            address[0] if address else None,
            distance,
            float(slon),
            float(slat),
            distance > max_distance_m,
            outside,
        )

    # -- parsing --------------------------------------------------------------------------

    def _main_part(self, query: str) -> str:
        parts = [p.strip() for p in query.split(",") if p.strip()]
        if not parts:
            return ""
        main = parts[0]
        if re.fullmatch(r"\d{1,5}\s*(bis|ter|quater|[a-hA-H])?", main) and len(parts) > 1:
            main = f"{main} {parts[1]}"
        main = _POSTCODE.sub(" ", main)
        return " ".join(main.split())

    def _lonlat(self, x: float, y: float) -> tuple[float, float]:
        lon, lat = self.pack.projector.to_lonlat(x, y)
        return round(float(lon), 7), round(float(lat), 7)

    # -- matching -------------------------------------------------------------------------

    def _match_streets(
        self, text: str, limit: int, *, min_score: float = STREET_MIN_SCORE
    ) -> list[tuple[StreetEntry, float]]:
        words = normalize(text).split()
        while len(words) > 1 and words[0] in ARTICLES:
            words.pop(0)
        keys = [" ".join(words)]
        while len(words) > 1 and words[-1] in self._city_words:
            words.pop()
            keys.append(" ".join(words))  # "rue blatin clermont ferrand" -> "rue blatin"
        scored: dict[int, float] = {}
        for key in filter(None, keys):
            for index, score in self._score_streets(key, limit):
                scored[index] = max(scored.get(index, 0.0), score)
        ranked = sorted(scored.items(), key=lambda item: -item[1])
        return [(self._street_list[i], s) for i, s in ranked if s >= min_score][:limit]

    def _score_streets(self, key: str, limit: int) -> list[tuple[int, float]]:
        street_type, rest = split_street(key)
        choices = self._rests if street_type else self._full
        query = rest if street_type else key
        result = []
        for _, raw, index in process.extract(
            query, choices, scorer=fuzz.ratio, limit=limit + 10, score_cutoff=SUGGEST_MIN_SCORE - 25
        ):
            entry = self._street_list[index]
            score = float(raw)
            if street_type and entry.street_type and entry.street_type != street_type:
                score -= TYPE_MISMATCH_PENALTY
            if not street_type:  # "jaude" for "Place de Jaude": likely, but the type is unsaid
                score = max(score, float(fuzz.ratio(key, entry.rest)) - UNTYPED_PENALTY)
            result.append((index, score))
        return result

    def _match_landmarks(self, text: str, limit: int) -> list[tuple[int, float]]:
        key = normalize(text)
        if not key or not self._landmark_keys:
            return []
        bare = _without_articles(key)
        kind = KIND_WORDS.get(key) or KIND_WORDS.get(bare)
        scored: dict[int, float] = {}
        if kind is not None:
            for index in np.flatnonzero(self._landmark_kinds == kind).tolist():
                scored[index] = 100.0 if self._landmark_bare[index].startswith(bare) else 95.0
        # A bare kind word ("gare") means that kind first; "Arrêt de la Gare" comes after.
        cap = KIND_OTHER_MAX_SCORE if kind is not None else 100.0
        for _, raw, index in process.extract(
            bare,
            self._landmark_bare,
            scorer=fuzz.token_set_ratio,
            limit=limit + 10,
            score_cutoff=LANDMARK_MIN_SCORE,
        ):
            whole = float(fuzz.ratio(bare, self._landmark_bare[index]))
            score = max(whole, 0.9 * float(raw))
            if index not in scored:
                score = min(score, cap)
            scored[index] = max(scored.get(index, 0.0), score)
        ranked = sorted(scored.items(), key=lambda item: -item[1])
        return [(i, s) for i, s in ranked if s >= LANDMARK_MIN_SCORE][:limit]

    def _suggest(self, text: str) -> str:
        near = self._match_streets(text, 3, min_score=SUGGEST_MIN_SCORE)
        names = [entry.name for entry, _ in near]
        if not names:
            return ""
        return " Did you mean: " + ", ".join(names) + "?"

    # -- query kinds ----------------------------------------------------------------------

    def _street_candidate(
        self, entry: StreetEntry, score: float, note: str | None = None, factor: float = 1.0
    ) -> Candidate:
        lon, lat = self._lonlat(entry.x, entry.y)
        return Candidate(
            entry.name,
            "street",
            lon,
            lat,
            round(score / 100 * factor, 3),
            street=entry.name,
            note=note,
        )

    def _address(
        self, number_text: str, suffix: str, street_text: str, limit: int
    ) -> GeocodeResult:
        matches = self._match_streets(street_text, limit)
        if not matches:
            return GeocodeResult(
                (),
                f"no street matches {street_text!r} in {self.pack.name}; "
                "check the spelling or try the street name alone." + self._suggest(street_text),
            )
        number = int(number_text)
        wanted = f"{number}{' ' + suffix if suffix else ''}"
        candidates = [self._house(entry, score, number, suffix, wanted) for entry, score in matches]
        candidates.sort(key=lambda c: -c.confidence)
        return GeocodeResult(tuple(candidates[:limit]))

    def _house(
        self, entry: StreetEntry, score: float, number: int, suffix: str, wanted: str
    ) -> Candidate:
        base = score / 100.0
        if entry.numbers.size == 0:
            return self._street_candidate(
                entry, score, f"no house numbers known on {entry.name}; showing the street", 0.5
            )
        same = np.flatnonzero(entry.numbers == number)
        if same.size:
            exact = [i for i in same.tolist() if entry.suffixes[i] == suffix]
            i = exact[0] if exact else int(same[0])
            lon, lat = self._lonlat(float(entry.address_x[i]), float(entry.address_y[i]))
            factor = 1.0 if exact else 0.9
            note = None if exact else f"{wanted} not found; showing {entry.labels[i]}"
            return Candidate(
                f"{entry.labels[i]} {entry.name}",
                "address",
                lon,
                lat,
                round(base * factor, 3),
                entry.name,
                entry.labels[i],
                note,
            )
        parity = entry.numbers % 2 == number % 2
        pool = np.flatnonzero(parity) if parity.any() else np.arange(entry.numbers.size)
        below = pool[entry.numbers[pool] < number]
        above = pool[entry.numbers[pool] > number]
        if below.size and above.size:
            lo = below[np.argmax(entry.numbers[below])]
            hi = above[np.argmin(entry.numbers[above])]
            t = (number - entry.numbers[lo]) / (entry.numbers[hi] - entry.numbers[lo])
            x = float(entry.address_x[lo] + t * (entry.address_x[hi] - entry.address_x[lo]))
            y = float(entry.address_y[lo] + t * (entry.address_y[hi] - entry.address_y[lo]))
            note = (
                f"house number {wanted} not found on {entry.name}; position interpolated "
                f"between {entry.labels[lo]} and {entry.labels[hi]}"
            )
            factor = 0.6
        else:
            i = int(
                (below if below.size else above)[
                    np.argmin(np.abs(entry.numbers[below if below.size else above] - number))
                ]
            )
            x, y = float(entry.address_x[i]), float(entry.address_y[i])
            note = (
                f"house number {wanted} not found on {entry.name}; nearest known number "
                f"is {entry.labels[i]}"
            )
            factor = 0.5
        lon, lat = self._lonlat(x, y)
        return Candidate(
            f"{wanted} {entry.name}",
            "address",
            lon,
            lat,
            round(base * factor, 3),
            entry.name,
            wanted,
            note,
        )

    def _places(self, text: str, limit: int) -> GeocodeResult:
        candidates = [self._street_candidate(e, s) for e, s in self._match_streets(text, limit)]
        landmarks = self.pack.landmarks
        for index, score in self._match_landmarks(text, limit):
            row = landmarks.iloc[index]
            candidates.append(
                Candidate(
                    str(row["name"]),
                    "landmark",
                    round(float(row["lon"]), 7),
                    round(float(row["lat"]), 7),
                    round(score / 100, 3),
                    note=str(row["kind"]),
                )
            )
        if not candidates:
            return GeocodeResult(
                (),
                f"nothing matches {text!r} in {self.pack.name}; check the "
                "spelling, add the street type (rue, avenue ...) or a house "
                "number." + self._suggest(text),
            )
        candidates.sort(key=lambda c: (-c.confidence, c.kind != "landmark"))
        unique: dict[tuple[str, str], Candidate] = {}
        for c in candidates:
            unique.setdefault((c.kind, c.label), c)
        return GeocodeResult(tuple(list(unique.values())[:limit]))

    def _crossing(self, main: str, limit: int) -> GeocodeResult | None:
        folded = _plain(main)
        stripped = _CROSSING_PREFIX.sub("", folded)
        parts = [p.strip() for p in _CROSSING_SPLIT.split(stripped) if p.strip()]
        if len(parts) != 2:
            return None
        explicit = stripped != folded
        if not explicit and any(s >= 95.0 for _, s in self._match_streets(main, 1)):
            return None  # "Rue Pierre et Marie Curie" is one street, not a crossing
        first = self._match_streets(parts[0], 3)
        second = self._match_streets(parts[1], 3)
        if not first or not second:
            if explicit:  # "angle ..." was explicit: explain what is missing
                missing = parts[0] if not first else parts[1]
                return GeocodeResult(
                    (),
                    f"no street matches {missing!r} in {self.pack.name}; "
                    "check the spelling." + self._suggest(missing),
                )
            return None
        candidates: list[Candidate] = []
        for a, score_a in first:
            for b, score_b in second:
                if a.key == b.key:
                    continue
                candidates.extend(self._shared_nodes(a, b, min(score_a, score_b)))
        if not candidates:
            for a, score_a in first[:1]:
                for b, score_b in second[:1]:
                    near = self._near_crossing(a, b, min(score_a, score_b))
                    candidates.extend([near] if near is not None else [])
        if not candidates:
            return GeocodeResult(
                (),
                f"{first[0][0].name} and {second[0][0].name} do not meet in "
                f"{self.pack.name}; check the street names.",
            )
        candidates.sort(key=lambda c: -c.confidence)
        return GeocodeResult(tuple(candidates[:limit]))

    def _shared_nodes(self, a: StreetEntry, b: StreetEntry, score: float) -> list[Candidate]:
        found = []
        for x, y in shared_points(self.pack, a, b):
            lon, lat = self._lonlat(x, y)
            confidence = round(score / 100 * 0.95, 3)
            found.append(
                Candidate(f"{a.name} / {b.name}", "intersection", lon, lat, confidence, a.name)
            )
        return found

    def _near_crossing(self, a: StreetEntry, b: StreetEntry, score: float) -> Candidate | None:
        near = near_point(self.pack, a, b)
        if near is None:
            return None
        lon, lat = self._lonlat(near[1], near[2])
        note = f"the streets share no junction; they pass {near[0]:.0f} m apart"
        confidence = round(score / 100 * 0.8, 3)
        label = f"{a.name} / {b.name}"
        return Candidate(label, "intersection", lon, lat, confidence, a.name, note=note)


def _without_articles(key: str) -> str:
    words = [w for w in key.split() if w not in ARTICLES]
    return " ".join(words) or key


def _plain(text: str) -> str:
    """Lower case without accents, punctuation kept (to see "/" and "&" separators)."""
    decomposed = unicodedata.normalize("NFKD", text.lower())
    return "".join(c for c in decomposed if not unicodedata.combining(c))
