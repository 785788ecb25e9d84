"""Analytics handle numbers only: they must not import OpenCV or any code that touches frames."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

import edgeanon.counting.analytics

PACKAGE = Path(edgeanon.counting.analytics.__file__).parent
FORBIDDEN = (
    "cv2",
    "edgeanon.pixels.capture",
    "edgeanon.pixels.frames",
    "edgeanon.pixels.pacing",
    "edgeanon.pixels.sources",
    "edgeanon.pixels.detector",
    "edgeanon.pixels.media",
    "edgeanon.counting.tracking",
    "edgeanon.pixels.faces.stage",  # the pixel side of attributes; analytics may import only its bins
    "edgeanon.pixels.faces.detector",
    "edgeanon.pixels.faces.estimate",
)


def imported_modules(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


@pytest.mark.parametrize("path", sorted(PACKAGE.glob("*.py")), ids=lambda p: p.name)
def test_no_forbidden_imports(path):
    bad = {m for m in imported_modules(path) if any(m == f or m.startswith(f + ".") for f in FORBIDDEN)}
    assert not bad


def test_importing_analytics_does_not_load_cv2():
    code = "import sys, edgeanon.counting.analytics; sys.exit('cv2' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], check=False).returncode == 0
