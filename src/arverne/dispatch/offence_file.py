"""Read an offence reference file: the Ministry of Justice's NATINF list or Arverne's CSV.

The official list of offences in force ("liste des infractions en vigueur de la
nomenclature NATINF", updated every quarter) is a semicolon-separated file in
Windows-1252 with the columns ``Numéro NATINF; Nature de l'infraction; Qualification
de l'infraction; Définie par; Réprimée par``. Arverne's own layout uses English
headers and may also carry the validity dates and the replacing code::

    code,label,category,defined_by,punished_by,valid_from,valid_to,replaced_by

Headers are matched without regard to case, accents or punctuation, the delimiter is
detected and the encoding is UTF-8 (with or without BOM) or Windows-1252. Reading never
stops at the first bad row: every problem is reported with its line and column.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass, field

from arverne.geo.text import fold

__all__ = [
    "COLUMNS",
    "OffenceFile",
    "OffenceRow",
    "RowProblem",
    "parse_date",
    "read_offence_file",
    "search_key",
]

CODE_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._/-]{0,15}")
CODE_RULE = "1 to 16 letters, digits, '.', '_', '/' or '-', starting with a letter or digit"
LABEL_MAX = 300
CATEGORY_MAX = 64
REFERENCE_MAX = 2000

# Column -> header spellings accepted, already normalised by _normalise.
COLUMNS: dict[str, tuple[str, ...]] = {
    "code": ("code", "numero_natinf", "n_natinf", "no_natinf", "natinf", "numero"),
    "label": (
        "label",
        "qualification_de_l_infraction",
        "qualification_simplifiee_de_l_infraction",
        "qualification",
        "libelle",
    ),
    "category": ("category", "nature_de_l_infraction", "nature", "categorie"),
    "defined_by": ("defined_by", "definie_par", "defini_par"),
    "punished_by": ("punished_by", "reprimee_par", "reprime_par"),
    "valid_from": ("valid_from", "en_vigueur_depuis", "date_de_debut"),
    "valid_to": ("valid_to", "en_vigueur_jusqu_au", "date_de_fin"),
    "replaced_by": ("replaced_by", "remplacee_par", "remplace_par"),
}
REQUIRED = ("code", "label", "category")
_DATE_FORMATS = ("%Y-%m-%d", "%d/%m/%Y")


@dataclass(frozen=True)
class RowProblem:
    """A value the import cannot accept: the file's line, the column and what to fix."""

    line: int
    column: str
    message: str

    def __str__(self) -> str:
        where = f"line {self.line}" if self.line else "file"
        return f"{where}, {self.column}: {self.message}"


@dataclass(frozen=True)
class OffenceRow:
    """One offence as the file gives it (columns the file lacks are ``None``)."""

    line: int
    code: str
    label: str
    category: str
    defined_by: str | None = None
    punished_by: str | None = None
    valid_from: dt.date | None = None
    valid_to: dt.date | None = None
    replaced_by: str | None = None


@dataclass
class OffenceFile:
    """What :func:`read_offence_file` found: rows, problems and how the file was written."""

    rows: list[OffenceRow] = field(default_factory=list)
    problems: list[RowProblem] = field(default_factory=list)
    columns: tuple[str, ...] = ()
    layout: str = "arverne"
    encoding: str = "utf-8"
    delimiter: str = ","


def _normalise(header: str) -> str:
    """``"Numéro NATINF"`` -> ``"numero_natinf"``: no accents, lower case, ``_`` between."""
    return "_".join(fold(header).split())


def search_key(code: str, label: str) -> str:
    """The text searches match: code and label in lower case without accents.

    Examples
    --------
    >>> search_key("7", "Retrait de la provision d'un chèque")
    "7 retrait de la provision d'un cheque"
    """
    text = unicodedata.normalize("NFKD", f"{code} {label}").encode("ascii", "ignore").decode()
    return " ".join(text.lower().split())


def parse_date(text: str) -> dt.date:
    """Read ``YYYY-MM-DD`` or ``DD/MM/YYYY``; raise ``ValueError`` saying which are accepted."""
    for fmt in _DATE_FORMATS:
        try:
            return dt.datetime.strptime(text, fmt).date()
        except ValueError:
            continue
    raise ValueError(f"{text!r} is not a date; write YYYY-MM-DD or DD/MM/YYYY")


def _decode(data: bytes) -> tuple[str, str]:
    if data.startswith(b"\xef\xbb\xbf"):
        return data[3:].decode("utf-8", errors="strict"), "utf-8-sig"
    try:
        return data.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        # Every byte means something in Windows-1252 except five; those become U+FFFD
        # and are reported by the row check rather than stopping the whole file.
        return data.decode("cp1252", errors="replace"), "cp1252"


def _delimiter(first_line: str) -> str:
    counts = {d: first_line.count(d) for d in (";", ",", "\t", "|")}
    best = max(counts, key=lambda d: counts[d])
    return best if counts[best] else ","


