"""``simulate-mobile --browser``: a real headless Chromium goes through what a phone does to a page.

Per cycle, what the fault does to a virtual client (:mod:`~jarvis_diag.simulate.faults`)
really happens to the page:

* hidden (every fault but ``flaky``, a page in use on a bad network):
  ``document.visibilityState`` / ``hidden`` are overridden and ``visibilitychange`` is
  dispatched (a headless page never fires it by itself);
* frozen (``freeze`` only): CDP ``Page.setWebLifecycleState`` ``frozen``, later ``active``.
  Chromium honours it only for a hidden page, and Playwright's focus emulation keeps every page it drives
  visible to the browser, so the call alone is a no-op here; the page's script is also
  paused with CDP ``Debugger.pause`` (no timer, no socket event, no log flush runs until
  ``Debugger.resume``), which is what a frozen phone page goes through;
* the network lost: Chromium's offline emulation does not cut an open WebSocket, so the
  page is loaded through :class:`~jarvis_diag.simulate.proxy.FaultProxy`, which freezes,
  closes, resets or refuses its TCP connections for real (``offline`` resets the page's
  side and holds the server's open and silent until the network is back, as a lost
  network does, and also switches the browser's offline emulation, so the page gets its
  ``offline`` / ``online`` events).

Then resumed, online, visible. What the virtual clients draw per phone is drawn alike for
the same seed and index: a phone's clock is off by its seeded skew (``Date`` is replaced
before the page's scripts run, so its log lines, client id and ``new-<ms>`` ids carry the
skew as a real phone's do), it starts its cycles after its seeded stagger, the flaky
resets come at the same moments, and the network shape's draws are the same.

The time to recover each session, and whether output was lost or shown twice, are
measured from the page itself: the reference client's journal (``window.jarvisDiag``: the
same facts its log lines say, with the page's clock, less its skew) and its DOM. A user's own app is driven by an :class:`AppSpec` (TOML or JSON) saying how to log in,
open a session, send a message and tell a session is ready (a selector or a log line).
The records are the ``jarvis-diag.sim/1`` ones of the virtual clients
(:func:`~jarvis_diag.simulate.verdict.cycle_verdict`), with the page's frontend log in
``--out/frontend/`` and a screenshot of every failed cycle in ``--out``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
import re
import secrets
import time
import tomllib
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

from jarvis_diag.simulate.clientlog import MOBILE_UA, log_file_name
from jarvis_diag.simulate.faults import clock_skew_s, fault_schedule, page_hides, stagger_delay_s
from jarvis_diag.simulate.network import SHAPES, NetworkShape
from jarvis_diag.simulate.profiles import PRESETS
from jarvis_diag.simulate.proxy import FaultProxy
from jarvis_diag.simulate.results import ResultWriter
from jarvis_diag.simulate.run import RunResult, ServerUnusable, preflight
from jarvis_diag.simulate.verdict import Obs, SessionCycle, cycle_ok, cycle_verdict

CHROMIUM = "/usr/bin/chromium"
LAUNCH_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
               "--disable-component-update", "--disable-sync", "--no-first-run"]
PHONE_VIEWPORT = {"width": 390, "height": 844}
BROWSER_FAULTS = ("freeze", "offline", "close", "flaky", "no-websocket")
MAX_BROWSER_CLIENTS = 8  # one Chromium page each: a few are a phone fleet, dozens are a different test
_POLL_S = 0.05
_ACK_TIMEOUT_S = 10.0  # (as the virtual clients wait for their messages' chat:user_ack)
CONNECT_TIMEOUT_S = 10.0  # the reference client's Socket.IO connection timeout (as a virtual client's)

# Installed before the page's own scripts: visibility the automation can switch.
VISIBILITY_SCRIPT = """(() => {
  let hidden = false;
  Object.defineProperty(document, 'visibilityState', {configurable: true, get: () => (hidden ? 'hidden' : 'visible')});
  Object.defineProperty(document, 'hidden', {configurable: true, get: () => hidden});
  window.__jarvisSetHidden = (value) => {
    hidden = Boolean(value);
    document.dispatchEvent(new Event('visibilitychange'));
  };
})();"""

# Installed before the page's own scripts when the phone's clock is off: Date.now(), new
# Date() and Date() read the true time plus the skew (in whole ms, as a clock shows it).
CLOCK_SCRIPT = """((skewMs) => {
  const RealDate = Date;
  const now = () => RealDate.now() + skewMs;
  class PhoneDate extends RealDate {
    constructor(...args) {
      if (args.length === 0) super(now());
      else super(...args);
    }
    static now() {
      return now();
    }
  }
  globalThis.Date = new Proxy(PhoneDate, {apply: () => new RealDate(now()).toString()});
})(%d);"""


def _one_line(exc: Exception) -> str:
    """An error of the page's driver in one line: its first, and what it was waiting for (a
    selector of --browser-app that matches nothing: Playwright says it on a later line)."""
    text = str(exc)
    first = text.splitlines()[0] if text else ""
    waiting = re.search(r"waiting for (locator\(.*?\)|selector .*?)\s*$", text, re.M)
    return f"{type(exc).__name__}: {first}" + (f" ({waiting.group(0).strip()})" if waiting else "")


class BrowserUnavailable(Exception):
    """Chromium or Playwright is missing, or the page cannot be driven."""


@dataclass
class AppSpec:
    """How to drive a page. The defaults drive the reference client (``jarvis-diag serve``)."""

    token_selector: str | None = "#login-token"  # None: the app needs no login (or the URL carries it)
    submit_selector: str | None = "#login-submit"  # None: press Enter in the token field
    workdir_selector: str | None = "#new-workdir"
    new_session_selector: str = "#new-session"
    # one element per open session, in order; clicking it switches to that session
    session_selector: str = "#session-list li .session-open"
    input_selector: str = "#composer-input"
    send_selector: str | None = None  # None: press Enter in the input
    # how to tell sessions are ready when the page has no journal (a user's own app)
    ready_selector: str | None = None  # matches once per ready session
    ready_log: str | None = None  # a regular expression on the page's console lines
    reply_selector: str | None = None  # one element per finished reply
    query: dict[str, str] = field(default_factory=dict)  # added to the URL (e.g. {"profile": "legacy"})

    @classmethod
    def load(cls, path: Path) -> AppSpec:
        """A TOML or JSON file with any of the fields above (``[app]`` table or top level)."""
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise ValueError(f"{path}: {exc.strerror}") from None
        try:
            data = json.loads(text) if path.suffix == ".json" else tomllib.loads(text)
        except (json.JSONDecodeError, tomllib.TOMLDecodeError) as exc:
            raise ValueError(f"{path}: not valid {'JSON' if path.suffix == '.json' else 'TOML'}: {exc}") from None
        data = data.get("app", data) if isinstance(data, dict) else None
        if not isinstance(data, dict):
            raise ValueError(f"{path}: expected a table of app settings")
        names = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - names)
        if unknown:
            raise ValueError(f"{path}: unknown setting(s) {', '.join(unknown)} (known: {', '.join(sorted(names))})")
        for key, value in data.items():  # (a selector of another type failed in the page, seconds in)
            if key == "query":
                if not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values()):
                    raise ValueError(f"{path}: query must be a table of strings (e.g. query = {{debug = \"1\"}})")
            elif not isinstance(value, str):
                what = "a regular expression" if key == "ready_log" else "a CSS selector"
                raise ValueError(f"{path}: {key} must be a string ({what}), not {type(value).__name__}")
        # (without them a run checks nothing: every cycle 'recovered', even a page with no socket)
        if not (data.get("ready_selector") or data.get("ready_log")):
            raise ValueError(f"{path}: give ready_selector or ready_log: how to tell the app's sessions are ready "
                             "again (else nothing would tell that a cycle recovered)")
        if not data.get("reply_selector"):
            raise ValueError(f"{path}: give reply_selector: an element per finished reply (else nothing would tell "
                             "that a reply came after the page came back)")
        spec = cls(**data)
        if spec.ready_log is not None:
            try:
                re.compile(spec.ready_log)
            except re.error as exc:
                raise ValueError(f"{path}: ready_log is not a regular expression: {exc}") from None
        return spec


@dataclass
class BrowserConfig:
    url: str
    token: str
    profile: str = "connmgr"  # reference client: ?profile=
    clients: int = 1
    sessions: int = 2
    cycles: int = 1
    background_s: float = 30.0
    fault: str = "freeze"
    network: str = "good"
    deadline_s: float = 30.0
    reaction_s: float = 0.3
    working_dir: str = "/tmp"
    seed: int = 0
    app: AppSpec | None = None  # None: the reference client
    executable: str = CHROMIUM
    network_shape: NetworkShape | None = None  # None: SHAPES[network] (a scenario's own shape otherwise)
    time_scale: float = 1.0  # multiplies the reference client's reconnect delays
    connect_timeout_s: float = CONNECT_TIMEOUT_S  # the reference client's connection timeout
    flaky_mean_gap_s: float = 2.0
    stagger_s: float = 0.0  # each page starts its cycles after a seeded 0..stagger_s
    clock_skew_ms: tuple[float, float] = (0.0, 0.0)  # each page's clock is off by a seeded amount in this range
    ramp: int = 200  # pages starting (loading, signing in, opening sessions) at the same time

    def shape(self) -> NetworkShape:
        return self.network_shape or SHAPES[self.network]

    def validate(self) -> None:
        if self.fault not in BROWSER_FAULTS:
            raise ValueError(f"unknown fault {self.fault!r} (one of {', '.join(BROWSER_FAULTS)})")
        if not 1 <= self.clients <= MAX_BROWSER_CLIENTS:
            raise ValueError(f"--clients must be between 1 and {MAX_BROWSER_CLIENTS} with --browser")
        if not 1 <= self.sessions <= 20 or not 1 <= self.cycles <= 1000:
            raise ValueError("--sessions must be 1..20 and --cycles 1..1000")
        if self.network_shape is None and self.network not in SHAPES:
            raise ValueError(f"unknown network {self.network!r} (one of {', '.join(SHAPES)})")
        if self.deadline_s <= 0:
            raise ValueError("the deadline must be > 0")
        if not 0 < self.time_scale < float("inf") or not 0 < self.connect_timeout_s < float("inf"):
            raise ValueError("the time scale and the connect timeout must be > 0 and finite")
        if self.stagger_s < 0 or self.flaky_mean_gap_s < 0:
            raise ValueError("the stagger and the flaky mean gap must be >= 0")
        lo, hi = self.clock_skew_ms
        if lo > hi or max(abs(lo), abs(hi)) > 3_600_000:
            raise ValueError("clock_skew_ms must be [low, high] with low <= high, within an hour")
        if self.app is not None and (self.time_scale != 1.0 or self.connect_timeout_s != CONNECT_TIMEOUT_S):
            raise ValueError("--time-scale and connect_timeout set the reference client's reconnection; "
                             "an app given with --browser-app reconnects at its own pace")
        if self.app is None and self.profile not in ("legacy", "connmgr", "resume"):
            raise ValueError(f"the reference web client has no profile {self.profile!r} (legacy, connmgr, resume)")
        parts = urlsplit(self.url)
        if parts.scheme != "http" or not parts.hostname:
            raise ValueError(f"{self.url}: give the page's http:// URL")


def page_url(base: str, proxy_url: str, query: dict[str, str]) -> str:
    """The page's URL with its host replaced by the proxy's, and ``query`` added."""
    parts = urlsplit(base)
    params = dict(parse_qsl(parts.query))
    params.update(query)
    return f"{proxy_url}{parts.path or '/'}" + (f"?{urlencode(params)}" if params else "")


def page_query(cfg: BrowserConfig) -> dict[str, str]:
    """What the reference client is told in its URL: its profile, and its reconnect delays'
    scale and connection timeout when not its own (pure)."""
    query = {"profile": cfg.profile}
    if cfg.time_scale != 1.0:
        query["time_scale"] = f"{cfg.time_scale:g}"
    if cfg.connect_timeout_s != CONNECT_TIMEOUT_S:
        query["connect_timeout_ms"] = f"{round(cfg.connect_timeout_s * 1000)}"
    return query


def journal_obs(entries: list[dict[str, Any]], client: int, skew_s: float = 0.0) -> list[Obs]:
    """The page's journal as the verdict's observations (pure), on the true clock: the page's
    times less its clock's skew."""
    out = []
    for e in entries:
        detail = e.get("detail")
        out.append(Obs(t=float(e["t"]) - skew_s, kind=e["kind"], client=client, session=e.get("session"),
                       event=e.get("event"), seq=e.get("seq"), replay=bool(e.get("replay")),
                       content=e.get("content"), message=e.get("message"), detail=detail,
                       sid=(detail or {}).get("sid") if isinstance(detail, dict) else None))
    return out


