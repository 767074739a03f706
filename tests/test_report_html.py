"""The HTML report is one self-contained file (no URL, no other file), its charts are there,
and it really renders: headless Chromium opens it offline and screenshots it."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from test_report import TIMELINE, sim_record

from jarvis_diag.report.dataset import Dataset, add_sim_records, add_timeline
from jarvis_diag.report.html import to_html
from jarvis_diag.report.model import build_report

CHROMIUM = shutil.which("chromium") or ("/usr/bin/chromium" if Path("/usr/bin/chromium").exists() else None)


def full_report():
    """Simulation runs with a comparison, plus a timeline whose evidence quotes a URL."""
    cand, base = Dataset(), Dataset()
    add_sim_records(cand, "after/results.jsonl",
                    ((i + 1, sim_record(i, 40.0 + (i * 7) % 60, lost=int(i == 5), switch_ms=2.0 + i % 5))
                     for i in range(120)))
    add_sim_records(base, "before/results.jsonl",
                    ((i + 1, sim_record(i, 90.0 + (i * 7) % 60, switch_ms=2.0 + i % 5, run="r0")) for i in range(120)))
    timeline = dict(TIMELINE, findings=[*TIMELINE["findings"], {
        "id": "F3", "kind": "server-reload", "severity": "warning", "at": "2026-11-24T10:00:06.000Z",
        "session": None, "client": None, "sid": None, "delay_ms": 2100.0, "summary": "dev server <reloaded>",
        "context": "", "evidence": [{"path": "backend.log", "line": 7,
                                     "text": "INFO:     Uvicorn running on http://127.0.0.1:38010 (Press CTRL+C)"}]}])
    add_timeline(cand, "timeline.json", timeline)
    add_timeline(base, "timeline.json", timeline)
    return build_report(cand, baseline=base, resamples=300, title="Recovery <after> vs before")


def test_html_is_self_contained():
    html = to_html(full_report())
    assert html.startswith("<!DOCTYPE html>")
    assert not re.search(r"https?://", html, re.I)  # not even the URL quoted by a log line
    assert not re.search(r"\b(src|href|xlink:href)\s*=", html, re.I)
    assert "<script" not in html and "<link" not in html and "@import" not in html and "url(" not in html
    assert "Recovery &lt;after&gt; vs before" in html and "dev server &lt;reloaded&gt;" in html
    assert "127.0.0.1:38010" in html  # the quoted line is kept, only its '://' is an entity


def test_charts_are_present():
    report = full_report()
    html = to_html(report)
    cdfs = sum(1 for m in report.metrics if m.summary.n)
    stacked = sum(1 for m in report.metrics if m.breakdown)
    assert html.count("<svg") == cdfs + stacked + 1  # + the waterfall of the worst episode
    assert html.count('class="cdf-line"') == 2 * sum(1 for r in report.comparison.rows
                                                      if r.unit == "ms" and r.baseline.n and r.candidate.n)
    assert html.count('class="segment"') >= 3
    assert 'id="worst-episode"' in html and 'class="span"' in html
    for svg in re.findall(r"<svg.*?</svg>", html, re.S):
        assert svg.count("<svg") == 1 and "NaN" not in svg and "inf" not in svg.lower().replace("info", "")


def _not_blank(png: Path) -> tuple[int, int]:
    """Pixels clearly darker than white (text, tables), and pixels of the charts' first colour."""
    import numpy as np
    from PIL import Image

    rgb = np.asarray(Image.open(png).convert("RGB"), dtype=int)
    ink = int((rgb.sum(axis=2) < 600).sum())
    blue = int((np.abs(rgb - np.array([0x4E, 0x79, 0xA7])).max(axis=2) < 40).sum())
    return ink, blue


@pytest.mark.browser
def test_html_renders_in_headless_chromium(tmp_path):
    if CHROMIUM is None:
        if os.environ.get("CI"):
            pytest.fail("chromium is missing on CI (.ci/run installs it)")
        pytest.skip("chromium is not installed")
    page = tmp_path / "report.html"
    page.write_text(to_html(full_report()), encoding="utf-8")
    png = tmp_path / "report.png"
    profile = tmp_path / "profile"
    proc = subprocess.run(
        [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run", f"--user-data-dir={profile}",
         f"--screenshot={png}", "--window-size=1200,2000", page.as_uri()],
        capture_output=True, text=True, timeout=90)
    assert png.exists(), proc.stderr[-2000:]
    assert png.stat().st_size > 20_000
    ink, blue = _not_blank(png)
    assert ink > 20_000  # text and tables
    assert blue > 500  # the charts' first colour is on the page
    shutil.copy(png, Path(os.environ.get("REPORT_SCREENSHOT", tmp_path / "kept.png")))


def test_a_cdf_of_values_bunched_far_from_zero_spans_them():
    # 118-121 ms on an axis from 0 was one vertical line at the right edge
    from jarvis_diag.report.charts import cdf_svg

    svg = cdf_svg([("recovery", np.array([118.1, 118.3, 119.0, 121.0, 121.3]))], "recovery")
    ticks = re.findall(r'text-anchor="middle" fill="#666">([^<]+)</text>', svg)
    assert ticks and "0 ms" not in ticks and all(118 <= float(t.split()[0]) <= 122 for t in ticks)
    xs = [float(x) for x in re.findall(r"([\d.]+),[\d.]+", re.search(r'points="([^"]+)"', svg).group(1))]
    assert max(xs) - min(xs) > 300  # (the plot is 458 px wide)
    # values near zero keep their axis from zero
    assert ">0 ms<" in cdf_svg([("switch", np.array([1.0, 2.0, 5.0]))], "switch")
