"""Message catalogs: French and English have the same keys, and every key used exists."""

from __future__ import annotations

import json
import re
import string
from pathlib import Path

import pytest

from arverne.dispatch.schemas import Channel, Disposition
from arverne.dispatch.service import OPEN_STATUSES
from arverne.dispatch.status import UnavailableReason, UnitStatus, UnitType
from arverne.dispatch.taxonomy import INCIDENT_TYPES
from arverne.web.console.dutylog_page import KINDS
from arverne.web.console.i18n import CATALOG_DIR, LANGUAGES, catalog, choose_language, translator

WEB = CATALOG_DIR.parent
TEMPLATE_KEY = re.compile(r"""\bt\(\s*["']([A-Za-z0-9_.]+)["']\s*([,)+])""")
SCRIPT_KEY = re.compile(r"""\bA\.t\(\s*["']([A-Za-z0-9_.]+)["']\s*([,)+])""")


def _used(pattern: re.Pattern[str], files: list[Path]) -> tuple[set[str], set[str]]:
    keys, prefixes = set(), set()
    for path in files:
        for key, follow in pattern.findall(path.read_text(encoding="utf-8")):
            (prefixes if follow == "+" else keys).add(key)
    return keys, prefixes


def _placeholders(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name}


def test_catalogs_have_the_same_keys_and_placeholders() -> None:
    fr, en = catalog("fr"), catalog("en")
    assert set(fr) == set(en), set(fr) ^ set(en)
    for key in fr:
        assert fr[key].strip(), key
        assert en[key].strip(), key
        assert _placeholders(fr[key]) == _placeholders(en[key]), key


def test_catalog_files_are_sorted_json_objects() -> None:
    for lang in LANGUAGES:
        data = json.loads((CATALOG_DIR / f"{lang}.json").read_text(encoding="utf-8"))
        assert list(data) == sorted(data), f"{lang}.json keys should be sorted"


@pytest.mark.parametrize(
    ("pattern", "folder", "suffix"),
    [(TEMPLATE_KEY, "templates", "*.html"), (SCRIPT_KEY, "static/js", "*.js")],
)
def test_every_key_used_exists(pattern: re.Pattern[str], folder: str, suffix: str) -> None:
    files = sorted((WEB / folder).glob(suffix))
    assert files
    keys, prefixes = _used(pattern, files)
    assert keys, f"no message keys found in {folder}"
    for lang in LANGUAGES:
        missing = keys - set(catalog(lang))
        assert not missing, f"{lang}: {sorted(missing)}"
        for prefix in prefixes:
            assert any(k.startswith(prefix) for k in catalog(lang)), f"{lang}: {prefix}*"


def test_every_value_shown_by_prefix_has_a_message() -> None:
    families = {
        "status.": [s.value for s in UnitStatus],
        "status_action.": [s.value for s in UnitStatus],
        "unit_type.": [u.value for u in UnitType],
        "reason.": [r.value for r in UnavailableReason],
        "disposition.": [d.value for d in Disposition],
        "channel.": [c.value for c in Channel],
        "group.": sorted({t.group for t in INCIDENT_TYPES}),
        "kind.": list(KINDS),
        "incident.status.": [*OPEN_STATUSES, "closed", "cancelled"],
        "shift.": ["day", "evening", "night"],
        "lang.": list(LANGUAGES),
    }
    for lang in LANGUAGES:
        messages = catalog(lang)
        for prefix, values in families.items():
            missing = [v for v in values if f"{prefix}{v}" not in messages]
            assert not missing, f"{lang}: {prefix}{missing}"


def test_no_visible_text_is_hard_coded_in_templates() -> None:
    """Text between tags must come from t(): only symbols and key names may stay."""
    allowed = re.compile(r"^[\s✕/·?—:#A-Z0-9]*$")
    for path in sorted((WEB / "templates").glob("*.html")):
        html = path.read_text(encoding="utf-8")
        html = re.sub(r"{[{%#].*?[}%#]}", "", html, flags=re.S)
        html = re.sub(r"<(script|style)\b.*?</\1>", "", html, flags=re.S)
        for text in re.findall(r">([^<>]+)<", html):
            assert allowed.match(text.strip()), f"{path.name}: hard-coded text {text.strip()!r}"


def test_translator_and_language_choice() -> None:
    t = translator("en")
    assert t("nav.dutylog") == "Duty log"
    assert t("form.point", lat="45.1", lon="3.0") == "Position: 45.1, 3.0"
    assert t("no.such.key") == "no.such.key"
    assert choose_language("en", "fr") == "en"
    assert choose_language("de", "fr") == "fr"
    assert choose_language(None, "en") == "en"
    with pytest.raises(ValueError, match="unknown console language"):
        catalog("de")


def test_every_duty_log_kind_written_can_be_filtered_and_is_labelled() -> None:
    """The kinds the dispatch and demo code write (literal ``kind="..."`` arguments and
    ``*_KIND`` constants) are all in the duty-log page's filter, hence labelled."""
    src = WEB.parent
    written = {"incident_closed", "incident_cancelled", "incident_unlinked"}  # built names
    for package in ("dispatch", "demo"):
        for path in sorted((src / package).glob("*.py")):
            code = path.read_text(encoding="utf-8")
            written |= set(re.findall(r'\bkind="([a-z_]+)"', code))
            written |= set(re.findall(r'^[A-Z_]*_KIND = "([a-z_]+)"', code, flags=re.M))
    assert written - set(KINDS) == set()
    assert len(written) >= 15  # the scan still finds them
