"""Output folders made anew (a demo run, a sample set): written beside, put in place whole."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from jarvis_diag.errors import DiagError
from jarvis_diag.folders import check_ours, fresh_folder


def test_a_new_folder_takes_the_old_ones_place_only_once_it_is_done(tmp_path: Path):
    run = tmp_path / "run"
    run.mkdir()
    (run / "app.log").write_text("old\n")
    with pytest.raises(KeyboardInterrupt), fresh_folder(run) as part:
        (part / "app.log").write_text("half\n")
        raise KeyboardInterrupt
    assert (run / "app.log").read_text() == "old\n" and sorted(p.name for p in tmp_path.iterdir()) == ["run"]
    with fresh_folder(run) as part:
        (part / "app.log").write_text("new\n")
    assert (run / "app.log").read_text() == "new\n" and sorted(p.name for p in tmp_path.iterdir()) == ["run"]


def test_what_a_killed_run_left_beside_the_folder_is_cleared(tmp_path: Path):
    # a run killed half way (kill -9, a container stopped) leaves its hidden copy; one of a
    # process gone, or of this process id (a container's next run has the same), is removed
    run = tmp_path / "run"
    gone = tmp_path / ".run.999999999.part"  # (no such process)
    mine = tmp_path / f".run.{os.getpid()}.old"
    other = tmp_path / ".other.999999999.part"  # (another folder's: not this one's to clear)
    for left in (gone, mine, other):
        left.mkdir()
        (left / "app.log").write_text("left\n")
    with fresh_folder(run) as part:
        (part / "app.log").write_text("new\n")
    assert sorted(p.name for p in tmp_path.iterdir()) == [".other.999999999.part", "run"]


def test_a_folder_holding_a_file_it_does_not_write_is_refused(tmp_path: Path):
    run = tmp_path / "run"
    run.mkdir()
    (run / "app.log").write_text("")
    check_ours(run, ("app.log",))
    (run / "notes.txt").write_text("mine\n")
    with pytest.raises(DiagError, match=r"run: holds notes.txt, which this command did not write"):
        check_ours(run, ("app.log",))
