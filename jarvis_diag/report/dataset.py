"""What a report is computed from: the samples of every metric, outcome counts, findings and
the worst episode, gathered from simulation records and timeline JSON (pure: dicts in).

Inputs follow the documented shapes of docs/formats.md: ``jarvis-diag.sim/1`` records
(one per client and cycle) and the ``jarvis-diag.timeline/1`` document.
"""

from __future__ import annotations

import json
import math
import os
import re
import shlex
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from itertools import groupby
from typing import NamedTuple

from jarvis_diag.errors import DiagError

# name -> (what it measures, phases of its stacked breakdown in order)
METRICS: dict[str, tuple[str, tuple[str, ...]]] = {
    "switch": ("attach to an existing session: request -> chat:ready received",
               ("uplink", "T1", "T2", "T3", "T4", "T5", "downlink", "other")),
    "new-session": ("open a session for the first time on the page (a new one, or one from the list): request -> "
                    "chat:ready received",
                    ("uplink", "T1", "agent start", "T2", "T3", "T4", "T5", "downlink", "other")),
    "reattach": ("re-attach a session after a reconnect: request -> chat:ready received",
                 ("uplink", "T1", "T2", "T3", "T4", "T5", "downlink", "other")),
    "recovery": ("visible again -> every session ready, in the cycles / episodes that recovered",
                 ("connect", "authenticate", "attach sessions")),
    "live": ("visible again -> every session shows live output again", ("ready", "first output")),
    "detection": ("connection lost -> both sides noticed", ("first side", "second side")),
    "detection-client": ("connection lost -> the client noticed", ()),
    "detection-server": ("connection lost -> the server noticed (logged the disconnect)", ()),
    "transport": ("an attach's time on the wire, both ways: its latency less the server's time (chat:connect "
                  "received -> chat:ready sent)", ()),
    "T1": ("server attach phase T1 get_session (ms since Chat connect START)", ()),
    "T2": ("server attach phase T2 session_ready (ms since START)", ()),
    "T3": ("server attach phase T3 callback_set (ms since START)", ()),
    "T4": ("server attach phase T4 history_loaded (ms since START)", ()),
    "T5": ("server attach phase T5 ready_sent (ms since START)", ()),
    "T6": ("server attach phase T6 history_sent (ms since START)", ()),
}
COUNTS: dict[str, str] = {
    "lost": "messages produced while away that the client never saw",
    "duplicated": "messages the client saw twice",
    "unrecovered": "cycles / episodes that did not recover",
}
# What "did not recover" means for each kind of input (see unrecovered_description).
UNRECOVERED = {
    "cycles": "simulated cycles that did not recover (recovered: every session re-attached by the client "
              "and a reply sent after coming back arriving live, within the deadline)",
    "episodes": "episodes (read from logs) that never got every session ready again",
}
# A simulated cycle whose sessions were all ready again (times_ms.recovery) that still did not
# recover: its time is no recovery time, as in simulate-mobile's own table.
READY_NOT_RECOVERED = "ready, not recovered"
# An attach the server answered whose socket no page log given joins: sent, its latency unknown.
READY_NOT_SEEN = "ready sent (no page log)"


def unrecovered_description(unit: str) -> str:
    """The meaning of the ``unrecovered`` count for inputs counted in ``unit``: cycles,
    episodes or cycles/episodes."""
    return "; ".join(UNRECOVERED[u] for u in unit.split("/"))
_ATTACH_METRIC = {"new": "new-session", "switch": "switch", "reconnect": "reattach"}
_SERVER_PHASES = ("T1", "T2", "T3", "T4", "T5", "T6")


class Ref(NamedTuple):
    """Where a case comes from, so a reader can open its timeline."""

    path: str  # results.jsonl or timeline JSON / log paths
    line: int | None  # line of a results.jsonl record
    label: str  # "client 3 cycle 2", "session 977bcd1b new attach #1" (its first)
    at: str | None  # ISO instant
    client: str | None = None
    session: str | None = None
    # the cycle (a results record) or the reconnect (the page's new socket) the case is one
    # of: cases of one are not independent (a reconnect's re-attaches all wait on the same
    # socket), and a comparison resamples these; None: the case is one of its own
    unit: object = None


@dataclass
class Samples:
    """The cases of one metric, column-wise (fast to fill for 100,000 cycles)."""

    values: list[float] = field(default_factory=list)
    phases: dict[str, list[float]] = field(default_factory=dict)
    refs: list[Ref] = field(default_factory=list)
    phased: list[int] = field(default_factory=list)  # indices of the cases that have phases
    outcomes: Counter = field(default_factory=Counter)
    agent_start_ms: float = 0.0  # new-session: summed session-creation time (agent start share)

    def add(self, value: float, ref: Ref, phases: dict[str, float] | None = None) -> None:
        i = len(self.values)
        self.values.append(value)
        self.refs.append(ref)
        if phases:
            self.phased.append(i)
        for name, ms in (phases or {}).items():
            col = self.phases.get(name)
            if col is None:
                col = self.phases[name] = [0.0] * i
            col.append(ms)
        for col in self.phases.values():
            if len(col) <= i:
                col.append(0.0)


