"""The live progress bar of a simulation run: cycles measured, how many ok and failed."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

from rich.console import Console


@contextmanager
def cycle_progress(total: int, description: str) -> Iterator[tuple[Callable[[dict], None], Callable[[str], None]]]:
    """``(on_record, on_phase)`` for a run of ``total`` cycles, drawn on stderr when it is a
    terminal: each record advances the bar and counts ok/failed, each phase renames it."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from jarvis_diag.simulate.verdict import cycle_ok

    err = Console(stderr=True)
    counts = {"ok": 0, "bad": 0}
    with Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                  TextColumn("[green]{task.fields[ok]} ok[/] [red]{task.fields[bad]} failed[/]"),
                  TimeElapsedColumn(), console=err, disable=not err.is_terminal) as progress:
        task = progress.add_task(description, total=total, ok=0, bad=0)

        def on_record(record: dict) -> None:
            counts["ok" if cycle_ok(record) else "bad"] += 1
            progress.update(task, advance=1, ok=counts["ok"], bad=counts["bad"])

        def on_phase(phase: str) -> None:
            progress.update(task, description=phase)

        yield on_record, on_phase
