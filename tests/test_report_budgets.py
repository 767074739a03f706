"""Budget rules: parsing, units, errors a user can act on, and checking."""

import pytest

from jarvis_diag.errors import DiagError
from jarvis_diag.report.budgets import evaluate, parse_budget
from jarvis_diag.report.dataset import COUNTS, METRICS

TIME, COUNT = tuple(METRICS), tuple(COUNTS)


@pytest.mark.parametrize(("text", "metric", "stat", "op", "limit"), [
    ("recovery.p95<=500ms", "recovery", "p95", "<=", 500.0),
    ("recovery.p95 <= 0.5s", "recovery", "p95", "<=", 500.0),
    ("switch.max<2s", "switch", "max", "<", 2000.0),
    ("new-session.p50<=1m", "new-session", "p50", "<=", 60000.0),
    ("T5.p99<=12", "T5", "p99", "<=", 12.0),  # a bare number is ms
    ("transport.p90<=1500us", "transport", "p90", "<=", 1.5),
    ("recovery.n>=100", "recovery", "n", ">=", 100.0),
    ("lost.count<=0", "lost", "count", "<=", 0.0),
    ("unrecovered.affected==0", "unrecovered", "affected", "==", 0.0),
])
def test_parse(text, metric, stat, op, limit):
    b = parse_budget(text, TIME, COUNT)
    assert (b.metric, b.stat, b.op, b.limit) == (metric, stat, op, limit)


@pytest.mark.parametrize(("text", "says"), [
    ("recovery.p95=<500ms", "expected METRIC.STAT<=VALUE"),
    ("recovery<=500ms", "expected METRIC.STAT<=VALUE"),
    ("recovery.p95<=fast", "expected METRIC.STAT<=VALUE"),
    ("recovry.p95<=500ms", "unknown metric 'recovry'"),
    ("recovery.p42<=500ms", "unknown statistic 'p42'"),
    ("recovery.p95<=500h", "unknown unit 'h'"),
    ("lost.p95<=1", "lost is a count"),
    ("lost.count<=1ms", "a count takes no unit"),
])
def test_bad_budget_is_one_clear_line(text, says):
    with pytest.raises(DiagError) as exc:
        parse_budget(text, TIME, COUNT)
    assert says in str(exc.value) and "\n" not in str(exc.value)
    assert exc.value.exit_code == 2


def test_evaluate():
    b = parse_budget("recovery.p95<=500ms", TIME, COUNT)
    ok = evaluate(b, 499.0, "ms")
    bad = evaluate(b, 812.0, "ms")
    assert ok.passed and not bad.passed
    assert bad.message == "recovery.p95 = 812 ms (FAILED: budget <= 500 ms)"
    missing = evaluate(b, None, "ms")
    assert not missing.passed and "no data" in missing.message
    assert evaluate(b, 500.0, "ms").passed  # the limit itself is within the budget