def view_counts(messages: list[dict[str, Any]], background: str | None, probe: str | None) -> tuple[int, int]:
    """Lost and duplicated as the user sees them (pure): the bubbles of one conversation.

    The background message must have a finished reply after it; neither tracked message
    nor its reply may be shown twice.
    """
    tracked = [m for m in (background, probe) if m is not None]
    users = Counter(m["text"] for m in messages if m["role"] == "user" and m["text"] in tracked)
    replies: Counter[str] = Counter()
    answered: set[str] = set()
    current = None
    for m in messages:
        if m["role"] == "user":
            current = m["text"] if m["text"] in tracked else None
        elif m["role"] == "assistant" and current is not None and m.get("final", True):
            replies[m["text"]] += 1
            answered.add(current)
    lost = 1 if background is not None and background not in answered else 0
    duplicated = sum(c - 1 for c in users.values() if c > 1) + sum(c - 1 for c in replies.values() if c > 1)
    return lost, duplicated


def frontend_log_text(entries: list[dict[str, Any]]) -> str:
    """The page's lines as the server writes them: ``[<timestamp>] [<LEVEL>] <message>``."""
    return "".join(f"[{e['timestamp']}] [{e['level']}] {e['message']}\n" for e in entries)


class _NewSessions:
    """What the pages of one run share when they make a chat: a page names a new chat
    ``new-<Date.now()>`` (as the real frontend does), and the server maps that name to one
    session; two pages of one browser making chats in the same millisecond shared one chat.
    Pages make their chats one at a time, each when its clock shows no millisecond another
    page's chat was named by."""

    MARGIN_MS = 100  # (a click lands some ms, tens on a busy machine, after the page's clock is read)

    def __init__(self) -> None:
        self.lock = asyncio.Lock()
        self.used: set[int] = set()

    def clear_of(self, now_ms: int) -> bool:
        """Whether a chat named at ``now_ms`` or within MARGIN_MS after it is no other's."""
        return not any(now_ms - 1 <= u <= now_ms + self.MARGIN_MS for u in self.used)


