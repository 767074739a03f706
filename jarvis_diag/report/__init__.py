"""Latency reports of simulation runs, timelines and raw logs.

In a notebook::

    from jarvis_diag.report import make_report
    make_report(["after/"], compare=["before/"], budgets=["recovery.p95<=500ms"])  # shows itself

The Report renders itself in a terminal (rich) and in Jupyter; ``to_markdown``,
``to_html`` and ``Report.to_json_dict`` give the other formats.
"""

from __future__ import annotations

from collections.abc import Sequence
from numbers import Integral
from pathlib import Path

from jarvis_diag.errors import DiagError
from jarvis_diag.report.budgets import parse_budget
from jarvis_diag.report.dataset import COUNTS, METRICS, Dataset
from jarvis_diag.report.html import to_html
from jarvis_diag.report.inputs import load_dataset
from jarvis_diag.report.markdown import to_markdown
from jarvis_diag.report.metrics import DEFAULT_RESAMPLES, DEFAULT_SEED
from jarvis_diag.report.model import Report, build_report, one_line_title
from jarvis_diag.report.text import to_text

__all__ = ["Dataset", "Report", "build_report", "load_dataset", "make_report", "to_html", "to_markdown", "to_text"]


def make_report(
    inputs: str | Path | Sequence[str],
    compare: str | Path | Sequence[str] | None = None,
    budgets: str | Sequence[str] = (),
    title: str | None = None,
    seed: int = DEFAULT_SEED,
    resamples: int = DEFAULT_RESAMPLES,
) -> Report:
    """Read ``inputs`` (and the baseline ``compare``), check ``budgets`` such as
    ``"recovery.p95<=500ms"``, and return the Report (each argument one item or a list).
    Bad input raises DiagError.

    Example::

        report = jd.make_report(["after/results.jsonl"], compare=["before/results.jsonl"],
                                budgets=["recovery.p95<=500ms"])
        report.to_json_dict()["comparison"]["metrics"]["recovery"]["verdict"]
        Path("report.html").write_text(jd.report.to_html(report))
    """
    # (a whole number of numpy's is one too: a notebook's np.int64 count)
    if isinstance(resamples, bool) or not isinstance(resamples, Integral) or resamples < 1:
        raise DiagError(f"resamples must be a whole number of at least 1, not {resamples!r}")
    resamples = int(resamples)
    # (numpy's generator takes no negative seed: it was a ValueError from deep in numpy)
    if isinstance(seed, bool) or not isinstance(seed, Integral) or seed < 0:
        raise DiagError(f"seed must be a whole number of 0 or more, not {seed!r}")
    seed = int(seed)
    title = one_line_title(title)  # (checked before the inputs are read, as the others)
    inputs, compare, budgets = ([x] if isinstance(x, str | Path) else x for x in (inputs, compare, budgets))
    rules = [parse_budget(b, tuple(METRICS), tuple(COUNTS)) for b in budgets]
    notes: list[str] = []
    ds = load_dataset([str(p) for p in inputs], None, notes)
    baseline = load_dataset([str(p) for p in compare], None, notes) if compare else None
    return build_report(ds, baseline, rules, title, seed=seed, resamples=resamples, notes=notes)
