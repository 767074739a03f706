"""Latency reports of simulation runs, timelines and raw logs.

In a notebook::

    from jarvis_diag.report import make_report
    make_report(["after/"], compare=["before/"], budgets=["recovery.p95<=500ms"])  # shows itself

The Report renders itself in a terminal (rich) and in Jupyter; ``to_markdown``,
``to_html`` and ``Report.to_json_dict`` give the other formats.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from numbers import Integral
from pathlib import Path

from jarvis_diag.errors import DiagError, paths_argument
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
    inputs: str | Path | Sequence[str | Path],
    compare: str | Path | Sequence[str | Path] | None = None,
    budgets: str | Sequence[str] | None = (),
    title: str | None = None,
    seed: int = DEFAULT_SEED,
    resamples: int = DEFAULT_RESAMPLES,
) -> Report:
    """Read ``inputs`` (and the baseline ``compare``), check ``budgets`` such as
    ``"recovery.p95<=500ms"``, and return the Report (each argument one item or a list;
    a path a str or a pathlib.Path). Bad input, an argument of the wrong type included,
    raises DiagError saying which argument and what it takes.

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
    inputs = paths_argument("inputs", inputs)
    compare = None if compare is None else paths_argument("compare", compare)
    rules = [parse_budget(b, tuple(METRICS), tuple(COUNTS)) for b in _budgets(budgets)]
    notes: list[str] = []
    ds = load_dataset(inputs, None, notes)
    baseline = load_dataset(compare, None, notes) if compare else None
    return build_report(ds, baseline, rules, title, seed=seed, resamples=resamples, notes=notes)


def _budgets(value: object) -> list[str]:
    """``value`` (a budget such as ``"recovery.p95<=500ms"``, a list of them, or None: none)
    as a list; a DiagError naming the argument for anything else."""
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    what = "budgets must be a budget such as 'recovery.p95<=500ms' or a list of them"
    if isinstance(value, bytes | bytearray) or not isinstance(value, Iterable):
        raise DiagError(f"{what}, not {value!r}")
    budgets = list(value)
    for b in budgets:
        if not isinstance(b, str):
            raise DiagError(f"{what}; it holds {b!r}")
    return budgets
