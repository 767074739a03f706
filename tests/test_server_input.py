"""Bad input gets chat:error or a log line; the server and other clients carry on."""

from __future__ import annotations

import json

import aiohttp
import pytest
import socketio
from socketio import packet

from server.logs import short
from server.namespace import (
    NOT_A_PACKET,
    BadPayload,
    CheckedPacket,
    SocketServer,
    parse_connect,
    parse_history_page,
    parse_message,
)
from server.testing import Client, running_server


@pytest.mark.parametrize("payload", [None, 5, "x", [], {}, {"session_id": 3, "working_dir": "/"},
                                     {"session_id": "new-1"}, {"session_id": "new-1", "working_dir": ""},
                                     {"session_id": "new-1", "working_dir": "/", "last_seq": -1},
                                     {"session_id": "new-1", "working_dir": "/", "last_seq": True},
                                     {"session_id": "x" * 500, "working_dir": "/"},
                                     {"session_id": "  ", "working_dir": "/"}, {"session_id": "\t", "working_dir": "/"},
                                     {"session_id": "new-1", "working_dir": " "}])
def test_parse_connect_rejects(payload):
    with pytest.raises(BadPayload):
        parse_connect(payload)


def test_parse_accepts():
    assert parse_connect({"session_id": "new-1", "working_dir": "/w", "resume": None}) == ("new-1", "/w", None)
    assert parse_connect({"session_id": "s", "working_dir": "/w", "last_seq": 0}) == ("s", "/w", 0)
    assert parse_message({"session_id": "s", "content": "hi"}, 10) == ("s", "hi")
    with pytest.raises(BadPayload):
        parse_message({"session_id": "s", "content": "x" * 11}, 10)
    assert parse_history_page({"session_id": "s", "before_index": 4}) == ("s", 4, 20)


BAD_EVENTS = [
    ("chat:connect", None), ("chat:connect", {"session_id": "new-1"}), ("chat:connect", "text"),
    ("chat:message", {"session_id": "unknown-session", "content": "hi"}), ("chat:message", {"session_id": "s"}),
    ("chat:message", {"content": 5}), ("chat:disconnect", {}), ("chat:close", {"session_id": "nope"}),
    ("chat:load_more_history", {"session_id": "nope", "before_index": 1}),
    ("chat:load_more_history", {"session_id": "s", "before_index": "x"}),
]


async def test_bad_events_get_chat_error_and_server_carries_on():
    async with running_server(max_message_bytes=1000) as srv, Client(srv.url, srv.token, "bad") as bad, \
            Client(srv.url, srv.token, "good") as good:
        A = (await good.attach("new-1"))["session_id"]
        for event, payload in [*BAD_EVENTS, ("chat:message", {"session_id": A, "content": "x" * 2000})]:
            mark = bad.mark()
            await bad.sio.emit(event, payload)
            err = await bad.wait("chat:error", since=mark)
            assert err["message"] and "session_id" in err
        mark = bad.mark()
        await bad.sio.emit("no:such:event", {"a": 1})
        await bad.sio.emit("system:ping", {})
        await bad.wait("system:pong", since=mark)
        await good.say(A, "still fine")
        log = srv.app_log.read_text()
        assert "Rejected no:such:event from" in log and "working_dir is required" in log
        assert [line.split(" - ", 3)[-1] for line in log.splitlines() if "Session not found" in line] == [
            "[SocketIO] Session not found for message: unknown-"]  # (cut to 8, as the real server cuts ids)


async def test_garbage_frames_and_huge_payload_do_not_hurt_others():
    async with running_server() as srv, Client(srv.url, srv.token, "good") as good:
        A = (await good.attach("new-1"))["session_id"]
        async with aiohttp.ClientSession() as http:
            async with http.ws_connect(srv.url + "/socket.io/?EIO=4&transport=websocket") as ws:
                await ws.receive(timeout=5)  # engine.io open
                await ws.send_str("40")
                await ws.receive(timeout=5)  # socket.io connect ack
                for frame in ("42[not json", "42{}", "4", "99", '42["auth"', "42[1,2,3]", '42["chat:connect",{}'):
                    await ws.send_str(frame)
                await ws.send_bytes(b"\x00\xff")
                await ws.send_str('42["chat:message",{"session_id":"s","content":"' + "y" * (11 * 1024 * 1024) + '"}]')
        huge = Client(srv.url, srv.token, "huge")
        await huge.connect()
        await huge.sio.emit("chat:message", {"session_id": A, "content": "z" * (2 * 1024 * 1024)})
        await huge.wait("chat:error")
        await huge.close()
        await good.say(A, "unaffected")


