"""The terminal (and notebook) view of a Timeline, built with rich.

Order follows how a person diagnoses: what was read, how the clocks were aligned, what
each client went through (both sides interleaved, relative ms, gaps marked), then the
findings, worst first.
"""

from __future__ import annotations

import io
import math
import os
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
from rich.console import Console, ConsoleOptions, Group, RenderableType, RenderResult
from rich.padding import Padding
from rich.table import Table
from rich.text import Text

if TYPE_CHECKING:
    from jarvis_diag.timeline import Timeline

SEVERITY_STYLE = {"critical": "bold red", "warning": "yellow", "info": "dim"}
# Kinds too chatty for the per-client view (they stay in the events table and JSON).
QUIET_KINDS = frozenset({
    "output.block", "db.timing", "agent.start.phase", "history.load.phase", "ui.info", "ui.connect", "ui.session",
    "socket.state", "cm.socket_state", "remote_log.received", "http.request", "agent.command", "server.info",
    "server.process", "ws.open", "ws.closed", "ws.accepted", "message.processing", "message.to_agent",
    "consumer.started", "consumer.cancelled", "chat.connect.phase", "session.started", "chat.handler.cleaned",
    "chat.subscribe", "chat.ready.handled", "chat.connect.end", "message.prepare", "unknown", "emit.timed",
    "history.synced", "db.saved", "chat.connect.start",
})
GAP_S = 2.0  # a silence this long gets its own row
MAX_ROWS_PER_CLIENT = 400
# The terminal lists the worst findings in full and counts the rest (a long log can name
# hundreds; --format json has every one, and the filters narrow the view).
MAX_FINDINGS_SHOWN = 50
# Likewise the clients: those the worst findings name first (a set with a log per page load
# has hundreds); --client shows any one.
MAX_CLIENTS_SHOWN = 8


def _fmt_time(ts) -> str:
    if ts is None or ts is pd.NaT or (isinstance(ts, float) and math.isnan(ts)):
        return "-"
    return pd.Timestamp(ts).strftime("%H:%M:%S.%f")[:-3]


# Below this many columns the sources table cuts its paths and times to a few characters
# ("tests/fi…", "10:04:2…"): a narrow terminal lists each file on a line, its figures below.
SOURCES_TABLE_MIN_WIDTH = 100
_SOURCE_COLUMNS = ("file", "format", "lines", "events", "unknown", "bad", "dup", "first (UTC)", "last (UTC)")


class _AtWidth:
    """What ``draw(width)`` yields, drawn for the width the view is given: a narrow terminal
    gets another layout than a wide one."""

    def __init__(self, draw: Callable[[int], RenderResult]):
        self.draw = draw

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        yield from self.draw(options.max_width)


def _sources_view(tl: Timeline, width: int) -> RenderResult:
    """The files read: a table on a wide terminal, a list on a narrow one."""
    folder, rows = _in_one_folder(_source_rows(tl))
    title = f"Sources read, in {folder}" if folder else "Sources read"
    if width >= SOURCES_TABLE_MIN_WIDTH:
        table = Table(title=title, title_justify="left", show_edge=False, pad_edge=False)
        for col in _SOURCE_COLUMNS:
            table.add_column(col, justify="right" if col in ("lines", "events", "unknown", "bad", "dup")
                             else "left", overflow="fold" if col == "file" else "ellipsis")
        for row in rows:
            table.add_row(*row)
        yield table
        return
    yield Text(title, style="italic")
    for path, fmt, lines, events, unknown, bad, dup, first, last in rows:
        yield Text(path, overflow="fold")
        yield Padding(Text(f"{fmt}: {lines} lines, {events} events, {unknown} unknown, {bad} bad, {dup} dup; "
                           f"{first} to {last} UTC", style="dim"), (0, 0, 0, 2))


def _source_rows(tl: Timeline) -> list[tuple[str, ...]]:
    # (the time of day alone, unless the files run over several days: then their dates too)
    days = {str(s.get(k))[:10] for s in tl.sources for k in ("first", "last") if s.get(k)}
    cut = slice(0, 23) if len(days) > 1 else slice(11, 23)
    rows = []
    for s in tl.sources:
        # (a backend log read behind journalctl's / docker's / kubectl's prefixes says which)
        fmt = f"{s.get('format')} ({s['prefix']})" if s.get("prefix") else str(s.get("format"))
        rows.append((str(s.get("path")), fmt, str(s.get("lines", "")), str(s.get("events", "")),
                     str(s.get("unknown", "")), str(s.get("bad_lines", "")), str(s.get("duplicates", "")),
                     *(str(s[k])[cut].replace("T", " ") if s.get(k) else "-" for k in ("first", "last"))))
    return rows


