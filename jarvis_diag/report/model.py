"""The Report: every figure of a latency report, computed once, rendered by text / markdown /
html / json writers, and able to show itself in a terminal (rich) and in Jupyter."""

from __future__ import annotations

import os
import shlex
from collections import Counter
from dataclasses import dataclass, field

import numpy as np

from jarvis_diag.errors import DiagError
from jarvis_diag.report import metrics as mx
from jarvis_diag.report.budgets import Budget, BudgetResult, evaluate
from jarvis_diag.report.dataset import (
    COUNTS,
    DETECTION_METRICS,
    METRICS,
    READY_NOT_RECOVERED,
    Dataset,
    Ref,
    Samples,
    Waterfall,
    check_sides,
    ref_json,
    unrecovered_description,
)
from jarvis_diag.report.fmt import NOT_COMPARABLE

SCHEMA = "jarvis-diag.report/1"
SLOWEST = 5  # slowest cases listed per metric
TAIL_PERCENT = 5  # the "slowest 5%" bar of the phase breakdown
_SEVERITY_RANK = {"critical": 0, "warning": 1, "info": 2}
_LOWER_WORD = {"ms": ("faster", "slower"), "count": ("fewer", "more")}


@dataclass
class MetricReport:
    name: str
    description: str
    unit: str  # "ms"
    summary: mx.Summary
    outcomes: dict[str, int]
    phases: tuple[str, ...]  # segment names of the stacked breakdown, in order
    breakdown: dict[str, dict[str, float]]  # "all" / "slowest 5%" -> segment -> mean ms
    slowest: list[dict]
    values: np.ndarray = field(repr=False)  # sorted, for charts
    agent_start_share: float | None = None  # new-session: share of total time spent creating

    def to_json_dict(self) -> dict:
        out = {"description": self.description, "unit": self.unit, **self.summary.to_json_dict(),
               "outcomes": dict(self.outcomes),
               "phases": {k: {p: round(v, 3) for p, v in seg.items()} for k, seg in self.breakdown.items()},
               "slowest": self.slowest}
        if self.agent_start_share is not None:
            out["agent_start_share"] = round(self.agent_start_share, 4)
        return out


@dataclass
class CountReport:
    name: str
    description: str
    unit: str  # what one count is per: cycles / episodes
    total: int
    units: int
    affected: int
    where: list[dict]  # the first few cycles/episodes with a non-zero count

    def to_json_dict(self) -> dict:
        return {"description": self.description, "count": self.total, "per": self.unit, "units": self.units,
                "affected": self.affected, "where": self.where}


@dataclass
class CompareRow:
    metric: str
    unit: str  # "ms" or "count"
    baseline: mx.Summary
    candidate: mx.Summary
    difference: mx.Difference
    verdict: str  # faster | slower | fewer | more | no clear difference | not enough data
    baseline_values: np.ndarray = field(repr=False, default_factory=lambda: np.empty(0))
    per: str = ""  # a count's mean is per: "cycle", "episode" or "cycle or episode"
    # what a unit of each side's cases is (baseline, candidate): "cycle", "reconnect" or both
    unit_words: tuple[str, str] = ("case", "case")
    # each side's outcomes of the metric (a time): what its cycles without a case had instead
    outcomes: tuple[dict[str, int], dict[str, int]] = ({}, {})

    def to_json_dict(self) -> dict:
        return {"unit": self.unit, "baseline": self.baseline.to_json_dict(),
                "candidate": self.candidate.to_json_dict(), "difference": self.difference.to_json_dict(),
                "verdict": self.verdict}


SEVERITIES = ("critical", "warning", "info")


@dataclass
class FindingsChange:
    """How many findings each side has, by severity, and by kind for those of warning or
    worse (what went wrong: a fix that removes a 30 s desync shows here, not in a p50)."""

    baseline: dict[str, int]  # severity -> findings
    candidate: dict[str, int]
    kinds: dict[str, tuple[int, int]]  # kind -> (baseline, candidate), warning or worse

    def to_json_dict(self) -> dict:
        return {"baseline": dict(self.baseline), "candidate": dict(self.candidate),
                "kinds": {k: {"baseline": b, "candidate": c} for k, (b, c) in self.kinds.items()}}


