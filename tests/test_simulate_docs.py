"""The scenario file format of docs/formats.md: its example loads, and it names every key."""

import re
import tomllib
from pathlib import Path

from jarvis_diag.simulate.profiles import PROFILE_KEYS
from jarvis_diag.simulate.scenario import _DURATIONS, _SCALARS, scenario_from_dict

FORMATS = Path(__file__).resolve().parent.parent / "docs" / "formats.md"


def scenario_section() -> str:
    text = FORMATS.read_text()
    start = text.index("## Scenario file (`simulate-mobile --scenario FILE`")
    return text[start:text.index("\n## ", start + 1)]


def test_the_documented_scenario_loads_and_shows_every_top_level_key():
    section = scenario_section()
    example = tomllib.loads(re.search(r"```toml\n(.*?)```", section, re.S).group(1))
    cfg = scenario_from_dict(example, source="docs/formats.md")
    assert cfg.clients == 4 and [p.name for p in cfg.profiles] == ["legacy", "connmgr"]
    assert {"impatient"} <= set(cfg.profile_table) and "edge" in cfg.network_table
    known = set(_SCALARS) | set(_DURATIONS) | {"profile", "network", "profiles", "networks", "steps",
                                                "existing", "url", "token", "clock_skew_ms"}
    assert set(example) == known
    for key in PROFILE_KEYS:
        assert f"`{key}`" in section, key
