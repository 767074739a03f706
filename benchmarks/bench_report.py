"""Report generation for 100,000 simulated cycles (target: under 10 s on this machine).

Writes a results.jsonl of 100,000 synthetic jarvis-diag.sim/1 records (two sessions each,
some not recovered, some with lost output), then times `jarvis-diag report` on it in
every format, in-process and as the real command, next to two references measured in the
same run: reading the file with json.loads alone, and `wc -l` on it.
"""

from __future__ import annotations

import json
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from jarvis_diag.report.dataset import Dataset, add_sim_records
from jarvis_diag.report.html import to_html
from jarvis_diag.report.inputs import read_sim_records
from jarvis_diag.report.markdown import to_markdown
from jarvis_diag.report.model import build_report
from jarvis_diag.report.synthetic import write_results
from jarvis_diag.report.text import to_text

CYCLES = 100_000
TARGET_S = 10.0


def timed(fn):
    t = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - t


def main() -> int:
    tmp = Path(tempfile.mkdtemp(prefix="bench-report-"))
    try:
        results = tmp / "results.jsonl"
        size, t_gen = timed(lambda: write_results(results, CYCLES, seed=1, fail_every=500, lost_every=700))
        base = tmp / "baseline.jsonl"
        write_results(base, CYCLES, seed=2, recovery_shift_ms=15.0)
        print(f"input: {CYCLES:,} cycles, {size / 1e6:.1f} MB (written in {t_gen:.1f} s)")

        def json_only():
            with open(results, "rb") as f:
                return sum(1 for line in f if json.loads(line))

        _, t_json = timed(json_only)
        t_wc = None
        if shutil.which("wc"):
            _, t_wc = timed(lambda: subprocess.run(["wc", "-l", str(results)], capture_output=True, check=True))

        def build():
            ds = Dataset()
            add_sim_records(ds, str(results), read_sim_records(results))
            return build_report(ds)

        (report), t_build = timed(build)
        _, t_text = timed(lambda: to_text(report))
        _, t_md = timed(lambda: to_markdown(report))
        html, t_html = timed(lambda: to_html(report))
        _, t_json_out = timed(lambda: json.dumps(report.to_json_dict()))

        out = tmp / "report.html"
        cmd = [sys.executable, "-m", "jarvis_diag", "report", str(results), "--format", "html", "-o", str(out),
               "--budget", "recovery.p95<=1s"]
        proc, t_cli = timed(lambda: subprocess.run(cmd, capture_output=True, text=True))
        cmp_cmd = [sys.executable, "-m", "jarvis_diag", "report", str(results), "--compare", str(base),
                   "--format", "json", "-o", str(tmp / "cmp.json")]
        proc_cmp, t_cmp = timed(lambda: subprocess.run(cmp_cmd, capture_output=True, text=True))
        peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

        print(f"reference: json.loads of every line       {t_json:6.2f} s")
        if t_wc is not None:
            print(f"reference: wc -l                          {t_wc:6.2f} s")
        print(f"read + compute (library)                  {t_build:6.2f} s  "
              f"({CYCLES / t_build:,.0f} cycles/s, peak RSS {peak_mb:.0f} MB)")
        print(f"render text / md / html / json            {t_text:.2f} / {t_md:.2f} / {t_html:.2f} / "
              f"{t_json_out:.2f} s  (html {len(html) / 1e3:.0f} kB)")
        print(f"jarvis-diag report --format html (CLI)    {t_cli:6.2f} s  target < {TARGET_S:.0f} s  "
              f"{'OK' if t_cli < TARGET_S and proc.returncode == 0 else 'MISSED'}")
        print(f"  ... with --compare (2,000 bootstraps)   {t_cmp:6.2f} s  (exit {proc_cmp.returncode})")
        if proc.returncode != 0:
            print(proc.stderr, file=sys.stderr)
            return 1
        return 0 if t_cli < TARGET_S else 1
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
