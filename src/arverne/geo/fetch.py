"""Download an OSM extract by name (or URL) behind a small transport interface.

The network sits behind :class:`Transport` (one method, ``stream(url)``), so tests and
air-gapped installs use :class:`MemoryTransport` and production uses
:class:`UrllibTransport`. The file is written atomically and checked to be OSM (PBF or
XML) before it replaces anything.
"""

from __future__ import annotations

import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from arverne.geo.atomic import atomic_file
from arverne.geo.errors import FetchError

GEOFABRIK = "https://download.geofabrik.de"
KNOWN_EXTRACTS: Mapping[str, str] = {
    "monaco": f"{GEOFABRIK}/europe/monaco-latest.osm.pbf",
    "auvergne": f"{GEOFABRIK}/europe/france/auvergne-latest.osm.pbf",
    "rhone-alpes": f"{GEOFABRIK}/europe/france/rhone-alpes-latest.osm.pbf",
    "ile-de-france": f"{GEOFABRIK}/europe/france/ile-de-france-latest.osm.pbf",
    "finland": f"{GEOFABRIK}/europe/finland-latest.osm.pbf",
    "luxembourg": f"{GEOFABRIK}/europe/luxembourg-latest.osm.pbf",
    "andorra": f"{GEOFABRIK}/europe/andorra-latest.osm.pbf",
}
CHUNK_BYTES = 1 << 20
TIMEOUT_S = 60.0


class Transport(Protocol):
    """Fetches the bytes behind a URL, as chunks."""

    def stream(self, url: str) -> Iterator[bytes]:
        """Yield the response body; raise :class:`FetchError` on any failure."""
        ...


class UrllibTransport:
    """HTTPS transport on the standard library (no extra dependency)."""

    def __init__(self, *, timeout_s: float = TIMEOUT_S) -> None:
        self.timeout_s = timeout_s

    def stream(self, url: str) -> Iterator[bytes]:
        """Yield the body of an HTTPS GET in 1 MiB chunks."""
        if not url.startswith("https://"):
            raise FetchError(f"refusing {url!r}: only https:// URLs are downloaded")
        request = urllib.request.Request(url, headers={"User-Agent": "arverne-city-fetch"})  # noqa: S310 - https only, checked above
        try:
            with urllib.request.urlopen(request, timeout=self.timeout_s) as response:  # noqa: S310
                while chunk := response.read(CHUNK_BYTES):
                    yield chunk
        except urllib.error.HTTPError as exc:
            raise FetchError(f"{url}: HTTP {exc.code} {exc.reason}; check the name or URL") from exc
        except (urllib.error.URLError, TimeoutError, OSError) as exc:
            raise FetchError(
                f"{url}: download failed ({exc}); check the network and retry"
            ) from exc


@dataclass
class MemoryTransport:
    """In-memory transport for tests: URL -> body bytes, or an HTTP status code (int)."""

    responses: dict[str, bytes | int] = field(default_factory=dict)
    requested: list[str] = field(default_factory=list)

    def stream(self, url: str) -> Iterator[bytes]:
        """Yield the stored body in small chunks, or fail like the real transport."""
        self.requested.append(url)
        body = self.responses.get(url, 404)
        if isinstance(body, int):
            raise FetchError(f"{url}: HTTP {body}; check the name or URL")
        for start in range(0, len(body), 64 * 1024):
            yield body[start : start + 64 * 1024]


def resolve_extract(name: str) -> str:
    """Return the download URL of a known extract name, or the name itself if it is a URL.

    Raises
    ------
    ValueError
        For an unknown name, listing the known ones.
    """
    key = name.strip().lower()
    if key.startswith("https://"):
        return name.strip()
    if key in KNOWN_EXTRACTS:
        return KNOWN_EXTRACTS[key]
    known = ", ".join(sorted(KNOWN_EXTRACTS))
    raise ValueError(f"unknown extract {name!r}; use one of {known} or an https:// URL")


def _looks_like_osm(head: bytes) -> bool:
    stripped = head.lstrip(b"\xef\xbb\xbf \t\r\n")
    return b"OSMHeader" in head[4:64] or (stripped.startswith(b"<") and b"<osm" in head[:512])


def fetch_extract(name: str, *, out_path: str | Path, transport: Transport | None = None) -> Path:
    """Download an OSM extract and write it atomically.

    Parameters
    ----------
    name
        A known name (see :data:`KNOWN_EXTRACTS`) or an ``https://`` URL.
    out_path
        Destination file; its directory must exist.
    transport
        How to download (default :class:`UrllibTransport`).

    Returns
    -------
    pathlib.Path
        The written file.

    Raises
    ------
    FetchError
        HTTP or network failure, empty or non-OSM content; nothing is written.
    """
    url = resolve_extract(name)
    target = Path(out_path)
    if not target.parent.is_dir():
        raise FileNotFoundError(f"{target.parent} does not exist; create it first")
    client = transport or UrllibTransport()
    size = 0
    with atomic_file(target) as temp, temp.open("wb") as handle:
        head = b""
        for chunk in client.stream(url):
            if len(head) < 512:
                head += chunk[: 512 - len(head)]
            handle.write(chunk)
            size += len(chunk)
        if size == 0:
            raise FetchError(f"{url}: the server sent an empty file; retry later")
        if not _looks_like_osm(head):
            raise FetchError(
                f"{url}: the content is not an OSM extract (PBF or XML); check the URL"
            )
    return target
