"""Frontend clock skew, estimated from the logs themselves (pure).

A phone's clock can be seconds off the server's. Every message that crosses the wire and
is logged on both sides bounds the skew (``skew = client clock - server clock``):

* server -> client (``chat:ready`` carries ``server_ts``; the client logs ``server=`` and
  ``client=``): the trip took >= 0 ms, so ``skew <= client_ms - server_ms`` (upper bound);
* client -> server (the client logs ``send EMIT: chat:connect`` / ``chat:message`` just
  before sending, the server logs receiving it): ``skew >= client_t - server_t`` (lower).

The tightest consistent bounds give an interval; the estimate is its middle. Times here
are epoch milliseconds (floats) so the arithmetic stays plain.
"""

from __future__ import annotations

import math
from bisect import bisect_left, bisect_right
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from jarvis_diag.links import open_item

# Log timestamps have 1 ms resolution: bounds that disagree by this much still agree.
ROUNDING_MS = 2.0
# An emit is paired with the server's receipt only within this window after it (on the
# roughly corrected clock); a receipt up to PAIR_SLOP_MS "before" it is rounding or an
# imprecise first guess.
PAIR_WINDOW_MS = 30_000.0
PAIR_SLOP_MS = 250.0
# A client's connect line is paired with a server connect only when no other is this near.
HANDSHAKE_AMBIGUOUS_MS = 250.0
# Without any chat:ready line, a first guess of the skew takes emit/receive pairs this far apart.
SEARCH_WINDOW_MS = 120_000.0

# A chat:ready line's ``client=`` is the page's clock when it logged the line: one further
# than this from the line's own time (a line pasted from another log, a mangled number)
# bounds nothing, nor one whose bound is this far below the client's middle one (its
# server= is not the sending time); one such line once moved a phone's timeline by months.
READY_CLOCK_MS = 60_000.0

EMIT_KINDS = {"chat.connect.sent": "chat.connect.received", "message.sent": "message.received"}


@dataclass(slots=True)
class SkewEstimate:
    """The skew of one client's clock, in ms, with the interval it is known to lie in."""

    skew_ms: float
    lower_ms: float | None
    upper_ms: float | None
    pairs: int
    applied: bool = True
    dropped: int = 0  # bounds left out because they contradicted the others
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        return {
            "skew_ms": round(float(self.skew_ms), 1),
            "lower_ms": None if self.lower_ms is None else round(float(self.lower_ms), 1),
            "upper_ms": None if self.upper_ms is None else round(float(self.upper_ms), 1),
            "pairs": self.pairs,
            "applied": self.applied,
        }


def session_key(value: object) -> str | None:
    """The 8-character join key of a session id (UUID, prefix or ``new-<ms>``)."""
    if value.__class__ is str:  # (the usual case, asked hundreds of thousands of times on a big log)
        return value[:8] or None
    if value is None or value is pd.NA or (isinstance(value, float) and np.isnan(value)):
        return None
    text = str(value)
    return text[:8] if text else None


def combine_bounds(lowers: list[float], uppers: list[float], loose_uppers: list[float] = ()) -> SkewEstimate | None:
    """The tightest consistent interval of a set of bounds and the estimate inside it.

    ``uppers`` (from ``chat:ready``: exact pairs of one message) are trusted. ``lowers``
    (from emits) and ``loose_uppers`` (from the connect handshake) come from pairing a
    client's line with a server line, and a busy log pairs some wrongly (every phone's
    temporary id prints the same, many phones reconnect in the same second): of those,
    the largest set consistent with each other and with ``uppers`` is kept. That is the
    cut with the fewest of them on its wrong side; on a tie the lowest cut, so that a
    lower bound goes before an upper one.
    """
    if not lowers and not uppers and not loose_uppers:
        return None
    low, loose = sorted(lowers), sorted(loose_uppers)
    cap = min(uppers) if uppers else math.inf
    cuts = sorted({v - ROUNDING_MS for v in low} | {v + ROUNDING_MS for v in loose} | ({cap} if uppers else set()))
    cuts = [x for x in cuts if x <= cap] or [cap]

    def wrong(x: float) -> int:
        return len(low) - bisect_right(low, x + ROUNDING_MS) + bisect_left(loose, x - ROUNDING_MS)

    cut = min(cuts, key=lambda x: (wrong(x), x))
    kept_low = low[:bisect_right(low, cut + ROUNDING_MS)]
    kept_up = [*uppers, *loose[bisect_left(loose, cut - ROUNDING_MS):]]
    dropped = len(low) + len(loose) - len(kept_low) - (len(kept_up) - len(uppers))
    # (epoch ms as float64 carry a few hundred ns of rounding: the logs' times are whole µs at best)
    upper = _whole_us(min(kept_up)) if kept_up else None
    lower = _whole_us(max(kept_low)) if kept_low else None
    if lower is not None and upper is not None:
        skew = (lower + upper) / 2
    elif upper is not None:
        skew = upper  # the fastest reply took ~0 ms: the best a one-sided bound gives
    else:
        skew = lower
    return SkewEstimate(skew_ms=_whole_us(skew), lower_ms=lower, upper_ms=upper, pairs=len(kept_low) + len(kept_up),
                        dropped=dropped)


