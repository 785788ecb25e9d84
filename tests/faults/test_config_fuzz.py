"""Bad configs, fuzzed: every input is either a valid Config or a ConfigError whose every line is
``<file>:<line>: <field>: <message>``; nothing else is ever raised. Plus the real CLI: exit 2, one line per
problem.

hypothesis is a dev dependency (``pip install -e '.[dev]'``). Outside CI a missing hypothesis skips this module;
in CI (``CI`` set) it is an error. The example budgets keep the module to a few seconds.

The fuzzers found real bugs (recursive and exponential aliases, deep nesting, escaping YAML constructor errors,
control characters and odd keys breaking the line format, NaN points passing range checks). Each now has a
regression test at the end. The ``_probe`` filter makes the fuzzers skip inputs hitting a bug that reappears,
so a regression fails the pinned test rather than every fuzzer at once.
"""

from __future__ import annotations

import copy
import math
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

if os.environ.get("CI"):
    import hypothesis  # CI must not silently skip the fuzzing
else:
    hypothesis = pytest.importorskip("hypothesis")

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from edgeanon.config.errors import ConfigError
from edgeanon.config.loader import parse_config
from edgeanon.config.schema import Config

ROOT = Path(__file__).resolve().parents[2]
DEFAULT_YAML = (ROOT / "configs" / "default.yaml").read_text(encoding="utf-8")
STORE_YAML = (ROOT / "configs" / "store-example.yaml").read_text(encoding="utf-8")
FILE = "site.yaml"
LINE = re.compile(rf"^{re.escape(FILE)}:\d+: [^:]+: .+$")

FUZZ = settings(
    max_examples=150,
    deadline=None,
    database=None,  # no .hypothesis/ directory in the work tree
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

# ---------------------------------------------------------------- the property


def outcome(text: str) -> Config | ConfigError:
    """parse_config's result or its ConfigError; any other exception propagates and fails the test."""
    try:
        return parse_config(text, FILE)
    except ConfigError as exc:
        bad = [line for line in str(exc).split("\n") if not LINE.match(line)]
        assert not bad, f"error lines not in file:line: field: message form: {bad!r}\nfull error: {exc}"
        return exc


# Known, reported bugs (pinned by the xfail tests at the end). Each is probed once: while it is present the
# fuzzers skip the inputs that hit it, so they keep testing everything else; once it is fixed they fuzz it too.
_YAML_FORBIDDEN = re.compile("[^\x09\x0a\x0d\x20-\x7e\x85\xa0-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def _still_broken(text: str) -> bool:
    try:
        outcome(text)
    except Exception:  # any escape at all is the bug being probed
        return True
    return False


def _probe() -> frozenset[str]:
    probes = {
        "odd_key": _still_broken('"a:b\\nc": 1\n'),
        "control_char": _still_broken("a: \x07\n"),
        "recursive_alias": _still_broken("a: &x [*x]\n"),
        "constructor_error": _still_broken("a: !!int x\n"),
        "nan_point": isinstance(outcome(DEFAULT_YAML.replace("[470, 150]", "[.nan, 150]", 1)), Config),
    }
    return frozenset(k for k, broken in probes.items() if broken)


def _known_bug_key(key: object) -> bool:
    return "odd_key" in KNOWN_BUGS and isinstance(key, str) and (":" in key or not key.isprintable())


def _has_known_bug(obj: object, path: tuple[int, ...] = ()) -> bool:
    """Whether a loaded structure would hit a known bug: an odd key, a NaN (points accept it) or a cycle."""
    if id(obj) in path:
        return "recursive_alias" in KNOWN_BUGS
    if isinstance(obj, float):
        return "nan_point" in KNOWN_BUGS and math.isnan(obj)
    if isinstance(obj, dict):
        return any(_known_bug_key(k) or _has_known_bug(v, (*path, id(obj))) for k, v in obj.items())
    if isinstance(obj, list):
        return any(_has_known_bug(v, (*path, id(obj))) for v in obj)
    return False


def _text_has_known_bug(text: str) -> bool:
    if "control_char" in KNOWN_BUGS and _YAML_FORBIDDEN.search(text):
        return True
    try:
        data = yaml.load(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError:
        return False  # reported on one line; no structure to look into
    except Exception:  # a constructor's own error (``!!int x``, a date like 2001-02-30)
        return "constructor_error" in KNOWN_BUGS
    return _has_known_bug(data)


KNOWN_BUGS = _probe()


# ---------------------------------------------------------------- strategies

FIELD_NAMES = [
    "operator", "purposes", "retention", "privacy", "schedule", "storage", "cameras", "entrances", "detector",
    "tracker", "aggregation", "http", "id", "source", "kind", "url", "path", "index", "fps", "zones", "lines",
    "polygon", "a", "b", "name", "normalized", "k", "bucket_seconds", "timezone", "port", "host", "auth",
    "users", "hours", "days", "open", "close", "justification", "contact", "accountable", "model", "score",
]  # fmt: skip

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**40), max_value=10**40),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([0, 1, -1, 63, 64, 65535, 65536, 2**63, 1e308, -1e308, 0.5, 1e-320]),
    st.text(max_size=30),
    st.sampled_from(["", " ", "日本語テキスト", "🙂", "\u202e", "a" * 500, "Asia/Tokyo", "rtsp://h/x", "http://"]),
)
keys = st.one_of(st.sampled_from(FIELD_NAMES), st.text(min_size=1, max_size=12), st.integers(-5, 5))
structures = st.recursive(
    scalars,
    lambda inner: st.one_of(st.lists(inner, max_size=5), st.dictionaries(keys, inner, max_size=5)),
    max_leaves=30,
)


