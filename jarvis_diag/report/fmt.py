"""How figures read in every output format (pure helpers shared by text, markdown and html)."""

from __future__ import annotations

from jarvis_diag.report import metrics as mx

STATS = ("n", "p50", "p90", "p95", "p99", "max")


def fmt_value(value: float | None, unit: str) -> str:
    """A value for people: ms with one decimal below 100 ms, whole ms below 10 s, then
    seconds; counts as plain numbers, a mean per cycle to two decimals (0.36, not 0.363636)."""
    if value is None:
        return "—"
    if unit != "ms":
        if float(value).is_integer():
            return f"{int(value)}"
        if abs(value) < 0.01:  # (a small rate is not 0)
            return f"{value:.1g}"
        return f"{value:.2f}".rstrip("0").rstrip(".")
    if abs(value) >= 10_000:
        return f"{value / 1000:.2f} s"
    if abs(value) >= 100:
        return f"{value:.0f} ms"
    return f"{value:.1f} ms"


def fmt_signed(value: float | None, unit: str) -> str:
    """A difference: '+4.2 ms', '−1'; one that reads as zero has no sign ('0', '0.0 ms')."""
    if value is None:
        return "—"
    text = fmt_value(abs(value), unit)
    if not any(c in "123456789" for c in text):
        return text
    return ("+" if value > 0 else "−") + text


def summary_cells(summary: mx.Summary) -> list[str]:
    """n, p50, p90, p95, p99, max; a percentile that is only the largest value seen gets '*'."""
    if summary.n == 0:
        return ["0", "—", "—", "—", "—", "—"]
    unresolved = set(summary.unresolved)
    cells = [str(summary.n)]
    for q in mx.PERCENTILES:
        cells.append(fmt_value(summary.percentiles[q], "ms") + ("*" if f"p{q}" in unresolved else ""))
    cells.append(fmt_value(summary.max, "ms"))
    return cells


def outcomes_text(outcomes: dict[str, int]) -> str:
    # (by semicolons: an outcome's own name has a comma, "ready, not recovered")
    return "; ".join(f"{k} {v}" for k, v in outcomes.items()) or "—"


def records_text(info: dict) -> str:
    """'sim, 1 record' / 'logs, 18 records': what an input held ('sim, run R, 9 records' for
    one run of a file holding several); 'logs, findings only' for the logs of a run folder,
    whose figures come from its results."""
    if info.get("findings_only"):
        return f"{info['kind']}, findings only"
    n = info["records"]
    run = f"run {info['run']}, " if info.get("run") is not None else ""  # (one of a file's several runs)
    return f"{info['kind']}, {run}{n} record{'' if n == 1 else 's'}"


MAX_PATHS_CHARS = 300  # logs given one by one (a shell glob of 300 page logs) make a path list this long at most
CUT_COMMAND = "cut: it names every log given"


def short_paths(text: str) -> str:
    """A list of input paths ("a, b, c") as a report shows it: cut with how many more there
    are (the JSON report keeps them all), so that 300 page logs given one by one do not
    fill the report, once per case."""
    if len(text) <= MAX_PATHS_CHARS:
        return text
    head = text[:MAX_PATHS_CHARS]
    # (a path is never cut: cut, it lost its file name; the first is named whatever its length)
    head = head.rsplit(", ", 1)[0] if ", " in head else text.split(", ", 1)[0]
    more = text[len(head):].count(", ")
    return f"{head} … ({more} more)" if more else text


def cut_command(command: str) -> tuple[str, bool]:
    """(the command, False), or the start of one naming too many logs to show and True."""
    if len(command) <= MAX_PATHS_CHARS:
        return command, False
    return command[:MAX_PATHS_CHARS].rsplit(" ", 1)[0] + " …", True


def breakdown_text(phases: dict[str, float]) -> str:
    """'connect 55.0 ms (80%) + authenticate 3.0 ms (4%) + ...'."""
    total = sum(phases.values())
    parts = []
    for name, ms in phases.items():
        if ms <= 0 < total:  # a phase that took nothing only adds noise here (the JSON keeps it)
            continue
        share = f" ({ms / total:.0%})" if total > 0 else ""
        parts.append(f"{name} {fmt_value(ms, 'ms')}{share}")
    return " + ".join(parts)


