"""The web client's files, served with content-hashed URLs.

``index.html`` names its assets plainly (``src="app.js"``); when serving it, each name
becomes ``/static/app.<hash>.js`` where ``<hash>`` is taken from the file's bytes, so a
changed file gets a new URL by itself and every asset can be cached for a year. The
index itself is never cached. Only the page's own assets (``.js``, ``.css``, images) are
served: not ``package.json``, not ``node_modules``.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

from aiohttp import web

ASSET_PREFIX = "/static/"
HASH_CHARS = 12
CONTENT_TYPES = {
    ".js": "text/javascript",
    ".css": "text/css",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".ico": "image/x-icon",
    ".webmanifest": "application/manifest+json",
}
IMMUTABLE = "public, max-age=31536000, immutable"
NO_CACHE = "no-cache"
FALLBACK_TEXT = "jarvis-diag reference server: Socket.IO at /socket.io/, health at /health\n"
_EXCLUDED_DIRS = {"node_modules"}
# src="app.js" / href="style.css" with a relative path (absolute URLs and data: are left alone)
_REFERENCE = re.compile(r'\b(?P<attr>src|href)="(?P<path>(?!/|[a-z]+:)[A-Za-z0-9_./-]+)"')
_HASHED = re.compile(rf"^(?P<stem>.+)\.(?P<digest>[0-9a-f]{{{HASH_CHARS}}})(?P<suffix>\.[A-Za-z0-9]+)$")


def content_hash(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()[:HASH_CHARS]


def hashed_name(path: str, digest: str) -> str:
    """``vendor/socket.io.min.js`` -> ``vendor/socket.io.min.<digest>.js``."""
    stem, dot, suffix = path.rpartition(".")
    return f"{stem}.{digest}.{suffix}" if dot else f"{path}.{digest}"


def split_hashed(name: str) -> tuple[str, str] | None:
    """``app.<digest>.js`` -> (``app.js``, digest); None when the name carries no hash."""
    m = _HASHED.match(name)
    return (m["stem"] + m["suffix"], m["digest"]) if m else None


def is_servable(path: str) -> bool:
    parts = path.split("/")
    return (
        not any(p in ("", ".", "..") or p.startswith(".") for p in parts)
        and not _EXCLUDED_DIRS.intersection(parts)
        and Path(path).suffix in CONTENT_TYPES
    )


def rewrite_index(html: str, digests: dict[str, str]) -> str:
    """Point every relative asset reference of the page at its hashed URL (pure)."""

    def replace(m: re.Match[str]) -> str:
        path = m["path"]
        digest = digests.get(path)
        url = ASSET_PREFIX + (hashed_name(path, digest) if digest else path)
        return f'{m["attr"]}="{url}"'

    return _REFERENCE.sub(replace, html)


@dataclass(slots=True)
class _Cached:
    stamp: tuple[int, int]  # (mtime_ns, size): re-read when the file changes
    data: bytes
    digest: str


class AssetTable:
    """The static folder's files and their hashes, re-read when a file changes on disk."""

    def __init__(self, static_dir: Path):
        self.static_dir = Path(static_dir).resolve()
        self._cache: dict[str, _Cached] = {}

    def get(self, path: str) -> _Cached | None:
        if not is_servable(path):
            return None
        file = (self.static_dir / path).resolve()
        if not file.is_relative_to(self.static_dir) or not file.is_file():
            return None
        st = file.stat()
        stamp = (st.st_mtime_ns, st.st_size)
        cached = self._cache.get(path)
        if cached is None or cached.stamp != stamp:
            data = file.read_bytes()
            cached = _Cached(stamp, data, content_hash(data))
            self._cache[path] = cached
        return cached

    def index(self) -> str | None:
        file = self.static_dir / "index.html"
        if not file.is_file():
            return None
        html = file.read_text(encoding="utf-8")
        digests = {}
        for m in _REFERENCE.finditer(html):
            asset = self.get(m["path"])
            if asset is not None:
                digests[m["path"]] = asset.digest
        return rewrite_index(html, digests)


def add_static_routes(app: web.Application, static_dir: Path) -> AssetTable:
    """``GET /`` (the page, hashed asset URLs) and ``GET /static/...`` (the assets)."""
    table = AssetTable(static_dir)

    async def index(request: web.Request) -> web.Response:
        html = table.index()
        if html is None:
            return web.Response(text=FALLBACK_TEXT)
        return web.Response(text=html, content_type="text/html", charset="utf-8",
                            headers={"Cache-Control": NO_CACHE})

    async def asset(request: web.Request) -> web.Response:
        name = request.match_info["name"]
        hashed = split_hashed(name)
        if hashed is not None:
            plain, digest = hashed
            found = table.get(plain)
            if found is None or found.digest != digest:
                raise web.HTTPNotFound(text="no such asset version\n")
            cache = IMMUTABLE
        else:
            found = table.get(name)
            if found is None:
                raise web.HTTPNotFound(text="no such asset\n")
            cache = NO_CACHE
        content_type = CONTENT_TYPES[Path(name).suffix]
        charset = "utf-8" if content_type.startswith("text/") else None
        response = web.Response(body=found.data, content_type=content_type, charset=charset,
                                headers={"Cache-Control": cache, "ETag": f'"{found.digest}"'})
        if charset:
            response.enable_compression()  # the Socket.IO bundle is 50 KB of text; phones are on slow links
        return response

    app.router.add_get("/", index)
    app.router.add_get(ASSET_PREFIX + "{name:.+}", asset)
    return table
