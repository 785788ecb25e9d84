"""Analytics handle numbers only: they must not import OpenCV or any code that touches frames."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

import edgeanon.analytics

PACKAGE = Path(edgeanon.analytics.__file__).parent
FORBIDDEN = (
    "cv2",
    "edgeanon.capture",
    "edgeanon.detector",
    "edgeanon.media",
    "edgeanon.tracking",
    "edgeanon.attributes.stage",  # the pixel side of attributes; analytics may import only its bins
    "edgeanon.attributes.faces",
    "edgeanon.attributes.estimate",
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
    code = "import sys, edgeanon.analytics; sys.exit('cv2' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], check=False).returncode == 0
