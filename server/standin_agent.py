"""A stand-in for Claude CLI speaking stream-json, for ``serve --agent`` without the real CLI.

    jarvis-diag serve --agent "python -m server.standin_agent --startup 0.5"

Reads ``{"type": "user", "message": {...}}`` lines on stdin; for each prints ``system/init``,
``stream_event`` content-block start / text deltas / stop, ``assistant`` and ``result``
(a string, as the real CLI does). The answer is ``server.agents.sim_text`` of the message.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import uuid

from server.agents import sim_text


def _out(obj: dict) -> None:
    sys.stdout.write(json.dumps(obj) + "\n")
    sys.stdout.flush()


def _text_of(message: dict) -> str:
    content = (message.get("message") or {}).get("content")
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(b.get("text", "") for b in content if isinstance(b, dict))
    return ""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--startup", type=float, default=0.0, help="seconds before reading stdin")
    parser.add_argument("--pace", type=float, default=0.0, help="seconds between output lines")
    args = parser.parse_args(argv)
    session_id = str(uuid.uuid4())
    time.sleep(args.startup)
    for raw in sys.stdin:
        try:
            message = json.loads(raw)
        except ValueError:
            continue
        text = _text_of(message)
        answer = sim_text(text)
        _out({"type": "system", "subtype": "init", "session_id": session_id})
        _out({"type": "stream_event", "event": {"type": "content_block_start", "index": 0,
                                                 "content_block": {"type": "text", "text": ""}}})
        for word in answer.split(" "):
            time.sleep(args.pace)
            _out({"type": "stream_event", "event": {"type": "content_block_delta", "index": 0,
                                                     "delta": {"type": "text_delta", "text": word + " "}}})
        _out({"type": "stream_event", "event": {"type": "content_block_stop", "index": 0}})
        _out({"type": "assistant", "message": {"role": "assistant", "content": [{"type": "text", "text": answer}]}})
        _out({"type": "result", "subtype": "success", "result": answer, "num_turns": 1, "session_id": session_id})
    return 0


if __name__ == "__main__":
    sys.exit(main())
