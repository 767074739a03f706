"""SQLite persistence: sessions, temporary-id mappings, every session event with its seq,
and the history messages.

Writes run on the event loop (each is a few microseconds) and are committed in batches
by a timer, so a burst of writes costs one commit; ``flush()`` commits what is pending
at once, and the server calls it before it sends anything, so that whatever a client has
been sent is in the database even if the process is killed the next moment (the next
event's ``seq`` then follows it). ``close()`` commits what is left.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path

COMMIT_DELAY_S = 0.05

_SCHEMA = """
CREATE TABLE IF NOT EXISTS sessions (
    id TEXT PRIMARY KEY,
    working_dir TEXT NOT NULL,
    created_at REAL NOT NULL,
    closed INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS mappings (
    temp_id TEXT PRIMARY KEY,
    session_id TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS events (
    session_id TEXT NOT NULL,
    seq INTEGER NOT NULL,
    event TEXT NOT NULL,
    payload TEXT NOT NULL,
    PRIMARY KEY (session_id, seq)
);
CREATE TABLE IF NOT EXISTS messages (
    session_id TEXT NOT NULL,
    idx INTEGER NOT NULL,
    seq INTEGER NOT NULL,
    type TEXT NOT NULL,
    content TEXT NOT NULL,
    timestamp TEXT NOT NULL,
    extra TEXT,
    PRIMARY KEY (session_id, idx)
);
"""


@dataclass(slots=True)
class SessionRow:
    id: str
    working_dir: str
    created_at: float
    closed: bool
    agent_session_id: str | None = None


class Store:
    def __init__(self, path: Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.db = sqlite3.connect(self.path, isolation_level="DEFERRED", check_same_thread=False)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=NORMAL")
        self.db.executescript(_SCHEMA)
        columns = {row[1] for row in self.db.execute("PRAGMA table_info(sessions)")}
        if "agent_session_id" not in columns:  # databases written before the column existed
            self.db.execute("ALTER TABLE sessions ADD COLUMN agent_session_id TEXT")
        self.db.commit()
        self._commit_handle: asyncio.TimerHandle | None = None
        self.closed = False

    # ---- writes -----------------------------------------------------------------------
    def add_session(self, session_id: str, working_dir: str) -> None:
        self.db.execute(
            "INSERT OR IGNORE INTO sessions (id, working_dir, created_at) VALUES (?, ?, ?)",
            (session_id, working_dir, time.time()),
        )
        self._touch()

    def set_closed(self, session_id: str, closed: bool) -> None:
        self.db.execute("UPDATE sessions SET closed = ? WHERE id = ?", (int(closed), session_id))
        self._touch()

    def set_agent_session(self, session_id: str, agent_session_id: str) -> None:
        """The agent's own session id (Claude CLI's), to ``--resume`` it after a restart."""
        self.db.execute("UPDATE sessions SET agent_session_id = ? WHERE id = ?", (agent_session_id, session_id))
        self._touch()

    def add_mapping(self, temp_id: str, session_id: str) -> None:
        self.db.execute("INSERT OR REPLACE INTO mappings (temp_id, session_id) VALUES (?, ?)", (temp_id, session_id))
        self._touch()

    def add_event(self, session_id: str, seq: int, event: str, payload: dict) -> None:
        self.db.execute(
            "INSERT INTO events (session_id, seq, event, payload) VALUES (?, ?, ?, ?)",
            (session_id, seq, event, json.dumps(payload, ensure_ascii=False)),
        )
        self._touch()

    def add_message(self, session_id: str, message: dict) -> None:
        extra = message.get("extra")
        self.db.execute(
            "INSERT INTO messages (session_id, idx, seq, type, content, timestamp, extra) VALUES (?, ?, ?, ?, ?, ?, ?)",
            (
                session_id,
                message["index"],
                message["seq"],
                message["type"],
                message["content"],
                message["timestamp"],
                None if extra is None else json.dumps(extra, ensure_ascii=False),
            ),
        )
        self._touch()

    # ---- reads ------------------------------------------------------------------------
    def get_mapping(self, temp_id: str) -> str | None:
        row = self.db.execute("SELECT session_id FROM mappings WHERE temp_id = ?", (temp_id,)).fetchone()
        return row[0] if row else None

    def temp_ids(self, session_id: str) -> list[str]:
        return [r[0] for r in self.db.execute("SELECT temp_id FROM mappings WHERE session_id = ?", (session_id,))]

    def get_session(self, session_id: str) -> SessionRow | None:
        row = self.db.execute(
            "SELECT id, working_dir, created_at, closed, agent_session_id FROM sessions WHERE id = ?", (session_id,)
        ).fetchone()
        return SessionRow(row[0], row[1], row[2], bool(row[3]), row[4]) if row else None

    def session_ids(self) -> list[str]:
        return [r[0] for r in self.db.execute("SELECT id FROM sessions ORDER BY created_at")]

    def events(self, session_id: str) -> list[tuple[int, str, dict]]:
        rows = self.db.execute(
            "SELECT seq, event, payload FROM events WHERE session_id = ? ORDER BY seq", (session_id,)
        )
        return [(seq, event, json.loads(payload)) for seq, event, payload in rows]

    def messages(self, session_id: str) -> list[dict]:
        rows = self.db.execute(
            "SELECT idx, seq, type, content, timestamp, extra FROM messages WHERE session_id = ? ORDER BY idx",
            (session_id,),
        )
        out = []
        for idx, seq, type_, content, timestamp, extra in rows:
            message = {"index": idx, "seq": seq, "type": type_, "content": content, "timestamp": timestamp}
            if extra is not None:
                message["extra"] = json.loads(extra)
            out.append(message)
        return out

    # ---- commits ----------------------------------------------------------------------
    def _touch(self) -> None:
        if self._commit_handle is not None:
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            self.db.commit()
            return
        self._commit_handle = loop.call_later(COMMIT_DELAY_S, self.commit)

    def commit(self) -> None:
        self._commit_handle = None
        if not self.closed:
            self.db.commit()

    def flush(self) -> None:
        """Commit the pending writes now (nothing to do when there are none)."""
        if self._commit_handle is not None:
            self._commit_handle.cancel()
            self.commit()

    def close(self) -> None:
        if self.closed:
            return
        if self._commit_handle is not None:
            self._commit_handle.cancel()
            self._commit_handle = None
        self.db.commit()
        self.db.close()
        self.closed = True
