"""`jarvis-diag simulate` (not built yet)."""

import typer


def register(app: typer.Typer) -> None:
    """Add this command to the application."""
