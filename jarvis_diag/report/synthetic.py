"""Made-up but well-formed ``jarvis-diag.sim/1`` records, for benchmarks and examples.

Deterministic for a seed: the same call gives the same records, byte for byte.
"""

from __future__ import annotations

import json
import random
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

_T0 = datetime(2026, 11, 24, 10, 0, 0, tzinfo=UTC)


def _iso(t: datetime) -> str:
    return t.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def sim_records(
    cycles: int,
    seed: int = 0,
    clients: int = 100,
    sessions: int = 2,
    recovery_shift_ms: float = 0.0,
    fail_every: int = 0,
    lost_every: int = 0,
    profile: str = "connmgr",
    fault: str = "freeze",
) -> Iterator[dict]:
    """``cycles`` records spread over ``clients`` virtual clients. ``recovery_shift_ms`` is
    added to every phase-bearing time (a known shift for comparisons); every ``fail_every``-th
    record did not recover, every ``lost_every``-th lost one message."""
    rng = random.Random(seed)
    for i in range(cycles):
        client, cycle = i % clients, i // clients + 1
        hidden = _T0 + timedelta(seconds=40 * cycle, milliseconds=client)
        visible = hidden + timedelta(seconds=30)
        connected = rng.lognormvariate(4.0, 0.5) + recovery_shift_ms
        authenticated = connected + rng.uniform(1, 5)
        failed = bool(fail_every) and i % fail_every == fail_every - 1
        sess, attaches, t = [], [], authenticated
        for k in range(sessions):
            attach_ms = rng.lognormvariate(1.5, 0.6)
            t += attach_ms
            lost = 1 if lost_every and i % lost_every == lost_every - 1 and k == 0 else 0
            sess.append({"session": f"{client:05d}{k:03d}-{seed:04d}-4000-8000-000000000000", "temp_id": None,
                         "ready_ms": None if failed else round(t, 1), "history_end_ms": None if failed else round(t + 2, 1),
                         "first_live_ms": None if failed else round(t + rng.uniform(200, 900), 1),
                         "live": not failed, "produced": 6, "lost": lost, "duplicated": 0,
                         "lost_seqs": [7] if lost else [], "duplicated_seqs": [], "check": "seq"})
            attaches.append({"session": sess[-1]["session"], "kind": "reconnect", "ms": round(attach_ms, 2)})
        if cycle == 1:
            attaches.insert(0, {"session": sess[0]["session"], "kind": "new", "ms": round(rng.uniform(8, 30), 2)})
        attaches.append({"session": sess[-1]["session"], "kind": "switch", "ms": round(rng.lognormvariate(1.2, 0.4), 2)})
        yield {
            "schema": "jarvis-diag.sim/1", "run": f"synthetic-{seed}", "client": client,
            "client_id": f"SimClient{client:05d}-{seed}", "profile": profile, "fault": fault, "network": "good",
            "cycle": cycle, "background_ms": 30000, "hidden_at": _iso(hidden), "visible_at": _iso(visible),
            "recovered": not failed, "deadline_ms": 30000,
            "failure": "session not ready within the deadline" if failed else None,
            "times_ms": {"connected": round(connected, 1), "authenticated": round(authenticated, 1),
                         "recovery": None if failed else round(t, 1)},
            "sessions": sess, "lost": sum(s["lost"] for s in sess), "duplicated": 0,
            "attaches": attaches, "errors": [],
        }


def write_results(path, cycles: int, **kwargs) -> int:
    """Write ``cycles`` records to ``path`` (a results.jsonl); returns its size in bytes."""
    size = 0
    with open(path, "w", encoding="utf-8") as f:
        for rec in sim_records(cycles, **kwargs):
            line = json.dumps(rec, separators=(",", ":")) + "\n"
            size += len(line)
            f.write(line)
    return size