async def test_a_frame_that_is_no_socketio_packet_is_one_log_line_and_the_socket_carries_on(tmp_path):
    frames = ("42[not json", "42{}", '42["auth"', '42["chat:connect",{}', "4", "42[]", "44{}", '42[{"a":1}]',
              "42[[1],2]")
    async with running_server(log_dir=tmp_path / "logs", data_dir=tmp_path / "data") as srv:
        async with aiohttp.ClientSession() as http:
            async with http.ws_connect(srv.url + "/socket.io/?EIO=4&transport=websocket") as ws:
                await ws.receive(timeout=5)  # engine.io open
                await ws.send_str("40")
                sid = json.loads((await ws.receive(timeout=5)).data[2:])["sid"]  # socket.io connect ack
                await ws.send_str(f'42["auth",{{"token":"{srv.token}"}}]')
                assert "auth_success" in (await ws.receive(timeout=5)).data
                for frame in frames:
                    await ws.send_str(frame)
                await ws.send_bytes(b"\x00\xff")
                await ws.send_str("42[42]")  # (a packet: an event named 42, which no handler knows)
                await ws.send_str('42["system:ping",{}]')
                for _ in range(10):  # (a ping frame from the server may come first)
                    msg = await ws.receive(timeout=5)
                    if "system:pong" in str(msg.data):
                        break
                assert "system:pong" in str(msg.data)
    text = (tmp_path / "logs" / "app.log").read_text()
    rejected = [line for line in text.splitlines() if "Rejected packet from" in line]
    assert len(rejected) == len(frames) + 1, rejected
    assert all(f"Rejected packet from {short(sid)}: not a Socket.IO packet: " in line for line in rejected)
    assert "Traceback" not in text and "Rejected frame" not in text
    assert f"Rejected 42 from {short(sid)}: unknown event" in text


@pytest.mark.parametrize("frame", ["2[not json", "2{}", "2[]", '2"x"', "4{}", "9", '2["auth"', "", b"\x00\xff",
                                   '2[{"a":1}]', "2[[1],2]"])
def test_a_frame_that_is_no_packet_decodes_to_an_event_carrying_why(frame):
    pkt = CheckedPacket(encoded_packet=frame)
    assert pkt.packet_type == packet.EVENT and pkt.namespace is None and pkt.id is None
    assert pkt.data[0] is NOT_A_PACKET and isinstance(pkt.data[1], str) and pkt.data[1]


@pytest.mark.parametrize("frame, kind, data", [
    ('2["chat:message",{"a":1}]', packet.EVENT, ["chat:message", {"a": 1}]), ("0", packet.CONNECT, None),
    ('0{"token":"t"}', packet.CONNECT, {"token": "t"}), ("1", packet.DISCONNECT, None),
    ("3[]", packet.ACK, []), ('2[1,2]', packet.EVENT, [1, 2]), ("2[42]", packet.EVENT, [42]),
])
def test_a_socketio_packet_decodes_as_python_socketio_decodes_it(frame, kind, data):
    pkt = CheckedPacket(encoded_packet=frame)
    plain = packet.Packet(encoded_packet=frame)
    assert (pkt.packet_type, pkt.data) == (plain.packet_type, plain.data) == (kind, data)


def test_the_server_overrides_no_private_method_of_python_socketio():
    # (a private method can be renamed in any release; the server must keep working then)
    private = [name for name in vars(SocketServer) if name.startswith("_") and not name.startswith("__")]
    assert [name for name in private if hasattr(socketio.AsyncServer, name)] == []