def select_rows(events: pd.DataFrame, mask: pd.Series, columns: tuple[str, ...]) -> pd.DataFrame:
    """The rows where ``mask`` holds, of only the columns read (not a copy of every column)."""
    return events.loc[mask, [c for c in columns if c in events.columns]]


def _whole_us(ms: float) -> float:
    """``ms`` rounded to a whole microsecond."""
    return round(float(ms), 3)


def _ms(series: pd.Series) -> np.ndarray:
    """Epoch milliseconds (float) of a UTC datetime column; NaT becomes NaN."""
    values = series.to_numpy(dtype="datetime64[ns]").astype("int64").astype("float64") / 1e6
    values[series.isna().to_numpy()] = np.nan
    return values


def _objects(series: pd.Series, keep: np.ndarray) -> list:
    """The values of ``series`` where ``keep`` holds, as Python objects (None where missing)."""
    return series.to_numpy(dtype=object, na_value=None)[keep].tolist()


def emit_pairs(events: pd.DataFrame, rough_skew: dict[str, float],
               owner: dict[str, str] | None = None, sockets: dict[str, Sockets] | None = None) -> pd.DataFrame:
    """Pair each frontend emit with the server line that logged receiving it.

    Returns one row per pair: ``client``, ``fe`` and ``be`` (row labels in ``events``),
    ``key`` (session join key), ``sid`` (the backend socket), ``fe_ms`` (client clock) and
    ``be_ms`` (server clock, ``recv_ts`` when logged). ``rough_skew`` (ms per client)
    narrows the search; a client without one gets a first guess from the median offset.
    ``owner`` (8-char sid -> client, once sockets are joined to clients) keeps an emit
    off another client's socket: the 8-char key alone is ambiguous, as every temporary
    id made in the same ~3 hours prints as ``new-1795``.
    ``sockets`` (client -> its sockets over time, on the corrected clock, once known) keeps
    an emit on the socket the client had when it sent it: an emit lost with its socket is
    then left unpaired instead of taking the next socket's receipt, and every later emit
    with it.
    """
    columns = ["client", "fe", "be", "key", "sid", "fe_ms", "be_ms", "kind"]
    kinds = events["kind"]
    fe = select_rows(events, kinds.isin(list(EMIT_KINDS)) & events["source"].isin(["frontend", "panel"]),
                     ("kind", "session", "client", "t_source"))
    be = select_rows(events, kinds.isin(list(EMIT_KINDS.values())) & (events["source"] == "backend"),
                     ("kind", "session", "sid", "t_source", "recv_ts"))
    if fe.empty or be.empty:
        return pd.DataFrame(columns=columns)
    be_ms = _ms(be["t_source"])
    if "recv_ts" in be:
        recv = be["recv_ts"].to_numpy(dtype="float64") * 1000.0
        be_ms = np.where(np.isfinite(recv), recv, be_ms)
    be_table: dict[tuple[str, str], list[tuple[float, int, str | None]]] = {}
    keep = np.isfinite(be_ms) & be["session"].notna().to_numpy()
    for label, kind, session, sid, ms in zip(be.index.to_numpy()[keep].tolist(), _objects(be["kind"], keep),
                                             _objects(be["session"], keep), _objects(be["sid"], keep),
                                             be_ms[keep].tolist(), strict=True):
        key = session_key(session)
        if key is not None:
            be_table.setdefault((kind, key), []).append((ms, label, sid))
    times_of: dict[tuple[str, str], list[float]] = {}
    for table_key, rows in be_table.items():
        rows.sort()
        times_of[table_key] = [r[0] for r in rows]  # (searched: a temporary id's key is shared by many)
    fe_ms = _ms(fe["t_source"])
    candidates = []
    keep = np.isfinite(fe_ms) & fe["session"].notna().to_numpy() & fe["client"].notna().to_numpy()
    for label, kind, session, client, ms in zip(fe.index.to_numpy()[keep].tolist(), _objects(fe["kind"], keep),
                                                _objects(fe["session"], keep), _objects(fe["client"], keep),
                                                fe_ms[keep].tolist(), strict=True):
        key = session_key(session)
        if key is None:
            continue
        table_key = (EMIT_KINDS[kind], key)
        rows = be_table.get(table_key)
        if rows:
            candidates.append((str(client), label, key, ms, rows, kind, times_of[table_key]))
    guesses = dict(rough_skew)
    offsets: dict[str, list[float]] = {client: [] for client in {c[0] for c in candidates} - set(guesses)}
    for c, _label, _key, ms, _rows, _kind, times in candidates:
        if c in offsets:
            # the receipt nearest the emit within the window (the earlier one on a tie)
            i = bisect_left(times, ms)
            near = [ms - times[j] for j in (i - 1, i) if 0 <= j < len(times) and abs(ms - times[j]) <= SEARCH_WINDOW_MS]
            if near:
                offsets[c].append(min(near, key=abs))
    for client, values in offsets.items():
        if values:
            guesses[client] = float(np.median(values))
    # An emit sent before the server's log begins was received (or not) before it too: its
    # receipt is not in the log, and the first unused receipt after it would be a later
    # emit's, shifting every pair after it (a server log cut to its last lines named delays
    # of seconds that never were). One sent as the log begins may have been received just
    # before its first line: it is paired only with a receipt that came at once.
    logged_from = _first_backend_ms(events)
    # Socket.IO delivers a connection's packets in order: the n-th emit is the first unused
    # receipt at or after it (a slow one included), not the nearest one.
    out = []
    owner = owner or {}
    receipts: dict[tuple[str, str], _Receipts] = {}
    candidates.sort(key=lambda c: c[3] - guesses.get(c[0], 0.0))
    for client, label, key, ms, rows, kind, times in candidates:
        guess = guesses.get(client)
        if guess is None:
            continue
        sent = ms - guess
        if sent < logged_from - PAIR_SLOP_MS:
            continue
        table_key = (EMIT_KINDS[kind], key)
        if table_key not in receipts:
            receipts[table_key] = _Receipts(rows, owner)
        # the first receipt not paired yet, on the socket the client had (or, not known, on a
        # socket not known to be another client's); receipts before sent - PAIR_SLOP_MS are
        # never it: start past them
        start = bisect_left(times, sent - PAIR_SLOP_MS)
        if sockets and client in sockets:
            sid = sockets[client].at(sent / 1000.0)
            found = receipts[table_key].first_on(sid, start) if sid is not None else None
        else:
            found = receipts[table_key].first_open(client, start)
        if found is None:
            continue
        j, links, i = found
        be_time, be_label, sid = rows[j]
        if sent < logged_from + PAIR_SLOP_MS and be_time - sent > PAIR_SLOP_MS:
            continue
        if be_time - sent <= PAIR_WINDOW_MS:
            links[i] = i + 1  # (paired: closed)
            out.append((client, label, be_label, key, sid, ms, be_time, kind))
    return pd.DataFrame(out, columns=columns)


