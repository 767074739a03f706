"""Simulation results (``results.jsonl`` of ``simulate-mobile``) as DataFrames.

Example::

    from jarvis_diag.results import load_results, session_results
    cycles = load_results("sample_logs/healthy-day/results.jsonl")
    cycles.groupby("profile").recovery_ms.median()
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from jarvis_diag.errors import DiagError

CYCLE_COLUMNS = ("run", "client", "client_id", "profile", "fault", "network", "cycle", "background_ms",
                 "hidden_at", "visible_at", "recovered", "lost", "duplicated", "failure")


def _records(path: str | Path) -> list[dict]:
    from jarvis_diag.simulate import read_results

    p = Path(path)
    if p.is_dir():
        p = p / "results.jsonl"
    if not p.is_file():
        raise DiagError(f"{path}: no results.jsonl there")
    return read_results(p)


def load_results(path: str | Path) -> pd.DataFrame:
    """One row per virtual client and cycle: its settings, ``recovered``, ``lost``,
    ``duplicated`` and each phase time in ms (``connected_ms``, ``authenticated_ms``,
    ``recovery_ms`` ...). ``path`` is a results.jsonl or the folder holding it.

    Example::

        cycles = jd.load_results("sample_logs/healthy-day")
        cycles.groupby("profile")[["recovered", "recovery_ms"]].agg(["mean", "median"])
    """
    rows = []
    for rec in _records(path):
        row = {k: rec.get(k) for k in CYCLE_COLUMNS}
        for name, value in (rec.get("times_ms") or {}).items():
            row[f"{name}_ms"] = value
        row["sessions"] = len(rec.get("sessions") or [])
        rows.append(row)
    frame = pd.DataFrame(rows)
    for col in ("hidden_at", "visible_at"):
        if col in frame:
            frame[col] = pd.to_datetime(frame[col], utc=True)
    for col in ("profile", "fault", "network"):
        if col in frame:
            frame[col] = frame[col].astype("category")
    return frame


def session_results(path: str | Path) -> pd.DataFrame:
    """One row per session of each client-cycle: ready / history end / first live output
    times, ``live``, ``lost``, ``duplicated`` and how they were checked (seq or content).

    Example::

        sessions = jd.session_results("sample_logs/single-live-session")
        sessions[~sessions.live][["client_id", "session", "cycle"]]   # chats left silent
    """
    rows = []
    for rec in _records(path):
        for s in rec.get("sessions") or []:
            rows.append({"client": rec.get("client"), "client_id": rec.get("client_id"),
                         "profile": rec.get("profile"), "fault": rec.get("fault"), "cycle": rec.get("cycle"),
                         **{k: v for k, v in s.items() if not isinstance(v, list)}})
    return pd.DataFrame(rows)
