"""`jarvis-diag samples`: regenerate the sample incident sets (what `make samples` runs)."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console

from jarvis_diag.errors import DiagError


def register(app: typer.Typer) -> None:
    @app.command(
        "samples",
        help=(
            "Regenerate sample incident sets: the reference server with a bug, simulated phones against it, "
            "and the logs both sides wrote, each with a README and the findings `timeline` must name "
            "(expected.json). Deterministic with a seed, apart from ids and times.\n\n"
            "Example: jarvis-diag samples sample_logs --only healthy-day --seed 7"
        ),
    )
    def samples(
        out: Path = typer.Argument(Path("sample_logs"), help="Folder to write the sets into."),
        only: list[str] = typer.Option(None, "--only", help="Make only this set (repeatable); see --list."),
        seed: int = typer.Option(7, "--seed", help="Seed of the simulated clients."),
        list_sets: bool = typer.Option(False, "--list", help="List the sets and exit."),
    ) -> None:
        from jarvis_diag.samples import INCIDENTS, INCIDENTS_BY_NAME, generate
        from jarvis_diag.simulate.results import make_output_dir

        console = Console()
        if list_sets:
            for incident in INCIDENTS:
                console.print(f"[bold]{incident.name}[/]  {incident.title}")
            return
        unknown = [n for n in only or [] if n not in INCIDENTS_BY_NAME]
        if unknown:
            raise DiagError(f"unknown sample set {unknown[0]!r} (see `jarvis-diag samples --list`)")
        make_output_dir(out, "sample folder")
        with console.status("starting") as status:
            folders = generate(out, only or None, seed=seed, on_phase=status.update)
        for folder in folders:
            console.print(f"wrote {folder}")