def _in_one_folder(rows: list[tuple[str, ...]]) -> tuple[str, list[tuple[str, ...]]]:
    """The folder all the files read are in (said once, in the title: ``logs/``), and the rows
    with each file named within it; ("", rows) when they are not in one folder or one was stdin.
    The names were folded in the middle on a terminal of 120 columns ("app.", "log")."""
    paths = [row[0] for row in rows]
    if not paths or "-" in paths:
        return "", rows
    try:
        folder = os.path.commonpath([os.path.dirname(p) for p in paths])
    except ValueError:  # (absolute and relative paths mixed)
        return "", rows
    if not folder or folder in (".", os.sep):
        return "", rows
    head = folder.rstrip(os.sep) + os.sep
    if not all(p.startswith(head) for p in paths):
        return "", rows
    return head, [(p[len(head):], *rest) for p, *rest in rows]


def _sources_table(tl: Timeline) -> RenderableType:
    return _AtWidth(lambda width: _sources_view(tl, width))


def _clock_text(tl: Timeline) -> Table:
    clock = tl.clock
    offset = clock.get("backend_utc_offset_minutes") or 0
    sign = "+" if offset >= 0 else "-"
    table = Table(title="Clock corrections", title_justify="left", show_edge=False, pad_edge=False)
    table.add_column("clock")
    table.add_column("correction", justify="right")
    table.add_column("how it is known")
    # (a backend zone nothing read gave, for logs with no backend time, is no correction)
    if clock.get("backend_zone_source") != "machine" or clock.get("warning") or _backend_times(tl):
        table.add_row("backend (local time)", f"UTC{sign}{abs(offset) // 60:02d}:{abs(offset) % 60:02d}",
                      f"{clock.get('backend_zone_source')} ({clock.get('backend_zone_pairs', 0)} pairs)"
                      + (f" — {clock['warning']}" if clock.get("warning") else ""))
    for change in clock.get("backend_utc_offset_changes") or []:
        minutes = change["offset_minutes"]
        sign = "+" if minutes >= 0 else "-"
        table.add_row(f"  from {change['at']}", f"UTC{sign}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}",
                      f"when {change['zone']} changes its clocks" if change.get("zone")
                      else "half-way between the epochs either side (no zone rule says when)")
    for client, s in (clock.get("clients") or {}).items():
        lower = "?" if s.get("lower_ms") is None else f"{s['lower_ms']:.0f}"
        upper = "?" if s.get("upper_ms") is None else f"{s['upper_ms']:.0f}"
        applied = "" if s.get("applied") else " (not applied: --no-skew)"
        table.add_row(client, f"{s['skew_ms']:+.0f} ms", f"in [{lower}, {upper}] ms from {s['pairs']} pairs{applied}")
    return table


def _backend_times(tl: Timeline) -> bool:
    """Whether a backend log (or its captured console) of the timeline has a line with a time."""
    return any(s.get("format") in ("backend", "console") and s.get("first") for s in tl.sources)


def _message(row) -> str:
    text = str(row.text)
    if row.source == "backend" and " - " in text:
        text = text.split(" - ", 3)[-1]
    elif text.startswith("[") and "] [" in text[:40]:
        text = text.split("] ", 2)[-1]
    return text if len(text) <= 140 else text[:137] + "..."


def _at_lines(ev: pd.DataFrame, marks: set[tuple[str, int]]) -> np.ndarray:
    """Which events are at these (path, line) places."""
    hit = np.zeros(len(ev), dtype=bool)
    by_path: dict[str, list[int]] = {}
    for path, line in marks:
        by_path.setdefault(path, []).append(line)
    for path, lines in by_path.items():
        hit |= (ev["path"] == path).to_numpy(dtype=bool) & ev["line"].isin(lines).to_numpy(dtype=bool)
    return hit