@dataclass
class CountTotals:
    """A count per cycle (or episode): total, how many cycles had any, and where."""

    unit: str = "cycles"
    per_unit: list[int] = field(default_factory=list)
    affected: list[Ref] = field(default_factory=list)

    def add(self, count: int, ref: Ref) -> None:
        self.per_unit.append(count)
        if count:
            self.affected.append(ref)


@dataclass
class Waterfall:
    """The worst episode, both sides' events on one time axis (ms from ``origin``)."""

    title: str
    ref: Ref
    origin: str  # ISO instant of 0 ms
    rows: list[dict]  # {"side": client|server, "label", "start_ms", "end_ms" (None: instant)}
    total_ms: float

    def to_json_dict(self) -> dict:
        return {"title": self.title, "ref": _ref_json(self.ref), "origin": self.origin,
                "total_ms": round(self.total_ms, 3), "rows": self.rows}


@dataclass
class InputInfo:
    path: str
    kind: str  # sim | timeline | logs
    records: int  # sim records, or timeline attaches + episodes
    paths: list[str] = field(default_factory=list)  # logs read together: each path given (else just path)
    findings_only: bool = False  # the logs of a run folder: read for their findings, not its figures
    run: str | None = None  # the run of a results file holding several (``cat a.jsonl b.jsonl``), else None


@dataclass
class Dataset:
    """Everything one side of a report (or of a comparison) is computed from."""

    inputs: list[InputInfo] = field(default_factory=list)
    metrics: dict[str, Samples] = field(default_factory=lambda: {name: Samples() for name in METRICS})
    counts: dict[str, CountTotals] = field(default_factory=lambda: {name: CountTotals() for name in COUNTS})
    findings: list[dict] = field(default_factory=list)
    waterfall: Waterfall | None = None
    timeline_hint: dict[str, str] = field(default_factory=dict)  # path -> command that shows it
    # what the detection cases start from: LEFT or DISCONNECT (see _add_detection), how many of each
    detection_starts: Counter = field(default_factory=Counter)
    # the simulated cycles' settings (see run_settings), how many cycles of each
    settings: Counter = field(default_factory=Counter)
    # each simulated cycle read, (run, client, cycle, hidden_at) -> (path, line): a run given
    # twice is told (two runs an older simulate-mobile started in the same second share a run
    # id, to the second, not their instants)
    cycles: dict[tuple[str, int, int, object], tuple[str, int]] = field(default_factory=dict, repr=False)
    # the log files whose figures were read (raw logs, and those a timeline given was made
    # from, found from here): resolved file -> the input it was read as
    logs: dict[str, str] = field(default_factory=dict, repr=False)

    @property
    def label(self) -> str:
        return ", ".join(i.path for i in self.inputs) or "(no input)"


def _ref_json(ref: Ref) -> dict:
    return {"path": ref.path, "line": ref.line, "label": ref.label, "at": ref.at,
            "client": ref.client, "session": ref.session}


def ref_json(ref: Ref) -> dict:
    return _ref_json(ref)


# ---- simulation records -------------------------------------------------------------


class _SimFailures:
    """Not-recovered cycles grouped by their failure text, to become findings."""

    def __init__(self) -> None:
        self.groups: dict[str, list[tuple[Ref, dict]]] = {}

    def add(self, failure: str, ref: Ref, rec: dict) -> None:
        self.groups.setdefault(failure_reason(failure), []).append((ref, rec))


_SESSION_PREFIX = re.compile(r"^session [^\s:]+: ")


def failure_reason(failure: str) -> str:
    """A cycle's failure text without its session ids, each reason once ('session cb9b3165:
    the reply ... did not arrive live; session 6eaadf32: attached only when ...' -> 'the reply
    ... did not arrive live; attached only when ...'): the cycles of a run that failed the same
    way, each with its own sessions, are one finding, not one a client (20 phones made 20
    findings that pushed the logs' findings, which say why, out of the top ten)."""
    reasons = [_SESSION_PREFIX.sub("", part) for part in failure.split("; ")]
    return "; ".join(dict.fromkeys(reasons))


# The fields of a jarvis-diag.sim/1 record the report reads, and the JSON types each may have
# (exact types, as json.loads gives them: true/false are no numbers, 1 is no boolean).
_NUMBER, _OPTIONAL_NUMBER = {int, float}, {int, float, type(None)}
_SIM_FIELDS: dict[str, tuple[set[type], str]] = {
    "client": ({int}, "a number"), "client_id": ({str}, "a string"), "profile": ({str}, "a string"),
    "fault": ({str}, "a string"), "network": ({str}, "a string"), "cycle": ({int}, "a number"),
    "background_ms": (_NUMBER, "a number"), "visible_at": ({str}, "a string"),
    "recovered": ({bool}, "true or false"), "deadline_ms": (_NUMBER, "a number"),
    "times_ms": ({dict}, "an object"), "sessions": ({list}, "a list"), "lost": ({int}, "a number"),
    "duplicated": ({int}, "a number"), "attaches": ({list}, "a list"),
}
_SIM_FIELD_ITEMS = tuple(_SIM_FIELDS.items())
_SESSION_TIMES = ("ready_ms", "history_end_ms", "first_live_ms")
_MISSING = object()


