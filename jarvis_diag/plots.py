"""Matplotlib plots for notebooks: a two-sided waterfall of what happened, and CDFs.

Both return the matplotlib ``Axes`` they drew on, so a notebook can add to them::

    import jarvis_diag as jd
    tl = jd.load_timeline(["sample_logs/callback-desync-switch-back"])
    jd.plot_waterfall(tl, finding=0)            # the first finding, both sides' lines around it
    jd.plot_cdf({kind: a.latency_ms for kind, a in tl.attaches.groupby("kind", observed=True)})  # one curve a kind
"""

from __future__ import annotations

import textwrap
from collections.abc import Iterable, Mapping

import numpy as np
import pandas as pd

from jarvis_diag.errors import DiagError
from jarvis_diag.findings import DELAY_ENDS_AT
from jarvis_diag.timeline import client_mask

# Kinds worth a row of their own in a waterfall: the transport, the attach and the page.
WATERFALL_KINDS = (
    "page.hidden", "page.visible", "network.offline", "network.online",
    "socket.connected", "socket.disconnected", "auth.ok", "reconnect.scheduled", "reconnect.attempt",
    "chat.connect.sent", "chat.connect.received", "chat.connect.done", "chat.ready.sent", "chat.ready.received",
    "chat.handler.exists", "history.end", "message.sent", "message.received", "callback.missing",
    "session.switched", "callback.cleared", "output.received", "server.reload",
)
SOURCE_COLOURS = {"backend": "#1f6feb", "frontend": "#d4731a", "console": "#6e7781", "panel": "#8250df"}


def _axes(ax, figsize):
    if ax is not None:
        return ax
    import matplotlib.pyplot as plt

    return plt.subplots(figsize=figsize)[1]


def waterfall_frame(timeline, *, finding: int | str | None = None, client: str | None = None,
                    session: str | None = None, start=None, end=None, margin_s: float = 3.0,
                    kinds: Iterable[str] = WATERFALL_KINDS) -> pd.DataFrame:
    """The events a waterfall shows: ``t`` (corrected), ``ms`` from the window start,
    ``source``, ``kind``, ``text``, ``path``, ``line``. Choose the window by a finding
    (its index or id: the time it cost, from ``at`` on or, for a ``callback-desync``, up to
    ``at``; plus ``margin_s`` each side), or by
    ``start``/``end``; narrow by ``client`` / ``session`` (8-character prefixes work).

    Example::

        tl = jd.load_timeline(["sample_logs/callback-desync-switch-back"])
        jd.waterfall_frame(tl, finding="F1")[["ms", "source", "kind", "text"]]
    """
    events = timeline.events
    if finding is not None:
        row = _finding_row(timeline.findings, finding)
        delay = pd.Timedelta(milliseconds=float(row["delay_ms"]) if pd.notna(row["delay_ms"]) else 0.0)
        # (a half-open's or a cut reply's delay comes after its at: shown before it, the wait was off the chart)
        start, end = (row["at"] - delay, row["at"]) if row["kind"] in DELAY_ENDS_AT else (row["at"], row["at"] + delay)
        client = client or (row["client"] if isinstance(row["client"], str) else None)
        session = session or (row["session"] if isinstance(row["session"], str) else None)
    margin = pd.Timedelta(seconds=margin_s)
    start, end = _utc(start), _utc(end)
    mask = events["kind"].isin(list(kinds))
    if start is not None:
        mask &= events["t"] >= start - margin
    if end is not None:
        mask &= events["t"] <= end + margin
    if session:
        named = timeline.session_mask(events["session"], session)
        if not named.any():
            raise DiagError(timeline.unknown("session", session))
        mask &= events["session"].isna().to_numpy() | named.to_numpy()
    if client:
        mine = client_mask(events["client"], client)
        if not mine.any():
            raise DiagError(timeline.unknown("client", client))
        mask &= (events["source"] != "frontend").to_numpy() | mine.to_numpy()
    frame = events.loc[mask, ["t", "source", "kind", "text", "path", "line"]].copy()
    origin = frame["t"].min() if start is None else start
    frame["ms"] = (frame["t"] - origin).dt.total_seconds() * 1000.0
    return frame.reset_index(drop=True)


