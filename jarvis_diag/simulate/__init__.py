"""Virtual mobile clients, a fault proxy and per-cycle verdicts (``simulate-mobile``).

Pure parts: :mod:`.profiles` (reconnect state machines), :mod:`.faults` (schedules),
:mod:`.network` (shapes), :mod:`.verdict`. I/O: :mod:`.proxy`, :mod:`.client`,
:mod:`.results`, :mod:`.run`.
"""

from __future__ import annotations

import importlib
from typing import Any

# each name from the module that holds it, imported on first use: the pure parts (a scenario's
# steps, the profiles) are wanted without the network clients' imports (aiohttp, socketio)
_WHERE = {
    "FAULTS": "faults", "fault_schedule": "faults", "SHAPES": "network", "NetworkShape": "network",
    "PRESETS": "profiles", "Profile": "profiles", "ReconnectMachine": "profiles", "FaultProxy": "proxy",
    "ResultWriter": "results", "read_results": "results", "RunResult": "run", "ServerUnusable": "run",
    "run_simulation": "run", "SimConfig": "scenario", "load_scenario": "scenario", "cycle_ok": "verdict",
    "cycle_verdict": "verdict", "summarize": "verdict",
}

__all__ = sorted(_WHERE)


def __getattr__(name: str) -> Any:
    if name not in _WHERE:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{_WHERE[name]}"), name)


def __dir__() -> list[str]:
    return sorted({*globals(), *_WHERE})
