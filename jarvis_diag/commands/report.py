"""`jarvis-diag report`: latency report of simulation runs, timelines or raw logs."""

from __future__ import annotations

import json
import sys
from enum import StrEnum
from pathlib import Path

import typer
from rich.console import Console
from rich.progress import BarColumn, DownloadColumn, Progress, TimeRemainingColumn
from typer.core import TyperCommand

from jarvis_diag.commands.output import check_output, output_file, replacing
from jarvis_diag.errors import DiagError

HELP = (
    "Latency report: how long switching, starting and recovering take, where the time goes, what went "
    "wrong, and (with --compare) whether a change made it better.\n\n"
    "INPUT is a simulate-mobile results.jsonl (or its --out folder), a `timeline --format json` file, or raw "
    "logs / folders of logs (a timeline is built from them on the fly). A run folder's logs (frontend/, app.log) "
    "add their findings; its figures come from results.jsonl alone.\n\n"
    "--compare takes the baseline's inputs (every path up to the next option); the report says, metric by "
    "metric, whether INPUT is faster, slower or not clearly different (bootstrap 95% interval, seeded), and "
    "how the findings changed.\n\n"
    "-o FILE writes the report to FILE, in the format its name ends in (.json, .md, .html or .htm; any other: "
    "text) unless --format says otherwise; a file that is one of the inputs is refused before anything is read.\n\n"
    "--budget makes the report a CI gate: exit code 3 and the list of failed budgets when one fails.\n\n"
    "Example:\n\n"
    "  jarvis-diag report after/ --compare before/ -o report.md "
    "--budget 'recovery.p95<=500ms' --budget 'lost.count<=0'"
)


class ReportFormat(StrEnum):
    text = "text"
    md = "md"
    html = "html"
    json = "json"


_SUFFIX_FORMAT = {".json": ReportFormat.json, ".md": ReportFormat.md, ".html": ReportFormat.html,
                  ".htm": ReportFormat.html}


def output_format(fmt: ReportFormat | None, output: Path | None) -> ReportFormat:
    """--format when given, else the one the output file's name ends in (text for any other)."""
    if fmt is not None:
        return fmt
    if output is None:
        return ReportFormat.text
    return _SUFFIX_FORMAT.get(output.suffix.lower(), ReportFormat.text)


def expand_compare(args: list[str]) -> list[str]:
    """``--compare a b c`` -> ``--compare a --compare b --compare c``: the option takes
    every following path until the next option."""
    out: list[str] = []
    i = 0
    while i < len(args):
        tok = args[i]
        if tok == "--":
            out += args[i:]
            break
        if tok == "--compare":
            j = i + 1
            while j < len(args) and not (args[j].startswith("-") and args[j] != "-"):
                out += ["--compare", args[j]]
                j += 1
            if j == i + 1:
                raise DiagError("--compare needs at least one INPUT (the baseline's results or logs)")
            i = j
            continue
        out.append(tok)
        i += 1
    return out


class _ReportCommand(TyperCommand):
    def parse_args(self, ctx, args):
        return super().parse_args(ctx, expand_compare(list(args)))


def _load(inputs: list, notes: list[str], what: str):
    """The Dataset of ``inputs`` (resolved :class:`~jarvis_diag.report.inputs.Input`), with
    a progress bar on a terminal when their results are large."""
    from jarvis_diag.report.inputs import input_size, load_inputs

    total = input_size(inputs)
    err = Console(stderr=True)
    if total < (8 << 20) or not err.is_terminal:
        return load_inputs(inputs, None, notes)
    with Progress(f"reading {what}", BarColumn(), DownloadColumn(), TimeRemainingColumn(), console=err,
                  transient=True) as progress:
        task = progress.add_task(what, total=total)
        return load_inputs(inputs, lambda n: progress.advance(task, n), notes)


def render(report, fmt: ReportFormat, to_file: bool) -> str | None:
    """The report as a string in ``fmt`` (None: text straight to the terminal)."""
    from jarvis_diag.report import html, markdown, text

    if fmt is ReportFormat.json:
        return json.dumps(report.to_json_dict(), indent=2, ensure_ascii=False) + "\n"
    if fmt is ReportFormat.md:
        return markdown.to_markdown(report)
    if fmt is ReportFormat.html:
        return html.to_html(report)
    return text.to_text(report, width=120) if to_file else None


def register(app: typer.Typer) -> None:
    """Add this command to the application."""

    @app.command("report", help=HELP, cls=_ReportCommand, no_args_is_help=True)
    def report_command(
        inputs: list[str] = typer.Argument(..., metavar="INPUT...", help="results.jsonl, timeline JSON, or logs"),
        compare: list[str] = typer.Option(None, "--compare", metavar="INPUT...",
                                          help="the baseline's inputs: INPUT is compared with them"),
        fmt: ReportFormat = typer.Option(None, "--format", "-f", show_default=False,
                                         help="text, md, html or json (default: text, or with -o the one "
                                              "its suffix names: .json, .md, .html)"),
        output: Path = typer.Option(None, "--output", "-o",
                                    help="write the report to this file (its suffix picks the format; - for "
                                         "standard output)"),
        budget: list[str] = typer.Option(None, "--budget", metavar="'METRIC.STAT<=VALUE'",
                                         help="e.g. 'recovery.p95<=500ms', 'lost.count<=0' (repeatable)"),
        title: str = typer.Option(None, "--title", help="the report's title (one line: a line break in it is a "
                                                         "space)"),
        seed: int = typer.Option(0, "--seed", min=0, help="seed of the bootstrap resampling (0 or more)"),
        resamples: int = typer.Option(2000, "--resamples", min=100, max=100_000,
                                      help="bootstrap resamples of a comparison"),
    ) -> None:
        from jarvis_diag.report.budgets import parse_budget
        from jarvis_diag.report.dataset import COUNTS, METRICS
        from jarvis_diag.report.inputs import resolve_inputs
        from jarvis_diag.report.model import build_report

        output = output_file(output)
        # budgets first: a typo should fail before minutes of reading
        budgets = [parse_budget(b, tuple(METRICS), tuple(COUNTS)) for b in budget or ()]
        # (each input looked at and each folder walked once: the files found are the ones the
        # --output check compares with and the ones read)
        given, base = resolve_inputs(inputs), resolve_inputs(compare) if compare else []
        check_output(output, [f for i in (*given, *base) for f in i.files])
        notes: list[str] = []
        ds = _load(given, notes, "inputs")
        # (the findings listed are the candidate's; the baseline's are counted in the comparison)
        baseline = _load(base, notes, "baseline") if base else None
        report = build_report(ds, baseline, budgets, title, seed=seed, resamples=resamples, notes=notes)
        out = render(report, output_format(fmt, output), output is not None)
        if output is not None:
            try:
                with replacing(output) as part:
                    part.write_text(out or "", encoding="utf-8")
            except OSError as exc:
                raise DiagError(f"cannot write {output}: {exc.strerror}") from None
            print(f"wrote {output}", file=sys.stderr)
        elif out is None:
            Console().print(report)
        else:
            sys.stdout.write(out)
        failed = report.budgets_failed
        if failed:
            print(f"jarvis-diag: {len(failed)} of {len(report.budgets)} budgets failed:", file=sys.stderr)
            for b in failed:
                print(f"  {b.message}", file=sys.stderr)
            raise typer.Exit(3)
