"""simulate-mobile: how many virtual clients one process keeps cycling, and how accurate
its phase times are. Every figure is measured here, in this run, next to its reference.

1. Reference: bare python-socketio clients (connect + auth) against the same server,
   connects/s.
2. Capacity: N virtual clients (1 session each, connmgr, `close` fault, 2 cycles of a 30 s background, wakes spread over it) through
   their proxies; the largest N whose cycles all recover (target >= 2,000).
3. Accuracy: the attach time the simulator measured (chat:connect sent -> chat:ready) next
   to the server's own `Chat connect DONE: N ms total` for the same attaches (app.log).

The server runs as a separate process (`jarvis-diag serve`). Sizes: BENCH_SIM_LEVELS
(default "2000,3000"), BENCH_SIM_REF (default 1000), BENCH_SIM_ATTACHES (default 40).
"""

from __future__ import annotations

import asyncio
import os
import resource
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path
from statistics import median

import socketio

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from jarvis_diag import lines  # noqa: E402
from jarvis_diag.simulate.run import run_simulation  # noqa: E402
from jarvis_diag.simulate.scenario import SimConfig  # noqa: E402
from jarvis_diag.simulate.verdict import cycle_ok  # noqa: E402
from server.testing import ServerProcess  # noqa: E402

# Users do not all come back at the same instant: each client starts its cycles at a
# random moment of one background period, so wakes are spread like a real population's.
BACKGROUND_S = float(os.environ.get("BENCH_SIM_BACKGROUND", "30"))


def _raise_fd_limit() -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


async def bare_connects(url: str, token: str, n: int) -> float:
    """connects/s of plain python-socketio clients (connect + auth), 200 at a time."""
    sem = asyncio.Semaphore(200)
    clients: list[socketio.AsyncClient] = []

    async def one() -> None:
        async with sem:
            sio = socketio.AsyncClient(reconnection=False, handle_sigint=False)
            done = asyncio.get_running_loop().create_future()
            sio.on("auth_success", lambda *a: done.done() or done.set_result(True))
            await sio.connect(url, transports=["websocket"], wait_timeout=10)
            await sio.emit("auth", {"token": token})
            await asyncio.wait_for(done, 10)
            clients.append(sio)

    t0 = time.perf_counter()
    await asyncio.gather(*(one() for _ in range(n)))
    rate = n / (time.perf_counter() - t0)
    await asyncio.gather(*(c.disconnect() for c in clients), return_exceptions=True)
    return rate


async def capacity(url: str, token: str, n: int, out: Path, server_pid: int) -> dict:
    cfg = SimConfig(url=url, token=token, clients=n, sessions=1, cycles=2, background_s=BACKGROUND_S,
                    fault="close", deadline_s=30.0, reaction_s=0.5, time_scale=1.0, seed=1, ramp=100,
                    connect_timeout_s=20.0, stagger_s=BACKGROUND_S)
    lags: list[float] = []

    async def loop_lag() -> None:  # how late this process's event loop runs a 100 ms timer
        while True:
            t = time.perf_counter()
            await asyncio.sleep(0.1)
            lags.append((time.perf_counter() - t - 0.1) * 1000)

    probe = asyncio.ensure_future(loop_lag())
    cpu0, server0 = _cpu_s(os.getpid()), _cpu_s(server_pid)
    t0 = time.perf_counter()
    result = await run_simulation(cfg, out)
    wall = time.perf_counter() - t0
    probe.cancel()
    cpu, server_cpu = _cpu_s(os.getpid()) - cpu0, _cpu_s(server_pid) - server0
    lags.sort()
    recs = result.records
    ok = sum(1 for r in recs if cycle_ok(r))
    recov = sorted(r["times_ms"]["recovery"] for r in recs if r["times_ms"].get("recovery") is not None)

    def p(q: float) -> float:
        return recov[min(len(recov) - 1, int(q * len(recov)))] if recov else float("nan")

    return {"n": n, "planned": result.planned, "records": len(recs), "ok": ok, "wall_s": wall,
            "p50": p(0.5), "p95": p(0.95), "errors": result.client_errors[:3], "cpu_s": cpu,
            "server_cpu_s": server_cpu, "lag_p95": lags[int(0.95 * (len(lags) - 1))] if lags else float("nan")}


