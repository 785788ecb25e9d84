"""Check a folder's edgeanon imports against an allowed set, by parsing its source with ``ast``.

Every import counts, at module level or inside a function. A rule maps an allowed module to the names that
may be imported from it (None: any name); a key ending in "." allows every module under that package.
"""

from __future__ import annotations

import ast
from collections.abc import Mapping
from pathlib import Path

SRC = Path(__file__).resolve().parents[2] / "src"

Rule = Mapping[str, frozenset[str] | None]

# Modules any folder may import: they hold no pipeline state.
GROUND_FLOOR: dict[str, frozenset[str] | None] = {
    "edgeanon": frozenset({"__version__"}),
    "edgeanon.errors": None,
    "edgeanon.resources": None,
    "edgeanon.logs": None,
}


def _allowed(module: str, names: tuple[str, ...], rule: Rule) -> bool:
    for key, allowed_names in rule.items():
        if module == key or (key.endswith(".") and module.startswith(key)):
            return allowed_names is None or set(names) <= allowed_names
    # ``from edgeanon.pkg import sub``: each name may itself be an allowed module
    return bool(names) and all(_allowed(f"{module}.{n}", (), rule) for n in names)


def violations(source: str, module: str, rule: Rule) -> list[str]:
    """``module:line imports target (names)`` for every edgeanon import of ``source`` that ``rule`` does not allow."""
    package = module.rpartition(".")[0]
    out = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found = [(a.name, ()) for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative: resolve against this module's package
                parts = package.split(".")
                base = ".".join(parts[: len(parts) - node.level + 1] + ([base] if base else []))
            found = [(base, tuple(a.name for a in node.names))]
        else:
            continue
        for target, names in found:
            if (target == "edgeanon" or target.startswith("edgeanon.")) and not _allowed(target, names, rule):
                shown = f" ({', '.join(names)})" if names else ""
                out.append(f"{module}:{node.lineno} imports {target}{shown}")
    return out


def folder_violations(folder: str, rule: Rule) -> list[str]:
    """Violations of every module under ``src/edgeanon/<folder>``."""
    out = []
    for path in sorted((SRC / "edgeanon" / folder).rglob("*.py")):
        module = ".".join(path.relative_to(SRC).with_suffix("").parts).removesuffix(".__init__")
        out += violations(path.read_text(encoding="utf-8"), module, rule)
    return out
