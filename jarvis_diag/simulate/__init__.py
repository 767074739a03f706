"""Virtual mobile clients, a fault proxy and per-cycle verdicts (``simulate-mobile``).

Pure parts: :mod:`.profiles` (reconnect state machines), :mod:`.faults` (schedules),
:mod:`.network` (shapes), :mod:`.verdict`. I/O: :mod:`.proxy`, :mod:`.client`,
:mod:`.results`, :mod:`.run`.
"""

from jarvis_diag.simulate.faults import FAULTS, fault_schedule
from jarvis_diag.simulate.network import SHAPES, NetworkShape
from jarvis_diag.simulate.profiles import PRESETS, Profile, ReconnectMachine
from jarvis_diag.simulate.proxy import FaultProxy
from jarvis_diag.simulate.results import ResultWriter, read_results
from jarvis_diag.simulate.run import RunResult, ServerUnusable, run_simulation
from jarvis_diag.simulate.scenario import SimConfig, load_scenario
from jarvis_diag.simulate.verdict import cycle_ok, cycle_verdict, summarize

__all__ = [
    "FAULTS", "PRESETS", "SHAPES", "FaultProxy", "NetworkShape", "Profile", "ReconnectMachine", "ResultWriter",
    "RunResult", "ServerUnusable", "SimConfig", "cycle_ok", "cycle_verdict", "fault_schedule", "load_scenario",
    "read_results", "run_simulation", "summarize",
]
