"""`jarvis-diag demo`: reproduce an incident, diagnose it, show the fix (what `make demo` runs)."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

from jarvis_diag.errors import DiagError

SEVERITY_ORDER = {"critical": 0, "warning": 1, "info": 2}


def _findings_table(run) -> Table:
    table = Table(title=f"Findings — {run.label}", title_justify="left", expand=True)
    table.add_column("severity", no_wrap=True)
    table.add_column("kind", no_wrap=True)
    table.add_column("count", justify="right")
    table.add_column("example", ratio=1)
    groups: dict[tuple[str, str], list[dict]] = {}
    for f in run.findings:
        groups.setdefault((f["severity"], f["kind"]), []).append(f)
    for (severity, kind), items in sorted(groups.items(), key=lambda kv: (SEVERITY_ORDER.get(kv[0][0], 9), kv[0][1])):
        style = {"critical": "bold red", "warning": "yellow"}.get(severity, "dim")
        times = sum(int(f.get("occurrences") or 1) for f in items)
        count = str(len(items)) if times == len(items) else f"{len(items)} ({times} times)"
        table.add_row(f"[{style}]{severity}[/]", kind, count, _first_sentence(items[0]["summary"]))
    if not groups:
        table.add_row("[green]none[/]", "", "", "no finding: the logs show a healthy run")
    return table


def _first_sentence(text: str) -> str:
    """The finding's statement without its advice: `timeline` prints the whole of it."""
    head, dot, _ = text.partition(". ")
    return head + dot.strip()


def _runs_table(outcome, bug: str) -> Table:
    from jarvis_diag.demo import describe_phones

    table = Table(title=f"Simulated phones ({describe_phones(bug)})", title_justify="left")
    for col in ("server", "cycles", "recovered", "lost", "duplicated", "warning+ findings"):
        table.add_column(col, justify="left" if col == "server" else "right")
    for run in outcome.runs:
        serious = Counter(f["severity"] for f in run.findings if f["severity"] != "info")
        style = "green" if run.healthy else "red"
        table.add_row(f"[{style}]{run.label}[/]", str(run.cycles), str(run.recovered), str(run.lost),
                      str(run.duplicated), str(sum(serious.values())))
    return table


def _comparison_table(report_json: dict, bug: str) -> Table:
    table = Table(title=f"Comparison: correct server vs server with {bug} (baseline)", title_justify="left")
    for col in ("metric", "with bug", "correct", "difference (95% CI)", "verdict"):
        table.add_column(col, justify="left" if col in ("metric", "verdict") else "right")
    from jarvis_diag.report.fmt import fmt_signed, fmt_value

    for name, m in report_json["comparison"]["metrics"].items():
        d, unit = m["difference"], m["unit"]
        ci = d.get("ci95")
        # (as `report` writes them: one figure the same way in both)
        diff = "—" if d.get("diff") is None else \
            f"{fmt_signed(d['diff'], unit)} [{fmt_signed(ci[0], unit)}, {fmt_signed(ci[1], unit)}]"
        table.add_row(f"{name} {d['statistic']}", fmt_value(d.get("baseline"), unit),
                      fmt_value(d.get("candidate"), unit), diff, m["verdict"])
    return table


def interrupted_state(out: Path, done: list[str]) -> str:
    """What an interrupted demo left in ``out``: the runs it finished are there; the rest, the
    report with them, are the earlier demo's (a run is put in place only once it is done)."""
    def listed(names: list[str]) -> str:
        return ", ".join(names[:-1]) + f" and {names[-1]}" if len(names) > 1 else names[0]

    kept = [f"{name}/" for name in ("with-bug", "correct") if name not in done and (out / name).exists()]
    kept += ["the report"] if (out / "report.html").exists() else []
    said = []
    if done:
        said.append(f"{listed([n + '/' for n in done])} {'is' if len(done) == 1 else 'are'} this demo's")
    if kept:
        said.append(f"{listed(kept)} {'is' if len(kept) == 1 else 'are'} the earlier demo's")
    return f"in {out}, {'; '.join(said)}" if said else f"nothing was written in {out}"


def register(app: typer.Typer) -> None:
    @app.command(
        "demo",
        help=(
            "The main job in one command: start the reference server twice on a free loopback port "
            "(once with a known bug, once correct), run simulated phones against each, build both "
            "timelines, print the findings and the comparison, and write an HTML report.\n\n"
            "Example: jarvis-diag demo --out demo-out --bug single-live-session"
        ),
    )
    def demo(
        out: Path = typer.Option(Path("jarvis-diag-demo"), "--out", help="Where the runs and the report go."),
        bug: str = typer.Option("single-live-session", "--bug",
                                help="The server bug to reproduce (see `jarvis-diag serve --bug list`)."),
        seed: int = typer.Option(7, "--seed", help="Makes the simulated clients repeatable."),
    ) -> None:
        from jarvis_diag.demo import run_demo
        from jarvis_diag.simulate.results import make_output_dir
        from server.bugs import BUGS

        if bug not in BUGS:
            raise DiagError(f"unknown bug {bug!r} (one of {', '.join(BUGS)})")
        make_output_dir(out, "--out")
        console = Console()
        done: list[str] = []
        try:
            with console.status("starting") as status:
                outcome = run_demo(out, bug=bug, seed=seed, on_phase=lambda text: status.update(text), done=done)
        except KeyboardInterrupt:
            # (a run is written beside the last demo's and put in its place once done)
            raise DiagError(f"interrupted: the servers are stopped; {interrupted_state(out, done)}",
                            exit_code=130) from None
        console.print(_runs_table(outcome, bug))
        for run in outcome.runs:
            console.print(_findings_table(run))
        console.print(_comparison_table(outcome.report.to_json_dict(), bug))
        # each on one line however long its paths (the terminal wraps it): a command copied
        # from it is the whole command
        console.print(f"HTML report: [bold]{outcome.report_html}[/]  (Markdown: {outcome.report_md})",
                      soft_wrap=True)
        console.print(f"Logs to explore: jarvis-diag timeline {outcome.runs[0].directory}/app.log "
                      f"{outcome.runs[0].directory}/frontend", soft_wrap=True)