def _paths(obj: Any, prefix: tuple = ()) -> list[tuple]:
    out = [prefix]
    if isinstance(obj, dict):
        for k, v in obj.items():
            out += _paths(v, (*prefix, k))
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            out += _paths(v, (*prefix, i))
    return out


def _set(obj: Any, path: tuple, value: Any) -> Any:
    if not path:
        return value
    parent = obj
    for p in path[:-1]:
        parent = parent[p]
    parent[path[-1]] = value
    return obj


BASES = [yaml.safe_load(DEFAULT_YAML), yaml.safe_load(STORE_YAML)]


@st.composite
def mutated_configs(draw: st.DrawFn) -> dict:
    """A valid config with one to three leaves or branches replaced by junk, or keys added or removed."""
    cfg = copy.deepcopy(draw(st.sampled_from(BASES)))
    for _ in range(draw(st.integers(1, 3))):
        path = draw(st.sampled_from(_paths(cfg)))
        action = draw(st.sampled_from(["replace", "replace", "add_key", "drop"]))
        target = cfg
        for p in path:
            target = target[p]
        if action == "add_key" and isinstance(target, dict):
            target[draw(keys)] = draw(structures)
        elif action == "drop" and path:
            parent = cfg
            for p in path[:-1]:
                parent = parent[p]
            del parent[path[-1]]
        else:
            cfg = _set(cfg, path, draw(structures))
    return cfg


def _dump(obj: Any) -> str:
    return yaml.safe_dump(obj, allow_unicode=True, sort_keys=False)


YAML_TOKENS = [*":-[]{},&*!|>'\"#?%@`\t\n ", "\n  ", "- ", ": ", "&a ", "*a", "!!str ", "!!int ", "<<: "]


@st.composite
def mangled_text(draw: st.DrawFn) -> str:
    """The default config's text with a few characters or YAML tokens inserted, deleted or replaced."""
    text = draw(st.sampled_from([DEFAULT_YAML, STORE_YAML]))
    for _ in range(draw(st.integers(1, 6))):
        i = draw(st.integers(0, len(text)))
        j = min(len(text), i + draw(st.integers(0, 8)))
        ins = draw(st.one_of(st.sampled_from(YAML_TOKENS), st.text(max_size=4)))
        text = text[:i] + ins + text[j:]
    return text


# ---------------------------------------------------------------- fuzzers


@FUZZ
@given(structures)
def test_random_yaml_structures(obj):
    hypothesis.assume(not _has_known_bug(obj))
    result = outcome(_dump(obj))
    if not isinstance(obj, dict):
        assert isinstance(result, ConfigError)


@FUZZ
@given(mutated_configs())
def test_mutated_valid_configs(cfg):
    hypothesis.assume(not _has_known_bug(cfg))
    result = outcome(_dump(cfg))
    if _contains_nan(cfg):  # every field is validated (extra="forbid") and no field may be NaN
        assert isinstance(result, ConfigError), "a NaN was accepted"


def _contains_nan(obj: object) -> bool:
    if isinstance(obj, float):
        return math.isnan(obj)
    if isinstance(obj, dict):
        return any(_contains_nan(v) for v in obj.values())
    if isinstance(obj, list):
        return any(_contains_nan(v) for v in obj)
    return False


@FUZZ
@given(mangled_text())
def test_mangled_yaml_text(text):
    hypothesis.assume(not _text_has_known_bug(text))
    outcome(text)


@FUZZ
@given(st.text(max_size=200))
@example("")
@example("   \n# only a comment\n")
@example("- a\n- b\n")
@example("just a string")
@example("{")
@example("\ufeffoperator: x")
def test_arbitrary_text(text):
    hypothesis.assume(not _text_has_known_bug(text))
    result = outcome(text)
    assert isinstance(result, ConfigError)  # no random text is a complete site config


