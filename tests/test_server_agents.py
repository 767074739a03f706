"""The sim agent (pure, predictable) and the stream-json subprocess agent."""

from __future__ import annotations

import sys

from server.agents import claude_argv, sim_reply, sim_text, translate_stream_json
from server.testing import Client, running_server


def test_sim_reply_is_deterministic_and_complete():
    reply = sim_reply("hello there")
    assert reply == sim_reply("hello there")
    names = [i["event"] for i in reply]
    assert names[:4] == ["chat:system", "chat:thinking_start", "chat:thinking_delta", "chat:thinking_end"]
    assert names[-3:] == ["chat:stream_end", "chat:assistant", "chat:result"]
    streamed = "".join(i["content"] for i in reply if i["event"] == "chat:stream")
    assert streamed == sim_text("hello there") == reply[-1]["content"] == "sim reply to: hello there"
    assert reply[-1]["extra"] == {"num_turns": 1, "chunks": names.count("chat:stream")}


def test_sim_reply_commands():
    assert [i["content"] for i in sim_reply("/stream 3") if i["event"] == "chat:stream"] == [
        "chunk 0 ", "chunk 1 ", "chunk 2 "]
    tool = [i for i in sim_reply("/tool grep") if i["event"] in ("chat:tool_call", "chat:tool_result")]
    assert [(i["event"], i["content"]) for i in tool] == [("chat:tool_call", "grep"), ("chat:tool_result", "grep done")]
    assert len([i for i in sim_reply("word " * 500) if i["event"] == "chat:stream"]) <= 40


def test_translate_stream_json():
    blocks: dict = {}
    out = []
    for obj in ({"type": "system", "subtype": "init"},
                {"type": "stream_event", "event": {"type": "content_block_start", "index": 0,
                                                   "content_block": {"type": "thinking"}}},
                {"type": "stream_event", "event": {"type": "content_block_delta", "index": 0,
                                                   "delta": {"type": "thinking_delta", "thinking": "hm"}}},
                {"type": "stream_event", "event": {"type": "content_block_stop", "index": 0}},
                {"type": "stream_event", "event": {"type": "content_block_start", "index": 1,
                                                   "content_block": {"type": "text"}}},
                {"type": "stream_event", "event": {"type": "content_block_delta", "index": 1,
                                                   "delta": {"type": "text_delta", "text": "Hi"}}},
                {"type": "stream_event", "event": {"type": "content_block_stop", "index": 1}},
                {"type": "assistant", "message": {"content": [{"type": "text", "text": "Hi"},
                                                              {"type": "tool_use", "name": "ls", "id": "t1"}]}},
                {"type": "user", "message": {"content": [{"type": "tool_result", "content": "a b",
                                                          "tool_use_id": "t1"}]}},
                {"type": "result", "result": "Hi", "num_turns": 1}):
        out += translate_stream_json(obj, blocks)
    assert [(i["event"], i["content"]) for i in out] == [
        ("chat:system", "init"), ("chat:thinking_start", ""), ("chat:thinking_delta", "hm"), ("chat:thinking_end", ""),
        ("chat:stream", "Hi"), ("chat:stream_end", ""), ("chat:tool_call", "ls"), ("chat:assistant", "Hi"),
        ("chat:tool_result", "a b"), ("chat:result", "Hi")]


async def test_stream_json_subprocess_agent(tmp_path):
    command = f"{sys.executable} -m server.standin_agent --startup 0.1"
    async with running_server(agent=command) as srv, Client(srv.url, srv.token) as c:
        A = (await c.attach("new-1", working_dir=str(tmp_path)))["session_id"]
        items = await c.say(A, "from a real process")
        names = [e for e, _ in items]
        assert names[:2] == ["chat:user_ack", "chat:system"] and names[-2:] == ["chat:assistant", "chat:result"]
        assert items[-1][1]["content"] == sim_text("from a real process")
        items = await c.say(A, "second turn")  # the same process answers again
        assert items[-1][1]["content"] == sim_text("second turn")
        assert f"Claude command: {command}" in srv.app_log.read_text()
        row = srv.state.store.get_session(A)
        assert row.agent_session_id and len(row.agent_session_id) == 36
        ready = await c.attach(A)
        assert ready["claude_session_id"] == row.agent_session_id


async def test_agent_that_cannot_start_reports_an_error():
    async with running_server(agent="/nonexistent/claude") as srv, Client(srv.url, srv.token) as c:
        A = (await c.attach("new-1"))["session_id"]
        mark = c.mark()
        await c.sio.emit("chat:message", {"session_id": A, "content": "hi"})
        err = await c.wait("chat:error", since=mark, session=A)
        assert "agent failed to start" in err["content"]


def test_claude_gets_the_stream_json_flags():
    assert claude_argv("/usr/bin/claude")[:4] == ["/usr/bin/claude", "-p", "--input-format", "stream-json"]
    assert claude_argv("claude -p --input-format stream-json") == ["claude", "-p", "--input-format", "stream-json"]
    assert claude_argv("python -m x 'a b'") == ["python", "-m", "x", "a b"]
    assert claude_argv("claude", resume="abc")[-2:] == ["--resume", "abc"]
    assert "--resume" not in claude_argv("python -m x", resume="abc")