def _columns(header: list[str], found: OffenceFile) -> dict[str, int]:
    """Map each known column to its index; report missing required and repeated ones."""
    index: dict[str, int] = {}
    for i, name in enumerate(header):
        key = _normalise(name)
        column = next((c for c, names in COLUMNS.items() if key in names), None)
        if column is None:
            continue  # other columns (e.g. a local comment) are ignored
        if column in index:
            found.problems.append(
                RowProblem(1, column, f"two headers name it: {header[index[column]]!r}, {name!r}")
            )
            continue
        index[column] = i
    for column in REQUIRED:
        if column not in index:
            names = ", ".join(repr(n) for n in COLUMNS[column][:3])
            found.problems.append(
                RowProblem(1, column, f"no such column; name it {names} (headers: {header})")
            )
    return index


def _text(row: list[str], at: int | None) -> str:
    return row[at].strip() if at is not None and at < len(row) else ""


def _check_row(
    line: int, row: list[str], index: dict[str, int], width: int, found: OffenceFile
) -> None:
    problems: list[RowProblem] = []

    def text(column: str, limit: int, *, required: bool = False) -> str | None:
        value = " ".join(_text(row, index.get(column)).split())
        if not value:
            if required:
                problems.append(RowProblem(line, column, "is empty; every offence needs one"))
            return None
        if "\ufffd" in value:
            problems.append(RowProblem(line, column, "has bytes that are not text; save as UTF-8"))
        if len(value) > limit:
            problems.append(RowProblem(line, column, f"has {len(value)} characters (max {limit})"))
        return value

    def code(column: str, *, required: bool = False) -> str | None:
        value = _text(row, index.get(column))
        if not value:
            if required:
                problems.append(RowProblem(line, column, "is empty; every offence needs one"))
            return None
        if not CODE_PATTERN.fullmatch(value):
            problems.append(RowProblem(line, column, f"{value!r} is not a code: {CODE_RULE}"))
        return value

    def date(column: str) -> dt.date | None:
        value = _text(row, index.get(column))
        if not value:
            return None
        try:
            return parse_date(value)
        except ValueError as exc:
            problems.append(RowProblem(line, column, str(exc)))
            return None

    offence_code = code("code", required=True)
    label = text("label", LABEL_MAX, required=True)
    category = text("category", CATEGORY_MAX, required=True)
    defined_by = text("defined_by", REFERENCE_MAX)
    punished_by = text("punished_by", REFERENCE_MAX)
    valid_from, valid_to = date("valid_from"), date("valid_to")
    replaced_by = code("replaced_by")
    if valid_from and valid_to and valid_to < valid_from:
        problems.append(
            RowProblem(line, "valid_to", f"{valid_to} is before valid_from {valid_from}")
        )
    if replaced_by is not None and replaced_by == offence_code:
        problems.append(RowProblem(line, "replaced_by", "a code cannot replace itself"))
    if len(row) > width:
        problems.append(
            RowProblem(
                line,
                "row",
                f"has {len(row)} fields but the header has {width}; "
                "quote values that contain the delimiter",
            )
        )
    if problems:
        found.problems.extend(problems)
        return
    # No problem: the required values are there.
    assert offence_code is not None
    assert label is not None
    assert category is not None
    found.rows.append(
        OffenceRow(
            line=line,
            code=offence_code,
            label=label,
            category=category,
            defined_by=defined_by,
            punished_by=punished_by,
            valid_from=valid_from,
            valid_to=valid_to,
            replaced_by=replaced_by,
        )
    )


def _records(reader: Iterator[list[str]]) -> Iterator[tuple[int, list[str]]]:
    for row in reader:
        line = getattr(reader, "line_num", 0)
        if any(cell.strip() for cell in row):
            yield line, row


def read_offence_file(data: bytes) -> OffenceFile:
    """Read and check an offence reference file.

    Parameters
    ----------
    data
        The file's bytes: the official NATINF list or Arverne's CSV layout.

    Returns
    -------
    OffenceFile
        The rows that passed every check, and one :class:`RowProblem` per value that did
        not (a row with any problem is left out of ``rows``). A code given twice is a
        problem on its second line. ``columns`` lists the known columns present, which
        is what an import may change.
    """
    text, encoding = _decode(data)
    first_line = text.split("\n", 1)[0]
    found = OffenceFile(encoding=encoding, delimiter=_delimiter(first_line))
    if not text.strip():
        found.problems.append(RowProblem(0, "file", "is empty; expected a header and rows"))
        return found
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=found.delimiter)
    try:
        header = next(reader)
        index = _columns(header, found)
        found.columns = tuple(c for c in COLUMNS if c in index)
        found.layout = "natinf" if _normalise(header[index.get("code", 0)]) != "code" else "arverne"
        if found.problems:
            return found
        first_line_of: dict[str, int] = {}
        for line, row in _records(reader):
            before = len(found.rows)
            _check_row(line, row, index, len(header), found)
            if len(found.rows) > before:
                offence = found.rows[-1]
                if offence.code in first_line_of:
                    found.rows.pop()
                    found.problems.append(
                        RowProblem(
                            line,
                            "code",
                            f"{offence.code} is already on line {first_line_of[offence.code]}",
                        )
                    )
                else:
                    first_line_of[offence.code] = line
    except csv.Error as exc:
        found.problems.append(RowProblem(getattr(reader, "line_num", 0), "file", f"not CSV: {exc}"))
    if not found.rows and not found.problems:
        found.problems.append(RowProblem(0, "file", "has a header but no offence"))
    return found
