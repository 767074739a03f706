"""The agents a session runs: ``sim`` (deterministic stand-in for Claude CLI) and a real
program speaking Claude CLI's stream-json on stdin/stdout.

An agent yields *output items*: dicts ``{"event": "chat:<type>", "content": str}`` with an
optional ``"extra"`` dict. The session adds ``session_id``, ``seq``, ``type`` and
``timestamp`` before storing and sending them.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shlex
import shutil
from collections.abc import AsyncIterator
from typing import Protocol

SIM_COMMAND = "sim"
MAX_SIM_CHUNKS = 40
STREAM_JSON_FLAGS = (
    "-p --input-format stream-json --output-format stream-json --verbose --include-partial-messages "
    "--dangerously-skip-permissions"
)


def _item(event_type: str, content: str = "", extra: dict | None = None) -> dict:
    item = {"event": f"chat:{event_type}", "content": content}
    if extra is not None:
        item["extra"] = extra
    return item


# The sim agent's answer names the message it answers (a simulated page uses it to tell
# which of its messages a reply is for when one was cut off by a restart).
SIM_REPLY_PREFIX = "sim reply to: "


def sim_text(text: str) -> str:
    """The sim agent's answer text for a user message."""
    return f"{SIM_REPLY_PREFIX}{text.strip()}"


