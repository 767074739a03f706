"""The command line: arguments -> library call -> render. Errors are handled once, here."""

from __future__ import annotations

import errno
import gc
import os
import signal
import sys
import threading

import typer

from jarvis_diag.commands import demo, report, samples, serve, simulate, timeline
from jarvis_diag.errors import DiagError

try:  # typer >= 0.2x carries its own copy of click
    from typer._click.exceptions import ClickException
except ImportError:  # pragma: no cover - older typer depends on click itself
    from click.exceptions import ClickException

app = typer.Typer(
    name="jarvis-diag",
    help=(
        "Find out why WebSocket / Socket.IO long connections in multi-session chat apps "
        "fail to recover.\n\nExample (in the Jarvis backend's folder, where it writes its logs): "
        "jarvis-diag timeline logs/app.log logs/frontend/"
    ),
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode="rich",
)

for module in (timeline, serve, simulate, report, demo, samples):
    module.register(app)


def _print_version(value: bool) -> None:
    if value:
        from importlib.metadata import PackageNotFoundError, version

        try:
            print(f"jarvis-diag {version('jarvis-diag')}")
        except PackageNotFoundError:  # (run from a source tree that was never installed)
            print("jarvis-diag (not installed)")
        raise typer.Exit()


@app.callback()
def _root(version: bool = typer.Option(False, "--version", callback=_print_version, is_eager=True,
                                       help="Print the version and exit.")) -> None:
    """Find out why WebSocket / Socket.IO long connections in multi-session chat apps fail
    to recover.

    Example (in the Jarvis backend's folder, where it writes its logs):
    jarvis-diag timeline logs/app.log logs/frontend/
    """


def usage_error_line(exc: ClickException) -> str:
    """A bad option or argument as one line: what is wrong and where the help is."""
    message = " ".join(line.strip() for line in exc.format_message().splitlines() if line.strip())
    ctx = getattr(exc, "ctx", None)
    if ctx is None:
        return f"jarvis-diag: error: {message}"
    command = ctx.command_path[len(ctx.find_root().command_path):].strip()  # "" for jarvis-diag itself
    where = f"{command}: " if command else ""
    return f"jarvis-diag: error: {where}{message} (see '{ctx.command_path} --help')"


class _Interrupts:
    """Notes a Ctrl-C while a command runs. Typer turns the ``KeyboardInterrupt`` into a bare
    exit 130, which would end the command without a word; a command that says it was
    interrupted itself (simulate-mobile, demo) handles the signal its own way."""

    def __init__(self) -> None:
        self.seen = False
        self._before = None

    def _on_sigint(self, signum: int, frame: object) -> None:
        self.seen = True
        raise KeyboardInterrupt

    def __enter__(self) -> _Interrupts:
        if threading.current_thread() is threading.main_thread():
            self._before = signal.signal(signal.SIGINT, self._on_sigint)
        return self

    def __exit__(self, *exc: object) -> None:
        # (a command that set its own, Ctrl-C ignored while it writes out what it measured
        # before it exits, keeps it)
        if self._before is not None and signal.getsignal(signal.SIGINT) == self._on_sigint:
            signal.signal(signal.SIGINT, self._before)


# a write to stdout that the file system refused (`> /dev/full`, a quota): said in one line
_OUTPUT_ERRNOS = (errno.ENOSPC, errno.EDQUOT, errno.EFBIG, errno.EIO)


def os_error_line(exc: OSError) -> str:
    """An OSError as one line: the path it names, if any (both, for a rename), and what the
    system said."""
    what = exc.strerror or str(exc) or type(exc).__name__
    paths = " -> ".join(str(p) for p in (exc.filename, exc.filename2) if p is not None)
    return f"{paths}: {what}" if paths else what


def _open_closed_streams() -> None:
    """A standard stream the shell closed (``>&-``, ``<&-``) is None in Python: asking it
    whether it is a terminal, or writing to it, was a traceback. It becomes the null device:
    what would go there goes nowhere (``-o FILE`` is still written), and stdin reads as empty."""
    for name, mode in (("stdin", "r"), ("stdout", "w"), ("stderr", "w")):
        if getattr(sys, name) is None:
            setattr(sys, name, open(os.devnull, mode))  # noqa: SIM115 - for the whole run


def main(argv: list[str] | None = None) -> None:
    """Console entry point: a DiagError or a usage error becomes one clean line and its exit code."""
    _open_closed_streams()
    try:
        with _Interrupts() as interrupts:
            code = app(args=argv, standalone_mode=False)
        if code == 130 and interrupts.seen:
            raise KeyboardInterrupt
    except ClickException as exc:
        # no_args_is_help has already printed the help; anything else is a usage error
        if type(exc).__name__ != "NoArgsIsHelpError":
            print(usage_error_line(exc), file=sys.stderr)
        sys.exit(exc.exit_code)
    except typer.Abort:
        print("jarvis-diag: aborted", file=sys.stderr)
        sys.exit(1)
    except DiagError as exc:
        print(f"jarvis-diag: error: {exc}", file=sys.stderr)
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        print("jarvis-diag: interrupted", file=sys.stderr)
        sys.exit(130)
    except OSError as exc:
        # what the commands check for themselves is said there, in their words; this is the
        # rest of the file system's refusals (a path in a folder that cannot be entered, a
        # name too long, a full disk under stdout), in the system's words, in one line. An
        # error of no path and no file (a socket's, a timeout) is no input's: its traceback
        if exc.filename is None and exc.errno not in _OUTPUT_ERRNOS:
            raise
        print(f"jarvis-diag: error: {os_error_line(exc)}", file=sys.stderr)
        sys.exit(2)
    # without standalone mode a typer.Exit(n) comes back as n; the commands themselves return None
    sys.exit(code if isinstance(code, int) else 0)


# Commands that read files and write their output, and leave nothing running once it is
# written (serve, simulate-mobile and demo stop servers and clients and close their logs on
# the way out, and exit the usual way).
LEAVE_AT_ONCE = ("timeline", "report")


def run() -> None:
    """The installed ``jarvis-diag`` command: :func:`main`; for ``timeline`` and ``report``,
    then leave at once.

    A big log leaves hundreds of thousands of small objects behind; freeing them one by
    one and tearing the interpreter down took a tenth of a whole timeline run, for nothing
    once the output is written. So the output streams are flushed and the process ends
    with ``os._exit`` (``main`` itself stays a plain function for callers in the same
    process). For the same reason the cycle collector stays off for the whole run: the
    library pauses it around its batch steps, and its first pass after them went over every
    object they made (a fifth of a second on a big log) to find no garbage."""
    if len(sys.argv) < 2 or sys.argv[1] not in LEAVE_AT_ONCE:
        main()
        return
    gc.disable()
    try:
        main()
        code = 0
    except SystemExit as exc:
        if exc.code is None or isinstance(exc.code, int):
            code = exc.code or 0
        else:  # sys.exit("message")
            print(exc.code, file=sys.stderr)
            code = 1
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):  # a reader that went away, or a closed stream
            code = code or 1
    os._exit(code)
