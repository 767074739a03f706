"""The report as one self-contained HTML file: inline CSS and SVG, no script, no font, no
image and no link to anything outside the file, so it opens offline (pure)."""

from __future__ import annotations

from html import escape

from jarvis_diag.report import charts, fmt
from jarvis_diag.report.model import Report

_CSS = """
.jd-report{font-family:system-ui,-apple-system,"Segoe UI",sans-serif;color:#222;max-width:1100px;margin:0 auto;
 padding:12px 20px;line-height:1.4}
.jd-report h1{font-size:1.5em;margin:.2em 0}.jd-report h2{font-size:1.2em;margin:1.4em 0 .4em;
 border-bottom:1px solid #ddd}
.jd-report table{border-collapse:collapse;margin:.4em 0;font-size:.9em}
.jd-report th,.jd-report td{border:1px solid #ddd;padding:3px 8px;text-align:left;vertical-align:top}
.jd-report td.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}.jd-report th{background:#f4f4f4}
.jd-report .dim{color:#666;font-size:.88em}.jd-report code{background:#f4f4f4;padding:0 3px;border-radius:3px}
.jd-report .critical{color:#b00020;font-weight:bold}.jd-report .warning{color:#a66300;font-weight:bold}
.jd-report .info{color:#0a6}.jd-report .pass{color:#0a6}.jd-report .fail{color:#b00020;font-weight:bold}
.jd-report .good{color:#0a6;font-weight:bold}.jd-report .bad{color:#b00020;font-weight:bold}
.jd-report .charts{display:flex;flex-wrap:wrap;gap:12px}.jd-report svg.chart{background:#fff;border:1px solid #eee}
.jd-report pre{background:#f7f7f7;padding:6px;overflow-x:auto;font-size:.85em;margin:.2em 0 .6em}
.jd-report li{margin:.3em 0}
"""
_GOOD = ("faster", "fewer")
_BAD = ("slower", "more")


def _e(text: object) -> str:
    # "://" is written as an entity: the page then names no URL even when a log line quotes one
    return escape(str(text), quote=True).replace("://", "&#58;//")


