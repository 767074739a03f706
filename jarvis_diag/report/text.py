"""The report in the terminal: rich renderables, and plain text for files (pure)."""

from __future__ import annotations

import io
from collections.abc import Iterator

from rich.console import Console, ConsoleOptions, Group, RenderableType, RenderResult
from rich.rule import Rule
from rich.table import Table
from rich.text import Text

from jarvis_diag.report import fmt
from jarvis_diag.report.model import Report

_SEVERITY_STYLE = {"critical": "bold red", "warning": "yellow", "info": "cyan"}
_VERDICT_STYLE = {"faster": "green", "fewer": "green", "slower": "red", "more": "red"}
SLOWEST_SHOWN = 3


def renderables(report: Report) -> Iterator[RenderableType]:
    """Everything the report shows, top to bottom."""
    yield Rule(Text(report.title, style="bold"))
    yield Text("Inputs: " + "; ".join(f"{fmt.short_paths(i['path'])} ({fmt.records_text(i)})" for i in report.inputs),
               style="dim")
    if report.comparison is not None:
        for line in fmt.comparison_headlines(report.comparison):
            word = line.split(": ", 1)[1].split(",", 1)[0] if ": " in line else ""
            yield Text("vs baseline: " + line, style=_VERDICT_STYLE.get(word, "bold"))
    yield from _latency(report)
    yield from _counts(report)
    yield from _breakdown(report)
    yield from _slowest(report)
    yield from _findings(report)
    yield from _waterfall(report)
    yield from _comparison(report)
    yield from _budgets(report)
    for note in report.notes:
        yield Text(f"note: {note}", style="dim")


def _name_column(table: Table, header: str, names: list[str], style: str = "") -> None:
    """A first column of metric (or count) names, never cut: detection-client and
    detection-server both read "detection…" in a narrow terminal."""
    table.add_column(header, style=style, no_wrap=True, min_width=max(map(len, names), default=len(header)))


def _latency(report: Report) -> Iterator[RenderableType]:
    if not report.metrics:
        yield Text("No latency data in the inputs.", style="yellow")
        return
    table = Table(title="Latency", title_justify="left", show_edge=False, pad_edge=False)
    _name_column(table, "metric", [m.name for m in report.metrics], style="bold")
    for name in fmt.STATS:
        table.add_column(name, justify="right")
    table.add_column("outcomes")
    rows, note = fmt.latency_rows(report.metrics)
    for m, cells, outcomes in rows:
        table.add_row(m.name, *cells, outcomes)
    yield table
    yield Text(note, style="dim")


def _counts(report: Report) -> Iterator[RenderableType]:
    if not report.counts:
        return
    table = Table(title="Lost, duplicated, unrecovered", title_justify="left", show_edge=False, pad_edge=False)
    _name_column(table, "count", [c.name for c in report.counts])
    for col, justify in (("total", "right"), ("affected", "right"), ("meaning", "left")):
        table.add_column(col, justify=justify)
    for c in report.counts:
        style = "bold red" if c.total else "green"
        table.add_row(c.name, Text(f"{c.total}", style=style), f"{c.affected} of {c.units} {c.unit}", c.description)
    yield table


def _breakdown(report: Report) -> Iterator[RenderableType]:
    rows = [(m, k, seg) for m in report.metrics for k, seg in m.breakdown.items()]
    if not rows:
        return
    table = Table(title="Where the time goes (mean ms per phase)", title_justify="left", show_edge=False,
                  pad_edge=False)
    _name_column(table, "metric", [m.name for m, _, _ in rows], style="bold")
    table.add_column("cases")
    table.add_column("phases")
    for m, k, seg in rows:
        table.add_row(m.name, k, fmt.breakdown_text(seg))
    yield table
    if note := fmt.phases_note(report.metrics):
        yield Text(note.replace("`", ""), style="dim")


def _slowest(report: Report) -> Iterator[RenderableType]:
    items = [m for m in report.metrics if m.slowest and m.breakdown]
    if not items:
        return
    yield Text("Slowest cases", style="bold italic")
    for m in items:
        for case in m.slowest[:SLOWEST_SHOWN]:
            where = fmt.short_paths(case["path"]) + (f":{case['line']}" if case["line"] else "")
            command, cut = fmt.cut_command(case["timeline"])
            line = Text.assemble((f"  {m.name:<12} ", "bold"), (f"{fmt.fmt_value(case['value_ms'], 'ms'):>10}  ", ""),
                                 f"{case['label']} at {case['at']}  ({where})")
            shown = Text(command + (f" ({fmt.CUT_COMMAND})" if cut else ""), style="dim")
            # (the command on a line of its own when the two do not fit on one: a command
            # broken in the middle of a path or a clientId is not one to copy)
            yield _CaseLine(line, shown)


class _CaseLine:
    """A slowest case and the command that shows it: one line when both fit, else two."""

    def __init__(self, case: Text, command: Text):
        self.case, self.command = case, command

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        if self.case.cell_len + 2 + self.command.cell_len <= options.max_width:
            yield Text.assemble(self.case, "  ", self.command)
        else:
            yield self.case
            yield Text.assemble("      ", self.command)