def sim_reply(text: str) -> list[dict]:
    """The sim agent's whole reply to ``text``, deterministic so tests can predict it.

    * ``/stream N`` (N <= 100000): N ``chat:stream`` chunks ``"chunk <i> "`` (for load tests);
    * ``/tool NAME``: a ``chat:tool_call`` (content NAME) and a ``chat:tool_result`` before the text;
    * anything else: the answer :func:`sim_text` streamed in word chunks (at most 40).

    Every reply is: ``chat:system`` (``init``), ``chat:thinking_start`` / ``_delta`` / ``_end``,
    [tool call + result], ``chat:stream`` chunks, ``chat:stream_end``, ``chat:assistant``
    (the whole text), ``chat:result`` (the whole text, ``extra={"num_turns": 1, "chunks": n}``).
    """
    stripped = text.strip()
    items = [_item("system", "init"), _item("thinking_start"), _item("thinking_delta", "considering the request"),
             _item("thinking_end")]
    parts = stripped.split(None, 1)
    command = parts[0] if parts else ""
    argument = parts[1] if len(parts) > 1 else ""
    if command == "/stream" and argument.isdigit():
        n = min(int(argument), 100_000)
        chunks = [f"chunk {i} " for i in range(n)]
        answer = f"streamed {n} chunks"
    else:
        if command == "/tool" and argument:
            items.append(_item("tool_call", argument, {"id": "tool-1", "input": {}}))
            items.append(_item("tool_result", f"{argument} done", {"tool_use_id": "tool-1"}))
        answer = sim_text(text)
        words = answer.split(" ")
        per_chunk = max(1, -(-len(words) // MAX_SIM_CHUNKS))
        chunks = [" ".join(words[i : i + per_chunk]) + " " for i in range(0, len(words), per_chunk)]
        chunks[-1] = chunks[-1].rstrip(" ")
    items.extend(_item("stream", c) for c in chunks)
    items.append(_item("stream_end"))
    items.append(_item("assistant", answer))
    items.append(_item("result", answer, {"num_turns": 1, "chunks": len(chunks)}))
    return items


class Agent(Protocol):
    command: str

    async def start(self) -> None: ...

    def reply(self, text: str) -> AsyncIterator[dict]: ...

    async def stop(self) -> None: ...


class SimAgent:
    """Start-up delay, then :func:`sim_reply` items one every ``pace`` seconds."""

    def __init__(self, startup_s: float, pace_s: float):
        self.startup_s = startup_s
        self.pace_s = pace_s
        self.command = f"sim (start-up {startup_s:g}s, pace {pace_s:g}s)"

    async def start(self) -> None:
        if self.startup_s > 0:
            await asyncio.sleep(self.startup_s)

    async def reply(self, text: str) -> AsyncIterator[dict]:
        for i, item in enumerate(sim_reply(text)):
            if self.pace_s > 0:
                await asyncio.sleep(self.pace_s)
            elif i % 64 == 63:
                await asyncio.sleep(0)  # let other sessions and sockets run during long replies
            yield item

    async def stop(self) -> None:
        return None


class StreamJsonAgent:
    """A program per session speaking Claude CLI's stream-json (one JSON object a line).

    We write ``{"type": "user", "message": {...}}`` lines on its stdin and translate what it
    prints: ``system``, ``stream_event`` (content block start / delta / stop), ``assistant``,
    ``user`` (tool results) and ``result``, which ends a reply.
    """

    def __init__(self, command: str, working_dir: str, session_id: str, resume: str | None = None):
        self.argv = claude_argv(command, resume)
        self.command = shlex.join(self.argv)
        self.working_dir = working_dir
        self.session_id = session_id
        self.agent_session_id: str | None = resume  # the program's own session id, once it says it
        self.proc: asyncio.subprocess.Process | None = None

    async def start(self) -> None:
        cwd = self.working_dir if os.path.isdir(self.working_dir) else None
        self.proc = await asyncio.create_subprocess_exec(
            *self.argv,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.DEVNULL,
            cwd=cwd,
            limit=16 * 1024 * 1024,
        )

    async def reply(self, text: str) -> AsyncIterator[dict]:
        proc = self.proc
        if proc is None or proc.stdin is None or proc.stdout is None or proc.returncode is not None:
            yield _item("error", "agent is not running")
            return
        message = {"type": "user", "message": {"role": "user", "content": [{"type": "text", "text": text}]}}
        try:
            proc.stdin.write((json.dumps(message) + "\n").encode())
            await proc.stdin.drain()
        except (BrokenPipeError, ConnectionResetError):
            yield _item("error", "agent stdin closed")
            return
        block_types: dict[int, str] = {}
        while True:
            raw = await proc.stdout.readline()
            if not raw:
                yield _item("error", "agent exited before its result")
                return
            try:
                obj = json.loads(raw)
            except ValueError:
                continue  # not stream-json: the CLI's stray output
            if not isinstance(obj, dict):
                continue
            if isinstance(obj.get("session_id"), str) and obj["session_id"]:
                self.agent_session_id = obj["session_id"]
            for item in translate_stream_json(obj, block_types):
                yield item
            if obj.get("type") == "result":
                return

    async def stop(self) -> None:
        proc = self.proc
        if proc is None or proc.returncode is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            proc.terminate()
        try:
            async with asyncio.timeout(2.0):
                await proc.wait()
        except TimeoutError:
            with contextlib.suppress(ProcessLookupError):
                proc.kill()
            await proc.wait()


def claude_argv(command: str, resume: str | None = None) -> list[str]:
    """The argv of ``--agent COMMAND``. A bare ``claude`` gets the stream-json flags the real
    server passes (``-p --input-format stream-json ...``) and ``--resume ID`` for a session it
    answered before a restart; any other command runs as given."""
    argv = shlex.split(command)
    if argv and os.path.basename(argv[0]) == "claude":
        if "--input-format" not in argv:
            argv += STREAM_JSON_FLAGS.split()
        if resume and "--resume" not in argv:
            argv += ["--resume", resume]
    return argv


def check_agent_command(command: str) -> None:
    """Whether ``--agent COMMAND`` can run: a ValueError saying why not (before the server
    starts, rather than a failed start for every session)."""
    try:
        argv = claude_argv(command)
    except ValueError as exc:  # shlex: an unclosed quote
        raise ValueError(f"cannot be split into words: {exc}") from None
    if not argv:
        raise ValueError("no command")
    if shutil.which(argv[0]) is None:
        where = "is not an executable file" if os.sep in argv[0] else "is not found on $PATH or not executable"
        raise ValueError(f"{argv[0]} {where}")


def translate_stream_json(obj: dict, block_types: dict[int, str]) -> list[dict]:
    """Output items for one stream-json object (pure). ``block_types`` tracks open blocks."""
    kind = obj.get("type")
    if kind == "system":
        return [_item("system", str(obj.get("subtype", "")))]
    if kind == "stream_event":
        event = obj.get("event") or {}
        etype = event.get("type")
        index = event.get("index", 0)
        if etype == "content_block_start":
            block = event.get("content_block") or {}
            block_types[index] = str(block.get("type", "text"))
            return [_item("thinking_start")] if block_types[index] == "thinking" else []
        if etype == "content_block_delta":
            delta = event.get("delta") or {}
            if delta.get("type") == "thinking_delta":
                return [_item("thinking_delta", str(delta.get("thinking", "")))]
            if delta.get("type") == "text_delta":
                return [_item("stream", str(delta.get("text", "")))]
            return []
        if etype == "content_block_stop":
            tracked = block_types.pop(index, "text")
            if tracked == "thinking":
                return [_item("thinking_end")]
            return [_item("stream_end")] if tracked == "text" else []
        return []
    if kind == "assistant":
        items = []
        content = (obj.get("message") or {}).get("content") or []
        texts = [b.get("text", "") for b in content if isinstance(b, dict) and b.get("type") == "text"]
        for b in content:
            if isinstance(b, dict) and b.get("type") == "tool_use":
                items.append(_item("tool_call", str(b.get("name", "")), {"id": b.get("id"), "input": b.get("input")}))
        if texts:
            items.append(_item("assistant", "".join(texts)))
        return items
    if kind == "user":
        content = (obj.get("message") or {}).get("content") or []
        items = []
        for b in content if isinstance(content, list) else []:
            if isinstance(b, dict) and b.get("type") == "tool_result":
                body = b.get("content")
                items.append(_item("tool_result", body if isinstance(body, str) else json.dumps(body),
                                   {"tool_use_id": b.get("tool_use_id")}))
        return items
    if kind == "result":
        result = obj.get("result")
        extra = {k: obj[k] for k in ("subtype", "duration_ms", "num_turns", "is_error", "session_id") if k in obj}
        return [_item("result", result if isinstance(result, str) else json.dumps(result), extra)]
    return []


def make_agent(command: str, working_dir: str, session_id: str, startup_s: float, pace_s: float,
               resume: str | None = None) -> Agent:
    if command == SIM_COMMAND:
        return SimAgent(startup_s, pace_s)
    return StreamJsonAgent(command, working_dir, session_id, resume)
