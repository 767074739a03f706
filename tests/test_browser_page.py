"""The reference web client in a real headless Chromium: login, two sessions, chat, remote log."""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

from jarvis_diag import lines
from jarvis_diag.simulate.browser import CHROMIUM, LAUNCH_ARGS, PHONE_VIEWPORT
from jarvis_diag.simulate.clientlog import MOBILE_UA
from server.testing import running_server

pytestmark = pytest.mark.browser

STATIC = Path(__file__).resolve().parents[1] / "server" / "static"
FRONTEND_LINE = re.compile(r"^\[(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z)\] \[([A-Z]+)\] (.*)$")
LOG_FILE = re.compile(r"^\d{8}_Mozilla50iPhoneCPUiP-[0-9a-z]+-[0-9a-z]{4}\.log$")


async def _wait(page, expression: str, timeout_s: float = 10.0) -> None:
    await page.wait_for_function(expression, timeout=timeout_s * 1000, polling=50)


@contextlib.asynccontextmanager
async def _page_at(url: str):
    """The page at ``url`` in a phone-sized headless Chromium, closed at the end; a request
    that failed (HTTP 400 or more) or an error in the page's script fails the test."""
    from playwright.async_api import async_playwright

    assert Path(CHROMIUM).exists(), "Debian's chromium is needed (apt-get install chromium)"
    assert (STATIC / "vendor" / "socket.io.min.js").is_file(), "run `make webclient`"
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=LAUNCH_ARGS)
        try:
            context = await browser.new_context(viewport=PHONE_VIEWPORT, user_agent=MOBILE_UA, is_mobile=True,
                                                has_touch=True)
            page = await context.new_page()
            failures: list[str] = []
            page.on("response", lambda r: failures.append(f"{r.status} {r.url}") if r.status >= 400 else None)
            page.on("pageerror", lambda e: failures.append(f"page error: {e}"))
            await page.goto(url)
            yield page
        finally:
            await browser.close()
    assert failures == []


async def _login_and_chat(page, token: str, workdirs: list[str]) -> None:
    await page.fill("#login-token", token)
    await page.click("#login-submit")
    await _wait(page, "window.jarvisDiag.connection().socket === 'connected'")
    for n, workdir in enumerate(workdirs, start=1):
        await page.fill("#new-workdir", workdir)
        await page.click("#new-session")
        await _wait(page, f"window.jarvisDiag.sessions().filter(s => s.uuid && s.readyCount > 0).length === {n}")
        await page.fill("#composer-input", f"hello from {workdir}")
        await page.press("#composer-input", "Enter")
        await _wait(page, "window.jarvisDiag.sessions().find(s => s.current).results >= 1")


async def test_page_logs_in_opens_two_sessions_chats_and_its_log_reaches_the_server(tmp_path: Path):
    async with running_server(agent_pace=0.005) as srv:
        async with _page_at(f"{srv.url}/?profile=connmgr") as page:
            await _login_and_chat(page, srv.token, ["/tmp/projA", "/tmp/projB"])
            # back to the first session: connmgr re-sends chat:connect and does not show history twice
            await page.locator("#session-list li .session-open").nth(0).click()
            await _wait(page, "window.jarvisDiag.sessions()[0].readyCount >= 2")
            await _wait(page, "window.jarvisDiag.sessions()[0].historyEndAt !== null")
            sessions = await page.evaluate("window.jarvisDiag.sessions()")
            assert [s["current"] for s in sessions] == [True, False]
            for s, workdir in zip(sessions, ["/tmp/projA", "/tmp/projB"], strict=True):
                assert [(m["role"], m["text"]) for m in s["messages"]] == [
                    ("user", f"hello from {workdir}"), ("assistant", f"sim reply to: hello from {workdir}")]
            assert await page.get_attribute("#connection", "data-state") == "online"
            assert await page.locator('#session-list li[data-status="ready"]').count() == 2
            # the conversation on screen is the current session's
            visible = await page.locator(".conversation:not([hidden]) .msg-assistant .msg-text").all_text_contents()
            assert visible == ["sim reply to: hello from /tmp/projA"]
            await page.click("#debug-toggle")
            assert await page.locator("#debug-lines .debug-line").count() > 20
            await page.screenshot(path=str(tmp_path / "page.png"))
            assert (tmp_path / "page.png").stat().st_size > 10_000
            client_id = await page.evaluate("window.jarvisDiag.clientId")
            page_lines = await page.evaluate("window.jarvisDiag.lines()")
            await page.evaluate("window.jarvisDiag.flushLogs()")
        assert re.fullmatch(r"Mozilla50iPhoneCPUiP-[0-9a-z]{6,}-[0-9a-z]{4}", client_id)

        # every line the page wrote is a known shape of the real frontend
        unknown = [e["message"] for e in page_lines if lines.match("frontend", e["message"]) is None]
        assert unknown == []

        # the remote log: the server appended the page's lines to logs/frontend/YYYYMMDD_<clientId>.log
        deadline = time.monotonic() + 10
        files: list[Path] = []
        while time.monotonic() < deadline:
            files = list(srv.frontend_dir.glob("*.log"))
            if files and len(files[0].read_text().splitlines()) >= len(page_lines):
                break
            await asyncio.sleep(0.1)
        assert len(files) == 1 and LOG_FILE.match(files[0].name), files
        assert client_id in files[0].name
        written = files[0].read_text().splitlines()
        assert len(written) >= len(page_lines)
        for text in written:
            m = FRONTEND_LINE.match(text)
            assert m, text
            assert lines.match("frontend", m.group(3)) is not None, text
        assert any("[SocketIO] [TIMING] Socket.IO delivered chat:ready" in t for t in written)
        assert any("connectChat: handler EXISTS, sending connect to re-establish backend callback" in t
                   for t in written)
        app_log = srv.app_log.read_text()
        assert "[DebugLog] HTTP received" in app_log and client_id[:20] in app_log

        # the timeline reads the page's log with the server's: nothing unknown
        out = subprocess.run([sys.executable, "-m", "jarvis_diag", "timeline", str(srv.frontend_dir),
                              str(srv.app_log), "--format", "json"], capture_output=True, text=True, timeout=60)
        assert out.returncode == 0, out.stderr
        timeline = json.loads(out.stdout)
        assert {s["format"] for s in timeline["sources"]} == {"frontend", "backend"}
        assert all(s["unknown"] == 0 for s in timeline["sources"]), timeline["sources"]