def _duration_problem(value: object) -> str | None:
    """Why a time or count read as a number cannot be one (NaN, an infinity: json reads
    ``NaN`` and ``1e999``; a negative), or None. Taken as they were, the report said
    'connect inf s (nan%)' and wrote ``Infinity``, which is no JSON."""
    if type(value) is float and not math.isfinite(value):
        return f"must be a finite number, not {value!r}"
    if type(value) in (int, float) and value < 0:
        return f"must not be negative, not {value!r}"
    return None


def sim_record_problem(rec: dict) -> str | None:
    """What makes ``rec`` no usable ``jarvis-diag.sim/1`` record (a missing field, a field
    of the wrong type), or None."""
    missing = []
    for name, (types, what) in _SIM_FIELD_ITEMS:
        value = rec.get(name, _MISSING)
        if value is _MISSING:
            missing.append(name)
        elif type(value) not in types:
            return f"{name!r} must be {what}, not {json.dumps(value)}"
    if missing:
        return f"not a complete jarvis-diag.sim/1 record: no {', '.join(repr(m) for m in missing)}"
    for name in ("background_ms", "deadline_ms", "lost", "duplicated"):
        if (wrong := _duration_problem(rec[name])) is not None:
            return f"{name!r} {wrong}"
    if type(rec.get("failure")) not in (str, type(None)):
        return f"'failure' must be a string or null, not {json.dumps(rec['failure'])}"
    for key, value in rec["times_ms"].items():
        if type(value) not in _OPTIONAL_NUMBER:
            return f"'times_ms.{key}' must be a number or null, not {json.dumps(value)}"
        if (wrong := _duration_problem(value)) is not None:
            return f"'times_ms.{key}' {wrong}"
    for i, sess in enumerate(rec["sessions"]):
        if type(sess) is not dict:
            return f"'sessions[{i}]' must be an object, not {json.dumps(sess)}"
        for key in _SESSION_TIMES:
            if type(sess.get(key)) not in _OPTIONAL_NUMBER:
                return f"'sessions[{i}].{key}' must be a number or null, not {json.dumps(sess[key])}"
            if (wrong := _duration_problem(sess.get(key))) is not None:
                return f"'sessions[{i}].{key}' {wrong}"
        for key in ("lost_seqs", "duplicated_seqs"):
            if type(sess.get(key, [])) is not list:
                return f"'sessions[{i}].{key}' must be a list, not {json.dumps(sess[key])}"
    for i, att in enumerate(rec["attaches"]):
        if type(att) is not dict:
            return f"'attaches[{i}]' must be an object, not {json.dumps(att)}"
        if type(att.get("ms")) not in _OPTIONAL_NUMBER:
            return f"'attaches[{i}].ms' must be a number or null, not {json.dumps(att['ms'])}"
        if (wrong := _duration_problem(att.get("ms"))) is not None:
            return f"'attaches[{i}].ms' {wrong}"
        if type(att.get("kind")) not in (str, type(None)):
            return f"'attaches[{i}].kind' must be a string, not {json.dumps(att['kind'])}"
    return None


def add_sim_records(ds: Dataset, path: str, records: Iterable[tuple[int, dict]]) -> list[str]:
    """Add ``jarvis-diag.sim/1`` records (with their 1-based line numbers) read from ``path``.
    A record that lacks a field the report reads, or holds one of the wrong type, is a
    DiagError naming its line and the field.

    A file holding several runs one after the other (two runs' results joined with ``cat``;
    each record names its ``run``) is read as the runs it holds: one input per run (its
    ``run`` set), with findings of its own, as several results files given together are.
    Returns the runs of such a file in the order read (empty for a file of one run).

    A cycle of a run already read (the same ``run``, ``client``, ``cycle`` and ``hidden_at``:
    a copy of a run's results, ``cat a b a``) is a DiagError naming the run and both places:
    its cycles would be counted twice. (Two runs an older simulate-mobile started side by side
    in the same second, with one seed, share a run id, to the second: their cycles went to the
    background at other instants.)"""
    added: list[tuple[object, InputInfo]] = []
    for run, run_records in groupby(records, key=lambda item: item[1].get("run")):
        _add_run(ds, path, run_records)
        added.append((run, ds.inputs[-1]))
    if not added:
        ds.inputs.append(InputInfo(path, "sim", 0))
    if len(added) < 2:
        return []
    for run, info in added:  # (a record with no run id: a run of its own too)
        info.run = "(no run id)" if run is None else str(run)
    return [str(info.run) for _, info in added]


def _run_text(run: str) -> str:
    return run if run.isprintable() else json.dumps(run)  # (one line, whatever a record holds)


def _run_twice(run: str, first: tuple[str, int], again: tuple[str, int]) -> str:
    """Why a cycle of ``run`` read at ``first`` and ``again`` (path, line) is an error: the
    same run given twice (two copies of its results, or ``cat a b a``), counted twice."""
    where = (f" in {first[0]} (at lines {first[1]} and {again[1]})" if first[0] == again[0] else
             f", in {first[0]} (line {first[1]}) and in {again[0]} (line {again[1]})")
    return (f"run {_run_text(run)} is given twice{where}: its cycles would be counted twice; "
            "give each run once")