def _utc(when) -> pd.Timestamp | None:
    """A start or end as a UTC Timestamp; one with no zone is read as UTC, as every time of
    the timeline is (compared as it was, it was a TypeError about dtypes)."""
    if when is None:
        return None
    try:
        stamp = pd.Timestamp(when)
    except (ValueError, TypeError) as exc:
        raise DiagError(f"{when!r}: not a time (an ISO 8601 instant, a datetime or a Timestamp)") from exc
    return stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")


def _finding_row(findings: pd.DataFrame, finding: int | str) -> pd.Series:
    """A finding by its id (``"F1"``) or its position; DiagError naming the ids there are."""
    ids = findings["id"].tolist()
    if isinstance(finding, str) and finding in ids:
        return findings.iloc[ids.index(finding)]
    if isinstance(finding, int | np.integer) and -len(ids) <= finding < len(ids):
        return findings.iloc[int(finding)]
    there = f"F1..F{len(ids)}, or 0..{len(ids) - 1}" if ids else "this timeline has no finding"
    raise DiagError(f"finding {finding!r}: no such finding ({there})")


def plot_waterfall(timeline, *, finding: int | str | None = None, client: str | None = None,
                   session: str | None = None, start=None, end=None, margin_s: float = 3.0, ax=None,
                   figsize=(11, 5)):
    """Both sides' events on one clock-corrected time axis, one row per kind.

    Example::

        ax = plot_waterfall(tl, finding="F1")   # the gap of a callback-desync, both sides
    """
    frame = waterfall_frame(timeline, finding=finding, client=client, session=session, start=start, end=end,
                            margin_s=margin_s)
    own_figure = ax is None
    ax = _axes(ax, figsize)
    kinds = [k for k in WATERFALL_KINDS if k in set(frame["kind"])]
    rows = {k: i for i, k in enumerate(reversed(kinds))}
    for source, part in frame.groupby("source", observed=True):
        ax.scatter(part["ms"], part["kind"].map(rows), s=28, label=str(source),
                   color=SOURCE_COLOURS.get(str(source), "#444"), zorder=3)
    ax.set_yticks(list(rows.values()), list(rows.keys()))
    ax.set_xlabel("ms from the start of the window (clock-corrected)")
    ax.grid(axis="x", alpha=0.3)
    if finding is not None:
        f = timeline.findings
        row = f[f["id"] == finding].iloc[0] if isinstance(finding, str) else f.iloc[finding]
        delay = float(row["delay_ms"]) if pd.notna(row["delay_ms"]) else 0.0
        ax.axvspan(0, delay, color="#cf222e", alpha=0.08, label=f"{row['kind']} ({delay / 1000:.1f} s)")
        ax.set_title(_title(f"{row['id']} {row['kind']}: {row['summary']}"), fontsize=9, loc="left")
    if len(frame):
        # beside the axes, not on them: the rows reach every corner (a corner legend hid the
        # last output.received and callback.cleared of a desync's window)
        ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0.0, fontsize=8)
        if own_figure:
            ax.figure.tight_layout()
    return ax


def _title(text: str, width: int = 130, lines: int = 2) -> str:
    """A finding's title on at most two lines, cut between words with an ellipsis (cut at a
    fixed length it read 'the server had no call')."""
    return "\n".join(textwrap.wrap(text, width=width, max_lines=lines, placeholder=" …"))


def cdf_points(values: Iterable[float]) -> tuple[np.ndarray, np.ndarray]:
    """The empirical CDF of ``values`` (NaN dropped): sorted x and the fraction <= x."""
    x = np.sort(np.asarray(pd.Series(list(values), dtype="float64").dropna()))
    y = np.arange(1, len(x) + 1) / len(x) if len(x) else np.array([])
    return x, y


def plot_cdf(data, *, unit: str = "ms", ax=None, figsize=(7, 4), log: bool = False):
    """Empirical CDF of one series, or of several (a mapping label -> values).

    Example::

        plot_cdf({"legacy": legacy.recovery_ms, "connmgr": connmgr.recovery_ms})
    """
    series = data if isinstance(data, Mapping) else {"": data}
    ax = _axes(ax, figsize)
    for label, values in series.items():
        x, y = cdf_points(values)
        if len(x):  # (from 0 at the smallest value: no case lies below it)
            ax.step(np.r_[x[0], x], np.r_[0.0, y], where="post", label=f"{label} (n={len(x)})" if label else f"n={len(x)}")
    ax.set_xlabel(unit)
    ax.set_ylabel("fraction of cases <= x")
    ax.set_ylim(0, 1.02)
    if log:
        ax.set_xscale("log")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    return ax