def interval_text(diff: mx.Difference, unit: str) -> str:
    if diff.ci_low is None:
        return "—"
    return f"[{fmt_signed(diff.ci_low, unit)}, {fmt_signed(diff.ci_high, unit)}]"


def small_n_note(metrics) -> str:
    """'small n (< 20 cases, tail percentiles mean little): new-session, T1' or ''."""
    small = [m.name for m in metrics if 0 < m.summary.n < mx.SMALL_N]
    return f"Small n (< {mx.SMALL_N} cases, tail percentiles mean little): {', '.join(small)}." if small else ""


def latency_rows(metrics) -> tuple[list[tuple[object, list[str], str]], str]:
    """(metric, its summary cells, its outcomes text) for each metric, and the note under the table."""
    rows, flagged = [], False
    for m in metrics:
        cells = summary_cells(m.summary)
        flagged = flagged or any("*" in c for c in cells)
        outcomes = outcomes_text(m.outcomes)
        if m.agent_start_share is not None:
            outcomes += f"; agent start {m.agent_start_share:.0%} of the time"
        rows.append((m, cells, outcomes))
    note = " ".join(n for n in (PERCENTILE_NOTE, UNRESOLVED_NOTE if flagged else "", small_n_note(metrics)) if n)
    return rows, note


UNRESOLVED_NOTE = "* no case lies above this percentile, so it is just the largest value seen (too few cases)."
PERCENTILE_NOTE = "Percentiles are exact (nearest rank: the value at rank ceil(q/100*n) of the sorted cases)."


CLEAR_VERDICTS = ("faster", "slower", "fewer", "more")
NOT_ENOUGH = "not enough data"
NOT_COMPARABLE = "not comparable"  # (the sides measure it differently: see model._compare)


def verdict_text(row) -> str:
    """A comparison row's verdict as a reader sees it: 'not enough data' says which side had
    too few units and how many a verdict needs ('baseline 2 cycles, candidate 2 cycles; 5
    needed', when the cases were of fewer cycles), or what a side with none had instead
    ('baseline none of 12 (not recovered 12)', when none of its cycles recovered), so that it
    does not read as a failure to measure."""
    if row.verdict != NOT_ENOUGH:
        return row.verdict
    d = row.difference
    needed = mx.MIN_UNITS_OF_COUNTS if d.statistic == "mean" else mx.MIN_UNITS
    few, nones = [], 0
    for side, s, units, word, outcomes in (
            ("baseline", row.baseline, d.baseline_units, row.unit_words[0], row.outcomes[0]),
            ("candidate", row.candidate, d.candidate_units, row.unit_words[1], row.outcomes[1])):
        if units >= needed:
            continue
        if not s.n and outcomes:  # (its cycles had none: what they had instead)
            few.append(f"{side} none of {sum(outcomes.values())} ({outcomes_text(outcomes)})")
            nones += 1
            continue
        if units == s.n:
            word = "case"
        few.append(f"{side} {units} {word if units == 1 else ' or '.join(w + 's' for w in word.split(' or '))}")
    if not few:
        return NOT_ENOUGH
    # (how many a verdict needs says nothing where a side has none)
    return f"{NOT_ENOUGH}: {', '.join(few)}" + ("" if nones == len(few) else f"; {needed} needed")


def side_value(row, side: str) -> str:
    """A comparison side's value with its number of cases: '8.8 ms (n 12)'."""
    d, s = row.difference, getattr(row, side)
    return f"{fmt_value(getattr(d, side), row.unit)} (n {s.n})"


def _count_change(row) -> str:
    """'12 of 12 cycles -> 0 of 12' (unrecovered) or '30 messages in 12 cycles -> 0 in 12'
    (lost, duplicated): the totals behind a mean per cycle, which alone ('1 -> 0') hides how
    many cycles each side had."""
    b, c = row.baseline, row.candidate
    total_b, total_c = (round((s.mean or 0.0) * s.n) for s in (b, c))
    unit = row.per or "cycle"
    units = unit if b.n == 1 else {"cycle or episode": "cycles or episodes"}.get(unit, unit + "s")
    if row.metric == "unrecovered":
        return f"{total_b} of {b.n} {units} -> {total_c} of {c.n}"
    messages = "message" if total_b == 1 else "messages"
    return f"{total_b} {messages} in {b.n} {units} -> {total_c} in {c.n}"


def _severities(counts: dict[str, int]) -> str:
    said = [f"{counts[sev]} {sev}" for sev in ("critical", "warning") if counts.get(sev)]
    return " and ".join(said) or "none"


