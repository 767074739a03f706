"""The benchmark scripts' own checks of what they are asked (they are run by hand and by
`make bench`, which measure; these only check what a script says of an argument it cannot use)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_bench_files_refuses_too_few_lines_in_one_line():
    # --lines 1000 made a set of app.log alone and ended in 'ingest, the 1 files failed'
    sys.path.insert(0, str(ROOT / "benchmarks"))
    import gen_mixed_log

    assert not gen_mixed_log.data_path(4321).exists()
    p = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "bench_files.py"), "--lines", "4321"],
                       capture_output=True, text=True, timeout=120)
    assert p.returncode == 2 and p.stdout == ""
    assert p.stderr.splitlines() == [
        "bench_files: --lines must be over 5,000: the mixed log's first 5,000 lines are backend ones, "
        "its frontend files come from the lines after"]
    assert not gen_mixed_log.data_path(4321).exists()
