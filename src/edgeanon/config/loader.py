"""Parse and validate a config file: YAML that refuses duplicate keys, and every error as one
``file:line: path: message`` line (the line found by mapping each field's path to where its value starts)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from edgeanon.config.errors import AT_FIELD, ConfigError
from edgeanon.config.schema import Config


class _LineLoader(yaml.SafeLoader):
    """SafeLoader that refuses duplicate keys (YAML would silently keep the last one), and reports a value its
    constructors cannot build (``!!int x``, a date like 2001-02-30, a 5000-digit number) as a YAML error on
    that value's line instead of a bare ValueError."""

    def construct_object(self, node: yaml.Node, deep: bool = False) -> Any:
        try:
            return super().construct_object(node, deep=deep)
        except yaml.YAMLError:
            raise
        except (ValueError, TypeError, KeyError, AttributeError, OverflowError) as exc:
            tag = node.tag.rsplit(":", 1)[-1]
            raise yaml.constructor.ConstructorError(
                None, None, f"cannot read this value as {tag} ({_one_line(str(exc))})", node.start_mark
            ) from None


def _construct_mapping(loader: _LineLoader, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
    if not isinstance(node, yaml.MappingNode):  # e.g. ``!!map x``
        raise yaml.constructor.ConstructorError(None, None, f"expected a mapping, found a {node.id}", node.start_mark)
    seen: dict[Any, int] = {}
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=True)
        try:
            hash(key)
        except TypeError:
            raise yaml.constructor.ConstructorError(
                None, None, "a mapping key must be a plain value", key_node.start_mark
            ) from None
        if key in seen:
            raise yaml.constructor.ConstructorError(
                None, None, f"duplicate key {key!r} (first on line {seen[key] + 1})", key_node.start_mark
            )
        seen[key] = key_node.start_mark.line
    return loader.construct_mapping(node, deep=deep)


_LineLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def _line_index(
    node: yaml.Node, path: tuple[Any, ...] = (), out: dict | None = None, seen: set[int] | None = None
) -> dict[tuple, int]:
    """Map every path in the document to the 1-based line where its value starts.

    An aliased node is indexed once: below a second use of it, lines fall back to the alias's own line. (A
    recursive alias would never end, and nested aliases would be walked exponentially often.)"""
    out = {} if out is None else out
    seen = set() if seen is None else seen
    out[path] = node.start_mark.line + 1
    if id(node) in seen:
        return out
    seen.add(id(node))
    if isinstance(node, yaml.MappingNode):
        for k, v in node.value:
            key = k.value if isinstance(k, yaml.ScalarNode) else str(k)
            out[(*path, key)] = k.start_mark.line + 1
            _line_index(v, (*path, key), out, seen)
            out[(*path, key)] = k.start_mark.line + 1
    elif isinstance(node, yaml.SequenceNode):
        for i, v in enumerate(node.value):
            _line_index(v, (*path, i), out, seen)
    return out


def _lookup_line(lines: dict[tuple, int], loc: tuple[Any, ...]) -> int:
    path = tuple(str(p) if not isinstance(p, int) else p for p in loc)
    while path and path not in lines:
        path = path[:-1]
    return lines.get(path, 1)


_SOURCE_TAGS = {"device", "file", "url"}


def _yaml_path(loc: tuple[Any, ...]) -> tuple[Any, ...]:
    """Drop the discriminator tag pydantic inserts after ``source`` so the path matches the YAML."""
    out: list[Any] = []
    for i, p in enumerate(loc):
        if i and loc[i - 1] == "source" and p in _SOURCE_TAGS:
            continue
        out.append(p)
    return tuple(out)


def _one_line(text: str) -> str:
    return " ".join(text.split())  # also splits at \r, \x1c-\x1f, \x85, \u2028, \u2029


_PLAIN_KEY = re.compile(r"[A-Za-z0-9_@/+-]+")


def _field(loc: tuple[Any, ...]) -> str:
    """``a.0.b``; a key that is not plain is quoted with its colons escaped, so the line keeps its form."""
    parts = [
        str(p) if isinstance(p, int) or _PLAIN_KEY.fullmatch(str(p)) else repr(str(p)).replace(":", "\\x3a")
        for p in loc
    ]
    return ".".join(parts) or "(top level)"


def parse_config(text: str, filename: str = "<config>") -> Config:
    """Parse and validate; every error becomes one ConfigError line ``file:line: path: message``."""
    try:
        node = yaml.compose(text, Loader=_LineLoader)
        data = yaml.load(text, Loader=_LineLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else 1
        raise ConfigError(f"{filename}:{line}: YAML: {_one_line(str(exc.problem or exc.context))}") from None
    except yaml.reader.ReaderError as exc:
        line = text.count("\n", 0, max(exc.position, 0)) + 1
        char = exc.character if isinstance(exc.character, int) else ord(exc.character)
        raise ConfigError(f"{filename}:{line}: YAML: unacceptable character #x{char:04x}: {exc.reason}") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"{filename}:1: YAML: {_one_line(str(exc))}") from None
    except RecursionError:
        raise ConfigError(f"{filename}:1: YAML: nested too deeply") from None
    if data is None:
        raise ConfigError(f"{filename}:1: (top level): the file is empty")
    if not isinstance(data, dict):
        raise ConfigError(f"{filename}:1: (top level): must be a mapping of settings, got {type(data).__name__}")
    lines = _line_index(node) if node is not None else {}
    try:
        return Config.model_validate(data)
    except ValidationError as exc:
        msgs = []
        for err in exc.errors(include_url=False):
            loc = _yaml_path(err["loc"])
            msg = err["msg"].removeprefix("Value error, ")
            m = AT_FIELD.match(msg)
            if m:  # a cross-field check names the field itself, relative to where it was raised
                rel = tuple(int(p) if p.isdigit() else p for p in m.group(1).split("."))
                loc, msg = (*loc, *rel), msg[m.end() :]
            msgs.append(f"{filename}:{_lookup_line(lines, loc)}: {_field(loc)}: {_one_line(msg)}")
        raise ConfigError("\n".join(msgs)) from None


def located_errors(path: str | Path, problems: list[tuple[tuple[str | int, ...], str]]) -> ConfigError:
    """Checks made after validation (against the frame size, the model manifest), in the same
    ``file:line: path: message`` form as validation errors; ``path`` must be the file just loaded."""
    text = Path(path).read_text(encoding="utf-8")
    node = yaml.compose(text, Loader=_LineLoader)
    lines = _line_index(node) if node is not None else {}
    return ConfigError(
        "\n".join(f"{path}:{_lookup_line(lines, loc)}: {_field(loc)}: {_one_line(m)}" for loc, m in problems)
    )


def load_config(path: str | Path) -> Config:
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{p}: no such config file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{p}:1: cannot read config: {exc}") from None
    return parse_config(text, str(p))


def default_config_path() -> Path:
    from edgeanon.resources import default_config

    return default_config()