def _first_backend_ms(events: pd.DataFrame) -> float:
    """Epoch ms of the first line of the server's logs (by its clock), -inf without one."""
    t = events["t_source"][(events["source"] == "backend").to_numpy()].min()
    return float(t.value / 1e6) if pd.notna(t) else -math.inf


class Sockets:
    """One client's sockets over time (corrected epoch seconds): which one it had at a moment."""

    def __init__(self, spans: list[tuple[float, float, str]]):
        """``spans``: (opened, closed or inf, 8-char sid) of each socket."""
        spans = sorted(spans)
        self.starts = [x[0] for x in spans]
        self.spans = spans

    def at(self, t: float) -> str | None:
        """The socket opened last at or before ``t`` and not closed before it; else one opened
        at most PAIR_SLOP_MS after ``t`` (the corrected clocks agree to some ms only, and a
        page emits the moment it is authenticated)."""
        after = bisect_right(self.starts, t)
        for i in range(after - 1, -1, -1):
            _opened, closed, sid = self.spans[i]
            if closed >= t:
                return sid
        if after < len(self.spans) and self.starts[after] - t <= PAIR_SLOP_MS / 1000.0:
            return self.spans[after][2]
        return None


class _Receipts:
    """One key's receipts (in time order) for :func:`emit_pairs`, split by the client their
    socket belongs to (None: not known), with the first one not yet paired found in a few
    steps however many are paired or another client's (thousands of phones' temporary ids
    share the key ``new-1795``)."""

    def __init__(self, rows: list[tuple[float, int, str | None]], owner: dict[str, str]):
        self._rows = rows
        self.parts = self._split(lambda sid: owner.get(sid[:8]) if sid is not None else None)
        self._by_sid: dict[str | None, tuple[list[int], list[int]]] | None = None

    def _split(self, part_of: Callable[[str | None], str | None]) -> dict[str | None, tuple[list[int], list[int]]]:
        """The receipts by ``part_of`` their socket: per part, their positions and their links
        (see open_item: open while not paired; links[len] == len stands for "none left")."""
        parts: dict[str | None, list[int]] = {}
        for j, (_t, _label, sid) in enumerate(self._rows):
            parts.setdefault(part_of(sid), []).append(j)
        return {k: (v, list(range(len(v) + 1))) for k, v in parts.items()}

    @staticmethod
    def _first(found: tuple[list[int], list[int]] | None, start: int) -> tuple[int, list[int], int] | None:
        """A part's first receipt at or after position ``start`` not paired yet."""
        if found is None:
            return None
        positions, links = found
        i = open_item(links, bisect_left(positions, start))
        return (positions[i], links, i) if i < len(positions) else None

    def first_on(self, sid: str, start: int) -> tuple[int, list[int], int] | None:
        """As :meth:`first_open`, of the receipts on this socket only. (A client whose
        sockets are known pairs only this way, so no receipt is paired from both sides.)"""
        if self._by_sid is None:
            self._by_sid = self._split(lambda sid_j: sid_j[:8] if sid_j is not None else None)
        return self._first(self._by_sid.get(sid), start)

    def first_open(self, client: str, start: int) -> tuple[int, list[int], int] | None:
        """The first receipt at or after position ``start`` not paired yet, of this client's
        sockets or of sockets not known to be anyone's: (its position, its part's links, its
        place in them; ``links[place] = place + 1`` pairs it)."""
        found = [f for f in (self._first(self.parts.get(part), start) for part in (client, None)) if f is not None]
        return min(found, key=lambda f: f[0], default=None)