def _client_views(tl: Timeline) -> Iterator[RenderableType]:
    ev = tl.events
    if ev.empty:
        return
    # clientIds of frontend files and joined sockets (a backend line may name a truncated user agent)
    fe = ev["source"].isin(["frontend", "panel"])
    clients = {c for c in pd.unique(ev.loc[fe, "client"].dropna()) if c}
    clients |= {c for c in tl.connections["client"].dropna() if isinstance(c, str)}
    if not clients:
        return
    sids_of: dict[str, set] = {}
    for c in tl.connections.itertuples(index=False):
        if isinstance(c.client, str) and isinstance(c.sid, str):
            sids_of.setdefault(c.client, set()).add(c.sid)
    evidence_of: dict[str, set] = {}
    for a in tl.attaches.itertuples(index=False):
        if isinstance(a.client, str):
            evidence_of.setdefault(a.client, set()).update((e["path"], e["line"]) for e in a.evidence)
    sid = ev["sid"].astype("category")
    sid_codes = sid.cat.codes.to_numpy()
    sid8 = [str(c)[:8] for c in sid.cat.categories]
    quiet = ev["kind"].isin(QUIET_KINDS).to_numpy()
    shown_clients = _clients_to_show(tl, clients)
    for client in shown_clients:
        sids = sids_of.get(client, set())
        keep = (ev["client"] == client).fillna(False).to_numpy(dtype=bool) \
            | np.isin(sid_codes, [i for i, prefix in enumerate(sid8) if prefix in sids])
        marked = _at_lines(ev, evidence_of.get(client, set()))
        rows = ev[(keep & ~quiet) | marked]
        rows = rows.sort_values("t", kind="stable")
        # live output floods the view: keep the first event of each burst
        is_output = rows["kind"].astype(str).isin(["output.delivered", "output.received"])
        burst = is_output & is_output.shift(1, fill_value=False) & (rows["source"] == rows["source"].shift(1))
        rows = rows[~burst]
        title = f"Client {client}" + (f"  (sockets {', '.join(sorted(sids))})" if sids else "")
        cells: list[tuple[RenderableType, ...]] = []  # (the table's rows, drawn for the width they get)
        t0 = rows["t"].iloc[0] if len(rows) else None
        prev = None
        shown = 0
        for row in rows.itertuples(index=False):
            if shown >= MAX_ROWS_PER_CLIENT:
                cells.append(("", "", "", "", "", Text(f"... {len(rows) - shown} more events (use --format json/csv)",
                                                       style="dim")))
                break
            if prev is not None and (row.t - prev).total_seconds() >= GAP_S:
                cells.append(("", "", "", "", "", Text(f"··· {(row.t - prev).total_seconds():.1f} s gap ···",
                                                       style="dim italic")))
            prev = row.t
            side = Text("server", style="cyan") if row.source == "backend" else Text("client", style="green")
            session = row.session if isinstance(row.session, str) else ""
            style = "yellow" if row.level in ("WARNING",) else "red" if row.level in ("ERROR", "CRITICAL") else ""
            cells.append((f"{(row.t - t0).total_seconds() * 1000:,.0f}", _fmt_time(row.t), side, session[:8],
                          str(row.kind), Text(_message(row), style=style)))
            shown += 1
        yield _AtWidth(lambda width, title=title, cells=cells: [_client_table(title, cells, width)])
    if len(clients) > len(shown_clients):
        rest = sorted(clients - set(shown_clients))
        named = ", ".join(rest[:3]) + (", ..." if len(rest) > 3 else "")
        yield Text(f"... {len(rest)} more clients not shown ({named}): --client ID shows one; --format json or csv "
                   f"has every event.", style="dim")


# Below this many columns the per-client table cut its long kinds ('socket.connecti…',
# 'chat.connect.rec…' at 80): a narrower terminal keeps every column but the line whole, and
# the line takes the squeeze (its long words folded); below SESSIONS_TABLE_MIN_WIDTH the table
# is drawn without the spaces around its rules, as the attaches table is.
CLIENT_TABLE_MIN_WIDTH = 120


