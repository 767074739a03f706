"""`jarvis-diag simulate-mobile` as a user runs it: exit codes, one-line errors, Ctrl-C,
and output that `jarvis-diag timeline` reads together with the server's app.log."""

import asyncio
import json
import signal
import sys
from pathlib import Path

from aiohttp import web

from server.testing import running_server

FAST = dict(ping_interval=0.5, ping_timeout=0.5)


async def cli(*args: str, timeout: float = 60, interrupt_when=None) -> tuple[int, str, str]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "jarvis_diag", *args,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    if interrupt_when is not None:
        for _ in range(int(timeout * 20)):
            if interrupt_when():
                proc.send_signal(signal.SIGINT)
                break
            await asyncio.sleep(0.05)
    out, err = await asyncio.wait_for(proc.communicate(), timeout)
    return proc.returncode, out.decode(), err.decode()


def sim_args(url: str, token: str, out: Path, *extra: str) -> list[str]:
    return ["simulate-mobile", url, "--token", token, "--out", str(out), "--time-scale", "0.1",
            "--deadline", "5s", *extra]


async def test_a_good_run_exits_0_and_timeline_reads_its_logs_with_the_servers(tmp_path: Path):
    out = tmp_path / "sim"
    async with running_server(**FAST) as srv:
        code, stdout, stderr = await cli(*sim_args(srv.url, srv.token, out, "--clients", "2", "--sessions", "2",
                                                   "--background", "1.5s", "--format", "json"))
        assert code == 0, stderr
        summary = json.loads(stdout)
        assert summary["schema"] == "jarvis-diag.sim-summary/1" and summary["all_ok"]
        assert summary["cycles"] == summary["ok"] == 2
        code, stdout, stderr = await cli("timeline", str(out), str(srv.app_log), "--format", "json")
    assert code == 0, stderr
    timeline = json.loads(stdout)
    frontend = [s for s in timeline["sources"] if s["format"] == "frontend"]
    assert len(frontend) == 2 and all(s["unknown"] == 0 and s["events"] > 20 for s in frontend)
    assert any(ep["trigger"] == "page.hidden" for ep in timeline["episodes"])


async def test_a_failing_run_exits_1_with_a_summary_table(tmp_path: Path):
    async with running_server(**FAST) as srv:
        code, stdout, stderr = await cli(*sim_args(srv.url, srv.token, tmp_path / "o", "--client-profile",
                                                   "legacy", "--background", "1.5s"))
    assert code == 1, stderr
    assert "legacy" in stdout and "0/1 cycles recovered" in stdout and "sent no chat:connect" in stdout


async def test_bad_usage_and_unusable_servers_are_one_line_and_exit_2(tmp_path: Path):
    code, _, err = await cli("simulate-mobile", "http://127.0.0.1:9", "--token", "t", "--clients", "0")
    assert code == 2 and err.strip().startswith("jarvis-diag: error: --clients must be")
    code, _, err = await cli("simulate-mobile", "http://127.0.0.1:9", "--token", "t", "--fault", "meteor")
    assert code == 2 and "unknown fault" in err and "Traceback" not in err

    async def page(request):
        return web.Response(text="plain web page")

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", page)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]
    try:
        code, _, err = await cli("simulate-mobile", f"http://127.0.0.1:{port}", "--token", "t",
                                 "--out", str(tmp_path / "a"))
    finally:
        await runner.cleanup()
    assert code == 2 and "does not speak Socket.IO" in err and len(err.strip().splitlines()) == 1

    code, _, err = await cli("simulate-mobile", f"http://127.0.0.1:{port}", "--token", "t",
                             "--out", str(tmp_path / "b"))
    assert code == 2 and "cannot reach" in err and "Traceback" not in err

    async with running_server(**FAST) as srv:
        code, _, err = await cli("simulate-mobile", srv.url, "--token", "nope", "--out", str(tmp_path / "c"))
    assert code == 2 and "refused the token" in err


async def test_ctrl_c_stops_cleanly_and_keeps_what_was_measured(tmp_path: Path):
    out = tmp_path / "sim"
    results = out / "results.jsonl"

    def one_record_written() -> bool:
        return results.exists() and results.read_text().count("\n") >= 1

    async with running_server(**FAST) as srv:
        code, _, err = await cli(*sim_args(srv.url, srv.token, out, "--cycles", "50", "--background", "0.3s",
                                           "--fault", "close"), interrupt_when=one_record_written)
    assert code == 130, err
    assert "interrupted" in err and "Traceback" not in err
    lines = results.read_text().splitlines()
    assert 1 <= len(lines) < 50 and all(json.loads(line)["schema"] == "jarvis-diag.sim/1" for line in lines)
    assert list((out / "frontend").glob("*.log"))
