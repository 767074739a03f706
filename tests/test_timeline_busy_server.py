"""A busy server: many phones attaching at once, their attaches' lines interleaved.

The server runs one handler at a time until it awaits, so while one attach waits on its
session the next phone's chat:connect starts; a DONE line names no session and is told
apart only by its ``<ms> total`` (its START that long before it).
"""

from __future__ import annotations

import pandas as pd

from jarvis_diag.timeline import load_timeline

PHONES = 60
T0 = pd.Timestamp("2026-11-24 11:03:39.500")


def _line(t: pd.Timedelta, text: str) -> str:
    at = T0 + t
    return f"{at:%Y-%m-%d %H:%M:%S},{at.microsecond // 1000:03d} - jarvis - INFO - [SocketIO] {text}\n"


def _sid(i: int) -> str:
    return f"Sk{i:06d}AAAA"


def _uuid(i: int) -> str:
    return f"{i:08x}-1111-4222-8333-444444444444"


def _busy_log(path) -> dict[str, float]:
    """PHONES phones switching back to their chat 10 ms apart, the ones before still
    attaching; every attach ends at 2 s, in the reverse order. The server time of each."""
    lines, server_ms = [], {}
    ms = pd.Timedelta(milliseconds=1)
    for i in range(PHONES):
        lines.append(_line(i * 10 * ms, f"Client {_sid(i)} connected"))
        lines.append(_line(i * 10 * ms, f"Client {_sid(i)} authenticated"))
        lines.append(_line(i * 10 * ms, f"Received chat:connect from {_sid(i)}, data={{'session_id': "
                                        f"'{_uuid(i)}'}}, recv_ts={(T0 + i * 10 * ms).timestamp():.3f}"))
        lines.append(_line(i * 10 * ms, f"Chat connect START: session_id={_uuid(i)[:8]}, workDir=/w..."))
    for i in range(PHONES):  # each handler resumes and switches its socket, the others waiting
        lines.append(_line(1000 * ms + i * ms, f"Switched session: sid={_sid(i)}, 0000aaaa -> {_uuid(i)[:8]}"))
    for i in reversed(range(PHONES)):
        total = 2000 - i * 10
        server_ms[_uuid(i)] = float(total)
        lines.append(_line(2000 * ms, f"Chat connect DONE: {total}ms total"))
    path.write_text("".join(lines))
    return server_ms


def test_every_attach_of_a_busy_server_ends_with_its_own_done_line(tmp_path):
    server_ms = _busy_log(tmp_path / "app.log")
    sessions = load_timeline([str(tmp_path / "app.log")]).to_json_dict()["sessions"]
    got = {s["session"]: [a["server_ms"] for a in s["attaches"]] for s in sessions}
    assert got == {uuid: [ms] for uuid, ms in server_ms.items()}
    # and each switch line (which names the socket, not the session) with its own attach
    for s in sessions:
        [attach] = s["attaches"]
        switched = [e["text"] for e in attach["evidence"] if "Switched session" in e["text"]]
        assert len(switched) == 1 and f"sid={attach['sid']}" in switched[0]
