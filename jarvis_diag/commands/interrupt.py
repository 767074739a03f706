"""Running a long async job from a command so that Ctrl-C ends it cleanly."""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Coroutine
from typing import Any


def run_interruptible(job: Coroutine[Any, Any, Any]) -> Any:
    """Run ``job`` to its end; Ctrl-C cancels it, so it stops its clients and keeps what it
    measured instead of the event loop dying mid-write. A job cancelled before it could
    start anything raises :class:`asyncio.CancelledError`."""

    async def main():
        task = asyncio.ensure_future(job)
        loop = asyncio.get_running_loop()
        loop.add_signal_handler(signal.SIGINT, task.cancel)
        try:
            return await task
        finally:
            loop.remove_signal_handler(signal.SIGINT)

    return asyncio.run(main())