def read_once(cycles: dict[tuple[str, int, int, object], tuple[str, int]], rec: dict, path: str,
              line_no: int) -> None:
    """Note the cycle of ``rec`` (a usable sim record, see :func:`sim_record_problem`) as read
    at ``path``:``line_no`` in ``cycles``; a DiagError naming the run and both places when it
    was read before (see :func:`add_sim_records`). ``report`` and ``load_results`` both check
    with it, so the two say the same."""
    run = rec.get("run")
    if type(run) is str:  # (a record with no run id: which run it is cannot be told)
        here = (path, line_no)
        if (first := cycles.setdefault((run, rec["client"], rec["cycle"], rec.get("hidden_at")), here)) is not here:
            raise DiagError(_run_twice(run, first, here))


def check_sides(candidate: Dataset, baseline: Dataset) -> None:
    """A DiagError for a run on both sides of a comparison (``report both.jsonl --compare
    a/results.jsonl`` with both.jsonl holding run a), or the same logs (``report logs/
    --compare logs/``): a run compared with itself says nothing."""
    shared = next((key for key in candidate.cycles if key in baseline.cycles), None)
    if shared is not None:
        (cand, cand_line), (base, base_line) = candidate.cycles[shared], baseline.cycles[shared]
        raise DiagError(f"run {_run_text(shared[0])} is on both sides of the comparison, in {cand} (line {cand_line}) "
                        f"and in the baseline's {base} (line {base_line}): a run compared with itself says nothing; "
                        "give it on one side only")
    if candidate.logs and candidate.logs.keys() == baseline.logs.keys():
        # (the same logs on both sides, as logs or as a timeline of them: every case is the
        # same on both sides; logs that only share a file, a server log of both periods, may
        # compare two sets of pages)
        cand, base = sorted(set(candidate.logs.values())), sorted(set(baseline.logs.values()))
        raise DiagError(f"the same logs are on both sides of the comparison, read as {', '.join(cand)} and as the "
                        f"baseline's {', '.join(base)}: logs compared with themselves say nothing; give the "
                        "baseline's own logs after --compare")


def _add_run(ds: Dataset, path: str, records: Iterable[tuple[int, dict]]) -> None:
    """Add the records of one run (see :func:`add_sim_records`)."""
    m = ds.metrics
    recovery, live = m["recovery"], m["live"]
    lost, duplicated, unrecovered = ds.counts["lost"], ds.counts["duplicated"], ds.counts["unrecovered"]
    failures = _SimFailures()
    if any(i.kind != "sim" and not i.findings_only for i in ds.inputs):
        unrecovered.unit = "cycles/episodes"
    lost_groups: dict[tuple, list[tuple[Ref, dict]]] = {}
    dup_groups: dict[tuple, list[tuple[Ref, dict]]] = {}
    worst: tuple[float, Ref, dict] | None = None
    n = 0
    for line_no, rec in records:
        problem = sim_record_problem(rec)
        if problem is not None:
            raise DiagError(f"{path}:{line_no}: {problem}")
        read_once(ds.cycles, rec, path, line_no)
        n += 1
        ref = Ref(path, line_no, f"client {rec.get('client')} cycle {rec.get('cycle')}",
                  rec.get("visible_at"), rec.get("client_id"))
        ds.settings[run_settings(rec)] += 1
        times = rec.get("times_ms") or {}
        ok = bool(rec.get("recovered"))
        rec_ms = times.get("recovery")
        if ok and rec_ms is not None:
            conn = times.get("connected") or 0.0
            auth = times.get("authenticated") or conn
            recovery.add(rec_ms, ref, {"connect": conn, "authenticate": max(auth - conn, 0.0),
                                       "attach sessions": max(rec_ms - auth, 0.0)})
            if worst is None or rec_ms > worst[0]:
                worst = (rec_ms, ref, rec)
        recovery.outcomes["recovered" if ok else READY_NOT_RECOVERED if rec_ms is not None else "not recovered"] += 1
        unrecovered.add(0 if ok else 1, ref)
        if not ok:
            failures.add(str(rec.get("failure") or "not recovered (no reason given)"), ref, rec)
        sessions = rec.get("sessions") or ()
        firsts = [s.get("first_live_ms") for s in sessions]
        if sessions and all(f is not None for f in firsts):
            last_live = max(firsts)
            ready = max((s.get("ready_ms") or 0.0) for s in sessions)
            live.add(last_live, ref, {"ready": min(ready, last_live), "first output": max(last_live - ready, 0.0)})
            # (the first output seen again: not the record's "live", a whole reply to a message sent after)
            live.outcomes["output seen"] += 1
        elif sessions:
            live.outcomes["no output seen"] += 1
        n_lost, n_dup = rec.get("lost") or 0, rec.get("duplicated") or 0
        lost.add(n_lost, ref)
        duplicated.add(n_dup, ref)
        key = (rec.get("profile"), rec.get("fault"), rec.get("network"))
        if n_lost:
            lost_groups.setdefault(key, []).append((ref, rec))
        if n_dup:
            dup_groups.setdefault(key, []).append((ref, rec))
        for att in rec.get("attaches") or ():
            metric = _ATTACH_METRIC.get(att.get("kind"))
            if metric and att.get("ms") is not None:
                m[metric].add(att["ms"], ref._replace(session=att.get("session"), unit=(path, line_no)))
                m[metric].outcomes["ready"] += 1
    ds.inputs.append(InputInfo(path, "sim", n))
    ds.findings.extend(_sim_findings(path, n, failures, lost_groups, dup_groups))
    if worst is not None and (ds.waterfall is None or worst[0] > ds.waterfall.total_ms):
        ds.waterfall = _sim_waterfall(*worst)


