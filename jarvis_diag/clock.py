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

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

# Log timestamps have 1 ms resolution: bounds that disagree by this much still agree.
ROUNDING_MS = 2.0
# An emit is paired with the server's receipt only within this window (after a rough
# correction), so a retried emit is not paired with the first attempt's receipt.
PAIR_WINDOW_MS = 2000.0
# Without any chat:ready line, a first guess of the skew takes emit/receive pairs this far apart.
SEARCH_WINDOW_MS = 120_000.0

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
            "skew_ms": round(self.skew_ms, 1),
            "lower_ms": None if self.lower_ms is None else round(self.lower_ms, 1),
            "upper_ms": None if self.upper_ms is None else round(self.upper_ms, 1),
            "pairs": self.pairs,
            "applied": self.applied,
        }


def session_key(value: object) -> str | None:
    """The 8-character join key of a session id (UUID, prefix or ``new-<ms>``)."""
    if value is None or value is pd.NA or (isinstance(value, float) and np.isnan(value)):
        return None
    text = str(value)
    return text[:8] if text else None


def combine_bounds(lowers: list[float], uppers: list[float]) -> SkewEstimate | None:
    """The tightest consistent interval of a set of bounds and the estimate inside it.

    Upper bounds from ``chat:ready`` are exact pairs of one message and are trusted; a
    lower bound above the tightest upper bound (beyond timestamp rounding) came from a
    mis-paired emit and is dropped, not allowed to drag the estimate.
    """
    if not lowers and not uppers:
        return None
    upper = min(uppers) if uppers else None
    dropped = 0
    if upper is not None:
        kept = [v for v in lowers if v <= upper + ROUNDING_MS]
        dropped = len(lowers) - len(kept)
        lowers = kept
    lower = max(lowers) if lowers else None
    if lower is not None and upper is not None:
        skew = (lower + upper) / 2
    elif upper is not None:
        skew = upper  # the fastest reply took ~0 ms: the best a one-sided bound gives
    else:
        skew = lower
    return SkewEstimate(skew_ms=float(skew), lower_ms=lower, upper_ms=upper, pairs=len(lowers) + len(uppers),
                        dropped=dropped)


def _ms(series: pd.Series) -> np.ndarray:
    """Epoch milliseconds (float) of a UTC datetime column; NaT becomes NaN."""
    values = series.to_numpy(dtype="datetime64[ns]").astype("int64").astype("float64") / 1e6
    values[series.isna().to_numpy()] = np.nan
    return values