def ready_bounds(events: pd.DataFrame) -> dict[str, list[float]]:
    """Upper bounds per client from ``chat:ready`` lines (``client_ms - server_ms``); not from
    a line whose ``client=`` is not the time the line itself was written at, nor one far below
    the client's other bounds (see READY_CLOCK_MS)."""
    ready = select_rows(events, (events["kind"] == "chat.ready.received") & events["server_ms"].notna()
                        & events["client_ms"].notna() & events["client"].notna(),
                        ("client", "client_ms", "server_ms", "t_source"))
    out: dict[str, list[float]] = {}
    client_ms = ready["client_ms"].to_numpy(dtype="float64", na_value=np.nan)
    diffs = client_ms - ready["server_ms"].to_numpy(dtype="float64", na_value=np.nan)
    off = np.abs(client_ms - _ms(ready["t_source"])) > READY_CLOCK_MS  # (False where the line has no time)
    for client, diff, bad in zip(ready["client"], diffs.tolist(), off.tolist(), strict=True):
        if not bad:
            out.setdefault(str(client), []).append(diff)
    for client, values in out.items():
        # each bound is the skew plus that chat:ready's trip: one over a minute below the
        # middle one would make the middle one's trip take minutes (a mangled server=)
        if len(values) >= 3:
            middle = float(np.median(values))
            out[client] = [v for v in values if v >= middle - READY_CLOCK_MS]
    return out