def run_settings(rec: dict) -> tuple[tuple[str, str], ...]:
    """What a simulated cycle was run with, as a reader compares two runs: (("profile",
    "connmgr"), ("fault", "close"), ("network", "good"), ("background", "5 s"), ("deadline",
    "30 s"))."""
    def seconds(ms: object) -> str:
        return f"{ms / 1000:g} s" if isinstance(ms, int | float) and not isinstance(ms, bool) else "?"

    return (("profile", str(rec.get("profile"))), ("fault", str(rec.get("fault"))),
            ("network", str(rec.get("network"))), ("background", seconds(rec.get("background_ms"))),
            ("deadline", seconds(rec.get("deadline_ms"))))


def _sim_evidence(items: list[tuple[Ref, dict]], what) -> list[dict]:
    return [{"path": ref.path, "line": ref.line, "text": f"{ref.label} ({rec.get('client_id')}): {what(rec)}"}
            for ref, rec in items[:5]]


def _sim_findings(path, n, failures: _SimFailures, lost_groups, dup_groups) -> list[dict]:
    out = []
    for failure, items in sorted(failures.groups.items(), key=lambda kv: -len(kv[1])):
        ref0, rec0 = items[0]
        out.append({
            "kind": "not-recovered", "severity": "critical", "at": ref0.at, "session": None,
            "client": ref0.client, "sid": None, "delay_ms": rec0.get("deadline_ms"),
            "summary": f"{len(items)} of {n} cycles did not recover: {failure}",
            "context": _profile_context(rec0), "count": len(items),
            "evidence": _sim_evidence(items, lambda r: r.get("failure") or "not recovered"), "source": path,
        })
    for kind, groups, word, severity in (("lost-output", lost_groups, "lost", "critical"),
                                         ("duplicated-output", dup_groups, "duplicated", "warning")):
        for key, items in sorted(groups.items(), key=lambda kv: -len(kv[1])):
            total = sum(rec.get(word) or 0 for _, rec in items)
            ref0, rec0 = items[0]

            def what(r, word=word):
                seqs = [q for s in r.get("sessions") or () for q in s.get(f"{word}_seqs") or ()]
                return f"{r.get(word)} {word}" + (f" (seq {', '.join(map(str, seqs[:10]))})" if seqs else "")

            out.append({
                "kind": kind, "severity": severity, "at": ref0.at, "session": None, "client": ref0.client,
                "sid": None, "delay_ms": None,
                "summary": f"{total} message{'' if total == 1 else 's'} {word} in {len(items)} of {n} "
                           f"cycle{'' if n == 1 else 's'} "
                           f"(profile {key[0]}, fault {key[1]}, network {key[2]})",
                "context": _profile_context(rec0), "count": total, "evidence": _sim_evidence(items, what),
                "source": path,
            })
    return out


def _profile_context(rec: dict) -> str:
    return (f"profile {rec.get('profile')}, fault {rec.get('fault')}, network {rec.get('network')}, "
            f"background {rec.get('background_ms')} ms")


def _sim_waterfall(total: float, ref: Ref, rec: dict) -> Waterfall:
    t = rec.get("times_ms") or {}
    # (a flaky network keeps the page in use: its window is no time in the background)
    away = "bad network" if rec.get("fault") == "flaky" else "hidden"
    rows = [{"side": "client", "label": f"{away} ({rec.get('fault')}, {rec.get('background_ms')} ms before)",
             "start_ms": -float(rec.get("background_ms") or 0), "end_ms": 0.0}]
    if t.get("connected") is not None:
        rows.append({"side": "client", "label": "socket connected", "start_ms": 0.0, "end_ms": t["connected"]})
    if t.get("authenticated") is not None:
        rows.append({"side": "client", "label": "authenticated", "start_ms": t.get("connected") or 0.0,
                     "end_ms": t["authenticated"]})
    start = t.get("authenticated") or 0.0
    for s in rec.get("sessions") or ():
        sid = str(s.get("session"))[:8]
        if s.get("ready_ms") is not None:
            rows.append({"side": "client", "label": f"session {sid} ready", "start_ms": start, "end_ms": s["ready_ms"]})
        if s.get("history_end_ms") is not None:
            rows.append({"side": "client", "label": f"session {sid} history end", "start_ms": s["history_end_ms"],
                         "end_ms": None})
        if s.get("first_live_ms") is not None:
            rows.append({"side": "client", "label": f"session {sid} first live output",
                         "start_ms": s["first_live_ms"], "end_ms": None})
    rows.sort(key=lambda r: r["start_ms"])
    return Waterfall(f"slowest recovery: {ref.label}, {total:.0f} ms", ref, rec.get("visible_at") or "", rows, total)


# ---- timeline JSON ------------------------------------------------------------------

