"""The fields a place-based model may see, and the refusal of fields about people.

Arverne forecasts where and when incidents happen, never who is involved. The allow-list
``MODEL_FIELDS`` names every column a forecaster, a statistic or a hotspot map may read;
:func:`require_model_fields` refuses any other column, and gives a specific error when a
column looks like it describes a person (names, ages, ethnicity, sex, identifiers of
suspects, victims or arrestees, arrest flags). The importer calls :func:`person_fields` on
the raw input so that such columns are never carried into the clean table.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from arverne.analytics.errors import FieldNotAllowedError, PersonFieldError

#: Columns of the clean incident table produced by :mod:`arverne.analytics.io`.
CORE_FIELDS: tuple[str, ...] = ("time", "x", "y", "category", "source_category")

#: Place attributes that may ride along with an incident (they describe the place).
PLACE_FIELDS: tuple[str, ...] = (
    "district",
    "beat",
    "ward",
    "community_area",
    "location_type",
    "premise",
)

#: Derived columns the package itself adds (grid cell index).
DERIVED_FIELDS: tuple[str, ...] = ("cell", "row", "col")

#: Every field a model may see: time, place, category and a few place attributes.
MODEL_FIELDS: frozenset[str] = frozenset(CORE_FIELDS + PLACE_FIELDS + DERIVED_FIELDS)

# Words that on their own mark a column as being about a person.
_STRONG_PERSON = frozenset(
    {
        "suspect",
        "suspects",
        "victim",
        "victims",
        "offender",
        "offenders",
        "arrest",
        "arrested",
        "arrests",
        "arrestee",
        "perpetrator",
        "complainant",
        "witness",
        "defendant",
        "ethnicity",
        "ethnic",
        "race",
        "racial",
        "gender",
        "sex",
        "age",
        "dob",
        "birth",
        "birthdate",
        "nationality",
        "religion",
        "firstname",
        "surname",
        "lastname",
        "forename",
        "ssn",
        "passport",
        "juvenile",
    }
)
# Words that mark a person only when no place word is present ("LSOA name" is a place).
_WEAK_PERSON = frozenset({"name", "person", "people", "subject", "driver", "owner", "id"})
_PLACE_WORDS = frozenset(
    {"lsoa", "street", "place", "location", "district", "area", "ward", "beat", "block"}
)
# "id" alone is an incident identifier ("Crime ID"); it is personal only next to these.
_ID_OWNERS = frozenset({"person", "people", "subject", "driver", "owner"})


def _tokens(column: str) -> list[str]:
    spaced = re.sub(r"([a-z])([A-Z])", r"\1 \2", column)
    return [t for t in re.split(r"[^a-z0-9]+", spaced.lower()) if t]


def is_person_field(column: str) -> bool:
    """Tell whether a column name looks like it describes a person.

    Parameters
    ----------
    column
        A column name from an input table.

    Returns
    -------
    bool
        True for names such as ``suspect_age``, ``Arrest``, ``victim race``, ``first name``
        or ``person_id``; False for ``primary_type``, ``LSOA name`` or ``Crime ID``.
    """
    tokens = _tokens(column)
    token_set = set(tokens)
    if token_set & _STRONG_PERSON:
        return True
    weak = token_set & _WEAK_PERSON
    if not weak or token_set & _PLACE_WORDS:
        return False
    if weak == {"id"}:
        return bool(token_set & _ID_OWNERS)
    return True


def person_fields(columns: Iterable[str]) -> list[str]:
    """Return the columns that look like they describe a person.

    Parameters
    ----------
    columns
        Column names of an input table.

    Returns
    -------
    list of str
        The offending names, in input order.
    """
    return [c for c in columns if is_person_field(str(c))]


def require_model_fields(columns: Iterable[str]) -> None:
    """Refuse any column that is not on the model allow-list.

    Parameters
    ----------
    columns
        Column names of the table about to be given to a model.

    Raises
    ------
    PersonFieldError
        If a column looks like it describes a person.
    FieldNotAllowedError
        If a column is not in :data:`MODEL_FIELDS` (and is not about a person).
    """
    names = [str(c) for c in columns]
    people = person_fields(names)
    if people:
        raise PersonFieldError(people)
    extra = [c for c in names if c not in MODEL_FIELDS]
    if extra:
        raise FieldNotAllowedError(extra, MODEL_FIELDS)