def _client_table(title: str, rows: list[tuple[RenderableType, ...]], width: int) -> Table:
    """One client's events, both sides interleaved, as a table for ``width`` columns."""
    narrow = width < CLIENT_TABLE_MIN_WIDTH
    table = Table(title=title, title_justify="left", show_edge=False, pad_edge=False, expand=False,
                  **({"padding": (0, 0)} if width < SESSIONS_TABLE_MIN_WIDTH else {}))
    for col in ("+ms", "UTC", "side", "session", "kind", "line"):
        squeezed = {"no_wrap": col != "line", "overflow": "fold" if col == "line" else "ellipsis"} if narrow else {}
        table.add_column(col, justify="right" if col == "+ms" else "left", **squeezed)
    for row in rows:
        table.add_row(*row)
    return table


def _clients_to_show(tl: Timeline, clients: set[str]) -> list[str]:
    """At most MAX_CLIENTS_SHOWN clients, in name order: those the worst findings name
    first, then the others by name."""
    if len(clients) <= MAX_CLIENTS_SHOWN:
        return sorted(clients)
    named = [c for c in tl.findings["client"].tolist() if isinstance(c, str) and c in clients] \
        if "client" in tl.findings.columns else []  # (findings come worst first)
    chosen = list(dict.fromkeys(named))[:MAX_CLIENTS_SHOWN]
    chosen += [c for c in sorted(clients) if c not in chosen][:MAX_CLIENTS_SHOWN - len(chosen)]
    return sorted(chosen)


# Below this many columns the attaches table cut every cell ("453424…", kind "n…", times): a
# narrow terminal gets the table without the spaces around its rules, and its client folds.
SESSIONS_TABLE_MIN_WIDTH = 100


def _sessions_table(tl: Timeline) -> RenderableType | None:
    if tl.attaches.empty:
        return None
    return _AtWidth(lambda width: [_sessions_table_of(tl, narrow=width < SESSIONS_TABLE_MIN_WIDTH)])


def _sessions_table_of(tl: Timeline, narrow: bool) -> Table:
    """Every attach of every session: how long chat:ready took and where the time went."""
    at = tl.attaches
    title = "Sessions: attaches (ms; latency = server + wire, up to chat:ready; server alone: the whole attach"
    table = Table(title=title + ")", title_justify="left", show_edge=False, pad_edge=False,
                  padding=(0, 0) if narrow else (0, 1))
    for col in ("session", "client", "socket", "kind", "requested", "latency", "server", "wire", "history"):
        table.add_column(col, justify="right" if col in ("latency", "server", "wire", "history") else "left",
                         no_wrap=not (narrow and col == "client"), overflow="fold" if col == "client" else "ellipsis")

    def ms(v) -> str:
        return "" if v is None or (isinstance(v, float) and math.isnan(v)) else f"{v:,.1f}"

    # when the page asked, else when the server received the request (a slow chat:connect
    # sends chat:ready seconds later, or never: its socket closed meanwhile)
    first_at = at["requested_at"].fillna(at["received_at"]).fillna(at["ready_sent_at"])
    # the server's part of a latency is its time to chat:ready sent, what the wire's is counted
    # from (its DONE comes after the history it sends, which an async server sends later)
    to_ready = ((at["ready_sent_at"] - at["received_at"]).dt.total_seconds() * 1000).clip(lower=0)
    server = to_ready.where(at["transport_ms"].notna(), at["server_ms"])
    rows = at.assign(first_at=first_at, server_part=server).sort_values(["session", "first_at"])
    for i, a in enumerate(rows.itertuples(index=False)):
        if i >= MAX_ROWS_PER_CLIENT:
            table.add_row(Text(f"... {len(rows) - i} more attaches (use --format json)", style="dim"))
            break
        # the clientId's page-load part (after the user agent) is what tells clients apart
        client = a.client.split("-", 1)[-1] if isinstance(a.client, str) else ""
        hist = "" if a.history_count is None or pd.isna(a.history_count) else str(int(a.history_count))
        kind = Text(a.kind, style="yellow" if a.kind == "auto" else "")
        cut = getattr(a, "cut_at", None)
        if cut is not None and not pd.isna(cut):  # the socket closed while the attach ran: nothing sent after
            kind.append(f"\ncut {_fmt_time(cut)}", style="red")
            table.title = title + "; cut = socket closed: nothing sent)"
        table.add_row(str(a.session)[:8] if isinstance(a.session, str) else "?", client[:20],
                      a.sid if isinstance(a.sid, str) else "", kind,
                      _fmt_time(a.first_at), ms(a.latency_ms), ms(a.server_part), ms(a.transport_ms), hist)
    return table


