"""The report as GitHub-flavoured Markdown that fits a pull-request comment (pure)."""

from __future__ import annotations

import re

from jarvis_diag.report import fmt
from jarvis_diag.report.model import Report

MAX_FINDINGS = 10
MAX_CHARS = 60_000  # GitHub refuses comments over 65,536 characters
MAX_INPUTS = 8  # inputs named one by one; more (a glob of hundreds of runs) are counted


def _cell(text: object) -> str:
    """A table cell: pipes escaped (in a code span too: GitHub's tables split on every pipe
    not escaped), newlines flattened. Prose in a cell goes through :func:`_text` first."""
    return str(text).replace("|", "\\|").replace("\n", " ").strip() or " "


def _table(header: list[str], rows: list[list[str]], align: list[str] | None = None) -> list[str]:
    align = align or ["l"] * len(header)
    sep = {"l": "---", "r": "---:", "c": ":---:"}
    lines = ["| " + " | ".join(_cell(h) for h in header) + " |",
             "| " + " | ".join(sep[a] for a in align) + " |"]
    lines += ["| " + " | ".join(_cell(c) for c in row) + " |" for row in rows]
    return lines + [""]


_MARKUP = re.compile(r"([\\`*_\[\]~#])")


def _text(text: object) -> str:
    """Prose from the logs (a summary quoting `<Task pending ...>` or `Error in __call__`, a
    title, a path), shown as written: a `<` would open an HTML tag that a pull request's page
    drops with the words after it, an entity (`&lt;`) would be read as its character, and
    `*`, `_`, `[`, `` ` ``, `~` as emphasis, links, code or strike-through."""
    return _MARKUP.sub(r"\\\1", str(text).replace("&", "&amp;").replace("<", "&lt;"))


def _cut(text: str, most: int) -> str:
    """``text`` up to ``most`` characters, ending in … where it was cut (the comment must fit;
    the HTML and JSON reports keep every line whole)."""
    return text if len(text) <= most else text[:most - 1] + "…"


def _html(text: object) -> str:
    """Text inside an HTML block (a <summary>), where Markdown is not read: only `&` and `<`."""
    return str(text).replace("&", "&amp;").replace("<", "&lt;")


def _code(text: str) -> str:
    """``text`` as a code span, exactly: fenced by one backtick more than the longest run of
    them inside (a path holding one was shown with a quote in its place, a command that
    named another file)."""
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    fence = "`" * (longest + 1)
    pad = " " if longest else ""  # (a span's content may not start or end with its fence's backtick)
    return f"{fence}{pad}{text}{pad}{fence}"


def _timeline_cell(command: str) -> str:
    """The command that shows a case; a command naming too many logs to quote is cut, and says so."""
    shown, cut = fmt.cut_command(command)
    return _code(shown) + (f" ({fmt.CUT_COMMAND})" if cut else "")


def _inputs(inputs: list[dict]) -> str:
    """The inputs as one line: each named, or the first few and how many more (a glob of
    900 runs made a line longer than a comment, and the cut to fit took the tables with it)."""
    named = [f"{_code(fmt.short_paths(i['path']))} ({fmt.records_text(i)})" for i in inputs[:MAX_INPUTS]]
    if len(inputs) > MAX_INPUTS:
        named = named[:3] + [f"and {len(inputs) - 3} more, {sum(int(i.get('records') or 0) for i in inputs[3:]):,} "
                             "records (see the JSON report)"]
    return "; ".join(named)


def _flat(text: object) -> str:
    """Prose on one line (a failure text of several lines ended its list item at a blank line)."""
    return " ".join(str(text).split())