def _table(header: list[str], rows: list[list[str]], numeric: set[int] = frozenset()) -> str:
    """Cells are already HTML (escaped by the caller)."""
    head = "".join(f"<th>{h}</th>" for h in header)
    body = "".join("<tr>" + "".join(f'<td class="num">{c}</td>' if i in numeric else f"<td>{c}</td>"
                                    for i, c in enumerate(row)) + "</tr>" for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _body(report: Report) -> str:
    parts = [f"<h1>{_e(report.title)}</h1>",
             '<p class="dim">Inputs: ' + "; ".join(f"<code>{_e(fmt.short_paths(i['path']))}</code> "
                                                     f"({_e(fmt.records_text(i))})"
                                                     for i in report.inputs) + "</p>"]
    if report.budgets:
        failed = report.budgets_failed
        head = f"{len(failed)} of {len(report.budgets)} budgets failed" if failed else "All budgets passed"
        parts.append(f'<h2 id="budgets">Budgets: <span class="{"fail" if failed else "pass"}">{head}</span></h2><ul>')
        parts += [f'<li class="{"pass" if b.passed else "fail"}">{"PASS" if b.passed else "FAIL"} '
                  f"<code>{_e(b.budget.text)}</code>: {_e(b.message)}</li>" for b in report.budgets]
        parts.append("</ul>")
    if report.comparison is not None:
        items = []
        for line in fmt.comparison_headlines(report.comparison):
            word = line.split(": ", 1)[1].split(",", 1)[0] if ": " in line else ""
            cls = "good" if word in _GOOD else "bad" if word in _BAD else ""
            items.append(f'<li class="{cls}">{_e(line)}</li>')
        parts.append("<p>Compared with the baseline:</p><ul>" + "".join(items) + "</ul>")
    parts.append(_latency(report))
    if report.counts:
        rows = [[f"<code>{_e(c.name)}</code>", f'<span class="{"bad" if c.total else "good"}">{c.total}</span>',
                 f"{c.affected} of {c.units} {_e(c.unit)}", _e(c.description)] for c in report.counts]
        parts += ['<h2 id="counts">Lost, duplicated, unrecovered</h2>',
                  _table(["count", "total", "affected", "meaning"], rows, {1, 2})]
    parts.append(_comparison(report))
    parts.append(_where(report))
    parts.append(_findings(report))
    if report.waterfall is not None:
        w = report.waterfall
        rows = [[f"{r['start_ms']:.1f}", "" if r["end_ms"] is None else f"{r['end_ms']:.1f}", _e(r["side"]),
                 _e(r["label"])] for r in w.rows]
        parts += ['<h2 id="worst-episode">Worst episode</h2>', charts.waterfall_svg(w),
                  f'<p class="dim">Source: <code>{_e(fmt.short_paths(w.ref.path))}</code> ({_e(w.ref.label)})</p>',
                  "<details><summary>events</summary>", _table(["ms", "until", "side", "event"], rows, {0, 1}),
                  "</details>"]
    parts += [f'<p class="dim">note: {_e(n)}</p>' for n in report.notes]
    return "\n".join(p for p in parts if p)


def _latency(report: Report) -> str:
    if not report.metrics:
        return "<h2>Latency</h2><p>No latency data in the inputs.</p>"
    metric_rows, note = fmt.latency_rows(report.metrics)
    rows = [[f'<code title="{_e(m.description)}">{_e(m.name)}</code>', *map(_e, cells), _e(outcomes)]
            for m, cells, outcomes in metric_rows]
    cdfs = [charts.cdf_svg(_cdf_series(report, m), f"{m.name} (CDF)")
            for m in report.metrics if m.summary.n]
    return ('<h2 id="latency">Latency</h2>' + _table(["metric", *fmt.STATS, "outcomes"], rows, {1, 2, 3, 4, 5, 6})
            + f'<p class="dim">{_e(note)}</p><div class="charts">' + "".join(cdfs) + "</div>")


def _cdf_series(report: Report, m) -> list:
    series = [("candidate" if report.comparison else m.name, m.values)]
    if report.comparison is not None:
        row = next((r for r in report.comparison.rows if r.metric == m.name), None)
        if row is not None and row.baseline_values.size:
            series.insert(0, ("baseline", row.baseline_values))
    return series


def _comparison(report: Report) -> str:
    cmp = report.comparison
    if cmp is None:
        return ""
    rows = []
    for r in cmp.rows:
        d = r.difference
        cls = "good" if r.verdict in _GOOD else "bad" if r.verdict in _BAD else ""
        rows.append([f"<code>{_e(r.metric)}</code>", _e(d.statistic), _e(fmt.side_value(r, "baseline")),
                     _e(fmt.side_value(r, "candidate")), _e(fmt.fmt_signed(d.diff, r.unit)),
                     _e(fmt.interval_text(d, r.unit)), f'<span class="{cls}">{_e(fmt.verdict_text(r))}</span>'])
    base = "; ".join(f"<code>{_e(fmt.short_paths(i['path']))}</code> ({_e(fmt.records_text(i))})"
                     for i in cmp.baseline_inputs)
    return ('<h2 id="comparison">Comparison with the baseline</h2>'
            f"<p>Baseline: {base}</p>"
            + _table(["metric", "stat", "baseline", "candidate", "difference", "95% CI", "verdict"], rows,
                     {2, 3, 4, 5})
            + f'<p class="dim">Bootstrap 95% interval of candidate − baseline, {cmp.resamples} resamples, '
              f"seed {cmp.seed} ({_e(cmp.statistics)}).</p>")


def _where(report: Report) -> str:
    items = [m for m in report.metrics if m.breakdown]
    if not items:
        return ""
    parts = ['<h2 id="where">Where the time goes</h2><div class="charts">']
    parts += [charts.stacked_svg(f"{m.name}: mean ms per phase", m.breakdown) for m in items]
    parts.append("</div>")
    if note := fmt.phases_note(items):
        parts.append(f'<p class="dim">{_e(note.replace("`", ""))}</p>')
    for m in items:
        rows = [[_e(fmt.fmt_value(c["value_ms"], "ms")), _e(c["label"]), _e(c["at"] or ""),
                 f"<code>{_e(fmt.short_paths(c['path']) + (':' + str(c['line']) if c['line'] else ''))}</code>",
                 _timeline_cell(c["timeline"])] for c in m.slowest]
        parts += [f"<h3>Slowest {_e(m.name)} cases</h3>", _table(["time", "case", "at", "source", "timeline"], rows,
                                                                 {0})]
    return "\n".join(parts)


def _timeline_cell(command: str) -> str:
    shown, cut = fmt.cut_command(command)
    return f"<code>{_e(shown)}</code>" + (f' <span class="dim">({_e(fmt.CUT_COMMAND)})</span>' if cut else "")


def _findings(report: Report) -> str:
    parts = [f'<h2 id="findings">Findings ({len(report.findings)})</h2>']
    if not report.findings:
        return parts[0] + "<p>None.</p>"
    parts.append("<ol>")
    for f in report.findings:
        sev = str(f.get("severity"))
        delay = f", cost {_e(fmt.fmt_value(f['delay_ms'], 'ms'))}" if f.get("delay_ms") is not None else ""
        evidence = "\n".join(f"{e.get('path')}:{e.get('line')}  {e.get('text')}" for e in (f.get("evidence") or []))
        context = f'<div class="dim">context: {_e(f["context"])}</div>' if f.get("context") else ""
        parts.append(f'<li><span class="{_e(sev)}">{_e(sev)}</span> <code>{_e(f.get("kind"))}</code> at '
                     f"{_e(f.get('at'))}{delay}: {_e(f.get('summary'))}{context}"
                     + (f"<pre>{_e(evidence)}</pre>" if evidence else "") + "</li>")
    parts.append("</ol>")
    return "".join(parts)


def to_html_fragment(report: Report) -> str:
    """The report as a ``<div>`` with its own style (what Jupyter shows)."""
    return f'<div class="jd-report"><style>{_CSS}</style>{_body(report)}</div>'


def to_html(report: Report) -> str:
    """The report as a whole HTML document."""
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            f"<title>{_e(report.title)}</title><style>body{{margin:0;background:#fff}}{_CSS}</style></head>"
            f'<body><div class="jd-report">{_body(report)}</div></body></html>\n')
