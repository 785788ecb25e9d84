"""The privacy boundary in the import graph (issue 14): only modules under src/edgeanon/pixels/ import cv2.

Every import counts, a function-local one as much as one at the top of a file: a frame decoded anywhere else is a
frame outside the folder that says where pixels live.
"""

from __future__ import annotations

from pathlib import Path

from tests.helpers.imports import PACKAGE, SRC, imports, modules

PIXELS = "edgeanon.pixels"


def cv2_imports(package: Path = PACKAGE, src: Path = SRC) -> list[str]:
    """``path:line module`` for every cv2 import outside the pixels package."""
    return [
        f"{imp.path.relative_to(src)}:{imp.line} {mod}"
        for mod, path in modules(package, src).items()
        if mod != PIXELS and not mod.startswith(PIXELS + ".")
        for imp in imports(path, mod)
        if imp.name == "cv2" or imp.name.startswith("cv2.")
    ]


def test_cv2_is_imported_only_under_pixels():
    found = cv2_imports()
    assert found == [], "cv2 imported outside src/edgeanon/pixels/:\n" + "\n".join(found)


def test_the_check_sees_a_function_local_cv2_import_outside_pixels(tmp_path):
    pkg = tmp_path / "edgeanon"
    for d in (pkg, pkg / "pixels", pkg / "bench"):
        d.mkdir()
        (d / "__init__.py").write_text("")
    (pkg / "pixels" / "media.py").write_text("import cv2\n")
    (pkg / "pixels" / "__init__.py").write_text("from cv2 import imread\n")
    (pkg / "bench" / "machine.py").write_text(
        "def decode():\n    from cv2 import VideoCapture\n    return VideoCapture\n"
    )
    (pkg / "pixelsmith.py").write_text("import cv2.dnn as dnn\n")  # a name that merely starts with "pixels"
    assert cv2_imports(pkg, tmp_path) == [
        "edgeanon/bench/machine.py:2 edgeanon.bench.machine",
        "edgeanon/pixelsmith.py:1 edgeanon.pixelsmith",
    ]
