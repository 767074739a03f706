"""A virtual page closes the WebSocket of a connection it lost, as a browser does.

python-engineio leaves its WebSocket open when its read loop ends on a ping timeout or an
error. The page dropped such a client and its socket stayed open until the garbage collector
found it ("Unclosed connection"): on a busy machine, 40 phones ran a run out of open files.
"""

import asyncio
import random
import time

from jarvis_diag.simulate.client import VirtualClient
from jarvis_diag.simulate.clientlog import ClientLog
from jarvis_diag.simulate.profiles import PRESETS
from jarvis_diag.simulate.proxy import FaultProxy
from server.testing import running_server


async def test_a_page_whose_ping_timed_out_closes_that_websocket():
    async with running_server(ping_interval=0.5, ping_timeout=0.5) as srv:
        host, port = srv.url.removeprefix("http://").rsplit(":", 1)
        async with FaultProxy(host, int(port)) as proxy:
            page = VirtualClient(0, proxy.url, srv.token, PRESETS["legacy"].scaled(0.1), rng=random.Random(1),
                                 log=ClientLog("c", None), record=lambda obs: None, connect_timeout=3)
            try:
                await page.start(5)
                lost = page.sio
                assert lost is not None and not lost.eio.ws.closed
                proxy.freeze()  # the server goes silent; the page, awake, times out in 1 s
                assert await page.wait_until(lambda: page.sio is not lost, 5)
                # closed like a page closes it, not left open: the closing handshake with a
                # silent peer gives up after python-engineio's 5 s request timeout
                t0 = time.monotonic()
                while not lost.eio.ws.closed and time.monotonic() - t0 < 8:
                    await asyncio.sleep(0.05)
                assert lost.eio.ws.closed
            finally:
                proxy.thaw()
                await page.close()
