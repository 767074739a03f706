"""Example messages for every line shape, with plausible field values.

The benchmark's generated log and the tests that compare the fast parser with the
reference one both need a line of each shape; deterministic given the ``random.Random``.
"""

from __future__ import annotations

import random
import string

from jarvis_diag import lines

_SID = string.ascii_letters + string.digits + "_-"

_VALUES: dict[str, tuple[str, ...]] = {
    "client": ("Mozilla50iPhoneCPUiP", "Mozilla50iPhoneCPUiP-mwuj1maq-u1k8", "Mozilla50Macintosh-mwuj2r4i-8t1u"),
    "session": ("d910c8f8", "977bcd1b-92d4-4b16-832f-db55897da081", "new-1795514619908", "7c0412cc"),
    "from_session": ("5b1e0a77", "new-1795"),
    "temp_id": ("new-1769", "new-1795514627091"),
    "phase": ("T1", "T2", "T3", "T4", "T5", "T6", "T1.1", "T1.2", "S1", "S3", "L4"),
    "event": ("chat:ready", "chat:stream", "chat:assistant", "chat:history_end", "chat:user_ack"),
    "state_from": ("connected", "suspended", "reconnecting", "idle", "disconnected", "authenticating"),
    "state_to": ("connecting", "connected", "suspended", "reconnecting"),
    "trigger": ("suspend", "resume", "connect", "disconnect"),
    "transport": ("websocket", "polling"),
    "ms": ("0", "12", "0.4", "-0", "2104", "69926.4", "141"),
    "emit_ms": ("0", "51", "3"),
    "n": ("0", "1", "2", "15", "20", "200"),
    "total": ("0", "42", "1795514619000"),
    "attempt": ("1", "2", "7"),
    "max_attempts": ("20",),
    "server_ms": ("1795514619203", "1769736579344"),
    "client_ms": ("1795514619553", "1769736579344"),
    "recv_ts": ("1795514619.560", "1769736575.610"),
    "reason": ("transport close", "ping timeout", "io server disconnect", "invalid token", "OK"),
    "detail": ("d910c8f8-4", "/home/u/proj", "False", "session_ready", "hello", "visualViewport listener added"),
    "_list": ("['d910c8f8', '7c0412cc']",),
    "_busy": ("False", "True"),
    "_table": ("pinned_sessions",),
    "_peer": ("127.0.0.1:53806", "('127.0.0.1', 53866)"),
    "_v": ("1.1",),
}

# Values a shape needs to look like the real line (and to round-trip through its template).
_SHAPE_VALUES: dict[str, dict[str, tuple[str, ...]]] = {
    "sio.connect_received": {"detail": (
        "{'working_dir': '/home/u/proj', 'resume': None, 'session_id': 'new-1769736575123'}",
        "{'working_dir': '/home/u/proj', 'resume': '977bcd1b-92d4-4b16-832f-db55897da081', "
        "'session_id': '977bcd1b-92d4-4b16-832f-db55897da081'}")},
    "uv.http": {"event": ("GET", "POST"), "detail": ("/api/debug/logs", "/health",
                                                      "/socket.io/?EIO=4&transport=polling&t=1795514618.0528574"),
                "n": ("200", "404")},
    "uv.ws_accepted": {"detail": ("/socket.io/?transport=websocket&EIO=4&t=1795514618.0528574",
                                  "/socket.io/?EIO=4&transport=websocket")},
    "uv.ws_rejected": {"detail": ("/ws/debug",), "reason": ("403",)},
    "sio.connect_phase": {"detail": ("session_ready", "callback_set", "history_loaded")},
    "sm.command": {"detail": ("claude --output-format stream-json --resume d910c8f8",)},
}


def sid(rng: random.Random) -> str:
    return "".join(rng.choice(_SID) for _ in range(8))


def example_fields(shape: lines.Shape, rng: random.Random) -> dict[str, str]:
    # (in the template's order: a set's order changes from one process to the next, and so
    # would the values drawn from ``rng``)
    names = dict.fromkeys(lines._PLACEHOLDER.findall(shape.template))
    special = _SHAPE_VALUES.get(shape.name, {})
    out = {}
    for name in names:
        if name in special:
            out[name] = rng.choice(special[name])
        elif name in ("sid", "to_sid"):
            out[name] = sid(rng)
        else:
            out[name] = rng.choice(_VALUES.get(name, _VALUES["detail"]))
    return out


def example_message(shape: lines.Shape, rng: random.Random) -> str:
    return shape.render(**example_fields(shape, rng))


def example_line(shape: lines.Shape, rng: random.Random, epoch_s: float) -> str:
    """A whole line of ``shape`` as its writer prints it at ``epoch_s`` (backend: local=UTC)."""
    from datetime import UTC, datetime

    message = example_message(shape, rng)
    if shape.source == "backend":
        return lines.backend_line(datetime.fromtimestamp(epoch_s, tz=UTC).replace(tzinfo=None), shape.logger,
                                  shape.level, message)
    if shape.source == "console":
        return lines.console_line(shape.level, message)
    return lines.frontend_line(epoch_s, shape.level, message)
