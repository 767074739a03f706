"""SQLite persistence."""

from __future__ import annotations

import pytest

from server.config import ServerConfig
from server.store import Store


def test_roundtrip_survives_reopen(tmp_path):
    store = Store(tmp_path / "db.sqlite")
    store.add_session("S", "/w")
    store.add_mapping("new-1", "S")
    store.add_event("S", 1, "chat:user_ack", {"seq": 1, "content": "héllo"})
    store.add_message("S", {"index": 0, "seq": 1, "type": "user", "content": "héllo", "timestamp": "t"})
    store.set_closed("S", True)
    store.close()
    store = Store(tmp_path / "db.sqlite")
    assert store.get_mapping("new-1") == "S" and store.get_mapping("new-2") is None
    row = store.get_session("S")
    assert row.working_dir == "/w" and row.closed is True
    assert store.events("S") == [(1, "chat:user_ack", {"seq": 1, "content": "héllo"})]
    assert store.messages("S")[0]["content"] == "héllo" and store.temp_ids("S") == ["new-1"]
    assert store.session_ids() == ["S"]
    store.close()


def test_config_defaults_and_unknown_options(tmp_path):
    config = ServerConfig(data_dir=tmp_path)
    assert config.log_dir == tmp_path / "logs" and config.token
    with pytest.raises(TypeError, match="unknown server option"):
        ServerConfig.from_kwargs(colour="blue")
