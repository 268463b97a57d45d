"""Platform crime taxonomy and the editable mapping from source categories to it.

Source data name offences in their own words (Chicago ``primary_type``, UK police
``Crime type``). Analyses run on a small platform taxonomy instead. The mapping is a flat
object ``{source value: platform category}`` kept in a JSON or YAML file that an analyst
can edit; :data:`DEFAULT_MAPPING` covers Chicago and UK police values and
:func:`write_mapping` writes it out as a starting point. Matching ignores case and
surrounding spaces.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import pandas as pd

from arverne.analytics.errors import CategoryMappingError

#: Platform categories, in display order.
TAXONOMY: tuple[str, ...] = (
    "violence",
    "domestic_violence",
    "sexual_offences",
    "robbery",
    "burglary",
    "theft",
    "vehicle_crime",
    "criminal_damage",
    "fraud",
    "public_order",
    "anti_social_behaviour",
    "drugs",
    "weapons",
    "vice",
    "obstructing_police",
    "other",
)

CHICAGO_MAPPING: dict[str, str] = {
    "ARSON": "criminal_damage",
    "ASSAULT": "violence",
    "BATTERY": "violence",
    "BURGLARY": "burglary",
    "CONCEALED CARRY LICENSE VIOLATION": "weapons",
    "CRIM SEXUAL ASSAULT": "sexual_offences",
    "CRIMINAL SEXUAL ASSAULT": "sexual_offences",
    "CRIMINAL DAMAGE": "criminal_damage",
    "CRIMINAL TRESPASS": "other",
    "DECEPTIVE PRACTICE": "fraud",
    "DOMESTIC VIOLENCE": "domestic_violence",
    "GAMBLING": "vice",
    "HOMICIDE": "violence",
    "HUMAN TRAFFICKING": "violence",
    "INTERFERENCE WITH PUBLIC OFFICER": "obstructing_police",
    "INTIMIDATION": "violence",
    "KIDNAPPING": "violence",
    "LIQUOR LAW VIOLATION": "vice",
    "MOTOR VEHICLE THEFT": "vehicle_crime",
    "NARCOTICS": "drugs",
    "NON-CRIMINAL": "other",
    "NON - CRIMINAL": "other",
    "NON-CRIMINAL (SUBJECT SPECIFIED)": "other",
    "OBSCENITY": "vice",
    "OFFENSE INVOLVING CHILDREN": "other",
    "OTHER NARCOTIC VIOLATION": "drugs",
    "OTHER OFFENSE": "other",
    "PROSTITUTION": "vice",
    "PUBLIC INDECENCY": "vice",
    "PUBLIC PEACE VIOLATION": "public_order",
    "RITUALISM": "other",
    "ROBBERY": "robbery",
    "SEX OFFENSE": "sexual_offences",
    "STALKING": "violence",
    "THEFT": "theft",
    "WEAPONS VIOLATION": "weapons",
}

UK_POLICE_MAPPING: dict[str, str] = {
    "Anti-social behaviour": "anti_social_behaviour",
    "Bicycle theft": "theft",
    "Burglary": "burglary",
    "Criminal damage and arson": "criminal_damage",
    "Drugs": "drugs",
    "Other crime": "other",
    "Other theft": "theft",
    "Possession of weapons": "weapons",
    "Public order": "public_order",
    "Public disorder and weapons": "public_order",
    "Robbery": "robbery",
    "Shoplifting": "theft",
    "Theft from the person": "theft",
    "Vehicle crime": "vehicle_crime",
    "Violence and sexual offences": "violence",
    "Violent crime": "violence",
}

#: The shipped mapping: Chicago ``primary_type`` and UK police ``Crime type`` values.
DEFAULT_MAPPING: dict[str, str] = {**CHICAGO_MAPPING, **UK_POLICE_MAPPING}


def _key(value: object) -> str:
    return str(value).strip().casefold()


def validate_mapping(mapping: Mapping[str, str], *, source: str = "mapping") -> dict[str, str]:
    """Check that every target is a platform category and normalise the keys.

    Parameters
    ----------
    mapping
        ``{source value: platform category}``.
    source
        Where the mapping came from, for error messages.

    Returns
    -------
    dict
        The mapping with case-folded, stripped keys.

    Raises
    ------
    CategoryMappingError
        If a target is not in :data:`TAXONOMY` or a key is empty.
    """
    if not isinstance(mapping, Mapping):
        raise CategoryMappingError(source, "the top level must be an object")
    unknown = sorted({str(v) for v in mapping.values() if v not in TAXONOMY})
    if unknown:
        raise CategoryMappingError(
            source,
            f"unknown platform categories {', '.join(unknown)} (allowed: {', '.join(TAXONOMY)})",
        )
    normalised = {_key(k): str(v) for k, v in mapping.items()}
    if "" in normalised:
        raise CategoryMappingError(source, "an empty source value cannot be mapped")
    return normalised


def load_mapping(path: str | Path) -> dict[str, str]:
    """Read a category mapping from a JSON or YAML file.

    Parameters
    ----------
    path
        A ``.json``, ``.yaml`` or ``.yml`` file holding one object.

    Returns
    -------
    dict
        The validated mapping (keys case-folded).

    Raises
    ------
    CategoryMappingError
        If the file is missing, unreadable or maps to unknown categories.
    """
    file = Path(path)
    try:
        text = file.read_text(encoding="utf-8")
    except OSError as exc:
        raise CategoryMappingError(str(file), f"cannot be read ({exc.strerror})") from exc
    try:
        if file.suffix.lower() in {".yaml", ".yml"}:
            import yaml  # type: ignore[import-untyped]  # optional, only for YAML files

            data = yaml.safe_load(text)
        else:
            data = json.loads(text)
    except ImportError as exc:
        raise CategoryMappingError(str(file), "YAML needs PyYAML; use a JSON file") from exc
    except ValueError as exc:
        raise CategoryMappingError(str(file), f"is not valid JSON/YAML ({exc})") from exc
    return validate_mapping(data, source=str(file))


def write_mapping(path: str | Path, mapping: Mapping[str, str] | None = None) -> Path:
    """Write a mapping (the default one unless given) as an editable JSON file.

    Parameters
    ----------
    path
        Destination file.
    mapping
        The mapping to write; :data:`DEFAULT_MAPPING` when omitted.

    Returns
    -------
    Path
        The file written.
    """
    file = Path(path)
    data = dict(sorted((mapping or DEFAULT_MAPPING).items()))
    file.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return file


def map_categories(
    values: pd.Series,
    *,
    mapping: Mapping[str, str] | None = None,
    unknown: str | None = None,
) -> pd.Series:
    """Translate source category values to platform categories.

    Parameters
    ----------
    values
        Source category values (any dtype; compared as stripped, case-folded text).
    mapping
        ``{source value: platform category}``; :data:`DEFAULT_MAPPING` when omitted.
        Values that already are platform categories map to themselves.
    unknown
        Platform category given to values missing from the mapping; ``None`` leaves
        them missing (NaN) so the caller can reject those rows.

    Returns
    -------
    pandas.Series
        Platform categories aligned with ``values`` (NaN where unknown and ``unknown``
        is None).
    """
    table = validate_mapping(mapping if mapping is not None else DEFAULT_MAPPING)
    for category in TAXONOMY:
        table.setdefault(category, category)
    if unknown is not None and unknown not in TAXONOMY:
        raise CategoryMappingError("unknown=", f"{unknown!r} is not a platform category")
    keys = values.astype("string").str.strip().str.casefold()
    mapped = keys.map(table)
    if unknown is not None:
        mapped = mapped.where(keys.isna() | mapped.notna(), unknown)
    return mapped.astype(object).where(mapped.notna(), np.nan)