def findings_change(baseline: list[dict], candidate: list[dict]) -> FindingsChange:
    def by_severity(findings):
        return {sev: sum(1 for f in findings if f.get("severity") == sev) for sev in SEVERITIES}

    kinds: dict[str, list[int]] = {}
    for side, findings in enumerate((baseline, candidate)):
        for f in findings:
            if f.get("severity") in ("critical", "warning"):
                kinds.setdefault(str(f.get("kind")), [0, 0])[side] += 1
    order = sorted(kinds, key=lambda k: (-max(kinds[k]), k))
    return FindingsChange(by_severity(baseline), by_severity(candidate), {k: tuple(kinds[k]) for k in order})


@dataclass
class Comparison:
    baseline_inputs: list[dict]
    rows: list[CompareRow]
    resamples: int
    seed: int
    findings: FindingsChange = field(default_factory=lambda: FindingsChange({}, {}, {}))

    @property
    def statistics(self) -> str:
        """What is compared: 'p50 for times, mean per cycle for counts' (per episode for logs);
        only what the rows hold (logs with no episode have no count to compare)."""
        pers = {r.per for r in self.rows if r.unit == "count"}
        counts = f"mean per {pers.pop() if len(pers) == 1 else _PER['cycles/episodes']} for counts" if pers else ""
        times = "p50 for times" if any(r.unit == "ms" for r in self.rows) or not pers else ""
        return ", ".join(t for t in (times, counts) if t)

    def to_json_dict(self) -> dict:
        return {"baseline_inputs": self.baseline_inputs, "resamples": self.resamples, "seed": self.seed,
                "method": f"percentile bootstrap of candidate - baseline ({self.statistics})",
                "metrics": {r.metric: r.to_json_dict() for r in self.rows},
                "findings": self.findings.to_json_dict()}


# what one count is per (CountTotals.unit) -> the word after "mean per"
_PER = {"cycles": "cycle", "episodes": "episode", "cycles/episodes": "cycle or episode"}


@dataclass(repr=False)
class Report:
    """A latency report: per metric (``metrics``: percentiles, phases, slowest cases) and per
    count (``counts``), the findings of its inputs, the worst episode's waterfall, and, with
    a baseline, the ``comparison``; ``budgets`` checked. It renders itself in a terminal
    (rich) and in a notebook (HTML); ``to_json_dict()`` is the ``report --format json``
    document (docs/formats.md)."""

    title: str
    inputs: list[dict]
    metrics: list[MetricReport]
    counts: list[CountReport]
    findings: list[dict]
    waterfall: Waterfall | None
    comparison: Comparison | None = None
    budgets: list[BudgetResult] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def budgets_failed(self) -> list[BudgetResult]:
        return [b for b in self.budgets if not b.passed]

    def metric(self, name: str) -> MetricReport | None:
        """The metric of that name (``recovery``, ``switch``, ``T1`` ...), None when the
        inputs have no data for it."""
        return next((m for m in self.metrics if m.name == name), None)

    def __repr__(self) -> str:  # (a glance, not the whole dataclass: print(report) or to_json_dict() for that)
        budgets = f", budgets {len(self.budgets) - len(self.budgets_failed)}/{len(self.budgets)} passed" \
            if self.budgets else ""
        compared = ", compared with a baseline" if self.comparison is not None else ""
        return (f"<Report {self.title!r}: {len(self.inputs)} input(s), metrics {[m.name for m in self.metrics]}, "
                f"{len(self.findings)} finding(s){compared}{budgets}>")

    def to_json_dict(self) -> dict:
        """The ``report --format json`` document (schema jarvis-diag.report/1)."""
        return {
            "schema": SCHEMA,
            "title": self.title,
            "inputs": self.inputs,
            "percentile_method": "nearest-rank",
            "metrics": {m.name: m.to_json_dict() for m in self.metrics},
            "counts": {c.name: c.to_json_dict() for c in self.counts},
            "findings": self.findings,
            "worst_episode": None if self.waterfall is None else self.waterfall.to_json_dict(),
            "comparison": None if self.comparison is None else self.comparison.to_json_dict(),
            "budgets": [b.to_json_dict() for b in self.budgets],
            "budgets_passed": not self.budgets_failed,
            "notes": self.notes,
        }

    def __rich_console__(self, console, options):
        from jarvis_diag.report.text import renderables

        yield from renderables(self)

    def _repr_html_(self) -> str:
        from jarvis_diag.report.html import to_html_fragment

        return to_html_fragment(self)


# ---- building ------------------------------------------------------------------------