def emit_pairs(events: pd.DataFrame, rough_skew: dict[str, float]) -> pd.DataFrame:
    """Pair each frontend emit with the server line that logged receiving it.

    Returns one row per pair: ``client``, ``fe`` and ``be`` (row labels in ``events``),
    ``key`` (session join key), ``sid`` (the backend socket), ``fe_ms`` (client clock) and
    ``be_ms`` (server clock, ``recv_ts`` when logged). ``rough_skew`` (ms per client)
    narrows the search; a client without one gets a first guess from the median offset.
    """
    columns = ["client", "fe", "be", "key", "sid", "fe_ms", "be_ms", "kind"]
    kinds = events["kind"]
    fe = events[kinds.isin(list(EMIT_KINDS)) & events["source"].isin(["frontend", "panel"])]
    be = events[kinds.isin(list(EMIT_KINDS.values())) & (events["source"] == "backend")]
    if fe.empty or be.empty:
        return pd.DataFrame(columns=columns)
    be_ms = _ms(be["t_source"])
    if "recv_ts" in be:
        recv = be["recv_ts"].to_numpy(dtype="float64") * 1000.0
        be_ms = np.where(np.isfinite(recv), recv, be_ms)
    be_table: dict[tuple[str, str], list[tuple[float, int, str | None]]] = {}
    for label, kind, session, sid, ms in zip(be.index, be["kind"], be["session"], be["sid"], be_ms, strict=True):
        key = session_key(session)
        if key is None or not np.isfinite(ms):
            continue
        be_table.setdefault((str(kind), key), []).append((ms, label, None if sid is pd.NA else sid))
    for rows in be_table.values():
        rows.sort()
    fe_ms = _ms(fe["t_source"])
    candidates = []
    for label, kind, session, client, ms in zip(fe.index, fe["kind"], fe["session"], fe["client"], fe_ms, strict=True):
        key = session_key(session)
        if key is None or client is pd.NA or client is None or not np.isfinite(ms):
            continue
        rows = be_table.get((EMIT_KINDS[str(kind)], key))
        if rows:
            candidates.append((str(client), label, key, ms, rows, str(kind)))
    guesses = dict(rough_skew)
    for client in {c[0] for c in candidates} - set(guesses):
        offsets = []
        for c, _label, _key, ms, rows, _kind in candidates:
            if c != client:
                continue
            near = [ms - r[0] for r in rows if abs(ms - r[0]) <= SEARCH_WINDOW_MS]
            if near:
                offsets.append(min(near, key=abs))
        if offsets:
            guesses[client] = float(np.median(offsets))
    out = []
    used: set[int] = set()
    for client, label, key, ms, rows, kind in candidates:
        guess = guesses.get(client)
        if guess is None:
            continue
        best = None
        for be_time, be_label, sid in rows:
            gap = abs(ms - guess - be_time)
            if gap <= PAIR_WINDOW_MS and be_label not in used and (best is None or gap < best[0]):
                best = (gap, be_time, be_label, sid)
        if best is not None:
            used.add(best[2])
            out.append((client, label, best[2], key, best[3], ms, best[1], kind))
    return pd.DataFrame(out, columns=columns)


def ready_bounds(events: pd.DataFrame) -> dict[str, list[float]]:
    """Upper bounds per client from ``chat:ready`` lines (``client_ms - server_ms``)."""
    ready = events[(events["kind"] == "chat.ready.received") & events["server_ms"].notna()
                   & events["client_ms"].notna() & events["client"].notna()]
    out: dict[str, list[float]] = {}
    diffs = ready["client_ms"].astype("float64") - ready["server_ms"].astype("float64")
    for client, diff in zip(ready["client"], diffs, strict=True):
        out.setdefault(str(client), []).append(float(diff))
    return out


def estimate_skews(events: pd.DataFrame) -> tuple[dict[str, SkewEstimate], pd.DataFrame]:
    """The skew of every frontend client found in ``events``, and the emit pairs used.

    Clients with no pair at all get no estimate (their times stay as written)."""
    uppers = ready_bounds(events)
    rough = {client: min(values) for client, values in uppers.items()}
    pairs = emit_pairs(events, rough)
    lowers: dict[str, list[float]] = {}
    for client, fe_ms, be_ms in zip(pairs["client"], pairs["fe_ms"], pairs["be_ms"], strict=True):
        lowers.setdefault(client, []).append(float(fe_ms - be_ms))
    out = {}
    for client in sorted(set(uppers) | set(lowers)):
        estimate = combine_bounds(lowers.get(client, []), uppers.get(client, []))
        if estimate is not None:
            out[client] = estimate
    return out, pairs


def apply_skews(events: pd.DataFrame, skews: dict[str, SkewEstimate]) -> pd.Series:
    """The corrected ``t`` column: frontend times minus their client's skew."""
    t = events["t_source"].copy()
    if not skews:
        return t
    offsets = events["client"].map({c: s.skew_ms for c, s in skews.items() if s.applied})
    offsets = offsets.where(events["source"].isin(["frontend", "panel"]))
    mask = offsets.notna().to_numpy()
    if mask.any():
        delta = pd.to_timedelta(offsets[mask].astype("float64"), unit="ms")
        t.loc[mask] = t.loc[mask] - delta.to_numpy()
    return t