# The parts of a jarvis-diag.timeline/1 document the report reads: each list's items and the
# fields of them it reads, instants (ISO strings or null), numbers (or null) and strings (or
# null: ids and kinds it looks up and groups by).
_Fields = tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...]]
_TIMELINE_PARTS: dict[str, _Fields] = {
    "sources": ((), ("lines", "events", "unknown"), ()),
    "connections": (("connected_at", "authenticated_at", "disconnected_at"), (), ("sid",)),
    "episodes": (("started_at", "visible_at", "connected_at", "authenticated_at", "recovered_at",
                  "client_noticed_at", "server_noticed_at"), (), ("client", "trigger", "sid_before", "sid_after")),
    "findings": (("at",), ("delay_ms", "count"), ("kind", "severity")),
    "sessions": ((), (), ("session",)),
}
_ATTACH_FIELDS: _Fields = (("requested_at", "received_at", "ready_sent_at", "ready_received_at", "history_end_at"),
                           ("latency_ms", "transport_ms"), ("kind", "sid", "client"))


def instant_problem(value: object) -> str | None:
    if value is None:
        return None
    if isinstance(value, str):
        try:
            _dt(value)
            return None
        except ValueError:
            pass
    return f"must be an ISO 8601 instant or null, not {json.dumps(value)}"


def _fields_problem(item, where: str, fields: _Fields) -> str | None:
    instants, numbers, strings = fields
    if type(item) is not dict:
        return f"'{where}' must be an object, not {json.dumps(item)}"
    for key in instants:
        if (problem := instant_problem(item.get(key))) is not None:
            return f"'{where}.{key}' {problem}"
    for key in numbers:
        if type(item.get(key)) not in _OPTIONAL_NUMBER:
            return f"'{where}.{key}' must be a number or null, not {json.dumps(item[key])}"
    for key in strings:
        if type(item.get(key)) not in (str, type(None)):
            return f"'{where}.{key}' must be a string or null, not {json.dumps(item[key])[:80]}"
    return None


def timeline_problem(doc: dict) -> str | None:
    """What makes ``doc`` no usable ``jarvis-diag.timeline/1`` document for a report (a part
    that is not a list of objects, an instant that is no ISO time, a number that is none), or None."""
    for name, fields in _TIMELINE_PARTS.items():
        items = doc.get(name)
        if items is None:
            continue
        if type(items) is not list:
            return f"'{name}' must be a list, not {json.dumps(items)[:80]}"
        for i, item in enumerate(items):
            if (problem := _fields_problem(item, f"{name}[{i}]", fields)) is not None:
                return problem
    for i, sess in enumerate(doc.get("sessions") or ()):
        attaches = sess.get("attaches")
        if attaches is not None and type(attaches) is not list:
            return f"'sessions[{i}].attaches' must be a list, not {json.dumps(attaches)[:80]}"
        for j, att in enumerate(attaches or ()):
            where = f"sessions[{i}].attaches[{j}]"
            if (problem := _fields_problem(att, where, _ATTACH_FIELDS)) is not None:
                return problem
            phases = att.get("phases")
            if phases is not None and (type(phases) is not dict
                                       or any(type(v) not in _OPTIONAL_NUMBER for v in phases.values())):
                return f"'{where}.phases' must be an object of numbers, not {json.dumps(phases)[:80]}"
    for i, ep in enumerate(doc.get("episodes") or ()):
        ready = ep.get("ready_at")
        if ready is not None and (type(ready) is not dict
                                  or any(instant_problem(v) is not None for v in ready.values())):
            return f"'episodes[{i}].ready_at' must be an object of ISO instants or null, not {json.dumps(ready)[:80]}"
    for i, finding in enumerate(doc.get("findings") or ()):
        cited = finding.get("evidence")
        if cited is not None and (type(cited) is not list or any(type(e) is not dict for e in cited)):
            return f"'findings[{i}].evidence' must be a list of objects, not {json.dumps(cited)[:80]}"
    return None


def _ts(iso: str | None) -> float | None:
    """ISO instant -> epoch seconds (None stays None)."""
    if not iso:
        return None
    return datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp()


def _dt(iso: str) -> datetime:
    return datetime.fromisoformat(iso.replace("Z", "+00:00"))


def _ms(later: str | None, earlier: str | None) -> float | None:
    """Milliseconds between two ISO instants, exact to the microsecond (no float epochs)."""
    if not later or not earlier:
        return None
    delta = _dt(later) - _dt(earlier)
    return (delta.days * 86_400_000_000 + delta.seconds * 1_000_000 + delta.microseconds) / 1000.0


def _nz(x: float | None) -> float:
    return max(x or 0.0, 0.0)


def _attach_phases(att: dict, kind: str) -> dict[str, float]:
    """The stacked segments of an attach's latency (server phases are cumulative in the log)."""
    ph = att.get("phases") or {}
    seg: dict[str, float] = {"uplink": _nz(_ms(att.get("received_at"), att.get("requested_at")))}
    prev = 0.0
    for name in ("T1", "T2", "T3", "T4", "T5"):
        if ph.get(name) is None:
            continue
        seg[name] = _nz(ph[name] - prev)
        prev = ph[name]
    if kind == "new-session" and ph.get("T1.2") is not None:
        create = _nz(ph["T1.2"] - (ph.get("T1.1") or 0.0))
        seg["agent start"] = min(create, seg.get("T2", 0.0))
        seg["T2"] = seg.get("T2", 0.0) - seg["agent start"]
    latency = att.get("latency_ms") or 0.0
    wire = att.get("transport_ms")  # (both ways: the latency less the server's time)
    if wire is not None:
        # the server's marks and its received / ready-sent lines are whole milliseconds apart
        # from each other: the wire time is at most what the server phases leave of the latency
        server = sum(v for k, v in seg.items() if k != "uplink")
        wire = min(_nz(wire), _nz(latency - server))
        # the uplink is measured across the two clocks, the wire time on the page's alone: the
        # downlink is the rest of it, and the phases add up to the latency
        seg["uplink"] = min(seg["uplink"], wire)
        seg["downlink"] = _nz(wire - seg["uplink"])
    else:
        seg["downlink"] = 0.0
    seg["other"] = _nz(latency - sum(seg.values()))
    return seg


