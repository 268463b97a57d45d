"""Request ids and security headers, as a small pure-ASGI middleware."""

from __future__ import annotations

import re
import uuid
from typing import Any

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

REQUEST_ID_HEADER = "x-request-id"
_VALID_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
_SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
}
# Self-hosted scripts and styles only (the console's assets come from /static, no CDN).
# Pages that need more (a configured map tile server) set their own header, which wins.
# The interactive API docs load Swagger UI from its CDN, so they get no policy.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; "
    "connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'self'; "
    "form-action 'self'; frame-ancestors 'none'"
)
_NO_POLICY_PATHS = ("/api/docs",)
# API answers carry personal data (callers, officers, accounts) and live operational
# state: no browser or proxy keeps a copy (OWASP ASVS 8.2.1) unless a route says otherwise
# (the map layers revalidate with their ETag; the event stream sets its own).
_API_PREFIX = "/api/"
API_CACHE_CONTROL = "no-store"


class RequestContextMiddleware:
    """Give every request an id (kept from the client when well-formed) and safe headers."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        incoming = dict(scope.get("headers") or []).get(REQUEST_ID_HEADER.encode(), b"").decode()
        request_id = incoming if _VALID_REQUEST_ID.match(incoming) else uuid.uuid4().hex
        state: dict[str, Any] = scope.setdefault("state", {})
        state["request_id"] = request_id
        path = str(scope.get("path", ""))
        with_policy = not path.startswith(_NO_POLICY_PATHS)
        api = path.startswith(_API_PREFIX)

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                headers["X-Request-ID"] = request_id
                for name, value in _SECURITY_HEADERS.items():
                    headers.setdefault(name, value)
                if with_policy:
                    headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
                if api:
                    headers.setdefault("Cache-Control", API_CACHE_CONTROL)
            await send(message)

        await self.app(scope, receive, send_with_headers)