def to_markdown(report: Report) -> str:
    out: list[str] = [f"## {_text(report.title)}", ""]
    failed = report.budgets_failed
    if report.budgets:
        verdict = f"**Budgets: {len(failed)} of {len(report.budgets)} failed**" if failed else "**Budgets: all passed**"
        out += [verdict, ""]
        out += [f"- {'❌' if not b.passed else '✅'} {_code(b.budget.text)}: {_text(b.message)}" for b in report.budgets]
        out.append("")
    if report.comparison is not None:
        out += ["**Compared with the baseline:**", ""]
        out += [f"- {_text(line)}" for line in fmt.comparison_headlines(report.comparison)] + [""]
    out.append("Inputs: " + _inputs(report.inputs))
    out.append("")
    if report.metrics:
        out += ["### Latency", ""]
        rows, note = fmt.latency_rows(report.metrics)
        cells = [[f"`{m.name}`", *values, _text(outcomes)] for m, values, outcomes in rows]
        out += _table(["metric", *fmt.STATS, "outcomes"], cells, ["l"] + ["r"] * 6 + ["l"])
        out += [note.replace(fmt.UNRESOLVED_NOTE, "\\" + fmt.UNRESOLVED_NOTE), ""]
        out += ["<details><summary>What each metric measures</summary>", ""]
        out += [f"- `{m.name}`: {_text(_flat(m.description))}" for m, _values, _outcomes in rows]
        out += ["", "</details>", ""]
    if report.counts:
        rows = [[f"`{c.name}`", f"{c.total}", f"{c.affected} of {c.units} {c.unit}", _text(c.description)]
                for c in report.counts]
        out += ["### Lost, duplicated, unrecovered", ""] + _table(["count", "total", "affected", "meaning"], rows,
                                                                   ["l", "r", "r", "l"])
    if report.comparison is not None:
        cmp = report.comparison
        out += ["### Comparison with the baseline", "",
                "Candidate: the inputs above. Baseline: " + _inputs(cmp.baseline_inputs), ""]
        rows = []
        for r in cmp.rows:
            d = r.difference
            rows.append([f"`{r.metric}`", d.statistic, fmt.side_value(r, "baseline"),
                         fmt.side_value(r, "candidate"), fmt.fmt_signed(d.diff, r.unit),
                         fmt.interval_text(d, r.unit), f"**{r.verdict}**" if r.verdict in fmt.CLEAR_VERDICTS
                         else fmt.verdict_text(r)])
        out += _table(["metric", "stat", "baseline", "candidate", "difference", "95% CI", "verdict"], rows,
                      ["l", "l", "r", "r", "r", "r", "l"])
        out += [f"Bootstrap 95% interval of candidate − baseline, {cmp.resamples} resamples, seed {cmp.seed} "
                f"({cmp.statistics}).", ""]
    rows = [[f"`{m.name}`", k, fmt.breakdown_text(seg)] for m in report.metrics for k, seg in m.breakdown.items()]
    if rows:
        out += ["### Where the time goes", ""] + _table(["metric", "cases", "mean ms per phase"], rows)
        if note := fmt.phases_note(report.metrics):
            out += [note, ""]
    slow = [(m, c) for m in report.metrics if m.breakdown for c in m.slowest[:3]]
    if slow:
        rows = [[f"`{m.name}`", fmt.fmt_value(c["value_ms"], "ms"), _text(c["label"]), c["at"] or "",
                 _code(fmt.short_paths(c["path"]) + (f":{c['line']}" if c["line"] else "")), _timeline_cell(c["timeline"])]
                for m, c in slow]
        out += ["<details><summary>Slowest cases</summary>", ""]
        out += _table(["metric", "time", "case", "at", "source", "timeline"], rows, ["l", "r", "l", "l", "l", "l"])
        out += ["</details>", ""]
    out += [f"### Findings ({len(report.findings)})", ""]
    if not report.findings:
        out += ["None.", ""]
    for f in report.findings[:MAX_FINDINGS]:
        delay = f", cost {fmt.fmt_value(f['delay_ms'], 'ms')}" if f.get("delay_ms") is not None else ""
        out.append(f"{f['rank']}. **{_text(_flat(f.get('severity')))}** {_code(_flat(f.get('kind')))} at "
                   f"{_text(_flat(f.get('at')))}{delay}: {_text(_flat(f.get('summary')))}")
        evidence = (f.get("evidence") or [])[:5]
        if f.get("context") or evidence:
            # (indented as the item's text: by 3, the width of '9. ', it left the list under '10. ')
            pad = " " * len(f"{f['rank']}. ")
            out.append(f"{pad}<details><summary>evidence</summary>")
            out.append("")
            out.append(f"{pad}```text")
            if f.get("context"):
                out.append(f"{pad}context: {_flat(f['context'])}".replace("```", "'''"))
            # (a line of several, a failure text's: on one line, or those after it left the list item)
            out += [f"{pad}{e.get('path')}:{e.get('line')}  {_cut(' '.join(str(e.get('text')).splitlines()), 200)}"
                    .replace("```", "'''") for e in evidence]
            out.append(f"{pad}```")
            out.append(f"{pad}</details>")
    if len(report.findings) > MAX_FINDINGS:
        out.append(f"\n… and {len(report.findings) - MAX_FINDINGS} more (see the HTML or JSON report).")
    out.append("")
    w = report.waterfall
    if w is not None:
        out += [f"<details><summary>Worst episode: {_html(w.title)}</summary>", "", f"0 ms = {w.origin}", ""]
        rows = [[f"{r['start_ms']:.1f}", "" if r["end_ms"] is None else f"{r['end_ms']:.1f}", r["side"],
                 _text(r["label"])]
                for r in w.rows]
        out += _table(["ms", "until", "side", "event"], rows, ["r", "r", "l", "l"])
        out += ["</details>", ""]
    for note in report.notes:
        out.append(f"> {_text(note)}")
    text = "\n".join(out).rstrip() + "\n"
    if len(text) > MAX_CHARS:  # keep the head (budgets, tables) and say what was cut
        text = text[:MAX_CHARS].rsplit("\n", 1)[0]
        if text.count("```") % 2:  # (closed, as indented as it was opened, or the rest would read as code)
            opened = text.rsplit("```", 1)[0].rsplit("\n", 1)[-1]
            text += "\n" + opened + "```"
        text += "\n</details>" * (text.count("<details>") - text.count("</details>"))
        text += "\n\n… (cut to fit a comment; see the HTML or JSON report)\n"
    return text