@FUZZ
@given(st.data())
def test_duplicate_keys_are_an_error_on_the_line_of_the_second(data):
    node = yaml.compose(DEFAULT_YAML)
    mappings = [n for n in _walk(node) if isinstance(n, yaml.MappingNode) and n.value]
    target = data.draw(st.sampled_from(mappings))
    key, _ = data.draw(st.sampled_from(target.value))
    other = data.draw(st.sampled_from([v for _, v in _walk_pairs(node)]))
    target.value.append((yaml.ScalarNode("tag:yaml.org,2002:str", key.value), other))
    text = yaml.serialize(node)
    result = outcome(text)
    assert isinstance(result, ConfigError), "a duplicate key must not be silently last-wins"
    assert re.search(rf"duplicate key {re.escape(repr(key.value))} \(first on line \d+\)", str(result)), str(result)


def _walk(node: yaml.Node):
    yield node
    if isinstance(node, yaml.MappingNode):
        for k, v in node.value:
            yield from _walk(k)
            yield from _walk(v)
    elif isinstance(node, yaml.SequenceNode):
        for v in node.value:
            yield from _walk(v)


def _walk_pairs(node: yaml.Node):
    for n in _walk(node):
        if isinstance(n, yaml.MappingNode):
            yield from n.value


@pytest.mark.parametrize(
    "text",
    [
        "a: &x [1, 2]\nb: *x\n",  # aliases are fine when they end
        "a: !!python/object/apply:os.system [echo hi]\n",  # no arbitrary constructors
        "a: !!binary aGVsbG8=\n",
        "cameras: &c []\nentrances: *c\n",
        "operator: 1e999\n",
        "? [a, b]\n: 1\n",  # a key that is not a plain value
        "a: 1\na: 2\n",
        "\t- x\n",
    ],
)
def test_yaml_corner_cases(text):
    assert isinstance(outcome(text), ConfigError)


@pytest.mark.parametrize(
    ("mutate", "field", "message"),
    [
        (lambda d: d["aggregation"].update(bucket_seconds=10**40), "aggregation.bucket_seconds", "less than or equal"),
        (lambda d: d["cameras"][0].update(fps=float("nan")), "cameras.0.fps", ""),
        (lambda d: d["cameras"][0].update(fps=float("inf")), "cameras.0.fps", ""),
        (lambda d: d["cameras"][0].update(fps="fast"), "cameras.0.fps", "valid number"),
        (lambda d: d["cameras"][0]["source"].update(kind="usb"), "cameras.0.source", "expected tags"),
        (lambda d: d["aggregation"].update(timezone="Mars/Olympus_Mons"), "aggregation.timezone", "unknown IANA"),
        (lambda d: d["aggregation"].update(timezone="a" * 300), "aggregation.timezone", "unknown IANA"),
        (lambda d: d["aggregation"].update(timezone="/etc/passwd"), "aggregation.timezone", "unknown IANA"),
        (lambda d: d["operator"].update(contact="日本語"), "operator.contact", "email"),
        (lambda d: d["cameras"][0].update(id="カメラ"), "cameras.0.id", "pattern"),
        (lambda d: d["cameras"][0]["zones"][0].update(polygon=[[1e308, 1e308]] * 3), "cameras.0.zones.0", "outside"),
        (lambda d: d["http"].update(port=10**6), "http.port", "less than or equal"),
        (lambda d: d["privacy"].update(k=-(2**63)), "privacy.k", "greater than or equal"),
    ],
)
def test_wrong_types_and_huge_numbers_name_the_field(mutate, field, message):
    data = yaml.safe_load(DEFAULT_YAML)
    mutate(data)
    result = outcome(_dump(data))
    assert isinstance(result, ConfigError)
    assert re.search(rf"^{FILE}:\d+: {re.escape(field)}: .*{re.escape(message)}", str(result), re.M), str(result)


# ---------------------------------------------------------------- through the real CLI