def _timeline_cmd(ds: Dataset, ref: Ref) -> str:
    """The command that shows this case in its timeline."""
    if ref.line is not None:  # a results.jsonl record: the client's log is next to it
        folder = os.path.dirname(ref.path) or "."
        cmd = f"jarvis-diag timeline {shlex.quote(folder)}"
        return cmd + (f" --client {ref.client}" if ref.client else "")
    cmd = ds.timeline_hint.get(ref.path, f"jarvis-diag timeline {ref.path}")
    if ref.session:
        return cmd + f" --session {str(ref.session)[:8]}"
    return cmd + (f" --client {ref.client}" if ref.client else "")


def _case_json(ds: Dataset, ref: Ref, value: float) -> dict:
    return {"value_ms": round(float(value), 3), **ref_json(ref), "timeline": _timeline_cmd(ds, ref)}


def _metric_report(ds: Dataset, name: str, samples: Samples) -> MetricReport:
    description, phase_names = METRICS[name]
    values = np.asarray(samples.values, dtype=float)
    order = np.argsort(values, kind="stable")
    summary = mx.summarize(values)
    breakdown: dict[str, dict[str, float]] = {}
    present = [p for p in phase_names if p in samples.phases]
    if present and samples.phased:
        # only cases that have phases (simulation attaches have none, timeline attaches do)
        phased = np.asarray(samples.phased)
        cols = {p: np.asarray(samples.phases[p], dtype=float)[phased] for p in present}
        breakdown["all"] = {p: float(c.mean()) for p, c in cols.items()}
        by_value = np.argsort(values[phased], kind="stable")
        tail = by_value[mx.nearest_rank(phased.size, 100 - TAIL_PERCENT):]
        breakdown[f"slowest {TAIL_PERCENT}%"] = {p: float(c[tail].mean()) for p, c in cols.items()}
    slowest = [_case_json(ds, samples.refs[i], values[i]) for i in order[::-1][:SLOWEST]]
    share = None
    if name == "new-session" and values.size and values.sum() > 0 and samples.agent_start_ms:
        share = samples.agent_start_ms / float(values.sum())
    return MetricReport(name, description, "ms", summary, dict(samples.outcomes), tuple(present), breakdown,
                        slowest, values[order], share)


def _count_report(ds: Dataset, name: str) -> CountReport:
    c = ds.counts[name]
    description = unrecovered_description(c.unit) if name == "unrecovered" else COUNTS[name]
    return CountReport(name, description, c.unit, int(sum(c.per_unit)), len(c.per_unit), len(c.affected),
                       [ref_json(r) for r in c.affected[:SLOWEST]])


def _rank_findings(findings: list[dict]) -> list[dict]:
    ranked = sorted(findings, key=lambda f: (_SEVERITY_RANK.get(f.get("severity"), 3), -(f.get("delay_ms") or 0),
                                             -(f.get("count") or 0), f.get("at") or ""))
    return [{"rank": i + 1, **f} for i, f in enumerate(ranked)]  # (rank first, as docs/formats.md shows it)


def _compare(ds: Dataset, base: Dataset, resamples: int, seed: int, starts: tuple[str, str] | None) -> Comparison:
    """``starts``: see :func:`_detection_starts` (not None: the detection metrics are not comparable)."""
    rows: list[CompareRow] = []
    for name in METRICS:
        b, c = base.metrics[name].values, ds.metrics[name].values
        if not b and not c:
            continue
        diff = mx.compare(b, c, "p50", resamples, seed, [r.unit for r in base.metrics[name].refs],
                          [r.unit for r in ds.metrics[name].refs])
        verdict = NOT_COMPARABLE if name in DETECTION_METRICS and starts is not None else _verdict(diff, "ms")
        rows.append(CompareRow(name, "ms", mx.summarize(b), mx.summarize(c), diff, verdict,
                               np.sort(np.asarray(b, dtype=float)),
                               unit_words=(_unit_word(base.metrics[name]), _unit_word(ds.metrics[name])),
                               outcomes=(dict(base.metrics[name].outcomes), dict(ds.metrics[name].outcomes))))
    for name in COUNTS:
        b, c = base.counts[name].per_unit, ds.counts[name].per_unit
        if not b and not c:
            continue
        diff = mx.compare(b, c, "mean", resamples, seed, min_units=mx.MIN_UNITS_OF_COUNTS)
        units = {side.counts[name].unit for side in (base, ds) if side.counts[name].per_unit}
        per = _PER[units.pop()] if len(units) == 1 else _PER["cycles/episodes"]
        # (simulated cycles on one side, episodes read from logs on the other: each counts by
        # its own measure, a cycle that got its chats back but no live reply is unrecovered,
        # an episode that got them back is not)
        verdict = NOT_COMPARABLE if b and c and counted_apart(base, ds, name) else _verdict(diff, "count")
        rows.append(CompareRow(name, "count", mx.summarize(b), mx.summarize(c), diff, verdict, per=per))
    shared = shared_sources(ds, base)[0]
    return Comparison([_input_json(i) for i in base.inputs], rows, resamples, seed,
                      findings_change(*(_comparable_findings(side, shared) for side in (base, ds))))