class _Page:
    """One phone: a browser context behind its own fault proxy."""

    def __init__(self, cfg: BrowserConfig, index: int, browser: Any, out_dir: Path,
                 new_sessions: _NewSessions | None = None):
        self.new_sessions = new_sessions or _NewSessions()
        self.cfg = cfg
        self.index = index
        self.browser = browser
        self.out_dir = out_dir
        # the page's clock shows whole ms: its skew is the phone's, rounded to one
        self.skew_ms = round(clock_skew_s(cfg.seed, index, cfg.clock_skew_ms) * 1000)
        self.skew_s = self.skew_ms / 1000
        self.spec = cfg.app or AppSpec(query=page_query(cfg))
        self.reference = cfg.app is None
        self.proxy: FaultProxy | None = None
        self.context = None
        self.page = None
        self.cdp = None
        self.console: list[tuple[float, str]] = []
        self.client_id = f"page-{index}"
        self.sessions: list[str] = []  # the session keys of the journal (UUIDs), in list order
        self.current: int | None = None  # the session on screen (the last opened or switched to)
        self.temp_ids: dict[str, str | None] = {}
        self.errors: list[str] = []
        self.last_lines: list[dict[str, Any]] = []
        self._flaky: asyncio.Task | None = None

    async def start(self) -> None:
        parts = urlsplit(self.cfg.url)
        self.proxy = FaultProxy(parts.hostname or "127.0.0.1", parts.port or 80, shape=self.cfg.shape(),
                                rng=random.Random(f"{self.cfg.seed}/{self.index}/net"))
        await self.proxy.start()
        self.context = await self.browser.new_context(viewport=PHONE_VIEWPORT, user_agent=MOBILE_UA, is_mobile=True,
                                                      has_touch=True, device_scale_factor=2)
        await self.context.add_init_script(VISIBILITY_SCRIPT)
        if self.skew_ms:
            await self.context.add_init_script(CLOCK_SCRIPT % self.skew_ms)
        self.page = await self.context.new_page()
        self.page.set_default_timeout(self.cfg.deadline_s * 1000)
        self.page.on("console", lambda msg: self.console.append((time.time(), msg.text)))
        self.cdp = await self.context.new_cdp_session(self.page)
        await self.page.goto(page_url(self.cfg.url, self.proxy.url, self.spec.query))
        if self.reference:
            ok = await self.page.evaluate("typeof window.jarvisDiag === 'object'")
            if not ok:
                raise BrowserUnavailable(f"{self.cfg.url} is not the reference web client: give --browser-app FILE")
            self.client_id = await self.page.evaluate("window.jarvisDiag.clientId")

    async def stop(self) -> None:
        if self._flaky is not None:
            self._flaky.cancel()
        if self.page is not None and self.reference:
            with contextlib.suppress(Exception):
                async with asyncio.timeout(3):
                    await self.page.evaluate("window.jarvisDiag.flushLogs()")
        self.write_frontend_log()
        if self.context is not None:
            with contextlib.suppress(Exception):
                await self.context.close()
        if self.proxy is not None:
            await self.proxy.stop()

    # ---- the page's own view --------------------------------------------------------
    async def journal(self, since: int = 0) -> list[dict[str, Any]]:
        return await self.page.evaluate("(n) => window.jarvisDiag.journal(n)", since)

    async def journal_length(self) -> int:
        return await self.page.evaluate("window.jarvisDiag.journalLength()")

    async def views(self) -> dict[str, list[dict[str, Any]]]:
        sessions = await self.page.evaluate("window.jarvisDiag.sessions()")
        return {s["uuid"] or s["id"]: s["messages"] for s in sessions}

    def write_frontend_log(self) -> None:
        """The page's lines, as the server would write them, in ``--out/frontend/``."""
        if self.last_lines:
            directory = self.out_dir / "frontend"
            directory.mkdir(parents=True, exist_ok=True)
            text = frontend_log_text(self.last_lines)
            (directory / log_file_name(self.client_id, time.time())).write_text(text, encoding="utf-8")

    async def snapshot_lines(self) -> None:
        """Read every line the page logged (a frozen or closed page keeps what was read before)."""
        if self.reference and self.page is not None:
            with contextlib.suppress(Exception):
                async with asyncio.timeout(5):
                    self.last_lines = await self.page.evaluate("window.jarvisDiag.lines()")

    async def wait_for(self, predicate: Callable[[], Any], timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while True:
            if await predicate():
                return True
            if time.monotonic() >= deadline:
                return False
            await asyncio.sleep(_POLL_S)

    # ---- what a user does -------------------------------------------------------------
    async def login(self) -> None:
        if not self.spec.token_selector:
            return
        await self.page.fill(self.spec.token_selector, self.cfg.token)
        if self.spec.submit_selector:
            await self.page.click(self.spec.submit_selector)
        else:
            await self.page.press(self.spec.token_selector, "Enter")
        if self.reference:
            async def authed() -> bool:
                if await self.page.is_visible("#login-error"):
                    reason = await self.page.text_content("#login-error")
                    raise BrowserUnavailable(f"the page could not sign in: {reason}")
                state = await self.page.evaluate("window.jarvisDiag.connection()")
                return state["socket"] == "connected"
            if not await self.wait_for(authed, self.cfg.deadline_s):
                raise BrowserUnavailable("the page did not connect and authenticate (wrong token?)")

    async def open_session(self, n: int) -> None:
        if self.spec.workdir_selector:
            await self.page.fill(self.spec.workdir_selector, f"{self.cfg.working_dir}")
        await self._make_chat(n)
        self.current = n
        if self.reference:
            async def ready() -> bool:
                sessions = await self.page.evaluate("window.jarvisDiag.sessions()")
                return len(sessions) > n and sessions[n]["readyCount"] > 0 and sessions[n]["uuid"] is not None
            if not await self.wait_for(ready, self.cfg.deadline_s):
                raise BrowserUnavailable(f"session {n + 1} did not become ready")
            sessions = await self.page.evaluate("window.jarvisDiag.sessions()")
            self.sessions.append(sessions[n]["uuid"])
            self.temp_ids[sessions[n]["uuid"]] = sessions[n]["tempId"]
        else:
            self.sessions.append(f"session-{n + 1}")
            await self.wait_ready_dom(n + 1, time.time() - 60, self.cfg.deadline_s)

    async def _make_chat(self, n: int) -> None:
        """Tap "new chat", at a millisecond of the page's clock no other page's chat is named by."""
        gate = self.new_sessions
        async with gate.lock:
            for _ in range(50):  # bounded: each turn waits past the margin
                if gate.clear_of(int(await self.page.evaluate("Date.now()"))):
                    break
                await asyncio.sleep(gate.MARGIN_MS / 1000)
            await self.page.click(self.spec.new_session_selector)
            if self.reference:
                sessions = await self.page.evaluate("window.jarvisDiag.sessions()")
                temp = sessions[n]["tempId"] if len(sessions) > n else None
                if isinstance(temp, str) and temp.startswith("new-") and temp[4:].isdigit():
                    if int(temp[4:]) in gate.used:  # (the click came later than the margin: said, not measured)
                        raise BrowserUnavailable(f"two pages named a new chat {temp}: the server gives them one "
                                                 "session")
                    gate.used.add(int(temp[4:]))
            else:  # (another page's naming is not known: a few ms apart at least)
                await asyncio.sleep(gate.MARGIN_MS / 1000)

    async def switch_to(self, n: int) -> None:
        """Open session ``n`` from the list; the one on screen needs no tap (a user types
        into it: the page must not re-attach a chat it shows, nor the run count that)."""
        if n == self.current:
            return
        await self.page.locator(self.spec.session_selector).nth(n).click()
        self.current = n

    async def send(self, text: str) -> None:
        await self.page.fill(self.spec.input_selector, text)
        if self.spec.send_selector:
            await self.page.click(self.spec.send_selector)
        else:
            await self.page.press(self.spec.input_selector, "Enter")

    async def say_to_each(self, label: str) -> dict[str, str]:
        """A message to every session: the one on screen first, then the others in list
        order. Each other one takes a switch (the page has one composer); a virtual
        client's message names its session and needs none."""
        texts = {}
        order = sorted(range(len(self.sessions)), key=lambda n: n != self.current)
        for n in order:
            key = self.sessions[n]
            text = f"{label} s{n + 1} {secrets.token_hex(3)}"
            await self.switch_to(n)
            await self.send(text)
            texts[key] = text
        return texts

    async def reply_count(self) -> int:
        return await self.page.locator(self.spec.reply_selector).count() if self.spec.reply_selector else 0

    async def wait_replies(self, texts: dict[str, str], timeout: float, replies_before: int = 0) -> bool:
        if not self.reference:
            if not self.spec.reply_selector:
                return True

            async def replied() -> bool:
                return await self.reply_count() >= replies_before + len(texts)
            return await self.wait_for(replied, timeout)
        wanted = set(texts.values())

        async def done() -> bool:
            entries = await self.journal()
            finished = {e.get("message") for e in entries if e["kind"] == "chat" and e.get("event") == "chat:result"}
            return wanted <= finished
        return await self.wait_for(done, timeout)

    async def attached(self) -> dict[str, bool]:
        """Each session: attached on the page's current socket (its last chat:ready came on it)."""
        if (await self.page.evaluate("window.jarvisDiag.connection()"))["socket"] != "connected":
            return {key: False for key in self.sessions}
        views = await self.page.evaluate("window.jarvisDiag.sessions()")
        return {s["uuid"] or s["id"]: bool(s["attached"]) for s in views}

    async def page_settled(self, mark: int) -> bool:
        """Connected, and every session attached on the current socket or, for a page that
        sends no chat:connect after a reconnect, believed attached (it said so after its
        last authentication): what a virtual client calls settled."""
        attached = await self.attached()
        obs = journal_obs(await self.journal(mark), self.index, self.skew_s)
        last_auth = max((o.t for o in obs if o.kind == "auth.ok"), default=None)
        kept = {o.session for o in obs if o.kind == "connect.skipped" and last_auth is not None and o.t >= last_auth}
        return all(attached.get(key) or key in kept for key in self.sessions)

    async def wait_settled(self, mark: int, not_before: float, until: float) -> float | None:
        """When the page settled and stayed so until the user would type (``not_before``):
        a stale socket looks fine for a moment after waking. None: not by ``until``."""
        settled_at = None
        for _ in range(1000):  # bounded: each turn waits for a change or the end
            if not await self.wait_for(lambda: self.page_settled(mark), max(0.0, until - time.time())):
                return None
            settled_at = settled_at or time.time()
            if time.time() >= not_before:
                return settled_at
            await asyncio.sleep(not_before - time.time())
            if not await self.page_settled(mark):
                settled_at = None
        return None

    async def wait_ready_dom(self, count: int, since: float, timeout: float) -> float | None:
        """A user's app: the moment ``count`` sessions look ready (selector or log line)."""
        spec = self.spec
        deadline = time.monotonic() + timeout
        pattern = re.compile(spec.ready_log) if spec.ready_log else None
        while True:
            if spec.ready_selector and await self.page.locator(spec.ready_selector).count() >= count:
                return time.time()
            if pattern is not None and sum(1 for t, text in self.console if t >= since and pattern.search(text)) >= count:
                return time.time()
            if not spec.ready_selector and pattern is None:
                return time.time()
            if time.monotonic() >= deadline:
                return None
            await asyncio.sleep(_POLL_S)

    # ---- what a phone does ----------------------------------------------------------
    async def go_background(self, cycle: int) -> None:
        """What the fault does to the page, as for a virtual client (:mod:`.faults`): hidden
        unless ``flaky`` (a page in use on a bad network), frozen only for ``freeze``."""
        fault = self.cfg.fault
        if page_hides(fault):
            await self.page.evaluate("window.__jarvisSetHidden(true)")
        if fault == "freeze":
            await self.cdp.send("Page.setWebLifecycleState", {"state": "frozen"})
            await self.cdp.send("Debugger.enable")
            await self.cdp.send("Debugger.pause")
            self.proxy.freeze()
        elif fault == "offline":
            await self.proxy.go_offline()
            await self.context.set_offline(True)
        elif fault == "close":
            self.proxy.close_connections()
        elif fault == "no-websocket":  # (refused until the cycle's record is made, see cycle)
            self.proxy.refuse_websocket = True
            self.proxy.close_connections()
        elif fault == "flaky":
            self._flaky = asyncio.ensure_future(self._flaky_drops(cycle))

    async def _flaky_drops(self, cycle: int) -> None:
        """The resets of a flaky window at the moments a virtual client with the same seed,
        index and cycle gets them (:func:`~jarvis_diag.simulate.faults.fault_schedule`)."""
        rng = random.Random(f"{self.cfg.seed}/{self.index}/{cycle}")
        start = time.monotonic()
        for step in fault_schedule("flaky", self.cfg.background_s, rng, flaky_mean_gap_s=self.cfg.flaky_mean_gap_s):
            await asyncio.sleep(max(0.0, start + step.at_s - time.monotonic()))
            self.proxy.reset_connections()

    async def come_back(self) -> float:
        fault = self.cfg.fault
        if fault == "freeze":
            try:
                await self.cdp.send("Debugger.resume")
            except Exception as exc:  # (Playwright's Error) a page that ran no script while frozen never paused
                if "while paused" not in str(exc):
                    raise
            await self.cdp.send("Debugger.disable")
            await self.cdp.send("Page.setWebLifecycleState", {"state": "active"})
            self.proxy.thaw()
        elif fault == "offline":
            await self.proxy.go_online()
            await self.context.set_offline(False)
        elif fault == "flaky" and self._flaky is not None:
            self._flaky.cancel()
            self._flaky = None
        visible_at = time.time()
        if page_hides(fault):
            await self.page.evaluate("window.__jarvisSetHidden(false)")
        return visible_at

    async def screenshot(self, cycle: int) -> Path | None:
        path = self.out_dir / f"client{self.index}-cycle{cycle}-failed.png"
        with contextlib.suppress(Exception):
            await self.page.screenshot(path=str(path))
            return path
        return None

    # ---- one cycle ----------------------------------------------------------------------
    async def cycle(self, run_id: str, cycle: int) -> dict[str, Any]:
        try:
            return await self._cycle(run_id, cycle)
        finally:
            self.proxy.refuse_websocket = False  # (the next cycle starts on a network that passes WebSocket)

    async def _cycle(self, run_id: str, cycle: int) -> dict[str, Any]:
        cfg = self.cfg
        mark = await self.journal_length() if self.reference else 0
        before = await self.journal() if self.reference else []
        seen_before = {key: {e["seq"] for e in before if e.get("session") == key and e.get("seq") is not None
                             and e["kind"] in ("chat", "ack")} for key in self.sessions}
        background = await self.say_to_each(f"cycle {cycle} background")
        if self.reference:
            # as a virtual client: the user switches away once the server has the messages
            async def acked() -> bool:
                entries = await self.journal(mark)
                return set(background.values()) <= {e.get("content") for e in entries if e["kind"] == "ack"}
            await self.wait_for(acked, min(_ACK_TIMEOUT_S, cfg.deadline_s))
        else:
            await asyncio.sleep(0.05)  # the emits leave before the page freezes
        hidden_at = time.time()
        await self.go_background(cycle)
        await asyncio.sleep(cfg.background_s)
        visible_at = await self.come_back()
        deadline_at = visible_at + cfg.deadline_s
        # The user looks at the page; it has a moment to re-attach every session by itself.
        reaction = min(cfg.reaction_s, cfg.deadline_s)  # (as a virtual client's)
        settle_wait = max(reaction, min(cfg.deadline_s / 2, 10.0))
        settled_at = None
        if self.reference:
            settled_at = await self.wait_settled(mark, visible_at + reaction, visible_at + settle_wait)
            obs = journal_obs(await self.journal(mark), self.index, self.skew_s)
            readies = [[o.t for o in obs if o.kind == "ready" and o.session == key and o.t >= visible_at
                        and (o.detail or {}).get("requested", True)] for key in self.sessions]
            if settled_at is not None and all(readies):
                settled_at = max(min(ts) for ts in readies)  # the page's own time of the last attach
            if settled_at is None:
                await asyncio.sleep(reaction)
        else:
            settled_at = await self.wait_ready_dom(len(self.sessions), visible_at, settle_wait)
            await asyncio.sleep(reaction)
        attached = await self.attached() if self.reference else {}
        probe_sent_at = None
        probes: dict[str, str] = {}
        replied = False
        if time.time() < deadline_at:
            replies_before = await self.reply_count() if not self.reference else 0
            probe_sent_at = time.time()
            probes = await self.say_to_each(f"cycle {cycle} probe")
            replied = await self.wait_replies(probes, max(0.0, deadline_at - time.time()), replies_before)
        if not self.reference:
            return self._dom_record(run_id, cycle, hidden_at, visible_at, settled_at, probe_sent_at, replied)
        entries = await self.journal(mark)
        obs = journal_obs(entries, self.index, self.skew_s)
        if settled_at is not None:
            obs.append(Obs(t=settled_at, kind="settled", client=self.index))
            obs.sort(key=lambda o: o.t)
        sessions = [SessionCycle(key=key, temp_id=self.temp_ids.get(key), uuid=key,
                                 background_message=background.get(key), probe_message=probes.get(key),
                                 attached_before_probe=attached.get(key, False),
                                 seq_check=cfg.profile == "resume", seen_before=seen_before[key],
                                 replay_appends=cfg.profile in PRESETS and not PRESETS[cfg.profile].merge_history)
                    for key in self.sessions]
        record = cycle_verdict(obs, sessions, run=run_id, client=self.index, client_id=self.client_id,
                               profile=cfg.profile, fault=cfg.fault, network=cfg.network, cycle=cycle,
                               background_s=cfg.background_s, hidden_at=hidden_at, visible_at=visible_at,
                               deadline_s=cfg.deadline_s, probe_sent_at=probe_sent_at, errors=list(self.errors))
        # What the user sees decides: a page that appends a replay shows it twice even if
        # every event arrived once.
        views = await self.views()
        for s, rec in zip(sessions, record["sessions"], strict=True):
            lost, dup = view_counts(views.get(s.key, []), s.background_message, s.probe_message)
            rec["lost"] = max(rec["lost"], lost)
            rec["duplicated"] = max(rec["duplicated"], dup)
        record["lost"] = sum(r["lost"] for r in record["sessions"])
        record["duplicated"] = sum(r["duplicated"] for r in record["sessions"])
        record["browser"] = {"engine": "chromium", "fault_path": "proxy", "user_agent": MOBILE_UA}
        return record

    def _dom_record(self, run_id: str, cycle: int, hidden_at: float, visible_at: float, settled_at: float | None,
                    probe_sent_at: float | None, replied: bool) -> dict[str, Any]:
        """A user's app: readiness and replies are all the page shows; lost/duplicated are not checked."""
        from jarvis_diag.lines import iso_ms
        from jarvis_diag.simulate.verdict import SCHEMA

        failures = []
        if settled_at is None:
            failures.append("the page did not show its sessions ready again")
        if probe_sent_at is None:
            failures.append("no message could be sent before the deadline")
        elif not replied:
            failures.append("a message sent after coming back got no reply")
        recovered = not failures
        ready_ms = None if settled_at is None else round((settled_at - visible_at) * 1000, 1)
        return {
            "schema": SCHEMA, "run": run_id, "client": self.index, "client_id": self.client_id,
            "profile": self.cfg.profile, "fault": self.cfg.fault, "network": self.cfg.network, "cycle": cycle,
            "background_ms": round(self.cfg.background_s * 1000, 1), "hidden_at": iso_ms(hidden_at),
            "visible_at": iso_ms(visible_at), "recovered": recovered, "deadline_ms": round(self.cfg.deadline_s * 1000, 1),
            "reconnected": None,
            "failure": None if recovered else "; ".join(failures),
            "times_ms": {"connected": None, "authenticated": None, "recovery": ready_ms,
                         "probe_sent": None if probe_sent_at is None else round((probe_sent_at - visible_at) * 1000, 1)},
            "sessions": [{"session": key, "temp_id": None, "ready_ms": ready_ms, "history_end_ms": None,
                          "first_live_ms": None, "live": replied, "produced": 0, "lost": 0, "duplicated": 0,
                          "lost_seqs": [], "duplicated_seqs": [], "check": "none"} for key in self.sessions],
            "lost": 0, "duplicated": 0, "attaches": [], "errors": list(self.errors),
        }


def failed_record(run_id: str, client: int, client_id: str, cfg: BrowserConfig, reason: str) -> dict[str, Any]:
    """The one record of a page that could not get through its script (docs/formats.md)."""
    from jarvis_diag.lines import iso_ms
    from jarvis_diag.simulate.verdict import SCHEMA

    now = iso_ms(time.time())
    return {"schema": SCHEMA, "run": run_id, "client": client, "client_id": client_id, "profile": cfg.profile,
            "fault": cfg.fault, "network": cfg.network, "cycle": 1, "background_ms": round(cfg.background_s * 1000, 1),
            "hidden_at": now, "visible_at": now, "recovered": False, "deadline_ms": round(cfg.deadline_s * 1000, 1),
            "failure": reason, "reconnected": None,
            "times_ms": {"connected": None, "authenticated": None, "recovery": None, "probe_sent": None},
            "sessions": [], "lost": 0, "duplicated": 0, "attaches": [], "errors": [reason]}


async def _launch(playwright: Any, executable: str) -> Any:
    if not Path(executable).exists():
        raise BrowserUnavailable(f"no Chromium at {executable} (install Debian's package: apt-get install chromium)")
    try:
        return await playwright.chromium.launch(executable_path=executable, headless=True, args=LAUNCH_ARGS)
    except Exception as exc:  # Playwright wraps every launch problem in its own Error
        raise BrowserUnavailable(f"Chromium did not start: {str(exc).splitlines()[0]}") from None


async def run_browser_simulation(cfg: BrowserConfig, out_dir: Path, *, run_id: str,
                                 on_record: Callable[[dict], None] | None = None,
                                 on_phase: Callable[[str], None] | None = None) -> RunResult:
    """Drive ``cfg.clients`` Chromium pages through ``cfg.cycles`` background cycles each."""
    try:
        from playwright.async_api import async_playwright
    except ImportError:
        raise BrowserUnavailable("Playwright for Python is not installed (pip install playwright)") from None
    cfg.validate()
    if cfg.app is None:  # the reference client's server: unusable is said as for virtual clients
        try:
            await preflight(cfg.url, cfg.token)
        except ServerUnusable as exc:
            raise BrowserUnavailable(str(exc)) from None
    out_dir.mkdir(parents=True, exist_ok=True)
    planned = cfg.clients * cfg.cycles
    result = RunResult(run_id=run_id, out_dir=out_dir, records=[], planned=planned)
    with ResultWriter(out_dir) as writer:
        async with async_playwright() as playwright:
            browser = await _launch(playwright, cfg.executable)
            try:
                new_sessions = _NewSessions()
                pages = [_Page(cfg, i, browser, out_dir, new_sessions) for i in range(cfg.clients)]
                ramp = asyncio.Semaphore(max(1, cfg.ramp))

                async def one(page: _Page) -> None:
                    written = 0
                    try:
                        async with ramp:
                            await page.start()
                            await page.login()
                            for n in range(cfg.sessions):
                                await page.open_session(n)
                        # (the page's lines so far, and after each cycle: a Ctrl-C at a terminal
                        # stops the browser with the run, and what was read then is what is kept)
                        await page.snapshot_lines()
                        await asyncio.sleep(stagger_delay_s(cfg.seed, page.index, cfg.stagger_s))
                        for cycle in range(1, cfg.cycles + 1):
                            if on_phase:
                                on_phase(f"cycle {cycle}: background {cfg.background_s:g}s ({cfg.fault})")
                            record = await page.cycle(run_id, cycle)
                            if not cycle_ok(record):
                                shot = await page.screenshot(cycle)
                                if shot is not None:
                                    record["screenshot"] = shot.name
                            writer.write(record)
                            written += 1
                            await page.snapshot_lines()
                            if on_record:
                                on_record(record)
                    except Exception as exc:  # a page that broke: keep the others' results
                        reason = str(exc) if isinstance(exc, BrowserUnavailable) else _one_line(exc)
                        result.client_errors.append(f"client {page.index}: {reason}")
                        if written == 0:
                            record = failed_record(run_id, page.index, page.client_id, cfg, reason)
                            writer.write(record)
                            if on_record:
                                on_record(record)
                    finally:
                        await page.snapshot_lines()
                        await page.stop()

                try:
                    await asyncio.gather(*(one(p) for p in pages))
                except asyncio.CancelledError:
                    result.interrupted = True
            finally:
                with contextlib.suppress(Exception):
                    await browser.close()
    result.records = list(writer.records)
    if result.client_errors and not result.error:
        result.error = result.client_errors[0]
    return result