def handshake_bounds(events: pd.DataFrame, guesses: dict[str, float]) -> tuple[dict[str, list[float]],
                                                                                dict[str, list[float]]]:
    """Bounds from the connect handshake: the server logs ``Client X connected`` before the
    client hears of it (upper bound), the client logs ``Connected, authenticating...``
    before it sends ``auth`` and the server logs the outcome after (lower bound), and the
    client logs the outcome after the server (upper bound)."""
    kinds = events["kind"]
    fe_mask = events["source"].isin(["frontend", "panel"]) & events["client"].notna()
    fe_conn = select_rows(events, fe_mask & (kinds == "socket.connected"), ("client", "t_source"))
    fe_auth = select_rows(events, fe_mask & kinds.isin(["auth.ok", "auth.failed"]), ("client", "t_source"))
    be = select_rows(events, (events["source"] == "backend") & events["sid"].notna()
                     & kinds.isin(["socket.connected", "auth.ok", "auth.failed"]), ("kind", "sid", "t_source"))
    lowers: dict[str, list[float]] = {}
    uppers: dict[str, list[float]] = {}
    if fe_conn.empty or be.empty:
        return lowers, uppers
    be_ms = _ms(be["t_source"])
    connects = sorted((ms, str(sid)[:8]) for ms, kind, sid in zip(be_ms, be["kind"], be["sid"], strict=True)
                      if kind == "socket.connected")
    auths: dict[str, list[float]] = {}
    for ms, kind, sid in zip(be_ms, be["kind"], be["sid"], strict=True):
        if kind != "socket.connected":
            auths.setdefault(str(sid)[:8], []).append(ms)
    if not connects:
        return lowers, uppers
    conn_ms = np.array([c[0] for c in connects])
    fe_conn_ms = _ms(fe_conn["t_source"])
    by_client: dict[str, list[float]] = {}
    for client, ms in zip(fe_conn["client"], fe_conn_ms, strict=True):
        by_client.setdefault(str(client), []).append(ms)
    fe_auth_ms: dict[str, np.ndarray] = {}
    for client, ms in zip(fe_auth["client"], _ms(fe_auth["t_source"]), strict=True):
        fe_auth_ms.setdefault(str(client), []).append(ms)
    for client, times in by_client.items():
        guess = guesses.get(client)
        if guess is None:
            # no other pair: the nearest server connect of each client connect, by median offset
            offsets = [t - conn_ms[int(np.argmin(np.abs(conn_ms - t)))] for t in times]
            offsets = [o for o in offsets if abs(o) <= SEARCH_WINDOW_MS]
            if not offsets:
                continue
            guess = float(np.median(offsets))
        mine_auth = sorted(fe_auth_ms.get(client, []))
        for t in times:
            i = int(np.argmin(np.abs(conn_ms - (t - guess))))
            if abs(conn_ms[i] - (t - guess)) > ROUNDING_MS * 250:
                continue
            near = np.searchsorted(conn_ms, [t - guess - HANDSHAKE_AMBIGUOUS_MS, t - guess + HANDSHAKE_AMBIGUOUS_MS])
            if near[1] - near[0] > 1:
                continue  # other phones' connects as near: which one is this phone's is a guess
            b_conn, sid = connects[i]
            uppers.setdefault(client, []).append(t - b_conn)
            b_auth = next((a for a in sorted(auths.get(sid, [])) if a >= b_conn), None)
            if b_auth is None:
                continue
            lowers.setdefault(client, []).append(t - b_auth)
            f_auth = next((a for a in mine_auth if a >= t), None)
            if f_auth is not None and abs(f_auth - guess - b_auth) <= ROUNDING_MS * 250:
                uppers.setdefault(client, []).append(f_auth - b_auth)
    return lowers, uppers


