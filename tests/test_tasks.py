"""Stopping tasks whose cancellation may be lost (jarvis_diag.tasks)."""

from __future__ import annotations

import asyncio
import gc
import logging
import sys

from jarvis_diag.tasks import stop_tasks


async def _loop_with_wait_for(rounds: list[int], cancel_me: list[asyncio.Task]) -> None:
    """Loops as a watcher does, each turn through asyncio.wait_for; on its first turn the
    awaited thing completes and, in that same moment, the task is cancelled."""
    loop = asyncio.get_running_loop()

    async def quick() -> int:
        if not rounds:  # two hops later: after the completion reached wait_for, before it woke
            loop.call_soon(lambda: loop.call_soon(cancel_me[0].cancel))
        return 1

    for _ in range(10_000):  # bounded: ended by a cancellation
        await asyncio.wait_for(quick(), 5)
        rounds.append(1)
        await asyncio.sleep(0.01)


def test_a_task_whose_cancellation_was_lost_is_stopped():
    async def main():
        rounds: list[int] = []
        holder: list[asyncio.Task] = []
        task = asyncio.ensure_future(_loop_with_wait_for(rounds, holder))
        holder.append(task)
        await asyncio.sleep(0.1)
        if sys.version_info < (3, 12):  # the runtime's wait_for lost the cancellation: the loop went on
            assert not task.done() and len(rounds) > 1
        left = await stop_tasks([task], limit_s=5.0)
        return task, left

    task, left = asyncio.run(main())
    assert left == set() and task.cancelled()


def test_a_task_that_will_not_stop_is_given_back_after_the_limit():
    async def stubborn(stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                await stop.wait()
            except asyncio.CancelledError:
                continue  # refuses every cancellation

    async def main():
        stop = asyncio.Event()
        task = asyncio.ensure_future(stubborn(stop))
        ended = asyncio.ensure_future(asyncio.sleep(0))
        await asyncio.sleep(0.05)  # (both started)
        left = await stop_tasks([task, ended], limit_s=1.2)
        running = not task.done()
        stop.set()
        await asyncio.wait([task])  # (ends on the set event or a last cancellation)
        return left, running, task

    left, running, task = asyncio.run(main())
    assert running and left == {task}


def test_stopping_reads_what_the_tasks_raised_and_accepts_finished_ones(caplog):
    # (a task's exception that nobody reads is logged when the task goes: 'Task exception was
    # never retrieved', a traceback at the end of a run stopped as it should)
    async def fails() -> None:
        raise ValueError("boom")

    async def main():
        bad = asyncio.ensure_future(fails())
        await asyncio.sleep(0)
        return await stop_tasks(iter([bad]), limit_s=1.0), bad.done()

    with caplog.at_level(logging.ERROR, logger="asyncio"):
        left, done = asyncio.run(main())
        gc.collect()  # (the task is gone: unread, its exception would be logged now)
    assert left == set() and done
    assert not [r for r in caplog.records if "never retrieved" in r.getMessage()]