async def test_legacy_page_sends_no_connect_for_a_session_it_already_has():
    async with running_server(agent_pace=0.005) as srv:
        async with _page_at(f"{srv.url}/?profile=legacy") as page:
            await _login_and_chat(page, srv.token, ["/tmp/a", "/tmp/b"])
            await page.locator("#session-list li .session-open").nth(0).click()
            await page.wait_for_timeout(300)
            sessions = await page.evaluate("window.jarvisDiag.sessions()")
            assert sessions[0]["readyCount"] == 1  # no chat:connect, so no chat:ready
            messages = [e["message"] for e in await page.evaluate("window.jarvisDiag.lines()")]
            assert any(re.fullmatch(r"\[SocketIO\] Chat [0-9a-f]{8} already connected, updating callbacks", m)
                       for m in messages)
            assert await page.text_content("#profile") == "legacy"


async def test_wrong_token_is_refused_on_the_login_form():
    async with running_server() as srv:
        async with _page_at(f"{srv.url}/") as page:
            await page.fill("#login-token", "not-the-token")
            await page.click("#login-submit")
            await page.wait_for_selector("#login-error:not([hidden])", timeout=10_000)
            assert "refused" in (await page.text_content("#login-error"))
            assert await page.is_hidden("#main")


async def test_a_page_that_never_signs_in_leaves_no_log_file_and_signing_in_sends_what_it_kept():
    async with running_server() as srv:
        async with _page_at(f"{srv.url}/") as page:
            await _wait(page, "window.jarvisDiag.lines().length > 0")
            await page.evaluate("window.jarvisDiag.flushLogs()")  # what the 2 s timer does
            assert list(srv.frontend_dir.iterdir()) == []
            # a refused token is not signing in either
            await page.fill("#login-token", "not-the-token")
            await page.click("#login-submit")
            await page.wait_for_selector("#login-error:not([hidden])", timeout=10_000)
            await page.evaluate("window.jarvisDiag.flushLogs()")
            assert list(srv.frontend_dir.iterdir()) == []
            kept = [e["message"] for e in await page.evaluate("window.jarvisDiag.lines()")]
            assert any(m.startswith("[SocketIO] Authentication failed") for m in kept)

            await page.fill("#login-token", srv.token)
            await page.click("#login-submit")
            await _wait(page, "window.jarvisDiag.connection().socket === 'connected'")
            await page.evaluate("window.jarvisDiag.flushLogs()")
            deadline = time.monotonic() + 10
            written: list[str] = []
            while time.monotonic() < deadline and len(written) < len(kept):
                files = list(srv.frontend_dir.glob("*.log"))
                written = [FRONTEND_LINE.match(t).group(3) for t in files[0].read_text().splitlines()] if files else []
                await asyncio.sleep(0.05)
        assert written[:len(kept)] == kept  # nothing written before signing in was lost


async def test_a_tap_on_the_chat_on_screen_does_not_attach_it_again():
    async with running_server(agent_pace=0.005) as srv:
        async with _page_at(f"{srv.url}/?profile=connmgr") as page:
            await _login_and_chat(page, srv.token, ["/tmp/a", "/tmp/b"])
            mark = await page.evaluate("window.jarvisDiag.journalLength()")
            tabs = page.locator("#session-list li .session-open")
            await tabs.nth(1).click()  # the chat on screen: nothing to switch to
            await tabs.nth(0).click()  # a real switch: one chat:connect, answered in order after any other
            await _wait(page, "window.jarvisDiag.sessions()[0].readyCount >= 2")
            await _wait(page, "window.jarvisDiag.sessions()[0].historyEndAt !== null")
            journal = await page.evaluate("(n) => window.jarvisDiag.journal(n)", mark)
            sessions = await page.evaluate("window.jarvisDiag.sessions()")
        sent = [(e["session"], e["detail"]["cause"]) for e in journal if e["kind"] == "connect.sent"]
        assert sent == [(sessions[0]["uuid"], "switch")]
        assert sessions[1]["readyCount"] == 1 and [s["current"] for s in sessions] == [True, False]
