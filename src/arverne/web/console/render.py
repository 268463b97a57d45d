"""Jinja2 rendering of console pages: environment, common context, page data, CSP."""

from __future__ import annotations

import datetime as dt
import functools
import json
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import jinja2
from fastapi import Request
from fastapi.responses import HTMLResponse
from markupsafe import Markup

import arverne
from arverne.config import Settings
from arverne.security.principal import Principal
from arverne.web.console.i18n import LANG_COOKIE, catalog, choose_language, translator
from arverne.web.middleware import CONTENT_SECURITY_POLICY

WEB_DIR = Path(__file__).resolve().parent.parent
TEMPLATE_DIR = WEB_DIR / "templates"
STATIC_DIR = WEB_DIR / "static"
# The files `npm run vendor` copies; pages say so plainly when they are missing.
VENDOR_FILES = ("vendor/leaflet/leaflet.js", "vendor/chartjs/chart.umd.min.js")


@functools.cache
def environment() -> jinja2.Environment:
    """The Jinja2 environment (built on first use)."""
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATE_DIR),
        autoescape=jinja2.select_autoescape(["html"]),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["tojson_script"] = json_for_script
    return env


def json_for_script(value: Any) -> Markup:
    """JSON safe to place inside ``<script type="application/json">``."""
    text = json.dumps(value, ensure_ascii=False, separators=(",", ":"), default=str)
    text = text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
    return Markup(text)  # noqa: S704 - escaped above for a script data block


def vendor_ready() -> bool:
    """Whether the front-end libraries were built (``npm ci && npm run vendor``)."""
    return all((STATIC_DIR / name).is_file() for name in VENDOR_FILES)


def content_security_policy(settings: Settings) -> str:
    """The console's policy: self-hosted assets, plus the tile server when one is set."""
    if not settings.console_tile_url or settings.console_tile_url.startswith("/"):
        return CONTENT_SECURITY_POLICY
    parts = urlsplit(settings.console_tile_url.replace("{s}", "*"))
    origin = f"{parts.scheme}://{parts.netloc}"
    return CONTENT_SECURITY_POLICY.replace(
        "img-src 'self' data: blob:", f"img-src 'self' data: blob: {origin}"
    )


def city_info(city: Any) -> dict[str, Any]:
    """The loaded city's ``info()`` (name, extent, travel-time method), when it has one."""
    return dict(city.info()) if callable(getattr(city, "info", None)) else {}


def city_bbox(city: Any, default: tuple[float, float, float, float]) -> list[float]:
    """The loaded city's extent (from its ``info()`` when it has one), else ``default``."""
    bbox = city_info(city).get("bbox") or getattr(city, "bbox", None) or default
    return [float(v) for v in bbox]


def language(request: Request, settings: Settings) -> str:
    """The language of this request's pages."""
    return choose_language(request.cookies.get(LANG_COOKIE), settings.console_language)


def is_synthetic(request: Request, settings: Settings) -> bool:
    """True when the data shown is fictional (demo city pack or live demo shift)."""
    city = getattr(request.app.state, "city", None)
    info = city.info() if city is not None else {}
    return bool(settings.demo_live or info.get("synthetic"))


def render(
    request: Request,
    template: str,
    *,
    settings: Settings,
    principal: Principal | None,
    page: str,
    data: dict[str, Any] | None = None,
    status_code: int = 200,
    **context: Any,
) -> HTMLResponse:
    """Render ``template`` with the common context and the page's data for its script."""
    lang = language(request, settings)
    t = translator(lang)
    perms = sorted(principal.permissions) if principal else []
    page_data = {
        "page": page,
        "lang": lang,
        "tz": settings.time_zone,
        "messages": dict(catalog(lang)),
        "permissions": perms,
        "user": principal.username if principal else None,
        **(data or {}),
    }
    html = (
        environment()
        .get_template(template)
        .render(
            t=t,
            lang=lang,
            page=page,
            principal=principal,
            can=frozenset(perms),
            vendor_ready=vendor_ready(),
            synthetic=is_synthetic(request, settings),
            version=arverne.__version__,
            page_data=page_data,
            path=request.url.path,
            now=dt.datetime.now(settings.zone),
            **context,
        )
    )
    return HTMLResponse(
        html,
        status_code=status_code,
        headers={
            "Content-Security-Policy": content_security_policy(settings),
            "Cache-Control": "no-store",
        },
    )
