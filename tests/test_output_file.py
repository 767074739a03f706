"""--output files are replaced whole or not at all (commands.output.replacing)."""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
from pathlib import Path

import pytest

FIXTURES = Path(__file__).parent / "fixtures"
CLI = [sys.executable, "-m", "jarvis_diag"]
EARLIER = "the timeline written yesterday\n"


def _limited(limit: int):
    def setup() -> None:  # (the process may write no file past ``limit`` bytes: EFBIG beyond)
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))
    return setup


def _timeline(out: Path, *extra: str, limit: int | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([*CLI, "timeline", str(FIXTURES / "normal"), *extra, "-o", str(out)],
                          capture_output=True, text=True, timeout=120,
                          preexec_fn=_limited(limit) if limit else None)


def test_a_write_that_fails_half_way_leaves_the_earlier_output_as_it_was(tmp_path: Path):
    for fmt in ("json", "csv", "parquet"):
        out = tmp_path / f"timeline.{fmt}"
        out.write_text(EARLIER)
        os.chmod(out, 0o640)
        failed = _timeline(out, "--format", fmt, limit=4096)
        assert failed.returncode != 0 and "Traceback" not in failed.stderr, (fmt, failed.stderr)
        assert f"{out}: cannot write (File too large)" in failed.stderr, (fmt, failed.stderr)
        assert out.read_text() == EARLIER  # (before: cut at 4096 bytes, the earlier text gone)
        assert not [p.name for p in tmp_path.iterdir() if p.name.endswith(".part")]  # (nothing left behind)
        done = _timeline(out, "--format", fmt)
        assert done.returncode == 0, done.stderr
        assert out.stat().st_size > 4096 and (out.stat().st_mode & 0o777) == 0o640
    assert json.loads((tmp_path / "timeline.json").read_text())["findings"] is not None


def test_an_output_through_a_symlink_or_to_a_device_is_written_there(tmp_path: Path):
    real = tmp_path / "real.json"
    real.write_text(EARLIER)
    link = tmp_path / "link.json"
    link.symlink_to(real)
    assert _timeline(link, "--format", "json").returncode == 0
    assert link.is_symlink() and json.loads(real.read_text())["sources"]
    done = _timeline(Path(os.devnull), "--format", "json")
    assert done.returncode == 0 and Path(os.devnull).is_char_device()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["link.json", "real.json"]


def test_a_report_that_fails_half_way_leaves_the_earlier_one(tmp_path: Path):
    run = Path(__file__).parent.parent / "sample_logs" / "connmgr-frozen-past-ping" / "results.jsonl"
    out = tmp_path / "report.html"
    out.write_text(EARLIER)
    args = [*CLI, "report", str(run), "--format", "html", "-o", str(out)]
    failed = subprocess.run(args, capture_output=True, text=True, timeout=120, preexec_fn=_limited(4096))
    assert failed.returncode != 0 and "Traceback" not in failed.stderr, failed.stderr
    assert f"cannot write {out}: File too large" in failed.stderr
    assert out.read_text() == EARLIER and sorted(p.name for p in tmp_path.iterdir()) == ["report.html"]
    done = subprocess.run(args, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert out.read_text().startswith("<!DOCTYPE html>") or "<html" in out.read_text()[:500]


def test_the_file_written_beside_the_output_is_a_new_one_private_as_the_output(tmp_path: Path):
    # the file written beside the output, .NAME.PID.part, was opened as any file: a symlink
    # put at that name (a folder others write to, /tmp) had its target written over, and a
    # private output's new text (0600) was readable by everyone until it was renamed
    import stat

    from jarvis_diag.commands.output import replacing

    out = tmp_path / "report.html"
    out.write_text(EARLIER)
    os.chmod(out, 0o600)
    victim = tmp_path / "victim.txt"
    victim.write_text("not to be written\n")
    (tmp_path / f".report.html.{os.getpid()}.part").symlink_to(victim)
    with replacing(out) as part:
        assert not part.is_symlink() and stat.S_IMODE(part.stat().st_mode) == 0o600
        part.write_text("the new report\n")
    assert out.read_text() == "the new report\n" and stat.S_IMODE(out.stat().st_mode) == 0o600
    assert victim.read_text() == "not to be written\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report.html", "victim.txt"]


def test_a_file_in_a_folder_where_nothing_can_be_added_is_written_in_place(tmp_path: Path):
    # (an output the user may write in a folder they may not add to: written as before the
    # file was replaced whole; the folder made so with chattr +i, which binds root too)
    folder = tmp_path / "shared"
    folder.mkdir()
    out = folder / "timeline.json"
    out.write_text(EARLIER)
    if subprocess.run(["chattr", "+i", str(folder)], capture_output=True).returncode != 0:
        pytest.skip("chattr +i is not supported here")
    try:
        done = _timeline(out, "--format", "json")
        assert done.returncode == 0, done.stderr
        assert json.loads(out.read_text())["sources"] and sorted(p.name for p in folder.iterdir()) == ["timeline.json"]
    finally:
        subprocess.run(["chattr", "-i", str(folder)], check=True)