def _logs_command(doc: dict, most: int = 4) -> str:
    """The command that shows a timeline document's timeline again: ``timeline`` of the logs it
    was made from (its ``sources``, as they were given then), since ``timeline`` reads logs,
    not its own JSON. Of more than ``most`` files, those that share a folder are given as it."""
    files = list(dict.fromkeys(s["path"] for s in doc.get("sources") or ()
                               if isinstance(s.get("path"), str) and s["path"] not in ("", "-")))
    if len(files) > most:  # (a folder of page logs: the folder, as it was most likely given)
        per_folder = Counter(os.path.dirname(f) for f in files)
        shown = list(dict.fromkeys(os.path.dirname(f) if per_folder[os.path.dirname(f)] > 1 and os.path.dirname(f)
                                   else f for f in files))
        files = [f for f in shown if not any(f.startswith(g + os.sep) for g in shown if g in per_folder)]
    return "jarvis-diag timeline " + (" ".join(shlex.quote(f) for f in files) if files else "LOGS")


def add_timeline(ds: Dataset, path: str, doc: dict, show_cmd: str | None = None) -> None:
    """Add a ``jarvis-diag.timeline/1`` document read from (or built from) ``path``."""
    m = ds.metrics
    records = 0
    cmd = show_cmd or _logs_command(doc)
    ds.timeline_hint[path] = cmd
    attaches_by_sid: dict[str, list[tuple[str, dict]]] = {}
    for sess in doc.get("sessions") or ():
        session = sess.get("session")
        for i, att in enumerate(sess.get("attaches") or ()):
            records += 1
            kind = att.get("kind")
            attaches_by_sid.setdefault(att.get("sid") or "", []).append((session, att))
            ref = Ref(path, None, f"session {str(session)[:8]} {kind} attach #{i + 1}",
                      att.get("requested_at") or att.get("received_at"), att.get("client"), session,
                      (path, att.get("sid")) if kind == "reconnect" and att.get("sid") else None)
            metric = _ATTACH_METRIC.get(kind)
            if metric:
                if att.get("latency_ms") is not None:
                    seg = _attach_phases(att, metric)
                    m[metric].add(att["latency_ms"], ref, seg)
                    m[metric].agent_start_ms += seg.get("agent start", 0.0)
                    m[metric].outcomes["ready"] += 1
                elif att.get("ready_sent_at") and not att.get("client"):
                    # (a server's log alone: the ready went out, no page log says when it came)
                    m[metric].outcomes[READY_NOT_SEEN] += 1
                else:
                    m[metric].outcomes["no ready"] += 1
            if att.get("transport_ms") is not None:
                m["transport"].add(att["transport_ms"], ref)
            for name in _SERVER_PHASES:
                value = (att.get("phases") or {}).get(name)
                if value is not None:
                    m[name].add(float(value), ref)
    conns = {c.get("sid"): c for c in doc.get("connections") or ()}
    has_sim = any(i.kind == "sim" for i in ds.inputs)
    ds.counts["unrecovered"].unit = "cycles/episodes" if has_sim else "episodes"
    worst: tuple[tuple[bool, float], dict] | None = None
    for ep in doc.get("episodes") or ():
        records += 1
        origin = ep.get("visible_at") or ep.get("started_at")
        ref = Ref(path, None, f"episode of client {ep.get('client')} ({ep.get('trigger')})",
                  ep.get("started_at"), ep.get("client"))
        ok = bool(ep.get("recovered"))
        ds.metrics["recovery"].outcomes["recovered" if ok else "not recovered"] += 1
        ds.counts["unrecovered"].add(0 if ok else 1, ref)
        total = _ms(ep.get("recovered_at"), origin)
        if ok and total is not None:
            total = max(total, 0.0)  # (ready again before the page was visible: no wait, no phases)
            conn = _nz(_ms(ep.get("connected_at"), origin))
            auth = max(_nz(_ms(ep.get("authenticated_at"), origin)), conn)
            m["recovery"].add(total, ref._replace(at=origin), {
                "connect": min(conn, total), "authenticate": min(auth - conn, max(total - conn, 0.0)),
                "attach sessions": _nz(total - auth)})
        # an episode that never recovered is worse than any that did
        score = (not ok, total or 0.0)
        if worst is None or score > worst[0]:
            worst = (score, ep)
        _add_detection(ds, ep, conns.get(ep.get("sid_before")), ref)
    for f in doc.get("findings") or ():
        ds.findings.append(dict(f, source=path))
    ds.inputs.append(InputInfo(path, "timeline", records))
    if worst is not None and (ds.waterfall is None or worst[0][0] or worst[0][1] > ds.waterfall.total_ms):
        ds.waterfall = _timeline_waterfall(path, worst[1], conns, attaches_by_sid, worst[0][1])