def _findings(report: Report) -> Iterator[RenderableType]:
    yield Text(f"Findings ({len(report.findings)})", style="bold italic")
    if not report.findings:
        yield Text("  none", style="green")
    for f in report.findings:
        delay = f" cost {fmt.fmt_value(f['delay_ms'], 'ms')}" if f.get("delay_ms") is not None else ""
        yield Text.assemble(f"  {f['rank']:>2}. ", (f"{f.get('severity', '?'):<8} ", _SEVERITY_STYLE.get(
            f.get("severity"), "")), (f"{f.get('kind')}", "bold"), f" at {f.get('at')}{delay}: {f.get('summary')}")
        if f.get("context"):
            yield Text(f"      context: {f['context']}", style="dim")
        for ev in (f.get("evidence") or [])[:5]:
            yield _Evidence(f"{ev.get('path')}:{ev.get('line')}", str(ev.get("text")))


class _Evidence:
    """One evidence line: ``path:line`` whole (where to look), then as much of the log line
    as the width leaves; on its own line when the path alone fills the width."""

    INDENT = "      "

    def __init__(self, where: str, text: str) -> None:
        self.where, self.text = where, text

    def __rich_console__(self, console, options):
        room = options.max_width - len(self.INDENT) - len(self.where) - 2
        if room >= 20:
            line = Text(f"{self.INDENT}{self.where}  {self.text}", style="dim", no_wrap=True, overflow="ellipsis")
            line.truncate(options.max_width, overflow="ellipsis")
            yield line
            return
        yield Text(f"{self.INDENT}{self.where}", style="dim", overflow="fold")
        text = Text(f"{self.INDENT}  {self.text}", style="dim", no_wrap=True, overflow="ellipsis")
        text.truncate(options.max_width, overflow="ellipsis")
        yield text


def _waterfall(report: Report) -> Iterator[RenderableType]:
    w = report.waterfall
    if w is None:
        return
    table = Table(title=f"Worst episode: {w.title}", title_justify="left", show_edge=False, pad_edge=False)
    table.add_column("ms", justify="right")
    table.add_column("until", justify="right")
    table.add_column("side")
    table.add_column("event")
    for row in w.rows:
        end = "" if row["end_ms"] is None else f"{row['end_ms']:.1f}"
        table.add_row(f"{row['start_ms']:.1f}", end, row["side"], row["label"])
    yield table
    yield Text(f"  0 ms = {w.origin}; {fmt.short_paths(w.ref.path)}", style="dim")


def _comparison(report: Report) -> Iterator[RenderableType]:
    cmp = report.comparison
    if cmp is None:
        return
    table = Table(title="Comparison: candidate vs baseline ("
                  + "; ".join(fmt.short_paths(i["path"]) + (f" run {i['run']}" if i.get("run") else "")
                              for i in cmp.baseline_inputs)
                  + ")", title_justify="left", show_edge=False, pad_edge=False)
    # it fits 80 columns with the longest metric name, and nothing is cut ("detection-c…",
    # "not comparab…"): the difference and its interval share a column, one value a line
    _name_column(table, "metric", [r.metric for r in cmp.rows])
    for col in ("stat", "baseline", "candidate"):
        table.add_column(col, justify="right")
    table.add_column("difference\n(95% CI)", justify="right")
    # (no row when neither side has a case: the header's width then)
    table.add_column("verdict", min_width=max((len(w) for r in cmp.rows for w in fmt.verdict_text(r).split()),
                                              default=len("verdict")))
    for r in cmp.rows:
        d = r.difference
        diff, ci = fmt.fmt_signed(d.diff, r.unit), fmt.interval_text(d, r.unit)
        if d.ci_low is not None:
            diff += "\n" + (ci.replace(", ", ",\n") if len(ci) > len("difference") else ci)
        table.add_row(r.metric, d.statistic, f"{fmt.fmt_value(d.baseline, r.unit)}\nn {r.baseline.n}",
                      f"{fmt.fmt_value(d.candidate, r.unit)}\nn {r.candidate.n}",
                      diff, Text(fmt.verdict_text(r), style=_VERDICT_STYLE.get(r.verdict, "")))
    yield table
    yield Text(f"Bootstrap: {cmp.resamples} resamples, seed {cmp.seed}; {cmp.statistics}.", style="dim")


def _budgets(report: Report) -> Iterator[RenderableType]:
    if not report.budgets:
        return
    failed = report.budgets_failed
    head = f"Budgets: {len(failed)} of {len(report.budgets)} failed" if failed else "Budgets: all passed"
    yield Text(head, style="bold red" if failed else "bold green")
    for b in report.budgets:
        yield Text(("  PASS " if b.passed else "  FAIL ") + b.message, style="green" if b.passed else "red")


def to_text(report: Report, width: int = 120, color: bool = False) -> str:
    """The terminal rendering as a string (plain unless ``color``)."""
    buf = io.StringIO()
    console = Console(file=buf, width=width, force_terminal=color, color_system="standard" if color else None,
                      highlight=False, soft_wrap=False)
    console.print(Group(*renderables(report)))
    return buf.getvalue()
