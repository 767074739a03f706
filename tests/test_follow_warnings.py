"""`timeline --follow --client/--session`: what the selection's warnings say is told once
when the follow starts, and again only when a rebuild has something new to say."""

from __future__ import annotations

import shutil
import time
from pathlib import Path

from test_timeline_cli import _following, _read_until

HEALTHY = Path(__file__).parent.parent / "sample_logs" / "healthy-day"
SEVERAL = ("warning: client mxbz1p matches 3 clients (Mozilla50iPhoneCPUiP-mxbz1psb-3zac, "
           "Mozilla50iPhoneCPUiP-mxbz1pw5-kulu, Mozilla50iPhoneCPUiP-mxbz1pzw-m37a): all are kept; "
           "give more of it for one")


def test_follow_of_a_client_prefix_that_names_several_says_so_once(tmp_path):
    # three phones share the prefix mxbz1p: the one-shot view warns, the follow said nothing
    # and read as the one phone asked for. It is told once, not again at each rebuild; a
    # fourth phone under the prefix is news, told with the four
    shutil.copy(HEALTHY / "app.log", tmp_path / "app.log")
    fe_dir = tmp_path / "frontend"
    shutil.copytree(HEALTHY / "frontend", fe_dir)
    page = fe_dir / "20261206_Mozilla50iPhoneCPUiP-mxbz1psb-3zac.log"
    last = page.read_text().splitlines()[-1]
    stamp = last[:last.index("]") + 1]
    with _following(tmp_path / "app.log", fe_dir, "--client", "mxbz1p", columns=400) as proc:
        out = _read_until(proc, "following", 30)
        assert SEVERAL in out.splitlines(), out
        for i in range(2):  # (two rebuilds: each line is printed once the timeline has read it)
            time.sleep(0.6)  # (more than a poll: a line of its own batch)
            with page.open("a") as fh:
                fh.write(f"{stamp} [DEBUG] [SocketIO] still here {i}\n")
            out += _read_until(proc, f"still here {i}", 30)
        shutil.copy(fe_dir / "20261206_Mozilla50iPhoneCPUiP-mxbz1pzw-m37a.log",
                    fe_dir / "20261206_Mozilla50iPhoneCPUiP-mxbz1pqq-abcd.log")
        out += _read_until(proc, "matches 4 clients", 30)
        with page.open("a") as fh:
            fh.write(f"{stamp} [DEBUG] [SocketIO] still here 2\n")
        out += _read_until(proc, "still here 2", 30)
    rows = out.splitlines()
    told = [row for row in rows if row.startswith("warning: ")]
    assert told == [SEVERAL, "warning: client mxbz1p matches 4 clients (Mozilla50iPhoneCPUiP-mxbz1pqq-abcd, "
                    "Mozilla50iPhoneCPUiP-mxbz1psb-3zac, Mozilla50iPhoneCPUiP-mxbz1pw5-kulu, "
                    "Mozilla50iPhoneCPUiP-mxbz1pzw-m37a): all are kept; give more of it for one"], out
    assert rows.index(SEVERAL) < next(i for i, row in enumerate(rows) if row.startswith("following"))
