"""The known behaviours of the real server that cause incidents, reproducible on purpose
with ``jarvis-diag serve --bug NAME``. The default is none: the correct server."""

from __future__ import annotations

SINGLE_LIVE_SESSION = "single-live-session"
SINGLE_OWNER = "single-owner"
HISTORY_WINDOW = "history-window"
RELOAD = "reload"
SLOW_START = "slow-start"

BUGS: dict[str, str] = {
    SINGLE_LIVE_SESSION: (
        "attaching a socket to session B drops that socket's callback for every other session "
        "(one live session per socket): after a reconnect that re-sends chat:connect for A then B, "
        "only B gets live output. Logs 'Callback cleared by' and 'Switched session'."
    ),
    SINGLE_OWNER: (
        "a session has one live owner: when a second socket attaches, the first stops receiving "
        "its live output. Logs '[Session:X] Callback owner: A -> B'."
    ),
    HISTORY_WINDOW: (
        "chat:connect replays only the last --history messages and ignores last_seq, so output "
        "made while nobody was attached reaches a client only if it is in that window."
    ),
    RELOAD: (
        "behave like a dev server with auto-reload: every --reload-after seconds log watchfiles' "
        "'change detected' and uvicorn's 'Reloading...', drop every socket, refuse connections "
        "for the restart time, stop the agents, then come back."
    ),
    SLOW_START: (
        "creating a session waits for an agent start-up of several seconds (--agent-startup, at "
        "least the slow-start delay) before chat:ready, as older versions did (T1.2 in seconds)."
    ),
}


def check(names: list[str] | tuple[str, ...]) -> tuple[str, ...]:
    """The bug names, validated; raises ValueError naming the unknown one."""
    for name in names:
        if name not in BUGS:
            raise ValueError(f"unknown bug {name!r} (known: {', '.join(BUGS)})")
    return tuple(dict.fromkeys(names))


def describe() -> str:
    """The text of ``--bug list``."""
    width = max(len(n) for n in BUGS)
    return "\n".join(f"{name:<{width}}  {text}" for name, text in BUGS.items())
