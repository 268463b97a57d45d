"""Message catalogs of the console (``web/i18n/<lang>.json``) and the ``t()`` helper.

Every user-visible string of the templates and of the console's JavaScript is a key of
these flat JSON catalogs; French is the reference language, English the second one.
Catalogs are read on first use, never at import time.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable, Mapping
from pathlib import Path

LANGUAGES = ("fr", "en")
LANG_COOKIE = "arverne_lang"
CATALOG_DIR = Path(__file__).resolve().parent.parent / "i18n"


@functools.cache
def catalog(lang: str) -> Mapping[str, str]:
    """Return the catalog of ``lang`` (one of :data:`LANGUAGES`)."""
    if lang not in LANGUAGES:
        msg = f"unknown console language {lang!r}; use one of {', '.join(LANGUAGES)}"
        raise ValueError(msg)
    data = json.loads((CATALOG_DIR / f"{lang}.json").read_text(encoding="utf-8"))
    return {str(k): str(v) for k, v in data.items()}


def translator(lang: str) -> Callable[..., str]:
    """Return ``t(key, **params)`` for ``lang``; a missing key shows as the key itself."""
    messages = catalog(lang)

    def t(key: str, **params: object) -> str:
        text = messages.get(key, key)
        return text.format(**params) if params else text

    return t


def choose_language(cookie: str | None, default: str) -> str:
    """The user's language: the cookie when it names a known language, else ``default``."""
    return cookie if cookie in LANGUAGES else default
