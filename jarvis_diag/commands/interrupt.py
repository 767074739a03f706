"""Running a long async job from a command so that Ctrl-C ends it cleanly."""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Coroutine
from typing import Any


def run_interruptible(job: Coroutine[Any, Any, Any]) -> Any:
    """Run ``job`` to its end; Ctrl-C cancels it, so it stops its clients and keeps what it
    measured instead of the event loop dying mid-write (another Ctrl-C while it stops is
    ignored). A job cancelled before it could start anything raises
    :class:`asyncio.CancelledError`.

    After a Ctrl-C, Ctrl-C stays ignored when this returns: the command then only writes
    out what was measured (milliseconds) and exits. Python's own handler, which asyncio puts
    back, turned a second Ctrl-C in that window into a bare exit 130 with the summary and
    the "records kept" line cut. Without a Ctrl-C, the handler from before is put back."""
    before = signal.getsignal(signal.SIGINT)

    async def main():
        task = asyncio.ensure_future(job)
        loop = asyncio.get_running_loop()
        pressed = []

        def interrupt() -> None:
            # once: a second Ctrl-C while the job stops would cancel its clean-up, and what
            # it measured would go unreported
            if not pressed:
                pressed.append(True)
                task.cancel()

        loop.add_signal_handler(signal.SIGINT, interrupt)
        try:
            return await task
        finally:
            loop.remove_signal_handler(signal.SIGINT)
            if pressed:
                signal.signal(signal.SIGINT, signal.SIG_IGN)
            elif before is not None:  # (None: a handler not set from Python, left as asyncio leaves it)
                signal.signal(signal.SIGINT, before)

    return asyncio.run(main())