def _cpu_s(pid: int) -> float:
    """User + system CPU seconds of a process (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def server_done_times(app_log: Path) -> list[tuple[float, float]]:
    """(epoch seconds, ms) of every `Chat connect DONE` line (server local time)."""
    out = []
    for line in app_log.read_text(encoding="utf-8", errors="replace").splitlines():
        parts = line.split(" - ", 3)
        if len(parts) != 4:
            continue
        m = lines.match("backend", parts[3], parts[1])
        if m and m[0].name == "sio.connect_done":
            local = datetime.strptime(parts[0], "%Y-%m-%d %H:%M:%S,%f")
            out.append((local.timestamp(), float(m[1]["ms"])))
    return out


async def accuracy(url: str, token: str, attaches: int, out: Path, app_log: Path) -> dict:
    cfg = SimConfig(url=url, token=token, clients=1, sessions=1, cycles=attaches, background_s=0.05, fault="close",
                    deadline_s=10.0, reaction_s=0.05, time_scale=0.1, seed=2)
    result = await run_simulation(cfg, out)
    measured = [(datetime.fromisoformat(a["at"].replace("Z", "+00:00")).timestamp(), a["ms"])
                for r in result.records for a in r["attaches"] if a["kind"] == "reconnect"]
    server = server_done_times(app_log)
    pairs = []
    for at, ms in measured:  # the server's DONE line just before the client got chat:ready
        before = [s for s in server if s[0] <= at + 0.002]
        if before and at - before[-1][0] < 0.5:
            pairs.append((ms, before[-1][1]))
    diffs = [c - s for c, s in pairs]
    return {"pairs": len(pairs), "client_p50": median(c for c, _ in pairs) if pairs else float("nan"),
            "server_p50": median(s for _, s in pairs) if pairs else float("nan"),
            "diff_p50": median(diffs) if diffs else float("nan"),
            "diff_max": max(diffs) if diffs else float("nan"), "diff_min": min(diffs) if diffs else float("nan")}


async def main() -> None:
    _raise_fd_limit()
    levels = [int(x) for x in os.environ.get("BENCH_SIM_LEVELS", "2000,3000").split(",") if x]
    n_ref = int(os.environ.get("BENCH_SIM_REF", "1000"))
    n_attach = int(os.environ.get("BENCH_SIM_ATTACHES", "40"))
    with tempfile.TemporaryDirectory(prefix="bench-sim-") as tmp, \
            ServerProcess(agent_startup=0.05, agent_pace=0.002) as srv:
        tmpdir = Path(tmp)
        rate = await bare_connects(srv.url, srv.token, n_ref)
        print(f"reference: bare python-socketio clients, connect+auth: {rate:,.0f} connects/s ({n_ref} clients)")
        acc = await accuracy(srv.url, srv.token, n_attach, tmpdir / "acc", srv.app_log)
        print(f"attach time accuracy over {acc['pairs']} re-attaches: simulator p50 {acc['client_p50']:.1f} ms, "
              f"server 'Chat connect DONE' p50 {acc['server_p50']:.1f} ms, simulator - server: "
              f"p50 {acc['diff_p50']:+.1f} ms (min {acc['diff_min']:+.1f}, max {acc['diff_max']:+.1f}) "
              f"[server ms are whole ms]")
        best = 0
        for n in levels:
            cap = await capacity(srv.url, srv.token, n, tmpdir / f"cap{n}", srv.pid)
            all_ok = cap["ok"] == cap["planned"]
            best = n if all_ok else best
            print(f"capacity: {n} clients x 2 cycles (close, {BACKGROUND_S:g} s background): "
                  f"{cap['ok']}/{cap['planned']} ok, "
                  f"{cap['wall_s']:.1f} s wall, recovery p50 {cap['p50']:.0f} ms p95 {cap['p95']:.0f} ms, "
                  f"CPU: simulator {cap['cpu_s']:.0f} s, server {cap['server_cpu_s']:.0f} s, "
                  f"simulator event-loop lag p95 {cap['lag_p95']:.0f} ms"
                  + (f"; first errors: {cap['errors']}" if cap["errors"] else ""))
            if not all_ok:
                break
        print(f"largest number of clients kept cycling with every cycle recovered: {best} (target >= 2,000)")


if __name__ == "__main__":
    asyncio.run(main())