def estimate_skews(events: pd.DataFrame) -> tuple[dict[str, SkewEstimate], pd.DataFrame]:
    """The skew of every frontend client found in ``events``, and the emit pairs used.

    Clients with no pair at all get no estimate (their times stay as written)."""
    uppers = ready_bounds(events)
    rough = {client: min(values) for client, values in uppers.items()}
    pairs = emit_pairs(events, rough)
    lowers: dict[str, list[float]] = {}
    for client, fe_ms, be_ms in zip(pairs["client"], pairs["fe_ms"], pairs["be_ms"], strict=True):
        lowers.setdefault(client, []).append(float(fe_ms - be_ms))
    guesses = dict(rough)
    for client in set(lowers) - set(guesses):
        guesses[client] = max(lowers[client])
    hs_lowers, hs_uppers = handshake_bounds(events, guesses)
    for client, values in hs_lowers.items():
        lowers.setdefault(client, []).extend(values)
    out = {}
    for client in sorted(set(uppers) | set(lowers) | set(hs_uppers)):
        estimate = combine_bounds(lowers.get(client, []), uppers.get(client, []), hs_uppers.get(client, []))
        if estimate is not None:
            out[client] = estimate
    return out, pairs


def apply_skews(events: pd.DataFrame, skews: dict[str, SkewEstimate]) -> pd.Series:
    """The corrected ``t`` column: frontend times minus their client's skew."""
    t = events["t_source"].copy()
    if not skews:
        return t
    applied = {c: s.skew_ms for c, s in skews.items() if s.applied}
    client = events["client"]
    if isinstance(client.dtype, pd.CategoricalDtype):  # one lookup per client, not per row
        per_client = np.array([applied.get(c, np.nan) for c in client.cat.categories] + [np.nan], dtype="float64")
        offsets = per_client[client.cat.codes.to_numpy()]
    else:
        offsets = client.map(applied).to_numpy(dtype="float64", na_value=np.nan)
    offsets[~events["source"].isin(["frontend", "panel"]).to_numpy()] = np.nan
    mask = ~np.isnan(offsets)
    if mask.any():
        delta = pd.to_timedelta(offsets[mask], unit="ms")
        t.loc[mask] = t.loc[mask] - delta.to_numpy()
    return t


# ---- page loads ---------------------------------------------------------------------------
# A page's log is one page load (its clientId names it), and so one clock; but a file a user
# gives can hold several (two logs put together, a file renamed by hand). Lines a page writes
# once, as it starts (the real app's keyboard handler, the ConnectionManager's creation; not
# its first state, "idle -> connecting", which some writers repeat on a reconnect) ...
PAGE_START_SHAPES = ("page.keyboard", "cm.init")
# ... and a page's own clock since it loaded (performance.now()), on each chat it opens: lower
# than the line before it, on a page with no start line (the legacy client).
PAGE_CLOCK_SHAPE = "page.session_start"
# What a page writes of its socket and chats (a start line after one starts another load).
PAGE_ACTIVITY = ("socket.", "auth.", "chat.", "message.", "output.", "history.")
# What a page writes from its start to its first chat (its socket's connect).
PAGE_CONNECT_KINDS = ("socket.state", "socket.connecting", "socket.connected", "auth.ok", "cm.socket_state",
                      "cm.state", "cm.connected")
PAGE_CONNECT_LINES = 30
# The later page loads of a file are clients of their own: <clientId>#2, #3 ...
PAGE_LOAD_MARK = "#"
PAGE_LOADS_LISTED = 3  # (in the warning: the lines where the first few start)


def _column(events: pd.DataFrame, name: str) -> pd.Series:
    return events[name] if name in events.columns else pd.Series(pd.NA, index=events.index, dtype="object")


def _category_codes(s: pd.Series) -> tuple[np.ndarray, list]:
    """Per row, a number for its value (-1: missing), and the values."""
    cat = s if isinstance(s.dtype, pd.CategoricalDtype) else s.astype("category")
    return cat.cat.codes.to_numpy(), list(cat.cat.categories)


