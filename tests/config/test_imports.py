"""Import rule of config/: it imports only ``guidebook.policy``, the ground floor and its own modules.

Everything else reads the config, so if config imported any of it (outputs, pixels, guidebook.audit, run...),
that code could never import the config without a cycle, and loading a config would drag in models, OpenCV or
sinks. The ground floor is ``edgeanon.errors`` (error types) and ``edgeanon.resources`` (paths of bundled
files); ``guidebook.policy`` is the fixed list of purposes and refusals the schema checks against, and imports
only ``errors`` itself. No other ground-floor module is needed.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

SRC = Path(__file__).resolve().parents[2] / "src"
CONFIG = SRC / "edgeanon" / "config"
ALLOWED = frozenset({"edgeanon.guidebook.policy", "edgeanon.errors", "edgeanon.resources"})
OWN = "edgeanon.config"


def _is_module(name: str) -> bool:
    path = SRC.joinpath(*name.split("."))
    return path.with_suffix(".py").is_file() or (path / "__init__.py").is_file()


def _targets(node: ast.Import | ast.ImportFrom, package: str) -> list[str]:
    """The modules an import statement loads: ``from a.b import c`` is ``a.b.c`` when that is a module."""
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names]
    base = node.module or ""
    if node.level:  # relative: resolve against the importing module's package
        parts = package.split(".")
        parts = parts[: len(parts) - node.level + 1]
        base = ".".join([*parts, base]) if base else ".".join(parts)
    return [f"{base}.{a.name}" if _is_module(f"{base}.{a.name}") else base for a in node.names]


def violations(source: str, package: str = OWN) -> list[str]:
    """``edgeanon`` imports of ``source`` (at any depth, also inside functions) that the rule does not allow, and
    any dynamic import, which a static check could not follow."""
    out = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import | ast.ImportFrom):
            for target in _targets(node, package):
                if target.split(".")[0] != "edgeanon":
                    continue
                if target not in ALLOWED and target != OWN and not target.startswith(OWN + "."):
                    out.append(f"line {node.lineno}: imports {target}")
        elif isinstance(node, ast.Call):
            name = node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", "")
            if name in {"import_module", "__import__"}:
                out.append(f"line {node.lineno}: dynamic import")
    return out


def test_config_imports_only_policy_the_ground_floor_and_itself():
    modules = sorted(CONFIG.glob("*.py"))
    assert len(modules) > 5  # the glob found the package
    found = {
        str(p.relative_to(SRC)): v for p in modules if (v := violations(p.read_text(encoding="utf-8"), package=OWN))
    }
    assert found == {}


def test_the_checker_flags_what_the_rule_forbids():
    bad = [
        ("from edgeanon.outputs.push import check_url", "line 1: imports edgeanon.outputs.push"),
        ("def f():\n    from edgeanon.guidebook.audit import load_key\n", "line 2: imports edgeanon.guidebook.audit"),
        ("from edgeanon.guidebook import audit", "line 1: imports edgeanon.guidebook.audit"),
        ("import edgeanon.pixels.detector.manifest", "line 1: imports edgeanon.pixels.detector.manifest"),
        ("from ..outputs import push", "line 1: imports edgeanon.outputs.push"),
        ("from .. import logs", "line 1: imports edgeanon.logs"),
        ("from edgeanon import cli", "line 1: imports edgeanon.cli"),
        ("class C:\n    def m(self):\n        import edgeanon.run.service\n", "line 3: imports edgeanon.run.service"),
    ]
    for source, complaint in bad:
        assert violations(source) == [complaint], source
    assert violations("import importlib\nimportlib.import_module('edgeanon.outputs.push')") == [
        "line 2: dynamic import"
    ]
    good = [
        "from edgeanon.guidebook import policy",
        "import edgeanon.guidebook.policy",
        "from edgeanon.errors import EdgeanonError",
        "from edgeanon.resources import default_config",
        "from edgeanon.config.names import NAME_PATTERN",
        "from . import names",
        "from .base import StrictModel",
        "import yaml\nfrom pydantic import BaseModel",
    ]
    assert [s for s in good if violations(s)] == []


def test_loading_a_config_loads_no_other_edgeanon_module():
    """The same rule at run time, so it also covers what policy, errors and resources import in turn."""
    code = (
        "import sys\nfrom edgeanon.config.loader import parse_config, default_config_path\n"
        "import edgeanon.config.placement\n"
        "parse_config(default_config_path().read_text())\n"
        "print('\\n'.join(sorted(m for m in sys.modules if m.split('.')[0] == 'edgeanon')))\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60)
    loaded = set(proc.stdout.split())
    packages = {"edgeanon", "edgeanon.guidebook"}  # loaded on the way; their __init__ imports no edgeanon module
    assert {m for m in loaded if not m.startswith(OWN)} <= ALLOWED | packages
    assert "edgeanon.config.schema" in loaded
