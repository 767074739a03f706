"""The web client's assets: content-hashed URLs, cache headers, what is (not) served."""

from __future__ import annotations

import re
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from server.assets import (
    IMMUTABLE,
    NO_CACHE,
    add_static_routes,
    content_hash,
    hashed_name,
    is_servable,
    rewrite_index,
    split_hashed,
)
from server.testing import running_server

STATIC = Path(__file__).resolve().parents[1] / "server" / "static"


def test_hashed_names_round_trip():
    digest = content_hash(b"console.log(1)")
    assert len(digest) == 12
    assert hashed_name("app.js", digest) == f"app.{digest}.js"
    assert hashed_name("vendor/socket.io.min.js", digest) == f"vendor/socket.io.min.{digest}.js"
    assert split_hashed(f"vendor/socket.io.min.{digest}.js") == ("vendor/socket.io.min.js", digest)
    assert split_hashed("app.js") is None
    assert split_hashed("socket.io.min.js") is None  # "io" and "min" are not hashes


def test_only_page_assets_are_servable():
    assert is_servable("app.js") and is_servable("vendor/socket.io.min.js") and is_servable("style.css")
    for path in ("package.json", "node_modules/socket.io-client/dist/socket.io.js", "../app.py", ".env",
                 "a/../../x.js", "index.html", "app.py"):
        assert not is_servable(path), path


def test_rewrite_index_points_at_hashed_urls_only_for_relative_references():
    html = ('<link rel="stylesheet" href="style.css"><script src="app.js"></script>'
            '<script src="/abs.js"></script><script src="https://cdn.example/x.js"></script><a href="missing.js">')
    out = rewrite_index(html, {"style.css": "aaaaaaaaaaaa", "app.js": "bbbbbbbbbbbb"})
    assert 'href="/static/style.aaaaaaaaaaaa.css"' in out
    assert 'src="/static/app.bbbbbbbbbbbb.js"' in out
    assert 'src="/abs.js"' in out and 'src="https://cdn.example/x.js"' in out
    assert 'href="/static/missing.js"' in out  # unknown file: plain URL (then 404), never a made-up hash


@pytest.fixture
def static_dir(tmp_path: Path) -> Path:
    (tmp_path / "index.html").write_text('<script src="app.js"></script><link href="style.css" rel="stylesheet">')
    (tmp_path / "app.js").write_text("console.log('v1');\n")
    (tmp_path / "style.css").write_text("body { color: red; }\n")
    (tmp_path / "package.json").write_text("{}")
    (tmp_path / "node_modules").mkdir()
    (tmp_path / "node_modules" / "x.js").write_text("secret")
    return tmp_path


async def _serve(static_dir: Path) -> TestServer:
    app = web.Application()
    add_static_routes(app, static_dir)
    server = TestServer(app, host="127.0.0.1", port=0)
    await server.start_server()
    return server


async def test_index_and_assets_with_cache_headers(static_dir: Path):
    server = await _serve(static_dir)
    try:
        async with aiohttp.ClientSession() as http:
            async with http.get(server.make_url("/")) as resp:
                html = await resp.text()
                assert resp.status == 200 and resp.headers["Cache-Control"] == NO_CACHE
            url = re.search(r'src="(/static/app\.[0-9a-f]{12}\.js)"', html).group(1)
            async with http.get(server.make_url(url)) as resp:
                assert resp.status == 200
                assert resp.headers["Cache-Control"] == IMMUTABLE
                assert resp.content_type == "text/javascript"
                assert await resp.text() == "console.log('v1');\n"
            # a new version of the file gets a new URL by itself; the old URL is gone
            (static_dir / "app.js").write_text("console.log('version two');\n")
            async with http.get(server.make_url("/")) as resp:
                new_url = re.search(r'src="(/static/app\.[0-9a-f]{12}\.js)"', await resp.text()).group(1)
            assert new_url != url
            async with http.get(server.make_url(new_url)) as resp:
                assert resp.status == 200 and "version two" in await resp.text()
            async with http.get(server.make_url(url)) as resp:
                assert resp.status == 404
            async with http.get(server.make_url("/static/app.js")) as resp:  # plain name: served, not cached
                assert resp.status == 200 and resp.headers["Cache-Control"] == NO_CACHE
            for path in ("/static/package.json", "/static/node_modules/x.js", "/static/../app.py",
                         "/static/%2e%2e/%2e%2e/etc/passwd.js"):
                async with http.get(server.make_url(path)) as resp:
                    assert resp.status == 404, path
    finally:
        await server.close()


async def test_no_index_gives_the_plain_text_answer(tmp_path: Path):
    server = await _serve(tmp_path)
    try:
        async with aiohttp.ClientSession() as http, http.get(server.make_url("/")) as resp:
            assert resp.status == 200 and "Socket.IO at /socket.io/" in await resp.text()
    finally:
        await server.close()


async def test_reference_server_serves_the_web_client_with_its_bundle():
    assert (STATIC / "vendor" / "socket.io.min.js").is_file(), "run `make webclient` (npm ci + copy of the bundle)"
    async with running_server() as srv, aiohttp.ClientSession() as http:
        async with http.get(srv.url + "/") as resp:
            html = await resp.text()
        urls = re.findall(r'(?:src|href)="(/static/[^"]+)"', html)
        assert len(urls) == 5  # style, the Socket.IO client, debuglog, connection, app
        for url in urls:
            assert split_hashed(url.removeprefix("/static/")) is not None, url
            async with http.get(srv.url + url, headers={"Accept-Encoding": "gzip"}) as resp:
                assert resp.status == 200, url
                assert resp.headers["Cache-Control"] == IMMUTABLE
                assert resp.headers["Content-Encoding"] == "gzip"
                assert len(await resp.read()) > 0
        async with http.get(srv.url + "/static/package.json") as resp:
            assert resp.status == 404