def _findings_table(tl: Timeline) -> RenderableType:

    if tl.findings.empty:
        if tl.selection:
            return Text(f"No findings in the selection ({tl.selection}).", style="green")
        if not (tl.events["kind"] != "unknown").any():
            return Text("No findings, but no line of these logs was recognised: nothing could be checked.",
                        style="yellow")
        return Text("No findings: nothing went wrong that these logs show.", style="green")
    return _AtWidth(lambda width: _findings_view(tl, width))


# Below this many columns the findings table leaves its "what happened" column too narrow (20
# characters at 80): a finding's times and evidence paths were cut ("2026-11-24T10:05:0…"), so
# a narrow terminal lists each finding as a heading and its text below it, at full width.
FINDINGS_TABLE_MIN_WIDTH = 120


def _findings_view(tl: Timeline, width: int) -> RenderResult:
    """The findings, worst first: a table on a wide terminal, a list on a narrow one."""
    if width >= FINDINGS_TABLE_MIN_WIDTH:
        yield _findings_as_table(tl)
    else:
        yield from _findings_as_list(tl)


def _finding_parts(f) -> tuple[str, Text, Text]:
    """(delay, kind with its count, what happened: summary, context and evidence) of a finding row."""
    from jarvis_diag.findings import duration_text

    # (as the summaries say it: a 3 ms wait is not "0.0 s")
    delay = "" if f.delay_ms is None or (isinstance(f.delay_ms, float) and math.isnan(f.delay_ms)) \
        else duration_text(f.delay_ms)
    body = Text(str(f.summary))
    if isinstance(f.context, str) and f.context:
        body.append(f"\nbefore: {f.context}", style="dim")
    for e in list(f.evidence)[:4]:
        body.append(f"\n  {e['path']}:{e['line']}", style="dim")
    body.overflow = "fold"  # (a path or time longer than the line folds: its line number is never cut)
    kind = Text(str(f.kind))
    times = getattr(f, "occurrences", None)
    if times is not None and pd.notna(times) and int(times) > 1:
        kind.append(f"\n{int(times)} times", style="dim")
    return delay, kind, body


def _findings_as_list(tl: Timeline) -> Iterator[RenderableType]:
    yield Text("Findings (worst first)", style="italic")
    for i, f in enumerate(tl.findings.itertuples(index=False)):
        if i >= MAX_FINDINGS_SHOWN:
            yield Text(_more_findings(tl.findings.iloc[i:]), style="dim")
            return
        delay, kind, body = _finding_parts(f)
        head = Text(f"{f.id} ")
        head.append(str(f.severity), style=SEVERITY_STYLE.get(f.severity, ""))
        head.append(f" {f.kind} at {_fmt_time(f.at)}")
        if delay:
            head.append(f", {delay}")
        if len(kind.plain.splitlines()) > 1:  # (how many times)
            head.append(f" ({kind.plain.splitlines()[1]})", style="dim")
        yield head
        yield Padding(body, (0, 0, 0, 3))


def _findings_as_table(tl: Timeline) -> Table:
    table = Table(title="Findings (worst first)", title_justify="left", show_edge=False, pad_edge=False,
                  show_lines=True)
    table.add_column("id")
    table.add_column("severity")
    table.add_column("kind")
    table.add_column("at (UTC)")
    table.add_column("delay", justify="right")
    table.add_column("what happened")
    for i, f in enumerate(tl.findings.itertuples(index=False)):
        if i >= MAX_FINDINGS_SHOWN:
            table.add_row("...", "", "", "", "", Text(_more_findings(tl.findings.iloc[i:]), style="dim"))
            break
        delay, kind, body = _finding_parts(f)
        table.add_row(f.id, Text(f.severity, style=SEVERITY_STYLE.get(f.severity, "")), kind, _fmt_time(f.at),
                      delay, body)
    return table