def _unit_word(samples) -> str:
    """What the units of a metric's cases are: cycles (results records), reconnects (a page's
    new socket, read from logs), or both."""
    kinds = {"cycle" if r.line is not None else "reconnect" for r in samples.refs if r.unit is not None}
    return " or ".join(sorted(kinds)) or "case"


def _source_kinds(ds: Dataset) -> dict[str, str]:
    """Input path -> 'results' or 'logs' (a timeline is read logs): what a finding's
    ``source`` came from."""
    return {i.path: "results" if i.kind == "sim" else "logs" for i in ds.inputs}


def shared_sources(ds: Dataset, base: Dataset) -> tuple[set[str], set[str]]:
    """(what both sides read: 'results', 'logs'; what only one did). A side whose logs
    were not read (a results file given alone) cannot show what logs show (a callback-desync),
    nor logs what results show (not-recovered): only findings of what both read compare."""
    a, b = set(_source_kinds(ds).values()), set(_source_kinds(base).values())
    return a & b, a ^ b


def _comparable_findings(side: Dataset, shared: set[str]) -> list[dict]:
    kinds = _source_kinds(side)
    return [f for f in side.findings if kinds.get(f.get("source"), "logs") in shared]


def counted_apart(base: Dataset, ds: Dataset, name: str) -> bool:
    """Whether the two sides count ``name`` in different units (cycles on one, episodes on
    the other): their means are no measure of a change."""
    return base.counts[name].unit != ds.counts[name].unit


def _detection_starts(ds: Dataset, base: Dataset) -> tuple[str, str] | None:
    """(the baseline's, the candidate's) usual start of a detection case when they differ:
    a page that logs going away is timed from then, one that does not from a later
    disconnect, so their detection times measure from different moments; None when alike."""
    if not ds.detection_starts or not base.detection_starts:
        return None
    b, c = base.detection_starts.most_common(1)[0][0], ds.detection_starts.most_common(1)[0][0]
    return None if b == c else (b, c)


def _verdict(diff: mx.Difference, unit: str) -> str:
    lower, higher = _LOWER_WORD[unit]
    return {"lower": lower, "higher": higher}.get(diff.verdict, diff.verdict)


def _input_json(info) -> dict:
    return {"path": info.path, "paths": info.paths or [info.path], "kind": info.kind, "records": info.records,
            "findings_only": info.findings_only, "run": info.run}


DEFAULT_TITLE = "Connection recovery report"


def one_line_title(title: str | None) -> str:
    """The title a report shows: one line, each run of blanks in ``title`` (line breaks,
    tabs, spaces) one space, the ends trimmed, as a heading holds no line break (a Markdown
    heading ended at it and left the rest as body text); the default when none, or only
    blanks, is given. A title that is no string is a DiagError."""
    if title is None:
        return DEFAULT_TITLE
    if not isinstance(title, str):
        raise DiagError(f"title must be a string (one line of text) or None, not {title!r}")
    return " ".join(title.split()) or DEFAULT_TITLE