def findings_headline(change) -> str:
    """'findings: fewer, 9 critical and 16 warning -> none (callback-desync 24 -> 0, ...)', or ''
    when both sides have the same findings of warning or worse, kind by kind."""
    if change is None or all(b == c for b, c in change.kinds.values()):
        return ""
    b, c = ((d.get("critical", 0), d.get("warning", 0)) for d in (change.baseline, change.candidate))
    verdict = "fewer" if b > c else "more"  # (critical first, then warnings)
    kinds = [f"{k} {nb} -> {nc}" for k, (nb, nc) in change.kinds.items() if nb != nc]
    more = f", {len(kinds) - 4} more kinds" if len(kinds) > 4 else ""
    return (f"findings: {verdict}, {_severities(change.baseline)} -> {_severities(change.candidate)} "
            f"({', '.join(kinds[:4])}{more})")


def comparison_headlines(comparison) -> list[str]:
    """One line per metric whose difference is clear, counts first (what was lost or did not
    recover, then how fast), e.g. 'unrecovered: fewer, 12 of 12 cycles -> 0 of 12, per cycle
    1 -> 0 (−1, 95% CI [−1, −1])' or 'recovery: faster, p50 88.7 ms -> 68.5 ms (−20.2 ms, 95%
    CI [−22.8 ms, −17.3 ms])'; 'no clear difference' when none is, and 'not enough data' when
    no metric has enough cases to compare. The findings' line, when they changed, comes first."""
    if comparison is None:
        return []
    found = findings_headline(comparison.findings)
    head = [found] if found else []
    one_side = [line for r in comparison.rows if (line := _one_side_only(r))]
    if comparison.rows and all(r.verdict == NOT_ENOUGH for r in comparison.rows):
        return head + (one_side or ["not enough data to compare: too few cases on one side or both"])
    rows = [r for r in comparison.rows if r.unit == "count"] + [r for r in comparison.rows if r.unit != "count"]
    lines = []
    for r in rows:
        if r.verdict not in CLEAR_VERDICTS:
            continue
        d = r.difference
        stat = f"{_count_change(r)}, per {r.per or 'cycle'}" if d.statistic == "mean" else d.statistic
        lines.append(f"{r.metric}: {r.verdict}, {stat} {fmt_value(d.baseline, r.unit)} -> "
                     f"{fmt_value(d.candidate, r.unit)} ({fmt_signed(d.diff, r.unit)}, 95% CI {interval_text(d, r.unit)})")
    lines += one_side
    apart = [r.metric for r in rows if r.verdict == NOT_COMPARABLE]
    if not lines:
        lines = ["no clear difference in any metric" + (f" that compares ({', '.join(apart)}: not comparable)"
                                                        if apart else "")]
    return head + lines


def _one_side_only(row) -> str:
    """For a time that only one side has (none of the other's cycles had one, as when none
    recovered, and enough of this side's for a verdict): 'live: none in the baseline (no output
    seen 5), p50 564 ms (n 5) in the candidate'; else ''. No interval compares a time with
    none, but that one side never had it is the change."""
    if row.verdict != NOT_ENOUGH or row.unit == "count":
        return ""
    d = row.difference
    sides = (("baseline", row.baseline, d.baseline, d.baseline_units, row.outcomes[0]),
             ("candidate", row.candidate, d.candidate, d.candidate_units, row.outcomes[1]))
    for (none, s, _, _, outcomes), (some, other, value, units, _) in (sides, sides[::-1]):
        if not s.n and outcomes and units >= mx.MIN_UNITS:
            return (f"{row.metric}: none in the {none} ({outcomes_text(outcomes)}), p50 {fmt_value(value, row.unit)} "
                    f"(n {other.n}) in the {some}")
    return ""


# Said under "Where the time goes" when a breakdown has server phases: the same names mean a
# time since START in the latency table and a phase's own length in the breakdown.
PHASES_NOTE = ("In these phases, T1..T5 are each server phase's own length (from the mark before it to its "
               "own); in the latency table, T1..T6 are times since `Chat connect START`.")


def phases_note(metrics) -> str:
    """PHASES_NOTE when a breakdown has server phases, else ''."""
    return PHASES_NOTE if any("T1" in seg for m in metrics for seg in m.breakdown.values()) else ""