# What a detection case starts from, the first sign of loss its logs show: a page that logs
# going away (hidden, offline) shows it from then; one that does not, only from a disconnect.
LEFT, DISCONNECT = "the page leaving (hidden or offline)", "a disconnect"
DETECTION_METRICS = ("detection", "detection-client", "detection-server")


def _add_detection(ds: Dataset, ep: dict, conn_before: dict | None, ref: Ref) -> None:
    """Time from the first sign of loss until each side had noticed the connection was gone.
    The server noticed when it logged the old sid's disconnect; the client noticed at its own
    disconnect (episode trigger) or, for a frozen page, when it was visible again."""
    started = ep.get("started_at")
    if not started or not ep.get("sid_before"):
        return
    client_at = ep.get("client_noticed_at") or (
        started if ep.get("trigger") in ("socket.disconnected", "network.offline") else ep.get("visible_at"))
    server_at = ep.get("server_noticed_at") or (conn_before or {}).get("disconnected_at")
    det = ds.metrics["detection"]
    ds.detection_starts[LEFT if ep.get("trigger") in ("page.hidden", "network.offline") else DISCONNECT] += 1
    client_ms, server_ms = _ms(client_at, started), _ms(server_at, started)
    if client_ms is not None:
        ds.metrics["detection-client"].add(_nz(client_ms), ref)
    if server_ms is not None:
        ds.metrics["detection-server"].add(_nz(server_ms), ref)
    if server_at is None:
        det.outcomes["server never noticed"] += 1
        return
    if client_ms is None:
        det.outcomes["client never noticed"] += 1
        return
    first, second = sorted((_nz(client_ms), _nz(server_ms)))
    det.outcomes["server noticed last" if server_ms >= client_ms else "client noticed last"] += 1
    det.add(second, ref, {"first side": first, "second side": second - first})


def _timeline_waterfall(path: str, ep: dict, conns: dict, attaches_by_sid: dict, total: float) -> Waterfall:
    origin = ep.get("visible_at") or ep.get("started_at")
    rows: list[dict] = []

    def span(side, label, start, end=None):
        s = _ms(start, origin)
        if s is None:
            return
        e = _ms(end, origin) if end else None
        rows.append({"side": side, "label": label, "start_ms": round(s, 3),
                     "end_ms": None if e is None else round(max(e, s), 3)})

    if ep.get("visible_at") and ep.get("started_at") != ep.get("visible_at"):
        span("client", f"background ({ep.get('trigger')})", ep.get("started_at"), ep.get("visible_at"))
    elif ep.get("trigger"):
        span("client", f"loss: {ep.get('trigger')}", ep.get("started_at"))
    before = conns.get(ep.get("sid_before")) or {}
    if before.get("disconnected_at"):
        span("server", f"server: sid {str(ep.get('sid_before'))[:8]} disconnected ({before.get('reason') or '?'})",
             before["disconnected_at"])
    span("client", "client: connected", ep.get("connected_at"))
    span("client", "client: authenticated", ep.get("authenticated_at"))
    after = conns.get(ep.get("sid_after")) or {}
    span("server", f"server: sid {str(ep.get('sid_after'))[:8]} connected", after.get("connected_at"))
    span("server", "server: authenticated", after.get("authenticated_at"))
    lo, hi = _ts(ep.get("started_at")), _ts(ep.get("recovered_at")) or _ts(origin)
    for session, att in attaches_by_sid.get(ep.get("sid_after") or "", ()):
        t = _ts(att.get("requested_at") or att.get("received_at"))
        if t is None or lo is None or hi is None or not (lo - 1 <= t <= hi + 1):
            continue
        s8 = str(session)[:8]
        t5 = (att.get("phases") or {}).get("T5")
        t5 = "" if t5 is None else f" (T5 {t5} ms)"
        if att.get("kind") == "auto":  # the client sent no chat:connect: a message made the server attach it
            span("client", f"client: message to {s8} -> auto-attached, ready", att.get("requested_at"),
                 att.get("ready_received_at"))
            span("server", f"server: auto-connect {s8} on a message{t5}", att.get("received_at"),
                 att.get("ready_sent_at"))
        else:
            span("client", f"client: chat:connect {s8} -> ready", att.get("requested_at"), att.get("ready_received_at"))
            span("server", f"server: chat:connect {s8}{t5}", att.get("received_at"), att.get("ready_sent_at"))
        span("client", f"client: history end {s8}", att.get("history_end_at"))
    if not ep.get("recovered"):  # (no time of recovery: it runs as far as its events go)
        total = max([0.0, *(r["end_ms"] if r["end_ms"] is not None else r["start_ms"] for r in rows)])
    for session, at in (ep.get("ready_at") or {}).items():
        if at is None:
            rows.append({"side": "client", "label": f"session {str(session)[:8]} never ready", "start_ms": total,
                         "end_ms": None})
    rows.sort(key=lambda r: r["start_ms"])
    # an episode that did not recover has no time "after" which it did not: it said "after 0 ms"
    state = f"recovered after {total:.0f} ms" if ep.get("recovered") else "NOT recovered (a session never ready again)"
    ref = Ref(path, None, f"episode of client {ep.get('client')}", ep.get("started_at"), ep.get("client"))
    return Waterfall(f"slowest episode: client {ep.get('client')}, {ep.get('trigger')}, {state}", ref, origin or "",
                     rows, total)