def build_report(
    ds: Dataset,
    baseline: Dataset | None = None,
    budgets: list[Budget] | tuple[Budget, ...] = (),
    title: str | None = None,
    seed: int = mx.DEFAULT_SEED,
    resamples: int = mx.DEFAULT_RESAMPLES,
    notes: list[str] | None = None,
) -> Report:
    """Compute the report of ``ds`` (the candidate), compared with ``baseline`` when given,
    with ``budgets`` checked against the candidate; ``title`` is made one line
    (:func:`one_line_title`). A run on both sides (its cycles read in each) is a DiagError."""
    if baseline is not None:
        check_sides(ds, baseline)
    metric_reports = [_metric_report(ds, name, s) for name, s in ds.metrics.items() if s.values or s.outcomes]
    starts = None if baseline is None else _detection_starts(ds, baseline)
    count_reports = [_count_report(ds, name) for name in COUNTS if ds.counts[name].per_unit]
    report = Report(
        title=one_line_title(title),
        inputs=[_input_json(i) for i in ds.inputs],
        metrics=metric_reports,
        counts=count_reports,
        findings=_rank_findings(ds.findings),
        waterfall=ds.waterfall,
        comparison=None if baseline is None else _compare(ds, baseline, resamples, seed, starts),
        notes=list(notes or []),
    )
    ready = ds.metrics["recovery"].outcomes.get(READY_NOT_RECOVERED)
    if ready:
        cycles, times = ("cycle", "its time is") if ready == 1 else ("cycles", "their times are")
        report.notes.append(f"recovery: {ready} {cycles} had every session ready again but did not recover "
                            f"(simulate-mobile also needs the replies to arrive live): {times} left out of the "
                            "recovery figures, as in simulate-mobile's table")
    if baseline is not None and (sources := shared_sources(ds, baseline))[1]:
        shared, one_sided = sources
        words = {"logs": "logs", "results": "results files"}
        what = f"those of the {' and '.join(words[k] for k in sorted(shared))} only" if shared else "none"
        report.notes.append(f"findings: the {' and '.join(words[k] for k in sorted(one_sided))} of one side only "
                            "were read, so the "
                            f"comparison counts {what}; give both sides alike (run folders: results and logs) "
                            "to compare all they show")
    apart = [name for name in COUNTS if baseline is not None and baseline.counts[name].per_unit
             and ds.counts[name].per_unit and counted_apart(baseline, ds, name)]
    if apart:
        report.notes.append(f"{', '.join(apart)}: not comparable: the baseline counts "
                            f"{baseline.counts[apart[0]].unit}, the candidate {ds.counts[apart[0]].unit} (simulated "
                            "cycles need a live reply to recover, episodes read from logs only their chats ready "
                            "again); give both sides alike (run folders: results and logs)")
    if starts is not None:
        report.notes.append(f"detection: not comparable: the baseline's cases are timed from {starts[0]}, the "
                            f"candidate's from {starts[1]}, the first sign of loss each one's logs show")
    report.notes += settings_notes(ds, baseline)
    report.budgets = [check_budget(report, b) for b in budgets]
    return report


def _settings_values(settings: Counter) -> dict[str, Counter]:
    """Each setting's values with their numbers of cycles."""
    values: dict[str, Counter] = {}
    for combo, n in settings.items():
        for name, value in combo:
            values.setdefault(name, Counter())[value] += n
    return values


def _settings_text(settings: Counter) -> str:
    """'profile connmgr, fault close, ...'; a setting of several values with each one's cycles:
    'fault close (3 cycles) or offline (3 cycles)'."""
    parts = []
    for name, counts in _settings_values(settings).items():
        if len(counts) == 1:
            parts.append(f"{name} {next(iter(counts))}")
        else:
            parts.append(f"{name} " + " or ".join(f"{v} ({n} cycle{'' if n == 1 else 's'})"
                                                  for v, n in counts.most_common()))
    return ", ".join(parts)


def settings_notes(ds: Dataset, baseline: Dataset | None) -> list[str]:
    """Notes on simulated runs not run alike: the two sides of a comparison (a difference may
    be the settings', not the change's: a 3g network against a good one, legacy against
    connmgr), and cycles of several settings on one side, whose figures are pooled."""
    notes = []
    for side, data in (("the inputs", ds), ("the baseline", baseline)):
        if data is not None and len(data.settings) > 1:
            notes.append(f"{side} hold simulated cycles run with different settings, pooled in one set of figures: "
                         f"{_settings_text(data.settings)}")
    if baseline is not None and ds.settings and baseline.settings and \
            {k: set(v) for k, v in _settings_values(ds.settings).items()} != \
            {k: set(v) for k, v in _settings_values(baseline.settings).items()}:
        notes.append(f"the two sides were run with different settings (a difference may come from any of them): "
                     f"baseline {_settings_text(baseline.settings)}; candidate {_settings_text(ds.settings)}")
    return notes


def check_budget(report: Report, budget: Budget) -> BudgetResult:
    """One budget against the report's candidate figures."""
    if budget.metric in COUNTS:
        c = next((c for c in report.counts if c.name == budget.metric), None)
        if c is None:
            return evaluate(budget, None, "count")
        return evaluate(budget, float(c.total if budget.stat == "count" else c.affected), "count")
    m = report.metric(budget.metric)
    if m is None or m.summary.n == 0:
        return evaluate(budget, None, "count" if budget.stat == "n" else "ms")
    return evaluate(budget, m.summary.stat(budget.stat), "count" if budget.stat == "n" else "ms")