def page_load_starts(events: pd.DataFrame) -> dict[tuple[str, str], tuple[list[int], np.ndarray]]:
    """(path, clientId) of each page's log that holds more than one page load -> (the line
    where each later load starts, the rows of that page's lines, in line order)."""
    if "client" not in events.columns or not len(events):
        return {}
    shapes, shape_names = _category_codes(events["shape"])
    names = [str(x) for x in shape_names]
    marked = np.array([n in (*PAGE_START_SHAPES, PAGE_CLOCK_SHAPE) for n in names] + [False])
    marks = np.flatnonzero(marked[shapes])
    if not len(marks):  # (most logs: the few start lines are looked at alone below)
        return {}
    def of_shape(wanted: tuple[str, ...]) -> np.ndarray:
        return np.array([n in wanted for n in names] + [False])[shapes[marks]]

    start = np.zeros(len(events), dtype=bool)
    start[marks] = of_shape(PAGE_START_SHAPES)
    clock = np.zeros(len(events), dtype=bool)
    clock[marks] = of_shape((PAGE_CLOCK_SHAPE,))
    page = (events["source"].iloc[marks].isin(["frontend", "panel"]) & events["client"].iloc[marks].notna())
    marks = marks[(start[marks] | clock[marks]) & page.to_numpy(bool)]
    if not len(marks):
        return {}
    paths, path_names = _category_codes(events["path"])
    clients, client_names = _category_codes(events["client"])
    def key_of(rows: np.ndarray | slice) -> np.ndarray:  # (one per file and client)
        return paths[rows].astype(np.int64) * (len(client_names) + 1) + clients[rows]

    line = events["line"].to_numpy()
    marks = marks[np.lexsort((line[marks], key_of(marks)))]
    ms = np.full(len(events), np.nan)
    if "ms" in events.columns:
        ms[marks] = events["ms"].iloc[marks].to_numpy(dtype="float64", na_value=np.nan)
    groups = np.split(marks, np.flatnonzero(np.diff(key_of(marks))) + 1)
    # the files whose marks are not all at their start: their lines, in order
    busy = [g for g in groups if not _one_load(start[g], line[g], ms[g])]
    if not busy:
        return {}
    detail = _column(events, "detail").astype(object).to_numpy()
    key = key_of(slice(None))
    page = (events["source"].isin(["frontend", "panel"]) & events["client"].notna()).to_numpy(bool)
    rows = np.flatnonzero(page & np.isin(key, [key[g[0]] for g in busy]))
    rows = rows[np.lexsort((line[rows], key[rows]))]
    by_file = dict(zip(key[rows[np.r_[0, np.flatnonzero(np.diff(key[rows])) + 1]]].tolist(),
                       np.split(rows, np.flatnonzero(np.diff(key[rows])) + 1), strict=True))
    kinds, kind_names = _category_codes(events["kind"])
    active_kind = np.array([str(k).startswith(PAGE_ACTIVITY) for k in kind_names] + [False])
    connect_kind = np.array([str(k) in PAGE_CONNECT_KINDS for k in kind_names] + [False])
    t_ns = events["t_source"].to_numpy(dtype="datetime64[ns]").astype(np.int64)
    state_from = _column(events, "state_from").astype(object).to_numpy()
    state_to = _column(events, "state_to").astype(object).to_numpy()
    found = {}
    for g in busy:
        own = by_file[int(key[g[0]])]
        own_lines = line[own]
        active = own_lines[active_kind[kinds[own]]]

        def connect_start(at: int, loaded_ns: int, own=own, own_lines=own_lines) -> int:
            """The first line of a page whose first chat is on line ``at``: its socket's
            connect just before, written since it loaded."""
            first = at
            i = int(np.searchsorted(own_lines, at)) - 1
            while i >= 0 and at - own_lines[i] <= PAGE_CONNECT_LINES:
                row = own[i]
                if own_lines[i] != first - 1 or not connect_kind[kinds[row]] or t_ns[row] < loaded_ns:
                    break
                first = int(own_lines[i])
                if str(state_from[row]) == "disconnected" and str(state_to[row]) == "connecting":
                    break  # (a page's socket starts there)
                i -= 1
            return first

        starts = _load_starts(g, start, line, ms, shapes, detail, t_ns, active, connect_start)
        if starts:
            found[(str(path_names[paths[g[0]]]), str(client_names[clients[g[0]]]))] = starts, own
    return found


def _one_load(start: np.ndarray, line: np.ndarray, ms: np.ndarray) -> bool:
    """Whether a file's marks (its start lines and page-clock lines, in line order) are
    those of one page load at a glance: its start lines are its first lines, and the page's
    clock never goes back."""
    first = line[start]
    quiet = len(first) == 0 or (first[0] == 1 and bool((np.diff(first) == 1).all()))
    return quiet and not bool((np.diff(ms[~start]) < 0).any())