def check_config(tmp_path: Path, text: str) -> subprocess.CompletedProcess[str]:
    path = tmp_path / FILE
    path.write_text(text, encoding="utf-8")
    return subprocess.run(
        [sys.executable, "-m", "edgeanon", "check-config", str(path)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_cli_reports_each_problem_on_its_own_line_and_exits_2(tmp_path):
    data = yaml.safe_load(DEFAULT_YAML)
    data["cameras"][0]["fps"] = "fast"
    data["aggregation"]["timezone"] = "Mars/Olympus_Mons"
    data["detector"]["colour"] = "blue"
    proc = check_config(tmp_path, _dump(data))
    assert proc.returncode == 2, proc
    lines = proc.stderr.strip().split("\n")
    assert len(lines) == 3, lines
    assert lines[0].startswith("edgeanon: error: ")
    lines[0] = lines[0].removeprefix("edgeanon: error: ")
    path = re.escape(str(tmp_path / FILE))
    assert all(re.match(rf"^{path}:\d+: [^:]+: .+$", line) for line in lines), lines
    fields = sorted(line.split(": ")[1] for line in lines)
    assert fields == ["aggregation.timezone", "cameras.0.fps", "detector.colour"], lines
    assert "Traceback" not in proc.stderr and proc.stdout == ""


@pytest.mark.parametrize(
    ("text", "line", "field", "what"),
    [
        ("operator: {name: a}\noperator: {name: b}\n", 2, "YAML", "duplicate key 'operator'"),
        ("cameras: [\n", 2, "YAML", "expected the node content"),
        ("", 1, "(top level)", "empty"),
        ("- 1\n- 2\n", 1, "(top level)", "must be a mapping"),
    ],
)
def test_cli_yaml_errors(tmp_path, text, line, field, what):
    proc = check_config(tmp_path, text)
    assert proc.returncode == 2
    (only,) = proc.stderr.strip().split("\n")
    prefix = f"edgeanon: error: {tmp_path / FILE}:{line}: {field}: "
    assert only.startswith(prefix) and what in only, only


def test_cli_accepts_the_shipped_configs(tmp_path):
    for text in (DEFAULT_YAML, STORE_YAML):
        proc = check_config(tmp_path, text)
        assert proc.returncode == 0 and ": ok: " in proc.stdout, proc


# ---------------------------------------------------------------- known bugs (patch in the fault-suite report)


def _bounded_parse(text: str, seconds: float) -> subprocess.CompletedProcess[str]:
    """parse_config in a child process with a time limit: a hang must fail the test, not the suite."""
    code = (
        "import sys\nfrom edgeanon.config.errors import ConfigError\nfrom edgeanon.config.loader import parse_config\n"
        "try:\n    parse_config(sys.stdin.read(), 'site.yaml')\nexcept ConfigError as e:\n    print(e)\n"
    )
    try:
        return subprocess.run(
            [sys.executable, "-c", code], input=text, capture_output=True, text=True, timeout=seconds, check=False
        )
    except subprocess.TimeoutExpired as exc:
        raise AssertionError(f"parse_config still running after {seconds} s") from exc


def test_recursive_alias_is_a_config_error():
    assert isinstance(outcome("a: &x [*x]\n"), ConfigError)


@pytest.mark.parametrize("text", ["a: " + "[" * 3000 + "]" * 3000, "a: " + "{b: " * 3000 + "1" + "}" * 3000])
def test_deep_nesting_is_a_config_error(text):
    assert isinstance(outcome(text), ConfigError)


def test_alias_bomb_is_rejected_quickly():
    levels = ["l0: &l0 [x, x, x, x, x, x, x, x, x, x]"]
    levels += [f"l{i}: &l{i} [{', '.join([f'*l{i - 1}'] * 10)}]" for i in range(1, 9)]
    proc = _bounded_parse("\n".join(levels) + "\n", 5.0)
    assert proc.returncode == 0 and proc.stdout.startswith("site.yaml:"), proc


@pytest.mark.parametrize("char", ["\x00", "\x07", "\x1b", "\ufffe"])
def test_control_character_is_one_error_line(char):
    outcome(f"operator:\n  name: a{char}b\n")


@pytest.mark.parametrize("key", ["a\nb", "a:b", "cameras\n"])
def test_odd_key_keeps_the_line_format(key):
    outcome(_dump({"operator": {"name": "x"}, key: 1}))


@pytest.mark.parametrize(
    "value",
    [
        "2001-02-30",  # a plain date that does not exist
        pytest.param("9" * 5000, id="5000-digit-int"),  # past the int-string conversion limit
        "!!int x",
        "!!int 0b",
        "!!float x",
        "!!bool x",
        "!!timestamp x",
        "!!map x",
    ],
)
def test_constructor_error_is_a_config_error(value):
    result = outcome(f"operator:\n  name: {value}\n")
    assert isinstance(result, ConfigError) and "site.yaml:2: " in str(result)


@pytest.mark.parametrize("where", ["zone", "line"])
def test_nan_point_is_rejected(where):
    data = yaml.safe_load(DEFAULT_YAML)
    cam = data["cameras"][0]
    if where == "zone":
        cam["zones"][0]["polygon"][0] = [float("nan"), 0.0]
    else:
        cam["lines"][0]["a"] = [float("nan"), 150.0]
    assert isinstance(outcome(_dump(data)), ConfigError)
