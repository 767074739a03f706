"""One piece of work on the machine's other core: a forked copy of this process runs it
while this one goes on, and its result comes back pickled through a pipe.

A big log's timeline is a long run of Python with one core idle: naming the findings
needs the whole correlation but nothing the output of the correlation does, so the two
can run side by side. A fork shares the correlation as it is (copy-on-write): nothing is
sent to the child, only the result back. Where the child cannot be had (no ``fork``, no
free process) or fails, the work is done here instead, with the same result.
"""

from __future__ import annotations

import os
import pickle
import signal
import sys
import threading
from collections.abc import Callable
from typing import Any, Generic, TypeVar

T = TypeVar("T")

# Linux only: elsewhere forking a process that has loaded numpy's maths libraries (or a
# GUI framework, on macOS) is not safe.
AVAILABLE = sys.platform.startswith("linux") and hasattr(os, "fork")


class Forked(Generic[T]):
    """``fn(*args)`` running in a forked child; :meth:`result` waits for it."""

    def __init__(self, fn: Callable[..., T], *args: Any) -> None:
        self._fn, self._args = fn, args
        self._pid: int | None = None
        self._read: int | None = None
        if not AVAILABLE or threading.current_thread() is not threading.main_thread():
            # (a fork from another thread, as while --follow rebuilds beside the lines it
            # prints, copies locks other threads may hold: the child could hang on one)
            return
        try:
            read, write = os.pipe()
        except OSError:
            return
        # a Ctrl-C that lands during the fork is held until it is over: in the middle of it,
        # the interpreter's own fork hooks would swallow the KeyboardInterrupt, and the
        # command would go on as if nothing was pressed
        mask = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
        try:
            pid = os.fork()
        except OSError:  # (no process to be had: the work is done here)
            signal.pthread_sigmask(signal.SIG_SETMASK, mask)
            os.close(read)
            os.close(write)
            return
        signal.pthread_sigmask(signal.SIG_SETMASK, mask)
        if pid == 0:  # pragma: no cover - the child (its coverage is not collected)
            _child(write, read, fn, args)
        os.close(write)
        self._pid, self._read = pid, read

    def result(self) -> T:
        """The child's result, or ``fn(*args)`` run here if the child could not give one."""
        data = self._collect()
        if data is not None:
            try:
                return pickle.loads(data)
            except Exception:  # noqa: BLE001 - a garbled result is no result: do the work here
                pass
        return self._fn(*self._args)

    def cancel(self) -> None:
        """Stop the child (this process no longer needs its result)."""
        if self._pid is not None:
            try:
                os.kill(self._pid, signal.SIGKILL)
            except OSError:
                pass
            self._collect()

    def _collect(self) -> bytes | None:
        """The child's pickled result (None: it failed), once; the child is reaped."""
        pid, read = self._pid, self._read
        if pid is None or read is None:
            return None
        self._pid = self._read = None
        chunks = []
        try:
            with os.fdopen(read, "rb", closefd=True) as fh:
                while chunk := fh.read(1 << 20):
                    chunks.append(chunk)
        except BaseException:
            _reap(pid, kill=True)
            raise
        ok = _reap(pid, kill=False)
        return b"".join(chunks) if ok else None


def _reap(pid: int, *, kill: bool) -> bool:
    """Wait for the child (killed first when ``kill``); whether it ended with status 0."""
    if kill:
        try:
            os.kill(pid, signal.SIGKILL)
        except OSError:
            pass
    while True:
        try:
            _, status = os.waitpid(pid, 0)
        except InterruptedError:  # pragma: no cover - retried by Python itself since 3.5
            continue
        except ChildProcessError:
            return False
        return os.waitstatus_to_exitcode(status) == 0


def _child(write: int, read: int, fn: Callable[..., Any], args: tuple) -> None:  # pragma: no cover
    """The forked child: run, send the pickled result, and leave without running anything of
    the parent's (no atexit handlers, no buffered output flushed twice)."""
    code = 1
    try:
        os.close(read)
        data = pickle.dumps(fn(*args), protocol=pickle.HIGHEST_PROTOCOL)
        view = memoryview(data)
        while view:
            view = view[os.write(write, view):]
        code = 0
    except BaseException:  # noqa: BLE001 - any failure: the parent does the work itself
        code = 1
    finally:
        os._exit(code)
