"""simulate-mobile --browser: how long a real Chromium page takes to recover its sessions,
per connection profile, next to the virtual clients' figure for the same server, fault
and profile (the reference), measured in this run.

For each profile: CYCLES background cycles of 2 sessions through the fault proxy with the
`offline` fault (the page is hidden and paused, its connections reset), then one cycle of
`freeze` past the server's ping window (1 s + 1 s here). Printed: recovery (visible ->
every session attached again) p50 / max, cycles ok, for the browser and the virtual client.
Sizes: BENCH_BROWSER_CYCLES (default 3).
"""

from __future__ import annotations

import asyncio
import os
import sys
import tempfile
import time
from pathlib import Path
from statistics import median

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from jarvis_diag.simulate.browser import BrowserConfig, run_browser_simulation  # noqa: E402
from jarvis_diag.simulate.run import run_simulation  # noqa: E402
from jarvis_diag.simulate.scenario import SimConfig  # noqa: E402
from jarvis_diag.simulate.verdict import cycle_ok  # noqa: E402
from server.testing import running_server  # noqa: E402

CYCLES = int(os.environ.get("BENCH_BROWSER_CYCLES", "3"))
SERVER = {"ping_interval": 1.0, "ping_timeout": 1.0, "agent_pace": 0.005}


def _figures(records: list[dict]) -> str:
    rec = [r["times_ms"]["recovery"] for r in records if r["times_ms"].get("recovery") is not None]
    ok = sum(1 for r in records if cycle_ok(r))
    if not rec:
        return f"recovery      -   (never)     ok {ok}/{len(records)}"
    return f"recovery p50 {median(rec):6.0f} ms, max {max(rec):6.0f} ms   ok {ok}/{len(records)}"


async def _browser(srv, out: Path, profile: str, fault: str, cycles: int, background_s: float) -> list[dict]:
    cfg = BrowserConfig(url=srv.url, token=srv.token, profile=profile, sessions=2, cycles=cycles,
                        background_s=background_s, fault=fault, deadline_s=8.0)
    return (await run_browser_simulation(cfg, out, run_id="bench")).records


async def _virtual(srv, out: Path, profile: str, fault: str, cycles: int, background_s: float) -> list[dict]:
    cfg = SimConfig(url=srv.url, token=srv.token, sessions=2, cycles=cycles, background_s=background_s,
                    fault=fault, deadline_s=8.0)
    cfg.profiles = [cfg.profile_table[profile]]
    return (await run_simulation(cfg, out, run_id="bench")).records


async def main() -> None:
    print(f"{CYCLES} offline cycles of 2 s and 1 freeze cycle of 3.5 s (ping window 2 s) per profile, 2 sessions")
    with tempfile.TemporaryDirectory(prefix="bench-browser-") as tmp:
        async with running_server(**SERVER) as srv:
            n = 0
            for profile in ("connmgr", "resume", "legacy"):
                for fault, cycles, background in (("offline", CYCLES, 2.0), ("freeze", 1, 3.5)):
                    started = time.monotonic()
                    n += 1
                    browser = await _browser(srv, Path(tmp) / f"b{n}", profile, fault, cycles, background)
                    took = time.monotonic() - started
                    virtual = await _virtual(srv, Path(tmp) / f"v{n}", profile, fault, cycles, background)
                    print(f"{profile:8} {fault:8} browser: {_figures(browser)}   ({took:.0f} s wall)")
                    print(f"{'':8} {'':8} virtual: {_figures(virtual)}   (reference)")


if __name__ == "__main__":
    asyncio.run(main())
