"""Simulation results (``results.jsonl`` of ``simulate-mobile``) as DataFrames.

Example::

    from jarvis_diag.results import load_results, session_results
    cycles = load_results("sample_logs/healthy-day/results.jsonl")
    cycles.groupby("profile", observed=True).recovered.mean()
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from jarvis_diag.errors import DiagError, paths_argument

# The columns of every frame, whatever the run: a run where no cycle recovered still has a
# float recovery_ms (all NaN), an empty run still has the columns.
CYCLE_TYPES = {"run": "string", "client": "Int64", "client_id": "string", "profile": "category",
               "fault": "category", "network": "category", "cycle": "Int64", "background_ms": "float64",
               "hidden_at": "datetime64[ns, UTC]", "visible_at": "datetime64[ns, UTC]", "recovered": "boolean",
               "lost": "Int64", "duplicated": "Int64", "failure": "string"}
SESSION_TYPES = {"run": "string", "client": "Int64", "client_id": "string", "profile": "category", "fault": "category",
                 "cycle": "Int64", "session": "string", "temp_id": "string", "live": "boolean", "produced": "Int64",
                 "lost": "Int64", "duplicated": "Int64", "check": "string"}
CYCLE_COLUMNS = tuple(CYCLE_TYPES)  # (a cycle record's own fields, in this order)


def _records(paths: str | Path | list[str | Path]) -> list[dict]:
    """The records of one results.jsonl or several, read as ``report`` reads them: a cut
    last line (a run stopped while writing) is skipped with a warning; any other damaged
    line, or a record with a field of the wrong type, is a DiagError naming its line (they
    were skipped, or failed later in pandas with no line named); so is a run held twice (``cat
    a a``, or a folder given twice), as ``report`` says it: its cycles would have been counted
    twice."""
    cycles: dict = {}  # (each cycle read and where: a run given twice is an error)
    return [rec for path in paths_argument("path", paths) for rec in _file_records(path, cycles)]


def _file_records(path: str, cycles: dict) -> list[dict]:
    import warnings

    from jarvis_diag.report.dataset import instant_problem, read_once, sim_record_problem
    from jarvis_diag.report.inputs import SIM_SCHEMA, read_sim_records

    p = Path(path)
    if not p.exists():
        raise DiagError(f"{path}: no such file or directory")
    if p.is_dir():
        p = p / "results.jsonl"
    if not p.is_file():
        raise DiagError(f"{path}: no results.jsonl there")
    records: list[tuple[int, dict]] = []
    notes: list[str] = []
    try:
        records.extend(read_sim_records(p, None, notes))
    except DiagError:
        if records:
            raise
        raise DiagError(f"{p}: not a simulate-mobile results file (no {SIM_SCHEMA} record in it)") from None
    except UnicodeDecodeError:
        raise DiagError(f"{p}: not a simulate-mobile results file (not UTF-8 text)") from None
    for line_no, rec in records:
        problem = sim_record_problem(rec)
        for key in ("hidden_at", "visible_at"):  # (instants the frame reads as times)
            if problem is None and (wrong := instant_problem(rec.get(key))) is not None:
                problem = f"'{key}' {wrong}"
        if problem is not None:
            raise DiagError(f"{p}:{line_no}: {problem}")
        read_once(cycles, rec, str(p), line_no)
    for note in notes:
        warnings.warn(note, stacklevel=4)
    return [rec for _, rec in records]


def _typed(rows: list[dict], types: dict[str, str]) -> pd.DataFrame:
    """``rows`` as a frame with at least the columns of ``types``, of those types; the
    ``*_ms`` columns float (NaN where a time was not reached)."""
    frame = pd.DataFrame(rows)
    for col, dtype in types.items():
        if col not in frame:
            frame[col] = pd.Series([None] * len(frame), dtype="object")
        if dtype.startswith("datetime64"):
            frame[col] = pd.to_datetime(frame[col], utc=True).astype(dtype)
        elif dtype == "float64":
            frame[col] = pd.to_numeric(frame[col], errors="coerce").astype("float64")
        elif dtype in ("Int64", "boolean"):
            frame[col] = pd.array(frame[col].tolist(), dtype=dtype)
        elif dtype == "category":
            frame[col] = frame[col].astype("string").astype("category")
        else:
            frame[col] = frame[col].astype(dtype)
    for col in frame.columns:
        if col.endswith("_ms") and col not in types:
            frame[col] = pd.to_numeric(frame[col], errors="coerce").astype("float64")
    return frame


def load_results(path: str | Path | list[str | Path]) -> pd.DataFrame:
    """One row per virtual client and cycle: its settings, ``recovered``, ``lost``,
    ``duplicated`` and each phase time in ms (``connected_ms``, ``authenticated_ms``,
    ``recovery_ms`` ...). ``path`` is a results.jsonl or the folder holding it, or a list of
    them (their rows one after the other; ``run`` tells them apart). Read as
    ``jarvis-diag report`` reads it: a damaged line or a field of the wrong type is a
    DiagError naming its line, a run the file holds twice (``cat a a``) one naming the run
    and both lines; a cut last line (a run stopped while writing) is skipped with a
    warning. ``recovery_ms`` is when every session was ready again, which a cycle
    that did not recover can have too (a reply then failed to arrive live): ``report``
    and ``simulate-mobile`` leave those out of their recovery figures, and give
    nearest-rank percentiles (observed values; ``median`` averages two).

    Example::

        cycles = jd.load_results("sample_logs/healthy-day")
        recovered = cycles[cycles.recovered]
        recovered.groupby("profile", observed=True).recovery_ms.quantile(0.5, interpolation="lower")  # = p50
    """
    rows = []
    for rec in _records(path):
        row = {k: rec.get(k) for k in CYCLE_COLUMNS}
        for name, value in (rec.get("times_ms") or {}).items():
            row[f"{name}_ms"] = value
        row["sessions"] = len(rec.get("sessions") or [])
        rows.append(row)
    return _typed(rows, {**CYCLE_TYPES, "sessions": "Int64"})


def session_results(path: str | Path | list[str | Path]) -> pd.DataFrame:
    """One row per session of each client-cycle: ready / history end / first live output
    times, ``live``, ``lost``, ``duplicated`` and how they were checked (seq or content).
    ``path`` as for :func:`load_results`, whose rows these join on ``run``, ``client`` and
    ``cycle``.

    Example::

        sessions = jd.session_results("sample_logs/single-live-session")
        sessions[~sessions.live][["client_id", "session", "cycle"]]   # chats left silent
    """
    rows = []
    for rec in _records(path):
        for s in rec.get("sessions") or []:
            rows.append({"run": rec.get("run"), "client": rec.get("client"), "client_id": rec.get("client_id"),
                         "profile": rec.get("profile"), "fault": rec.get("fault"), "cycle": rec.get("cycle"),
                         **{k: v for k, v in s.items() if not isinstance(v, list)}})
    return _typed(rows, SESSION_TYPES)
