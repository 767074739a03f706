"""The ``--browser`` side of ``simulate-mobile``: options -> :mod:`browser` run, with progress."""

from __future__ import annotations

import asyncio
from pathlib import Path

from jarvis_diag.commands.interrupt import run_interruptible
from jarvis_diag.commands.progress import cycle_progress
from jarvis_diag.errors import DiagError
from jarvis_diag.simulate.browser import AppSpec, BrowserConfig, BrowserUnavailable, run_browser_simulation
from jarvis_diag.simulate.profiles import PRESETS
from jarvis_diag.simulate.run import RunResult
from jarvis_diag.simulate.scenario import SimConfig


def _unsupported(cfg: SimConfig) -> str | None:
    """What of the options a browser run would otherwise drop without a word."""
    if cfg.steps is not None:
        return "a scenario's [[steps]] are for virtual clients; --browser runs its own script (send, background, probe)"
    if len(cfg.profiles) > 1:
        return "--browser drives one page profile at a time; give one --client-profile"
    if cfg.existing:
        return "--existing is for virtual clients; with --browser the page opens new sessions"
    profile = cfg.profiles[0]
    if profile.name in PRESETS and profile != PRESETS[profile.name]:
        return (f"a scenario's [profiles.{profile.name}] settings are for virtual clients; the page's "
                f"{profile.name} is its own (give the profile another name to run it on virtual clients)")
    return None


def browser_config(cfg: SimConfig, app_path: Path | None, chromium: str) -> BrowserConfig:
    """The browser run of the options the virtual clients take (one profile: the page's)."""
    why = _unsupported(cfg)
    if why is not None:
        raise DiagError(why)
    try:
        app = AppSpec.load(app_path) if app_path is not None else None
    except ValueError as exc:
        raise DiagError(str(exc)) from None
    if app is not None and app.token_selector and not cfg.token:
        raise DiagError(f"{app_path}: the app signs in (token_selector {app.token_selector!r}): give --token T or set "
                        "$JARVIS_TOKEN, or token_selector = \"\" for an app with no login")
    # (an app of one's own has no profile of ours: its runs are named after its file)
    profile = cfg.profiles[0].name if app_path is None else app_path.stem
    bcfg = BrowserConfig(url=cfg.url, token=cfg.token, profile=profile, clients=cfg.clients,
                         sessions=cfg.sessions, cycles=cfg.cycles, background_s=cfg.background_s, fault=cfg.fault,
                         network=cfg.network.name, network_shape=cfg.network, deadline_s=cfg.deadline_s,
                         reaction_s=cfg.reaction_s, working_dir=cfg.working_dir, seed=cfg.seed, app=app,
                         executable=chromium, time_scale=cfg.time_scale, connect_timeout_s=cfg.connect_timeout_s,
                         flaky_mean_gap_s=cfg.flaky_mean_gap_s, stagger_s=cfg.stagger_s,
                         clock_skew_ms=cfg.clock_skew_ms, ramp=cfg.ramp)
    try:
        bcfg.validate()
    except ValueError as exc:
        raise DiagError(str(exc)) from None
    return bcfg


def run_browser(cfg: SimConfig, out_dir: Path, run_id: str, app_path: Path | None, chromium: str) -> RunResult:
    bcfg = browser_config(cfg, app_path, chromium)
    with cycle_progress(bcfg.clients * bcfg.cycles, "starting Chromium") as (on_record, on_phase):
        try:
            result = run_interruptible(run_browser_simulation(bcfg, out_dir, run_id=run_id, on_record=on_record,
                                                              on_phase=on_phase))
        except BrowserUnavailable as exc:
            raise DiagError(str(exc)) from None
        except asyncio.CancelledError:
            raise DiagError("interrupted before the browser started", exit_code=130) from None
        except OSError as exc:
            raise DiagError(f"{exc.filename or out_dir}: {exc.strerror or exc}", exit_code=1) from None
    if result.error and all(not r["sessions"] for r in result.records):
        raise DiagError(f"browser simulation failed: {result.error}")  # nothing ran: the page or server is unusable
    return result
