"""counting/ works on numbers alone: it imports nothing from config, pixels, outputs, web or run.

Every module under src/edgeanon/counting is parsed (not imported), and every import statement in it is checked,
including imports inside functions and under ``if TYPE_CHECKING``: a late import is still a dependency.
"""

from __future__ import annotations

import ast
from pathlib import Path

COUNTING = Path(__file__).resolve().parents[2] / "src" / "edgeanon" / "counting"
FORBIDDEN = ("config", "pixels", "outputs", "web", "run")


def imported_modules(source: str, module: str) -> set[str]:
    """Absolute names of every module ``source`` (the module ``module``, e.g. edgeanon.counting.bins) imports."""
    package = module.rsplit(".", 1)[0]
    names: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative: resolved against this module's package
                parts = package.split(".")
                anchor = ".".join(parts[: len(parts) - node.level + 1])
                base = f"{anchor}.{base}" if base else anchor
            names.add(base)
            names.update(f"{base}.{alias.name}" for alias in node.names)  # ``from edgeanon import pixels``
    return names


def violations(source: str, module: str) -> list[str]:
    bad = tuple(f"edgeanon.{name}" for name in FORBIDDEN)
    return sorted(n for n in imported_modules(source, module) if n in bad or n.startswith(tuple(b + "." for b in bad)))


def module_name(path: Path) -> str:
    rel = path.relative_to(COUNTING.parents[1]).with_suffix("")
    parts = rel.parts[:-1] if rel.name == "__init__" else rel.parts
    return ".".join(parts)


def test_counting_imports_no_config_pixels_outputs_web_or_run():
    files = sorted(COUNTING.rglob("*.py"))
    assert len(files) > 10  # the walk really found the package
    found = {module_name(p): violations(p.read_text(encoding="utf-8"), module_name(p)) for p in files}
    assert {m: v for m, v in found.items() if v} == {}


def test_the_checker_catches_every_form_of_forbidden_import():
    module = "edgeanon.counting.analytics.zones"
    cases = {
        "import edgeanon.pixels.capture": "edgeanon.pixels.capture",
        "from edgeanon.config.schema import Config": "edgeanon.config.schema",
        "from edgeanon import outputs": "edgeanon.outputs",
        "def f():\n    from edgeanon.web import pages\n": "edgeanon.web",
        "if TYPE_CHECKING:\n    from edgeanon.run.runner import Runner\n": "edgeanon.run.runner",
        "from ...run import wiring": "edgeanon.run",
        "from ...pixels.detector import BoxDecoder": "edgeanon.pixels.detector",
    }
    for source, name in cases.items():
        assert name in violations(source, module), source
    allowed = "import numpy\nfrom edgeanon.guidebook import policy\nfrom ..bins import KINDS\nimport edgeanon.runtime\n"
    assert violations(allowed, module) == []
