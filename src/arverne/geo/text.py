"""Text normalisation for geocoding French (and other Latin-script) street names.

``normalize("Bd Côte-Blatin")`` gives ``"boulevard cote blatin"``: lower case, accents and
punctuation removed, common abbreviations expanded. :func:`split_street` then separates
the street type (``rue``, ``avenue`` ...) from the distinctive part without articles
(``"rue de la Rotonde"`` -> ``("rue", "rotonde")``), which is what the fuzzy matcher
compares.
"""

from __future__ import annotations

import re
import unicodedata

ABBREVIATIONS: dict[str, str] = {
    "bd": "boulevard", "bld": "boulevard", "blvd": "boulevard", "bvd": "boulevard",
    "boul": "boulevard", "boulv": "boulevard", "av": "avenue", "ave": "avenue",
    "aven": "avenue", "pl": "place", "st": "saint", "ste": "sainte", "r": "rue",
    "ch": "chemin", "chem": "chemin", "imp": "impasse", "all": "allee", "fbg": "faubourg",
    "faub": "faubourg", "qu": "quai", "qua": "quai", "rte": "route", "sq": "square",
    "crs": "cours", "pass": "passage", "prom": "promenade", "esp": "esplanade",
    "mal": "marechal", "gal": "general", "gen": "general", "pdt": "president",
    "dr": "docteur", "pr": "professeur", "cdt": "commandant", "lt": "lieutenant",
}  # fmt: skip
STREET_TYPES = frozenset(
    {
        "rue", "avenue", "boulevard", "place", "chemin", "impasse", "allee", "faubourg",
        "quai", "route", "cours", "square", "passage", "promenade", "esplanade", "voie",
        "sentier", "montee", "cite", "residence", "parvis", "carrefour", "pont", "rampe",
        "ruelle", "traverse", "rond", "villa", "hameau", "lotissement", "clos",
    }
)  # fmt: skip
ARTICLES = frozenset({"de", "du", "des", "la", "le", "les", "l", "d", "a", "au", "aux"})
_LIGATURES = str.maketrans({"œ": "oe", "Œ": "oe", "æ": "ae", "Æ": "ae", "ß": "ss"})
_NOT_WORD = re.compile(r"[^0-9a-z]+")


def fold(text: str) -> str:
    """Lower-case, strip accents and punctuation, collapse spaces (no abbreviation rules)."""
    decomposed = unicodedata.normalize("NFKD", text.translate(_LIGATURES).lower())
    plain = "".join(c for c in decomposed if not unicodedata.combining(c))
    return _NOT_WORD.sub(" ", plain).strip()


def normalize(text: str) -> str:
    """Normalise a street, place or landmark name for matching.

    Parameters
    ----------
    text
        Free text such as ``"12, Bd Côte-Blatin"`` or ``"PL. DE JAUDE"``.

    Returns
    -------
    str
        Folded text with abbreviations expanded: ``"12 boulevard cote blatin"``,
        ``"place de jaude"``.
    """
    return " ".join(ABBREVIATIONS.get(token, token) for token in fold(text).split())


def split_street(normalized: str) -> tuple[str, str]:
    """Split a normalised street name into its type and its distinctive part.

    Parameters
    ----------
    normalized
        Output of :func:`normalize`.

    Returns
    -------
    tuple of str
        ``(type, rest)`` where ``type`` is ``""`` when the name does not start with a
        street type and ``rest`` drops articles (``de``, ``la`` ...) unless nothing else
        would remain.
    """
    tokens = normalized.split()
    street_type = ""
    if len(tokens) > 1 and tokens[0] in STREET_TYPES:
        street_type = tokens[0]
        tokens = tokens[1:]
        if street_type == "rond" and tokens and tokens[0] == "point":
            tokens = tokens[1:]
    kept = [t for t in tokens if t not in ARTICLES]
    return street_type, " ".join(kept or tokens)