def _more_findings(rest: pd.DataFrame) -> str:
    """One line for the findings not listed: how many, of what severity and kind."""
    counts = rest.groupby(["severity", "kind"], sort=False).size()
    rank = {"critical": 0, "warning": 1, "info": 2}
    groups = sorted(counts.items(), key=lambda item: (rank.get(item[0][0], 3), -item[1], item[0][1]))
    named = ", ".join(f"{n} {severity} {kind}" for (severity, kind), n in groups[:6])
    others = sum(n for _key, n in groups[6:])
    if others:
        named += f", {others} other"
    return (f"{len(rest)} more findings ({named}): --format json has every one; --session, --client, --since "
            f"and --until narrow the view.")


def render_timeline(tl: Timeline, width: int | None = None) -> Iterator[RenderableType]:
    """The renderables of the terminal view, in reading order."""
    del width
    yield _sources_table(tl)
    yield Text("")
    clock = _clock_text(tl)
    if clock.row_count:  # (nothing read has a time to correct: no table)
        yield clock
    for warning in tl.warnings[:10]:
        yield Text(f"warning: {warning}", style="yellow")
    sessions = _sessions_table(tl)
    if sessions is not None:
        yield Text("")
        yield sessions
    for view in _client_views(tl):
        yield Text("")
        yield view
    yield Text("")
    yield _findings_table(tl)
    yield from _reproduce_view(tl)


def _reproduce_view(tl: Timeline) -> Iterator[RenderableType]:
    """For the warning and critical findings a sample incident set makes by the same mechanism:
    the commands that make it (and the server and phones to run by hand, against the
    reference server or the user's own). A command wider than the terminal goes on over lines
    ending in a backslash, which a shell pastes as one command."""
    if tl.findings.empty:
        return
    from jarvis_diag.reproduce import reproductions

    found = reproductions(tl.findings[["id", "kind", "severity", "summary"]].to_dict("records"))
    if not found:
        return
    yield Text("")
    yield Text("Reproduce it: the reference server and simulated phones, in a sample incident set", style="italic")
    for r in found:
        head = Text(f"{', '.join(r.findings)} ({', '.join(r.kinds)}): sample set ")
        head.append(r.sample, style="bold")
        head.append(f" — {r.title}", style="dim")
        yield head
        yield _commands(r.make)
    yield Text("By hand, once the first command has written the set (its scenario.toml), or against your own "
               "server (give simulate-mobile its URL and token); simulate-mobile exits 1 when a phone does not "
               "recover:", style="dim")
    for r in found:
        if len(found) > 1:  # (whose commands these are)
            yield Text(f"  {r.sample}:", style="dim")
        yield _commands(r.by_hand)


def _commands(commands: tuple[str, ...]) -> _AtWidth:
    def draw(width: int) -> RenderResult:
        for command in commands:
            yield Text("\n".join(command_lines(command, width, indent=2)), no_wrap=True, overflow="ignore")
    return _AtWidth(draw)


def command_lines(command: str, width: int, indent: int = 0) -> list[str]:
    """``command`` in lines of at most ``width`` characters (a word wider stands alone), each
    but the last ending in `` \\``, the next ones indented 4 more; an option and its value
    stay on one line."""
    words: list[str] = []
    for word in command.split(" "):
        if words and words[-1].startswith("--") and " " not in words[-1] and not word.startswith("-"):
            words[-1] += f" {word}"
        else:
            words.append(word)
    lines = [" " * indent + words[0]]
    for word in words[1:]:
        if len(lines[-1]) + 1 + len(word) + 2 <= width:
            lines[-1] += f" {word}"
        else:
            lines[-1] += " \\"
            lines.append(" " * (indent + 4) + word)
    return lines


def timeline_html(tl: Timeline, width: int = 140) -> str:
    """The same view as HTML (for Jupyter)."""
    console = Console(record=True, width=width, file=io.StringIO(), color_system="truecolor")
    console.print(Group(*render_timeline(tl, width)))
    # a fragment with its own colours, not a page: a page's style for <body> turned a notebook's
    # dark theme white around it
    return console.export_html(inline_styles=True, code_format=_HTML_FRAGMENT)


_HTML_FRAGMENT = ('<pre style="font-family:Menlo,\'DejaVu Sans Mono\',consolas,\'Courier New\',monospace;'
                  'color:{foreground};background-color:{background};padding:0.5em;line-height:1.25">'
                  '<code style="font-family:inherit">{code}</code></pre>')
