"""Reading offence reference files: the official NATINF layout, Arverne's, and bad rows."""

from __future__ import annotations

import datetime as dt

import pytest

from arverne.dispatch.offence_file import parse_date, read_offence_file, search_key

NATINF_HEADER = (
    "Numéro NATINF;Nature de l'infraction;Qualification de l'infraction;Définie par;Réprimée par"
)


def natinf(*rows: str, encoding: str = "cp1252", newline: str = "\r\n") -> bytes:
    return newline.join([NATINF_HEADER, *rows, ""]).encode(encoding)


def problems(data: bytes) -> list[tuple[int, str]]:
    return [(p.line, p.column) for p in read_offence_file(data).problems]


def test_official_list_in_windows_1252() -> None:
    found = read_offence_file(
        natinf(
            "7;Délit;RETRAIT DE LA PROVISION D'UN CHÈQUE;ART.L.163-2 C.M.F.;ART.L.163-2 C.M.F.",
            '180;Délit;"USAGE ILLICITE; STUPÉFIANTS";ART.L.3421-1 C.S.P.;',
        )
    )
    assert found.problems == []
    assert (found.layout, found.encoding, found.delimiter) == ("natinf", "cp1252", ";")
    assert found.columns == ("code", "label", "category", "defined_by", "punished_by")
    first, second = found.rows
    assert first.code == "7"
    assert first.label == "RETRAIT DE LA PROVISION D'UN CHÈQUE"
    assert first.category == "Délit"
    assert first.defined_by == "ART.L.163-2 C.M.F."
    assert first.punished_by == "ART.L.163-2 C.M.F."
    assert first.valid_from is None
    assert second.label == "USAGE ILLICITE; STUPÉFIANTS"  # a quoted delimiter stays
    assert second.punished_by is None
    assert second.line == 3


def test_utf8_with_bom_and_arverne_layout_with_dates() -> None:
    text = (
        "code,label,category,valid_from,valid_to,replaced_by\n"
        "A1,Vol simple,Délit,2020-01-01,31/12/2024,A2\n"
        "A2,  Vol   simple (2025) ,Délit,01/01/2025,,\n"
        "\n"  # blank lines are skipped
    )
    found = read_offence_file(b"\xef\xbb\xbf" + text.encode())
    assert found.problems == []
    assert (found.layout, found.encoding, found.delimiter) == ("arverne", "utf-8-sig", ",")
    old, new = found.rows
    assert (old.valid_from, old.valid_to, old.replaced_by) == (
        dt.date(2020, 1, 1),
        dt.date(2024, 12, 31),
        "A2",
    )
    assert new.label == "Vol simple (2025)"  # spaces collapsed
    assert new.valid_to is None
    assert new.replaced_by is None


def test_every_bad_value_is_reported_with_line_and_column() -> None:
    data = (
        "code;label;category;valid_from;valid_to;replaced_by\n"
        ";Sans code;Délit;;;\n"  # 2: no code
        "B 1;Espace;Délit;;;\n"  # 3: not a code
        "B2;;Délit;;;\n"  # 4: no label
        "B3;Ok;;;;\n"  # 5: no category
        "B4;Ok;Délit;2025-13-01;;\n"  # 6: bad date
        "B5;Ok;Délit;2025-02-01;2025-01-01;\n"  # 7: ends before it starts
        "B6;Ok;Délit;;;B6\n"  # 8: replaces itself
        "B7;Ok;Délit;;;\n"
        "B7;Again;Délit;;;\n"  # 10: twice
        "B8;Ok;Délit;;;;extra\n"  # 11: more fields than the header
        f"B9;{'x' * 301};Délit;;;\n"  # 12: label too long
    ).encode()
    found = read_offence_file(data)
    assert [(p.line, p.column) for p in found.problems] == [
        (2, "code"),
        (3, "code"),
        (4, "label"),
        (5, "category"),
        (6, "valid_from"),
        (7, "valid_to"),
        (8, "replaced_by"),
        (10, "code"),
        (11, "row"),
        (12, "label"),
    ]
    assert [r.code for r in found.rows] == ["B7"]  # only the good rows
    messages = {(p.line, p.column): p.message for p in found.problems}
    assert "YYYY-MM-DD" in messages[(6, "valid_from")]
    assert "line 9" in messages[(10, "code")]
    assert "quote" in messages[(11, "row")]
    assert "max 300" in messages[(12, "label")]
    assert str(found.problems[0]).startswith("line 2, code:")


def test_missing_columns_are_named_with_the_headers_accepted() -> None:
    found = read_offence_file(b"numero;libelle\n7;Vol\n")
    assert [(p.line, p.column) for p in found.problems] == [(1, "category")]
    assert "nature_de_l_infraction" in found.problems[0].message
    assert found.rows == []
    assert problems(b"code,code,label,category\n1,2,x,y\n") == [(1, "code")]


@pytest.mark.parametrize(
    ("data", "expected"),
    [(b"", "is empty"), (b"  \n", "is empty"), (b"code,label,category\n", "no offence")],
)
def test_empty_files_are_refused(data: bytes, expected: str) -> None:
    (problem,) = read_offence_file(data).problems
    assert expected in problem.message


def test_bytes_that_are_not_text_are_reported() -> None:
    data = NATINF_HEADER.encode("cp1252") + b"\n7;D\xe9lit;VOL \x81;;\n"
    assert problems(data) == [(2, "label")]


def test_search_key_and_dates() -> None:
    assert search_key("7", "  Vol À l'ÉTALAGE ") == "7 vol a l'etalage"
    assert parse_date("05/03/2025") == dt.date(2025, 3, 5)
    with pytest.raises(ValueError, match="YYYY-MM-DD"):
        parse_date("2025.03.05")
