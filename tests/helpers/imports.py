"""The source tree read as code, not run: which modules exist, what each imports, how long its functions are.

The layout tests check rules of issue 14 on it (cv2 only under pixels/, no import cycles, sizes). Every import
counts, a function-local one as much as a module-level one: a cycle or a cv2 import hidden inside a function is
still there. The functions take a directory so the tests can also run them on a small synthetic package.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from tests.helpers.paths import ROOT

SRC = ROOT / "src"
PACKAGE = SRC / "edgeanon"


def module_name(path: Path, src: Path = SRC) -> str:
    """``src/edgeanon/pixels/capture.py`` -> ``edgeanon.pixels.capture``; a package's ``__init__`` is the package."""
    parts = list(path.relative_to(src).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def modules(package: Path = PACKAGE, src: Path = SRC) -> dict[str, Path]:
    """Every module of the package by dotted name."""
    return {module_name(p, src): p for p in sorted(package.rglob("*.py"))}


@dataclass(frozen=True)
class Import:
    """One import statement: what it names (``cv2``, ``edgeanon.config.schema.Config``) and where it is."""

    name: str
    path: Path
    line: int


def imports(path: Path, module: str) -> Iterator[Import]:
    """Every name an import in ``path`` reaches, at any depth of the file; relative imports made absolute.

    ``from a.b import c`` yields ``a.b.c`` (c may be a module or a name in ``a.b``; ``resolve`` decides).
    """
    is_package = path.name == "__init__.py"
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield Import(alias.name, path, node.lineno)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parent = module.split(".")
                parent = parent[: len(parent) - node.level + (1 if is_package else 0)]
                base = ".".join([*parent, base] if base else parent)
            for alias in node.names:
                yield Import(f"{base}.{alias.name}" if alias.name != "*" else base, path, node.lineno)


def resolve(name: str, known: dict[str, Path]) -> str | None:
    """The module an imported name lives in: the longest dotted prefix of ``name`` that is a known module."""
    parts = name.split(".")
    for n in range(len(parts), 0, -1):
        candidate = ".".join(parts[:n])
        if candidate in known:
            return candidate
    return None


def import_graph(package: Path = PACKAGE, src: Path = SRC) -> dict[str, set[str]]:
    """module -> the package's modules it imports (itself left out)."""
    known = modules(package, src)
    graph: dict[str, set[str]] = {}
    for mod, path in known.items():
        targets = {resolve(imp.name, known) for imp in imports(path, mod)}
        graph[mod] = {t for t in targets if t is not None and t != mod}
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan), each as a closed path a -> ... -> a."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(_path_through(sorted(component), graph))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def _path_through(component: list[str], graph: dict[str, set[str]]) -> list[str]:
    """A closed import path inside one component, starting at its first module: a cycle one can read and break."""
    members = set(component)
    start = component[0]
    # breadth-first from start back to start, staying inside the component
    paths = {w: [start, w] for w in sorted(graph[start] & members)}
    todo = list(paths)
    while todo and start not in paths:
        v = todo.pop(0)
        for w in sorted(graph[v] & members):
            if w not in paths:
                paths[w] = [*paths[v], w]
                todo.append(w)
    return paths.get(start, [*component, start])


@dataclass(frozen=True)
class Function:
    """A function or method, by module and qualified name (``PrometheusSink.__init__``), with its length."""

    module: str
    qualname: str
    lines: int

    @property
    def key(self) -> str:
        return f"{self.module}:{self.qualname}"


def functions(package: Path = PACKAGE, src: Path = SRC) -> Iterator[Function]:
    """Every function in the package, nested ones included, with its length in lines (decorators left out)."""
    for mod, path in modules(package, src).items():
        yield from _functions(ast.parse(path.read_text(encoding="utf-8"), str(path)), mod, ())


def _functions(node: ast.AST, module: str, outer: tuple[str, ...]) -> Iterator[Function]:
    for child in ast.iter_child_nodes(node):
        if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef):
            name = (*outer, child.name)
            yield Function(module, ".".join(name), child.end_lineno - child.lineno + 1)  # type: ignore[operator]
            yield from _functions(child, module, name)
        elif isinstance(child, ast.ClassDef):
            yield from _functions(child, module, (*outer, child.name))
        else:
            yield from _functions(child, module, outer)
