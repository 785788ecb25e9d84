"""benchmarks/results/RESULTS.md is what benchmarks/write_results.py renders from the committed JSON and NOTES.md.

NOTES.md once gained two sections that never reached RESULTS.md, because nobody re-ran the generator; the README
quotes RESULTS.md, so a stale page is a broken promise.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "benchmarks" / "write_results.py"


PAGE = ROOT / "benchmarks" / "results" / "RESULTS.md"


def _check(page: Path = PAGE) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(SCRIPT), "--check", "--page", str(page)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_results_page_is_up_to_date():
    proc = _check()
    assert proc.returncode == 0, proc.stderr


def test_the_check_fails_on_a_stale_page(tmp_path):
    stale = tmp_path / "RESULTS.md"
    stale.write_bytes(PAGE.read_bytes().replace(b"pipeline_efficiency", b"pipeline efficiency", 1))
    proc = _check(stale)
    assert proc.returncode == 1 and "out of date" in proc.stderr
