"""Budgets: ``METRIC.STAT<=VALUE`` rules that turn a report into a CI gate (pure).

``recovery.p95<=500ms``, ``switch.max<2s``, ``lost.count<=0``, ``recovery.n>=100``.
STAT is n, p50, p90, p95, p99, max or mean for a time metric, count or affected for a count.
VALUE takes a unit for times (us, ms, s, m; a bare number means ms) and none for counts.
"""

from __future__ import annotations

import operator
import re
from dataclasses import dataclass

from jarvis_diag.errors import DiagError
from jarvis_diag.report.fmt import fmt_value

TIME_STATS = ("n", "p50", "p90", "p95", "p99", "max", "mean")
COUNT_STATS = ("count", "affected")
_OPS = {"<=": operator.le, "<": operator.lt, ">=": operator.ge, ">": operator.gt, "==": operator.eq}
_UNITS_MS = {"": 1.0, "us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0}
_BUDGET = re.compile(r"^\s*(?P<metric>[A-Za-z][\w.-]*?)\.(?P<stat>[a-z]+\d*)\s*(?P<op><=|>=|==|<|>)\s*"
                     r"(?P<value>\d+(?:\.\d+)?)\s*(?P<unit>[a-z]*)\s*$")
SYNTAX = "METRIC.STAT<=VALUE, e.g. 'recovery.p95<=500ms' or 'lost.count<=0'"


@dataclass(frozen=True, slots=True)
class Budget:
    text: str
    metric: str
    stat: str
    op: str
    limit: float  # ms for time statistics, a plain number for n and counts
    limit_text: str = ""  # the limit as the user wrote it: "500 ms", "0.5 s", "0"

    def holds(self, actual: float) -> bool:
        return _OPS[self.op](actual, self.limit)


def parse_budget(text: str, time_metrics: tuple[str, ...], count_metrics: tuple[str, ...]) -> Budget:
    """One budget rule, or a DiagError (exit 2) saying in one line what is wrong."""
    m = _BUDGET.match(text)
    if not m:
        raise DiagError(f"bad budget {text!r}: expected {SYNTAX}")
    metric, stat, op, unit = m["metric"], m["stat"], m["op"], m["unit"]
    value = float(m["value"])
    if metric in count_metrics:
        if stat not in COUNT_STATS:
            raise DiagError(f"bad budget {text!r}: {metric} is a count; use {metric}.count or {metric}.affected")
        if unit:
            raise DiagError(f"bad budget {text!r}: a count takes no unit")
        return Budget(text, metric, stat, op, value, f"{value:g}")
    if metric not in time_metrics:
        known = ", ".join((*time_metrics, *count_metrics))
        raise DiagError(f"bad budget {text!r}: unknown metric {metric!r} (known: {known})")
    if stat not in TIME_STATS:
        raise DiagError(f"bad budget {text!r}: unknown statistic {stat!r} (use one of {', '.join(TIME_STATS)})")
    if stat == "n":
        if unit:
            raise DiagError(f"bad budget {text!r}: n is a number of cases and takes no unit")
        return Budget(text, metric, stat, op, value, f"{value:g}")
    if unit not in _UNITS_MS:
        raise DiagError(f"bad budget {text!r}: unknown unit {unit!r} (use us, ms, s or m)")
    return Budget(text, metric, stat, op, value * _UNITS_MS[unit], f"{value:g} {unit or 'ms'}")


@dataclass(frozen=True, slots=True)
class BudgetResult:
    budget: Budget
    actual: float | None  # None: the metric has no data
    passed: bool
    message: str

    def to_json_dict(self) -> dict:
        b = self.budget
        return {"budget": b.text, "metric": b.metric, "stat": b.stat, "op": b.op, "limit": b.limit,
                "actual": None if self.actual is None else round(self.actual, 3), "passed": self.passed,
                "message": self.message}


def evaluate(budget: Budget, actual: float | None, unit: str) -> BudgetResult:
    """Check one budget against the report's value; a statistic with no data fails."""
    name = f"{budget.metric}.{budget.stat}"
    limit = budget.limit_text or fmt_value(budget.limit, unit)
    if actual is None:
        return BudgetResult(budget, None, False, f"{name}: no data (budget {budget.op} {limit})")
    ok = budget.holds(actual)
    word = "ok" if ok else "FAILED"
    return BudgetResult(budget, actual, ok, f"{name} = {fmt_value(actual, unit)} ({word}: budget {budget.op} {limit})")