def _load_starts(marks: np.ndarray, start: np.ndarray, line: np.ndarray, ms: np.ndarray, shapes: np.ndarray,
                 detail: np.ndarray, t_ns: np.ndarray, active: np.ndarray,
                 connect_start: Callable[[int, int], int]) -> list[int]:
    """The lines of one page's log where a later page load starts (see page_load_starts).
    ``marks``: its start lines and page-clock lines, in line order; ``active``: the lines
    (in order) where the page wrote of its socket or chats."""
    starts: list[int] = []
    page_first = int(line[marks[0]])  # (lines before the first mark go with the first page)
    seen: set = set()
    last_ms = math.nan
    for row in marks.tolist():
        at = int(line[row])
        if not start[row]:  # the page's clock since it loaded
            if ms[row] < last_ms:  # (NaN: no earlier one)
                page_first = connect_start(at, int(t_ns[row] - (ms[row] + ROUNDING_MS) * 1e6))
                starts.append(page_first)
                seen = set()
            last_ms = ms[row]
            continue
        mark = (shapes[row], detail[row])  # (a page writes each start line once)
        wrote = np.searchsorted(active, page_first) < np.searchsorted(active, at)
        if wrote and (not seen or mark in seen):
            page_first = at
            starts.append(at)
            seen = set()
            last_ms = math.nan
        seen.add(mark)
    return starts


def page_load_name(page: str, k: int) -> str:
    """The client the ``k``-th load (1: the first) of the page ``page``'s log is read as."""
    return page if k == 1 else f"{page}{PAGE_LOAD_MARK}{k}"


def next_page_load(client: str) -> str:
    """The client the load after ``client``'s in the same page's log is read as (see
    :func:`split_page_loads`)."""
    page, _, k = client.rpartition(PAGE_LOAD_MARK)
    return page_load_name(page, int(k) + 1) if page and k.isdigit() else page_load_name(client, 2)


def split_page_loads(events: pd.DataFrame) -> tuple[pd.DataFrame, list[str]]:
    """``events`` with each later page load of a page's log named as a client of its own
    (``<clientId>#2`` ...), so that each has its own clock; and warnings that say so (one
    per such file, the first few files). A page with several such logs (one a day, or a
    copy in another folder) numbers its loads on from one log to the next."""
    found = page_load_starts(events)
    if not found:
        return events, []
    clients, client_names = _category_codes(events["client"])
    codes = clients.astype(np.int64)
    names = [str(c) for c in client_names]
    line = events["line"].to_numpy()
    warnings = []
    numbered: dict[str, int] = {}  # page -> the loads named so far (its logs of several days or copies)
    for (path, page), (starts, own) in found.items():
        load = np.searchsorted(np.array(starts), line[own], side="right")  # 0: the first page load
        done = numbered.get(page, 1)
        loads = [page] + [page_load_name(page, done + k + 1) for k in range(len(starts))]
        numbered[page] = done + len(starts)
        later = load > 0
        codes[own[later]] = len(names) + load[later] - 1
        names.extend(loads[1:])
        if len(warnings) < PAGE_LOADS_LISTED:
            at = ", ".join(f"{s:,}" for s in starts[:PAGE_LOADS_LISTED])
            named = ", ".join(loads[:PAGE_LOADS_LISTED + 1])
            if len(starts) > PAGE_LOADS_LISTED:
                at += f" and {len(starts) - PAGE_LOADS_LISTED:,} more"
                named += f" ... {loads[-1]}"
            warnings.append(f"{path}: {len(loads):,} page loads in one page's log (the page loaded again at line "
                            f"{at}): each is read as a page of its own, on its own clock: {named}")
    if len(found) > PAGE_LOADS_LISTED:
        more = found.values()
        warnings.append(f"{len(found) - PAGE_LOADS_LISTED:,} more page logs hold several page loads "
                        f"({sum(len(s) + 1 for s, _ in more):,} loads in the {len(found):,} files), each read as "
                        f"pages of their own: <clientId>{PAGE_LOAD_MARK}2 ...")
    events = events.copy(deep=False)
    events["client"] = pd.Categorical.from_codes(codes, categories=names)
    return events, warnings
