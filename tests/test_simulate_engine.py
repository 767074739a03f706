"""The awake clock: a suspended page's timers neither run nor fire."""

import asyncio
import time

import pytest

from jarvis_diag.simulate.engine import AwakeClock


async def test_awake_time_stops_while_suspended():
    clock = AwakeClock()
    t0 = clock.now()
    clock.suspend()
    await asyncio.sleep(0.2)
    assert clock.now() - t0 < 0.05 and clock.suspended
    clock.resume()
    await asyncio.sleep(0.05)
    assert 0.04 < clock.now() - t0 < 0.15


async def test_a_timeout_does_not_fire_while_suspended_and_resumes_counting_after():
    clock = AwakeClock()
    never = asyncio.get_running_loop().create_future()
    clock.suspend()
    task = asyncio.ensure_future(clock.wait_for(never, 0.1))
    await asyncio.sleep(0.3)
    assert not task.done()  # 0.3 s asleep > 0.1 s timeout, yet nothing fired
    t0 = time.monotonic()
    clock.resume()
    with pytest.raises(TimeoutError):
        await task
    assert 0.05 < time.monotonic() - t0 < 0.5
    assert never.cancelled()


async def test_a_result_arriving_in_time_is_returned():
    clock = AwakeClock()

    async def soon():
        await asyncio.sleep(0.02)
        return 42

    assert await clock.wait_for(soon(), 1.0) == 42


def test_a_reply_cut_off_by_a_restart_leaves_the_next_reply_to_its_own_message():
    # the page sent "bg" (its reply cut off when the server restarted) and then "probe":
    # the next reply, which names "probe", is the probe's, not the abandoned one's
    from collections import deque

    from jarvis_diag.simulate.client import _drop_abandoned
    from server.agents import sim_text

    awaiting = deque(["bg", "probe"])
    _drop_abandoned(awaiting, sim_text("probe"))
    assert list(awaiting) == ["probe"]
    # a reply that names no message (a real agent) keeps the order
    awaiting = deque(["bg", "probe"])
    _drop_abandoned(awaiting, "Here is what I found.")
    _drop_abandoned(awaiting, None)
    assert list(awaiting) == ["bg", "probe"]
