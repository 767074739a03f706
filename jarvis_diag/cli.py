"""The command line: arguments -> library call -> render. Errors are handled once, here."""

from __future__ import annotations

import sys

import typer

from jarvis_diag.commands import demo, report, samples, serve, simulate, timeline
from jarvis_diag.errors import DiagError

app = typer.Typer(
    name="jarvis-diag",
    help=(
        "Find out why WebSocket / Socket.IO long connections in multi-session chat apps "
        "fail to recover.\n\nExample: jarvis-diag timeline logs/app.log logs/frontend/"
    ),
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode="rich",
)

for module in (timeline, serve, simulate, report, demo, samples):
    module.register(app)


def main(argv: list[str] | None = None) -> None:
    """Console entry point: a DiagError becomes one clean line and its exit code."""
    try:
        app(args=argv, standalone_mode=True)
    except DiagError as exc:
        print(f"jarvis-diag: error: {exc}", file=sys.stderr)
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        print("jarvis-diag: interrupted", file=sys.stderr)
        sys.exit(130)
